"""Summaries: a task with no checkable answer. The policy summarises a procedural record of facts under a length
budget (data/documents.py); the training reward is `reconstruction` (how much better a frozen reconstructor
predicts the document from the summary than from nothing, rewards/reconstruction.py).

Evaluation and the `correct` verdict use the exact metric instead, so runs stay comparable: the facts whose values
the summary contains (`recovered_facts`). The scorer's reward is the share of the document's facts kept, 0 over the
budget; `correct` = within the budget and keeping as many facts as the budget allows (`max_fit`: all of them when
they fit). Each problem's reference is the best compact summary (its words are the solution steps), so reference
injection, solution hints and SEELE prefixes work as on the arithmetic task.

The embedded arithmetic model cannot read documents, so the task brings its own embedded models, pretrained
in-process and cached (models/pair_pretrain.py): the policy (model.embedded size) on summaries that keep a random
1..n facts as values in document order, with no notion of the budget (what RL has to learn), and the reconstructor
on summaries keeping 0..n facts in varied styles. `model.path` replaces the policy as for any task.
"""
from __future__ import annotations

import random
from dataclasses import asdict

from scaffold_rl.data.documents import (
    DocumentSpec,
    DocumentTask,
    max_fit,
    pretraining_documents,
    random_summary,
    recovered_facts,
    render_document,
    summary_length,
)
from scaffold_rl.rewards.correctness import Score
from scaffold_rl.tasks.base import TaskBase, register_task
from scaffold_rl.types import Problem

RECONSTRUCTOR_PROMPT = "S:{summary}\nD:"  # the reconstructor reads this and writes the document


def summary_of(response: str) -> str:
    """The summary a response gives: its text, surrounding whitespace excluded."""
    return response.strip()


class SummaryScorer:
    """The exact metric as a Score: reward = share of facts recovered (0 over the budget); correct = within the
    budget and as many facts as could fit."""

    def __call__(self, problem: Problem, response: str) -> Score:
        facts, budget = problem.meta["facts"], problem.meta["budget"]
        summary = summary_of(response)
        if summary_length(summary) > budget:
            return Score(0.0, False)
        kept = sum(recovered_facts(summary, facts).values())
        return Score(kept / len(facts), kept >= max_fit(facts, budget))


@register_task("summaries")
class SummariesTask(TaskBase):
    name = "summaries"
    supports_hints = True
    # read by its own embedded policy (embedded_policy, pretrained on its documents), never by the arithmetic model
    embedded_ok = True

    def __init__(self, cfg):
        super().__init__(cfg)
        s = cfg.task.summaries
        self.documents = DocumentTask(DocumentSpec(budget=s.budget), seed=cfg.task.seed)
        self.split_info = {"held_out": f"the summaries test split, levels (facts) {list(cfg.task.eval_levels)}, "
                                       f"budget {s.budget} characters (a hash of the document decides the split)",
                           "train": f"the train split, levels {list(cfg.task.train_levels)}"}

    def renderer(self, tokenizer):
        from scaffold_rl.rollout.prompts import PlainRenderer

        return PlainRenderer(tokenizer)

    def train_problems(self, n: int) -> list[Problem]:
        levels = self.cfg.task.train_levels
        weights = {lv: levels.count(lv) / len(levels) for lv in set(levels)}
        return self.documents.mixture("train", weights, n, seed=7)

    def eval_problems(self, n_per_level: int) -> dict[int, list[Problem]]:
        return {lv: self.documents.problems("test", lv, n_per_level) for lv in self.cfg.task.eval_levels}

    def extract_answer(self, text: str) -> str | None:
        return summary_of(text) or None

    def scorer(self, kind: str, timeout_s: float):
        return SummaryScorer()

    # --- the task's own embedded models -----------------------------------------------------------------

    @staticmethod
    def _pretrain_settings(cfg, steps: int):
        from scaffold_rl.models.pair_pretrain import PairPretrain

        s = cfg.task.summaries
        return PairPretrain(steps=steps, batch_size=s.batch_size, lr=s.lr, seed=s.seed, bf16=cfg.model.pretrain.bf16)

    @staticmethod
    def _what(cfg, kind: str) -> dict:
        s = cfg.task.summaries
        return {"task": "summaries", "kind": kind, "levels": sorted(set(s.pretrain_levels)), "seed": cfg.task.seed,
                "test_fraction": DocumentSpec().test_fraction}

    @classmethod
    def embedded_policy(cls, cfg, echo=print):
        """(model, tokenizer) of the task's pretrained policy (cached)."""
        from scaffold_rl.models.embedded import TinyModelSpec
        from scaffold_rl.models.pair_pretrain import load_or_pretrain_pairs
        from scaffold_rl.models.pretrain import cache_root

        levels = tuple(cfg.task.summaries.pretrain_levels)

        def pairs(step: int, n: int):
            rng = random.Random(f"summaries-policy:{cfg.task.summaries.seed}:{step}")
            docs = [pretraining_documents(rng, levels, DocumentSpec().test_fraction) for _ in range(n)]
            return [(f"D:{render_document(f)}\nS:", random_summary(rng, f, min_keep=1)) for f in docs]

        model, tokenizer, path = load_or_pretrain_pairs(
            cache_root(cfg.model) / "summaries", cls._what(cfg, "policy"), pairs,
            TinyModelSpec(**asdict(cfg.model.embedded)), cls._pretrain_settings(cfg, cfg.task.summaries.policy_steps),
            log=echo)
        echo(f"summaries policy: {path}")
        return model, tokenizer

    def reconstructor(self, echo=print):
        """(model, tokenizer) of the task's reconstructor: summary -> document (cached, frozen)."""
        from scaffold_rl.models.embedded import TinyModelSpec
        from scaffold_rl.models.pair_pretrain import load_or_pretrain_pairs
        from scaffold_rl.models.pretrain import cache_root

        cfg, s = self.cfg, self.cfg.task.summaries
        levels = tuple(s.pretrain_levels)

        def pairs(step: int, n: int):
            rng = random.Random(f"summaries-reconstructor:{s.seed}:{step}")
            docs = [pretraining_documents(rng, levels, DocumentSpec().test_fraction) for _ in range(n)]
            return [(RECONSTRUCTOR_PROMPT.format(summary=random_summary(rng, f, styles=True)), render_document(f))
                    for f in docs]

        spec = TinyModelSpec(s.reconstructor_hidden, 2 * s.reconstructor_hidden, s.reconstructor_layers, 4, 256)
        model, tokenizer, path = load_or_pretrain_pairs(
            cache_root(cfg.model) / "summaries", self._what(cfg, "reconstructor"), pairs, spec,
            self._pretrain_settings(cfg, s.reconstructor_steps), log=echo)
        echo(f"summaries reconstructor: {path}")
        return model, tokenizer
