"""One entry point for every search method; counts the tokens each search spends."""
from __future__ import annotations

from scaffold_rl.search.beam import beam_search, dvts
from scaffold_rl.search.mcts import mcts
from scaffold_rl.search.types import SearchResult
from scaffold_rl.search.voting import best_of_n, majority_vote, weighted_best_of_n

METHODS = {
    "majority": majority_vote,
    "best_of_n": best_of_n,
    "weighted_best_of_n": weighted_best_of_n,
    "beam": beam_search,
    "dvts": dvts,
    "mcts": mcts,
}
NEEDS_SCORER = {"best_of_n", "weighted_best_of_n", "beam", "dvts", "mcts"}


def run_search(method: str, policy, problem, scorer, cfg) -> SearchResult:
    """Run `method` on one problem; `result.tokens` is exactly what the backend generated for it."""
    if method not in METHODS:
        raise ValueError(f"search method must be one of {sorted(METHODS)}, got {method!r}")
    if scorer is None and method in NEEDS_SCORER:
        raise ValueError(f"search method {method!r} needs a scorer (a PRM or the outcome verifier)")
    before = policy.tokens
    result = METHODS[method](policy, problem, scorer, cfg)
    result.tokens = policy.tokens - before
    return result
