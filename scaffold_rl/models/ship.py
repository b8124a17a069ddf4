"""`scaffold-rl pretrain --ship`: make the embedded base model a file of the package, so every machine starts
every run, demo and benchmark from the same weights.

Pretraining uses bf16 autocast where the CPU has native bf16, so its bits depend on the machine; a shipped copy
removes that. The weights are stored in bf16 (5.3 MB instead of 10.6) and loaded back in float32: the shipped
model *is* the bf16-rounded one, and its evaluation table (`eval.json`, the held-out greedy accuracy per level
and the hinted level) is stored beside it, so a test can check that loading it reproduces the table exactly.
The folder is named by the config hash (`pretrain.shipped_key`); `pretrain.json` says how it was built.
"""
from __future__ import annotations

import json
import shutil

import torch

from scaffold_rl.models.pretrain import ASSETS, load_or_pretrain, pretraining_task, shipped_key

SHIP_COMMAND = "scaffold-rl pretrain --ship"


def reference_evaluation(cfg, model, tokenizer) -> dict:
    """What the shipped copy must reproduce: greedy accuracy per eval level and under the hint depths."""
    from scaffold_rl.tasks import build_task
    from scaffold_rl.eval.held_out import run_evaluation
    from scaffold_rl.rollout.factory import make_sampler

    task = build_task(cfg)
    sampler = make_sampler(cfg, model, tokenizer, task, evaluation=True)
    res = run_evaluation(cfg, sampler, task, full=True, hints=True)
    return {"n_per_level": cfg.eval.n_per_level,
            "levels": {k: v["greedy"] for k, v in res["levels"].items()},
            "hints": {k: v["greedy"] for k, v in res.get("hints", {}).items()}}


def ship(cfg, rebuild: bool = False, echo=print):
    """Pretrain (or take the cached model), round to bf16, save under assets/embedded/<hash> with eval.json."""
    model, tokenizer, source = load_or_pretrain(cfg.model, cfg.task, log=echo, rebuild=rebuild)
    if source.parent == ASSETS:
        raise ValueError(f"{source} is already the shipped model; pass --rebuild to pretrain a new one")
    model = model.to(torch.bfloat16).to(torch.float32)  # the shipped weights are exactly these
    out = ASSETS / shipped_key(cfg.model, pretraining_task(cfg.model, cfg.task))
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.to(torch.bfloat16).save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    info = json.loads((source / "pretrain.json").read_text())
    info.update({"shipped_from": source.name, "stored_dtype": "bfloat16", "rebuild_command": SHIP_COMMAND + " --rebuild"})
    (tmp / "pretrain.json").write_text(json.dumps(info, indent=1))
    model = model.to(torch.float32)
    echo("evaluating the shipped weights ...")
    table = reference_evaluation(cfg, model, tokenizer)
    (tmp / "eval.json").write_text(json.dumps(table, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    echo(f"shipped {out} ({sum(f.stat().st_size for f in out.iterdir()) / 1e6:.1f} MB): {table}")
    return out
