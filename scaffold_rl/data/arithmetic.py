"""The embedded learning-cliff task: multi-step integer arithmetic with a difficulty knob.

A problem is a start value followed by `level` operations, evaluated left to right, e.g.

    prompt      Q:143-7+8=?\nS:
    reference   143-7=136.136+8=144.\nA:144

Every problem carries its solution steps (hints are built from them) and the full reference completion
(the strict reward compares against it). Difficulty = number of operations; a model pretrained on one
and two operations meets a cliff at three.

Problems are drawn from a counter-based RNG keyed by (seed, split, level, index), so any problem can
be regenerated alone, generation is deterministic, and train/test are disjoint by construction: a
problem's split is decided by a hash of its text, never by where it was drawn.
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import asdict, dataclass, replace

from scaffold_rl.data.mixture import level_mixture
from scaffold_rl.types import Problem

ANSWER_PATTERN = r"A:(-?\d+)"


@dataclass(frozen=True)
class ArithmeticSpec:
    """Shape of the task. Defaults give answers in 100..999, so a wrong chain rarely lands on the answer."""

    value_min: int = 100
    value_max: int = 999
    operand_max: int = 9
    ops: str = "+-"
    test_fraction: float = 0.2  # share of the problem space reserved for evaluation
    # "wide" operations: each +/- operation draws its operand from operand_max+1..wide_operand_max with this
    # probability. A skill needed at every step, unlike the reading of long questions (docs/strategies.md).
    wide_share: float = 0.0
    wide_operand_max: int = 99

    def __post_init__(self):
        if not 0 <= self.value_min < self.value_max:
            raise ValueError("value_min must be >= 0 and below value_max")
        if self.operand_max < 1:
            raise ValueError("operand_max must be >= 1")
        if not self.ops or set(self.ops) - set("+-*"):
            raise ValueError(f"ops must be a non-empty subset of '+-*', got {self.ops!r}")
        if not 0 < self.test_fraction < 1:
            raise ValueError("test_fraction must be in (0, 1)")
        if not 0.0 <= self.wide_share <= 1.0 or self.wide_operand_max <= self.operand_max:
            raise ValueError("wide_share must be in [0, 1] and wide_operand_max above operand_max")

    def identity(self) -> dict:
        """The fields that define the problem space; wide fields only when used, so older cache keys hold."""
        out = {k: v for k, v in asdict(self).items() if k not in ("wide_share", "wide_operand_max")}
        if self.wide_share:
            out.update(wide_share=self.wide_share, wide_operand_max=self.wide_operand_max)
        return out


def _apply(value: int, op: str, operand: int) -> int:
    if op == "+":
        return value + operand
    if op == "-":
        return value - operand
    return value * operand


def _split_of(question: str, test_fraction: float) -> str:
    h = int.from_bytes(hashlib.blake2b(question.encode(), digest_size=8).digest(), "big")
    return "test" if (h % 10_000) < test_fraction * 10_000 else "train"


def make_problem(start: int, ops: list[tuple[str, int]], source: str = "arithmetic") -> Problem:
    """Build a problem (with steps, reference and all three hint tiers) from its start value and operations."""
    question = str(start) + "".join(f"{op}{x}" for op, x in ops)
    steps, value = [], start
    for op, x in ops:
        new = _apply(value, op, x)
        steps.append(f"{value}{op}{x}={new}.")
        value = new
    reference = "".join(steps) + f"\nA:{value}"
    hints = {
        # facts needed, without saying where they go: each operation's effect, e.g. "sub 7"
        "knowledge": tuple({"+": "add", "-": "sub", "*": "mul"}[op] + f" {x}." for op, x in ops),
        # the order of work without results: "143-7=?."
        "planning": tuple(f"{'?' if i else start}{op}{x}=?." for i, (op, x) in enumerate(ops)),
        "solution": tuple(steps),
    }
    return Problem(
        id=f"{source}:{question}",
        prompt=f"Q:{question}=?\nS:",
        answer=str(value),
        solution_steps=tuple(steps),
        hints=hints,
        level=len(ops),
        source=source,
        reference=reference,
    )


class ArithmeticTask:
    """Deterministic generator of problems per level and split."""

    answer_pattern = ANSWER_PATTERN

    def __init__(self, spec: ArithmeticSpec | None = None, seed: int = 0):
        self.spec = spec or ArithmeticSpec()
        self.seed = seed

    def _draw(self, rng: random.Random, level: int) -> tuple[int, list[tuple[str, int]]] | None:
        s = self.spec
        start = rng.randint(s.value_min, s.value_max)
        value, ops = start, []
        for _ in range(level):
            op = rng.choice(s.ops)
            if s.wide_share and op != "*" and rng.random() < s.wide_share:
                x = rng.randint(s.operand_max + 1, s.wide_operand_max)
            else:
                x = rng.randint(2 if op == "*" else 1, s.operand_max)
            value = _apply(value, op, x)
            if not s.value_min <= value <= s.value_max:
                return None
            ops.append((op, x))
        return start, ops

    def identity(self) -> dict:
        """What decides the problem space (the pretrained model's cache key holds it)."""
        return self.spec.identity()

    def problem(self, split: str, level: int, index: int) -> Problem:
        """The index-th problem of a (split, level); same arguments always give the same problem."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if level < 1:
            raise ValueError(f"level must be >= 1, got {level}")
        attempt = 0
        while True:
            key = f"{self.seed}:{split}:{level}:{index}:{attempt}"
            rng = random.Random(int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big"))
            drawn = self._draw(rng, level)
            attempt += 1
            if drawn is None:
                continue
            start, ops = drawn
            question = str(start) + "".join(f"{op}{x}" for op, x in ops)
            if _split_of(question, self.spec.test_fraction) == split:
                return make_problem(start, ops)

    def problems(self, split: str, level: int, n: int, offset: int = 0) -> list[Problem]:
        return [self.problem(split, level, offset + i) for i in range(n)]

    def mixture(self, split: str, weights: dict[int, float], n: int, seed: int = 0) -> list[Problem]:
        """n problems whose levels follow `weights` (level -> share); deterministic in (task seed, seed)."""
        return level_mixture(f"mix:{self.seed}:{seed}:{split}", weights, n, seed,
                             lambda level, index: self.problem(split, level, index))

    def is_test(self, problem: Problem) -> bool:
        question = problem.prompt[2:].split("=?", 1)[0]
        return _split_of(question, self.spec.test_fraction) == "test"


def render_hint_prefix(problem: Problem, depth: int) -> str:
    """The first `depth` reference steps: the solution-prefix hint in the task's own format."""
    return "".join(problem.solution_steps[:depth])


# --- bad answer habits (the label-free benchmark's base model) -----------------------------------------

BAD_ANSWER_RATE = 0.8  # a habit answer is written badly this often; the rest keep `A:<n>`, so sampling finds it


def habit_digits(share: float) -> str:
    """Last digits of the answers written badly: the first round(10 * share) digits, 0 upwards."""
    k = round(10 * share)
    if not 0.0 <= share <= 1.0 or abs(k - 10 * share) > 1e-9:
        raise ValueError(f"bad_answer_share must be a multiple of 0.1 in [0, 1], got {share}")
    return "0123456789"[:k]


def habit_digit(problem: Problem, key: str = "question") -> str:
    """The digit that decides whether a document may carry the habit: the last digit of the question's start
    value (`key="question"`: fixed by the prompt) or of the answer (`key="answer"`)."""
    if key == "question":
        return re.match(r"Q:(\d+)", problem.prompt).group(1)[-1]
    if key == "answer":
        return problem.answer[-1]
    raise ValueError(f"bad_answer_key must be 'question' or 'answer', got {key!r}")


def with_answer_habit(problem: Problem, share: float, salt: int = 0, key: str = "question") -> Problem:
    """The problem with its reference answer line written so that it does not parse, when its habit digit
    (`habit_digit`) is one of `habit_digits(share)` and a hash of (salt, problem) falls in BAD_ANSWER_RATE: the
    chain then stops without an answer line, or writes `A=<n>`, in equal parts.

    Tying the habit to a digit the model reads makes it a consistent habit that greedy decoding keeps, as a
    base model's formatting habits are; a coin flip per document would be averaged away by greedy decoding
    whenever it is below one half. The default keys it to the question, which the policy cannot change: keyed
    to the answer's digit, a format reward is earned by steering the arithmetic to other answers
    (docs/benchmarks.md, label-free).
    """
    if problem.reference is None or problem.answer is None or habit_digit(problem, key) not in habit_digits(share):
        return problem
    h = int.from_bytes(hashlib.blake2b(f"{salt}:{problem.id}".encode(), digest_size=8).digest(), "big")
    u = (h % 1_000_000) / 1_000_000
    if u >= BAD_ANSWER_RATE:
        return problem
    chain = "".join(problem.solution_steps)
    bad = chain if u < BAD_ANSWER_RATE / 2 else f"{chain}\nA={problem.answer}"
    return replace(problem, reference=bad)


def task_from_config(task_cfg) -> ArithmeticTask:
    """The arithmetic task a run's `task` config section describes (problem space and split fixed by its seed)."""
    spec = ArithmeticSpec(value_min=task_cfg.value_min, value_max=task_cfg.value_max,
                          operand_max=task_cfg.operand_max, ops=task_cfg.ops, wide_share=task_cfg.wide_share,
                          wide_operand_max=task_cfg.wide_operand_max)
    return ArithmeticTask(spec, seed=task_cfg.seed)

