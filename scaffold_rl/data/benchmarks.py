"""Load the offline math benchmarks (MATH500, AIME, AMC, GSM8K, MATH train) as `Problem`s.

`prompt` is the raw question; the rollout stage applies the prompt template. `answer` is the gold
answer as a string the verifier can compare: AMC floats become integers ("27"), GSM8K keeps only
the number after `####` without commas, AIME keeps its zero padding ("025"; the verifier compares
numbers by value).
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffold_rl.data.jsonl import DataError, get_field, read_records
from scaffold_rl.types import Problem

__all__ = ["BENCHMARKS", "Fields", "find_data_dir", "load_benchmark", "parse_records"]

DATA_ENV = "SCAFFOLD_RL_DATA"

# name -> (file in the data folder, answer format)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "math500": ("math500.jsonl", "LaTeX expression (MATH final answer)"),
    "aime24": ("aime24.jsonl", "integer 0-999, zero-padded in the file (\"025\")"),
    "aime25": ("aime25.jsonl", "integer 0-999"),
    "amc23": ("amc23.jsonl", "integer (stored as a float, e.g. 27.0)"),
    "gsm8k": ("gsm8k_test.jsonl", "integer after '####' in the solution"),
    "gsm8k_train": ("gsm8k_train.jsonl", "integer after '####' in the solution"),
    # 2 of its 12,000 rows have an empty answer and are skipped.
    "math_train": ("math_train_12k.jsonl", "LaTeX expression (last \\boxed{} of the solution)"),
}


def find_data_dir() -> Path:
    """The data folder: $SCAFFOLD_RL_DATA, else the nearest `shared/data` above the cwd or this package."""
    env = os.environ.get(DATA_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"{DATA_ENV}={env} is not a directory")
        return path
    starts = [Path.cwd().resolve(), Path(__file__).resolve().parent]
    for start in starts:
        # Checking every ancestor covers both `<repo>/shared/data` and `<repo>/../shared/data`.
        for folder in (start, *start.parents):
            candidate = folder / "shared" / "data"
            if candidate.is_dir():
                return candidate
    searched = ", ".join(str(s) for s in starts)
    raise FileNotFoundError(
        f"no shared/data folder found above {searched}; "
        f"set {DATA_ENV} to the folder holding math500.jsonl etc."
    )


@dataclass(frozen=True)
class Fields:
    """Which fields of a generic row hold the question, the gold answer and a worked solution (task.prompt_field,
    task.answer_field, task.solution_field); None = the usual names (see `_generic_row`)."""

    prompt: str | None = None
    answer: str | None = None
    solution: str | None = None

    @classmethod
    def from_task(cls, task_cfg) -> Fields:
        return cls(getattr(task_cfg, "prompt_field", None), getattr(task_cfg, "answer_field", None),
                   getattr(task_cfg, "solution_field", None))

    @property
    def mapped(self) -> bool:
        return any((self.prompt, self.answer, self.solution))


def load_benchmark(name_or_path: str, limit: int | None = None, require_answers: bool = True,
                   fields: Fields | None = None) -> list[Problem]:
    """Problems of a named benchmark (see `BENCHMARKS`), or of a .jsonl/.parquet file path.

    A file needs `problem` or `question`, and `answer` (or verl's `reward_model.ground_truth`), or the fields
    `fields` names; with `require_answers=False` the answer may be missing, null or blank (answer None: label-free
    training). `limit` keeps the first rows only, without reading the rest of the file.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    fields = fields or Fields()
    if name_or_path in BENCHMARKS:
        if fields.mapped:
            raise ValueError(f"{name_or_path} is a shipped benchmark with its own fields; task.prompt_field, "
                             "answer_field and solution_field apply to files and datasets")
        name = name_or_path
        path = find_data_dir() / BENCHMARKS[name][0]
        parse_row: Callable[[_Row], Problem | None] = _ROW_PARSERS[name]
    else:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            known = ", ".join(BENCHMARKS)
            raise FileNotFoundError(f"{name_or_path!r} is neither a benchmark ({known}) nor an existing file")
        name = path.stem
        parse_row = _generic_row
    problems: list[Problem] = []
    for line, record in read_records(path):
        if limit is not None and len(problems) >= limit:
            break
        problem = parse_row(_Row(record, path, line, name, require_answers, fields))
        if problem is not None:
            problems.append(problem)
    return problems


def parse_records(records: Iterable[tuple[int, Any]], where: str, name: str, require_answers: bool = True,
                  fields: Fields | None = None) -> list[Problem]:
    """Problems from in-memory rows (a `datasets.Dataset`, a list of dicts) through the same generic parser as
    files: `where` stands in for the file in errors (`where:<row>: field 'answer': missing`), rows are numbered
    from 1, and `name` prefixes ids the rows do not carry."""
    problems: list[Problem] = []
    for line, record in records:
        if not isinstance(record, Mapping):
            raise DataError(where, line, None, f"expected a mapping of fields, got {type(record).__name__}")
        problem = _generic_row(_Row(dict(record), where, line, name, require_answers, fields or Fields()))
        if problem is not None:
            problems.append(problem)
    return problems


class _Row:
    """One record plus where it came from, so field errors can name file and line."""

    def __init__(self, record: dict[str, Any], path: Path | str, line: int, source: str,
                 require_answers: bool = True, fields: Fields | None = None) -> None:
        self.record, self.path, self.line, self.source = record, path, line, source
        self.require_answers = require_answers
        self.fields = fields or Fields()

    def get(self, field: str, types: tuple[type, ...] = (str,), required: bool = True) -> Any:
        return get_field(self.record, field, self.path, self.line, types, required)

    def problem_id(self) -> str:
        """The file's own id (`name-<id>` when it is a bare number), else `name-<line>`."""
        raw = self.record.get("unique_id", self.record.get("id"))
        if isinstance(raw, str) and raw:
            return raw
        if isinstance(raw, int) and not isinstance(raw, bool):
            return f"{self.source}-{raw}"
        return f"{self.source}-{self.line}"

    def text(self, field: str) -> str:
        """A required, non-blank string field, stripped."""
        value = self.get(field).strip()
        if not value:
            raise DataError(self.path, self.line, field, "empty")
        return value

    def problem(self, prompt_field: str, answer: str | None, **kwargs: Any) -> Problem:
        return Problem(
            id=self.problem_id(), prompt=self.text(prompt_field), answer=answer, source=self.source, **kwargs
        )


def _number_answer(row: _Row, value: Any, field: str) -> str:
    """An int-valued float as a plain integer string (27.0 -> "27"); other values as written."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DataError(row.path, row.line, field, f"not a finite number: {value}")
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    if not text:
        raise DataError(row.path, row.line, field, "empty")
    return text


def _math_row(row: _Row) -> Problem:
    return row.problem(
        "problem",
        row.text("answer"),
        level=row.get("level", (int,), required=False),
        meta=_optional(row, subject=(str,), solution=(str,)),
    )


def _math_train_row(row: _Row) -> Problem | None:
    """As MATH500, but skips rows whose solution ends in an empty `\\boxed{}`.

    Two source problems (train/number_theory/7115 and 7117) have no answer at all, so there is
    nothing to reward; dropping them beats failing a 12k-row load.
    """
    if not row.get("answer").strip():
        return None
    return _math_row(row)


def _aime24_row(row: _Row) -> Problem:
    return row.problem("problem", row.text("answer"), meta=_optional(row, solution=(str,), url=(str,)))


def _aime25_row(row: _Row) -> Problem:
    meta = _optional(row, competition=(str,), problem_idx=(int,))
    return row.problem("problem", row.text("answer"), meta=meta)


def _amc_row(row: _Row) -> Problem:
    answer = _number_answer(row, row.get("answer", (int, float, str)), "answer")
    return row.problem("problem", answer, meta=_optional(row, url=(str,)))


def _gsm8k_row(row: _Row) -> Problem:
    reasoning, sep, final = row.text("answer").rpartition("####")
    final = final.strip().replace(",", "")
    if not sep or not final:
        raise DataError(row.path, row.line, "answer", "no final answer after '####'")
    return row.problem("question", final, meta={"solution": reasoning.strip()})


def _generic_row(row: _Row) -> Problem:
    """Any row with `problem` or `question`, and `answer` (or verl-style `reward_model.ground_truth`), or the
    fields `row.fields` names. The raw row is kept in `meta['columns']` (TRL-style reward functions get the
    dataset's columns)."""
    f = row.fields
    prompt_field = f.prompt or ("problem" if "problem" in row.record else "question")
    verl_style = "answer" not in row.record and "reward_model" in row.record
    answer_field = f.answer or ("reward_model.ground_truth" if verl_style else "answer")
    value = row.get(answer_field, (str, int, float), required=False)
    if value is None or (isinstance(value, str) and not value.strip()):
        if row.require_answers:
            state = "empty" if value is not None else "null" if _has_key(row.record, answer_field) else "missing"
            raise DataError(row.path, row.line, answer_field,
                            f"{state} (the first row without an answer; a correctness reward needs one on every "
                            "row, while a label-free reward such as reward=format_length trains without any)")
        answer = None
    else:
        answer = _number_answer(row, value, answer_field)
    meta = _optional(row, subject=(str,))
    solution = row.get(f.solution or "solution", (str,), required=False)
    if solution is not None:
        meta["solution"] = solution
    meta["columns"] = row.record
    return row.problem(prompt_field, answer, level=_generic_level(row), meta=meta)


def _has_key(record: dict[str, Any], dotted_name: str) -> bool:
    node: Any = record
    for part in dotted_name.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _generic_level(row: _Row) -> int | None:
    """An int level, also from MATH's original "Level 3" strings ("Level ?" -> None)."""
    level = row.get("level", (int, str), required=False)
    if isinstance(level, str):
        digits = level.removeprefix("Level").strip()
        return int(digits) if digits.isdigit() else None
    return level


def _optional(row: _Row, **fields: tuple[type, ...]) -> dict[str, Any]:
    """The optional fields that are present, type-checked, for `Problem.meta`."""
    values = {name: row.get(name, types, required=False) for name, types in fields.items()}
    return {name: value for name, value in values.items() if value is not None}


_ROW_PARSERS: dict[str, Callable[[_Row], Problem | None]] = {
    "math500": _math_row,
    "math_train": _math_train_row,
    "aime24": _aime24_row,
    "aime25": _aime25_row,
    "amc23": _amc_row,
    "gsm8k": _gsm8k_row,
    "gsm8k_train": _gsm8k_row,
}
