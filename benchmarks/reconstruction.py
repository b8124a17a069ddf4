"""Does the reconstruction reward measure what a summary kept? (issue 19, part 2) The summaries task's frozen
reconstructor scores summaries whose content is known exactly, then the task's policy's own summaries, and
optionally before and after a short GRPO run on the reward.

    .venv/bin/python benchmarks/reconstruction.py [--levels 2,3,4,6,8] [--problems 40]
                                                  [--rl [--tokens 200000 | --steps N | --minutes M]]
                                                  [--out benchmarks/results/reconstruction] [overrides ...]

1. Constructed summaries of held-out documents: for every document of n facts and every k = 0..n, the values of a
   random k facts (document order, space-separated), scored by the reward's gain (normalise=tokens, and prior)
   without the budget guard, so the relation to k is seen whole. Prints the mean gain per k (pooled, and per
   level), Spearman's rho between k and the gain (pooled and within each level), whether the mean rises strictly
   with k on every level, and variants at the same k: key=value style, shuffled order, and one kept value
   replaced by a made-up one (it should cost).
2. The task's base policy (T = 1, `--samples` per document): the guarded reward against the exact metric (facts
   recovered), Spearman's rho between the two over summaries within the budget, and the share over the budget.
3. With `--rl`: `scaffold-rl train task.name=summaries reward=reconstruction` (train levels `--rl-levels`, one
   thread) for the budget (default train.max_tokens=`--tokens`: the policy's generated + trained tokens; the
   reconstructor's forward passes are reward-side work the budget does not count), then stage 2 again on the
   trained policy: reward, facts kept, over-budget share and exact accuracy (as many facts as the budget allows)
   before and after.

Writes reconstruction.json under --out.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path


def mean(values):
    values = list(values)
    return statistics.mean(values) if values else float("nan")


def constructed(a, task, term) -> dict:
    from scipy.stats import spearmanr

    from scaffold_rl.data.documents import FIELDS, FIELD_ORDER, compact_summary, summary_length

    rng = random.Random(0)
    rows, variants = [], []
    prior = type(term)(term.reconstructor, normalise="prior")
    held = task.eval_problems(a.problems)
    for level in a.levels:
        for p in held.get(level, []):
            facts, doc = p.meta["facts"], p.meta["document"]
            keys = [k for k in FIELD_ORDER if k in facts]
            for k in range(len(keys) + 1):
                kept = rng.sample(keys, k)
                s = compact_summary(facts, kept)
                rows.append({"level": level, "k": k, "gain": term.gain(s, doc), "prior": prior.gain(s, doc),
                             "within_budget": summary_length(s) <= p.meta["budget"]})
            k = min(3, len(keys))
            chosen = set(rng.sample(keys, k))
            kept = [x for x in keys if x in chosen]
            base = term.gain(compact_summary(facts, kept), doc)
            shuffled = [facts[x] for x in kept]
            rng.shuffle(shuffled)
            wrong_key = kept[-1]
            made_up = rng.choice([v for v in FIELDS[wrong_key] if v != facts[wrong_key]])
            wrong = " ".join(made_up if x == wrong_key else facts[x] for x in kept)
            variants.append({"level": level, "compact": base,
                             "key=value": term.gain(";".join(f"{x}={facts[x]}" for x in kept), doc),
                             "shuffled": term.gain(" ".join(shuffled), doc),
                             "one made-up value": term.gain(wrong, doc),
                             "one fewer (k-1)": term.gain(compact_summary(facts, kept[:-1]), doc)})
    by_level = {}
    for level in a.levels:
        rs = [r for r in rows if r["level"] == level]
        if not rs:
            continue
        means = [mean(r["gain"] for r in rs if r["k"] == k) for k in range(level + 1)]
        by_level[level] = {"mean_gain_by_k": means, "rho": spearmanr([r["k"] for r in rs], [r["gain"] for r in rs])[0],
                           "monotone": all(x < y for x, y in zip(means, means[1:]))}
    ks = sorted({r["k"] for r in rows})
    pooled = {k: {"gain": mean(r["gain"] for r in rows if r["k"] == k),
                  "prior": mean(r["prior"] for r in rows if r["k"] == k),
                  "sd": statistics.pstdev([r["gain"] for r in rows if r["k"] == k]),
                  "n": sum(r["k"] == k for r in rows)} for k in ks}
    return {"rows": len(rows), "pooled": pooled, "levels": by_level,
            "rho": spearmanr([r["k"] for r in rows], [r["gain"] for r in rows])[0],
            "rho_prior": spearmanr([r["k"] for r in rows], [r["prior"] for r in rows])[0],
            "variants": {key: mean(v[key] for v in variants) for key in variants[0] if key != "level"}}


def policy_samples(a, cfg, task, term, model_path: str | None = None) -> dict:
    """The policy's summaries (T = 1) of held-out documents: reward, exact metric, budget use, per level."""
    from dataclasses import replace

    from scipy.stats import spearmanr

    from scaffold_rl.models.loading import load_policy
    from scaffold_rl.rewards.composite import RewardContext
    from scaffold_rl.rollout.generation import SamplingParams, TransformersGenerator
    from scaffold_rl.rollout.sampler import Sampler
    from scaffold_rl.tasks.summaries import SummaryScorer

    if model_path:
        cfg = replace(cfg, model=replace(cfg.model, path=model_path))
    model, tokenizer = load_policy(cfg, echo=lambda m: None)
    sampler = Sampler(TransformersGenerator(model, tokenizer), task.renderer(tokenizer), SummaryScorer(), tokenizer,
                      SamplingParams(max_new_tokens=cfg.rollout.max_new_tokens, temperature=1.0))
    out, pairs = {}, []
    for level, problems in task.eval_problems(a.problems).items():
        groups = sampler.sample([(p, None) for p in problems], a.samples, seed=5)
        scored = [(r, term(RewardContext(r.problem, r.text))) for g in groups for r in g]
        out[f"L{level}"] = {"reward": mean(s.reward for _, s in scored),
                            "facts_kept": mean(s.terms["facts_kept"] for _, s in scored),
                            "over_budget": mean(s.terms["over_budget"] for _, s in scored),
                            "degenerate": mean(s.terms["degenerate"] for _, s in scored),
                            "exact_accuracy": mean(r.correct for r, _ in scored),
                            "example": scored[0][0].text}
        pairs += [(s.terms["facts_kept"] * level, s.reward) for _, s in scored
                  if not s.terms["over_budget"] and not s.terms["degenerate"]]
    rho = spearmanr([p[0] for p in pairs], [p[1] for p in pairs])[0] if len(pairs) > 2 else float("nan")
    return {"levels": out, "rho_facts_vs_reward": rho, "scored_within_budget": len(pairs)}


def rl_run(a, out: Path) -> Path:
    from scaffold_rl.arms import Arm, budget_overrides, run_arms

    limits, _ = budget_overrides(a)
    common = ["task.name=summaries", "reward=reconstruction", f"task.train_levels=[{a.rl_levels}]",
              f"task.eval_levels=[{','.join(str(x) for x in a.levels)}]", *limits,
              "train.save_every=10", "eval.samples=0", "eval.every=0",
              f"eval.n_per_level={a.problems}", f"rollout.max_new_tokens={a.max_new_tokens}", *a.overrides]
    return run_arms([Arm("grpo", [])], common, None, out / "rl", parallel=1, threads=1)[0]


def print_tables(res: dict) -> None:
    c = res["constructed"]
    print(f"\n### Constructed summaries: gain (nats per document token) by facts kept ({c['rows']} summaries)\n")
    print("| facts kept | mean gain (tokens) | sd | mean gain (prior) | n |\n|---|---|---|---|---|")
    for k, r in c["pooled"].items():
        print(f"| {k} | {r['gain']:.3f} | {r['sd']:.3f} | {r['prior']:.3f} | {r['n']} |")
    print(f"\nSpearman rho(facts kept, gain): {c['rho']:.3f} (tokens), {c['rho_prior']:.3f} (prior)\n")
    print("| level | mean gain at k = 0, 1, ..., n | rho within level | rises strictly with k |\n|---|---|---|---|")
    for lv, r in c["levels"].items():
        print(f"| L{lv} | " + " / ".join(f"{x:.2f}" for x in r["mean_gain_by_k"]) + f" | {r['rho']:.3f} | "
              f"{'yes' if r['monotone'] else 'no'} |")
    print("\n| variant (k = min(3, n) facts) | mean gain |\n|---|---|")
    for key, v in c["variants"].items():
        print(f"| {key} | {v:.3f} |")
    for name in ("base_policy", "trained_policy"):
        if name not in res:
            continue
        r = res[name]
        print(f"\n### {name.replace('_', ' ')}: its own summaries (T = 1), guarded reward vs the exact metric\n")
        print("| level | reward | facts kept | over budget | degenerate | exact accuracy | example |")
        print("|---|---|---|---|---|---|---|")
        for lv, m in r["levels"].items():
            print(f"| {lv} | {m['reward']:.3f} | {m['facts_kept']:.3f} | {m['over_budget']:.3f} | "
                  f"{m['degenerate']:.3f} | {m['exact_accuracy']:.3f} | `{m['example'].strip()}` |")
        print(f"\nSpearman rho(facts recovered, reward) over {r['scored_within_budget']} summaries within the "
              f"budget: {r['rho_facts_vs_reward']:.3f}")
    if "rl" in res:
        print(f"\nRL ({res['rl_budget']}): {res['rl']['steps']} steps, {res['rl']['tokens']} tokens, "
              f"{res['rl']['train_s']} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default="2,3,4,6,8")
    ap.add_argument("--problems", type=int, default=40, help="held-out documents per level")
    ap.add_argument("--samples", type=int, default=4, help="policy summaries per document")
    ap.add_argument("--rl", action="store_true", help="also train the policy on the reward (stage 3) for the budget "
                    "below, and measure it again")
    ap.add_argument("--rl-levels", default="3,4,5,6")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/reconstruction"))
    ap.add_argument("overrides", nargs="*", help="run-config overrides (task.summaries.*, model.*)")
    from scaffold_rl.arms import add_budget_args, budget_overrides

    add_budget_args(ap, tokens=200_000)
    a = ap.parse_args()
    a.levels = [int(x) for x in a.levels.split(",")]
    from scaffold_rl.config import RunConfig
    from scaffold_rl.configio import load_config
    from scaffold_rl.rewards.reconstruction import ReconstructionTerm
    from scaffold_rl.tasks import build_task
    from scaffold_rl.runtime import set_threads

    t0 = time.perf_counter()
    set_threads(1)
    a.out.mkdir(parents=True, exist_ok=True)
    cfg = load_config(RunConfig, None, ["task.name=summaries", "reward=reconstruction",
                                        f"task.eval_levels=[{','.join(str(x) for x in a.levels)}]",
                                        f"rollout.max_new_tokens={a.max_new_tokens}", *a.overrides])
    task = build_task(cfg)
    term = ReconstructionTerm.from_options({}, task)
    res = {"args": {k: str(v) for k, v in vars(a).items()}, "budget": cfg.task.summaries.budget,
           "rl_budget": budget_overrides(a)[1] if a.rl else None}
    res["constructed"] = constructed(a, task, term)
    res["base_policy"] = policy_samples(a, cfg, task, term)
    if a.rl:
        run_dir = rl_run(a, a.out)
        steps = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if '"reward"' in x]
        final = json.loads((run_dir / "eval_final.json").read_text())
        res["rl"] = {"dir": str(run_dir), "steps": len(steps), "tokens": final.get("tokens"),
                     "train_s": final.get("train_seconds"),
                     "reward_curve": [s.get("reward/reconstruction") for s in steps],
                     "facts_kept_curve": [s.get("reward/reconstruction/facts_kept") for s in steps]}
        res["trained_policy"] = policy_samples(a, cfg, task, term, model_path=str(run_dir / "final"))
    res["wall_s"] = round(time.perf_counter() - t0)
    (a.out / "reconstruction.json").write_text(json.dumps(res, indent=1, default=str))
    print_tables(res)
    print(f"\nwall time {res['wall_s']} s; {a.out / 'reconstruction.json'}")


if __name__ == "__main__":
    main()
