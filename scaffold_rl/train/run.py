"""One training run, end to end: run folder, base model, evaluation before, GRPO, evaluation after, report.

The run folder holds everything a person needs afterwards: config.yaml, metrics.jsonl (one line per step
and per evaluation), checkpoints/ (resumable), eval_*.json, final/ (the trained model) and report.md
with PNG plots.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from transformers import TrainerCallback

from scaffold_rl.config import RunConfig
from scaffold_rl.configio import ConfigError, load_config, save_config
from scaffold_rl.eval.held_out import run_evaluation, summarize_eval  # noqa: F401 - re-exported (old home)
from scaffold_rl.models.loading import load_policy, prepare_for_generation
from scaffold_rl.models.lora import peft_config, save_final
from scaffold_rl.rollout.factory import make_sampler  # noqa: F401 - re-exported (old home)
from scaffold_rl.rollout.sampler import RolloutStage
from scaffold_rl.runtime import last_complete_checkpoint, set_threads
from scaffold_rl.startup import check_config, check_model_reads_task
from scaffold_rl.strategies.base import build_strategy
from scaffold_rl.tasks import build_task, check_held_out, check_training_labels, without_labels
from scaffold_rl.train.distributed import process_seed, weights_sharded
from scaffold_rl.train.trainer import ScaffoldGRPOTrainer, grpo_args


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
    """Per-step metric lines, periodic held-out evaluation, and the budgets: tokens of work (train.max_tokens,
    counted by the trainer, the same on every machine) and time (train.max_minutes; evaluation excluded)."""

    def __init__(self, log: MetricsLog, evaluator, eval_every: int, max_minutes: float | None, echo,
                 clock: str = "wall", max_tokens: int | None = None):
        self.log, self.evaluator, self.eval_every, self.max_minutes, self.echo = log, evaluator, eval_every, \
            max_minutes, echo
        self.max_tokens = max_tokens
        self.clock = time.process_time if clock == "cpu" else time.perf_counter
        self.train_seconds = 0.0
        self._t = None
        self.trainer = None  # set once the trainer exists: its work counters are the token budget's clock
        self.base_eval: dict | None = None  # the evaluation before training, logged to the trackers at step 0

    def on_train_begin(self, args, state, control, **kw):
        self._t = self.clock()
        if self.base_eval is not None and state.global_step == 0:  # a resumed run logged it when it started
            self.to_trackers(args, state, control, eval_logs(self.base_eval))

    def to_trackers(self, args, state, control, logs: dict) -> None:
        """Log `logs` through the trainer's tracker callbacks (tensorboard, wandb, trackio: train.report_to), as
        TRL's own log does; this callback ignores records without a step's loss or reward."""
        if logs and self.trainer is not None and state.is_world_process_zero and tracking_on(args):
            self.trainer.callback_handler.on_log(args, state, control, logs)

    def on_log(self, args, state, control, logs=None, **kw):
        if not logs or "loss" not in logs and "reward" not in logs:
            return
        now = self.clock()
        self.train_seconds += now - self._t
        main = state.is_world_process_zero  # with several processes, process 0 writes and its clock decides
        work = self.trainer.work_totals() if self.trainer is not None else {}
        tokens = {f"tokens/{k}": v for k, v in work.items()}
        if work:
            tokens["tokens/total"] = sum(work.values())
        record = {"step": state.global_step, "train_seconds": round(self.train_seconds, 3), **tokens, **logs}
        if main:
            self.log.write(record)
            self.echo(format_step_line(record))
        if self.max_tokens is not None and tokens.get("tokens/total", 0) >= self.max_tokens:
            control.should_training_stop = True  # the same count on every process: no broadcast needed
            control.should_save = True
        stop = self.max_minutes is not None and self.train_seconds >= self.max_minutes * 60
        if self.max_minutes is not None and args.world_size > 1:
            from accelerate.utils import broadcast_object_list

            stop = broadcast_object_list([stop], from_process=0)[0]
        if stop:
            control.should_training_stop = True
            control.should_save = True
        if self.eval_every and state.global_step % self.eval_every == 0:
            result = self.evaluator()
            if main:
                self.log.write({"step": state.global_step, "train_seconds": round(self.train_seconds, 3),
                                "eval": result})
                self.to_trackers(args, state, control, {f"eval_{lv}/greedy": v for lv, v in result.items()})
        self._t = self.clock()


def tracking_on(args) -> bool:
    report = args.report_to
    names = [report] if isinstance(report, str) else list(report or [])
    return bool(names) and names != ["none"]


def eval_logs(res: dict) -> dict[str, float]:
    """An evaluation result as flat tracker scalars: eval_<level>/<metric> (TRL's eval_ prefix, so trackers file
    them under eval/), eval_hints/<level/k=depth>/<metric>, eval_hard/pass@k."""
    out: dict[str, float] = {}
    for level, metrics in res.get("levels", {}).items():
        out.update({f"eval_{level}/{k}": float(v) for k, v in metrics.items() if _scalar(v)})
    for name, metrics in res.get("hints", {}).items():
        out.update({f"eval_hints/{name}/{k}": float(v) for k, v in metrics.items() if _scalar(v)})
    out.update({f"eval_hard/{k}": float(v) for k, v in res.get("hard", {}).items() if k.startswith("pass@")
                and _scalar(v)})
    return out


def _scalar(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def format_step_line(r: dict) -> str:
    parts = [f"step {r['step']:>4}", f"t {r['train_seconds']:6.1f}s"]
    if "tokens/total" in r:
        parts.append(f"tokens {r['tokens/total'] / 1e3:7.1f}k")
    parts += [f"reward {r.get('reward', 0):.3f}", f"zero-adv {r.get('zero_adv_frac', 0):.2f}"]
    levels = sorted(k for k in r if k.startswith("pass_rate/L"))
    if levels:
        parts.append("pass " + " ".join(f"{k.split('/')[-1]}={r[k]:.2f}" for k in levels))
    if "hinted_sample_frac" in r and r["hinted_sample_frac"]:
        parts.append(f"hinted {r['hinted_sample_frac']:.2f}")
    if "step_time" in r:
        parts.append(f"{r['step_time']:.2f}s/step")
    return " | ".join(parts)


def sync_generation_weights(trainer) -> None:
    """Push the trained weights to TRL's vLLM engine unless it already has this step's. TRL syncs only when a
    rollout starts, so without this an evaluation after the last `train.mini_batches` updates would score the
    policy as it was before them. A no-op for the transformers backend (it samples the trained model itself)."""
    if getattr(trainer, "use_vllm", False) and trainer.state.global_step != trainer._last_loaded_step:
        trainer.vllm_generation.sync_weights()
        trainer._last_loaded_step = trainer.state.global_step


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
          make_report: bool = True, *, task=None, model=None, tokenizer=None, reward_funcs=None) -> Path:
    """Run (or resume) one GRPO training run; returns the run folder.

    `task` (a Task), `model` + `tokenizer` (in memory) and `reward_funcs` (TRL-style callables) replace what the
    config would build: how `scaffold_rl.train` (api.py) hands over Python objects."""
    if resume:
        if run_dir is None:
            raise ValueError("--resume needs the run folder")
        cfg = load_config(RunConfig, Path(run_dir) / "config.yaml")
    # before any folder is made or model loaded: plugin names, strategy, reward, trackers, TRL's arguments, data
    check_config(cfg, python_funcs=bool(reward_funcs))
    if not resume and run_dir is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("a multi-process run needs --run-dir (every process must write the same run folder)")
    trl_arguments(cfg, Path(run_dir or cfg.output_dir) / "checkpoints")
    set_threads(cfg.train.threads)
    task = task if task is not None else build_task(cfg)
    check_model_reads_task(cfg, task, model_given=model is not None)
    problems = task.train_problems(cfg.task.num_train_problems)
    if cfg.task.hide_train_answers:
        problems = [without_labels(p) for p in problems]
    if not cfg.reward.funcs:  # TRL-style functions read what they need themselves (answer may be None)
        check_training_labels(cfg, problems)  # a correctness reward on answerless problems fails here, at startup
    check_held_out(cfg, task)  # so does an empty or answerless held-out set

    if not resume:
        run_dir = Path(run_dir) if run_dir else create_run_dir(cfg)
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")
    run_dir = Path(run_dir)
    log = MetricsLog(run_dir / "metrics.jsonl")
    ckpt_dir = run_dir / "checkpoints"
    args = trl_arguments(cfg, ckpt_dir)
    checkpoint = last_complete_checkpoint(ckpt_dir) if resume else None
    if resume:
        log.truncate_after(int(checkpoint.name.split("-")[-1]) if checkpoint else 0)
        echo(f"resuming {run_dir} from {checkpoint.name if checkpoint else 'the start'}")
    echo(f"data: {len(problems)} training problems; held out: {task.split_info.get('held_out', '-')}")
    if model is not None:
        if tokenizer is None:
            raise ConfigError("a model passed in Python needs its tokenizer too (tokenizer=...)")
        prepare_for_generation(model, tokenizer)
        echo(f"model: {type(model).__name__} passed in Python")
    else:
        model, tokenizer = load_policy(cfg, echo=echo)
    sampler = make_sampler(cfg, model, tokenizer, task, evaluation=True)

    base_path = run_dir / "eval_base.json"
    base = None
    if not base_path.exists():
        echo("evaluating the base model ...")
        t0 = time.perf_counter()
        base = run_evaluation(cfg, sampler, task, full=True)
        base["seconds"] = round(time.perf_counter() - t0, 1)
        base_path.write_text(json.dumps(base, indent=1))
        echo(summarize_eval("base", base))

    strategy = build_strategy(cfg)

    def stage_factory(trainer):
        # the sampler generates with the very model TRL trains
        s = make_sampler(cfg, trainer.model, tokenizer, task, trainer=trainer, reward_funcs=reward_funcs)
        if hasattr(s.reward, "bind_trainer"):
            s.reward.bind_trainer(trainer)  # TRL-style reward functions get trainer_state
        seed = process_seed(cfg.train.seed, trainer.accelerator.process_index)  # distinct streams per process
        return RolloutStage(s, strategy, cfg.rollout.num_generations, cfg.train.steps, seed,
                            problem_pool=problems, updates_per_batch=cfg.train.mini_batches)

    evaluators = []

    def eval_sampler():
        # evaluation scores correctness, also when training is label-free (reward.spec); one sampler, made lazily
        if cfg.reward.spec is None and not cfg.reward.funcs:
            return trainer.stage.sampler
        if not evaluators:
            evaluators.append(make_sampler(cfg, trainer.model, tokenizer, task, trainer=trainer, evaluation=True))
        return evaluators[0]

    def periodic_eval():
        sync_generation_weights(trainer)
        res = run_evaluation(cfg, eval_sampler(), task, full=False, levels=cfg.eval.every_levels)
        return {k: v["greedy"] for k, v in res["levels"].items()}

    callback = RunCallback(log, periodic_eval, cfg.eval.every, cfg.train.max_minutes, echo,
                           clock=cfg.train.budget_clock, max_tokens=cfg.train.max_tokens)
    callback.base_eval = base
    # a resumed run keeps the training time it had spent, so a time budget means the same as uninterrupted
    callback.train_seconds = max((r.get("train_seconds", 0.0) for r in log.read() if "step" in r), default=0.0)
    trainer = ScaffoldGRPOTrainer(model=model, tokenizer=tokenizer, args=args,
                                  problems=problems, stage_factory=stage_factory, callbacks=[callback],
                                  hint_nll_weight=cfg.train.hint_nll_weight, peft_config=peft_config(cfg),
                                  max_prompt_tokens=cfg.rollout.max_prompt_tokens,
                                  skip_empty_updates=cfg.train.skip_empty_updates)
    callback.trainer = trainer
    tensorboard_into(trainer, run_dir / "tensorboard")
    if weights_sharded(trainer) and cfg.eval.every:
        raise ConfigError("eval.every > 0 needs unsharded weights (DDP, ZeRO-2); set eval.every=0 under "
                          "ZeRO-3 / FSDP and evaluate afterwards with `scaffold-rl eval --run`")
    echo(f"GRPO: strategy={strategy.name} steps={cfg.train.steps} batch={cfg.train.prompts_per_step}x"
         f"{cfg.rollout.num_generations} lr={cfg.train.lr} loss={cfg.train.loss_type}")
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if trainer.state.global_step % max(1, cfg.train.save_every):
        trainer._save_checkpoint(trainer.model, trial=None)  # the last step is resumable too

    sync_generation_weights(trainer)  # every process: the last updates came after the last rollout's sync
    work = trainer.work_totals()  # a collective too: before the other processes leave
    final_dir = run_dir / "final"
    sharded = weights_sharded(trainer)
    if sharded:  # ZeRO-3 / FSDP: every process takes part in gathering the weights it saves
        trainer.save_model(str(final_dir))
        if trainer.is_world_process_zero():
            tokenizer.save_pretrained(final_dir)
            echo(f"weights were sharded: evaluate the final model with `scaffold-rl eval --run {run_dir}`")
    trainer.accelerator.wait_for_everyone()  # the last collective: nobody leaves while another still needs one
    if sharded or not trainer.is_world_process_zero():  # other processes of a multi-process run stop here
        trainer.accelerator.end_training()  # drops the process group
        return run_dir
    save_final(trainer.model, tokenizer, final_dir)  # LoRA: merged model, adapter in final/adapter/
    echo("evaluating the trained model ...")
    final = run_evaluation(cfg, eval_sampler(), task, full=True, hints=False)
    final["train_seconds"] = round(callback.train_seconds, 1)
    final["steps"] = trainer.state.global_step
    final["tokens"] = work
    (run_dir / "eval_final.json").write_text(json.dumps(final, indent=1))
    echo(summarize_eval("trained", final))
    if make_report:
        from scaffold_rl.eval.report import write_report

        write_report(run_dir)
    trainer.accelerator.end_training()
    return run_dir


def trl_arguments(cfg, ckpt_dir: Path):
    """grpo_args, with its refusals (batch geometry, train.trl) as ConfigErrors: reported, not a traceback."""
    try:
        return grpo_args(cfg, ckpt_dir)
    except ConfigError:
        raise
    except ValueError as err:
        raise ConfigError(str(err)) from err


def tensorboard_into(trainer, folder: Path) -> None:
    """TensorBoard event files in the run folder (transformers' default is <output_dir>/runs/<date_host>, i.e.
    inside checkpoints/)."""
    from transformers.integrations import TensorBoardCallback

    for cb in trainer.callback_handler.callbacks:
        if isinstance(cb, TensorBoardCallback) and cb.tb_writer is None:
            cb.logging_dir = str(folder)
