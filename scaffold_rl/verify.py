"""The one answer checker, shared by training rewards and evaluation so both score answers the same way.

`Verifier.verify(text, gold)` extracts the final answer (last `\\boxed{}` or the task's own regex) and
compares it with the gold answer:

1. exact string match after removing whitespace -> correct;
2. both plain numbers ("025", "27.0", "1,000", "-3") -> compared exactly as fractions, in-process;
3. anything else -> math-verify (sympy), in a child process that is killed after `timeout_s`.

Step 3 lives in a child process because math-verify's own timeout uses `signal.alarm`, which only
works on the main thread and cannot stop sympy while it is inside C code (e.g. `9^{9^{9^9}}`).
Killing a process always works, so every call returns in bounded time from any thread.
"""
from __future__ import annotations

import atexit
import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

__all__ = [
    "VerifyResult",
    "Verifier",
    "canonical_answer",
    "default_verifier",
    "extract_all_boxed",
    "extract_answer",
    "extract_boxed",
    "shutdown_workers",
]

# ---------------------------------------------------------------------------------------------------
# Extraction

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_SHORT_BOX_RE = re.compile(r"\s*([^\s${}]+)")


def extract_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}`/`\\fbox{...}` (or short `\\boxed 5`); None if absent/empty/cut off.

    A cut-off last box (truncated generation) gives None rather than an earlier box: the model's
    final answer is what counts.
    """
    last = last_box(text)
    return None if last is None else _nonempty(last[0])


def last_box(text: str) -> tuple[str | None, int] | None:
    """(raw content, start of the command) of the last box; content None if it is cut off; None without a box."""
    last = None
    for last in _BOX_RE.finditer(text):
        pass
    if last is None:
        return None
    return _box_content(text, last), last.start()


def extract_all_boxed(text: str) -> list[str | None]:
    """Raw content of every box, in order: "" for an empty box, None for one that is cut off.

    For checks over all answers a response gives (hedging with several boxes, empty boxes).
    """
    return [_box_content(text, match) for match in _BOX_RE.finditer(text)]


def _box_content(text: str, match: re.Match[str]) -> str | None:
    """Content of the box whose command `match` found: `{...}` or a short `\\boxed 5`; None if cut off."""
    start = match.end()
    while start < len(text) and text[start].isspace():
        start += 1
    if start < len(text) and text[start] == "{":
        return _braced(text, start)
    short = _SHORT_BOX_RE.match(text, match.end())
    return short.group(1) if short and short.end() > match.end() else None


def _nonempty(text: str | None) -> str | None:
    if text is None:
        return None
    return text.strip() or None


def _braced(text: str, open_index: int) -> str | None:
    """Text inside the brace group opening at `open_index`, skipping escaped `\\{` `\\}`; None if unclosed."""
    depth = 0
    i = open_index
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[open_index + 1 : i]
        i += 1
    return None


def extract_answer(text: str, pattern: str | None = None) -> str | None:
    """The final answer in `text`: the last match of `pattern` if given, else the last boxed answer.

    `pattern` is the task's own answer format, e.g. `A:(-?\\d+)` or GSM8K's `####\\s*(.+)`; its first
    group is the answer (the whole match if it has no group). There is no fallback from one to the
    other: a task that asks for `A: 5` should not be paid for `\\boxed{5}`.
    """
    found = extract_answer_span(text, pattern)
    return None if found is None else found[0]


def extract_answer_span(text: str, pattern: str | None = None) -> tuple[str, int] | None:
    """(final answer, where its marker starts) by the rules of `extract_answer`; None without one. The text
    before the marker is the work that led to the answer (the `unsupported_answer` guard reads it)."""
    if pattern is None:
        last = last_box(text)
        content = None if last is None else _nonempty(last[0])
        return None if content is None else (content, last[1])
    last = None
    for last in re.finditer(pattern, text):
        pass
    if last is None:
        return None
    content = _nonempty(last.group(1) if last.re.groups else last.group(0))
    return None if content is None else (content, last.start())


# ---------------------------------------------------------------------------------------------------
# In-process fast paths

_NUMBER_RE = re.compile(r"[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)")


def _as_number(text: str) -> Fraction | None:
    """The exact value of a plain decimal number ("025", "27.0", "1,000", "-.5"), else None.

    "d,ddd" is a thousands separator (as math-verify reads it too), and MATH's LaTeX spelling
    `10,\\!080` counts as one, so the many MATH counting answers skip sympy.
    """
    text = text.strip().replace("\\!", "").replace("{,}", ",")
    if not _NUMBER_RE.fullmatch(text):
        return None
    return Fraction(text.replace(",", ""))


def _squash(text: str) -> str:
    return "".join(text.split())


def canonical_answer(text: str) -> str:
    """A grouping key for answers: plain numbers by exact value ("025" -> "25", "0.5" -> "1/2"), else the
    text without whitespace.

    Cheap and deterministic, so majority voting over many samples never calls sympy.
    """
    number = _as_number(text)
    if number is None:
        return _squash(text)
    return str(number.numerator) if number.denominator == 1 else f"{number.numerator}/{number.denominator}"


def _fast_equal(pred: str, gold: str) -> bool | None:
    """True/False when decidable without sympy, None when math-verify has to decide."""
    if _squash(pred) == _squash(gold):
        return True
    a, b = _as_number(pred), _as_number(gold)
    if a is not None and b is not None:
        return a == b
    return None


# ---------------------------------------------------------------------------------------------------
# math-verify, run in a child process


def _as_latex(text: str) -> str:
    # Boxing tells math-verify exactly where the answer is; `$...$` if the braces don't balance.
    return f"\\boxed{{{text}}}" if _braced("{" + text + "}", 0) == text else f"${text}$"


def _math_verify_equal(gold: str, pred: str) -> bool:
    """math-verify's verdict with its own (signal-based) timeouts off; the caller bounds the time."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    config = (LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig())
    gold_parsed = parse(_as_latex(gold), config, parsing_timeout=None)
    pred_parsed = parse(_as_latex(pred), config, parsing_timeout=None)
    if not gold_parsed or not pred_parsed:
        return False
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=None))


def _parses_as_math(text: str) -> bool:
    """True when latex2sympy parses `text` after math-verify's normalisation (no `equations` splitting).

    Stricter than math-verify's `parse`, which falls back to the raw string: here `x +* 2`, `(0,1` and
    `)(` fail, while `\\frac12`, `x^2+12y=1` and `(0,\\infty)` parse. The caller bounds the time.
    """
    from latex2sympy2_extended.latex2sympy2 import NormalizationConfig, latex2sympy

    config = NormalizationConfig(basic_latex=True, units=True, malformed_operators=True, nits=True,
                                 boxed="all", equations=False)
    latex2sympy(text, normalization_config=config)  # raises on text that is not mathematics
    return True


_WORKER_MEMORY_BYTES = 4 << 30  # a runaway sympy call fails with MemoryError instead of starving the machine
_STARTUP_TIMEOUT_S = 60.0  # only a cold worker waits for this (importing sympy takes ~0.5 s)
_MAX_IDLE_WORKERS = 8

# Load this file by path in the child, so the package's __init__ (which may import torch) is not run.
_WORKER_BOOT = (
    "import importlib.util, sys\n"
    "spec = importlib.util.spec_from_file_location('_scaffold_rl_verify_worker', sys.argv[1])\n"
    "mod = importlib.util.module_from_spec(spec)\n"
    "sys.modules[spec.name] = mod\n"
    "spec.loader.exec_module(mod)\n"
    "mod._worker_main()\n"
)


def _worker_main() -> None:
    """Child loop: one JSON request per stdin line, one JSON reply per stdout line."""
    import logging
    import signal

    logging.disable(logging.WARNING)  # math-verify warns that its own timeout is off, on purpose
    # Replies get a private copy of stdout; anything a library prints goes to stderr instead.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (_WORKER_MEMORY_BYTES, _WORKER_MEMORY_BYTES))
        except (ImportError, ValueError, OSError):
            pass
        import math_verify  # noqa: F401  (import cost paid once, before "ready")
    except BaseException as exc:  # report why instead of dying silently
        _reply(out, {"fatal": f"{type(exc).__name__}: {exc}"})
        return
    # The parent kills us on its deadline; this alarm (default action: terminate) is the backstop
    # for a parent that died while we were stuck, so no orphan keeps burning CPU.
    has_alarm = hasattr(signal, "alarm")
    if has_alarm:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
    _reply(out, {"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        if has_alarm:
            signal.alarm(int(request["limit"]))
        try:
            if request.get("op") == "parse":
                reply: dict[str, Any] = {"ok": _parses_as_math(request["pred"])}
            else:
                reply = {"ok": _math_verify_equal(request["gold"], request["pred"])}
        except Exception as exc:  # a parse/verify crash is a wrong answer, not a dead worker
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
        if has_alarm:
            signal.alarm(0)
        _reply(out, reply)


def _reply(out: Any, message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


_LIVE_WORKERS: set[_Worker] = set()
_LIVE_LOCK = threading.Lock()


class _Worker:
    """One math-verify child process; replies arrive through a reader thread so any wait can time out."""

    def __init__(self) -> None:
        self.owner_pid = os.getpid()
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-c", _WORKER_BOOT, os.path.abspath(__file__)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
        )
        self.replies: queue.Queue[str | None] = queue.Queue()
        self.ready = False
        threading.Thread(target=self._pump, name="verify-worker-reader", daemon=True).start()
        with _LIVE_LOCK:
            _LIVE_WORKERS.add(self)

    def _pump(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        try:
            for line in stdout:
                self.replies.put(line)
        except (OSError, ValueError):
            pass
        finally:
            self.replies.put(None)
            stdout.close()

    def _next(self, timeout: float) -> dict[str, Any] | None:
        """The next reply; None when none came in time or the process is gone."""
        try:
            line = self.replies.get(timeout=timeout)
        except queue.Empty:
            return None
        return None if line is None else json.loads(line)

    def wait_ready(self) -> None:
        if self.ready:
            return
        message = self._next(_STARTUP_TIMEOUT_S)
        if not message or not message.get("ready"):
            self.kill()
            why = message.get("fatal") if message else f"no reply within {_STARTUP_TIMEOUT_S:.0f} s"
            raise RuntimeError(f"math-verify worker failed to start: {why}")
        self.ready = True

    def ask(self, gold: str | None, pred: str, timeout_s: float, op: str = "equal") -> dict[str, Any] | None:
        """The verdict as `{"ok": bool}`; None if it took over `timeout_s` or the worker died.

        op "equal": does `pred` match `gold` (math-verify); op "parse": does `pred` parse as mathematics.
        """
        request = {"op": op, "gold": gold, "pred": pred, "limit": int(timeout_s) + 5}
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            return None
        return self._next(timeout_s)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        with _LIVE_LOCK:
            _LIVE_WORKERS.discard(self)
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass


class _Pool:
    """Idle workers shared by all Verifiers: one per concurrent caller, reused, replaced when killed."""

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def checkout(self) -> _Worker:
        with self._lock:
            if self._pid != os.getpid():  # forked child: those processes belong to the parent
                self._idle, self._pid = [], os.getpid()
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
        return _Worker()

    def checkin(self, worker: _Worker) -> None:
        with self._lock:
            if len(self._idle) < _MAX_IDLE_WORKERS and self._pid == os.getpid():
                self._idle.append(worker)
                return
        worker.kill()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            if self._pid != os.getpid():  # a forked child must not kill its parent's workers
                return
        for worker in idle:
            worker.kill()


_POOL = _Pool()


def shutdown_workers() -> None:
    """Stop every math-verify worker this process started; the next slow check starts a fresh one."""
    _POOL.close()
    with _LIVE_LOCK:
        mine = [w for w in _LIVE_WORKERS if w.owner_pid == os.getpid()]
    for worker in mine:
        worker.kill()


atexit.register(shutdown_workers)


# ---------------------------------------------------------------------------------------------------
# Public checker


@dataclass
class VerifyResult:
    correct: bool
    extracted: str | None
    timed_out: bool = False


class Verifier:
    """Extract-and-compare with a time bound per call.

    Each slow (math-verify) check gets `timeout_s` seconds; a check that runs over is killed, counted
    in `timeouts` and scored incorrect with `timed_out=True`. The only extra wait is a worker's
    start-up (~0.5 s) on the first slow check, or the first after a kill (a replacement is started
    at once, so it is usually ready by then). Thread-safe.
    """

    def __init__(self, timeout_s: float = 2.0, answer_pattern: str | None = None) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if answer_pattern is not None:
            re.compile(answer_pattern)  # fail here, not on the first completion
        self.timeout_s = float(timeout_s)
        self.answer_pattern = answer_pattern
        self.timeouts = 0
        self._count_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_count_lock"]  # locks don't pickle; workers are per process anyway
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._count_lock = threading.Lock()

    def verify(self, completion_text: str, gold: str) -> VerifyResult:
        """Score one completion against the gold answer."""
        extracted = extract_answer(completion_text, self.answer_pattern)
        if extracted is None:
            return VerifyResult(False, None)
        return self.check(extracted, gold)

    def verify_many(self, completion_texts: Sequence[str], golds: Sequence[str]) -> list[VerifyResult]:
        """`verify` over pairs; `golds` has one entry per completion."""
        if len(completion_texts) != len(golds):
            raise ValueError(f"{len(completion_texts)} completions but {len(golds)} gold answers")
        return [self.verify(text, gold) for text, gold in zip(completion_texts, golds)]

    def check(self, answer: str, gold: str) -> VerifyResult:
        """Compare an already-extracted answer (e.g. a majority-vote winner) with the gold answer."""
        if gold is None:
            raise ValueError("no gold answer to verify against")
        gold = str(gold)
        verdict = _fast_equal(answer, gold)
        if verdict is not None:
            return VerifyResult(verdict, answer)
        return self._slow_check(answer, gold)

    def parses(self, answer: str) -> VerifyResult:
        """Whether an extracted answer is valid mathematics (`correct` = it parses), time-bounded like `check`.

        Plain numbers pass without sympy; anything else is parsed by latex2sympy in the worker.
        """
        if _as_number(answer) is not None:
            return VerifyResult(True, answer)
        if not answer.strip():
            return VerifyResult(False, answer)
        return self._slow_check(answer, None, op="parse")

    def _slow_check(self, answer: str, gold: str | None, op: str = "equal") -> VerifyResult:
        worker = _POOL.checkout()
        worker.wait_ready()
        reply = worker.ask(gold, answer, self.timeout_s, op=op)
        if reply is not None:
            _POOL.checkin(worker)
            return VerifyResult(bool(reply["ok"]), answer)
        worker.kill()
        _POOL.checkin(_Worker())  # start the replacement now so the next caller doesn't wait for it
        with self._count_lock:
            self.timeouts += 1
        return VerifyResult(False, answer, timed_out=True)


@lru_cache(maxsize=None)
def default_verifier() -> Verifier:
    """A shared `Verifier()` (2 s timeout, boxed answers) for code that has no task-specific one."""
    return Verifier()
