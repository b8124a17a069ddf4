"""Tasks as the training run sees them: where problems come from, how they are prompted and checked.

`arithmetic` is the embedded learning-cliff task; any other name is a benchmark file from the shared data
folder or a JSONL/parquet path (a real model answers in \\boxed{}).
"""
from __future__ import annotations

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
        self.problems = load_problems(cfg.task.name)
        self.supports_hints = any(p.hints for p in self.problems)

    def renderer(self, tokenizer):
        return ChatRenderer(tokenizer)

    def train_problems(self, n: int) -> list[Problem]:
        rest = self.problems[self.cfg.eval.n_per_level:] or self.problems
        return rest[:n]

    def eval_problems(self, n_per_level: int) -> dict[int, list[Problem]]:
        return group_by_level(self.problems[:n_per_level])

    def extract_answer(self, text: str) -> str | None:
        from scaffold_rl.verify import extract_answer

        return extract_answer(text)


def load_problems(name_or_path: str) -> list[Problem]:
    """A benchmark by name, a Scaf-GRPO hint dataset (detected by its tier fields), or a plain JSONL/parquet."""
    from scaffold_rl.data.benchmarks import load_benchmark
    from scaffold_rl.data.jsonl import read_records
    from scaffold_rl.data.scaf_schema import load_scaf_dataset

    if name_or_path.endswith((".jsonl", ".parquet")):
        first = next(iter(read_records(name_or_path)), (0, {}))[1]
        if "solution_breakdown_parts" in first or "knowledge_components_parts" in first:
            return load_scaf_dataset(name_or_path)
    return load_benchmark(name_or_path)


def build_task(cfg):
    return EmbeddedArithmetic(cfg) if cfg.task.name == "arithmetic" else BenchmarkTask(cfg)
