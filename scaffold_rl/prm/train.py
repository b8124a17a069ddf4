"""Training the process reward model: per-step BCE on hard or soft labels (Math-Shepherd, papers.md §6.2), or
rStar-Math's pairwise PPM loss on (prefix, better step, worse step) pairs (§5.2).

A plain AdamW loop: the data are a few thousand short sequences, and the loss is read at step positions the
model computes itself (`ProcessRewardModel.step_logits`), which a generic Trainer collator would only hide.
Held-out metrics (loss, step accuracy against hard labels at 0.5, the majority-label baseline) are measured
before and after, so "it learned" is a number, not a hope.
"""
from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from scaffold_rl.prm.data import StepExample, StepPair, preference_pairs
from scaffold_rl.prm.model import ProcessRewardModel

LOSSES = ("bce", "ppm")
LABELS = ("hard", "soft")


@dataclass
class PRMTrainConfig:
    loss: str = "bce"  # "bce": per-step BCE on labels; "ppm": pairwise Bradley-Terry on step pairs
    label: str = "hard"  # BCE targets (and PPM step values): "hard" (0/1) or "soft" (share of good completions)
    epochs: int = 2
    batch_size: int = 16  # solutions (bce) or pairs (ppm) per update
    lr: float = 1e-4
    weight_decay: float = 0.0
    max_steps: int | None = None  # stop after this many updates (None: run all epochs)
    max_minutes: float | None = None  # stop after this much training time
    seed: int = 0
    pair_margin: float = 0.0  # ppm: keep pairs whose value gap exceeds this (rStar's code: 0.5 on Q in [-1, 1])
    log_every: int = 20

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"prm loss must be one of {LOSSES}, got {self.loss!r}")
        if self.label not in LABELS:
            raise ValueError(f"prm label must be one of {LABELS}, got {self.label!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs and batch_size must be >= 1 and lr > 0")


@dataclass
class TrainResult:
    steps: int
    seconds: float
    before: dict
    after: dict
    history: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)


def bce_loss(prm: ProcessRewardModel, batch: list[StepExample], label: str,
             logits: torch.Tensor | None = None) -> torch.Tensor:
    """Mean per-step BCE of the batch (`logits`: its step logits, when already computed)."""
    if logits is None:
        logits = torch.cat(prm.step_logits([prm.encode(e.prompt, list(e.steps)) for e in batch]))
    targets = torch.tensor([t for e in batch for t in e.targets(label)], dtype=torch.float32)
    return F.binary_cross_entropy_with_logits(logits.float(), targets.to(logits.device))


def pair_margins(prm: ProcessRewardModel, pairs: list[StepPair]) -> torch.Tensor:
    """r(prefix + better) - r(prefix + worse), each r read at the candidate step's end."""
    encoded = [prm.encode(p.prompt, [*p.prefix, step]) for p in pairs for step in (p.better, p.worse)]
    last = torch.stack([x[-1] for x in prm.step_logits(encoded)]).float()
    return last[0::2] - last[1::2]


def ppm_loss(prm: ProcessRewardModel, pairs: list[StepPair]) -> torch.Tensor:
    """Bradley-Terry: -log sigmoid(r_better - r_worse), each pair weighted 1/(#pos x #neg) of its node."""
    weights = torch.tensor([p.weight for p in pairs], dtype=torch.float32)
    losses = -F.logsigmoid(pair_margins(prm, pairs)).cpu()
    return (weights * losses).sum() / weights.sum()


@torch.no_grad()
def evaluate_steps(prm: ProcessRewardModel, examples: list[StepExample], label: str = "hard",
                   batch_size: int = 32) -> dict:
    """Held-out BCE, step accuracy against hard labels (P > 0.5), and the majority-label accuracy."""
    was_training = prm.training
    prm.eval()
    try:
        total_loss, n_steps, right, positives = 0.0, 0, 0, 0
        for start in range(0, len(examples), batch_size):
            batch = examples[start : start + batch_size]
            steps = sum(len(e.steps) for e in batch)
            if not steps:
                continue
            logits = torch.cat(prm.step_logits([prm.encode(e.prompt, list(e.steps)) for e in batch])).cpu()
            total_loss += bce_loss(prm, batch, label, logits).item() * steps
            hard = torch.tensor([y for e in batch for y in e.hard])
            right += int(((logits > 0).long() == hard).sum())
            positives += int(hard.sum())
            n_steps += steps
    finally:
        prm.train(was_training)
    n = max(1, n_steps)
    return {"loss": total_loss / n, "step_accuracy": right / n,
            "majority_accuracy": max(positives, n_steps - positives) / n, "steps": n_steps}


@torch.no_grad()
def evaluate_pairs(prm: ProcessRewardModel, pairs: list[StepPair], batch_size: int = 32) -> dict:
    """Share of pairs ranked right (chance 0.5) and the pairwise loss."""
    if not pairs:
        return {"pair_accuracy": float("nan"), "pair_loss": float("nan"), "pairs": 0}
    was_training = prm.training
    prm.eval()
    try:
        margins = torch.cat([pair_margins(prm, pairs[i : i + batch_size]).cpu()
                             for i in range(0, len(pairs), batch_size)])
    finally:
        prm.train(was_training)
    return {"pair_accuracy": float((margins > 0).float().mean()),
            "pair_loss": float(-F.logsigmoid(margins).mean()), "pairs": len(pairs)}


def train_prm(prm: ProcessRewardModel, train: list[StepExample], held_out: list[StepExample],
              config: PRMTrainConfig | None = None, log: Callable[[str], None] = print) -> TrainResult:
    """Train `prm` in place; returns held-out metrics before/after and the loss history."""
    cfg = config or PRMTrainConfig()
    train, held_out = [e for e in train if e.steps], [e for e in held_out if e.steps]  # empty answers: no steps
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    if cfg.loss == "ppm":
        items: list = preference_pairs(train, cfg.label, min_margin=cfg.pair_margin)
        held_pairs = preference_pairs(held_out, cfg.label, min_margin=cfg.pair_margin)
        if not items:
            raise ValueError("no preference pairs in the training data: the ppm loss needs solutions of one "
                             "problem that share a prefix and differ in a good and a bad next step")

        def measure():
            return {**evaluate_steps(prm, held_out, cfg.label), **evaluate_pairs(prm, held_pairs)}
    else:
        items = list(train)

        def measure():
            return evaluate_steps(prm, held_out, cfg.label)
    before = measure() if held_out else {}
    log(f"prm train: {len(items)} {'pairs' if cfg.loss == 'ppm' else 'solutions'}, held-out before {before}")
    params = [p for p in prm.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    prm.train()
    step, history, t0 = 0, [], time.perf_counter()
    stop = False
    for epoch in range(cfg.epochs):
        order = list(range(len(items)))
        rng.shuffle(order)
        for start in range(0, len(order), cfg.batch_size):
            batch = [items[i] for i in order[start : start + cfg.batch_size]]
            loss = ppm_loss(prm, batch) if cfg.loss == "ppm" else bce_loss(prm, batch, cfg.label)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            step += 1
            value = float(loss.detach())
            history.append({"step": step, "epoch": epoch, "loss": value})
            if cfg.log_every and step % cfg.log_every == 0:
                log(f"step {step} epoch {epoch} loss {value:.4f}")
            minutes = (time.perf_counter() - t0) / 60
            if (cfg.max_steps and step >= cfg.max_steps) or (cfg.max_minutes and minutes >= cfg.max_minutes):
                stop = True
                break
        if stop:
            break
    seconds = time.perf_counter() - t0
    after = measure() if held_out else {}
    log(f"prm train: {step} updates in {seconds:.1f}s, held-out after {after}")
    prm.eval()
    return TrainResult(step, seconds, before, after, history, asdict(cfg))
