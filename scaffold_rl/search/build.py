"""Wiring from a run config to a search: the policy over a generation backend, the scorer named on the command
line, and accuracy / token totals over a set of problems."""
from __future__ import annotations

import time
from collections.abc import Callable

from scaffold_rl.configio import ConfigError
from scaffold_rl.search.api import run_search
from scaffold_rl.search.policy import SearchPolicy
from scaffold_rl.search.scorers import ExactStepScorer, PRMScorer, verifier_scorer
from scaffold_rl.search.types import SearchConfig, SearchResult
from scaffold_rl.types import Problem

SCORER_HELP = ("'none' (majority vote only), 'verifier' (outcome check against the gold answer: an oracle at "
               "test time, the judge of training data), 'exact' (the arithmetic task's exact step labels: a perfect "
               "PRM, oracle) or 'prm:PATH' (a folder written by the PRM trainer)")


def make_search_policy(cfg, scfg: SearchConfig, model, tokenizer, task) -> SearchPolicy:
    from scaffold_rl.rollout.generation import TransformersGenerator
    from scaffold_rl.steps import segmenter_for

    generator = TransformersGenerator(model, tokenizer, batch_size=cfg.rollout.max_batch_sequences,
                                      static_cache=cfg.rollout.static_cache)
    return SearchPolicy(generator, tokenizer, task.renderer(tokenizer), segmenter_for(cfg.task.name),
                        task.extract_answer, scfg)


def make_scorer(spec: str, cfg, task, aggregation: str):
    """The scorer named by `spec` (see SCORER_HELP)."""
    if spec in ("", "none"):
        return None
    if spec == "verifier":
        return verifier_scorer(task.answer_pattern, cfg.reward.verifier_timeout_s)
    if spec == "exact":
        if cfg.task.name != "arithmetic":
            raise ConfigError("scorer 'exact' exists only for the embedded arithmetic task")
        return ExactStepScorer(aggregation)
    if spec.startswith("prm:"):
        from scaffold_rl.prm.model import ProcessRewardModel

        return PRMScorer(ProcessRewardModel.load(spec[4:]), aggregation)
    raise ConfigError(f"--scorer: expected {SCORER_HELP}; got {spec!r}")


def answer_checker(cfg, task) -> Callable[[str | None, Problem], bool]:
    """Is a chosen (canonical) answer right? The library's one checker, time-bounded."""
    from scaffold_rl.verify import Verifier

    verifier = Verifier(timeout_s=cfg.reward.verifier_timeout_s, answer_pattern=task.answer_pattern)
    return lambda answer, p: answer is not None and p.answer is not None and verifier.check(answer, p.answer).correct


def search_many(method: str, policy: SearchPolicy, problems: list[Problem], scorer, scfg: SearchConfig,
                is_correct, echo=None) -> tuple[dict, list[SearchResult]]:
    """Search every problem; returns the totals (accuracy, tokens per problem, seconds) and the results."""
    t0 = time.perf_counter()
    results, correct = [], 0
    for i, p in enumerate(problems):
        res = run_search(method, policy, p, scorer, scfg)
        results.append(res)
        correct += is_correct(res.answer, p)
        if echo and (i + 1) % max(1, len(problems) // 4) == 0:
            echo(f"  {method}: {i + 1}/{len(problems)} problems, accuracy so far {correct / (i + 1):.3f}")
    n = max(1, len(problems))
    totals = {"problems": len(problems), "accuracy": correct / n,
              "tokens_per_problem": sum(r.tokens for r in results) / n,
              "no_answer": sum(r.answer is None for r in results) / n,
              "seconds": round(time.perf_counter() - t0, 2)}
    return totals, results
