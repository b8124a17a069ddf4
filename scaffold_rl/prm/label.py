"""Automatic step labels (Math-Shepherd, papers.md §6.1), with OmegaPRM's binary search as the cheap option.

A step is good when the policy can still reach the gold answer from the prefix that ends with it. For each
step prefix of a sampled solution, K completions are drawn with the current policy (through the Sampler, so
the prefix is rendered and the completion verified exactly as in training) and verified:

* hard label = 1 if any completion is correct, soft label = share of correct completions (`mc`);
* the last step's label is the solution's own verdict (it is its own and only completion): no extra samples.

`method="binary"` (OmegaPRM): a correct solution is good at every step (it is itself a witness), so costs
nothing; for a wrong one, binary search finds the first prefix from which no completion succeeds, assuming a
prefix that cannot reach the answer is not rescued by longer ones. Steps before it get hard label 1, it and
later ones 0; soft labels exist only where a prefix was sampled (None elsewhere). Cost O(K log S) per wrong
solution instead of O(K S). Every record counts the completions spent on it.

Generation is batched across problems; the dataset is JSONL, one record per sampled solution, appended in
chunks of problems and flushed, so a rerun with the same output resumes where the last one stopped (each
chunk's samples depend only on the seed and the chunk, not on what was already written).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from scaffold_rl.rollout.generation import SamplingParams
from scaffold_rl.rollout.sampler import Sampler
from scaffold_rl.steps import StepSegmenter
from scaffold_rl.types import Hint, Problem

METHODS = ("mc", "binary")


@dataclass
class LabelConfig:
    completions: int = 8  # K completions per step prefix (Math-Shepherd: 8)
    solutions: int = 4  # solutions sampled per problem, each labelled step by step
    method: str = "mc"  # "mc": every prefix (hard + soft labels); "binary": OmegaPRM first-error search
    max_new_tokens: int = 64
    temperature: float = 1.0
    chunk: int = 16  # problems per generation batch and per flushed write
    seed: int = 0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"label method must be one of {METHODS}, got {self.method!r}")
        if self.completions < 1 or self.solutions < 1 or self.chunk < 1:
            raise ValueError("completions, solutions and chunk must be >= 1")


@dataclass
class Labelled:
    """One sampled solution with its step labels."""

    id: str
    problem_id: str
    prompt: str
    answer: str | None
    steps: list[str]
    hard: list[int]
    soft: list[float | None]
    correct: bool  # the solution's own verdict
    completions: int  # completions generated for its labels
    first_error: int  # first step with hard label 0, or -1
    method: str

    def to_json(self) -> dict:
        return dict(self.__dict__)


class StepLabeler:
    """Labels sampled solutions with the policy behind `sampler` (its reward decides 'reaches the answer')."""

    def __init__(self, sampler: Sampler, segmenter: StepSegmenter, config: LabelConfig | None = None):
        self.sampler = sampler
        self.segmenter = segmenter
        self.config = config or LabelConfig()
        self.params = SamplingParams(max_new_tokens=self.config.max_new_tokens, temperature=self.config.temperature)

    def _share_correct(self, prefixes: list[tuple[Problem, str]], seed: int) -> list[float]:
        """Share of K completions from each (problem, response prefix) that the reward calls correct."""
        if not prefixes:
            return []
        items = [(p, Hint(text=prefix, tier="solution", level=1, placement="response", scored=True)) for p, prefix in prefixes]
        groups = self.sampler.sample(items, self.config.completions, seed=seed, params=self.params)
        return [sum(r.correct for r in g) / len(g) for g in groups]

    def label_solutions(self, solutions: list[tuple[Problem, str, bool]], seed: int) -> list[tuple[list, list, int]]:
        """(hard, soft, completions spent) for each (problem, response, correct) solution."""
        steps = [self.segmenter.split(text) for _, text, _ in solutions]
        if self.config.method == "mc":
            return self._label_mc(solutions, steps, seed)
        return self._label_binary(solutions, steps, seed)

    def _label_mc(self, solutions, steps, seed):
        asks = [(s, i) for s, st in enumerate(steps) for i in range(len(st) - 1)]
        shares = self._share_correct([(solutions[s][0], "".join(steps[s][: i + 1])) for s, i in asks], seed)
        soft = [[None] * len(st) for st in steps]
        for (s, i), share in zip(asks, shares):
            soft[s][i] = share
        out = []
        for s, st in enumerate(steps):
            if st:
                soft[s][-1] = float(solutions[s][2])
            hard = [int(v > 0) for v in soft[s]]
            out.append((hard, soft[s], self.config.completions * max(0, len(st) - 1)))
        return out

    def _label_binary(self, solutions, steps, seed):
        k = self.config.completions
        soft = [[None] * len(st) for st in steps]
        spent = [0] * len(steps)
        # search interval [lo, hi]: the first error lies in it; hi is known bad (the wrong final step)
        bounds = {}
        for s, (_, _, correct) in enumerate(solutions):
            if steps[s]:
                soft[s][-1] = float(correct)
                if not correct:
                    bounds[s] = (0, len(steps[s]) - 1)
        round_ = 0
        while any(lo < hi for lo, hi in bounds.values()):
            active = [s for s, (lo, hi) in bounds.items() if lo < hi]
            mids = {s: (bounds[s][0] + bounds[s][1]) // 2 for s in active}
            shares = self._share_correct([(solutions[s][0], "".join(steps[s][: mids[s] + 1])) for s in active],
                                         seed + 7919 * (round_ + 1))
            for s, share in zip(active, shares):
                mid = mids[s]
                soft[s][mid] = share
                spent[s] += k
                lo, hi = bounds[s]
                bounds[s] = (mid + 1, hi) if share > 0 else (lo, mid)
            round_ += 1
        out = []
        for s, st in enumerate(steps):
            first = bounds[s][0] if s in bounds else len(st)
            out.append(([int(i < first) for i in range(len(st))], soft[s], spent[s]))
        return out

    def label_problems(self, problems: list[Problem], seed: int) -> list[Labelled]:
        """Sample `solutions` per problem and label each step; one generation batch per stage."""
        n = self.config.solutions
        groups = self.sampler.sample([(p, None) for p in problems], n, seed=seed, params=self.params)
        solutions = [(p, r.text, bool(r.correct)) for p, g in zip(problems, groups) for r in g]
        labels = self.label_solutions(solutions, seed + 1)
        out = []
        for j, ((problem, text, correct), (hard, soft, spent)) in enumerate(zip(solutions, labels)):
            out.append(Labelled(
                id=f"{problem.id}#{j % n}", problem_id=problem.id, prompt=problem.prompt, answer=problem.answer,
                steps=self.segmenter.split(text), hard=hard, soft=soft, correct=correct, completions=spent,
                first_error=next((i for i, y in enumerate(hard) if not y), -1), method=self.config.method))
        return out


def write_label_dataset(labeler: StepLabeler, problems: list[Problem], output: str | Path,
                        log: Callable[[str], None] = print) -> dict:
    """Label `problems` into `output` (JSONL), resuming from whatever it already holds."""
    from scaffold_rl.hints.generate import repair_and_read_ids

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    done_ids = repair_and_read_ids(output, log)
    cfg = labeler.config
    summary = {"solutions": 0, "completions": 0, "resumed_problems": 0, "steps": 0, "good_steps": 0}
    with output.open("a") as f:
        for c, start in enumerate(range(0, len(problems), cfg.chunk)):
            chunk = problems[start : start + cfg.chunk]
            if all(f"{p.id}#{j}" in done_ids for p in chunk for j in range(cfg.solutions)):
                summary["resumed_problems"] += len(chunk)
                continue
            records = [r for r in labeler.label_problems(chunk, seed=cfg.seed * 1_000_003 + 7 * c)
                       if r.id not in done_ids]
            f.write("".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records))
            f.flush()
            summary["solutions"] += len(records)
            summary["completions"] += sum(r.completions for r in records)
            summary["steps"] += sum(len(r.steps) for r in records)
            summary["good_steps"] += sum(sum(r.hard) for r in records)
            log(f"labelled {min(start + cfg.chunk, len(problems))}/{len(problems)} problems, "
                f"{summary['completions']} completions")
    return summary
