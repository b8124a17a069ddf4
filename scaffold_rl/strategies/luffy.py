"""LUFFY (Yan et al., arXiv 2504.14945): off-policy reasoning traces share the group with on-policy rollouts, and
policy shaping up-weights their low-probability tokens.

Every group (not only all-wrong ones: the paper mixes from the first step) is `off_policy_traces` copies of the
problem's reference completion plus num_generations - off_policy_traces on-policy samples (the official script: 1 of
8). The stage's plain group is not sampled (wants_initial_samples = False), so the compute is that of a plain
step. TRL's advantage is computed over the union, so when every on-policy sample fails the correct trace gets the
large positive advantage (1 of 8: +2.47 with std scaling; the official script scales none:
train.scale_rewards=none, and sums tokens like Dr.GRPO, train.loss_type=dr_grpo: the `luffy` preset).

The trace's tokens are off-policy (Rollout.estimator = "off_policy"; train/offpolicy.py): ratio pi_theta / pi_phi
with pi_phi = 1, no clipping, shaped by f(p) = p / (p + gamma) (gamma = 0.1). The on-policy rows keep TRL's
clipped surrogate (LUFFY's script also removes the on-policy clip; with train.mini_batches = 1 the ratio is 1 and
the clip never binds). Not here: the paper's entropy bonus (0.001 in the official script).

A trace is scored by the run's reward like any row of its group (reference.reference_rollout); a problem without
a reference, or whose reference the reward rejects, gets a fully on-policy group (counted). `reference` is the
same injection without shaping, into all-wrong groups only, replacing a failure.
"""
from __future__ import annotations

import dataclasses

from scaffold_rl.strategies.base import RescueStrategy, register
from scaffold_rl.strategies.reference import reference_rollout
from scaffold_rl.types import Batch, Group


@register
class LUFFY(RescueStrategy):
    name = "luffy"
    config_section = "luffy"  # strategy.luffy.* (config.LuffyOptions)
    wants_initial_samples = False

    def __init__(self, off_policy_traces: int = 1, shaping_gamma: float | None = 0.1):
        if off_policy_traces < 1:
            raise ValueError("luffy needs off_policy_traces >= 1")
        if shaping_gamma is not None and shaping_gamma <= 0:
            raise ValueError("luffy shaping_gamma must be > 0 (None: no shaping)")
        self.traces, self.gamma = off_policy_traces, shaping_gamma

    @classmethod
    def from_config(cls, config) -> LUFFY:
        from scaffold_rl.configio import config_error

        c = config.strategy.luffy
        if c.off_policy_traces >= config.rollout.num_generations:
            raise config_error(config, "strategy.luffy.off_policy_traces",
                               f"strategy.luffy.off_policy_traces={c.off_policy_traces} must be below "
                               f"rollout.num_generations={config.rollout.num_generations}: the group needs "
                               "on-policy rows")
        return cls(c.off_policy_traces, c.shaping_gamma)

    def rescue(self, batch: Batch, ctx) -> Batch:
        g = ctx.num_generations
        if self.traces >= g:
            raise ValueError(f"luffy: {self.traces} off-policy traces leave no on-policy row in groups of {g}")
        problems = [grp.problem for grp in batch.groups]
        traces, missing, rejected = [], 0, 0
        for p in problems:
            if not p.reference:
                missing += 1
                traces.append(None)
                continue
            ref = reference_rollout(p, ctx)
            rejected += not ref.correct
            traces.append(ref if ref.correct else None)
        with_trace = [i for i, t in enumerate(traces) if t is not None]
        without = [i for i, t in enumerate(traces) if t is None]
        on_policy: dict[int, list] = {}
        for k, (index, n) in enumerate(((with_trace, g - self.traces), (without, g))):
            if index:
                out = ctx.sampler.sample([(problems[i], None) for i in index], n, seed=ctx.sub_seed(k))
                on_policy.update(zip(index, out))
        groups = []
        for i, p in enumerate(problems):
            off = [dataclasses.replace(traces[i], prompt_ids=list(traces[i].prompt_ids),
                                       completion_ids=list(traces[i].completion_ids), estimator="off_policy",
                                       shaping_gamma=self.gamma) for _ in range(self.traces)] if traces[i] else []
            groups.append(Group(p, off + on_policy[i]))
        solved = sum(any(r.correct for r in on_policy[i]) for i in with_trace)
        ctx.stats.update({
            "luffy/off_policy_rows": float(len(with_trace) * self.traces),
            "luffy/no_reference": float(missing), "luffy/reference_rejected": float(rejected),
            # share of groups with a trace whose on-policy samples alone already had a success
            "luffy/on_policy_solved": solved / len(with_trace) if with_trace else 0.0,
        })
        return Batch(groups, step=batch.step, stats=dict(batch.stats))
