"""Compute curves of test-time search: accuracy vs generated tokens and vs N for every method, at several N.

    .venv/bin/python benchmarks/search_curves.py [--levels 3,4] [--problems 50] [--ns 1,2,4,8,16]
        [--methods majority,best_of_n,weighted_best_of_n,beam,dvts,mcts] [--scorer exact|verifier|prm:PATH]
        [--threads 2] [--smoke] [run-config overrides: model.path=... task.name=math500 ...]

Default: the embedded base model on its hard levels (3 = the cliff, 4 = beyond), with the exact step labels
as the scorer (a perfect PRM, marked oracle in the table); pass `--scorer prm:PATH` for a trained PRM. Any
benchmark file and local model work through the overrides (`task.name=math500 model.path=/models/qwen`;
then `--levels` is ignored and the first `--problems` problems are searched). Majority vote never uses
the scorer. Writes benchmarks/results/search_curves.json (the table) and search_curves.png (the curves).
MCTS's N is its number of iterations, each expanding `search.k` = 4 steps, so its tokens grow ~4x faster:
compare methods along the token axis.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import torch

from scaffold_rl.eval.held_out import eval_max_new_tokens


def method_config(method: str, n: int, base: dict):
    from scaffold_rl.search.types import SearchConfig

    m = min(4, n)
    extra = {"mcts": {"k": 4, "mcts_eval": "scorer"}}.get(method, {})
    return SearchConfig(**{**base, "n": n, "m": m, **extra})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", default="3,4")
    ap.add_argument("--problems", type=int, default=50, help="problems per level")
    ap.add_argument("--ns", default="1,2,4,8,16")
    ap.add_argument("--methods", default="majority,best_of_n,weighted_best_of_n,beam,dvts,mcts")
    ap.add_argument("--scorer", default="exact")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--smoke", action="store_true", help="2 problems, N in {1, 2}: checks the wiring only")
    ap.add_argument("--out", default="benchmarks/results/search_curves.json")
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    from scaffold_rl.config import RunConfig
    from scaffold_rl.configio import load_config
    from scaffold_rl.models.loading import load_policy
    from scaffold_rl.search.build import answer_checker, make_scorer, make_search_policy, search_many
    from scaffold_rl.tasks import build_task

    cfg = load_config(RunConfig, None, a.overrides)
    levels = [int(x) for x in a.levels.split(",") if x]
    problems_per_level = 2 if a.smoke else a.problems
    ns = [1, 2] if a.smoke else [int(x) for x in a.ns.split(",")]
    methods = [m for m in a.methods.split(",") if m]
    task = build_task(cfg)
    if cfg.task.name == "arithmetic":
        by_level = {lv: task.task.problems("test", lv, problems_per_level) for lv in levels}
    else:
        by_level = task.eval_problems(problems_per_level)
    model, tokenizer = load_policy(cfg, echo=lambda *x: None)
    scorer = make_scorer(a.scorer, cfg, task, "min")
    oracle = getattr(scorer, "oracle", False)
    is_correct = answer_checker(cfg, task)
    rows = []
    print(f"scorer: {a.scorer}{' (oracle: uses the gold answer)' if oracle else ''}; model: "
          f"{cfg.model.path or 'embedded'}; task: {cfg.task.name}")
    print("| method | N | level | accuracy | tokens/problem | no answer | s |\n|---|---|---|---|---|---|---|")
    for method in methods:
        for n in ns:
            scfg = method_config(method, n, {"max_new_tokens": eval_max_new_tokens(cfg)})
            for level, problems in sorted(by_level.items()):
                policy = make_search_policy(cfg, scfg, model, tokenizer, task)
                totals, _ = search_many(method, policy, problems, None if method == "majority" else scorer, scfg,
                                        is_correct)
                row = {"method": method, "n": n, "level": level, **totals,
                       "scorer": "none" if method == "majority" else a.scorer,
                       "oracle": oracle and method != "majority",
                       "search": asdict(scfg)}
                rows.append(row)
                print(f"| {method} | {n} | L{level} | {row['accuracy']:.3f} | {row['tokens_per_problem']:.0f} | "
                      f"{row['no_answer']:.2f} | {row['seconds']} |", flush=True)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"model": cfg.model.path or "embedded", "task": cfg.task.name, "scorer": a.scorer, "oracle": oracle,
            "problems_per_level": problems_per_level, "threads": a.threads, "time": time.strftime("%Y-%m-%d %H:%M")}
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    plot(rows, out.with_suffix(".png"), title=f"{meta['task']} / {meta['model']} / scorer {a.scorer}")
    print(f"wrote {out} and {out.with_suffix('.png')}")


def plot(rows: list[dict], path: Path, title: str) -> None:
    """Per level (one row of panels each): accuracy vs tokens per problem (log x) and vs N, a line per method.
    Levels are not averaged: a flat level (every method at 0) would hide the curves of the others."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = list(dict.fromkeys(r["level"] for r in rows))
    fig, axes = plt.subplots(len(levels), 2, figsize=(11, 3.6 * len(levels)), squeeze=False)
    for (ax_tok, ax_n), level in zip(axes, levels):
        mine = [r for r in rows if r["level"] == level]
        for method in dict.fromkeys(r["method"] for r in mine):
            sel = sorted((r for r in mine if r["method"] == method), key=lambda r: r["n"])
            ax_tok.plot([r["tokens_per_problem"] for r in sel], [r["accuracy"] for r in sel], marker="o", label=method)
            ax_n.plot([r["n"] for r in sel], [r["accuracy"] for r in sel], marker="o", label=method)
        ax_tok.set_xscale("log")
        ax_tok.set_xlabel("generated tokens per problem")
        ax_n.set_xscale("log", base=2)
        ax_n.set_xlabel("N (samples / beams / MCTS iterations)")
        for ax in (ax_tok, ax_n):
            ax.set_ylabel(f"accuracy, {level}" if isinstance(level, str) else f"accuracy, L{level}")
            ax.grid(alpha=0.3)
        ax_n.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
