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
    """Class decorator: `strategy.name=<cls.name>` builds it (`scaffold_rl.register_strategy`).

    Its knobs: a built-in strategy reads its own subsection (`config_section = "seele"`: the dataclass
    `config.strategy.seele`, declared in config.py) in `from_config(config)`. A plugin strategy declares
    `Options`, a dataclass of its knobs, which `strategy.options: {...}` fills (checked at startup, errors naming
    `strategy.options.<key>`); it is built by `from_config(config)` when it has one, else `cls(options)` (or
    `cls()` without Options)."""
    if not isinstance(getattr(cls, "name", None), str) or not cls.name or cls.name == RescueStrategy.name:
        raise ValueError(f"{cls.__qualname__}: a registered strategy needs its own `name`")
    STRATEGIES[cls.name] = cls
    return cls


def _builtin() -> None:
    from scaffold_rl.strategies import (  # noqa: F401 registers
        dynamic_sampling, grpo, guide, luffy, pope, questa, reference, scaf_grpo, seele, self_hint)


def strategy_class(config) -> type[RescueStrategy]:
    """The class `config.strategy.name` names, after the built-ins and the config's `plugins` are imported; an
    unknown name is a ConfigError listing the available ones."""
    from scaffold_rl.configio import config_error
    from scaffold_rl.tasks.base import import_plugins

    _builtin()
    import_plugins(getattr(config, "plugins", ()))
    name = config.strategy.name
    if name not in STRATEGIES:
        raise config_error(config, "strategy.name", f"unknown strategy {name!r}; available: "
                           f"{', '.join(sorted(STRATEGIES))} (a plugin strategy registers with "
                           "@scaffold_rl.register_strategy in a module named in `plugins`)")
    return STRATEGIES[name]


def strategy_options(config, cls: type[RescueStrategy]):
    """`strategy.options` as `cls.Options` (None for a strategy without Options, which takes none)."""
    from scaffold_rl.configio import build_section, config_error

    given = dict(config.strategy.options or {})
    section = getattr(cls, "config_section", None)
    options_cls = getattr(cls, "Options", None)
    if options_cls is None:
        if given:
            where = f"its subsection strategy.{section}.*" if section else "none"
            raise config_error(config, "strategy.options", f"strategy {cls.name!r} takes no strategy.options "
                               f"(given {sorted(given)}); its knobs: {where}")
        return None
    return build_section(options_cls, given, "strategy.options", like=config)


def check_strategy(config) -> None:
    """Startup check (before any model is loaded): the name is registered and its options are valid."""
    strategy_options(config, strategy_class(config))


def build_strategy(config) -> RescueStrategy:
    """The strategy named by `config.strategy.name`, built from the whole run config."""
    cls = strategy_class(config)
    if hasattr(cls, "from_config"):
        strategy_options(config, cls)  # refuses options a strategy does not take
        return cls.from_config(config)
    options = strategy_options(config, cls)
    return cls() if options is None else cls(options)
