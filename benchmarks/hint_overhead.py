"""Step time with Scaf-GRPO hints active on about a fifth of the groups vs plain GRPO, same batch, one process.

    .venv/bin/python benchmarks/hint_overhead.py [--steps 16] [--threads 1]

Training levels 1,2,2,2,3 from the embedded base model: level 3 (a fifth of the problems) is all-wrong and
triggers the hint search; levels 1-2 are solved. Each strategy trains `--steps` steps from the same start
(no exemption); the median step time of steps 3.. is reported, for the default trainer (zero-advantage rows
skipped, exact) and with every row trained as TRL does, which isolates the cost of the search itself.
Step times are CPU seconds of this process per step (at one thread the same as wall-clock on an idle machine,
and unmoved by other jobs sharing the cores); wall-clock medians are kept in the JSON.
Writes benchmarks/results/hint_overhead.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
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
        self._cpu = None

    def on_step_begin(self, args, state, control, **kw):
        self._cpu = time.process_time()

    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "step_time" in logs:
            row = {k: logs.get(k, 0.0) for k in ("step_time", "time/sample_s", "time/rescue_s",
                                                 "hinted_sample_frac", "all_wrong_frac", "zero_adv_frac",
                                                 "scaf/triggered")}
            row["cpu_step_s"] = time.process_time() - self._cpu
            self.rows.append(row)


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
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/hint_overhead.json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    arms = {
        "grpo": ["strategy.name=grpo"],
        "scaf (hint in prompt)": ["strategy.name=scaf_grpo", "strategy.scaf.hint_tiers=[solution]"],
        "scaf (hint tokens trained)": ["strategy.name=scaf_grpo", "strategy.scaf.hint_tiers=[solution]",
                                       "strategy.scaf.hint_placement=response"],
        "scaf (hint tokens trained), batched search": ["strategy.name=scaf_grpo", "strategy.scaf.hint_tiers=[solution]",
                                                       "strategy.scaf.hint_placement=response",
                                                       "strategy.scaf.search=batched"],
    }
    results = {}
    for skip in (True, False):
        for name, over in arms.items():
            rows = run(over, a.steps, skip)
            key = f"{name}{'' if skip else ', all rows'}"
            results[key] = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print("| strategy | CPU s/step | x plain | wall s/step | sampling s | hint search s | all-wrong groups | "
          "zero-adv groups | hinted samples |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key, r in results.items():
        plain = results["grpo" if ", all rows" not in key else "grpo, all rows"]["cpu_step_s"]
        r["ratio_to_plain"] = r["cpu_step_s"] / plain
        print(f"| {key} | {r['cpu_step_s']:.2f} | {r['ratio_to_plain']:.2f} | {r['step_time']:.2f} | "
              f"{r['time/sample_s']:.2f} | {r['time/rescue_s']:.2f} | {r['all_wrong_frac']:.2f} | "
              f"{r['zero_adv_frac']:.2f} | {r['hinted_sample_frac']:.3f} |")
    results["settings"] = {"threads": a.threads, "steps": a.steps, "levels": [1, 2, 2, 2, 3]}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
