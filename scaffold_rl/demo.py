"""`scaffold-rl demo`: the learning cliff on the embedded task, and crossing it, end to end on 2 CPU cores.

Loads the shipped base model (or pretrains it), evaluates it once (the cliff: levels 1-2 solved, level 3 at
zero, and how far a solution-prefix hint lifts level 3), then trains plain GRPO and the rescue that crosses
(reference injection; any arms with --arms) side by side, one thread each, for the same budget of work in tokens (train.max_tokens in the demo
config), and writes a comparison report. The budget is counted, not timed, and training on CPU is deterministic,
so the table it prints is the same on an idle or a busy machine; only the time line differs.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from scaffold_rl.arms import arm_from_spec, load_run, run_arms
from scaffold_rl.config import RunConfig
from scaffold_rl.configio import load_config
from scaffold_rl.eval.compare import summary_rows, write_comparison

# The rescue that crosses on the shipped base model, on all 5 seeds of the cliff benchmark at the demo's budget:
# reference injection from step 1 (no guidance-free warm-up: the base model's level-3 pass@8 is already 0). The
# Scaf-GRPO arms do not cross on this base: its level-3 chains first go wrong at step 3 even when steps 1-2 are
# given (97 %), and the ladder never shows step 3 (it carries the answer); docs/benchmarks.md.
DEFAULT_ARMS = ("grpo", "reference:strategy.exemption_steps=0")


def evaluate_base(cfg: RunConfig, echo=print) -> dict:
    from scaffold_rl.models.loading import load_policy
    from scaffold_rl.tasks import build_task
    from scaffold_rl.train.run import make_sampler, run_evaluation, summarize_eval

    model, tokenizer = load_policy(cfg, echo=echo)
    task = build_task(cfg)
    t0 = time.perf_counter()
    base = run_evaluation(cfg, make_sampler(cfg, model, tokenizer, task, evaluation=True), task, full=True)
    base["seconds"] = round(time.perf_counter() - t0, 1)
    echo(summarize_eval("base model", base))
    return base


def run_demo(config: Path | None, overrides: list[str], arms: tuple[str, ...] = DEFAULT_ARMS, echo=print) -> Path:
    from scaffold_rl.train.trainer import set_threads

    t0 = time.perf_counter()
    cfg = load_config(RunConfig, config, overrides)
    set_threads(cfg.train.threads)
    base = evaluate_base(cfg, echo)  # pretrains first if the model is not cached
    out_dir = Path(cfg.output_dir) / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    arm_list = [arm_from_spec(a) for a in arms]
    for arm in arm_list:  # every arm starts from this one evaluation of the same base model
        (out_dir / arm.name).mkdir(parents=True, exist_ok=True)
        (out_dir / arm.name / "eval_base.json").write_text(json.dumps(base, indent=1))
    echo(f"training {', '.join(a.name for a in arm_list)} side by side, one thread each ...")
    run_dirs = run_arms(arm_list, overrides, config, out_dir, parallel=2, threads=1, echo=echo)
    runs = {arm.name: load_run(d) for arm, d in zip(arm_list, run_dirs)}
    hard = f"L{cfg.task.train_levels and max(cfg.task.train_levels)}"
    report = write_comparison(runs, out_dir, "scaffold-rl demo: crossing the learning cliff", hard_level=hard)
    if config:
        shutil.copy(config, out_dir / "demo_config.yaml")
    echo("")
    echo(result_table(base, runs))
    rows = summary_rows(runs)
    echo("training time (machine-dependent, not part of the result): " + ", ".join(
        f"{r['arm']} {r['train_s']:.0f} s" for r in rows) + (f"; ratio {rows[1]['arm']} / {rows[0]['arm']} "
                                                              f"{rows[1]['train_s'] / rows[0]['train_s']:.2f}"
                                                              if len(rows) > 1 and rows[0]['train_s'] else ""))
    echo(f"demo finished in {time.perf_counter() - t0:.0f} s")
    echo(f"report: {report}")
    return out_dir


def result_table(base: dict, runs: dict[str, dict]) -> str:
    """The demo's result: greedy held-out accuracy per level of the base model and of each arm, with the work each
    arm did. Everything in it is counted, none of it timed, so it is the same on every run of the same config."""
    levels = list(base["levels"])
    lines = ["| model | " + " | ".join(levels) + " | steps | tokens |", "|---" * (len(levels) + 3) + "|",
             "| base | " + " | ".join(f"{base['levels'][lv]['greedy']:.3f}" for lv in levels) + " | | |"]
    for r in summary_rows(runs):
        lines.append(f"| {r['arm']} | " + " | ".join(f"{r[f'final/{lv}']:.3f}" for lv in levels)
                     + f" | {r['steps']} | {r['tokens']:,} |")
    return "\n".join(lines)
