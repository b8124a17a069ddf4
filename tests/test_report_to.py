"""Experiment tracking through TRL (train.report_to): a short run's metrics read back from the trackers' own
files. Every scaffold metric (scaf/*, reward, zero-advantage share, cliff/* graduations, tokens) and the held-out
evaluations (before training at step 0, every eval.every steps) must be there."""
import importlib.util
import json
import time

import pytest

from scaffold_rl.train.run import train
from tests.conftest import tiny_config


def tracked_run(tmp_path, trackers):
    cfg = tiny_config(tmp_path, train__steps=2, eval__every=1, reward__kind="answer")
    cfg.train.report_to = trackers
    cfg.strategy.name, cfg.strategy.exemption_steps = "scaf_grpo", 0  # scaf/* metrics from step 1
    cfg.strategy.scaf.hint_tiers = ["solution"]
    return train(cfg, run_dir=tmp_path / "run", echo=lambda *a: None, make_report=False)


def test_tensorboard_event_files_hold_every_scaffold_metric_and_the_evaluations(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tracked_run(tmp_path, "tensorboard")
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for tag in ("train/reward", "train/loss", "train/zero_adv_frac", "train/zero_adv_frac_before",
                "train/scaf/triggered", "train/scaf/rescued", "train/scaf/exempt", "train/cliff/graduations_total",
                "train/pass_rate/L1", "train/tokens_generated", "eval/L1/greedy", "eval/L2/greedy",
                "eval/L1/pass@2"):
        assert tag in tags, tag
    steps = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if '"reward"' in x]
    assert [e.step for e in events.Scalars("train/reward")] == [1, 2]
    assert [e.value for e in events.Scalars("train/zero_adv_frac")] == pytest.approx(
        [s["zero_adv_frac"] for s in steps])
    base = json.loads((run_dir / "eval_base.json").read_text())
    periodic = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if '"eval"' in x]
    greedy = events.Scalars("eval/L1/greedy")
    assert [e.step for e in greedy] == [0, 1, 2]  # before training, then every step (eval.every=1)
    assert [e.value for e in greedy] == pytest.approx([base["levels"]["L1"]["greedy"]] +
                                                      [r["eval"]["L1"] for r in periodic])
    assert [e.step for e in events.Scalars("eval/L1/pass@2")] == [0]  # sampled metrics: the full evaluations


def wandb_history(path):
    """The history rows of an offline .wandb file: a LevelDB-style log (32 KiB blocks, 7-byte chunk headers:
    crc32c, length, type) of wandb Record protobufs after a 7-byte ':W&B' file header."""
    import struct

    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, buf, rows = 7, 32768, b"", []
    while pos + 7 <= len(data):
        left = block - pos % block
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7]) if left >= 7 else (0, 0, 0)
        if left < 7 or (kind == 0 and length == 0):  # block trailer / padding
            pos += left
            continue
        buf += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST chunk: a whole record
            record = pb.Record()
            record.ParseFromString(buf)
            buf = b""
            if record.WhichOneof("record_type") == "history":
                rows.append({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item})
    return rows


@pytest.mark.skipif(importlib.util.find_spec("wandb") is None, reason="wandb is not installed")
def test_wandb_offline_run_records_the_scaffold_metrics(tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb", reason="wandb is not installed (not in the dev extra)")

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dir = tracked_run(tmp_path, "wandb")
    wandb.finish()
    (run_file,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    rows = wandb_history(run_file)
    steps = [r for r in rows if "train/reward" in r]
    logged = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if '"reward"' in x]
    assert [r["train/global_step"] for r in steps] == [1, 2]
    for key in ("scaf/triggered", "scaf/rescued", "zero_adv_frac", "cliff/graduations_total", "pass_rate/L1"):
        assert [r[f"train/{key}"] for r in steps] == pytest.approx([m[key] for m in logged]), key
    evals = [(r["train/global_step"], r["eval/L1/greedy"]) for r in rows if "eval/L1/greedy" in r]
    base = json.loads((run_dir / "eval_base.json").read_text())["levels"]["L1"]["greedy"]
    periodic = [json.loads(x)["eval"]["L1"] for x in (run_dir / "metrics.jsonl").read_text().splitlines()
                if '"eval"' in x]
    assert evals == [(0, pytest.approx(base)), (1, pytest.approx(periodic[0])), (2, pytest.approx(periodic[1]))]


@pytest.mark.skipif(importlib.util.find_spec("trackio") is None,
                    reason="trackio is not installed here (its pillow<13 pin conflicts with this venv's pillow 13)")
def test_trackio_local_run_records_the_scaffold_metrics(tmp_path):
    from trackio.sqlite_storage import SQLiteStorage

    # trackio fixes its store folder when transformers first imports it, so the test's run gets its own project
    # (TrainingArguments.project, through train.trl) and is removed afterwards
    project = f"scaffold-rl-test-{tmp_path.name}"
    cfg = tiny_config(tmp_path, train__steps=2, eval__every=1, reward__kind="answer")
    cfg.train.report_to, cfg.train.trl = "trackio", {"project": project}
    cfg.strategy.name, cfg.strategy.exemption_steps = "scaf_grpo", 0
    cfg.strategy.scaf.hint_tiers = ["solution"]
    try:
        train(cfg, run_dir=tmp_path / "run", echo=lambda *a: None, make_report=False)
        for _ in range(50):  # trackio's local sender writes from a thread: give it a moment (once, 1 run in 6)
            logs = SQLiteStorage.get_logs(project, run=cfg.name)
            if sum("train/reward" in r for r in logs) >= 2:
                break
            time.sleep(0.2)
    finally:
        db = SQLiteStorage.get_project_db_path(project)
        for path in db.parent.glob(project + "*"):
            path.unlink()
    steps = [r for r in logs if "train/reward" in r]
    assert [r["train/global_step"] for r in steps] == [1, 2]
    assert all("train/scaf/triggered" in r and "train/zero_adv_frac" in r for r in steps)
    assert [r["train/global_step"] for r in logs if "eval/L1/greedy" in r] == [0, 1, 2]
