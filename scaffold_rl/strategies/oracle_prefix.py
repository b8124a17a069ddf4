"""A prefix of the reference solution shown in the prompt (QuestA, POPE): lengths from shares, and the hint.

The solution y and its units (characters, reference steps or tokens) are SEELE's (seele.SolutionPrefix). A share p
gives the first floor(p x |y|) units, as QuestA's data script cuts int(p x len(text)) characters; it never gives
all of y (at most |y| - 1 units), so the model always writes the end of the solution, answer included. The prefix
is context (Hint.placement = "prompt"): it is sampled under and trained under, and only what the model wrote carries
loss — the oracle text is never a training target.
"""
from __future__ import annotations

import math

from scaffold_rl.strategies.seele import SolutionPrefix
from scaffold_rl.types import Hint, Problem


def prefix_length(share: float, size: int) -> int:
    """floor(share x size) units, at most size - 1 (never the whole solution)."""
    return max(0, min(size - 1, math.floor(share * size + 1e-9)))


def prefix_hint(prefix: SolutionPrefix, problem: Problem, length: int, tokenizer, min_chars: int = 0) -> Hint | None:
    """The first `length` units of the solution as a prompt hint; None when empty or shorter than `min_chars`."""
    if length <= 0:
        return None
    size = len(prefix.units(problem, tokenizer))
    text = prefix.text(problem, length, tokenizer)
    if not text or len(text) < min_chars:
        return None
    return Hint(text, tier="solution", level=length, rate=length / size if size else None, placement="prompt")
