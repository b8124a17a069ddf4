"""`task.name=rg:<dataset>`: a reasoning-gym dataset as a task (`pip install 'scaffold-rl[rg]'`).

Levels, splits and reference chains come from `data/reasoning_gym.py`. The answer is read from the last
`<answer>...</answer>` (rg's convention) and scored by the dataset's own `score_answer`: its partial credit is
the reward, and `correct` means full credit (so a group is all wrong, and rescued, when no sample earned full
credit). That scorer is used whatever `reward.kind` says: rg defines what a right answer is.

The embedded model reads the question verbatim followed by `\\nS:` and continues with the worked chain (where
the dataset has a step builder) and the answer tag, as its pretraining documents do; a chat model gets the
question under rg's default system prompt (`task.system_prompt` replaces it). Solution-prefix hints exist
where a chain exists (`supports_hints`); otherwise hint strategies have nothing to show and say so.
"""
from __future__ import annotations

import string
from collections import Counter

from scaffold_rl.data.reasoning_gym import ANSWER_PATTERN, ReasoningGymSource
from scaffold_rl.tasks.base import TaskBase, register_prefix
from scaffold_rl.types import Problem

# the embedded tokenizer's characters (models/embedded.py CHARS), without importing transformers to build a task
EMBEDDED_CHARS = frozenset(string.printable) - frozenset("\t\r\x0b\x0c")
HINT_STRATEGIES = ("scaf_grpo",)  # need solution parts on the problem; 'reference'/'seele' also work from the answer


def source_from_config(task_cfg, plain: bool = True) -> ReasoningGymSource:
    """The problem source a run's `task` section describes (task.name must be rg:<dataset>)."""
    prefix, _, name = task_cfg.name.partition(":")
    if prefix != "rg" or not name:
        raise ValueError(f"not a reasoning-gym task name: {task_cfg.name!r} (expected rg:<dataset>)")
    fraction = task_cfg.eval_fraction if task_cfg.eval_fraction is not None else 0.2
    return ReasoningGymSource(name, task_cfg.rg, task_cfg.rg_levels, seed=task_cfg.seed, test_fraction=fraction,
                              plain=plain)


class ReasoningGymScorer:
    """Score(reward=score_answer, correct=full credit) of a response (hint prefix + generated text)."""

    kind = "answer"  # evaluation's answer-only metrics would repeat this score: skip them

    def __init__(self, task):
        self.task = task

    def __call__(self, problem: Problem, response: str):
        from scaffold_rl.rewards.correctness import Score

        if problem.answer is None:
            raise ValueError(f"problem {problem.id} has no answer: a correctness reward needs one "
                             "(use a label-free reward for datasets without answers)")
        value = self.task.source.score(problem, self.task.extract_answer(response))
        return Score(value, value >= 1.0 - 1e-9)


class ReasoningGymTask(TaskBase):
    answer_pattern = ANSWER_PATTERN

    def __init__(self, cfg, dataset: str):
        super().__init__(cfg)
        from scaffold_rl.configio import ConfigError

        t = cfg.task
        self.name = f"rg:{dataset}"
        if t.eval_name:
            raise ConfigError(f"task.eval_name is not used by {self.name}: its held-out problems are generated "
                              "(task.eval_fraction sets the held-out share of the problem space)")
        self.embedded = cfg.model.path is None
        self.source = source_from_config(t, plain=self.embedded)
        self._held_out: dict[int, dict[int, list[Problem]]] = {}
        for lv in sorted(set(t.train_levels) | set(t.eval_levels)):
            self.source.check_level(lv)
        sample = [self.source.problem("train", lv, 0) for lv in sorted(set(t.train_levels) | set(t.eval_levels))]
        self.supports_hints = self.source.steps_of is not None and all(p.solution_steps for p in sample)
        self.embedded_ok = self._embedded_readable(sample)
        if self.embedded and not self.embedded_ok:
            raise ConfigError(f"{self.name}: the embedded character model cannot read these questions (characters "
                              f"outside its printable-ASCII vocabulary: {self._unreadable(sample)!r}); use a "
                              "Hugging Face model (model.path=...)")
        if cfg.strategy.name in HINT_STRATEGIES and not self.supports_hints:
            raise ConfigError(f"strategy.name={cfg.strategy.name} needs solution hints, but {self.name} has no "
                              "worked solutions (no step builder in scaffold_rl/data/rg_steps.py for it); use "
                              "strategy.name=grpo, 'reference' or 'seele' (they use the gold answer)")
        mix = cfg.model.pretrain.level_mix
        hard = [lv for lv in sorted(set(t.eval_levels) | set(t.train_levels)) if mix.get(lv, 0.0) < 0.01]
        self.first_hard_level = hard[0] if hard and self.embedded else None
        self.split_info = {
            "held_out": f"{self.name} test split, levels {list(t.eval_levels)}: a hash of the question puts "
                        f"{self.source.test_fraction:g} of the problem space there, drawn with its own seeds "
                        "(never trained on)",
            "train": f"{self.name} train split, levels {list(t.train_levels)}",
            "levels": {lv: self.source.levels[lv] for lv in sorted(set(t.eval_levels) | set(t.train_levels))},
            "reasoning_gym": self.source.identity()["reasoning_gym"],
        }

    @staticmethod
    def _unreadable(problems: list[Problem]) -> str:
        return "".join(sorted({c for p in problems for c in p.prompt + (p.reference or "")
                               if c not in EMBEDDED_CHARS}))

    def _embedded_readable(self, problems: list[Problem]) -> bool:
        return not self._unreadable(problems)

    def renderer(self, tokenizer):
        if self.embedded:
            from scaffold_rl.rollout.prompts import PlainRenderer

            return PlainRenderer(tokenizer)
        from reasoning_gym.utils import SYSTEM_PROMPTS

        from scaffold_rl.rollout.prompts import ChatRenderer

        system = self.cfg.task.system_prompt
        return ChatRenderer(tokenizer, system=SYSTEM_PROMPTS["default"] if system is None else (system or None))

    def train_problems(self, n: int) -> list[Problem]:
        counts = Counter(self.cfg.task.train_levels)
        weights = {lv: c / sum(counts.values()) for lv, c in counts.items()}
        return self.source.mixture("train", weights, n, seed=7)

    def eval_problems(self, n_per_level: int) -> dict[int, list[Problem]]:
        if n_per_level not in self._held_out:  # every evaluation asks again: generate once
            held = {lv: self.source.distinct_problems("test", lv, n_per_level) for lv in self.cfg.task.eval_levels}
            self._held_out[n_per_level] = held
            # a small level holds fewer distinct questions than asked: say how many were evaluated
            self.split_info["held_out_problems"] = {lv: len(ps) for lv, ps in held.items()}
        return self._held_out[n_per_level]

    def extract_answer(self, text: str) -> str | None:
        from scaffold_rl.verify import extract_answer

        found = extract_answer(text, self.answer_pattern)
        return None if found is None else found.strip()

    def scorer(self, kind: str, timeout_s: float):
        return ReasoningGymScorer(self)


@register_prefix("rg")
def build_rg_task(cfg, dataset: str) -> ReasoningGymTask:
    return ReasoningGymTask(cfg, dataset)
