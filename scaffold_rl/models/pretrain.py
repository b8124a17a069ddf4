"""Supervised pretraining of the embedded model on the easy levels, cached on disk by its config.

The result is the base model of every embedded run: near-perfect on levels 1-2, at chance on level 3 (the
cliff), with a trace of level 3 in its data so that hints can unlock latent ability there. The cache key is
a hash of everything that changes the weights, so `demo`, `train` and the tests share one copy.

Any task whose problem source supplies pretraining documents can be pretrained on: a source has
`mixture(split, level_weights, n, seed)` (problems with a prompt and a reference completion), `identity()`
(what decides its documents: part of the cache key) and `seed`. The arithmetic task is one; a reasoning-gym
dataset (`task.name=rg:<dataset>`) is another (`pretraining_task`).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from scaffold_rl.config import ModelConfig, TaskConfig
from scaffold_rl.data.arithmetic import ArithmeticTask, habit_digits, task_from_config, with_answer_habit
from scaffold_rl.models.embedded import TinyModelSpec, build_model, build_tokenizer
from scaffold_rl.progress import progress_bar


def cache_root(model_cfg: ModelConfig) -> Path:
    root = model_cfg.cache_dir or os.environ.get("SCAFFOLD_RL_CACHE") or Path.home() / ".cache" / "scaffold-rl"
    return Path(root)


def cpu_has_bf16() -> bool:
    """Native bf16 matmuls (AVX512-BF16 or AMX): there autocast is ~1.35x faster; elsewhere it is emulated."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_bf16(setting: str) -> bool:
    if setting == "auto":
        return torch.cuda.is_available() or cpu_has_bf16()
    return setting == "on"


def cache_key(model_cfg: ModelConfig, task, resolve: bool = True, precision: bool = True) -> str:
    pretrain = asdict(model_cfg.pretrain)
    pretrain.pop("wide_share")  # what it changes is in the task identity below
    if not pretrain.get("bad_answer_share"):
        pretrain.pop("bad_answer_share", None)  # off: keys (and cached models) stay those from before the knob
        pretrain.pop("bad_answer_key", None)
    if not precision:
        pretrain.pop("bf16")
    elif resolve:  # the resolved choice changes the weights built here
        pretrain["bf16"] = resolve_bf16(model_cfg.pretrain.bf16)
    payload = {
        "format": 1,
        "embedded": asdict(model_cfg.embedded),
        "pretrain": pretrain,
        "task": task.identity(),
        "task_seed": task.seed,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def pretraining_task(model_cfg: ModelConfig, task_cfg: TaskConfig):
    """The problem source the base model is pretrained on: the run's task (a reasoning-gym dataset for
    task.name=rg:<dataset>, else the arithmetic task, with pretrain.wide_share when set, so a run on wide
    operations can start from a model that saw them only rarely)."""
    if task_cfg.name.startswith("rg:"):
        from scaffold_rl.tasks.reasoning_gym import source_from_config

        if model_cfg.pretrain.bad_answer_share or model_cfg.pretrain.wide_share is not None:
            from scaffold_rl.configio import ConfigError

            raise ConfigError("model.pretrain.bad_answer_share and model.pretrain.wide_share shape arithmetic "
                              f"documents; unset them for {task_cfg.name}")
        return source_from_config(task_cfg, plain=True)
    task = task_from_config(task_cfg)
    share = model_cfg.pretrain.wide_share
    if share is None:
        return task
    return ArithmeticTask(replace(task.spec, wide_share=share), seed=task.seed)


def encode_sft(tokenizer, problems, device="cpu"):
    """Right-padded (input_ids, attention_mask, labels) with loss on the completion tokens only."""
    prompts = tokenizer([p.prompt for p in problems])["input_ids"]
    completions = tokenizer([p.reference for p in problems], add_special_tokens=False)["input_ids"]
    rows = [(pr + co + [tokenizer.eos_token_id], len(pr)) for pr, co in zip(prompts, completions)]
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    attention = torch.zeros_like(input_ids)
    labels = torch.full_like(input_ids, -100)
    for i, (ids, n_prompt) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        attention[i, : len(ids)] = 1
        labels[i, n_prompt : len(ids)] = torch.tensor(ids[n_prompt:])
    return input_ids.to(device), attention.to(device), labels.to(device)


def pretrain(model_cfg: ModelConfig, task, out_dir: Path, log=print):
    """Train the embedded model from scratch and save it (model + tokenizer + pretrain.json) to out_dir."""
    cfg = model_cfg.pretrain
    tokenizer = build_tokenizer()
    spec = TinyModelSpec(**asdict(model_cfg.embedded))
    model = build_model(tokenizer, spec, seed=cfg.seed)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.98), weight_decay=0.01)

    def lr_at(step: int) -> float:
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    use_bf16 = resolve_bf16(cfg.bf16)
    habit_digits(cfg.bad_answer_share)  # an invalid share fails before any training
    n_params = sum(p.numel() for p in model.parameters())
    log(f"pretraining embedded model ({n_params / 1e6:.2f} M parameters) for {cfg.steps} steps "
        f"on level mix {cfg.level_mix}")
    start = time.perf_counter()
    losses = []
    with progress_bar("pretrain", total=cfg.steps) as bar:
        for step in range(cfg.steps):
            batch = task.mixture("train", cfg.level_mix, cfg.batch_size, seed=cfg.seed * 100_000 + step)
            if cfg.bad_answer_share:  # bad answer habits: some documents end without a parsable answer line
                batch = [with_answer_habit(p, cfg.bad_answer_share, salt=step, key=cfg.bad_answer_key) for p in batch]
            input_ids, attention, labels = encode_sft(tokenizer, batch)
            for group in opt.param_groups:
                group["lr"] = lr_at(step)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
            bar.update(1, info=f"loss {loss.item():.3f}")
            if cfg.max_minutes is not None and time.perf_counter() - start > cfg.max_minutes * 60:
                log(f"pretraining stopped by max_minutes at step {step + 1}")
                break
    seconds = time.perf_counter() - start
    model.eval()
    tmp = out_dir.with_name(out_dir.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    info = {"steps": len(losses), "seconds": round(seconds, 1), "final_loss": losses[-1], "parameters": n_params,
            "loss_curve": losses[:: max(1, len(losses) // 100)]}
    (tmp / "pretrain.json").write_text(json.dumps(info, indent=1))
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)  # atomic: a half-written cache entry is never visible
    log(f"pretrained in {seconds:.0f} s, final loss {losses[-1]:.4f} -> {out_dir}")
    return model, tokenizer


ASSETS = Path(__file__).resolve().parents[1] / "assets" / "embedded"


def shipped_key(model_cfg: ModelConfig, task) -> str:
    """The config hash of a shipped base model: `cache_key` without the pretraining precision (whether bf16 autocast
    ran depends on the CPU), so every machine finds the same shipped weights; pretrain.json says how they were
    built."""
    return cache_key(model_cfg, task, precision=False)


def shipped_path(model_cfg: ModelConfig, task_cfg: TaskConfig) -> Path | None:
    path = ASSETS / shipped_key(model_cfg, pretraining_task(model_cfg, task_cfg))
    return path if (path / "pretrain.json").exists() else None


def load_embedded(path: Path):
    """(model, tokenizer) of an embedded model folder; weights in float32 whatever they were stored in."""
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(path, local_files_only=True)
    tokenizer.padding_side = "left"
    return model, tokenizer


def load_or_pretrain(model_cfg: ModelConfig, task_cfg: TaskConfig, log=print, rebuild: bool = False):
    """The embedded base model for this config: the shipped copy (model.use_shipped), else the cache, else freshly
    pretrained into the cache; `rebuild` pretrains into the cache whatever exists. Returns (model, tok, dir)."""
    if model_cfg.use_shipped and not rebuild:
        shipped = shipped_path(model_cfg, task_cfg)
        if shipped is not None:
            return (*load_embedded(shipped), shipped)
    task = pretraining_task(model_cfg, task_cfg)
    path = cache_root(model_cfg) / "embedded" / cache_key(model_cfg, task)
    if (path / "pretrain.json").exists() and not rebuild:
        return (*load_embedded(path), path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model, tokenizer = pretrain(model_cfg, task, path, log=log)
    return model, tokenizer, path
