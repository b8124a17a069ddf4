"""Step time with Scaf-GRPO hints active on about a fifth of the groups vs plain GRPO, same batch, one process.

    .venv/bin/python benchmarks/hint_overhead.py [--steps 16] [--threads 2]

Training levels 1,2,2,2,3 from the embedded base model: level 3 (a fifth of the problems) is all-wrong and
triggers the hint search; levels 1-2 are solved. Each strategy trains `--steps` steps from the same start
(no exemption); the median step time of steps 3.. is reported, for the default trainer (zero-advantage rows
skipped, exact) and with every row trained as TRL does, which isolates the cost of the search itself.
Writes benchmarks/results/hint_overhead.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from scaffold_rl.config import RunConfig
from scaffold_rl.models.loading import load_policy
from scaffold_rl.rollout.sampler import RolloutStage
from scaffold_rl.strategies.base import build_strategy
from scaffold_rl.tasks import build_task
from scaffold_rl.train.run import make_sampler
from scaffold_rl.train.trainer import ScaffoldGRPOTrainer, grpo_args
from transformers import TrainerCallback


class Recorder(TrainerCallback):
    def __init__(self, trainer_ref):
        self.ref, self.rows = trainer_ref, []

    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "step_time" in logs:
            self.rows.append({k: logs.get(k, 0.0) for k in ("step_time", "time/sample_s", "time/rescue_s",
                                                              "hinted_sample_frac", "all_wrong_frac",
                                                              "scaf/triggered")})


def run(strategy_overrides: list[str], steps: int, skip: bool) -> list[dict]:
    from scaffold_rl.configio import load_config

    cfg = load_config(RunConfig, None, ["task.train_levels=[1,2,2,2,3]", f"train.steps={steps}",
                                        "strategy.exemption_steps=0"] + strategy_overrides)
    model, tok = load_policy(cfg, echo=lambda *a: None)
    task = build_task(cfg)
    strategy = build_strategy(cfg)
    args = grpo_args(cfg, Path("/tmp/bench_hint_overhead"))
    args.save_strategy = "no"
    rec = Recorder(None)
    trainer = ScaffoldGRPOTrainer(
        model=model, tokenizer=tok, args=args, problems=task.train_problems(4000),
        stage_factory=lambda t: RolloutStage(make_sampler(cfg, t.model, tok, task), strategy,
                                             cfg.rollout.num_generations, steps, cfg.train.seed),
        callbacks=[rec], skip_zero_advantage_rows=skip)
    trainer.train()
    return rec.rows[2:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/hint_overhead.json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    arms = {
        "grpo": ["strategy.name=grpo"],
        "scaf (hint in prompt)": ["strategy.name=scaf_grpo", "strategy.hint_tiers=[solution]"],
        "scaf (hint tokens trained)": ["strategy.name=scaf_grpo", "strategy.hint_tiers=[solution]",
                                       "strategy.hint_placement=response"],
    }
    results = {}
    for skip in (True, False):
        for name, over in arms.items():
            rows = run(over, a.steps, skip)
            key = f"{name}{'' if skip else ', all rows'}"
            results[key] = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print("| strategy | step s | x plain | sampling s | hint search s | all-wrong groups | hinted samples |")
    print("|---|---|---|---|---|---|---|")
    for key, r in results.items():
        plain = results["grpo" if ", all rows" not in key else "grpo, all rows"]["step_time"]
        r["ratio_to_plain"] = r["step_time"] / plain
        print(f"| {key} | {r['step_time']:.2f} | {r['ratio_to_plain']:.2f} | {r['time/sample_s']:.2f} | "
              f"{r['time/rescue_s']:.2f} | {r['all_wrong_frac']:.2f} | {r['hinted_sample_frac']:.3f} |")
    results["settings"] = {"threads": a.threads, "steps": a.steps, "levels": [1, 2, 2, 2, 3]}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
