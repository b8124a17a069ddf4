"""The sandbox contains hostile code and the caller carries on: an infinite loop, a fork bomb, a memory hog,
a network call and a write outside its directory all end as a failed result, never as harm or a hang."""
import os
import uuid
from pathlib import Path

import pytest

from scaffold_rl.sandbox import SandboxLimits, extract_code, run_python

FAST = SandboxLimits(timeout_s=3.0, cpu_s=1, memory_mb=256, max_processes=8)


def test_plain_code_runs_and_can_write_in_its_own_directory():
    r = run_python("open('a.txt', 'w').write('hi')\nprint(open('a.txt').read(), 6 * 7)", FAST)
    assert r.ok and r.reason == "ok" and r.stdout.strip() == "hi 42" and r.returncode == 0


def test_errors_are_reported_not_raised():
    r = run_python("1 / 0", FAST)
    assert not r.ok and r.reason == "error" and "ZeroDivisionError" in r.stderr


def test_infinite_loop_is_stopped():
    r = run_python("while True:\n    pass", FAST)
    assert not r.ok and r.reason in ("cpu_limit", "timeout")


def test_sleeping_forever_hits_the_wall_clock():
    r = run_python("import time\ntime.sleep(60)", SandboxLimits(timeout_s=1.0))
    assert not r.ok and r.reason == "timeout"


def test_memory_hog_is_stopped():
    r = run_python("x = bytearray(4 * 1024 ** 3)\nprint('allocated')", FAST)
    assert not r.ok and r.reason == "memory" and "allocated" not in r.stdout


def test_network_call_is_refused():
    r = run_python("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)\nprint('connected')", FAST)
    assert not r.ok and "connected" not in r.stdout
    assert r.reason in ("blocked", "error")


def test_write_outside_the_directory_is_refused(tmp_path):
    os.chmod(tmp_path, 0o777)  # even a directory the child's user could write to
    targets = [tmp_path / f"escape-{uuid.uuid4().hex}.txt", Path.cwd() / f"escape-{uuid.uuid4().hex}.txt"]
    for target in targets:
        r = run_python(f"open({str(target)!r}, 'w').write('x')", FAST)
        assert not r.ok and r.reason == "blocked"
        assert not target.exists()
    r = run_python(f"import os\nos.symlink({str(tmp_path)!r}, 'link')\nopen('link/x.txt', 'w').write('x')", FAST)
    assert not r.ok and not (tmp_path / "x.txt").exists()


def test_fork_bomb_is_refused_by_default():
    r = run_python("import os\nwhile True:\n    os.fork()", FAST)
    assert not r.ok and r.reason == "blocked"


def test_fork_bomb_is_contained_by_rlimits_and_the_process_group():
    """With the fork ban lifted, RLIMIT_NPROC (8) caps the bomb and the whole group is killed afterwards."""
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    r = run_python(code, SandboxLimits(timeout_s=1.5, cpu_s=1, max_processes=8, allow_subprocess=True))
    assert not r.ok and r.reason in ("timeout", "cpu_limit", "killed")


def test_output_is_capped():
    r = run_python("print('x' * 10_000_000)", SandboxLimits(max_output_bytes=1000))
    assert not r.ok and r.reason == "output_limit" and len(r.stdout) <= 1000


def test_the_caller_carries_on_after_hostile_runs():
    import torch

    for code in ("while True: pass", "x = bytearray(4 * 1024 ** 3)", "import os\nos.fork()"):
        run_python(code, FAST)
    w = torch.zeros(3, requires_grad=True)
    loss = ((w - 1.0) ** 2).sum()
    loss.backward()
    with torch.no_grad():
        w -= 0.5 * w.grad
    assert w.tolist() == pytest.approx([1.0, 1.0, 1.0])  # a training step still runs in this process
    assert run_python("print('alive')", FAST).stdout.strip() == "alive"


def test_extract_code_joins_fenced_python_blocks():
    text = "add.\n```python\nx = 1\n```\nthen\n```python\ny = x + 1\n```\nA:2"
    assert extract_code(text) == "x = 1\ny = x + 1"
    assert extract_code("no code") is None
    assert extract_code("```python\nunclosed") is None


def test_the_code_cannot_lift_its_limits_or_reach_native_calls():
    for code in ("import resource\nresource.setrlimit(resource.RLIMIT_CPU, (100, 100))",
                 "import _posixsubprocess", "import ctypes\nctypes.CDLL(None)"):
        r = run_python(code, FAST)
        assert not r.ok and r.reason == "blocked", code
