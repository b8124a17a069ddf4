"""The Python entry point: `scaffold_rl.train(config, ...)` runs what `scaffold-rl train` runs, with Python objects
where the command line has names.

    import scaffold_rl

    def exact(prompts, completions, answer, **kwargs):            # a TRL reward function, as it is
        return [1.0 if a is not None and f"\\\\boxed{{{a}}}" in c else 0.0 for c, a in zip(completions, answer)]

    result = scaffold_rl.train(["train.steps=50", "strategy.name=scaf_grpo"], model=model, tokenizer=tok,
                               dataset=my_dataset, reward_funcs=[exact])
    print(result.run_dir, result.final["levels"])

Whatever is handed over is recorded in the run's config.yaml as far as a name can say it: `task.name:
python:dataset` for a dataset, `reward.funcs` as 'module:function' for importable functions (so the CLI can
rerun them) or 'python:<name>' for others. Such a run resumes through Python with the same objects
(`resume=True, run_dir=...`).
"""
from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffold_rl.config import RunConfig
from scaffold_rl.configio import ConfigError, load_config


@dataclass
class TrainResult:
    """What a finished run left: its folder, and the evaluations before and after training (eval_*.json)."""

    run_dir: Path
    base: dict | None
    final: dict | None

    def __fspath__(self) -> str:  # a result can stand where the run folder's path is expected
        return str(self.run_dir)


def as_config(config: Any = None, overrides: Sequence[str] = ()) -> RunConfig:
    """A RunConfig from: None (defaults), a RunConfig, a YAML path, a nested mapping, or a list of dotted
    overrides; `overrides` apply on top."""
    if isinstance(overrides, str):
        raise TypeError("overrides must be a list of KEY=VALUE strings, not one string")
    if isinstance(config, RunConfig):
        if not overrides:
            return config
        from scaffold_rl.configio import config_to_dict

        config = config_to_dict(config)
    if config is None:
        return load_config(RunConfig, None, list(overrides))
    if isinstance(config, (str, Path)):
        return load_config(RunConfig, config, list(overrides))
    if isinstance(config, Mapping):
        return load_config(RunConfig, None, list(overrides), data=config)
    if isinstance(config, Sequence) and all(isinstance(x, str) for x in config):
        return load_config(RunConfig, None, list(config) + list(overrides))
    raise TypeError(f"config must be a RunConfig, a YAML path, a mapping or a list of overrides, got "
                    f"{type(config).__name__}")


def func_ref(f: Callable) -> str:
    """'module:function' when `f` can be imported back by that name, else 'python:<name>'."""
    from scaffold_rl.rewards.trl_funcs import func_name

    module, qualname = getattr(f, "__module__", None), getattr(f, "__qualname__", None)
    if module and qualname and module != "__main__" and "<" not in qualname:
        try:
            obj = importlib.import_module(module)
            for part in qualname.split("."):
                obj = getattr(obj, part)
            if obj is f:
                return f"{module}:{qualname}"
        except (ImportError, AttributeError):
            pass
    return f"python:{func_name(f)}"


def train(config: Any = None, overrides: Sequence[str] = (), *, model=None, tokenizer=None, dataset=None,
          eval_dataset=None, reward_funcs: Sequence[Callable] | None = None,
          reward_weights: Sequence[float] | None = None, run_dir: str | Path | None = None, resume: bool = False,
          echo: Callable[[str], Any] = print, make_report: bool = True) -> TrainResult:
    """Train as `scaffold-rl train` does and return the run folder with the evaluations.

    config: a RunConfig, a YAML path, a nested mapping ({"train": {"steps": 50}}) or a list of dotted overrides
        (["train.steps=50"]); `overrides` apply on top. Unknown keys are ConfigErrors, as on the command line.
    model, tokenizer: a causal LM and its tokenizer in memory (instead of model.path / the embedded model).
    dataset: a `datasets.Dataset` or a list of dicts, parsed like a JSONL file (task.prompt_field, answer_field,
        solution_field map its columns; errors name the row and field); eval_dataset the same for the held-out
        set (else task.eval_name / task.eval_fraction / the first eval.n_per_level rows).
    reward_funcs: TRL reward functions f(prompts, completions, **kwargs) -> list[float] (kwargs: the dataset's
        columns, completion_ids, trainer_state, log_metric), weighted by reward_weights and summed; a sample is
        correct when the sum >= reward.correct_threshold (rewards/trl_funcs.py).
    """
    from scaffold_rl.train.run import train as run_train

    if resume:
        if run_dir is None:
            raise ValueError("resume=True needs run_dir")
        cfg = load_config(RunConfig, Path(run_dir) / "config.yaml")
    else:
        cfg = as_config(config, overrides)
        changes: dict[str, Any] = {}
        if dataset is not None:
            changes["task"] = dataclasses.replace(cfg.task, name="python:dataset")
        if reward_funcs:
            weights = list(reward_weights) if reward_weights is not None else cfg.reward.weights
            try:
                changes["reward"] = dataclasses.replace(cfg.reward, funcs=[func_ref(f) for f in reward_funcs],
                                                        weights=weights)
            except ValueError as err:
                raise ConfigError(f"reward_funcs: {err}") from err
        elif reward_weights is not None:
            raise ValueError("reward_weights without reward_funcs")
        if changes:
            origins = getattr(cfg, "_config_origins", None)
            cfg = dataclasses.replace(cfg, **changes)
            if origins is not None:
                object.__setattr__(cfg, "_config_origins", origins)
    task = None
    if dataset is not None:
        from scaffold_rl.tasks.records import RecordsTask

        task = RecordsTask.from_rows(cfg, dataset, eval_dataset)
    elif eval_dataset is not None:
        raise ValueError("eval_dataset without dataset (name a held-out set with task.eval_name)")
    folder = run_train(cfg, run_dir=run_dir, resume=resume, echo=echo, make_report=make_report, task=task,
                       model=model, tokenizer=tokenizer, reward_funcs=list(reward_funcs) if reward_funcs else None)
    return TrainResult(Path(folder), _read(Path(folder) / "eval_base.json"), _read(Path(folder) / "eval_final.json"))


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None
