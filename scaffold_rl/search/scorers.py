"""Scorers: what ranks trajectories. A process reward model (any object with `score_steps_batch`) or the
outcome verifier (needs the gold answer: an oracle at test time, the right judge for training data)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from scaffold_rl.search.types import Trajectory
from scaffold_rl.types import Problem


class StepScorer(Protocol):
    """What `prm.model.ProcessRewardModel` offers: P(step correct) for every step of every (prompt, steps)."""

    def score_steps_batch(self, items: list[tuple[str, list[str]]]) -> list[list[float]]: ...


def aggregate(step_scores: list[float], how: str) -> float:
    from scaffold_rl.prm.model import aggregate as prm_aggregate

    return prm_aggregate(step_scores, how)


class PRMScorer:
    oracle = False

    def __init__(self, prm: StepScorer, aggregation: str = "min"):
        self.prm = prm
        self.aggregation = aggregation

    def score(self, problem: Problem, trajs: list[Trajectory]) -> None:
        """Sets `step_scores` and `score` (aggregated) on each trajectory; a dead one scores 0."""
        live = [t for t in trajs if t.steps and not t.dead]
        if live:
            batch = self.prm.score_steps_batch([(problem.prompt, list(t.steps)) for t in live])
            for t, scores in zip(live, batch):
                t.step_scores = [float(s) for s in scores]
                t.score = aggregate(t.step_scores, self.aggregation)
        for t in trajs:
            if t.dead or not t.steps:
                t.score = 0.0


class OutcomeScorer:
    """1 for a finished trajectory whose answer verifies against the gold answer, else 0."""

    oracle = True

    def __init__(self, is_correct: Callable[[Problem, str], bool]):
        self.is_correct = is_correct

    def score(self, problem: Problem, trajs: list[Trajectory]) -> None:
        for t in trajs:
            t.score = float(t.finished and not t.dead and self.is_correct(problem, t.text))


def verifier_scorer(answer_pattern: str | None, timeout_s: float = 2.0) -> OutcomeScorer:
    """The outcome scorer of the library's one answer checker (`verify.Verifier`)."""
    from scaffold_rl.verify import Verifier

    verifier = Verifier(timeout_s=timeout_s, answer_pattern=answer_pattern)
    return OutcomeScorer(lambda p, text: p.answer is not None and verifier.verify(text, p.answer).correct)


class ExactStepScorer:
    """The embedded task's exact step labels (prm/exact.py) as a perfect PRM: an oracle upper bound for
    PRM-guided search, so the search algorithms can be compared apart from the quality of a trained PRM."""

    oracle = True

    def __init__(self, aggregation: str = "min"):
        self.aggregation = aggregation

    def score(self, problem: Problem, trajs: list[Trajectory]) -> None:
        from scaffold_rl.prm.exact import exact_step_labels

        for t in trajs:
            if t.dead or not t.steps:
                t.score = 0.0
                continue
            t.step_scores = [float(y) for y in exact_step_labels(problem, list(t.steps))]
            t.score = aggregate(t.step_scores, self.aggregation)
