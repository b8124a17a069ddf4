"""Run a slow, I/O-bound function over many items with N calls in flight, yielding results as they finish.

Threads rather than asyncio: the `Teacher` protocol is synchronous (`complete(prompt) -> str`), so one
pool serves every backend, the user's own included, without an async twin of each; a teacher call
waits on a socket, so the GIL is released while it waits, and the `openai` client is thread-safe with a
shared connection pool. The workers are daemon threads fed from a queue, not a `ThreadPoolExecutor`:
the executor joins its workers at interpreter exit, so Ctrl-C (or a fatal error) would wait for every
in-flight request to finish or time out (minutes); a daemon worker is simply dropped, and its item is
redone on the next (resumed) run. Only the consumer's thread sees results, so it alone writes files.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

__all__ = ["unordered_map"]

T = TypeVar("T")
R = TypeVar("R")


@contextmanager
def unordered_map(work: Callable[[T], R], items: Sequence[T], concurrency: int) -> Iterator[Iterator[tuple[T, R]]]:
    """`with unordered_map(f, items, n) as results: for item, result in results: ...`, finish order.

    At most `concurrency` calls of `work` run at once. An exception raised by `work` (any, including
    KeyboardInterrupt) is re-raised in the consumer when its item comes up, which ends the run; leaving
    the `with` block stops the workers from starting new items. `concurrency == 1` calls `work` in the
    caller's thread, in input order: no threads for sequential backends (a local model) or model-free work.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    if concurrency == 1:
        yield ((item, work(item)) for item in items)
        return
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for item in items:
        todo.put(item)
    done: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((item, work(item), None))
            except BaseException as err:  # noqa: BLE001 - handed to the consumer, which re-raises it
                done.put((item, None, err))

    for n in range(min(concurrency, len(items))):
        threading.Thread(target=worker, name=f"unordered_map-{n}", daemon=True).start()

    def results() -> Iterator[tuple[T, R]]:
        for _ in range(len(items)):
            item, result, err = done.get()
            if err is not None:
                raise err
            yield item, result

    try:
        yield results()
    finally:
        stop.set()
