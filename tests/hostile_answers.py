"""Hostile answers for the checker: what a policy under RL, a broken sampler or a fuzzer can produce.

Shared by tests/test_verify_hostile.py (the `fast` cases in CI, all of them as a slow test) and
`benchmarks/verifier.py --hostile` (worst-case seconds per call). `expected` is the right verdict where the
answer is defined; None where only "no crash, bounded time" is asked (the value cannot be decided in time
by anyone, or the text has no meaning).
"""
from __future__ import annotations

from dataclasses import dataclass

MB = 1_000_000


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    gold: str
    expected: bool | None
    pattern: str | None = None
    fast: bool = True  # cheap enough for every CI run


def corpus() -> list[Case]:
    tower = r"9^{9^{9^{9^{9}}}}"
    return [
        # power towers: sympy evaluates them inside C big-int code, where no signal stops it
        Case("power tower, boxed", rf"so \boxed{{{tower}}}", "3", False),
        Case("power tower, Minerva format", f"Final Answer: The final answer is ${tower}$. I hope it is correct.",
             "3", False, fast=False),
        Case("power tower, prose", rf"Thus the answer is \({tower}\).", "1", False, fast=False),
        Case("power tower equal to itself", rf"\boxed{{{tower}}}", tower, True),
        Case("small tower 2^2^2^2", r"\boxed{2^{2^{2^{2}}}}", "65536", True),
        # nesting
        Case("5,000 nested braces", r"\boxed{" + "{" * 5000 + "5" + "}" * 5000 + "}", "5", None, fast=False),
        Case("5,000 nested parentheses", r"\boxed{" + "(" * 5000 + "5" + ")" * 5000 + "}", "5", None, fast=False),
        Case("10,000 unclosed braces (cut-off box)", r"\boxed{" + "{" * 10000 + "5", "5", False),
        Case("2,000 nested square roots", r"\boxed{" + r"\sqrt{" * 2000 + "2" + "}" * 2000 + "}", "2", None,
             fast=False),
        Case("10,000 \\left( without \\right", r"\boxed{" + r"\left(" * 10000 + "1}", "1", None, fast=False),
        # size
        Case("1 MB of text, then a box", "x" * MB + r" \boxed{42}", "42", True),
        Case("1 MB of words, no answer", "lorem ipsum " * (MB // 12), "42", False, fast=False),
        Case("1 MB of words, then the Minerva line",
             "word " * (MB // 5) + "\n\nFinal Answer: The final answer is $42$. I hope it is correct.", "42", True),
        Case("1 MB of dollar signs", "$" * MB, "42", False, fast=False),
        Case("100,000 paragraphs, then prose", "step\n\n" * 100_000 + "So the answer is 5.", "5", True),
        Case("a 2,000-term sum in a box", r"\boxed{" + "1+" * 2000 + "1}", "2001", None, fast=False),
        Case("a 500,000-term sum in a box", r"\boxed{" + "1+" * 500_000 + "1}", "500001", None, fast=False),
        Case("a 100,000-digit number against itself", r"\boxed{" + "9" * 100_000 + "}", "9" * 100_000, True),
        Case("a 100,000-digit number against 1", r"\boxed{" + "9" * 100_000 + "}", "1", False, fast=False),
        Case("a 5,000-digit number, reformatted", r"\boxed{" + "1" * 5000 + ".0}", "1" * 5000, True),
        # odd characters
        Case("100,000 NUL bytes, then a box", "\x00" * 100_000 + r"\boxed{7}", "7", True),
        Case("NUL inside the box", "\\boxed{7\x00}", "7", True),
        Case("200,000 emoji, then a box", "\N{GRINNING FACE}" * 200_000 + r"\boxed{12}", "12", True),
        Case("emoji inside the box", "\\boxed{12\N{GRINNING FACE}}", "12", None),
        Case("lone surrogates, then a box", "\ud800" * 1000 + r"\boxed{3}", "3", True),
        # many answers
        Case("30,000 boxes, the last one right", r"\boxed{1} " * 30_000 + r"\boxed{2}", "2", True),
        Case("30,000 boxes, an earlier one right", r"\boxed{1} " * 30_000 + r"\boxed{2}", "1", False),
        Case("30,000 empty boxes", r"\boxed{}" * 30_000, "1", False),
        Case("100,000 '<answer>' tags, none closed", "<answer>" * 100_000, "1", False, fast=False),
        Case("100,000 '####'", "####" * 100_000, "1", False),
        Case("'final answer' 100,000 times", "final answer " * 100_000, "5", False, fast=False),
        Case("250,000 task-pattern matches", "A:1 " * 250_000 + "A:7", "7", True, pattern=r"A:(\d+)"),
        # huge factorials and sums
        Case("100000! against 1", r"\boxed{100000!}", "1", False, fast=False),
        Case("1000000! against itself", r"\boxed{1000000!}", "1000000!", True),
        Case("1/2004! against 1/2006! (math-verify issue #14)", r"\boxed{\frac{1}{2004!}}", r"\frac{1}{2006!}",
             False),
        Case("sum to 10^12 against 5", r"\boxed{\sum_{k=1}^{10^{12}} k}", "5", False, fast=False),
        Case("10^(10^10) in prose against 1", r"Thus the answer is \(10^{10^{10}}\).", "1", False, fast=False),
    ]
