"""The learning-cliff benchmark: strategies from the same base model at equal wall-clock budget, several seeds.

    .venv/bin/python benchmarks/cliff.py [--arms grpo,scaf,scaf_hint_tokens,reference] [--seeds 0,1,2]
                                         [--minutes 5] [--out benchmarks/results/cliff] [overrides ...]

Every arm trains with one CPU thread, two at a time, for `--minutes` of training time (evaluation excluded),
then is evaluated without hints on held-out problems (greedy, 200 per level). Arms are presets of
scaffold_rl/arms.py (ablations too: scaf_full_ladder, scaf_whole_tier, scaf_offpolicy; exemption via
`--arms scaf:strategy.exemption_fraction=0.0`). Prints a table (mean +- std over seeds), writes cliff.json and
comparison plots. Takes about arms x seeds x (minutes + 1) / 2 minutes.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

from scaffold_rl.arms import Arm, arm_from_spec, cached_json, load_run, run_arms
from scaffold_rl.config import RunConfig
from scaffold_rl.configio import load_config
from scaffold_rl.demo import evaluate_base
from scaffold_rl.eval.compare import summary_rows, write_comparison

DEMO_CONFIG = Path(__file__).parents[1] / "scaffold_rl" / "configs" / "demo.yaml"


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def aggregate(rows: list[dict], arms: list[str], seeds: list[int], levels: list[str], hard: str) -> dict:
    out = {}
    for arm in arms:
        mine = [r for r in rows if r["arm"].rsplit("-s", 1)[0] == arm]
        entry = {lv: mean_std([r[f"final/{lv}"] for r in mine]) for lv in levels}
        for key in ("steps", "s_per_step", "zero_adv", "hinted", "rescue_rate", "hint_overhead_s"):
            vals = [r[key] for r in mine if not (isinstance(r[key], float) and math.isnan(r[key]))]
            entry[key] = mean_std(vals) if vals else (float("nan"), 0.0)
        entry["seeds"] = len(mine)
        out[arm] = entry
    if "grpo" in out:
        base_mean, base_std = out["grpo"][hard]
        n = len(seeds)
        for arm, entry in out.items():
            m, s = entry[hard]
            entry["abs_gain"] = m - base_mean
            entry["rel_gain"] = (m - base_mean) / base_mean if base_mean > 0 else float("inf") if m > 0 else 0.0
            se = math.sqrt((s * s + base_std * base_std) / max(1, n))
            entry["gain_in_se"] = entry["abs_gain"] / se if se > 0 else float("inf") if entry["abs_gain"] else 0.0
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arms", default="grpo,scaf,scaf_hint_tokens,reference")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                    help="budget clock: CPU seconds of each run (default; fair when other jobs share the cores) "
                         "or wall-clock seconds")
    ap.add_argument("--config", type=Path, default=DEMO_CONFIG)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/cliff"))
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()
    t0 = time.perf_counter()
    seeds = [int(s) for s in a.seeds.split(",")]
    names = [x for x in a.arms.split(",") if x]
    common = [f"train.max_minutes={a.minutes}", f"train.budget_clock={a.clock}", "eval.samples=0",
              "eval.every=50"] + a.overrides
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
    run_dirs = run_arms(arms, common, a.config, a.out, parallel=2, threads=1)
    runs = {arm.name: load_run(d) for arm, d in zip(arms, run_dirs)}
    rows = summary_rows(runs)
    for row, run in zip(rows, runs.values()):
        steps = run["steps"]
        row["hint_overhead_s"] = statistics.median(s.get("time/rescue_s", 0.0) for s in steps) if steps else 0.0
    levels = list(base["levels"])
    hard = f"L{max(cfg.task.train_levels)}"
    summary = aggregate(rows, [arm_from_spec(n).name for n in names], seeds, levels, hard)
    print(f"\n| arm | " + " | ".join(levels) + f" | {hard} gain vs grpo (abs / rel / SEs) | steps | s/step | "
          "zero-adv | hinted | rescue rate | hint search s/step |")
    print("|---" * (len(levels) + 8) + "|")
    print("| base | " + " | ".join(f"{base['levels'][lv]['greedy']:.3f}" for lv in levels) + " | | | | | | | |")
    for arm, e in summary.items():
        cells = [f"{e[lv][0]:.3f} ± {e[lv][1]:.3f}" for lv in levels]
        gain = f"{e.get('abs_gain', 0):+.3f} / {e.get('rel_gain', 0):+.0%} / {e.get('gain_in_se', 0):.1f}" \
            if "abs_gain" in e else ""
        print(f"| {arm} | " + " | ".join(cells) + f" | {gain} | {e['steps'][0]:.0f} | {e['s_per_step'][0]:.2f} | "
              f"{e['zero_adv'][0]:.2f} | {e['hinted'][0]:.3f} | {e['rescue_rate'][0]:.2f} | "
              f"{e['hint_overhead_s'][0]:.2f} |")
    result = {"arms": summary, "rows": rows, "base": base["levels"], "base_hints": base.get("hints"),
              "minutes": a.minutes, "seeds": seeds, "overrides": a.overrides, "hard_level": hard,
              "wall_s": round(time.perf_counter() - t0)}
    (a.out / "cliff.json").write_text(json.dumps(result, indent=1, default=str))
    write_comparison(runs, a.out, f"Learning-cliff benchmark ({a.minutes:g} min per run, 1 thread)", hard_level=hard)
    print(f"\nwall time {result['wall_s']} s; report {a.out / 'report.md'}")


if __name__ == "__main__":
    main()
