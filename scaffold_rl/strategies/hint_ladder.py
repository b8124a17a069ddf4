"""The Scaf-GRPO hint ladder: which hints a problem offers, in which order, from least to most revealing.

A problem carries up to three tiers (knowledge, planning, solution), each a tuple of up to 4 parts. Level l of
a tier is its first l parts (cumulative *within* a tier, never across tiers), and the ladder walks the tiers in
the configured order: K1..K4, P1..P4, S1..S4 by default. Any strategy that needs "the least hint that works"
(Scaf-GRPO, later adaptive schemes) builds on `HintLadder.rungs`.

Two rules keep the ladder honest:

* **The solution tier never completes the reference.** When the solution parts are the problem's own
  reference steps (the embedded arithmetic task), showing all of them *is* the reference chain: the last step
  carries the answer. So the last solution part is withheld whenever the full tier would reproduce the start of
  `problem.reference` (or equals `problem.solution_steps`). Scaf-schema data, whose solution parts are
  summaries written by a stronger model, keeps all 4 parts as the paper does.
* **Missing tiers fall back.** A problem without a configured tier (or with an empty one) simply offers the
  tiers it has; `missing_tiers` reports which were absent so a strategy can count them.

Hint text of a level is its parts joined: with no separator for the embedded task (its parts end in '.', and
solution parts must read exactly like the reference: "143-7=136.136+8=144."), with a space otherwise (the
official code's join). Where the text is placed (prompt or response) is the renderer's business.
"""
from __future__ import annotations

from dataclasses import dataclass

from scaffold_rl.types import HINT_TIERS, Hint, Problem

EMBEDDED_SOURCE = "arithmetic"


def hint_separator(problem: Problem) -> str:
    """'' where the parts are the problem's own reference steps (the embedded task, a reasoning-gym chain: they
    concatenate into the task's own format), ' ' elsewhere (paper code)."""
    if problem.source == EMBEDDED_SOURCE:
        return ""
    steps = "".join(problem.solution_steps)
    return "" if steps and problem.reference and problem.reference.startswith(steps) else " "


def join_parts(problem: Problem, parts: tuple[str, ...] | list[str]) -> str:
    return hint_separator(problem).join(parts)


def solution_would_complete_reference(problem: Problem, parts: tuple[str, ...]) -> bool:
    """True when showing every solution part would hand over the reference chain (answer included)."""
    if not parts:
        return False
    if problem.solution_steps and tuple(parts) == tuple(problem.solution_steps):
        return True
    return bool(problem.reference) and problem.reference.startswith(join_parts(problem, parts))


def tier_parts(problem: Problem, tier: str) -> tuple[str, ...]:
    """The usable parts of one tier: empty parts dropped, the solution tier capped (see module docstring)."""
    if tier not in HINT_TIERS:
        raise ValueError(f"unknown hint tier {tier!r}; expected one of {HINT_TIERS}")
    parts = tuple(p for p in problem.hints.get(tier, ()) if p and p.strip())
    if tier == "solution" and solution_would_complete_reference(problem, parts):
        parts = parts[:-1]
    return parts


@dataclass(frozen=True)
class HintLadder:
    """Ordered hint levels for a problem.

    `tiers` gives the tiers and their order (e.g. ("solution",) for a solution-only ladder). `incremental=False`
    offers each tier whole (one level per tier: the paper's non-incremental ablation).
    """

    tiers: tuple[str, ...] = HINT_TIERS
    incremental: bool = True

    def __post_init__(self):
        object.__setattr__(self, "tiers", tuple(self.tiers))
        if not self.tiers:
            raise ValueError("a hint ladder needs at least one tier")
        unknown = [t for t in self.tiers if t not in HINT_TIERS]
        if unknown:
            raise ValueError(f"unknown hint tiers {unknown}; expected a subset of {HINT_TIERS}")
        if len(set(self.tiers)) != len(self.tiers):
            raise ValueError(f"hint tiers repeat: {list(self.tiers)}")

    def rungs(self, problem: Problem) -> list[Hint]:
        """All hint levels of `problem`, least revealing first (placement is the strategy's to set)."""
        out = []
        for tier in self.tiers:
            parts = tier_parts(problem, tier)
            levels = range(1, len(parts) + 1) if self.incremental else ([len(parts)] if parts else [])
            out.extend(Hint(join_parts(problem, parts[:lv]), tier=tier, level=lv)
                       for lv in levels)
        return out

    def missing_tiers(self, problem: Problem) -> tuple[str, ...]:
        """Configured tiers the problem's data lacks or leaves empty (a capped solution tier is not missing)."""
        return tuple(t for t in self.tiers if not any(p and p.strip() for p in problem.hints.get(t, ())))

    def level_names(self, max_parts: int = 4) -> list[str]:
        """Histogram bins ('K1'..'S4') of the configured tiers, for zero-filled per-step metrics."""
        return [Hint("", tier=t, level=lv).name for t in self.tiers for lv in range(1, max_parts + 1)]
