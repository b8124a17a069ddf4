"""`scaffold-rl search` and `scaffold-rl evolve`. Wire into the main CLI with `add_search_parser(sub)`.

Search knobs are `search.KEY=VALUE` overrides (see `scaffold-rl search --help-config`); evolve knobs are
`evolve.KEY=VALUE` (and `evolve.search.KEY=VALUE`); every other override goes to the run config (model.path,
task.name, ...), as in `scaffold-rl train`.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from scaffold_rl.search.api import METHODS
from scaffold_rl.search.build import SCORER_HELP


def add_search_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="test-time search (majority, best-of-N, beam, DVTS, MCTS) on held-out problems")
    p.add_argument("--method", choices=sorted(METHODS), default="majority")
    p.add_argument("--scorer", default="none", help=SCORER_HELP)
    p.add_argument("--levels", help="arithmetic levels to search, e.g. 3,4 (default: task.eval_levels)")
    p.add_argument("--problems", type=int, default=20, help="problems per level (default 20)")
    p.add_argument("--output", type=Path, help="write totals and every result as JSON here")
    p.add_argument("--help-config", action="store_true", help="list every search.* key with its default")
    p.add_argument("--config", type=Path, help="YAML run config")
    p.add_argument("overrides", nargs="*", help="search.n=16, model.path=..., task.name=math500, ...")
    p.set_defaults(func=cmd_search)
    e = sub.add_parser("evolve", help="self-evolution: search -> keep verified trajectories -> SFT (-> PRM) rounds")
    e.add_argument("--rounds", type=int, help="rounds (overrides evolve.rounds)")
    e.add_argument("--run-dir", type=Path, help="write the run here instead of <output_dir>/evolve-<timestamp>")
    e.add_argument("--help-config", action="store_true", help="list every evolve.* key with its default")
    e.add_argument("--config", type=Path, help="YAML run config")
    e.add_argument("overrides", nargs="*", help="evolve.rounds=3, evolve.search.n=16, task.train_levels=[3], ...")
    e.set_defaults(func=cmd_evolve)


def split_overrides(overrides: list[str], prefix: str) -> tuple[list[str], list[str]]:
    """(overrides under `prefix.` with it removed, the rest)."""
    mine = [o[len(prefix) + 1:] for o in overrides if o.startswith(prefix + ".")]
    return mine, [o for o in overrides if not o.startswith(prefix + ".")]


def cmd_search(args) -> None:
    from scaffold_rl.config import RunConfig
    from scaffold_rl.configio import describe_config, load_config
    from scaffold_rl.models.loading import load_policy
    from scaffold_rl.runtime import set_threads
    from scaffold_rl.search.build import answer_checker, make_scorer, make_search_policy, search_many
    from scaffold_rl.search.types import SearchConfig
    from scaffold_rl.startup import check_model_reads_task
    from scaffold_rl.tasks import build_task

    if args.help_config:
        print(describe_config(SearchConfig))
        return
    mine, rest = split_overrides(args.overrides, "search")
    scfg = load_config(SearchConfig, None, mine)
    cfg = load_config(RunConfig, args.config, rest)
    set_threads(cfg.train.threads)
    task = build_task(cfg)
    check_model_reads_task(cfg, task)  # before any model is loaded
    by_level = task.eval_problems(args.problems)
    if args.levels:
        wanted = [int(x) for x in args.levels.split(",") if x]
        missing = [lv for lv in wanted if lv not in by_level]
        if missing and cfg.task.name == "arithmetic":
            from scaffold_rl.data.arithmetic import task_from_config

            arith = task_from_config(cfg.task)
            by_level.update({lv: arith.problems("test", lv, args.problems) for lv in missing})
        by_level = {lv: by_level[lv] for lv in wanted if lv in by_level}
    model, tokenizer = load_policy(cfg)
    policy = make_search_policy(cfg, scfg, model, tokenizer, task)
    scorer = make_scorer(args.scorer, cfg, task, scfg.aggregation)
    is_correct = answer_checker(cfg, task)
    out = {"method": args.method, "scorer": args.scorer, "search": asdict(scfg), "levels": {}}
    records = []
    print(f"| level | method | scorer | accuracy | tokens/problem | no answer | seconds |")
    print(f"|---|---|---|---|---|---|---|")
    for level, problems in sorted(by_level.items()):
        totals, results = search_many(args.method, policy, problems, scorer, scfg, is_correct)
        out["levels"][f"L{level}"] = totals
        print(f"| L{level} | {args.method} | {args.scorer} | {totals['accuracy']:.3f} | "
              f"{totals['tokens_per_problem']:.1f} | {totals['no_answer']:.2f} | {totals['seconds']} |")
        records += [{"problem": p.id, "gold": p.answer, "answer": r.answer, "tokens": r.tokens,
                     "chosen": r.chosen.text if r.chosen else None, "votes": r.votes, "stats": r.stats}
                    for p, r in zip(problems, results)]
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(out | {"results": records}, indent=1))


def cmd_evolve(args) -> None:
    from scaffold_rl.config import RunConfig
    from scaffold_rl.configio import describe_config, load_config
    from scaffold_rl.search.evolve import EvolveConfig, evolve

    if args.help_config:
        print(describe_config(EvolveConfig))
        return
    mine, rest = split_overrides(args.overrides, "evolve")
    if args.rounds is not None:
        mine.append(f"rounds={args.rounds}")
    ecfg = load_config(EvolveConfig, None, mine)
    cfg = load_config(RunConfig, args.config, rest)
    run_dir = evolve(cfg, ecfg, run_dir=args.run_dir)
    print(f"run folder: {run_dir}")
