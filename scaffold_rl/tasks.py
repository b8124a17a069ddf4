"""Tasks as the training run sees them: where problems come from, how they are prompted and checked.

`arithmetic` is the embedded learning-cliff task; any other name is a benchmark file from the shared data
folder or a JSONL/parquet path (a real model answers in \\boxed{}).

Labels (gold answers, reference chains) are optional: label-free rewards train without them. What a run
needs is checked at startup (`check_training_labels`); evaluation uses only problems that have them.
"""
from __future__ import annotations

import dataclasses
import re
from collections import Counter

from scaffold_rl.eval.evaluate import group_by_level
from scaffold_rl.models.pretrain import task_from_config
from scaffold_rl.rollout.prompts import ChatRenderer, PlainRenderer
from scaffold_rl.types import Problem


class EmbeddedArithmetic:
    supports_hints = True

    def __init__(self, cfg):
        t = cfg.task
        self.cfg = cfg
        self.task = task_from_config(t)
        self.answer_pattern = self.task.answer_pattern
        mix = cfg.model.pretrain.level_mix
        hard = [lv for lv in sorted(set(t.eval_levels) | set(t.train_levels)) if mix.get(lv, 0.0) < 0.01]
        self.first_hard_level = hard[0] if hard and cfg.model.path is None else None

    def renderer(self, tokenizer):
        return PlainRenderer(tokenizer)

    def train_problems(self, n: int) -> list[Problem]:
        counts = Counter(self.cfg.task.train_levels)
        weights = {lv: c / sum(counts.values()) for lv, c in counts.items()}
        return self.task.mixture("train", weights, n, seed=7)

    def eval_problems(self, n_per_level: int) -> dict[int, list[Problem]]:
        return {lv: self.task.problems("test", lv, n_per_level) for lv in self.cfg.task.eval_levels}

    def extract_answer(self, text: str) -> str | None:
        found = re.findall(self.answer_pattern, text)
        return found[-1] if found else None


class BenchmarkTask:
    """A real dataset: the first eval.n_per_level problems are held out for evaluation, the rest train."""

    supports_hints = False
    first_hard_level = None
    answer_pattern = None

    def __init__(self, cfg):
        self.cfg = cfg
        from scaffold_rl.rewards.registry import correctness_kind

        # rows without an answer are fine unless the training reward grades answers (then the loader names the
        # file and line of the first one)
        needs = correctness_kind(cfg.reward.spec, cfg.reward.kind) == "answer" and not cfg.task.hide_train_answers
        self.problems = load_problems(cfg.task.name, require_answers=needs)
        self.supports_hints = any(p.hints for p in self.problems)

    def renderer(self, tokenizer):
        return ChatRenderer(tokenizer)

    def train_problems(self, n: int) -> list[Problem]:
        rest = self.problems[self.cfg.eval.n_per_level:] or self.problems
        return rest[:n]

    def eval_problems(self, n_per_level: int) -> dict[int, list[Problem]]:
        return group_by_level(self.problems[:n_per_level])

    def extract_answer(self, text: str) -> str | None:
        """The answer the checker compares (boxed, or found in prose), so majority votes count what it scores."""
        from scaffold_rl.verify import default_verifier

        return default_verifier().extract(text)


def load_problems(name_or_path: str, require_answers: bool = True) -> list[Problem]:
    """A benchmark by name, a Scaf-GRPO hint dataset (detected by its tier fields), or a plain JSONL/parquet.
    With `require_answers=False` a plain file's rows may lack an answer (answer None: label-free training)."""
    from scaffold_rl.data.benchmarks import load_benchmark
    from scaffold_rl.data.jsonl import read_records
    from scaffold_rl.data.scaf_schema import load_scaf_dataset

    if name_or_path.endswith((".jsonl", ".parquet")):
        first = next(iter(read_records(name_or_path)), (0, {}))[1]
        if "solution_breakdown_parts" in first or "knowledge_components_parts" in first:
            return load_scaf_dataset(name_or_path)
    return load_benchmark(name_or_path, require_answers=require_answers)


def build_task(cfg):
    return EmbeddedArithmetic(cfg) if cfg.task.name == "arithmetic" else BenchmarkTask(cfg)


# --- labels -------------------------------------------------------------------------------------------


def has_label(problem: Problem, kind: str) -> bool:
    """Whether a correctness reward of `kind` can score the problem: 'answer' needs the gold answer,
    'strict' the reference chain."""
    return (problem.reference if kind == "strict" else problem.answer) is not None


def without_labels(problem: Problem) -> Problem:
    """The problem as a label-free dataset would give it: no answer, reference, solution steps or hints
    (each of those gives the answer away)."""
    return dataclasses.replace(problem, answer=None, reference=None, solution_steps=(), hints={})


def labeled_only(by_level: dict[int, list[Problem]], kind: str) -> tuple[dict[int, list[Problem]], str | None]:
    """The evaluation problems a correctness reward of `kind` can score, and why evaluation is skipped when
    there are none (None otherwise)."""
    kept = {lv: [p for p in ps if has_label(p, kind)] for lv, ps in by_level.items()}
    kept = {lv: ps for lv, ps in kept.items() if ps}
    if kept or not any(by_level.values()):
        return kept, None
    what = "reference chains (reward.kind=strict)" if kind == "strict" else "gold answers"
    return kept, (f"the evaluation problems have no {what}, so accuracy cannot be measured; "
                  "training itself may still be label-free (reward=format_length)")


def check_training_labels(cfg, problems: list[Problem]) -> None:
    """Fail before training when the reward grades correctness and a training problem has nothing to grade
    against, naming the first such problem and the way out."""
    from scaffold_rl.configio import ConfigError
    from scaffold_rl.rewards.registry import correctness_kind

    kind = correctness_kind(cfg.reward.spec, cfg.reward.kind)
    if kind is None:
        return
    missing = next((p for p in problems if not has_label(p, kind)), None)
    if missing is None:
        return
    what = "gold answer" if kind == "answer" else "reference chain (reward.kind=strict; try reward.kind=answer)"
    why = " (task.hide_train_answers=true removed them)" if cfg.task.hide_train_answers else ""
    raise ConfigError(f"training problem {missing.id} has no {what}{why}, but the reward has a correctness term "
                      f"({cfg.reward.spec or 'the default reward'}). Train without labels with a label-free "
                      "reward: reward=format_length (format + length) or reward=format.")
