"""Reading record files (.jsonl, .parquet) with errors that point at the exact file, line and field.

A bad row in a 12k-line file should cost seconds to find, not a debugging session, so every problem
is raised as a `DataError` whose message reads like `math500.jsonl:17: field 'answer': missing`.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["DataError", "read_records", "get_field"]

_MISSING = object()


class DataError(ValueError):
    """A malformed data file; the message names the file, the 1-based line and the field when known."""

    def __init__(self, path: str | Path, line: int | None, field: str | None, problem: str):
        self.path = str(path)
        self.line = line
        self.field = field
        self.problem = problem
        where = self.path if line is None else f"{self.path}:{line}"
        what = problem if field is None else f"field '{field}': {problem}"
        super().__init__(f"{where}: {what}")


def read_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield `(line_no, record)` from .jsonl (blank lines skipped) or .parquet (line = row index + 1)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        yield from _read_jsonl(path)
    elif suffix == ".parquet":
        yield from _read_parquet(path)
    else:
        problem = f"unsupported file type {suffix or '(none)'!r}; expected .jsonl or .parquet"
        raise DataError(path, None, None, problem)


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    # Decode line by line (not the whole file) so a bad byte is reported with its line number.
    with path.open("rb") as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                problem = f"not valid UTF-8 ({exc.reason} at byte {exc.start})"
                raise DataError(path, line_no, None, problem) from None
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                problem = f"invalid JSON: {exc.msg} (column {exc.colno})"
                raise DataError(path, line_no, None, problem) from None
            if not isinstance(record, dict):
                raise DataError(path, line_no, None, f"expected a JSON object, got {type(record).__name__}")
            yield line_no, record


def _read_parquet(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(f"reading {path.name} needs pyarrow: pip install scaffold-rl[parquet]") from None
    line_no = 0
    for batch in pq.ParquetFile(path).iter_batches():
        for record in batch.to_pylist():
            line_no += 1
            yield line_no, record


def get_field(
    record: dict[str, Any],
    dotted_name: str,
    path: str | Path,
    line: int,
    types: tuple[type, ...] = (str,),
    required: bool = True,
) -> Any:
    """`record[a][b]` for `dotted_name="a.b"`, checked against `types`.

    A missing or null value raises when `required`, else returns None. `bool` is not accepted as an
    `int` unless `bool` is listed, since a JSON `true` where a number belongs is a data bug.
    """
    value: Any = record
    for part in dotted_name.split("."):
        value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
        if value is _MISSING:
            break
    if value is _MISSING or value is None:
        if required:
            raise DataError(path, line, dotted_name, "missing" if value is _MISSING else "null")
        return None
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        expected = " or ".join(t.__name__ for t in types)
        raise DataError(path, line, dotted_name, f"expected {expected}, got {type(value).__name__}")
    return value
