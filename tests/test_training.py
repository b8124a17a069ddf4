"""End-to-end training runs on tiny models: the run folder, exact resume, kill -9 recovery."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scaffold_rl.configio import save_config
from scaffold_rl.train.run import train
from tests.conftest import tiny_config

STEP_KEYS = ("reward", "loss", "zero_adv_frac", "pass_rate", "tokens_generated", "grad_norm", "entropy",
             "tokens/generated", "tokens/trained", "tokens/total", "cliff/graduations_total", "cliff/prompt_usage")


def step_records(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines if x.strip() and "reward" in json.loads(x)]


def comparable(records):
    return [{k: r.get(k) for k in ("step",) + STEP_KEYS} for r in records]


def test_run_folder_has_config_metrics_checkpoint_report_and_plots(tmp_path):
    cfg = tiny_config(tmp_path)
    run_dir = train(cfg, echo=lambda *a: None)
    for name in ("config.yaml", "metrics.jsonl", "eval_base.json", "eval_final.json", "report.md",
                 "plots/accuracy_per_level.png", "plots/training.png", "final/config.json"):
        assert (run_dir / name).exists(), name
    records = step_records(run_dir)
    assert [r["step"] for r in records] == [1, 2]
    for r in records:
        for key in ("reward", "zero_adv_frac", "pass_rate/L1", "tokens_generated", "step_time"):
            assert key in r, key
        assert r["tokens_generated"] > 0
    assert list((run_dir / "checkpoints").glob("checkpoint-2/COMPLETE"))
    report = (run_dir / "report.md").read_text()
    assert "zero-advantage" in report and "L1" in report


def test_resume_gives_the_same_metrics_as_an_uninterrupted_run(tmp_path):
    cfg = tiny_config(tmp_path / "a", train__steps=4, train__save_every=1, reward__kind="answer")
    full = train(cfg, run_dir=tmp_path / "full", echo=lambda *a: None, make_report=False)

    cfg_b = tiny_config(tmp_path / "b", train__steps=4, train__save_every=1, reward__kind="answer")
    cfg_b.model.cache_dir = cfg.model.cache_dir
    part = tmp_path / "part"
    cfg_b.train.steps = 2  # stop after two steps, as if interrupted there
    train(cfg_b, run_dir=part, echo=lambda *a: None, make_report=False)
    cfg_b.train.steps = 4
    save_config(cfg_b, part / "config.yaml")
    train(None, run_dir=part, resume=True, echo=lambda *a: None, make_report=False)
    assert comparable(step_records(part)) == comparable(step_records(full))


def test_kill_9_mid_run_loses_at_most_a_step_and_resume_finishes_identically(tmp_path):
    cfg = tiny_config(tmp_path, train__steps=6, train__save_every=1, reward__kind="answer")
    ref = train(cfg, run_dir=tmp_path / "ref", echo=lambda *a: None, make_report=False)

    run_dir = tmp_path / "killed"
    run_dir.mkdir()
    save_config(cfg, run_dir / "config.yaml")
    code = ("import sys; from pathlib import Path; from scaffold_rl.train.run import train; "
            "train(None, run_dir=Path(sys.argv[1]), resume=True, make_report=False)")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], env=env, cwd=Path(__file__).parents[1],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (run_dir / "checkpoints" / "checkpoint-3" / "COMPLETE").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (run_dir / "checkpoints" / "checkpoint-3").exists(), "the run never got to step 3"
    assert not (run_dir / "eval_final.json").exists()
    train(None, run_dir=run_dir, resume=True, echo=lambda *a: None, make_report=False)
    assert comparable(step_records(run_dir)) == comparable(step_records(ref))


def test_missing_model_path_is_a_clear_error(tmp_path):
    from scaffold_rl.models.loading import ModelPathError

    cfg = tiny_config(tmp_path)
    cfg.model.path = str(tmp_path / "nope")
    with pytest.raises(ModelPathError, match="model.path: .*nope does not exist"):
        train(cfg, echo=lambda *a: None)


def test_cli_unknown_key_names_the_closest(tmp_path):
    out = subprocess.run([sys.executable, "-m", "scaffold_rl", "train", "train.lrr=1e-4"], capture_output=True,
                         text=True, cwd=Path(__file__).parents[1])
    assert out.returncode == 2
    assert "train.lrr" in out.stderr and "train.lr" in out.stderr


def test_token_budget_stops_at_the_step_that_crosses_it_and_counts_exactly(tmp_path):
    """train.max_tokens: work in tokens, counted from the data (not the clock), so two runs stop at the same step."""
    cfg = tiny_config(tmp_path, train__steps=50)
    run = train(cfg, run_dir=tmp_path / "probe", echo=lambda *a: None, make_report=False)
    probe = step_records(run)
    per_step = [b["tokens/total"] - a["tokens/total"] for a, b in zip([{"tokens/total": 0}] + probe, probe)]
    assert all(p > 0 for p in per_step)
    for r in probe:  # total = generated + trained; generated is the rollout stage's own count, summed
        assert r["tokens/total"] == r["tokens/generated"] + r["tokens/trained"]
    assert probe[0]["tokens/generated"] == probe[0]["tokens_generated"]
    budget = probe[2]["tokens/total"] - 1  # crossed during step 3
    cfg = tiny_config(tmp_path, train__steps=50, train__max_tokens=budget)
    records = step_records(train(cfg, run_dir=tmp_path / "budget", echo=lambda *a: None, make_report=False))
    assert [r["step"] for r in records] == [1, 2, 3]
    assert comparable(records) == comparable(probe[:3])
    final = json.loads((tmp_path / "budget" / "eval_final.json").read_text())
    assert final["steps"] == 3 and sum(final["tokens"].values()) == records[-1]["tokens/total"]
