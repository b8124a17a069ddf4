"""Evaluation: greedy and sampled accuracy, unbiased pass@k and maj@k, per level, optionally under hints.

Hints never appear in training-time evaluation of the policy: `hint_depth` exists only to measure latent
ability (how far a solution prefix lifts the model), which the report shows beside the cliff.
"""
from __future__ import annotations

from collections import defaultdict

from scaffold_rl.eval.metrics import maj_at_k, pass_at_k
from scaffold_rl.rollout.generation import SamplingParams
from scaffold_rl.rollout.sampler import Sampler
from scaffold_rl.types import Hint, Problem


def solution_prefix_hint(problem: Problem, depth: int, placement: str = "response") -> Hint | None:
    """The first `depth` reference steps as a hint that the answer continues (None for depth 0)."""
    if depth <= 0:
        return None
    if depth > len(problem.solution_steps):
        raise ValueError(f"problem {problem.id} has {len(problem.solution_steps)} steps; cannot hint {depth}")
    return Hint("".join(problem.solution_steps[:depth]), tier="solution", level=depth, placement=placement,
                scored=True)


def k_values(n: int) -> list[int]:
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    return ks if ks[-1] == n else ks + [n]


def evaluate_problems(sampler: Sampler, problems: list[Problem], *, max_new_tokens: int = 64, samples: int = 0,
                      sample_problems: int | None = None, hint_depth: int = 0, seed: int = 0,
                      extract=None) -> dict:
    """Metrics for one set of problems. Greedy accuracy on all; sampled metrics on the first `sample_problems`."""
    items = [(p, solution_prefix_hint(p, hint_depth)) for p in problems]
    greedy = sampler.sample(items, 1, seed=seed, params=SamplingParams(max_new_tokens=max_new_tokens, greedy=True))
    out = {"n": len(problems), "greedy": sum(g[0].correct for g in greedy) / max(1, len(problems)),
           "timeouts": sum(g[0].verifier_timed_out for g in greedy)}
    answer_ok = _answer_correct(sampler, extract)
    if samples > 0:
        subset = items[: sample_problems or len(items)]
        params = SamplingParams(max_new_tokens=max_new_tokens, temperature=1.0)
        groups = sampler.sample(subset, samples, seed=seed + 1, params=params)
        out["sampled"] = sum(r.correct for g in groups for r in g) / (len(groups) * samples)
        if answer_ok is not None:
            # a right final answer reached by a wrong chain: the chance floor a strict reward removes
            flat = [r for g in groups for r in g]
            out["sampled_answer"] = sum(answer_ok(r) for r in flat) / len(flat)
            out["lucky"] = sum(answer_ok(r) and not r.correct for r in flat) / len(flat)
        for k in k_values(samples):
            out[f"pass@{k}"] = sum(pass_at_k(samples, sum(r.correct for r in g), k) for g in groups) / len(groups)
        if extract is not None:
            for k in k_values(samples):
                if k > 1:
                    out[f"maj@{k}"] = sum(
                        maj_at_k([extract(r.text) for r in g], g[0].problem.answer, k, _answer_equal(sampler))
                        for g in groups) / len(groups)
    return out


def _answer_correct(sampler: Sampler, extract):
    """Answer-only correctness of a rollout, when the reward is stricter than that (else None)."""
    if extract is None or getattr(sampler.reward, "kind", "answer") == "answer":
        return None
    equal = _answer_equal(sampler)
    return lambda r: r.problem.answer is not None and equal(extract(r.text), r.problem.answer)


def _answer_equal(sampler: Sampler):
    verifier = getattr(sampler.reward, "verifier", None)

    def equal(answer, gold) -> bool:
        if answer is None or gold is None:
            return False
        if verifier is None:
            return str(answer).strip() == str(gold).strip()
        return verifier.check(str(answer), gold).correct

    return equal


def evaluate_levels(sampler: Sampler, problems_by_level: dict[int, list[Problem]], **kw) -> dict[str, dict]:
    """`evaluate_problems` per level; keys are 'L1', 'L2', ... ('L0' for problems without a level)."""
    return {f"L{level}": evaluate_problems(sampler, probs, **kw) for level, probs in sorted(problems_by_level.items())}


def group_by_level(problems: list[Problem]) -> dict[int, list[Problem]]:
    out: dict[int, list[Problem]] = defaultdict(list)
    for p in problems:
        out[p.level or 0].append(p)
    return dict(out)
