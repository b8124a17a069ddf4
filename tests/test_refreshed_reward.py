"""The refreshed process reward: weighting of high-scored wrong samples, labels, the gap guard's hysteresis, the
refresh schedule, that a refresh turns a hack into a training example against it, and checkpoint state."""
import math
import random

import pytest
import torch

from scaffold_rl.data.arithmetic import make_problem
from scaffold_rl.models.embedded import TinyModelSpec, build_model, build_tokenizer
from scaffold_rl.prm.model import PRMConfig, ProcessRewardModel
from scaffold_rl.rewards.composite import RewardContext
from scaffold_rl.rewards.correctness import CorrectnessReward, Score
from scaffold_rl.rewards.refresh_rules import GapGuard, RefreshSettings, sample_weight, step_targets
from scaffold_rl.rewards.refreshed import RefreshedProcessTerm, weighted_step_bce
from scaffold_rl.rewards.registry import build_reward

PATTERN = r"A:(-?\d+)"
P = make_problem(143, [("-", 7), ("+", 8)])
WRONG = "143-7=136.136+8=145.\nA:145"  # a well-formed wrong chain: the hack the gated benchmark found


def tiny_prm(seed=0):
    tok = build_tokenizer()
    return ProcessRewardModel(build_model(tok, TinyModelSpec(32, 64, 1, 2, 96), seed=seed), tok,
                              PRMConfig(step_tag="#"))


class FixedPRM:
    """A stand-in PRM scoring every step `value` (records how often it is asked)."""

    def __init__(self, value):
        self.value, self.calls = value, 0

    def score_steps(self, prompt, steps):
        self.calls += 1
        return [self.value] * len(steps)

    def parameters(self):
        return iter([torch.nn.Parameter(torch.zeros(1))])


def strict_checker():
    return CorrectnessReward("strict")


def term_with(prm, **settings):
    return RefreshedProcessTerm(prm=prm, answer_pattern=PATTERN, checker=strict_checker(),
                                settings=RefreshSettings(**settings))


def test_wrong_samples_weigh_more_the_higher_they_were_paid():
    assert sample_weight(True, 0.9, 4.0) == 1.0
    assert sample_weight(False, 0.9, 4.0) == pytest.approx(4.6)
    assert sample_weight(False, 0.1, 4.0) == pytest.approx(1.4)
    assert sample_weight(False, 0.9, 0.0) == 1.0


def test_step_targets_exact_outcome_and_masked_prefixes():
    assert step_targets(3, False, [1, 0, 0]) == ([1.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    assert step_targets(3, True, None) == ([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    # a wrong response: only its last step is labelled (which earlier step went wrong is unknown)
    assert step_targets(3, False, None) == ([0.0, 0.0, 0.0], [0.0, 0.0, 1.0])
    assert step_targets(0, False, None) == ([], [])


def test_gap_guard_switches_down_above_high_and_up_only_below_low():
    guard = GapGuard(window=2, high=0.25, low=0.10)
    weights = [guard.observe(gap, 1) for gap in (0.1, 0.5, 0.2, 0.05, 0.0, 0.4)]
    # window means: .1, .3 (> high: down), .35, .125 (between: stays down), .025 (< low: up), .2 (between: up)
    assert weights == [1.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    assert guard.gap == pytest.approx(0.2)
    half = GapGuard(window=1, high=0.2, low=0.2, floor=0.5)
    assert [half.observe(g, 2) for g in (0.6, 0.2)] == [0.5, 1.0]  # sums over 2 samples: gaps .3, .1


def test_weighted_step_bce_by_hand():
    class Logits:
        def encode(self, prompt, steps):
            return prompt

        def step_logits(self, encoded):
            table = {"a": torch.tensor([0.0, 2.0]), "b": torch.tensor([-1.0])}
            return [table[e] for e in encoded]

    items = [{"prompt": "a", "steps": ["x", "y"], "targets": [1.0, 0.0], "mask": [1.0, 1.0], "weight": 1.0},
             {"prompt": "b", "steps": ["z"], "targets": [0.0], "mask": [1.0], "weight": 3.0}]

    def bce(logit, y):
        p = 1 / (1 + math.exp(-logit))
        return -(y * math.log(p) + (1 - y) * math.log(1 - p))

    expected = (bce(0.0, 1) + bce(2.0, 0) + 3 * bce(-1.0, 0)) / (1 + 1 + 3)
    assert float(weighted_step_bce(Logits(), items)) == pytest.approx(expected, rel=1e-6)
    items[0]["mask"] = [0.0, 1.0]
    expected = (bce(2.0, 0) + 3 * bce(-1.0, 0)) / (1 + 3)
    assert float(weighted_step_bce(Logits(), items)) == pytest.approx(expected, rel=1e-6)


def test_buffer_labels_weights_and_refresh_schedule():
    term = term_with(FixedPRM(0.8), every=2)
    term.refresh = lambda: setattr(term, "refreshed_at", term.batch.step)  # record when, do not train
    for step in (0, 0, 1):
        term(RewardContext(P, WRONG, step=step))
    assert not hasattr(term, "refreshed_at")
    score = term(RewardContext(P, P.reference, step=2))  # batches 0 and 1 closed: the refresh is due
    assert term.refreshed_at == 2
    items = term.training_items()
    assert [it["weight"] for it in items] == pytest.approx([1 + 4 * 0.8] * 3 + [1.0])
    assert items[0]["targets"] == [1.0, 0.0, 0.0]  # exact labels: the second step is the first error
    assert items[-1]["targets"] == [1.0, 1.0, 1.0]
    # batches 0 and 1 paid 0.8 to wrong chains: a gap of .8 > guard_high (.25), so the guard has switched it off
    assert score.terms["gap"] == pytest.approx(0.8)
    assert score.terms["score"] == pytest.approx(0.8) and score.terms["weight"] == 0.0 and score.reward == 0.0


def test_fresh_accuracy_and_the_guard_turning_the_term_off():
    term = term_with(FixedPRM(0.9), every=100, guard_window=1, guard_high=0.5, guard_low=0.2)
    for _ in range(3):
        term(RewardContext(P, WRONG, step=0))
    term(RewardContext(P, P.reference, step=0))
    term(RewardContext(P, "no answer", step=0))  # gated: paid 0, and wrong: agrees with the checker
    assert term.fresh_accuracy()[0] == pytest.approx(2 / 5)  # the reference (0.9 > .5, right) and the gated one
    assert term.fresh_accuracy()[1] == pytest.approx(6 / 12)  # steps: 3 wrong chains x (1 right of 3) + 3 of 3
    out = term(RewardContext(P, WRONG, step=1))  # batch 0's gap: (3 x .9 + (.9 - 1) + 0) / 5 = .52 > .5
    assert out.terms["gap"] == pytest.approx(0.52) and out.terms["weight"] == 0.0 and out.reward == 0.0
    assert out.terms["score"] == pytest.approx(0.9)  # still scored and measured while down


def test_a_refresh_turns_the_hack_into_a_training_example_against_it():
    torch.manual_seed(0)
    term = RefreshedProcessTerm(prm=tiny_prm(), answer_pattern=PATTERN, checker=strict_checker(),
                                settings=RefreshSettings(every=1, epochs=30, batch_size=8, lr=3e-3))
    before = term(RewardContext(P, WRONG, step=0)).terms["score"]
    right_before = term(RewardContext(P, P.reference, step=0)).terms["score"]
    for _ in range(6):
        term(RewardContext(P, WRONG, step=0))
    after_terms = term(RewardContext(P, WRONG, step=1)).terms  # refreshed on batch 0 first
    after = after_terms["score"]
    right_after = term(RewardContext(P, P.reference, step=1)).terms["score"]
    assert term.refreshes == 1
    # its training compute, reported beside the policy's tokens: 30 epochs over batch 0's 8 samples
    batch0 = list(term.buffer)[:8]
    assert after_terms["trained_tokens"] == 30 * sum(len(term.prm.encode(b["prompt"], b["steps"]).ids) for b in batch0)
    assert after < 0.2 < before and after < right_after
    assert right_after > right_before - 0.1  # the right chain is not dragged down with the wrong one


def test_state_survives_save_and_load(tmp_path):
    a = RefreshedProcessTerm(prm=tiny_prm(), answer_pattern=PATTERN, checker=strict_checker(),
                             settings=RefreshSettings(every=1, epochs=2, batch_size=4, lr=1e-3))
    rng = random.Random(0)
    for step in range(3):
        for _ in range(4):
            a(RewardContext(P, rng.choice([WRONG, P.reference]), step=step))
    a.save_state(tmp_path / "s")
    b = RefreshedProcessTerm(prm=tiny_prm(seed=1), answer_pattern=PATTERN, checker=strict_checker(),
                             settings=RefreshSettings(every=1, epochs=2, batch_size=4, lr=1e-3))
    b.load_state(tmp_path / "s")
    assert b.state_dict() == a.state_dict()
    for term in (a, b):  # both close batch 2 and refresh alike
        term.out = [term(RewardContext(P, r, step=3)).terms for r in (WRONG, P.reference)]
    assert a.out[0]["score"] == pytest.approx(b.out[0]["score"], abs=1e-6)
    assert a.out[1]["score"] == pytest.approx(b.out[1]["score"], abs=1e-6)
    assert a.refreshes == b.refreshes == 3
    wrong = RefreshedProcessTerm(prm=tiny_prm(), answer_pattern=PATTERN, checker=strict_checker(),
                                 settings=RefreshSettings(every=2))
    with pytest.raises(ValueError, match="settings"):
        wrong.load_state(tmp_path / "s")


def test_spec_builds_the_term_with_the_tasks_checker(tmp_path):
    tiny_prm().save(tmp_path / "prm")
    seen = []

    def scorer_for(kind, timeout):
        seen.append(kind)
        return lambda problem, response: Score(1.0, True)

    spec = {"correctness": 1.0, "refreshed_process": {"weight": 0.5, "prm_path": str(tmp_path / "prm"),
                                                      "every": 3, "hard_weight": 2.0}}
    reward = build_reward(spec, answer_pattern=PATTERN, correctness_kind="strict", scorer_for=scorer_for)
    term = reward.terms["refreshed_process"][1]
    assert term.settings.every == 3 and term.settings.hard_weight == 2.0 and seen == ["strict", "strict"]
    assert set(reward.stateful_terms()) == {"refreshed_process"}
    score = reward(P, WRONG)
    assert score.terms["refreshed_process/weight"] == 1.0
    assert score.reward == pytest.approx(1.0 + 0.5 * score.terms["refreshed_process/score"])
    with pytest.raises(ValueError, match="unknown options"):
        build_reward({"refreshed_process": {"prm_path": "x", "refresh_every": 2}})
    with pytest.raises(ValueError, match="hysteresis"):
        build_reward({"refreshed_process": {"prm_path": str(tmp_path / "prm"), "guard_low": 0.5, "guard_high": 0.2}})


def test_a_resumed_run_refreshes_like_an_uninterrupted_one(tmp_path):
    from scaffold_rl.configio import save_config
    from scaffold_rl.train.run import train
    from tests.conftest import tiny_config
    from tests.test_training import step_records

    tiny_prm().save(tmp_path / "prm")
    spec = {"correctness": 1.0, "refreshed_process": {"weight": 0.5, "prm_path": str(tmp_path / "prm"), "every": 1,
                                                      "epochs": 1, "batch_size": 4, "gate": "none",
                                                      "guard_high": 1.0, "guard_low": 1.0}}  # never down

    def cfg(folder, steps):
        c = tiny_config(folder, train__steps=steps, train__save_every=1)
        c.reward.spec = spec
        c.model.cache_dir = str(tmp_path / "cache")
        c.eval.n_per_level = 0
        return c

    full = train(cfg(tmp_path / "a", 4), run_dir=tmp_path / "full", echo=lambda *a: None, make_report=False)
    part = tmp_path / "part"
    train(cfg(tmp_path / "b", 2), run_dir=part, echo=lambda *a: None, make_report=False)
    assert (part / "checkpoints" / "checkpoint-2" / "reward_state" / "refreshed_process" / "prm" /
            "prm_config.json").exists()
    save_config(cfg(tmp_path / "b", 4), part / "config.yaml")
    train(None, run_dir=part, resume=True, echo=lambda *a: None, make_report=False)
    keys = ("reward", "loss", "reward/refreshed_process/score", "reward/refreshed_process/refreshes",
            "reward/refreshed_process/train_loss")
    got = [[r.get(k) for k in keys] for r in step_records(part)]
    want = [[r.get(k) for k in keys] for r in step_records(full)]
    assert [r[3] for r in want] == [0.0, 1.0, 2.0, 3.0]  # one refresh per rollout batch from the second on
    assert [r[3] for r in got] == [0.0, 1.0, 2.0, 3.0]
    flat = lambda rows: [v for r in rows for v in r if v is not None]  # noqa: E731
    assert flat(got) == pytest.approx(flat(want), abs=1e-6)
