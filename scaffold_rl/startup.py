"""Checks a run makes at startup, before any model is loaded, that the config loader cannot make alone: they need
the names the `plugins` register (strategies, tasks, reward terms) or packages that may not be installed.

Each failure is a ConfigError located like a load-time one (`file:line` or the override) when the config came
from `load_config`. Nothing here imports TRL: `scaffold-rl eval`, `search` and `prm` run these checks too.
"""
from __future__ import annotations

import importlib.util

from scaffold_rl.configio import ConfigError, config_error

# trackers we know how to check for, and the module each needs
TRACKER_MODULES = {"tensorboard": ("tensorboard", "tensorboardX"), "wandb": ("wandb",), "trackio": ("trackio",)}
PIP_HINTS = {"tensorboard": "pip install 'scaffold-rl[tracking]' (tensorboard)", "wandb": "pip install wandb",
             "trackio": "pip install trackio"}


def trackers(cfg) -> list[str]:
    """train.report_to as a list ([] for 'none')."""
    value = cfg.train.report_to
    names = [value] if isinstance(value, str) else list(value)
    return [] if names == ["none"] else names


def import_config_plugins(cfg) -> None:
    from scaffold_rl.tasks.base import import_plugins

    try:
        import_plugins(cfg.plugins)
    except (ModuleNotFoundError, FileNotFoundError) as err:
        raise config_error(cfg, "plugins", str(err)) from err


def check_reward(cfg, python_funcs: bool = False) -> None:
    """reward.spec parses (terms registered by plugins included); reward.funcs import (unless the functions were
    handed over in Python)."""
    r = cfg.reward
    if r.spec is not None:
        from scaffold_rl.rewards.registry import parse_spec

        try:
            parse_spec(r.spec)
        except ValueError as err:
            raise config_error(cfg, "reward.spec", f"invalid reward.spec: {err}") from err
    if r.funcs and not python_funcs:
        from scaffold_rl.rewards.trl_funcs import load_reward_funcs

        try:
            load_reward_funcs(r.funcs)
        except ValueError as err:
            raise config_error(cfg, "reward.funcs", str(err)) from err


def check_trackers(cfg) -> None:
    for name in trackers(cfg):
        modules = TRACKER_MODULES.get(name)
        if modules and not any(importlib.util.find_spec(m) for m in modules):
            raise config_error(cfg, "train.report_to", f"train.report_to={name} needs {name} installed: "
                               f"{PIP_HINTS[name]}")


def check_config(cfg, python_funcs: bool = False) -> None:
    """Every startup check on the config alone: plugins import, the strategy and its options, the reward, the
    trackers."""
    from scaffold_rl.strategies.base import check_strategy

    import_config_plugins(cfg)
    check_strategy(cfg)
    check_reward(cfg, python_funcs=python_funcs)
    check_trackers(cfg)


def check_model_reads_task(cfg, task, model_given: bool = False) -> None:
    """The embedded model reads only tasks that say so (Task.embedded_ok: the arithmetic task, reasoning-gym's);
    any other task needs model.path (or a model handed over in Python)."""
    if model_given or cfg.model.path or getattr(task, "embedded_ok", False):
        return
    raise config_error(cfg, "task.name", f"task {cfg.task.name!r} needs a model that can read it: set model.path to a "
                       "Hugging Face model folder or a cached hub id (or pass model= to scaffold_rl.train). The "
                       "embedded model is a tiny character-level model pretrained on the arithmetic task only")


__all__ = ["ConfigError", "check_config", "check_model_reads_task", "check_reward", "check_trackers", "trackers"]
