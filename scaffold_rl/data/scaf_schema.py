"""The Scaf-GRPO dataset schema: read it into `Problem`s with hint tiers, write it, validate tiers.

Rows follow the official data (verl parquet, see docs/papers.md §1.3): `question`, three tier fields of
4 parts each, `reward_model.ground_truth`, plus bookkeeping. Reading is lenient where the trainer
copes (a missing tier just means fewer hint levels, recorded in `meta["missing_tiers"]`) and strict
where it would silently train on garbage (no answer, non-string parts -> `DataError` naming
file:line:field).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scaffold_rl.data.benchmarks import _number_answer, _Row
from scaffold_rl.data.jsonl import DataError, read_records
from scaffold_rl.types import HINT_TIERS, Problem

__all__ = [
    "TIER_FIELDS",
    "PARTS_PER_TIER",
    "MAX_PART_CHARS",
    "SYSTEM_PROMPT",
    "load_scaf_dataset",
    "merge_parts",
    "write_scaf_record",
    "validate_tiers",
]

TIER_FIELDS: dict[str, str] = {
    "knowledge": "knowledge_components_parts",
    "planning": "planning_skeleton_parts",
    "solution": "solution_breakdown_parts",
}
PARTS_PER_TIER = 4
# The official sample's longest part is 753 characters; 2000 leaves room for long solutions while
# catching runaway (looping) teacher output that would blow up hinted prompts.
MAX_PART_CHARS = 2000
SYSTEM_PROMPT = "Please reason step by step, and put your final answer within \\boxed{}."
# Section tags of the teacher's answer; a part that still contains one was parsed wrongly.
SECTION_TAGS = ("KNOWLEDGE_COMPONENTS", "PLANNING_SKELETON", "SOLUTION_BREAKDOWN")


def merge_parts(items: Sequence[str], parts: int = PARTS_PER_TIER) -> list[str]:
    """`items` merged into `parts` contiguous groups joined by a space, the later groups one item larger.

    This is the official data's rule (checked on all 179 sample rows: 5 items -> 1,1,1,2; 6 -> 1,1,2,2;
    7 -> 1,2,2,2; 10 -> 2,2,3,3), so teacher output stored here matches the paper's tiers.
    """
    if len(items) <= parts:
        return list(items)
    base, extra = divmod(len(items), parts)
    sizes = [base] * (parts - extra) + [base + 1] * extra
    merged, start = [], 0
    for size in sizes:
        merged.append(" ".join(items[start : start + size]))
        start += size
    return merged


def load_scaf_dataset(path: str | Path, limit: int | None = None) -> list[Problem]:
    """Problems with `hints` from a Scaf-GRPO .jsonl/.parquet file (`limit`: first rows only).

    Per row: prompt = `question` (else the last user message of `prompt`); answer =
    `reward_model.ground_truth` (required); id = `id`, else `extra_info.index`, else `<file>-<line>`;
    source = `data_source`, else the file name. Each tier keeps its non-empty parts, merged to at most
    4 with `merge_parts`; an absent or empty tier is left out of `hints` and named in
    `meta["missing_tiers"]`. `meta["solution"]` holds the reference solution when there is one.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    path = Path(path).expanduser()
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for line, record in read_records(path):
        if limit is not None and len(problems) >= limit:
            break
        problem = _scaf_problem(_Row(record, path, line, path.stem))
        if problem.id in seen:
            raise DataError(path, line, "id", f"duplicate id {problem.id!r} (first on line {seen[problem.id]})")
        seen[problem.id] = line
        problems.append(problem)
    return problems


def _scaf_problem(row: _Row) -> Problem:
    hints: dict[str, tuple[str, ...]] = {}
    missing: list[str] = []
    for tier, field in TIER_FIELDS.items():
        parts = _tier_parts(row, field)
        if parts:
            hints[tier] = tuple(parts)
        else:
            missing.append(tier)
    answer = _number_answer(row, row.get("reward_model.ground_truth", (str, int, float)), "reward_model.ground_truth")
    meta: dict[str, Any] = {"missing_tiers": missing}
    for name, types in (("solution", (str,)), ("difficulty_bucket", (str,)), ("extra_info.index", (int, str))):
        value = row.get(name, types, required=False)
        if value is not None and value != "":
            meta[name.split(".")[-1]] = value
    source = row.get("data_source", required=False) or row.source
    return Problem(id=_scaf_id(row), prompt=_question(row), answer=answer, hints=hints, source=source, meta=meta)


def _question(row: _Row) -> str:
    """`question`, or the last user turn of `prompt` (verl rows always carry the chat messages)."""
    question = row.get("question", required=False)
    if question is not None and question.strip():
        return question.strip()
    messages = row.get("prompt", (list,), required=False)
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str) and content.strip():
                return content.strip()
    problem = "empty" if question is not None else "missing (and no user message in 'prompt')"
    raise DataError(row.path, row.line, "question", problem)


def _tier_parts(row: _Row, field: str) -> list[str]:
    """Non-empty, stripped parts of one tier (merged to 4); absent/null/empty tiers give []."""
    value = row.get(field, (list, tuple), required=False)
    if value is None:
        return []
    parts = []
    for index, part in enumerate(value):
        if not isinstance(part, str):
            raise DataError(row.path, row.line, f"{field}[{index}]", f"expected str, got {type(part).__name__}")
        if part.strip():
            parts.append(part.strip())
    return merge_parts(parts)


def _scaf_id(row: _Row) -> str:
    for name in ("id", "extra_info.index"):
        value = row.get(name, (str, int), required=False)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int):
            return f"{row.source}-{value}"
    return f"{row.source}-{row.line}"


def write_scaf_record(problem_fields: Problem | Mapping[str, Any], tiers: Mapping[str, Sequence[str]]) -> dict:
    """One row in the Scaf-GRPO schema, readable by `load_scaf_dataset` and by verl-style trainers.

    `problem_fields` is a `Problem` or a mapping with `id`, `question`, `answer` and optionally
    `solution`, `data_source`. `tiers` maps tier names ("knowledge", "planning", "solution") to parts;
    a tier not given is written as an empty list. Validation is the caller's job (`validate_tiers`).
    """
    fields = _problem_fields(problem_fields)
    unknown = set(tiers) - set(TIER_FIELDS)
    if unknown:
        raise ValueError(f"unknown tiers {sorted(unknown)}; expected {list(TIER_FIELDS)}")
    if fields["answer"] is None or not str(fields["answer"]).strip():
        raise ValueError(f"problem {fields['id']!r} has no answer; Scaf rows need reward_model.ground_truth")
    record: dict[str, Any] = {
        "id": fields["id"],
        "question": fields["question"],
        "prompt": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": fields["question"]},
        ],
        "data_source": fields["data_source"],
        "ability": "math",
        "reward_model": {"ground_truth": str(fields["answer"]), "style": "rule"},
        "solution": fields["solution"],
    }
    for tier, field in TIER_FIELDS.items():
        record[field] = [str(part) for part in tiers.get(tier, ())]
    return record


def _problem_fields(problem: Problem | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(problem, Problem):
        return {
            "id": problem.id,
            "question": problem.prompt,
            "answer": problem.answer,
            "solution": problem.meta.get("solution"),
            "data_source": problem.source,
        }
    missing = [key for key in ("id", "question", "answer") if key not in problem]
    if missing:
        raise ValueError(f"problem_fields lacks {missing}")
    return {
        "id": str(problem["id"]),
        "question": problem["question"],
        "answer": problem["answer"],
        "solution": problem.get("solution"),
        "data_source": problem.get("data_source", ""),
    }


def validate_tiers(
    tiers: Mapping[str, Sequence[str]],
    required: Sequence[str] = HINT_TIERS,
    min_parts: int = PARTS_PER_TIER,
    max_chars: int | None = MAX_PART_CHARS,
) -> list[str]:
    """Problems found in a set of tiers, as readable reasons; [] means valid. Rules:

    * only known tiers; every `required` tier present;
    * each tier has `min_parts`..4 parts (teacher output: exactly 4 after merging; the model-free
      splitter may give fewer for short solutions, so it passes `min_parts=1`);
    * every part is a non-empty string of at most `max_chars` characters (None: unbounded, for the
      splitter, whose chunks are slices of a human-written reference rather than runaway output);
    * no two parts of a tier are identical (a looping teacher repeats itself);
    * no part contains a section tag (a sign the tagged output was mis-parsed);
    * Knowledge and Planning contain no `\\boxed{}`: they must guide, not hand over the final answer.
      (Checking for the answer string itself is too noisy: short answers like "2" occur everywhere.)
    """
    problems: list[str] = []
    for tier in tiers:
        if tier not in TIER_FIELDS:
            problems.append(f"unknown tier {tier!r}")
    for tier in required:
        parts = tiers.get(tier)
        if parts is None or len(parts) == 0:
            problems.append(f"{tier}: missing")
            continue
        problems.extend(f"{tier}: {p}" for p in _tier_problems(tier, parts, min_parts, max_chars))
    return problems


def _tier_problems(tier: str, parts: Sequence[str], min_parts: int, max_chars: int | None) -> list[str]:
    problems = []
    if not min_parts <= len(parts) <= PARTS_PER_TIER:
        want = PARTS_PER_TIER if min_parts == PARTS_PER_TIER else f"{min_parts}-{PARTS_PER_TIER}"
        problems.append(f"{len(parts)} parts, expected {want}")
    seen: set[str] = set()
    for index, part in enumerate(parts, start=1):
        if not isinstance(part, str) or not part.strip():
            problems.append(f"part {index} is empty or not a string")
            continue
        if max_chars is not None and len(part) > max_chars:
            problems.append(f"part {index} has {len(part)} characters (limit {max_chars})")
        key = " ".join(part.split())
        if key in seen:
            problems.append(f"part {index} repeats an earlier part")
        seen.add(key)
        if any(tag in part.upper() for tag in SECTION_TAGS):
            problems.append(f"part {index} contains a section tag")
        if tier != "solution" and "\\boxed" in part:
            problems.append(f"part {index} gives away the final answer (\\boxed)")
    return problems
