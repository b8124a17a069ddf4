"""Self-evolution pieces: the SFT collator masks everything but response tokens, the fine-tune learns, PRM
labels come from search values as documented, and a one-round run writes its per-round table."""
import json

import pytest
import torch

from scaffold_rl.search.evolve import EvolveConfig, evolve, step_examples
from scaffold_rl.search.sft import collate, sft
from tests.conftest import tiny_config


def test_collate_puts_loss_on_response_tokens_only():
    ids, attn, labels = collate([([5, 6, 7], [8, 9]), ([5], [4])], pad_id=0)
    assert ids.tolist() == [[5, 6, 7, 8, 9], [5, 4, 0, 0, 0]]
    assert attn.tolist() == [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]
    assert labels.tolist() == [[-100, -100, -100, 8, 9], [-100, 4, -100, -100, -100]]


def test_sft_lowers_the_loss_on_its_examples():
    from scaffold_rl.models.embedded import TinyModelSpec, build_model, build_tokenizer

    tok = build_tokenizer()
    model = build_model(tok, TinyModelSpec(hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2,
                                           max_positions=64))
    prompt = tok("Q:123+4=?\nS:")["input_ids"]
    response = tok("123+4=127.\nA:127", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    losses = sft(model, [(prompt, response)] * 4, epochs=15, lr=3e-3, batch_size=4, pad_id=tok.pad_token_id)
    assert len(losses) == 15 and losses[-1] < 0.7 * losses[0]
    # the prompt carries no loss: a model already perfect on the response only would not move
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_prm_labels_from_search_values():
    rows = [
        {"problem": "a", "prompt": "Q", "steps": ["s1", "s2"], "step_values": [0.5, -0.5], "correct": False},
        {"problem": "a", "prompt": "Q", "steps": ["s1", "s3"], "step_values": [0.5, -0.2], "correct": True},
        {"problem": "b", "prompt": "Q", "steps": ["t"], "step_values": None, "correct": False},
    ]
    ex = step_examples(rows)
    assert ex[0].hard == (1, 0) and ex[0].soft == pytest.approx((0.75, 0.25))
    assert ex[1].hard == (1, 1)  # every step of a verified trajectory reaches the answer
    assert ex[2].hard == (0,) and ex[2].soft == (None,) and ex[2].group == "b"


def test_one_round_writes_the_table(tmp_path):
    cfg = tiny_config(tmp_path)
    cfg.train.threads = 1
    ecfg = EvolveConfig(rounds=1, problems_per_round=2, eval_problems=2, sft_epochs=1, save_models=False)
    ecfg.search.n, ecfg.search.k, ecfg.search.max_new_tokens = 2, 2, 16
    run = evolve(cfg, ecfg, run_dir=tmp_path / "evo", echo=lambda *a: None)
    table = json.loads((run / "evolution.json").read_text())
    assert [row["round"] for row in table] == [0, 1]
    assert set(table[0]) == {"round", "L1", "L2"} and table[1]["searched"] == 2
    assert (run / "evolution.md").read_text().count("\n| ") == 3  # header + 2 rounds
    assert (run / "round_1" / "trajectories.jsonl").exists() and (run / "round_1" / "kept.jsonl").exists()


def test_kept_trajectories_are_verified_distinct_and_best_first():
    from types import SimpleNamespace

    from scaffold_rl.search.evolve import _search_round
    from scaffold_rl.search.scorers import PRMScorer
    from tests.test_search import PROBLEM, TablePRM, make_policy

    script = {"": ["1+1=2.\nA:2$", "1+1=3.\nA:3$", "1+1=2.\nA:2$", "2=2.\nA:2$"]}
    right = {"1+1=2.\nA:2", "2=2.\nA:2"}  # what the (strict) reward accepts
    sampler = SimpleNamespace(reward=lambda p, text: SimpleNamespace(correct=text in right))
    prm = TablePRM({"1+1=2.": 0.6, "1+1=3.": 0.9, "2=2.": 0.8, "\nA:2": 0.9, "\nA:3": 0.9})
    policy, _, scfg = make_policy(script, n=4)
    ecfg = EvolveConfig(method="best_of_n", keep_per_problem=2)
    searched, kept = _search_round(ecfg, policy, [PROBLEM], PRMScorer(prm, "min"), sampler, scfg)
    assert len(searched) == 4 and [r["correct"] for r in searched] == [True, False, True, True]
    # the wrong one (0.9) is dropped, the duplicate is kept once, the better verified one comes first
    assert [r["response"] for r in kept] == ["2=2.\nA:2", "1+1=2.\nA:2"]
    assert [r["value"] for r in kept] == pytest.approx([0.8, 0.6])  # min over the steps
