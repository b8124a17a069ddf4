"""The importance-corrected (Guide-GRPO) and off-policy (LUFFY) per-token losses: hand-built tensors, then through
ScaffoldGRPOTrainer against a direct computation from the model (values and gradients)."""
import math

import pytest
import torch

from scaffold_rl.data.arithmetic import ArithmeticTask
from scaffold_rl.models.embedded import TinyModelSpec, build_model, build_tokenizer
from scaffold_rl.train.offpolicy import aggregate, shaped, token_losses
from scaffold_rl.types import Batch, Group, Rollout
from tests.conftest import tiny_config

TOK = build_tokenizer()
TASK = ArithmeticTask()
NAN = float("nan")


# --- pure tensors ----------------------------------------------------------------------------------------------
def test_importance_ratio_is_over_the_behaviour_probability_and_clipped_like_trl():
    """rho = pi_theta / pi_b: with A > 0 the loss is -min(rho, 1.2) A, with A < 0 it is -max(rho, 0.8) A."""
    logps = torch.log(torch.tensor([[0.5, 0.1, 0.9], [0.5, 0.1, 0.9]]))
    behaviour = torch.log(torch.tensor([[0.25, 0.5, 0.6], [0.25, 0.5, 0.6]]))  # rho = 2.0, 0.2, 1.5
    adv = torch.tensor([1.5, -2.0])
    codes = torch.tensor([1, 1])
    loss, stats = token_losses(logps, adv, codes, behaviour, torch.tensor([NAN, NAN]), 0.2, 0.2)
    assert stats["ratio"][0].tolist() == pytest.approx([2.0, 0.2, 1.5], rel=1e-6)
    assert loss[0].tolist() == pytest.approx([-1.2 * 1.5, -0.2 * 1.5, -1.2 * 1.5], rel=1e-6)
    assert loss[1].tolist() == pytest.approx([2.0 * 2.0, 0.8 * 2.0, 1.5 * 2.0], rel=1e-6)
    # clipped where the clip binds: rho > 1.2 with A > 0, rho < 0.8 with A < 0
    assert stats["clipped"].tolist() == [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]


def test_off_policy_loss_is_minus_advantage_times_shaped_probability_never_clipped():
    p = torch.tensor([[0.01, 0.5, 1.0]])
    logps = torch.log(p).requires_grad_(True)
    loss, stats = token_losses(logps, torch.tensor([2.0]), torch.tensor([2]), None, torch.tensor([0.1]), 0.2, 0.2)
    f = [0.01 / 0.11, 0.5 / 0.6, 1.0 / 1.1]
    assert loss[0].tolist() == pytest.approx([-2.0 * x for x in f], rel=1e-6)
    loss.sum().backward()
    # d(-A f(p)) / d log p = -A gamma p / (p + gamma)^2: low-probability tokens weigh more than under f(p) = p
    weight = [0.1 * x / (x + 0.1) ** 2 for x in (0.01, 0.5, 1.0)]
    assert logps.grad[0].tolist() == pytest.approx([-2.0 * w for w in weight], rel=1e-5)
    assert stats["grad_weight"][0].tolist() == pytest.approx(weight, rel=1e-5)
    assert weight[0] > 0.01 * 8 and weight[2] < 1.0 / 10  # 0.083 vs 0.01 unshaped; 0.083 vs 1
    assert max(weight) < 0.25 + 1e-9 and weight[1] == pytest.approx(0.05 / 0.36)


def test_no_shaping_means_the_raw_probability_and_plain_rows_get_nothing():
    p = torch.tensor([[0.3, 0.6], [0.3, 0.6]])
    assert shaped(p, torch.tensor([[NAN], [0.1]])).flatten().tolist() == pytest.approx([0.3, 0.6, 0.75, 0.6 / 0.7])
    loss, _ = token_losses(torch.log(p), torch.tensor([1.0, 1.0]), torch.tensor([2, 0]), None,
                           torch.tensor([NAN, NAN]), 0.2, 0.2)
    assert loss.flatten().tolist() == pytest.approx([-0.3, -0.6, 0.0, 0.0])


def test_kl_term_is_added_to_off_policy_tokens_with_trls_k3_form():
    logps, ref = torch.log(torch.tensor([[0.5]])), torch.log(torch.tensor([[0.25]]))
    loss, _ = token_losses(logps, torch.tensor([1.0]), torch.tensor([2]), None, torch.tensor([NAN]), 0.2, 0.2,
                           ref_logps=ref, beta=0.5)
    kl = 0.5 - math.log(0.5) - 1  # exp(ref - logp) - (ref - logp) - 1
    assert loss.item() == pytest.approx(-0.5 + 0.5 * kl, rel=1e-6)


@pytest.mark.parametrize("loss_type,expected", [
    ("grpo", ((3 * 2.0) / 3 + 0 + 0) / 3),              # mean over rows of per-row token means
    ("bnpo", (3 * 2.0) / 7),                             # over every token of the micro-batch
    ("dr_grpo", (3 * 2.0) / (3 * 10)),                   # over rows x max_completion_length
    ("dapo", (3 * 2.0) / (14 / 1 * 1 / 2)),              # generation-batch tokens per accumulation window
])
def test_aggregation_uses_trls_normaliser_of_the_loss_type(loss_type, expected):
    per_token = torch.full((3, 3), 2.0)
    full = torch.tensor([[1, 1, 1], [1, 1, 0], [1, 1, 0]])
    mine = full * torch.tensor([[1], [0], [0]])
    got = aggregate(per_token, mine, loss_type, full_mask=full, max_completion_length=10,
                    num_items=torch.tensor(14.0), accumulation=1.0, steps_per_generation=2)
    assert got.item() == pytest.approx(expected)
    with pytest.raises(ValueError, match="loss_type"):
        aggregate(per_token, mine, "sapo", full_mask=full, max_completion_length=10, num_items=torch.tensor(14.0),
                  accumulation=1.0)


# --- through the trainer ---------------------------------------------------------------------------------------
HINT = [5, 6, 7]  # token ids standing in for a hint appended to the sampled prompt


class MixedStage:
    """One group: row i has `kinds[i]` ('plain', 'importance' or 'off_policy'), reward rewards[i], length lens[i].
    Importance rows were 'sampled' under prompt + HINT; off-policy rows are forced traces (gamma 0.1)."""

    def __init__(self, rewards, lens, kinds):
        self.rewards, self.lens, self.kinds = rewards, lens, kinds
        self.strategy = None

    def run(self, problems, step):
        p = problems[0]
        prompt = TOK(p.prompt)["input_ids"]
        rows = []
        for i, (r, n, kind) in enumerate(zip(self.rewards, self.lens, self.kinds)):
            ids = TOK(str(i) * (n - 1), add_special_tokens=False)["input_ids"] + [TOK.eos_token_id]
            extra = {"importance": dict(estimator="importance", sampled_prompt_ids=prompt + HINT),
                     "off_policy": dict(estimator="off_policy", shaping_gamma=0.1, hint_token_count=n),
                     "plain": {}}[kind]
            rows.append(Rollout(p, prompt, ids, "", reward=r, correct=r > 0, **extra))
        return Batch([Group(p, rows)], step=step, stats={})


def make(tmp_path, stage, loss_type="dapo", skip=True, beta=0.0):
    from scaffold_rl.train.trainer import ScaffoldGRPOTrainer, grpo_args

    cfg = tiny_config(tmp_path)
    cfg.rollout.num_generations, cfg.train.prompts_per_step, cfg.train.loss_type = len(stage.rewards), 1, loss_type
    cfg.train.beta = beta
    problems = TASK.problems("train", 1, 1)
    trainer = ScaffoldGRPOTrainer(model=build_model(TOK, TinyModelSpec(32, 64, 1, 2, 96), seed=0), tokenizer=TOK,
                                  args=grpo_args(cfg, tmp_path / "ckpt"), problems=problems,
                                  stage_factory=lambda t: stage, skip_zero_advantage_rows=skip)
    trainer.current_gradient_accumulation_steps = 1
    out = trainer._generate_and_score_completions(
        [{"prompt": problems[0].prompt, "problem_index": 0} for _ in stage.rewards])
    return trainer, out


def completion_logps(model, prompt_ids, prompt_mask, out):
    """log pi of each completion token after the given (left-padded) prompts, straight from the model."""
    ids = torch.cat([prompt_ids, out["completion_ids"]], 1)
    mask = torch.cat([prompt_mask, out["completion_mask"]], 1)
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
    logp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    return logp[:, prompt_ids.size(1) - 1:]


def direct_loss(trainer, out, kinds, lens):
    """The dapo loss over the group computed by hand from the model: -A per plain token (ratio 1 at the first
    update), the clipped importance surrogate, -A f(p) per off-policy token; all over the group's token count."""
    model = trainer.model
    logp = completion_logps(model, out["prompt_ids"], out["prompt_mask"], out)
    hinted = torch.tensor([TOK(trainer.problems[0].prompt)["input_ids"] + HINT])
    adv = out["advantages"]
    total = 0.0
    for i, (kind, n) in enumerate(zip(kinds, lens)):
        lp = logp[i, :n]
        if kind == "plain":
            ratio = torch.exp(lp - lp.detach())
            total = total - (ratio * adv[i]).sum()
        elif kind == "importance":
            with torch.no_grad():
                b = completion_logps(model, hinted, torch.ones_like(hinted), {k: v[i:i + 1] for k, v in out.items()
                                                                              if k.startswith("completion")})[0, :n]
            ratio = torch.exp(lp - b)
            total = total - torch.min(ratio * adv[i], ratio.clamp(0.8, 1.2) * adv[i]).sum()
        else:
            p = torch.exp(lp)
            total = total - (adv[i] * p / (p + 0.1)).sum()
    return total / sum(lens)


def loss_and_grad(trainer, out):
    trainer.model.zero_grad()
    loss = trainer._compute_loss(trainer.model, out)
    loss.backward()
    return loss.item(), torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten()
                                   for p in trainer.model.parameters()])


def test_behaviour_logps_are_the_completion_under_the_hinted_prompt(tmp_path):
    kinds, lens = ["importance", "plain", "plain", "plain"], [4, 3, 5, 2]
    trainer, out = make(tmp_path, MixedStage([1, 0, 0, 0], lens, kinds))
    assert out["row_estimator"].tolist() == [1, 0, 0, 0]
    hinted = torch.tensor([TOK(trainer.problems[0].prompt)["input_ids"] + HINT])
    with torch.no_grad():
        direct = completion_logps(trainer.model, hinted, torch.ones_like(hinted),
                                  {k: v[:1] for k, v in out.items() if k.startswith("completion")})[0, :4]
    assert out["behaviour_logps"][0, :4].tolist() == pytest.approx(direct.tolist(), abs=1e-5)
    assert out["behaviour_logps"][1:].abs().max().item() == 0.0
    # the trained prompt is the plain one, and the row counts in TRL's token normaliser
    assert TOK.decode(out["prompt_ids"][0][out["prompt_mask"][0].bool()], skip_special_tokens=True) == \
        trainer.problems[0].prompt
    assert out["num_items_in_batch"].item() == sum(lens)


def test_the_behaviour_forward_counts_as_trained_work(tmp_path):
    """Guide's extra no-grad forward is work of its own: the importance rows' sampled prompt + completion tokens
    count in work["trained"] (train.max_tokens), the plain rows' do not (they are counted by the loss)."""
    kinds, lens = ["importance", "plain", "importance", "plain"], [4, 3, 5, 2]
    trainer, out = make(tmp_path, MixedStage([1, 0, 0, 0], lens, kinds))
    hinted = len(TOK(trainer.problems[0].prompt)["input_ids"]) + len(HINT)
    assert trainer.model.training and trainer.work == {"generated": 0, "trained": 2 * hinted + 4 + 5}
    plain = MixedStage([1, 0, 0, 0], lens, ["plain"] * 4)
    assert make(tmp_path / "plain", plain)[0].work["trained"] == 0
    # a guided group that stayed all wrong: zero advantages, no policy term, so no behaviour forward and no
    # importance rows (its loss is an on-policy row's, the KL term alone)
    trainer, out = make(tmp_path / "wrong", MixedStage([0, 0, 0, 0], lens, ["importance"] * 4))
    assert trainer.work["trained"] == 0 and "row_estimator" not in out and "behaviour_logps" not in out
    # rewards 1, 0.5, 0, 0.5 (mean 0.5): rows 1 and 3 have a zero advantage and leave the importance estimator
    trainer, out = make(tmp_path / "mixed", MixedStage([1, 0.5, 0, 0.5], lens,
                                                       ["importance", "importance", "plain", "importance"]))
    assert out["advantages"][1].item() == 0.0 and out["row_estimator"].tolist() == [1, 0, 0, 0]
    assert trainer.work["trained"] == hinted + 4 and out["behaviour_logps"][1:].abs().max().item() == 0.0


@pytest.mark.parametrize("skip", [False, True])
def test_mixed_group_loss_and_gradient_equal_the_direct_computation(tmp_path, skip):
    kinds, lens = ["off_policy", "importance", "plain", "plain", "plain"], [5, 4, 3, 6, 2]
    rewards = [1, 1, 0, 0, 0.0]
    trainer, out = make(tmp_path, MixedStage(rewards, lens, kinds), skip=skip)
    loss, grad = loss_and_grad(trainer, out)
    trainer.model.zero_grad()
    expected = direct_loss(trainer, out, kinds, lens)
    expected.backward()
    direct = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten()
                        for p in trainer.model.parameters()])
    assert loss == pytest.approx(expected.item(), rel=1e-5)
    assert grad.abs().max().item() > 0 and torch.allclose(grad, direct, rtol=1e-4, atol=1e-7)
    metrics = trainer._metrics["train"]
    assert 0 < metrics["luffy/prob_mean"][-1] < 1 and metrics["guide/ratio_mean"][-1] > 0


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo"])
def test_other_loss_types_aggregate_off_policy_rows_like_trl(tmp_path, loss_type):
    """An off-policy row whose probability is replaced by f(p) = p / (p + gamma): compared with the same batch where
    the row is plain, only that row's term changes, and in exactly the loss type's normalisation."""
    lens, rewards = [4, 3, 5], [1, 0, 0]
    trainer, out = make(tmp_path, MixedStage(rewards, lens, ["off_policy", "plain", "plain"]), loss_type=loss_type)
    loss = trainer._compute_loss(trainer.model, out).item()
    logp = completion_logps(trainer.model, out["prompt_ids"], out["prompt_mask"], out)
    adv = out["advantages"].tolist()
    with torch.no_grad():
        p = torch.exp(logp[0, :4])
        off = -(adv[0] * p / (p + 0.1))
    plain = [-adv[i] * n for i, n in enumerate(lens)]
    if loss_type == "grpo":
        expected = (off.mean().item() + plain[1] / 3 + plain[2] / 5) / 3
    elif loss_type == "bnpo":
        expected = (off.sum().item() + plain[1] + plain[2]) / sum(lens)
    else:
        expected = (off.sum().item() + plain[1] + plain[2]) / (3 * trainer.max_completion_length)
    assert loss == pytest.approx(expected, rel=1e-5)


def test_rows_that_mix_estimators_with_hint_nll_or_lack_their_prompt_are_errors(tmp_path):
    class Bad(MixedStage):
        def run(self, problems, step):
            batch = super().run(problems, step)
            batch.groups[0].rollouts[0].sampled_prompt_ids = None
            return batch

    with pytest.raises(RuntimeError, match="sampled_prompt_ids"):
        make(tmp_path, Bad([1, 0], [3, 3], ["importance", "plain"]))
