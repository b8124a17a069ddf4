"""Tests for scaffold_rl.data (benchmarks, jsonl): real row counts, answer normalisation, precise errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from scaffold_rl.data.benchmarks import BENCHMARKS, find_data_dir, load_benchmark
from scaffold_rl.data.jsonl import DataError, get_field, read_records


@pytest.mark.parametrize(
    "name, rows",
    [("math500", 500), ("aime24", 30), ("aime25", 30), ("amc23", 40), ("gsm8k", 1319), ("gsm8k_train", 7473)],
)
def test_named_benchmarks_load_with_right_counts(name, rows):
    problems = load_benchmark(name)
    assert len(problems) == rows
    assert len({p.id for p in problems}) == rows
    assert all(p.source == name and p.prompt and p.answer for p in problems)


def test_math_train_skips_the_two_unanswered_rows():
    problems = load_benchmark("math_train")
    assert len(problems) == 12000 - 2
    assert {"train/number_theory/7115.json", "train/number_theory/7117.json"}.isdisjoint(p.id for p in problems)
    assert sum(p.level is None for p in problems) == 2  # "Level ?" in the source


def test_math500_fields():
    first = load_benchmark("math500", limit=1)[0]
    assert first.id == "test/precalculus/807.json"
    assert first.answer == r"\left( 3, \frac{\pi}{2} \right)"
    assert first.prompt.startswith("Convert the point $(0,3)$")
    assert first.level == 2
    assert first.meta["subject"] == "Precalculus"
    assert r"\boxed{\left( 3, \frac{\pi}{2} \right)}" in first.meta["solution"]


def test_answer_normalisation():
    aime = load_benchmark("aime24")
    assert aime[7].answer == "025" and aime[0].id == "aime24-60"  # zero padding kept; the verifier handles it
    amc = load_benchmark("amc23")
    assert [p.answer for p in amc[:4]] == ["27", "36", "45", "3159"]
    assert "-1" in {p.answer for p in amc}
    aime25 = load_benchmark("aime25", limit=1)[0]
    assert (aime25.id, aime25.answer, aime25.meta["problem_idx"]) == ("2025-I-1", "70", 1)
    gsm = load_benchmark("gsm8k")
    assert gsm[0].answer == "18"
    assert gsm[0].meta["solution"].endswith("every day at the farmer’s market.")
    assert "####" not in gsm[0].meta["solution"]
    assert all("," not in p.answer and int(p.answer) is not None for p in gsm)
    assert gsm[0].prompt.startswith("Janet’s ducks")


def test_limit():
    assert [p.id for p in load_benchmark("gsm8k", limit=3)] == ["gsm8k-1", "gsm8k-2", "gsm8k-3"]
    assert load_benchmark("math500", limit=0) == []


def test_benchmarks_table_files_exist():
    data = find_data_dir()
    for filename, description in BENCHMARKS.values():
        assert (data / filename).is_file() and description


def test_find_data_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SCAFFOLD_RL_DATA", str(tmp_path))
    assert find_data_dir() == tmp_path
    monkeypatch.setenv("SCAFFOLD_RL_DATA", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="SCAFFOLD_RL_DATA"):
        find_data_dir()


def _write(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_generic_file_loader(tmp_path):
    path = _write(
        tmp_path / "mine.jsonl",
        [
            {"problem": "1+1?", "answer": "2", "level": "Level 3"},
            "",
            {"question": "2+2?", "answer": 4.0, "id": "q2"},
            {"question": "3+3?", "reward_model": {"ground_truth": "6", "style": "rule"}},
        ],
    )
    problems = load_benchmark(str(path))
    assert [(p.id, p.prompt, p.answer, p.level, p.source) for p in problems] == [
        ("mine-1", "1+1?", "2", 3, "mine"),
        ("q2", "2+2?", "4", None, "mine"),
        ("mine-4", "3+3?", "6", None, "mine"),
    ]


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"problem": "a", "answer": "1"}, {"problem": "b"}], "bad.jsonl:2: field 'answer': missing"),
        ([{"problem": "a", "answer": ["1"]}], "bad.jsonl:1: field 'answer': expected str or int or float, got list"),
        ([{"problem": "", "answer": "1"}], "bad.jsonl:1: field 'problem': empty"),
        ([{"question": 5, "answer": "1"}], "bad.jsonl:1: field 'question': expected str, got int"),
        ([{"problem": "a", "answer": None}], "bad.jsonl:1: field 'answer': null"),
        ([{"problem": "a", "reward_model": {}}], "bad.jsonl:1: field 'reward_model.ground_truth': missing"),
        ([{"problem": "a", "answer": "1"}, "", '{"problem": "b", "answer": '], "bad.jsonl:3: invalid JSON"),
        (['["a list"]'], "bad.jsonl:1: expected a JSON object, got list"),
    ],
)
def test_malformed_rows_name_file_line_and_field(tmp_path, rows, message):
    path = _write(tmp_path / "bad.jsonl", rows)
    with pytest.raises(DataError) as info:
        load_benchmark(str(path))
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_named_loader_checks_fields(tmp_path, monkeypatch):
    _write(tmp_path / "gsm8k_test.jsonl", [{"question": "q", "answer": "reasoning #### 1,234"}, {"question": "q"}])
    monkeypatch.setenv("SCAFFOLD_RL_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"gsm8k_test\.jsonl:2: field 'answer': missing"):
        load_benchmark("gsm8k")
    _write(tmp_path / "gsm8k_test.jsonl", [{"question": "q", "answer": "no final answer"}])
    with pytest.raises(DataError, match=r"gsm8k_test\.jsonl:1: field 'answer': no final answer after '####'"):
        load_benchmark("gsm8k")
    _write(tmp_path / "gsm8k_test.jsonl", [{"question": "q", "answer": "r #### 1,234"}])
    assert load_benchmark("gsm8k")[0].answer == "1234"


def test_read_records_and_get_field(tmp_path):
    path = _write(tmp_path / "r.jsonl", [{"a": {"b": 1}}, "   ", {"a": {"b": True}}])
    records = list(read_records(path))
    assert [line for line, _ in records] == [1, 3]
    assert get_field(records[0][1], "a.b", path, 1, types=(int,)) == 1
    with pytest.raises(DataError, match="r.jsonl:3: field 'a.b': expected int, got bool"):
        get_field(records[1][1], "a.b", path, 3, types=(int,))
    assert get_field(records[0][1], "a.c", path, 1, required=False) is None
    with pytest.raises(DataError, match="unsupported file type '.csv'"):
        list(read_records(tmp_path / "x.csv"))
    (tmp_path / "u.jsonl").write_bytes(b'{"a": 1}\n{"a": "\xff"}\n')
    with pytest.raises(DataError, match="u.jsonl:2: not valid UTF-8"):
        list(read_records(tmp_path / "u.jsonl"))


def test_parquet_rows(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"question": ["1+1?", "2+2?"], "answer": ["2", None]}), path)
    assert [line for line, _ in read_records(path)] == [1, 2]
    with pytest.raises(DataError, match="t.parquet:2: field 'answer': null"):
        load_benchmark(str(path))
