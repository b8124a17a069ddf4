"""QuestA (Li et al., arXiv 2507.13266): question augmentation. Hard problems are shown with the first p % of their
solution in the prompt, p following a curriculum (the paper: 50 %, then 25 % from the 50 %-trained model).

* **Hard** (our choice, online): a problem whose unhinted group is all wrong. The paper filters its hard set
  offline (problems the base model rarely solves) and trains on it hinted only. With `remember_hard` (default) a
  problem found hard stays hard: its later visits are sampled with the prefix directly, the unhinted group is not
  sampled again, as in the paper's always-hinted hard set. With remember_hard off, every visit samples unhinted
  first and re-samples with the prefix only when that group is all wrong.
* **The prefix**: the first floor(p x |y|) units of the reference solution (characters by default, as the paper's
  `add_prefix.py`, which also drops prefixes under 10 characters: `min_prefix_chars`), in the prompt
  (oracle_prefix.py): only what the model wrote carries loss. The whole group of a hard problem is sampled under it.
* **The curriculum**: stage k of len(prefix_fractions) covers rollout batches [k S, (k + 1) S), S = stage_batches or
  the planned rollout batches split evenly (the paper trains each stage to convergence; two runs, one after the
  other). The shown share is logged (questa/prefix_share).
"""
from __future__ import annotations

import math

from scaffold_rl.strategies.base import RescueStrategy, register
from scaffold_rl.strategies.oracle_prefix import prefix_hint, prefix_length
from scaffold_rl.strategies.seele import SolutionPrefix
from scaffold_rl.types import Batch, Group, Problem


@register
class QuestA(RescueStrategy):
    name = "questa"
    config_section = "questa"  # strategy.questa.* (config.QuestAOptions)
    wants_initial_samples = False  # known-hard problems are sampled with their prefix only

    def __init__(self, total_batches: int, prefix_fractions=(0.5, 0.25), stage_batches: int | None = None,
                 granularity: str = "char", min_prefix_chars: int = 10, remember_hard: bool = True):
        if not prefix_fractions or not all(0.0 < f <= 1.0 for f in prefix_fractions):
            raise ValueError("questa prefix fractions must be shares in (0, 1]")
        self.fractions = tuple(float(f) for f in prefix_fractions)
        self.stage_batches = stage_batches or max(1, math.ceil(total_batches / len(self.fractions)))
        self.prefix = SolutionPrefix(granularity)
        self.min_chars, self.remember_hard = min_prefix_chars, remember_hard
        self.hard: dict[str, bool] = {}  # problem id -> found hard (checkpointed)

    @classmethod
    def from_config(cls, config) -> QuestA:
        q = config.strategy.questa
        batches = math.ceil(config.train.steps / config.train.mini_batches)
        return cls(batches, tuple(q.prefix_fractions), q.stage_batches, q.granularity, q.min_prefix_chars,
                   q.remember_hard)

    def stage(self, batch_index: int) -> int:
        return min(batch_index // self.stage_batches, len(self.fractions) - 1)

    def hint_for(self, problem: Problem, share: float, tokenizer):
        size = len(self.prefix.units(problem, tokenizer))
        return prefix_hint(self.prefix, problem, prefix_length(share, size), tokenizer, self.min_chars)

    def rescue(self, batch: Batch, ctx) -> Batch:
        tok, g = ctx.sampler.tokenizer, ctx.num_generations
        stage = self.stage(ctx.batch_index)
        share = self.fractions[stage]
        problems = [grp.problem for grp in batch.groups]
        hints = [self.hint_for(p, share, tok) for p in problems]
        known = [self.remember_hard and self.hard.get(p.id, False) and hints[i] is not None
                 for i, p in enumerate(problems)]
        # one generation call: known-hard problems with their prefix, the rest plain
        first = ctx.sampler.sample([(p, hints[i] if known[i] else None) for i, p in enumerate(problems)], g,
                                   seed=ctx.sub_seed(0))
        groups = [Group(p, rs) for p, rs in zip(problems, first)]
        newly = [i for i, grp in enumerate(groups) if not known[i] and grp.all_wrong]
        for i in newly:
            if self.remember_hard:
                self.hard[problems[i].id] = True
        again = [i for i in newly if hints[i] is not None]
        if again:
            out = ctx.sampler.sample([(problems[i], hints[i]) for i in again], g, seed=ctx.sub_seed(1), round=1)
            for i, rs in zip(again, out):
                groups[i] = Group(problems[i], rs)
        hinted = [i for i in range(len(problems)) if known[i]] + again
        rescued = sum(any(r.correct for r in groups[i].rollouts) for i in hinted)
        ctx.stats.update({
            "questa/stage": float(stage), "questa/prefix_share": share,
            "questa/known_hard": float(sum(known)), "questa/found_hard": float(len(newly)),
            "questa/no_prefix": float(sum(hints[i] is None for i in newly)),
            "questa/hard_total": float(len(self.hard)),
            "scaf/all_wrong_before": float(len(newly)), "scaf/triggered": float(len(hinted)),
            "scaf/rescued": float(rescued), "scaf/replaced": float(len(again) * g),
            "scaf/rescue_rate": rescued / len(hinted) if hinted else 0.0,
        })
        return Batch(groups, step=batch.step, stats=dict(batch.stats))

    def state_dict(self) -> dict:
        return {"hard": dict(self.hard)}

    def load_state_dict(self, state: dict) -> None:
        self.hard = {str(k): bool(v) for k, v in state.get("hard", {}).items()}
