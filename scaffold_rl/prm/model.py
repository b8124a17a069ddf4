"""A process reward model: any Hugging Face causal LM read at step boundaries.

Two common conventions (papers.md §4.1, §5.2):
* `tag`   (Math-Shepherd): a step tag is appended after every step; the step's score is P(+) of a two-way
          softmax over the next-token logits of the `+` / `-` label tokens at the tag position. Reuses the LM
          head (only its two label rows are computed), so a policy checkpoint is a PRM with no new weights.
* `value` (rStar-Math PPM style): a linear value head on the last hidden state, read at each step's last
          token; score = sigmoid(value).

Both give one logit per step (`step_logits`), so BCE on hard/soft labels and the pairwise PPM loss train
either. Long inputs are scored in windows that keep at least half the model's context before each step.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

HEADS = ("tag", "value")
AGGREGATIONS = ("min", "prod", "last", "mean")


@dataclass
class PRMConfig:
    head: str = "tag"  # "tag" (step tag + '+'/'-' label tokens) or "value" (linear value head)
    step_tag: str = " ки"  # Math-Shepherd's tag; added as a special token if the tokenizer cannot spell it
    pos_token: str = "+"  # label token read as "step is good"
    neg_token: str = "-"  # label token read as "step is bad"
    max_length: int = 0  # tokens per scoring window; 0 = the backbone's max_position_embeddings

    def __post_init__(self):
        if self.head not in HEADS:
            raise ValueError(f"prm head must be one of {HEADS}, got {self.head!r}")


def aggregate(step_scores: list[float], how: str = "min") -> float:
    """One solution score from its step scores: min (Math-Shepherd), prod (Lightman), last (HF search), mean.
    An empty step list scores 0 (nothing was shown to be right)."""
    if how not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {how!r}")
    if not step_scores:
        return 0.0
    if how == "min":
        return float(min(step_scores))
    if how == "prod":
        return float(math.prod(step_scores))
    if how == "last":
        return float(step_scores[-1])
    return float(sum(step_scores) / len(step_scores))


@dataclass
class Encoded:
    """One (prompt, steps) item as token ids, with the position each step's score is read at."""

    ids: list[int]
    read_at: list[int]


class ProcessRewardModel(nn.Module):
    """A backbone + tokenizer + reading convention; trained in place by `prm/train.py`, saved as a folder."""

    def __init__(self, model, tokenizer, config: PRMConfig | None = None):
        super().__init__()
        self.config = config or PRMConfig()
        self.model = model
        self.tokenizer = tokenizer
        self.value_head = None
        if self.config.head == "tag":
            self.tag_ids = self._tag_ids()
            self.label_ids = [self._single_token(t, what) for t, what in
                              ((self.config.pos_token, "pos_token"), (self.config.neg_token, "neg_token"))]
        else:
            self.tag_ids = []
            self.value_head = nn.Linear(model.config.hidden_size, 1)  # default init: a zero head gets no
            nn.init.zeros_(self.value_head.bias)  # gradient into the backbone, so it would start very slowly
        self.max_length = self.config.max_length or int(getattr(model.config, "max_position_embeddings", 2048))

    # --- tokens --------------------------------------------------------------------------------------

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _single_token(self, text: str, what: str) -> int:
        ids = self._encode(text)
        if len(ids) != 1 or ids[0] == self.tokenizer.unk_token_id:
            raise ValueError(f"prm {what} {text!r} must be one known token of the tokenizer, got ids {ids}")
        return ids[0]

    def _tag_ids(self) -> list[int]:
        """The tag's token ids; a tag the tokenizer cannot spell (unknown chars) becomes a new special token."""
        tag = self.config.step_tag
        if not tag:
            raise ValueError("prm step_tag must be non-empty for head='tag'")
        ids = self._encode(tag)
        if self.tokenizer.unk_token_id is not None and self.tokenizer.unk_token_id in ids:
            self.tokenizer.add_special_tokens({"additional_special_tokens": [tag]})
            self.model.resize_token_embeddings(len(self.tokenizer))
            ids = self._encode(tag)
        return ids

    def encode(self, prompt: str, steps: list[str]) -> Encoded:
        ids = list(self.tokenizer(prompt)["input_ids"]) if prompt else []
        if not ids and self.tokenizer.bos_token_id is not None:
            ids = [self.tokenizer.bos_token_id]
        read_at = []
        for step in steps:
            ids += self._encode(step)
            if self.config.head == "tag":
                ids += self.tag_ids
            read_at.append(len(ids) - 1)
        return Encoded(ids, read_at)

    # --- scoring -------------------------------------------------------------------------------------

    def _windows(self, enc: Encoded) -> list[tuple[int, int, list[int]]]:
        """(start, end, indices of steps read in this window): whole item when it fits, else windows ending
        past each unread step with >= max_length/2 tokens of context before it."""
        n, width = len(enc.ids), self.max_length
        if n <= width:
            return [(0, n, list(range(len(enc.read_at))))]
        out, i = [], 0
        while i < len(enc.read_at):
            start = max(0, enc.read_at[i] + 1 - width // 2)
            end = min(n, start + width)
            start = max(0, end - width)
            idx = [k for k in range(i, len(enc.read_at)) if enc.read_at[k] < end]
            out.append((start, end, idx))
            i = idx[-1] + 1
        return out

    def _forward_logits(self, rows: list[list[int]], positions: list[list[int]]) -> list[torch.Tensor]:
        """Per row, the step logits at `positions` (right-padded batch)."""
        device = next(self.model.parameters()).device
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for row, ids in enumerate(rows):
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            attention[row, : len(ids)] = 1
        input_ids, attention = input_ids.to(device), attention.to(device)
        hidden = self.model.base_model(input_ids=input_ids, attention_mask=attention).last_hidden_state
        out = []
        for row, pos in enumerate(positions):
            h = hidden[row, torch.tensor(pos, dtype=torch.long, device=device)]
            if self.config.head == "tag":
                # only the '+' and '-' rows of the LM head: a full-vocabulary logit tensor over every position
                # would cost gigabytes on a real model
                head = self.model.get_output_embeddings()
                pair = h @ head.weight[self.label_ids].T
                if getattr(head, "bias", None) is not None:
                    pair = pair + head.bias[self.label_ids]
                out.append(pair[:, 0] - pair[:, 1])  # log-odds of '+' in the two-way softmax
            else:
                out.append(self.value_head(h).squeeze(-1))
        return out

    def step_logits(self, encoded: list[Encoded]) -> list[torch.Tensor]:
        """One logit per step for each item (differentiable); sigmoid gives P(step correct | prefix)."""
        rows, positions, owners = [], [], []
        for item, enc in enumerate(encoded):
            for start, end, idx in self._windows(enc):
                rows.append(enc.ids[start:end])
                positions.append([enc.read_at[k] - start for k in idx])
                owners.append(item)
        parts: list[list[torch.Tensor]] = [[] for _ in encoded]
        if rows:
            for owner, logits in zip(owners, self._forward_logits(rows, positions)):
                parts[owner].append(logits)
        device = next(self.model.parameters()).device
        return [torch.cat(p) if p else torch.zeros(0, device=device) for p in parts]

    @torch.no_grad()
    def score_steps_batch(self, items: list[tuple[str, list[str]]], batch_size: int = 16) -> list[list[float]]:
        """P(step i correct | prompt, steps[:i+1]) for every step of every (prompt, steps) item."""
        was_training = self.training
        self.eval()
        try:
            out: list[list[float]] = []
            for start in range(0, len(items), batch_size):
                chunk = [self.encode(p, s) for p, s in items[start : start + batch_size]]
                out += [torch.sigmoid(x.float()).tolist() for x in self.step_logits(chunk)]
            return out
        finally:
            self.train(was_training)

    def score_steps(self, prompt: str, steps: list[str]) -> list[float]:
        return self.score_steps_batch([(prompt, steps)])[0]

    # --- persistence ---------------------------------------------------------------------------------

    def save(self, path) -> None:
        """A Hugging Face folder (backbone + tokenizer) plus prm_config.json and, for head='value',
        value_head.pt."""
        p = Path(path)
        p.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(p)
        self.tokenizer.save_pretrained(p)
        (p / "prm_config.json").write_text(json.dumps(asdict(self.config), indent=2, ensure_ascii=False))
        if self.value_head is not None:
            torch.save(self.value_head.state_dict(), p / "value_head.pt")

    @classmethod
    def load(cls, path) -> "ProcessRewardModel":
        from transformers import AutoModelForCausalLM

        from scaffold_rl.models.loading import _load_tokenizer

        p = Path(path)
        config_file = p / "prm_config.json"
        if not config_file.exists():
            raise FileNotFoundError(f"prm_path: {p} has no prm_config.json; is it a folder written by "
                                    "`scaffold-rl prm train`?")
        config = PRMConfig(**json.loads(config_file.read_text()))
        tokenizer = _load_tokenizer(p)
        model = AutoModelForCausalLM.from_pretrained(p, local_files_only=True)
        prm = cls(model, tokenizer, config)
        if prm.value_head is not None:
            prm.value_head.load_state_dict(torch.load(p / "value_head.pt", map_location="cpu"))
        prm.eval()
        return prm
