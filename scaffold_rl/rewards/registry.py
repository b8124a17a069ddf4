"""Build a reward from a config value, so `reward=format_length` or a dict of weighted terms is all a run
needs to say.

Spec forms:
* a preset or a sum of weighted term names: "correctness", "format", "format_length",
  "format_length+0.5*overlong", "correctness+0.1*repetition";
* a dict {term: weight | {"weight": w, option: value, ...}, "guards": bool | [names] | {"names": [...],
  threshold: value}}.

Terms and their options:
    correctness    kind ("answer" | "strict"), timeout_s
    format         timeout_s, after_think
    length         p, shape ("quadratic" | "polyline"), unit ("tokens" | "chars"), max_length, start_step
    format_length  the length options + format_weight (paper 1.0, its code 0.5), timeout_s, after_think
    overlong       max_length, cache, unit
    repetition     n, max_penalty
    process        prm_path (a `scaffold-rl prm train` folder), aggregate (min | prod | last | mean), segmenter
                   (auto | newline | blank_line | embedded), gate (answer | none: paid only to responses with a
                   final answer and no guard hit, or always): the PRM's aggregated step score (rewards/process.py)
    refreshed_process
                   the process options + checker_kind (the task scorer's kind that labels samples; default
                   reward.kind), every (5 rollout batches between PRM refreshes), buffer (1024 recent samples),
                   epochs (2), batch_size (16), lr (3e-4), max_updates (None), hard_weight (4.0: a wrong sample
                   weighs 1 + hard_weight x the score it was paid), labels (auto | exact | outcome), guard_window
                   (5 batches), guard_high (0.25), guard_low (0.10), guard_floor (0.0: the factor while the
                   gap mean(paid - checker) is too high), seed: a PRM retrained on the policy's own samples
                   (rewards/refreshed.py)
    reconstruction reconstructor (a summary -> document model folder; default: the task's own), budget (chars;
                   default: the problem's), normalise (tokens | prior), penalty (0.0: the value of an over-budget
                   or degenerate summary), max_char_run (4): how much better a frozen reconstructor predicts the
                   document from the summary than from nothing (rewards/reconstruction.py; task summaries)

Guards default to on when no correctness term has a nonzero weight (label-free training), off otherwise.
"""
from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

from scaffold_rl.rewards.composite import (
    CompositeReward,
    CorrectnessTerm,
    FormatLengthTerm,
    FormatTerm,
    LengthTerm,
    OverlongTerm,
    RepetitionTerm,
    Term,
)
from scaffold_rl.rewards.format import FormatReward
from scaffold_rl.rewards.guards import GUARD_NAMES, Guards, GuardSettings
from scaffold_rl.rewards.length import LengthReward
from scaffold_rl.rewards.refresh_rules import RefreshSettings

_LENGTH_OPTIONS = {"p", "shape", "unit", "max_length", "start_step"}
TERM_OPTIONS: dict[str, set[str]] = {
    "correctness": {"kind", "timeout_s"},
    "format": {"timeout_s", "after_think"},
    "length": _LENGTH_OPTIONS,
    "format_length": _LENGTH_OPTIONS | {"format_weight", "timeout_s", "after_think"},
    "overlong": {"max_length", "cache", "unit"},
    "repetition": {"n", "max_penalty"},
    "process": {"prm_path", "aggregate", "segmenter", "gate"},
    "refreshed_process": {"prm_path", "aggregate", "segmenter", "gate", "checker_kind",
                          *(f.name for f in fields(RefreshSettings))},
    "reconstruction": {"reconstructor", "budget", "normalise", "penalty", "max_char_run"},
}
_TERM_RE = re.compile(r"^\s*(?:([0-9.eE+-]+)\s*\*\s*)?([a-z_]+)\s*$")


def parse_spec(spec: str | dict[str, Any]) -> tuple[dict[str, dict[str, Any]], Any]:
    """(term name -> options incl. weight, guards setting or None) from either spec form."""
    if isinstance(spec, str):
        terms: dict[str, dict[str, Any]] = {}
        for part in spec.split("+"):
            match = _TERM_RE.match(part)
            if not match:
                raise ValueError(f"cannot read reward term {part!r} in {spec!r}; expected e.g. 'format_length' "
                                 "or '0.5*overlong'")
            terms[match.group(2)] = {"weight": float(match.group(1) or 1.0)}
        return _checked(terms), None
    spec = dict(spec)
    guards = spec.pop("guards", None)
    terms = {name: dict(value) if isinstance(value, dict) else {"weight": float(value)}
             for name, value in spec.items()}
    return _checked(terms), guards


def _checked(terms: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    if not terms:
        raise ValueError("reward spec has no terms")
    for name, options in terms.items():
        if name not in TERM_OPTIONS:
            raise ValueError(f"unknown reward term {name!r}; known: {sorted(TERM_OPTIONS)}")
        unknown = set(options) - TERM_OPTIONS[name] - {"weight"}
        if unknown:
            raise ValueError(f"reward term {name!r}: unknown options {sorted(unknown)}; "
                             f"allowed: {sorted(TERM_OPTIONS[name])} and weight")
    return terms


def _max_length(name: str, options: dict[str, Any], default: int | None) -> int:
    value = options.get("max_length", default)
    if value is None:
        raise ValueError(f"reward term {name!r} needs max_length (the rollout's max_new_tokens)")
    return int(value)


def _length_reward(name: str, o: dict[str, Any], max_length: int | None, tokenizer: Any) -> LengthReward:
    return LengthReward(_max_length(name, o, max_length), p=o.get("p", 0.5), shape=o.get("shape", "quadratic"),
                        unit=o.get("unit", "tokens"), tokenizer=tokenizer)


def build_term(name: str, o: dict[str, Any], answer_pattern: str | None, tokenizer: Any,
               max_length: int | None, correctness_kind: str, timeout_s: float, scorer_for=None,
               task: Any = None) -> Term:
    """One term from its options (weight excluded). `scorer_for(kind, timeout_s)` is the task's scorer factory
    (Task.scorer), used by the correctness and refreshed_process terms; None = the shared checker. `task` (the
    run's Task) gives the reconstruction term its default reconstructor."""
    timeout = o.get("timeout_s", timeout_s)
    if name == "correctness":
        kind = o.get("kind", correctness_kind)
        return CorrectnessTerm(kind, answer_pattern, timeout, scorer=scorer_for(kind, timeout) if scorer_for else None)
    if name in ("format", "format_length"):
        fmt = FormatReward(answer_pattern, timeout, o.get("after_think", True))
        if name == "format":
            return FormatTerm(fmt)
        return FormatLengthTerm(fmt, _length_reward(name, o, max_length, tokenizer),
                                format_weight=o.get("format_weight", 1.0), start_step=o.get("start_step", 0))
    if name == "length":
        return LengthTerm(_length_reward(name, o, max_length, tokenizer), start_step=o.get("start_step", 0))
    if name == "overlong":
        return OverlongTerm(_max_length(name, o, max_length), o.get("cache"), o.get("unit", "tokens"), tokenizer)
    if name == "process":
        from scaffold_rl.rewards.process import ProcessTerm

        return ProcessTerm(o.get("prm_path"), o.get("aggregate", "min"), o.get("segmenter", "auto"),
                           gate=o.get("gate", "answer"), answer_pattern=answer_pattern)
    if name == "refreshed_process":
        from scaffold_rl.rewards.correctness import CorrectnessReward
        from scaffold_rl.rewards.refreshed import RefreshedProcessTerm

        kind = o.get("checker_kind", correctness_kind)
        checker = scorer_for(kind, timeout) if scorer_for else CorrectnessReward(kind, answer_pattern, timeout)
        settings = RefreshSettings(**{k: v for k, v in o.items() if k in {f.name for f in fields(RefreshSettings)}})
        return RefreshedProcessTerm(o.get("prm_path"), o.get("aggregate", "min"), o.get("segmenter", "auto"),
                                    gate=o.get("gate", "answer"), answer_pattern=answer_pattern, checker=checker,
                                    settings=settings)
    if name == "reconstruction":
        from scaffold_rl.rewards.reconstruction import ReconstructionTerm

        return ReconstructionTerm.from_options(o, task)
    return RepetitionTerm(o.get("n", 4), o.get("max_penalty", 1.0))


def build_guards(setting: Any, label_free: bool, answer_pattern: str | None) -> Guards | None:
    """None/True/False/[names]/{"names": [...], threshold: value} -> Guards or None."""
    if setting is None:
        setting = label_free
    if setting is False:
        return None
    if setting is True:
        return Guards(GUARD_NAMES, answer_pattern)
    if isinstance(setting, (list, tuple)):
        return Guards(setting, answer_pattern)
    options = dict(setting)
    names = options.pop("names", GUARD_NAMES)
    known = {f.name for f in fields(GuardSettings)}
    if set(options) - known:
        raise ValueError(f"unknown guard settings {sorted(set(options) - known)}; known: {sorted(known)}")
    return Guards(names, answer_pattern, GuardSettings(**options))


def build_reward(spec: str | dict[str, Any], answer_pattern: str | None = None, tokenizer: Any = None, *,
                 max_length: int | None = None, correctness_kind: str = "answer",
                 timeout_s: float = 2.0, scorer_for=None, task: Any = None) -> CompositeReward:
    """The reward a spec names. `max_length` (the rollout's max_new_tokens) is the default for length and
    overlong terms; `correctness_kind` is the default kind of a correctness term (config reward.kind);
    `scorer_for` the task's scorer factory (Task.scorer); `task` the run's task (reconstruction's default
    reconstructor)."""
    terms, guard_setting = parse_spec(spec)
    built = {name: (float(o.get("weight", 1.0)),
                    build_term(name, o, answer_pattern, tokenizer, max_length, correctness_kind, timeout_s,
                               scorer_for, task))
             for name, o in terms.items()}
    label_free = built.get("correctness", (0.0, None))[0] == 0.0
    return CompositeReward(built, build_guards(guard_setting, label_free, answer_pattern))


def correctness_kind(spec: str | dict[str, Any] | None, default_kind: str = "answer") -> str | None:
    """Which labels training on `spec` needs: "answer" (gold answers), "strict" (reference chains) or None
    (label-free). No spec means the plain correctness reward of `default_kind`."""
    if spec is None:
        return default_kind
    terms, _ = parse_spec(spec)
    if "correctness" not in terms:
        return None
    return terms["correctness"].get("kind", default_kind)


def reward_for_run(reward_cfg: Any, task: Any, tokenizer: Any, max_length: int, evaluation: bool = False) -> Any:
    """The reward a run trains on (config `reward`), or evaluates with: evaluation always scores correctness
    of `reward.kind`, so a label-free run is still measured against gold answers. Without `reward.spec` both
    are the task's own scorer (Task.scorer: for files and the embedded task the shared checker). `task` gives
    the answer pattern and the scorer."""
    if evaluation or reward_cfg.spec is None:
        return task.scorer(reward_cfg.kind, reward_cfg.verifier_timeout_s)
    return build_reward(reward_cfg.spec, task.answer_pattern, tokenizer, max_length=max_length,
                        correctness_kind=reward_cfg.kind, timeout_s=reward_cfg.verifier_timeout_s,
                        scorer_for=task.scorer, task=task)
