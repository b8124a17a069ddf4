"""SEELE (arXiv 2509.06923): a solution prefix per problem, sized so that the policy solves about half its samples.

A step's group of m x n samples is generated in m rounds (default 4 x n, with rollout.num_generations = m x n).
Round 1 uses the problem's stored rate (the last one chosen the previous time the problem was trained on), or
the cold start (|y| - 1) / |y|, almost the whole solution, on first sight. Before each later round a 3PL
item-response curve is fitted to the problem's (rate, accuracy) pairs plus the (0, 0) / (1, 1) anchors (irt.py)
and inverted at `target`; a failed fit keeps the previous rate. Which pairs: the paper resets them every step
(this step's rounds only: `fit_memory=False`); our default (`fit_memory=True`) also keeps the points of the
problem's previous visit, measured under an older policy, because fits on one or two points pull the achieved
accuracy toward 0.5 (docs/benchmarks.md: +0.19 / -0.16 of targets 0.25 / 0.75 without, +0.05 / -0.03 with).
After the last round one more fit over all m rounds gives the rate stored for next time (our choice: it uses
round m's result, which the paper's "store the last rate" would ignore).

The hint is the first round(rate x |y|) units of the reference solution, |y| in steps (the embedded task's
solution_steps; a dataset's meta["solution"] cut by hints/split.py into at most 5), tokens or characters. It
opens the response (Hint.placement="response", scored): the prompt stays the problem alone, completion_ids = hint ids +
generated ids, and the reward judges hint + generated text. Hint tokens are marked `hint_loss="nll"`: the
trainer gives them no policy loss but a gamma-weighted supervised term (train.hint_nll_weight, paper 0.001).
`hint_loss="rl"` trains them with the policy loss instead (Scaf-GRPO's placement='response'); beware that a
failed hinted rollout has a negative advantage, so the policy loss then pushes the reference prefix *down* —
the reason the paper keeps hint tokens out of the RL loss. It is offered as an ablation, with a warning.

The stage's plain initial group is not generated at all (wants_initial_samples = False): the m rounds are the
group, in round order, and TRL computes the advantage over all m x n of them. The paper's advantage is
Dr.GRPO's (r - mean, no std): set train.scale_rewards=none; a strategy cannot change the trainer's config.
"""
from __future__ import annotations

import math
import warnings

from scaffold_rl.strategies.base import RescueStrategy, register
from scaffold_rl.strategies.hint_ladder import join_parts
from scaffold_rl.strategies.irt import next_rate
from scaffold_rl.types import Batch, Group, Hint, Problem, Rollout

GRANULARITIES = ("step", "token", "char")
STEP_PARTS = 5  # SEELE's annotated solutions have at most 5 numbered steps


def solution_text(problem: Problem) -> str:
    """The reference solution y: the task's own steps joined, else meta['solution'], else the reference."""
    if problem.solution_steps:
        return join_parts(problem, problem.solution_steps)
    return problem.meta.get("solution") or problem.reference or ""


class SolutionPrefix:
    """Cuts a problem's solution into units of the chosen granularity; a hint is the text of the first l units.

    Units are computed once per problem (tokenisation and splitting are not free; the same problems come back
    every epoch)."""

    def __init__(self, granularity: str = "step"):
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
        self.granularity = granularity
        self._cache: dict[str, tuple] = {}

    def units(self, problem: Problem, tokenizer=None) -> tuple:
        if problem.id not in self._cache:
            self._cache[problem.id] = self._units(problem, tokenizer)
        return self._cache[problem.id]

    def _units(self, problem: Problem, tokenizer) -> tuple:
        if self.granularity == "step":
            if problem.solution_steps:
                return tuple(problem.solution_steps)
            text = solution_text(problem)
            if not text:
                return ()
            from scaffold_rl.hints.split import split_solution

            return tuple(split_solution(text, parts=STEP_PARTS))
        text = solution_text(problem)
        if self.granularity == "char":
            return tuple(text)
        if tokenizer is None:
            raise ValueError("token granularity needs the tokenizer")
        return tuple(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else ()

    def text(self, problem: Problem, length: int, tokenizer=None) -> str:
        units = self.units(problem, tokenizer)[:length]
        if not units:
            return ""
        if self.granularity == "step":
            return join_parts(problem, units)
        if self.granularity == "char":
            return "".join(units)
        return tokenizer.decode(list(units), skip_special_tokens=True)


def hint_length(rate: float, size: int) -> int:
    """round(rate x |y|) with halves rounded up (Python's round() would send 0.5 to 0 and 2.5 to 2)."""
    return min(size, max(0, math.floor(rate * size + 0.5)))


def cold_start_rate(size: int) -> float:
    """The paper's pessimistic first rate: all but one unit of the solution."""
    return (size - 1) / size if size > 0 else 0.0


@register
class SEELE(RescueStrategy):
    name = "seele"
    config_section = "seele"  # strategy.seele.* (config.SeeleOptions)
    wants_initial_samples = False

    def __init__(self, rounds: int = 4, samples_per_round: int = 8, target: float = 0.5,
                 granularity: str = "step", hint_loss: str = "nll", fit_memory: bool = True):
        if rounds < 1 or samples_per_round < 1:
            raise ValueError("rounds and samples_per_round must be >= 1")
        if not 0.0 < target < 1.0:
            raise ValueError(f"target must be in (0, 1), got {target}")
        if hint_loss not in ("nll", "rl"):
            raise ValueError(f"hint_loss must be 'nll' or 'rl', got {hint_loss!r}")
        if hint_loss == "rl":
            warnings.warn("seele hint_loss='rl': failed hinted rollouts get a negative advantage on the reference "
                          "prefix tokens, which lowers the probability of the reference solution (SEELE keeps hint "
                          "tokens out of the policy loss for this reason; use 'nll' unless this is the ablation "
                          "you want)", stacklevel=2)
        self.rounds, self.samples_per_round, self.target = rounds, samples_per_round, target
        self.prefix = SolutionPrefix(granularity)
        self.hint_loss = hint_loss
        self.rates: dict[str, float] = {}  # problem id -> rate for its next first round (checkpointed)
        # fit_memory: within-step refits also see the (rate, accuracy) points of the problem's previous visit
        self.fit_memory = fit_memory
        self.memory: dict[str, tuple[list[float], list[float]]] = {}  # problem id -> last visit's points

    @classmethod
    def from_config(cls, config) -> SEELE:
        o, g = config.strategy.seele, config.rollout.num_generations
        n = o.samples_per_round
        if n is None:
            if g % o.rounds:
                raise ValueError(f"seele needs rollout.num_generations divisible by strategy.seele.rounds="
                                 f"{o.rounds}, got {g}")
            n = g // o.rounds
        if o.rounds * n != g:
            raise ValueError(f"seele's group is strategy.seele.rounds x samples_per_round = {o.rounds} x {n} = "
                             f"{o.rounds * n} samples, but rollout.num_generations={g}: TRL groups rows by "
                             f"num_generations, so set rollout.num_generations={o.rounds * n}")
        return cls(rounds=o.rounds, samples_per_round=n, target=o.target, granularity=o.granularity,
                   hint_loss=o.hint_loss, fit_memory=o.fit_memory)

    @property
    def group_size(self) -> int:
        return self.rounds * self.samples_per_round

    def hint_for(self, problem: Problem, rate: float, tokenizer) -> tuple[Hint | None, float]:
        """The hint for `rate` and the effective rate l / |y| it realises (what accuracy is measured at)."""
        size = len(self.prefix.units(problem, tokenizer))
        if size == 0:
            return None, 0.0
        length = hint_length(rate, size)
        if length == 0:
            return None, 0.0
        text = self.prefix.text(problem, length, tokenizer)
        # the prefix opens the response and the reward reads y_{1:l} + o, as in the paper (a full solution, p = 1,
        # is the (1, 1) anchor of the IRT curve)
        hint = Hint(text, tier="solution", level=length, rate=length / size, placement="response", scored=True)
        return hint, length / size

    def rescue(self, batch: Batch, ctx) -> Batch:
        if ctx.num_generations != self.group_size:
            raise ValueError(f"seele generates {self.rounds} x {self.samples_per_round} = {self.group_size} samples "
                             f"per problem, but the trainer groups by num_generations={ctx.num_generations}")
        tok = ctx.sampler.tokenizer
        problems = [g.problem for g in batch.groups]
        sizes = [len(self.prefix.units(p, tok)) for p in problems]
        stats = {"seele/target": self.target, "seele/cold_start": 0.0,
                 "seele/no_solution": float(sum(s == 0 for s in sizes)), "seele/fits": 0.0,
                 "seele/fit_failures": 0.0, "seele/fit_too_few": 0.0}
        rates = []
        for p, size in zip(problems, sizes):
            stored = self.rates.get(p.id)
            stats["seele/cold_start"] += stored is None and size > 0
            rates.append(cold_start_rate(size) if stored is None else stored)
        seen: list[tuple[list[float], list[float]]] = [([], []) for _ in problems]  # effective rates, accuracies
        fits = []
        rollouts: list[list[Rollout]] = [[] for _ in problems]
        for rnd in range(1, self.rounds + 1):
            if rnd > 1:
                for i, size in enumerate(sizes):
                    if size:
                        rates[i] = self._refit(self._points(problems[i], seen[i]), rates[i], stats, fits)
            items, effective = [], []
            for p, rate in zip(problems, rates):
                hint, eff = self.hint_for(p, rate, tok)
                items.append((p, hint))
                effective.append(eff)
            out = ctx.sampler.sample(items, self.samples_per_round, seed=ctx.sub_seed(rnd - 1), round=rnd)
            accs = []
            for i, rs in enumerate(out):
                if self.hint_loss == "nll":
                    for r in rs:
                        r.hint_loss = "nll" if r.hint_token_count else "rl"
                acc = sum(r.correct for r in rs) / len(rs)
                seen[i][0].append(effective[i])
                seen[i][1].append(acc)
                accs.append(acc)
                rollouts[i].extend(rs)
            stats[f"seele/acc/r{rnd}"] = sum(accs) / max(1, len(accs))
            for level in sorted({p.level for p in problems if p.level}):  # easy levels cannot get below their floor
                mine = [a for a, p in zip(accs, problems) if p.level == level]
                stats[f"seele/acc/r{rnd}/L{level}"] = sum(mine) / len(mine)
            stats[f"seele/abs_err/r{rnd}"] = sum(abs(a - self.target) for a in accs) / max(1, len(accs))
            stats[f"seele/rate/r{rnd}"] = sum(effective) / max(1, len(effective))
        for i, (p, size) in enumerate(zip(problems, sizes)):
            if size:  # one more fit, over every round, picks the rate the problem starts from next time
                self.rates[p.id] = self._refit(self._points(p, seen[i]), rates[i], stats, fits)
                if self.fit_memory:
                    self.memory[p.id] = (list(seen[i][0]), list(seen[i][1]))
        all_rates = [x for rs, _ in seen for x in rs]
        all_rollouts = [r for rs in rollouts for r in rs]
        stats.update({
            "seele/rate_mean": sum(all_rates) / max(1, len(all_rates)),
            "seele/acc": sum(r.correct for r in all_rollouts) / max(1, len(all_rollouts)),
            "seele/hint_tokens_mean": sum(r.hint_token_count for r in all_rollouts) / max(1, len(all_rollouts)),
            "seele/fit_b": sum(f.b for f in fits) / len(fits) if fits else 0.0,
            "seele/fit_k": sum(f.k for f in fits) / len(fits) if fits else 0.0,
            "seele/fit_mu": sum(f.mu for f in fits) / len(fits) if fits else 0.0,
            "seele/fit_rmse": sum(f.rmse for f in fits) / len(fits) if fits else 0.0,
        })
        ctx.stats.update(stats)
        return Batch([Group(p, rs) for p, rs in zip(problems, rollouts)], step=batch.step, stats=dict(batch.stats))

    def _points(self, problem: Problem, seen) -> tuple[list[float], list[float]]:
        """This step's (rates, accuracies), preceded by the previous visit's when fit_memory is on."""
        old_rates, old_accs = self.memory.get(problem.id, ([], [])) if self.fit_memory else ([], [])
        return old_rates + list(seen[0]), old_accs + list(seen[1])

    def _refit(self, seen, previous: float, stats: dict, fits: list) -> float:
        rate, fit, status = next_rate(seen[0], seen[1], previous, self.target)
        if status == "fit":
            stats["seele/fits"] += 1
            fits.append(fit)
        elif status == "failed":
            stats["seele/fit_failures"] += 1
        elif status == "too_few":
            stats["seele/fit_too_few"] += 1
        return rate

    def state_dict(self) -> dict:
        return {"rates": dict(self.rates), "memory": {k: [list(r), list(a)] for k, (r, a) in self.memory.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.rates = {str(k): float(v) for k, v in state.get("rates", {}).items()}
        self.memory = {str(k): ([float(x) for x in r], [float(x) for x in a])
                       for k, (r, a) in state.get("memory", {}).items()}
