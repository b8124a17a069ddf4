"""`scaffold-rl prm label | train | eval`: automatic step labels, PRM training, PRM evaluation.

The policy and task come from the run config (dotted overrides after the options, as for `train`): the
embedded model and task by default, or `model.path=... task.name=...`. Wire into the main CLI with
`add_prm_parser(sub)`. Files are options, so the overrides are the only positional arguments:

    scaffold-rl prm label --output labels.jsonl --levels 2,3 --problems 400 train.threads=1
    scaffold-rl prm train --data labels.jsonl --output prm/ --label soft
    scaffold-rl prm eval --prm prm/ --exact 200 --processbench gsm8k,math
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_prm_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    prm = subparsers.add_parser("prm", help="process reward models: step labels, training, evaluation")
    actions = prm.add_subparsers(dest="prm_command", required=True)

    def common(p):
        p.add_argument("--config", type=Path, help="YAML run config (policy, task); see train --help-config")
        p.add_argument("overrides", nargs="*", help="dotted config overrides, e.g. model.path=/models/x")
        return p

    p = common(actions.add_parser("label", help="Math-Shepherd step labels from policy completions (resumable)",
                                  description="Sample solutions with the policy and label each step by K "
                                  "completions from its prefix (hard: any reaches the gold answer; soft: share "
                                  "that do). Rerunning with the same OUTPUT resumes."))
    p.add_argument("--output", type=Path, required=True, help="output .jsonl (appended to; existing ids skipped)")
    p.add_argument("--problems", type=int, default=200, help="problems to label (default 200)")
    p.add_argument("--levels", help="arithmetic levels to draw from, e.g. 2,3 (default: task.train_levels)")
    p.add_argument("--solutions", type=int, default=4, help="solutions sampled per problem (default 4)")
    p.add_argument("--completions", type=int, default=8, help="K completions per step prefix (default 8)")
    p.add_argument("--method", choices=("mc", "binary"), default="mc",
                   help="mc: every prefix (hard + soft labels); binary: OmegaPRM first-error search (cheaper)")
    p.add_argument("--segmenter", choices=("auto", "newline", "blank_line", "embedded"), default="auto")
    p.add_argument("--chunk", type=int, default=16, help="problems per generation batch / flushed write")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_label)

    p = common(actions.add_parser("train", help="train a PRM on a label dataset (BCE or pairwise PPM)"))
    p.add_argument("--data", type=Path, required=True, help="label .jsonl (from `prm label`)")
    p.add_argument("--output", type=Path, required=True, help="folder for the trained PRM")
    p.add_argument("--init", help="backbone: a local HF folder (default: the run config's policy)")
    p.add_argument("--head", choices=("tag", "value"), default="tag")
    p.add_argument("--step-tag", default=" ки", help="step tag for --head tag (added as a token if unknown)")
    p.add_argument("--loss", choices=("bce", "ppm"), default="bce")
    p.add_argument("--label", choices=("hard", "soft"), default="hard")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--max-minutes", type=float)
    p.add_argument("--held-out", type=float, default=0.1, help="share of problems held out (default 0.1)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_train)

    p = common(actions.add_parser("eval", help="ProcessBench F1 and/or exact step-label accuracy (embedded)"))
    p.add_argument("--prm", type=Path, required=True, help="PRM folder (from `prm train`)")
    p.add_argument("--processbench", default="gsm8k,math", help="splits, comma-separated ('' to skip)")
    p.add_argument("--limit", type=int, help="N samples per ProcessBench split, spread evenly over the file")
    p.add_argument("--threshold", type=float, default=0.5, help="a step below this score is the first error")
    p.add_argument("--exact", type=int, default=0, metavar="N",
                   help="also: N policy solutions per level of the embedded task, scored against exact labels")
    p.add_argument("--levels", default="2,3", help="levels for --exact (default 2,3)")
    p.add_argument("--output", type=Path, help="write the metrics JSON here")
    p.set_defaults(func=cmd_eval)
    return prm


def _run_config(args):
    from scaffold_rl.config import RunConfig
    from scaffold_rl.configio import load_config
    from scaffold_rl.runtime import set_threads

    cfg = load_config(RunConfig, args.config, args.overrides)
    set_threads(cfg.train.threads)
    return cfg


def _levels(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"error: --levels expects comma-separated integers, got {text!r}") from None


def policy_sampler(cfg, task=None, echo=print):
    """(sampler whose reward is answer correctness, task) for the run config's policy."""
    from scaffold_rl.models.loading import load_policy
    from scaffold_rl.rewards.correctness import CorrectnessReward
    from scaffold_rl.rollout.generation import SamplingParams, TransformersGenerator
    from scaffold_rl.rollout.sampler import Sampler
    from scaffold_rl.tasks import build_task

    from scaffold_rl.startup import check_model_reads_task

    task = task or build_task(cfg)
    check_model_reads_task(cfg, task)  # before any model is loaded
    model, tokenizer = load_policy(cfg, echo=echo)
    r = cfg.rollout
    generator = TransformersGenerator(model, tokenizer, batch_size=r.max_batch_sequences, static_cache=r.static_cache)
    reward = CorrectnessReward("answer", answer_pattern=task.answer_pattern, timeout_s=cfg.reward.verifier_timeout_s)
    params = SamplingParams(max_new_tokens=r.max_new_tokens, temperature=r.temperature, top_k=r.top_k, top_p=r.top_p)
    return Sampler(generator, task.renderer(tokenizer), reward, tokenizer, params), task


def task_problems(cfg, task, n: int, levels: list[int] | None, split: str = "train"):
    if cfg.task.name == "arithmetic" and levels:
        per = -(-n // len(levels))
        return [p for lv in levels for p in task.task.problems(split, lv, per)][:n]
    return task.train_problems(n) if split == "train" else [p for ps in task.eval_problems(n).values() for p in ps]


def cmd_label(args) -> None:
    from scaffold_rl.prm.label import LabelConfig, StepLabeler, write_label_dataset
    from scaffold_rl.steps import StepSegmenter, segmenter_for

    cfg = _run_config(args)
    sampler, task = policy_sampler(cfg, echo=lambda m: print(m, file=sys.stderr))
    seg = segmenter_for(cfg.task.name) if args.segmenter == "auto" else StepSegmenter(args.segmenter)
    label_cfg = LabelConfig(completions=args.completions, solutions=args.solutions, method=args.method,
                            max_new_tokens=cfg.rollout.max_new_tokens, temperature=cfg.rollout.temperature,
                            chunk=args.chunk, seed=args.seed)
    problems = task_problems(cfg, task, args.problems, _levels(args.levels) if args.levels else None)
    summary = write_label_dataset(StepLabeler(sampler, seg, label_cfg), problems, args.output,
                                  log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(summary, indent=1))


def cmd_train(args) -> None:
    from scaffold_rl.models.loading import load_hf_model, load_policy
    from scaffold_rl.prm.data import read_step_dataset, split_by_group
    from scaffold_rl.prm.model import PRMConfig, ProcessRewardModel
    from scaffold_rl.prm.train import PRMTrainConfig, train_prm

    cfg = _run_config(args)
    echo = lambda m: print(m, file=sys.stderr)  # noqa: E731
    examples = read_step_dataset(args.data)
    train, held = split_by_group(examples, args.held_out, args.seed)
    model, tokenizer = load_hf_model(args.init, echo=echo) if args.init else load_policy(cfg, echo=echo)
    prm = ProcessRewardModel(model, tokenizer, PRMConfig(head=args.head, step_tag=args.step_tag))
    result = train_prm(prm, train, held, PRMTrainConfig(
        loss=args.loss, label=args.label, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        max_minutes=args.max_minutes, seed=args.seed), log=echo)
    prm.save(args.output)
    summary = {"steps": result.steps, "seconds": round(result.seconds, 1), "held_out_before": result.before,
               "held_out_after": result.after, "train_solutions": len(train), "held_out_solutions": len(held),
               "config": result.config}
    (args.output / "train_result.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))


def cmd_eval(args) -> None:
    from scaffold_rl.prm.model import ProcessRewardModel
    from scaffold_rl.prm.processbench import evaluate_processbench

    cfg = _run_config(args)
    prm = ProcessRewardModel.load(args.prm)
    out = {}
    splits = [s for s in args.processbench.split(",") if s]
    if splits:
        out["processbench"] = evaluate_processbench(prm.score_steps_batch, splits, args.threshold, args.limit,
                                                    log=lambda m: print(m, file=sys.stderr))
    if args.exact:
        from scaffold_rl.prm.evaluate import exact_label_accuracy

        if cfg.task.name != "arithmetic":
            raise SystemExit("error: --exact needs the embedded task (task.name=arithmetic)")
        sampler, task = policy_sampler(cfg, echo=lambda m: print(m, file=sys.stderr))
        out["exact"] = {}
        for lv in _levels(args.levels):
            problems = task.task.problems("test", lv, args.exact)
            solutions = [(p, r.text) for p, g in zip(problems, sampler.sample([(p, None) for p in problems], 1,
                                                                              seed=lv)) for r in g]
            out["exact"][f"L{lv}"] = exact_label_accuracy(prm.score_steps_batch, solutions, args.threshold)
    text = json.dumps(out, indent=1)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    print(text)
