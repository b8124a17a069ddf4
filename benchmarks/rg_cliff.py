"""A reasoning-gym cliff: the embedded model pretrained on a dataset's easy levels, evaluated per level, and
optionally trained across it.

    .venv/bin/python benchmarks/rg_cliff.py [--config scaffold_rl/configs/rg_chain_sum.yaml]
                                            [--arms grpo,scaf_hint_tokens:strategy.exemption_steps=0]
                                            [--tokens 1500000 | --steps 200 | --minutes 5] [overrides ...]

Pretrains the embedded model on the config's `model.pretrain.level_mix` (or takes it from the cache), then
evaluates every `task.eval_levels` level on held-out problems: greedy accuracy, sampled accuracy and pass@k at
T=1 (full credit of the dataset's `score_answer`), and the first hard level under solution-prefix hints of
`eval.hint_depths` steps (latent ability a hint unlocks). A cliff: easy levels mostly solved, a harder level
at pass@8 ~ 0, and a hint that lifts it.

With `--arms`, each arm (a preset of scaffold_rl/arms.py) then trains from that base model, one CPU thread, two at
a time, for the same budget of work: `--tokens` (default; generated + trained tokens, counted exactly), `--steps`,
or `--minutes` (machine-dependent, a convenience). Without `--arms` only the base model is measured (minutes).

Prints the tables and writes benchmarks/results/rg_cliff_<dataset>.json (or --out; arm runs in the folder
of the same name beside it).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from scaffold_rl.arms import add_budget_args, arm_from_spec, budget_overrides, load_run, run_arms, split_arm_specs
from scaffold_rl.config import RunConfig
from scaffold_rl.configio import load_config
from scaffold_rl.eval.held_out import run_evaluation
from scaffold_rl.models.pretrain import load_or_pretrain
from scaffold_rl.rollout.factory import make_sampler
from scaffold_rl.runtime import set_threads
from scaffold_rl.tasks import build_task

CONFIG = Path(__file__).parents[1] / "scaffold_rl" / "configs" / "rg_chain_sum.yaml"


def table(rows: dict[str, dict], first: str) -> list[str]:
    ks = sorted({k for r in rows.values() for k in r if k.startswith("pass@")}, key=lambda k: int(k[5:]))
    ks = [k for k in ks if k in ("pass@1", "pass@8")] or ks
    lines = [f"| {first} | greedy | sampled | {' | '.join(ks)} |", "|---" * (3 + len(ks)) + "|"]
    for name, r in rows.items():
        cells = [f"{r['greedy']:.3f}", f"{r.get('sampled', float('nan')):.3f}"] + [f"{r[k]:.3f}" for k in ks]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return lines


def measure_base(cfg: RunConfig) -> dict:
    """Pretrain (or load) the base model and evaluate it per level and under hints."""
    model, tok, path = load_or_pretrain(cfg.model, cfg.task)
    pretrain_info = json.loads((path / "pretrain.json").read_text())
    task = build_task(cfg)
    sampler = make_sampler(cfg, model, tok, task, evaluation=True)
    t1 = time.perf_counter()
    res = run_evaluation(cfg, sampler, task, full=True, hints=True)
    res["seconds"] = round(time.perf_counter() - t1, 1)
    return {"eval": res, "model_dir": str(path), "task": task.name, "first_hard_level": task.first_hard_level,
            "level_configs": task.split_info["levels"],
            "pretrain": {k: v for k, v in pretrain_info.items() if k != "loss_curve"}}


def train_arms(specs: list[str], config: Path, overrides: list[str], limits: list[str], base_eval: dict,
               out_dir: Path) -> tuple[dict, str]:
    """Each arm trained from the measured base model for the budget `limits`; the counted result table."""
    from scaffold_rl.demo import result_table

    arms = [arm_from_spec(s) for s in specs]
    for arm in arms:  # every arm starts from the one evaluation of the same base model
        (out_dir / arm.name).mkdir(parents=True, exist_ok=True)
        (out_dir / arm.name / "eval_base.json").write_text(json.dumps(base_eval, indent=1, default=str))
    run_dirs = run_arms(arms, limits + overrides, config, out_dir, parallel=2, threads=1)
    runs = {arm.name: load_run(d) for arm, d in zip(arms, run_dirs)}
    from scaffold_rl.eval.compare import summary_rows

    return {"rows": summary_rows(runs)}, result_table(base_eval, runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=CONFIG)
    ap.add_argument("--arms", default="", help="comma-separated arm presets trained from the base model (default: "
                                               "none, the base model only)")
    add_budget_args(ap, tokens=1_500_000)
    ap.add_argument("--out", type=Path, help="JSON output (default benchmarks/results/rg_cliff_<dataset>.json)")
    ap.add_argument("overrides", nargs="*", help="dotted config overrides, e.g. model.pretrain.steps=200")
    a = ap.parse_args()
    cfg = load_config(RunConfig, a.config, a.overrides)
    if cfg.model.path is not None or not cfg.task.name.startswith("rg:"):
        raise SystemExit("rg_cliff measures the embedded model on a reasoning-gym task (task.name=rg:<dataset>)")
    set_threads(cfg.train.threads)
    t0 = time.perf_counter()
    base = measure_base(cfg)
    res, p = base["eval"], base["pretrain"]
    print(f"{base['task']}: pretrained {p['steps']} steps ({p['parameters'] / 1e6:.2f} M params, final loss "
          f"{p['final_loss']:.4f}) on level mix {cfg.model.pretrain.level_mix}")
    for lv, conf in base["level_configs"].items():
        print(f"  L{lv}: {conf}")
    print("\n".join(table(res["levels"], "level")))
    if res.get("hints"):
        print("\n".join(table({k.split("/")[-1]: v for k, v in res["hints"].items()},
                              f"L{base['first_hard_level']} hint")))
    out = {"config": str(a.config), "overrides": a.overrides, "level_mix": cfg.model.pretrain.level_mix,
           "levels": res["levels"], "hints": res.get("hints", {}), "eval_seconds": res["seconds"],
           **{k: v for k, v in base.items() if k != "eval"}}
    dest = a.out or Path("benchmarks/results") / f"rg_cliff_{base['task'].split(':', 1)[1]}.json"
    if a.arms:
        limits, budget_text = budget_overrides(a)
        arm_out = dest.parent / dest.stem  # the arms' run folders beside the JSON
        trained, result = train_arms(split_arm_specs(a.arms), a.config, a.overrides, limits, res,
                                     arm_out)
        print(f"\nbudget: {budget_text} per arm\n{result}")
        out.update({"budget": budget_text, "arms": trained["rows"], "arm_dir": str(arm_out)})
    out["total_seconds"] = round(time.perf_counter() - t0, 1)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=1, default=str))
    print(f"base evaluation {res['seconds']:.0f} s, total {out['total_seconds']:.0f} s; wrote {dest}")


if __name__ == "__main__":
    main()
