"""Evaluation metrics over sampled answers: pass@k, majority vote, maj@k, mean with standard error."""
from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence

from scaffold_rl.verify import canonical_answer

__all__ = ["pass_at_k", "majority_vote", "maj_at_k", "mean_and_stderr"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k) (Chen et al., 2021).

    Computed as a product of ratios, so large n never builds huge binomials or loses precision.
    """
    if not 0 < k <= n:
        raise ValueError(f"need 0 < k <= n, got n={n}, k={k}")
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if n - c < k:
        return 1.0
    # C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


def majority_vote(
    answers: Sequence[str | None],
    weights: Sequence[float] | None = None,
    key: Callable[[str], Hashable] | None = None,
) -> str | None:
    """The answer whose group has the largest total weight; None answers abstain.

    Groups by `key` (default `canonical_answer`: "025" and "25" vote together, "1/2" and "0.5" too).
    Weights default to 1 each (plain majority); PRM scores give weighted best-of-N. Ties go to the
    group that appeared first, and a group is represented by its first answer.
    """
    if weights is not None and len(weights) != len(answers):
        raise ValueError(f"{len(answers)} answers but {len(weights)} weights")
    key = key or canonical_answer
    totals: dict[Hashable, float] = {}
    first: dict[Hashable, str] = {}
    for i, answer in enumerate(answers):
        if answer is None:
            continue
        group = key(answer)
        first.setdefault(group, answer)
        totals[group] = totals.get(group, 0.0) + (1.0 if weights is None else float(weights[i]))
    if not totals:
        return None
    # max() returns the first of equal totals, and dicts keep first-appearance order.
    best = max(totals, key=totals.__getitem__)
    return first[best]


def maj_at_k(
    answers: Sequence[str | None],
    gold: str,
    k: int,
    is_correct: Callable[[str, str], bool],
) -> float:
    """Accuracy of the majority vote over k samples.

    With exactly k answers this is 0 or 1. With more, the answers are cut into consecutive disjoint
    chunks of k (a remainder shorter than k is dropped) and the accuracy is averaged over chunks,
    which estimates the same quantity with less variance. `is_correct(answer, gold)` is the verifier.
    """
    if not 0 < k <= len(answers):
        raise ValueError(f"need 0 < k <= len(answers), got k={k}, {len(answers)} answers")
    chunks = [answers[i : i + k] for i in range(0, len(answers) - k + 1, k)]
    hits = 0
    for chunk in chunks:
        vote = majority_vote(chunk)
        hits += vote is not None and bool(is_correct(vote, gold))
    return hits / len(chunks)


def mean_and_stderr(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample std / sqrt(n)); the error is 0 for a single value."""
    n = len(values)
    if n == 0:
        raise ValueError("mean_and_stderr of no values")
    mean = math.fsum(values) / n
    if n == 1:
        return mean, 0.0
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance / n)
