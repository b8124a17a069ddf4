"""Scaf-GRPO (arXiv 2510.19807): cross the learning cliff with the least hint the current policy needs.

An all-wrong group has zero GRPO advantage and never reaches the gradient. After a guidance-free exemption,
such a group triggers a search over the problem's hint ladder (K1..K4, P1..P4, S1..S4, see hint_ladder.py);
the least level under which the policy answers correctly yields successes that replace failures of the group,
so the group gets a non-zero advantage (one success in 8: +2.47 / -0.35). Where the rescued sample's hint sits
in training is `placement`:

* "prompt"   (paper-faithful): the hint stays in the prompt; only generated tokens carry loss.
* "response" (our CPU trials' winner): the original prompt; the hint tokens open the trained response.
* "dropped"  (the paper's rejected off-policy variant): the original prompt; the generated tokens alone.

`CliffRescue` holds what Scaf-GRPO shares with the reference-injection control (reference.py): the exemption
and trigger schedule, the choice of groups, the replacement, the per-step counters and the checkpointed state.
"""
from __future__ import annotations

import dataclasses
import math

from scaffold_rl.strategies.base import RescueStrategy, register
from scaffold_rl.strategies.hint_ladder import HintLadder
from scaffold_rl.types import Batch, Group, Hint, Problem, Rollout

EXEMPT, WAITING, ACTIVE = "exempt", "waiting", "active"


class PlateauDetector:
    """Our extension (the paper names a "plateau diagnosis" but gives no formula).

    Observes one number per step, the fraction of groups that were all wrong before any rescue. While the
    policy still learns to solve those problems unaided, that fraction falls. The plateau is reached when the
    mean over the last `window` steps has not fallen by more than `tolerance` vs the mean over the `window`
    steps before it (so at least 2 x window observations are needed).
    """

    def __init__(self, window: int = 10, tolerance: float = 0.01):
        if window < 1 or tolerance < 0:
            raise ValueError("plateau window must be >= 1 and tolerance >= 0")
        self.window, self.tolerance = window, tolerance
        self.history: list[float] = []

    def observe(self, all_wrong_frac: float) -> None:
        self.history = (self.history + [float(all_wrong_frac)])[-2 * self.window:]

    def plateaued(self) -> bool:
        w = self.window
        if len(self.history) < 2 * w:
            return False
        previous, current = sum(self.history[:w]) / w, sum(self.history[w:]) / w
        return previous - current <= self.tolerance


class HintSchedule:
    """When a strategy may intervene: never during the exemption, then at once ('all_wrong') or from the first
    plateau on ('plateau', which then stays on).

    Everything here counts **rollout batches**, as the official code's global_steps does (one per generation
    batch), not optimizer updates: with train.mini_batches = 4 a batch is 4 of TRL's steps. Batches are counted
    from 1 (t = ctx.batch_index + 1), and intervention needs t > exemption (strict, as the official code): an
    exemption of E leaves exactly E hint-free rollout batches, and E = 0 hints from the first one. The fraction
    form takes that share of the planned rollout batches (train.steps / train.mini_batches). The plateau detector
    observes one value per rollout batch, so its window is in batches too.
    """

    def __init__(self, total_steps: int, exemption_fraction: float = 0.15, exemption_steps: int | None = None,
                 trigger: str = "all_wrong", plateau_window: int = 10, plateau_tolerance: float = 0.01):
        """`total_steps`: planned rollout batches (the fraction form's base)."""
        if trigger not in ("all_wrong", "plateau"):
            raise ValueError(f"trigger must be 'all_wrong' or 'plateau', got {trigger!r}")
        if exemption_steps is not None:
            self.exemption = int(exemption_steps)
        else:  # the epsilon keeps 0.29 * 100 = 28.999... from flooring to 28
            self.exemption = math.floor(exemption_fraction * total_steps + 1e-9)
        self.trigger = trigger
        self.detector = PlateauDetector(plateau_window, plateau_tolerance)
        self.started_at: int | None = None  # rollout batch at which the plateau trigger switched hinting on

    @classmethod
    def from_config(cls, config) -> HintSchedule:
        s = config.strategy
        batches = math.ceil(config.train.steps / config.train.mini_batches)
        return cls(batches, s.exemption_fraction, s.exemption_steps, s.trigger, s.plateau_window,
                   s.plateau_tolerance)

    def phase(self, batch_index: int, all_wrong_frac: float) -> str:
        """Record this rollout batch's all-wrong fraction and say whether to intervene (EXEMPT / WAITING / ACTIVE).
        `batch_index` is 0-based (RolloutContext.batch_index)."""
        if self.trigger == "plateau":
            self.detector.observe(all_wrong_frac)
        if batch_index + 1 <= self.exemption:
            return EXEMPT
        if self.trigger == "plateau" and self.started_at is None:
            if not self.detector.plateaued():
                return WAITING
            self.started_at = batch_index
        return ACTIVE

    def state_dict(self) -> dict:
        return {"history": list(self.detector.history), "started_at": self.started_at}

    def load_state_dict(self, state: dict) -> None:
        self.detector.history = [float(x) for x in state.get("history", [])]
        self.started_at = state.get("started_at")


def plain_prompt_ids(ctx, problem: Problem) -> list[int]:
    """The unhinted prompt, as every ordinary rollout of the problem was generated from."""
    return list(ctx.sampler.renderer.render(problem, None).prompt_ids)


def augment(group: Group, successes: list[Rollout], replace: int) -> tuple[Group, int]:
    """The group with its first k rollouts replaced by successes; k = min(replace, found, size - 1).

    Size never changes (TRL groups positionally) and one failure always stays so the advantage is not zero.
    The first rows are replaced, as the official code does; in an all-wrong group they are all failures.
    """
    k = max(0, min(replace, len(successes), len(group.rollouts) - 1))
    return Group(group.problem, list(successes[:k]) + list(group.rollouts[k:])), k


class CliffRescue(RescueStrategy):
    """Exemption + trigger + replace-failures skeleton; subclasses say how successes are found."""

    def __init__(self, schedule: HintSchedule, replace: int = 1):
        if replace < 1:
            raise ValueError("replace must be >= 1")
        self.schedule, self.replace = schedule, replace

    @classmethod
    def common_kwargs(cls, config) -> dict:
        s = config.strategy
        if s.replace >= config.rollout.num_generations:
            raise ValueError(f"strategy.replace={s.replace} must be below rollout.num_generations="
                             f"{config.rollout.num_generations}: one failure must stay for a non-zero advantage")
        return {"schedule": HintSchedule.from_config(config), "replace": s.replace}

    def find_successes(self, groups: list[Group], ctx, stats: dict) -> list[list[Rollout]]:
        """For each triggered group, the successful rollouts that may replace its failures (maybe none)."""
        raise NotImplementedError

    def blank_stats(self) -> dict[str, float]:
        """The subclass's own counters at zero: every step logs the same keys, exempt steps included."""
        return {}

    def rescue(self, batch: Batch, ctx) -> Batch:
        """Groups with no correct sample (binary rewards: all 0) are triggered once the schedule is ACTIVE;
        groups with any success are never touched. rescue_rate is 0 on steps where nothing was triggered."""
        all_wrong = [i for i, g in enumerate(batch.groups) if g.all_wrong]
        phase = self.schedule.phase(ctx.batch_index, len(all_wrong) / max(1, len(batch.groups)))
        triggered = all_wrong if phase == ACTIVE else []
        stats = {**self.blank_stats(), "scaf/exempt": float(phase == EXEMPT),
                 "scaf/waiting_plateau": float(phase == WAITING), "scaf/all_wrong_before": float(len(all_wrong)),
                 "scaf/triggered": float(len(triggered))}
        groups = list(batch.groups)
        found = self.find_successes([groups[i] for i in triggered], ctx, stats) if triggered else []
        rescued = replaced = 0
        for i, successes in zip(triggered, found):
            groups[i], k = augment(groups[i], successes, self.replace)
            rescued += k > 0
            replaced += k
        stats.update({"scaf/rescued": float(rescued), "scaf/replaced": float(replaced),
                      "scaf/rescue_rate": rescued / len(triggered) if triggered else 0.0})
        ctx.stats.update(stats)
        return Batch(groups, step=batch.step, stats=dict(batch.stats))

    def state_dict(self) -> dict:
        return {"schedule": self.schedule.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if state:
            self.schedule.load_state_dict(state["schedule"])


@register
class ScafGRPO(CliffRescue):
    name = "scaf_grpo"
    config_section = "scaf"  # strategy.scaf.* (config.ScafOptions)

    def __init__(self, schedule: HintSchedule, ladder: HintLadder | None = None, search: str = "sequential",
                 samples_per_level: int = 1, replace: int = 1, placement: str = "prompt"):
        super().__init__(schedule, replace)
        if search not in ("batched", "sequential"):
            raise ValueError(f"search must be 'batched' or 'sequential', got {search!r}")
        if placement not in ("prompt", "response", "dropped"):
            raise ValueError(f"placement must be 'prompt', 'response' or 'dropped', got {placement!r}")
        if samples_per_level < 1:
            raise ValueError("samples_per_level must be >= 1")
        self.ladder = ladder or HintLadder()
        self.search, self.samples_per_level, self.placement = search, samples_per_level, placement

    @classmethod
    def from_config(cls, config) -> ScafGRPO:
        o = config.strategy.scaf
        return cls(ladder=HintLadder(tuple(o.hint_tiers), o.incremental), search=o.search,
                   samples_per_level=o.samples_per_level, placement=o.hint_placement, **cls.common_kwargs(config))

    def blank_stats(self):
        keys = ["hint_missing_tiers", "scaf/no_hints", "scaf/search_tokens", "scaf/search_samples",
                "scaf/level_index_mean"] + [f"scaf/level/{name}" for name in self.ladder.level_names()]
        return dict.fromkeys(keys, 0.0)

    # --- search -------------------------------------------------------------------------------------------
    def find_successes(self, groups, ctx, stats):
        ladders = [self.ladder.rungs(g.problem) for g in groups]
        stats["hint_missing_tiers"] = float(sum(bool(self.ladder.missing_tiers(g.problem)) for g in groups))
        stats["scaf/no_hints"] = float(sum(not lad for lad in ladders))
        tokens0 = getattr(ctx.sampler.generator, "tokens_generated", 0)
        search = self._search_batched if self.search == "batched" else self._search_sequential
        best, samples = search([g.problem for g in groups], ladders, ctx)
        stats["scaf/search_tokens"] = float(getattr(ctx.sampler.generator, "tokens_generated", 0) - tokens0)
        stats["scaf/search_samples"] = float(samples)
        self._level_stats(best, ladders, stats)
        return [wins for _, wins in (b or (None, []) for b in best)]

    def _items(self, problem: Problem, hint: Hint, ctx) -> tuple[Problem, Hint]:
        # the search samples each placement exactly as it will be trained (the renderer lays it out), and only what
        # the model wrote earns the reward: a solution part that already holds the answer gives nothing for free
        return problem, dataclasses.replace(hint, placement=self.placement, scored=False)

    def _search_batched(self, problems, ladders, ctx):
        """Every level of every triggered problem in one generation call; keep each problem's least success."""
        keys = [(i, rung) for i, ladder in enumerate(ladders) for rung in range(len(ladder))]
        if not keys:
            return [None] * len(problems), 0
        items = [self._items(problems[i], ladders[i][rung], ctx) for i, rung in keys]
        out = ctx.sampler.sample(items, self.samples_per_level, seed=ctx.sub_seed(1), round=1)
        best = [None] * len(problems)
        for (i, rung), rollouts in zip(keys, out):  # keys run through each ladder in order
            wins = [r for r in rollouts if r.correct]
            if wins and best[i] is None:
                best[i] = (rung, wins)
        return best, len(keys) * self.samples_per_level

    def _search_sequential(self, problems, ladders, ctx):
        """Level by level, all still-unrescued problems in one call per level; a problem stops at its first win."""
        best, samples = [None] * len(problems), 0
        for rung in range(max(map(len, ladders), default=0)):
            todo = [i for i in range(len(problems)) if best[i] is None and rung < len(ladders[i])]
            if not todo:
                break
            items = [self._items(problems[i], ladders[i][rung], ctx) for i in todo]
            out = ctx.sampler.sample(items, self.samples_per_level, seed=ctx.sub_seed(1 + rung), round=1)
            samples += len(todo) * self.samples_per_level
            for i, rollouts in zip(todo, out):
                wins = [r for r in rollouts if r.correct]
                if wins:
                    best[i] = (rung, wins)
        return best, samples

    def _level_stats(self, best, ladders, stats) -> None:
        rungs = []
        for i, b in enumerate(best):
            if b is not None:
                key = f"scaf/level/{ladders[i][b[0]].name}"
                stats[key] = stats.get(key, 0.0) + 1.0
                rungs.append(b[0] + 1)
        stats["scaf/level_index_mean"] = sum(rungs) / len(rungs) if rungs else 0.0
