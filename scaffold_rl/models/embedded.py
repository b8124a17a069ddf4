"""The embedded base model: a tiny Qwen2-class causal LM and a character tokenizer, built in-process.

Nothing is downloaded: the tokenizer is a `tokenizers` WordLevel model over printable ASCII (one token
per character) wrapped as a `PreTrainedTokenizerFast`, and the model is a standard
`Qwen2ForCausalLM`, so every code path that serves it also serves a real Hugging Face model.
"""
from __future__ import annotations

import string
from dataclasses import dataclass

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
CHARS = "\n" + "".join(c for c in string.printable if c not in "\t\r\x0b\x0c\n")


def build_tokenizer() -> PreTrainedTokenizerFast:
    """One token per character; `<bos>` is prepended by the post-processor; pads on the left for generation."""
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for ch in CHARS:
        vocab.setdefault(ch, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", vocab["<bos>"])]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>", unk_token="<unk>"
    )
    fast.padding_side = "left"
    # A template that just concatenates, so chat-style callers (TRL, evaluation) work unchanged.
    fast.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    return fast


@dataclass
class TinyModelSpec:
    hidden_size: int = 256
    intermediate_size: int = 512
    num_layers: int = 4
    num_heads: int = 4
    max_positions: int = 256


def build_model(tokenizer: PreTrainedTokenizerFast, spec: TinyModelSpec, seed: int = 0) -> Qwen2ForCausalLM:
    import torch

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_heads,
        max_position_embeddings=spec.max_positions,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        attn_implementation="sdpa",
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model
