"""The private parts of TRL (1.16) that scaffold-rl relies on, one check each, so that trying the next TRL minor
is running this file: a renamed attribute fails here by name instead of deep inside a training run."""
import inspect

import pytest
from trl import GRPOConfig, GRPOTrainer

SOURCE = inspect.getsource(GRPOTrainer)

# attribute -> what we use it for
ATTRIBUTES = {
    "self._metrics": "per-step metrics of the rollout stage and the hint-NLL term go into TRL's log",
    "self._last_loaded_step": "vLLM weights are synced before evaluation unless this step's are loaded",
    "self._entropy_bonus_enabled": "zero-advantage rows are skipped only without an entropy bonus",
    "self.aux_loss_enabled": "zero-advantage rows are skipped only without a MoE router loss",
    "self.vllm_generation": "our VLLMGenerator samples through TRL's engine",
    "self.use_vllm": "rollouts and evaluation sync vLLM weights",
    "self.num_generations": "rollout rows are regrouped per problem",
    "self.rollout_func": "our rollout stage is TRL's rollout_func",
    "self.epsilon_low": "importance-corrected rows (guide) are clipped like TRL's rows",
    "self.importance_sampling_level": "per-token estimators need token-level importance sampling",
    "self.max_completion_length": "off-policy rows are normalised like TRL's dr_grpo",
    'completion_mask * inputs["tool_mask"]': "off-policy rows leave TRL's surrogate through the tool mask",
}
METHODS = {
    "_generate_and_score_completions": "we keep the rows TRL passes and add the hint-NLL mask",
    "_compute_loss": "zero-advantage rows are left out and the hint NLL added",
    "_get_per_token_logps_and_entropies": "the hint NLL reuses the loss's forward pass",
    "_save_checkpoint": "strategy state and the COMPLETE marker join TRL's checkpoint",
    "_load_optimizer_and_scheduler": "strategy state is restored with the optimizer",
    "create_optimizer": "optionally skip updates with an exactly zero gradient",
}


@pytest.mark.parametrize("name", sorted(ATTRIBUTES))
def test_trl_attribute_we_rely_on_exists(name):
    assert name in SOURCE, f"TRL's GRPOTrainer no longer has {name} ({ATTRIBUTES[name]})"


@pytest.mark.parametrize("name", sorted(METHODS))
def test_trl_method_we_override_exists(name):
    assert callable(getattr(GRPOTrainer, name, None)), f"GRPOTrainer.{name} is gone ({METHODS[name]})"


def test_rollout_func_outputs_we_return_are_the_ones_trl_reads():
    """rollout_func returns prompt_ids, completion_ids, logprobs and env_mask (tool/hint mask), extra keys go to the
    reward functions as keyword arguments (our precomputed `scaffold_reward`)."""
    for key in ('"prompt_ids"', '"completion_ids"', '"logprobs"', '"env_mask"'):
        assert key in SOURCE, key


def test_grpo_config_fields_we_set_exist():
    from dataclasses import fields

    names = {f.name for f in fields(GRPOConfig)}
    for name in ("steps_per_generation", "num_generations", "max_completion_length", "loss_type", "scale_rewards",
                 "epsilon_high", "beta", "vllm_importance_sampling_correction", "use_vllm", "vllm_mode"):
        assert name in names, name


def test_sync_before_evaluation_pushes_weights_once_per_step():
    """Evaluation under rollout.backend=vllm scored the weights of the last rollout (TRL syncs only there)."""
    import types

    from scaffold_rl.train.run import sync_generation_weights

    synced = []
    trainer = types.SimpleNamespace(use_vllm=True, state=types.SimpleNamespace(global_step=12), _last_loaded_step=8,
                                    vllm_generation=types.SimpleNamespace(sync_weights=lambda: synced.append(1)))
    sync_generation_weights(trainer)
    sync_generation_weights(trainer)
    assert synced == [1] and trainer._last_loaded_step == 12
    sync_generation_weights(types.SimpleNamespace(use_vllm=False))  # transformers backend: nothing to do
