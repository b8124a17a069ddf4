"""Several training runs ("arms") side by side, and one report comparing them.

The demo and the cliff benchmark both compare strategies at equal wall-clock budget from the same base
model. Each arm is a `scaffold-rl train` subprocess with its own overrides; on 2 cores two arms run at once
with one torch thread each (two 2-thread jobs would oversubscribe the cores and slow both ~5x).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# Named strategy settings for the embedded task. The embedded model never saw knowledge/planning hint lines
# in pretraining, so its ladders use the solution tier (the task's own steps); the full K/P/S ladder is an
# ablation of the cliff benchmark.
PRESETS: dict[str, list[str]] = {
    "grpo": ["strategy.name=grpo"],
    "scaf": ["strategy.name=scaf_grpo", "strategy.scaf.hint_tiers=[solution]", "strategy.scaf.hint_placement=prompt"],
    "scaf_hint_tokens": ["strategy.name=scaf_grpo", "strategy.scaf.hint_tiers=[solution]",
                         "strategy.scaf.hint_placement=response"],
    "reference": ["strategy.name=reference"],
    # ablations of the paper, as options of the same runner
    "scaf_full_ladder": ["strategy.name=scaf_grpo", "strategy.scaf.hint_placement=prompt"],
    "scaf_whole_tier": ["strategy.name=scaf_grpo", "strategy.scaf.hint_tiers=[solution]", "strategy.scaf.incremental=false"],
    "scaf_offpolicy": ["strategy.name=scaf_grpo", "strategy.scaf.hint_tiers=[solution]",
                       "strategy.scaf.hint_placement=dropped"],
    # the same ablations of the variant that crosses on the embedded task (hint tokens trained). On the embedded
    # task K/P hints are prompt lines in every placement, so the full ladder trains only S hints' tokens
    "scaf_kp_prompt_s_tokens": ["strategy.name=scaf_grpo", "strategy.scaf.hint_placement=response"],
    "scaf_hint_tokens_whole_tier": ["strategy.name=scaf_grpo", "strategy.scaf.hint_tiers=[solution]",
                                    "strategy.scaf.hint_placement=response", "strategy.scaf.incremental=false"],
    # SEELE with the paper's Dr.GRPO advantage; characters, because a 3-step chain offers too few prefix
    # lengths for the fitted rate to move (docs/strategies.md); m = 4 rounds of num_generations / 4
    "seele": ["strategy.name=seele", "strategy.seele.granularity=char", "train.scale_rewards=none"],
    "dapo": ["strategy.name=dynamic_sampling"],
    # the hint family (docs/strategies.md), each at its paper's settings. Guide: the embedded model never saw K/P
    # lines, so its natural-language guidance is the paper's default order (knowledge first); guide_solution is the
    # solution-tier variant, which the strict chain reward scores on the continuation alone
    "guide": ["strategy.name=guide"],
    "guide_solution": ["strategy.name=guide", "strategy.guide.hint_tiers=[solution]"],
    # QuestA at the paper's 50 % -> 25 % characters; questa_steps cuts whole reference steps (50 % of 3 = 1 step) and
    # shows prefixes of any length (the paper's 10-character floor would hide every 25 % prefix of a 30-character chain)
    "questa": ["strategy.name=questa"],
    "questa_steps": ["strategy.name=questa", "strategy.questa.granularity=step", "strategy.questa.min_prefix_chars=0"],
    "pope": ["strategy.name=pope"],
    # LUFFY with the official script's Dr.GRPO advantage (no std) and token sum
    "luffy": ["strategy.name=luffy", "train.scale_rewards=none", "train.loss_type=dr_grpo"],
    "luffy_no_shaping": ["strategy.name=luffy", "strategy.luffy.shaping_gamma=null", "train.scale_rewards=none",
                         "train.loss_type=dr_grpo"],
    # SAGE (fresh JSON hint levels at every collapse) and NuRL (one text hint per problem, written once);
    # self_hint is the strategy's own name for its default, SAGE
    "self_hint": ["strategy.name=self_hint"],
    "sage": ["strategy.name=self_hint"],
    "nurl": ["strategy.name=self_hint", "strategy.self_hint.format=text", "strategy.self_hint.reuse=true"],
}


@dataclass
class Arm:
    name: str
    overrides: list[str] = field(default_factory=list)


def split_arm_specs(text: str) -> list[str]:
    """'grpo,reference:strategy.exemption_steps=0,train.lr=4e-4' -> two specs. A comma-separated piece that is an
    override (has '=' and no ':') belongs to the arm before it, so an arm can carry several overrides."""
    specs: list[str] = []
    for piece in (p for p in text.split(",") if p):
        if specs and "=" in piece and ":" not in piece:
            specs[-1] += "," + piece
        else:
            specs.append(piece)
    return specs


def arm_from_spec(spec: str) -> Arm:
    """'scaf_hint_tokens' (a preset) or 'name:key=value,key=value' (preset name optional)."""
    name, _, extra = spec.partition(":")
    if name not in PRESETS and not extra:
        raise ValueError(f"unknown arm {name!r}; presets: {sorted(PRESETS)} (or name:key=value,...)")
    extra_overrides = [x for x in extra.split(",") if x]
    if extra_overrides:  # distinct run folders for variants of one preset, e.g. seele+hint_nll_weight=1.0
        name += "+" + ",".join(x.split(".", 1)[-1] for x in extra_overrides)
    return Arm(name, PRESETS.get(name.partition("+")[0], []) + extra_overrides)


def _stream(proc: subprocess.Popen, prefix: str, echo) -> None:
    for line in proc.stdout:
        line = line.rstrip()
        if line.startswith("step") or "accuracy" in line or line.startswith("error") or "Traceback" in line:
            echo(f"[{prefix}] {line}")


def run_arms(arms: list[Arm], common: list[str], config: Path | None, out_dir: Path, parallel: int = 2,
             threads: int = 1, echo=print) -> list[Path]:
    """Run every arm to completion (at most `parallel` at once); returns their run folders, in order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    run_dirs = [out_dir / arm.name for arm in arms]
    pending = list(range(len(arms)))
    running: list[tuple[int, subprocess.Popen, threading.Thread]] = []
    failed = []
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    while pending or running:
        while pending and len(running) < parallel:
            i = pending.pop(0)
            arm = arms[i]
            if (run_dirs[i] / "eval_final.json").exists():  # finished by an earlier, interrupted invocation
                echo(f"[{arm.name}] already complete, kept")
                continue
            if (run_dirs[i] / "config.yaml").exists() and _has_checkpoint(run_dirs[i]):
                # interrupted earlier: continue from its last complete checkpoint, budget included
                cmd = [sys.executable, "-m", "scaffold_rl", "train", "--resume", str(run_dirs[i])]
                echo(f"[{arm.name}] resuming")
            else:
                cmd = [sys.executable, "-m", "scaffold_rl", "train", "--run-dir", str(run_dirs[i])]
                if config:
                    cmd += ["--config", str(config)]
                cmd += common + arm.overrides + [f"name={arm.name}", f"train.threads={threads}"]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
            t = threading.Thread(target=_stream, args=(proc, arm.name, echo), daemon=True)
            t.start()
            running.append((i, proc, t))
        time.sleep(0.5)
        for item in list(running):
            i, proc, t = item
            if proc.poll() is not None:
                t.join()
                running.remove(item)
                if proc.returncode:
                    failed.append(arms[i].name)
    if failed:
        raise RuntimeError(f"arms failed: {failed}; see their run folders under {out_dir}")
    return run_dirs


def cached_json(path: Path, key: dict, compute):
    """compute(), or the value stored at `path` by an earlier call with the same `key` (a benchmark re-run reuses
    its base-model measurements instead of repeating them)."""
    key_text = json.dumps(key, sort_keys=True, default=str)
    stored = json.loads(path.read_text()) if path.exists() else {}
    if stored.get("key") == key_text:
        return stored["value"]
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"key": key_text, "value": value}, indent=1))
    return value


def _has_checkpoint(run_dir: Path) -> bool:
    from scaffold_rl.runtime import last_complete_checkpoint

    return last_complete_checkpoint(run_dir / "checkpoints") is not None


def load_run(run_dir: Path) -> dict:
    metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    return {
        "dir": run_dir,
        "steps": [m for m in metrics if "reward" in m],
        "evals": [m for m in metrics if "eval" in m],
        "base": json.loads((run_dir / "eval_base.json").read_text()),
        "final": json.loads((run_dir / "eval_final.json").read_text()),
    }


STEP_CAP = 100_000  # train.steps when the budget is in tokens or minutes: never the binding limit


def add_budget_args(parser, tokens: int) -> None:
    """--tokens (default `tokens`) | --steps | --minutes [--clock]: the per-arm training budget of a benchmark."""
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--tokens", type=int, default=tokens,
                        help="tokens of work per run: generated + trained, counted exactly (default; the same "
                             "compute on any machine)")
    budget.add_argument("--steps", type=int, help="training steps per run")
    budget.add_argument("--minutes", type=float, help="training minutes per run (a convenience: machine-dependent)")
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu", help="clock of --minutes")


def budget_overrides(args) -> tuple[list[str], str]:
    """The config overrides of the budget add_budget_args parsed, and a phrase naming it."""
    # each form states all three limits, so a budget in the config file never silently binds instead
    if args.steps:
        return [f"train.steps={args.steps}", "train.max_tokens=null", "train.max_minutes=null"], f"{args.steps} steps"
    if args.minutes:
        return ([f"train.steps={STEP_CAP}", "train.max_tokens=null", f"train.max_minutes={args.minutes}",
                 f"train.budget_clock={args.clock}"], f"{args.minutes:g} {args.clock}-clock minutes (machine-dependent)")
    return ([f"train.steps={STEP_CAP}", f"train.max_tokens={args.tokens}", "train.max_minutes=null"],
            f"{args.tokens / 1e6:g} M tokens")

