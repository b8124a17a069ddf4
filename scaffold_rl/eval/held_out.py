"""Held-out evaluation as a run does it (before training, every eval.every steps, after) and as `scaffold-rl eval`
does it: per-level greedy accuracy, sampled pass@k / maj@k, pass@k of the hard level, hint depths. No trainer
here, so evaluating a model never imports TRL."""
from __future__ import annotations

from scaffold_rl.eval.evaluate import evaluate_levels
from scaffold_rl.tasks import labeled_only


def eval_max_new_tokens(cfg) -> int:
    """eval.max_new_tokens, or the rollout's when unset (an evaluation cut shorter than training would score
    answers the policy was trained to finish as truncated)."""
    return cfg.eval.max_new_tokens if cfg.eval.max_new_tokens is not None else cfg.rollout.max_new_tokens


def run_evaluation(cfg, sampler, task, *, full: bool, hints: bool = True,
                   seed: int = 1234, levels: list[int] | None = None) -> dict:
    """Held-out evaluation per level (greedy; sampled pass@k/maj@k when `full`, and hint depths if `hints`);
    `levels` keeps only those levels."""
    e = cfg.eval
    max_new = eval_max_new_tokens(cfg)
    if e.n_per_level <= 0:
        return {"levels": {}, "skipped": "evaluation is off (eval.n_per_level=0)"}
    by_level, skipped = labeled_only(task.eval_problems(e.n_per_level), cfg.reward.kind)
    if levels is not None:
        by_level = {lv: ps for lv, ps in by_level.items() if lv in levels}
    if skipped:  # check_held_out refuses this at startup; a caller that skipped the check gets the reason
        return {"levels": {}, "skipped": skipped}
    out = {"held_out": task.split_info, "levels": evaluate_levels(sampler, by_level, max_new_tokens=max_new,
                                     samples=e.samples if full else 0, sample_problems=e.sample_problems,
                                     seed=seed, extract=task.extract_answer)}
    hard = task.first_hard_level or max((lv for lv in by_level if lv), default=None)
    if full and e.hard_samples > 0 and hard in by_level:
        res = evaluate_levels(sampler, {hard: by_level[hard][:e.hard_problems]}, max_new_tokens=max_new,
                              samples=e.hard_samples, seed=seed + 7)
        out["hard"] = {"level": hard, **{k: v for k, v in res[f"L{hard}"].items() if k.startswith("pass@")},
                       "problems": min(e.hard_problems, len(by_level[hard])), "samples": e.hard_samples}
    if full and hints and task.supports_hints:
        hard = task.first_hard_level
        if hard is not None and hard in by_level:
            out["hints"] = {}
            for depth in e.hint_depths:
                if depth < hard:
                    res = evaluate_levels(sampler, {hard: by_level[hard]}, max_new_tokens=max_new,
                                          samples=e.samples, sample_problems=e.sample_problems, hint_depth=depth,
                                          seed=seed)
                    out["hints"][f"L{hard}/k={depth}"] = res[f"L{hard}"]
    return out



def summarize_eval(label: str, res: dict) -> str:
    if res.get("skipped"):
        return f"{label}: evaluation skipped: {res['skipped']}"
    levels = " ".join(f"{k}={v['greedy']:.2f}" for k, v in res["levels"].items())
    hints = ""
    if res.get("hints"):
        hints = " | hinted " + " ".join(f"{k}={v['greedy']:.2f}" for k, v in res["hints"].items())
    return f"{label}: greedy accuracy {levels}{hints}"
