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

import os
import re

__all__ = ["MAX_PARAGRAPHS", "MAX_REGION_CHARS", "OFF", "answer_regions", "answer_tag", "final_part", "hash_answer",
           "has_math_delimiters", "prepare", "prepare_text"]

# Rules switched off, for the ablation in benchmarks/verifier.py only (a comma list; the worker reads the same
# variable for its own rules). Empty in normal use.
OFF = frozenset(filter(None, os.environ.get("SCAFFOLD_RL_VERIFY_OFF", "").split(",")))

# Paragraphs looked at, from the last one back. The answer sits in the last one or two in every ProcessBench
# response that has one; a cap keeps a response of 10^5 short lines from costing 10^5 parses.
MAX_PARAGRAPHS = 8
# A region's characters kept (a paragraph's last, the "final answer" tail's first): real answers sit within a
# few hundred characters of those ends, and a 20 MB paragraph should not cost 20 MB of regex work here.
MAX_REGION_CHARS = 100_000

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

    Each region is cut to `MAX_REGION_CHARS` and spelled as `prepare_text` makes it.
    """
    text = final_part(text)
    if "tail-regions" in OFF:  # plain math-verify's way: the whole response
        return [prepare_text(text)]
    regions = []
    mention = text.lower().rfind("final answer")
    if mention >= 0:
        regions.append(prepare_text(text[mention: mention + MAX_REGION_CHARS]))
    paragraphs = [p for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    for paragraph in reversed(paragraphs[-MAX_PARAGRAPHS:]):
        paragraph = prepare_text(paragraph[-MAX_REGION_CHARS:])
        plain = _VARIABLE_SPAN.sub(lambda m: m.group(1) or m.group(2), paragraph)
        if (plain != paragraph and (has_math_delimiters(plain) or any(c.isdigit() for c in plain))
                and "variable-mentions" not in OFF):
            regions.append(plain)
        regions.append(paragraph)
    return regions


# --- spelling fixes applied before comparing ---------------------------------------------------------

_CONTROL = dict.fromkeys(c for c in range(32) if chr(c) not in "\t\n\r")  # NUL & co. are no mathematics
_TEXT_SPACE = re.compile(r"\\(text|mbox|textbf|textrm|mathrm)\s+\{")
_BACKSLASH_DIGIT = re.compile(r"(?<!\\)\\(?=\d)")
# MATH's LaTeX thousands separators `10,\\!080` and `1{,}000`.
_LATEX_THOUSANDS = re.compile(r"(?<=\d)(?:,\\!\s*|\{,\})(?=\d{3}(?!\d))")
# `\text{A,D}`, `\text{B, E, G}`: a list of choices written as text (items of at most 20 characters).
_TEXT_LIST = re.compile(r"\\text\{([^,{}\\]{1,20}(?:,[^,{}\\]{1,20})+)\}")  # no nested quantifiers
_WHOLE_TEXT = re.compile(r"\s*\\text\{([^{}]*)\}\s*")
# A math span that is only `\text{...}` (`$\text{June 20}$`); bounded, the words test is in the replacement.
_SPAN_TEXT = re.compile(r"(\$|\\\(|\\\[)\s*\\text\{([^{}$\\]{1,60})\}\s*(?=\$|\\\)|\\\])")
# `.` or `,` closing a math span: `\(30^\circ.\)`, `$\begin{pmatrix}...\end{pmatrix}.$`.
_SPAN_PERIOD = re.compile(r"[.,]\s*(?=\$|\\\)|\\\])")  # no leading \s*: quadratic on long blank runs
# `\frac\pi 2`: math-verify's own fix for unbraced fractions takes `\` and `p` for the two arguments.
_FRAC_ARGS = re.compile(r"(\\[dt]?frac)\s*(\\[A-Za-z]+|[A-Za-z0-9])\s*(\{[^{}]*\}|\\[A-Za-z]+|[A-Za-z0-9])")

# `\phantom -1` takes one token (`-`) and prints nothing: MATH's aligned matrices.
_PHANTOM = re.compile(r"\\phantom\s*(?:\{[^{}]*\}|\\[A-Za-z]+|[^\s{}\\])")


def _span_text_words(m: re.Match[str]) -> str:
    return m.group(1) + m.group(2) if len(m.group(2).split()) > 1 else m.group(0)


def _braced_frac(m: re.Match[str]) -> str:
    second = m.group(3) if m.group(3).startswith("{") else "{" + m.group(3) + "}"
    return f"{m.group(1)}{{{m.group(2)}}}{second}"

# Each fix is named so benchmarks/verifier.py --ablations can switch it off and show what it changes.
_TEXT_FIXES = (
    ("control-chars", lambda t: t.translate(_CONTROL)),
    ("escaped-dollar", lambda t: t.replace("\\$", "")),
    ("text-space", lambda t: _TEXT_SPACE.sub(lambda m: "\\" + m.group(1) + "{", t)),
    ("backslash-digit", lambda t: _BACKSLASH_DIGIT.sub("", t)),
    ("latex-thousands", lambda t: _LATEX_THOUSANDS.sub("", t)),
    ("text-list", lambda t: _TEXT_LIST.sub(lambda m: m.group(1), t)),
    ("text-words", lambda t: _SPAN_TEXT.sub(_span_text_words, t)),
    ("closing-period", lambda t: _SPAN_PERIOD.sub("", t)),
    ("frac-args", lambda t: _FRAC_ARGS.sub(_braced_frac, t)),
    ("phantom", lambda t: _PHANTOM.sub("", t)),
)


def prepare_text(text: str) -> str:
    """Spelling fixes that hold anywhere in a response, in this order:

    - control-chars: NUL & co. go;
    - escaped-dollar: `\\$` is a dollar sign, never a math delimiter: dropped (`will be \\$324.` -> `324`), as
      math-verify's own normalisation drops it inside math;
    - text-space: `\\text {...}` -> `\\text{...}`, so math-verify's unit stripping (which expects `\\text{`)
      applies;
    - backslash-digit: a backslash before a digit is no LaTeX command but a `\\$` whose `$` was lost
      (`\\boxed{\\15}`);
    - latex-thousands: MATH's separators `5,\\!525` / `5{,}525` go (math-verify reads them in a plain number
      but fails to parse `\\frac{12}{5,\\!525}`);
    - text-list: `\\text{A,D}` (a list of choices written as text) is the list `A,D`: math-verify reads the
      text as one symbol `a,d`, which never equals the set {a, d} a model's `A,D` becomes;
    - text-words: a math span that is only text of several words is those words (`$\\text{June 20}$`), as
      `prepare` does for a whole answer;
    - closing-period: a `.` or `,` that closes a math span goes (`\\(30^\\circ.\\)`);
    - frac-args: `\\frac\\pi 2` -> `\\frac{\\pi}{2}` (math-verify's own fix reads `\\` and `p` as the arguments);
    - phantom: `\\phantom -1` prints ` 1`, so it goes with its argument (math-verify read `-1` in a box and
      `1` in prose).
    """
    for name, fix in _TEXT_FIXES:
        if name not in OFF:
            text = fix(text)
    return text


def prepare(answer: str) -> str:
    """`prepare_text` for an extracted or gold answer, plus:

    - trailing-punct: trailing punctuation goes (MATH has golds `-\\frac{5}{3}.` and `30^\\circ.`, models
      write `5.`);
    - text-words: a whole answer `\\text{June 20}` of several words is its words, so `June 20` matches it (a
      one-word `\\text{Devon}` is left to math-verify, which matches text symbols to words itself).
    """
    if len(answer) > MAX_REGION_CHARS:  # compared as written: no real answer is this long
        return answer
    answer = prepare_text(answer)
    whole = _WHOLE_TEXT.fullmatch(answer)
    if whole and len(whole.group(1).split()) > 1 and "text-words" not in OFF:
        answer = whole.group(1)
    return _strip_trailing_punctuation(answer) if "trailing-punct" not in OFF else answer


def _strip_trailing_punctuation(answer: str) -> str:
    """`5.` -> `5`, `(E),` -> `(E)`; a LaTeX spacing command such as `\\,` keeps its character."""
    kept = answer.rstrip(" \t\n\r\f\v.,;")
    if not kept:
        return answer.strip()
    if kept.endswith("\\"):
        kept = answer[: len(kept) + 1]
    return kept
