"""Process rewards on the embedded task: label quality, PRM quality, PRM-guided best-of-N, GRPO with a
process reward, and the ProcessBench F1 of the tiny PRM.

    .venv/bin/python benchmarks/prm.py [--label-problems 300] [--completions 8] [--bon-problems 100]
                                       [--grpo-tokens 1500000] [--out benchmarks/results/prm] [--smoke] [overrides ...]

1. Labels: the base policy samples `--solutions` solutions per training problem (levels `--label-levels`);
   Math-Shepherd MC labels (K = `--completions`) and OmegaPRM binary-search labels, each compared with the
   exact labels of the task's arithmetic, with the completions each spent.
2. PRMs (backbone = the base policy, step tag + '+'/'-'): BCE on MC hard labels, on MC soft labels, on exact
   labels (the ceiling of this backbone and data size), and the PPM pairwise loss on MC soft values; step-label
   accuracy vs exact labels on fresh policy samples of held-out problems (levels `--eval-levels`).
3. Best-of-N on `--bon-levels` at N = 1, 4, 16, 64 (64 samples per problem, the first N used): majority vote,
   PRM best-of-N (min aggregation), PRM-weighted vote, and the outcome-verifier oracle (pass@N). Selection uses
   `scaffold_rl/search/voting.py`.
4. GRPO outcome-only vs outcome + 0.5 x process (MC-hard PRM, min) for `--grpo-tokens` tokens of work each, two
   arms in parallel with one thread each, demo config (levels 2,3,3, strict correctness).
5. ProcessBench F1 (gsm8k, math; `--processbench-limit` samples per split) of the MC-hard PRM: a char-level
   2.6 M model that never saw English is expected near chance.

Prints markdown tables and writes prm.json under --out. `--smoke` shrinks everything to a ~2 minute check.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DEMO_CONFIG = Path(__file__).parents[1] / "scaffold_rl" / "configs" / "demo.yaml"


def load_base(cfg):
    from scaffold_rl.models.loading import load_policy

    return load_policy(cfg, echo=lambda m: None)


def label_stage(a, cfg, sampler, task, out: Path) -> dict:
    from scaffold_rl.prm.evaluate import label_agreement
    from scaffold_rl.prm.exact import exact_step_labels
    from scaffold_rl.prm.label import LabelConfig, StepLabeler, write_label_dataset
    from scaffold_rl.steps import segmenter_for

    levels = [int(x) for x in a.label_levels.split(",")]
    per = -(-a.label_problems // len(levels))
    problems = [p for lv in levels for p in task.task.problems("train", lv, per)][: a.label_problems]
    by_id = {p.id: p for p in problems}
    seg = segmenter_for("arithmetic")
    result = {}
    for method in ("mc", "binary"):
        lc = LabelConfig(completions=a.completions, solutions=a.solutions, method=method,
                         max_new_tokens=cfg.rollout.max_new_tokens, temperature=1.0, chunk=16, seed=0)
        path = out / f"labels_{method}.jsonl"
        t0 = time.perf_counter()
        write_label_dataset(StepLabeler(sampler, seg, lc), problems, path, log=lambda m: None)
        rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        exact = [exact_step_labels(by_id[r["problem_id"]], r["steps"]) for r in rows]
        agree = label_agreement([r["hard"] for r in rows], exact)
        agree["completions_per_solution"] = sum(r["completions"] for r in rows) / max(1, len(rows))
        agree["solution_accuracy"] = sum(r["correct"] for r in rows) / max(1, len(rows))
        agree["seconds"] = round(time.perf_counter() - t0, 1)
        result[method] = agree
    return result


def examples_from(path: Path, by_id=None, exact: bool = False):
    from scaffold_rl.prm.data import StepExample, read_step_dataset
    from scaffold_rl.prm.exact import exact_step_labels

    examples = read_step_dataset(path)
    if not exact:
        return examples
    return [StepExample(e.prompt, e.steps, tuple(exact_step_labels(by_id[e.group], list(e.steps))),
                        (None,) * len(e.steps), e.group) for e in examples]


def prm_stage(a, cfg, task, sampler, out: Path) -> tuple[dict, dict]:
    """Train the PRM variants; returns (metrics, {variant: saved path})."""
    from scaffold_rl.prm.evaluate import exact_label_accuracy
    from scaffold_rl.prm.model import PRMConfig, ProcessRewardModel
    from scaffold_rl.prm.train import PRMTrainConfig, train_prm

    levels = [int(x) for x in a.label_levels.split(",")]
    per = -(-a.label_problems // len(levels))
    by_id = {p.id: p for lv in levels for p in task.task.problems("train", lv, per)}
    mc = out / "labels_mc.jsonl"
    variants = {
        "mc_hard": (examples_from(mc), "bce", "hard"),
        "mc_soft": (examples_from(mc), "bce", "soft"),
        "exact": (examples_from(mc, by_id, exact=True), "bce", "hard"),
        "ppm_soft": (examples_from(mc), "ppm", "soft"),
    }
    eval_levels = [int(x) for x in a.eval_levels.split(",")]
    held = {}
    for lv in eval_levels:
        problems = task.task.problems("test", lv, a.eval_problems)
        groups = sampler.sample([(p, None) for p in problems], 1, seed=100 + lv)
        held[lv] = [(p, g[0].text) for p, g in zip(problems, groups)]
    metrics, paths = {}, {}
    for name, (examples, loss, label) in variants.items():
        model, tokenizer = load_base(cfg)
        prm = ProcessRewardModel(model, tokenizer, PRMConfig(head="tag"))
        t0 = time.perf_counter()
        try:
            res = train_prm(prm, examples, [], PRMTrainConfig(loss=loss, label=label, epochs=a.prm_epochs,
                                                              batch_size=16, lr=a.prm_lr, log_every=0),
                            log=lambda m: None)
        except ValueError as err:  # e.g. no preference pairs in a tiny smoke dataset
            metrics[name] = {"error": str(err)}
            continue
        entry = {"train_seconds": round(time.perf_counter() - t0, 1), "updates": res.steps,
                 "final_train_loss": res.history[-1]["loss"] if res.history else None}
        for lv, sols in held.items():
            entry[f"L{lv}"] = exact_label_accuracy(prm.score_steps_batch, sols)
        metrics[name] = entry
        paths[name] = out / f"prm_{name}"
        prm.save(paths[name])
    return metrics, paths


def best_of_n_stage(a, cfg, task, sampler, prm_paths: dict) -> dict:
    from scaffold_rl.prm.model import ProcessRewardModel
    from scaffold_rl.search.scorers import PRMScorer
    from scaffold_rl.search.types import Trajectory
    from scaffold_rl.search.voting import best_scored, pick, tally
    from scaffold_rl.steps import segmenter_for
    from scaffold_rl.verify import canonical_answer

    ns = [int(x) for x in a.n.split(",")]
    seg = segmenter_for("arithmetic")
    scorers = {name: PRMScorer(ProcessRewardModel.load(p), "min") for name, p in prm_paths.items()
               if name in ("mc_hard", "exact")}
    out = {}
    for lv in [int(x) for x in a.bon_levels.split(",")]:
        problems = task.task.problems("test", lv, a.bon_problems)
        groups = sampler.sample([(p, None) for p in problems], max(ns), seed=200 + lv)
        trajs_by_problem = []
        for p, g in zip(problems, groups):
            trajs = []
            for r in g:
                found = task.extract_answer(r.text)
                t = Trajectory(seg.split(r.text), finished=not r.truncated)
                t.answer = canonical_answer(found) if found is not None and not r.truncated else None
                trajs.append((t, r.correct))
            trajs_by_problem.append(trajs)
        scores = {}
        for name, scorer in scorers.items():
            per_problem = []
            for p, trajs in zip(problems, trajs_by_problem):
                scorer.score(p, [t for t, _ in trajs])
                per_problem.append([t.score for t, _ in trajs])
            scores[name] = per_problem
        table = {}
        for n in ns:
            row = {"majority": 0.0, "oracle": 0.0}
            for name in scorers:
                row[f"prm_{name}_bon"] = row[f"prm_{name}_weighted"] = 0.0
            for i, (p, trajs) in enumerate(zip(problems, trajs_by_problem)):
                sub = trajs[:n]
                gold = canonical_answer(p.answer)
                row["majority"] += pick(tally([t for t, _ in sub], weighted=False)) == gold
                row["oracle"] += any(c for _, c in sub)
                for name in scorers:
                    for t, s in zip([t for t, _ in sub], scores[name][i][:n]):
                        t.score = s
                    chosen = best_scored([t for t, _ in sub])
                    row[f"prm_{name}_bon"] += chosen is not None and chosen.answer == gold
                    row[f"prm_{name}_weighted"] += pick(tally([t for t, _ in sub], weighted=True)) == gold
            table[n] = {k: v / len(problems) for k, v in row.items()}
        out[f"L{lv}"] = table
    return out


def grpo_stage(a, out: Path, prm_path: Path) -> dict:
    from scaffold_rl.arms import STEP_CAP, Arm, load_run, run_arms
    from scaffold_rl.config import RunConfig
    from scaffold_rl.configio import load_config
    from scaffold_rl.demo import evaluate_base
    from scaffold_rl.eval.compare import summary_rows

    common = [f"train.steps={STEP_CAP}", f"train.max_tokens={a.grpo_tokens}", "eval.samples=0", "eval.every=0",
              f"eval.n_per_level={a.grpo_eval_problems}", *a.overrides]
    cfg = load_config(RunConfig, DEMO_CONFIG, common)
    base = evaluate_base(cfg, echo=lambda m: None)
    spec = ("reward.spec={correctness: 1.0, process: {weight: %g, prm_path: '%s', aggregate: min}}"
            % (a.process_weight, prm_path))
    arms = [Arm("outcome", ["strategy.name=grpo"]), Arm("outcome_process", ["strategy.name=grpo", spec])]
    grpo_dir = out / "grpo"
    for arm in arms:
        (grpo_dir / arm.name).mkdir(parents=True, exist_ok=True)
        (grpo_dir / arm.name / "eval_base.json").write_text(json.dumps(base, indent=1))
    dirs = run_arms(arms, common, DEMO_CONFIG, grpo_dir, parallel=2, threads=1)
    runs = {arm.name: load_run(d) for arm, d in zip(arms, dirs)}
    rows = summary_rows(runs)
    for row, run in zip(rows, runs.values()):
        steps = run["steps"]
        for key in ("reward/correctness", "reward/process"):
            vals = [s[key] for s in steps if key in s]
            row[key] = sum(vals) / len(vals) if vals else None
    return {"base": {lv: r["greedy"] for lv, r in base["levels"].items()}, "arms": rows}


def print_tables(res: dict) -> None:
    if "labels" in res:
        print("\n### Step labels vs exact labels (policy samples of training problems)\n")
        print("| method | step acc | good-step acc | bad-step acc | majority | first-error acc | completions / "
              "solution | solution acc | s |")
        print("|---|---|---|---|---|---|---|---|---|")
        for m, r in res["labels"].items():
            print(f"| {m} | {r['step_accuracy']:.3f} | {r['good_step_accuracy']:.3f} | {r['bad_step_accuracy']:.3f} | "
                  f"{r['majority_accuracy']:.3f} | {r['first_error_accuracy']:.3f} | "
                  f"{r['completions_per_solution']:.1f} | {r['solution_accuracy']:.3f} | {r['seconds']} |")
    if "prm" in res:
        print("\n### PRM step-label accuracy vs exact labels (held-out problems, fresh policy samples)\n")
        levels = sorted({k for m in res["prm"].values() for k in m if k.startswith("L")})
        print("| PRM | " + " | ".join(f"{lv} step acc / majority / first-error acc" for lv in levels)
              + " | train s |")
        print("|---" * (len(levels) + 2) + "|")
        for name, m in res["prm"].items():
            if "error" in m:
                print(f"| {name} | {m['error']} |")
                continue
            cells = [f"{m[lv]['step_accuracy']:.3f} / {m[lv]['majority_accuracy']:.3f} / "
                     f"{m[lv]['first_error_accuracy']:.3f}" for lv in levels]
            print(f"| {name} | " + " | ".join(cells) + f" | {m['train_seconds']} |")
    if "best_of_n" in res:
        print("\n### Best-of-N on hard levels (accuracy of the chosen answer)\n")
        for lv, table in res["best_of_n"].items():
            cols = list(next(iter(table.values())))
            print(f"{lv}\n\n| N | " + " | ".join(cols) + " |")
            print("|---" * (len(cols) + 1) + "|")
            for n, row in table.items():
                print(f"| {n} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |")
            print()
    if "grpo" in res:
        g = res["grpo"]
        levels = list(g["base"])
        print("\n### GRPO: outcome-only vs outcome + process reward (equal CPU budget)\n")
        print("| arm | " + " | ".join(levels) + " | steps | s/step | mean reward/correctness | mean reward/process |")
        print("|---" * (len(levels) + 5) + "|")
        print("| base | " + " | ".join(f"{g['base'][lv]:.3f}" for lv in levels) + " | | | | |")
        for r in g["arms"]:
            fmt = lambda v: "" if v is None else f"{v:.3f}"  # noqa: E731
            print(f"| {r['arm']} | " + " | ".join(f"{r[f'final/{lv}']:.3f}" for lv in levels)
                  + f" | {r['steps']} | {r['s_per_step']:.2f} | {fmt(r.get('reward/correctness'))} | "
                  f"{fmt(r.get('reward/process'))} |")
    if "processbench" in res:
        pb = res["processbench"]
        print("\n### ProcessBench (tiny char-level PRM, threshold 0.5)\n")
        print("| split | n (err / corr) | acc erroneous | acc correct | F1 |")
        print("|---|---|---|---|---|")
        for split, m in pb["splits"].items():
            print(f"| {split} | {m['n_err']} / {m['n_corr']} | {m['acc_err']:.3f} | {m['acc_corr']:.3f} | "
                  f"{m['f1']:.3f} |")
        print(f"| average F1 | | | | {pb['avg_f1']:.3f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label-problems", type=int, default=300)
    ap.add_argument("--label-levels", default="2,3")
    ap.add_argument("--solutions", type=int, default=4)
    ap.add_argument("--completions", type=int, default=8)
    ap.add_argument("--prm-epochs", type=int, default=4)
    ap.add_argument("--prm-lr", type=float, default=1e-3)
    ap.add_argument("--eval-levels", default="2,3,4")
    ap.add_argument("--eval-problems", type=int, default=100)
    ap.add_argument("--bon-levels", default="3", help="levels for best-of-N (the base model's pass@64: L3 0.6, L4 0)")
    ap.add_argument("--bon-problems", type=int, default=100)
    ap.add_argument("--n", default="1,4,16,64")
    ap.add_argument("--grpo-tokens", type=int, default=1_500_000,
                    help="tokens of work per GRPO run (generated + trained); 0 skips the GRPO comparison")
    ap.add_argument("--grpo-eval-problems", type=int, default=200)
    ap.add_argument("--process-weight", type=float, default=0.5)
    ap.add_argument("--processbench-limit", type=int, default=200, help="0 skips ProcessBench")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/prm"))
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: checks the pipeline in ~2 minutes")
    ap.add_argument("overrides", nargs="*", help="run-config overrides for the policy (e.g. model.path=...)")
    a = ap.parse_args()
    if a.smoke:
        a.label_problems, a.solutions, a.completions, a.prm_epochs = 6, 2, 2, 1
        a.eval_problems, a.bon_problems, a.n, a.processbench_limit = 4, 3, "1,4", 4
        a.grpo_tokens, a.grpo_eval_problems = min(a.grpo_tokens, 20_000), 10
        a.out = a.out.with_name(a.out.name + "_smoke")
    from scaffold_rl.config import RunConfig
    from scaffold_rl.configio import load_config
    from scaffold_rl.prm.cli import policy_sampler
    from scaffold_rl.train.trainer import set_threads

    t0 = time.perf_counter()
    a.out.mkdir(parents=True, exist_ok=True)
    set_threads(a.threads)
    cfg = load_config(RunConfig, DEMO_CONFIG, a.overrides)
    sampler, task = policy_sampler(cfg, echo=lambda m: None)
    res: dict = {"args": {k: str(v) for k, v in vars(a).items()}}
    res["labels"] = label_stage(a, cfg, sampler, task, a.out)
    res["prm"], paths = prm_stage(a, cfg, task, sampler, a.out)
    res["best_of_n"] = best_of_n_stage(a, cfg, task, sampler, paths)
    if a.processbench_limit and "mc_hard" in paths:
        from scaffold_rl.prm.model import ProcessRewardModel
        from scaffold_rl.prm.processbench import evaluate_processbench

        prm = ProcessRewardModel.load(paths["mc_hard"])
        res["processbench"] = evaluate_processbench(prm.score_steps_batch, limit=a.processbench_limit,
                                                    log=lambda m: None)
    if a.grpo_tokens > 0 and "mc_hard" in paths:
        res["grpo"] = grpo_stage(a, a.out, paths["mc_hard"].resolve())
    res["wall_s"] = round(time.perf_counter() - t0)
    (a.out / "prm.json").write_text(json.dumps(res, indent=1, default=str))
    print_tables(res)
    print(f"\nwall time {res['wall_s']} s; {a.out / 'prm.json'}")


if __name__ == "__main__":
    main()
