"""Rewards as weighted sums of named terms, each term's value kept so the trainer can log it per step.

    R = sum_i w_i * term_i(problem, response, completion_len, step)

Terms: correctness (needs gold answers), format, length, format_length (the label-free surrogate of
Xin et al., arXiv 2505.19439), overlong (DAPO's soft overlong punishment), repetition (n-gram repetition
penalty). Guards run first; a response they flag gets no positive label-free reward: the format term is
zeroed and the length term becomes min(0, length), so format_length falls to min(0, length).

`correct` (what pass rates and the all-wrong trigger of rescue strategies count) is the verdict of one term:
correctness when it has a nonzero weight; else "well-formed" from format or format_length (a final answer
that parses, no guard fired), the only check a label-free reward can make; else the reconstruction term's exact
check (the summary keeps as many facts as its budget allows); else always False.

Terms that learn during a run (refreshed_process) keep state that `save_state` / `load_state` carry through
checkpoints (train/trainer.py calls them).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from scaffold_rl.rewards.correctness import CorrectnessReward, Score
from scaffold_rl.rewards.format import FormatReward
from scaffold_rl.rewards.guards import Guards, ngram_repetition_rate
from scaffold_rl.rewards.length import LengthReward, Unit, measure_length
from scaffold_rl.types import Problem

LABEL_FREE_REWARDS = ("format_length", "format", "length")
# terms whose `correct` stands in for correctness when no correctness term is weighted, in this order: format
# checks (well-formed), the reconstruction term (the summary keeps every fact the budget allows: an exact check)
VERDICT_TERMS = ("format", "format_length", "reconstruction")


@dataclass
class CompositeScore(Score):
    """A Score with each term's unweighted value (`name`, `name/part`) and guard hits (`guard/name`: 0/1)."""

    terms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RewardContext:
    """What a term may look at for one response."""

    problem: Problem
    response: str
    completion_len: int | None = None  # generated tokens, as the sampler counted them
    step: int = 0
    hacked: bool = False  # some guard fired


class Term(Protocol):
    def __call__(self, ctx: RewardContext) -> Score: ...


# --- pure formulas ------------------------------------------------------------------------------------


def combine_format_length(format_ok: bool, length: float, format_weight: float = 1.0) -> float:
    """R = w * 1 + R_l when the format is right, else min(0, R_l): a malformed answer is never paid."""
    return format_weight + length if format_ok else min(0.0, length)


def overlong_penalty(length: int, max_length: int, cache: int) -> float:
    """DAPO soft overlong punishment: 0 up to max - cache, then linear down to -1 at max (and beyond)."""
    start = max_length - cache
    if length <= start:
        return 0.0
    if length >= max_length:
        return -1.0
    return (start - length) / cache


# --- terms --------------------------------------------------------------------------------------------


class MissingAnswerError(ValueError):
    """A correctness term met a problem without a gold answer."""


class CorrectnessTerm:
    """The task's correctness score of the response. `scorer` is the task's own (Task.scorer: a reasoning-gym
    dataset's partial credit, say); without one, the shared checker (CorrectnessReward)."""

    def __init__(self, kind: str = "answer", answer_pattern: str | None = None, timeout_s: float = 2.0,
                 scorer=None) -> None:
        self.kind = kind
        self.reward = scorer or CorrectnessReward(kind, answer_pattern=answer_pattern, timeout_s=timeout_s)

    def __call__(self, ctx: RewardContext) -> Score:
        problem = ctx.problem
        missing = problem.answer is None if self.kind == "answer" else problem.reference is None
        if missing:
            what = "answer" if self.kind == "answer" else "reference chain"
            raise MissingAnswerError(
                f"problem {problem.id} has no {what}: this dataset has no answers, so the 'correctness' reward "
                f"term cannot score it. Use a label-free reward instead: reward=format_length (format + length, "
                f"Xin et al.), reward=format (format only), or weighted terms without correctness "
                f"({', '.join(LABEL_FREE_REWARDS)}, overlong, repetition).")
        return self.reward(problem, ctx.response)


class FormatTerm:
    def __init__(self, format_reward: FormatReward) -> None:
        self.format = format_reward

    def __call__(self, ctx: RewardContext) -> Score:
        if ctx.hacked:
            return Score(0.0, False)
        score = self.format.score(ctx.response)
        return Score(score.reward, score.reward > 0, score.timed_out)  # correct = well-formed


class LengthTerm:
    """R_l, 0 before `start_step` (optional switch-on; the paper uses it from step 0)."""

    def __init__(self, length_reward: LengthReward, start_step: int = 0) -> None:
        self.length = length_reward
        self.start_step = start_step

    def value(self, ctx: RewardContext) -> float:
        if ctx.step < self.start_step:
            return 0.0
        return self.length(ctx.response, ctx.completion_len)

    def __call__(self, ctx: RewardContext) -> Score:
        value = self.value(ctx)
        return Score(min(0.0, value) if ctx.hacked else value, False)


class FormatLengthTerm:
    """format_weight * R_f + R_l if the format is right else min(0, R_l); parts logged as format / length.

    format_weight: 1.0 in the paper; 0.5 reproduces its public code (half of answer + think-tag format,
    where the think-tag part is always 0 under the Qwen-Math template).
    """

    def __init__(self, format_reward: FormatReward, length_reward: LengthReward, format_weight: float = 1.0,
                 start_step: int = 0) -> None:
        self.format = FormatTerm(format_reward)
        self.length = LengthTerm(length_reward, start_step)
        self.format_weight = format_weight

    def __call__(self, ctx: RewardContext) -> CompositeScore:
        fmt = self.format(ctx)
        length = self.length.value(ctx)
        total = combine_format_length(fmt.reward > 0, length, self.format_weight)
        return CompositeScore(total, fmt.correct, fmt.timed_out, terms={"format": fmt.reward, "length": length})


class OverlongTerm:
    def __init__(self, max_length: int, cache: int | None = None, unit: Unit = "tokens", tokenizer: Any = None):
        """`cache` defaults to 20 % of max_length (DAPO: 4096 of 20480)."""
        self.max_length = int(max_length)
        self.cache = int(cache) if cache is not None else max(1, round(0.2 * max_length))
        if not 0 < self.cache <= self.max_length:
            raise ValueError(f"overlong cache must be in (0, max_length={max_length}], got {self.cache}")
        self.unit = unit
        self.tokenizer = tokenizer

    def __call__(self, ctx: RewardContext) -> Score:
        length = measure_length(ctx.response, ctx.completion_len, self.unit, self.tokenizer)
        return Score(overlong_penalty(length, self.max_length, self.cache), False)


class RepetitionTerm:
    """-max_penalty * (share of repeated word n-grams): 0 for fresh text, -max_penalty for a pure loop."""

    def __init__(self, n: int = 4, max_penalty: float = 1.0) -> None:
        self.n = n
        self.max_penalty = max_penalty

    def __call__(self, ctx: RewardContext) -> Score:
        return Score(-self.max_penalty * ngram_repetition_rate(ctx.response, self.n), False)


# --- composition --------------------------------------------------------------------------------------


class CompositeReward:
    """Weighted sum of named terms, with optional guards.

    `correct` is the verdict of the term named by `verdict` (see the module docstring); `timed_out` is set
    if any term's check was cut off. A weight of 0 keeps a term for logging only.
    """

    takes_context = True  # the sampler passes completion_len (tokens) and the training step

    def __init__(self, terms: Mapping[str, tuple[float, Term]], guards: Guards | None = None) -> None:
        if not terms:
            raise ValueError("a composite reward needs at least one term")
        self.terms = dict(terms)
        self.guards = guards
        graded = "correctness" in self.terms and self.terms["correctness"][0] != 0
        self.verdict = "correctness" if graded else next(
            (name for name in VERDICT_TERMS if name in self.terms), None)

    def __call__(self, problem: Problem, response: str, completion_len: int | None = None,
                 step: int = 0) -> CompositeScore:
        caught = self.guards.check(problem, response) if self.guards is not None else {}
        ctx = RewardContext(problem, response, completion_len, step, hacked=any(caught.values()))
        total, correct, timed_out = 0.0, False, False
        logged: dict[str, float] = {}
        for name, (weight, term) in self.terms.items():
            score = term(ctx)
            total += weight * score.reward
            correct = correct or (name == self.verdict and score.correct)
            timed_out = timed_out or score.timed_out
            logged[name] = score.reward
            for part, value in getattr(score, "terms", {}).items():
                logged[f"{name}/{part}"] = value
        for guard, hit in caught.items():
            logged[f"guard/{guard}"] = float(hit)
        return CompositeScore(total, correct, timed_out, terms=logged)

    # --- state of terms that learn during a run (the refreshed reward model): saved with each checkpoint -----

    def stateful_terms(self) -> dict[str, Any]:
        return {name: term for name, (_, term) in self.terms.items() if hasattr(term, "save_state")}

    def save_state(self, folder) -> None:
        """Each stateful term writes into folder/<term name>/ (weights, optimizer, buffer); nothing when none."""
        from pathlib import Path

        for name, term in self.stateful_terms().items():
            term.save_state(Path(folder) / name)

    def load_state(self, folder) -> None:
        """Restore what `save_state` wrote; a term whose folder is missing (a checkpoint from before the term was
        added) is an error naming it, since continuing with fresh state would silently change the run."""
        from pathlib import Path

        for name, term in self.stateful_terms().items():
            where = Path(folder) / name
            if not where.exists():
                raise FileNotFoundError(f"checkpoint {folder}: no saved state for reward term {name!r} ({where})")
            term.load_state(where)
