"""What the hint-family strategies (guide, pope, self_hint) share: an all-wrong group is replaced, whole, by a
group sampled under guidance.

Scaf-GRPO (scaf_grpo.py) swaps one failure for one hinted success, so its advantage baseline mixes hinted and
unhinted samples. Guide-GRPO, POPE and SAGE instead regenerate the collapsed group with the guidance in the
context: all num_generations samples of the new group share one prompt, and TRL's group advantage is the guided
group's own (1 success in 8: +2.47 / -0.35 as for any group). The group may stay all wrong; it then carries no
gradient, as it did before.

When the guidance starts: the papers give it from the first step. `exemption=True` on a strategy applies the
shared Scaf-GRPO schedule (strategy.exemption_*, strategy.trigger; scaf_grpo.HintSchedule) instead, for
comparisons at equal warm-up. The per-step counters use the `scaf/` keys every rescue strategy logs
(scaf/triggered, scaf/rescued, scaf/replaced, scaf/rescue_rate), so the cliff benchmark's table reads them alike.
"""
from __future__ import annotations

from scaffold_rl.strategies.base import RescueStrategy
from scaffold_rl.strategies.scaf_grpo import ACTIVE, EXEMPT, WAITING, HintSchedule
from scaffold_rl.types import Batch, Group, Rollout


def schedule_if(config, enabled: bool) -> HintSchedule | None:
    """The shared Scaf-GRPO schedule when `enabled`, else None (guidance from the first rollout batch)."""
    return HintSchedule.from_config(config) if enabled else None


class GroupRescue(RescueStrategy):
    """All-wrong groups, once the schedule (if any) allows, are re-sampled whole; subclasses say how."""

    def __init__(self, schedule: HintSchedule | None = None):
        self.schedule = schedule

    def guided_groups(self, groups: list[Group], ctx, stats: dict) -> list[list[Rollout] | None]:
        """For each triggered group, the rollouts of its replacement (num_generations of them), or None to keep it."""
        raise NotImplementedError

    def blank_stats(self) -> dict[str, float]:
        """The subclass's own counters at zero, so every step logs the same keys."""
        return {}

    def rescue(self, batch: Batch, ctx) -> Batch:
        all_wrong = [i for i, g in enumerate(batch.groups) if g.all_wrong]
        frac = len(all_wrong) / max(1, len(batch.groups))
        phase = ACTIVE if self.schedule is None else self.schedule.phase(ctx.batch_index, frac)
        triggered = all_wrong if phase == ACTIVE else []
        stats = {**self.blank_stats(), "scaf/exempt": float(phase == EXEMPT),
                 "scaf/waiting_plateau": float(phase == WAITING), "scaf/all_wrong_before": float(len(all_wrong)),
                 "scaf/triggered": float(len(triggered))}
        groups = list(batch.groups)
        found = self.guided_groups([groups[i] for i in triggered], ctx, stats) if triggered else []
        rescued = replaced = 0
        for i, rollouts in zip(triggered, found):
            if rollouts is None:
                continue
            if len(rollouts) != len(groups[i].rollouts):
                raise RuntimeError(f"{self.name}: a guided group of {len(rollouts)} rollouts replaces one of "
                                   f"{len(groups[i].rollouts)}")
            groups[i] = Group(groups[i].problem, rollouts)
            replaced += len(rollouts)
            rescued += any(r.correct for r in rollouts)
        stats.update({"scaf/rescued": float(rescued), "scaf/replaced": float(replaced),
                      "scaf/rescue_rate": rescued / len(triggered) if triggered else 0.0})
        ctx.stats.update(stats)
        return Batch(groups, step=batch.step, stats=dict(batch.stats))

    def extra_state(self) -> dict:
        """Subclass state besides the schedule (dict-valued, keyed by problem id: merged across processes)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    def state_dict(self) -> dict:
        out = dict(self.extra_state())
        if self.schedule is not None:
            out["schedule"] = self.schedule.state_dict()
        return out

    def load_state_dict(self, state: dict) -> None:
        if not state:
            return
        if self.schedule is not None and "schedule" in state:
            self.schedule.load_state_dict(state["schedule"])
        self.load_extra_state({k: v for k, v in state.items() if k != "schedule"})
