"""`scaffold-rl` command line: subcommands only, no logic.

Every subcommand takes dotted config overrides (`train.lr=1e-4 rollout.num_generations=4`) after its
options; `--config FILE` loads a YAML first. Unknown keys are errors naming the closest valid ones.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scaffold_rl.config import RunConfig
from scaffold_rl.configio import ConfigError, describe_config, load_config
from scaffold_rl.data.jsonl import DataError

DEMO_CONFIG = Path(__file__).parent / "configs" / "demo.yaml"


def _config(args, default_file: Path | None = None) -> RunConfig:
    """The run config, with the startup checks that need plugins (strategy, reward, trackers) already made."""
    from scaffold_rl.startup import check_config

    path = args.config or (default_file if default_file and default_file.exists() else None)
    cfg = load_config(RunConfig, path, args.overrides)
    check_config(cfg)
    return cfg


def help_config() -> str:
    """`--help-config`: every key, then TRL's names for ours."""
    from scaffold_rl.config import TRL_FIXED, TRL_NAMES

    lines = [describe_config(RunConfig), "", "TRL's names (GRPOConfig / TRL script flags) and ours:"]
    lines += [f"  {trl:<30} -> {ours}" + (f"  ({note})" if note else "") for trl, (ours, note) in TRL_NAMES.items()]
    lines += ["", "Any other GRPOConfig field: train.trl.<field>=<value> (train.trl: {field: value} in YAML), except:"]
    lines += [f"  {name:<30} {why}" for name, why in TRL_FIXED.items()]
    return "\n".join(lines)


def cmd_train(args) -> None:
    from scaffold_rl.train.run import train

    if args.help_config:
        print(help_config())
        return
    if args.resume:
        if args.overrides or args.config:
            raise ConfigError("--resume continues a run with its saved config; drop the overrides")
        train(None, run_dir=Path(args.resume), resume=True)
        return
    if args.dry_run:  # config, data, strategy, reward, TRL args and the cost of a step; no weights
        from scaffold_rl.train.plan import build_plan

        print(build_plan(_config(args), processes=args.processes).render())
        return
    run_dir = train(_config(args), run_dir=args.run_dir)
    print(f"run folder: {run_dir}")


def demo_config_for_task(task: str) -> Path:
    """`demo --task NAME`: the packaged config made for that task (configs/rg_<dataset>.yaml for rg:<dataset>),
    else the embedded demo's config (the task name is then set as an override)."""
    stem = task.replace(":", "_")
    packaged = Path(__file__).parent / "configs" / f"{stem}.yaml"
    return packaged if packaged.exists() else DEMO_CONFIG


def cmd_demo(args) -> None:
    from scaffold_rl.arms import split_arm_specs
    from scaffold_rl.demo import DEFAULT_ARMS, run_demo

    config = args.config or (demo_config_for_task(args.task) if args.task else DEMO_CONFIG)
    overrides = list(args.overrides) + ([f"task.name={args.task}"] if args.task else [])
    arms = tuple(split_arm_specs(args.arms)) if args.arms else DEFAULT_ARMS
    run_demo(config, overrides, arms=arms)


def cmd_pretrain(args) -> None:
    from scaffold_rl.models.loading import load_policy
    from scaffold_rl.runtime import set_threads

    cfg = _config(args)
    set_threads(cfg.train.threads)
    if cfg.model.path:
        raise ConfigError("pretrain builds the embedded model; model.path must be unset")
    if args.ship:
        from scaffold_rl.models.ship import ship

        ship(cfg, rebuild=args.rebuild)
    elif args.rebuild:
        from scaffold_rl.models.pretrain import load_or_pretrain

        load_or_pretrain(cfg.model, cfg.task, rebuild=True)
    else:
        load_policy(cfg)


def cmd_eval(args) -> None:
    from scaffold_rl.eval.cli_eval import evaluate_cli

    cfg = _config(args)
    out = evaluate_cli(cfg, run=args.run, output=args.output)
    print(json.dumps(out, indent=1))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scaffold-rl", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--config", type=Path, help="YAML config file (see --help-config for every key)")
        p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.lr=1e-4")
        return p

    p = common(sub.add_parser("train", help="GRPO training run (embedded task by default)"))
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    p.add_argument("--help-config", action="store_true", help="list every config key with its default and meaning")
    p.add_argument("--run-dir", type=Path, help="write the run here instead of <output_dir>/<name>-<timestamp>")
    p.add_argument("--dry-run", action="store_true", help="print the run's plan (data, batch geometry, steps, "
                   "tokens per step, hardware) without loading the model")
    p.add_argument("--processes", type=int, help="--dry-run: plan for this many training processes (GPUs)")
    p.set_defaults(func=cmd_train)
    p = common(sub.add_parser("demo", help="the learning cliff on the embedded task, end to end on CPU"))
    p.add_argument("--arms", help="comma-separated strategy presets trained side by side, each optionally with one "
                                  "override (preset:key=value; see scaffold_rl/arms.py); default: plain GRPO and "
                                  "Scaf-GRPO with hint tokens trained from step 1")
    p.add_argument("--task", help="run the demo on this task, e.g. rg:chain_sum (its packaged config "
                                  "scaffold_rl/configs/rg_<dataset>.yaml when one exists, unless --config is given)")
    p.set_defaults(func=cmd_demo)
    p = common(sub.add_parser("pretrain", help="the embedded base model: the shipped copy, the cache, or pretrained"))
    p.add_argument("--rebuild", action="store_true", help="pretrain into the local cache even if a copy exists "
                   "(used instead of the shipped model only with model.use_shipped=false)")
    p.add_argument("--ship", action="store_true", help="store the (cached or, with --rebuild, new) model in bf16 as "
                   "the package's shipped base model for this config, with its evaluation table")
    p.set_defaults(func=cmd_pretrain)
    p = common(sub.add_parser("eval", help="evaluate a model: per-level greedy/sampled accuracy, pass@k, maj@k"))
    p.add_argument("--run", type=Path, help="evaluate the final model of this run folder")
    p.add_argument("--output", type=Path, help="write the metrics JSON here")
    p.set_defaults(func=cmd_eval)
    from scaffold_rl.hints.cli import add_hints_parser

    add_hints_parser(sub)
    from scaffold_rl.prm.cli import add_prm_parser
    add_prm_parser(sub)
    from scaffold_rl.search.cli import add_search_parser

    add_search_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ConfigError, FileNotFoundError, DataError) as err:  # a bad file names its line: no traceback needed
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    from scaffold_rl.train.distributed import exit_launched_process

    exit_launched_process()  # under `accelerate launch`: no finalization race with gloo's threads


if __name__ == "__main__":
    main()
