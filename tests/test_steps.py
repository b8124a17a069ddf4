import pytest

from scaffold_rl.data.arithmetic import ArithmeticTask
from scaffold_rl.steps import StepSegmenter, segmenter_for


def test_embedded_steps_of_a_reference():
    text = "143-7=136.136+8=144.\nA:144"
    assert segmenter_for("arithmetic").split(text) == ["143-7=136.", "136+8=144.", "\nA:144"]
    for p in ArithmeticTask().problems("test", 3, 5):
        steps = segmenter_for("arithmetic").split(p.reference)
        assert steps[:-1] == list(p.solution_steps) and steps[-1] == f"\nA:{p.answer}"


@pytest.mark.parametrize("mode,text,expected", [
    ("newline", "a\nb\n\nc", ["a\n", "b\n\n", "c"]),
    ("newline", "\n\na\nb\n", ["\n\na\n", "b\n"]),  # leading blank lines join the first step
    ("blank_line", "a\nb\n\nc\n \n\nd", ["a\nb\n\n", "c\n \n\n", "d"]),
    ("embedded", "1+2=3.garbage", ["1+2=3.", "garbage"]),
    ("newline", "", []),
    ("newline", "\n\n", ["\n\n"]),
])
def test_split_is_lossless_and_keeps_separators(mode, text, expected):
    seg = StepSegmenter(mode)
    steps = seg.split(text)
    assert steps == expected
    assert seg.join(steps) == text


def test_default_segmenter_and_bad_mode():
    assert segmenter_for("math500") == StepSegmenter("newline")
    with pytest.raises(ValueError, match="mode"):
        StepSegmenter("sentences")
