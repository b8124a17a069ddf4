"""Tests for scaffold_rl.eval.metrics: pass@k, majority vote, maj@k, mean/stderr."""
from __future__ import annotations

import math

import pytest

from scaffold_rl.eval.metrics import maj_at_k, majority_vote, mean_and_stderr, pass_at_k


def _exact_pass_at_k(n: int, c: int, k: int) -> float:
    return 1 - math.comb(n - c, k) / math.comb(n, k)


@pytest.mark.parametrize(
    "n, c, k, expected",
    [
        (10, 3, 1, 0.3),
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (10, 0, 5, 0.0),
        (10, 10, 1, 1.0),
        (5, 4, 2, 1.0),  # n - c < k: every k-subset holds a correct sample
        (4, 1, 4, 1.0),
        (16, 1, 8, 0.5),  # 1 - C(15,8)/C(16,8) = 1 - 8/16
    ],
)
def test_pass_at_k_hand_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_matches_binomials_for_large_n():
    for n, c, k in [(200, 7, 10), (1000, 3, 100), (64, 20, 32)]:
        assert pass_at_k(n, c, k) == pytest.approx(_exact_pass_at_k(n, c, k), rel=1e-12)


@pytest.mark.parametrize("n, c, k", [(5, 2, 6), (5, 6, 1), (5, -1, 1), (5, 2, 0)])
def test_pass_at_k_rejects_bad_arguments(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_majority_vote_counts_and_canonicalises():
    assert majority_vote(["3", "5", "5", "3", "5"]) == "5"
    assert majority_vote(["025", "7", "25", "7.0", "25.0"]) == "025"  # 3 votes for 25, first spelling represents
    assert majority_vote([" x + 1", "x+1", "2"]) == " x + 1"


def test_majority_vote_none_abstains_and_ties_go_first():
    assert majority_vote([None, None, "4"]) == "4"
    assert majority_vote([None, None]) is None
    assert majority_vote([]) is None
    assert majority_vote(["b", "a", "a", "b"]) == "b"  # tie: first to appear wins


def test_majority_vote_weights():
    assert majority_vote(["1", "2", "2"], weights=[0.9, 0.3, 0.4]) == "1"  # 0.9 > 0.7
    assert majority_vote(["1", "2", "2"], weights=[0.5, 0.3, 0.4]) == "2"
    assert majority_vote(["1", None, "2"], weights=[0.1, 5.0, 0.2]) == "2"  # None's weight is ignored
    with pytest.raises(ValueError):
        majority_vote(["1"], weights=[1.0, 2.0])


def test_majority_vote_custom_key():
    assert majority_vote(["A", "b", "B"], key=str.lower) == "b"


def test_maj_at_k_all_and_chunks():
    eq = lambda a, g: a == g  # noqa: E731
    assert maj_at_k(["1", "2", "2"], "2", 3, eq) == 1.0
    assert maj_at_k(["1", "1", "2"], "2", 3, eq) == 0.0
    # chunks of 2: ["2","2"] -> right, ["1","2"] -> tie to "1" -> wrong, ["2","1"] -> right; last "2" dropped
    assert maj_at_k(["2", "2", "1", "2", "2", "1", "2"], "2", 2, eq) == pytest.approx(2 / 3)
    assert maj_at_k([None, None, "2", None], "2", 2, eq) == 0.5
    calls = []
    maj_at_k(["7", "7", "8", "8"], "7", 2, lambda a, g: calls.append((a, g)) or True)
    assert calls == [("7", "7"), ("8", "7")]  # the verifier sees each chunk's vote once
    with pytest.raises(ValueError):
        maj_at_k(["1"], "1", 2, eq)


def test_mean_and_stderr():
    mean, err = mean_and_stderr([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert err == pytest.approx(math.sqrt((1.5**2 * 2 + 0.5**2 * 2) / 3 / 4))
    assert mean_and_stderr([5.0]) == (5.0, 0.0)
    with pytest.raises(ValueError):
        mean_and_stderr([])
