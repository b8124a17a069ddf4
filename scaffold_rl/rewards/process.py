"""The process reward term: a trained PRM's aggregated step scores as a reward, added to the outcome reward.

    R = w_correct * correctness + w_process * aggregate(PRM step scores)

GRPO takes one scalar per completion, so the per-step scores are aggregated (min / prod / last / mean; `mean`
is the per-step average, the closest a sequence-level advantage gets to Math-Shepherd's step-by-step reward).
The term never sets `correct`: all-wrong detection stays with the outcome verifier. Scores are cached per
(prompt, response), since a group often repeats a completion and rescue strategies re-score.

`gate="answer"` (default) pays the PRM score only to a response that ends in a final answer the task can read
and that no guard flagged: a PRM is a learned model, out of its training distribution on text that is not a
solution, and GRPO finds that text. Ungated, a 0.5-weighted PRM term drove the embedded policy within 60
steps to `5540-8=5222`-style strings the PRM scored high and that carry no answer (every level's accuracy
fell to 0; docs/benchmarks.md, process rewards).
"""
from __future__ import annotations

from collections import OrderedDict

from scaffold_rl.prm.model import AGGREGATIONS, ProcessRewardModel, aggregate
from scaffold_rl.rewards.correctness import Score
from scaffold_rl.steps import MODES, StepSegmenter
from scaffold_rl.verify import extract_answer

SEGMENTERS = ("auto", *MODES)
GATES = ("answer", "none")


class ProcessTerm:
    """`prm_path`: a folder written by `scaffold-rl prm train`; `segmenter`: 'auto' cuts the embedded task's
    responses at its own steps and others at newlines."""

    def __init__(self, prm_path: str | None = None, aggregate: str = "min", segmenter: str = "auto",
                 prm: ProcessRewardModel | None = None, cache_size: int = 4096, gate: str = "answer",
                 answer_pattern: str | None = None):
        if gate not in GATES:
            raise ValueError(f"reward term 'process': gate must be one of {GATES}, got {gate!r}")
        self.gate = gate
        self.answer_pattern = answer_pattern
        if aggregate not in AGGREGATIONS:
            raise ValueError(f"reward term 'process': aggregate must be one of {AGGREGATIONS}, got {aggregate!r}")
        if segmenter not in SEGMENTERS:
            raise ValueError(f"reward term 'process': segmenter must be one of {SEGMENTERS}, got {segmenter!r}")
        if prm is None:
            if not prm_path:
                raise ValueError("reward term 'process' needs prm_path (a folder from `scaffold-rl prm train`)")
            prm = ProcessRewardModel.load(prm_path)
        self.prm = prm
        self.how = aggregate
        self.segmenter = segmenter
        self.cache: OrderedDict[tuple[str, str], float] = OrderedDict()
        self.cache_size = cache_size

    def _segmenter(self, ctx) -> StepSegmenter:
        if self.segmenter != "auto":
            return StepSegmenter(self.segmenter)
        return StepSegmenter("embedded" if ctx.problem.source == "arithmetic" else "newline")

    def __call__(self, ctx) -> Score:
        if self.gate == "answer" and (ctx.hacked or extract_answer(ctx.response, self.answer_pattern) is None):
            return Score(0.0, False)
        key = (ctx.problem.prompt, ctx.response)
        if key not in self.cache:
            steps = self._segmenter(ctx).split(ctx.response)
            self.cache[key] = aggregate(self.prm.score_steps(ctx.problem.prompt, steps), self.how)
            if len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        return Score(self.cache[key], False)
