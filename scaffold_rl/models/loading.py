"""The policy a run starts from: the cached embedded model, or a Hugging Face causal LM (local folder or cached hub id)."""
from __future__ import annotations

import re
from pathlib import Path


class ModelPathError(FileNotFoundError):
    pass


HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def resolve_model_path(path: str | Path) -> Path:
    """A local model folder: `path` itself, or the snapshot of hub id `path` in the local Hugging Face cache
    ($HF_HOME / $HF_HUB_CACHE). Nothing is downloaded: a miss says how to fetch it on a machine with internet."""
    p = Path(path).expanduser()
    if p.exists():
        return p
    text = str(path)
    if not HUB_ID.match(text) or text.startswith("."):
        raise ModelPathError(f"model.path: {p} does not exist (a local Hugging Face model folder, or the hub id of a "
                             "model in the local Hugging Face cache, is needed; nothing is downloaded at run time)")
    from huggingface_hub import snapshot_download
    from huggingface_hub.constants import HF_HUB_CACHE

    try:
        return Path(snapshot_download(text, local_files_only=True))
    except (FileNotFoundError, OSError, ValueError) as err:
        raise ModelPathError(
            f"model.path: {text!r} is neither a folder here nor a model in the local Hugging Face cache "
            f"({HF_HUB_CACHE}); nothing is downloaded at run time. On a machine with internet run "
            f"`hf download {text}` (or `huggingface-cli download {text}`), then copy its cache here and point "
            f"HF_HOME (or HF_HUB_CACHE) at it, or set model.path to a folder holding the model "
            f"({type(err).__name__})") from err


def load_hf_model(path: str | Path, echo=print):
    """Load a causal LM and its tokenizer from a local folder or a cached hub id; never downloads."""
    from transformers import AutoModelForCausalLM

    p = resolve_model_path(path)
    if not (p / "config.json").exists():
        raise ModelPathError(f"model.path: {p} has no config.json; is it a Hugging Face model folder?")
    try:
        tokenizer = _load_tokenizer(p)
        model = AutoModelForCausalLM.from_pretrained(p, local_files_only=True)
    except OSError as err:
        raise ModelPathError(f"model.path: could not load {p}: {err}") from err
    prepare_for_generation(model, tokenizer)
    where = p if str(p) == str(path) else f"{path} ({p})"
    echo(f"loaded {type(model).__name__} from {where} ({sum(x.numel() for x in model.parameters()) / 1e6:.1f} M)")
    return model, tokenizer


def prepare_for_generation(model, tokenizer) -> None:
    """What batched left-padded generation needs of any model and tokenizer (loaded here or handed in)."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id


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
    from scaffold_rl.models.pretrain import load_or_pretrain

    model, tokenizer, path = load_or_pretrain(cfg.model, cfg.task, log=echo)
    echo(f"embedded base model: {path}")
    return model, tokenizer
