"""Write a Scaf-GRPO hint dataset for a benchmark: concurrent, append-only, validated, resumable.

Teacher runs take hours and teachers fail in creative ways, so the writer is built to survive both:
up to `concurrency` problems are with the teacher at once (`pool.unordered_map`); each row is
validated, then written as one complete line and flushed *as it finishes* (so the file is in finish
order while the run goes on); a rejected teacher output is logged with its reason in
`<output stem>.rejects.jsonl` and retried; a rerun after a crash, a kill or Ctrl-C skips the ids
already written (after dropping a half-written last line). A run that completes rewrites the output
in input order (atomically), so two complete runs give files in the same order.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from scaffold_rl.data.benchmarks import load_benchmark
from scaffold_rl.data.jsonl import DataError
from scaffold_rl.data.scaf_schema import validate_tiers, write_scaf_record
from scaffold_rl.hints.pool import unordered_map
from scaffold_rl.hints.split import split_solution
from scaffold_rl.hints.teacher import (
    Teacher,
    TeacherError,
    TeacherFatalError,
    TeacherOutputError,
    build_teacher_prompt,
    parse_teacher_output,
)
from scaffold_rl.progress import progress_bar
from scaffold_rl.types import Problem

__all__ = ["MODES", "generate_hints", "rejects_path", "repair_and_read_ids", "summary_line"]

MODES = ("split", "teacher")
_MAX_LOGGED_OUTPUT = 20_000  # characters of a rejected output kept in the rejects file


def rejects_path(output_path: str | Path) -> Path:
    """`hints.jsonl` -> `hints.rejects.jsonl`, next to the output."""
    output_path = Path(output_path)
    return output_path.with_name(f"{output_path.stem}.rejects.jsonl")


@dataclass
class _Outcome:
    """One problem's result, built in a worker thread and written by the caller's thread."""

    tiers: dict[str, list[str]] | None
    rejects: list[dict[str, Any]] = field(default_factory=list)  # one per rejected attempt


def generate_hints(
    input_path: str | Path,
    output_path: str | Path,
    mode: str = "split",
    teacher: Teacher | None = None,
    max_retries: int = 3,
    limit: int | None = None,
    concurrency: int = 1,
    sort_output: bool = True,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Hint tiers for each problem of `input_path` (benchmark name or .jsonl/.parquet) into `output_path`.

    mode "split": Solution tier only, from the reference solution (`meta["solution"]`) by
    `split_solution`; Knowledge/Planning are written as empty lists; problems without a solution fail.
    mode "teacher": all three tiers from `teacher`, `concurrency` problems in flight at once (the
    teacher must then be thread-safe, as `OpenAITeacher` is), 1 + `max_retries` attempts per problem,
    then the problem fails (and is tried again on the next run). Every rejected attempt is a row of the
    rejects file (id, attempt, reason, output; `gave_up` on a failed problem's last one).
    A `TeacherFatalError` (bad key, unknown model, server gone) stops the run at once and is re-raised
    with the count of rows kept; rows already written stay, and rerunning resumes after them.
    `sort_output`: once every problem is done, rewrite the output in input order (rows of ids not in
    this input, from an earlier run on other problems, follow in their order).
    Returns counts: written (this run), failed (gave up this run), rejected (rejected attempts),
    resumed (already in the output), total.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "teacher" and teacher is None:
        raise ValueError("mode 'teacher' needs a teacher (LocalHFTeacher, OpenAITeacher or your own)")
    if max_retries < 0:
        raise ValueError(f"max_retries must be >= 0, got {max_retries}")
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
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
        "written": 0, "failed": 0, "rejected": 0, "resumed": len(problems) - len(todo),
        "total": len(problems), "output": str(output_path), "rejects": str(rejects_path(output_path)),
    }
    if summary["resumed"]:
        log(f"resuming: {summary['resumed']} of {len(problems)} problems already in {output_path}")

    def work(problem: Problem) -> _Outcome:
        if mode == "split":
            return _split_tiers(problem)
        assert teacher is not None
        return _teacher_tiers(problem, teacher, max_retries)

    workers = concurrency if mode == "teacher" else 1
    try:
        with (
            output_path.open("a", encoding="utf-8") as out,
            rejects_path(output_path).open("a", encoding="utf-8") as rejects,
            progress_bar(f"hints ({mode}, {workers} in flight)", len(todo), quiet=not progress) as bar,
            unordered_map(work, todo, workers) as results,
        ):
            for problem, outcome in results:
                _record(problem, outcome, out, rejects, summary, log)
                bar.update(1, f"written {summary['written']} failed {summary['failed']}")
    except KeyboardInterrupt:
        log(f"interrupted: {summary['written']} rows written this run are kept in {output_path}; "
            "rerun the same command to resume")
        raise
    except TeacherFatalError as err:
        raise TeacherFatalError(
            f"{err}\nstopped: {summary['written']} rows written this run ({summary['written'] + summary['resumed']} "
            f"in all) are kept in {output_path}; fix the cause and rerun the same command to resume"
        ) from None
    if sort_output:
        sort_by_input_order(output_path, [p.id for p in problems])
    return summary


def summary_line(summary: dict[str, Any]) -> str:
    """One human sentence for the end of a run."""
    line = (f"hints: {summary['written']} written, {summary['failed']} failed, {summary['resumed']} already in "
            f"the output (skipped) of {summary['total']}; {summary['rejected']} rejected attempts")
    if summary["rejected"]:
        line += f" (reasons in {summary['rejects']})"
    return line


def _record(
    problem: Problem,
    outcome: _Outcome,
    out: TextIO,
    rejects: TextIO,
    summary: dict[str, Any],
    log: Callable[[str], None],
) -> None:
    for n, reject in enumerate(outcome.rejects, start=1):
        gave_up = outcome.tiers is None and n == len(outcome.rejects)
        _append_line(rejects, {**reject, "gave_up": gave_up})
        log(f"{problem.id}: attempt {reject['attempt']} rejected: {reject['reason']}")
    summary["rejected"] += len(outcome.rejects)
    if outcome.tiers is None:
        summary["failed"] += 1
        log(f"{problem.id}: failed after {len(outcome.rejects)} rejected attempts")
    else:
        _append_line(out, write_scaf_record(problem, outcome.tiers))
        summary["written"] += 1


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
    return set(_ids_by_line(output_path, data))


def _ids_by_line(path: Path, data: bytes) -> dict[str, bytes]:
    """id -> its line (with newline), in file order."""
    rows: dict[str, bytes] = {}
    for line_no, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(path, line_no, None, f"unreadable row ({err}); fix or remove it") from None
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise DataError(path, line_no, "id", "missing or not a string")
        rows[record["id"]] = raw + b"\n"
    return rows


def sort_by_input_order(output_path: Path, ids: list[str]) -> None:
    """Rewrite `output_path` with the rows of `ids` first, in that order, then any others as they were.

    Written to a temporary file, flushed to disk and renamed over the output, so a kill leaves the
    old file or the new one, never a mix.
    """
    data = output_path.read_bytes()
    rows = _ids_by_line(output_path, data)
    ordered = [rows.pop(i) for i in ids if i in rows] + list(rows.values())
    new = b"".join(ordered)
    if new == data:
        return
    tmp = output_path.with_name(f".{output_path.name}.sorting")
    with tmp.open("wb") as f:
        f.write(new)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, output_path)


def _drop_partial_last_line(path: Path, log: Callable[[str], None]) -> bytes:
    """The file's bytes after cutting a last line that lacks its newline (b"" when there is no file)."""
    if not path.exists():
        return b""
    with path.open("r+b") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            f.truncate(keep)
            log(f"warning: {path}: removed a truncated last line ({len(data) - keep} bytes; killed mid-write?)")
            data = data[:keep]
    return data


def _teacher_tiers(problem: Problem, teacher: Teacher, max_retries: int) -> _Outcome:
    """Valid tiers from the teacher within 1 + `max_retries` attempts, with every rejected attempt.

    Runs in a worker thread: no file or log access here. `TeacherFatalError` propagates (it ends the run).
    """
    prompt = build_teacher_prompt(problem.prompt, problem.meta.get("solution"), problem.answer)
    outcome = _Outcome(tiers=None)
    for attempt in range(1, max_retries + 2):
        output = ""
        try:
            output = teacher.complete(prompt)
            tiers = parse_teacher_output(output)
            problems = validate_tiers(tiers)
            if not problems:
                outcome.tiers = tiers
                return outcome
            reason = "; ".join(problems)
        except TeacherFatalError:
            raise
        except (TeacherOutputError, TeacherError) as err:
            reason = str(err)
        outcome.rejects.append(_reject_row(problem, attempt, reason, output))
    return outcome


def _split_tiers(problem: Problem) -> _Outcome:
    solution = problem.meta.get("solution")
    if not isinstance(solution, str) or not solution.strip():
        return _Outcome(None, [_reject_row(problem, 1, "no reference solution to split", "")])
    style = "gsm8k" if problem.source.startswith("gsm8k") else "auto"
    tiers = {"knowledge": [], "planning": [], "solution": split_solution(solution, style=style)}
    problems = validate_tiers(tiers, required=("solution",), min_parts=1, max_chars=None)
    if problems:
        return _Outcome(None, [_reject_row(problem, 1, "; ".join(problems), solution)])
    return _Outcome(tiers)


def _reject_row(problem: Problem, attempt: int, reason: str, output: str) -> dict[str, Any]:
    return {"id": problem.id, "attempt": attempt, "reason": reason, "output": output[:_MAX_LOGGED_OUTPUT]}


def _append_line(f: TextIO, record: dict[str, Any]) -> None:
    """One JSON object as one line, written in a single call and flushed: a crash leaves at most a
    partial *last* line, which the next run's repair removes."""
    f.write(json.dumps(record, ensure_ascii=False) + "\n")
    f.flush()
