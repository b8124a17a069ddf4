"""The reconstruction reward for summaries (a task with no checkable answer): a frozen reconstructor, a separate
model trained to write a document from its summary, is asked how much the summary helps it.

    gain = (log p(doc | summary) - log p(doc | empty summary)) / T            normalise: tokens (default)
    gain = (log p(doc | summary) - log p(doc | empty summary)) / -log p(doc | empty summary)   normalise: prior

T = the document's tokens plus the end-of-sequence token (the reconstructor also has to decide where the record
ends). `tokens` is nats per document token gained; `prior` is the share of the document's information (under the
reconstructor's prior) the summary conveys: 0 for nothing, 1 for a summary that makes the document certain. A
summary that misleads the reconstructor (a made-up value) earns less than nothing.

Guards (a flagged summary gets `penalty`, default 0, the value of saying nothing, and is never scored):
* over_budget: longer than the problem's budget (`budget` option to override): no reward for copying the document
  past the budget, however well that reconstructs;
* degenerate: empty; a character repeated `max_char_run` times in a row; a word repeated; or the prompt's format
  echoed (a newline, `D:` or `S:`), which would rewrite the reconstructor's own input;
* any composite guard that fired (ctx.hacked).

`correct` is the task's exact check (tasks/summaries.py: within the budget, as many facts as could fit), never part
of the value. Logged parts: gain (0 where an over_budget or degenerate guard fired: those are not scored),
facts_kept (share of facts whose values the summary holds: the exact metric), over_budget, degenerate, length
(characters). The reconstructor is frozen; co-training it with the policy is not offered (a co-trained pair can
agree on a private code that the exact metric would not read).
"""
from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from scaffold_rl.data.documents import recovered_facts, summary_length
from scaffold_rl.rewards.composite import CompositeScore
from scaffold_rl.tasks.summaries import RECONSTRUCTOR_PROMPT, SummaryScorer, summary_of

NORMALISATIONS = ("tokens", "prior")
_ECHO = re.compile(r"\n|D:|S:")


def normalised_gain(lp_summary: float, lp_empty: float, tokens: int, how: str = "tokens") -> float:
    """The reward formula (module docstring) from the two log-likelihoods (nats) of the document."""
    if how == "tokens":
        return (lp_summary - lp_empty) / tokens
    if how == "prior":
        return (lp_summary - lp_empty) / -lp_empty if lp_empty < 0 else 0.0
    raise ValueError(f"reward term 'reconstruction': normalise must be one of {NORMALISATIONS}, got {how!r}")


def degenerate_reason(summary: str, max_char_run: int = 4) -> str | None:
    """Why a summary is degenerate (empty, char_run, repeated_word, echo), or None."""
    if not summary.strip():
        return "empty"
    if re.search(r"(.)\1{%d,}" % (max_char_run - 1), summary):
        return "char_run"
    words = re.findall(r"[A-Za-z0-9]+", summary)
    if len(words) != len(set(words)):
        return "repeated_word"
    if _ECHO.search(summary):
        return "echo"
    return None


class Reconstructor:
    """log p(document | summary) under a causal LM that reads RECONSTRUCTOR_PROMPT and writes the document."""

    def __init__(self, model, tokenizer, template: str = RECONSTRUCTOR_PROMPT):
        self.model, self.tokenizer, self.template = model.eval(), tokenizer, template
        for p in self.model.parameters():
            p.requires_grad_(False)

    def target_ids(self, document: str) -> list[int]:
        return self.tokenizer(document, add_special_tokens=False)["input_ids"] + [self.tokenizer.eos_token_id]

    @torch.no_grad()
    def logprobs(self, summaries: list[str], document: str) -> list[float]:
        """Summed log-probability (nats) of the document's tokens and EOS after each summary's prompt."""
        target = self.target_ids(document)
        rows = [self.tokenizer(self.template.format(summary=s))["input_ids"] + target for s in summaries]
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, r in enumerate(rows):  # right padding: the target sits at the end of each row's own tokens
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        logp = torch.log_softmax(self.model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
        out = []
        for i, r in enumerate(rows):
            start = len(r) - len(target)  # positions start-1 .. len-2 predict the target tokens
            pos = torch.arange(start - 1, len(r) - 1)
            out.append(float(logp[i, pos, torch.tensor(target)].sum()))
        return out


class ReconstructionTerm:
    """The reconstruction reward (module docstring) for problems carrying meta document / facts / budget."""

    def __init__(self, reconstructor: Reconstructor, budget: int | None = None, normalise: str = "tokens",
                 penalty: float = 0.0, max_char_run: int = 4, cache_size: int = 8192):
        if normalise not in NORMALISATIONS:
            raise ValueError(f"reward term 'reconstruction': normalise must be one of {NORMALISATIONS}, "
                             f"got {normalise!r}")
        if max_char_run < 2:
            raise ValueError("reward term 'reconstruction': max_char_run must be >= 2")
        self.reconstructor = reconstructor
        self.budget, self.normalise, self.penalty, self.max_char_run = budget, normalise, float(penalty), max_char_run
        self.exact = SummaryScorer()
        self.cache: OrderedDict[tuple[str, str], float] = OrderedDict()
        self.empty: dict[str, float] = {}
        self.cache_size = cache_size

    @classmethod
    def from_options(cls, o: dict[str, Any], task: Any = None) -> "ReconstructionTerm":
        path = o.get("reconstructor")
        if path:
            from scaffold_rl.models.loading import load_hf_model

            if not Path(path).expanduser().exists():
                raise FileNotFoundError(f"reward term 'reconstruction': reconstructor {path} does not exist")
            model, tokenizer = load_hf_model(path, echo=lambda m: None)
        elif task is not None and hasattr(task, "reconstructor"):
            model, tokenizer = task.reconstructor()
        else:
            raise ValueError("reward term 'reconstruction' needs a reconstructor: set its `reconstructor` option to a "
                             "model folder (summary -> document), or train on a task that has one "
                             "(task.name=summaries)")
        return cls(Reconstructor(model, tokenizer), budget=o.get("budget"), normalise=o.get("normalise", "tokens"),
                   penalty=o.get("penalty", 0.0), max_char_run=o.get("max_char_run", 4))

    def gain(self, summary: str, document: str) -> float:
        """The normalised gain of one summary (cached per document and summary)."""
        key = (document, summary)
        if key not in self.cache:
            if document not in self.empty:
                self.empty[document] = self.reconstructor.logprobs([""], document)[0]
            lp = self.reconstructor.logprobs([summary], document)[0] if summary else self.empty[document]
            tokens = len(self.reconstructor.target_ids(document))
            self.cache[key] = normalised_gain(lp, self.empty[document], tokens, self.normalise)
            if len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        return self.cache[key]

    def __call__(self, ctx) -> CompositeScore:
        meta = ctx.problem.meta
        if "document" not in meta or "facts" not in meta:
            raise ValueError(f"reward term 'reconstruction': problem {ctx.problem.id} has no document to reconstruct "
                             "(meta['document'], meta['facts']); it scores summaries (task.name=summaries)")
        budget = self.budget if self.budget is not None else meta["budget"]
        summary = summary_of(ctx.response)
        over = summary_length(summary) > budget
        degenerate = degenerate_reason(summary, self.max_char_run) is not None
        gain = 0.0 if (over or degenerate) else self.gain(summary, meta["document"])
        value = self.penalty if (over or degenerate or ctx.hacked) else gain
        kept = recovered_facts(summary, meta["facts"])
        verdict = self.exact(ctx.problem, ctx.response)
        parts = {"gain": gain, "facts_kept": sum(kept.values()) / len(kept), "over_budget": float(over),
                 "degenerate": float(degenerate), "length": float(summary_length(summary))}
        return CompositeScore(value, verdict.correct, terms=parts)
