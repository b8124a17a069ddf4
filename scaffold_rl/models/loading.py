"""The policy a run starts from: the cached embedded model (the task's own, when it has one), or any local Hugging
Face causal LM."""
from __future__ import annotations

from pathlib import Path


class ModelPathError(FileNotFoundError):
    pass


def load_hf_model(path: str | Path, echo=print):
    """Load a local causal LM and its tokenizer; never touches the hub (no downloads at run time)."""
    from transformers import AutoModelForCausalLM

    p = Path(path).expanduser()
    if not p.exists():
        raise ModelPathError(f"model.path: {p} does not exist (a local Hugging Face model folder is needed; "
                             "hub downloads are not made at run time)")
    if not (p / "config.json").exists():
        raise ModelPathError(f"model.path: {p} has no config.json; is it a Hugging Face model folder?")
    try:
        tokenizer = _load_tokenizer(p)
        model = AutoModelForCausalLM.from_pretrained(p, local_files_only=True)
    except OSError as err:
        raise ModelPathError(f"model.path: could not load {p}: {err}") from err
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    echo(f"loaded {type(model).__name__} from {p} ({sum(x.numel() for x in model.parameters()) / 1e6:.1f} M)")
    return model, tokenizer


GENERIC_TOKENIZER_CLASSES = ("TokenizersBackend", "PreTrainedTokenizerFast")


def _load_tokenizer(path: Path):
    """The folder's own tokenizer. transformers 5 picks the class from the *model* type, which would re-wrap a
    generic tokenizer.json (the embedded model's, say) in e.g. Qwen2Tokenizer's byte-level pre-tokenizer and
    silently drop characters it has no byte token for ('\\n', ' '); a folder that declares a generic class
    gets exactly its tokenizer.json."""
    import json

    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    config_file = path / "tokenizer_config.json"
    declared = json.loads(config_file.read_text()).get("tokenizer_class") if config_file.exists() else None
    if declared in GENERIC_TOKENIZER_CLASSES and (path / "tokenizer.json").exists():
        return PreTrainedTokenizerFast.from_pretrained(path, local_files_only=True)
    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def load_policy(cfg, echo=print):
    """(model, tokenizer) for a run config."""
    if cfg.model.path:
        return load_hf_model(cfg.model.path, echo=echo)
    from scaffold_rl.tasks.base import task_embedded_policy

    own = task_embedded_policy(cfg)  # a task the arithmetic model cannot read brings its own (summaries)
    if own is not None:
        return own(cfg, echo=echo)
    from scaffold_rl.models.pretrain import load_or_pretrain

    model, tokenizer, path = load_or_pretrain(cfg.model, cfg.task, log=echo)
    echo(f"embedded base model: {path}")
    return model, tokenizer
