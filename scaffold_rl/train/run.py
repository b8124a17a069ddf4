"""One training run, end to end: run folder, base model, evaluation before, GRPO, evaluation after, report.

The run folder holds everything a person needs afterwards: config.yaml, metrics.jsonl (one line per step
and per evaluation), checkpoints/ (resumable), eval_*.json, final/ (the trained model) and report.md
with PNG plots.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from transformers import TrainerCallback

from scaffold_rl.config import RunConfig
from scaffold_rl.configio import load_config, save_config
from scaffold_rl.eval.evaluate import evaluate_levels, group_by_level
from scaffold_rl.models.loading import load_policy
from scaffold_rl.rewards.correctness import CorrectnessReward
from scaffold_rl.rollout.generation import SamplingParams, TransformersGenerator
from scaffold_rl.rollout.sampler import RolloutStage, Sampler
from scaffold_rl.strategies.base import build_strategy
from scaffold_rl.tasks import build_task
from scaffold_rl.train.trainer import ScaffoldGRPOTrainer, grpo_args, last_complete_checkpoint, set_threads


class MetricsLog:
    """Append-only JSONL of per-step and per-evaluation records; on resume, later records are dropped."""

    def __init__(self, path: Path):
        self.path = path

    def write(self, record: dict) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()

    def truncate_after(self, step: int) -> None:
        if not self.path.exists():
            return
        keep = [line for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
        self.path.write_text("".join(line + "\n" for line in keep))

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


class RunCallback(TrainerCallback):
    """Per-step metric lines, periodic held-out evaluation, and the wall-clock budget (evaluation excluded)."""

    def __init__(self, log: MetricsLog, evaluator, eval_every: int, max_minutes: float | None, echo,
                 clock: str = "wall"):
        self.log, self.evaluator, self.eval_every, self.max_minutes, self.echo = log, evaluator, eval_every, \
            max_minutes, echo
        self.clock = time.process_time if clock == "cpu" else time.perf_counter
        self.train_seconds = 0.0
        self._t = None

    def on_train_begin(self, args, state, control, **kw):
        self._t = self.clock()

    def on_log(self, args, state, control, logs=None, **kw):
        if not logs or "loss" not in logs and "reward" not in logs:
            return
        now = self.clock()
        self.train_seconds += now - self._t
        record = {"step": state.global_step, "train_seconds": round(self.train_seconds, 3), **logs}
        self.log.write(record)
        self.echo(format_step_line(record))
        if self.max_minutes is not None and self.train_seconds >= self.max_minutes * 60:
            control.should_training_stop = True
            control.should_save = True
        if self.eval_every and state.global_step % self.eval_every == 0:
            self.log.write({"step": state.global_step, "train_seconds": round(self.train_seconds, 3),
                            "eval": self.evaluator()})
        self._t = self.clock()


def format_step_line(r: dict) -> str:
    parts = [f"step {r['step']:>4}", f"t {r['train_seconds']:6.1f}s", f"reward {r.get('reward', 0):.3f}",
             f"zero-adv {r.get('zero_adv_frac', 0):.2f}"]
    levels = sorted(k for k in r if k.startswith("pass_rate/L"))
    if levels:
        parts.append("pass " + " ".join(f"{k.split('/')[-1]}={r[k]:.2f}" for k in levels))
    if "hinted_sample_frac" in r and r["hinted_sample_frac"]:
        parts.append(f"hinted {r['hinted_sample_frac']:.2f}")
    if "step_time" in r:
        parts.append(f"{r['step_time']:.2f}s/step")
    return " | ".join(parts)


def make_sampler(cfg: RunConfig, model, tokenizer, task) -> Sampler:
    r = cfg.rollout
    generator = TransformersGenerator(model, tokenizer, batch_size=r.generation_batch_size,
                                      static_cache=r.static_cache)
    reward = CorrectnessReward(cfg.reward.kind, answer_pattern=task.answer_pattern,
                               timeout_s=cfg.reward.verifier_timeout_s)
    params = SamplingParams(max_new_tokens=r.max_new_tokens, temperature=r.temperature, top_k=r.top_k, top_p=r.top_p)
    return Sampler(generator, task.renderer(tokenizer), reward, tokenizer, params)


def run_evaluation(cfg: RunConfig, sampler: Sampler, task, *, full: bool, hints: bool = True,
                   seed: int = 1234) -> dict:
    """Held-out evaluation per level (greedy; sampled pass@k/maj@k when `full`, and hint depths if `hints`)."""
    e = cfg.eval
    by_level = task.eval_problems(e.n_per_level)
    out = {"levels": evaluate_levels(sampler, by_level, max_new_tokens=e.max_new_tokens,
                                     samples=e.samples if full else 0, sample_problems=e.sample_problems,
                                     seed=seed, extract=task.extract_answer)}
    if full and hints and task.supports_hints:
        hard = task.first_hard_level
        if hard is not None and hard in by_level:
            out["hints"] = {}
            for depth in e.hint_depths:
                if depth < hard:
                    res = evaluate_levels(sampler, {hard: by_level[hard]}, max_new_tokens=e.max_new_tokens,
                                          samples=e.samples, sample_problems=e.sample_problems, hint_depth=depth,
                                          seed=seed)
                    out["hints"][f"L{hard}/k={depth}"] = res[f"L{hard}"]
    return out


def create_run_dir(cfg: RunConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = Path(cfg.output_dir) / f"{cfg.name}-{stamp}"
    suffix = 1
    while run_dir.exists():
        run_dir = Path(cfg.output_dir) / f"{cfg.name}-{stamp}-{suffix}"
        suffix += 1
    run_dir.mkdir(parents=True)
    return run_dir


def train(cfg: RunConfig, run_dir: Path | None = None, resume: bool = False, echo=print,
          make_report: bool = True) -> Path:
    """Run (or resume) one GRPO training run; returns the run folder."""
    if resume:
        if run_dir is None:
            raise ValueError("--resume needs the run folder")
        cfg = load_config(RunConfig, run_dir / "config.yaml")
    else:
        run_dir = Path(run_dir) if run_dir else create_run_dir(cfg)
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")
    set_threads(cfg.train.threads)
    log = MetricsLog(run_dir / "metrics.jsonl")
    ckpt_dir = run_dir / "checkpoints"
    checkpoint = last_complete_checkpoint(ckpt_dir) if resume else None
    if resume:
        log.truncate_after(int(checkpoint.name.split("-")[-1]) if checkpoint else 0)
        echo(f"resuming {run_dir} from {checkpoint.name if checkpoint else 'the start'}")

    task = build_task(cfg)
    model, tokenizer = load_policy(cfg, echo=echo)
    sampler = make_sampler(cfg, model, tokenizer, task)

    base_path = run_dir / "eval_base.json"
    if not base_path.exists():
        echo("evaluating the base model ...")
        t0 = time.perf_counter()
        base = run_evaluation(cfg, sampler, task, full=True)
        base["seconds"] = round(time.perf_counter() - t0, 1)
        base_path.write_text(json.dumps(base, indent=1))
        echo(summarize_eval("base", base))

    problems = task.train_problems(cfg.task.num_train_problems)
    strategy = build_strategy(cfg)

    def stage_factory(trainer):
        # the sampler generates with the very model TRL trains
        s = make_sampler(cfg, trainer.model, tokenizer, task)
        return RolloutStage(s, strategy, cfg.rollout.num_generations, cfg.train.steps, cfg.train.seed,
                            problem_pool=problems)

    def periodic_eval():
        res = run_evaluation(cfg, trainer.stage.sampler, task, full=False)
        return {k: v["greedy"] for k, v in res["levels"].items()}

    callback = RunCallback(log, periodic_eval, cfg.eval.every, cfg.train.max_minutes, echo,
                           clock=cfg.train.budget_clock)
    trainer = ScaffoldGRPOTrainer(model=model, tokenizer=tokenizer, args=grpo_args(cfg, ckpt_dir),
                                  problems=problems, stage_factory=stage_factory, callbacks=[callback],
                                  hint_nll_weight=cfg.train.hint_nll_weight)
    echo(f"GRPO: strategy={strategy.name} steps={cfg.train.steps} batch={cfg.train.prompts_per_step}x"
         f"{cfg.rollout.num_generations} lr={cfg.train.lr} loss={cfg.train.loss_type}")
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if trainer.state.global_step % max(1, cfg.train.save_every):
        trainer._save_checkpoint(trainer.model, trial=None)  # the last step is resumable too

    final_dir = run_dir / "final"
    trainer.model.save_pretrained(final_dir)
    tokenizer.save_pretrained(final_dir)
    echo("evaluating the trained model ...")
    final = run_evaluation(cfg, trainer.stage.sampler, task, full=True, hints=False)
    final["train_seconds"] = round(callback.train_seconds, 1)
    final["steps"] = trainer.state.global_step
    (run_dir / "eval_final.json").write_text(json.dumps(final, indent=1))
    echo(summarize_eval("trained", final))
    if make_report:
        from scaffold_rl.eval.report import write_report

        write_report(run_dir)
    return run_dir


def summarize_eval(label: str, res: dict) -> str:
    levels = " ".join(f"{k}={v['greedy']:.2f}" for k, v in res["levels"].items())
    hints = ""
    if res.get("hints"):
        hints = " | hinted " + " ".join(f"{k}={v['greedy']:.2f}" for k, v in res["hints"].items())
    return f"{label}: greedy accuracy {levels}{hints}"

