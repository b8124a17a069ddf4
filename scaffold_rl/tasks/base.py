"""What a task is to the rest of the pipeline, and how `task.name` finds one.

A task owns everything that is specific to a family of problems: where its training and held-out problems come
from (with levels when it has them), how a problem is shown to the model (its renderer), how the final answer
is read from a response, and how a response is scored. The correctness reward calls the task's scorer, so what
counts as `correct` (and therefore which groups are all wrong and get rescued) follows the task: the embedded
task checks the whole chain, a benchmark file checks the answer with math-verify, a reasoning-gym dataset uses
its own `score_answer` with partial credit.

`task.name` resolves, in order: a registered name (`@register_task`, including `arithmetic`), a prefixed family
(`rg:<dataset>`, `hf:<dataset>`), then a shipped benchmark name or a JSONL/parquet path.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from scaffold_rl.types import Problem


@runtime_checkable
class Task(Protocol):
    """The task interface. `TaskBase` gives the usual defaults; any object with these members works."""

    name: str
    answer_pattern: str | None  # the task's own answer regex (its last match is the answer), or None: \\boxed{}
    supports_hints: bool  # whether problems carry hint tiers or solution steps that hint strategies can use
    first_hard_level: int | None  # the level hint-depth evaluation measures latent ability on (None: none)
    split_info: dict[str, Any]  # how the held-out set was chosen, written to the run's eval files and report
    # whether the embedded tiny model (character-level, pretrained on arithmetic chains) can read its problems: a
    # run without model.path on a task that says False is an error at startup
    embedded_ok: bool

    def train_problems(self, n: int) -> list[Problem]: ...

    def eval_problems(self, n_per_level: int) -> dict[int, list[Problem]]: ...

    def renderer(self, tokenizer) -> Any: ...

    def extract_answer(self, text: str) -> str | None: ...

    def scorer(self, kind: str, timeout_s: float) -> Callable[[Problem, str], Any]: ...


class TaskBase:
    """Defaults: answers in \\boxed{} (or `answer_pattern`), checked by the shared verifier; chat rendering."""

    name = "task"
    answer_pattern: str | None = None
    supports_hints = False
    first_hard_level: int | None = None
    embedded_ok = False

    def __init__(self, cfg=None):
        self.cfg = cfg
        self.split_info: dict[str, Any] = {}

    def train_problems(self, n: int) -> list[Problem]:
        raise NotImplementedError

    def eval_problems(self, n_per_level: int) -> dict[int, list[Problem]]:
        raise NotImplementedError

    def renderer(self, tokenizer):
        from scaffold_rl.rollout.prompts import ChatRenderer

        t = getattr(self.cfg, "task", None)
        system = getattr(t, "system_prompt", None) if t is not None else None
        kwargs = getattr(getattr(self.cfg, "rollout", None), "chat_template_kwargs", None) or {}
        return ChatRenderer(tokenizer, chat_template_kwargs=kwargs,
                            **({} if system is None else {"system": system or None}))

    def extract_answer(self, text: str) -> str | None:
        """The answer the checker compares (boxed, or found in prose), so majority votes count what it scores."""
        from scaffold_rl.verify import Verifier, default_verifier

        if self.answer_pattern is None:
            return default_verifier().extract(text)
        return Verifier(answer_pattern=self.answer_pattern).extract(text)

    def scorer(self, kind: str, timeout_s: float):
        """Score(reward, correct, timed_out) of a response: 'strict' = the reference chain reproduced, 'answer' =
        the final answer verifies against the gold one (time-bounded)."""
        from scaffold_rl.rewards.correctness import CorrectnessReward

        return CorrectnessReward(kind, answer_pattern=self.answer_pattern, timeout_s=timeout_s)


TASKS: dict[str, Callable[[Any], Task]] = {}
PREFIXES: dict[str, Callable[[Any, str], Task]] = {}


def register_task(name: str):
    """Class decorator (or function decorator) making `task.name=<name>` build it: `cls.from_config(cfg)` when the
    class has one, else `cls(cfg)`."""

    def wrap(obj):
        TASKS[name] = getattr(obj, "from_config", obj)
        return obj

    return wrap


def register_prefix(prefix: str):
    """`task.name=<prefix>:<rest>` builds `factory(cfg, rest)` (rg:, hf:)."""

    def wrap(factory):
        PREFIXES[prefix] = factory
        return factory

    return wrap


def import_plugins(modules: list[str] | tuple[str, ...]) -> None:
    """Import user modules named in the config (`plugins`: dotted names or .py paths) so their registrations
    (@register_task, strategies, reward terms) exist before names are resolved. Idempotent."""
    for spec in modules or ():
        if spec.endswith(".py"):
            path = Path(spec).expanduser().resolve()
            name = f"scaffold_rl_plugin_{path.stem}"
            if name in sys.modules:
                continue
            if not path.is_file():
                raise FileNotFoundError(f"plugin {spec!r}: no such file")
            module_spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
        else:
            try:
                importlib.import_module(spec)
            except ModuleNotFoundError as err:
                raise ModuleNotFoundError(f"plugin {spec!r} cannot be imported ({err}); name an importable module "
                                          "or a path to a .py file") from err


def _builtin() -> None:
    from scaffold_rl.tasks import arithmetic, files, records  # noqa: F401 - registers the built-in tasks

    for optional in ("scaffold_rl.tasks.reasoning_gym", "scaffold_rl.tasks.hf"):
        if importlib.util.find_spec(optional) is not None:
            importlib.import_module(optional)


def build_task(cfg) -> Task:
    """The task `cfg.task.name` names (see the module docstring for the order)."""
    _builtin()
    import_plugins(getattr(cfg, "plugins", ()))
    name = cfg.task.name
    if name in TASKS:
        return TASKS[name](cfg)
    prefix, sep, rest = name.partition(":")
    if sep and prefix in PREFIXES:
        return PREFIXES[prefix](cfg, rest)
    from scaffold_rl.tasks.files import FileTask

    return FileTask(cfg)
