"""The real-model path: a local Hugging Face folder of a standard architecture, a benchmark file, chat prompts.

Tiny random models of the Llama and Qwen2 classes stand in for real checkpoints (no hub access at run time);
what is checked is the code path: loading, chat templating, boxed-answer reward, training step, evaluation.
"""
import json

import pytest
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

from scaffold_rl.train.run import train
from tests.conftest import tiny_config

CHAT = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def byte_level_bpe():
    """A small byte-level BPE trained here on benchmark text, the kind of tokenizer Qwen and Llama 3 ship."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from scaffold_rl.data.benchmarks import load_benchmark

    texts = [p.prompt for p in load_benchmark("math500", limit=200)] + ["Please reason step by step."]
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.bos_token = None
    tok.chat_template = CHAT
    return tok


def save_tiny(arch: str, path):
    tok = byte_level_bpe()
    common = dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                  num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024,
                  pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    model = LlamaForCausalLM(LlamaConfig(**common)) if arch == "llama" else Qwen2ForCausalLM(Qwen2Config(**common))
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_local_model_trains_and_evaluates_on_a_benchmark(tmp_path, arch):
    cfg = tiny_config(tmp_path)
    cfg.model.path = str(save_tiny(arch, tmp_path / arch))
    cfg.task.name, cfg.reward.kind = "gsm8k_train", "answer"
    cfg.task.num_train_problems, cfg.eval.n_per_level, cfg.eval.samples = 16, 3, 2
    cfg.rollout.max_new_tokens = 8
    run_dir = train(cfg, echo=lambda *a: None)
    final = json.loads((run_dir / "eval_final.json").read_text())
    assert final["levels"]["L0"]["n"] == 3 and "pass@2" in final["levels"]["L0"]
    steps = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if '"reward"' in x]
    assert [s["step"] for s in steps] == [1, 2]
    assert (run_dir / "final" / "config.json").exists()


def test_chat_prompt_carries_system_instruction_and_question(tmp_path):
    from scaffold_rl.data.benchmarks import load_benchmark
    from scaffold_rl.models.loading import load_hf_model
    from scaffold_rl.rollout.prompts import ChatRenderer
    from scaffold_rl.types import Hint

    _, tok = load_hf_model(save_tiny("qwen2", tmp_path / "q"), echo=lambda *a: None)
    problem = load_benchmark("math500", limit=1)[0]
    text = tok.decode(ChatRenderer(tok).render(problem).prompt_ids, skip_special_tokens=True)
    assert "\\boxed{}" in text and problem.prompt in text and text.endswith("assistant\n")
    hinted = ChatRenderer(tok).render(problem, Hint("Use polar coordinates.", tier="knowledge", level=1))
    hinted_text = tok.decode(hinted.prompt_ids, skip_special_tokens=True)
    assert "Knowledge Hints: Use polar coordinates." in hinted_text and hinted.response_prefix_ids == []


def test_missing_or_incomplete_model_folder_is_a_clear_error(tmp_path):
    from scaffold_rl.models.loading import ModelPathError, load_hf_model

    with pytest.raises(ModelPathError, match="does not exist"):
        load_hf_model(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelPathError, match="no config.json"):
        load_hf_model(tmp_path / "empty")


def test_a_trained_embedded_model_reloads_with_its_own_tokenizer(tmp_path):
    """The final/ folder of an embedded run has a Qwen2 config beside a character tokenizer: reloading it must
    keep newlines and spaces (transformers alone would re-wrap it as a byte-level Qwen2 tokenizer)."""
    from scaffold_rl.models.embedded import TinyModelSpec, build_model, build_tokenizer
    from scaffold_rl.models.loading import load_hf_model

    tok = build_tokenizer()
    build_model(tok, TinyModelSpec(32, 64, 1, 2, 96)).save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    _, loaded = load_hf_model(tmp_path / "m", echo=lambda *a: None)
    text = "Q:143-7=?\nS:143 -7"
    assert loaded(text)["input_ids"] == tok(text)["input_ids"]
    assert loaded.decode(loaded(text, add_special_tokens=False)["input_ids"]) == text
