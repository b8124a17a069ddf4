"""A short supervised fine-tune on kept trajectories: cross-entropy on response tokens only (the prompt is
context), right-padded batches, AdamW with gradient clipping. Deterministic in `seed`."""
from __future__ import annotations

import random

import torch


def sft(model, examples: list[tuple[list[int], list[int]]], *, epochs: int, lr: float, batch_size: int,
        pad_id: int, seed: int = 0, max_grad_norm: float = 1.0) -> list[float]:
    """Train `model` in place on (prompt_ids, response_ids) pairs; returns the loss of every update."""
    if not examples:
        return []
    torch.manual_seed(seed)
    rng = random.Random(seed)
    device = next(model.parameters()).device
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    was_training = model.training
    model.train()
    losses = []
    try:
        for _ in range(epochs):
            order = list(range(len(examples)))
            rng.shuffle(order)
            for start in range(0, len(order), batch_size):
                ids, attn, labels = collate([examples[i] for i in order[start:start + batch_size]], pad_id)
                out = model(input_ids=ids.to(device), attention_mask=attn.to(device), labels=labels.to(device))
                opt.zero_grad(set_to_none=True)
                out.loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
                opt.step()
                losses.append(float(out.loss.detach()))
    finally:
        model.train(was_training)
    return losses


def collate(batch: list[tuple[list[int], list[int]]], pad_id: int):
    """Right-padded input ids, attention mask, and labels that are -100 everywhere but on response tokens."""
    width = max(len(p) + len(r) for p, r in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    for row, (prompt, response) in enumerate(batch):
        seq = prompt + response
        ids[row, :len(seq)] = torch.tensor(seq)
        attn[row, :len(seq)] = 1
        labels[row, len(prompt):len(seq)] = torch.tensor(response)
    return ids, attn, labels
