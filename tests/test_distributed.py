"""Two CPU processes (gloo, accelerate launch) train like one: same rollouts, rewards, hint search and weights."""
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from scaffold_rl.train.distributed import average_stats, merge_strategy_states, process_seed
from tests.conftest import learner_config

ROOT = Path(__file__).resolve().parent.parent


def step_records(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if "reward" in r]


STRATEGIES = {
    # SEELE: every group sampled in 2 rounds under solution-prefix hints (hint tokens under the NLL term),
    # per-problem hint rates learned and merged across processes
    "seele": dict(name="seele", seele={"rounds": 2}),
    # Scaf-GRPO from step 1: all-wrong groups detected and hint-searched on their own process
    "scaf_grpo": dict(name="scaf_grpo", exemption_steps=0),
}


@pytest.mark.parametrize("strategy", [
    "seele", pytest.param("scaf_grpo", marks=pytest.mark.slow)])
def test_two_processes_match_one_process_with_hints_active(tmp_path, monkeypatch, strategy):
    from safetensors.torch import load_file

    from scaffold_rl.train import run
    from tests.distributed_worker import PromptSeededGenerator

    cfg = learner_config(tmp_path)
    cfg.task.train_levels = [1, 2]
    cfg.train.prompts_per_step, cfg.train.steps, cfg.train.threads, cfg.train.lr = 4, 3, 1, 1e-3
    for key, value in STRATEGIES[strategy].items():
        if isinstance(value, dict):  # a strategy's own subsection (strategy.seele.*)
            for sub, v in value.items():
                setattr(getattr(cfg.strategy, key), sub, v)
        else:
            setattr(cfg.strategy, key, value)
    cfg.eval.n_per_level, cfg.eval.samples, cfg.task.eval_levels = 2, 0, [1]
    cfg.eval.every, cfg.train.max_minutes = 2, 60.0  # periodic evaluation and the budget clock, on every process
    (tmp_path / "cfg.pkl").write_bytes(pickle.dumps(cfg))

    from scaffold_rl.rollout import factory

    monkeypatch.setattr(factory, "TransformersGenerator", PromptSeededGenerator)
    run.train(cfg, run_dir=tmp_path / "one", echo=lambda *a: None, make_report=False)  # also warms the model cache

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines",
           "1", "--mixed_precision", "no", "--dynamo_backend", "no", str(ROOT / "tests" / "distributed_worker.py"),
           str(tmp_path / "cfg.pkl"), str(tmp_path / "two")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    one, two = step_records(tmp_path / "one"), step_records(tmp_path / "two")
    assert [r["step"] for r in two] == [1, 2, 3]  # one line per step: only process 0 writes
    evals = [json.loads(x) for x in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines() if '"eval"' in x]
    assert [e["step"] for e in evals] == [2]
    keys = ["reward", "all_wrong_frac", "zero_adv_frac", "hinted_sample_frac", "tokens_generated"]
    keys += ["scaf/all_wrong_before", "scaf/triggered"] if strategy == "scaf_grpo" else ["seele/acc", "seele/cold_start"]
    for a, b in zip(one, two):
        for k in keys:
            assert b[k] == pytest.approx(a[k], abs=1e-6), (k, a["step"])
    if strategy == "seele":  # hinted samples were trained on, and every process's learned hint rates were kept
        assert all(r["hinted_sample_frac"] > 0 for r in one)
        states = [json.loads((tmp_path / d / "checkpoints" / "checkpoint-3" / "scaffold_state.json").read_text())
                  for d in ("one", "two")]
        # the same state, token count of sampling included; trained tokens differ by design: one process leaves
        # zero-advantage rows out of the loss, several processes must all run every row
        trained = [st["work"].pop("trained") for st in states]
        assert len(states[0]["strategy"]["rates"]) == 12 and states[1] == states[0] and trained[1] >= trained[0]
    else:  # the hint search ran on all-wrong groups
        assert sum(r["scaf/triggered"] for r in one) > 0
    assert any(r["zero_adv_frac"] < 1 for r in one)
    wa, wb = load_file(tmp_path / "one" / "final" / "model.safetensors"), load_file(
        tmp_path / "two" / "final" / "model.safetensors")
    base = run.load_policy(cfg, echo=lambda *a: None)[0].state_dict()
    assert max((wa[k] - base[k]).abs().max().item() for k in wa) > 1e-4  # training moved the weights
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-5  # ... and two processes moved them alike


def test_stats_are_averaged_and_seele_rates_and_plateau_history_merged():
    assert average_stats([{"a": 1.0, "b": 2.0}, {"a": 0.0}]) == {"a": 0.5, "b": 2.0}
    counted = average_stats([{"tokens_generated": 10.0, "scaf/triggered": 2.0, "scaf/rescued": 1.0,
                              "scaf/rescue_rate": 0.5},
                             {"tokens_generated": 6.0, "scaf/triggered": 0.0, "scaf/rescued": 0.0,
                              "scaf/rescue_rate": 0.0}])
    assert counted == {"tokens_generated": 16.0, "scaf/triggered": 2.0, "scaf/rescued": 1.0, "scaf/rescue_rate": 0.5}
    before = {"rates": {"p1": 0.5, "p2": 0.25}}
    merged = merge_strategy_states(before, [{"rates": {"p1": 0.75, "p2": 0.25}},
                                            {"rates": {"p1": 0.5, "p2": 0.25, "p3": 1.0}}])
    assert merged == {"rates": {"p1": 0.75, "p2": 0.25, "p3": 1.0}}
    sched = merge_strategy_states({}, [{"schedule": {"history": [0.5, 1.0], "started_at": None}},
                                       {"schedule": {"history": [0.5, 0.5], "started_at": 7}}])
    assert sched == {"schedule": {"history": [0.5, 0.75], "started_at": 7}}
    with pytest.raises(RuntimeError, match="differs across processes"):
        merge_strategy_states({}, [{"x": 1}, {"x": 2}])
    assert process_seed(3, 0) == 3 and process_seed(3, 1) != process_seed(3, 0)


def test_batch_geometry_gives_each_process_whole_groups(tmp_path):
    from scaffold_rl.train.trainer import batch_geometry
    from tests.conftest import tiny_config

    cfg = tiny_config(tmp_path)
    cfg.train.prompts_per_step, cfg.rollout.num_generations = 256, 8
    cfg.train.mini_batches, cfg.train.grad_accum = 4, 4
    g = batch_geometry(cfg, 8)  # Scaf-GRPO: 256 x 8 over 8 GPUs, mini-batch 64, micro 16
    assert g == {"processes": 8, "per_device_train_batch_size": 16, "gradient_accumulation_steps": 4,
                 "steps_per_generation": 16}
    with pytest.raises(ValueError, match="divisible by the 3 processes"):
        batch_geometry(cfg, 3)
    cfg.train.grad_accum = 3
    with pytest.raises(ValueError, match="equal micro-batches"):
        batch_geometry(cfg, 8)
