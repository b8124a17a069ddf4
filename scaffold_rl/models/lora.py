"""LoRA through peft: the config section becomes a `peft.LoraConfig` that TRL's GRPOTrainer applies.

TRL wraps the policy with `get_peft_model`, so `trainer.model` is the adapter-enabled PeftModel: our rollout
generator is built from it (generation sees the adapters), checkpoints and `final/` hold the adapter only, and
the base weights never change. `merge_adapter` folds an adapter into its base for serving or `eval --run`.
"""
from __future__ import annotations

from pathlib import Path

from scaffold_rl.extras import require_extra


def require_peft():
    return require_extra("peft", "lora", "model.lora.enabled")


def peft_config(cfg):
    """The `peft.LoraConfig` for `cfg.model.lora`, or None when LoRA is off."""
    lora = cfg.model.lora
    if not lora.enabled:
        return None
    peft = require_peft()
    targets = lora.target_modules
    return peft.LoraConfig(
        r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, task_type="CAUSAL_LM", bias="none",
        target_modules="all-linear" if list(targets) == ["all-linear"] else list(targets),
    )


def is_adapter_dir(path: str | Path) -> bool:
    return (Path(path) / "adapter_config.json").exists()


def merge_adapter(adapter_dir: str | Path, out_dir: str | Path, base_model=None):
    """Load the base model named in the adapter (or `base_model`, a loaded model), merge the LoRA update into
    its weights and save a plain Hugging Face model (with the adapter folder's tokenizer) to `out_dir`."""
    peft = require_peft()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter_dir = Path(adapter_dir)
    if base_model is None:
        base_path = peft.PeftConfig.from_pretrained(str(adapter_dir)).base_model_name_or_path
        if not base_path or not Path(base_path).exists():
            raise FileNotFoundError(f"{adapter_dir}/adapter_config.json names base model {base_path!r}, which is not "
                                    "a local folder; pass the loaded base model as base_model")
        base_model = AutoModelForCausalLM.from_pretrained(base_path)
    merged = peft.PeftModel.from_pretrained(base_model, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(out_dir)
    try:
        AutoTokenizer.from_pretrained(str(adapter_dir)).save_pretrained(out_dir)
    except (OSError, ValueError):
        pass  # no tokenizer saved next to the adapter: the caller keeps the base model's
    return merged


def save_final(model, tokenizer, final_dir: str | Path) -> None:
    """The run's `final/`: a plain Hugging Face model (LoRA merged in, so `eval --run`, vLLM and serving load it
    as any model) and, for LoRA runs, the adapter alone in `final/adapter/`.

    The merge happens in place (peft's merge_and_unload): the wrapper the rollout generator holds keeps working
    and computes the same function, so the final evaluation that follows sees the trained policy.
    """
    final_dir = Path(final_dir)
    if hasattr(model, "peft_config") and hasattr(model, "merge_and_unload"):
        model.save_pretrained(final_dir / "adapter")
        tokenizer.save_pretrained(final_dir / "adapter")
        model = model.merge_and_unload()
    model.save_pretrained(final_dir)
    tokenizer.save_pretrained(final_dir)
