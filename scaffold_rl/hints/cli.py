"""`hints generate`: build a Scaf-GRPO hint dataset from the command line.

Wire into the main CLI with `add_hints_parser(sub)`; standalone:
`python -m scaffold_rl.hints.cli generate INPUT OUTPUT --mode split` (the leading `hints` is optional).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from scaffold_rl.hints.generate import MODES

_LOCAL_MAX_NEW_TOKENS = 4096
_SERVER_CONCURRENCY = 8


def add_hints_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `hints generate ...` to an existing subcommand set; returns the `hints` parser."""
    hints = subparsers.add_parser("hints", help="build Scaf-GRPO hint datasets (Knowledge/Planning/Solution tiers)")
    actions = hints.add_subparsers(dest="hints_command", required=True)
    gen = actions.add_parser(
        "generate",
        help="write tiered hints for a benchmark as Scaf-GRPO JSONL (resumable)",
        description="Write Scaf-GRPO rows for every problem of INPUT. --mode split cuts the reference "
        "solution into the Solution tier (no model); --mode teacher asks a teacher model for all three "
        "tiers, --concurrency requests in flight. Rows are appended as they finish, so while a run goes "
        "on OUTPUT is in finish order; a run that completes rewrites it in input order (--no-sort keeps "
        "finish order). Rerunning the same command resumes by id (a line cut off by a kill is dropped "
        "with a warning); rejected teacher outputs go to OUTPUT-stem.rejects.jsonl with id and reason. "
        "A bad key, unknown model or unreachable server stops the run, keeping the rows written. "
        "--teacher-url needs the teacher extra: pip install 'scaffold-rl[teacher]'.",
    )
    gen.add_argument("input", help="benchmark name (math500, gsm8k, math_train, ...) or a .jsonl/.parquet file")
    gen.add_argument("output", type=Path, help="output .jsonl (appended to; existing ids are skipped)")
    gen.add_argument("--mode", choices=MODES, default="split", help="split (default) or teacher")
    source = gen.add_mutually_exclusive_group()
    source.add_argument("--teacher-model", metavar="PATH", help="local Hugging Face model folder as teacher")
    source.add_argument("--teacher-url", metavar="URL", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000")
    gen.add_argument("--teacher-name", metavar="NAME", help="model name sent to --teacher-url")
    gen.add_argument("--api-key-env", default="OPENAI_API_KEY", metavar="VAR",
                     help="environment variable holding the server's API key (default OPENAI_API_KEY; "
                     "unset: \"EMPTY\", which local servers accept)")
    gen.add_argument("--max-new-tokens", type=int, metavar="N",
                     help=f"teacher output budget (local default {_LOCAL_MAX_NEW_TOKENS}; server default: its own)")
    gen.add_argument("--temperature", type=float, default=0.6, help="teacher sampling temperature (0 = greedy)")
    gen.add_argument("--timeout", type=float, default=300.0, metavar="S", help="seconds per server request")
    gen.add_argument("--concurrency", type=int, metavar="N",
                     help=f"teacher requests in flight at once (--teacher-url default {_SERVER_CONCURRENCY}; "
                     "a local --teacher-model runs one at a time)")
    gen.add_argument("--http-retries", type=int, default=4, metavar="K",
                     help="retries of one request after a connection error, timeout, 429 or 5xx, with "
                     "backoff (default 4); 401/403/404 stop the run at once")
    gen.add_argument("--limit", type=int, metavar="N", help="first N problems only")
    gen.add_argument("--max-retries", type=int, default=3, metavar="K",
                     help="extra attempts after a rejected teacher output (default 3)")
    gen.add_argument("--no-sort", action="store_true",
                     help="leave OUTPUT in finish order instead of rewriting it in input order at the end")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=cmd_hints_generate, _hints_parser=gen)
    return hints


def cmd_hints_generate(args: argparse.Namespace) -> None:
    from scaffold_rl.data.jsonl import DataError
    from scaffold_rl.hints.generate import generate_hints, summary_line
    from scaffold_rl.hints.teacher import TeacherError

    try:
        teacher, concurrency = _teacher_from_args(args)
        summary = generate_hints(args.input, args.output, mode=args.mode, teacher=teacher,
                                 max_retries=args.max_retries, limit=args.limit, concurrency=concurrency,
                                 sort_output=not args.no_sort, progress=not args.quiet)
    except (DataError, TeacherError, ValueError, FileNotFoundError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)  # generate_hints has said what is kept
    print(summary_line(summary), file=sys.stderr)
    print(json.dumps(summary, indent=1))


def _teacher_from_args(args: argparse.Namespace):
    """(teacher, concurrency) the options describe (no teacher in split mode); bad combinations exit with usage."""
    parser: argparse.ArgumentParser = args._hints_parser
    has_teacher = args.teacher_model or args.teacher_url
    if args.concurrency is not None and args.concurrency < 1:
        parser.error(f"--concurrency must be >= 1, got {args.concurrency}")
    if args.mode == "split":
        if has_teacher:
            parser.error("--teacher-model/--teacher-url need --mode teacher")
        return None, 1
    if not has_teacher:
        parser.error("--mode teacher needs --teacher-model PATH or --teacher-url URL")
    if args.teacher_url:
        if not args.teacher_name:
            parser.error("--teacher-url needs --teacher-name (the model name the server expects)")
        from scaffold_rl.hints.teacher import OpenAITeacher

        teacher = OpenAITeacher(args.teacher_url, args.teacher_name, api_key=os.environ.get(args.api_key_env),
                                timeout_s=args.timeout, temperature=args.temperature,
                                max_tokens=args.max_new_tokens, retries=args.http_retries)
        return teacher, args.concurrency or _SERVER_CONCURRENCY
    if (args.concurrency or 1) > 1:
        parser.error("--concurrency applies to --teacher-url; a local --teacher-model runs one problem at a time")
    from scaffold_rl.hints.teacher import LocalHFTeacher

    teacher = LocalHFTeacher(args.teacher_model, max_new_tokens=args.max_new_tokens or _LOCAL_MAX_NEW_TOKENS,
                             temperature=args.temperature, echo=lambda m: print(m, file=sys.stderr))
    return teacher, 1


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] != ["hints"] and argv[:1] not in (["-h"], ["--help"]):
        argv = ["hints", *argv]
    parser = argparse.ArgumentParser(prog="python -m scaffold_rl.hints.cli")
    add_hints_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
