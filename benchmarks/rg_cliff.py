"""A reasoning-gym cliff: the embedded model pretrained on a dataset's easy levels, evaluated per level.

    .venv/bin/python benchmarks/rg_cliff.py [--config scaffold_rl/configs/rg_chain_sum.yaml] [overrides ...]

Pretrains the embedded model on the config's `model.pretrain.level_mix` (or takes it from the cache), then
evaluates every `task.eval_levels` level on held-out problems: greedy accuracy, sampled accuracy and pass@k at
T=1 (full credit of the dataset's `score_answer`), and the first hard level under solution-prefix hints of
`eval.hint_depths` steps (latent ability a hint unlocks). A cliff: easy levels mostly solved, a harder level
at pass@8 ~ 0, and a hint that lifts it. Prints the tables and writes benchmarks/results/rg_cliff_<dataset>.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from scaffold_rl.config import RunConfig
from scaffold_rl.configio import load_config
from scaffold_rl.models.pretrain import load_or_pretrain
from scaffold_rl.tasks import build_task
from scaffold_rl.train.run import make_sampler, run_evaluation
from scaffold_rl.train.trainer import set_threads

CONFIG = Path(__file__).parents[1] / "scaffold_rl" / "configs" / "rg_chain_sum.yaml"


def table(rows: dict[str, dict], first: str) -> list[str]:
    ks = sorted({k for r in rows.values() for k in r if k.startswith("pass@")}, key=lambda k: int(k[5:]))
    ks = [k for k in ks if k in ("pass@1", "pass@8")] or ks
    lines = [f"| {first} | greedy | sampled | {' | '.join(ks)} |", "|---" * (3 + len(ks)) + "|"]
    for name, r in rows.items():
        cells = [f"{r['greedy']:.3f}", f"{r.get('sampled', float('nan')):.3f}"] + [f"{r[k]:.3f}" for k in ks]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=CONFIG)
    ap.add_argument("--out", type=Path, help="JSON output (default benchmarks/results/rg_cliff_<dataset>.json)")
    ap.add_argument("overrides", nargs="*", help="dotted config overrides, e.g. model.pretrain.steps=200")
    a = ap.parse_args()
    cfg = load_config(RunConfig, a.config, a.overrides)
    if cfg.model.path is not None or not cfg.task.name.startswith("rg:"):
        raise SystemExit("rg_cliff measures the embedded model on a reasoning-gym task (task.name=rg:<dataset>)")
    set_threads(cfg.train.threads)
    t0 = time.perf_counter()
    model, tok, path = load_or_pretrain(cfg.model, cfg.task)
    pretrain_info = json.loads((path / "pretrain.json").read_text())
    task = build_task(cfg)
    sampler = make_sampler(cfg, model, tok, task, evaluation=True)
    t1 = time.perf_counter()
    res = run_evaluation(cfg, sampler, task, full=True, hints=True)
    eval_seconds = time.perf_counter() - t1
    out = {"config": str(a.config), "overrides": a.overrides, "task": task.name, "model_dir": str(path),
           "pretrain": {k: v for k, v in pretrain_info.items() if k != "loss_curve"},
           "level_mix": cfg.model.pretrain.level_mix, "levels": res["levels"], "hints": res.get("hints", {}),
           "level_configs": task.split_info["levels"], "first_hard_level": task.first_hard_level,
           "eval_seconds": round(eval_seconds, 1), "total_seconds": round(time.perf_counter() - t0, 1)}
    print(f"{task.name}: pretrained {pretrain_info['steps']} steps ({pretrain_info['parameters'] / 1e6:.2f} M "
          f"params, final loss {pretrain_info['final_loss']:.4f}) on level mix {cfg.model.pretrain.level_mix}")
    for lv, conf in task.split_info["levels"].items():
        print(f"  L{lv}: {conf}")
    print("\n".join(table(res["levels"], "level")))
    if res.get("hints"):
        print("\n".join(table({k.split("/")[-1]: v for k, v in res["hints"].items()},
                              f"L{task.first_hard_level} hint")))
    dest = a.out or Path("benchmarks/results") / f"rg_cliff_{task.name.split(':', 1)[1]}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=1, default=str))
    print(f"eval {eval_seconds:.0f} s; wrote {dest}")


if __name__ == "__main__":
    main()
