"""The level mixture both leveled tasks draw their training sets from (scaffold_rl/data/mixture.py)."""
from collections import Counter

from scaffold_rl.data.arithmetic import ArithmeticTask
from scaffold_rl.data.mixture import level_mixture


def make(level, index):
    return (level, index)


def test_levels_follow_weights_and_indices_count_per_level():
    out = level_mixture("k", {1: 0.25, 2: 0.75}, 4000, seed=3, make=make)
    counts = Counter(lv for lv, _ in out)
    assert 0.22 < counts[1] / 4000 < 0.28
    for lv in (1, 2):
        assert [i for l, i in out if l == lv] == list(range(3_000_000, 3_000_000 + counts[lv]))


def test_zero_weight_level_neither_drawn_nor_changes_the_draw():
    a = level_mixture("k", {1: 0.5, 3: 0.5}, 500, seed=0, make=make)
    b = level_mixture("k", {1: 0.5, 2: 0.0, 3: 0.5}, 500, seed=0, make=make)
    assert a == b


def test_arithmetic_mixture_is_a_pure_function_of_its_key():
    """The pretraining cache keys on the config, not the documents: the same call must give the same problems,
    and another seed or split other problems."""
    t = ArithmeticTask()
    ids = [p.id for p in t.mixture("train", {2: 1 / 3, 3: 2 / 3}, 300, seed=1)]
    assert ids == [p.id for p in ArithmeticTask().mixture("train", {2: 1 / 3, 3: 2 / 3}, 300, seed=1)]
    assert ids != [p.id for p in t.mixture("train", {2: 1 / 3, 3: 2 / 3}, 300, seed=2)]
