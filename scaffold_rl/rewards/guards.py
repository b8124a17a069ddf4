"""Reward-hacking guards for the label-free rewards.

Format and length rewards never look at the answer's value, so a policy can earn them without solving
anything: hedge with several boxed answers, pad to the length turning point with repeated text, copy
the problem, or pad the answer itself (`457.\nA:45777`: the embedded label-free benchmark found this one).
Each guard is a small predicate "is this response such a hack?"; `Guards` runs the enabled ones, counts
hits, and the composite reward then denies the hacked response any positive label-free reward (format term
zeroed, length term min(0, .)).

Thresholds are set so a normal worked solution passes (see tests); they are knobs, not facts.
"""
from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scaffold_rl.types import Problem
from scaffold_rl.verify import canonical_answer, extract_all_boxed, extract_answer_span

GUARD_NAMES = ("multiple_boxed", "empty_box", "repetition", "copy_problem", "unsupported_answer")


# --- text statistics ----------------------------------------------------------------------------------


_TOKEN = re.compile(r"\w+|[^\w\s]")


def _words(text: str) -> list[str]:
    """Words and punctuation marks: `387+7=394.` is 6 units, so responses without spaces (the embedded task's
    chains, bare equations) can be checked for repetition and copying too."""
    return _TOKEN.findall(text.lower())


def _ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def ngram_repetition_rate(text: str, n: int = 4) -> float:
    """Share of the text's word n-grams that repeat an earlier one: 0 for fresh text, -> 1 for a loop."""
    grams = _ngrams(_words(text), n)
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def most_repeated_line(text: str, min_chars: int = 20) -> int:
    """How often the most frequent line of at least `min_chars` (stripped) occurs; short lines such as
    `\\]` or `$$` repeat in any solution and are ignored."""
    counts = Counter(line.strip() for line in text.splitlines() if len(line.strip()) >= min_chars)
    return max(counts.values(), default=0)


def prompt_copy_words(response: str, prompt: str, n: int = 8) -> int:
    """Number of response words inside some word n-gram that also occurs in the prompt (verbatim copy)."""
    prompt_words = _words(prompt)
    n = min(n, len(prompt_words))
    if n == 0:
        return 0
    prompt_grams = set(_ngrams(prompt_words, n))
    words = _words(response)
    covered = [False] * len(words)
    for i, gram in enumerate(_ngrams(words, n)):
        if gram in prompt_grams:
            covered[i : i + n] = [True] * n
    return sum(covered)


# --- guards -------------------------------------------------------------------------------------------


def _pattern_answers(response: str, pattern: str) -> list[str]:
    return [m.group(1) if m.re.groups else m.group(0) for m in re.finditer(pattern, response)]


def has_multiple_answers(response: str, answer_pattern: str | None = None) -> bool:
    """More than one distinct final answer (boxes, or matches of the task's answer regex): hedging, which
    lets whichever answer is right be picked up. Repeating the same answer is fine."""
    if answer_pattern is None:
        answers = [a for a in extract_all_boxed(response) if a and a.strip()]
    else:
        answers = [a for a in _pattern_answers(response, answer_pattern) if a and a.strip()]
    return len({canonical_answer(a) for a in answers}) > 1


def has_empty_box(response: str) -> bool:
    """A `\\boxed{}` with nothing inside: the answer format without an answer."""
    return any(content is not None and not content.strip() for content in extract_all_boxed(response))


def is_repetition_padding(response: str, n: int = 4, max_rate: float = 0.5, min_ngrams: int = 20,
                          max_line_repeats: int = 4, min_line_chars: int = 20) -> bool:
    """Padding with repeated text: a high word n-gram repetition rate (over at least `min_ngrams` n-grams)
    or one substantial line repeated more than `max_line_repeats` times."""
    enough = len(_words(response)) - n + 1 >= min_ngrams
    if enough and ngram_repetition_rate(response, n) > max_rate:
        return True
    return most_repeated_line(response, min_line_chars) > max_line_repeats


def copies_problem(response: str, prompt: str, n: int = 8, min_words: int = 20, max_share: float = 0.5) -> bool:
    """Copying the problem to fill length: at least `min_words` copied words making up more than
    `max_share` of the response. A solution that restates the problem once and then works is not a hit."""
    copied = prompt_copy_words(response, prompt, n)
    total = len(_words(response))
    return copied >= min_words and copied > max_share * total


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def is_unsupported_answer(response: str, answer_pattern: str | None = None) -> bool:
    """A final answer that the work before it never wrote: padded (`457.` then `A:45777`), guessed, or given
    without any work. Passes when, for a number, a number of the same value occurs in the work (`3.50` after
    `= 3.5`), else when the answer's text does (whitespace ignored). No final answer: nothing to check (the format
    reward is already 0)."""
    found = extract_answer_span(response, answer_pattern)
    if found is None:
        return False
    answer, start = found
    work = response[:start]
    squashed = "".join(answer.split())
    if _NUMBER.fullmatch(squashed):  # numbers match whole numbers only: "1" is not supported by "143"
        key = canonical_answer(squashed)
        return not any(canonical_answer(n) == key for n in _NUMBER.findall(work))
    return squashed not in "".join(work.split())


@dataclass
class GuardSettings:
    """Thresholds of the guards (defaults pass normal worked solutions)."""

    repetition_n: int = 4
    repetition_max_rate: float = 0.5
    repetition_min_ngrams: int = 20
    max_line_repeats: int = 4
    min_line_chars: int = 20
    copy_n: int = 8
    copy_min_words: int = 20
    copy_max_share: float = 0.5


class Guards:
    """Runs the enabled guards on a response; `hits` counts catches per guard over the run."""

    def __init__(self, names: Iterable[str] = GUARD_NAMES, answer_pattern: str | None = None,
                 settings: GuardSettings | None = None) -> None:
        self.names = tuple(names)
        unknown = set(self.names) - set(GUARD_NAMES)
        if unknown:
            raise ValueError(f"unknown guards {sorted(unknown)}; known: {list(GUARD_NAMES)}")
        self.answer_pattern = answer_pattern
        self.settings = settings or GuardSettings()
        self.hits: Counter[str] = Counter()
        self.checked = 0
        self._lock = threading.Lock()

    def _fires(self, name: str, problem: Problem, response: str) -> bool:
        s = self.settings
        if name == "multiple_boxed":
            return has_multiple_answers(response, self.answer_pattern)
        if name == "empty_box":
            return has_empty_box(response)
        if name == "repetition":
            return is_repetition_padding(response, s.repetition_n, s.repetition_max_rate, s.repetition_min_ngrams,
                                         s.max_line_repeats, s.min_line_chars)
        if name == "unsupported_answer":
            return is_unsupported_answer(response, self.answer_pattern)
        return copies_problem(response, problem.prompt, s.copy_n, s.copy_min_words, s.copy_max_share)

    def check(self, problem: Problem, response: str) -> dict[str, bool]:
        """{guard name: caught} for each enabled guard; counts the hits."""
        caught = {name: self._fires(name, problem, response) for name in self.names}
        with self._lock:
            self.checked += 1
            self.hits.update(name for name, hit in caught.items() if hit)
        return caught
