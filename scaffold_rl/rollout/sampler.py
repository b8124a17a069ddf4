"""The rollout stage: sample a group per problem, score it, let the rescue strategy reshape the groups.

Everything a step needs to know about its samples is measured here (pass rate per level, all-wrong and
zero-advantage groups, tokens spent), because only here is the group structure whole.
"""
from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scaffold_rl.rollout.generation import Generator, SamplingParams
from scaffold_rl.rollout.tracking import CrossingTracker
from scaffold_rl.types import Batch, Group, Hint, Problem, Rollout


class Sampler:
    """Generates and scores rollouts for (problem, hint) pairs."""

    def __init__(self, generator: Generator, renderer, reward, tokenizer, params: SamplingParams):
        self.generator = generator
        self.renderer = renderer
        self.reward = reward
        self.tokenizer = tokenizer
        self.params = params
        self.verifier_timeouts = 0
        self.step = 0  # the training step, for rewards whose terms switch on later (set by RolloutStage.run)

    def score(self, problem: Problem, response: str, completion_len: int, completion_ids: list[int] | None = None):
        """The reward of `response` (the text the reward reads), with the context composite rewards use (length
        terms, terms that switch on at a step); counts verifier timeouts."""
        if hasattr(self.reward, "score_batch"):
            if completion_ids is None:
                completion_ids = list(self.tokenizer(response, add_special_tokens=False)["input_ids"])
            return self.score_many([(problem, response, completion_ids)])[0]
        if getattr(self.reward, "takes_context", False):
            score = self.reward(problem, response, completion_len=completion_len, step=self.step)
        else:
            score = self.reward(problem, response)
        self.verifier_timeouts += score.timed_out
        return score

    def score_many(self, items: list[tuple[Problem, str, list[int]]]) -> list:
        """Scores of (problem, response, completion ids) items: in one call when the reward scores batches
        (`score_batch`: TRL-style reward functions), else one by one."""
        batch = getattr(self.reward, "score_batch", None)
        if batch is None:
            return [self.score(p, text, len(ids)) for p, text, ids in items]
        scores = batch(items, step=self.step)
        self.verifier_timeouts += sum(bool(s.timed_out) for s in scores)
        return scores

    def sample(self, items: list[tuple[Problem, Hint | None]], n: int, seed: int | None = None,
               params: SamplingParams | None = None, round: int = 0) -> list[list[Rollout]]:
        """n rollouts for each item, in one generation call; returns one list per item, in order. Each rollout is
        laid out for training as the renderer says (Hint.placement): no later stage changes its tokens."""
        params = params or self.params
        rendered = [self.renderer.render(p, h) for p, h in items]
        prompts = [r.prompt_ids + r.response_prefix_ids for r in rendered for _ in range(n)]
        if not prompts:
            return []
        completions = self.generator.generate(prompts, params, seed=seed)
        texts = self.tokenizer.batch_decode([c.ids for c in completions], skip_special_tokens=True)
        scores = self.score_many([(problem, r.scored_prefix_text + texts[i * n + j],
                                   r.response_prefix_ids + completions[i * n + j].ids)
                                  for i, ((problem, _), r) in enumerate(zip(items, rendered)) for j in range(n)])
        out = []
        for i, ((problem, hint), r) in enumerate(zip(items, rendered)):
            group = []
            for j in range(n):
                c, text, score = completions[i * n + j], texts[i * n + j], scores[i * n + j]
                completion_ids = r.response_prefix_ids + c.ids
                group.append(Rollout(
                    problem=problem, prompt_ids=list(r.trained_prompt_ids), completion_ids=completion_ids,
                    text=r.response_prefix_text + text, reward=score.reward,
                    reward_terms=dict(getattr(score, "terms", {})), correct=score.correct, hint=hint,
                    hint_token_count=len(r.response_prefix_ids), round=round,
                    verifier_timed_out=score.timed_out, truncated=c.truncated,
                    sampled_prompt_ids=list(r.prompt_ids) if r.train_prompt_ids is not None else None,
                ))
            out.append(group)
        return out


@dataclass
class RolloutContext:
    """What a strategy may use while reshaping one step's groups."""

    sampler: Sampler
    step: int
    total_steps: int
    num_generations: int
    seed: int
    stats: dict[str, float]
    # more training problems on demand (DAPO-style refills); None when the stage was given no problem pool
    draw_problems: Callable[[int], list[Problem]] | None = None
    # optimizer updates per rollout batch (train.mini_batches): TRL's step counts updates, a schedule counts batches
    updates_per_batch: int = 1

    @property
    def batch_index(self) -> int:
        """0-based index of this rollout batch (verl's global_steps - 1): what warm-ups and windows count."""
        return self.step // self.updates_per_batch

    def sub_seed(self, k: int) -> int:
        """Distinct, reproducible seeds for extra generation calls within a step."""
        return (self.seed * 1_000_003 + self.step * 101 + k) % (2**31)


class RolloutStage:
    """Samples each problem's group, then hands the step to the strategy.

    `problem_pool` (optional, e.g. the run's training problems) backs `RolloutContext.draw_problems` for
    strategies that need more problems than the step was given. A strategy with `wants_initial_samples =
    False` (SEELE: it samples its groups in rounds itself) gets groups with no rollouts instead; the
    "before" statistics then describe the groups it returns.
    """

    def __init__(self, sampler: Sampler, strategy, num_generations: int, total_steps: int, seed: int,
                 problem_pool: Sequence[Problem] | None = None, updates_per_batch: int = 1):
        if updates_per_batch < 1:
            raise ValueError("updates_per_batch must be >= 1")
        self.updates_per_batch = updates_per_batch
        self.tracker = CrossingTracker()
        self.sampler = sampler
        self.strategy = strategy
        self.num_generations = num_generations
        self.total_steps = total_steps
        self.seed = seed
        self.problem_pool = list(problem_pool) if problem_pool is not None else None

    def problem_drawer(self, step: int, exclude: Sequence[Problem] = ()) -> Callable[[int], list[Problem]] | None:
        """draw(n): up to n pool problems not in `exclude` nor drawn before in this step, uniformly at random.
        Deterministic in (seed, step), so a resumed run draws the same problems."""
        pool = self.problem_pool
        if not pool:
            return None
        rng = random.Random(f"draw:{self.seed}:{step}")
        used = {p.id for p in exclude}

        def draw(n: int) -> list[Problem]:
            out: list[Problem] = []
            for _ in range(20 * max(0, n)):  # bounded: a pool smaller than the request just gives fewer
                if len(out) >= n:
                    break
                p = pool[rng.randrange(len(pool))]
                if p.id not in used:
                    used.add(p.id)
                    out.append(p)
            return out

        return draw

    def run(self, problems: list[Problem], step: int) -> Batch:
        t0 = time.perf_counter()
        tokens0 = getattr(self.sampler.generator, "tokens_generated", 0)
        timeouts0 = self.sampler.verifier_timeouts
        self.sampler.step = step
        ctx = RolloutContext(self.sampler, step, self.total_steps, self.num_generations, self.seed, stats={},
                             draw_problems=self.problem_drawer(step, problems),
                             updates_per_batch=self.updates_per_batch)
        sample_first = getattr(self.strategy, "wants_initial_samples", True)
        if sample_first:
            groups_rollouts = self.sampler.sample([(p, None) for p in problems], self.num_generations,
                                                  seed=ctx.sub_seed(0))
        else:
            groups_rollouts = [[] for _ in problems]
        batch = Batch([Group(p, rs) for p, rs in zip(problems, groups_rollouts)], step=step)
        before = group_stats(batch.groups, prefix="") if sample_first else None
        t1 = time.perf_counter()
        batch = self.strategy.rescue(batch, ctx)
        if before is None:
            before = group_stats(batch.groups, prefix="")
        stats = dict(before)
        stats["zero_adv_frac_before"] = before["zero_adv_frac"]
        stats.update(ctx.stats)
        after = group_stats(batch.groups, prefix="")
        stats["zero_adv_frac"] = after["zero_adv_frac"]
        stats["all_wrong_frac_after"] = after["all_wrong_frac"]
        stats["truncated_frac"] = after["truncated_frac"]
        stats["all_wrong_truncated_frac"] = after["all_wrong_truncated_frac"]
        stats.update(self.tracker.observe(batch))
        for key, value in after.items():
            if key.startswith("zero_adv_frac/"):
                stats[key] = value
        stats["hinted_sample_frac"] = sum(r.hint is not None for r in batch.rollouts) / max(1, len(batch.rollouts))
        stats["tokens_generated"] = getattr(self.sampler.generator, "tokens_generated", 0) - tokens0
        stats["verifier_timeouts"] = self.sampler.verifier_timeouts - timeouts0
        stats.update(reward_term_stats(batch.rollouts))
        stats["time/sample_s"] = t1 - t0
        stats["time/rescue_s"] = time.perf_counter() - t1
        batch.stats = stats
        return batch


def group_stats(groups: list[Group], prefix: str = "") -> dict[str, float]:
    """Pass rate per level, share of all-wrong and zero-advantage groups (overall and per level)."""
    by_level: dict[int, list[Group]] = defaultdict(list)
    for g in groups:
        by_level[g.problem.level or 0].append(g)
    n = max(1, len(groups))
    rows = max(1, sum(len(g.rollouts) for g in groups))
    stats = {
        f"{prefix}pass_rate": sum(g.num_correct for g in groups) / rows,
        f"{prefix}all_wrong_frac": sum(g.all_wrong for g in groups) / n,
        f"{prefix}zero_adv_frac": sum(g.zero_advantage for g in groups) / n,
        f"{prefix}truncated_frac": sum(r.truncated for g in groups for r in g.rollouts) / rows,
        # all wrong *and* every answer cut off: zero advantage from the length limit, not from difficulty
        f"{prefix}all_wrong_truncated_frac": sum(
            g.all_wrong and bool(g.rollouts) and all(r.truncated for r in g.rollouts) for g in groups) / n,
    }
    for level, gs in sorted(by_level.items()):
        if level:
            stats[f"{prefix}pass_rate/L{level}"] = sum(g.num_correct for g in gs) / sum(len(g.rollouts) for g in gs)
            stats[f"{prefix}zero_adv_frac/L{level}"] = sum(g.zero_advantage for g in gs) / len(gs)
    return stats


def reward_term_stats(rollouts: list[Rollout]) -> dict[str, float]:
    """Mean of each reward term (`reward/<term>`, `reward/<term>/<part>`) and hit rate of each guard
    (`guard/<name>`) over the rollouts that carry them (composite rewards only; rollouts a strategy made
    without scoring, e.g. injected references, carry none)."""
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for r in rollouts:
        for name, value in r.reward_terms.items():
            key = name if name.startswith("guard/") else f"reward/{name}"
            sums[key] += value
            counts[key] += 1
    return {key: sums[key] / counts[key] for key in sorted(sums)}
