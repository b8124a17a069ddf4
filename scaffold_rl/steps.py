"""The one step segmenter: step labels, the process reward model and step-level search must agree on where
a step ends, so they all cut responses here.

Splitting is lossless (`"".join(split(text)) == text`): each step keeps its trailing separator, and a
separator-only piece (leading newlines, say) is merged into the step after it, so no step is empty or blank
unless the whole text is.

Modes:
* `newline`    a step ends after a run of newlines (one or more);
* `blank_line` a step ends after a blank line ("\\n\\n", spaces/tabs allowed on the blank line);
* `embedded`   the arithmetic task's own steps: `143-7=136.` `136+8=144.` then the answer line `\\nA:144`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MODES = ("newline", "blank_line", "embedded")
_SEPARATORS = {
    "newline": re.compile(r"\n+"),
    "blank_line": re.compile(r"\n(?:[ \t]*\n)+"),
    # an arithmetic step ends with '.'; the answer line starts at '\n' and ends the text
    "embedded": re.compile(r"\."),
}


@dataclass(frozen=True)
class StepSegmenter:
    mode: str = "newline"  # "newline" | "blank_line" | "embedded" (the arithmetic task's own steps)

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"step segmenter mode must be one of {MODES}, got {self.mode!r}")

    def split(self, text: str) -> list[str]:
        """Steps of `text`; `"".join(steps) == text`, each step keeps its trailing separator."""
        if not text:
            return []
        pieces, start = [], 0
        for match in _SEPARATORS[self.mode].finditer(text):
            if match.end() > start:
                pieces.append(text[start:match.end()])
                start = match.end()
        if start < len(text):
            pieces.append(text[start:])
        return _merge_blank(pieces)

    def join(self, steps: list[str]) -> str:
        return "".join(steps)


def _merge_blank(pieces: list[str]) -> list[str]:
    """Whitespace-only pieces join the next step (or the previous one at the end): no blank steps."""
    out: list[str] = []
    carry = ""
    for piece in pieces:
        if not piece.strip():
            carry += piece
            continue
        out.append(carry + piece)
        carry = ""
    if carry:
        if out:
            out[-1] += carry
        else:
            out.append(carry)
    return out


def segmenter_for(task_name: str) -> StepSegmenter:
    """The segmenter a task's responses are cut with: the arithmetic task's own steps, else lines."""
    return StepSegmenter("embedded" if task_name == "arithmetic" else "newline")
