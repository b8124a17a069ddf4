"""Run model-written Python as hostile input: a child process with no network, no writes outside a fresh
temporary directory, and bounded CPU, memory, processes, file size, output and wall-clock time.

Layers, strongest first (`SandboxResult.isolation` says which were active for a call):

1. `netns`  — `unshare -n`: the child lives in an empty network namespace (no interface is up), so no
   connection can be made whatever the code does. Needs root or unprivileged user namespaces
   (`unshare -rn`); probed once.
2. `nobody` — when we are root, `setpriv` drops the child to uid/gid 65534 with no supplementary groups:
   the kernel refuses writes to files it does not own (the repository, the home directory) and counts
   RLIMIT_NPROC against that user, which root would otherwise ignore.
3. rlimits (always): RLIMIT_CPU, RLIMIT_AS, RLIMIT_NPROC, RLIMIT_FSIZE, RLIMIT_CORE=0.
4. process group (always): the child starts its own session; on timeout, output overflow, and after every
   run, the whole group gets SIGKILL, so forked helpers die with it.
5. audit hook (always, inside the child before the code runs): refuses socket creation, process creation
   (fork, exec, spawn, system, subprocess, importing `_posixsubprocess`), ctypes, changing rlimits, and any
   open-for-write / remove / rename / mkdir / chmod / link / truncate whose resolved path is outside the
   working directory. Only the standard library is importable: the child runs `python -I -S`, under
   `nobody` the system interpreter (so e.g. sympy is not available to code steps).

What is NOT enforced: reads are allowed (the code may read any file the child's uid can read: this is a
"read-only view" of the machine, not a jail); CPython audit hooks are a tripwire, not a security boundary
(code that finds a native-code primitive outside ctypes could bypass them), which is why layers 1-4 exist;
a process that escapes the process group with setsid() before the group is killed survives until its own
RLIMIT_CPU ends it (it cannot fork: layer 5, and RLIMIT_NPROC under layer 2). /tmp is writable by the
kernel's rules for `nobody`; only layer 5 keeps writes inside the working directory. Concurrent sandboxes
under `nobody` share its RLIMIT_NPROC count.
"""
from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

__all__ = ["SandboxLimits", "SandboxResult", "run_python", "extract_code"]

BLOCKED_TAG = "SANDBOX-BLOCKED"
NOBODY = 65534


@dataclass
class SandboxLimits:
    """Resource bounds of one run; defaults fit a short arithmetic check."""

    timeout_s: float = 5.0  # wall clock; the process group is killed after it
    cpu_s: int = 2  # RLIMIT_CPU (SIGXCPU, then SIGKILL a second later)
    memory_mb: int = 512  # RLIMIT_AS: address space, so allocations past it raise MemoryError
    max_processes: int = 16  # RLIMIT_NPROC: counted per user (effective only under `nobody` or as non-root)
    max_file_mb: int = 8  # RLIMIT_FSIZE: largest file the code may write
    max_output_bytes: int = 65536  # stdout and stderr each; more kills the run
    allow_subprocess: bool = False  # True lifts only the audit-hook ban on fork/exec (for testing the rlimits)


@dataclass
class SandboxResult:
    ok: bool  # exited 0 within every limit
    stdout: str
    stderr: str
    # ok | error | timeout | cpu_limit | memory | blocked | output_limit | killed
    reason: str
    returncode: int | None = None
    isolation: tuple[str, ...] = field(default_factory=tuple)


_BOOT = r'''
import os, sys
ROOT = os.path.realpath(os.getcwd())
TAG = {tag!r}
ALLOW_SUB = {allow_sub!r}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
PROCESS = ("os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
           "os.kill", "os.killpg", "pty.spawn")
PATH_EVENTS = {{"os.remove": (0,), "os.rename": (0, 1), "os.mkdir": (0,), "os.rmdir": (0,), "os.chmod": (0,),
               "os.chown": (0,), "os.link": (0, 1), "os.symlink": (1,), "os.truncate": (0,), "os.utime": (0,),
               "shutil.rmtree": (0,), "shutil.move": (0, 1), "shutil.copyfile": (1,)}}

def _inside(path):
    if isinstance(path, int):
        return True
    path = os.fsdecode(os.fspath(path))
    full = os.path.realpath(os.path.join(ROOT, path))
    return full == ROOT or full.startswith(ROOT + os.sep)

def _deny(what):
    raise PermissionError(f"{{TAG}}: {{what}}")

def _hook(event, args):
    if event.startswith(("socket.", "ctypes.", "resource.setrlimit", "resource.prlimit")):
        _deny(event)
    if event in PROCESS and not ALLOW_SUB:
        _deny(event)
    if event == "import" and args[0] in ("_posixsubprocess", "_ctypes") and not ALLOW_SUB:
        _deny(f"import {{args[0]}}")  # fork_exec and C calls would skip the events above
    if event == "open":
        path, mode, flags = args
        if path is None:
            return
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
            (isinstance(flags, int) and flags & WRITE_FLAGS)
        if writes and not _inside(path):
            _deny(f"write outside the sandbox: {{path!r}}")
    elif event in PATH_EVENTS:
        for i in PATH_EVENTS[event]:
            if i < len(args) and args[i] is not None and not _inside(args[i]):
                _deny(f"{{event}} outside the sandbox: {{args[i]!r}}")

sys.addaudithook(_hook)
source = open("main.py").read()
code = compile(source, "main.py", "exec")
del source
exec(code, {{"__name__": "__main__", "__builtins__": __builtins__}})
'''


def extract_code(text: str) -> str | None:
    """The Python of every ```python fenced block in `text`, joined; None if there is none."""
    blocks, rest = [], text
    while True:
        start = rest.find("```python")
        if start < 0:
            break
        body = rest[start + len("```python"):]
        end = body.find("```")
        if end < 0:  # an unclosed block is not runnable code
            break
        blocks.append(body[:end].strip("\n"))
        rest = body[end + 3:]
    return "\n".join(blocks) if blocks else None


def run_python(code: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """Run `code` in a fresh temporary directory under every available layer; never raises on bad code."""
    limits = limits or SandboxLimits()
    layers = _layers()
    workdir = Path(tempfile.mkdtemp(prefix="scaffold-sandbox-"))
    try:
        (workdir / "main.py").write_text(code)
        boot = _BOOT.format(tag=BLOCKED_TAG, allow_sub=limits.allow_subprocess)
        python = sys.executable
        prefix: list[str] = []
        if "netns" in layers:
            prefix += ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
        if "nobody" in layers:
            os.chown(workdir, NOBODY, NOBODY)
            os.chown(workdir / "main.py", NOBODY, NOBODY)
            prefix += ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
            python = _nobody_python()
        argv = prefix + [python, "-I", "-S", "-B", "-c", boot]
        return _run(argv, workdir, limits, tuple(layers) + ("rlimits", "pgroup", "audit"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(argv: list[str], workdir: Path, limits: SandboxLimits, isolation: tuple[str, ...]) -> SandboxResult:
    def preexec() -> None:  # runs in the child between fork and exec
        mb = 1 << 20
        _cap(resource.RLIMIT_CPU, limits.cpu_s, limits.cpu_s + 1)
        _cap(resource.RLIMIT_AS, limits.memory_mb * mb, limits.memory_mb * mb)
        _cap(resource.RLIMIT_NPROC, limits.max_processes, limits.max_processes)
        _cap(resource.RLIMIT_FSIZE, limits.max_file_mb * mb, limits.max_file_mb * mb)
        _cap(resource.RLIMIT_CORE, 0, 0)

    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, start_new_session=True, preexec_fn=preexec)
    overflow = threading.Event()
    buffers = {"out": bytearray(), "err": bytearray()}

    def pump(stream, buf: bytearray) -> None:
        while chunk := stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536):
            room = limits.max_output_bytes - len(buf)
            buf += chunk[:max(0, room)]
            if len(chunk) > room:
                overflow.set()
                _kill_group(proc.pid)
                break

    threads = [threading.Thread(target=pump, args=(proc.stdout, buffers["out"]), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, buffers["err"]), daemon=True)]
    for t in threads:
        t.start()
    timed_out = False
    try:
        proc.wait(timeout=limits.timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    _kill_group(proc.pid)
    proc.wait()
    _drain_group(proc.pid)  # helpers the code left behind in its group, including forks racing the first kill
    for t in threads:
        t.join(timeout=2.0)
    for stream in (proc.stdout, proc.stderr):
        stream.close()
    stdout = buffers["out"].decode("utf-8", "replace")
    stderr = buffers["err"].decode("utf-8", "replace")
    rc = proc.returncode
    reason = _reason(rc, stderr, timed_out, overflow.is_set())
    return SandboxResult(reason == "ok", stdout, stderr, reason, None if timed_out else rc, isolation)


def _cap(which: int, soft: int, hard: int) -> None:
    """Lower a limit; never above the current hard limit (which only root could raise)."""
    _, current = resource.getrlimit(which)
    if current != resource.RLIM_INFINITY:
        hard, soft = min(hard, current), min(soft, current)
    resource.setrlimit(which, (soft, hard))


def _reason(rc: int | None, stderr: str, timed_out: bool, overflow: bool) -> str:
    if overflow:
        return "output_limit"
    if timed_out:
        return "timeout"
    if rc == 0:
        return "ok"
    if rc in (-signal.SIGXCPU, -signal.SIGKILL) and "Traceback" not in stderr:
        return "cpu_limit" if rc == -signal.SIGXCPU else "killed"
    if BLOCKED_TAG in stderr:
        return "blocked"
    if "MemoryError" in stderr:
        return "memory"
    if rc == -signal.SIGXFSZ:
        return "output_limit"
    return "error"


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _drain_group(pgid: int, patience_s: float = 5.0) -> bool:
    """SIGKILL the group until no member is left (a fork racing the first signal gets the next one)."""
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        time.sleep(0.01)
    return False


@lru_cache(maxsize=1)
def _nobody_python() -> str:
    """An interpreter `nobody` can execute: ours if its whole path is world-readable, else the system one."""
    ours = os.path.realpath(sys.executable)
    parts = Path(ours).parents
    if all(os.stat(p).st_mode & 0o005 == 0o005 for p in parts if str(p) != "/"):
        return ours
    return shutil.which("python3", path="/usr/bin:/bin:/usr/local/bin") or ours


@lru_cache(maxsize=1)
def _layers() -> tuple[str, ...]:
    """Which optional layers work on this machine (probed once with a trivial child)."""
    layers = []
    unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
    if shutil.which("unshare") and _probe(unshare + [sys.executable, "-I", "-S", "-c", "pass"]):
        layers.append("netns")
    if os.geteuid() == 0 and shutil.which("setpriv") and _probe(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", _nobody_python(),
             "-I", "-S", "-c", "import os; assert os.getuid() == 65534"]):
        layers.append("nobody")
    return tuple(layers)


def _probe(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=10,
                              cwd=tempfile.gettempdir()).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
