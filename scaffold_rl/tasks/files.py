"""Real datasets: the shipped benchmarks by name, or any JSONL/parquet file (a Scaf-GRPO hint file is detected by
its tier fields), answered by a chat model in \\boxed{}.

The held-out set is explicit and never overlaps training:
* `task.eval_name`: held-out problems come from that benchmark or file; training problems whose text appears
  in it are removed from training (counted in `split_info`);
* `task.eval_fraction`: that share of the file, drawn with `task.seed`, is held out;
* neither: the first `eval.n_per_level` rows are held out and the rest trains; a file with no rows left to
  train on is an error (it used to train on its own evaluation set).
"""
from __future__ import annotations

import random
import re

from scaffold_rl.eval.evaluate import group_by_level
from scaffold_rl.tasks.base import TaskBase
from scaffold_rl.types import Problem


def load_problems(name_or_path: str, require_answers: bool = True, task_cfg=None, split: str | None = None
                  ) -> list[Problem]:
    """A benchmark by name, a Scaf-GRPO hint dataset (detected by its tier fields), a plain JSONL/parquet, or
    `hf:<id or folder>` (split `split`, else task.split). With `require_answers=False` a plain file's rows may lack
    an answer (answer None: label-free training). `task_cfg` (the config's task section) gives the field mapping
    (task.prompt_field, answer_field, solution_field)."""
    from scaffold_rl.data.benchmarks import Fields, load_benchmark
    from scaffold_rl.data.jsonl import read_records
    from scaffold_rl.data.scaf_schema import load_scaf_dataset

    fields = Fields.from_task(task_cfg)
    if name_or_path.startswith("hf:"):
        from scaffold_rl.tasks.hf import load_hf_problems

        return load_hf_problems(name_or_path[3:], task_cfg, split or getattr(task_cfg, "split", "train"),
                                require_answers)
    if name_or_path.endswith((".jsonl", ".parquet")) and not fields.mapped:
        first = next(iter(read_records(name_or_path)), (0, {}))[1]
        if "solution_breakdown_parts" in first or "knowledge_components_parts" in first:
            return load_scaf_dataset(name_or_path)
    return load_benchmark(name_or_path, require_answers=require_answers, fields=fields)


def prompt_key(problem: Problem) -> str:
    """The problem text with whitespace collapsed: what decides that two rows are the same problem."""
    return re.sub(r"\s+", " ", problem.prompt).strip()


def split_held_out(problems: list[Problem], cfg, name: str, held_out: list[Problem] | None = None
                   ) -> tuple[list[Problem], list[Problem], dict]:
    """(train, held-out, split_info) by the rules in the module docstring."""
    from scaffold_rl.configio import ConfigError

    t, n = cfg.task, cfg.eval.n_per_level
    if held_out is not None:
        keys = {prompt_key(p) for p in held_out}
        train = [p for p in problems if prompt_key(p) not in keys]
        info = {"held_out": f"{t.eval_name} ({len(held_out)} problems)", "train": f"{name} ({len(train)} problems)",
                "overlap_removed_from_train": len(problems) - len(train)}
    elif t.eval_fraction is not None:
        order = list(range(len(problems)))
        random.Random(f"held-out:{t.seed}").shuffle(order)
        k = round(t.eval_fraction * len(problems))
        chosen = set(order[:k])
        held_out = [p for i, p in enumerate(problems) if i in chosen]
        train = [p for i, p in enumerate(problems) if i not in chosen]
        info = {"held_out": f"{t.eval_fraction:g} of {name} drawn with task.seed={t.seed} ({k} problems)",
                "train": f"the other {len(train)} problems"}
    else:
        held_out, train = problems[:n], problems[n:]
        info = {"held_out": f"the first {len(held_out)} rows of {name} (eval.n_per_level={n})",
                "train": f"rows {len(held_out) + 1}-{len(problems)} ({len(train)} problems)"}
        if not train:
            raise ConfigError(
                f"{name} has {len(problems)} rows and eval.n_per_level={n} holds out all of them, which would train "
                "on the evaluation set. Name another held-out set (task.eval_name=<benchmark or file>), hold out a "
                "share (task.eval_fraction=0.2), or hold out fewer rows (eval.n_per_level)")
    if not train:
        raise ConfigError(f"{name}: no training problems left after holding out {info['held_out']}")
    return train, held_out, info


def eval_set(cfg) -> list[Problem] | None:
    """The problems of task.eval_name (an hf: one in split task.eval_split, default 'test'), or None."""
    t = cfg.task
    if not t.eval_name:
        return None
    return load_problems(t.eval_name, require_answers=False, task_cfg=t, split=t.eval_split or "test")


def needs_answers(cfg) -> bool:
    """Whether training rows must carry a gold answer: the training reward grades answers and they are not
    hidden (otherwise the loader names the file and line of the first row without one)."""
    from scaffold_rl.rewards.registry import correctness_kind

    if cfg.task.hide_train_answers or cfg.reward.funcs:
        return False
    return correctness_kind(cfg.reward.spec, cfg.reward.kind) == "answer"


class FileTask(TaskBase):
    """A benchmark or data file; see the module docstring for the held-out split."""

    def __init__(self, cfg):
        super().__init__(cfg)
        t = cfg.task
        self.name = t.name
        needs = needs_answers(cfg)
        problems = load_problems(t.name, require_answers=needs, task_cfg=t)
        self.train, self.held_out, self.split_info = split_held_out(problems, cfg, t.name, eval_set(cfg))
        self.supports_hints = any(p.hints or p.meta.get("solution") for p in self.train)

    def train_problems(self, n: int) -> list[Problem]:
        return self.train[:n]

    def eval_problems(self, n_per_level: int) -> dict[int, list[Problem]]:
        return {lv: ps[:n_per_level] for lv, ps in group_by_level(self.held_out).items()}
