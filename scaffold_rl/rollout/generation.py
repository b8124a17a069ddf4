"""Generation backends: token ids in, sampled completions out.

One small interface so rollouts, hint search, evaluation and test-time search all generate the same way,
and a vLLM backend can stand in on GPU. The transformers backend batches left-padded prompts, uses a
static KV cache where the model supports it (1.2-1.55x faster on CPU in our trial) and never runs
under gradient checkpointing (which would silently switch the KV cache off).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


@dataclass
class SamplingParams:
    max_new_tokens: int = 64
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    greedy: bool = False


@dataclass
class Completion:
    ids: list[int]  # generated tokens, including the final eos when the model stopped by itself
    truncated: bool  # hit max_new_tokens without eos


class Generator(Protocol):
    def generate(self, prompts: list[list[int]], params: SamplingParams, seed: int | None = None) -> list[Completion]:
        """One completion per prompt, in order. `seed` makes sampling reproducible."""
        ...


class TransformersGenerator:
    """Generation with `model.generate` on left-padded batches, chunked to bound memory."""

    def __init__(self, model, tokenizer, batch_size: int = 256, static_cache: bool = True):
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.static_cache = static_cache
        self.tokens_generated = 0
        self.eos_ids = set(_as_list(model.generation_config.eos_token_id)) | {tokenizer.eos_token_id}
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    @torch.no_grad()
    def generate(self, prompts: list[list[int]], params: SamplingParams, seed: int | None = None) -> list[Completion]:
        if seed is not None:
            torch.manual_seed(seed)
        out: list[Completion] = []
        was_training = self.model.training
        self.model.eval()
        try:
            # Sorting by length keeps padding (wasted compute) low; the order is restored at the end.
            order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
            results: dict[int, Completion] = {}
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                for i, comp in zip(idx, self._generate_batch([prompts[i] for i in idx], params)):
                    results[i] = comp
            out = [results[i] for i in range(len(prompts))]
        finally:
            self.model.train(was_training)
        self.tokens_generated += sum(len(c.ids) for c in out)
        return out

    def _generate_batch(self, prompts: list[list[int]], params: SamplingParams) -> list[Completion]:
        device = next(self.model.parameters()).device
        width = max(len(p) for p in prompts)
        input_ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, p in enumerate(prompts):
            input_ids[row, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            attention[row, width - len(p) :] = 1
        kwargs = dict(
            max_new_tokens=params.max_new_tokens,
            pad_token_id=self.pad_id,
            eos_token_id=sorted(self.eos_ids),
        )
        if params.greedy:
            kwargs.update(do_sample=False, temperature=None, top_k=None, top_p=None)
        else:
            kwargs.update(do_sample=True, temperature=params.temperature, top_k=params.top_k or None,
                          top_p=params.top_p if params.top_p < 1.0 else None)
        if self.static_cache and getattr(self.model, "_can_compile_fullgraph", False):
            kwargs["cache_implementation"] = "static"
        seqs = self.model.generate(input_ids=input_ids.to(device), attention_mask=attention.to(device), **kwargs)
        new = seqs[:, width:].tolist()
        completions = []
        for ids in new:
            cut = next((k for k, t in enumerate(ids) if t in self.eos_ids), None)
            if cut is None:
                completions.append(Completion(ids=[t for t in ids if t != self.pad_id], truncated=True))
            else:
                completions.append(Completion(ids=ids[: cut + 1], truncated=False))
        return completions


def _as_list(x) -> list[int]:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]
