import math

import pytest
import torch

from scaffold_rl.models.embedded import TinyModelSpec, build_model, build_tokenizer
from scaffold_rl.prm.model import PRMConfig, ProcessRewardModel, aggregate

PROMPT = "Q:143-7+8=?\nS:"
STEPS = ["143-7=136.", "136+8=144.", "\nA:144"]


def tiny_prm(**config) -> ProcessRewardModel:
    tok = build_tokenizer()
    model = build_model(tok, TinyModelSpec(32, 64, 1, 2, 96), seed=0)
    return ProcessRewardModel(model, tok, PRMConfig(**config))


@pytest.mark.parametrize("config", [dict(step_tag="#"), dict(), dict(head="value")])
def test_one_probability_per_step_read_causally(config):
    prm = tiny_prm(**config)
    scores = prm.score_steps(PROMPT, STEPS)
    assert len(scores) == 3 and all(0.0 < s < 1.0 for s in scores)
    # step i's score sees only the prompt and steps[:i+1]
    assert prm.score_steps(PROMPT, STEPS[:2]) == pytest.approx(scores[:2], abs=1e-5)
    batch = prm.score_steps_batch([(PROMPT, STEPS), ("Q:1+1=?\nS:", ["1+1=2."]), (PROMPT, [])])
    assert batch[0] == pytest.approx(scores, abs=1e-5) and len(batch[1]) == 1 and batch[2] == []


def test_unknown_tag_becomes_one_new_token():
    prm = tiny_prm()  # " ки" has no characters in the embedded vocabulary
    assert len(prm.tag_ids) == 1 and prm.tag_ids[0] >= 100
    enc = prm.encode(PROMPT, STEPS)
    assert [enc.ids[i] for i in enc.read_at] == prm.tag_ids * 3


def test_tag_score_is_two_way_softmax_of_label_logits():
    prm = tiny_prm(step_tag="#")
    enc = prm.encode(PROMPT, STEPS)
    with torch.no_grad():
        logits = prm.model(input_ids=torch.tensor([enc.ids])).logits[0]
    plus, minus = prm.label_ids
    expected = [torch.softmax(logits[i, [plus, minus]], -1)[0].item() for i in enc.read_at]
    assert prm.score_steps(PROMPT, STEPS) == pytest.approx(expected, abs=1e-5)


def test_long_inputs_are_scored_in_windows():
    prm = tiny_prm(step_tag="#", max_length=24)
    steps = [f"{100 + i}+1={101 + i}." for i in range(8)]  # 11 chars + tag each: far over 24 tokens
    enc = prm.encode(PROMPT, steps)
    windows = prm._windows(enc)
    assert sorted(k for _, _, idx in windows for k in idx) == list(range(8))
    assert all(end - start <= 24 for start, end, _ in windows)
    assert len(prm.score_steps(PROMPT, steps)) == 8


@pytest.mark.parametrize("config", [dict(step_tag="#"), dict(), dict(head="value")])
def test_save_load_round_trip(tmp_path, config):
    prm = tiny_prm(**config)
    if prm.value_head is not None:
        torch.nn.init.normal_(prm.value_head.weight)
    before = prm.score_steps(PROMPT, STEPS)
    prm.save(tmp_path / "prm")
    again = ProcessRewardModel.load(tmp_path / "prm")
    assert again.config == prm.config
    assert again.score_steps(PROMPT, STEPS) == pytest.approx(before, abs=1e-5)


def test_aggregation():
    s = [0.9, 0.5, 0.8]
    assert aggregate(s, "min") == 0.5
    assert aggregate(s, "prod") == pytest.approx(0.36)
    assert aggregate(s, "last") == 0.8
    assert aggregate(s, "mean") == pytest.approx(2.2 / 3)
    assert aggregate([], "min") == 0.0
    assert math.isclose(aggregate([0.7]), 0.7)
    with pytest.raises(ValueError, match="aggregation"):
        aggregate(s, "max")


@pytest.mark.parametrize("head", ["tag", "value"])
def test_any_hf_causal_lm_with_a_subword_tokenizer(tmp_path, head):
    from scaffold_rl.models.loading import load_hf_model
    from scaffold_rl.prm.data import StepExample
    from scaffold_rl.prm.train import PRMTrainConfig, train_prm
    from tests.test_real_models import save_tiny

    model, tok = load_hf_model(save_tiny("llama", tmp_path / "llama"), echo=lambda m: None)
    prm = ProcessRewardModel(model, tok, PRMConfig(head=head))  # Math-Shepherd's tag, several BPE tokens here
    steps = ["We have $x + 1 = 3$.\n\n", "So $x = 2$.\n\n"]
    scores = prm.score_steps("Solve $x + 1 = 3$.\n\n", steps)
    assert len(scores) == 2 and prm.score_steps("", steps[:1]) and len(prm.tokenizer) == len(tok)
    ex = [StepExample("Solve $x + 1 = 3$.\n\n", tuple(steps), (1, 0), (None, None))]
    train_prm(prm, ex, [], PRMTrainConfig(epochs=1, log_every=0), log=lambda m: None)
    prm.save(tmp_path / "prm")
    assert ProcessRewardModel.load(tmp_path / "prm").score_steps("Q", steps) == pytest.approx(
        prm.score_steps("Q", steps), abs=1e-5)
