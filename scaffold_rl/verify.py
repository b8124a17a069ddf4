"""The one answer checker, shared by training rewards and evaluation so both score answers the same way.

`Verifier.verify(text, gold)` finds the final answer and compares it with the gold answer.

Where the answer is (first that applies):

1. the task's own regex (`answer_pattern`, e.g. the embedded task's `A:(\\d+)`): its last match, and
   nothing else -- a task that asks for `A: 5` is not paid for `\\boxed{5}`;
2. the last `\\boxed{}` / `\\fbox{}` (a cut-off or empty last box is no answer: the model's final answer is
   what counts);
3. the last `<answer>...</answer>`, or a closing `#### x` line (GSM8K);
4. otherwise the regions of `verify_forms.answer_regions` (the last "final answer" mention, then the last
   paragraphs), where math-verify's own extraction ("final answer is", "answer:", the last math span, the
   last number) picks the answer.

How it is compared: exact string match after `verify_forms.prepare` and without whitespace -> correct; both
plain numbers ("025", "27.0", "1,000") -> exact fractions, in-process; anything else -> math-verify (sympy)
in a child process killed at the deadline (`verify_worker`).

`extract_answer` is the stricter rule 1-2 alone: the format reward and the guards use it, since they pay for
(or police) the answer format a prompt asks for, not for an answer a checker can dig out of prose.
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from scaffold_rl.verify_forms import (
    OFF,
    answer_regions,
    answer_tag,
    has_math_delimiters,
    hash_answer,
    prepare,
    prepare_text,
)
from scaffold_rl.verify_worker import _LIVE_WORKERS, _POOL, shutdown_workers  # noqa: F401 (tests read _LIVE_WORKERS)

__all__ = [
    "VerifyResult",
    "Verifier",
    "canonical_answer",
    "default_verifier",
    "extract_all_boxed",
    "extract_answer",
    "extract_answer_span",
    "extract_boxed",
    "last_box",
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
    try:
        return Fraction(text.replace(",", ""))
    except ValueError:  # over Python's 4,300-digit int limit: math-verify decides
        return None


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
# Public checker




def _as_latex(text: str) -> str:
    # Boxing tells math-verify exactly where the answer is; `$...$` if the braces don't balance.
    return f"\\boxed{{{text}}}" if _braced("{" + text + "}", 0) == text else f"${text}$"


@dataclass
class VerifyResult:
    correct: bool
    extracted: str | None
    timed_out: bool = False


# The kill, the replacement's Popen and the reply's trip take a few ms; leaving this much of `timeout_s`
# for them keeps a call that runs over inside `timeout_s` in all.
_KILL_MARGIN_S = 0.1


class Verifier:
    """Extract-and-compare with a time bound per call.

    A call returns within `timeout_s` (finding the answer, the math-verify check and, when the check runs
    over, killing it): such a check is counted in `timeouts` and scored incorrect with `timed_out=True`.
    The one wait on top is a worker's start-up (0.5-2 s, importing sympy) when none is ready: the first slow
    check in a process, or a burst of kills. A spare worker is kept, so the call after a kill does not wait.
    Thread-safe.
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

    def warm_up(self) -> None:
        """Start the math-verify workers now and wait until they are ready (0.5-2 s once per process), so the
        first checks neither wait for a start-up nor share the CPU with one."""
        _POOL.warm()

    def locate(self, text: str) -> str | list[str] | None:
        """Where the final answer is (rules 1-4 of the module doc), without sympy: the answer itself (str),
        regions for math-verify to extract it from (list), or None when there is none."""
        if self.answer_pattern is not None:
            return extract_answer(text, self.answer_pattern)
        last = last_box(text)
        if last is not None:
            return _nonempty(last[0])
        tagged = answer_tag(text) if "answer-tag" not in OFF else None
        if tagged is not None:
            return [prepare_text(tagged)] if has_math_delimiters(prepare_text(tagged)) else tagged
        hashed = hash_answer(text) if "hash-line" not in OFF else None
        if hashed is not None:
            return hashed
        return answer_regions(text) or None

    def verify(self, completion_text: str, gold: str) -> VerifyResult:
        """Score one completion against the gold answer."""
        start = time.monotonic()
        if gold is None:
            raise ValueError("no gold answer to verify against")
        found = self.locate(completion_text)
        if found is None:
            return VerifyResult(False, None)
        if isinstance(found, str):
            return self._check(found, str(gold), start)
        gold_latex = _as_latex(prepare(str(gold)))
        return self._ask({"op": "find", "regions": found, "gold": gold_latex}, None, start)

    def extract(self, completion_text: str) -> str | None:
        """The final answer `verify` would compare (math-verify's reading of it for answers found in prose);
        None without one, or when finding it ran past `timeout_s`. For majority voting over what the checker
        sees."""
        start = time.monotonic()
        found = self.locate(completion_text)
        if found is None or isinstance(found, str):
            return found
        return self._ask({"op": "find", "regions": found, "gold": None}, None, start).extracted

    def verify_many(self, completion_texts: Sequence[str], golds: Sequence[str]) -> list[VerifyResult]:
        """`verify` over pairs; `golds` has one entry per completion."""
        if len(completion_texts) != len(golds):
            raise ValueError(f"{len(completion_texts)} completions but {len(golds)} gold answers")
        return [self.verify(text, gold) for text, gold in zip(completion_texts, golds)]

    def check(self, answer: str, gold: str) -> VerifyResult:
        """Compare an already-extracted answer (e.g. a majority-vote winner) with the gold answer."""
        if gold is None:
            raise ValueError("no gold answer to verify against")
        return self._check(answer, str(gold), time.monotonic())

    def _check(self, answer: str, gold: str, start: float) -> VerifyResult:
        pred, gold = prepare(answer), prepare(gold)
        verdict = _fast_equal(pred, gold)
        if verdict is not None:
            return VerifyResult(verdict, answer)
        return self._ask({"op": "equal", "gold": _as_latex(gold), "pred": _as_latex(pred)}, answer, start)

    def parses(self, answer: str) -> VerifyResult:
        """Whether an extracted answer is valid mathematics (`correct` = it parses), time-bounded like `check`.

        Plain numbers pass without sympy; anything else is parsed by latex2sympy in the worker.
        """
        if _as_number(answer) is not None:
            return VerifyResult(True, answer)
        if not answer.strip():
            return VerifyResult(False, answer)
        return self._ask({"op": "parse", "pred": answer}, answer, time.monotonic())

    def _slow_check(self, answer: str, gold: str) -> VerifyResult:
        """math-verify's verdict even where a fast path would decide (tests force real gold answers through it)."""
        pred, gold = prepare(answer), prepare(gold)
        return self._ask({"op": "equal", "gold": _as_latex(gold), "pred": _as_latex(pred)}, answer,
                         time.monotonic())

    def _ask(self, request: dict[str, Any], answer: str | None, start: float) -> VerifyResult:
        """One worker request, answered by `start + timeout_s` (plus the worker's start-up if it had one)."""
        worker = _POOL.checkout()
        waited = time.monotonic()
        worker.wait_ready()
        deadline = start + self.timeout_s - _KILL_MARGIN_S + (time.monotonic() - waited)
        reply = worker.ask(request, deadline - time.monotonic())
        if reply is not None:
            _POOL.checkin(worker)
            _POOL.keep_spare()
            extracted = reply.get("extracted", answer) if answer is None else answer
            return VerifyResult(bool(reply["ok"]), extracted)
        worker.kill(wait=False)
        _POOL.keep_spare()  # the replacement; a spare serves the next caller meanwhile
        with self._count_lock:
            self.timeouts += 1
        return VerifyResult(False, answer, timed_out=True)


@lru_cache(maxsize=None)
def default_verifier() -> Verifier:
    """A shared `Verifier()` (2 s timeout, no task pattern) for code that has no task-specific one."""
    return Verifier()
