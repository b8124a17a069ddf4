"""Advantages and losses as TRL computes them in our configuration, against hand-computed numbers."""
import math
import types

import pytest
import torch

from scaffold_rl.data.arithmetic import ArithmeticTask
from scaffold_rl.models.embedded import TinyModelSpec, build_model, build_tokenizer
from scaffold_rl.train.trainer import ScaffoldGRPOTrainer, grpo_args
from scaffold_rl.types import Batch, Group, Rollout
from tests.conftest import tiny_config


class ScriptedStage:
    """Stands in for the rollout stage: fixed completions and rewards, no generation."""

    def __init__(self, tokenizer, rewards, lengths, hinted=()):
        self.tokenizer, self.rewards, self.lengths, self.hinted = tokenizer, rewards, lengths, set(hinted)
        self.strategy = None

    def run(self, problems, step):
        groups = []
        for k, p in enumerate(problems):
            prompt = self.tokenizer(p.prompt)["input_ids"]
            rollouts = []
            rewards = self.rewards[k] if isinstance(self.rewards[0], list) else self.rewards
            for i, (r, n) in enumerate(zip(rewards, self.lengths)):
                ids = self.tokenizer(str(i % 10) * (n - 1), add_special_tokens=False)["input_ids"] + [self.tokenizer.eos_token_id]
                rollouts.append(Rollout(problem=p, prompt_ids=prompt + ([5, 6] if i in self.hinted else []),
                                        completion_ids=ids, text="", reward=r, correct=r > 0))
            groups.append(Group(p, rollouts))
        return Batch(groups, step=step, stats={})


def make_trainer(tmp_path, rewards, lengths, loss_type="dapo", scale_rewards="group", skip=True):
    """`rewards`: one group's rewards, or a list of groups (one problem each)."""
    groups = rewards if isinstance(rewards[0], list) else [rewards]
    cfg = tiny_config(tmp_path)
    cfg.rollout.num_generations = len(groups[0])
    cfg.train.prompts_per_step = len(groups)
    cfg.train.loss_type = loss_type
    cfg.train.scale_rewards = scale_rewards
    tok = build_tokenizer()
    model = build_model(tok, TinyModelSpec(32, 64, 1, 2, 96), seed=0)
    problems = ArithmeticTask().problems("train", 1, 4)
    trainer = ScaffoldGRPOTrainer(
        model=model, tokenizer=tok, args=grpo_args(cfg, tmp_path / "ckpt"), problems=problems,
        stage_factory=lambda t: ScriptedStage(tok, rewards, lengths), skip_zero_advantage_rows=skip)
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop; these tests call the loss directly
    inputs = [{"prompt": problems[k].prompt, "problem_index": k} for k, g in enumerate(groups) for _ in g]
    return trainer, inputs


def test_one_success_in_eight_gets_plus_2_47_and_failures_minus_0_35(tmp_path):
    trainer, inputs = make_trainer(tmp_path, [1, 0, 0, 0, 0, 0, 0, 0], [4] * 8)
    out = trainer._generate_and_score_completions(inputs)
    adv = out["advantages"].tolist()
    std = math.sqrt(0.125)  # unbiased std of one 1 and seven 0s: sqrt(8/7 * 0.125 * 0.875)
    assert adv[0] == pytest.approx(0.875 / (std + 1e-4), abs=1e-5)
    assert adv[0] == pytest.approx(2.4742, abs=1e-3)
    assert all(a == pytest.approx(-0.125 / (std + 1e-4), abs=1e-5) for a in adv[1:])
    assert adv[1] == pytest.approx(-0.3535, abs=1e-3)


def test_all_wrong_group_has_zero_advantage_and_zero_loss(tmp_path):
    trainer, inputs = make_trainer(tmp_path, [0] * 4, [3, 4, 5, 6])
    out = trainer._generate_and_score_completions(inputs)
    assert out["advantages"].abs().max().item() == 0.0
    loss = trainer._compute_loss(trainer.model, out)
    assert loss.item() == 0.0


def test_dr_grpo_advantage_is_not_scaled(tmp_path):
    trainer, inputs = make_trainer(tmp_path, [1, 1, 0, 0], [4] * 4, loss_type="dr_grpo", scale_rewards="none")
    out = trainer._generate_and_score_completions(inputs)
    assert out["advantages"].tolist() == pytest.approx([0.5, 0.5, -0.5, -0.5])


@pytest.mark.parametrize("loss_type", ["dapo", "grpo", "dr_grpo"])
def test_loss_matches_hand_computation(tmp_path, loss_type):
    """At the first update the ratio is 1, so the clipped surrogate is -A per token; only the aggregation
    differs: dapo = token mean over the batch, grpo = mean of per-sequence means, dr_grpo = sum / (B * L_max)."""
    rewards, lengths = [1, 0, 0, 1], [2, 5, 3, 6]
    trainer, inputs = make_trainer(tmp_path, rewards, lengths, loss_type=loss_type)
    out = trainer._generate_and_score_completions(inputs)
    adv = out["advantages"].tolist()
    loss = trainer._compute_loss(trainer.model, out).item()
    if loss_type == "dapo":
        expected = -sum(a * n for a, n in zip(adv, lengths)) / sum(lengths)
    elif loss_type == "grpo":
        expected = -sum(adv) / len(adv)
    else:
        expected = -sum(a * n for a, n in zip(adv, lengths)) / (len(lengths) * trainer.max_completion_length)
    assert loss == pytest.approx(expected, abs=1e-6)
    # and the advantage is the hand value: mean .5, unbiased std sqrt(1/3)
    assert adv[0] == pytest.approx(0.5 / (math.sqrt(1 / 3) + 1e-4), abs=1e-5)


def test_loss_gradient_raises_the_likelihood_of_the_rewarded_sample(tmp_path):
    trainer, inputs = make_trainer(tmp_path, [1, 0, 0, 0], [4, 4, 4, 4])
    out = trainer._generate_and_score_completions(inputs)
    model = trainer.model
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], 1)
    mask = torch.cat([out["prompt_mask"], out["completion_mask"]], 1)

    def logp_first():
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
        lp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        n = out["completion_ids"].shape[1]
        return (lp[:, -n:] * out["completion_mask"]).sum(-1)

    before = logp_first()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    loss = trainer._compute_loss(model, out)
    loss.backward()
    opt.step()
    after = logp_first()
    # the rewarded completion (identical tokens here) gets more likely relative to its own start
    assert after[0] > before[0]
    gains = (after - before).tolist()
    assert gains[0] > max(gains[1:])  # and more than any penalised sample


@pytest.mark.parametrize("loss_type", ["dapo", "grpo", "dr_grpo", "bnpo"])
def test_skipping_zero_advantage_rows_keeps_loss_and_gradient_exact(tmp_path, loss_type):
    """Rows of all-wrong / all-right groups are left out of the forward pass; value and gradient must not move."""
    rewards, lengths = [[1, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]], [2, 5, 3, 6]
    results = []
    for skip in (False, True):
        trainer, inputs = make_trainer(tmp_path / str(skip), rewards, lengths, loss_type=loss_type, skip=skip)
        out = trainer._generate_and_score_completions(inputs)
        assert (out["advantages"] == 0).sum() == 8
        trainer.model.zero_grad()
        loss = trainer._compute_loss(trainer.model, out)
        loss.backward()
        grads = torch.cat([p.grad.flatten() for p in trainer.model.parameters() if p.grad is not None])
        results.append((loss.item(), grads))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-5, abs=1e-7)
    assert torch.allclose(results[0][1], results[1][1], rtol=1e-4, atol=1e-7)
    assert results[0][1].abs().sum() > 0


class StepScriptedStage(ScriptedStage):
    """ScriptedStage with one reward list per training step (the last one repeats)."""

    def __init__(self, tokenizer, per_step, lengths):
        super().__init__(tokenizer, per_step[0], lengths)
        self.per_step = per_step
        self.strategy = types.SimpleNamespace(state_dict=dict)  # what a checkpoint saves of it

    def run(self, problems, step):
        self.rewards = self.per_step[min(step, len(self.per_step) - 1)]
        return super().run(problems, step)


@pytest.mark.parametrize("skip", [False, True])
def test_steps_without_signal_move_no_weight_when_empty_updates_are_skipped(tmp_path, skip):
    """One informative step, then two all-wrong ones: Adam's momentum moves the weights on the empty steps
    unless train.skip_empty_updates is on."""
    from transformers import TrainerCallback

    cfg = tiny_config(tmp_path)
    cfg.rollout.num_generations, cfg.train.prompts_per_step, cfg.train.steps = 4, 1, 3
    cfg.train.save_every, cfg.train.lr = 100, 1e-3
    tok = build_tokenizer()
    model = build_model(tok, TinyModelSpec(32, 64, 1, 2, 96), seed=0)
    start = {k: v.detach().clone() for k, v in model.state_dict().items()}
    weights = []

    class Snapshot(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            weights.append({k: v.detach().clone() for k, v in model.state_dict().items()})

    trainer = ScaffoldGRPOTrainer(
        model=model, tokenizer=tok, args=grpo_args(cfg, tmp_path / "ckpt"),
        problems=ArithmeticTask().problems("train", 1, 4), callbacks=[Snapshot()], skip_empty_updates=skip,
        stage_factory=lambda t: StepScriptedStage(tok, [[1, 0, 0, 0], [0, 0, 0, 0]], [4, 4, 4, 4]))
    trainer.train()

    def moved(a, b):
        return max((a[k] - b[k]).abs().max().item() for k in a)

    assert len(weights) == 3 and moved(weights[0], start) > 1e-4  # the informative step updated
    if skip:
        assert moved(weights[2], weights[0]) == 0.0
        assert [r["update_skipped"] for r in trainer.state.log_history if "update_skipped" in r] == [0.0, 1.0, 1.0]
    else:  # momentum alone: about 0.67 and 0.52 of the first step's size (betas 0.9 / 0.99)
        assert moved(weights[1], weights[0]) > 0.3 * moved(weights[0], start)


def test_rows_are_not_skipped_when_a_moe_aux_loss_is_on(tmp_path):
    """A MoE router's auxiliary loss is computed over the rows in the forward pass: leaving zero-advantage rows out
    would change it, so the skip (exact only for the policy loss) must be off."""
    trainer, inputs = make_trainer(tmp_path, [1, 0, 0, 0], [4] * 4)
    out = trainer._generate_and_score_completions(inputs)
    seen = []
    original = trainer._policy_loss
    trainer._policy_loss = lambda model, sub, capture: (seen.append(sub["advantages"].numel()),
                                                        original(model, sub, capture))[1]
    trainer._compute_loss(trainer.model, dict(out, advantages=torch.tensor([1.0, 0.0, 0.0, 0.0])))
    assert seen == [1] and trainer.row_skip_is_exact()  # dense model: only the informative row
    trainer.aux_loss_enabled = True  # (a dense model cannot compute one: only the rows handed over are checked)
    trainer._policy_loss = lambda model, sub, capture: (seen.append(sub["advantages"].numel()), (torch.zeros(()),
                                                                                                None))[1]
    trainer._compute_loss(trainer.model, dict(out, advantages=torch.tensor([1.0, 0.0, 0.0, 0.0])))
    assert seen == [1, 4] and not trainer.row_skip_is_exact()
