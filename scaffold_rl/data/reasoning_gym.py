"""reasoning-gym datasets as leveled, split problem sources (the `rg` extra: `pip install 'scaffold-rl[rg]'`).

A dataset's difficulty becomes discrete levels 1..L:
* `task.rg_levels` (level -> config overrides) when given: exactly those levels;
* else the dataset's reasoning-gym curriculum: level L is the curriculum's global level L-1, each attribute at
  that level's value only (rg's `upper_bound` mode, so levels do not include the easier ones); identical
  consecutive configurations (a range attribute's top) are merged;
* else one level: the configuration as given.
`task.rg` (config fields of the dataset) applies on top of the curriculum, so `{min_digits: 2, max_digits: 2}`
fixes chain_sum's operand width and leaves the number of terms as the level.

Train and held-out problems never overlap: each (split, level) draws from its own seeded stream, and a hash of
the question text decides which split a question belongs to, so a question drawn by the wrong stream is
skipped (the arithmetic task's rule; small problem spaces are then still disjoint). Items come from
rg datasets of rg's usual size (500), one seed per chunk of 500 (as rg's own ReseedingDataset does), because
some generators precompute or bound their items by the dataset size.

A problem's reference completion is a worked chain when the dataset has a step builder (`rg_steps.py`) and
`<answer>...</answer>` with the gold answer, the rg answer convention.
"""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from collections import OrderedDict
from typing import Any

from scaffold_rl.data.mixture import level_mixture
from scaffold_rl.types import Problem

ANSWER_PATTERN = r"(?s)<answer>\s?(.*?)\s?</answer>"  # rg's extract_answer: the last tag, one space trimmed
PLAIN_CUE = "\nS:"  # the embedded model's prompt ends here; it continues with the chain and the answer tag
CHUNK = 500  # items per rg dataset instance (rg's default size)
GROUP = 8  # raw draws reserved per problem index (few: every CHUNK draws cost a dataset instance)
MAX_SCAN = 200  # groups scanned before a split is declared (nearly) empty
TEST_FRACTION = 0.2
RESERVED_FIELDS = ("seed", "size")


def require_rg():
    from scaffold_rl.extras import require_extra

    return require_extra("reasoning_gym", "rg", "task.name=rg:<dataset> (reasoning-gym)")


def rg_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reasoning-gym")
    except PackageNotFoundError:
        return "unknown"


def dataset_names() -> list[str]:
    require_rg()
    from reasoning_gym.factory import DATASETS

    return sorted(DATASETS)


def _config_error(msg: str):
    from scaffold_rl.configio import ConfigError

    return ConfigError(msg)


def check_name(name: str) -> None:
    names = dataset_names()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise _config_error(f"task.name=rg:{name}: reasoning-gym ({rg_version()}) has no dataset {name!r}{hint} "
                            f"({len(names)} datasets: {', '.join(names)})")


def config_fields(name: str) -> list[str]:
    from reasoning_gym.factory import DATASETS

    return [f.name for f in dataclasses.fields(DATASETS[name][1]) if f.name not in RESERVED_FIELDS]


def level_configs(name: str, base: dict[str, Any], overrides: dict[int, dict[str, Any]]) -> dict[int, dict]:
    """Level -> the dataset config of that level (see the module docstring)."""
    fields = config_fields(name)
    for where, mapping in [("task.rg", base)] + [(f"task.rg_levels.{lv}", o) for lv, o in overrides.items()]:
        unknown = [k for k in mapping if k not in fields]
        if unknown:
            reserved = [k for k in unknown if k in RESERVED_FIELDS]
            why = (f"{reserved} are set by scaffold-rl (task.seed and the split decide the items)" if reserved
                   else f"unknown field(s) {unknown}")
            raise _config_error(f"{where}: {why}; rg:{name} config fields: {', '.join(fields)}")
    if overrides:
        bad = [lv for lv in overrides if lv < 1]
        if bad:
            raise _config_error(f"task.rg_levels: levels start at 1, got {bad}")
        return {lv: {**base, **overrides[lv]} for lv in sorted(overrides)}
    from reasoning_gym.coaching.base_curriculum import DefaultCurriculumContext, RangeAttributeMode
    from reasoning_gym.factory import create_curriculum, has_curriculum

    if not has_curriculum(name):
        return {1: dict(base)}
    curriculum = create_curriculum(name)
    context = DefaultCurriculumContext(mode=RangeAttributeMode.UPPER_BOUND)
    depth = max(len(a.levels) for a in curriculum.attributes.values())
    names = set()
    for a in curriculum.attributes.values():
        names.update((a.lower_field_name, a.upper_field_name) if hasattr(a, "lower_field_name") else (a.field_name,))
    levels: list[dict] = []
    for g in range(depth):
        curriculum.set_global_level(g)
        conf = curriculum.generate_configuration(context=context)
        values = {k: getattr(conf, k) for k in sorted(names)}
        if not levels or values != levels[-1]:
            levels.append(values)
    return {i + 1: {**values, **base} for i, values in enumerate(levels)}


def _hash_int(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def split_of(question: str, test_fraction: float) -> str:
    return "test" if (_hash_int(question) % 10_000) < test_fraction * 10_000 else "train"


class ReasoningGymSource:
    """Deterministic problems per (split, level) of one reasoning-gym dataset; also the embedded model's
    pretraining source (`mixture`, `identity`, `seed`, as the arithmetic task)."""

    answer_pattern = ANSWER_PATTERN

    def __init__(self, name: str, base: dict[str, Any] | None = None,
                 level_overrides: dict[int, dict[str, Any]] | None = None, seed: int = 0,
                 test_fraction: float = TEST_FRACTION, plain: bool = True):
        require_rg()
        check_name(name)
        from scaffold_rl.data.rg_steps import STEP_BUILDERS

        self.name, self.seed, self.test_fraction, self.plain = name, seed, test_fraction, plain
        self.base = dict(base or {})
        self.levels = level_configs(name, self.base, dict(level_overrides or {}))
        self.steps_of = STEP_BUILDERS.get(name)
        self._datasets: OrderedDict[tuple, Any] = OrderedDict()

    # --- identity ------------------------------------------------------------------------------------------
    def identity(self) -> dict:
        """What decides the problems (and so the pretrained weights): dataset, per-level config, rg version,
        the chain format."""
        from scaffold_rl.data.rg_steps import STEPS_VERSION

        return {"rg": self.name, "levels": json.loads(json.dumps(self.levels, sort_keys=True, default=str)),
                "reasoning_gym": rg_version(), "test_fraction": self.test_fraction,
                "steps": STEPS_VERSION if self.steps_of else None, "format": "plain-1",
                "draws": f"chunk{CHUNK}-group{GROUP}"}

    # --- items -----------------------------------------------------------------------------------------------
    def check_level(self, level: int) -> None:
        if level not in self.levels:
            raise _config_error(f"rg:{self.name} has levels {sorted(self.levels)}, not {level} (set task.train_levels"
                                " / task.eval_levels within them, or define levels with task.rg_levels)")

    def dataset(self, split: str, level: int, chunk: int = 0):
        """The rg dataset instance holding items chunk*CHUNK .. of (split, level): its own seed per chunk."""
        key = (split, level, chunk)
        if key in self._datasets:
            self._datasets.move_to_end(key)
            return self._datasets[key]
        self.check_level(level)
        from reasoning_gym.factory import create_dataset

        seed = _hash_int(f"rg:{self.name}:{self.seed}:{split}:{level}:{chunk}") % (2**31)
        try:
            ds = create_dataset(self.name, **self.levels[level], seed=seed, size=CHUNK)
        except (AssertionError, TypeError, ValueError) as err:
            raise _config_error(f"rg:{self.name} level {level} config {self.levels[level]} is invalid: "
                                f"{err or type(err).__name__} (set by the curriculum, task.rg and "
                                "task.rg_levels)") from err
        self._datasets[key] = ds
        if len(self._datasets) > 64:
            self._datasets.popitem(last=False)
        return ds

    def entry(self, split: str, level: int, raw: int) -> dict:
        return self.dataset(split, level, raw // CHUNK)[raw % CHUNK]

    def problem(self, split: str, level: int, index: int) -> Problem:
        """The index-th problem of (split, level): the first draw of its group whose question hashes to the
        split, else of the groups after it (then it may repeat a later index's problem: held-out sets are
        deduplicated, `distinct_problems`)."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        for raw in range(index * GROUP, (index + MAX_SCAN) * GROUP):
            item = self.entry(split, level, raw)
            if split_of(str(item["question"]), self.test_fraction) == split:
                return self.make_problem(item, level, split)
        raise _config_error(f"rg:{self.name} level {level}: no {split} question in {MAX_SCAN * GROUP} draws; "
                            "its problem space is too small to hold out a test split (raise the level's size "
                            "via task.rg / task.rg_levels)")

    def problems(self, split: str, level: int, n: int, offset: int = 0) -> list[Problem]:
        return [self.problem(split, level, offset + i) for i in range(n)]

    def distinct_problems(self, split: str, level: int, n: int) -> list[Problem]:
        """Up to n problems with distinct questions (held-out sets): fewer when the level has fewer."""
        seen, out = set(), []
        for index in range(4 * n):
            if len(out) == n:
                break
            p = self.problem(split, level, index)
            if p.prompt not in seen:
                seen.add(p.prompt)
                out.append(p)
        return out

    def mixture(self, split: str, weights: dict[int, float], n: int, seed: int = 0) -> list[Problem]:
        """n problems whose levels follow `weights` (level -> share); deterministic in (task seed, seed)."""
        for level in (lv for lv, w in weights.items() if w > 0):
            self.check_level(level)
        return level_mixture(f"rg-mix:{self.name}:{self.seed}:{seed}:{split}", weights, n, seed,
                             lambda level, index: self.problem(split, level, index))

    def make_problem(self, item: dict, level: int, split: str) -> Problem:
        question, answer = str(item["question"]), str(item["answer"])
        steps = tuple(self.steps_of(item) or ()) if self.steps_of else ()
        reference = "".join(steps) + ("\n" if steps else "") + f"<answer>{answer}</answer>"
        digest = hashlib.blake2b(question.encode(), digest_size=6).hexdigest()
        return Problem(
            id=f"rg:{self.name}:L{level}:{digest}",
            prompt=question + PLAIN_CUE if self.plain else question,
            answer=answer,
            solution_steps=steps,
            hints={"solution": steps} if steps else {},
            level=level,
            source=f"rg:{self.name}",
            reference=reference,
            meta={"rg_entry": {"question": item["question"], "answer": item["answer"],
                               "metadata": item.get("metadata", {})}, "rg_split": split},
        )

    # --- scoring ---------------------------------------------------------------------------------------------
    def score(self, problem: Problem, answer: str | None) -> float:
        """The dataset's own `score_answer` (partial credit in [0, 1]); a scorer that raises scores 0."""
        entry = problem.meta.get("rg_entry")
        if entry is None:
            raise ValueError(f"problem {problem.id} has no reasoning-gym entry (meta['rg_entry']) to score against")
        level = problem.level if problem.level in self.levels else min(self.levels)
        try:
            value = float(self.dataset("test", level).score_answer(answer, entry))
        except Exception:  # noqa: BLE001 - some rg scorers fail on malformed answers; a malformed answer earns 0
            return 0.0
        return min(1.0, max(0.0, value))
