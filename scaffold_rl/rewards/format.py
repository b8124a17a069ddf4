"""Format reward of the label-free surrogate (Xin et al., arXiv 2505.19439): 1 when the response ends in a
final answer that is valid mathematics, else 0. Needs no gold answer, so it trains on unlabeled problems.

The answer is the strict one of `verify.extract_answer` (last `\\boxed{}` or the task's own regex; the checker
also reads answers stated in prose, but a format reward pays for the format), in the text
after the last `</think>` when there is one (the paper's code: an answer inside the reasoning block is not
a final answer). "Valid mathematics" = latex2sympy parses it after math-verify's normalisation, in the
verifier's worker process, so a pathological answer costs at most `timeout_s` and scores 0. Valid:
`1`, `\\frac{3}{2}`, `x^2+12y=1`, `(0,\\infty)`; invalid: an empty box, `x +* 2`, `(0,1`. Like SymPy in the
paper, the parser accepts plain words (read as products of symbols); the guards catch the hacks that matter.
"""
from __future__ import annotations

from scaffold_rl.rewards.correctness import Score
from scaffold_rl.types import Problem
from scaffold_rl.verify import Verifier, extract_answer

THINK_END = "</think>"


def final_part(response: str) -> str:
    """The text after the last `</think>` (the whole response if there is none)."""
    return response.rsplit(THINK_END, 1)[-1]


class FormatReward:
    """R_f in {0, 1}; `timed_out` on the score says the parse was cut off (and scored 0)."""

    def __init__(self, answer_pattern: str | None = None, timeout_s: float = 2.0, after_think: bool = True) -> None:
        self.answer_pattern = answer_pattern
        self.after_think = after_think
        self.verifier = Verifier(timeout_s=timeout_s, answer_pattern=answer_pattern)

    def extract(self, response: str) -> str | None:
        """The final answer the format reward judges; None when there is none."""
        text = final_part(response) if self.after_think else response
        return extract_answer(text, self.answer_pattern)

    def score(self, response: str) -> Score:
        answer = self.extract(response)
        if answer is None:
            return Score(0.0, False)
        result = self.verifier.parses(answer)
        return Score(float(result.correct), False, result.timed_out)

    def __call__(self, problem: Problem, response: str) -> Score:
        """Same call shape as `CorrectnessReward`; `correct` stays False (no gold answer is consulted)."""
        return self.score(response)
