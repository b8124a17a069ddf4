"""Label-free rewards (format, length, format+length), the weighted composite, guards and build_reward.

Pure Python: no torch, no model. Formulas from Xin et al. (arXiv 2505.19439), see docs/papers.md §3.
"""
from __future__ import annotations

import pytest

from scaffold_rl import verify as V
from scaffold_rl.rewards.composite import (
    CompositeReward,
    CompositeScore,
    FormatLengthTerm,
    MissingAnswerError,
    combine_format_length,
    overlong_penalty,
)
from scaffold_rl.rewards.format import FormatReward
from scaffold_rl.rewards.guards import (
    Guards,
    copies_problem,
    has_empty_box,
    has_multiple_answers,
    is_repetition_padding,
    is_unsupported_answer,
    ngram_repetition_rate,
)
from scaffold_rl.rewards.length import LengthReward, polyline_length_reward, quadratic_length_reward
from scaffold_rl.rewards.registry import build_reward
from scaffold_rl.types import Problem

PROMPT = "Find the sum of the roots of the equation $x^2 - 5x + 6 = 0$."
NORMAL = (
    "We need the sum of the roots of $x^2 - 5x + 6 = 0$.\n"
    "Factoring, $x^2 - 5x + 6 = (x-2)(x-3)$, so the roots are $x = 2$ and $x = 3$.\n"
    "By Vieta's formulas the sum of the roots is $-(-5)/1 = 5$, which matches $2 + 3 = 5$.\n"
    "Let me double-check: $2^2 - 10 + 6 = 0$ and $3^2 - 15 + 6 = 0$, both hold.\n"
    "Therefore the answer is $\\boxed{5}$."
)
LONG_PROMPT = ("A farmer has a rectangular field whose length is three times its width. He walks once around the "
               "whole field along its edge and covers exactly 800 meters. What is the area of the field in "
               "square meters?")
UNLABELED = Problem(id="u1", prompt=PROMPT)
LABELED = Problem(id="l1", prompt=PROMPT, answer="5")


@pytest.fixture(scope="module")
def fmt():
    reward = FormatReward(timeout_s=5.0)
    yield reward
    V.shutdown_workers()


# --- length reward ------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.3, 0.5, 0.8])
def test_quadratic_named_points(p):
    assert quadratic_length_reward(0.0, p) == 0.0
    assert quadratic_length_reward(p, p) == 1.0
    assert quadratic_length_reward(1.0, p) == -1.0
    eps = 1e-3
    below, above = quadratic_length_reward(p - eps, p), quadratic_length_reward(p + eps, p)
    assert below < 1.0 and above < 1.0
    assert below == pytest.approx(1 - (eps / p) ** 2, abs=1e-12)
    assert above == pytest.approx(1 - 2 * (eps / (1 - p)) ** 2, abs=1e-12)


def test_quadratic_formula_between_points():
    assert quadratic_length_reward(0.25, 0.5) == pytest.approx(0.75)  # 1 - (1 - 0.5)^2
    assert quadratic_length_reward(0.75, 0.5) == pytest.approx(0.5)  # 1 - 2 * 0.5^2
    # the paper's sign change for p = 0.5 at x = p + (1 - p)/sqrt(2)
    assert quadratic_length_reward(0.5 + 0.5 / 2**0.5, 0.5) == pytest.approx(0.0, abs=1e-12)
    assert quadratic_length_reward(1.7, 0.5) == -1.0  # clipped: beyond the maximum is the maximum


@pytest.mark.parametrize("p", [0.4, 0.5, 0.8])
def test_quadratic_is_c1_at_turning_point(p):
    h = 1e-6
    left = (quadratic_length_reward(p, p) - quadratic_length_reward(p - h, p)) / h
    right = (quadratic_length_reward(p + h, p) - quadratic_length_reward(p, p)) / h
    assert abs(left) < 1e-4 and abs(right) < 1e-4
    # ...while away from p the slopes are the formula's: 2(1 - x/p)/p on the left, -4(x-p)/(1-p)^2 on the right
    x = p / 2
    slope = (quadratic_length_reward(x + h, p) - quadratic_length_reward(x - h, p)) / (2 * h)
    assert slope == pytest.approx(1 / p, rel=1e-5)
    x = (1 + p) / 2
    slope = (quadratic_length_reward(x + h, p) - quadratic_length_reward(x - h, p)) / (2 * h)
    assert slope == pytest.approx(-2 / (1 - p), rel=1e-5)


def test_polyline_matches_paper_at_half_and_stays_continuous():
    for x in (0.0, 0.1, 0.25, 0.5):
        assert polyline_length_reward(x, 0.5) == pytest.approx(2 * x)
    for x in (0.5, 0.6, 0.75, 1.0):
        assert polyline_length_reward(x, 0.5) == pytest.approx(3 - 4 * x)
    p, h = 0.4, 1e-9
    assert polyline_length_reward(p, p) == 1.0 and polyline_length_reward(1.0, p) == -1.0
    assert polyline_length_reward(p + h, p) == pytest.approx(1.0, abs=1e-6)
    assert polyline_length_reward(0.2, p) == pytest.approx(0.5)


def test_length_reward_units_and_errors():
    tokens = LengthReward(max_length=100)
    assert tokens("ignored text", completion_len=50) == 1.0
    assert tokens("", completion_len=0) == 0.0
    assert tokens("x", completion_len=100) == -1.0
    with pytest.raises(ValueError, match="completion_len"):
        tokens("no length given")
    chars = LengthReward(max_length=10, unit="chars")
    assert chars("abcde") == 1.0
    poly = LengthReward(max_length=100, shape="polyline")
    assert poly("", completion_len=25) == pytest.approx(0.5)

    class WordTokenizer:
        def encode(self, text, add_special_tokens=False):
            return text.split()

    assert LengthReward(max_length=4, tokenizer=WordTokenizer())("a b") == 1.0
    for bad in ({"p": 0.0}, {"p": 1.0}, {"shape": "cubic"}, {"unit": "words"}):
        with pytest.raises(ValueError):
            LengthReward(max_length=10, **bad)


# --- format reward ------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [
    "1", r"\frac{3}{2}", r"\frac{1}{2}", r"x^2+12y=1", r"(0,\infty)", r"x^{2}", r"\dfrac12", r"2\sqrt{3}",
    r"\{1, 2\}", "-3", "0.5",
])
def test_format_valid_answers(fmt, answer):
    score = fmt.score(f"Some reasoning. The answer is $\\boxed{{{answer}}}$.")
    assert score.reward == 1.0 and not score.timed_out


@pytest.mark.parametrize("response", [
    r"The answer is \boxed{}.",
    r"The answer is \boxed{   }.",
    "The answer is 5.",
    r"The answer is \boxed{)(}.",
    r"The answer is \boxed{x +* 2}.",
    r"The answer is \boxed{(0,1}.",
    r"The answer is \boxed{2+}.",
    r"cut off: \boxed{\frac{1}{2",
    r"an earlier \boxed{3} does not rescue a broken final \boxed{)(}",
])
def test_format_invalid_answers(fmt, response):
    assert fmt.score(response).reward == 0.0


def test_format_answer_after_think_and_task_pattern(fmt):
    assert fmt.score("<think>so \\boxed{5}</think> I am done.").reward == 0.0
    assert fmt.score("<think>work</think> The answer is \\boxed{5}.").reward == 1.0
    task = FormatReward(answer_pattern=r"A:\s*(-?\d+)")
    assert task.score("3 + 4 = 7\nA: 7").reward == 1.0
    assert task.score(r"3 + 4 = 7, \boxed{7}").reward == 0.0  # the task's own format is what counts


# --- format + length ----------------------------------------------------------------------------------


def test_combine_format_length():
    assert combine_format_length(True, 1.0) == 2.0
    assert combine_format_length(True, -1.0) == 0.0
    assert combine_format_length(True, 0.5, format_weight=0.5) == 1.0
    assert combine_format_length(False, 1.0) == 0.0  # a malformed answer is never paid
    assert combine_format_length(False, -0.6) == -0.6


def _format_length(**kw):
    return CompositeReward({"format_length": (1.0, FormatLengthTerm(FormatReward(), LengthReward(100), **kw))})


def test_format_length_reward_values():
    reward = _format_length()
    good, bad = r"so \boxed{\frac{1}{2}}", "so the answer is one half"
    assert reward(UNLABELED, good, completion_len=50).reward == 2.0
    assert reward(UNLABELED, good, completion_len=100).reward == 0.0
    assert reward(UNLABELED, bad, completion_len=50).reward == 0.0
    assert reward(UNLABELED, bad, completion_len=100).reward == -1.0
    assert reward(UNLABELED, bad, completion_len=25).reward == 0.0  # min(0, 0.75)
    score = reward(UNLABELED, good, completion_len=25)
    assert score.reward == pytest.approx(1.75)
    assert score.terms == {"format_length": pytest.approx(1.75), "format_length/format": 1.0,
                           "format_length/length": pytest.approx(0.75)}
    assert _format_length(format_weight=0.5)(UNLABELED, good, completion_len=50).reward == 1.5


def test_length_start_step():
    reward = _format_length(start_step=10)
    good, bad = r"\boxed{4}", "four"
    assert reward(UNLABELED, good, completion_len=100, step=9).reward == 1.0  # length term off
    assert reward(UNLABELED, bad, completion_len=100, step=9).reward == 0.0
    assert reward(UNLABELED, good, completion_len=25, step=10).reward == pytest.approx(1.75)
    assert reward(UNLABELED, bad, completion_len=100, step=10).reward == -1.0


# --- other terms --------------------------------------------------------------------------------------


def test_overlong_penalty():
    assert overlong_penalty(0, 100, 20) == 0.0
    assert overlong_penalty(80, 100, 20) == 0.0
    assert overlong_penalty(90, 100, 20) == pytest.approx(-0.5)
    assert overlong_penalty(100, 100, 20) == -1.0
    assert overlong_penalty(130, 100, 20) == -1.0


def test_repetition_rate():
    assert ngram_repetition_rate("one two three four five six seven", 4) == 0.0
    assert ngram_repetition_rate("a b c d " * 50, 4) > 0.95
    reward = build_reward({"repetition": {"weight": 1.0, "max_penalty": 0.5}})
    assert reward(UNLABELED, "a b c d " * 50).reward == pytest.approx(-0.5, abs=0.02)
    assert reward(UNLABELED, NORMAL).reward > -0.1


# --- guards -------------------------------------------------------------------------------------------


def test_no_guard_fires_on_a_normal_solution():
    guards = Guards()
    assert guards.check(Problem(id="p", prompt=PROMPT), NORMAL) == {
        "multiple_boxed": False, "empty_box": False, "repetition": False, "copy_problem": False,
        "unsupported_answer": False}
    restated = "The field: length three times width, perimeter 800 m.\n" + NORMAL
    assert not any(Guards().check(Problem(id="q", prompt=LONG_PROMPT), restated).values())


def test_multiple_boxed_guard():
    assert has_multiple_answers(r"It is \boxed{3} or maybe \boxed{5}.")
    assert not has_multiple_answers(r"\boxed{5}, and to be sure: \boxed{5.0}")
    assert not has_multiple_answers(NORMAL)
    assert has_multiple_answers("A: 3\nA: 4", answer_pattern=r"A:\s*(-?\d+)")
    assert not has_multiple_answers("A: 4\nA: 4", answer_pattern=r"A:\s*(-?\d+)")


def test_empty_box_guard():
    assert has_empty_box(r"\boxed{} and later \boxed{5}")
    assert has_empty_box(r"\boxed{ }")
    assert not has_empty_box(NORMAL)
    assert not has_empty_box(r"cut off \boxed{5")


def test_repetition_guard():
    padded = NORMAL.replace("Therefore", "Let me double-check the computation once more.\n" * 30 + "Therefore")
    assert is_repetition_padding(padded)
    one_line_loop = "the roots are 2 and 3 " * 40 + r"\boxed{5}"
    assert is_repetition_padding(one_line_loop)
    varied = "\n".join(f"Step {i}: we compute {i} * {i} = {i * i} and note it." for i in range(40))
    assert not is_repetition_padding(varied)
    repeated_line = varied + "\n" + "I should check whether this is right.\n" * 5
    assert is_repetition_padding(repeated_line)
    assert not is_repetition_padding(NORMAL)


def test_copy_problem_guard():
    assert copies_problem(LONG_PROMPT + "\n\\boxed{30000}", LONG_PROMPT)
    assert copies_problem((LONG_PROMPT + " ") * 3, LONG_PROMPT)
    solution = (LONG_PROMPT + "\nLet the width be $w$; then the length is $3w$ and the perimeter is "
                "$2(w + 3w) = 8w = 800$, so $w = 100$ and the length is $300$. The area is "
                "$100 \\cdot 300 = 30000$ square meters, which we can confirm by recomputing the perimeter "
                "$2(100 + 300) = 800$ and noting that the ratio of length to width is exactly three, as given, "
                "and every number here is a whole number of meters, so no rounding was involved at any step. "
                "Hence the field has area \\boxed{30000}.")
    assert not copies_problem(solution, LONG_PROMPT)  # restating once, then solving, is fine
    assert not copies_problem(NORMAL, PROMPT)


def test_unsupported_answer_guard():
    pattern = r"A:(-?\d+)"
    assert is_unsupported_answer("454-1=457.\nA:45777", pattern)  # the padding the benchmark found
    assert not is_unsupported_answer("454-1=457.\nA:457", pattern)
    assert is_unsupported_answer("A:457", pattern)  # an answer without any work
    assert not is_unsupported_answer("454-1=457.", pattern)  # no answer: the format reward is 0 anyway
    assert not is_unsupported_answer(NORMAL)
    assert not is_unsupported_answer(r"so $x = 3.5$, i.e. \boxed{3.50}")  # same value, other spelling
    assert not is_unsupported_answer(r"the ratio is $\frac{3}{4}$, so \boxed{\frac{3}{4}}")
    assert is_unsupported_answer(r"the roots are 2 and 3, so \boxed{55555}")
    assert not is_unsupported_answer(r"cut off \boxed{5")  # no complete box: nothing to check


def test_guard_zeroes_format_and_counts_hits():
    guards = Guards()
    hedge = r"It is \boxed{3} or \boxed{5}"
    plain = _format_length()
    guarded = CompositeReward(dict(plain.terms), guards=guards)
    assert plain(UNLABELED, hedge, completion_len=50).reward == 2.0
    score = guarded(UNLABELED, hedge, completion_len=50)
    assert score.reward == 0.0  # format zeroed -> min(0, length)
    assert score.terms["guard/multiple_boxed"] == 1.0 and score.terms["guard/empty_box"] == 0.0
    assert score.terms["format_length/format"] == 0.0
    assert guarded(UNLABELED, hedge, completion_len=100).reward == -1.0
    assert guarded(UNLABELED, r"\boxed{}\boxed{5}", completion_len=50).terms["guard/empty_box"] == 1.0
    assert guarded(UNLABELED, NORMAL, completion_len=50).reward == 2.0
    # the hedge's last box (5) and the lone box after an empty one were never worked out: unsupported too
    assert guards.hits == {"multiple_boxed": 2, "empty_box": 1, "unsupported_answer": 3} and guards.checked == 4


# --- composition and build_reward ---------------------------------------------------------------------


def test_composite_terms_reported_separately():
    reward = build_reward({"correctness": 1.0, "format": 0.5, "length": {"weight": 0.2, "p": 0.5},
                           "overlong": {"weight": 0.1, "cache": 20}, "repetition": 0.1}, max_length=100)
    score = reward(LABELED, NORMAL, completion_len=90)
    assert isinstance(score, CompositeScore) and score.correct
    terms = score.terms
    assert set(terms) == {"correctness", "format", "length", "overlong", "repetition"}  # guards off: labeled
    assert terms["correctness"] == 1.0 and terms["format"] == 1.0
    assert terms["length"] == pytest.approx(1 - 2 * 0.8**2) and terms["overlong"] == pytest.approx(-0.5)
    expected = 1.0 + 0.5 + 0.2 * terms["length"] + 0.1 * -0.5 + 0.1 * terms["repetition"]
    assert score.reward == pytest.approx(expected)
    wrong = reward(Problem(id="w", prompt=PROMPT, answer="6"), NORMAL, completion_len=90)
    assert not wrong.correct and wrong.terms["correctness"] == 0.0


def test_build_reward_strings_and_guard_defaults():
    fl = build_reward("format_length", max_length=100)
    assert fl.guards is not None and set(fl.guards.names) == {"multiple_boxed", "empty_box", "repetition",
                                                               "copy_problem", "unsupported_answer"}
    assert fl(UNLABELED, NORMAL, completion_len=50).reward == 2.0  # no answers needed
    assert build_reward("correctness").guards is None
    mixed = build_reward("format_length+0.5*overlong", max_length=100)
    assert {name: w for name, (w, _) in mixed.terms.items()} == {"format_length": 1.0, "overlong": 0.5}
    assert build_reward({"format": 1.0, "guards": False}).guards is None
    assert build_reward({"format": 1.0, "guards": ["empty_box"]}).guards.names == ("empty_box",)
    paper_code = build_reward({"format_length": {"format_weight": 0.5, "shape": "polyline"}}, max_length=100)
    assert paper_code(UNLABELED, NORMAL, completion_len=25).reward == pytest.approx(1.0)  # 0.5 + 2 * 0.25
    with pytest.raises(ValueError, match="unknown reward term"):
        build_reward("accuracy")
    with pytest.raises(ValueError, match="max_length"):
        build_reward("format_length")
    with pytest.raises(ValueError, match="unknown options"):
        build_reward({"length": {"weight": 1.0, "turning": 0.5}}, max_length=10)


def test_correctness_without_answer_errors_clearly():
    reward = build_reward({"correctness": 1.0, "format": 0.5})
    with pytest.raises(MissingAnswerError) as info:
        reward(UNLABELED, NORMAL)
    message = str(info.value)
    assert "no answers" in message and "format_length" in message and "reward=format" in message
    with pytest.raises(MissingAnswerError, match="reference"):
        build_reward("correctness", correctness_kind="strict")(LABELED, NORMAL)


def test_guards_read_responses_without_spaces():
    """The embedded task's chains have no spaces: repetition and copying are still seen, a real chain passes."""
    from scaffold_rl.data.arithmetic import make_problem
    from scaffold_rl.rewards.guards import copies_problem, is_repetition_padding

    problem = make_problem(387, [("+", 7), ("+", 3), ("-", 5)])
    assert not is_repetition_padding(problem.reference)
    assert is_repetition_padding("387+7=394." * 12 + "\nA:394")
    assert not copies_problem(problem.reference, problem.prompt, n=4, min_words=8)
    assert copies_problem("387+7+3-5=?" * 4, problem.prompt, n=4, min_words=8)
