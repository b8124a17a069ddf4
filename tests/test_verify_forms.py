"""The checker on answers written the way real models write them (issue 14): where the answer is found, how
it is spelled, and the guards against math-verify's false positives. Closing lines are modelled on
ProcessBench responses (ids in the comments)."""
from __future__ import annotations

import pytest

from scaffold_rl import verify as V
from scaffold_rl.tasks.files import FileTask
from scaffold_rl.verify import Verifier, VerifyResult, extract_answer
from scaffold_rl.verify_forms import MAX_PARAGRAPHS, answer_regions, answer_tag, hash_answer, prepare


@pytest.fixture(scope="module")
def verifier():
    v = Verifier(timeout_s=5.0)
    v.warm_up()
    yield v
    V.shutdown_workers()
    assert not V._LIVE_WORKERS


# --- where the answer is -----------------------------------------------------------------------------

# (response, gold, expected verdict, expected extracted answer)
FORMS = [
    # the last box, even after "final answer is"
    (r"The final answer is $4$, or rather $\boxed{5}$.", "5", True, "5"),
    # Minerva/MATH format (math-523, Llama-3-70B)
    ("The area of the circle is then $\\pi r^2 = \\pi (4)^2 = 16\\pi$.\n\n"
     "Final Answer: The final answer is $16\\pi$. I hope it is correct.", r"16\pi", True, r"16\pi"),
    ("Final Answer: The final answer is $16\\pi$. I hope it is correct.", r"8\pi", False, r"16\pi"),
    # Minerva format with a plain number (math-530)
    (r"we conclude that \(k = 2.\) Final Answer: The final answer is 2. I hope it is correct.", "2", True, "2"),
    # "final answer is" in prose, \(...\) and \dfrac
    (r"Therefore, the final answer is \(\dfrac{3}{4}\).", r"\frac34", True, r"\frac{3}{4}"),
    # "answer is" / "Answer:" with plain numbers
    ("So the answer is 7 hours.", "7", True, "7"),
    ("Answer: 12", "12", True, "12"),
    # the last math span; an early "answer" anchor does not win over it (math-542)
    ("To answer this, note that $1 + 2 + \\dots + 100 = 5050$.\n\n"
     r"For \(k = 65\): \[x = 5050 - 77 \times 65 = 45\] Thus, the number on the card that was removed is \(45\).",
     "45", True, "45"),
    # a closing mention of a variable is not the answer (math-999) ...
    (r"In summary, the values for \(n\) are \(2\) and \(4\), a total of \(2 + 1 = 3\) possible values for \(n\).",
     "3", True, "2 + 1 = 3"),
    # ... unless it is the only math there: a letter can be the answer
    (r"The answer is \(C\).", r"\text{(C)}", True, "C"),
    # the last number of a GSM8K-style closing sentence
    ("Now, we subtract: $32 - $24 = $8\n\nSo, after all his transactions, Raymond has $8 left.", "8", True, "8"),
    # GSM8K's own format, after the model's own currency signs
    ("She makes 9 * 2 = $18 every day at the farmer's market.\n#### 18", "18", True, "18"),
    ("#### 1,234", "1234", True, "1,234"),
    # a markdown heading `#### Step 1` is not an answer line
    ("#### Step 1: find the total\nThe total is 5 + 3 = 8.\n\nSo the answer is 8.", "8", True, "8"),
    # R1-style answer tags: bare content is the answer, delimited content is searched
    ("<think>it is 1/2</think><answer>\\frac{1}{2}</answer>", "0.5", True, r"\frac{1}{2}"),
    ("<think>hmm</think><answer>The answer is $5$.</answer>", "5", True, "5"),
    # the answer after </think>, not the thinking's
    ("<think>so the answer is 3</think>The answer is $4$.", "3", False, "4"),
    # a cut-off last box is no answer, whatever came before it
    (r"The final answer is $5$. \boxed{5", "5", False, None),
    ("I could not solve it.", "5", False, None),
]


@pytest.mark.parametrize("text, gold, correct, extracted", FORMS)
def test_extraction_forms(verifier, text, gold, correct, extracted):
    assert verifier.verify(text, gold) == VerifyResult(correct, extracted)
    assert verifier.extract(text) == extracted  # what majority voting sees is what verify compares


def test_benchmark_task_votes_on_the_checkers_answer(verifier):
    task = FileTask.__new__(FileTask)  # extract_answer needs no data
    assert task.extract_answer("Final Answer: The final answer is $16\\pi$. I hope it is correct.") == r"16\pi"
    assert task.extract_answer(r"so \boxed{7}") == "7"


def test_task_pattern_comes_first_and_alone():
    v = Verifier(answer_pattern=r"A:(\d+)")
    assert v.verify("387+7=394.\nA:394", "394") == VerifyResult(True, "394")
    assert v.verify("Final Answer: The final answer is 394. I hope it is correct.", "394") == VerifyResult(False, None)
    assert v.verify(r"\boxed{394}", "394") == VerifyResult(False, None)


def test_format_reward_extraction_stays_strict():
    # the format reward pays for the asked-for format: prose answers the checker reads are not a box
    assert extract_answer("Final Answer: The final answer is $5$. I hope it is correct.") is None
    assert extract_answer(r"so \boxed{5}") == "5"


# --- spellings ---------------------------------------------------------------------------------------

SPELLINGS = [
    # \text{} around a list of choices (math-515) and around words
    (r"Thus, the final answer is: \[ \boxed{A,D} \]", r"\text{A,D}", True),
    (r"\boxed{D,A}", r"\text{A,D}", True),
    (r"\boxed{A,C}", r"\text{A,D}", False),
    ("Final Answer: The final answer is $\\text{B, E, G}$. I hope it is correct.", r"\text{B,E,G}", True),
    (r"\boxed{June 20}", r"\text{June 20}", True),
    (r"\boxed{June 21}", r"\text{June 20}", False),
    # \left/\right and intervals
    (r"The range is \(\left[-\frac{\pi}{2}, \frac{\pi}{2}\right]\).", r"\left[ -\frac{\pi}{2}, \frac{\pi}{2} \right]",
     True),
    (r"The range is \((0, \infty)\).", r"[0,\infty)", False),
    # units: a chain's last member, `\text {` with a space (math-744's gold), square/cubic units
    ("Therefore, Timothy's locker is: \\[ \\text{Volume of Timothy's locker} = 20 \\times 2 = 40 "
     "\\text{ cubic inches} \\]", "40", True),
    (r"The answer is: \( \boxed{8\sqrt{3}} \).", r"8\sqrt{3} \text { square inches}", True),
    (r"\boxed{x = 2 + 3 = 5}", "5", True),
    (r"So, \( x = 14 \) and \( y = 15 \) is not a solution.", "15", False),  # two answers, not a chain (math-381)
    # degrees
    (r"Therefore, the measure of angle $BAE$ is $30^\circ$.", "30", True),
    (r"\boxed{30}", r"30^\circ.", True),  # MATH gold with a closing period
    # percentages: integer ones equal the number (math-verify), others too on one side only
    (r"\boxed{7.2}", r"7.2\%", True),
    (r"\boxed{7.2\%}", "7.2", True),
    (r"\boxed{0.5}", r"50\%", True),
    (r"\boxed{0.6}", r"50\%", False),
    # thousands separators, MATH's `,\!` inside a fraction
    ("Therefore, there are **12,441,600** ways the candidates can be listed.", "12441600", True),
    (r"Final Answer: The final answer is $\dfrac{12}{5,\!525}$. I hope it is correct.", r"\frac{12}{5525}", True),
    # multiple answers and sets
    ("Therefore the integer roots are $1$ and $-3$.", "1,-3", True),
    ("Therefore the integer roots are $1$ and $-3$.", "1,3", False),
    (r"\boxed{\{2,1\}}", r"\{1,2\}", True),
    # dollars: `\$` in prose (gsm8k-338), a `\$` that lost its `$` (gsm8k-329)
    (r"Therefore, the total cost for Angela's installations will be \$324.", "324", True),
    (r"Therefore, Annika has $15 left. The final answer is: \boxed{\15}", "15", True),
]


@pytest.mark.parametrize("text, gold, correct", SPELLINGS)
def test_spellings(verifier, text, gold, correct):
    assert verifier.verify(text, gold).correct is correct


def test_math_verify_false_positives_are_caught(verifier):
    # math-verify issue #14: exact numbers compared as (a-b).evalf(chop=True), tiny values chopped to 0
    assert not verifier.verify(r"\boxed{\frac{1}{2004!}}", r"\frac{1}{2006!}").correct
    assert verifier.verify(r"\boxed{\frac{2005 \cdot 2006}{2006!}}", r"\frac{1}{2004!}").correct
    assert verifier.verify(r"\boxed{\frac{1}{3}}", "0.333333").correct  # float rounding is kept
    # its unit stripping drops a closing single letter (c, d, t, ...), so both sides became `a +`
    assert not verifier.verify(r"\boxed{a + b + d}", "a + b + c").correct
    assert not verifier.verify(r"Therefore, the answer is \(a + b + d\).", "a + b + c").correct
    assert verifier.verify(r"Therefore, the answer is \(a + b + c\).", "a + b + c").correct
    assert not verifier.verify(r"Therefore, the answer is \(\sin^2 x\).", r"\sin^2 t").correct


# --- the pieces ------------------------------------------------------------------------------------


def test_answer_tag_and_hash_answer():
    assert answer_tag("<answer>1</answer> then <answer> 2 </answer>") == "2"
    assert answer_tag("<answer>cut off") is None
    assert answer_tag("<answer></answer>") is None
    assert hash_answer("work\n#### 72\n\n") == "72"
    assert hash_answer("#### 72.") == "72"
    assert hash_answer("#### Step 1\nwork") is None


def test_answer_regions():
    text = "first\n\nFinal Answer: The final answer is $2$. I hope it is correct."
    assert answer_regions(text) == ["final answer is $2$. I hope it is correct.",  # from the last mention
                                    "Final Answer: The final answer is $2$. I hope it is correct.", "first"]
    assert answer_regions(r"so \(x = 2\) for \(n\).") == [r"so \(x = 2\) for n.", r"so \(x = 2\) for \(n\)."]
    assert answer_regions(r"The answer is \(C\).") == [r"The answer is \(C\)."]
    many = "\n\n".join(f"p{i}" for i in range(100))
    assert answer_regions(many) == [f"p{i}" for i in range(99, 99 - MAX_PARAGRAPHS, -1)]
    assert answer_regions("<think>$1$</think>\n\n$2$") == ["$2$"]


@pytest.mark.parametrize(
    "raw, prepared",
    [
        (r"\text{A,D}", "A,D"),
        (r"\text{June 20}", "June 20"),
        (r"\text{Devon}", r"\text{Devon}"),  # one word: math-verify's own symbol matching
        (r"8\sqrt{3} \text { square inches}", r"8\sqrt{3} \text{ square inches}"),
        (r"\$18.90", "18.90"),
        (r"\15", "15"),
        (r"\frac{12}{5,\!525}", r"\frac{12}{5525}"),
        (r"1{,}000", "1000"),
        (r"-\frac{5}{3}.", r"-\frac{5}{3}"),
        (r"5\,", r"5\,"),  # a spacing command, not punctuation
        ("7\x00", "7"),
        (r"\begin{pmatrix} 1 \\ \phantom -1 \end{pmatrix}", r"\begin{pmatrix} 1 \\ 1 \end{pmatrix}"),
        (r"2007 + \frac\pi 2", r"2007 + \frac{\pi}{2}"),
        (r"is \(30^\circ.\)", r"is \(30^\circ\)"),
    ],
)
def test_prepare(raw, prepared):
    assert prepare(raw) == prepared
