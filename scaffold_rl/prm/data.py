"""PRM training data: labelled solutions (from `prm label`, or any JSONL with the same fields) and the
step-preference pairs rStar-Math's PPM trains on.

A row needs `prompt` (str), `steps` (list of str) and `hard` (list of 0/1, one per step); `soft` (list of
float or null) is optional. Bad rows are errors naming file, line and field.
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from scaffold_rl.data.jsonl import DataError, get_field, read_records


@dataclass(frozen=True)
class StepExample:
    prompt: str
    steps: tuple[str, ...]
    hard: tuple[int, ...]
    soft: tuple[float | None, ...]
    group: str = ""  # problem id: train/held-out splits never separate a problem's solutions

    def targets(self, label: str) -> list[float]:
        """Per-step BCE targets: hard labels, or soft ones with the hard label where no soft one exists."""
        if label == "hard":
            return [float(y) for y in self.hard]
        return [float(h) if s is None else float(s) for h, s in zip(self.hard, self.soft)]


@dataclass(frozen=True)
class StepPair:
    """(prompt + shared prefix, better next step, worse next step), weighted 1/(#pos x #neg) of its node."""

    prompt: str
    prefix: tuple[str, ...]
    better: str
    worse: str
    weight: float


def read_step_dataset(path: str | Path) -> list[StepExample]:
    out = []
    for line, rec in read_records(path):
        prompt = get_field(rec, "prompt", path, line)
        steps = get_field(rec, "steps", path, line, (list,))
        hard = get_field(rec, "hard", path, line, (list,))
        soft = get_field(rec, "soft", path, line, (list,), required=False) or [None] * len(hard)
        if not all(isinstance(s, str) for s in steps):
            raise DataError(path, line, "steps", "expected a list of strings")
        if len(hard) != len(steps) or len(soft) != len(steps):
            raise DataError(path, line, "hard", f"{len(hard)} hard / {len(soft)} soft labels for {len(steps)} steps")
        if any(y not in (0, 1) or isinstance(y, float) for y in hard):
            raise DataError(path, line, "hard", "labels must be 0 or 1")
        if any(s is not None and (not isinstance(s, (int, float)) or not 0 <= s <= 1) for s in soft):
            raise DataError(path, line, "soft", "labels must be numbers in [0, 1] or null")
        group = rec.get("problem_id") or prompt
        out.append(StepExample(prompt, tuple(steps), tuple(int(y) for y in hard), tuple(soft), str(group)))
    if not out:
        raise DataError(path, None, None, "no rows")
    return out


def split_by_group(examples: list[StepExample], held_out: float, seed: int = 0
                   ) -> tuple[list[StepExample], list[StepExample]]:
    """(train, held-out), all solutions of one problem on the same side."""
    groups = sorted({e.group for e in examples})
    random.Random(seed).shuffle(groups)
    cut = int(round(held_out * len(groups)))
    test = set(groups[:cut])
    return [e for e in examples if e.group not in test], [e for e in examples if e.group in test]


def preference_pairs(examples: list[StepExample], label: str = "soft", per_side: int = 2,
                     min_margin: float = 0.0) -> list[StepPair]:
    """rStar-Math pairs: at every shared prefix, up to `per_side` best next steps that can still reach the
    answer (value > 0) against up to `per_side` worst ones that can fail (value < 1); when one side has a
    single candidate the other takes up to 2 x per_side. Value = the step's (soft) label."""
    children: dict[tuple[str, tuple[str, ...]], dict[str, float]] = defaultdict(dict)
    for e in examples:
        for i, (step, value) in enumerate(zip(e.steps, e.targets(label))):
            node = children[(e.prompt, e.steps[:i])]
            node[step] = max(value, node.get(step, value))  # same step seen twice: keep its best estimate
    pairs = []
    for (prompt, prefix), steps in children.items():
        ranked = sorted(steps.items(), key=lambda kv: -kv[1])
        good = [kv for kv in ranked if kv[1] > 0]
        bad = [kv for kv in reversed(ranked) if kv[1] < 1]
        n_good = per_side * 2 if len(bad) == 1 else per_side
        n_bad = per_side * 2 if len(good) == 1 else per_side
        good, bad = good[:n_good], bad[:n_bad]
        chosen = [(g, b) for g in good for b in bad if g[1] - b[1] > min_margin and g[0] != b[0]]
        for g, b in chosen:
            pairs.append(StepPair(prompt, prefix, g[0], b[0], 1.0 / (len(good) * len(bad))))
    return pairs
