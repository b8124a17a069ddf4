"""Test-time search over one generation backend and one scorer (papers.md §4.4, §5).

`run_search(method, policy, problem, scorer, cfg)` runs majority vote, best-of-N, weighted best-of-N,
step-level beam search (with lookahead), DVTS or MCTS and returns a `SearchResult`: the chosen answer,
every trajectory and the exact number of generated tokens.
"""
from scaffold_rl.search.api import METHODS, run_search
from scaffold_rl.search.policy import SearchPolicy
from scaffold_rl.search.scorers import OutcomeScorer, PRMScorer
from scaffold_rl.search.types import SearchConfig, SearchResult, Trajectory

__all__ = ["METHODS", "OutcomeScorer", "PRMScorer", "SearchConfig", "SearchPolicy", "SearchResult", "Trajectory",
           "run_search"]
