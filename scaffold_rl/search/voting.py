"""Whole-solution methods: N samples, then a vote or a verifier picks (papers.md §4.4).

majority vote   answer = most frequent final answer (self-consistency)
best-of-N       the sample with the highest aggregated score
weighted BoN    answer = argmax over answers of the summed scores of the samples giving it
Ties go to the answer seen first, so a result never depends on dict ordering.
"""
from __future__ import annotations

from scaffold_rl.search.types import SearchResult, Trajectory


def tally(trajs: list[Trajectory], weighted: bool) -> dict[str, float]:
    """answer -> count (or summed score), in first-seen order; trajectories without an answer do not vote."""
    votes: dict[str, float] = {}
    for t in trajs:
        if t.answer is not None:
            votes[t.answer] = votes.get(t.answer, 0.0) + ((t.score or 0.0) if weighted else 1.0)
    return votes


def pick(votes: dict[str, float]) -> str | None:
    best = None
    for answer, v in votes.items():  # strict '>' keeps the first-seen answer on ties
        if best is None or v > votes[best]:
            best = answer
    return best


def best_scored(trajs: list[Trajectory]) -> Trajectory | None:
    """Highest-scoring finished trajectory with an answer (first on ties)."""
    best = None
    for t in trajs:
        if t.answer is not None and (best is None or (t.score or 0.0) > (best.score or 0.0)):
            best = t
    return best


def majority_vote(policy, problem, scorer, cfg) -> SearchResult:
    trajs = policy.complete(problem, [Trajectory() for _ in range(cfg.n)])
    votes = tally(trajs, weighted=False)
    answer = pick(votes)
    chosen = next((t for t in trajs if t.answer == answer), None) if answer is not None else None
    return SearchResult("majority", answer, chosen, trajs, 0, votes)


def best_of_n(policy, problem, scorer, cfg) -> SearchResult:
    trajs = policy.complete(problem, [Trajectory() for _ in range(cfg.n)])
    scorer.score(problem, trajs)
    chosen = best_scored(trajs)
    return SearchResult("best_of_n", chosen.answer if chosen else None, chosen, trajs, 0)


def weighted_best_of_n(policy, problem, scorer, cfg) -> SearchResult:
    trajs = policy.complete(problem, [Trajectory() for _ in range(cfg.n)])
    scorer.score(problem, trajs)
    votes = tally(trajs, weighted=True)
    answer = pick(votes)
    candidates = [t for t in trajs if t.answer == answer]
    chosen = best_scored(candidates) if answer is not None else None
    return SearchResult("weighted_best_of_n", answer, chosen, trajs, 0, votes)
