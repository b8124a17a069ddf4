"""The crossing metrics the field reports, measured where whole groups are visible (the rollout stage).

* **Graduation events** (Scaf-GRPO's skill graduation): a problem whose last success needed a hint (no unaided
  sample was right) is *hint-dependent*; the first later visit with an unaided correct sample is a graduation
  event. A problem may depend and graduate again. Problems must recur for this to happen, so the count depends
  on how often the sampler revisits them (task.num_train_problems vs steps x prompts_per_step).
* **Prompt usage** (SAGE): the share of training prompts that gave any gradient (a group with non-zero
  advantage), per step, and over distinct problems seen so far.
* **Truncation beside zero advantage**: a group can be all wrong because every answer was cut off
  (TRL #5697), not because the problem is hard; `all_wrong_truncated_frac` counts those groups.

State is per problem id and is checkpointed with the run.
"""
from __future__ import annotations

from scaffold_rl.types import Batch

class CrossingTracker:
    def __init__(self):
        self.hint_dependent: set[str] = set()
        self.used: set[str] = set()
        self.seen: set[str] = set()
        self.graduations = 0

    def observe(self, batch: Batch) -> dict[str, float]:
        events = 0
        for g in batch.groups:
            pid = g.problem.id
            self.seen.add(pid)
            unaided = any(r.correct and r.hint is None for r in g.rollouts)
            hinted = any(r.correct and r.hint is not None for r in g.rollouts)
            if unaided and pid in self.hint_dependent:
                self.hint_dependent.discard(pid)
                events += 1
            elif hinted and not unaided:
                self.hint_dependent.add(pid)
            if not g.zero_advantage:
                self.used.add(pid)
        self.graduations += events
        n = max(1, len(batch.groups))
        return {"cliff/graduations": float(events),
                "cliff/prompt_usage": sum(not g.zero_advantage for g in batch.groups) / n, **self.totals()}

    def totals(self) -> dict[str, float]:
        """The cumulative metrics (recomputed after a multi-process merge)."""
        return {"cliff/graduations_total": float(self.graduations),
                "cliff/hint_dependent": float(len(self.hint_dependent)),
                "cliff/prompt_usage_distinct": len(self.used) / max(1, len(self.seen))}

    def state_dict(self) -> dict:
        return {"hint_dependent": sorted(self.hint_dependent), "used": sorted(self.used), "seen": sorted(self.seen),
                "graduations": self.graduations}

    def load_state_dict(self, state: dict) -> None:
        self.hint_dependent = set(state.get("hint_dependent", []))
        self.used = set(state.get("used", []))
        self.seen = set(state.get("seen", []))
        self.graduations = int(state.get("graduations", 0))

    @staticmethod
    def merge(before: dict, states: list[dict]) -> dict:
        """One state from every process's after a step that started from `before` (each process tracked the
        problems it sampled): additions and removals of each process applied, event counts added."""
        dep = set(before.get("hint_dependent", []))
        start = set(dep)
        used, seen = set(before.get("used", [])), set(before.get("seen", []))
        graduations = int(before.get("graduations", 0))
        for s in states:
            mine = set(s.get("hint_dependent", []))
            dep = (dep | (mine - start)) - (start - mine)
            used |= set(s.get("used", []))
            seen |= set(s.get("seen", []))
            graduations += int(s.get("graduations", 0)) - int(before.get("graduations", 0))
        return {"hint_dependent": sorted(dep), "used": sorted(used), "seen": sorted(seen), "graduations": graduations}
