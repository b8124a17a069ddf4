"""GRPO on TRL: our rollout stage plugged into `trl.GRPOTrainer` through its `rollout_func` hook.

TRL keeps what it is good at (advantages, the clipped loss variants, KL, optimizer, checkpoints,
accelerate/DeepSpeed). We own the rollout: groups are sampled by our generator (unwrapped model, no
gradient checkpointing, static KV cache: the bulk of a step on CPU), scored once by our verifier, reshaped
by the rescue strategy, and handed back with per-sample prompt ids, so a rescued sample may carry a hint
in its prompt. The reward TRL sees is the one we computed; it re-derives group advantages from it.
"""
from __future__ import annotations

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
from scaffold_rl.types import Batch, Problem

STATE_FILE = "scaffold_state.json"
COMPLETE_MARKER = "COMPLETE"


def grpo_args(cfg, output_dir: Path) -> GRPOConfig:
    """TRL settings from our config; everything TRL would otherwise default differently is set explicitly."""
    t, r = cfg.train, cfg.rollout
    cpu = not torch.cuda.is_available()
    return GRPOConfig(
        output_dir=str(output_dir),
        use_cpu=cpu,
        bf16=not cpu and torch.cuda.is_bf16_supported(),
        per_device_train_batch_size=t.prompts_per_step * r.num_generations,
        gradient_accumulation_steps=1,
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
        gradient_checkpointing=False,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        log_completions=False,
    )


def problem_dataset(problems: list[Problem]):
    from datasets import Dataset

    return Dataset.from_dict({"prompt": [p.prompt for p in problems], "problem_index": list(range(len(problems)))})


def precomputed_reward(prompts, completions, scaffold_reward, **kwargs):
    """TRL's reward hook: the rollout stage already scored every sample (once, with the verifier)."""
    return list(scaffold_reward)


precomputed_reward.__name__ = "correctness"


class ScaffoldGRPOTrainer(GRPOTrainer):
    """`GRPOTrainer` whose rollouts come from a `RolloutStage` (generation + rescue strategy)."""

    def __init__(self, *, model, tokenizer, args: GRPOConfig, problems: list[Problem], stage_factory,
                 callbacks=None, skip_zero_advantage_rows: bool = True):
        self.problems = problems
        self.skip_zero_advantage_rows = skip_zero_advantage_rows
        self._rollout_rows = None
        self.last_batch: Batch | None = None
        super().__init__(model=model, reward_funcs=[precomputed_reward], args=args,
                         train_dataset=problem_dataset(problems), processing_class=tokenizer,
                         rollout_func=self._rollout, callbacks=callbacks)
        self.remove_callback(PrinterCallback)  # our RunCallback prints one compact line per step instead
        # built after super().__init__ so the generator wraps the model the trainer actually trains
        self.stage: RolloutStage = stage_factory(self)

    def _generate_and_score_completions(self, inputs):
        self._rollout_rows = inputs  # rollout_func only receives prompt texts; keep the rows it came from
        return super()._generate_and_score_completions(inputs)

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
        batch = self.stage.run(problems, step=self.state.global_step)
        self.last_batch = batch
        for key, value in batch.stats.items():
            self._metrics["train"][key].append(float(value))
        prompt_ids, completion_ids, env_mask, rewards = [], [], [], []
        for group in batch.groups:
            if len(group.rollouts) != g:
                raise RuntimeError(f"strategy returned a group of {len(group.rollouts)} rollouts, expected {g}")
            for r in group.rollouts:
                prompt_ids.append(r.prompt_ids)
                completion_ids.append(r.completion_ids)
                env_mask.append([1] * len(r.completion_ids))
                rewards.append(r.reward)
        return {"prompt_ids": prompt_ids, "completion_ids": completion_ids, "logprobs": None,
                "env_mask": env_mask, "scaffold_reward": rewards}

    # --- loss: skip the forward/backward of rows that cannot contribute -----------------------------------
    def _compute_loss(self, model, inputs):
        """TRL's loss, computed only on rows with a non-zero advantage when that is exact.

        With no KL term and no entropy bonus, a zero-advantage row adds exactly nothing to the policy loss or
        its gradient; at the cliff that is most rows (80-95 % on the embedded task), and their forward and
        backward passes are most of a step. The loss keeps TRL's normalisers, so value and gradient are those
        of the full batch (tests check both). Logged entropy and clip ratios then cover the kept rows only.
        """
        adv = inputs["advantages"]
        keep = adv != 0 if adv.dim() == 1 else (adv != 0).any(dim=1)
        if not self.skip_zero_advantage_rows or self.beta != 0.0 or self._entropy_bonus_enabled or bool(keep.all()):
            return super()._compute_loss(model, inputs)
        total_rows = keep.numel()
        if not keep.any():
            # no informative row: a zero loss that still belongs to the graph, so every rank steps alike
            return sum(p.sum() for p in model.parameters() if p.requires_grad) * 0.0
        index = keep.nonzero().squeeze(1)
        sub = {k: (v[index] if isinstance(v, torch.Tensor) and v.dim() > 0 and v.size(0) == total_rows else v)
               for k, v in inputs.items()}
        loss = super()._compute_loss(model, sub)
        # losses normalised by the row or token count of the micro-batch need the full batch's count back
        if self.loss_type in ("grpo", "sapo", "dr_grpo", "luspo"):
            loss = loss * (len(index) / total_rows)
        elif self.loss_type == "bnpo":
            mask = inputs["completion_mask"] if "tool_mask" not in inputs else inputs["completion_mask"] * inputs[
                "tool_mask"]
            loss = loss * (mask[index].sum().clamp(min=1.0) / mask.sum().clamp(min=1.0))
        return loss

    # --- checkpoints: strategy state travels with TRL's; a marker says the folder is whole -----------------
    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        folder = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
        state = {"strategy": self.stage.strategy.state_dict(), "step": self.state.global_step}
        (folder / STATE_FILE).write_text(json.dumps(state))
        (folder / COMPLETE_MARKER).write_text("ok\n")

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is not None and (Path(checkpoint) / STATE_FILE).exists():
            state = json.loads((Path(checkpoint) / STATE_FILE).read_text())
            self.stage.strategy.load_state_dict(state["strategy"])


def last_complete_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint whose save finished (a kill -9 mid-save leaves one without the marker)."""
    if not folder.exists():
        return None
    done = [p for p in folder.glob("checkpoint-*") if (p / COMPLETE_MARKER).exists()]
    return max(done, key=lambda p: int(p.name.split("-")[-1])) if done else None


def set_threads(threads: int | None) -> None:
    if threads:
        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)
