"""ProcessBench evaluation (papers.md §7.1): predict the index of the first wrong step, or -1 when all are right.

A PRM's prediction is the first step whose score falls below `threshold` (the paper's threshold rule is not
verified; 0.5 is the natural cut of P(good)). Per split: accuracy on erroneous samples (label != -1), on
correct ones (label == -1), and their harmonic mean F1; the average F1 over splits is reported too.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from scaffold_rl.data.benchmarks import find_data_dir
from scaffold_rl.data.jsonl import DataError, get_field, read_records

SPLITS = ("gsm8k", "math")
STEP_SEPARATOR = "\n\n"  # ProcessBench steps are paragraphs; each is scored with a blank line after it


@dataclass(frozen=True)
class PBSample:
    id: str
    problem: str
    steps: tuple[str, ...]
    label: int  # first wrong step (0-based), or -1


def load_processbench(split_or_path: str) -> list[PBSample]:
    """A split name (gsm8k, math: processbench_<name>.jsonl in the shared data folder) or a JSONL path."""
    path = Path(split_or_path)
    if not path.suffix:
        path = find_data_dir() / f"processbench_{split_or_path}.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"ProcessBench file {path} not found (set SCAFFOLD_RL_DATA to the data folder)")
    out = []
    for line, rec in read_records(path):
        steps = get_field(rec, "steps", path, line, (list,))
        label = get_field(rec, "label", path, line, (int,))
        if not steps or not all(isinstance(s, str) for s in steps):
            raise DataError(path, line, "steps", "expected a non-empty list of strings")
        if not -1 <= label < len(steps):
            raise DataError(path, line, "label", f"{label} is not -1 or a step index below {len(steps)}")
        out.append(PBSample(str(rec.get("id", line)), get_field(rec, "problem", path, line), tuple(steps), label))
    return out


def evenly_spaced(samples: list[PBSample], limit: int | None) -> list[PBSample]:
    """`limit` samples spread over the file (the files list erroneous samples first, so a head is all errors)."""
    if limit is None or limit >= len(samples):
        return samples
    return [samples[i * len(samples) // limit] for i in range(limit)]


def first_below(scores: list[float], threshold: float = 0.5) -> int:
    """Index of the first score below `threshold`, or -1."""
    return next((i for i, s in enumerate(scores) if s < threshold), -1)


def processbench_metrics(labels: list[int], predictions: list[int]) -> dict:
    """acc_err (label != -1 predicted exactly), acc_corr (label == -1 predicted -1), F1 = their harmonic mean."""
    if len(labels) != len(predictions):
        raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
    err = [(y, p) for y, p in zip(labels, predictions) if y != -1]
    corr = [(y, p) for y, p in zip(labels, predictions) if y == -1]
    acc_err = sum(y == p for y, p in err) / len(err) if err else 0.0
    acc_corr = sum(p == -1 for _, p in corr) / len(corr) if corr else 0.0
    f1 = 2 * acc_err * acc_corr / (acc_err + acc_corr) if acc_err + acc_corr > 0 else 0.0
    return {"acc_err": acc_err, "acc_corr": acc_corr, "f1": f1, "n_err": len(err), "n_corr": len(corr)}


def evaluate_processbench(score_batch: Callable[[list[tuple[str, list[str]]]], list[list[float]]],
                          splits: list[str] = list(SPLITS), threshold: float = 0.5, limit: int | None = None,
                          batch_size: int = 8, log: Callable[[str], None] = print) -> dict:
    """Per-split metrics and the average F1 for any step scorer (e.g. `ProcessRewardModel.score_steps_batch`)."""
    out: dict = {"threshold": threshold, "splits": {}}
    for split in splits:
        samples = evenly_spaced(load_processbench(split), limit)
        preds = []
        for start in range(0, len(samples), batch_size):
            chunk = samples[start : start + batch_size]
            scores = score_batch([(s.problem + STEP_SEPARATOR, [t + STEP_SEPARATOR for t in s.steps])
                                  for s in chunk])
            preds += [first_below(sc, threshold) for sc in scores]
        out["splits"][split] = processbench_metrics([s.label for s in samples], preds)
        log(f"processbench {split}: {out['splits'][split]}")
    out["avg_f1"] = sum(m["f1"] for m in out["splits"].values()) / max(1, len(out["splits"]))
    return out
