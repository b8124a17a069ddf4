"""Tests for Scaf-GRPO hint data: schema loading, the model-free splitter, the teacher parser and
backends, and the resumable generator. Real data from shared/data. The OpenAI-compatible backend and
concurrent generation are in test_hints_teacher.py."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scaffold_rl.data.benchmarks import find_data_dir, load_benchmark
from scaffold_rl.data.jsonl import DataError
from scaffold_rl.data.scaf_schema import (
    TIER_FIELDS,
    load_scaf_dataset,
    merge_parts,
    validate_tiers,
    write_scaf_record,
)
from scaffold_rl.hints.cli import main as hints_main
from scaffold_rl.hints.generate import generate_hints, rejects_path
from scaffold_rl.hints.split import split_solution, strip_calculator_annotations
from scaffold_rl.hints.teacher import (
    LocalHFTeacher,
    TeacherError,
    TeacherOutputError,
    build_teacher_prompt,
    parse_teacher_output,
)

SCAF_FILE = "scaf_grpo_hints_deepscaler_val179.jsonl"


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _scaf_row(**over) -> dict:
    row = {
        "id": "p1",
        "question": "Solve x+3=9.",
        "knowledge_components_parts": ["inverse operations", "equality", "subtraction", "checking"],
        "planning_skeleton_parts": ["isolate x", "remove the constant", "simplify", "state x"],
        "solution_breakdown_parts": ["x+3=9", "x=9-3", "x=6", "so the answer is 6"],
        "reward_model": {"ground_truth": "6", "style": "rule"},
        "data_source": "toy/math-verify",
    }
    row.update(over)
    return row


def _tagged(n_items: int = 4, tag: str = "") -> str:
    """A well-formed teacher answer with `n_items` numbered items per section."""
    def section(name: str, word: str) -> str:
        items = "\n".join(f"{i}. {word} {tag} item {i}." for i in range(1, n_items + 1))
        return f"<{name}>\n{items}\n</{name}>"

    return "\n".join([section("KNOWLEDGE_COMPONENTS", "Concept"), section("PLANNING_SKELETON", "Step"),
                      section("SOLUTION_BREAKDOWN", "Compute")])


# ---------------------------------------------------------------- schema: loading, writing, validation


def test_scaf_sample_loads_all_rows_with_four_parts_per_tier():
    problems = load_scaf_dataset(find_data_dir() / SCAF_FILE)
    assert len(problems) == 179
    assert len({p.id for p in problems}) == 179
    for p in problems:
        assert set(p.hints) == {"knowledge", "planning", "solution"}
        assert all(len(parts) == 4 and all(part.strip() for part in parts) for parts in p.hints.values())
        assert p.answer and p.prompt and p.meta["missing_tiers"] == []
        assert validate_tiers(p.hints) == [], p.id
    first = problems[0]
    assert first.id == "line_6893" and first.answer == r"\frac{2}{15}"
    assert first.source == "deepscaler-clean-39k_except-still/math-verify"
    assert first.hints["knowledge"][0].startswith("Definition: Adjacent cards")
    assert first.meta["solution"].startswith("If Alice has a card")
    assert sum("solution" in p.meta for p in problems) == 179 - 90  # 90 rows have solution = null
    assert len(load_scaf_dataset(find_data_dir() / SCAF_FILE, limit=3)) == 3


def test_scaf_parquet_matches_jsonl(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = _read_jsonl(find_data_dir() / SCAF_FILE)[:5]
    keep = ["id", "question", "prompt", "data_source", "reward_model", "solution", *TIER_FIELDS.values()]
    table = pa.Table.from_pylist([{k: r[k] for k in keep} for r in rows])
    pq.write_table(table, tmp_path / "s.parquet")
    from_parquet = load_scaf_dataset(tmp_path / "s.parquet")
    from_jsonl = load_scaf_dataset(find_data_dir() / SCAF_FILE, limit=5)
    assert [(p.id, p.prompt, p.answer, p.hints) for p in from_parquet] == [
        (p.id, p.prompt, p.answer, p.hints) for p in from_jsonl
    ]


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"reward_model": {"style": "rule"}}, "reward_model.ground_truth"),
        ({"reward_model": {"ground_truth": "  ", "style": "rule"}}, "reward_model.ground_truth"),
        ({"planning_skeleton_parts": ["ok", 3]}, "planning_skeleton_parts[1]"),
        ({"solution_breakdown_parts": "one string, not a list"}, "solution_breakdown_parts"),
        ({"question": None, "prompt": [{"role": "system", "content": "x"}]}, "question"),
        ({"id": "p0"}, "id"),  # duplicate of line 1
    ],
)
def test_malformed_row_names_file_line_and_field(tmp_path, bad, field):
    path = _jsonl(tmp_path / "bad.jsonl", [_scaf_row(id="p0"), _scaf_row(**bad)])
    with pytest.raises(DataError) as err:
        load_scaf_dataset(path)
    assert (err.value.path, err.value.line, err.value.field) == (str(path), 2, field)
    assert f"bad.jsonl:2: field '{field}'" in str(err.value)


def test_missing_tiers_are_recorded_not_errors(tmp_path):
    row = _scaf_row(knowledge_components_parts=[], solution_breakdown_parts=[" ", "only step"])
    del row["planning_skeleton_parts"], row["question"], row["id"]
    row["prompt"] = [{"role": "system", "content": "sys"}, {"role": "user", "content": "Solve x+3=9."}]
    row["extra_info"] = {"index": 7}
    [problem] = load_scaf_dataset(_jsonl(tmp_path / "m.jsonl", [row]))
    assert problem.meta["missing_tiers"] == ["knowledge", "planning"]
    assert problem.hints == {"solution": ("only step",)}
    assert problem.prompt == "Solve x+3=9."  # from the user message
    assert problem.id == "m-7" and problem.meta["index"] == 7


def test_longer_tiers_are_merged_like_the_official_data(tmp_path):
    assert merge_parts(["a", "b", "c", "d", "e", "f"]) == ["a", "b", "c d", "e f"]
    assert merge_parts(["1", "2", "3", "4", "5", "6", "7"]) == ["1", "2 3", "4 5", "6 7"]
    assert merge_parts(["a", "b"]) == ["a", "b"]
    [problem] = load_scaf_dataset(_jsonl(tmp_path / "l.jsonl", [_scaf_row(planning_skeleton_parts=list("abcde"))]))
    assert problem.hints["planning"] == ("a", "b", "c", "d e")


def test_write_scaf_record_round_trips(tmp_path):
    [problem] = load_benchmark("math500", limit=1)
    tiers = {"knowledge": ["k1", "k2", "k3", "k4"], "solution": ["s1", "s2"]}
    record = write_scaf_record(problem, tiers)
    assert record["reward_model"] == {"ground_truth": problem.answer, "style": "rule"}
    assert record["planning_skeleton_parts"] == [] and record["prompt"][1]["content"] == problem.prompt
    [back] = load_scaf_dataset(_jsonl(tmp_path / "w.jsonl", [record]))
    assert (back.id, back.prompt, back.answer, back.source) == (problem.id, problem.prompt, problem.answer, "math500")
    assert back.hints == {"knowledge": ("k1", "k2", "k3", "k4"), "solution": ("s1", "s2")}
    assert back.meta["missing_tiers"] == ["planning"] and back.meta["solution"] == problem.meta["solution"]
    with pytest.raises(ValueError, match="unknown tiers"):
        write_scaf_record(problem, {"hints": ["x"]})


def test_validate_tiers_rules():
    good = {"knowledge": ["a", "b", "c", "d"], "planning": ["e", "f", "g", "h"], "solution": ["1", "2", "3", r"\boxed{4}"]}
    assert validate_tiers(good) == []
    cases = {
        "planning: missing": {**good, "planning": []},
        "knowledge: 3 parts, expected 4": {**good, "knowledge": ["a", "b", "c"]},
        "solution: part 2 is empty": {**good, "solution": ["1", " ", "3", "4"]},
        "part 1 has 2001 characters": {**good, "knowledge": ["x" * 2001, "b", "c", "d"]},
        "part 3 repeats an earlier part": {**good, "planning": ["e", "f", " e ", "h"]},
        "planning: part 4 gives away the final answer": {**good, "planning": ["e", "f", "g", r"so \boxed{4}"]},
        "contains a section tag": {**good, "solution": ["1", "2", "3", "4 </SOLUTION_BREAKDOWN>"]},
        "unknown tier 'extra'": {**good, "extra": ["z"]},
    }
    for expected, tiers in cases.items():
        problems = validate_tiers(tiers)
        assert any(expected in p for p in problems), (expected, problems)
    assert validate_tiers({"solution": ["one chunk"]}, required=("solution",), min_parts=1) == []


# ---------------------------------------------------------------- model-free splitter


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _math_balanced(chunk: str) -> bool:
    """Independent of the splitter's own scanner: delimiters pair up within the chunk."""
    plain = chunk.replace("\\$", "")
    return (
        plain.count("$") % 2 == 0
        and chunk.count("\\[") == chunk.count("\\]")
        and chunk.count("\\(") == chunk.count("\\)")
        and len(re.findall(r"\\begin\{", chunk)) == len(re.findall(r"\\end\{", chunk))
        and chunk.count("[asy]") == chunk.count("[/asy]")
    )


def test_splitter_on_all_math500_solutions():
    problems = load_benchmark("math500")
    counts = {1: 0, 2: 0, 3: 0, 4: 0}
    for problem in problems:
        solution = problem.meta["solution"]
        chunks = split_solution(solution)
        assert 1 <= len(chunks) <= 4 and all(c.strip() == c and c for c in chunks), problem.id
        assert _squash("".join(chunks)) == _squash(solution), problem.id
        assert all(_math_balanced(c) for c in chunks), (problem.id, chunks)
        counts[len(chunks)] += 1
    assert counts[4] > 150 and counts[1] < 150  # most solutions have several sentences


def test_splitter_on_all_gsm8k_solutions():
    rows = _read_jsonl(find_data_dir() / "gsm8k_test.jsonl")
    for row in rows:
        chunks = split_solution(row["answer"])
        assert 1 <= len(chunks) <= 4 and all(chunks)
        assert not any("<<" in c or ">>" in c for c in chunks)
        assert _squash("".join(chunks)) == _squash(strip_calculator_annotations(row["answer"]))
        # one GSM8K line is one step: with >= 4 lines, chunks end at line ends, never mid-line
        lines = [line.strip() for line in strip_calculator_annotations(row["answer"]).splitlines() if line.strip()]
        if len(lines) >= 4:
            assert all(c.splitlines()[-1].strip() in lines for c in chunks)
    assert split_solution(rows[0]["answer"]) == [
        "Janet sells 16 - 3 - 4 = 9 duck eggs a day.",
        "She makes 9 * 2 = $18 every day at the farmer\u2019s market.",  # "$" is money here, not math
        "#### 18",
    ]


def test_splitter_examples_and_edge_cases():
    math500 = load_benchmark("math500")
    by_id = {p.id: p for p in math500}
    solution = math500[42].meta["solution"]
    assert split_solution(solution) == [
        "Since everything in sight is even, we should begin by dividing by 2.",
        r"That gives \[-2<x-1<4.\]",
        r"To isolate $x$, we add 1, so \[-1<x<5.\]",
        r"Since $a=-1$ and $b=5$, we get $a+b=-1+5=\boxed{4}$.",
    ]
    # the figure is glued to the sentence before it and does not count towards length
    first = split_solution(by_id["test/precalculus/807.json"].meta["solution"])
    assert len(first) == 3 and first[1].endswith("[/asy]") and first[2].startswith("Therefore")
    assert split_solution("") == [] and split_solution("   \n ") == []
    # fewer pieces than 4 give fewer chunks; "e.g. more" (lower case) does not start a sentence
    assert split_solution("One sentence, with $x = 1$ and e.g. more.") == ["One sentence, with $x = 1$ and e.g. more."]
    assert split_solution("First we get $x = 1.$ So $y = 2$.") == ["First we get $x = 1.$", "So $y = 2$."]
    # sentence-like text inside math is never a cut point
    inside = r"We get $a. B$ and then. \begin{align*} x &= 1. \\ Y &= 2. \end{align*} Next step. Done."
    chunks = split_solution(inside)
    assert all(_math_balanced(c) for c in chunks) and "$a. B$" in chunks[0]
    # equal sentences balance two per chunk
    eight = " ".join(f"Sentence number {i} is here." for i in range(8))
    assert [c.count("Sentence") for c in split_solution(eight)] == [2, 2, 2, 2]
    # with >= 4 paragraphs, only paragraph breaks are cut
    paras = "\n\n".join(["A one. A two.", "B one.", "C one. C two. C three.", "D one.", "E one."])
    assert split_solution(paras) == ["A one. A two.", "B one.", "C one. C two. C three.", "D one.\n\nE one."]
    assert len(split_solution(eight, parts=2)) == 2


# ---------------------------------------------------------------- teacher prompt and parser


def test_teacher_prompt_contents():
    prompt = build_teacher_prompt("What is 2+2?", "Add them: 4.", "4")
    for needle in ("What is 2+2?", "Add them: 4.", "<KNOWLEDGE_COMPONENTS>", "</SOLUTION_BREAKDOWN>", "at least 4"):
        assert needle in prompt
    assert "correct final answer is: 7" in build_teacher_prompt("Q?", None, "7")
    with pytest.raises(ValueError):
        build_teacher_prompt("Q?", None, None)


def test_parser_on_good_outputs():
    tiers = parse_teacher_output("<think>\n<KNOWLEDGE_COMPONENTS> draft\n</think>\n" + _tagged(6, "x"))
    assert tiers["knowledge"] == ["Concept x item 1.", "Concept x item 2.",
                                  "Concept x item 3. Concept x item 4.", "Concept x item 5. Concept x item 6."]
    assert all(len(parts) == 4 for parts in tiers.values())
    wrapped = _tagged(4).replace("1. Compute  item 1.", "**1.** Compute item 1.\n   - with a sub-bullet\n   2 apples")
    solution = parse_teacher_output(wrapped)["solution"]
    assert solution[0] == "Compute item 1. - with a sub-bullet 2 apples" and len(solution) == 4


def test_parser_reproduces_the_official_tiers():
    rows = _read_jsonl(find_data_dir() / SCAF_FILE)
    same = 0
    for row in rows:
        tiers = parse_teacher_output(row["model_answer"])  # all 179 raw teacher answers parse
        same += all(tiers[t] == row[f] for t, f in TIER_FIELDS.items())
    # 3 rows differ: the official parser also counted un-numbered sub-bullets as items
    assert same >= 176


@pytest.mark.parametrize(
    "output, reason",
    [
        ("I cannot help with that.", "section <KNOWLEDGE_COMPONENTS> is missing"),
        (_tagged(4).rsplit("</SOLUTION_BREAKDOWN>", 1)[0], "section <SOLUTION_BREAKDOWN> is not closed"),
        (_tagged(4).replace("4. Step  item 4.\n", ""), "section <PLANNING_SKELETON> has 3 numbered items"),
        (_tagged(4).replace("1. Concept", "- Concept").replace("2. Concept", "- Concept"),
         "section <KNOWLEDGE_COMPONENTS> has 0 numbered items"),
    ],
)
def test_parser_rejects_bad_outputs_with_reason(output, reason):
    with pytest.raises(TeacherOutputError, match=re.escape(reason)):
        parse_teacher_output(output)


# ---------------------------------------------------------------- generation: retries, rejects, resume


def _problems_file(tmp_path: Path, n: int) -> Path:
    rows = [{"id": f"q{i}", "question": f"What is {i}+{i}?", "answer": str(2 * i), "solution": f"{i}+{i}={2 * i}."}
            for i in range(n)]
    return _jsonl(tmp_path / "problems.jsonl", rows)


class ScriptedTeacher:
    """Answers from a script (str = output, exception = raised); then a valid output per prompt."""

    def __init__(self, script: list | None = None, interrupt_after: int | None = None):
        self.script = list(script or [])
        self.interrupt_after = interrupt_after
        self.prompts: list[str] = []

    def complete(self, prompt: str) -> str:
        if self.interrupt_after is not None and len(self.prompts) >= self.interrupt_after:
            raise KeyboardInterrupt
        self.prompts.append(prompt)
        step = self.script.pop(0) if self.script else None
        if isinstance(step, BaseException):
            raise step
        if step is not None:
            return step
        question = re.search(r"Problem:\n(.*)\n", prompt).group(1)
        return _tagged(5, question)


def test_generate_retries_rejected_output_and_logs_reason(tmp_path):
    out = tmp_path / "hints.jsonl"
    boxed = _tagged(4).replace("Concept  item 4.", r"Concept \boxed{0}")
    teacher = ScriptedTeacher(["garbage", TeacherError("HTTP 500"), boxed])
    summary = generate_hints(_problems_file(tmp_path, 2), out, mode="teacher", teacher=teacher, progress=False,
                             log=lambda m: None)
    assert summary == {**summary, "written": 2, "failed": 0, "rejected": 3, "resumed": 0, "total": 2}
    assert len(teacher.prompts) == 5 and "What is 0+0?" in teacher.prompts[0]
    rejects = _read_jsonl(rejects_path(out))
    assert [(r["id"], r["attempt"], r["gave_up"]) for r in rejects] == [("q0", 1, False), ("q0", 2, False),
                                                                         ("q0", 3, False)]
    assert "section <KNOWLEDGE_COMPONENTS> is missing" in rejects[0]["reason"] and rejects[0]["output"] == "garbage"
    assert "HTTP 500" in rejects[1]["reason"] and "gives away the final answer" in rejects[2]["reason"]
    problems = load_scaf_dataset(out)
    assert [p.id for p in problems] == ["q0", "q1"]
    for p in problems:
        assert validate_tiers(p.hints) == [] and p.meta["missing_tiers"] == []
        assert p.hints["knowledge"][3] == f"Concept {p.prompt} item 4. Concept {p.prompt} item 5."
    assert _read_jsonl(out)[0]["reward_model"] == {"ground_truth": "0", "style": "rule"}


def test_generate_fails_a_problem_after_max_retries(tmp_path):
    out = tmp_path / "hints.jsonl"
    teacher = ScriptedTeacher(["bad"] * 3)
    summary = generate_hints(_problems_file(tmp_path, 2), out, mode="teacher", teacher=teacher, max_retries=2,
                             progress=False, log=lambda m: None)
    assert (summary["written"], summary["failed"], summary["rejected"]) == (1, 1, 3)
    assert [r["id"] for r in _read_jsonl(out)] == ["q1"]
    assert [(r["id"], r["attempt"], r["gave_up"]) for r in _read_jsonl(rejects_path(out))] == [
        ("q0", 1, False), ("q0", 2, False), ("q0", 3, True)]
    # the failed problem is tried again on the next run
    summary = generate_hints(_problems_file(tmp_path, 2), out, mode="teacher", teacher=ScriptedTeacher(),
                             progress=False, log=lambda m: None)
    assert (summary["written"], summary["resumed"]) == (1, 1)
    assert sorted(r["id"] for r in _read_jsonl(out)) == ["q0", "q1"]


def test_resume_after_interrupt_and_truncated_line(tmp_path):
    problems = _problems_file(tmp_path, 5)
    out = tmp_path / "hints.jsonl"
    interrupted: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        generate_hints(problems, out, mode="teacher", teacher=ScriptedTeacher(interrupt_after=2), progress=False,
                       log=interrupted.append)
    assert [r["id"] for r in _read_jsonl(out)] == ["q0", "q1"]
    assert interrupted == [f"interrupted: 2 rows written this run are kept in {out}; rerun the same command to resume"]
    # simulate a kill in the middle of writing the third row
    partial = json.dumps(write_scaf_record({"id": "q2", "question": "Q", "answer": "4"}, {}))[:40]
    with out.open("a", encoding="utf-8") as f:
        f.write(partial)
    messages: list[str] = []
    teacher = ScriptedTeacher()
    summary = generate_hints(problems, out, mode="teacher", teacher=teacher, progress=False, log=messages.append)
    assert (summary["written"], summary["resumed"], summary["failed"]) == (3, 2, 0)
    assert len(teacher.prompts) == 3 and "What is 2+2?" in teacher.prompts[0]
    assert any("truncated last line" in m for m in messages)
    ids = [r["id"] for r in _read_jsonl(out)]  # every line parses: the partial one is gone
    assert ids == ["q0", "q1", "q2", "q3", "q4"]
    assert out.read_text(encoding="utf-8").endswith("\n")
    # a damaged line in the middle is an error, not silently regenerated
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text(lines[0] + "{broken\n" + "".join(lines[1:]), encoding="utf-8")
    with pytest.raises(DataError, match="hints.jsonl:2"):
        generate_hints(problems, out, mode="teacher", teacher=ScriptedTeacher(), progress=False, log=lambda m: None)


def test_split_mode_via_cli_writes_solution_tier_and_resumes(tmp_path, capsys):
    out = tmp_path / "split.jsonl"
    hints_main(["generate", "math500", str(out), "--limit", "4", "--quiet"])
    summary = json.loads(capsys.readouterr().out)
    assert (summary["written"], summary["failed"]) == (4, 0)
    rows = _read_jsonl(out)
    assert all(r["knowledge_components_parts"] == [] == r["planning_skeleton_parts"] for r in rows)
    problems = load_scaf_dataset(out)
    assert all(p.meta["missing_tiers"] == ["knowledge", "planning"] for p in problems)
    assert list(problems[2].hints["solution"]) == split_solution(load_benchmark("math500", limit=3)[2].meta["solution"])
    hints_main(["hints", "generate", "math500", str(out), "--limit", "6", "--quiet"])
    summary = json.loads(capsys.readouterr().out)
    assert (summary["written"], summary["resumed"]) == (2, 4) and len(_read_jsonl(out)) == 6
    # GSM8K: annotations removed; AIME25 has no solutions, so every problem fails with a reason
    gsm = generate_hints("gsm8k", tmp_path / "g.jsonl", limit=3, progress=False, log=lambda m: None)
    assert gsm["written"] == 3
    gsm_rows = _read_jsonl(tmp_path / "g.jsonl")
    assert not any("<<" in part for r in gsm_rows for part in r["solution_breakdown_parts"])
    assert "<<" in gsm_rows[0]["solution"]  # the reference itself is kept as given
    aime = generate_hints("aime25", tmp_path / "a.jsonl", limit=2, progress=False, log=lambda m: None)
    assert (aime["written"], aime["failed"]) == (0, 2)
    assert _read_jsonl(rejects_path(tmp_path / "a.jsonl"))[0]["reason"] == "no reference solution to split"
    with pytest.raises(SystemExit):
        hints_main(["generate", "math500", str(out), "--mode", "teacher"])  # no teacher given


# ---------------------------------------------------------------- local Hugging Face teacher


def test_local_hf_teacher_smoke_and_rejection(tmp_path):
    from scaffold_rl.models.embedded import TinyModelSpec, build_model, build_tokenizer

    tokenizer = build_tokenizer()
    spec = TinyModelSpec(hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, max_positions=4096)
    build_model(tokenizer, spec).save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    teacher = LocalHFTeacher(tmp_path / "tiny", max_new_tokens=8, temperature=1.0, device="cpu", echo=lambda m: None)
    text = teacher.complete("What is 1+1?")
    assert isinstance(text, str)
    out = tmp_path / "local.jsonl"
    summary = generate_hints(_problems_file(tmp_path, 1), out, mode="teacher", teacher=teacher, max_retries=0,
                             progress=False, log=lambda m: None)
    assert (summary["written"], summary["failed"], summary["rejected"]) == (0, 1, 1)
    assert out.read_text() == ""
    [reject] = _read_jsonl(rejects_path(out))
    assert reject["id"] == "q0" and "is missing" in reject["reason"]
