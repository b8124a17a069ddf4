"""DAPO dynamic sampling (arXiv 2503.14476): train only on groups whose rewards differ.

A group whose rewards are all equal (all wrong or all right) has zero advantage and no policy gradient; DAPO
drops such groups and keeps generating until the batch is full of informative ones. It adds no outside
information: a problem the policy never solves is skipped, not learned (the contrast with Scaf-GRPO, SEELE and
reference injection, which all add guidance).

Per step: the informative groups of the step's own problems are kept; while fewer than the batch needs, an
extra generation batch of `prompts_per_step` fresh problems is drawn from the run's training problems
(`RolloutContext.draw_problems`, deterministic in seed and step) and sampled unhinted, at most
`max_extra_batches` times. Informative groups beyond the batch size are discarded (as verl does; no buffer
across steps). If the limit is reached while still short, the empty slots are filled with all-equal groups of
the step's own problems, in their order, then of the extra ones: TRL needs prompts_per_step x num_generations
rows, and those groups add exactly nothing to the loss (and are skipped in the forward pass by the trainer).
An all-equal group is therefore only trained on when too few informative groups were found.
"""
from __future__ import annotations

from scaffold_rl.strategies.base import RescueStrategy, register
from scaffold_rl.types import Batch, Group


@register
class DynamicSampling(RescueStrategy):
    name = "dynamic_sampling"
    config_section = "dapo"  # strategy.dapo.* (config.DapoOptions)

    def __init__(self, max_extra_batches: int = 3):
        if max_extra_batches < 0:
            raise ValueError("max_extra_batches must be >= 0")
        self.max_extra_batches = max_extra_batches

    @classmethod
    def from_config(cls, config) -> DynamicSampling:
        return cls(max_extra_batches=config.strategy.dapo.max_extra_batches)

    def rescue(self, batch: Batch, ctx) -> Batch:
        needed = len(batch.groups)
        informative = [g for g in batch.groups if not g.zero_advantage]
        dropped = [g for g in batch.groups if g.zero_advantage]
        stats = {"dapo/dropped_all_wrong": float(sum(g.all_wrong for g in dropped)),
                 "dapo/dropped_all_right": float(sum(not g.all_wrong for g in dropped)),
                 "dapo/informative_first": float(len(informative)), "dapo/extra_batches": 0.0,
                 "dapo/extra_groups": 0.0, "dapo/no_problem_source": float(ctx.draw_problems is None)}
        extra = 0
        while len(informative) < needed and extra < self.max_extra_batches and ctx.draw_problems is not None:
            problems = ctx.draw_problems(needed)
            if not problems:
                break  # the pool is exhausted for this step
            extra += 1
            out = ctx.sampler.sample([(p, None) for p in problems], ctx.num_generations,
                                     seed=ctx.sub_seed(extra), round=extra)
            for p, rs in zip(problems, out):
                g = Group(p, rs)
                (dropped if g.zero_advantage else informative).append(g)
            stats["dapo/extra_groups"] += len(problems)
        kept = informative[:needed]
        fill = dropped[:needed - len(kept)]  # only when too few informative groups were found
        groups = kept + fill
        if len(groups) < needed:
            raise RuntimeError(f"dynamic sampling ended with {len(groups)} groups for {needed} slots")
        stats.update({
            "dapo/extra_batches": float(extra),
            "dapo/dropped": float(len(dropped) - len(fill)),
            "dapo/surplus_informative": float(len(informative) - len(kept)),
            "dapo/filled_zero_adv": float(len(fill)),
            "dapo/informative_frac": len(kept) / max(1, needed),
        })
        ctx.stats.update(stats)
        return Batch(groups, step=batch.step, stats=dict(batch.stats))
