"""Model-free Solution tier: a reference solution cut into (at most) 4 coherent chunks.

Scaf-GRPO's Solution tier is "the ground-truth solution cut into semantically coherent chunks", and
level l shows the first l chunks. Without a teacher model we approximate that deterministically:

1. GSM8K calculator annotations (`<<48/2=24>>`) are removed: they are tool traces, not prose.
2. Candidate cut points are whitespace runs *outside* math and figures (`$...$`, `$$...$$`, `\\[...\\]`,
   `\\(...\\)`, `\\begin{env}...\\end{env}`, `[asy]...[/asy]`), so a formula is never cut in two.
   Strong cuts: paragraph breaks (GSM8K: every line break, one line is one step). Weak cuts: sentence
   ends (`.`, `!`, `?` - also inside a closing `$`/`\\]` - followed by a capital, digit, math or bracket).
   A figure is glued to the text before it.
3. With at least 4 paragraphs only paragraph breaks are used; otherwise sentence cuts are allowed too,
   each costing a small penalty so paragraph breaks win when balance is similar.
4. Adjacent pieces are merged into `parts` chunks by dynamic programming that balances character length
   (figure code does not count towards length). Fewer pieces than `parts` give fewer chunks: a
   one-sentence solution is one chunk, never padded or cut mid-sentence.

Every chunk is a stripped slice of the (annotation-free) text, so joining the chunks gives back the
original up to whitespace.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["split_solution", "strip_calculator_annotations", "protected_spans", "detect_style"]

_CALC_RE = re.compile(r"<<[^<>\n]*>>")
_WS_RE = re.compile(r"\s+")
_BLANK_LINE_RE = re.compile(r"\n[ \t\r\f\v]*\n")
_BEGIN_RE = re.compile(r"\\begin\{([^{}]+)\}")
_END_AT_TAIL_RE = re.compile(r"\\end\{[^{}]+\}$")
# What may close a sentence after its final punctuation: math delimiters, brackets, quotes.
_CLOSERS = ("$", "\\]", "\\)", ")", "]", "}", '"', "'", "\u201d", "\u2019")
_SENTENCE_END = ".!?"
_SENTENCE_START_RE = re.compile(r"[A-Z0-9$\\(\[\"'\u201c\u2018]")
_WEAK_CUT_PENALTY = 0.25
_STRONG, _WEAK = 2, 1


def strip_calculator_annotations(text: str) -> str:
    """GSM8K's `<<a*b=c>>` calculator traces removed (`= <<3*3=9>>9` -> `= 9`)."""
    return _CALC_RE.sub("", text)


def detect_style(text: str) -> str:
    """"gsm8k" when the text carries calculator annotations or a `####` answer line, else "latex".

    It matters for `$`: GSM8K uses it for money ("$18"), LaTeX for math.
    """
    if _CALC_RE.search(text) or re.search(r"(^|\n)####", text):
        return "gsm8k"
    return "latex"


def split_solution(text: str, parts: int = 4, style: str = "auto") -> list[str]:
    """`text` cut into at most `parts` non-empty chunks at paragraph/sentence boundaries (see module doc).

    `style` is "latex" (MATH-like), "gsm8k" (one step per line, `$` is currency) or "auto" (detect).
    """
    if parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    if style == "auto":
        style = detect_style(text)
    if style not in ("latex", "gsm8k"):
        raise ValueError(f"style must be 'auto', 'latex' or 'gsm8k', got {style!r}")
    if style == "gsm8k":
        text = strip_calculator_annotations(text)
    text = text.strip()
    if not text:
        return []
    spans = protected_spans(text, dollar_math=style == "latex")
    cuts = _candidate_cuts(text, spans, line_is_step=style == "gsm8k")
    strong = [c for c in cuts if c.strength == _STRONG]
    if len(strong) >= parts - 1:
        cuts = strong
    bounds = [0] + [c.end for c in cuts] + [len(text)]
    pieces = [(bounds[i], cuts[i].start if i < len(cuts) else len(text)) for i in range(len(bounds) - 1)]
    weights = [_weight(text, start, end, spans) for start, end in pieces]
    weak = [c.strength != _STRONG for c in cuts]
    groups = _balanced_groups(weights, weak, min(parts, len(pieces)))
    return [text[pieces[first][0] : pieces[last][1]].strip() for first, last in groups]


def protected_spans(text: str, dollar_math: bool = True) -> list[tuple[int, int]]:
    """Sorted, non-overlapping `(start, end)` ranges that must not be cut: math environments and figures.

    An opener without its closer (a stray `$`, an unfinished `\\[`) protects nothing, like LaTeX would
    fail on it rather than guess. `\\$` and other backslash escapes are skipped.
    """
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(text):
        end = _span_end(text, i, dollar_math)
        if end is not None:
            spans.append((i, end))
            i = end
        elif text[i] == "\\":
            i += 2  # an escaped character (`\$`, `\\`) opens nothing
        else:
            i += 1
    return spans


def _span_end(text: str, i: int, dollar_math: bool) -> int | None:
    """End of the protected span opening at `i`, or None when none opens (or it never closes)."""
    if text.startswith("[asy]", i):
        return _find_end(text, "[/asy]", i + 5)
    if text.startswith("\\begin{", i):
        match = _BEGIN_RE.match(text, i)
        return _env_end(text, match) if match else None
    if text.startswith("\\[", i):
        return _find_end(text, "\\]", i + 2)
    if text.startswith("\\(", i):
        return _find_end(text, "\\)", i + 2)
    if dollar_math and text.startswith("$$", i):
        return _dollar_end(text, i + 2, "$$")
    if dollar_math and text[i] == "$":
        return _dollar_end(text, i + 1, "$")
    return None


def _find_end(text: str, closer: str, start: int) -> int | None:
    at = text.find(closer, start)
    return None if at < 0 else at + len(closer)


def _env_end(text: str, begin: re.Match[str]) -> int | None:
    """End of `\\end{env}` matching `begin`, counting nested environments of the same name."""
    name = re.escape(begin.group(1))
    depth, pos = 1, begin.end()
    for match in re.finditer(rf"\\(begin|end)\{{{name}\}}", text[pos:]):
        depth += 1 if match.group(1) == "begin" else -1
        if depth == 0:
            return pos + match.end()
    return None


def _dollar_end(text: str, start: int, closer: str) -> int | None:
    """The unescaped closing `$`/`$$`; inline math may wrap a line but never spans a blank line."""
    j = start
    while j < len(text):
        if text[j] == "\\":
            j += 2
        elif text.startswith(closer, j):
            inner = text[start:j]
            if closer == "$" and _BLANK_LINE_RE.search(inner):
                return None
            return j + len(closer)
        else:
            j += 1
    return None


@dataclass(frozen=True)
class _Cut:
    start: int  # the whitespace run [start, end) between two pieces
    end: int
    strength: int


def _candidate_cuts(text: str, spans: list[tuple[int, int]], line_is_step: bool) -> list[_Cut]:
    cuts = []
    for match in _WS_RE.finditer(text):
        start, end = match.span()
        if _inside(start, spans) or text.startswith("[asy]", end):
            continue
        gap = match.group()
        if _BLANK_LINE_RE.search(gap) or (line_is_step and "\n" in gap):
            cuts.append(_Cut(start, end, _STRONG))
        elif _ends_sentence(text[max(0, start - 200) : start]) and _SENTENCE_START_RE.match(text, end):
            cuts.append(_Cut(start, end, _WEAK))
    return cuts


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    # Spans are few per solution (tens); a linear scan keeps this obvious.
    return any(start < pos < end for start, end in spans)


def _ends_sentence(before: str) -> bool:
    """Whether `before` ends in sentence-final punctuation, possibly inside closing math or quotes."""
    tail = before.rstrip()
    for _ in range(8):
        stripped = _END_AT_TAIL_RE.sub("", tail).rstrip()
        for closer in _CLOSERS:
            if stripped.endswith(closer):
                stripped = stripped[: -len(closer)].rstrip()
                break
        if stripped == tail:
            break
        tail = stripped
    return bool(tail) and tail[-1] in _SENTENCE_END


def _weight(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> float:
    """Character length of a piece, not counting figure code (a long [asy] block is not long prose)."""
    figure = sum(
        min(end, e) - max(start, s) for s, e in spans if text.startswith("[asy]", s) and s < end and e > start
    )
    return float(max(1, end - start - figure))


def _balanced_groups(weights: list[float], weak_cut: list[bool], k: int) -> list[tuple[int, int]]:
    """Contiguous groups `(first, last)` of pieces, k of them, minimising Σ(group/ideal)² + penalties.

    `weak_cut[i]` says whether cutting between piece i and i+1 is a sentence (not paragraph) cut.
    """
    n = len(weights)
    ideal = sum(weights) / k
    prefix = [0.0]
    for w in weights:
        prefix.append(prefix[-1] + w)

    def group_cost(first: int, last: int) -> float:
        return ((prefix[last + 1] - prefix[first]) / ideal) ** 2

    inf = float("inf")
    # best[g][j]: cost of splitting pieces[0:j] into g groups; back[g][j]: start of the last group.
    best = [[inf] * (n + 1) for _ in range(k + 1)]
    back = [[0] * (n + 1) for _ in range(k + 1)]
    best[0][0] = 0.0
    for g in range(1, k + 1):
        for j in range(g, n - (k - g) + 1):
            for i in range(g - 1, j):
                if best[g - 1][i] == inf:
                    continue
                penalty = _WEAK_CUT_PENALTY if i > 0 and weak_cut[i - 1] else 0.0
                cost = best[g - 1][i] + penalty + group_cost(i, j - 1)
                if cost < best[g][j]:
                    best[g][j], back[g][j] = cost, i
    groups, j = [], n
    for g in range(k, 0, -1):
        i = back[g][j]
        groups.append((i, j - 1))
        j = i
    return groups[::-1]
