"""The arithmetic of the refreshed process reward (rewards/refreshed.py), free of torch so the config layer can
read the term's options: its settings, how buffer samples are weighted and labelled, and the gap guard.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

LABEL_MODES = ("auto", "exact", "outcome")


@dataclass
class RefreshSettings:
    """Options of the `refreshed_process` term besides those it shares with `process`."""

    every: int = 5  # rollout batches between refreshes
    buffer: int = 1024  # most recent scored samples the PRM is retrained on
    epochs: int = 2  # passes over the buffer per refresh
    batch_size: int = 16  # samples per PRM update
    lr: float = 3e-4  # AdamW learning rate of the PRM (docs/prm.md: 3e-4 trained a better PRM than 1e-3)
    max_updates: int | None = None  # cap on PRM updates per refresh (None: all epochs)
    hard_weight: float = 4.0  # a wrong sample weighs 1 + hard_weight x the score it was paid
    labels: str = "auto"  # "auto" | "exact" | "outcome" (module docstring)
    guard_window: int = 5  # rollout batches the gap is averaged over
    guard_high: float = 0.25  # gap above which the term is switched down to guard_floor
    guard_low: float = 0.10  # gap below which it is switched back up (hysteresis)
    guard_floor: float = 0.0  # the term's factor while the guard is down (0: off)
    seed: int = 0  # shuffling of the buffer at each refresh

    def __post_init__(self):
        if self.every < 1 or self.buffer < 1 or self.epochs < 1 or self.batch_size < 1 or self.guard_window < 1:
            raise ValueError("reward term 'refreshed_process': every, buffer, epochs, batch_size and guard_window "
                             "must be >= 1")
        if self.lr <= 0 or self.hard_weight < 0:
            raise ValueError("reward term 'refreshed_process': lr must be > 0 and hard_weight >= 0")
        if self.labels not in LABEL_MODES:
            raise ValueError(f"reward term 'refreshed_process': labels must be one of {LABEL_MODES}, "
                             f"got {self.labels!r}")
        if not self.guard_low <= self.guard_high:
            raise ValueError("reward term 'refreshed_process': guard_low must be <= guard_high (hysteresis)")
        if not 0.0 <= self.guard_floor <= 1.0:
            raise ValueError("reward term 'refreshed_process': guard_floor must be in [0, 1]")


def sample_weight(correct: bool, paid: float, hard_weight: float) -> float:
    """1 for a right sample; 1 + hard_weight x paid for a wrong one: the higher the PRM scored a wrong sample,
    the more its correction counts."""
    return 1.0 if correct else 1.0 + hard_weight * max(0.0, paid)


def step_targets(n_steps: int, correct: bool, exact: list[int] | None) -> tuple[list[float], list[float]]:
    """(per-step targets, per-step mask) of one sample: exact labels when given; else the outcome on the last
    step, every step good for a right sample, the earlier steps of a wrong one masked out."""
    if exact is not None:
        return [float(y) for y in exact], [1.0] * n_steps
    if correct:
        return [1.0] * n_steps, [1.0] * n_steps
    return [0.0] * n_steps, ([0.0] * (n_steps - 1) + [1.0]) if n_steps else []


class GapGuard:
    """Down-weights a learned reward whose payments run ahead of the checker, with hysteresis.

    `observe(gap_sum, count)` closes one rollout batch; the gap is the mean over the last `window` batches; when it
    exceeds `high` the factor drops to `floor`, and comes back to 1 only once the gap is below `low`."""

    def __init__(self, window: int, high: float, low: float, floor: float = 0.0):
        self.window, self.high, self.low, self.floor = window, high, low, floor
        self.batches: deque[tuple[float, int]] = deque(maxlen=window)
        self.down = False

    @property
    def gap(self) -> float:
        n = sum(c for _, c in self.batches)
        return sum(s for s, _ in self.batches) / n if n else 0.0

    @property
    def weight(self) -> float:
        return self.floor if self.down else 1.0

    def observe(self, gap_sum: float, count: int) -> float:
        self.batches.append((gap_sum, count))
        gap = self.gap
        if not self.down and gap > self.high:
            self.down = True
        elif self.down and gap < self.low:
            self.down = False
        return self.weight

    def state_dict(self) -> dict:
        return {"batches": [list(b) for b in self.batches], "down": self.down}

    def load_state_dict(self, state: dict) -> None:
        self.batches = deque((tuple(b) for b in state["batches"]), maxlen=self.window)
        self.down = bool(state["down"])
