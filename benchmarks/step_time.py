"""Step time of our TRL path vs TRL's default GRPOTrainer, same model, batch and reward, in one process.

    .venv/bin/python benchmarks/step_time.py [--steps 12] [--threads 2]

Both trainers start from the same embedded base model on the same levels (2,3,3), P=16 prompts x G=8
samples, 64 new tokens at most. TRL's default generates inside the trainer (wrapped model, gradient
checkpointing on, as its config defaults); ours generates through the rollout stage and skips the forward and
backward of zero-advantage rows (exact); `scaffold_rl_all_rows` shows ours without that skip. The first two steps
of each are warm-up and excluded; the median of the rest is reported, and their ratio. Prints a table and
writes benchmarks/results/step_time.json.
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
from scaffold_rl.rewards.correctness import CorrectnessReward
from scaffold_rl.rollout.sampler import RolloutStage
from scaffold_rl.strategies.grpo import PlainGRPO
from scaffold_rl.tasks import build_task
from scaffold_rl.train.run import make_sampler
from scaffold_rl.train.trainer import ScaffoldGRPOTrainer, grpo_args, problem_dataset
from transformers import TrainerCallback


class StepTimer(TrainerCallback):
    def __init__(self):
        self.times, self._t = [], None

    def on_step_begin(self, args, state, control, **kw):
        self._t = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        self.times.append(time.perf_counter() - self._t)


def trl_default(cfg, model, tokenizer, problems, task, steps, out_dir):
    from trl import GRPOConfig, GRPOTrainer

    reward = CorrectnessReward("strict")
    by_prompt = {p.prompt: p for p in problems}

    def correctness(prompts, completions, **kw):
        return [reward(by_prompt[p], c).reward for p, c in zip(prompts, completions)]

    args = GRPOConfig(output_dir=str(out_dir), use_cpu=True, bf16=False, report_to="none", disable_tqdm=True,
                      per_device_train_batch_size=cfg.train.prompts_per_step * cfg.rollout.num_generations,
                      num_generations=cfg.rollout.num_generations, max_completion_length=cfg.rollout.max_new_tokens,
                      learning_rate=cfg.train.lr, max_steps=steps, save_strategy="no", logging_steps=1,
                      seed=cfg.train.seed)
    timer = StepTimer()
    trainer = GRPOTrainer(model=model, reward_funcs=[correctness], args=args, train_dataset=problem_dataset(problems),
                          processing_class=tokenizer, callbacks=[timer])
    trainer.train()
    return timer.times


def ours(cfg, model, tokenizer, problems, task, steps, out_dir, skip=True):
    cfg.train.steps = steps
    timer = StepTimer()

    def stage_factory(trainer):
        return RolloutStage(make_sampler(cfg, trainer.model, tokenizer, task), PlainGRPO(),
                            cfg.rollout.num_generations, steps, cfg.train.seed)

    args = grpo_args(cfg, out_dir)
    args.save_strategy = "no"
    trainer = ScaffoldGRPOTrainer(model=model, tokenizer=tokenizer, args=args, problems=problems,
                                  stage_factory=stage_factory, callbacks=[timer], skip_zero_advantage_rows=skip)
    trainer.train()
    return timer.times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/step_time.json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = RunConfig()
    task = build_task(cfg)
    problems = task.train_problems(2000)
    results = {}
    def ours_all_rows(*args):
        return ours(*args, skip=False)

    for name, fn in (("trl_default", trl_default), ("scaffold_rl", ours), ("scaffold_rl_all_rows", ours_all_rows)):
        model, tokenizer = load_policy(cfg, echo=lambda *x: None)
        times = fn(cfg, model, tokenizer, problems, task, a.steps, Path("/tmp") / f"bench_{name}")
        steady = times[2:]
        results[name] = {"median_s": statistics.median(steady), "mean_s": statistics.mean(steady),
                         "steps": len(times), "all_s": [round(t, 3) for t in times]}
    ratio = results["scaffold_rl"]["median_s"] / results["trl_default"]["median_s"]
    results["ratio_ours_over_trl_default"] = ratio
    results["ratio_all_rows_over_trl_default"] = (results["scaffold_rl_all_rows"]["median_s"]
                                                  / results["trl_default"]["median_s"])
    results["settings"] = {"threads": a.threads, "prompts": cfg.train.prompts_per_step,
                           "generations": cfg.rollout.num_generations, "max_new_tokens": cfg.rollout.max_new_tokens,
                           "torch": torch.__version__}
    print("| trainer | median step (s) | mean step (s) |\n|---|---|---|")
    for name in ("trl_default", "scaffold_rl", "scaffold_rl_all_rows"):
        print(f"| {name} | {results[name]['median_s']:.2f} | {results[name]['mean_s']:.2f} |")
    print(f"ratio (ours / TRL default): {ratio:.2f}; without skipping zero-advantage rows: "
          f"{results['ratio_all_rows_over_trl_default']:.2f}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
