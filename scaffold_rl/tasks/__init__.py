"""Tasks: where problems come from, how they are shown, how answers are read and scored (see base.py)."""
from scaffold_rl.tasks.base import PREFIXES, TASKS, Task, TaskBase, build_task, import_plugins, register_prefix, register_task
from scaffold_rl.tasks.files import load_problems
from scaffold_rl.tasks.labels import (
    check_held_out,
    check_training_labels,
    has_label,
    labeled_only,
    without_labels,
)

__all__ = [
    "PREFIXES", "TASKS", "Task", "TaskBase", "build_task", "check_held_out", "check_training_labels", "has_label",
    "import_plugins", "labeled_only", "load_problems", "register_prefix", "register_task", "without_labels",
]
