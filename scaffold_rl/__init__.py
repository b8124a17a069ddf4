"""scaffold-rl: RL for reasoning LMs that crosses the learning cliff.

What a user needs, from the package root (imported lazily: `import scaffold_rl` stays light):

    scaffold_rl.train(config, ..., model=, tokenizer=, dataset=, reward_funcs=)   the Python API (api.py)
    scaffold_rl.RunConfig, load_config, ConfigError                                  configuration
    scaffold_rl.register_task, TaskBase, Task, register_prefix                        your own tasks
    scaffold_rl.register_strategy, RescueStrategy                                     your own strategies
    scaffold_rl.Problem, Hint, Rollout, Group, Batch                                  the data strategies see
"""

__version__ = "0.1.0"

_EXPORTS = {
    "TrainResult": "scaffold_rl.api",
    "RunConfig": "scaffold_rl.config",
    "load_config": "scaffold_rl.configio",
    "save_config": "scaffold_rl.configio",
    "ConfigError": "scaffold_rl.configio",
    "register_task": "scaffold_rl.tasks.base",
    "register_prefix": "scaffold_rl.tasks.base",
    "TaskBase": "scaffold_rl.tasks.base",
    "Task": "scaffold_rl.tasks.base",
    "RescueStrategy": "scaffold_rl.strategies.base",
    "Problem": "scaffold_rl.types",
    "Hint": "scaffold_rl.types",
    "Rollout": "scaffold_rl.types",
    "Group": "scaffold_rl.types",
    "Batch": "scaffold_rl.types",
}

__all__ = ["train", "register_strategy", *_EXPORTS]


def __getattr__(name):
    import importlib

    if name == "train":  # the training package, callable: scaffold_rl.train(...) is scaffold_rl.api.train
        return importlib.import_module("scaffold_rl.train")
    if name == "register_strategy":
        return importlib.import_module("scaffold_rl.strategies.base").register
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'scaffold_rl' has no attribute {name!r}")
