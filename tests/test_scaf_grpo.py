"""Scaf-GRPO and reference injection: trigger, ladder search, placements, advantages, state, integration.

The policy is scripted: a fake generator reads the (problem, hint) back from the prompt tokens and answers
correctly only when the test says so, while the real Sampler, PlainRenderer and rewards do the rest.
"""
import dataclasses
import json
import math

import pytest

from scaffold_rl.data.arithmetic import ArithmeticTask, make_problem
from scaffold_rl.models.embedded import build_tokenizer
from scaffold_rl.rewards.correctness import CorrectnessReward, Score
from scaffold_rl.rollout.generation import Completion, SamplingParams
from scaffold_rl.rollout.prompts import PlainRenderer
from scaffold_rl.rollout.sampler import RolloutContext, RolloutStage, Sampler
from scaffold_rl.strategies.base import build_strategy
from scaffold_rl.strategies.hint_ladder import HintLadder
from scaffold_rl.strategies.reference import ReferenceInjection
from scaffold_rl.strategies.scaf_grpo import HintSchedule, PlateauDetector, ScafGRPO
from scaffold_rl.types import Batch, Group, Problem, Rollout
from tests.conftest import tiny_config

TOK = build_tokenizer()
TASK = ArithmeticTask()


class ScriptedGenerator:
    """Answers with the rest of the reference when `succeeds(problem, hint_name)` says so, else a wrong answer."""

    def __init__(self, problems, succeeds, ladder=HintLadder()):
        self.problems = {p.prompt: p for p in problems}
        self.names = {p.prompt: {h.text: h.name for h in ladder.rungs(p)} | {"": "none"} for p in problems}
        self.succeeds, self.tokens_generated, self.calls = succeeds, 0, []

    def generate(self, prompts, params, seed=None):
        self.calls.append((len(prompts), seed))
        out = []
        for ids in prompts:
            head, _, hint_text = TOK.decode(ids, skip_special_tokens=True).partition("\nS:")
            question, _, abstract = head.partition("\n")  # knowledge/planning hints sit on a line before S:
            problem = self.problems[question + "\nS:"]
            if abstract:
                hint_text = abstract[2:]  # drop the "K:" / "P:" label
            if self.succeeds(problem, self.names[problem.prompt][hint_text]):
                text = problem.reference[len(hint_text):] if not abstract and problem.reference.startswith(
                    hint_text) else problem.reference
            else:
                text = "\nA:-1"
            completion = TOK(text, add_special_tokens=False)["input_ids"] + [TOK.eos_token_id]
            self.tokens_generated += len(completion)
            out.append(Completion(completion, truncated=False))
        return out


def answer_reward(problem, response):
    ok = response.endswith(f"A:{problem.answer}")
    return Score(float(ok), ok)


def make_sampler(problems, succeeds, reward=answer_reward, ladder=HintLadder()):
    gen = ScriptedGenerator(problems, succeeds, ladder)
    return Sampler(gen, PlainRenderer(TOK), reward, TOK, SamplingParams(max_new_tokens=40))


def ctx_for(sampler, step=10, total_steps=100, g=8):
    return RolloutContext(sampler, step, total_steps, g, seed=0, stats={})


def fake_group(problem, n_correct, g=8):
    rollouts = [Rollout(problem, [1, 2], [3], "", reward=float(i < n_correct), correct=i < n_correct)
                for i in range(g)]
    return Group(problem, rollouts)


def scaf(exemption_steps=0, total_steps=100, **kw):
    return ScafGRPO(HintSchedule(total_steps, exemption_steps=exemption_steps), **kw)


def rescued_hint_names(batch):
    return [next((r.hint.name for r in g.rollouts if r.hint is not None), None) for g in batch.groups]


ORDER = [f"{t}{i}" for t in "KPS" for i in range(1, 5)]


def from_level(name):
    return lambda problem, hint: hint != "none" and ORDER.index(hint) >= ORDER.index(name)


# --- trigger ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("schedule,first_active", [
    (dict(exemption_fraction=0.15), 3),                     # 0.15 x 20 = 3 exempt steps: t = 1..3
    (dict(exemption_fraction=0.15, exemption_steps=5), 5),  # the step count takes precedence
    (dict(exemption_steps=0), 0),
])
def test_trigger_fires_only_after_the_exemption(schedule, first_active):
    problems = TASK.problems("train", 3, 1)
    sampler = make_sampler(problems, lambda p, h: h != "none")
    strategy = ScafGRPO(HintSchedule(20, **schedule))
    keys = set()
    for step in range(first_active + 2):
        ctx = ctx_for(sampler, step=step, total_steps=20)
        out = strategy.rescue(Batch([fake_group(problems[0], 0)], step), ctx)
        active = step >= first_active  # 1-based t = step + 1 must exceed the exemption (strict)
        assert ctx.stats["scaf/exempt"] == float(not active)
        assert ctx.stats["scaf/rescued"] == float(active)
        assert (rescued_hint_names(out)[0] is not None) == active
        keys.add(tuple(sorted(ctx.stats)))
    assert len(keys) == 1 and "scaf/level/K1" in keys.pop()  # the same metric keys on exempt and active steps


def test_exemption_counts_rollout_batches_not_optimizer_updates(tmp_path):
    """The official warmup_steps counts generation batches: with 4 updates per batch an exemption of 2 is the first
    8 of TRL's steps; the fraction form takes 15 % of the planned batches (40 updates / 4 = 10 -> 1)."""
    cfg = tiny_config(tmp_path)
    cfg.strategy.name, cfg.train.steps, cfg.train.mini_batches = "scaf_grpo", 40, 4
    assert build_strategy(cfg).schedule.exemption == 1
    cfg.strategy.exemption_steps = 2
    strategy = build_strategy(cfg)
    problems = TASK.problems("train", 3, 1)
    sampler = make_sampler(problems, lambda p, h: h != "none")
    phases = []
    for step in range(0, 16, 4):  # TRL calls the rollout at global_step 0, 4, 8, 12
        ctx = RolloutContext(sampler, step, 40, 8, seed=0, stats={}, updates_per_batch=4)
        strategy.rescue(Batch([fake_group(problems[0], 0)], step), ctx)
        phases.append(ctx.stats["scaf/exempt"])
    assert phases == [1.0, 1.0, 0.0, 0.0]


def test_only_all_wrong_groups_are_touched():
    problems = TASK.problems("train", 3, 3)
    sampler = make_sampler(problems, lambda p, h: h != "none")
    groups = [fake_group(problems[0], 0), fake_group(problems[1], 1), fake_group(problems[2], 8)]
    ctx = ctx_for(sampler)
    out = scaf().rescue(Batch(groups, 10), ctx)
    assert out.groups[1].rollouts == groups[1].rollouts and out.groups[2].rollouts == groups[2].rollouts
    assert [r.correct for r in out.groups[0].rollouts] == [True] + [False] * 7
    assert ctx.stats["scaf/triggered"] == 1 and ctx.stats["scaf/all_wrong_before"] == 1
    assert ctx.stats["scaf/rescue_rate"] == 1.0


# --- ladder search ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("search", ["batched", "sequential"])
@pytest.mark.parametrize("policy,expected", [(from_level("P2"), "P2"),
                                             (lambda p, h: h in ("K3", "S1"), "K3")])
def test_least_successful_level_is_chosen(search, policy, expected):
    problems = TASK.problems("train", 4, 1)
    ctx = ctx_for(make_sampler(problems, policy))
    out = scaf(search=search).rescue(Batch([fake_group(problems[0], 0)], 10), ctx)
    assert rescued_hint_names(out) == [expected]
    assert ctx.stats[f"scaf/level/{expected}"] == 1 and ctx.stats["scaf/level/S1"] == (expected == "S1")


def test_batched_and_sequential_choose_the_same_levels():
    problems = TASK.problems("train", 4, 5)
    starts = dict(zip([p.id for p in problems], ["K1", "K4", "P3", "S2", None]))  # None: never solved

    def policy(problem, hint):
        return starts[problem.id] is not None and from_level(starts[problem.id])(problem, hint)

    chosen, generators = {}, {}
    for search in ("batched", "sequential"):
        sampler = make_sampler(problems, policy)
        ctx = ctx_for(sampler)
        out = scaf(search=search).rescue(Batch([fake_group(p, 0) for p in problems], 10), ctx)
        chosen[search], generators[search] = rescued_hint_names(out), sampler.generator
        assert ctx.stats["scaf/search_tokens"] == sampler.generator.tokens_generated > 0
    assert chosen["batched"] == chosen["sequential"] == ["K1", "K4", "P3", "S2", None]
    batched, sequential = generators["batched"].calls, generators["sequential"].calls
    assert len(batched) == 1 and batched[0][0] == 5 * 11  # every level (S capped at 3 of 4 steps) in one call
    assert len(sequential) == 11 and sum(n for n, _ in sequential) < batched[0][0]  # stops early per problem
    assert len({seed for _, seed in sequential}) == 11  # a distinct sub-seed per generation call


def test_samples_per_level_and_replace_take_several_successes():
    problems = TASK.problems("train", 3, 1)
    ctx = ctx_for(make_sampler(problems, from_level("P1")))
    out = scaf(samples_per_level=3, replace=2).rescue(Batch([fake_group(problems[0], 0)], 10), ctx)
    assert [r.hint.name if r.hint else None for r in out.groups[0].rollouts] == ["P1", "P1"] + [None] * 6
    assert ctx.stats["scaf/search_samples"] == 3 * 4 and len(out.groups[0].rollouts) == 8


def test_replacement_keeps_at_least_one_failure():
    problems = TASK.problems("train", 3, 1)
    ctx = ctx_for(make_sampler(problems, lambda p, h: h != "none"), g=4)
    out = scaf(samples_per_level=8, replace=8).rescue(Batch([fake_group(problems[0], 0, g=4)], 10), ctx)
    assert [r.correct for r in out.groups[0].rollouts] == [True, True, True, False]


# --- placement -------------------------------------------------------------------------------------------------
def rescue_one_with(placement):
    """A level-3 problem solved once the first solution step is shown, under the strict full-chain reward."""
    problem = TASK.problem("train", 3, 0)
    ladder = HintLadder(("solution",))
    sampler = make_sampler([problem], lambda p, h: h != "none", reward=CorrectnessReward("strict"), ladder=ladder)
    ctx = ctx_for(sampler)
    out = scaf(ladder=ladder, placement=placement).rescue(Batch([fake_group(problem, 0)], 10), ctx)
    return problem, out.groups[0].rollouts[0], ctx


def test_prompt_placement_keeps_the_hint_in_the_prompt_and_trains_generated_tokens_only():
    problem, r, _ = rescue_one_with("prompt")
    hint = problem.solution_steps[0]
    assert r.prompt_ids == TOK(problem.prompt + hint)["input_ids"]
    assert r.completion_ids == TOK(problem.reference[len(hint):], add_special_tokens=False)["input_ids"] + [2]
    assert r.hint_token_count == 0 and r.hint.text == hint and not r.hint.in_response
    assert r.reward == 1.0 and r.correct


def test_response_placement_trains_the_hint_tokens_under_the_plain_prompt():
    problem, r, _ = rescue_one_with("response")
    hint_ids = TOK(problem.solution_steps[0], add_special_tokens=False)["input_ids"]
    assert r.prompt_ids == TOK(problem.prompt)["input_ids"]
    assert r.completion_ids[:len(hint_ids)] == hint_ids and r.hint_token_count == len(hint_ids)
    assert TOK.decode(r.completion_ids, skip_special_tokens=True) == problem.reference
    assert r.hint.in_response and r.reward == 1.0


def test_dropped_placement_is_scored_on_what_it_trains_on():
    """The continuation alone, under the plain prompt, is what a dropped-hint row trains on, so it is what the
    reward must judge (the official code recomputes rewards after the replacement). Under the strict chain reward
    the continuation skips the first step: no success, no rescue. Under an answer reward it is a success."""
    problem, r, ctx = rescue_one_with("dropped")
    assert r.hint is None and ctx.stats["scaf/rescued"] == 0  # used to be a rescue trained with reward 1
    problem = TASK.problem("train", 3, 0)
    ladder = HintLadder(("solution",))
    sampler = make_sampler([problem], lambda p, h: h != "none", reward=answer_reward, ladder=ladder)
    ctx = ctx_for(sampler)
    out = scaf(ladder=ladder, placement="dropped").rescue(Batch([fake_group(problem, 0)], 10), ctx)
    r = out.groups[0].rollouts[0]
    assert r.prompt_ids == TOK(problem.prompt)["input_ids"]
    assert TOK.decode(r.completion_ids, skip_special_tokens=True) == problem.reference[len(problem.solution_steps[0]):]
    assert r.text == problem.reference[len(problem.solution_steps[0]):]
    assert r.hint_token_count == 0 and r.hint is not None and r.reward == 1.0


@pytest.mark.slow  # math-verify over 179 rows x the solution ladder: ~28 s on the shared 2 cores
def test_response_placement_on_scaf_data_scores_only_what_the_model_wrote():
    """On the shipped Scaf-GRPO file a solution part may already hold \\boxed{gold}: an empty continuation after
    it must not count as a rescue (it did in 70 of 179 rows)."""
    from scaffold_rl.data.scaf_schema import load_scaf_dataset
    from scaffold_rl.rewards.correctness import CorrectnessReward as Correctness
    from scaffold_rl.rollout.prompts import ChatRenderer

    from scaffold_rl.data.benchmarks import find_data_dir

    problems = load_scaf_dataset(find_data_dir() / "scaf_grpo_hints_deepscaler_val179.jsonl")
    ladder = HintLadder(("solution",))
    reward = Correctness("answer", timeout_s=5.0)
    leaky = [p for p in problems if any(reward(p, h.text).correct for h in ladder.rungs(p))]
    assert len(leaky) >= 60  # the leak exists in the data: some solution part holds the boxed answer

    class EmptyAnswers:  # the model stops at once after whatever it is given
        tokens_generated = 0

        def generate(self, prompts, params, seed=None):
            return [Completion([TOK.eos_token_id], truncated=False) for _ in prompts]

    sampler = Sampler(EmptyAnswers(), ChatRenderer(TOK), reward, TOK, SamplingParams(max_new_tokens=8))
    out = scaf(ladder=ladder, placement="response").rescue(Batch([fake_group(p, 0) for p in leaky[:10]], 10),
                                                            ctx_for(sampler))
    assert all(r.hint is None for g in out.groups for r in g.rollouts)


def test_rescued_group_gets_the_hand_computed_advantages_from_trl(tmp_path):
    """One hinted success in 8 through the real rollout stage and ScaffoldGRPOTrainer: +2.47 and -0.35."""
    from scaffold_rl.models.embedded import TinyModelSpec, build_model
    from scaffold_rl.train.trainer import ScaffoldGRPOTrainer, grpo_args

    cfg = tiny_config(tmp_path)
    cfg.rollout.num_generations, cfg.rollout.max_new_tokens, cfg.train.prompts_per_step = 8, 48, 1
    problems = TASK.problems("train", 2, 2)
    ladder = HintLadder(("solution",))
    sampler = make_sampler(problems, lambda p, h: h != "none", reward=CorrectnessReward("strict"), ladder=ladder)
    strategy = scaf(ladder=ladder, placement="prompt")
    trainer = ScaffoldGRPOTrainer(
        model=build_model(TOK, TinyModelSpec(32, 64, 1, 2, 96), seed=0), tokenizer=TOK,
        args=grpo_args(cfg, tmp_path / "ckpt"), problems=problems,
        stage_factory=lambda t: RolloutStage(sampler, strategy, 8, total_steps=10, seed=0))
    rows = [{"prompt": problems[0].prompt, "problem_index": 0} for _ in range(8)]  # distinct dicts: TRL writes
    out = trainer._generate_and_score_completions(rows)                                # into each row
    std = math.sqrt(0.125)  # unbiased std of one 1 and seven 0s
    assert out["advantages"][0].item() == pytest.approx(0.875 / (std + 1e-4), abs=1e-5)
    assert out["advantages"][0].item() == pytest.approx(2.474, abs=1e-3)
    assert out["advantages"][1:].tolist() == pytest.approx([-0.3535] * 7, abs=1e-3)
    prompt0 = out["prompt_ids"][0][out["prompt_mask"][0].bool()].tolist()
    assert TOK.decode(prompt0, skip_special_tokens=True) == problems[0].prompt + problems[0].solution_steps[0]
    stats = trainer.last_batch.stats
    assert stats["scaf/rescued"] == 1 and stats["zero_adv_frac"] == 0 and stats["hinted_sample_frac"] == 1 / 8


# --- ladder rules ----------------------------------------------------------------------------------------------
def test_embedded_solution_ladder_never_shows_the_full_solution():
    for level in range(1, 6):
        for p in TASK.problems("train", level, 5):
            solution = [h for h in HintLadder().rungs(p) if h.tier == "solution"]
            assert len(solution) == level - 1
            assert all(h.text != "".join(p.solution_steps) for h in solution)
            assert [h.text for h in solution] == ["".join(p.solution_steps[:k]) for k in range(1, level)]
            whole = HintLadder(incremental=False).rungs(p)
            assert [h.name for h in whole] == [f"K{level}", f"P{level}"] + ([f"S{level - 1}"] if level > 1 else [])


def test_scaf_schema_problems_keep_all_four_solution_parts_joined_with_spaces():
    parts = ("subtract 3", "obtain 2x = 6", "divide by 2", "x = 3")
    p = Problem(id="s:1", prompt="2x+3=9, find x", answer="3", source="scaf", hints={"solution": parts})
    assert [h.text for h in HintLadder().rungs(p)][-1] == "subtract 3 obtain 2x = 6 divide by 2 x = 3"


def test_missing_tiers_fall_back_and_are_counted():
    full = TASK.problem("train", 3, 0)
    solution_only = dataclasses.replace(full, hints={"solution": full.hints["solution"], "planning": ("", " ")})
    bare = make_problem(500, [("+", 1), ("-", 2), ("+", 3)])
    bare = dataclasses.replace(bare, id="bare", prompt="Q:x=?\nS:", hints={})
    assert [h.name for h in HintLadder().rungs(solution_only)] == ["S1", "S2"]
    ctx = ctx_for(make_sampler([solution_only, bare], from_level("S2")))
    out = scaf().rescue(Batch([fake_group(solution_only, 0), fake_group(bare, 0)], 10), ctx)
    assert rescued_hint_names(out) == ["S2", None]
    assert ctx.stats["hint_missing_tiers"] == 2 and ctx.stats["scaf/no_hints"] == 1
    assert ctx.stats["scaf/rescue_rate"] == 0.5


# --- plateau trigger and state ---------------------------------------------------------------------------------
def test_plateau_detector_fires_when_the_all_wrong_fraction_stops_falling():
    d = PlateauDetector(window=3, tolerance=0.05)
    falling = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    fired = []
    for x in falling + [0.4, 0.38, 0.4, 0.39]:
        d.observe(x)
        fired.append(d.plateaued())
    # consecutive windows of 3: (.9 .8 .7)->(.6 .5 .4) fall by .3, ..., (.6 .5 .4)->(.4 .38 .4) by .107,
    # (.5 .4 .4)->(.38 .4 .39) by .043 <= .05: plateau at the last step only
    assert fired == [False] * 9 + [True]
    assert len(d.history) == 6  # only two windows are kept (and checkpointed)


def test_plateau_trigger_waits_for_stagnation_and_never_precedes_the_exemption():
    s = HintSchedule(100, exemption_steps=4, trigger="plateau", plateau_window=2, plateau_tolerance=0.0)
    phases = [s.phase(step, frac) for step, frac in enumerate([.9, .8, .7, .6, .5, .4, .3, .3, .3, .3, .9])]
    # windows of 2: at step 8 (.4 .3) -> (.3 .3) still falls by .05; at step 9 (.3 .3) -> (.3 .3) does not
    assert phases == ["exempt"] * 4 + ["waiting"] * 5 + ["active"] * 2  # and it stays on
    assert s.started_at == 9
    flat = HintSchedule(100, exemption_steps=4, trigger="plateau", plateau_window=1, plateau_tolerance=0.0)
    assert [flat.phase(step, 0.5) for step in range(6)] == ["exempt"] * 4 + ["active"] * 2


def test_state_dict_round_trips_through_json_and_resumes_exactly():
    def strategy():
        return ScafGRPO(HintSchedule(100, exemption_steps=0, trigger="plateau", plateau_window=3,
                                     plateau_tolerance=0.01))

    fracs = [1.0, 0.8, 0.6, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    a = strategy()
    for step, f in enumerate(fracs[:4]):
        a.schedule.phase(step, f)
    b = strategy()
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    rest_a = [a.schedule.phase(step, f) for step, f in enumerate(fracs[4:], start=4)]
    rest_b = [b.schedule.phase(step, f) for step, f in enumerate(fracs[4:], start=4)]
    assert rest_a == rest_b and "waiting" in rest_a and rest_a[-1] == "active"
    assert a.state_dict() == b.state_dict() and a.state_dict()["schedule"]["started_at"] is not None
    fresh = strategy()  # without the saved history the decision differs: the state matters
    assert [fresh.schedule.phase(step, f) for step, f in enumerate(fracs[4:], start=4)] != rest_a


# --- reference injection ---------------------------------------------------------------------------------------
def test_reference_strategy_replaces_exactly_replace_failures_with_the_reference():
    problems = TASK.problems("train", 3, 2)
    no_ref = dataclasses.replace(problems[1], id="noref", reference=None)
    sampler = make_sampler(problems, lambda p, h: False, reward=CorrectnessReward("strict"))
    ctx = ctx_for(sampler)
    groups = [fake_group(problems[0], 0), fake_group(no_ref, 0), fake_group(problems[0], 1)]
    out = ReferenceInjection(HintSchedule(100, exemption_steps=0), replace=2).rescue(Batch(groups, 10), ctx)
    g = out.groups[0].rollouts
    assert [r.reward for r in g] == [1.0, 1.0] + [0.0] * 6
    for r in g[:2]:
        assert r.prompt_ids == TOK(problems[0].prompt)["input_ids"]
        assert r.completion_ids == TOK(problems[0].reference, add_special_tokens=False)["input_ids"] + [2]
        assert r.hint is not None and r.correct
    assert out.groups[1].rollouts == groups[1].rollouts and out.groups[2].rollouts == groups[2].rollouts
    assert ctx.stats["scaf/no_reference"] == 1 and ctx.stats["scaf/rescued"] == 1
    assert ctx.stats["scaf/replaced"] == 2 and sampler.generator.calls == []  # no generation at all


# --- construction and integration ------------------------------------------------------------------------------
def test_strategies_are_built_from_the_run_config(tmp_path):
    cfg = tiny_config(tmp_path)  # 2 steps, G = 4
    cfg.strategy.name, cfg.strategy.scaf.hint_tiers, cfg.strategy.scaf.search = "scaf_grpo", ["solution"], "batched"
    cfg.strategy.scaf.hint_placement, cfg.strategy.exemption_fraction = "response", 0.5
    s = build_strategy(cfg)
    assert isinstance(s, ScafGRPO) and s.ladder.tiers == ("solution",) and s.search == "batched"
    assert s.placement == "response" and s.schedule.exemption == 1
    cfg.strategy.name = "reference"
    assert isinstance(build_strategy(cfg), ReferenceInjection)
    cfg.strategy.replace = 4
    with pytest.raises(ValueError, match="num_generations"):
        build_strategy(cfg)


def test_two_step_training_run_with_scaf_grpo_logs_the_rescue_rate(tmp_path):
    from scaffold_rl.train.run import train

    cfg = tiny_config(tmp_path)
    cfg.strategy.name, cfg.strategy.exemption_steps = "scaf_grpo", 0
    cfg.eval.samples, cfg.eval.hint_depths = 0, [0]
    run_dir = train(cfg, echo=lambda *a: None, make_report=False)
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if '"reward"' in x]
    assert [r["step"] for r in records] == [1, 2]
    assert all("scaf/rescue_rate" in r and "scaf/triggered" in r for r in records)


def test_reference_rollout_is_scored_like_the_sampled_rows_of_its_group():
    """A composite reward reads the step (terms that switch on later) and the completion length: the injected
    reference was scored at step 0 with no length, unlike the rest of its group."""
    from scaffold_rl.strategies.reference import reference_rollout

    calls = []

    class ContextReward:
        takes_context = True

        def __call__(self, problem, response, completion_len, step):
            calls.append((response, completion_len, step))
            return Score(1.0, True)

    problem = TASK.problem("train", 3, 0)
    sampler = Sampler(ScriptedGenerator([problem], lambda p, h: True), PlainRenderer(TOK), ContextReward(), TOK,
                      SamplingParams(max_new_tokens=40))
    sampler.step = 17
    r = reference_rollout(problem, ctx_for(sampler, step=17))
    assert calls == [(problem.reference, len(r.completion_ids), 17)]
    assert r.completion_ids[-1] == TOK.eos_token_id and r.hint.scored and r.hint.placement == "response"
