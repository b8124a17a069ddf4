"""Where does the base model's chain first go wrong? The step a hint must reach, per level and hint depth.

    .venv/bin/python benchmarks/first_error.py [--config scaffold_rl/configs/demo.yaml] [--levels 3]
                                               [--depths 0,1,2] [--problems 100] [--samples 8] [overrides ...]

For each level and solution-prefix hint depth k (the first k reference steps given), samples completions of
held-out problems and records the first step that differs from the reference (1-based; "answer" when every
step is right but the answer line is not; "right" when the whole chain is). A faithful Scaf-GRPO rescue trains
only what the model writes after its hint, so it can teach the missing skill only when the first errors lie
beyond the smallest hint that succeeds (docs/strategies.md). Writes benchmarks/results/first_error.json.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import torch

from scaffold_rl.config import RunConfig
from scaffold_rl.configio import load_config
from scaffold_rl.models.loading import load_policy
from scaffold_rl.prm.exact import exact_labels_of_response, first_error
from scaffold_rl.rollout.generation import SamplingParams
from scaffold_rl.tasks import build_task
from scaffold_rl.train.run import make_sampler
from scaffold_rl.types import Hint, Problem

DEMO_CONFIG = Path(__file__).parents[1] / "scaffold_rl" / "configs" / "demo.yaml"


def first_wrong_step(problem: Problem, response: str) -> str:
    """'1'..'L' (first wrong step), 'answer' (every step right, answer line wrong or missing) or 'right'."""
    steps, labels = exact_labels_of_response(problem, response)
    wrong = first_error(labels)
    if wrong == -1 and len(steps) == len(problem.solution_steps) + 1:
        return "right"
    if wrong == -1:  # stopped early or rambled on: the first step that is missing or extra
        wrong = len(steps) if len(steps) < len(problem.solution_steps) else len(problem.solution_steps)
    return str(wrong + 1) if wrong < len(problem.solution_steps) else "answer"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=DEMO_CONFIG)
    ap.add_argument("--levels", default="3")
    ap.add_argument("--depths", default="0,1,2")
    ap.add_argument("--problems", type=int, default=100)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/first_error.json"))
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = load_config(RunConfig, a.config, a.overrides)
    task = build_task(cfg)
    model, tok = load_policy(cfg, echo=lambda *x: None)
    sampler = make_sampler(cfg, model, tok, task)
    params = SamplingParams(max_new_tokens=cfg.rollout.max_new_tokens, temperature=cfg.rollout.temperature)
    result = {}
    for level in [int(x) for x in a.levels.split(",")]:
        problems = task.task.problems("test", level, a.problems)
        for depth in [int(x) for x in a.depths.split(",")]:
            if depth >= level:
                continue
            items = [(p, Hint("".join(p.solution_steps[:depth]), "solution", depth, placement="response", scored=True)
                      if depth else None) for p in problems]
            groups = sampler.sample(items, a.samples, seed=level * 100 + depth, params=params)
            counts = Counter(first_wrong_step(r.problem, r.text) for g in groups for r in g)
            total = sum(counts.values())
            result[f"L{level}/k={depth}"] = {k: counts[k] / total for k in sorted(counts)}
    keys = sorted({k for v in result.values() for k in v}, key=lambda k: (not k.isdigit(), k))
    print("| level / hint depth | " + " | ".join(f"first error at {k}" if k.isdigit() else k for k in keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name, dist in result.items():
        print(f"| {name} | " + " | ".join(f"{dist.get(k, 0.0):.3f}" for k in keys) + " |")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"config": str(a.config), "overrides": a.overrides, "result": result}, indent=1))


if __name__ == "__main__":
    main()
