"""Generation throughput of the transformers backend on the embedded base model: dynamic vs static KV cache.

    .venv/bin/python benchmarks/generation.py [--threads 2] [--batch 128] [--repeats 3]

Samples (T=1) a training-sized batch of level-3 prompts and reports generated tokens per second and
completions per second, median of `repeats` runs after one warm-up. Writes benchmarks/results/generation.json.
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
from scaffold_rl.rollout.generation import SamplingParams, TransformersGenerator
from scaffold_rl.tasks import build_task


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/generation.json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = RunConfig()
    model, tok = load_policy(cfg, echo=lambda *x: None)
    task = build_task(cfg)
    problems = task.task.problems("test", 3, a.batch)
    prompts = [tok(p.prompt)["input_ids"] for p in problems]
    params = SamplingParams(max_new_tokens=64)
    results = {}
    for static in (False, True):
        gen = TransformersGenerator(model, tok, batch_size=a.batch, static_cache=static)
        gen.generate(prompts, params, seed=0)  # warm-up
        runs = []
        for r in range(a.repeats):
            before = gen.tokens_generated
            t0 = time.perf_counter()
            out = gen.generate(prompts, params, seed=r + 1)
            dt = time.perf_counter() - t0
            runs.append({"s": dt, "tokens": gen.tokens_generated - before, "completions": len(out)})
        med = statistics.median(r["s"] for r in runs)
        tokens = statistics.median(r["tokens"] for r in runs)
        results["static" if static else "dynamic"] = {"median_s": med, "tokens": tokens,
                                                      "tokens_per_s": tokens / med, "completions_per_s": a.batch / med}
    results["speedup_static"] = results["dynamic"]["median_s"] / results["static"]["median_s"]
    results["settings"] = {"threads": a.threads, "batch": a.batch, "torch": torch.__version__}
    print("| KV cache | s per batch | generated tokens/s | completions/s |\n|---|---|---|---|")
    for k in ("dynamic", "static"):
        r = results[k]
        print(f"| {k} | {r['median_s']:.2f} | {r['tokens_per_s']:.0f} | {r['completions_per_s']:.0f} |")
    print(f"static / dynamic speed-up: {results['speedup_static']:.2f}x")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
