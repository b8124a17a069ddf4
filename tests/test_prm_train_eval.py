"""PRM training (BCE, PPM pairs), ProcessBench metrics, and the process reward term."""
import json
import random

import pytest
import torch

from scaffold_rl.data.arithmetic import ArithmeticTask, make_problem
from scaffold_rl.data.jsonl import DataError
from scaffold_rl.models.embedded import TinyModelSpec, build_model, build_tokenizer
from scaffold_rl.prm.data import StepExample, preference_pairs, read_step_dataset
from scaffold_rl.prm.evaluate import exact_label_accuracy, label_agreement
from scaffold_rl.prm.exact import corrupted_response, exact_labels_of_response
from scaffold_rl.prm.model import PRMConfig, ProcessRewardModel, aggregate
from scaffold_rl.prm.processbench import evaluate_processbench, processbench_metrics
from scaffold_rl.prm.train import PRMTrainConfig, evaluate_pairs, train_prm
from scaffold_rl.rewards.registry import build_reward


def tiny_prm(**config):
    tok = build_tokenizer()
    return ProcessRewardModel(build_model(tok, TinyModelSpec(32, 64, 1, 2, 96), seed=0), tok,
                              PRMConfig(**{"step_tag": "#", **config}))


def embedded_examples(split, n, seed, level=2, per_problem=1):
    rng, out = random.Random(seed), []
    for p in ArithmeticTask().problems(split, level, n):
        for _ in range(per_problem):
            steps, labels = exact_labels_of_response(p, corrupted_response(p, rng))
            out.append(StepExample(p.prompt, tuple(steps), tuple(labels), (None,) * len(steps), p.id))
    return out


def test_bce_training_lowers_loss_and_beats_chance_on_held_out_steps():
    torch.manual_seed(0)
    prm = tiny_prm()
    train, held = embedded_examples("train", 512, 0), embedded_examples("test", 64, 1)
    result = train_prm(prm, train, held, PRMTrainConfig(epochs=4, batch_size=16, lr=3e-3, log_every=0),
                       log=lambda m: None)
    assert result.after["loss"] < result.before["loss"] - 0.01
    # chance = always predicting the more common label on the held-out steps
    assert result.after["step_accuracy"] > result.after["majority_accuracy"] + 0.03
    assert result.history[-1]["step"] == result.steps == 4 * 32


def test_soft_targets_fall_back_to_hard_where_missing():
    e = StepExample("p", ("a", "b", "c"), (1, 1, 0), (0.25, None, 0.0))
    assert e.targets("soft") == [0.25, 1.0, 0.0] and e.targets("hard") == [1.0, 1.0, 0.0]


def test_preference_pairs_by_shared_prefix():
    ex = [StepExample("P", ("a", "b"), (1, 1), (1.0, 1.0)), StepExample("P", ("a", "c"), (1, 0), (0.5, 0.0)),
          StepExample("P", ("d",), (0,), (0.0,))]
    pairs = {(p.prefix, p.better, p.worse): p.weight for p in preference_pairs(ex, "soft")}
    # root: a (best value 1.0) vs d (0.0); after "a": b (1.0) vs c (0.0)
    assert pairs == {((), "a", "d"): 1.0, (("a",), "b", "c"): 1.0}


def test_ppm_training_lowers_its_pair_loss():
    prm = tiny_prm(head="value")
    train = embedded_examples("train", 16, 0, per_problem=4)
    pairs = preference_pairs(train, "hard")
    assert pairs
    before = evaluate_pairs(prm, pairs)
    train_prm(prm, train, [], PRMTrainConfig(loss="ppm", epochs=6, batch_size=8, lr=3e-3, log_every=0),
              log=lambda m: None)
    after = evaluate_pairs(prm, pairs)
    assert after["pair_loss"] < before["pair_loss"] - 0.05


def test_read_step_dataset_names_line_and_field(tmp_path):
    f = tmp_path / "labels.jsonl"
    f.write_text(json.dumps({"prompt": "Q", "steps": ["a", "b"], "hard": [1, 0]}) + "\n"
                 + json.dumps({"prompt": "Q", "steps": ["a"], "hard": [1, 0]}) + "\n")
    with pytest.raises(DataError, match=r"labels.jsonl:2: field 'hard'"):
        read_step_dataset(f)


def test_processbench_metric_by_hand():
    labels = [2, -1, 0, -1]
    preds = [2, -1, 1, -1]  # erroneous: 1 of 2 right; correct: 2 of 2 right
    m = processbench_metrics(labels, preds)
    assert (m["acc_err"], m["acc_corr"], m["n_err"], m["n_corr"]) == (0.5, 1.0, 2, 2)
    assert m["f1"] == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    assert processbench_metrics([1, -1], [-1, 0])["f1"] == 0.0


def test_processbench_protocol_on_a_file(tmp_path):
    rows = [{"id": "a", "problem": "p", "steps": ["ok", "BAD", "ok"], "label": 1},
            {"id": "b", "problem": "p", "steps": ["ok", "ok"], "label": -1},
            {"id": "c", "problem": "p", "steps": ["ok", "ok"], "label": 0},
            {"id": "d", "problem": "p", "steps": ["BAD", "ok"], "label": -1}]
    path = tmp_path / "pb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def scorer(items):  # a step containing BAD scores 0.1, others 0.9
        return [[0.1 if "BAD" in s else 0.9 for s in steps] for _, steps in items]

    out = evaluate_processbench(scorer, [str(path)], log=lambda m: None)
    m = out["splits"][str(path)]
    # predictions 1, -1, -1, 0: erroneous 1 of 2, correct 1 of 2
    assert (m["acc_err"], m["acc_corr"], m["f1"]) == (0.5, 0.5, 0.5) and out["avg_f1"] == 0.5
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**rows[0], "label": 3}) + "\n")
    with pytest.raises(DataError, match="bad.jsonl:1: field 'label'"):
        evaluate_processbench(scorer, [str(bad)], log=lambda m: None)


def test_exact_label_accuracy_with_an_oracle_and_a_yes_man():
    p = make_problem(143, [("-", 7), ("+", 8)])
    sols = [(p, p.reference), (p, "143-7=136.136+8=145.\nA:145"), (p, "143-7=137.137+8=145.\nA:145")]
    oracle = exact_label_accuracy(lambda items: [[float(y) for y in exact_labels_of_response(p, "".join(s))[1]]
                                                 for _, s in items], sols)
    assert oracle["step_accuracy"] == 1.0 and oracle["first_error_accuracy"] == 1.0
    yes = exact_label_accuracy(lambda items: [[0.9] * len(s) for _, s in items], sols)
    assert yes["step_accuracy"] == pytest.approx(4 / 9) and yes["bad_step_accuracy"] == 0.0
    assert label_agreement([[1, 0]], [[1, 1]])["first_error_accuracy"] == 0.0


def test_process_reward_term_composes_with_correctness(tmp_path):
    prm = tiny_prm()
    prm.save(tmp_path / "prm")
    spec = {"correctness": 1.0, "process": {"weight": 0.5, "prm_path": str(tmp_path / "prm"), "aggregate": "min"}}
    reward = build_reward(spec, answer_pattern=r"A:(-?\d+)")
    p = make_problem(143, [("-", 7), ("+", 8)])
    wrong = "143-7=136.136+8=145.\nA:145"
    for response, correct in ((p.reference, True), (wrong, False)):
        score = reward(p, response)
        expected = aggregate(prm.score_steps(p.prompt, exact_labels_of_response(p, response)[0]), "min")
        assert score.terms["process"] == pytest.approx(expected, abs=1e-5)
        assert score.reward == pytest.approx(float(correct) + 0.5 * expected, abs=1e-5)
        assert score.correct == correct
    with pytest.raises(ValueError, match="unknown options"):
        build_reward({"process": {"prm": "x"}})
    with pytest.raises(ValueError, match="prm_path"):
        build_reward("correctness+0.5*process")


def test_process_term_cuts_steps_by_task_and_caches():
    from scaffold_rl.rewards.composite import RewardContext
    from scaffold_rl.rewards.process import ProcessTerm
    from scaffold_rl.types import Problem

    class Recorder:
        calls = []

        def score_steps(self, prompt, steps):
            self.calls.append(steps)
            return [0.9, 0.4, 0.8][: len(steps)]

    term = ProcessTerm(prm=Recorder(), aggregate="mean", gate="none")
    arith = make_problem(143, [("-", 7), ("+", 8)])
    other = Problem(id="m", prompt="Solve.", answer="2", source="math500")
    assert term(RewardContext(arith, arith.reference)).reward == pytest.approx(0.7)
    assert term(RewardContext(other, "x = 1\nso x + 1 = 2\n")).reward == pytest.approx(0.65)
    term(RewardContext(arith, arith.reference))  # cached: the PRM is not asked again
    assert Recorder.calls == [["143-7=136.", "136+8=144.", "\nA:144"], ["x = 1\n", "so x + 1 = 2\n"]]


def test_process_term_pays_only_responses_with_an_answer_by_default():
    """The hack the GRPO benchmark found: strings with no answer that the PRM scores high earn nothing."""
    from scaffold_rl.rewards.composite import RewardContext
    from scaffold_rl.rewards.process import ProcessTerm

    class Generous:
        def score_steps(self, prompt, steps):
            return [0.9] * len(steps)

    p = make_problem(143, [("-", 7), ("+", 8)])
    gated = ProcessTerm(prm=Generous(), answer_pattern=r"A:(-?\d+)")
    assert gated(RewardContext(p, "5540-8=5222")).reward == 0.0
    assert gated(RewardContext(p, "143-7=136.136+8=145.\nA:145")).reward == pytest.approx(0.9)
    assert gated(RewardContext(p, p.reference, hacked=True)).reward == 0.0  # a guard fired
    assert ProcessTerm(prm=Generous(), gate="none")(RewardContext(p, "5540-8=5222")).reward == pytest.approx(0.9)
    with pytest.raises(ValueError, match="gate"):
        ProcessTerm(prm=Generous(), gate="sometimes")
