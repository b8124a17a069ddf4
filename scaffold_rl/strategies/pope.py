"""POPE (Qu, Setlur, Smith, Salakhutdinov, Kumar; arXiv 2601.18779): privileged on-policy exploration. A prefix of
the oracle solution guides on-policy rollouts of hard problems; the oracle text is never a training target.

* **Hard**: a problem whose group is all wrong (online; the paper selects, offline, problems with 0 of 128
  samples right at 32k tokens).
* **The prefix**: the shortest one that works, at most `max_prefix_fraction` (1/4) of the solution: lengths
  (1..levels) / levels x 1/4 of |y| are tried shortest first, `samples_per_level` samples each (as the paper feeds
  "progressively longer prefixes, up to a quarter of the solution, until the model completes it"). The length found
  is kept for the problem (the paper searches once, offline; checkpointed); when none works, the longest is used
  and counted (pope/no_sufficient_prefix).
* **The group**: num_generations fresh samples under the guided prompt replace the all-wrong group (guided.py),
  the prefix in the prompt (Hint.placement = "prompt": only generated tokens carry loss).
* **Mix of guided and unguided prompts**: every step samples every problem unguided first; groups with a success
  train unguided, all-wrong ones are replaced by their guided group. The paper trains each hard problem's guided
  and unguided prompts side by side; an all-wrong unguided group has zero advantage and adds nothing to the
  gradient, so leaving it out changes only TRL's token normaliser, and once the unguided prompt gets a success
  it trains unguided (documented deviation: a step never holds both versions of one problem).
"""
from __future__ import annotations

from scaffold_rl.strategies.base import register
from scaffold_rl.strategies.guided import GroupRescue, schedule_if
from scaffold_rl.strategies.oracle_prefix import prefix_hint, prefix_length
from scaffold_rl.strategies.seele import SolutionPrefix
from scaffold_rl.types import Group, Problem


@register
class POPE(GroupRescue):
    name = "pope"
    config_section = "pope"  # strategy.pope.* (config.PopeOptions)

    def __init__(self, schedule=None, max_prefix_fraction: float = 0.25, levels: int = 4, granularity: str = "char",
                 samples_per_level: int = 1):
        super().__init__(schedule)
        if not 0.0 < max_prefix_fraction <= 1.0 or levels < 1 or samples_per_level < 1:
            raise ValueError("pope needs max_prefix_fraction in (0, 1], levels >= 1 and samples_per_level >= 1")
        self.max_fraction, self.levels, self.samples_per_level = max_prefix_fraction, levels, samples_per_level
        self.prefix = SolutionPrefix(granularity)
        self.lengths: dict[str, int] = {}  # problem id -> the prefix length found (checkpointed)

    @classmethod
    def from_config(cls, config) -> POPE:
        p = config.strategy.pope
        return cls(schedule_if(config, p.exemption), p.max_prefix_fraction, p.levels, p.granularity,
                   p.samples_per_level)

    def candidate_lengths(self, problem: Problem, tokenizer) -> list[int]:
        """The prefix lengths tried, shortest first, without repeats or empty prefixes."""
        size = len(self.prefix.units(problem, tokenizer))
        out = []
        for k in range(1, self.levels + 1):
            n = prefix_length(k / self.levels * self.max_fraction, size)
            if n > 0 and n not in out:
                out.append(n)
        return out

    def blank_stats(self):
        return {"pope/searched": 0.0, "pope/search_samples": 0.0, "pope/search_tokens": 0.0,
                "pope/no_sufficient_prefix": 0.0, "pope/no_prefix": 0.0, "pope/prefix_share_mean": 0.0}

    def guided_groups(self, groups: list[Group], ctx, stats: dict):
        tok = ctx.sampler.tokenizer
        problems = [g.problem for g in groups]
        candidates = [self.candidate_lengths(p, tok) for p in problems]
        search = [i for i, p in enumerate(problems) if p.id not in self.lengths and candidates[i]]
        if search:
            self._search([problems[i] for i in search], [candidates[i] for i in search], ctx, stats)
        out: list = [None] * len(groups)
        items, where, shares = [], [], []
        for i, p in enumerate(problems):
            hint = prefix_hint(self.prefix, p, self.lengths.get(p.id, 0), tok)
            if hint is None:
                stats["pope/no_prefix"] += 1.0
                continue
            items.append((p, hint))
            where.append(i)
            shares.append(hint.rate or 0.0)
        if items:
            for i, rollouts in zip(where, ctx.sampler.sample(items, ctx.num_generations, seed=ctx.sub_seed(1),
                                                               round=1)):
                out[i] = rollouts
            stats["pope/prefix_share_mean"] = sum(shares) / len(shares)
        return out

    def _search(self, problems: list[Problem], candidates: list[list[int]], ctx, stats: dict) -> None:
        """Shortest first, all still-unsolved problems in one generation call per length; the first length with a
        success is kept, else the longest."""
        tok = ctx.sampler.tokenizer
        tokens0 = getattr(ctx.sampler.generator, "tokens_generated", 0)
        found: dict[int, int] = {}
        for rung in range(max(map(len, candidates))):
            todo = [i for i in range(len(problems)) if i not in found and rung < len(candidates[i])]
            if not todo:
                break
            items = [(problems[i], prefix_hint(self.prefix, problems[i], candidates[i][rung], tok)) for i in todo]
            out = ctx.sampler.sample(items, self.samples_per_level, seed=ctx.sub_seed(10 + rung), round=1)
            stats["pope/search_samples"] += len(todo) * self.samples_per_level
            for i, rollouts in zip(todo, out):
                if any(r.correct for r in rollouts):
                    found[i] = candidates[i][rung]
        for i, p in enumerate(problems):
            if i not in found:
                stats["pope/no_sufficient_prefix"] += 1.0
            self.lengths[p.id] = found.get(i, candidates[i][-1])
        stats["pope/searched"] = float(len(problems))
        stats["pope/search_tokens"] = float(getattr(ctx.sampler.generator, "tokens_generated", 0) - tokens0)

    def extra_state(self) -> dict:
        return {"lengths": dict(self.lengths)}

    def load_extra_state(self, state: dict) -> None:
        self.lengths = {str(k): int(v) for k, v in state.get("lengths", {}).items()}
