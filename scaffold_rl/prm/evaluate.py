"""Step-label accuracy of a scorer on the embedded task, against labels computed exactly from the arithmetic.

Solutions are what the policy actually writes (sampled), so the measure covers the errors a PRM meets in use;
the same function scores Monte-Carlo labels (`prm label` output) against the truth.
"""
from __future__ import annotations

from typing import Callable

from scaffold_rl.prm.exact import exact_step_labels, first_error
from scaffold_rl.steps import StepSegmenter
from scaffold_rl.types import Problem


def label_agreement(predicted: list[list[int]], exact: list[list[int]]) -> dict:
    """Step accuracy, accuracy on good / bad steps, first-error accuracy, and the majority-label accuracy."""
    pairs = [(p, y) for ps, ys in zip(predicted, exact) for p, y in zip(ps, ys)]
    good = [p == y for p, y in pairs if y == 1]
    bad = [p == y for p, y in pairs if y == 0]
    n = max(1, len(pairs))
    return {
        "step_accuracy": sum(p == y for p, y in pairs) / n,
        "good_step_accuracy": sum(good) / len(good) if good else float("nan"),
        "bad_step_accuracy": sum(bad) / len(bad) if bad else float("nan"),
        "majority_accuracy": max(len(good), len(bad)) / n,
        "first_error_accuracy": sum(first_error(p) == first_error(y) for p, y in zip(predicted, exact))
        / max(1, len(exact)),
        "steps": len(pairs),
        "solutions": len(exact),
    }


def exact_label_accuracy(score_batch: Callable[[list[tuple[str, list[str]]]], list[list[float]]],
                         solutions: list[tuple[Problem, str]], threshold: float = 0.5,
                         batch_size: int = 32) -> dict:
    """A step scorer's labels (score >= threshold) on (problem, response) pairs vs the exact labels.

    A prefix is good only while every step is (ProcessBench's first-error convention), so a predicted label
    is also forced to 0 after the first predicted error."""
    seg = StepSegmenter("embedded")
    steps = [seg.split(text) for _, text in solutions]
    exact = [exact_step_labels(p, st) for (p, _), st in zip(solutions, steps)]
    scores: list[list[float]] = []
    for start in range(0, len(solutions), batch_size):
        scores += score_batch([(p.prompt, st) for (p, _), st in
                               zip(solutions[start : start + batch_size], steps[start : start + batch_size])])
    predicted = []
    for sc in scores:
        labels, ok = [], True
        for s in sc:
            ok = ok and s >= threshold
            labels.append(int(ok))
        predicted.append(labels)
    return label_agreement(predicted, exact)
