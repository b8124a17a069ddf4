"""Teacher hint throughput vs requests in flight (issue 16.6): the real `generate_hints` pipeline.

    .venv/bin/python benchmarks/teacher_throughput.py [--latency 0.5] [--concurrency 1,2,4,8,16,32]

`OpenAITeacher` (official openai client) against `FakeTeacherServer` on 127.0.0.1, which answers every
request after `--latency` seconds with a well-formed tagged answer, so the figure is what concurrency
buys when the teacher's latency dominates, as it does for a reasoning model (~30 s an answer). Each N
generates max(16, 4 N) MATH-train problems into a fresh file (prompt building, parsing, validation,
the append-and-flush writer and the final sort included). Reported: rows/s, speed-up over N = 1,
efficiency (rows/s over the ideal N / latency), and the most requests the server saw at once.
Target: N = 16 at least 10x N = 1. Writes benchmarks/results/teacher/throughput.json.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from scaffold_rl.hints.fake_server import FakeTeacherServer
from scaffold_rl.hints.generate import generate_hints
from scaffold_rl.hints.teacher import OpenAITeacher

OUT = Path(__file__).parent / "results" / "teacher" / "throughput.json"


def measure(server: FakeTeacherServer, concurrency: int, rows: int, workdir: Path) -> dict:
    teacher = OpenAITeacher(server.url, "fake-teacher", timeout_s=60)
    server.reset_counts()
    start = time.perf_counter()
    summary = generate_hints("math_train", workdir / f"n{concurrency}.jsonl", mode="teacher", teacher=teacher,
                             limit=rows, concurrency=concurrency, progress=False, log=lambda m: None)
    wall = time.perf_counter() - start
    if summary["written"] != rows:
        raise RuntimeError(f"N={concurrency}: {summary}")
    return {"concurrency": concurrency, "rows": rows, "requests": len(server.requests), "wall_s": wall,
            "rows_per_s": rows / wall, "max_in_flight": server.max_in_flight}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency", type=float, default=0.5, help="seconds the server takes per answer")
    parser.add_argument("--concurrency", default="1,2,4,8,16,32", help="comma-separated N to measure")
    args = parser.parse_args()
    levels = [int(n) for n in args.concurrency.split(",")]
    results = []
    with FakeTeacherServer(latency_s=args.latency) as server, tempfile.TemporaryDirectory() as tmp:
        for n in levels:
            results.append(measure(server, n, max(16, 4 * n), Path(tmp)))
    base = next((r["rows_per_s"] for r in results if r["concurrency"] == 1), None)
    print(f"latency {args.latency} s per answer, ideal rows/s = N / {args.latency}")
    print(f"{'N':>4} {'rows':>5} {'requests':>8} {'wall s':>7} {'rows/s':>7} {'speed-up':>8} {'efficiency':>10} "
          f"{'max in flight':>13}")
    for r in results:
        r["speedup_vs_n1"] = r["rows_per_s"] / base if base else None
        r["efficiency"] = r["rows_per_s"] / (r["concurrency"] / args.latency)
        speedup = f"{r['speedup_vs_n1']:.2f}x" if base else "-"
        print(f"{r['concurrency']:>4} {r['rows']:>5} {r['requests']:>8} {r['wall_s']:>7.2f} {r['rows_per_s']:>7.2f} "
              f"{speedup:>8} {r['efficiency']:>10.2f} {r['max_in_flight']:>13}")
    n16 = next((r for r in results if r["concurrency"] == 16), None)
    verdict = None
    if n16 and base:
        verdict = n16["speedup_vs_n1"] >= 10
        print(f"target N=16 >= 10x N=1: {n16['speedup_vs_n1']:.2f}x -> {'met' if verdict else 'NOT met'}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"latency_s": args.latency, "results": results, "target_met": verdict}, indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
