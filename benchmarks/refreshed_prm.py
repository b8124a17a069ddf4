"""A learned reward that is retrained against the policy's hacks (issue 19, part 1): GRPO on the embedded task with
outcome only, outcome + a frozen PRM (the collapse of the process-reward benchmark), and outcome + a PRM refreshed
every K rollout batches on the policy's own samples (`refreshed_process`), at equal token budget, over seeds.

    .venv/bin/python benchmarks/refreshed_prm.py [--seeds 0,1,2] [--tokens 300000 | --steps N | --minutes M]
                                                 [--prompts 8] [--lr 1e-4] [--out benchmarks/results/refreshed_prm]
                                                 [--smoke] [overrides ...]

1. The starting PRM (both PRM arms start from it): the base policy samples `--prm-solutions` solutions of each of
   `--prm-problems` training problems (levels `--prm-levels`), labelled with the task's exact step labels; BCE,
   `--prm-epochs` epochs at lr `--prm-lr` (docs/prm.md's better recipe: 16 epochs at 3e-4); its step accuracy on
   fresh samples of held-out problems is printed (this PRM learns the level prior, as in docs/benchmarks.md).
2. Arms, from the demo's base model and config (train levels 2,3,3, strict correctness), `--prompts` problems x 8
   samples per step at lr `--lr`, each stopped by the budget (default train.max_tokens=`--tokens`: generated +
   trained tokens of the policy, counted exactly; PRM scoring and refreshing are reward-side work that the budget
   does not count: the refreshed PRM's training tokens are reported beside, see train.max_tokens):
     outcome    reward=correctness
     frozen     correctness + `--weight` x process (the PRM above, min, answer gate)
     refreshed  correctness + `--weight` x refreshed_process (the same PRM, retrained every `--every` batches on
                the last `--buffer` samples, exact labels, hard_weight `--hard-weight`, default guard)
3. Prints the per-level greedy accuracy after training (mean +- std over seeds; held-out, `--eval-problems` per
   level), steps, the mean paid PRM score, the final gap (mean paid score - checker score over the last 10 steps),
   the guard's down share, the refreshed PRM's accuracy on fresh samples and the tokens it trained on; then the
   gap curve (by step, mean over
   seeds). Writes refreshed_prm.json and gap.png under --out. Arms run one at a time by default (--parallel 2: two
   at once, one thread each); an interrupted run resumes its arms.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

DEMO_CONFIG = Path(__file__).parents[1] / "scaffold_rl" / "configs" / "demo.yaml"
ARMS = ("outcome", "frozen", "refreshed")


def mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v == v]
    if not values:
        return float("nan"), float("nan")
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def initial_prm(a, cfg, out: Path) -> dict:
    """Train (or reuse) the starting PRM on exact labels of base-policy samples; returns its info."""
    from scaffold_rl.prm.cli import policy_sampler
    from scaffold_rl.prm.data import StepExample
    from scaffold_rl.prm.evaluate import exact_label_accuracy
    from scaffold_rl.prm.exact import exact_labels_of_response
    from scaffold_rl.prm.model import PRMConfig, ProcessRewardModel
    from scaffold_rl.prm.train import PRMTrainConfig, train_prm

    path, info_file = out / "prm_init", out / "prm_init.json"
    key = {k: getattr(a, k) for k in ("prm_problems", "prm_solutions", "prm_levels", "prm_epochs", "prm_lr")}
    cached = info_file.exists() and json.loads(info_file.read_text()).get("key") == key
    if cached and (path / "prm_config.json").exists():
        return json.loads(info_file.read_text())
    sampler, task = policy_sampler(cfg, echo=lambda m: None)
    levels = [int(x) for x in a.prm_levels.split(",")]
    per = -(-a.prm_problems // len(levels))
    problems = [p for lv in levels for p in task.task.problems("train", lv, per)][: a.prm_problems]
    examples = []
    for p, group in zip(problems, sampler.sample([(p, None) for p in problems], a.prm_solutions, seed=11)):
        for r in group:
            steps, labels = exact_labels_of_response(p, r.text)
            if steps:
                examples.append(StepExample(p.prompt, tuple(steps), tuple(labels), (None,) * len(steps), p.id))
    from scaffold_rl.models.loading import load_policy

    model, tokenizer = load_policy(cfg, echo=lambda m: None)
    prm = ProcessRewardModel(model, tokenizer, PRMConfig(head="tag"))
    t0 = time.perf_counter()
    res = train_prm(prm, examples, [], PRMTrainConfig(epochs=a.prm_epochs, lr=a.prm_lr, batch_size=16, log_every=0),
                    log=lambda m: None)
    held = {}
    for lv in (2, 3, 4):
        test = task.task.problems("test", lv, a.eval_problems)
        sols = [(p, g[0].text) for p, g in zip(test, sampler.sample([(p, None) for p in test], 1, seed=100 + lv))]
        held[f"L{lv}"] = exact_label_accuracy(prm.score_steps_batch, sols)
    prm.save(path)
    info = {"key": key, "updates": res.steps, "train_s": round(time.perf_counter() - t0, 1),
            "solutions": len(examples), "held_out": held}
    info_file.write_text(json.dumps(info, indent=1))
    return info


def arm_overrides(a, arm: str, prm_path: Path) -> list[str]:
    if arm == "outcome":
        return ["reward=correctness"]
    if arm == "frozen":
        return ["reward.spec={correctness: 1.0, process: {weight: %g, prm_path: '%s', aggregate: min}}"
                % (a.weight, prm_path)]
    return ["reward.spec={correctness: 1.0, refreshed_process: {weight: %g, prm_path: '%s', aggregate: min, "
            "every: %d, buffer: %d, epochs: %d, lr: %g, hard_weight: %g}}"
            % (a.weight, prm_path, a.every, a.buffer, a.refresh_epochs, a.refresh_lr, a.hard_weight)]


def gap_series(steps: list[dict], arm: str) -> list[float]:
    """Per step: mean paid PRM score - mean checker score (the checker is the correctness term, so the mean gap is
    the difference of the two means); NaN for the outcome arm."""
    key = {"frozen": "reward/process", "refreshed": "reward/refreshed_process/score"}.get(arm)
    if key is None:
        return [float("nan")] * len(steps)
    return [s.get(key, float("nan")) - s.get("reward/correctness", float("nan")) for s in steps]


def summarize(a, runs: dict[str, dict], base: dict) -> dict:
    levels = list(base["levels"])
    table = {}
    for arm in ARMS:
        seeds = [r for name, r in runs.items() if name.rsplit("-s", 1)[0] == arm]
        if not seeds:
            continue
        row = {lv: mean_std([r["final"]["levels"][lv]["greedy"] for r in seeds]) for lv in levels}
        row["steps"] = mean_std([len(r["steps"]) for r in seeds])
        row["tokens"] = mean_std([r["steps"][-1].get("tokens/total", float("nan")) for r in seeds])
        row["correctness"] = mean_std([statistics.mean(s.get("reward/correctness", 0.0) for s in r["steps"])
                                       for r in seeds])
        gaps = [gap_series(r["steps"], arm) for r in seeds]
        row["final_gap"] = mean_std([statistics.mean(g[-10:]) for g in gaps])
        score_key = {"frozen": "reward/process", "refreshed": "reward/refreshed_process/score"}.get(arm)
        row["paid"] = mean_std([statistics.mean(s.get(score_key, float("nan")) for s in r["steps"]) for r in seeds]) \
            if score_key else (float("nan"), float("nan"))
        if arm == "refreshed":
            row["guard_down"] = mean_std([statistics.mean(1.0 - s.get("reward/refreshed_process/weight", 1.0)
                                                          for s in r["steps"]) for r in seeds])
            row["fresh_accuracy"] = mean_std([_mean_of(r["steps"], "reward/refreshed_process/accuracy")
                                              for r in seeds])
            row["fresh_step_accuracy"] = mean_std([_mean_of(r["steps"], "reward/refreshed_process/step_accuracy")
                                                   for r in seeds])
            row["refreshes"] = mean_std([r["steps"][-1].get("reward/refreshed_process/refreshes", 0.0)
                                         for r in seeds])
            row["prm_trained_tokens"] = mean_std([r["steps"][-1].get("reward/refreshed_process/trained_tokens",
                                                                     float("nan")) for r in seeds])
        n = min(len(g) for g in gaps)
        row["gap_curve"] = [statistics.mean(g[i] for g in gaps) for i in range(n)]
        table[arm] = row
    return table


def _mean_of(steps: list[dict], key: str) -> float:
    """Mean of a metric over the steps after it first appears (the accuracy exists from the first refresh on)."""
    values = [s[key] for s in steps if key in s]
    return statistics.mean(values) if values else float("nan")


def print_tables(prm_info: dict, base: dict, table: dict, seeds: int, budget: str) -> None:
    print("\n### Starting PRM (exact labels of base-policy samples): step accuracy on fresh held-out samples\n")
    print("| level | step acc | majority label | first-error acc |\n|---|---|---|---|")
    for lv, m in prm_info["held_out"].items():
        print(f"| {lv} | {m['step_accuracy']:.3f} | {m['majority_accuracy']:.3f} | {m['first_error_accuracy']:.3f} |")
    levels = list(base["levels"])
    fmt = lambda ms: "" if ms[0] != ms[0] else f"{ms[0]:.3f} ± {ms[1]:.3f}"  # noqa: E731
    print(f"\n### GRPO at equal budget ({budget} per arm, {seeds} seeds; greedy held-out accuracy, mean ± std)\n")
    print("| arm | " + " | ".join(levels) + " | steps | policy tokens | mean correctness | mean paid PRM score | "
          "final gap | guard down | fresh acc (sol / step) | PRM trained tokens |")
    print("|---" * (len(levels) + 9) + "|")
    print("| base | " + " | ".join(f"{base['levels'][lv]['greedy']:.3f}" for lv in levels) + " | | | | | | | | |")
    for arm, row in table.items():
        fresh = ""
        if "fresh_accuracy" in row:
            fresh = f"{row['fresh_accuracy'][0]:.3f} / {row['fresh_step_accuracy'][0]:.3f}"
        prm_tokens = row.get("prm_trained_tokens", (float("nan"),))[0]
        print(f"| {arm} | " + " | ".join(fmt(row[lv]) for lv in levels) + f" | {row['steps'][0]:.0f} | "
              f"{row['tokens'][0]:.0f} | {fmt(row['correctness'])} | {fmt(row['paid'])} | {fmt(row['final_gap'])} | "
              f"{fmt(row.get('guard_down', (float('nan'), 0)))} | {fresh} | "
              f"{'' if prm_tokens != prm_tokens else f'{prm_tokens:.0f}'} |")
    print("\n### Gap (mean paid PRM score - mean checker score), by step, mean over seeds\n")
    curves = {arm: row["gap_curve"] for arm, row in table.items() if arm != "outcome"}
    if curves:
        n = max(len(c) for c in curves.values())
        marks = sorted({0, *range(9, n, 10), n - 1})
        print("| step | " + " | ".join(curves) + " |")
        print("|---" * (len(curves) + 1) + "|")
        for i in marks:
            print(f"| {i + 1} | " + " | ".join(f"{c[i]:.3f}" if i < len(c) else "" for c in curves.values()) + " |")


def plot_gap(table: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for arm, row in table.items():
        if arm != "outcome":
            ax.plot(range(1, len(row["gap_curve"]) + 1), row["gap_curve"], label=arm)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("step")
    ax.set_ylabel("paid PRM score - checker")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--prompts", type=int, default=8, help="train.prompts_per_step (8 samples each)")
    ap.add_argument("--lr", type=float, default=1e-4, help="policy learning rate (the demo's 2e-4 at 8 prompts per "
                    "step degrades even the outcome-only arm: L1 0.48, L2 0.12 after 300k tokens)")
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--weight", type=float, default=0.5, help="weight of the PRM term")
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--buffer", type=int, default=512)
    ap.add_argument("--refresh-epochs", type=int, default=2)
    ap.add_argument("--refresh-lr", type=float, default=3e-4)
    ap.add_argument("--hard-weight", type=float, default=4.0)
    ap.add_argument("--prm-problems", type=int, default=200)
    ap.add_argument("--prm-solutions", type=int, default=4)
    ap.add_argument("--prm-levels", default="2,3")
    ap.add_argument("--prm-epochs", type=int, default=8)
    ap.add_argument("--prm-lr", type=float, default=3e-4)
    ap.add_argument("--eval-problems", type=int, default=100)
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/refreshed_prm"))
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: checks the pipeline in a few minutes")
    ap.add_argument("overrides", nargs="*", help="run-config overrides for every arm")
    from scaffold_rl.arms import add_budget_args, budget_overrides

    add_budget_args(ap, tokens=300_000)
    a = ap.parse_args()
    if a.smoke:
        a.seeds, a.tokens, a.steps, a.minutes, a.prompts, a.every, a.buffer = "0", 15_000, None, None, 4, 2, 64
        a.prm_problems, a.prm_solutions, a.prm_epochs, a.eval_problems = 8, 2, 1, 10
        a.out = a.out.with_name(a.out.name + "_smoke")
    from scaffold_rl.arms import Arm, cached_json, load_run, run_arms
    from scaffold_rl.config import RunConfig
    from scaffold_rl.configio import load_config
    from scaffold_rl.demo import evaluate_base
    from scaffold_rl.runtime import set_threads

    t0 = time.perf_counter()
    a.out.mkdir(parents=True, exist_ok=True)
    set_threads(1)
    limits, budget_text = budget_overrides(a)
    common = [*limits, f"train.prompts_per_step={a.prompts}", f"train.lr={a.lr}", "eval.samples=0", "eval.every=0",
              "eval.hard_samples=0",
              f"eval.n_per_level={a.eval_problems}", "train.save_every=10", *a.overrides]
    cfg = load_config(RunConfig, DEMO_CONFIG, common)
    prm_info = initial_prm(a, cfg, a.out)
    print(f"starting PRM: {prm_info['updates']} updates on {prm_info['solutions']} solutions")
    base = cached_json(a.out / "base_eval.json", {"common": common},
                       lambda: evaluate_base(cfg, echo=lambda m: None))
    prm_path = (a.out / "prm_init").resolve()
    arms = [Arm(f"{arm}-s{seed}", [f"train.seed={seed}", *arm_overrides(a, arm, prm_path)])
            for seed in [int(s) for s in a.seeds.split(",")] for arm in a.arms.split(",")]
    for arm in arms:
        (a.out / arm.name).mkdir(parents=True, exist_ok=True)
        (a.out / arm.name / "eval_base.json").write_text(json.dumps(base, indent=1))
    dirs = run_arms(arms, common, DEMO_CONFIG, a.out, parallel=a.parallel, threads=1)
    runs = {arm.name: load_run(d) for arm, d in zip(arms, dirs)}
    table = summarize(a, runs, base)
    res = {"args": {k: str(v) for k, v in vars(a).items()}, "budget": budget_text, "prm": prm_info,
           "base": {lv: r["greedy"] for lv, r in base["levels"].items()}, "arms": table,
           "wall_s": round(time.perf_counter() - t0)}
    (a.out / "refreshed_prm.json").write_text(json.dumps(res, indent=1, default=str))
    plot_gap(table, a.out / "gap.png")
    print_tables(prm_info, base, table, len(a.seeds.split(",")), budget_text)
    print(f"\nwall time {res['wall_s']} s; {a.out / 'refreshed_prm.json'}")


if __name__ == "__main__":
    main()
