"""Correctness rewards: the same checker scores training rollouts and evaluation.

`strict` rewards only a response that reproduces the whole reference chain (hint prefix + generated text),
so a wrong chain that lands on the right answer by luck earns nothing. `answer` rewards a final answer that
verifies (math-verify with an exact integer fast path, time-bounded).
"""
from __future__ import annotations

from dataclasses import dataclass

from scaffold_rl.types import Problem


@dataclass
class Score:
    reward: float
    correct: bool
    timed_out: bool = False


class CorrectnessReward:
    def __init__(self, kind: str = "strict", answer_pattern: str | None = None, timeout_s: float = 2.0):
        if kind not in ("strict", "answer"):
            raise ValueError(f"reward kind must be 'strict' or 'answer', got {kind!r}")
        self.kind = kind
        self.answer_pattern = answer_pattern
        self._verifier = None
        self.timeout_s = timeout_s

    @property
    def verifier(self):
        if self._verifier is None:
            from scaffold_rl.verify import Verifier

            self._verifier = Verifier(timeout_s=self.timeout_s, answer_pattern=self.answer_pattern)
        return self._verifier

    def __call__(self, problem: Problem, response: str) -> Score:
        """`response` is everything after the prompt: hint prefix (if any) + generated text."""
        if self.kind == "strict":
            if problem.reference is None:
                raise ValueError(f"problem {problem.id} has no reference chain; use reward.kind=answer")
            ok = response.strip() == problem.reference.strip()
            return Score(float(ok), ok)
        if problem.answer is None:
            raise ValueError(f"problem {problem.id} has no answer: a correctness reward needs one "
                             "(use a label-free reward for datasets without answers)")
        result = self.verifier.verify(response, problem.answer)
        return Score(float(result.correct), result.correct, result.timed_out)
