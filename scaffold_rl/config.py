"""Typed configuration. Every knob is documented where it is declared (help=...).

Load with `scaffold_rl.configio.load_config(RunConfig, "configs/demo.yaml", ["train.lr=1e-4"])`; unknown keys are
errors that name the key and the closest valid ones. Defaults are the embedded learning-cliff setting the CPU
trials validated (see docs/benchmarks.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


def knob(default, help: str, **kw):
    """A dataclass field with its documentation attached (shown by `scaffold-rl train --help-config`)."""
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help}, **kw)
    return field(default=default, metadata={"help": help}, **kw)


@dataclass
class SummariesConfig:
    budget: int = knob(12, "Summaries task: characters a summary may have (surrounding whitespace excluded). With 12, "
                       "documents of 1-2 facts fit whole, 3 facts about half the time, 4-8 facts about 3: the level "
                       "(number of facts) against the budget is the difficulty.")
    pretrain_levels: list[int] = knob([1, 2, 3, 4, 5, 6, 7, 8], "Numbers of facts of the documents the task's "
                                      "embedded policy and reconstructor are pretrained on (training split only).")
    policy_steps: int = knob(400, "Supervised steps of the task's embedded policy (model.embedded size) on "
                             "(document -> summary) pairs whose summaries keep a random 1..n of the n facts, as "
                             "values in document order: it writes summaries, but does not know the budget.")
    reconstructor_steps: int = knob(800, "Supervised steps of the task's reconstructor on (summary -> document) "
                                    "pairs, summaries keeping a random 0..n facts in varied styles; the "
                                    "`reconstruction` reward's default model (frozen).")
    reconstructor_hidden: int = knob(128, "Hidden size of the reconstructor (a tiny Qwen2, char tokenizer).")
    reconstructor_layers: int = knob(4, "Layers of the reconstructor.")
    batch_size: int = knob(64, "Sequences per supervised step (policy and reconstructor).")
    lr: float = knob(2e-3, "Peak learning rate of both (AdamW, warm-up then cosine decay to 10%).")
    seed: int = knob(0, "Seed of both models' weights and data order.")

    def __post_init__(self):
        if self.budget < 1 or self.policy_steps < 1 or self.reconstructor_steps < 1 or self.batch_size < 1:
            raise ValueError("summaries: budget, policy_steps, reconstructor_steps and batch_size must be >= 1")
        if not self.pretrain_levels or min(self.pretrain_levels) < 1 or max(self.pretrain_levels) > 8:
            raise ValueError("summaries.pretrain_levels must be numbers of facts in 1..8")


@dataclass
class TaskConfig:
    name: str = knob("arithmetic", "Task: 'arithmetic' (the embedded procedural task), 'summaries' (procedural "
                     "documents to summarise under a length budget; reward=reconstruction), a registered task name "
                     "(@scaffold_rl.register_task, e.g. from a module in `plugins`), 'rg:<dataset>' (reasoning-gym), "
                     "a shipped benchmark (math500, aime24, aime25, amc23, gsm8k, gsm8k_train, math_train) or a "
                     "JSONL/parquet path.")
    eval_name: str | None = knob(None, "Held-out set for evaluation: a benchmark name or file (its rows; training "
                                 "problems with the same text are removed from training). None = taken from the "
                                 "training data (task.eval_fraction, else its first eval.n_per_level rows).")
    eval_fraction: float | None = knob(None, "Share of the training file held out for evaluation, drawn with "
                                       "task.seed (e.g. 0.1). None = the first eval.n_per_level rows (files), or the "
                                       "task's own test split (arithmetic; reasoning-gym: 0.2 of each level's "
                                       "questions, chosen by a hash of the text, which this knob also sets).")
    system_prompt: str | None = knob(None, "System message of chat prompts (datasets answered by a chat model). "
                                     "None = 'Please reason step by step, and put your final answer within "
                                     "\\boxed{}.'; '' = no system message.")
    prompt_field: str | None = knob(None, "Field holding the question in files, hf: datasets and Python datasets "
                                    "(dotted for nested, e.g. 'extra.question'). None = 'problem', else 'question'.")
    answer_field: str | None = knob(None, "Field holding the gold answer (files, hf:, Python datasets). None = "
                                    "'answer', else verl's 'reward_model.ground_truth'.")
    solution_field: str | None = knob(None, "Field holding a worked solution (optional per row; SEELE and the "
                                      "hint splitter read it). None = 'solution'.")
    hf_config: str | None = knob(None, "hf: datasets: the configuration (subset) name passed to "
                                 "datasets.load_dataset, e.g. 'main' for openai/gsm8k.")
    split: str = knob("train", "hf: datasets: the split trained on.")
    eval_split: str | None = knob(None, "hf: datasets: the split held out for evaluation (its problems are removed "
                                  "from training), e.g. 'test'; with task.eval_name=hf:<id> the split of that one "
                                  "(default 'test'). None = task.eval_fraction or the first eval.n_per_level rows.")
    train_levels: list[int] = knob([2, 3, 3], "Levels sampled for RL training (arithmetic: operations; reasoning-gym: "
                                   "curriculum levels; summaries: facts per document); repeat a level to weight it.")
    eval_levels: list[int] = knob([1, 2, 3, 4], "Levels evaluated per run (held-out test split).")
    rg: dict[str, Any] = knob({}, "reasoning-gym (task.name=rg:<dataset>): fields of the dataset's config, applied "
                              "at every level on top of its curriculum, e.g. {min_digits: 2, max_digits: 2} for "
                              "rg:chain_sum (levels then differ by the number of terms alone). seed and size are "
                              "set by scaffold-rl.")
    rg_levels: dict[int, dict[str, Any]] = knob({}, "reasoning-gym: level -> config fields of that level (on top of "
                                                "task.rg), replacing the curriculum's levels, e.g. {1: {min_terms: "
                                                "2, max_terms: 2}, 2: {min_terms: 3, max_terms: 3}}. Empty = the "
                                                "dataset's curriculum, level L = its global level L-1 (a dataset "
                                                "without one has level 1 only).")
    value_min: int = knob(100, "Smallest value any intermediate result may take (arithmetic).")
    value_max: int = knob(999, "Largest value any intermediate result may take (arithmetic). A wide range keeps the "
                          "chance that a wrong chain hits the right answer low.")
    operand_max: int = knob(9, "Largest operand of an operation (arithmetic).")
    ops: str = knob("+-", "Operations the arithmetic task draws from (subset of '+-*').")
    wide_share: float = knob(0.0, "Share of +/- operations with a wide operand (operand_max+1..wide_operand_max). "
                             "1.0 with model.pretrain.wide_share=0.01 is the 'wide' variant of the cliff: the "
                             "missing skill is needed at every step, so it lies after any solution-prefix hint.")
    wide_operand_max: int = knob(99, "Largest wide operand (arithmetic).")
    seed: int = knob(0, "Task seed: fixes the problem space and the train/test split.")
    num_train_problems: int = knob(20000, "Training problems drawn for RL (the trainer samples from them).")
    summaries: SummariesConfig = field(default_factory=SummariesConfig)
    hide_train_answers: bool = knob(False, "Remove gold answers, reference chains, solution steps, hints and worked "
                                    "solutions (meta['solution']) from the training problems (label-free "
                                    "experiments; evaluation keeps them). A reward with a correctness term, or a "
                                    "strategy that needs solutions, then has nothing to read.")

    def __post_init__(self):
        if not self.train_levels or min(self.train_levels) < 1:
            raise ValueError("train_levels must be a non-empty list of levels >= 1")
        if self.eval_fraction is not None and not 0.0 < self.eval_fraction < 1.0:
            raise ValueError("eval_fraction must be in (0, 1)")
        if self.eval_fraction is not None and self.eval_name:
            raise ValueError("set task.eval_name or task.eval_fraction, not both")
        if self.eval_fraction is not None and self.eval_split and not self.eval_name:
            raise ValueError("set task.eval_split or task.eval_fraction, not both")


@dataclass
class EmbeddedModelConfig:
    hidden_size: int = knob(256, "Hidden size of the tiny Qwen2 model.")
    intermediate_size: int = knob(512, "MLP width.")
    num_layers: int = knob(4, "Transformer layers.")
    num_heads: int = knob(4, "Attention heads (no grouped-query attention).")
    max_positions: int = knob(256, "Maximum sequence length.")


@dataclass
class PretrainConfig:
    steps: int = knob(450, "Supervised steps of the embedded model (4-5 min on 2 cores with bf16).")
    batch_size: int = knob(128, "Sequences per supervised step.")
    lr: float = knob(2e-3, "Peak learning rate (AdamW, cosine decay to 10% after warm-up).")
    warmup_steps: int = knob(50, "Linear warm-up steps.")
    level_mix: dict[int, float] = knob({1: 0.33, 2: 0.665, 3: 0.005},
                                       "Share of each level in pretraining. A trace (0.5%) of the first hard level "
                                       "gives latent ability that hints can unlock, as real base models have.")
    seed: int = knob(0, "Seed of weights init and data order.")
    wide_share: float | None = knob(None, "task.wide_share used for the pretraining documents (None = the run's "
                                    "own). A small share gives latent skill on wide operations.")
    bf16: Literal["auto", "on", "off"] = knob("auto", "bf16 autocast in pretraining: 'auto' = on where the CPU has "
                                              "native bf16 (AVX512-BF16/AMX) or a GPU is used (1.35x faster here).")
    max_minutes: float | None = knob(None, "Stop pretraining early after this many minutes (breaks the cache key's "
                                     "promise of a fixed result; for experiments only).")
    bad_answer_share: float = knob(
        0.0, "Bad answer habits (label-free benchmark): share of final answers, chosen by their last digit, "
        "whose pretraining documents end without a parsable answer line in 80% of cases (no 'A:' line, or "
        "'A=<n>'). The chains stay right, so the base model reasons better than it answers. Multiples of 0.1; "
        "0 = off (and out of the cache key).")
    bad_answer_key: Literal["question", "answer"] = knob(
        "question", "What picks the documents with a bad answer habit: the last digit of the question's start value "
        "(the prompt, which the policy cannot change) or of the answer (the old habit: hackable, a policy earns "
        "the format reward by steering its arithmetic to answers outside the habit digits). Only with "
        "bad_answer_share > 0.")


@dataclass
class LoraSettings:
    enabled: bool = knob(False, "Train LoRA adapters (peft) instead of all weights: base weights stay frozen; "
                         "checkpoints hold the adapter only, final/ the merged model and final/adapter/ the adapter "
                         "(docs/scale-out.md). "
                         "Needs `pip install 'scaffold-rl[lora]'`.")
    r: int = knob(16, "LoRA rank.")
    alpha: int = knob(32, "LoRA alpha (the update is scaled by alpha / r).")
    dropout: float = knob(0.0, "Dropout on the LoRA input (0 keeps rollouts and loss forward passes identical).")
    target_modules: list[str] = knob(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                                     "Module names that get adapters (Qwen2/Llama names); ['all-linear'] = every "
                                     "linear layer but the output head.")

    def __post_init__(self):
        if self.r < 1 or self.alpha <= 0 or not 0.0 <= self.dropout < 1.0 or not self.target_modules:
            raise ValueError("lora needs r >= 1, alpha > 0, dropout in [0, 1) and target_modules")


@dataclass
class ModelConfig:
    path: str | None = knob(None, "Hugging Face causal LM: a local folder, or a hub id (e.g. Qwen/Qwen2.5-0.5B) "
                            "found in the local Hugging Face cache ($HF_HOME; nothing is downloaded at run time: "
                            "fetch it first with `hf download <id>`). None = the embedded tiny model: the copy "
                            "shipped with the package when one exists for this config, else pretrained in-process "
                            "and cached (see `pretrain`); it reads only tasks that declare it can (the arithmetic "
                            "task; reasoning-gym datasets written in printable ASCII).")
    use_shipped: bool = knob(True, "Embedded model: use the base model shipped with the package for this config "
                             "(scaffold_rl/assets/embedded/<config hash>: the same weights on every machine, so "
                             "every figure starts from them). False = the local cache, pretraining when missing; "
                             "`scaffold-rl pretrain --rebuild` rebuilds it (bf16 autocast makes the bits depend "
                             "on the CPU).")
    embedded: EmbeddedModelConfig = field(default_factory=EmbeddedModelConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    cache_dir: str | None = knob(None, "Where pretrained embedded models are cached. Default: $SCAFFOLD_RL_CACHE or "
                                 "~/.cache/scaffold-rl.")
    lora: LoraSettings = field(default_factory=LoraSettings)


@dataclass
class RolloutConfig:
    num_generations: int = knob(8, "Samples per problem (the GRPO group size G).")
    max_new_tokens: int = knob(64, "Longest completion; longer ones are cut and count as truncated.")
    temperature: float = knob(1.0, "Sampling temperature for training rollouts.")
    top_k: int = knob(0, "Top-k sampling (0 = off).")
    top_p: float = knob(1.0, "Nucleus sampling (1.0 = off).")
    static_cache: bool = knob(True, "Use a static KV cache in generation (faster on CPU and GPU).")
    max_batch_sequences: int = knob(256, "Most sequences generated at once (transformers backend; not TRL's "
                                    "generation_batch_size, which is the prompts x generations of one rollout "
                                    "batch: ours is train.prompts_per_step x rollout.num_generations).")
    chat_template_kwargs: dict[str, Any] = knob({}, "Extra arguments of the tokenizer's apply_chat_template for chat "
                                                "prompts, e.g. {enable_thinking: false} for Qwen3's thinking "
                                                "switch. Ignored by the embedded task (plain prompts).")
    max_prompt_tokens: int | None = knob(None, "Longest prompt (hint included) a rollout may have; a longer one is "
                                         "an error naming the problem. None = no check (the model's context is "
                                         "the limit). Scaf-GRPO: 4096, room for hints.")
    backend: Literal["transformers", "vllm"] = knob(
        "transformers", "Generation engine for rollouts, hint search and SEELE rounds: 'transformers' "
        "(model.generate, CPU or GPU) or 'vllm' (CUDA GPUs; `pip install 'scaffold-rl[vllm]'`; the engine "
        "loads the model from its folder). The evaluation before training always uses transformers.")
    vllm_mode: Literal["colocate", "server"] = knob(
        "colocate", "vllm: 'colocate' = an in-process vllm.LLM on each training GPU, weights reloaded from the "
        "trained model after every optimizer step; 'server' = a separate `trl vllm-serve` process (TRL's "
        "VLLMClient), weights pushed to it by the main process.")
    vllm_gpu_memory_utilization: float = knob(0.3, "vllm colocate: share of GPU memory vLLM reserves (weights + KV "
                                              "cache); the rest is left to training.")
    vllm_tensor_parallel_size: int = knob(1, "vllm colocate: GPUs per vLLM engine (must divide the process count).")
    vllm_max_model_length: int | None = knob(None, "vllm: context length (prompt + completion); None = the "
                                             "model's own.")
    vllm_server_host: str = knob("0.0.0.0", "vllm server: host of `trl vllm-serve`.")
    vllm_server_port: int = knob(8000, "vllm server: port of `trl vllm-serve`.")
    vllm_server_timeout: float = knob(240.0, "vllm server: seconds to wait for the server to come up.")

    __config_renamed__ = {"generation_batch_size": ("max_batch_sequences", "TRL's generation_batch_size is the "
                                                    "rollouts of one generation step, which is not what this was")}


@dataclass
class RewardConfig:
    kind: Literal["strict", "answer"] = knob("strict", "'strict': 1 only when the whole reference chain is "
                                             "reproduced (no lucky answers; needs a task with references). "
                                             "'answer': 1 when the final answer verifies. reasoning-gym tasks "
                                             "always use the dataset's score_answer (partial credit).")
    verifier_timeout_s: float = knob(2.0, "Time bound per answer check; a timed-out check scores 0 and is counted.")
    spec: str | dict[str, Any] | None = knob(
        None, "Reward trained on (docs/rewards.md). None = correctness of `kind` alone. A sum of weighted terms, "
        "e.g. 'format_length' (label-free, Xin et al.), 'format', 'format_length+0.5*overlong', "
        "'correctness+0.1*repetition', or a mapping {term: weight | {weight: w, option: value}, guards: ...}. "
        "Terms: correctness, format, length, format_length, overlong, repetition, process, refreshed_process (a "
        "PRM retrained on the policy's samples), reconstruction (summaries: how well a reconstructor recovers the "
        "document); their options: rewards/registry.py. `reward=<spec>` on the command line (or `reward: <spec>` "
        "in YAML) is short for reward.spec. Evaluation always uses correctness (the task's scorer). Checked at "
        "startup, after `plugins` are imported.")
    funcs: list[str] = knob([], "TRL-style reward functions trained on instead of reward.spec: 'module:function' or "
                            "'path/to/file.py:function', each f(prompts, completions, **kwargs) -> list[float] "
                            "(kwargs: the dataset's columns such as answer, completion_ids, trainer_state, "
                            "log_metric), called once per generation call. Python: scaffold_rl.train(..., "
                            "reward_funcs=[f]).")
    weights: list[float] | None = knob(None, "Weights of reward.funcs, summed like TRL's reward_weights (None = all "
                                       "1.0). A function's None for a sample leaves it out of that sample's sum.")
    correct_threshold: float = knob(1.0, "With reward.funcs: a sample counts as correct (for all-wrong groups, "
                                    "rescue strategies and pass rates) when its weighted reward is >= this. 1.0 "
                                    "fits TRL's accuracy rewards (1 right, 0 wrong).")

    __config_shorthand__ = "spec"  # `reward=format_length` means reward.spec=format_length (configio)

    def __post_init__(self):
        if self.funcs and self.spec is not None:
            raise ValueError("set reward.spec or reward.funcs, not both (a reward function can read the gold answer "
                             "from its `answer` argument)")
        if self.weights is not None and len(self.weights) != len(self.funcs):
            raise ValueError(f"reward.weights has {len(self.weights)} entries for {len(self.funcs)} reward.funcs")


# Strategy knobs: those every rescue-after-exemption strategy shares sit at `strategy.*`; each strategy's own sit in
# its subsection, one dataclass per strategy (`strategy.<section>.*`), read by the strategy's from_config through
# `config.strategy.<section>`. A new built-in strategy adds its dataclass here and one field to StrategyConfig; a
# plugin strategy declares its own dataclass (`Options`) and reads `strategy.options` (strategies/base.py).


@dataclass
class ScafOptions:
    """strategy.scaf.*: Scaf-GRPO's hint ladder and search (strategies/scaf_grpo.py)."""

    hint_tiers: list[Literal["knowledge", "planning", "solution"]] = knob(
        ["knowledge", "planning", "solution"], "Hint tiers and their order on the ladder; e.g. [solution] for a "
        "solution-only ladder. Problems lacking a tier fall back to the ones they have.")
    incremental: bool = knob(True, "Ladder levels within a tier: True = first 1, 2, 3, 4 parts (paper); False = "
                             "each tier whole, one level per tier (paper ablation).")
    search: Literal["batched", "sequential"] = knob(
        "sequential", "Hint search: 'sequential' samples level by level (all triggered problems together), "
        "stopping a problem at its first success (fewer tokens); 'batched' samples every level of every "
        "triggered problem in one generation call (official code). Same outcome distribution.")
    samples_per_level: int = knob(1, "Samples drawn per (problem, hint level) in the search (paper: 1).")
    hint_placement: Literal["prompt", "response", "dropped"] = knob(
        "prompt", "Where a rescued sample's hint goes in training. 'prompt': stays in the prompt, loss on "
        "generated tokens only (paper-faithful). 'response': original prompt, hint tokens moved into the trained "
        "response (our CPU trials' winner). 'dropped': original prompt, hint removed, generated tokens only (the "
        "paper's rejected off-policy alternative).")

    def __post_init__(self):
        if not self.hint_tiers or len(set(self.hint_tiers)) != len(self.hint_tiers):
            raise ValueError("hint_tiers must be a non-empty list without repeats")
        if self.samples_per_level < 1:
            raise ValueError("samples_per_level must be >= 1")


@dataclass
class SeeleOptions:
    """strategy.seele.*: SEELE's rounds and hint-rate fit (strategies/seele.py)."""

    rounds: int = knob(4, "Rounds per step (m). Before each round the hint rate of every problem is refitted from "
                       "the rounds so far; the group (advantage) spans all rounds.")
    samples_per_round: int | None = knob(
        None, "Samples per problem and round (n). None = rollout.num_generations / rounds; when set, "
        "rollout.num_generations must equal rounds x n (the paper: 4 x 8 = 32).")
    target: float = knob(0.5, "Accuracy the hint rate aims at, in (0, 1) (paper: 0.5, where a GRPO step learns "
                         "most).")
    fit_memory: bool = knob(
        True, "Refit rounds 2..m on this step's (rate, accuracy) points plus those of the problem's previous visit "
        "(ours), not on this step's alone (False: the paper, which resets every step). With this step's points "
        "alone the fits rest on one or two points plus the anchors and pull the achieved accuracy toward 0.5: at "
        "targets 0.25 / 0.75 it lands at +0.19 / -0.16 of the target, with memory at +0.05 / -0.03 (3 seeds, "
        "docs/benchmarks.md).")
    granularity: Literal["step", "token", "char"] = knob(
        "step", "Unit of the solution prefix. 'step': reference steps (the embedded task's solution_steps; "
        "datasets with only meta['solution'] text are cut into at most 5 steps by hints/split.py); 'token': "
        "tokens of the solution text; 'char': characters.")
    hint_loss: Literal["nll", "rl"] = knob(
        "nll", "How the hint tokens (which open the response) are trained. 'nll' (paper): no policy loss, a "
        "supervised term of weight train.hint_nll_weight. 'rl' (ablation, warns): the policy loss, like generated "
        "tokens — a failed hinted rollout's negative advantage then pushes the reference prefix down, which is "
        "why the paper masks it. The paper also uses train.scale_rewards=none (Dr.GRPO).")

    def __post_init__(self):
        if self.rounds < 1 or (self.samples_per_round is not None and self.samples_per_round < 1):
            raise ValueError("rounds and samples_per_round must be >= 1")
        if not 0.0 < self.target < 1.0:
            raise ValueError("target must be in (0, 1)")


@dataclass
class DapoOptions:
    """strategy.dapo.*: DAPO dynamic sampling (strategies/dynamic_sampling.py)."""

    max_extra_batches: int = knob(
        3, "Most extra generation batches per step (each: prompts_per_step freshly drawn problems). When still "
        "short of informative groups, the remaining slots keep all-equal groups of the step's own problems (zero "
        "advantage: no gradient).")

    def __post_init__(self):
        if self.max_extra_batches < 0:
            raise ValueError("max_extra_batches must be >= 0")


@dataclass
class GuideOptions:
    """strategy.guide.*: Guide-GRPO (strategies/guide.py; arXiv 2506.13923): hinted re-samples of all-wrong
    groups, trained as the unhinted policy."""

    hint_tiers: list[Literal["knowledge", "planning", "solution"]] = knob(
        ["knowledge", "planning", "solution"], "Where the hint comes from: the first of these tiers the problem has, "
        "whole (all its parts). The paper's guidance is natural-language help that still leaves the whole "
        "derivation to the model, so the abstract tiers come first; a solution-tier hint under the importance "
        "correction is scored on the continuation alone (what the row trains under the plain prompt).")
    exemption: bool = knob(False, "Apply the shared Scaf-GRPO schedule (strategy.exemption_*, strategy.trigger) "
                           "before hinting. The paper hints all-wrong groups from the first step (False); True "
                           "compares at the same warm-up as scaf_grpo.")

    def __post_init__(self):
        if not self.hint_tiers or len(set(self.hint_tiers)) != len(self.hint_tiers):
            raise ValueError("hint_tiers must be a non-empty list without repeats")


@dataclass
class QuestAOptions:
    """strategy.questa.*: QuestA (strategies/questa.py; arXiv 2507.13266): the first p % of the solution in the
    prompt of hard problems, p = 50 % then 25 %."""

    prefix_fractions: list[float] = knob([0.5, 0.25], "The curriculum: the share p of the solution shown, one value "
                                         "per stage, stages in order (paper: 0.5, then 0.25 from the stage-1 model).")
    stage_batches: int | None = knob(None, "Rollout batches per curriculum stage. None = the planned rollout batches "
                                     "(train.steps / train.mini_batches) split evenly over the stages; under a "
                                     "token budget (train.max_tokens) a run may end before the last stage.")
    granularity: Literal["char", "step", "token"] = knob(
        "char", "Unit of p: 'char' = characters of the solution text (paper: int(p x len(text))), 'step' = reference "
        "steps, 'token' = tokens. The prefix is the first floor(p x |y|) units.")
    min_prefix_chars: int = knob(10, "A prefix shorter than this many characters is not shown at all (the paper's "
                                 "data script: < 10 characters = the plain question).")
    remember_hard: bool = knob(True, "True: a problem found hard (its unhinted group all wrong) stays hard, later "
                               "visits are sampled with the prefix only (the online counterpart of the paper's "
                               "offline hard set, always hinted). False: every visit samples unhinted first and "
                               "re-samples with the prefix only when that group is all wrong.")

    def __post_init__(self):
        if not self.prefix_fractions or not all(0.0 < p <= 1.0 for p in self.prefix_fractions):
            raise ValueError("prefix_fractions must be a non-empty list of shares in (0, 1]")
        if self.stage_batches is not None and self.stage_batches < 1:
            raise ValueError("stage_batches must be >= 1")
        if self.min_prefix_chars < 0:
            raise ValueError("min_prefix_chars must be >= 0")


@dataclass
class PopeOptions:
    """strategy.pope.*: POPE (strategies/pope.py; arXiv 2601.18779): the shortest oracle-solution prefix (at most
    1/4) that lets the model succeed guides on-policy rollouts of hard problems; the prefix is context, never a
    training target."""

    max_prefix_fraction: float = knob(0.25, "Longest prefix tried, as a share of the solution (paper: 1/4).")
    levels: int = knob(4, "Prefix lengths tried, shortest first: (1..levels) / levels x max_prefix_fraction of the "
                       "solution (paper: 'progressively longer prefixes').")
    granularity: Literal["char", "step", "token"] = knob("char", "Unit of the prefix lengths (see questa).")
    samples_per_level: int = knob(1, "Samples per prefix length in the search for the shortest sufficient prefix.")
    exemption: bool = knob(False, "Apply the shared schedule (strategy.exemption_*, strategy.trigger) before "
                           "guiding (paper: guidance from the start, False).")

    def __post_init__(self):
        if not 0.0 < self.max_prefix_fraction <= 1.0 or self.levels < 1 or self.samples_per_level < 1:
            raise ValueError("max_prefix_fraction must be in (0, 1], levels and samples_per_level >= 1")


@dataclass
class LuffyOptions:
    """strategy.luffy.*: LUFFY (strategies/luffy.py; arXiv 2504.14945): off-policy reference traces share every
    group with on-policy rollouts."""

    off_policy_traces: int = knob(1, "Reference traces per group (paper: 1 of 8); the other num_generations - this "
                                  "are sampled on-policy. A problem without an accepted reference gets a fully "
                                  "on-policy group.")
    shaping_gamma: float | None = knob(0.1, "Policy shaping of off-policy tokens: the ratio pi_theta / pi_phi with "
                                       "pi_phi = 1 becomes f(pi) = pi / (pi + gamma), which up-weights low-probability "
                                       "tokens (paper: 0.1). None = no shaping (f(pi) = pi). Never clipped.")

    def __post_init__(self):
        if self.off_policy_traces < 1:
            raise ValueError("off_policy_traces must be >= 1")
        if self.shaping_gamma is not None and self.shaping_gamma <= 0:
            raise ValueError("shaping_gamma must be > 0 (or None for no shaping)")


@dataclass
class SelfHintOptions:
    """strategy.self_hint.*: self-written hints (strategies/self_hint.py; NuRL arXiv 2509.25666, SAGE arXiv
    2602.03143): the policy writes a hint for a collapsed group from the problem and its reference solution; the
    group is re-sampled with that hint in the prompt."""

    levels: int = knob(3, "Hint levels the policy is asked for (SAGE: 3, minimal to detailed); each still-unsolved "
                       "group is re-sampled level by level until one has a success.")
    format: Literal["json", "text"] = knob(
        "json", "How the written hints are read: 'json' = {\"level_1\": ..., ...} (SAGE's format; an unparsable reply "
        "is retried), 'text' = the whole reply is one hint (NuRL's single abstract hint; `levels` is ignored).")
    retries: int = knob(3, "Hint-writing attempts per problem when the reply cannot be parsed (SAGE: 3).")
    reuse: bool = knob(False, "False (SAGE): the current policy writes fresh hints at every collapse. True (NuRL): a "
                       "problem's hints are written once, at its first collapse, and reused (checkpointed); NuRL "
                       "writes them offline with the base model before training.")
    max_hint_tokens: int | None = knob(None, "Longest hint-writing reply; None = rollout.max_new_tokens.")
    instruction: str | None = knob(None, "System instruction of the hint-writing prompt; None = the built-in one "
                                   "(scaffold_rl/strategies/self_hint.py: progressive hints that never give the "
                                   "answer, as JSON).")
    exemption: bool = knob(False, "Apply the shared schedule (strategy.exemption_*, strategy.trigger) before "
                           "hinting (papers: none, False).")

    def __post_init__(self):
        if self.levels < 1 or self.retries < 1:
            raise ValueError("levels and retries must be >= 1")


@dataclass
class StrategyConfig:
    name: str = knob(
        "grpo", "Rescue strategy applied to each step's groups: a registered strategy (built-in or from a module "
        "in `plugins`; checked at startup, which lists the available names). 'grpo': none (plain GRPO). "
        "'scaf_grpo': after the exemption, an all-wrong group gets its least effective hint searched (K1..K4, "
        "P1..P4, S1..S4) and a hinted success replaces failures (Scaf-GRPO; strategy.scaf.*). 'reference': after "
        "the exemption, failures of an all-wrong group are replaced by the full reference completion (LUFFY-like "
        "control; no search, no generation). 'seele': every group is sampled in strategy.seele.rounds rounds "
        "under a prefix of the reference solution whose length a per-problem item-response curve picks to hit "
        "strategy.seele.target accuracy (SEELE). 'dynamic_sampling': groups whose rewards are all equal are "
        "dropped and replaced by groups of freshly drawn problems, up to strategy.dapo.max_extra_batches extra "
        "generation batches (DAPO). 'guide': all-wrong groups are re-sampled with a hint in the prompt and "
        "trained as the unhinted policy with an importance ratio over the hinted sampling probabilities "
        "(Guide-GRPO; strategy.guide.*). 'questa': hard problems get the first p % of the solution in the prompt, "
        "p following a curriculum (QuestA; strategy.questa.*). 'pope': all-wrong groups are re-sampled under the "
        "shortest solution prefix (<= 1/4) that works, prefix never trained (POPE; strategy.pope.*). 'luffy': "
        "every group has an off-policy reference trace with policy shaping (LUFFY; strategy.luffy.*). "
        "'self_hint': the policy writes hints for its collapsed groups from the reference solution (NuRL / SAGE; "
        "strategy.self_hint.*). docs/strategies.md.")
    exemption_fraction: float = knob(0.15, "Guidance-free warm-up as a share of the run's rollout batches "
                                     "(train.steps / train.mini_batches; paper: 0.15): no hints while batch t <= "
                                     "fraction x batches (t counted from 1).")
    exemption_steps: int | None = knob(None, "Guidance-free warm-up in rollout batches (the official code's "
                                       "warmup_steps, which counts generation batches, not optimizer updates: with "
                                       "train.mini_batches=4, 50 means 200 updates); takes precedence over "
                                       "exemption_fraction when set. Hints from batch exemption_steps + 1 on.")
    trigger: Literal["all_wrong", "plateau"] = knob(
        "all_wrong", "When hinting starts after the exemption. 'all_wrong': right away, for every all-wrong group "
        "(paper Alg. 1). 'plateau' (our extension; the paper gives no formula): once the moving average of the "
        "all-wrong group fraction over plateau_window rollout batches has not fallen by more than "
        "plateau_tolerance vs the window before it; then it stays on.")
    plateau_window: int = knob(10, "Rollout batches per moving-average window of the plateau trigger (one "
                               "observation per batch; needs 2 windows).")
    plateau_tolerance: float = knob(0.01, "Plateau trigger: the all-wrong fraction must fall by more than this "
                                    "between consecutive windows to count as still improving.")
    replace: int = knob(1, "Failed rollouts of an all-wrong group replaced by successes (hinted for scaf_grpo, "
                        "the reference for 'reference'); fewer when fewer successes were found; never the "
                        "whole group (at least one failure is kept so the advantage is not zero).")
    options: dict[str, Any] = knob({}, "Knobs of a plugin strategy (one without a subsection here), checked at "
                                   "startup by the strategy's own `Options` dataclass when it declares one.")
    scaf: ScafOptions = field(default_factory=ScafOptions)
    seele: SeeleOptions = field(default_factory=SeeleOptions)
    dapo: DapoOptions = field(default_factory=DapoOptions)
    guide: GuideOptions = field(default_factory=GuideOptions)
    questa: QuestAOptions = field(default_factory=QuestAOptions)
    pope: PopeOptions = field(default_factory=PopeOptions)
    luffy: LuffyOptions = field(default_factory=LuffyOptions)
    self_hint: SelfHintOptions = field(default_factory=SelfHintOptions)

    # the flat keys these subsections replaced: an old config fails naming the new key (configio)
    __config_renamed__ = {
        **{k: f"scaf.{k}" for k in ("hint_tiers", "incremental", "search", "samples_per_level", "hint_placement")},
        **{f"seele_{k}": f"seele.{k}" for k in ("rounds", "samples_per_round", "target", "fit_memory",
                                                 "granularity", "hint_loss")},
        "dapo_max_extra_batches": "dapo.max_extra_batches",
    }

    def __post_init__(self):
        if not 0.0 <= self.exemption_fraction <= 1.0:
            raise ValueError("exemption_fraction must be in [0, 1]")
        if self.exemption_steps is not None and self.exemption_steps < 0:
            raise ValueError("exemption_steps must be >= 0")
        if self.plateau_window < 1 or self.plateau_tolerance < 0:
            raise ValueError("plateau_window must be >= 1 and plateau_tolerance >= 0")
        if self.replace < 1:
            raise ValueError("replace must be >= 1")


@dataclass
class TrainConfig:
    steps: int = knob(200, "Optimizer steps (updates): one generation batch each, or one per train.mini_batches "
                      "updates when that is > 1.")
    max_tokens: int | None = knob(None, "Stop once the run has done this many tokens of work: tokens generated "
                                  "by the rollout stage (rollouts, hint search, SEELE rounds, DAPO refills, "
                                  "self-written hints) plus tokens trained (prompt + completion of every row in "
                                  "the loss's forward and backward passes, and of a strategy's own forward passes: "
                                  "guide's behaviour log-probs). Counted exactly, so arms at equal max_tokens see "
                                  "equal policy compute on any machine, busy or idle; the step that crosses the "
                                  "budget is the last. train.steps stays an upper bound. Reward-side compute is not "
                                  "counted: a learned reward's forward passes (process, reconstruction) and the "
                                  "refreshed_process PRM's training passes are the reward's work, not the policy's "
                                  "(an arm at equal max_tokens has had equal policy experience); the refreshed PRM "
                                  "logs its own count, reward/refreshed_process/trained_tokens, so benchmarks "
                                  "report it beside.")
    max_minutes: float | None = knob(None, "Stop after this much training time. A convenience: a time budget buys "
                                     "fewer steps on a slower or busier machine, so results that must hold "
                                     "elsewhere use train.steps or train.max_tokens.")
    budget_clock: Literal["wall", "cpu"] = knob(
        "wall", "Clock of max_minutes: 'wall' (elapsed seconds) or 'cpu' (CPU seconds of the training process: "
        "the same as wall on an idle machine at one thread, but unmoved by other jobs sharing the cores, so "
        "benchmark arms stay comparable when the machine is busy).")
    prompts_per_step: int = knob(16, "Problems per step; each gets num_generations samples.")
    lr: float = knob(2e-4, "Learning rate (constant). 2e-4 is the trial's usable maximum for the tiny model.")
    loss_type: Literal["grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo"] = knob(
        "dapo", "TRL loss aggregation: 'dapo' = token-level mean over the batch, 'grpo' = per-sequence mean, "
        "'dr_grpo' = sum / (batch x max length), ...")
    scale_rewards: Literal["group", "batch", "none"] = knob("group", "Advantage scaling: divide by the group std "
                                                            "('group', GRPO), batch std, or not at all (Dr.GRPO).")
    epsilon: float = knob(0.2, "Lower clip range of the ratio.")
    epsilon_high: float | None = knob(None, "Upper clip range (DAPO clip-higher uses 0.28); None = epsilon.")
    beta: float = knob(0.0, "KL coefficient against the initial model (0 = no reference model). Label-free rewards "
                       "need one: they do not hold the reasoning in place (0.04 on the label-free benchmark; "
                       "docs/rewards.md).")
    weight_decay: float = knob(0.0, "AdamW weight decay.")
    adam_beta2: float = knob(0.99, "AdamW beta2.")
    max_grad_norm: float = knob(1.0, "Gradient clipping.")
    seed: int = knob(0, "Seed of sampling, data order and updates; runs with equal seeds are identical on CPU.")
    save_every: int = knob(1, "Checkpoint every this many steps; a kill loses at most this many. Every step costs "
                           "little for small models (0.04 s for the embedded one); raise it for large ones.")
    keep_checkpoints: int = knob(2, "Checkpoints kept on disk.")
    threads: int | None = knob(None, "torch CPU threads (None = all cores). Use 1 when two runs share 2 cores.")
    mini_batches: int = knob(1, "Optimizer updates per generation batch (PPO mini-batches): the step's groups are "
                             "split into this many parts, each one update, so train.steps counts updates. "
                             "Scaf-GRPO: batch 256 / mini-batch 64 = 4. prompts_per_step must divide evenly.")
    grad_accum: int = knob(1, "Micro-batches per update (gradient accumulation): the same update in less memory.")
    bf16: Literal["auto", "on", "off"] = knob("auto", "bf16 mixed precision in training: 'auto' = on where a GPU "
                                              "supports it, off on CPU.")
    gradient_checkpointing: bool = knob(False, "Recompute activations in the backward pass (less memory, ~30 % "
                                        "slower); generation never runs under it.")
    skip_empty_updates: bool = knob(False, "Skip the optimizer update of a step whose gradient is exactly zero (no row "
                                    "with a non-zero advantage, no hint-NLL token, no KL or entropy term). Adam "
                                    "otherwise keeps moving the weights along its momentum: an informative first "
                                    "step followed by empty ones moves them about 6x as far as that step alone "
                                    "(betas 0.9/0.99), which at the cliff (most steps empty) amplifies every rare "
                                    "success. Off = TRL's behaviour. One process or DDP only. Logs update_skipped.")
    hint_nll_weight: float = knob(0.001, "Weight (gamma) of the supervised term on hint tokens that a strategy marks "
                                  "for it (SEELE's solution prefix; paper 0.001): token-mean NLL over those tokens, "
                                  "which never get the policy loss. 0 leaves them untrained. Other rollouts are "
                                  "unaffected.")

    report_to: str | list[str] = knob(
        "none", "Experiment trackers, through TRL/transformers: 'none', 'tensorboard' (event files in "
        "<run>/tensorboard), 'wandb' (WANDB_MODE=offline works without a network), 'trackio', or a list of them. "
        "Every step's metrics (reward, reward/*, scaf/*, seele/*, dapo/*, zero_adv_frac, cliff/* graduations, "
        "tokens) and the held-out evaluations (eval/*: before training at step 0 and every eval.every steps) "
        "reach them; metrics.jsonl is written either way. `pip install 'scaffold-rl[tracking]'` for tensorboard.")
    trl: dict[str, Any] = knob({}, "Any other trl.GRPOConfig field, passed through as written, e.g. {optim: "
                               "adamw_torch_fused, lr_scheduler_type: cosine, warmup_ratio: 0.05, "
                               "mask_truncated_completions: true}. Fields we set from our own keys are refused "
                               "naming ours (learning_rate: train.lr, ...), and so are the few our rollout stage "
                               "depends on; checked at startup.")

    def __post_init__(self):
        if self.hint_nll_weight < 0:
            raise ValueError("hint_nll_weight must be >= 0")
        if self.mini_batches < 1 or self.grad_accum < 1:
            raise ValueError("mini_batches and grad_accum must be >= 1")
        trackers = [self.report_to] if isinstance(self.report_to, str) else list(self.report_to)
        if not trackers or ("none" in trackers and len(trackers) > 1):
            raise ValueError("report_to: 'none', or one or more trackers without 'none'")


@dataclass
class EvalConfig:
    n_per_level: int = knob(200, "Held-out problems per level.")
    hint_depths: list[int] = knob([0, 1, 2], "Solution-prefix hint depths evaluated on the first hard level "
                                  "(0 = unhinted), to show latent ability.")
    samples: int = knob(8, "Samples per problem for pass@k / maj@k (0 = greedy only).")
    sample_problems: int = knob(50, "Problems per level used for the sampled metrics.")
    every: int = knob(0, "Evaluate (greedy, unhinted) every this many training steps; 0 = only before and after.")
    every_levels: list[int] | None = knob(None, "Levels the periodic evaluation (eval.every) covers; None = every "
                                          "evaluated level. E.g. [3] for a cheap learning curve of the hard level.")
    hard_samples: int = knob(0, "Samples per problem for pass@k on held-out problems of the hard level (the task's "
                             "first hard level, else the highest training level), before and after training. "
                             "pass@k at large k separates problems newly solved from sharper sampling of ones "
                             "already in reach (0 = off; the cliff benchmark uses 64).")
    hard_problems: int = knob(50, "Held-out problems of the hard level that get eval.hard_samples samples each.")
    max_new_tokens: int | None = knob(None, "Completion length limit in evaluation; None = rollout.max_new_tokens.")
    batch_size: int = knob(512, "Most sequences generated at once in evaluation.")


# GRPOConfig field -> (our key, how it maps). Kept here, as data, so the config layer needs no TRL import.
TRL_NAMES: dict[str, tuple[str, str]] = {
    "learning_rate": ("train.lr", ""),
    "max_completion_length": ("rollout.max_new_tokens", ""),
    "num_generations": ("rollout.num_generations", ""),
    "per_device_train_batch_size": ("train.prompts_per_step", "rows per device are derived: prompts_per_step x "
                                    "num_generations / (processes x train.mini_batches x train.grad_accum)"),
    "generation_batch_size": ("train.prompts_per_step", "a generation batch is prompts_per_step x num_generations "
                              "rollouts"),
    "gradient_accumulation_steps": ("train.grad_accum", ""),
    "steps_per_generation": ("train.mini_batches", "optimizer updates per generation batch"),
    "num_iterations": ("train.mini_batches", "the rollout stage counts rollout batches as train.steps / "
                       "train.mini_batches; several updates per batch are mini-batches"),
    "max_steps": ("train.steps", ""),
    "num_train_epochs": ("train.steps", "runs are counted in updates"),
    "beta": ("train.beta", ""),
    "epsilon": ("train.epsilon", ""),
    "epsilon_high": ("train.epsilon_high", ""),
    "loss_type": ("train.loss_type", ""),
    "scale_rewards": ("train.scale_rewards", ""),
    "weight_decay": ("train.weight_decay", ""),
    "adam_beta2": ("train.adam_beta2", ""),
    "max_grad_norm": ("train.max_grad_norm", ""),
    "seed": ("train.seed", ""),
    "data_seed": ("train.seed", "one seed drives sampling, data order and updates"),
    "bf16": ("train.bf16", ""),
    "fp16": ("train.bf16", "mixed precision is bf16 or off"),
    "gradient_checkpointing": ("train.gradient_checkpointing", ""),
    "save_steps": ("train.save_every", ""),
    "save_total_limit": ("train.keep_checkpoints", ""),
    "report_to": ("train.report_to", ""),
    "output_dir": ("output_dir", "or --run-dir; checkpoints go to <run folder>/checkpoints"),
    "run_name": ("name", ""),
    "temperature": ("rollout.temperature", ""),
    "top_k": ("rollout.top_k", ""),
    "top_p": ("rollout.top_p", ""),
    "chat_template_kwargs": ("rollout.chat_template_kwargs", ""),
    "max_prompt_length": ("rollout.max_prompt_tokens", "a longer prompt is an error, not cut"),
    "use_vllm": ("rollout.backend", "rollout.backend=vllm"),
    "vllm_mode": ("rollout.vllm_mode", ""),
    "vllm_gpu_memory_utilization": ("rollout.vllm_gpu_memory_utilization", ""),
    "vllm_tensor_parallel_size": ("rollout.vllm_tensor_parallel_size", ""),
    "vllm_max_model_length": ("rollout.vllm_max_model_length", ""),
    "vllm_server_host": ("rollout.vllm_server_host", ""),
    "vllm_server_port": ("rollout.vllm_server_port", ""),
    "vllm_server_timeout": ("rollout.vllm_server_timeout", ""),
    "reward_weights": ("reward.weights", "with reward.funcs"),
    "reward_funcs": ("reward.funcs", ""),
    "model_name_or_path": ("model.path", "a local folder or a cached hub id"),
    "dataset_name": ("task.name", "task.name=hf:<id>"),
    "dataset_config": ("task.hf_config", ""),
    "dataset_train_split": ("task.split", ""),
    "dataset_test_split": ("task.eval_split", ""),
    "use_peft": ("model.lora.enabled", ""),
    "lora_r": ("model.lora.r", ""),
    "lora_alpha": ("model.lora.alpha", ""),
    "lora_dropout": ("model.lora.dropout", ""),
    "lora_target_modules": ("model.lora.target_modules", ""),
}

# GRPOConfig fields train.trl refuses although we have no key for them: the rollout stage or the run folder relies
# on the value we set
TRL_FIXED: dict[str, str] = {
    "logging_steps": "every step is logged: metrics.jsonl, the step line and the budgets read each step's log",
    "save_strategy": "checkpoints every train.save_every steps carry the strategy state (resume relies on them)",
    "remove_unused_columns": "the rollout stage finds each row's problem by its problem_index column",
    "vllm_importance_sampling_correction": "our rollout returns no sampling log-probs to correct with",
    "use_cpu": "chosen from the hardware (CPU when no GPU is visible)",
}


@dataclass
class RunConfig:
    name: str = knob("run", "Run name; the run folder is <output_dir>/<name>-<timestamp>.")
    output_dir: str = knob("runs", "Parent folder of run folders.")
    plugins: list[str] = knob([], "Python modules imported before anything is built (dotted names or .py paths), so "
                              "the tasks, strategies and reward terms they register can be named in this config.")
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    # TRL's names (GRPOConfig and the TRL scripts' flags) for our keys: an unknown key spelled the TRL way is an
    # error naming ours (configio); train.trl refuses these fields for the same reason (train/trainer.py)
    __config_foreign_names__ = TRL_NAMES
