"""Drawing a training mixture of levels, shared by every task with levels (arithmetic, reasoning-gym).

One draw per problem from a string-seeded RNG, so a mixture is a pure function of (rng key, weights, n, seed):
the pretraining cache of the embedded model relies on that (its key is the config, not the documents).
"""
from __future__ import annotations

import random
from typing import Callable

from scaffold_rl.types import Problem


def level_mixture(rng_key: str, weights: dict[int, float], n: int, seed: int,
                  make: Callable[[int, int], Problem]) -> list[Problem]:
    """n problems whose levels follow `weights` (level -> share); `make(level, index)` builds one.

    Indices count per level from `seed * 1_000_000`, so mixtures of different seeds never share a problem and a
    level's k-th problem is the same whatever the other weights are. Zero-weight levels are never drawn (leaving
    them out of the draw does not change it: a zero-width interval of `random.choices` is never hit).
    """
    levels = sorted(lv for lv, w in weights.items() if w > 0)
    rng = random.Random(rng_key)
    counters = {lv: 0 for lv in levels}
    out = []
    for _ in range(n):
        lv = rng.choices(levels, weights=[weights[x] for x in levels])[0]
        out.append(make(lv, seed * 1_000_000 + counters[lv]))
        counters[lv] += 1
    return out
