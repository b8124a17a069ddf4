"""math-verify in a child process that is killed past its deadline: the time bound of `scaffold_rl.verify`.

math-verify's own timeout uses `signal.alarm`, which only works on the main thread and cannot stop sympy
while it is inside C code (`9^{9^{9^9}}`, math-verify issue #65). Killing a process always works, so every
check returns in bounded time from any thread.

Child side (`worker_main`): one JSON request per stdin line, one JSON reply per stdout line; the requests
carry text the parent already prepared (`verify_forms`), so this file needs nothing of the package and is
loaded by path, without running the package's `__init__`. Parent side: `_Worker` (one child) and `_Pool`
(idle children shared by all Verifiers, plus one spare, so the call after a kill never waits for a start-up).
"""
from __future__ import annotations

import atexit
import json
import os
import queue
import subprocess
import sys
import threading
from typing import Any

_WORKER_MEMORY_BYTES = 4 << 30  # a runaway sympy call fails with MemoryError instead of starving the machine
_STARTUP_TIMEOUT_S = 60.0  # only a cold worker waits for this (importing sympy takes ~0.5 s)
_MAX_IDLE_WORKERS = 8
# Idle workers kept beyond the one in use. Kills come in bursts (a policy that found a pathological answer
# writes it again), and a replacement takes 0.5-2 s to import sympy: two spares cover two kills in a row.
# A worker at rest holds ~60 MB.
_SPARES = 2

# ---------------------------------------------------------------------------------------------------
# Child side: the math-verify calls (the parent bounds their time)

_CONFIG: tuple = ()
# Rules switched off, for the ablation in benchmarks/verifier.py only (as in verify_forms.OFF).
OFF = frozenset(filter(None, os.environ.get("SCAFFOLD_RL_VERIFY_OFF", "").split(",")))


def _config() -> tuple:
    """Latex (boxes first) then plain expressions: math-verify's default targets, boxes outranking anchors."""
    global _CONFIG
    if not _CONFIG:
        from math_verify import ExprExtractionConfig, LatexExtractionConfig

        _CONFIG = (LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig())
    return _CONFIG


def _parse(latex: str) -> list:
    from math_verify import parse

    return parse(latex, _config(), parsing_timeout=None)


def _last_of_chain(parsed: list) -> list:
    """A chain `V = 20 \\times 2 = 40 \\text{ cubic inches}` answers with its last member (`40`).

    math-verify itself falls back to the last member only when the whole chain fails to parse; a chain that
    parses becomes `Eq & Eq`, which equals no number. Only such an `Eq & Eq` is cut, at math-verify's own
    `get_last_eq` (2-part equations and anything with a comma are left alone, so `x=5` and `a=1,b=2` keep
    their meaning)."""
    from math_verify.parser import get_last_eq
    from sympy import And, Eq

    if len(parsed) < 2 or not isinstance(parsed[-1], str) or "chain" in OFF:
        return parsed
    if not (isinstance(parsed[0], And) and all(isinstance(a, Eq) for a in parsed[0].args)):
        return parsed  # not a chain: `x = 14 and y = 15` is a set of two answers, not `... = 15`
    last = get_last_eq(parsed[-1])
    if last == parsed[-1] or not last.strip():
        return parsed
    reparsed = _parse(f"${last}$")
    return reparsed if len(reparsed) == 2 else parsed


def _exact_numbers_differ(gold: Any, pred: Any) -> bool:
    """True when two exact numbers that math-verify called equal are not: it compares them by
    `(a - b).evalf(chop=True)`, which chops tiny values to 0, so `1/2004!` equalled `1/2006!` (issue #14).
    Checked relative to their size at 30 digits; floats and percentages keep math-verify's rounding."""
    from sympy import Expr, Float, UnevaluatedExpr

    if not (isinstance(gold, Expr) and isinstance(pred, Expr)) or "exact-numbers" in OFF:
        return False
    if gold.free_symbols or pred.free_symbols or not (gold.is_number and pred.is_number):
        return False
    if any(e.has(Float) or e.has(UnevaluatedExpr) for e in (gold, pred)):
        return False
    try:
        scale = max(abs(gold.evalf(30)), abs(pred.evalf(30)))
        if scale == 0:
            return False
        return bool(abs((gold - pred).evalf(30)) > scale * Float("1e-20", 30))
    except Exception:  # sympy could not evaluate: keep math-verify's verdict
        return False


def _equal_parsed(gold: list, pred: list) -> bool:
    from math_verify import verify

    if not gold or not pred or not verify(gold, pred, timeout_seconds=None):
        return False
    return not _exact_numbers_differ(gold[0], pred[0])


def _without_units(latex: str) -> str:
    """math-verify's normalisation minus its unit stripping, without whitespace."""
    from latex2sympy2_extended.latex2sympy2 import NormalizationConfig, normalize_latex

    config = NormalizationConfig(basic_latex=True, units=False, malformed_operators=True, nits=True,
                                 boxed="all", equations=False)
    return "".join(normalize_latex(latex, config).split())


def _unparsed_agree(gold_latex: str, pred_source: str, whole: bool) -> bool:
    """For two answers math-verify could not parse (so it compared its normalised strings): the same text
    before its unit stripping too. That stripping drops a closing single letter it takes for a unit (`c`,
    `d`, `t`, `m`, ...), so `a + b + c` and `a + b + d` both became `a +` and compared equal. `whole`: the
    prediction is the answer itself; else a region that must contain the gold's text."""
    gold, pred = _without_units(gold_latex), _without_units(pred_source)
    return gold == pred if whole else gold in pred


def _equal_to_gold(gold_latex: str, pred: list, pred_source: str, whole: bool) -> bool:
    """`_equal_parsed` (with `_unparsed_agree` when neither side parsed), and for a percentage on one side
    only, the number without it: `7.2` answers a gold `7.2\\%` (math-verify equates 9% with 9 but compares
    7.2% as 0.072). `pred_source`: the text `pred` was extracted from."""
    gold = _parse(gold_latex)
    if _equal_parsed(gold, pred):
        return len(gold) > 1 or len(pred) > 1 or "unparsed-agree" in OFF or _unparsed_agree(
            gold_latex, pred_source, whole)
    pred_text = pred[-1] if pred and isinstance(pred[-1], str) else ""
    if ("%" in gold_latex) == ("%" in pred_text) or "percent" in OFF:
        return False
    if "%" in pred_text:
        pred = _parse(f"${pred_text.replace(chr(92) + '%', '').replace('%', '')}$")
    return _equal_parsed(_parse(gold_latex.replace("\\%", "").replace("%", "")), pred)


def math_verify_equal(gold_latex: str, pred_latex: str) -> bool:
    """math-verify's verdict on two answers already wrapped for it (`\\boxed{...}` or `$...$`)."""
    return _equal_to_gold(gold_latex, _last_of_chain(_parse(pred_latex)), pred_latex, whole=True)


def find(regions: list[str], gold_latex: str | None) -> dict[str, Any]:
    """The answer math-verify extracts from the first region it finds mathematics in, and (with a gold
    answer) whether it matches. When no region has math that parses, the first match that did not parse is
    the answer, compared as a string (as plain math-verify does: `\\sin^2 t`, whose `t` its unit stripping
    removes, still equals itself)."""
    unparsed = None
    for region in regions:
        parsed = _parse(region)
        if len(parsed) == 1 and unparsed is None:
            unparsed = (parsed, region)
        if len(parsed) < 2:
            continue
        parsed = _last_of_chain(parsed)
        ok = gold_latex is not None and _equal_to_gold(gold_latex, parsed, region, whole=False)
        return {"ok": ok, "extracted": parsed[-1]}
    if unparsed is None or "unparsed-fallback" in OFF:
        return {"ok": False, "extracted": None}
    ok = gold_latex is not None and _equal_to_gold(gold_latex, unparsed[0], unparsed[1], whole=False)
    return {"ok": ok, "extracted": unparsed[0][0]}


def parses_as_math(text: str) -> bool:
    """True when latex2sympy parses `text` after math-verify's normalisation (no `equations` splitting).

    Stricter than math-verify's `parse`, which falls back to the raw string: here `x +* 2`, `(0,1` and
    `)(` fail, while `\\frac12`, `x^2+12y=1` and `(0,\\infty)` parse.
    """
    from latex2sympy2_extended.latex2sympy2 import NormalizationConfig, latex2sympy

    config = NormalizationConfig(basic_latex=True, units=True, malformed_operators=True, nits=True,
                                 boxed="all", equations=False)
    latex2sympy(text, normalization_config=config)  # raises on text that is not mathematics
    return True


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    op = request["op"]
    if op == "parse":
        return {"ok": parses_as_math(request["pred"])}
    if op == "find":
        return find(request["regions"], request.get("gold"))
    return {"ok": math_verify_equal(request["gold"], request["pred"])}


def worker_main() -> None:
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
        if hasattr(sys, "set_int_max_str_digits"):
            sys.set_int_max_str_digits(0)  # a 5,000-digit answer is an answer, not an error
        import math_verify  # noqa: F401  (import cost paid once, before "ready")

        _config()
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
            reply = _answer(request)
        except Exception as exc:  # a parse/verify crash is a wrong answer, not a dead worker
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
        if has_alarm:
            signal.alarm(0)
        _reply(out, reply)


def _reply(out: Any, message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


# ---------------------------------------------------------------------------------------------------
# Parent side: the processes

# Load this file by path in the child, so the package's __init__ (which may import torch) is not run.
_WORKER_BOOT = (
    "import importlib.util, sys\n"
    "spec = importlib.util.spec_from_file_location('_scaffold_rl_verify_worker', sys.argv[1])\n"
    "mod = importlib.util.module_from_spec(spec)\n"
    "sys.modules[spec.name] = mod\n"
    "spec.loader.exec_module(mod)\n"
    "mod.worker_main()\n"
)

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
            line = self.replies.get(timeout=timeout) if timeout > 0 else self.replies.get_nowait()
        except queue.Empty:
            return None
        return None if line is None else json.loads(line)

    def is_ready(self) -> bool:
        """Whether start-up is over, without waiting; False for one that failed to start (it is killed)."""
        if not self.ready and not self.replies.empty():
            try:
                self.wait_ready()
            except RuntimeError:
                return False
        return self.ready

    def wait_ready(self) -> None:
        if self.ready:
            return
        message = self._next(_STARTUP_TIMEOUT_S)
        if not message or not message.get("ready"):
            self.kill()
            why = message.get("fatal") if message else f"no reply within {_STARTUP_TIMEOUT_S:.0f} s"
            raise RuntimeError(f"math-verify worker failed to start: {why}")
        self.ready = True

    def ask(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any] | None:
        """The reply to `request` (see `_answer`); None if it took over `timeout_s` or the worker died."""
        request = {**request, "limit": int(timeout_s) + 5}
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            return None
        return self._next(max(timeout_s, 0.001))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, wait: bool = True) -> None:
        """SIGKILL. `wait=False` reaps it on a thread: a child that had grabbed GBs takes a second to tear
        down, which a caller past its deadline should not wait for."""
        with _LIVE_LOCK:
            _LIVE_WORKERS.discard(self)
        if self.proc.poll() is None:
            self.proc.kill()
        if wait:
            self._reap()
        else:
            threading.Thread(target=self._reap, name="verify-worker-reaper", daemon=True).start()

    def _reap(self) -> None:
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except (OSError, ValueError):
            pass


class _Pool:
    """Idle workers shared by all Verifiers: one per concurrent caller, reused, replaced when killed.

    Spares are kept (`keep_spare`), so one is ready when a check has to be killed: the next call then does not
    wait for a start-up (0.5-2 s) on top of its own time bound."""

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._starting: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def checkout(self) -> _Worker:
        with self._lock:
            if self._pid != os.getpid():  # forked child: those processes belong to the parent
                self._idle, self._starting, self._pid = [], set(), os.getpid()
            ready = [w for w in self._idle if w.is_ready()]
            for worker in [w for w in self._idle if not w.alive()]:
                self._idle.remove(worker)
                worker.kill()
            ready = [w for w in ready if w in self._idle]
            worker = (ready or self._idle or [None])[-1]
            if worker is not None:
                self._idle.remove(worker)
        return worker if worker is not None else _Worker()

    def keep_spare(self) -> None:
        """After a check (or a kill): top up to one worker plus `_SPARES` idle or starting. Not at checkout, so
        a cold start does not share the CPU with more imports of sympy."""
        with self._lock:
            missing = 1 + _SPARES - len(self._idle) - len(self._starting)
        for _ in range(missing):
            self.start_one()

    def warm(self) -> None:
        """Start the workers now and wait until they are ready."""
        worker = self.checkout()
        worker.wait_ready()
        self.checkin(worker)
        self.keep_spare()
        with self._lock:
            starting = list(self._starting)
        for thread in starting:
            thread.join(timeout=_STARTUP_TIMEOUT_S)
        with self._lock:
            idle = list(self._idle)
        for w in idle:
            w.wait_ready()

    def start_one(self) -> None:
        """Start a worker into the idle list on a thread (a Popen can take tens of ms on a loaded machine)."""
        thread = threading.Thread(target=self._start, name="verify-worker-start", daemon=True)
        with self._lock:
            self._starting.add(thread)
        thread.start()

    def _start(self) -> None:
        try:
            self.checkin(_Worker())
        finally:
            with self._lock:
                self._starting.discard(threading.current_thread())

    def checkin(self, worker: _Worker) -> None:
        with self._lock:
            if len(self._idle) < _MAX_IDLE_WORKERS and self._pid == os.getpid():
                self._idle.append(worker)
                return
        worker.kill()

    def close(self) -> None:
        with self._lock:
            starting = list(self._starting)
        for thread in starting:  # let them check their worker in, so it is stopped below
            thread.join(timeout=10)
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
