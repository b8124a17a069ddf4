"""Write a Scaf-GRPO hint dataset for a benchmark: append-only, validated, resumable.

Teacher runs take hours and teachers fail in creative ways, so the writer is built to survive both:
every row is validated before it is written, written as one complete line and flushed; a rejected
teacher output is logged with its reason in `<output stem>.rejects.jsonl` and retried; a rerun after
a crash or Ctrl-C skips the ids already written (after dropping a half-written last line).
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from scaffold_rl.data.benchmarks import load_benchmark
from scaffold_rl.data.jsonl import DataError
from scaffold_rl.data.scaf_schema import validate_tiers, write_scaf_record
from scaffold_rl.hints.split import split_solution
from scaffold_rl.hints.teacher import (
    Teacher,
    TeacherError,
    TeacherOutputError,
    build_teacher_prompt,
    parse_teacher_output,
)
from scaffold_rl.progress import progress_bar
from scaffold_rl.types import Problem

__all__ = ["MODES", "generate_hints", "rejects_path", "repair_and_read_ids"]

MODES = ("split", "teacher")
_MAX_LOGGED_OUTPUT = 20_000  # characters of a rejected output kept in the rejects file


def rejects_path(output_path: str | Path) -> Path:
    """`hints.jsonl` -> `hints.rejects.jsonl`, next to the output."""
    output_path = Path(output_path)
    return output_path.with_name(f"{output_path.stem}.rejects.jsonl")


def generate_hints(
    input_path: str | Path,
    output_path: str | Path,
    mode: str = "split",
    teacher: Teacher | None = None,
    max_retries: int = 3,
    limit: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Hint tiers for each problem of `input_path` (benchmark name or .jsonl/.parquet) into `output_path`.

    mode "split": Solution tier only, from the reference solution (`meta["solution"]`) by
    `split_solution`; Knowledge/Planning are written as empty lists; problems without a solution are
    skipped. mode "teacher": all three tiers from `teacher`, 1 + `max_retries` attempts per problem,
    then the problem is skipped (and retried on the next run). Returns counts: written (this run),
    skipped, rejected (rejected outputs, all attempts), resumed (already in the output).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "teacher" and teacher is None:
        raise ValueError("mode 'teacher' needs a teacher (LocalHFTeacher, OpenAITeacher or your own)")
    if max_retries < 0:
        raise ValueError(f"max_retries must be >= 0, got {max_retries}")
    output_path = Path(output_path)
    if output_path.suffix.lower() != ".jsonl":
        raise ValueError(f"output must be a .jsonl file, got {output_path}")
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    problems = load_benchmark(str(input_path), limit=limit)
    _check_unique_ids(problems)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    done = repair_and_read_ids(output_path, log)
    _drop_partial_last_line(rejects_path(output_path), log)
    todo = [p for p in problems if p.id not in done]
    summary: dict[str, Any] = {
        "written": 0, "skipped": 0, "rejected": 0, "resumed": len(problems) - len(todo),
        "total": len(problems), "output": str(output_path), "rejects": str(rejects_path(output_path)),
    }
    if summary["resumed"]:
        log(f"resuming: {summary['resumed']} of {len(problems)} problems already in {output_path}")
    with (
        output_path.open("a", encoding="utf-8") as out,
        rejects_path(output_path).open("a", encoding="utf-8") as rejects,
        progress_bar(f"hints ({mode})", len(todo), quiet=not progress) as bar,
    ):
        for problem in todo:
            tiers = _make_tiers(problem, mode, teacher, max_retries, rejects, summary, log)
            if tiers is None:
                summary["skipped"] += 1
            else:
                _append_line(out, write_scaf_record(problem, tiers))
                summary["written"] += 1
            bar.update(1, f"written {summary['written']} skipped {summary['skipped']}")
    return summary


def _check_unique_ids(problems: list[Problem]) -> None:
    """Resume keys on ids, so two problems sharing one would silently lose the second."""
    seen: set[str] = set()
    for problem in problems:
        if problem.id in seen:
            raise ValueError(f"input has duplicate problem id {problem.id!r}; ids must be unique to resume")
        seen.add(problem.id)


def repair_and_read_ids(output_path: Path, log: Callable[[str], None] = print) -> set[str]:
    """Ids already written; a last line without its newline (killed mid-write) is cut off first.

    Any other unreadable line is a real corruption and raises `DataError`, rather than being
    silently regenerated or dropped.
    """
    data = _drop_partial_last_line(output_path, log)
    ids: set[str] = set()
    for line_no, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(output_path, line_no, None, f"unreadable row ({err}); fix or remove it") from None
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise DataError(output_path, line_no, "id", "missing or not a string")
        ids.add(record["id"])
    return ids


def _drop_partial_last_line(path: Path, log: Callable[[str], None]) -> bytes:
    """The file's bytes after cutting a last line that lacks its newline (b"" when there is no file)."""
    if not path.exists():
        return b""
    with path.open("r+b") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            f.truncate(keep)
            log(f"{path}: removed a truncated last line ({len(data) - keep} bytes)")
            data = data[:keep]
    return data


def _make_tiers(
    problem: Problem,
    mode: str,
    teacher: Teacher | None,
    max_retries: int,
    rejects: TextIO,
    summary: dict[str, Any],
    log: Callable[[str], None],
) -> dict[str, list[str]] | None:
    """Valid tiers for one problem, or None (reasons logged and kept in the rejects file)."""
    solution = problem.meta.get("solution")
    if mode == "split":
        return _split_tiers(problem, solution, rejects, summary, log)
    assert teacher is not None
    prompt = build_teacher_prompt(problem.prompt, solution, problem.answer)
    for attempt in range(1, max_retries + 2):
        output = ""
        try:
            output = teacher.complete(prompt)
            tiers = parse_teacher_output(output)
            problems = validate_tiers(tiers)
            if not problems:
                return tiers
            reason = "; ".join(problems)
        except (TeacherOutputError, TeacherError) as err:
            reason = str(err)
        _reject(rejects, summary, log, problem, attempt, reason, output)
    log(f"{problem.id}: skipped after {max_retries + 1} rejected attempts")
    return None


def _split_tiers(
    problem: Problem,
    solution: Any,
    rejects: TextIO,
    summary: dict[str, Any],
    log: Callable[[str], None],
) -> dict[str, list[str]] | None:
    if not isinstance(solution, str) or not solution.strip():
        _reject(rejects, summary, log, problem, 1, "no reference solution to split", "")
        return None
    style = "gsm8k" if problem.source.startswith("gsm8k") else "auto"
    tiers = {"knowledge": [], "planning": [], "solution": split_solution(solution, style=style)}
    problems = validate_tiers(tiers, required=("solution",), min_parts=1, max_chars=None)
    if problems:
        _reject(rejects, summary, log, problem, 1, "; ".join(problems), solution)
        return None
    return tiers


def _reject(
    rejects: TextIO,
    summary: dict[str, Any],
    log: Callable[[str], None],
    problem: Problem,
    attempt: int,
    reason: str,
    output: str,
) -> None:
    summary["rejected"] += 1
    log(f"{problem.id}: attempt {attempt} rejected: {reason}")
    _append_line(rejects, {"id": problem.id, "attempt": attempt, "reason": reason,
                           "output": output[:_MAX_LOGGED_OUTPUT]})


def _append_line(f: TextIO, record: dict[str, Any]) -> None:
    """One JSON object as one line, written in a single call and flushed: a crash leaves at most a
    partial *last* line, which the next run's repair removes."""
    f.write(json.dumps(record, ensure_ascii=False) + "\n")
    f.flush()
