"""Crossing metrics on hand-built groups: graduation events, prompt usage, truncated all-wrong groups."""
from scaffold_rl.rollout.sampler import group_stats
from scaffold_rl.rollout.tracking import CrossingTracker
from scaffold_rl.types import Batch, Group, Hint, Problem, Rollout

HINT = Hint("S:1.", level=1)


def group(pid, *rows):
    """rows: (correct, hinted, truncated)"""
    p = Problem(pid, f"q{pid}")
    return Group(p, [Rollout(p, [1], [2], "", reward=float(c), correct=c, hint=HINT if h else None, truncated=t)
                     for c, h, t in rows])


def test_a_problem_solved_only_with_a_hint_then_alone_is_one_graduation():
    t = CrossingTracker()
    s1 = t.observe(Batch([group("a", (True, True, False), (False, False, False)),   # needs the hint
                          group("b", (False, False, False), (False, False, False))], 0))
    assert s1["cliff/graduations"] == 0 and s1["cliff/hint_dependent"] == 1 and s1["cliff/prompt_usage"] == 0.5
    s2 = t.observe(Batch([group("b", (True, False, False), (False, False, False))], 1))  # b never needed one
    assert s2["cliff/graduations"] == 0 and s2["cliff/prompt_usage_distinct"] == 1.0
    s3 = t.observe(Batch([group("a", (True, False, False), (False, False, False))], 2))  # a alone: graduation
    assert s3["cliff/graduations"] == 1 and s3["cliff/graduations_total"] == 1 and s3["cliff/hint_dependent"] == 0
    s4 = t.observe(Batch([group("a", (True, False, False), (True, False, False))], 3))  # solved again: no event
    assert s4["cliff/graduations"] == 0 and s4["cliff/prompt_usage"] == 0.0  # all right: zero advantage
    again = CrossingTracker()
    again.load_state_dict(t.state_dict())
    assert again.state_dict() == t.state_dict()


def test_merging_process_states_adds_events_and_applies_each_change():
    before = {"hint_dependent": ["a", "b"], "used": ["a"], "seen": ["a", "b"], "graduations": 2}
    p0 = {"hint_dependent": ["a", "b", "c"], "used": ["a", "c"], "seen": ["a", "b", "c"], "graduations": 2}
    p1 = {"hint_dependent": ["b"], "used": ["a", "d"], "seen": ["a", "b", "d"], "graduations": 3}  # a graduated
    merged = CrossingTracker.merge(before, [p0, p1])
    assert merged == {"hint_dependent": ["b", "c"], "used": ["a", "c", "d"], "seen": ["a", "b", "c", "d"],
                      "graduations": 3}


def test_truncated_all_wrong_groups_are_counted_beside_zero_advantage():
    groups = [group("a", (False, False, True), (False, False, True)),   # cut off: zero advantage from the limit
              group("b", (False, False, True), (False, False, False)),  # all wrong, one answer finished
              group("c", (True, False, False), (False, False, True))]
    stats = group_stats(groups)
    assert stats["zero_adv_frac"] == 2 / 3 and stats["all_wrong_truncated_frac"] == 1 / 3
    assert stats["truncated_frac"] == 4 / 6
