"""Scale-out pieces that run on CPU: LoRA through peft, recipes and the dry run, the vLLM backend's wiring."""
import sys
import types
from pathlib import Path

import pytest
import torch

from scaffold_rl.config import RunConfig
from scaffold_rl.configio import load_config
from scaffold_rl.data.arithmetic import ArithmeticTask
from scaffold_rl.models.embedded import TinyModelSpec, build_model, build_tokenizer
from scaffold_rl.models.lora import peft_config, save_final
from scaffold_rl.rollout.generation import SamplingParams
from scaffold_rl.train.trainer import ScaffoldGRPOTrainer, grpo_args
from tests.conftest import tiny_config
from tests.test_advantage_loss import ScriptedStage

RECIPES = sorted((Path(__file__).resolve().parent.parent / "scaffold_rl" / "configs" / "recipes").glob("*.yaml"))


# --- LoRA ----------------------------------------------------------------------------------------------------
def base_name(peft_name: str) -> str:
    """PeftModel parameter name -> the wrapped model's (base_model.model.X.q_proj.base_layer.weight -> X.q_proj.weight)."""
    return peft_name.removeprefix("base_model.model.").replace(".base_layer", "")


@pytest.fixture
def lora_trainer(tmp_path):
    pytest.importorskip("peft")
    cfg = tiny_config(tmp_path)
    cfg.model.lora.enabled, cfg.model.lora.r, cfg.model.lora.alpha = True, 4, 8
    cfg.train.lr, cfg.train.steps, cfg.train.prompts_per_step, cfg.train.save_every = 1e-2, 2, 1, 100
    tok = build_tokenizer()
    model = build_model(tok, TinyModelSpec(32, 64, 1, 2, 96), seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    problems = ArithmeticTask().problems("train", 1, 4)
    trainer = ScaffoldGRPOTrainer(model=model, tokenizer=tok, args=grpo_args(cfg, tmp_path / "ckpt"),
                                  problems=problems, peft_config=peft_config(cfg),
                                  stage_factory=lambda t: scripted_stage(tok, cfg))
    return trainer, before, tok, cfg


def scripted_stage(tok, cfg):
    """One success in four, every step (a gradient to follow); a real strategy, for the checkpoint."""
    from scaffold_rl.strategies.base import build_strategy

    stage = ScriptedStage(tok, [1, 0, 0, 0], [4] * 4)
    stage.strategy = build_strategy(cfg)
    return stage


def test_lora_trains_only_adapter_weights(lora_trainer):
    from peft import PeftModel

    trainer, before, tok, cfg = lora_trainer
    assert isinstance(trainer.model, PeftModel)
    lora0 = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if "lora_" in n}
    assert len(lora0) == 2 * 7  # A and B on q,k,v,o,gate,up,down of the one layer
    trainer.train()
    assert trainer.state.global_step == 2
    for name, p in trainer.model.named_parameters():
        if "lora_" in name:
            continue
        assert not p.requires_grad, name
        assert torch.equal(p.detach(), before[base_name(name)]), f"base weight {name} changed"
    lora1 = dict(trainer.model.named_parameters())
    assert all(torch.count_nonzero(lora0[n]) == 0 for n in lora0 if "lora_B" in n)  # peft starts B at zero ...
    assert all(not torch.equal(lora0[n], lora1[n].detach()) for n in lora0 if "lora_B" in n)  # ... training moved it


def test_lora_generation_sees_the_adapter_and_final_holds_merged_model_and_adapter(lora_trainer, tmp_path):
    from transformers import AutoModelForCausalLM

    from scaffold_rl.tasks import build_task
    from scaffold_rl.train.run import make_sampler

    trainer, before, tok, cfg = lora_trainer
    trainer.train()
    sampler = make_sampler(cfg, trainer.model, tok, build_task(cfg))
    assert sampler.generator.model is trainer.model  # what run.py's stage_factory builds: the PeftModel
    ids = torch.tensor([tok("Q:143-7=?\nS:")["input_ids"]])
    with torch.no_grad():
        adapted = trainer.model(input_ids=ids).logits
        with trainer.model.disable_adapter():
            plain = trainer.model(input_ids=ids).logits
    assert (adapted - plain).abs().max() > 1e-4
    save_final(trainer.model, tok, tmp_path / "final")
    assert (tmp_path / "final" / "adapter" / "adapter_config.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "final")
    with torch.no_grad():
        assert torch.allclose(merged(input_ids=ids).logits, adapted, atol=1e-5)
        assert torch.allclose(trainer.model(input_ids=ids).logits, adapted, atol=1e-5)  # still the same policy


def test_lora_off_by_default_and_bad_settings_are_errors():
    cfg = RunConfig()
    assert peft_config(cfg) is None
    with pytest.raises(ValueError, match="lora needs r >= 1"):
        load_config(RunConfig, None, ["model.lora.r=0"])


# --- recipes and the dry run ---------------------------------------------------------------------------------
def test_three_recipes_ship_with_the_papers_settings():
    names = {p.stem for p in RECIPES}
    assert names == {"scaf_grpo_qwen2.5_math_7b", "seele_qwen2.5_3b", "format_length_qwen2.5_math_7b"}
    for path in RECIPES:
        text = path.read_text()
        assert "Hardware:" in text and "Data:" in text, path.name  # the header names both
    scaf = load_config(RunConfig, RECIPES[1])
    assert (scaf.train.lr, scaf.train.prompts_per_step, scaf.train.mini_batches, scaf.rollout.num_generations,
            scaf.train.epsilon, scaf.train.beta, scaf.rollout.max_new_tokens, scaf.strategy.exemption_fraction) == (
        1e-6, 256, 4, 8, 0.2, 0.0, 2048, 0.15)
    seele = load_config(RunConfig, RECIPES[2])
    assert (seele.strategy.seele.rounds, seele.strategy.seele.samples_per_round, seele.strategy.seele.target,
            seele.train.beta, seele.train.hint_nll_weight, seele.rollout.num_generations) == (4, 8, 0.5, 0.001, 0.001, 32)
    fl = load_config(RunConfig, RECIPES[0])
    assert fl.reward.spec == {"format_length": {"weight": 1.0, "p": 0.5, "max_length": 3072, "format_weight": 1.0}}
    assert (fl.task.hide_train_answers, fl.rollout.temperature, fl.train.prompts_per_step) == (True, 0.6, 128)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_every_recipe_dry_runs_with_its_batch_geometry(path):
    from scaffold_rl.train.plan import build_plan

    cfg = load_config(RunConfig, path, ["task.name=math_train"])  # scaf's hinted file is made by the user
    plan = build_plan(cfg, processes=8)
    text = plan.render()
    expected = {"scaf_grpo_qwen2.5_math_7b": (16, 16), "seele_qwen2.5_3b": (16, 64),
                "format_length_qwen2.5_math_7b": (16, 8)}[path.stem]
    geo = plan.facts["geometry"]
    assert (geo["per_device_train_batch_size"], geo["steps_per_generation"]) == expected
    assert "GRPOConfig ok" in text and "tokens/step" not in text  # no tokenizer without the model here
    # what is missing on this machine is listed, not fatal: the model folder, and vllm where it is not installed
    assert any("not on this machine" in p for p in plan.problems)
    allowed = ("not on this machine", "scaffold-rl[vllm]", "no training problem carries hints")
    assert all(any(a in p for a in allowed) for p in plan.problems), plan.problems


def test_cli_dry_run_prints_the_plan_without_loading_weights(capsys, monkeypatch, tmp_path):
    from scaffold_rl import cli
    from scaffold_rl.models import loading

    monkeypatch.setattr(loading, "load_policy", lambda *a, **k: pytest.fail("dry run loaded the model"))
    cli.main(["train", "--dry-run", "--processes", "2", "task.num_train_problems=64", "train.prompts_per_step=4",
              "rollout.num_generations=4", "train.steps=10", "train.mini_batches=2", f"output_dir={tmp_path}"])
    out = capsys.readouterr().out
    assert "4 problems x 4 samples = 16 rollouts per generation; 2 process(es) x 8 rollouts (2 whole groups)" in out
    assert "10 updates = 5 generation batches = 0.31 epochs" in out  # 5 x 4 / 64
    assert "generated <= 1,024 (16 x 64)" in out


# --- vLLM ---------------------------------------------------------------------------------------------------
def test_missing_vllm_names_the_extra(monkeypatch, tmp_path):
    from scaffold_rl.rollout.vllm_generation import require_vllm

    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError, installed or not
    with pytest.raises(ImportError, match=r"pip install 'scaffold-rl\[vllm\]'"):
        require_vllm()
    cfg = tiny_config(tmp_path)
    cfg.rollout.backend = "vllm"
    with pytest.raises(ImportError, match=r"scaffold-rl\[vllm\]"):
        grpo_args(cfg, tmp_path / "ckpt")


def seeded_answer(prompt, seed, length=3):
    """vLLM's seeding semantics: a seeded sample is a pure function of (prompt, seed)."""
    import hashlib

    digest = hashlib.sha256(f"{list(prompt)}|{seed}".encode()).digest()
    return [10 + b % 50 for b in digest[:length]]


class FakeLLM:
    """Stands in for vllm.LLM: records the requests; a seeded request answers seeded_answer(prompt, seed)."""

    def __init__(self, answers=None):
        self.answers, self.requests = answers, []

    def generate(self, prompts, sampling_params, use_tqdm):
        self.requests.append((prompts, sampling_params))
        out = types.SimpleNamespace
        if self.answers is not None:
            return [out(outputs=[out(token_ids=a)]) for a in self.answers[: len(prompts)]]
        return [out(outputs=[out(token_ids=seeded_answer(p["prompt_token_ids"], sp["seed"]))])
                for p, sp in zip(prompts, sampling_params)]


class FakeServerClient:
    """Stands in for TRL's VLLMClient on a `trl vllm-serve` server: one seed per request; the n children of a prompt
    get seed, seed+1, ... (vLLM's parallel sampling); completions come back prompt by prompt."""

    def __init__(self):
        self.calls = []

    def generate(self, prompts, n, generation_kwargs, **kw):
        self.calls.append(dict(prompts=prompts, n=n, generation_kwargs=generation_kwargs, **kw))
        seed = generation_kwargs["seed"]
        return {"completion_ids": [seeded_answer(p, seed + c) + [2] for p in prompts for c in range(n)]}


def fake_vllm_module(monkeypatch):
    fake_vllm = types.ModuleType("vllm")
    fake_vllm.SamplingParams = lambda **kw: kw
    monkeypatch.setitem(sys.modules, "vllm", fake_vllm)


def test_vllm_colocate_generator_seeds_each_prompt_and_cuts_at_eos(monkeypatch):
    from scaffold_rl.rollout.vllm_generation import VLLMGenerator, independent_seed

    fake_vllm_module(monkeypatch)
    llm = FakeLLM([[5, 6, 2, 9], [7, 7, 7]])  # eos = 2: the first stops, the second runs out of tokens
    engine = types.SimpleNamespace(mode="colocate", llm=llm, tensor_parallel_size=1)
    gen = VLLMGenerator(engine, tokenizer=None, eos_ids={2})
    out = gen.generate([[1, 3], [1, 4]], SamplingParams(max_new_tokens=3, temperature=0.7, top_k=5), seed=100)
    assert [(c.ids, c.truncated) for c in out] == [([5, 6, 2], False), ([7, 7, 7], True)]
    prompts, params = llm.requests[0]
    assert prompts == [{"prompt_token_ids": [1, 3]}, {"prompt_token_ids": [1, 4]}]
    assert [p["seed"] for p in params] == [independent_seed(100, 0), independent_seed(100, 1)]
    assert params[0]["temperature"] == 0.7 and params[0]["top_k"] == 5
    assert params[0]["max_tokens"] == 3 and gen.tokens_generated == 6
    gen.generate([[1]], SamplingParams(max_new_tokens=3, greedy=True))
    assert llm.requests[1][1][0]["temperature"] == 0.0 and llm.requests[1][1][0]["seed"] is None


def test_vllm_colocate_calls_with_neighbouring_seeds_never_repeat_a_sample(monkeypatch):
    """SEELE's rounds sample the same prompts with seeds s, s+1, ...: with seed + i per prompt, round r+1's sample
    j-1 was round r's sample j (11 of 32 distinct in the audit's demonstration); every sample must be its own."""
    from scaffold_rl.rollout.vllm_generation import VLLMGenerator

    fake_vllm_module(monkeypatch)
    gen = VLLMGenerator(types.SimpleNamespace(mode="colocate", llm=FakeLLM(), tensor_parallel_size=1),
                        tokenizer=None, eos_ids={2})
    prompt = [1, 3, 5]
    samples = [tuple(c.ids) for rnd in range(4) for c in gen.generate([prompt] * 8, SamplingParams(), seed=50 + rnd)]
    assert len(set(samples)) == 32


def test_vllm_server_generator_gives_every_copy_of_a_prompt_its_own_sample():
    """One request carries one seed; identical prompts in it would get identical completions (every group at zero
    variance). Distinct prompts go once each with n = their count, answers back in the callers' order."""
    from scaffold_rl.rollout.vllm_generation import VLLMGenerator

    client = FakeServerClient()
    gen = VLLMGenerator(types.SimpleNamespace(mode="server", vllm_client=client), tokenizer=None, eos_ids={2})
    prompts = [[1]] * 8 + [[3]] * 8
    out = gen.generate(prompts, SamplingParams(max_new_tokens=8), seed=7)
    assert len({tuple(c.ids) for c in out[:8]}) == 8 and len({tuple(c.ids) for c in out[8:]}) == 8
    assert len(client.calls) == 1 and client.calls[0]["prompts"] == [[1], [3]] and client.calls[0]["n"] == 8
    assert client.calls[0]["max_tokens"] == 8
    # answers land where their prompts were, also when prompts are interleaved and counts differ
    client2 = FakeServerClient()
    gen2 = VLLMGenerator(types.SimpleNamespace(mode="server", vllm_client=client2), tokenizer=None, eos_ids={2})
    mixed = gen2.generate([[1], [3], [1], [4]], SamplingParams(max_new_tokens=8), seed=7)
    by_n = {call["n"]: call for call in client2.calls}
    assert sorted(by_n) == [1, 2] and by_n[2]["prompts"] == [[1]] and by_n[1]["prompts"] == [[3], [4]]
    s1, s2 = by_n[1]["generation_kwargs"]["seed"], by_n[2]["generation_kwargs"]["seed"]
    assert [c.ids for c in mixed] == [seeded_answer([1], s2) + [2], seeded_answer([3], s1) + [2],
                                      seeded_answer([1], s2 + 1) + [2], seeded_answer([4], s1) + [2]]


def test_vllm_colocate_with_tensor_parallel_is_refused():
    from scaffold_rl.rollout.vllm_generation import VLLMGenerator

    engine = types.SimpleNamespace(mode="colocate", llm=None, tensor_parallel_size=2)
    with pytest.raises(ValueError, match="vllm_mode=server"):
        VLLMGenerator(engine, tokenizer=None, eos_ids={2})


@pytest.mark.slow
def test_lora_run_resumes_from_its_adapter_checkpoint_like_an_uninterrupted_run(tmp_path):
    pytest.importorskip("peft")
    from scaffold_rl.configio import save_config
    from scaffold_rl.train.run import train
    from tests.test_training import comparable, step_records

    def config(steps):
        cfg = tiny_config(tmp_path, train__steps=steps, train__save_every=1, reward__kind="answer")
        cfg.model.lora.enabled, cfg.train.lr = True, 1e-2
        return cfg

    full = train(config(4), run_dir=tmp_path / "full", echo=lambda *a: None, make_report=False)
    part = tmp_path / "part"
    train(config(2), run_dir=part, echo=lambda *a: None, make_report=False)
    assert (part / "checkpoints" / "checkpoint-2" / "adapter_model.safetensors").exists()
    save_config(config(4), part / "config.yaml")
    train(None, run_dir=part, resume=True, echo=lambda *a: None, make_report=False)
    assert comparable(step_records(part)) == comparable(step_records(full))
    assert (part / "final" / "config.json").exists() and (part / "final" / "adapter" / "adapter_config.json").exists()


def test_a_prompt_over_max_prompt_tokens_is_an_error_naming_the_problem(tmp_path):
    cfg = tiny_config(tmp_path)
    cfg.train.prompts_per_step = 1
    tok = build_tokenizer()
    problems = ArithmeticTask().problems("train", 1, 4)
    limit = len(tok(problems[0].prompt)["input_ids"]) - 1
    trainer = ScaffoldGRPOTrainer(model=build_model(tok, TinyModelSpec(32, 64, 1, 2, 96), seed=0), tokenizer=tok,
                                  args=grpo_args(cfg, tmp_path / "ckpt"), problems=problems,
                                  stage_factory=lambda t: scripted_stage(tok, cfg), max_prompt_tokens=limit)
    with pytest.raises(ValueError, match=f"problem {problems[0].id}: prompt of {limit + 1} tokens .* > "
                                         f"rollout.max_prompt_tokens={limit}"):
        trainer._generate_and_score_completions([{"prompt": problems[0].prompt, "problem_index": 0}] * 4)
