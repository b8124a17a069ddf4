"""How a problem and an optional hint become the token sequence the model conditions on.

A hint either joins the prompt (paper-faithful Scaf-GRPO: it is context, carries no loss) or opens the
response (its tokens are trained like generated ones). Both renderers return the same two pieces so that
the rollout stage does not care which task it serves.
"""
from __future__ import annotations

from dataclasses import dataclass

from scaffold_rl.types import Hint, Problem

DEFAULT_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."


@dataclass
class Rendered:
    prompt_ids: list[int]
    response_prefix_ids: list[int]  # hint tokens placed at the start of the response (trained), may be empty
    response_prefix_text: str
    # text the answer continues from, wherever the hint sits: a solution prefix on the embedded task is part of
    # the chain the strict reward checks even when it lives in the prompt
    scored_prefix_text: str = ""


class PlainRenderer:
    """For the embedded task: the prompt text is used verbatim; a hint continues it (`S:` + first steps)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def render(self, problem: Problem, hint: Hint | None = None) -> Rendered:
        prompt_text = problem.prompt
        prefix_text = scored = ""
        if hint is not None and hint.text:
            if hint.tier != "solution":
                # abstract tiers are context, on a line of their own before the solution starts ("K:", "P:")
                head, sep, tail = prompt_text.rpartition("S:")
                label = f"{hint.tier[0].upper()}:{hint.text}\n"
                prompt_text = head + label + sep + tail if sep else prompt_text + "\n" + label
            elif hint.in_response:
                prefix_text = scored = hint.text
            else:
                prompt_text += hint.text
                scored = hint.text
        prompt_ids = self.tokenizer(prompt_text)["input_ids"]
        prefix_ids = self.tokenizer(prefix_text, add_special_tokens=False)["input_ids"] if prefix_text else []
        return Rendered(prompt_ids, prefix_ids, prefix_text, scored)


class ChatRenderer:
    """For chat models on real datasets: system instruction + question; a hint in the Scaf-GRPO template."""

    def __init__(self, tokenizer, system: str | None = DEFAULT_SYSTEM):
        self.tokenizer = tokenizer
        self.system = system

    def render(self, problem: Problem, hint: Hint | None = None) -> Rendered:
        user = problem.prompt
        prefix_text = ""
        if hint is not None and hint.text:
            if hint.in_response:
                prefix_text = hint.text
            else:
                user = f"Question: {problem.prompt}\n{hint.tier.capitalize()} Hints: {hint.text}"
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + [
            {"role": "user", "content": user}]
        if getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
            if isinstance(ids, dict) or hasattr(ids, "keys"):
                ids = ids["input_ids"]
            prompt_ids = list(ids)
        else:
            text = "\n\n".join(m["content"] for m in messages) + "\n\n"
            prompt_ids = self.tokenizer(text)["input_ids"]
        prefix_ids = self.tokenizer(prefix_text, add_special_tokens=False)["input_ids"] if prefix_text else []
        return Rendered(prompt_ids, prefix_ids, prefix_text, prefix_text)
