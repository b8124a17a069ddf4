"""The label-free benchmark (issue 5; Xin et al., arXiv 2505.19439 at small scale): a base model that reasons
better than it answers, trained with ground-truth correctness, format only, or format + length.

    .venv/bin/python benchmarks/label_free.py [--seeds 0,1,2] [--tokens 600000 | --steps N | --minutes M] [--share 0.5]
                                              [--out benchmarks/results/label_free] [overrides ...]

The base model is the demo's, pretrained with `model.pretrain.bad_answer_share` (default 0.5): problems whose
start value ends in 0-4 (`model.pretrain.bad_answer_key=question`; a habit the policy cannot escape by changing
its arithmetic) end, in 80 % of their documents, without a parsable `A:<n>` line, so its chains are right more
often than its answers. Arms, from that one base model, at equal CPU-time budget, one thread each, two
at a time (scaffold_rl/arms.py):

  correctness    reward.kind=answer: 1 when the final answer verifies (needs gold answers)
  format         reward=format, training answers removed (task.hide_train_answers=true)
  format_length  reward=format_length, training answers removed; the length turning point at the base
                 model's mean response length on the training levels (max_length = that / p)

Evaluation always grades answers against gold (greedy, held-out). Prints per level the base model's answer
and chain accuracy, each arm's answer accuracy after training (mean +- std over seeds) and chain accuracy,
and the gain of each label-free arm on the training levels as a share of the correctness arm's gain; writes
label_free.json and the comparison report. Takes about 3 x seeds x (minutes of training + 1.5) / 2 minutes, plus the
base model's pretraining (about 8 minutes at one thread) the first time.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

from scaffold_rl.arms import Arm, add_budget_args, budget_overrides, cached_json, load_run, run_arms, split_arm_specs
from scaffold_rl.config import RunConfig
from scaffold_rl.configio import load_config
from scaffold_rl.demo import evaluate_base
from scaffold_rl.eval.compare import summary_rows, write_comparison
from scaffold_rl.eval.held_out import eval_max_new_tokens
from scaffold_rl.train.trainer import set_threads

DEMO_CONFIG = Path(__file__).parents[1] / "scaffold_rl" / "configs" / "demo.yaml"
ARMS: dict[str, list[str]] = {
    "correctness": [],
    "format": ["reward=format", "task.hide_train_answers=true"],
    "format_length": ["task.hide_train_answers=true"],  # + the reward spec with the measured max_length
}
TURNING_POINT = 0.5  # the paper's p


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def chain_and_answer(cfg: RunConfig, model_path: Path | None = None) -> dict[str, dict[str, float]]:
    """Greedy held-out accuracy per level of the base model (or the model at `model_path`): `answer` (the final
    answer verifies), `chain` (the response starts with the whole reference chain: the reasoning is right,
    whatever follows) and `format` (a parsable answer line)."""
    from scaffold_rl.models.loading import load_policy
    from scaffold_rl.rewards.correctness import Score
    from scaffold_rl.rollout.generation import SamplingParams
    from scaffold_rl.tasks import build_task
    from scaffold_rl.train.run import make_sampler

    if model_path is not None:
        cfg = replace(cfg, model=replace(cfg.model, path=str(model_path)))
    model, tokenizer = load_policy(cfg, echo=lambda *a: None)
    task = build_task(cfg)
    sampler = make_sampler(cfg, model, tokenizer, task, evaluation=True)
    sampler.reward = lambda problem, response: Score(0.0, False)  # scored below, three ways
    params = SamplingParams(max_new_tokens=eval_max_new_tokens(cfg), greedy=True)
    out = {}
    for level, problems in task.eval_problems(cfg.eval.n_per_level).items():
        groups = sampler.sample([(p, None) for p in problems], 1, seed=1234, params=params)
        texts = [(p, g[0].text) for p, g in zip(problems, groups)]
        answers = [(p, task.extract_answer(t)) for p, t in texts]
        n = max(1, len(problems))
        out[f"L{level}"] = {
            "answer": sum(a is not None and int(a) == int(p.answer) for p, a in answers) / n,
            "chain": sum(t.startswith("".join(p.solution_steps)) for p, t in texts) / n,
            "format": sum(a is not None for _, a in answers) / n,
            "tokens": sum(len(g[0].completion_ids) for g in groups) / n,  # generated tokens, EOS included
        }
    return out


def gain(final: dict, base: dict, levels: list[str]) -> float:
    """Mean accuracy gain over `levels` (the training levels)."""
    return statistics.mean(final[lv] - base[lv] for lv in levels)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arms", default=",".join(ARMS), help=f"subset of {list(ARMS)}")
    ap.add_argument("--seeds", default="0,1,2")
    add_budget_args(ap, tokens=600_000)
    ap.add_argument("--share", type=float, default=0.5, help="model.pretrain.bad_answer_share of the base model")
    ap.add_argument("--levels", default="1,2", help="training levels (the base model reasons on 1-2)")
    ap.add_argument("--parallel", type=int, default=2, help="runs at once (one thread each)")
    ap.add_argument("--base-only", action="store_true",
                    help="only pretrain (or load) the base model and print its answer / chain / format accuracy")
    ap.add_argument("--config", type=Path, default=DEMO_CONFIG)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/label_free"))
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()
    t0 = time.perf_counter()
    seeds = [int(s) for s in a.seeds.split(",")]
    names = split_arm_specs(a.arms)
    train_levels = [int(x) for x in a.levels.split(",")]
    limits, budget_text = budget_overrides(a)
    common = limits + ["eval.samples=0", "eval.every=50",
              "reward.kind=answer", f"model.pretrain.bad_answer_share={a.share}",
              f"task.train_levels=[{a.levels}]", "strategy.name=grpo"] + a.overrides
    cfg = load_config(RunConfig, a.config, common)
    set_threads(cfg.train.threads)  # the main process: pretraining and the habit measurement
    if a.base_only:
        base_habits = chain_and_answer(cfg)  # pretrains the habit model first if it is not cached
    else:  # the base model's measurements, shared by re-runs with the same base
        base_habits, base = cached_json(a.out.parent / "label_free_base.json",
                                        {"config": a.config, "share": a.share, "levels": a.levels,
                                         "habit": cfg.model.pretrain.bad_answer_key, "measures": 2},
                                        lambda: (chain_and_answer(cfg), evaluate_base(cfg)))
    print("base model (greedy): " + " ".join(
        f"{lv} answer={v['answer']:.3f} chain={v['chain']:.3f} format={v['format']:.3f} tokens={v['tokens']:.1f}"
        for lv, v in base_habits.items()))
    if a.base_only:
        return
    # The length term's turning point sits at the base model's own mean response length on the training levels
    # (measured without labels). At p x max_new_tokens it sat at twice the natural length, and the policy padded
    # its answers to get there (docs/benchmarks.md).
    natural = statistics.mean(base_habits[f"L{lv}"]["tokens"] for lv in train_levels)
    max_length = round(natural / TURNING_POINT)
    print(f"format_length: max_length {max_length} (turning point {TURNING_POINT} at the base model's mean "
          f"response length {natural:.1f} tokens)")
    arm_overrides = {**ARMS, "format_length": ARMS["format_length"] + [
        f"reward.spec={{format_length: {{max_length: {max_length}, p: {TURNING_POINT}}}}}"]}
    arms = [Arm(f"{name}-s{seed}", arm_overrides[name] + [f"train.seed={seed}"]) for name in names for seed in seeds]
    for arm in arms:
        (a.out / arm.name).mkdir(parents=True, exist_ok=True)
        (a.out / arm.name / "eval_base.json").write_text(json.dumps(base, indent=1))
    run_dirs = run_arms(arms, common, a.config, a.out, parallel=a.parallel, threads=1)
    runs = {arm.name: load_run(d) for arm, d in zip(arms, run_dirs)}
    rows = summary_rows(runs)
    after_chain = {arm.name: chain_and_answer(cfg, d / "final") for arm, d in zip(arms, run_dirs)}

    levels = list(base["levels"])
    base_acc = {lv: base["levels"][lv]["greedy"] for lv in levels}
    trained = [f"L{lv}" for lv in sorted(set(train_levels)) if f"L{lv}" in levels]
    summary = {}
    for name in names:
        mine = [arm.name for arm in arms if arm.name.rsplit("-s", 1)[0] == name]
        finals = {n: {lv: runs[n]["final"]["levels"][lv]["greedy"] for lv in levels} for n in mine}
        summary[name] = {
            "answer": {lv: mean_std([f[lv] for f in finals.values()]) for lv in levels},
            "chain": {lv: mean_std([after_chain[n][lv]["chain"] for n in mine]) for lv in levels},
            "gain": mean_std([gain(f, base_acc, trained) for f in finals.values()]),
            "steps": mean_std([len(runs[n]["steps"]) for n in mine]),
        }
    ref = summary.get("correctness", {}).get("gain", (float("nan"), 0.0))[0]
    for entry in summary.values():
        entry["share_of_correctness_gain"] = entry["gain"][0] / ref if ref else float("nan")

    print(f"\nAnswer accuracy (greedy, held-out, {cfg.eval.n_per_level} per level); chain = reasoning right, "
          f"whatever the answer line. Gain: mean over training levels {', '.join(trained)}.\n")
    print("| model | " + " | ".join(f"{lv} answer | {lv} chain" for lv in levels)
          + " | gain | share of correctness gain | steps |")
    print("|---" * (2 * len(levels) + 4) + "|")
    print("| base | " + " | ".join(f"{base_acc[lv]:.3f} | {base_habits[lv]['chain']:.3f}" for lv in levels)
          + " | | | |")
    for name, e in summary.items():
        cells = [f"{e['answer'][lv][0]:.3f} ± {e['answer'][lv][1]:.3f} | {e['chain'][lv][0]:.3f}" for lv in levels]
        print(f"| {name} | " + " | ".join(cells) + f" | {e['gain'][0]:+.3f} ± {e['gain'][1]:.3f} | "
              f"{e['share_of_correctness_gain']:.0%} | {e['steps'][0]:.0f} |")
    result = {"summary": summary, "rows": rows, "base": base["levels"], "base_habits": base_habits,
              "length_max_length": max_length, "after_habits": after_chain, "budget": budget_text, "share": a.share,
              "seeds": seeds,
              "train_levels": trained, "overrides": a.overrides, "wall_s": round(time.perf_counter() - t0)}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "label_free.json").write_text(json.dumps(result, indent=1, default=str))
    write_comparison(runs, a.out, f"Label-free benchmark ({budget_text} per run, 1 thread)",
                     hard_level=trained[-1])
    print(f"\nwall time {result['wall_s']} s; report {a.out / 'report.md'}")


if __name__ == "__main__":
    main()
