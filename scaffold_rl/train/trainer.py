"""GRPO on TRL: our rollout stage plugged into `trl.GRPOTrainer` through its `rollout_func` hook.

TRL keeps what it is good at (advantages, the clipped loss variants, KL, optimizer, checkpoints,
accelerate/DeepSpeed). We own the rollout: groups are sampled by our generator (unwrapped model, no
gradient checkpointing, static KV cache: the bulk of a step on CPU), scored once by our verifier, reshaped
by the rescue strategy, and handed back with per-sample prompt ids, so a rescued sample may carry a hint
in its prompt. The reward TRL sees is the one we computed; it re-derives group advantages from it.
"""
from __future__ import annotations

import contextlib
import json
import os
import warnings
from pathlib import Path

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is experimental; we pin TRL and test it

import torch  # noqa: E402
from transformers import PrinterCallback  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

# transformers 5.x renames gradient_checkpointing; TRL still uses the old name. Not ours to act on.
warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*deprecated", category=FutureWarning)
hf_logging.disable_progress_bar()

from scaffold_rl.rollout.sampler import RolloutStage
from scaffold_rl.runtime import COMPLETE_MARKER, last_complete_checkpoint, set_threads  # noqa: F401 - re-exported
from scaffold_rl.train.offpolicy import CODES, IMPORTANCE, OFF_POLICY, aggregate, token_losses
from scaffold_rl.types import Batch, Problem

STATE_FILE = "scaffold_state.json"
REWARD_STATE_DIR = "reward_state"  # per stateful reward term: <term>/ with its model, optimizer and buffer


def batch_geometry(cfg, num_processes: int | None = None) -> dict:
    """Rows per device and micro-step so that one generation batch is train.prompts_per_step whole groups in all,
    each process holding prompts_per_step / processes of them (whole groups: see train/distributed.py), split into
    train.mini_batches updates of train.grad_accum micro-batches each."""
    t, g = cfg.train, cfg.rollout.num_generations
    procs = num_processes or int(os.environ.get("WORLD_SIZE", "1"))
    if t.prompts_per_step % procs:
        raise ValueError(f"train.prompts_per_step={t.prompts_per_step} must be divisible by the {procs} processes "
                         "(each process samples whole groups)")
    rows = t.prompts_per_step * g // procs
    micro = t.mini_batches * t.grad_accum
    if rows % micro:
        raise ValueError(f"each process's {rows} rows (prompts_per_step x num_generations / processes) must split "
                         f"into train.mini_batches x train.grad_accum = {micro} equal micro-batches")
    return {"processes": procs, "per_device_train_batch_size": rows // micro,
            "gradient_accumulation_steps": t.grad_accum, "steps_per_generation": micro}


def trl_passthrough(cfg) -> dict:
    """train.trl, checked: each key a GRPOConfig field that neither one of our keys sets (then the error names
    ours) nor the rollout stage fixes (then it says why)."""
    import difflib
    from dataclasses import fields

    from scaffold_rl.config import TRL_FIXED, TRL_NAMES
    from scaffold_rl.configio import config_error

    names = {f.name for f in fields(GRPOConfig) if f.init}
    for key in cfg.train.trl:
        where = f"train.trl.{key}"
        if key in TRL_NAMES:
            ours, note = TRL_NAMES[key]
            raise config_error(cfg, where, f"{where}: set our key '{ours}' instead" + (f" ({note})" if note else ""))
        if key in TRL_FIXED:
            raise config_error(cfg, where, f"{where} cannot be passed through: {TRL_FIXED[key]}")
        if key not in names:
            close = difflib.get_close_matches(key, sorted(names), n=3)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise config_error(cfg, where, f"{where}: {key!r} is not a trl.GRPOConfig field (TRL {_trl_version()})"
                               + hint)
    return dict(cfg.train.trl)


def _trl_version() -> str:
    import trl

    return trl.__version__


def grpo_args(cfg, output_dir: Path, num_processes: int | None = None) -> GRPOConfig:
    """TRL settings from our config; everything TRL would otherwise default differently is set explicitly, then
    train.trl's fields on top (trl_passthrough)."""
    from scaffold_rl.startup import trackers

    t, r = cfg.train, cfg.rollout
    cpu = not torch.cuda.is_available()
    geometry = batch_geometry(cfg, num_processes)
    bf16 = {"on": True, "off": False}.get(t.bf16, not cpu and torch.cuda.is_bf16_supported())
    ours = dict(
        output_dir=str(output_dir),
        use_cpu=cpu,
        bf16=bf16,
        per_device_train_batch_size=geometry["per_device_train_batch_size"],
        gradient_accumulation_steps=geometry["gradient_accumulation_steps"],
        steps_per_generation=geometry["steps_per_generation"],
        num_generations=r.num_generations,
        max_completion_length=r.max_new_tokens,
        temperature=r.temperature,
        top_k=r.top_k,
        top_p=r.top_p,
        learning_rate=t.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        adam_beta2=t.adam_beta2,
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        loss_type=t.loss_type,
        scale_rewards=t.scale_rewards,
        epsilon=t.epsilon,
        epsilon_high=t.epsilon_high,
        beta=t.beta,
        max_steps=t.steps,
        logging_steps=1,
        save_strategy="steps",
        save_steps=t.save_every,
        save_total_limit=t.keep_checkpoints,
        seed=t.seed,
        data_seed=t.seed,
        gradient_checkpointing=t.gradient_checkpointing,
        ddp_find_unused_parameters=False,  # every trained weight is in every forward pass
        report_to=trackers(cfg) or "none",
        run_name=cfg.name,
        disable_tqdm=True,
        dataloader_num_workers=0,
        log_completions=False,
        **vllm_args(r),
    )
    passed = trl_passthrough(cfg)
    try:
        return GRPOConfig(**{**ours, **passed})
    except (ValueError, TypeError) as err:
        if not cfg.train.trl:
            raise
        raise ValueError(f"TRL refused these arguments (train.trl: {cfg.train.trl}): {err}") from err


def vllm_args(r) -> dict:
    """TRL's vLLM settings: with use_vllm TRL builds the engine (colocate) or client (server) and reloads the
    trained weights into it before every rollout; our VLLMGenerator samples through it."""
    if r.backend != "vllm":
        return {}
    from scaffold_rl.rollout.vllm_generation import require_vllm

    require_vllm()
    return dict(use_vllm=True, vllm_mode=r.vllm_mode, vllm_gpu_memory_utilization=r.vllm_gpu_memory_utilization,
                vllm_tensor_parallel_size=r.vllm_tensor_parallel_size, vllm_max_model_length=r.vllm_max_model_length,
                vllm_server_host=r.vllm_server_host, vllm_server_port=r.vllm_server_port,
                vllm_server_timeout=r.vllm_server_timeout,
                # our rollout scores and trains on what it sampled; TRL's importance-sampling correction needs the
                # sampling log-probs, which rollout_func does not return
                vllm_importance_sampling_correction=False)


def problem_dataset(problems: list[Problem]):
    from datasets import Dataset

    return Dataset.from_dict({"prompt": [p.prompt for p in problems], "problem_index": list(range(len(problems)))})


def precomputed_reward(prompts, completions, scaffold_reward, **kwargs):
    """TRL's reward hook: the rollout stage already scored every sample (once, with the verifier)."""
    return list(scaffold_reward)


precomputed_reward.__name__ = "correctness"


class ScaffoldGRPOTrainer(GRPOTrainer):
    """`GRPOTrainer` whose rollouts come from a `RolloutStage` (generation + rescue strategy).

    Hint tokens of a rollout marked `hint_loss="nll"` (SEELE) are kept out of the policy loss (env_mask 0,
    so TRL neither clips nor normalises over them) and get a supervised term instead:
    `hint_nll_weight` x the token-mean negative log-likelihood over all such tokens of the micro-batch, taken
    from the same forward pass as the policy loss (and the same temperature-scaled log-probs TRL uses).

    Rows whose `Rollout.estimator` is not "on_policy" (Guide-GRPO's importance-corrected hinted samples, LUFFY's
    off-policy traces) are kept out of TRL's surrogate and get their own per-token loss from the same forward pass,
    aggregated with TRL's normaliser (train/offpolicy.py). Importance rows carry the behaviour log-probs of their
    hinted sampling context, computed once per rollout batch by a no-grad forward (`behaviour_logps`).
    """

    def __init__(self, *, model, tokenizer, args: GRPOConfig, problems: list[Problem], stage_factory,
                 callbacks=None, skip_zero_advantage_rows: bool = True, hint_nll_weight: float = 0.0,
                 peft_config=None, max_prompt_tokens: int | None = None, skip_empty_updates: bool = False):
        if hint_nll_weight < 0:
            raise ValueError(f"hint_nll_weight must be >= 0, got {hint_nll_weight}")
        self.problems = problems
        self.skip_zero_advantage_rows = skip_zero_advantage_rows
        self.skip_empty_updates = skip_empty_updates
        self.hint_nll_weight = float(hint_nll_weight)
        self.max_prompt_tokens = max_prompt_tokens
        self._rollout_rows = None
        self._hint_nll_counts: list[int] | None = None  # per row of the last rollout: leading tokens under NLL
        self._row_estimators: dict | None = None  # per row of the last rollout: estimator codes, gammas, prompts
        self._capture_logps = False
        self._captured_logps = None
        self.last_batch: Batch | None = None
        # work done so far, in tokens (this process): sampled by the rollout stage (rollouts, hint search, SEELE
        # rounds, refills) and run through the loss (prompt + completion of every forwarded row). Budgets and
        # equal-compute comparisons count these, not seconds; checkpointed, so a resumed run continues the count.
        self.work = {"generated": 0, "trained": 0}
        super().__init__(model=model, reward_funcs=[precomputed_reward], args=args,
                         train_dataset=problem_dataset(problems), processing_class=tokenizer,
                         rollout_func=self._rollout, callbacks=callbacks, peft_config=peft_config)
        self.remove_callback(PrinterCallback)  # our RunCallback prints one compact line per step instead
        # built after super().__init__ so the generator wraps the model the trainer actually trains
        self.stage: RolloutStage = stage_factory(self)

    def _generate_and_score_completions(self, inputs):
        self._rollout_rows = inputs  # rollout_func only receives prompt texts; keep the rows it came from
        self._hint_nll_counts = None
        self._row_estimators = None
        out = super()._generate_and_score_completions(inputs)
        rows = self._row_estimators
        if rows is not None and any(rows["codes"]):
            if len(rows["codes"]) != out["completion_ids"].size(0):
                raise RuntimeError("row estimators out of sync with the completions")
            self._demote_zero_advantage_importance_rows(rows, out["advantages"])
        if rows is not None and any(rows["codes"]):
            device = out["completion_ids"].device
            out["row_estimator"] = torch.tensor(rows["codes"], dtype=torch.long, device=device)
            out["row_gamma"] = torch.tensor(rows["gammas"], dtype=torch.float32, device=device)
            if IMPORTANCE in rows["codes"]:
                out["behaviour_logps"] = self._behaviour_logps(out, rows["sampled"])
        counts = self._hint_nll_counts
        # absent when no row has NLL hint tokens (nothing to do or log); with several processes always present, so
        # every process takes part in the token count's all-gather in _hint_nll_term
        if counts is not None and (any(counts) or self.accelerator.num_processes > 1):
            # (B, C) like completion_mask, so TRL's shuffling and splitting carry it along with the rows
            mask = out["completion_mask"]
            if len(counts) != mask.size(0):
                raise RuntimeError("hint NLL marks out of sync with the completions")
            positions = torch.arange(mask.size(1), device=mask.device)
            limit = torch.tensor(counts, device=mask.device)
            out["hint_nll_mask"] = (positions[None, :] < limit[:, None]).to(mask.dtype) * mask
        return out

    @staticmethod
    def _demote_zero_advantage_importance_rows(rows: dict, advantages) -> None:
        """An importance row with a zero advantage (a guided group that stayed all wrong) has no policy term:
        -min(rho x 0, clip(rho) x 0) = 0 whatever rho is, so its loss is that of an on-policy row (the KL term
        alone when train.beta > 0, normalised alike). It becomes one, and needs no behaviour forward: Guide pays
        (in work["trained"]) only for the rows whose ratio can move the weights."""
        for i, a in enumerate(advantages.tolist()):
            if rows["codes"][i] == IMPORTANCE and a == 0.0:
                rows["codes"][i], rows["sampled"][i] = CODES["on_policy"], None

    @torch.no_grad()
    def _behaviour_logps(self, out, sampled_prompts: list) -> torch.Tensor:
        """(B, C) log-probs of each importance row's completion under the prompt it was sampled from (0 on other
        rows): the same temperature-scaled log-probs TRL's loss uses, with the weights that sampled it. Its tokens
        (sampled prompt + completion) count as work["trained"], like a row of the loss's forward pass: the
        forward is Guide-GRPO's own cost, so arms at equal train.max_tokens pay for it (a no-grad forward costs
        about a third of a forward + backward, so this over-counts it, on the safe side)."""
        from trl.models.utils import disable_gradient_checkpointing
        from trl.trainer.utils import pad

        index = [i for i, ids in enumerate(sampled_prompts) if ids is not None]
        device = out["completion_ids"].device
        prompts = [torch.tensor(sampled_prompts[i], dtype=torch.long) for i in index]
        prompt_ids = pad(prompts, padding_value=self._tokenizer.pad_token_id, padding_side="left").to(device)
        prompt_mask = pad([torch.ones_like(p) for p in prompts], padding_value=0, padding_side="left").to(device)
        completion_ids, completion_mask = out["completion_ids"][index], out["completion_mask"][index]
        if self.model.training:  # a forward over prompt + completion like the loss's: work of this strategy
            self.work["trained"] += int(prompt_mask.sum().item() + completion_mask.sum().item())
        with disable_gradient_checkpointing(self.model, self.args.gradient_checkpointing_kwargs):
            logps, _, _ = self._get_per_token_logps_and_entropies(
                self.model, torch.cat([prompt_ids, completion_ids], 1), torch.cat([prompt_mask, completion_mask], 1),
                completion_ids.size(1), batch_size=self.args.per_device_train_batch_size)
        full = torch.zeros(out["completion_ids"].shape, dtype=logps.dtype, device=device)
        full[index] = logps
        return full

    def _rollout(self, prompts, trainer) -> dict:
        rows = self._rollout_rows
        g = self.num_generations
        if rows is None or len(rows) != len(prompts) or len(rows) % g:
            raise RuntimeError("rollout rows out of sync with the prompts TRL passed")
        indices = [row["problem_index"] for row in rows]
        problems = []
        for start in range(0, len(indices), g):
            chunk = indices[start : start + g]
            if len(set(chunk)) != 1:
                raise RuntimeError(f"expected each problem repeated {g} times consecutively, got {chunk}")
            problems.append(self.problems[chunk[0]])
        from trl.models.utils import unwrap_model_for_generation

        from scaffold_rl.train.distributed import run_step

        if self.use_vllm:  # TRL has just pushed the new weights (process 0 in server mode): nobody samples before
            self.accelerator.wait_for_everyone()
            context = contextlib.nullcontext()
        else:  # full weights for generation under ZeRO-3 / FSDP (no-op for one process and DDP), no grad checkpointing
            context = contextlib.ExitStack()
            context.enter_context(unwrap_model_for_generation(
                self.model_wrapped, self.accelerator, gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs))
            context.enter_context(self._dist.summon_full_params(self.model_wrapped, recurse=False))
        generator = self.stage.sampler.generator if getattr(self.stage, "sampler", None) is not None else None
        sampled_before = getattr(generator, "tokens_generated", 0)
        with context:
            batch = run_step(self.stage, problems, self.state.global_step, self.accelerator)
        self.last_batch = batch
        # this process's own count (batch.stats are already summed over processes)
        if generator is not None:
            self.work["generated"] += getattr(generator, "tokens_generated", 0) - sampled_before
        else:
            self.work["generated"] += int(batch.stats.get("tokens_generated", 0))
        for key, value in batch.stats.items():
            self._metrics["train"][key].append(float(value))
        prompt_ids, completion_ids, env_mask, rewards, nll_counts = [], [], [], [], []
        estimators = {"codes": [], "gammas": [], "sampled": []}
        for group in batch.groups:
            if len(group.rollouts) != g:
                raise RuntimeError(f"strategy returned a group of {len(group.rollouts)} rollouts, expected {g}")
            for r in group.rollouts:
                # hint tokens marked "nll" leave the policy loss (env_mask 0) for the supervised term
                h = r.hint_token_count if r.hint_loss == "nll" else 0
                if not 0 <= h <= len(r.completion_ids):
                    raise RuntimeError(f"hint_token_count {h} outside the completion of {len(r.completion_ids)}")
                if self.max_prompt_tokens is not None and len(r.prompt_ids) > self.max_prompt_tokens:
                    raise ValueError(f"problem {r.problem.id}: prompt of {len(r.prompt_ids)} tokens (hint "
                                     f"{'included' if r.hint else 'none'}) > rollout.max_prompt_tokens="
                                     f"{self.max_prompt_tokens}")
                prompt_ids.append(r.prompt_ids)
                completion_ids.append(r.completion_ids)
                env_mask.append([0] * h + [1] * (len(r.completion_ids) - h))
                nll_counts.append(h)
                rewards.append(r.reward)
                self._add_estimator(r, h, estimators)
        self._hint_nll_counts = nll_counts
        self._row_estimators = estimators
        return {"prompt_ids": prompt_ids, "completion_ids": completion_ids, "logprobs": None,
                "env_mask": env_mask, "scaffold_reward": rewards}

    @staticmethod
    def _add_estimator(r, nll_tokens: int, rows: dict) -> None:
        """Record how the row's tokens enter the policy loss (its estimator code, shaping gamma, sampling prompt)."""
        code = CODES[r.estimator]
        if code and nll_tokens:
            raise RuntimeError(f"problem {r.problem.id}: a {r.estimator} row cannot also carry hint-NLL tokens")
        if code == IMPORTANCE and (r.sampled_prompt_ids is None or r.hint_token_count):
            raise RuntimeError(f"problem {r.problem.id}: an importance row needs the prompt it was sampled from "
                               "(Rollout.sampled_prompt_ids) and no forced tokens in its completion")
        rows["codes"].append(code)
        rows["gammas"].append(float("nan") if r.shaping_gamma is None else float(r.shaping_gamma))
        rows["sampled"].append(r.sampled_prompt_ids if code == IMPORTANCE else None)

    # --- loss: skip the forward/backward of rows that cannot contribute -----------------------------------
    def _compute_loss(self, model, inputs):
        """TRL's loss, computed only on rows with a non-zero advantage when that is exact, plus the hint NLL.

        With no KL term and no entropy bonus, a zero-advantage row adds exactly nothing to the policy loss or
        its gradient; at the cliff that is most rows (80-95 % on the embedded task), and their forward and
        backward passes are most of a step. Rows carrying hint-NLL tokens are always kept (their supervised
        term does not depend on the advantage). The loss keeps TRL's normalisers, so value and gradient are those
        of the full batch (tests check both). Logged entropy and clip ratios then cover the kept rows only.
        """
        hint_mask = inputs.get("hint_nll_mask") if self.hint_nll_weight > 0 else None
        adv = inputs["advantages"]
        keep = adv != 0 if adv.dim() == 1 else (adv != 0).any(dim=1)
        if hint_mask is not None:
            keep = keep | hint_mask.bool().any(dim=1)
        # several processes: every one must run the same forward/backward (DDP, ZeRO) and TRL gathers per-row
        # metrics that need equal row counts, so rows are skipped only in a single process; a MoE router's
        # auxiliary loss depends on every row's routing, so it needs them all too
        if not self.row_skip_is_exact() or bool(keep.all()):
            loss, logps = self._policy_loss(model, inputs, capture=hint_mask is not None)
            return loss if hint_mask is None else loss + self._hint_nll_term(logps, hint_mask)
        total_rows = keep.numel()
        if not keep.any():
            # no informative row (nor hint-NLL row): a zero loss that still belongs to the graph
            return sum(p.sum() for p in model.parameters() if p.requires_grad) * 0.0
        index = keep.nonzero().squeeze(1)
        sub = {k: (v[index] if isinstance(v, torch.Tensor) and v.dim() > 0 and v.size(0) == total_rows else v)
               for k, v in inputs.items()}
        loss, logps = self._policy_loss(model, sub, capture=hint_mask is not None)
        # losses normalised by the row or token count of the micro-batch need the full batch's count back
        if self.loss_type in ("grpo", "sapo", "dr_grpo", "luspo"):
            loss = loss * (len(index) / total_rows)
        elif self.loss_type == "bnpo":
            mask = inputs["completion_mask"] if "tool_mask" not in inputs else inputs["completion_mask"] * inputs[
                "tool_mask"]
            loss = loss * (mask[index].sum().clamp(min=1.0) / mask.sum().clamp(min=1.0))
        if hint_mask is None:
            return loss
        # every hint-NLL row was kept, so the token mean over the kept rows is the micro-batch's
        return loss + self._hint_nll_term(logps, sub["hint_nll_mask"])

    def row_skip_is_exact(self) -> bool:
        """Whether leaving zero-advantage rows out of the loss changes nothing: no KL or entropy term (a row's KL
        and entropy do not vanish with its advantage), no MoE auxiliary loss (routing statistics span all rows),
        and one process (every process must run the same forward/backward)."""
        return (self.skip_zero_advantage_rows and self.beta == 0.0 and not self._entropy_bonus_enabled
                and not self.aux_loss_enabled and self.accelerator.num_processes == 1)

    def _policy_loss(self, model, inputs, capture: bool):
        """TRL's loss; with `capture`, also the per-token log-probs of its forward pass (for the hint NLL). Every
        row that goes through the loss's forward and backward passes is counted here (work["trained"]). Rows with
        an importance or off-policy estimator get their own per-token loss instead (`_off_policy_loss`)."""
        if self.model.training:
            self.work["trained"] += int(inputs["prompt_mask"].sum().item() + inputs["completion_mask"].sum().item())
        codes = inputs.get("row_estimator")
        special = codes is not None and bool((codes != 0).any())
        if special:
            plain = inputs
            inputs = dict(inputs)  # TRL's surrogate sees the plain rows only: their tokens leave its loss mask
            tool = plain.get("tool_mask")
            tool = torch.ones_like(plain["completion_mask"]) if tool is None else tool
            inputs["tool_mask"] = tool * (codes == 0).unsqueeze(1).to(tool.dtype)
        self._capture_logps, self._captured_logps = capture or special, None
        try:
            loss = super()._compute_loss(model, inputs)
        finally:
            self._capture_logps = False
        logps, self._captured_logps = self._captured_logps, None
        if special:
            loss = self._off_policy_loss(loss, logps, plain, inputs["tool_mask"])
        return loss, logps

    def _off_policy_loss(self, trl_loss, logps, inputs, plain_tool_mask):
        """TRL's loss over the plain rows plus the importance / off-policy rows' per-token losses, normalised as
        TRL normalises `loss_type` over all rows (train/offpolicy.py); logs the ratios and shaping weights."""
        if self.importance_sampling_level != "token":
            raise ValueError("guide / luffy rows need importance_sampling_level='token'")
        mode = "train" if self.model.training else "eval"
        completion_mask = inputs["completion_mask"]
        tool = inputs.get("tool_mask")
        full_mask = completion_mask if tool is None else completion_mask * tool
        codes = inputs["row_estimator"]
        special_mask = full_mask * (codes != 0).unsqueeze(1).to(full_mask.dtype)
        per_token, stats = token_losses(
            logps, inputs["advantages"], codes, inputs.get("behaviour_logps"), inputs["row_gamma"],
            self.epsilon_low, self.epsilon_high, ref_logps=inputs.get("ref_per_token_logps"), beta=self.beta)
        accumulation = self.current_gradient_accumulation_steps if mode == "train" else 1.0
        extra = aggregate(per_token, special_mask, self.loss_type, full_mask=full_mask,
                          max_completion_length=self.max_completion_length, num_items=inputs["num_items_in_batch"],
                          accumulation=accumulation, processes=self.accelerator.num_processes,
                          steps_per_generation=self.args.steps_per_generation, training=mode == "train")
        if self.loss_type == "bnpo":  # TRL normalised its part by the plain tokens alone; bring it to all tokens
            plain_mask = completion_mask * plain_tool_mask
            trl_loss = trl_loss * (plain_mask.sum().clamp(min=1.0) / full_mask.sum().clamp(min=1.0))
        for key, name, code in (("ratio", "guide/ratio_mean", IMPORTANCE),
                                ("clipped", "guide/clipped_frac", IMPORTANCE), ("prob", "luffy/prob_mean", OFF_POLICY),
                                ("grad_weight", "luffy/grad_weight_mean", OFF_POLICY)):
            if key in stats:
                m = full_mask * (codes == code).unsqueeze(1).to(full_mask.dtype)
                self._metrics[mode][name].append(float((stats[key] * m).sum() / m.sum().clamp(min=1.0)))
        return trl_loss + extra

    def _get_per_token_logps_and_entropies(self, *args, **kwargs):
        out = super()._get_per_token_logps_and_entropies(*args, **kwargs)
        if self._capture_logps:
            self._captured_logps = out[0]
        return out

    def _hint_nll_term(self, logps, hint_mask):
        """gamma x token-mean NLL of the hint tokens (0 without any), scaled for gradient accumulation like TRL's
        per-micro-batch losses; logs `hint_nll` (the unweighted mean) and `hint_nll_tokens`."""
        mode = "train" if self.model.training else "eval"
        count = hint_mask.sum()
        self._metrics[mode]["hint_nll_tokens"].append(float(count.item()))
        denominator = count.float()
        procs = self.accelerator.num_processes
        if procs > 1:  # the token mean over every process's hint tokens (DDP then averages over the processes)
            denominator = self.accelerator.gather(denominator.detach().reshape(1)).sum() / procs
        if logps is None or count.item() == 0:
            return 0.0
        mask = hint_mask.to(logps.dtype)
        nll = -(logps * mask).sum() / denominator.to(logps.dtype)
        self._metrics[mode]["hint_nll"].append(float(nll.detach().item() * denominator.item() / count.item()))
        normalizer = self.current_gradient_accumulation_steps if mode == "train" else 1.0
        return self.hint_nll_weight * nll / normalizer

    # --- updates: optionally none from a step without any learning signal ------------------------------------
    def create_optimizer(self, *args, **kwargs):
        optimizer = super().create_optimizer(*args, **kwargs)
        if self.skip_empty_updates and not getattr(optimizer, "skips_empty_updates", False):
            if self.is_deepspeed_enabled or self.is_fsdp_enabled:
                raise ValueError("train.skip_empty_updates needs an unsharded optimizer (one process or DDP)")
            optimizer.step = self._skip_when_empty(optimizer, optimizer.step)
            optimizer.skips_empty_updates = True
        return optimizer

    def _skip_when_empty(self, optimizer, step):
        """`step`, unless every gradient is exactly zero (gradients are already averaged over processes, so every
        process decides alike). Logs `update_skipped` (1 = this step's update was skipped)."""

        def guarded(*args, **kwargs):
            grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
            empty = not grads or torch.stack(torch._foreach_norm(grads)).max().item() == 0.0
            self._metrics["train"]["update_skipped"].append(float(empty))
            return None if empty else step(*args, **kwargs)

        return guarded

    # --- checkpoints: strategy state travels with TRL's; a marker says the folder is whole -----------------
    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        work = self.work_totals()  # a collective: before the other processes leave
        if not self.is_world_process_zero():  # strategy state is merged across processes: process 0 writes it
            return
        folder = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
        tracker = getattr(self.stage, "tracker", None)
        state = {"strategy": self.stage.strategy.state_dict(), "step": self.state.global_step, "work": work,
                 "tracker": tracker.state_dict() if tracker is not None else {}}
        (folder / STATE_FILE).write_text(json.dumps(state))
        reward = self._training_reward()
        if reward is not None:  # a reward that learns (refreshed_process): its weights, optimizer and buffer
            reward.save_state(folder / REWARD_STATE_DIR)
        (folder / COMPLETE_MARKER).write_text("ok\n")

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is not None and (Path(checkpoint) / STATE_FILE).exists():
            state = json.loads((Path(checkpoint) / STATE_FILE).read_text())
            self.stage.strategy.load_state_dict(state["strategy"])
            if getattr(self.stage, "tracker", None) is not None:
                self.stage.tracker.load_state_dict(state.get("tracker", {}))
            reward = self._training_reward()
            if reward is not None:
                reward.load_state(Path(checkpoint) / REWARD_STATE_DIR)
            # the totals are global: process 0 carries them on, the others start their share from 0
            work = state.get("work", {}) if self.accelerator.is_main_process else {}
            self.work = {"generated": int(work.get("generated", 0)), "trained": int(work.get("trained", 0))}

    def _training_reward(self):
        """The rollout stage's reward when some of its terms keep state across steps, else None."""
        reward = getattr(getattr(self.stage, "sampler", None), "reward", None)
        stateful = getattr(reward, "stateful_terms", None)
        return reward if stateful is not None and stateful() else None

    def work_totals(self) -> dict[str, int]:
        """Tokens of work so far summed over processes (a collective with several: every process calls it)."""
        if self.accelerator.num_processes == 1:
            return dict(self.work)
        counts = torch.tensor([self.work["generated"], self.work["trained"]], device=self.accelerator.device)
        total = self.accelerator.reduce(counts, reduction="sum")
        return {"generated": int(total[0].item()), "trained": int(total[1].item())}

