"""TRL-style reward functions as a scaffold-rl reward, so a TRL user's rewards plug in as they are.

A TRL reward function is `f(prompts, completions, **kwargs) -> list[float | None]`: one value per completion,
kwargs holding the dataset's other columns (`answer`, ...), `completion_ids`, `trainer_state` and `log_metric`.
Our rollout stage scores every generation call's samples in one call of each function (`score_batch`), not one
call per sample. As in TRL, several functions are summed with weights, and a function's None leaves it out of
that sample's sum (all None: 0).

What differs from TRL, and why:
* `prompts` are the problems' prompt texts (the dataset's prompt column), `completions` what the reward reads:
  the generated text, preceded by a hint prefix only when the strategy scores one (Hint.scored);
* a sample is `correct` when its weighted reward is >= `threshold` (reward.correct_threshold, default 1.0, TRL's
  accuracy rewards' value for a right answer): correctness decides which groups are all wrong, which is what
  rescue strategies act on, and the pass rates; evaluation still scores the task's own correctness;
* `log_metric(name, value)` values are logged as `reward/<name>` (mean over the step's samples), each
  function's raw value as `reward/<function name>`; `log_extra` (TRL's completions table) is not passed.
"""
from __future__ import annotations

import asyncio
import importlib
import inspect
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from scaffold_rl.rewards.composite import CompositeScore
from scaffold_rl.types import Problem


def func_name(f) -> str:
    inner = getattr(f, "func", f)  # functools.partial
    return getattr(inner, "__name__", type(inner).__name__)


def problem_columns(problem: Problem) -> dict:
    """The dataset columns of a problem, as TRL passes them: the raw row when the problem came from a dataset
    (files, hf:, Python datasets), else the fields a problem has; `answer` is always there (the parsed gold answer
    when the row names it otherwise)."""
    row = problem.meta.get("columns")
    if isinstance(row, dict):
        return {"answer": problem.answer, **row}
    out = {"answer": problem.answer, "level": problem.level}
    out.update({k: v for k, v in problem.meta.items() if k != "columns"})
    if problem.reference is not None:
        out["reference"] = problem.reference
    return out


class TRLRewardFunctions:
    """Reward object for the Sampler: `score_batch(items, step)` calls each function once per generation call."""

    takes_context = True

    def __init__(self, funcs: Sequence[Callable], weights: Sequence[float] | None = None, threshold: float = 1.0):
        funcs = list(funcs)
        if not funcs:
            raise ValueError("no reward functions given")
        for f in funcs:
            if not callable(f):
                raise TypeError(f"reward function {f!r} is not callable (a reward model: wrap it in a function "
                                "f(prompts, completions, **kwargs) -> list[float])")
        if weights is not None and len(weights) != len(funcs):
            raise ValueError(f"{len(weights)} reward weights for {len(funcs)} reward functions")
        self.funcs = funcs
        self.names = [func_name(f) for f in funcs]
        self.weights = [float(w) for w in weights] if weights is not None else [1.0] * len(funcs)
        self.threshold = float(threshold)
        self.trainer = None  # bound by the run: its state is TRL's `trainer_state` argument

    def bind_trainer(self, trainer) -> None:
        self.trainer = trainer

    def __call__(self, problem: Problem, response: str, completion_len: int | None = None, step: int = 0,
                 completion_ids: list[int] | None = None):
        return self.score_batch([(problem, response, completion_ids)], step=step)[0]

    def score_batch(self, items: list[tuple[Problem, str, list[int] | None]], step: int = 0) -> list[CompositeScore]:
        if not items:
            return []
        n = len(items)
        columns = [problem_columns(p) for p, _, _ in items]
        keys = list(dict.fromkeys(k for c in columns for k in c if k not in ("prompt", "completion",
                                                                             "completion_ids")))
        logged: dict[str, list[float]] = {}
        kwargs = {k: [c.get(k) for c in columns] for k in keys}
        kwargs.update(completion_ids=[list(ids) if ids is not None else None for _, _, ids in items],
                      trainer_state=getattr(self.trainer, "state", None),
                      log_metric=lambda name, value: logged.setdefault(str(name), []).append(float(value)))
        prompts = [p.prompt for p, _, _ in items]
        completions = [text for _, text, _ in items]
        values: list[list[float | None]] = []
        for f, name in zip(self.funcs, self.names):
            out = f(prompts=prompts, completions=completions, **kwargs)
            if inspect.isawaitable(out):
                out = asyncio.run(_await(out))
            out = list(out)
            if len(out) != n:
                raise ValueError(f"reward function {name!r} returned {len(out)} rewards for {n} completions (one "
                                 "per completion is needed)")
            values.append([None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
                           for v in out])
        extra = {name: sum(v) / len(v) for name, v in logged.items() if v}
        scores = []
        for i in range(n):
            parts = [(w, vals[i]) for w, vals in zip(self.weights, values) if vals[i] is not None]
            total = sum(w * v for w, v in parts)
            terms = {name: vals[i] for name, vals in zip(self.names, values) if vals[i] is not None}
            terms.update(extra)
            scores.append(CompositeScore(reward=total, correct=bool(parts) and total >= self.threshold,
                                         timed_out=False, terms=terms))
        return scores


async def _await(x):
    return await x


def load_reward_funcs(specs: Sequence[str]) -> list[Callable]:
    """The functions `reward.funcs` names: 'module:function' or 'path/to/file.py:function'."""
    from scaffold_rl.tasks.base import import_plugins

    out = []
    for spec in specs:
        module_name, sep, attr = spec.rpartition(":")
        if not sep or not module_name or not attr:
            raise ValueError(f"reward function {spec!r}: write 'module:function' or 'path/to/file.py:function'")
        if module_name == "python":  # how scaffold_rl.train records a function it cannot name for import
            raise ValueError(f"reward function {spec!r} was passed to scaffold_rl.train in Python; pass it again "
                             "(reward_funcs=[...]) or name an importable 'module:function'")
        if module_name.endswith(".py"):
            import_plugins([module_name])  # imported once, under a stable name
            module = importlib.import_module(f"scaffold_rl_plugin_{Path(module_name).stem}")
        else:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as err:
                raise ValueError(f"reward function {spec!r}: cannot import {module_name!r} ({err})") from err
        f = getattr(module, attr, None)
        if not callable(f):
            raise ValueError(f"reward function {spec!r}: {module_name} has no function {attr!r}")
        out.append(f)
    return out
