"""Self-evolution, rStar-Math style (papers.md §5.3): rounds of

    search on training problems -> keep verified trajectories (with their per-step values)
    -> supervised fine-tune of the policy on them -> (optionally) retrain the PRM -> next round,

with a greedy held-out evaluation per level before round 1 and after every round, written to the run folder
as `evolution.json` and `evolution.md`. Until a PRM guides it, the search is terminal-guided: MCTS node
values come from sampled completions checked by the run's reward (strict full chain on the embedded task),
exactly rStar's rounds 1-2.
"""
from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from scaffold_rl.config import knob
from scaffold_rl.search.types import SearchConfig


@dataclass
class EvolveConfig:
    rounds: int = knob(3, "Self-evolution rounds (each: search, keep, fine-tune, evaluate).")
    method: Literal["majority", "best_of_n", "weighted_best_of_n", "beam", "dvts", "mcts"] = knob(
        "mcts", "Search run on the training problems (rStar-Math: MCTS).")
    problems_per_round: int = knob(64, "Fresh training problems searched per round (task.train_levels mixture).")
    keep_per_problem: int = knob(2, "Verified trajectories kept per problem, best value first (rStar-Math: 2).")
    accumulate: bool = knob(True, "Fine-tune on the kept data of all rounds so far (False: this round's only).")
    from_base: bool = knob(True, "Fine-tune the base model every round (rStar-Math) instead of the last policy.")
    sft_epochs: int = knob(2, "Epochs over the kept data per round (rStar-Math: 2).")
    sft_lr: float = knob(5e-5, "AdamW learning rate of the fine-tune. On kept data the policy already fits (loss "
                         "~0.07/token) Adam's normalised steps are mostly noise: on the 0.2 M learner model 1e-3 "
                         "halved greedy level-1 accuracy, 3e-4 cost 5 points, 3e-5 was neutral (34 examples).")
    sft_batch_size: int = knob(16, "Trajectories per fine-tune update.")
    eval_problems: int = knob(100, "Held-out problems per level (task.eval_levels) in the greedy evaluation.")
    save_models: bool = knob(True, "Save every round's policy under round_<r>/policy.")
    retrain_prm: bool = knob(False, "Retrain a process reward model on every round's trajectories and step values "
                             "(scaffold_rl/prm/train.py).")
    prm_path: str | None = knob(None, "PRM to start from; None = a copy of the base policy with the default PRM head.")
    prm_guided_from_round: int = knob(3, "With retrain_prm: from this round on the search is guided by the PRM "
                                      "(node values from the PRM; kept data still verified), as rStar-Math's round 3.")
    prm_epochs: int = knob(1, "PRM training epochs per round.")
    seed: int = knob(0, "Seed of the search and the fine-tune.")
    search: SearchConfig = field(default_factory=SearchConfig, metadata={
        "help": "Search knobs (evolve.search.KEY=VALUE). mcts_eval is set per round: 'rollout' (terminal-guided by "
                "the run's reward) until the PRM guides the search, then 'scorer'."})

    def __post_init__(self):
        if self.rounds < 0 or self.problems_per_round < 1 or self.keep_per_problem < 1:
            raise ValueError("evolve: rounds must be >= 0, problems_per_round and keep_per_problem >= 1")


def evolve(cfg, ecfg: EvolveConfig, run_dir: Path | None = None, echo=print) -> Path:
    from scaffold_rl.configio import save_config
    from scaffold_rl.models.loading import load_policy
    from scaffold_rl.rollout.factory import make_sampler
    from scaffold_rl.runtime import set_threads
    from scaffold_rl.search.build import make_search_policy
    from scaffold_rl.startup import check_model_reads_task
    from scaffold_rl.tasks import build_task

    set_threads(cfg.train.threads)
    run_dir = Path(run_dir) if run_dir else _new_run_dir(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.yaml")
    (run_dir / "evolve.json").write_text(json.dumps(asdict(ecfg), indent=1))
    task = build_task(cfg)
    check_model_reads_task(cfg, task)  # before any model is loaded
    model, tokenizer = load_policy(cfg, echo=echo)
    base_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    sampler = make_sampler(cfg, model, tokenizer, task)
    held_out = task.eval_problems(ecfg.eval_problems)
    pool = task.train_problems(ecfg.problems_per_round * max(1, ecfg.rounds))
    prm = _initial_prm(ecfg, model, tokenizer) if ecfg.retrain_prm else None
    table = [{"round": 0, **_greedy(cfg, sampler, held_out)}]
    echo(_row(table[-1]))
    kept_all: list[dict] = []
    for r in range(1, ecfg.rounds + 1):
        t0 = time.perf_counter()
        problems = pool[(r - 1) * ecfg.problems_per_round: r * ecfg.problems_per_round]
        scfg = _replace(ecfg.search, seed=ecfg.seed * 1000 + r)
        guided = prm is not None and r >= ecfg.prm_guided_from_round
        scfg = _replace(scfg, mcts_eval="scorer" if guided else "rollout")
        policy = make_search_policy(cfg, scfg, model, tokenizer, task)
        scorer = _round_scorer(prm, sampler, scfg) if guided else _reward_scorer(sampler)
        searched, kept = _search_round(ecfg, policy, problems, scorer, sampler, scfg)
        _write_jsonl(run_dir / f"round_{r}" / "trajectories.jsonl", searched)
        _write_jsonl(run_dir / f"round_{r}" / "kept.jsonl", kept)
        kept_all = kept_all + kept if ecfg.accumulate else kept
        if ecfg.from_base:
            model.load_state_dict(base_state)
        losses = _finetune(ecfg, model, tokenizer, task, kept_all, seed=ecfg.seed * 1000 + r)
        if prm is not None:
            _retrain_prm(ecfg, prm, searched, r, echo)
        row = {"round": r, **_greedy(cfg, sampler, held_out), "searched": len(problems),
               "solved": len({k["problem"] for k in kept}) / max(1, len(problems)), "kept": len(kept),
               "sft_examples": len(kept_all), "sft_loss": losses[-1] if losses else None,
               "search_tokens": policy.tokens, "seconds": round(time.perf_counter() - t0, 1), "prm_guided": guided}
        table.append(row)
        echo(_row(row))
        if ecfg.save_models:
            model.save_pretrained(run_dir / f"round_{r}" / "policy")
            tokenizer.save_pretrained(run_dir / f"round_{r}" / "policy")
        _write_table(run_dir, table)
    _write_table(run_dir, table)
    return run_dir


def _replace(obj, **changes):
    from dataclasses import replace

    return replace(obj, **changes)


def _new_run_dir(cfg) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path, suffix = Path(cfg.output_dir) / f"evolve-{stamp}", 1
    while path.exists():
        path, suffix = Path(cfg.output_dir) / f"evolve-{stamp}-{suffix}", suffix + 1
    return path


def _reward_scorer(sampler):
    """Outcome scorer with the run's own reward (strict full chain on the embedded task)."""
    from scaffold_rl.search.scorers import OutcomeScorer

    return OutcomeScorer(lambda p, text: sampler.reward(p, text).correct)


def _round_scorer(prm, sampler, scfg):
    from scaffold_rl.search.scorers import PRMScorer

    return PRMScorer(prm, scfg.aggregation)


def _search_round(ecfg, policy, problems, scorer, sampler, scfg):
    """Every finished trajectory (for the PRM) and the verified ones kept for fine-tuning (best value first)."""
    from scaffold_rl.search.api import run_search

    searched, kept = [], []
    for p in problems:
        res = run_search(ecfg.method, policy, p, scorer, scfg)
        rows = []
        for t in res.trajectories:
            correct = bool(sampler.reward(p, t.text).correct)
            value = t.value if t.value is not None else (t.score if t.score is not None else float(correct))
            rows.append({"problem": p.id, "prompt": p.prompt, "response": t.text, "steps": t.steps,
                         "step_values": t.step_values, "value": value, "correct": correct, "tokens": t.tokens})
        searched += rows
        good, seen = [], set()
        for row in sorted((x for x in rows if x["correct"]), key=lambda x: -x["value"]):
            if row["response"] not in seen:  # distinct trajectories only
                seen.add(row["response"])
                good.append(row)
        kept += good[: ecfg.keep_per_problem]
    return searched, kept


def _finetune(ecfg, model, tokenizer, task, kept, seed):
    from scaffold_rl.search.sft import sft
    from scaffold_rl.types import Problem

    renderer = task.renderer(tokenizer)
    eos = tokenizer.eos_token_id
    examples = []
    for row in kept:
        prompt_ids = renderer.render(Problem(id=row["problem"], prompt=row["prompt"])).prompt_ids
        response = list(tokenizer(row["response"], add_special_tokens=False)["input_ids"])
        examples.append((list(prompt_ids), response + ([eos] if eos is not None else [])))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos or 0)
    return sft(model, examples, epochs=ecfg.sft_epochs, lr=ecfg.sft_lr, batch_size=ecfg.sft_batch_size,
               pad_id=pad, seed=seed)


def _initial_prm(ecfg, model, tokenizer):
    from scaffold_rl.prm.model import ProcessRewardModel

    if ecfg.prm_path:
        return ProcessRewardModel.load(ecfg.prm_path)
    # a copy: the PRM may add a step-tag token to its tokenizer and trains its own weights
    return ProcessRewardModel(copy.deepcopy(model), copy.deepcopy(tokenizer))


def step_examples(rows: list[dict]):
    """PRM data from searched trajectories: a step of a correct trajectory is good (hard 1); one of a wrong
    trajectory is good when its search value is positive. Soft label = (Q + 1) / 2 where MCTS gave Q."""
    from scaffold_rl.prm.data import StepExample

    out = []
    for row in rows:
        steps, values = tuple(row["steps"]), row["step_values"]
        if not steps:
            continue
        if values:
            hard = tuple(int(row["correct"] or v > 0) for v in values)
            soft = tuple((v + 1.0) / 2.0 for v in values)
        else:
            hard, soft = (int(row["correct"]),) * len(steps), (None,) * len(steps)
        out.append(StepExample(row["prompt"], steps, hard, soft, group=row["problem"]))
    return out


def _retrain_prm(ecfg, prm, searched, round_index, echo):
    from scaffold_rl.prm.data import split_by_group
    from scaffold_rl.prm.train import PRMTrainConfig, train_prm

    examples = step_examples(searched)
    train, held = split_by_group(examples, 0.1, seed=round_index)
    if not train:
        echo(f"round {round_index}: no PRM data")
        return
    train_prm(prm, train, held or train[:1], PRMTrainConfig(epochs=ecfg.prm_epochs, seed=round_index), log=echo)


def _greedy(cfg, sampler, held_out) -> dict:
    from scaffold_rl.eval.evaluate import evaluate_levels
    from scaffold_rl.eval.held_out import eval_max_new_tokens

    res = evaluate_levels(sampler, held_out, max_new_tokens=eval_max_new_tokens(cfg), samples=0)
    return {level: m["greedy"] for level, m in res.items()}


def _row(row: dict) -> str:
    return "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def _write_table(run_dir: Path, table: list[dict]) -> None:
    (run_dir / "evolution.json").write_text(json.dumps(table, indent=1))
    levels = [k for k in table[0] if k.startswith("L")]
    cols = levels + ["solved", "kept", "sft_examples", "search_tokens", "seconds"]
    lines = ["| round | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for row in table:
        cells = [f"{row[c]:.3f}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in cols]
        lines.append(f"| {row['round']} | " + " | ".join(cells) + " |")
    (run_dir / "evolution.md").write_text("Greedy held-out accuracy per level after each self-evolution round "
                                          "(round 0 = base policy).\n\n" + "\n".join(lines) + "\n")
