"""Progress bars for long work: rich on a terminal, a line every few seconds otherwise (logs, CI)."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class _Bar:
    def __init__(self, update_fn):
        self._update = update_fn

    def update(self, advance: int = 1, info: str = ""):
        self._update(advance, info)


@contextmanager
def progress_bar(label: str, total: int, quiet: bool = False):
    if quiet:
        yield _Bar(lambda a, i: None)
        return
    if sys.stderr.isatty():
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                      transient=False) as prog:
            tid = prog.add_task(label, total=total, info="")
            yield _Bar(lambda a, i: prog.update(tid, advance=a, info=i))
        return
    state = {"done": 0, "last": 0.0}
    t0 = time.perf_counter()

    def update(advance, info):
        state["done"] += advance
        now = time.perf_counter()
        if now - state["last"] > 10 or state["done"] >= total:
            state["last"] = now
            print(f"{label}: {state['done']}/{total} {now - t0:.0f}s {info}", file=sys.stderr, flush=True)

    yield _Bar(update)
