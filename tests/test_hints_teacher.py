"""The OpenAI-compatible teacher (official `openai` client) and concurrent, resumable hint generation,
against a local server on 127.0.0.1 (`FakeTeacherServer`) with injected latency and failures.
Concurrency is checked by counting requests in flight at the server, never by timing."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scaffold_rl.data.scaf_schema import load_scaf_dataset, validate_tiers
from scaffold_rl.hints.cli import main as hints_main
from scaffold_rl.hints.fake_server import FakeTeacherServer, Reply, tagged_answer
from scaffold_rl.hints.generate import generate_hints, rejects_path, sort_by_input_order
from scaffold_rl.hints.pool import unordered_map
from scaffold_rl.hints.teacher import OpenAITeacher, TeacherError, TeacherFatalError, TeacherOutputError

pytest.importorskip("openai")

FAST_RETRY = {"retry-after-ms": "1"}  # the client honours it: retries without the 0.5 s backoff


def _problems_file(tmp_path: Path, n: int) -> Path:
    rows = [{"id": f"q{i}", "question": f"What is {i}+{i}?", "answer": str(2 * i), "solution": f"{i}+{i}={2 * i}."}
            for i in range(n)]
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


def _asked(server: FakeTeacherServer) -> list[str]:
    """The problem of each request the server received, as 'What is i+i?'."""
    return [r["body"]["messages"][0]["content"].split("Problem:\n")[1].split("\n")[0] for r in server.requests]


@pytest.fixture
def server():
    with FakeTeacherServer() as s:
        yield s


# ---------------------------------------------------------------- the backend


def test_openai_teacher_request_and_answer(server):
    server.replies = [Reply(content="hello from the teacher")]
    teacher = OpenAITeacher(server.url, "teacher-1", api_key="k-test", timeout_s=5, max_tokens=64, temperature=0.3)
    assert teacher.complete("Say hello.") == "hello from the teacher"
    [request] = server.requests
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer k-test"
    body = request["body"]
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("teacher-1", 64, 0.3)
    assert body["messages"] == [{"role": "user", "content": "Say hello."}]
    for url in (server.url, server.url + "/v1/", server.url + "/v1/chat/completions"):
        assert OpenAITeacher(url, "m").base_url == server.url + "/v1"


def test_openai_teacher_without_key_sends_placeholder(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    OpenAITeacher(server.url, "m", timeout_s=5).complete("x")
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    OpenAITeacher(server.url, "m", timeout_s=5).complete("x")
    assert [r["auth"] for r in server.requests] == ["Bearer EMPTY", "Bearer from-env"]


def test_openai_teacher_retries_transient_errors(server):
    server.replies = [Reply(500, "boom", headers=FAST_RETRY), Reply(429, "slow down", headers=FAST_RETRY),
                      Reply(503, "busy", headers=FAST_RETRY), Reply(content="ok")]
    assert OpenAITeacher(server.url, "m", timeout_s=5, retries=3).complete("x") == "ok"
    assert len(server.requests) == 4
    server.reset_counts()
    server.replies = [Reply(500, "still broken", headers=FAST_RETRY)] * 3
    with pytest.raises(TeacherError, match=r"HTTP 500 .*still broken \(gave up after 3 attempts\)") as err:
        OpenAITeacher(server.url, "m", timeout_s=5, retries=2).complete("x")
    assert not isinstance(err.value, TeacherFatalError) and len(server.requests) == 3


@pytest.mark.parametrize("status, fatal", [(401, True), (403, True), (404, True), (400, False), (422, False)])
def test_openai_teacher_permanent_errors_fail_at_once(server, status, fatal):
    server.replies = [Reply(status, f"reason {status}", headers=FAST_RETRY)]
    with pytest.raises(TeacherError, match=f"HTTP {status} from .*model 'm'.*: reason {status}$") as err:
        OpenAITeacher(server.url, "m", timeout_s=5, retries=3).complete("x")
    assert isinstance(err.value, TeacherFatalError) == fatal
    assert len(server.requests) == 1  # retrying cannot fix these


def test_openai_teacher_unreachable_and_malformed(server):
    with pytest.raises(TeacherFatalError, match=r"cannot reach http://127.0.0.1:9/v1 .*gave up after 2 attempts"):
        OpenAITeacher("http://127.0.0.1:9", "m", timeout_s=2, retries=1).complete("x")  # discard port
    server.replies = [Reply(body={"no": "choices"}), Reply(content="")]
    teacher = OpenAITeacher(server.url, "m", timeout_s=5)
    with pytest.raises(TeacherOutputError, match="unexpected response shape"):
        teacher.complete("x")
    with pytest.raises(TeacherOutputError, match="no text"):
        teacher.complete("x")


def test_missing_openai_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"pip install 'scaffold-rl\[teacher\]'"):
        OpenAITeacher("http://127.0.0.1:9", "m")


# ---------------------------------------------------------------- the pool


def test_unordered_map_overlaps_and_propagates_errors():
    barrier = threading.Barrier(3, timeout=10)  # breaks (error) unless 3 calls are in flight together

    def work(i: int) -> int:
        barrier.wait()
        return i * i

    with unordered_map(work, [1, 2, 3], 3) as results:
        assert sorted(results) == [(1, 1), (2, 4), (3, 9)]
    caller = threading.get_ident()
    with unordered_map(lambda i: (i, threading.get_ident()), [5, 6], 1) as results:
        assert list(results) == [(5, (5, caller)), (6, (6, caller))]  # sequential: caller's thread, input order

    def fails(i: int) -> int:
        if i == 2:
            raise KeyboardInterrupt
        return i

    with pytest.raises(KeyboardInterrupt), unordered_map(fails, [1, 2, 3], 2) as results:
        list(results)
    with pytest.raises(ValueError, match="concurrency must be >= 1"), unordered_map(work, [1], 0):
        pass


# ---------------------------------------------------------------- concurrent generation


def test_generate_keeps_n_requests_in_flight_and_sorts_at_the_end(tmp_path):
    problems = _problems_file(tmp_path, 16)
    with FakeTeacherServer(latency_s=0.3) as server:
        teacher = OpenAITeacher(server.url, "m", timeout_s=10)
        out = tmp_path / "hints.jsonl"
        summary = generate_hints(problems, out, mode="teacher", teacher=teacher, concurrency=8, progress=False,
                                 log=lambda m: None)
        assert server.max_in_flight == 8 and len(server.requests) == 16
        assert (summary["written"], summary["failed"], summary["rejected"]) == (16, 0, 0)
        assert _ids(out) == [f"q{i}" for i in range(16)]  # rewritten in input order
        for problem in load_scaf_dataset(out):
            assert validate_tiers(problem.hints) == []
            assert problem.hints["knowledge"][0] == f"Concept 1 for: {problem.prompt}"  # its own answer
        server.reset_counts()
        generate_hints(problems, tmp_path / "serial.jsonl", mode="teacher", teacher=teacher, concurrency=1,
                       limit=4, progress=False, log=lambda m: None)
        assert server.max_in_flight == 1 and _asked(server) == [f"What is {i}+{i}?" for i in range(4)]


def test_sort_by_input_order_keeps_foreign_rows_after(tmp_path):
    out = tmp_path / "o.jsonl"
    rows = [{"id": i, "n": n} for n, i in enumerate(["c", "x", "a", "y", "b"])]
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    sort_by_input_order(out, ["a", "b", "c", "d"])
    assert [(r["id"], r["n"]) for r in map(json.loads, out.read_text().splitlines())] == [
        ("a", 2), ("b", 4), ("c", 0), ("x", 1), ("y", 3)]
    assert [p.name for p in tmp_path.iterdir()] == ["o.jsonl"]  # no temporary file left


def test_malformed_answer_is_an_error_row_and_the_others_go_on(tmp_path):
    problems = _problems_file(tmp_path, 8)

    def answer(prompt: str) -> str | Reply:
        if "What is 3+3?" in prompt:
            return "<KNOWLEDGE_COMPONENTS>\n1. only one item\n</KNOWLEDGE_COMPONENTS>"
        if "What is 5+5?" in prompt:
            return Reply(400, "prompt too long")
        return tagged_answer(prompt.split("Problem:\n")[1].split("\n")[0])

    out = tmp_path / "hints.jsonl"
    with FakeTeacherServer(latency_s=0.05, answer=answer) as server:
        summary = generate_hints(problems, out, mode="teacher", teacher=OpenAITeacher(server.url, "m", timeout_s=10),
                                 max_retries=1, concurrency=4, progress=False, log=lambda m: None)
    assert (summary["written"], summary["failed"], summary["rejected"], summary["resumed"]) == (6, 2, 4, 0)
    assert _ids(out) == ["q0", "q1", "q2", "q4", "q6", "q7"]
    rejects = [json.loads(line) for line in rejects_path(out).read_text().splitlines()]
    rejects = sorted(rejects, key=lambda r: (r["id"], r["attempt"]))
    assert [(r["id"], r["attempt"], r["gave_up"]) for r in rejects] == [
        ("q3", 1, False), ("q3", 2, True), ("q5", 1, False), ("q5", 2, True)]
    assert rejects[0]["reason"] == "section <KNOWLEDGE_COMPONENTS> has 1 numbered items, at least 4 needed"
    assert rejects[0]["output"].startswith("<KNOWLEDGE_COMPONENTS>")
    assert rejects[2]["reason"].startswith("HTTP 400 from") and rejects[2]["reason"].endswith("prompt too long")


def test_fatal_error_stops_the_run_and_keeps_finished_rows(tmp_path, capsys):
    problems = _problems_file(tmp_path, 8)
    key_ok = {"ok": False}

    def answer(prompt: str) -> str | Reply:
        if "What is 5+5?" in prompt and not key_ok["ok"]:
            return Reply(401, "invalid api key")
        return tagged_answer(prompt.split("Problem:\n")[1].split("\n")[0])

    out = tmp_path / "hints.jsonl"
    with FakeTeacherServer(answer=answer) as server:
        with pytest.raises(TeacherFatalError, match=r"HTTP 401.*invalid api key\nstopped: 5 rows written this run"):
            generate_hints(problems, out, mode="teacher", teacher=OpenAITeacher(server.url, "m", timeout_s=5),
                           progress=False, log=lambda m: None)
        assert _ids(out) == ["q0", "q1", "q2", "q3", "q4"] and len(server.requests) == 6
        args = ["generate", str(problems), str(out), "--mode", "teacher", "--teacher-url", server.url,
                "--teacher-name", "m", "--quiet", "--concurrency"]
        with pytest.raises(SystemExit) as exit_info:
            hints_main([*args, "1"])
        assert exit_info.value.code == 2
        assert "stopped: 0 rows written this run (5 in all)" in capsys.readouterr().err
        key_ok["ok"] = True
        server.reset_counts()
        hints_main([*args, "3"])
        captured = capsys.readouterr()
        assert json.loads(captured.out)["written"] == 3 and len(server.requests) == 3
        assert "hints: 3 written, 0 failed, 5 already in the output (skipped) of 8" in captured.err
    assert _ids(out) == [f"q{i}" for i in range(8)]


def test_resume_by_id_after_a_kill(tmp_path):
    """SIGKILL a concurrent CLI run mid-way, cut its last line as a kill during a write would, rerun."""
    problems = _problems_file(tmp_path, 40)
    out = tmp_path / "hints.jsonl"
    with FakeTeacherServer(latency_s=0.1) as server:
        cmd = [sys.executable, "-m", "scaffold_rl.hints.cli", "generate", str(problems), str(out), "--mode",
               "teacher", "--teacher-url", server.url, "--teacher-name", "m", "--concurrency", "4", "--quiet"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 6):
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        lines = out.read_bytes().splitlines(keepends=True)
        assert 6 <= len(lines) < 40  # killed mid-run, rows in finish order
        assert all(json.loads(line)["id"] for line in lines if line.endswith(b"\n"))
        kept = [json.loads(line)["id"] for line in lines[:-1] if line.endswith(b"\n")]
        out.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # half of the last row
        server.reset_counts()
        messages: list[str] = []
        summary = generate_hints(problems, out, mode="teacher", teacher=OpenAITeacher(server.url, "m", timeout_s=10),
                                 concurrency=4, progress=False, log=messages.append)
    assert any(m.startswith("warning:") and "truncated last line" in m for m in messages)
    assert summary["resumed"] == len(kept) and summary["written"] == 40 - len(kept)
    asked = sorted(_asked(server))
    assert asked == sorted(f"What is {i}+{i}?" for i in range(40) if f"q{i}" not in kept)  # each once
    assert _ids(out) == [f"q{i}" for i in range(40)]


def test_cli_concurrency_flags(tmp_path, server, capsys):
    out = tmp_path / "t.jsonl"
    server.replies = [Reply(content="not tagged")]
    hints_main(["generate", str(_problems_file(tmp_path, 2)), str(out), "--mode", "teacher", "--teacher-url",
                server.url, "--teacher-name", "teacher-1", "--quiet", "--max-retries", "1", "--concurrency", "1",
                "--no-sort"])
    summary = json.loads(capsys.readouterr().out)
    assert (summary["written"], summary["rejected"], summary["failed"]) == (2, 1, 0)
    assert "What is 0+0?" in server.requests[0]["body"]["messages"][0]["content"]
    assert sorted(_ids(out)) == ["q0", "q1"]
    with pytest.raises(SystemExit):  # a local model runs one problem at a time
        hints_main(["generate", "math500", str(out), "--mode", "teacher", "--teacher-model", "x", "--concurrency", "4"])
    with pytest.raises(SystemExit):
        hints_main(["generate", "math500", str(out), "--mode", "teacher", "--teacher-url", server.url,
                    "--teacher-name", "m", "--concurrency", "0"])
