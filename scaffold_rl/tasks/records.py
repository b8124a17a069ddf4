"""Tasks over rows already in memory: a `datasets.Dataset` or a list of dicts handed to `scaffold_rl.train(dataset=
...)`, and the rows of an `hf:` dataset (tasks/hf.py).

Rows go through the same generic parser as a JSONL file (data/benchmarks.py: `problem`/`question`, `answer` or
the fields task.prompt_field / answer_field / solution_field name), with the same errors naming the row and field,
and the held-out set follows the same rules as a file's (tasks/files.py: an explicit eval set, task.eval_fraction,
else the first eval.n_per_level rows).
"""
from __future__ import annotations

from typing import Any

from scaffold_rl.eval.evaluate import group_by_level
from scaffold_rl.tasks.base import TaskBase, register_prefix
from scaffold_rl.tasks.files import needs_answers, split_held_out
from scaffold_rl.types import Problem


def rows_of(data: Any, where: str) -> list[tuple[int, Any]]:
    """(row number from 1, row) of a datasets.Dataset, a list of dicts or any iterable of mappings."""
    try:
        import datasets

        if isinstance(data, datasets.DatasetDict):
            raise TypeError(f"{where}: a DatasetDict ({', '.join(data)}); pass one split, e.g. dataset['train']")
        if isinstance(data, datasets.IterableDataset):
            raise TypeError(f"{where}: an IterableDataset; load it with streaming=False (training samples rows at "
                            "random)")
    except ImportError:  # pragma: no cover - datasets is a dependency
        pass
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise TypeError(f"{where}: expected a datasets.Dataset or a list of dicts, got {type(data).__name__}")
    return list(enumerate(data, start=1))


def parse_rows(data: Any, where: str, name: str, task_cfg, require_answers: bool) -> list[Problem]:
    from scaffold_rl.data.benchmarks import Fields, parse_records

    return parse_records(rows_of(data, where), where, name, require_answers, Fields.from_task(task_cfg))


class RecordsTask(TaskBase):
    """Problems from rows; chat rendering, \\boxed{} answers checked by the shared verifier (TaskBase)."""

    def __init__(self, cfg, name: str, problems: list[Problem], held_out: list[Problem] | None = None,
                 held_out_name: str | None = None):
        super().__init__(cfg)
        self.name = name
        if held_out is not None and held_out_name:
            cfg = _with_eval_name(cfg, held_out_name)
        self.train, self.held_out, self.split_info = split_held_out(problems, cfg, name, held_out)
        self.supports_hints = any(p.hints or p.meta.get("solution") for p in self.train)

    @classmethod
    def from_rows(cls, cfg, data: Any, eval_data: Any = None, name: str = "dataset") -> RecordsTask:
        """The task of `scaffold_rl.train(dataset=..., eval_dataset=...)`: rows are named `dataset:<row>` in
        errors, ids `dataset-<row>` unless a row has its own `id` / `unique_id`."""
        from scaffold_rl.tasks.files import eval_set

        problems = parse_rows(data, name, name, cfg.task, needs_answers(cfg))
        if eval_data is not None:
            held = parse_rows(eval_data, f"{name} (eval)", f"{name}-eval", cfg.task, False)
            return cls(cfg, name, problems, held, held_out_name="eval_dataset")
        return cls(cfg, name, problems, eval_set(cfg))

    def train_problems(self, n: int) -> list[Problem]:
        return self.train[:n]

    def eval_problems(self, n_per_level: int) -> dict[int, list[Problem]]:
        return {lv: ps[:n_per_level] for lv, ps in group_by_level(self.held_out).items()}


def _with_eval_name(cfg, label: str):
    """cfg whose task.eval_name reads `label` (split_held_out names the held-out set by it)."""
    import dataclasses

    return dataclasses.replace(cfg, task=dataclasses.replace(cfg.task, eval_name=label, eval_fraction=None))


@register_prefix("python")
def _python_data(cfg, rest):
    """`task.name: python:dataset` is what a run given `dataset=` in Python records; only Python can give it back."""
    from scaffold_rl.configio import ConfigError

    raise ConfigError(f"task.name={cfg.task.name}: this run's data was passed in Python (scaffold_rl.train(dataset="
                      "...)); pass the same dataset= again to resume or evaluate it, or name a file or hf: dataset")
