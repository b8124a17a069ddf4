"""The sampler a run generates and scores with, built from its config: generator, renderer, reward.

Used by training, evaluation, hint search, `scaffold-rl eval` and the benchmarks alike, so it lives here and
imports no trainer: only with a trainer and rollout.backend=vllm does it reach for TRL's engine.
"""
from __future__ import annotations

from scaffold_rl.rollout.generation import SamplingParams, TransformersGenerator
from scaffold_rl.rollout.sampler import Sampler


def make_sampler(cfg, model, tokenizer, task, trainer=None, evaluation: bool = False, reward_funcs=None) -> Sampler:
    """A sampler on `model`; with a trainer and rollout.backend=vllm, sampling goes through TRL's vLLM engine.
    It scores with the training reward (`reward.spec`, or TRL-style `reward_funcs` / `reward.funcs`), or with the
    task's correctness when `evaluation`."""
    r = cfg.rollout
    if trainer is not None and r.backend == "vllm":
        from scaffold_rl.rollout.vllm_generation import VLLMGenerator

        generator = VLLMGenerator.from_trainer(trainer, tokenizer)
    else:
        generator = TransformersGenerator(model, tokenizer, batch_size=r.max_batch_sequences,
                                          static_cache=r.static_cache)
    params = SamplingParams(max_new_tokens=r.max_new_tokens, temperature=r.temperature, top_k=r.top_k, top_p=r.top_p)
    return Sampler(generator, task.renderer(tokenizer), training_reward(cfg, task, tokenizer, evaluation,
                                                                        reward_funcs), tokenizer, params)


def training_reward(cfg, task, tokenizer, evaluation: bool = False, reward_funcs=None):
    """The reward object a sampler scores with: TRL-style functions when given (Python `reward_funcs`, else
    `reward.funcs`), else `reward.spec` / the task's correctness (rewards/registry.py)."""
    funcs = reward_funcs if reward_funcs else cfg.reward.funcs
    if funcs and not evaluation:
        from scaffold_rl.rewards.trl_funcs import TRLRewardFunctions, load_reward_funcs

        callables = load_reward_funcs(funcs) if not reward_funcs else list(reward_funcs)
        return TRLRewardFunctions(callables, weights=cfg.reward.weights, threshold=cfg.reward.correct_threshold)
    from scaffold_rl.rewards.registry import reward_for_run

    return reward_for_run(cfg.reward, task, tokenizer, cfg.rollout.max_new_tokens, evaluation=evaluation)
