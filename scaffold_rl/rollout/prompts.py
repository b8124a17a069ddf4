"""How a problem and an optional hint become the token sequence the model conditions on.

Where a hint goes is decided here, once, from `Hint.placement` (types.py): the renderer returns the prompt to
sample from, the hint tokens that open the response, the prompt the row trains under, and the text the reward
reads before what the model wrote. No later stage re-renders a prompt or re-decodes a completion.
"""
from __future__ import annotations

from dataclasses import dataclass

from scaffold_rl.types import Hint, Problem

DEFAULT_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."


@dataclass
class Rendered:
    """A (problem, hint) as token sequences: what the model is sampled from, and what the row trains on."""

    prompt_ids: list[int]  # the prompt sampled from (the hint included when it is context)
    response_prefix_ids: list[int]  # hint tokens that open the response (forced, then trained), may be empty
    response_prefix_text: str
    # text the reward reads before the generated text (a solution prefix the answer continues), "" for none
    scored_prefix_text: str = ""
    train_prompt_ids: list[int] | None = None  # the prompt the row trains under when not prompt_ids ("dropped")

    @property
    def trained_prompt_ids(self) -> list[int]:
        return self.prompt_ids if self.train_prompt_ids is None else self.train_prompt_ids


class PlainRenderer:
    """For the embedded task: the prompt text is used verbatim; a solution hint continues it (`S:` + first steps).

    Knowledge and planning hints are context lines ("K:", "P:") before the solution starts, for every placement:
    the task's format has no place for them in the response. A solution hint is the start of the chain, so the
    strict reward always reads it (it checks the whole chain) and the ladder never shows the last step, which
    holds the answer: the model writes that itself.
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text)["input_ids"]

    def render(self, problem: Problem, hint: Hint | None = None) -> Rendered:
        prompt_text = problem.prompt
        prefix_text = scored = ""
        if hint is not None and hint.text:
            if hint.tier != "solution":
                head, sep, tail = prompt_text.rpartition("S:")
                label = f"{hint.tier[0].upper()}:{hint.text}\n"
                prompt_text = head + label + sep + tail if sep else prompt_text + "\n" + label
            elif hint.placement == "response":
                prefix_text = scored = hint.text
            else:
                prompt_text += hint.text
                # dropped: trained under the plain prompt, so the chain is what the model wrote alone
                scored = hint.text if hint.placement == "prompt" else ""
        prefix_ids = self.tokenizer(prefix_text, add_special_tokens=False)["input_ids"] if prefix_text else []
        plain = hint is not None and hint.text and hint.placement == "dropped"
        return Rendered(self.encode(prompt_text), prefix_ids, prefix_text, scored,
                        train_prompt_ids=self.encode(problem.prompt) if plain else None)


class ChatRenderer:
    """For chat models on real datasets: system instruction + question; a hint in the Scaf-GRPO template
    ("Question: ...\n<Tier> Hints: ..."), or opening the response. Only what the model wrote is scored unless
    the hint says otherwise (`Hint.scored`)."""

    def __init__(self, tokenizer, system: str | None = DEFAULT_SYSTEM, chat_template_kwargs: dict | None = None):
        self.tokenizer = tokenizer
        self.system = system
        self.chat_template_kwargs = dict(chat_template_kwargs or {})

    def encode(self, user: str) -> list[int]:
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + [
            {"role": "user", "content": user}]
        if getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                     **self.chat_template_kwargs)
            if isinstance(ids, dict) or hasattr(ids, "keys"):
                ids = ids["input_ids"]
            return list(ids)
        text = "\n\n".join(m["content"] for m in messages) + "\n\n"
        return self.tokenizer(text)["input_ids"]

    def render(self, problem: Problem, hint: Hint | None = None) -> Rendered:
        user = problem.prompt
        prefix_text = scored = ""
        hinted = hint is not None and bool(hint.text)
        if hinted:
            if hint.placement == "response":
                prefix_text = hint.text
                scored = hint.text if hint.scored else ""
            else:
                user = f"Question: {problem.prompt}\n{hint.tier.capitalize()} Hints: {hint.text}"
        prefix_ids = self.tokenizer(prefix_text, add_special_tokens=False)["input_ids"] if prefix_text else []
        dropped = hinted and hint.placement == "dropped"
        return Rendered(self.encode(user), prefix_ids, prefix_text, scored,
                        train_prompt_ids=self.encode(problem.prompt) if dropped else None)
