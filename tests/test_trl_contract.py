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
    "self._dist": "full weights for generation under ZeRO-3 / FSDP (summon_full_params)",
    "self.eos_token_ids": "VLLMGenerator stops at the trainer's eos ids",
    "self.beta": "zero-advantage rows are skipped only without a KL term",
    "self.loss_type": "the loss normaliser is put back after rows are skipped",
}
# transformers.Trainer internals GRPOTrainer inherits and we use
TRAINER_ATTRIBUTES = {
    "def _get_output_dir": "the strategy state is written into the checkpoint folder TRL just saved",
    "self.current_gradient_accumulation_steps": "the hint NLL is scaled for gradient accumulation like TRL's loss",
    "self.model_wrapped": "the generation context unwraps the DDP / DeepSpeed model",
    "self.callback_handler": "held-out evaluations reach the trackers (train.report_to) through the callbacks",
}
# TRL's vLLM wrapper, as VLLMGenerator reads it
VLLM_GENERATION = {
    "self.mode": "colocate vs server",
    "self.llm": "colocate: our generator calls llm.generate",
    "self.vllm_client": "server: process 0 reuses TRL's client",
    "self.tensor_parallel_size": "colocate with TP > 1 is refused",
    "def sync_weights": "weights are pushed before evaluation",
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


@pytest.mark.parametrize("name", sorted(TRAINER_ATTRIBUTES))
def test_transformers_trainer_internal_we_rely_on_exists(name):
    from transformers import Trainer

    assert name in inspect.getsource(Trainer), f"transformers' Trainer no longer has {name} ({TRAINER_ATTRIBUTES[name]})"


@pytest.mark.parametrize("name", sorted(VLLM_GENERATION))
def test_trl_vllm_generation_attribute_we_read_exists(name):
    from trl.generation import vllm_generation

    source = inspect.getsource(vllm_generation.VLLMGeneration)
    assert name in source, f"trl's VLLMGeneration no longer has {name} ({VLLM_GENERATION[name]})"


def test_trl_helpers_we_import_exist():
    import importlib

    from trl.models.utils import unwrap_model_for_generation  # noqa: F401 - generation context for ZeRO-3
    assert importlib.util.find_spec("trl.generation.vllm_client") is not None  # VLLMClient, server mode


def test_tensorboard_callback_fields_we_set_exist():
    """The run points transformers' TensorBoardCallback at <run>/tensorboard through these two attributes."""
    from transformers.integrations import TensorBoardCallback

    source = inspect.getsource(TensorBoardCallback)
    assert "self.logging_dir" in source and "self.tb_writer" in source


def test_reward_function_arguments_trl_passes_are_the_ones_we_pass():
    """TRL-style reward functions (reward.funcs) get what TRL's _calculate_rewards gives them."""
    source = inspect.getsource(GRPOTrainer._calculate_rewards)
    for key in ("prompts=prompts", "completions=completions", "completion_ids=completion_ids_list",
                'reward_kwargs["trainer_state"]', 'reward_kwargs["log_metric"]'):
        assert key in source, key


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
                 "epsilon_high", "beta", "vllm_importance_sampling_correction", "use_vllm", "vllm_mode",
                 "ds3_gather_for_generation", "report_to", "run_name"):
        assert name in names, name


def test_every_trl_name_we_map_or_fix_is_a_grpo_config_field_or_a_trl_script_flag():
    """config.TRL_NAMES / TRL_FIXED name TRL's fields: a rename in TRL shows up here, not as a stale pointer."""
    from dataclasses import fields

    from trl import ModelConfig, ScriptArguments

    from scaffold_rl.config import TRL_FIXED, TRL_NAMES

    known = {f.name for cls in (GRPOConfig, ModelConfig, ScriptArguments) for f in fields(cls)}
    # max_prompt_length and reward_funcs are older TRL names users still write; kept on purpose
    older = {"max_prompt_length", "reward_funcs"}
    assert sorted(k for k in set(TRL_NAMES) | set(TRL_FIXED) if k not in known | older) == []


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
