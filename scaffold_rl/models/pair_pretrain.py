"""Supervised pretraining of a tiny char-level model on (prompt, completion) pairs drawn fresh every step, cached
on disk by a key: how tasks other than arithmetic get an embedded model (the summaries task's policy and its
reconstructor) without downloads.

Loss on the completion tokens (and the end-of-sequence token) only, as for the embedded arithmetic model
(`pretrain.encode_sft`); AdamW with linear warm-up and cosine decay to 10 %; the folder appears atomically.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

import torch

from scaffold_rl.models.embedded import TinyModelSpec, build_model, build_tokenizer
from scaffold_rl.models.pretrain import encode_sft, load_embedded, resolve_bf16

PairSource = Callable[[int, int], list[tuple[str, str]]]  # (step, batch size) -> pairs


@dataclass(frozen=True)
class PairPretrain:
    steps: int
    batch_size: int = 64
    lr: float = 2e-3
    warmup_steps: int = 30
    seed: int = 0
    bf16: str = "auto"


def pair_cache_key(what: dict, spec: TinyModelSpec, settings: PairPretrain) -> str:
    """Hash of everything that changes the weights (`what` names the data: task, kind, its knobs)."""
    payload = {"format": 1, "what": what, "model": asdict(spec), "pretrain": asdict(settings),
               "bf16": resolve_bf16(settings.bf16)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def pretrain_pairs(source: PairSource, spec: TinyModelSpec, settings: PairPretrain, out_dir: Path, log=print):
    """Train a fresh tiny model on `source`'s pairs and save it (model, tokenizer, pretrain.json) to out_dir."""
    tokenizer = build_tokenizer()
    model = build_model(tokenizer, spec, seed=settings.seed)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, betas=(0.9, 0.98), weight_decay=0.01)
    use_bf16 = resolve_bf16(settings.bf16)
    torch.manual_seed(settings.seed)
    start, losses = time.perf_counter(), []
    for step in range(settings.steps):
        pairs = source(step, settings.batch_size)
        batch = [SimpleNamespace(prompt=p, reference=c) for p, c in pairs]
        input_ids, attention, labels = encode_sft(tokenizer, batch)
        if input_ids.size(1) > spec.max_positions:
            raise ValueError(f"a pretraining pair of {input_ids.size(1)} tokens exceeds the model's "
                             f"{spec.max_positions} positions")
        warm = (step + 1) / settings.warmup_steps
        progress = (step - settings.warmup_steps) / max(1, settings.steps - settings.warmup_steps)
        lr = settings.lr * (warm if step < settings.warmup_steps
                            else 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))
        for group in opt.param_groups:
            group["lr"] = lr
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if (step + 1) % max(1, settings.steps // 10) == 0:
            log(f"pretrain {out_dir.name}: step {step + 1}/{settings.steps} loss {loss.item():.4f}")
    seconds = time.perf_counter() - start
    model.eval()
    tmp = out_dir.with_name(out_dir.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    info = {"steps": len(losses), "seconds": round(seconds, 1), "final_loss": losses[-1],
            "parameters": sum(p.numel() for p in model.parameters()),
            "loss_curve": losses[:: max(1, len(losses) // 100)]}
    (tmp / "pretrain.json").write_text(json.dumps(info, indent=1))
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    log(f"pretrained {out_dir.name} in {seconds:.0f} s, final loss {losses[-1]:.4f} -> {out_dir}")
    return model, tokenizer


def load_or_pretrain_pairs(root: Path, what: dict, source: PairSource, spec: TinyModelSpec,
                           settings: PairPretrain, log=print):
    """(model, tokenizer, folder): the cached model for this key under `root`, else pretrained into it."""
    path = Path(root) / pair_cache_key(what, spec, settings)
    if (path / "pretrain.json").exists():
        return (*load_embedded(path), path)
    path.parent.mkdir(parents=True, exist_ok=True)
    log(f"pretraining {what.get('kind', 'model')} for {what.get('task', 'a task')} ({settings.steps} steps) ...")
    model, tokenizer = pretrain_pairs(source, spec, settings, path, log=log)
    return model, tokenizer, path
