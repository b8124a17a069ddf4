"""Where a response states its final answer, for the checker in `scaffold_rl.verify`. Pure text, no sympy.

Real models rarely stop at a clean `\\boxed{}`: Llama writes MATH's Minerva format (`Final Answer: The final
answer is $16\\pi$. I hope it is correct.`), Qwen2 ends in prose (`Thus, the number ... is \\(45\\).`), GSM8K
models end in `#### 72`, R1-style prompts ask for `<answer>...</answer>`. This module finds *where* to look;
math-verify's own extraction (its LatexExtractionConfig / ExprExtractionConfig patterns: "final answer is",
"answer:", the last math span, the last number) decides *what* the answer is inside that region, in the
worker process (`verify_worker.find`).

Why regions instead of handing math-verify the whole response: its "answer" anchor outranks the last math
span anywhere in the text, so an early "to answer this, ... = 5050" beats the closing "is \\(45\\)"
(ProcessBench math-542). Looking at the tail first (the last "final answer" mention, then paragraphs from
the last one back) keeps math-verify's priorities but only among text near the end.

Every function here is linear in the text (str.rfind, simple regexes without nested quantifiers), because
it runs in the caller's process where no timeout protects it.
"""
from __future__ import annotations

import re

__all__ = ["MAX_PARAGRAPHS", "answer_regions", "answer_tag", "hash_answer", "has_math_delimiters", "prepare",
           "prepare_text"]

# Paragraphs looked at, from the last one back. The answer sits in the last one or two in every ProcessBench
# response that has one; a cap keeps a response of 10^5 short lines from costing 10^5 parses.
MAX_PARAGRAPHS = 8

_THINK_END = "</think>"
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")
# A math span that only names a variable: `\(n\)`, `$ x $`, `\(\theta\)`.
_VARIABLE_SPAN = re.compile(r"\\\(\s*(\\?[A-Za-z]+)\s*\\\)|(?<![\\$])\$\s*(\\?[A-Za-z]+)\s*\$(?!\$)")
_DELIMITER = re.compile(r"\$|\\\(|\\\[")


def answer_tag(text: str) -> str | None:
    """Content of the last complete `<answer>...</answer>` (R1-style prompts); None without one."""
    start = text.rfind("<answer>")
    if start < 0:
        return None
    end = text.find("</answer>", start)
    if end < 0:
        return None
    return text[start + len("<answer>"): end].strip() or None


def hash_answer(text: str) -> str | None:
    """`x` of a closing `#### x` line (GSM8K's own answer format); None without one.

    Only as the last line: `#### Step 2: ...` is a markdown heading with the work still to come."""
    start = text.rfind("####")
    if start < 0:
        return None
    end = text.find("\n", start)
    if end >= 0 and text[end:].strip():
        return None
    content = text[start + 4: end if end >= 0 else len(text)].strip().rstrip(".")
    return content or None


def has_math_delimiters(text: str) -> bool:
    """Whether `text` marks math with `$`, `\\(` or `\\[`; without them it is read as a bare answer."""
    return _DELIMITER.search(text) is not None


def final_part(text: str) -> str:
    """The text after the last `</think>` (a reasoning model's answer follows its thinking); all of it without."""
    after = text.rsplit(_THINK_END, 1)[-1]
    return after if after.strip() else text


def answer_regions(text: str) -> list[str]:
    """Regions of `text` for math-verify to extract from, in order; the first one it finds math in wins.

    1. From the last "final answer" (any case) to the end: the Minerva/MATH format and "the final answer is".
    2. Paragraphs from the last back (at most `MAX_PARAGRAPHS`). A paragraph whose math spans include ones that
       only name a variable (`... is \\(3\\) possible values for \\(n\\).`) is offered first with those spans
       turned back into plain letters, so the last real value is the last span; when that leaves no math at
       all (`The answer is \\(C\\).`) only the paragraph itself is offered.
    """
    text = prepare_text(final_part(text))
    regions = []
    mention = text.lower().rfind("final answer")
    if mention >= 0:
        regions.append(text[mention:])
    paragraphs = [p for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    for paragraph in reversed(paragraphs[-MAX_PARAGRAPHS:]):
        plain = _VARIABLE_SPAN.sub(lambda m: m.group(1) or m.group(2), paragraph)
        if plain != paragraph and (has_math_delimiters(plain) or any(c.isdigit() for c in plain)):
            regions.append(plain)
        regions.append(paragraph)
    return regions


# --- spelling fixes applied before comparing ---------------------------------------------------------

_CONTROL = dict.fromkeys(c for c in range(32) if chr(c) not in "\t\n\r")  # NUL & co. are no mathematics
_TEXT_SPACE = re.compile(r"\\(text|mbox|textbf|textrm|mathrm)\s+\{")
_BACKSLASH_DIGIT = re.compile(r"(?<!\\)\\(?=\d)")
_WHOLE_TEXT = re.compile(r"\s*\\text\{([^{}]*)\}\s*")
# `\text{A,D}`, `\text{B, E, G}`: a list of choices written as text (items of at most 20 characters).
# MATH's LaTeX thousands separators `10,\\!080` and `1{,}000`: math-verify reads them as separators in a
# plain number but fails to parse `\\frac{12}{5,\\!525}`.
_LATEX_THOUSANDS = re.compile(r"(?<=\d)(?:,\\!\s*|\{,\})(?=\d{3}(?!\d))")
_TEXT_LIST = re.compile(r"\\text\{([^,{}\\]{1,20}(?:,[^,{}\\]{1,20})+)\}")  # no nested quantifiers


def prepare_text(text: str) -> str:
    """Spelling fixes that hold anywhere in a response.

    - control characters (NUL, ...) go;
    - `\\$` is a dollar sign, never a math delimiter: dropped (`will be \\$324.` -> `324`), as math-verify's
      own normalisation drops it inside math;
    - `\\text {...}` -> `\\text{...}`, so math-verify's unit stripping (which expects `\\text{`) applies;
    - a backslash before a digit is no LaTeX command: it is a `\\$` whose `$` was lost (`\\boxed{\\15}`);
    - MATH's thousands separators `5,\\!525` / `5{,}525` go (`\\frac{12}{5,\\!525}` then parses);
    - `\\text{A,D}` (a list of choices written as text) is the list `A,D`: math-verify reads the text as one
      symbol `a,d`, which never equals the set {a, d} a model's `A,D` becomes.
    """
    text = text.translate(_CONTROL).replace("\\$", "")
    text = _TEXT_SPACE.sub(lambda m: "\\" + m.group(1) + "{", text)
    text = _BACKSLASH_DIGIT.sub("", text)
    text = _LATEX_THOUSANDS.sub("", text)
    return _TEXT_LIST.sub(lambda m: m.group(1), text)


def prepare(answer: str) -> str:
    """`prepare_text` for an extracted or gold answer, plus:

    - a whole answer `\\text{June 20}` of several words is its words, so `June 20` matches it (a one-word
      `\\text{Devon}` is left to math-verify, which matches text symbols to words itself);
    - trailing punctuation goes: MATH has golds `-\\frac{5}{3}.` and `30^\\circ.`, models write `5.`.
    """
    answer = _strip_trailing_punctuation(prepare_text(answer))
    whole = _WHOLE_TEXT.fullmatch(answer)
    if whole and len(whole.group(1).split()) > 1:
        return whole.group(1).strip()
    return answer


def _strip_trailing_punctuation(answer: str) -> str:
    """`5.` -> `5`, `(E),` -> `(E)`; a LaTeX spacing command such as `\\,` stays."""
    answer = answer.rstrip()
    while answer and answer[-1] in ".,;" and not answer.endswith("\\" + answer[-1]) and len(answer) > 1:
        answer = answer[:-1].rstrip()
    return answer
