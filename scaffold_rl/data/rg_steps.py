"""Worked chains for reasoning-gym items whose metadata allows one: the steps a solution-prefix hint reveals.

reasoning-gym items carry no worked solutions (a metadata `solution` field, where present, is the answer), but
some carry what the answer was computed from, e.g. chain_sum's `expression`. A builder turns an item into steps
in the embedded task's format (`42-25=17.`), which concatenate into the reference completion; a hint of depth k
is the first k of them, and the model must finish the chain and write `<answer>...</answer>`. A chain is ours
to design: chain_sum's adds one decimal place per step, so a small model needs single-digit skills only. A
builder returns None for an item it cannot reproduce (its result differs from the item's answer), so a chain is
never wrong.

Add a dataset by registering `STEP_BUILDERS[name] = fn(item) -> list[str] | None`; bump STEPS_VERSION when a
format changes (it is part of the embedded model's cache key).
"""
from __future__ import annotations

import ast
from collections.abc import Callable

STEPS_VERSION = 2  # 2: chain_sum by place value, spell_backward letters


def _step(a: int, op: str, b: int, value: int) -> str:
    return f"{a}{op}{b}={value}."


def left_to_right(expression: str, answer: str) -> list[str] | None:
    """'42 - 25 - 73' -> ['42-25=17.', '17-73=-56.'] (+, -, *, no precedence needed: one operator kind or sums)."""
    tokens = expression.split()
    if len(tokens) < 3 or len(tokens) % 2 == 0:
        return None
    try:
        value = int(tokens[0])
        steps = []
        for op, text in zip(tokens[1::2], tokens[2::2]):
            x = int(text)
            new = {"+": value + x, "-": value - x, "*": value * x}[op]
            steps.append(_step(value, op, x, new))
            value = new
    except (KeyError, ValueError):
        return None
    return steps if str(value) == answer.strip() else None


def place_values(x: int) -> list[int]:
    """473 -> [400, 70, 3]; -25 -> [-20, -5]; 0 -> [0]: the nonzero decimal places, largest first."""
    sign, rest, out = (-1 if x < 0 else 1), abs(x), []
    for power in range(len(str(rest)) - 1, -1, -1):
        digit = rest // 10**power % 10
        if digit:
            out.append(sign * digit * 10**power)
    return out or [0]


def by_place_value(expression: str, answer: str) -> list[str] | None:
    """chain_sum: one step per operation, in which the operand is added or subtracted one decimal place at a
    time, so every written result is a single-digit change of the running value (the embedded arithmetic
    task's skill): '42 - 25 - 73' -> ['42-20=22.22-5=17.', '17-70=-53.-53-3=-56.']."""
    tokens = expression.split()
    if len(tokens) < 3 or len(tokens) % 2 == 0:
        return None
    try:
        value = int(tokens[0])
        steps = []
        for op, text in zip(tokens[1::2], tokens[2::2]):
            if op not in "+-":
                return None
            step = ""
            for part in place_values(int(text)):
                new = value + part if op == "+" else value - part
                step += _step(value, op, part, new)
                value = new
            steps.append(step)
    except ValueError:
        return None
    return steps if str(value) == answer.strip() else None


_OPS = {ast.Add: ("+", lambda a, b: a + b), ast.Sub: ("-", lambda a, b: a - b),
        ast.Mult: ("*", lambda a, b: a * b), ast.FloorDiv: ("/", lambda a, b: a // b)}


def by_precedence(expression: str, answer: str) -> list[str] | None:
    """basic_arithmetic: one step per operation in evaluation order (precedence, parentheses, left to right);
    '/' is floor division, as the generator computes it. '95 - 21 / 21' -> ['21/21=1.', '95-1=94.']."""
    try:
        tree = ast.parse(expression.replace("/", "//"), mode="eval").body
    except SyntaxError:
        return None
    steps: list[str] = []

    def value(node) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = value(node.operand)
            if isinstance(node.operand, ast.Constant):
                return -inner if isinstance(node.op, ast.USub) else inner
            out = -inner if isinstance(node.op, ast.USub) else inner
            steps.append(f"-({inner})={out}." if isinstance(node.op, ast.USub) else f"+({inner})={out}.")
            return out
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            a, b = value(node.left), value(node.right)
            symbol, fn = _OPS[type(node.op)]
            out = fn(a, b)
            steps.append(_step(a, symbol, b, out))
            return out
        raise ValueError(f"unsupported expression node {type(node).__name__}")

    try:
        result = value(tree)
    except (ValueError, ZeroDivisionError):
        return None
    return steps if steps and str(result) == answer.strip() else None


def _expression_builder(fn) -> Callable[[dict], list[str] | None]:
    def build(item: dict) -> list[str] | None:
        expression = (item.get("metadata") or {}).get("expression")
        return fn(expression, str(item["answer"])) if isinstance(expression, str) else None

    return build


def reversed_letters(item: dict) -> list[str] | None:
    """spell_backward: the word's letters from the last to the first, one per step ('cubeb' -> b, e, b, u, c)."""
    word = (item.get("metadata") or {}).get("word")
    if not isinstance(word, str) or word[::-1] != str(item["answer"]):
        return None
    return list(word[::-1])


STEP_BUILDERS: dict[str, Callable[[dict], list[str] | None]] = {
    "spell_backward": reversed_letters,
    "chain_sum": _expression_builder(by_place_value),
    "products": _expression_builder(left_to_right),
    "basic_arithmetic": _expression_builder(by_precedence),
}
