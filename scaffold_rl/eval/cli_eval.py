"""`scaffold-rl eval`: the same evaluation a training run does, for any model and task."""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from scaffold_rl.configio import load_config


def evaluate_cli(cfg, run: Path | None = None, output: Path | None = None) -> dict:
    from scaffold_rl.config import RunConfig
    from scaffold_rl.eval.held_out import run_evaluation
    from scaffold_rl.models.loading import load_policy
    from scaffold_rl.rollout.factory import make_sampler
    from scaffold_rl.runtime import set_threads
    from scaffold_rl.startup import check_model_reads_task
    from scaffold_rl.tasks import build_task

    if run is not None:
        saved = load_config(RunConfig, Path(run) / "config.yaml")
        model_cfg = replace(saved.model, path=str(Path(run) / "final"))
        cfg = replace(saved, model=model_cfg, eval=cfg.eval)
    set_threads(cfg.train.threads)
    task = build_task(cfg)
    check_model_reads_task(cfg, task)
    model, tokenizer = load_policy(cfg)
    sampler = make_sampler(cfg, model, tokenizer, task, evaluation=True)
    t0 = time.perf_counter()
    out = run_evaluation(cfg, sampler, task, full=True)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["model"] = cfg.model.path or "embedded"
    out["task"] = cfg.task.name
    if output:
        Path(output).write_text(json.dumps(out, indent=1))
    return out
