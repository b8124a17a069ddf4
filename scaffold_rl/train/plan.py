"""`scaffold-rl train --dry-run`: everything a run builds except the weights, and what it will cost.

A recipe meant for 8 GPUs should fail on a laptop in a second, not after a 15 GB download and a model load:
the dry run loads the config, the task's data, the strategy, the reward (with the tokenizer, which needs no
weights) and TRL's arguments for the given process count, then prints the batch geometry, the step count and
the tokens and memory a step needs. Problems it finds (data missing, vllm not installed here, a batch that does
not split) are listed as `!` lines instead of stopping it, so one dry run shows all of them.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Plan:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    def add(self, key: str, text: str) -> None:
        self.lines.append(f"{key:<16} {text}")

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def render(self) -> str:
        return "\n".join(self.lines + [f"! {p}" for p in self.problems])


def param_count(config: dict) -> int:
    """Parameters of a decoder-only transformer from its config.json fields (Qwen2/Llama layout)."""
    h, layers, vocab = config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]
    inter = config.get("intermediate_size", 4 * h)
    heads = config.get("num_attention_heads", 1)
    kv = config.get("num_key_value_heads", heads)
    head_dim = config.get("head_dim") or h // heads
    attn = 2 * h * heads * head_dim + 2 * h * kv * head_dim
    mlp = 3 * h * inter
    embed = vocab * h * (1 if config.get("tie_word_embeddings", False) else 2)
    return layers * (attn + mlp + 4 * h) + embed


def model_facts(cfg) -> tuple[dict | None, str]:
    """(config.json dict, description) without loading weights."""
    if cfg.model.path is None:
        from scaffold_rl.models.embedded import build_tokenizer

        e = cfg.model.embedded
        conf = {"hidden_size": e.hidden_size, "num_hidden_layers": e.num_layers, "vocab_size": len(build_tokenizer()),
                "intermediate_size": e.intermediate_size, "num_attention_heads": e.num_heads,
                "tie_word_embeddings": True}
        return conf, "embedded tiny Qwen2 (pretrained in-process, cached)"
    from scaffold_rl.models.loading import ModelPathError, resolve_model_path

    try:
        path = resolve_model_path(cfg.model.path)
    except ModelPathError:
        return None, f"{cfg.model.path} (not found here, nor in the local Hugging Face cache)"
    if not (path / "config.json").exists():
        return None, f"{path} (no config.json)"
    return json.loads((path / "config.json").read_text()), str(path)


def load_tokenizer(cfg):
    if cfg.model.path is None:
        from scaffold_rl.models.embedded import build_tokenizer

        return build_tokenizer()
    from scaffold_rl.models.loading import _load_tokenizer, resolve_model_path

    return _load_tokenizer(resolve_model_path(cfg.model.path))


def memory_gb(params: int, lora: bool, processes: int, zero3: bool) -> float:
    """Training memory per GPU for weights, gradients and Adam, activations and KV cache excluded: full
    fine-tuning with bf16 mixed precision keeps 16 bytes/param (bf16 weights + grads, fp32 master + 2 moments);
    LoRA keeps the frozen bf16 weights only (adapters are small). ZeRO-3 shards all of it over the processes."""
    per_param = 2 if lora else 16
    return params * per_param / (processes if zero3 else 1) / 1e9


def build_plan(cfg, processes: int | None = None) -> Plan:
    from scaffold_rl.train.trainer import batch_geometry

    plan = Plan()
    procs = processes or int(os.environ.get("WORLD_SIZE", "1"))
    t, r, s = cfg.train, cfg.rollout, cfg.strategy
    plan.add("run", f"{cfg.name} -> {cfg.output_dir}/")

    conf, where = model_facts(cfg)
    params = param_count(conf) if conf else None
    lora = cfg.model.lora
    lora_text = f"LoRA r={lora.r} alpha={lora.alpha} on {','.join(lora.target_modules)}" if lora.enabled else \
        "full fine-tuning"
    size = f"{params / 1e9:.2f} B params" if params and params > 5e7 else f"{params / 1e6:.2f} M params" \
        if params else "size unknown"
    plan.add("model", f"{where}; {size}; {lora_text}")
    if conf is None:
        plan.problem(f"model.path {cfg.model.path} is not on this machine (the run needs it)")

    tokenizer = None
    try:
        tokenizer = load_tokenizer(cfg) if conf is not None else None
    except Exception as err:  # noqa: BLE001 - reported, not fatal, in a dry run
        plan.problem(f"tokenizer: {err}")

    problems, task = [], None
    try:
        from scaffold_rl.tasks import build_task

        task = build_task(cfg)
        problems = task.train_problems(cfg.task.num_train_problems)
        held = sum(len(v) for v in task.eval_problems(cfg.eval.n_per_level).values())
        hinted = sum(bool(p.hints) for p in problems)
        plan.add("data", f"{cfg.task.name}: {len(problems)} training problems ({hinted} with hints), "
                         f"{held} held out for evaluation")
        if s.name == "scaf_grpo" and not hinted and cfg.task.name != "arithmetic":
            plan.problem("strategy scaf_grpo but no training problem carries hints (make them with "
                         "`scaffold-rl hints generate`)")
    except (FileNotFoundError, ValueError) as err:
        plan.problem(f"data: {err}")

    try:
        from scaffold_rl.strategies.base import build_strategy

        plan.add("strategy", _strategy_text(cfg, build_strategy(cfg)))
    except ValueError as err:
        plan.problem(f"strategy: {err}")

    try:
        from scaffold_rl.rewards.registry import reward_for_run

        if task is not None:
            reward_for_run(cfg.reward, task, tokenizer, r.max_new_tokens)
        spec = cfg.reward.spec if cfg.reward.spec is not None else f"correctness ({cfg.reward.kind})"
        plan.add("reward", f"{spec}; hide_train_answers={cfg.task.hide_train_answers}")
    except (ValueError, TypeError, AttributeError) as err:
        plan.problem(f"reward: {err}")

    try:
        geo = batch_geometry(cfg, procs)
    except ValueError as err:
        plan.problem(f"batch: {err}")
        return plan
    rows = t.prompts_per_step * r.num_generations
    plan.add("batch", f"{t.prompts_per_step} problems x {r.num_generations} samples = {rows} rollouts per "
                      f"generation; {procs} process(es) x {rows // procs} rollouts ({t.prompts_per_step // procs} "
                      f"whole groups) each")
    plan.add("updates", f"{t.mini_batches} update(s) per generation, each {t.grad_accum} micro-batch(es) of "
                        f"{geo['per_device_train_batch_size']} rollouts per process")
    generations = -(-t.steps // t.mini_batches)
    epochs = f"{generations * t.prompts_per_step / len(problems):.2f}" if problems else "?"
    plan.add("steps", f"{t.steps} updates = {generations} generation batches = {epochs} epochs of the data; "
                      f"lr {t.lr}, loss {t.loss_type}, clip {t.epsilon}/{t.epsilon_high or t.epsilon}, "
                      f"KL beta {t.beta}")
    prompt_len = _mean_prompt_tokens(task, tokenizer, problems)
    if prompt_len is not None:
        plan.add("tokens/step", f"generated <= {rows * r.max_new_tokens:,} ({rows} x {r.max_new_tokens}); prompts "
                                f"~{rows * prompt_len:,.0f} ({prompt_len:.0f} tokens mean, hints excluded)")
        if r.max_prompt_tokens and prompt_len > r.max_prompt_tokens:
            plan.problem(f"mean prompt {prompt_len:.0f} tokens > rollout.max_prompt_tokens {r.max_prompt_tokens}")
    plan.facts = {"geometry": geo, "rows": rows, "generations": generations, "params": params}

    _trl_args(cfg, procs, plan)
    _hardware(cfg, procs, params, plan)
    return plan


def _strategy_text(cfg, strategy) -> str:
    s = cfg.strategy
    if s.name == "scaf_grpo":
        ex = strategy.schedule.exemption
        return (f"scaf_grpo: tiers {s.scaf.hint_tiers}, placement {s.scaf.hint_placement}, search {s.scaf.search}, "
                f"exemption {ex} rollout batches ({ex * cfg.train.mini_batches} updates), trigger {s.trigger}")
    if s.name == "seele":
        return (f"seele: {strategy.rounds} rounds x {strategy.samples_per_round} samples, target {s.seele.target}, "
                f"hint loss {s.seele.hint_loss} (gamma {cfg.train.hint_nll_weight})")
    return strategy.name


def _mean_prompt_tokens(task, tokenizer, problems) -> float | None:
    if task is None or tokenizer is None or not problems:
        return None
    renderer = task.renderer(tokenizer)
    sample = problems[:: max(1, len(problems) // 64)][:64]
    return sum(len(renderer.render(p, None).prompt_ids) for p in sample) / len(sample)


def _trl_args(cfg, procs: int, plan: Plan) -> None:
    from dataclasses import replace

    from scaffold_rl.train.trainer import grpo_args

    with tempfile.TemporaryDirectory() as tmp:
        try:
            try:
                args = grpo_args(cfg, Path(tmp), num_processes=procs)
            except ImportError as err:  # vllm missing here: check the rest of the arguments without it
                plan.problem(str(err))
                cfg = replace(cfg, rollout=replace(cfg.rollout, backend="transformers"))
                args = grpo_args(cfg, Path(tmp), num_processes=procs)
            plan.add("TRL", f"GRPOConfig ok: per_device_train_batch_size={args.per_device_train_batch_size}, "
                            f"steps_per_generation={args.steps_per_generation}, "
                            f"gradient_accumulation_steps={args.gradient_accumulation_steps}, bf16={args.bf16}, "
                            f"use_vllm={args.use_vllm}")
        except ValueError as err:
            plan.problem(f"TRL arguments: {err}")


def _hardware(cfg, procs: int, params: int | None, plan: Plan) -> None:
    import importlib.util

    r = cfg.rollout
    notes = []
    if params:
        full = memory_gb(params, cfg.model.lora.enabled, procs, zero3=False)
        zero3 = memory_gb(params, cfg.model.lora.enabled, procs, zero3=True)
        notes.append(f"weights+grads+Adam ~{full:.1f} GB per GPU (DDP/ZeRO-0), ~{zero3:.1f} GB with ZeRO-3 over "
                     f"{procs}; activations and KV cache extra")
    if r.backend == "vllm":
        notes.append(f"vLLM {r.vllm_mode}" + (f", {r.vllm_gpu_memory_utilization:.0%} of each GPU for vLLM"
                                                if r.vllm_mode == "colocate" else ""))
    for package in ("vllm", "deepspeed", "peft"):
        if importlib.util.find_spec(package) is None:
            notes.append(f"{package} not installed here")
    import torch

    notes.append(f"this machine: {torch.cuda.device_count()} CUDA device(s)")
    plan.add("hardware", "; ".join(notes))
