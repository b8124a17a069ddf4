"""The rescue-strategy interface: the one place where GRPO variants differ.

Given the groups just sampled and their rewards, a strategy decides which problems to re-sample, with what
prompt (a hint, a solution prefix, nothing), and which rollouts to replace, add or drop. It returns the
groups to train on; the trainer recomputes advantages over them. Its state (exemption clock, per-problem
hint rates, ...) is checkpointed with the run through state_dict / load_state_dict.
"""
from __future__ import annotations

from scaffold_rl.types import Batch


class RescueStrategy:
    name = "base"
    # False: the rollout stage skips its plain group and passes groups without rollouts; the strategy samples
    # every group itself (SEELE's hinted rounds), so no unhinted group is generated only to be thrown away
    wants_initial_samples = True

    def rescue(self, batch: Batch, ctx) -> Batch:
        """Return the groups to train on. `ctx` is a rollout.sampler.RolloutContext."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            raise ValueError(f"strategy {self.name!r} keeps no state but was given {sorted(state)}")


STRATEGIES: dict[str, type[RescueStrategy]] = {}


def register(cls: type[RescueStrategy]) -> type[RescueStrategy]:
    STRATEGIES[cls.name] = cls
    return cls


def build_strategy(config) -> RescueStrategy:
    """The strategy named by `config.strategy.name`, built from the whole run config."""
    from scaffold_rl.strategies import (  # noqa: F401 registers
        dynamic_sampling, grpo, guide, luffy, pope, questa, reference, scaf_grpo, seele, self_hint)

    name = config.strategy.name
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; available: {sorted(STRATEGIES)}")
    return STRATEGIES[name].from_config(config) if hasattr(STRATEGIES[name], "from_config") else STRATEGIES[name]()
