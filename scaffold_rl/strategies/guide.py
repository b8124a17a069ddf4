"""Guide-GRPO (Nath et al., Scale AI, arXiv 2506.13923): hints in the context for all-wrong problems, trained as
the policy *without* the hint.

An all-wrong group is re-sampled, whole, with a hint in the prompt (guided.py). Each new sample o was drawn from
pi_b(. | q + h), but the policy the method optimises is pi_theta(. | q): the row trains under the plain prompt q
(Hint.placement = "dropped": the renderer samples under q + h and lays the row out under q) and its ratio is
pi_theta(o_t | q, o_<t) / pi_b(o_t | q + h, o_<t), the behaviour probability in the hinted context computed by a
no-grad forward at rollout time (Rollout.estimator = "importance"; train/offpolicy.py). TRL's two-sided clip then
applies to that ratio. The reward judges what the row trains: o as an answer to q (what the model wrote; a
solution-tier hint the model merely continues is not part of o).

The hint: the first tier of `hint_tiers` the problem has, whole (all its parts; no ladder search: the paper gives
one guidance per problem). The paper's guidance is natural-language help that leaves the whole derivation to the
model; knowledge and planning hints are that. What the estimator implies: a hinted success the unhinted policy
would itself write with fair probability gets a ratio near 1 and a full step; one it would never write gets a
ratio near 0 and almost no step, so Guide teaches what is already within the unhinted policy's reach, faster.
"""
from __future__ import annotations

import dataclasses

from scaffold_rl.strategies.base import register
from scaffold_rl.strategies.guided import GroupRescue, schedule_if
from scaffold_rl.strategies.hint_ladder import HintLadder
from scaffold_rl.types import HINT_TIERS, Group, Hint, Problem


@register
class GuideGRPO(GroupRescue):
    name = "guide"
    config_section = "guide"  # strategy.guide.* (config.GuideOptions)

    def __init__(self, schedule=None, hint_tiers: tuple[str, ...] = HINT_TIERS):
        super().__init__(schedule)
        self.ladder = HintLadder(tuple(hint_tiers), incremental=False)  # each tier whole, in the given order

    @classmethod
    def from_config(cls, config) -> GuideGRPO:
        g = config.strategy.guide
        return cls(schedule_if(config, g.exemption), tuple(g.hint_tiers))

    def hint_for(self, problem: Problem) -> Hint | None:
        """The whole first available tier, sampled in the prompt and trained under the plain prompt."""
        rungs = self.ladder.rungs(problem)
        if not rungs:
            return None
        return dataclasses.replace(rungs[0], placement="dropped", scored=False)

    def blank_stats(self):
        return {"guide/no_hint": 0.0, "guide/guided_samples": 0.0,
                **{f"guide/tier/{t}": 0.0 for t in self.ladder.tiers}}

    def guided_groups(self, groups: list[Group], ctx, stats: dict):
        hints = [self.hint_for(g.problem) for g in groups]
        stats["guide/no_hint"] = float(sum(h is None for h in hints))
        todo = [i for i, h in enumerate(hints) if h is not None]
        out: list = [None] * len(groups)
        if not todo:
            return out
        sampled = ctx.sampler.sample([(groups[i].problem, hints[i]) for i in todo], ctx.num_generations,
                                     seed=ctx.sub_seed(1), round=1)
        for i, rollouts in zip(todo, sampled):
            for r in rollouts:
                r.estimator = "importance"  # sampled_prompt_ids: the hinted prompt, set by the sampler
            out[i] = rollouts
            stats[f"guide/tier/{hints[i].tier}"] += 1.0
        stats["guide/guided_samples"] = float(len(todo) * ctx.num_generations)
        return out
