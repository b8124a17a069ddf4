"""Generation backends and training step time on one device: transformers vs vLLM, same model, same prompts.

    .venv/bin/python benchmarks/scale_out.py [--backends transformers,vllm] [--batch 256] [--repeats 3]
        [--train-steps 5] [overrides ...]          # e.g. model.path=/models/Qwen2.5-0.5B task.name=math500

For each backend: generated tokens/s and completions/s sampling one training-sized batch (T=1, median of
`repeats` after a warm-up), then `--train-steps` GRPO steps through `train()` with rollout.backend set,
reporting the median step time and the peak GPU memory. Use a small model (0.5-1.5 B): the vLLM engine of
the generation measurement and the training run share the process. Prints a markdown table and writes
benchmarks/results/scale_out.json with the device. vLLM needs a CUDA GPU and `pip install 'scaffold-rl[vllm]'`;
its engine is built on the model's folder (model.path, or the embedded model's cache folder).
"""
from __future__ import annotations

import argparse
import gc
import json
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from scaffold_rl.config import RunConfig
from scaffold_rl.configio import load_config
from scaffold_rl.models.loading import load_policy
from scaffold_rl.rollout.generation import SamplingParams, TransformersGenerator
from scaffold_rl.tasks import build_task


def device_name() -> str:
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({torch.get_num_threads()} threads)"


def make_generator(backend: str, model, tok, batch: int):
    if backend == "transformers":
        return TransformersGenerator(model, tok, batch_size=batch)
    from scaffold_rl.rollout.vllm_generation import VLLMGenerator, require_vllm

    vllm = require_vllm()
    llm = vllm.LLM(model=model.name_or_path, gpu_memory_utilization=0.5, seed=0)
    eos = {tok.eos_token_id} | set(_as_list(model.generation_config.eos_token_id))
    return VLLMGenerator(SimpleNamespace(mode="colocate", llm=llm, tensor_parallel_size=1), tok, eos)


def _as_list(x):
    return [] if x is None else list(x) if isinstance(x, (list, tuple)) else [x]


def generation_speed(backend, model, tok, prompts, params, repeats) -> dict:
    gen = make_generator(backend, model, tok, len(prompts))
    gen.generate(prompts, params, seed=0)  # warm-up (compilation, CUDA graphs)
    runs = []
    for r in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        before, t0 = gen.tokens_generated, time.perf_counter()
        gen.generate(prompts, params, seed=r + 1)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        runs.append((time.perf_counter() - t0, gen.tokens_generated - before))
    s = statistics.median(x[0] for x in runs)
    tokens = statistics.median(x[1] for x in runs)
    del gen
    return {"median_s": s, "tokens": tokens, "tokens_per_s": tokens / s, "completions_per_s": len(prompts) / s}


def step_time(cfg: RunConfig, backend: str, steps: int) -> dict:
    from scaffold_rl.train.run import train

    cfg.rollout.backend, cfg.train.steps, cfg.train.save_every = backend, steps, 10**6
    cfg.eval.n_per_level, cfg.eval.samples, cfg.eval.hint_depths = 8, 0, [0]
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = train(cfg, run_dir=Path(tmp) / "run", echo=lambda *a: None, make_report=False)
        records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    times = [r["step_time"] for r in records if "step_time" in r][1:] or [float("nan")]  # first step warms up
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
    return {"median_step_s": statistics.median(times), "steps_timed": len(times), "peak_gpu_gib": peak}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="transformers,vllm")
    ap.add_argument("--batch", type=int, default=256, help="sequences per generation call")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--train-steps", type=int, default=5, help="GRPO steps per backend (0 = generation only)")
    ap.add_argument("--config", type=Path)
    ap.add_argument("--out", default="benchmarks/results/scale_out.json")
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()
    cfg = load_config(RunConfig, a.config, a.overrides)
    model, tok = load_policy(cfg, echo=lambda *x: None)
    if torch.cuda.is_available():
        model = model.to("cuda")
    task = build_task(cfg)
    problems = task.train_problems(a.batch)
    renderer = task.renderer(tok)
    prompts = [renderer.render(problems[i % len(problems)], None).prompt_ids for i in range(a.batch)]
    params = SamplingParams(max_new_tokens=cfg.rollout.max_new_tokens, temperature=1.0)
    results = {"device": device_name(), "model": cfg.model.path or "embedded", "batch": a.batch,
               "max_new_tokens": params.max_new_tokens, "torch": torch.__version__, "backends": {}}
    backends = [b for b in a.backends.split(",") if b]
    for backend in backends:
        results["backends"][backend] = generation_speed(backend, model, tok, prompts, params, a.repeats)
    del model  # training loads its own copy
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    for backend in backends if a.train_steps else ():
        results["backends"][backend].update(
            step_time(load_config(RunConfig, a.config, a.overrides), backend, a.train_steps + 1))
    print(f"device: {results['device']}; model: {results['model']}; batch {a.batch} x {params.max_new_tokens} tokens")
    print("| backend | s per batch | generated tokens/s | completions/s | s per GRPO step | peak GPU GiB |")
    print("|---|---|---|---|---|---|")
    for name, r in results["backends"].items():
        peak = f"{r['peak_gpu_gib']:.1f}" if r.get("peak_gpu_gib") is not None else "-"
        step = f"{r['median_step_s']:.2f}" if "median_step_s" in r else "-"
        print(f"| {name} | {r['median_s']:.2f} | {r['tokens_per_s']:.0f} | {r['completions_per_s']:.1f} | {step} | "
              f"{peak} |")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
