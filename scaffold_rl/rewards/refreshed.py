"""The refreshed process reward: a PRM that is retrained during RL on the policy's own recent samples, so a hack
the policy finds becomes a training example against it.

A learned reward that stays fixed while the policy searches against it gets gamed: with a frozen PRM, GRPO on the
embedded task collapsed every level to 0 within 60 steps, first with answerless strings the PRM scored high, then
(with the answer gate) with well-formed wrong chains (docs/benchmarks.md, process rewards). This term keeps the
PRM separate from the policy (its own weights and AdamW optimizer, inside the reward object) and every `every`
rollout batches retrains it for `epochs` passes over the last `buffer` samples it scored, labelled by the task's
checker:

* `labels: exact`: the task's exact step labels (the embedded task: prm/exact.py, first-error convention);
* `labels: outcome`: the checker's verdict on the last step (what the PRM's score at the end of the response must
  predict); a correct response also labels every earlier step good (it witnesses them, as in Math-Shepherd); the
  earlier steps of a wrong one are left out (which one went wrong is unknown);
* `labels: auto` (default): exact where the problem has exact labels, else outcome.

Hacks weigh more: a wrong sample's weight is 1 + hard_weight x the score the term paid it (so a wrong chain it paid
0.9 counts 1 + 0.9 hard_weight times a right one), in a weighted per-step BCE.

The checker's verdict reaches the reward only through those labels and through the guard, never per response.
The guard watches the gap: mean(paid score - checker score) over the last `guard_window` rollout batches. When
it exceeds `guard_high` the term's output is multiplied by `guard_floor` (0: off) until the gap falls below
`guard_low` (hysteresis: one noisy batch neither switches it off nor back on). Scoring, refreshing and measuring go
on while it is down, so it can come back.

Logged per step (reward/refreshed_process/<part>): `score` (what the PRM paid, before the guard), `weight` (the
guard's factor), `gap` (the window mean), `accuracy` (on the samples fresh since the last refresh, measured just
before it: paid score > 0.5 agrees with the checker), `step_accuracy` (the same samples' step scores against
exact labels, where there are any), `refreshes`, `train_loss` (the last refresh's mean loss), `trained_tokens`
(tokens of the samples in every refresh update so far: the PRM's training compute, reward-side work that
train.max_tokens does not count, so a benchmark reports it beside the policy's tokens), `refresh_s`.

State (PRM weights, optimizer, buffer, counters, guard) is saved in each checkpoint (`save_state` /
`load_state`, called by the trainer), so a resumed run refreshes exactly as an uninterrupted one. One process
only: each process would train its own PRM on its own samples.
"""
from __future__ import annotations

import json
import os
import random
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from scaffold_rl.prm.model import ProcessRewardModel, aggregate
from scaffold_rl.rewards.composite import CompositeScore
from scaffold_rl.rewards.process import ProcessTerm
from scaffold_rl.rewards.refresh_rules import GapGuard, RefreshSettings, sample_weight, step_targets
from scaffold_rl.verify import extract_answer


def weighted_step_bce(prm: ProcessRewardModel, items: list[dict]) -> torch.Tensor:
    """sum_i w_i sum_t m_it BCE(logit_it, y_it) / sum_i w_i sum_t m_it over samples i and their steps t."""
    logits = prm.step_logits([prm.encode(it["prompt"], it["steps"]) for it in items])
    num, den = 0.0, 0.0
    for it, lg in zip(items, logits):
        y = torch.tensor(it["targets"], dtype=torch.float32, device=lg.device)
        m = torch.tensor(it["mask"], dtype=torch.float32, device=lg.device) * it["weight"]
        num = num + (F.binary_cross_entropy_with_logits(lg.float(), y, reduction="none") * m).sum()
        den += float(m.sum())
    return num / max(den, 1e-12)


# --- the term -----------------------------------------------------------------------------------------


@dataclass
class _Batch:
    step: int | None = None
    gap_sum: float = 0.0
    count: int = 0


class RefreshedProcessTerm(ProcessTerm):
    """The `process` term whose PRM is retrained every `settings.every` rollout batches (module docstring).
    `checker(problem, response) -> Score` is the task's scorer (its verdict labels the buffer)."""

    def __init__(self, prm_path: str | None = None, aggregate: str = "min", segmenter: str = "auto",
                 prm: ProcessRewardModel | None = None, gate: str = "answer", answer_pattern: str | None = None,
                 checker=None, settings: RefreshSettings | None = None):
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise ValueError("reward term 'refreshed_process' trains its PRM on one process's samples; multi-process "
                             "runs are not supported (each process would train a different PRM)")
        if checker is None:
            raise ValueError("reward term 'refreshed_process' needs the task's checker (its verdicts label the "
                             "buffer)")
        super().__init__(prm_path, aggregate, segmenter, prm=prm, gate=gate, answer_pattern=answer_pattern)
        self.checker = checker
        self.settings = settings or RefreshSettings()
        s = self.settings
        self.optimizer = self._new_optimizer()
        self.buffer: deque[dict] = deque(maxlen=s.buffer)
        self.guard = GapGuard(s.guard_window, s.guard_high, s.guard_low, s.guard_floor)
        self.batch = _Batch()
        self.batches_since_refresh = 0
        self.refreshes = 0
        self.stats: dict[str, float] = {"accuracy": float("nan"), "step_accuracy": float("nan"),
                                        "train_loss": float("nan"), "refresh_s": 0.0, "trained_tokens": 0.0}

    def _new_optimizer(self):
        params = [p for p in self.prm.parameters() if p.requires_grad]
        return torch.optim.AdamW(params, lr=self.settings.lr, weight_decay=0.0)

    # --- scoring --------------------------------------------------------------------------------------

    def _exact_labels(self, problem, steps: list[str]) -> list[int] | None:
        if self.settings.labels == "outcome":
            return None
        if problem.source == "arithmetic" and problem.solution_steps:
            from scaffold_rl.prm.exact import exact_step_labels

            return exact_step_labels(problem, steps)
        if self.settings.labels == "exact":
            raise ValueError(f"reward term 'refreshed_process': labels=exact, but problem {problem.id} has no exact "
                             "step labels (only the embedded arithmetic task has them); use labels=auto or outcome")
        return None

    def _paid(self, ctx, steps: list[str]) -> tuple[float, list[float] | None]:
        """(the PRM score the gate lets through, per-step scores or None when gated out)."""
        if self.gate == "answer" and (ctx.hacked or extract_answer(ctx.response, self.answer_pattern) is None):
            return 0.0, None
        key = (ctx.problem.prompt, ctx.response)
        if key not in self.cache:
            per_step = self.prm.score_steps(ctx.problem.prompt, steps)
            self.cache[key] = (aggregate(per_step, self.how), per_step)
            if len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        return self.cache[key]

    def __call__(self, ctx) -> CompositeScore:
        if self.batch.step is None:
            self.batch.step = ctx.step
        elif ctx.step != self.batch.step:  # a new rollout batch: close the last one, refresh when due
            self._end_batch(ctx.step)
        steps = self._segmenter(ctx).split(ctx.response)
        paid, per_step = self._paid(ctx, steps)
        verdict = self.checker(ctx.problem, ctx.response)
        exact = self._exact_labels(ctx.problem, steps)
        targets, mask = step_targets(len(steps), verdict.correct, exact)
        self.buffer.append({"prompt": ctx.problem.prompt, "steps": steps, "targets": targets, "mask": mask,
                            "paid": paid, "correct": bool(verdict.correct), "step_scores": per_step,
                            "exact": exact is not None, "fresh": True})
        self.batch.gap_sum += paid - float(verdict.reward)
        self.batch.count += 1
        weight = self.guard.weight
        parts = {"score": paid, "weight": weight, "gap": self.guard.gap, "refreshes": float(self.refreshes),
                 **{k: v for k, v in self.stats.items() if v == v}}  # NaN (nothing measured yet) is not logged
        return CompositeScore(weight * paid, False, terms=parts)

    def _end_batch(self, new_step: int) -> None:
        self.guard.observe(self.batch.gap_sum, self.batch.count)
        self.batch = _Batch(step=new_step)
        self.batches_since_refresh += 1
        if self.batches_since_refresh >= self.settings.every:
            self.refresh()

    # --- refreshing -----------------------------------------------------------------------------------

    def fresh_accuracy(self) -> tuple[float, float]:
        """(solution accuracy, step accuracy vs exact labels) on the samples scored since the last refresh."""
        fresh = [b for b in self.buffer if b["fresh"]]
        solution = sum((b["paid"] > 0.5) == b["correct"] for b in fresh) / len(fresh) if fresh else float("nan")
        right = total = 0
        for b in fresh:
            if b["exact"] and b["step_scores"] is not None:
                right += sum((s > 0.5) == (y > 0.5) for s, y in zip(b["step_scores"], b["targets"]))
                total += len(b["targets"])
        return solution, (right / total if total else float("nan"))

    def training_items(self) -> list[dict]:
        """The buffer as weighted BCE items (samples without steps, e.g. empty responses, have nothing to train)."""
        hw = self.settings.hard_weight
        return [{**b, "weight": sample_weight(b["correct"], b["paid"], hw)} for b in self.buffer
                if b["steps"] and sum(b["mask"]) > 0]

    def refresh(self) -> None:
        """Measure on the fresh samples, then retrain the PRM on the buffer; the score cache is dropped."""
        t0 = time.perf_counter()
        s = self.settings
        self.stats["accuracy"], self.stats["step_accuracy"] = self.fresh_accuracy()
        items = self.training_items()
        rng = random.Random(f"refresh:{s.seed}:{self.refreshes}")
        lengths = [len(self.prm.encode(it["prompt"], it["steps"]).ids) for it in items]
        losses, updates, tokens = [], 0, 0
        self.prm.train()
        with torch.enable_grad():
            for _ in range(s.epochs):
                order = list(range(len(items)))
                rng.shuffle(order)
                for start in range(0, len(order), s.batch_size):
                    chosen = order[start : start + s.batch_size]
                    loss = weighted_step_bce(self.prm, [items[i] for i in chosen])
                    tokens += sum(lengths[i] for i in chosen)
                    self.optimizer.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(self.prm.parameters(), 1.0)
                    self.optimizer.step()
                    losses.append(float(loss.detach()))
                    updates += 1
                    if s.max_updates and updates >= s.max_updates:
                        break
                if s.max_updates and updates >= s.max_updates:
                    break
        self.prm.eval()
        for b in self.buffer:
            b["fresh"] = False
        self.cache.clear()
        self.refreshes += 1
        self.batches_since_refresh = 0
        self.stats["train_loss"] = sum(losses) / len(losses) if losses else float("nan")
        self.stats["trained_tokens"] = self.stats.get("trained_tokens", 0.0) + tokens
        self.stats["refresh_s"] = time.perf_counter() - t0

    # --- checkpoints ----------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {"settings": asdict(self.settings), "buffer": list(self.buffer), "guard": self.guard.state_dict(),
                "batch": asdict(self.batch), "batches_since_refresh": self.batches_since_refresh,
                "refreshes": self.refreshes, "stats": self.stats}

    def save_state(self, folder) -> None:
        """folder/prm (the PRM as `scaffold-rl prm train` writes it), optimizer.pt, state.json."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.prm.save(folder / "prm")
        torch.save(self.optimizer.state_dict(), folder / "optimizer.pt")
        (folder / "state.json").write_text(json.dumps(self.state_dict()))

    def load_state(self, folder) -> None:
        folder = Path(folder)
        state = json.loads((folder / "state.json").read_text())
        if state["settings"] != asdict(self.settings):
            raise ValueError(f"{folder}: the checkpoint's refreshed_process settings {state['settings']} differ from "
                             f"the config's {asdict(self.settings)}")
        self.prm = ProcessRewardModel.load(folder / "prm")
        self.optimizer = self._new_optimizer()
        self.optimizer.load_state_dict(torch.load(folder / "optimizer.pt", map_location="cpu"))
        self.buffer = deque(state["buffer"], maxlen=self.settings.buffer)
        self.guard.load_state_dict(state["guard"])
        self.batch = _Batch(**state["batch"])
        self.batches_since_refresh = state["batches_since_refresh"]
        self.refreshes = state["refreshes"]
        self.stats = {k: float(v) for k, v in state["stats"].items()}
        self.cache.clear()
