"""Self-written hints (NuRL, arXiv 2509.25666; SAGE, arXiv 2602.03143): the policy writes its own hint for a
collapsed group from the problem and its reference solution; no teacher model.

An all-wrong group (guided.py) triggers a hint-writing request to the policy itself: an instruction (system
message) and "Problem: ... Solution: ..." (user message), rendered with the tokenizer's chat template, sampled with
the rollout's sampling settings. The reply is read as JSON {"level_1": ..., "level_<levels>": ...} (SAGE: three
levels, minimal to detailed; an unreadable reply is asked again, up to `retries` attempts) or, `format="text"`,
as one hint (NuRL's single abstract hint). Then, level by level, every still-unsolved group is re-sampled whole
with the hint in its prompt (Hint.placement = "prompt": the hint is context, only generated tokens carry loss);
a group stops at its first level with a success, and the last level tried is the group trained on (SAGE's
loop). `reuse=True` keeps a problem's hints once written (NuRL writes them once, offline, with the base model; here
at the problem's first collapse, with the then-current policy; checkpointed).

The tokens spent writing hints count as generated work (train.max_tokens). Metrics: self_hint/requests,
self_hint/written (problems with usable hints), self_hint/parse_failures (attempts whose reply could not be read),
self_hint/answer_leaks (hints that contain the gold answer), self_hint/level/<k> (level of the rescue).
"""
from __future__ import annotations

import json
import re

from scaffold_rl.rollout.generation import SamplingParams
from scaffold_rl.rollout.prompts import ChatRenderer
from scaffold_rl.strategies.base import register
from scaffold_rl.strategies.guided import GroupRescue, schedule_if
from scaffold_rl.strategies.seele import solution_text
from scaffold_rl.types import Group, Hint, Problem

JSON_INSTRUCTION = (
    "You are a tutor. You are given a problem and a worked solution. Write {levels} hints that help a student "
    "solve the problem by themselves, from the least to the most revealing: the first names the key idea, the "
    "last guides through the intermediate steps but still leaves the work to the student. Never state the final "
    "answer. Reply with a JSON object and nothing else, with the keys {keys}.")
TEXT_INSTRUCTION = ("You are a tutor. You are given a problem and a worked solution. Write one short hint that helps "
                    "a student solve the problem by themselves. Never state the final answer. Reply with the hint "
                    "only.")


def parse_levels(reply: str, levels: int) -> list[str] | None:
    """The hints level_1..level_<levels> of a JSON reply (inside a ```json fence or the outermost braces), or None
    when any is missing or empty. A reply that is not valid JSON is read key by key ("level_k": "...")."""
    text = reply.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, flags=re.DOTALL | re.IGNORECASE)
    if fence:
        text = fence.group(1)
    start, end = text.find("{"), text.rfind("}")
    data = None
    if start != -1 and end > start:
        try:
            data = json.loads(text[start:end + 1])
        except ValueError:
            data = None
    if not isinstance(data, dict):
        data = {f"level_{m.group(1)}": m.group(2) for m in re.finditer(r'"level_(\d+)"\s*:\s*"((?:[^"\\]|\\.)*)"',
                                                                       text)}
    hints = [data.get(f"level_{k}") for k in range(1, levels + 1)]
    if not all(isinstance(h, str) and h.strip() for h in hints):
        return None
    return [h.strip() for h in hints]


def leaks_answer(hint: str, answer: str | None) -> bool:
    """Whether the hint states the gold answer (as a whole token, so '2' is not found in '12')."""
    if not answer:
        return False
    return re.search(rf"(?<![\w.]){re.escape(answer.strip())}(?![\w])", hint) is not None


@register
class SelfHint(GroupRescue):
    name = "self_hint"
    config_section = "self_hint"  # strategy.self_hint.* (config.SelfHintOptions)

    def __init__(self, schedule=None, levels: int = 3, format: str = "json", retries: int = 3, reuse: bool = False,
                 max_hint_tokens: int | None = None, instruction: str | None = None):
        super().__init__(schedule)
        if format not in ("json", "text"):
            raise ValueError(f"self_hint format must be 'json' or 'text', got {format!r}")
        if levels < 1 or retries < 1:
            raise ValueError("self_hint levels and retries must be >= 1")
        self.format, self.retries, self.reuse = format, retries, reuse
        self.levels = levels if format == "json" else 1
        self.max_hint_tokens = max_hint_tokens
        keys = ", ".join(f'"level_{k}"' for k in range(1, self.levels + 1))
        default = JSON_INSTRUCTION.format(levels=self.levels, keys=keys) if format == "json" else TEXT_INSTRUCTION
        self.instruction = instruction or default
        self.cache: dict[str, list[str]] = {}  # problem id -> hints, when reused (checkpointed)

    @classmethod
    def from_config(cls, config) -> SelfHint:
        c = config.strategy.self_hint
        return cls(schedule_if(config, c.exemption), c.levels, c.format, c.retries, c.reuse, c.max_hint_tokens,
                   c.instruction)

    def blank_stats(self):
        return {"self_hint/requests": 0.0, "self_hint/written": 0.0, "self_hint/parse_failures": 0.0,
                "self_hint/no_solution": 0.0, "self_hint/answer_leaks": 0.0, "self_hint/write_tokens": 0.0,
                **{f"self_hint/level/{k}": 0.0 for k in range(1, self.levels + 1)}}

    def request_ids(self, tokenizer, problem: Problem, solution: str) -> list[int]:
        """The hint-writing prompt: the instruction as system message, problem and solution as the user's."""
        return ChatRenderer(tokenizer, system=self.instruction).encode(
            f"Problem:\n{problem.prompt}\n\nSolution:\n{solution}")

    def read(self, reply: str) -> list[str] | None:
        if self.format == "text":
            return [reply.strip()] if reply.strip() else None
        return parse_levels(reply, self.levels)

    def write_hints(self, problems: list[Problem], ctx, stats: dict) -> list[list[str] | None]:
        """Hints for each problem, written by the policy (at most `retries` attempts each), or reused."""
        tok = ctx.sampler.tokenizer
        out: list[list[str] | None] = [self.cache.get(p.id) if self.reuse else None for p in problems]
        solutions = [solution_text(p) for p in problems]
        todo = [i for i, p in enumerate(problems) if out[i] is None and solutions[i]]
        stats["self_hint/no_solution"] = float(sum(not s for s in solutions))
        stats["self_hint/requests"] = float(len(todo))
        params = ctx.sampler.params
        params = SamplingParams(max_new_tokens=self.max_hint_tokens or params.max_new_tokens,
                                temperature=params.temperature, top_k=params.top_k, top_p=params.top_p)
        tokens0 = getattr(ctx.sampler.generator, "tokens_generated", 0)
        requests = {i: self.request_ids(tok, problems[i], solutions[i]) for i in todo}
        for attempt in range(self.retries):
            if not todo:
                break
            replies = ctx.sampler.generator.generate([requests[i] for i in todo], params,
                                                     seed=ctx.sub_seed(50 + attempt))
            texts = tok.batch_decode([c.ids for c in replies], skip_special_tokens=True)
            still = []
            for i, text in zip(todo, texts):
                hints = self.read(text)
                if hints is None:
                    stats["self_hint/parse_failures"] += 1.0
                    still.append(i)
                else:
                    out[i] = hints
                    if self.reuse:
                        self.cache[problems[i].id] = hints
            todo = still
        stats["self_hint/write_tokens"] = float(getattr(ctx.sampler.generator, "tokens_generated", 0) - tokens0)
        stats["self_hint/written"] = float(sum(h is not None for h in out))
        stats["self_hint/answer_leaks"] = float(sum(leaks_answer(" ".join(h), p.answer)
                                                    for p, h in zip(problems, out) if h))
        return out

    def guided_groups(self, groups: list[Group], ctx, stats: dict):
        problems = [g.problem for g in groups]
        hints = self.write_hints(problems, ctx, stats)
        out: list = [None] * len(groups)
        solved: set[int] = set()
        for level in range(self.levels):
            todo = [i for i, h in enumerate(hints) if h is not None and i not in solved and level < len(h)]
            if not todo:
                break
            items = [(problems[i], Hint(hints[i][level], tier="planning", level=level + 1, placement="prompt"))
                     for i in todo]
            for i, rollouts in zip(todo, ctx.sampler.sample(items, ctx.num_generations,
                                                             seed=ctx.sub_seed(1 + level), round=1)):
                out[i] = rollouts
                if any(r.correct for r in rollouts):
                    solved.add(i)
                    stats[f"self_hint/level/{level + 1}"] += 1.0
        return out

    def extra_state(self) -> dict:
        return {"cache": {k: list(v) for k, v in self.cache.items()}} if self.reuse else {}

    def load_extra_state(self, state: dict) -> None:
        self.cache = {str(k): [str(x) for x in v] for k, v in state.get("cache", {}).items()}
