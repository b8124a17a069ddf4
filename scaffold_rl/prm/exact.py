"""Exact step labels for the embedded arithmetic task: every step can be checked, so automatic (Monte-Carlo)
labels and the PRM can be measured against the truth rather than against another estimate.

A step is correct when it applies the problem's next operation to the previous (correct) value with the right
result, written `a<op>x=c.`; the answer line `\\nA:v` is correct when v is the problem's answer. A prefix is
good only if all its steps are (ProcessBench's first-error convention), so every step after the first error
is labelled 0, as is any step beyond the problem's operations.
"""
from __future__ import annotations

import re

from scaffold_rl.steps import StepSegmenter
from scaffold_rl.types import Problem

_STEP = re.compile(r"^\s*(-?\d+)([+\-*])(\d+)=(-?\d+)\.\s*$")
_ANSWER = re.compile(r"^\s*A:(-?\d+)\s*$")


def _apply(a: int, op: str, x: int) -> int:
    return a + x if op == "+" else a - x if op == "-" else a * x


def _reference_ops(problem: Problem) -> list[tuple[int, str, int]]:
    """(previous value, op, operand) of each reference step."""
    out = []
    for i, step in enumerate(problem.solution_steps):
        m = _STEP.match(step)
        if not m:
            raise ValueError(f"problem {problem.id}: reference step {i} {step!r} is not 'a<op>x=c.'")
        out.append((int(m.group(1)), m.group(2), int(m.group(3))))
    return out


def step_is_correct(problem: Problem, index: int, step: str) -> bool:
    """Whether `step`, taken as step `index` after correct steps, is right for `problem`."""
    ops = _reference_ops(problem)
    if index < len(ops):
        m = _STEP.match(step)
        if not m:
            return False
        a, op, x, c = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
        return (a, op, x) == ops[index] and c == _apply(a, op, x)
    m = _ANSWER.match(step)
    return index == len(ops) and m is not None and m.group(1) == str(problem.answer)


def exact_step_labels(problem: Problem, steps: list[str]) -> list[int]:
    """1 for each step of a still-correct prefix, 0 from the first wrong step on."""
    labels, ok = [], True
    for i, step in enumerate(steps):
        ok = ok and step_is_correct(problem, i, step)
        labels.append(int(ok))
    return labels


def first_error(labels: list[int]) -> int:
    """Index of the first 0 label, or -1 when every step is good (ProcessBench's target)."""
    return next((i for i, y in enumerate(labels) if not y), -1)


def exact_labels_of_response(problem: Problem, response: str) -> tuple[list[str], list[int]]:
    steps = StepSegmenter("embedded").split(response)
    return steps, exact_step_labels(problem, steps)


def corrupted_response(problem: Problem, rng) -> str:
    """The reference with one step's result off by 1-9 (and the chain carried on from it), or untouched with
    probability 1/(steps + 1): labelled data with a known first error, for tests and benchmarks."""
    ops = _reference_ops(problem)
    where = rng.randrange(len(ops) + 1)
    if where == len(ops):
        return problem.reference
    value, steps = ops[0][0], []
    for i, (_, op, x) in enumerate(ops):
        new = _apply(value, op, x)
        if i == where:
            new += rng.choice([-1, 1]) * rng.randint(1, 9)
        steps.append(f"{value}{op}{x}={new}.")
        value = new
    return "".join(steps) + f"\nA:{value}"
