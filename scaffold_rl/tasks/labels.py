"""Labels (gold answers, reference chains, solutions) are optional: label-free rewards train without them.

What a run needs is checked at startup (`check_training_labels`, `check_held_out`), before any model is loaded,
and a label-free run (`task.hide_train_answers`) gets problems with every label removed, `meta` included.
"""
from __future__ import annotations

import dataclasses

from scaffold_rl.types import Problem

# meta fields that give the answer away (a dataset's worked solution ends in the answer; SEELE reads it)
# ("columns": the raw dataset row, which holds the answer too; "rg_entry": the reasoning-gym item its scorer
# compares with)
LABEL_META_KEYS = ("solution", "answer", "reference", "solution_steps", "ground_truth", "final_answer", "columns",
                   "rg_entry")


def has_label(problem: Problem, kind: str) -> bool:
    """Whether a correctness reward of `kind` can score the problem: 'answer' needs the gold answer,
    'strict' the reference chain."""
    return (problem.reference if kind == "strict" else problem.answer) is not None


def without_labels(problem: Problem) -> Problem:
    """The problem as a label-free dataset would give it: no answer, reference, solution steps, hints, nor any
    meta field holding a solution or answer (each of those gives the answer away)."""
    meta = {k: v for k, v in problem.meta.items() if k not in LABEL_META_KEYS}
    return dataclasses.replace(problem, answer=None, reference=None, solution_steps=(), hints={}, meta=meta)


def labeled_only(by_level: dict[int, list[Problem]], kind: str) -> tuple[dict[int, list[Problem]], str | None]:
    """The evaluation problems a correctness reward of `kind` can score, and why evaluation cannot run when there
    are none (None otherwise)."""
    kept = {lv: [p for p in ps if has_label(p, kind)] for lv, ps in by_level.items()}
    kept = {lv: ps for lv, ps in kept.items() if ps}
    if kept:
        return kept, None
    if not any(by_level.values()):
        return kept, "the held-out set is empty"
    what = "reference chains (reward.kind=strict; answers alone: reward.kind=answer)" if kind == "strict" \
        else "gold answers"
    return kept, f"the held-out problems have no {what}, so accuracy cannot be measured"


def check_held_out(cfg, task) -> None:
    """Fail at startup when evaluation is on (eval.n_per_level > 0) and the held-out set is empty or has nothing
    to score against, saying where it came from and how to name another."""
    from scaffold_rl.configio import ConfigError

    if cfg.eval.n_per_level <= 0:
        return
    _, why = labeled_only(task.eval_problems(cfg.eval.n_per_level), cfg.reward.kind)
    if why:
        where = task.split_info.get("held_out", cfg.task.name)
        raise ConfigError(f"{why} (held out: {where}). Name a labelled held-out set with task.eval_name=<benchmark "
                          "or file> (e.g. math500), or set eval.n_per_level=0 to train without evaluation")


def check_training_labels(cfg, problems: list[Problem]) -> None:
    """Fail before training when the reward grades correctness and a training problem has nothing to grade
    against, naming the first such problem and the way out."""
    from scaffold_rl.configio import ConfigError
    from scaffold_rl.rewards.registry import correctness_kind

    if not problems:
        raise ConfigError(f"task {cfg.task.name!r} gave no training problems")
    kind = correctness_kind(cfg.reward.spec, cfg.reward.kind)
    if kind is None:
        return
    missing = next((p for p in problems if not has_label(p, kind)), None)
    if missing is None:
        return
    what = "gold answer" if kind == "answer" else "reference chain (reward.kind=strict; try reward.kind=answer)"
    why = " (task.hide_train_answers=true removed them)" if cfg.task.hide_train_answers else ""
    raise ConfigError(f"training problem {missing.id} has no {what}{why}, but the reward has a correctness term "
                      f"({cfg.reward.spec or 'the default reward'}). Train without labels with a label-free "
                      "reward: reward=format_length (format + length) or reward=format.")
