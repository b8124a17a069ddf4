"""Length reward of the format+length surrogate (Xin et al., arXiv 2505.19439): a label-free pull
towards a target response length, so a model that already reasons well is paid to think long enough but
not to run into truncation.

With x = L / L_max (clipped to [0, 1]) and turning point p in (0, 1):

quadratic (the paper's):   R(x) = 1 - (1 - x/p)^2            for 0 <= x <= p
                           R(x) = 1 - 2 ((x - p)/(1 - p))^2    for p < x <= 1
  R(0) = 0, R(p) = 1 (the maximum, slope 0 from both sides, so C^1), R(1) = -1.

polyline (the paper's robustness check, stated for p = 0.5 as 2x on [0, 0.5] and 3 - 4x on [0.5, 1]):
                           R(x) = x/p                          for 0 <= x <= p
                           R(x) = 1 - 2 (x - p)/(1 - p)        for p < x <= 1
  Same anchor points (0, 0), (p, 1), (1, -1); at p = 0.5 it is exactly 2x and 3 - 4x, and for other p it
  stays continuous (the literal 2x / 3 - 4x would jump at p != 0.5). Not differentiable at p.

L is the completion length in tokens (what `max_new_tokens` limits, so x = 1 is truncation) or, optionally,
in characters.
"""
from __future__ import annotations

from typing import Any, Literal

Shape = Literal["quadratic", "polyline"]
Unit = Literal["tokens", "chars"]


def quadratic_length_reward(x: float, p: float = 0.5) -> float:
    """The paper's C^1 length reward at relative length x (clipped to [0, 1])."""
    _check_turning_point(p)
    x = min(max(x, 0.0), 1.0)
    if x <= p:
        return 1.0 - (1.0 - x / p) ** 2
    return 1.0 - 2.0 * ((x - p) / (1.0 - p)) ** 2


def polyline_length_reward(x: float, p: float = 0.5) -> float:
    """Piecewise-linear variant through (0, 0), (p, 1), (1, -1); the paper's 2x / 3 - 4x at p = 0.5."""
    _check_turning_point(p)
    x = min(max(x, 0.0), 1.0)
    if x <= p:
        return x / p
    return 1.0 - 2.0 * (x - p) / (1.0 - p)


def _check_turning_point(p: float) -> None:
    if not 0.0 < p < 1.0:
        raise ValueError(f"turning point p must be in (0, 1), got {p}")


_SHAPES = {"quadratic": quadratic_length_reward, "polyline": polyline_length_reward}


def measure_length(response: str, completion_len: int | None = None, unit: Unit = "tokens",
                   tokenizer: Any = None) -> int:
    """Length in `unit`: characters of the response, or its token count as the sampler measured it
    (`completion_len`), else as `tokenizer` counts it."""
    if unit == "chars":
        return len(response)
    if completion_len is not None:
        return int(completion_len)
    if tokenizer is not None:
        return len(tokenizer.encode(response, add_special_tokens=False))
    raise ValueError("a token-length reward needs completion_len (or a tokenizer); "
                     "use unit='chars' to measure characters instead")


class LengthReward:
    """R(L / max_length) for one response; `completion_len` (tokens) comes from the sampler.

    Without `completion_len`, a tokenizer (if given) counts the response's tokens; with unit="chars" the
    response's characters are counted and `max_length` is in characters too.
    """

    def __init__(self, max_length: int, p: float = 0.5, shape: Shape = "quadratic", unit: Unit = "tokens",
                 tokenizer: Any = None) -> None:
        if max_length <= 0:
            raise ValueError(f"max_length must be > 0, got {max_length}")
        if shape not in _SHAPES:
            raise ValueError(f"length shape must be one of {sorted(_SHAPES)}, got {shape!r}")
        if unit not in ("tokens", "chars"):
            raise ValueError(f"length unit must be 'tokens' or 'chars', got {unit!r}")
        _check_turning_point(p)
        self.max_length = int(max_length)
        self.p = float(p)
        self.shape = shape
        self.unit = unit
        self.tokenizer = tokenizer

    def length_of(self, response: str, completion_len: int | None = None) -> int:
        """The response's length in this reward's unit."""
        return measure_length(response, completion_len, self.unit, self.tokenizer)

    def value(self, length: int) -> float:
        return _SHAPES[self.shape](length / self.max_length, self.p)

    def __call__(self, response: str, completion_len: int | None = None) -> float:
        return self.value(self.length_of(response, completion_len))
