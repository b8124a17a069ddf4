"""The learning-cliff benchmark: strategies from the same base model at equal work, several seeds.

    .venv/bin/python benchmarks/cliff.py [--arms grpo,scaf,scaf_hint_tokens,reference] [--seeds 0,1,2,3,4]
                                         [--tokens 1500000 | --steps 200 | --minutes 5]
                                         [--out benchmarks/results/cliff] [overrides ...]

Every arm trains with one CPU thread, two at a time, until its budget is spent: `--tokens` (default; tokens of
work, generated + trained, counted exactly: the same compute on any machine, busy or idle), `--steps`, or
`--minutes` (a convenience only: a clock budget buys fewer steps on a slower or busier machine). Then greedy,
unhinted evaluation on 200 held-out problems per level, and pass@64 on 50 problems of the hard level before and
after. Arms are presets of scaffold_rl/arms.py (ablations and overrides: `--arms "scaf:strategy.exemption_steps=0"`).

Prints a table per arm (mean ± std and the minimum over seeds, per level), writes cliff.json, and a report with
learning curves of held-out hard-level accuracy against tokens and against steps (one band per arm). Finished
arms are kept and interrupted ones resumed when the same command is run again.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

from scaffold_rl.arms import (Arm, add_budget_args, arm_from_spec, budget_overrides, cached_json, load_run, run_arms,
                              split_arm_specs)
from scaffold_rl.config import RunConfig
from scaffold_rl.configio import load_config
from scaffold_rl.demo import evaluate_base
from scaffold_rl.eval.compare import arm_of, summary_rows, write_comparison

DEMO_CONFIG = Path(__file__).parents[1] / "scaffold_rl" / "configs" / "demo.yaml"


def stats(values: list[float]) -> dict:
    values = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return {"mean": float("nan"), "std": 0.0, "min": float("nan"), "max": float("nan"), "n": 0}
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values)}


SUMMARY_KEYS = ("steps", "tokens", "train_s", "time_vs_grpo", "zero_adv", "prompt_usage", "truncated_all_wrong",
                "graduations", "hinted", "rescue_rate", "hard_pass_before", "hard_pass_after")


def aggregate(rows: list[dict], arms: list[str], levels: list[str], hard: str) -> dict:
    out = {}
    for arm in arms:
        mine = [r for r in rows if arm_of(r["arm"]) == arm]
        entry = {lv: stats([r[f"final/{lv}"] for r in mine]) for lv in levels}
        entry.update({key: stats([r[key] for r in mine]) for key in SUMMARY_KEYS})
        entry["per_seed"] = {r["arm"]: r[f"final/{hard}"] for r in mine}
        entry["seeds"] = len(mine)
        out[arm] = entry
    if "grpo" in out:
        g = out["grpo"][hard]
        for entry in out.values():
            m = entry[hard]
            entry["abs_gain"] = m["mean"] - g["mean"]
            se = math.sqrt((m["std"] ** 2 + g["std"] ** 2) / max(1, m["n"]))
            entry["gain_in_se"] = entry["abs_gain"] / se if se > 0 else (math.inf if entry["abs_gain"] else 0.0)
    return out


def print_table(summary: dict, base: dict, levels: list[str], hard: str) -> None:
    head = levels + [f"{hard} min over seeds", "gain vs grpo (abs / SEs)", "steps", "tokens (M)", "time vs grpo",
                     "zero-adv", "prompt usage", "graduations", "hard pass@64 before → after"]
    print("\n| arm | " + " | ".join(head) + " |")
    print("|---" * (len(head) + 1) + "|")
    print("| base | " + " | ".join(f"{base['levels'][lv]['greedy']:.3f}" for lv in levels) + " |" * (len(head) -
          len(levels)) + " |")
    for arm, e in summary.items():
        cells = [f"{e[lv]['mean']:.3f} ± {e[lv]['std']:.3f}" for lv in levels] + [f"{e[hard]['min']:.3f}"]
        cells.append(f"{e['abs_gain']:+.3f} / {e['gain_in_se']:.1f}" if "abs_gain" in e else "")
        cells += [f"{e['steps']['mean']:.0f}", f"{e['tokens']['mean'] / 1e6:.2f}", f"{e['time_vs_grpo']['mean']:.2f}",
                  f"{e['zero_adv']['mean']:.2f}", f"{e['prompt_usage']['mean']:.2f}",
                  f"{e['graduations']['mean']:.1f}",
                  f"{e['hard_pass_before']['mean']:.3f} → {e['hard_pass_after']['mean']:.3f}"]
        print(f"| {arm} | " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arms", default="grpo,scaf,scaf_hint_tokens,reference")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    add_budget_args(ap, tokens=1_500_000)
    ap.add_argument("--eval-every", type=int, default=10, help="steps between evaluations of the hard level")
    ap.add_argument("--pass-k", type=int, default=64, help="samples per hard problem for pass@k before and after")
    ap.add_argument("--parallel", type=int, default=2, help="arms trained at once (one thread each)")
    ap.add_argument("--config", type=Path, default=DEMO_CONFIG)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/cliff"))
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()
    t0 = time.perf_counter()
    seeds = [int(s) for s in a.seeds.split(",")]
    names = split_arm_specs(a.arms)
    cfg0 = load_config(RunConfig, a.config, a.overrides)
    hard_level = max(cfg0.task.train_levels)
    hard = f"L{hard_level}"
    limits, budget_text = budget_overrides(a)
    common = limits + ["eval.samples=0", f"eval.every={a.eval_every}", f"eval.every_levels=[{hard_level}]",
                       f"eval.hard_samples={a.pass_k}", "eval.hard_problems=50"] + a.overrides
    cfg = load_config(RunConfig, a.config, common)
    base = cached_json(a.out / "base.json", {"config": a.config, "overrides": common}, lambda: evaluate_base(cfg))
    arms = []
    for name in names:
        template = arm_from_spec(name)
        for seed in seeds:
            arms.append(Arm(f"{template.name}-s{seed}", template.overrides + [f"train.seed={seed}"]))
    for arm in arms:
        (a.out / arm.name).mkdir(parents=True, exist_ok=True)
        (a.out / arm.name / "eval_base.json").write_text(json.dumps(base, indent=1))
    run_dirs = run_arms(arms, common, a.config, a.out, parallel=a.parallel, threads=1)
    runs = {arm.name: load_run(d) for arm, d in zip(arms, run_dirs)}
    rows = summary_rows(runs)
    levels = list(base["levels"])
    summary = aggregate(rows, [arm_from_spec(n).name for n in names], levels, hard)
    print(f"\nbudget: {budget_text} per arm; seeds {seeds}")
    print_table(summary, base, levels, hard)
    result = {"arms": summary, "rows": rows, "base": base["levels"], "base_hints": base.get("hints"),
              "base_hard": base.get("hard"), "budget": budget_text, "seeds": seeds, "overrides": a.overrides,
              "hard_level": hard, "wall_s": round(time.perf_counter() - t0)}
    (a.out / "cliff.json").write_text(json.dumps(result, indent=1, default=str))
    write_comparison(runs, a.out, f"Learning-cliff benchmark ({budget_text} per run, 1 thread)", hard_level=hard)
    print(f"\nwall time {result['wall_s']} s; report {a.out / 'report.md'}")


if __name__ == "__main__":
    main()
