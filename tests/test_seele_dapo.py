"""SEELE (item-response fit, multi-round hinted rollout, hint NLL in the trainer) and DAPO dynamic sampling.

Policies are scripted: a fake generator reads (problem, hint) back from the prompt tokens and succeeds on a
set share of the copies of each prompt, while the real Sampler, PlainRenderer and rewards do the rest.
"""
import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from scaffold_rl.data.arithmetic import ArithmeticTask
from scaffold_rl.models.embedded import TinyModelSpec, build_model, build_tokenizer
from scaffold_rl.rewards.correctness import CorrectnessReward
from scaffold_rl.rollout.generation import Completion, SamplingParams
from scaffold_rl.rollout.prompts import PlainRenderer
from scaffold_rl.rollout.sampler import RolloutContext, RolloutStage, Sampler
from scaffold_rl.strategies import irt
from scaffold_rl.strategies.base import build_strategy
from scaffold_rl.strategies.dynamic_sampling import DynamicSampling
from scaffold_rl.strategies.irt import IRTFit, fit_3pl, fit_points, invert_3pl, logistic3, next_rate
from scaffold_rl.strategies.seele import SEELE, cold_start_rate, hint_length
from scaffold_rl.types import Batch, Group, Rollout
from tests.conftest import tiny_config

TOK = build_tokenizer()
TASK = ArithmeticTask()


# --- item-response curve ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("b,k,mu", [(0.1, 8.0, -0.5), (0.0, 30.0, -0.7), (0.25, 4.0, -0.3), (0.0, 12.0, -0.2)])
def test_fit_recovers_known_parameters(b, k, mu):
    rates = np.linspace(0, 1, 11)
    fit = fit_3pl(rates, logistic3(rates, b, k, mu))
    assert fit is not None and fit.rmse < 1e-3
    assert fit.b == pytest.approx(b, abs=0.02) and fit.mu == pytest.approx(mu, abs=0.02)
    assert fit.k == pytest.approx(k, rel=0.05)


def test_fit_of_an_easy_problem_predicts_well_where_its_floor_is_unobservable():
    """Midpoint at p = -0.2: every rate sits on the upper half, so b and k trade off; predictions still hold."""
    rates = np.linspace(0, 1, 11)
    fit = fit_3pl(rates, logistic3(rates, 0.0, 12.0, 0.2))
    assert fit.rmse < 1e-3 and invert_3pl(fit, 0.5) == 0.0


def test_fit_averages_repeated_rates_and_tolerates_noise():
    rng = np.random.default_rng(0)
    rates = np.repeat(np.linspace(0, 1, 6), 4)
    accs = np.clip(logistic3(rates, 0.05, 10.0, -0.5) + rng.normal(0, 0.05, rates.size), 0, 1)
    x, y = fit_points(rates, accs)
    assert x.tolist() == pytest.approx(np.linspace(0, 1, 6).tolist())  # one point per distinct rate
    assert y[2] == pytest.approx(accs[8:12].mean())
    fit = fit_3pl(rates, accs)
    assert fit.mu == pytest.approx(-0.5, abs=0.08) and fit.k == pytest.approx(10.0, rel=0.5)


@pytest.mark.parametrize("target", [0.25, 0.5, 0.75])
def test_inversion_returns_the_rate_that_hits_the_target(target):
    fit = IRTFit(b=0.1, k=9.0, mu=-0.6, rmse=0.0)
    p = invert_3pl(fit, target)
    assert 0 < p < 1 and fit.predict(p) == pytest.approx(target, abs=1e-9)
    assert p == pytest.approx(0.6 - math.log((1 - target) / (target - 0.1)) / 9.0)


def test_inversion_clips_and_handles_the_floor():
    hard = IRTFit(b=0.0, k=5.0, mu=-1.5, rmse=0.0)  # 0.5 reached only at p = 1.5
    easy = IRTFit(b=0.0, k=5.0, mu=0.5, rmse=0.0)  # already 0.92 at p = 0
    floor = IRTFit(b=0.6, k=5.0, mu=-0.5, rmse=0.0)  # never below 0.6
    assert invert_3pl(hard, 0.5) == 1.0 and invert_3pl(easy, 0.5) == 0.0 and invert_3pl(floor, 0.5) == 0.0
    assert invert_3pl(hard, 1.0) is None and invert_3pl(IRTFit(0.0, 0.0, -0.5, 0.0), 0.5) is None


def test_anchors_are_added_only_for_untried_end_rates():
    x, y = fit_points([0.5, 0.5], [0.25, 0.75])
    assert x.tolist() == [0.0, 0.5, 1.0] and y.tolist() == [0.0, 0.5, 1.0]
    x, y = fit_points([0.0, 0.5], [0.5, 0.75])  # rate 0 was tried: its measurement, not the (0, 0) anchor
    assert x.tolist() == [0.0, 0.5, 1.0] and y.tolist() == [0.5, 0.75, 1.0]
    assert fit_points([0.5], [0.25], anchors=False)[0].tolist() == [0.5]
    # one observation plus both anchors already determines a curve through all three points
    fit = fit_3pl([0.6], [0.5])
    assert fit.predict(0.6) == pytest.approx(0.5, abs=0.01) and fit.predict(0.0) < 0.01 and fit.predict(1) > 0.99


def test_failed_fit_keeps_the_previous_rate(monkeypatch):
    assert next_rate([], [], previous=0.7) == (0.7, None, "no_data")
    assert next_rate([1.0], [1.0], previous=0.7) == (0.7, None, "too_few")  # (0,0) + (1,1): 2 points
    rate, fit, status = next_rate([0.6], [0.5], previous=0.9)
    assert status == "fit" and rate == pytest.approx(0.6, abs=0.02)

    def broken(*args, **kwargs):
        raise ValueError("solver failure")

    monkeypatch.setattr(irt, "least_squares", broken)
    assert fit_3pl([0.6], [0.5]) is None
    assert next_rate([0.6], [0.5], previous=0.9) == (0.9, None, "failed")
    monkeypatch.setattr(irt, "fit_3pl", lambda *a, **k: IRTFit(b=0.0, k=float("nan"), mu=0.0, rmse=0.0))
    assert next_rate([0.6], [0.5], previous=0.9) == (0.9, None, "failed")  # a curve that cannot be inverted


# --- scripted policy -------------------------------------------------------------------------------------------
class ScriptedGenerator:
    """Succeeds on round(accuracy(problem, hint_text) x copies) of the identical prompts of a call, the first
    ones; a success completes the reference after the hint, a failure answers -1. Records the hints it saw."""

    def __init__(self, problems, accuracy):
        self.problems = {p.prompt: p for p in problems}
        self.accuracy = accuracy
        self.calls: list[dict[str, str]] = []  # per call: problem id -> hint text
        self.tokens_generated = 0

    def generate(self, prompts, params, seed=None):
        seen, copies, out = {}, {}, []
        texts = [TOK.decode(ids, skip_special_tokens=True) for ids in prompts]
        for text in texts:
            copies[text] = copies.get(text, 0) + 1
        done: dict[str, int] = {}
        for text in texts:
            question, _, hint = text.partition("\nS:")
            problem = self.problems[question + "\nS:"]
            seen[problem.id] = hint
            j = done[text] = done.get(text, -1) + 1
            wins = math.floor(self.accuracy(problem, hint) * copies[text] + 0.5)
            reply = problem.reference[len(hint):] if j < wins else "\nA:-1"
            ids = TOK(reply, add_special_tokens=False)["input_ids"] + [TOK.eos_token_id]
            self.tokens_generated += len(ids)
            out.append(Completion(ids, truncated=False))
        self.calls.append(seen)
        return out


def make_sampler(problems, accuracy):
    gen = ScriptedGenerator(problems, accuracy)
    return Sampler(gen, PlainRenderer(TOK), CorrectnessReward("strict"), TOK, SamplingParams(max_new_tokens=48))


def ctx_for(sampler, g, step=0, draw=None):
    return RolloutContext(sampler, step, 100, g, seed=0, stats={}, draw_problems=draw)


def steps_shown(problem, hint):
    return sum(hint.startswith("".join(problem.solution_steps[:k])) for k in range(1, len(problem.solution_steps) + 1))


def empty_batch(problems, step=0):
    return Batch([Group(p, []) for p in problems], step)


# --- SEELE rounds ----------------------------------------------------------------------------------------------
# accuracy by the number of solution steps shown, one table per problem: the fitted rates move differently
TABLES = [{0: 0.0, 1: 0.0, 2: 0.5, 3: 1.0, 4: 1.0, 5: 1.0}, {0: 0.0, 1: 0.25, 2: 0.75, 3: 1.0, 4: 1.0, 5: 1.0},
          {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.25, 4: 1.0, 5: 1.0}]


def by_table(problems):
    tables = {p.id: t for p, t in zip(problems, TABLES)}
    return lambda p, h: tables[p.id][steps_shown(p, h)]


def test_rounds_use_the_rates_chosen_from_the_fitted_curve():
    problems = TASK.problems("train", 5, 3)
    sampler = make_sampler(problems, by_table(problems))
    strategy = SEELE(rounds=4, samples_per_round=4)
    ctx = ctx_for(sampler, 16)
    out = strategy.rescue(empty_batch(problems), ctx)
    calls = sampler.generator.calls
    assert len(calls) == 4  # one generation call per round, every problem in it
    shown = [[steps_shown(p, call[p.id]) for call in calls] for p in problems]
    assert all(s[0] == 4 for s in shown)  # cold start: (|y| - 1) / |y| of 5 steps
    for p, table, s in zip(problems, TABLES, shown):  # each later round: the inverted fit of the rounds before
        rates, accs, previous = [], [], cold_start_rate(5)
        for rnd in range(4):
            if rnd:
                previous, _, _ = next_rate(rates, accs, previous)
                assert s[rnd] == hint_length(previous, 5)
            rates.append(s[rnd] / 5)
            accs.append(table[s[rnd]])
    assert shown[2] == [4, 2, 3, 3]  # all solved at 4 steps, none at 2, one in four at 3
    group = out.groups[0].rollouts
    assert len(group) == 16 and [r.round for r in group] == [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4
    assert ctx.stats["seele/acc/r1"] == 1.0 and ctx.stats["seele/rate/r1"] == pytest.approx(0.8)
    assert ctx.stats["seele/fits"] == 3 * 4 and ctx.stats["seele/fit_failures"] == 0
    assert ctx.stats["seele/cold_start"] == 3 and ctx.stats["seele/fit_k"] > 0


def test_hint_is_a_solution_prefix_opening_the_trained_response():
    problem = TASK.problem("train", 3, 0)
    sampler = make_sampler([problem], lambda p, h: 1.0)
    out = SEELE(rounds=1, samples_per_round=2).rescue(empty_batch([problem]), ctx_for(sampler, 2))
    r = out.groups[0].rollouts[0]
    hint = "".join(problem.solution_steps[:2])
    hint_ids = TOK(hint, add_special_tokens=False)["input_ids"]
    assert r.prompt_ids == TOK(problem.prompt)["input_ids"]  # the problem alone
    assert r.completion_ids[:len(hint_ids)] == hint_ids and r.hint_token_count == len(hint_ids)
    assert r.hint.in_response and r.hint.rate == pytest.approx(2 / 3) and r.hint_loss == "nll"
    assert r.text == problem.reference and r.correct  # the reward judged hint + generated text
    rl = SEELE(rounds=1, samples_per_round=2, hint_loss="rl").rescue(empty_batch([problem]), ctx_for(sampler, 2))
    assert rl.groups[0].rollouts[0].hint_loss == "rl"


@pytest.mark.parametrize("granularity,size", [("char", None), ("token", None), ("step", 3)])
def test_granularities_cut_the_solution_in_their_unit(granularity, size):
    problem = TASK.problem("train", 3, 0)
    solution = "".join(problem.solution_steps)
    strategy = SEELE(rounds=1, samples_per_round=1, granularity=granularity)
    hint, rate = strategy.hint_for(problem, 0.5, TOK)
    units = size or len(solution)  # the character tokenizer: tokens = characters
    length = hint_length(0.5, units)
    assert rate == pytest.approx(length / units)
    expected = "".join(problem.solution_steps[:length]) if granularity == "step" else solution[:length]
    assert hint.text == expected and hint.level == length


def test_steps_of_a_dataset_solution_come_from_the_splitter():
    problem = dataclasses.replace(TASK.problem("train", 2, 0), id="d:1", solution_steps=(), source="math",
                                  meta={"solution": "First add. Then subtract.\n\nSo the answer is 5."})
    strategy = SEELE(rounds=1, samples_per_round=1)
    assert strategy.prefix.units(problem, TOK) == ("First add.", "Then subtract.", "So the answer is 5.")
    assert strategy.hint_for(problem, 0.5, TOK)[0].text == "First add. Then subtract."  # 2 of 3, joined by ' '


def test_achieved_accuracy_tracks_the_target_after_the_first_epoch():
    """A policy whose true accuracy is a logistic curve of the share of characters shown."""
    problems = TASK.problems("train", 4, 3)
    truth = {p.id: (0.0, k, mu) for p, (k, mu) in zip(problems, [(12, -0.4), (20, -0.7), (8, -0.2)])}
    solution_len = {p.id: len("".join(p.solution_steps)) for p in problems}

    def accuracy(p, hint):
        return float(logistic3(len(hint) / solution_len[p.id], *truth[p.id]))

    strategy = SEELE(rounds=4, samples_per_round=8, granularity="char", target=0.5)
    sampler = make_sampler(problems, accuracy)
    for step in range(3):
        ctx = ctx_for(sampler, 32, step=step)
        strategy.rescue(empty_batch(problems, step), ctx)
    assert all(ctx.stats[f"seele/abs_err/r{k}"] <= 0.0625 for k in range(1, 5))  # within half a sample of 8
    assert ctx.stats["seele/cold_start"] == 0


def test_state_dict_round_trips_and_the_stored_rate_starts_the_next_step():
    problems = TASK.problems("train", 5, 2)
    accuracy = by_table(problems)
    a = SEELE(rounds=2, samples_per_round=4)
    a.rescue(empty_batch(problems), ctx_for(make_sampler(problems, accuracy), 8))
    state = json.loads(json.dumps(a.state_dict()))
    assert set(state["rates"]) == {p.id for p in problems}
    b = SEELE(rounds=2, samples_per_round=4)
    b.load_state_dict(state)
    assert b.state_dict() == a.state_dict()
    firsts = []
    for s in (a, b, SEELE(rounds=2, samples_per_round=4)):
        sampler = make_sampler(problems, accuracy)
        s.rescue(empty_batch(problems, 1), ctx_for(sampler, 8, step=1))
        firsts.append([steps_shown(p, sampler.generator.calls[0][p.id]) for p in problems])
    assert firsts[0] == firsts[1] == [hint_length(state["rates"][p.id], 5) for p in problems]
    assert firsts[2] == [4, 4] != firsts[0]  # without the state: the cold start again


def test_stage_skips_the_plain_group_for_seele():
    problems = TASK.problems("train", 3, 2)
    sampler = make_sampler(problems, lambda p, h: 0.5)
    stage = RolloutStage(sampler, SEELE(rounds=2, samples_per_round=2), 4, total_steps=10, seed=0)
    batch = stage.run(problems, step=0)
    assert len(sampler.generator.calls) == 2  # the two rounds, no unhinted group first
    assert all(h for call in sampler.generator.calls for h in call.values())
    assert [len(g.rollouts) for g in batch.groups] == [4, 4] and batch.stats["hinted_sample_frac"] == 1.0
    assert batch.stats["zero_adv_frac_before"] == batch.stats["zero_adv_frac"] == 0.0
    assert "seele/acc/r2" in batch.stats


def test_seele_from_config_checks_the_group_size(tmp_path):
    cfg = tiny_config(tmp_path)  # num_generations 4
    cfg.strategy.name, cfg.strategy.seele.rounds = "seele", 2
    s = build_strategy(cfg)
    assert isinstance(s, SEELE) and (s.rounds, s.samples_per_round) == (2, 2)
    cfg.strategy.seele.samples_per_round = 8
    with pytest.raises(ValueError, match="num_generations=16"):
        build_strategy(cfg)
    cfg.strategy.seele.samples_per_round, cfg.strategy.seele.rounds = None, 3
    with pytest.raises(ValueError, match="divisible"):
        build_strategy(cfg)
    cfg.strategy.name, cfg.strategy.dapo.max_extra_batches = "dynamic_sampling", 5
    assert build_strategy(cfg).max_extra_batches == 5


# --- trainer: hint tokens get the NLL term, not the policy loss ------------------------------------------------
class HintStage:
    """Fixed rollouts of one problem: row i = hint_lens[i] hint tokens, then gen_lens[i] generated (eos last)."""

    def __init__(self, rewards, hint_lens, gen_lens, hint_loss="nll"):
        self.rewards, self.hint_lens, self.gen_lens, self.hint_loss = rewards, hint_lens, gen_lens, hint_loss
        self.strategy = None

    def run(self, problems, step):
        p = problems[0]
        prompt = TOK(p.prompt)["input_ids"]
        rollouts = []
        for i, (r, h, n) in enumerate(zip(self.rewards, self.hint_lens, self.gen_lens)):
            ids = TOK("7" * h + str(i) * (n - 1), add_special_tokens=False)["input_ids"] + [TOK.eos_token_id]
            rollouts.append(Rollout(p, prompt, ids, "", reward=r, correct=r > 0, hint_token_count=h,
                                    hint_loss=self.hint_loss))
        return Batch([Group(p, rollouts)], step=step, stats={})


def make_trainer(tmp_path, stage, gamma, skip=True, loss_type="dapo"):
    from scaffold_rl.train.trainer import ScaffoldGRPOTrainer, grpo_args

    cfg = tiny_config(tmp_path)
    cfg.rollout.num_generations, cfg.train.prompts_per_step, cfg.train.loss_type = len(stage.rewards), 1, loss_type
    problems = TASK.problems("train", 1, 1)
    trainer = ScaffoldGRPOTrainer(model=build_model(TOK, TinyModelSpec(32, 64, 1, 2, 96), seed=0), tokenizer=TOK,
                                  args=grpo_args(cfg, tmp_path / "ckpt"), problems=problems,
                                  stage_factory=lambda t: stage, skip_zero_advantage_rows=skip,
                                  hint_nll_weight=gamma)
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop; these tests call the loss directly
    out = trainer._generate_and_score_completions(
        [{"prompt": problems[0].prompt, "problem_index": 0} for _ in stage.rewards])
    return trainer, out


def loss_and_grad(trainer, out):
    trainer.model.zero_grad()
    loss = trainer._compute_loss(trainer.model, out)
    loss.backward()
    return loss.item(), torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten()
                                   for p in trainer.model.parameters()])


def direct_hint_nll(model, out, hint_lens):
    """Token-mean NLL of the hint tokens, straight from the model (same padded batch as TRL's forward)."""
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], 1)
    mask = torch.cat([out["prompt_mask"], out["completion_mask"]], 1)
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
    logp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    start = out["prompt_ids"].size(1) - 1  # logp of completion token t sits at prompt_len - 1 + t
    picked = [logp[i, start:start + h] for i, h in enumerate(hint_lens)]
    return -torch.cat(picked).sum() / sum(hint_lens)


def test_hint_tokens_leave_the_policy_loss_and_gamma_zero_gives_no_gradient(tmp_path):
    stage = HintStage([0, 0, 0, 0], [3, 0, 2, 5], [2, 4, 3, 1])  # all-equal rewards: zero advantage
    trainer, out = make_trainer(tmp_path, stage, gamma=0.0)
    assert out["tool_mask"][0, :3].tolist() == [0, 0, 0] and out["tool_mask"][0, 3:5].tolist() == [1, 1]
    assert out["hint_nll_mask"].sum(1).tolist() == [3, 0, 2, 5]
    assert out["num_items_in_batch"].item() == 2 + 4 + 3 + 1  # the policy loss normalises by generated tokens
    loss, grad = loss_and_grad(trainer, out)
    assert loss == 0.0 and grad.abs().max().item() == 0.0


def test_hint_nll_gradient_equals_gamma_times_the_direct_nll_gradient(tmp_path):
    gamma, hint_lens = 0.25, [3, 0, 2, 5]
    trainer, out = make_trainer(tmp_path, HintStage([1, 1, 1, 1], hint_lens, [2, 4, 3, 1]), gamma=gamma)
    assert out["advantages"].abs().max().item() == 0.0  # only the supervised term remains
    loss, grad = loss_and_grad(trainer, out)  # rows 0, 2, 3 carry hint tokens: not skipped
    trainer.model.zero_grad()
    expected = gamma * direct_hint_nll(trainer.model, out, hint_lens)
    expected.backward()
    direct = torch.cat([p.grad.flatten() for p in trainer.model.parameters()])
    assert loss == pytest.approx(expected.item(), rel=1e-5)
    assert grad.abs().max().item() > 0 and torch.allclose(grad, direct, rtol=1e-4, atol=1e-7)
    assert trainer._metrics["train"]["hint_nll"][-1] == pytest.approx(expected.item() / gamma, rel=1e-5)
    assert trainer._metrics["train"]["hint_nll_tokens"][-1] == 10


@pytest.mark.parametrize("loss_type", ["dapo", "grpo"])
def test_policy_loss_covers_generated_tokens_only_and_skipping_stays_exact(tmp_path, loss_type):
    """Mixed rewards: at the first update the ratio is 1, so the policy loss is -A per generated token; hint
    tokens add only gamma x NLL. Row skipping (row 1 and 3 tie with zero advantage) must not change it."""
    gamma, rewards, hint_lens, gen_lens = 0.5, [1, 0.5, 0, 0.5], [2, 3, 0, 0], [3, 4, 2, 5]
    results = []
    for skip in (False, True):
        stage = HintStage(rewards, hint_lens, gen_lens)
        trainer, out = make_trainer(tmp_path / str(skip), stage, gamma=gamma, skip=skip, loss_type=loss_type)
        adv = out["advantages"].tolist()
        assert adv[1] == adv[3] == 0.0 and adv[0] > 0 > adv[2]
        results.append(loss_and_grad(trainer, out))
        nll = direct_hint_nll(trainer.model, out, hint_lens).item()
    if loss_type == "dapo":
        policy = -sum(a * n for a, n in zip(adv, gen_lens)) / sum(gen_lens)
    else:
        policy = -sum(adv) / len(adv)
    assert results[0][0] == pytest.approx(policy + gamma * nll, rel=1e-5)
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-5)
    assert torch.allclose(results[0][1], results[1][1], rtol=1e-4, atol=1e-7)


def test_rl_marked_hint_tokens_stay_in_the_policy_loss(tmp_path):
    trainer, out = make_trainer(tmp_path, HintStage([1, 0], [3, 2], [2, 2], hint_loss="rl"), gamma=0.5)
    assert "hint_nll_mask" not in out and out["num_items_in_batch"].item() == 3 + 2 + 2 + 2
    adv = out["advantages"].tolist()
    loss, _ = loss_and_grad(trainer, out)
    assert loss == pytest.approx(-(adv[0] * 5 + adv[1] * 4) / 9, rel=1e-5)


# --- DAPO dynamic sampling -------------------------------------------------------------------------------------
POOL = TASK.problems("train", 2, 40)


def by_parity(mixed_ids):
    """Problems in `mixed_ids` are solved half the time; the others never."""
    return lambda p, h: 0.5 if p.id in mixed_ids else 0.0


def fake_group(problem, n_correct, g=4):
    return Group(problem, [Rollout(problem, [1], [2], "", reward=float(i < n_correct), correct=i < n_correct)
                           for i in range(g)])


def drawer(pool, exclude, step=0):
    return RolloutStage(None, None, 4, 10, seed=0, problem_pool=pool).problem_drawer(step, exclude)


def test_dynamic_sampling_refills_with_fresh_informative_groups():
    own = POOL[:4]
    groups = [fake_group(own[0], 4), fake_group(own[1], 2), fake_group(own[2], 0), fake_group(own[3], 0)]
    mixed = {p.id for p in POOL[4:]}
    sampler = make_sampler(POOL, by_parity(mixed))
    ctx = ctx_for(sampler, 4, draw=drawer(POOL, own))
    out = DynamicSampling(max_extra_batches=3).rescue(Batch(groups, 0), ctx)
    assert len(out.groups) == 4 and not any(g.zero_advantage for g in out.groups)
    assert out.groups[0] is groups[1]  # the step's own informative group first
    assert not {g.problem.id for g in out.groups[1:]} & {p.id for p in own}  # then fresh problems
    assert len(sampler.generator.calls) == 1 and ctx.stats["dapo/extra_batches"] == 1
    assert ctx.stats["dapo/dropped_all_wrong"] == 2 and ctx.stats["dapo/dropped_all_right"] == 1
    assert ctx.stats["dapo/informative_frac"] == 1.0 and ctx.stats["dapo/filled_zero_adv"] == 0
    assert ctx.stats["dapo/surplus_informative"] == 1  # 4 fresh informative groups, 3 slots


def test_dynamic_sampling_stops_at_its_limit_and_fills_with_own_all_equal_groups():
    own = POOL[:3]
    groups = [fake_group(own[0], 0), fake_group(own[1], 1), fake_group(own[2], 4)]
    sampler = make_sampler(POOL, by_parity(set()))  # nothing is ever solved: every refill is all-wrong
    ctx = ctx_for(sampler, 4, draw=drawer(POOL, own))
    out = DynamicSampling(max_extra_batches=2).rescue(Batch(groups, 0), ctx)
    assert len(sampler.generator.calls) == 2 and ctx.stats["dapo/extra_batches"] == 2
    assert [g.problem.id for g in out.groups] == [own[1].id, own[0].id, own[2].id]
    assert ctx.stats["dapo/filled_zero_adv"] == 2 and ctx.stats["dapo/informative_frac"] == pytest.approx(1 / 3)
    assert ctx.stats["dapo/dropped"] == 6  # the 6 fresh all-wrong groups
    none = ctx_for(make_sampler(POOL, by_parity(set())), 4)  # no problem source: nothing to refill from
    out = DynamicSampling(max_extra_batches=2).rescue(Batch(groups, 0), none)
    assert none.stats["dapo/no_problem_source"] == 1 and none.sampler.generator.calls == []
    assert len(out.groups) == 3


def test_problem_drawer_is_deterministic_and_avoids_the_steps_own_problems():
    own = POOL[:30]
    a, b, c = drawer(POOL, own), drawer(POOL, own), drawer(POOL, own, step=1)
    first = a(5)
    assert [p.id for p in first] == [p.id for p in b(5)] and [p.id for p in first] != [p.id for p in c(5)]
    rest = a(20)  # only 10 pool problems are left unused in this step
    ids = [p.id for p in first + rest]
    assert len(rest) == 5 and len(set(ids)) == 10 and not set(ids) & {p.id for p in own}


def test_stage_with_dynamic_sampling_draws_from_its_pool():
    own = POOL[:2]
    sampler = make_sampler(POOL, by_parity({p.id for p in POOL[10:]}))
    stage = RolloutStage(sampler, DynamicSampling(2), 4, total_steps=10, seed=3, problem_pool=POOL)
    batch = stage.run(own, step=0)
    assert len(batch.groups) == 2 and batch.stats["zero_adv_frac_before"] == 1.0
    assert batch.stats["zero_adv_frac"] == 0.0 and batch.stats["dapo/extra_batches"] >= 1


# --- end to end ------------------------------------------------------------------------------------------------
def test_two_step_training_run_with_seele_logs_rounds_and_hint_nll(tmp_path):
    from scaffold_rl.train.run import train

    cfg = tiny_config(tmp_path)
    cfg.strategy.name, cfg.strategy.seele.rounds, cfg.strategy.seele.granularity = "seele", 2, "char"
    cfg.train.hint_nll_weight, cfg.train.scale_rewards = 0.1, "none"
    cfg.eval.samples, cfg.eval.hint_depths = 0, [0]
    run_dir = train(cfg, echo=lambda *a: None, make_report=False)
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if '"reward"' in x]
    assert [r["step"] for r in records] == [1, 2]
    assert all("seele/acc/r2" in r and "seele/rate_mean" in r for r in records)
    assert any(r.get("hint_nll", 0) > 0 for r in records)
    state = json.loads(next((run_dir / "checkpoints").glob("checkpoint-*/scaffold_state.json")).read_text())
    assert state["strategy"]["rates"]


def test_fit_memory_refits_on_the_previous_visit_too_and_is_checkpointed(monkeypatch):
    import scaffold_rl.strategies.seele as seele_module

    problems = TASK.problems("train", 5, 2)
    accuracy = by_table(problems)
    seen_sizes = []
    real_next_rate = seele_module.next_rate

    def recording(rates, accs, previous, target):
        seen_sizes.append(len(rates))
        return real_next_rate(rates, accs, previous, target)

    monkeypatch.setattr(seele_module, "next_rate", recording)
    s = SEELE(rounds=2, samples_per_round=4, fit_memory=True)
    s.rescue(empty_batch(problems), ctx_for(make_sampler(problems, accuracy), 8))
    assert seen_sizes == [1, 1, 2, 2]  # first visit: this step's points only (round 2, then the final fit)
    assert {p.id: len(s.memory[p.id][0]) for p in problems} == {p.id: 2 for p in problems}
    seen_sizes.clear()
    s.rescue(empty_batch(problems, 1), ctx_for(make_sampler(problems, accuracy), 8, step=1))
    assert seen_sizes == [3, 3, 4, 4]  # the previous visit's two points come first
    restored = SEELE(rounds=2, samples_per_round=4, fit_memory=True)
    restored.load_state_dict(json.loads(json.dumps(s.state_dict())))
    assert restored.state_dict() == s.state_dict()
    without = SEELE(rounds=2, samples_per_round=4, fit_memory=False)
    without.rescue(empty_batch(problems), ctx_for(make_sampler(problems, accuracy), 8))
    assert without.memory == {}
