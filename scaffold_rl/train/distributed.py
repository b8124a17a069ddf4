"""Group-level logic under data parallelism (accelerate / DDP / DeepSpeed / FSDP).

How TRL hands out a step's rows: its RepeatSampler lists every problem num_generations times in a row, and
accelerate gives process k the k-th contiguous slice of per_device_train_batch_size x steps_per_generation rows.
`grpo_args` sizes that slice as a whole number of groups (train.prompts_per_step / processes problems each), so
every group lives on exactly one process: all-wrong detection, hint search, SEELE rounds and DAPO refills are
decided per group, locally, exactly as in one process. TRL gathers the rewards of all processes before it
computes advantages. What is not local is handled here:

- sampling seeds differ per process (process 0 keeps the single-process seed), so two processes never draw the
  same random stream; with deterministic decoding (top_k=1) the rollouts equal the one-process run's;
- step statistics are averaged over processes (each has the same number of groups), so metrics.jsonl
  describes the whole step;
- strategy state learned from groups (SEELE's per-problem hint rates, the plateau detector's history) is
  merged after every step, so every process (and the checkpoint, written by process 0) holds all of it.
"""
from __future__ import annotations

import copy
import os
import sys

from accelerate.utils import gather_object

from scaffold_rl.rollout.tracking import CrossingTracker

SEED_STRIDE = 1_000_003


def process_seed(seed: int, process_index: int) -> int:
    """The rollout seed of one process: distinct per process, the configured one on process 0."""
    return seed + SEED_STRIDE * process_index


# statistics that count things (tokens, groups, samples, fits): summed over processes; the rest are shares or
# means over a process's groups or rollouts, equal in number on every process, so their mean is the step's
COUNTS = {"tokens_generated", "verifier_timeouts", "scaf/all_wrong_before", "scaf/no_hints", "scaf/no_reference",
          "scaf/reference_rejected", "scaf/replaced", "scaf/rescued", "scaf/search_samples", "scaf/search_tokens",
          "scaf/triggered", "seele/cold_start", "seele/fit_failures", "seele/fit_too_few", "seele/fits",
          "seele/no_solution", "cliff/graduations"}
COUNTS |= {"guide/no_hint", "guide/guided_samples", "pope/searched", "pope/search_samples", "pope/search_tokens",
           "pope/no_sufficient_prefix", "pope/no_prefix", "questa/known_hard", "questa/found_hard", "questa/no_prefix",
           "luffy/off_policy_rows", "luffy/no_reference", "luffy/reference_rejected", "self_hint/requests",
           "self_hint/written", "self_hint/parse_failures", "self_hint/no_solution", "self_hint/answer_leaks",
           "self_hint/write_tokens"}
COUNT_PREFIXES = ("scaf/level/", "dapo/dropped", "dapo/extra_", "dapo/filled_", "dapo/surplus_", "guide/tier/",
                  "self_hint/level/")


def average_stats(per_process: list[dict[str, float]]) -> dict[str, float]:
    """The step's statistics from every process's: counts summed, shares and means averaged over the processes
    that report them (a per-level key is missing where the process had no problem of that level). Means over
    sets whose size varies by process (SEELE's fit parameters, the mean hint level) are averaged unweighted."""
    keys = sorted({k for stats in per_process for k in stats})
    out = {}
    for k in keys:
        values = [float(s[k]) for s in per_process if k in s]
        out[k] = sum(values) if k in COUNTS or k.startswith(COUNT_PREFIXES) else sum(values) / len(values)
    if "scaf/rescue_rate" in out:
        out["scaf/rescue_rate"] = out["scaf/rescued"] / out["scaf/triggered"] if out.get("scaf/triggered") else 0.0
    return out


def merge_strategy_states(before: dict, states: list[dict]) -> dict:
    """One strategy state from every process's, given the common state they all started the step from.

    - dict-valued entries (SEELE's `rates`: problem id -> rate): union of every process's changes; a problem is
      on one process per step, so changes never collide;
    - `schedule.history` (Scaf-GRPO's plateau trigger): the newest entry becomes the mean over processes
      (the step's global all-wrong fraction; groups per process are equal);
    - `schedule.started_at`: the earliest step any process switched hinting on;
    - anything else must agree across processes (it is an error otherwise, not silently process 0's).
    """
    merged = copy.deepcopy(states[0])
    for key in merged:
        values = [s.get(key) for s in states]
        if isinstance(merged[key], dict) and key == "schedule":
            merged[key] = _merge_schedule([v or {} for v in values])
        elif isinstance(merged[key], dict):
            base = dict(before.get(key, {}))
            for v in values:
                base.update({k: x for k, x in v.items() if before.get(key, {}).get(k) != x})
            merged[key] = base
        elif any(v != values[0] for v in values):
            raise RuntimeError(f"strategy state {key!r} differs across processes: {values}")
    return merged


def _merge_schedule(states: list[dict]) -> dict:
    out = copy.deepcopy(states[0])
    starts = [s.get("started_at") for s in states if s.get("started_at") is not None]
    out["started_at"] = min(starts) if starts else None
    histories = [s.get("history") or [] for s in states]
    if histories[0] and all(len(h) == len(histories[0]) for h in histories):
        out["history"] = histories[0][:-1] + [sum(h[-1] for h in histories) / len(histories)]
    return out


def run_step(stage, problems, step: int, accelerator):
    """`stage.run` on this process's groups; with several processes, statistics and strategy state are shared."""
    if accelerator is None or accelerator.num_processes == 1:
        return stage.run(problems, step=step)
    before = copy.deepcopy(stage.strategy.state_dict())
    tracked = stage.tracker.state_dict()
    batch = stage.run(problems, step=step)
    gathered = gather_object([{"stats": batch.stats, "state": stage.strategy.state_dict(),
                               "tracker": stage.tracker.state_dict()}])
    batch.stats = average_stats([g["stats"] for g in gathered])
    stage.strategy.load_state_dict(merge_strategy_states(before, [g["state"] for g in gathered]))
    stage.tracker.load_state_dict(CrossingTracker.merge(tracked, [g["tracker"] for g in gathered]))
    batch.stats.update(stage.tracker.totals())
    return batch


def weights_sharded(trainer) -> bool:
    """True under ZeRO-3 or FSDP: no single process holds the weights, so saving and generating outside the
    rollout (which gathers them) need every process."""
    if getattr(trainer, "is_fsdp_enabled", False):
        return True
    plugin = getattr(trainer.accelerator.state, "deepspeed_plugin", None)
    return bool(getattr(trainer, "is_deepspeed_enabled", False) and plugin is not None and plugin.zero_stage == 3)


def exit_launched_process(code: int = 0) -> None:
    """Leave a process started by a multi-process launcher now, skipping interpreter finalization.

    gloo's worker threads free the last collective's work a moment after the caller sees it complete. If the
    interpreter is finalizing by then, freeing the Python-owned tensors inside needs the GIL and the thread
    aborts the process ("terminate called without an active exception", SIGABRT; pytorch/pytorch#190489):
    the launcher then reports a finished run as failed, about once in 20 runs on a loaded machine.
    `destroy_process_group` does not stop those threads, so the one safe end is not to finalize. Everything the
    run writes is closed by then; only stdout and stderr need flushing. Single-process runs return normally.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
