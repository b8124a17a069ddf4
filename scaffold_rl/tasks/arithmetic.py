"""The embedded learning-cliff task as the pipeline sees it: procedural arithmetic chains with levels.

Problems come from `data/arithmetic.py` (a hash split keeps train and test apart for ever), are shown verbatim
(`PlainRenderer`: the model continues `...S:`), and are scored by the strict full-chain reward or by the answer
after `A:`. The first level the pretraining mix barely covers is the cliff that hint-depth evaluation probes.
"""
from __future__ import annotations

import re
from collections import Counter

from scaffold_rl.data.arithmetic import task_from_config
from scaffold_rl.tasks.base import TaskBase, register_task
from scaffold_rl.types import Problem


@register_task("arithmetic")
class EmbeddedArithmetic(TaskBase):
    name = "arithmetic"
    supports_hints = True
    embedded_ok = True  # the embedded model is pretrained on exactly these chains

    def __init__(self, cfg):
        super().__init__(cfg)
        t = cfg.task
        self.task = task_from_config(t)
        self.answer_pattern = self.task.answer_pattern
        mix = cfg.model.pretrain.level_mix
        hard = [lv for lv in sorted(set(t.eval_levels) | set(t.train_levels)) if mix.get(lv, 0.0) < 0.01]
        self.first_hard_level = hard[0] if hard and cfg.model.path is None else None
        self.split_info = {"held_out": f"the arithmetic test split, levels {list(t.eval_levels)} (a hash of the "
                                       "question decides the split: never trained on)",
                           "train": f"the train split, levels {list(t.train_levels)}"}

    def renderer(self, tokenizer):
        from scaffold_rl.rollout.prompts import PlainRenderer

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
