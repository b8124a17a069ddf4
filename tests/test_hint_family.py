"""The hint-family strategies (guide, questa, pope, luffy, self_hint) on hand-built groups: which rows are replaced
or added, under which prompt, with which estimator; their advantages through TRL; a 2-step run of each."""
import json
import math

import pytest
import torch

from scaffold_rl.data.arithmetic import ArithmeticTask
from scaffold_rl.models.embedded import TinyModelSpec, build_model, build_tokenizer
from scaffold_rl.rewards.correctness import CorrectnessReward, Score
from scaffold_rl.rollout.generation import Completion, SamplingParams
from scaffold_rl.rollout.prompts import PlainRenderer
from scaffold_rl.rollout.sampler import RolloutContext, RolloutStage, Sampler
from scaffold_rl.strategies.guide import GuideGRPO
from scaffold_rl.strategies.luffy import LUFFY
from scaffold_rl.strategies.pope import POPE
from scaffold_rl.strategies.questa import QuestA
from scaffold_rl.strategies.seele import solution_text
from scaffold_rl.strategies.self_hint import SelfHint, leaks_answer, parse_levels
from scaffold_rl.types import Batch, Group, Problem, Rollout
from tests.conftest import tiny_config

TOK = build_tokenizer()
TASK = ArithmeticTask()
STRICT = CorrectnessReward("strict")
G = 8


class ScriptedPolicy:
    """Reads the prompt the way the embedded renderer writes it (question line, optional K:/P: hint lines, 'S:' and
    a solution prefix) and answers with the rest of the reference when `succeeds(problem, lines, prefix, index)`
    says so, else with a wrong answer. A hint-writing request (it contains 'Problem:') gets `writer(problem, n)`,
    n = how many requests that problem has had."""

    def __init__(self, problems, succeeds, writer=None):
        self.by_question = {p.prompt.split("\n")[0]: p for p in problems}
        self.succeeds, self.writer = succeeds, writer
        self.calls, self.tokens_generated, self.requests = [], 0, {}

    def generate(self, prompts, params, seed=None):
        self.calls.append(len(prompts))
        out = []
        for index, ids in enumerate(prompts):
            text = TOK.decode(ids, skip_special_tokens=True)
            if "Problem:\n" in text:
                problem = next(p for q, p in self.by_question.items() if q in text)
                self.requests[problem.id] = self.requests.get(problem.id, 0) + 1
                reply = self.writer(problem, self.requests[problem.id])
            else:
                question, _, rest = text.partition("\n")
                problem = self.by_question[question]
                lines, _, prefix = rest.rpartition("S:")
                if self.succeeds(problem, lines, prefix, index):
                    reply = problem.reference[len(prefix):] if problem.reference.startswith(prefix) else \
                        problem.reference
                else:
                    reply = "\nA:-1"
            ids = TOK(reply, add_special_tokens=False)["input_ids"] + [TOK.eos_token_id]
            self.tokens_generated += len(ids)
            out.append(Completion(ids, truncated=False))
        return out


def answer_reward(problem, response):
    ok = response.endswith(f"A:{problem.answer}")
    return Score(float(ok), ok)


def sampler_for(problems, succeeds, reward=STRICT, writer=None):
    return Sampler(ScriptedPolicy(problems, succeeds, writer), PlainRenderer(TOK), reward, TOK,
                   SamplingParams(max_new_tokens=40))


def ctx_for(sampler, step=0):
    return RolloutContext(sampler, step, 100, G, seed=0, stats={})


def group(problem, n_correct):
    rows = [Rollout(problem, TOK(problem.prompt)["input_ids"], [3], "", reward=float(i < n_correct),
                    correct=i < n_correct) for i in range(G)]
    return Group(problem, rows)


def empty(problems, step=0):
    return Batch([Group(p, []) for p in problems], step)


def ids(text):
    return TOK(text)["input_ids"]


def trainer_for(tmp_path, problems, sampler, strategy, scale="group"):
    from scaffold_rl.train.trainer import ScaffoldGRPOTrainer, grpo_args

    cfg = tiny_config(tmp_path)
    cfg.rollout.num_generations, cfg.rollout.max_new_tokens, cfg.train.prompts_per_step = G, 48, 1
    cfg.train.scale_rewards = scale
    trainer = ScaffoldGRPOTrainer(
        model=build_model(TOK, TinyModelSpec(32, 64, 1, 2, 96), seed=0), tokenizer=TOK,
        args=grpo_args(cfg, tmp_path / "ckpt"), problems=problems,
        stage_factory=lambda t: RolloutStage(sampler, strategy, G, total_steps=10, seed=0))
    out = trainer._generate_and_score_completions([{"prompt": problems[0].prompt, "problem_index": 0}
                                                   for _ in range(G)])
    return trainer, out


ONE_IN_EIGHT = (0.875 / (math.sqrt(0.125) + 1e-4), -0.125 / (math.sqrt(0.125) + 1e-4))  # +2.474, -0.354


# --- Guide-GRPO ------------------------------------------------------------------------------------------------
def test_guide_regenerates_only_all_wrong_groups_and_trains_them_under_the_plain_prompt():
    problems = TASK.problems("train", 3, 2)
    sampler = sampler_for(problems, lambda p, lines, prefix, i: lines.startswith("K:"))
    before = [group(problems[0], 0), group(problems[1], 2)]
    ctx = ctx_for(sampler)
    out = GuideGRPO().rescue(Batch(list(before), 0), ctx)
    assert out.groups[1] is before[1]  # a group with a success is never touched
    rows = out.groups[0].rollouts
    p = problems[0]
    knowledge = "".join(p.hints["knowledge"])
    assert len(rows) == G and sampler.generator.calls == [G]
    for r in rows:
        assert r.estimator == "importance" and r.hint.placement == "dropped" and r.hint.tier == "knowledge"
        assert r.prompt_ids == ids(p.prompt)  # trained as the unhinted policy pi(. | q)
        assert r.sampled_prompt_ids == ids(p.prompt.replace("S:", f"K:{knowledge}\nS:"))  # sampled under q + h
        assert r.text == p.reference and r.correct and r.hint_token_count == 0
    assert ctx.stats["scaf/triggered"] == 1 and ctx.stats["scaf/rescued"] == 1
    assert ctx.stats["scaf/replaced"] == G and ctx.stats["guide/tier/knowledge"] == 1


def test_guide_solution_hint_is_judged_on_the_continuation_the_row_trains():
    """Under the plain prompt the row is the continuation alone: the strict chain reward refuses it (the hinted
    steps are missing), the answer reward accepts it."""
    p = TASK.problem("train", 3, 0)
    guide = GuideGRPO(hint_tiers=("solution",))
    for reward, correct in ((STRICT, False), (answer_reward, True)):
        sampler = sampler_for([p], lambda *a: True, reward=reward)
        rows = guide.rescue(Batch([group(p, 0)], 0), ctx_for(sampler)).groups[0].rollouts
        hint = "".join(p.solution_steps[:-1])  # the whole solution tier, last step withheld
        assert all(r.correct == correct for r in rows)
        assert rows[0].text == p.reference[len(hint):] and rows[0].prompt_ids == ids(p.prompt)


def test_guided_group_gets_trls_advantages_and_its_hinted_behaviour_logps(tmp_path):
    problems = TASK.problems("train", 3, 1)
    sampler = sampler_for(problems, lambda p, lines, prefix, i: bool(lines) and i % G == 0)  # 1 success in 8
    trainer, out = trainer_for(tmp_path, problems, sampler, GuideGRPO())
    assert out["advantages"][0].item() == pytest.approx(ONE_IN_EIGHT[0], abs=1e-5)
    assert out["advantages"][1:].tolist() == pytest.approx([ONE_IN_EIGHT[1]] * 7, abs=1e-5)
    assert out["row_estimator"].tolist() == [1] * G
    p = problems[0]
    hinted = torch.tensor([ids(p.prompt.replace("S:", "K:" + "".join(p.hints["knowledge"]) + "\nS:"))])
    n = int(out["completion_mask"][0].sum())
    full = torch.cat([hinted, out["completion_ids"][:1, :n]], 1)
    with torch.no_grad():
        logp = torch.log_softmax(trainer.model(input_ids=full).logits[0, :-1].float(), -1)
    direct = logp.gather(-1, full[0, 1:, None]).squeeze(-1)[-n:]
    assert out["behaviour_logps"][0, :n].tolist() == pytest.approx(direct.tolist(), abs=1e-5)
    trained_prompt = out["prompt_ids"][0][out["prompt_mask"][0].bool()].tolist()
    assert trained_prompt == ids(p.prompt)


# --- QuestA ----------------------------------------------------------------------------------------------------
def test_questa_curriculum_shows_the_first_p_share_of_the_solution_characters():
    q = QuestA(total_batches=10, prefix_fractions=(0.5, 0.25))
    assert q.stage_batches == 5 and [q.stage(b) for b in (0, 4, 5, 9, 50)] == [0, 0, 1, 1, 1]
    p = TASK.problem("train", 3, 0)
    y = solution_text(p)
    assert len(y) == 30
    assert q.hint_for(p, 0.5, TOK).text == y[:15] and q.hint_for(p, 0.5, TOK).placement == "prompt"
    assert q.hint_for(p, 0.25, TOK) is None  # 7 characters: under the paper's 10-character floor
    assert QuestA(10, min_prefix_chars=0).hint_for(p, 0.25, TOK).text == y[:7]


@pytest.mark.parametrize("remember", [True, False])
def test_questa_hard_problems_are_regenerated_with_the_prefix_and_remembered(remember):
    hard, easy = TASK.problem("train", 3, 0), TASK.problem("train", 2, 0)
    sampler = sampler_for([hard, easy], lambda p, lines, prefix, i: bool(prefix) or p is easy)
    q = QuestA(total_batches=10, remember_hard=remember)
    ctx = ctx_for(sampler)
    out = q.rescue(empty([hard, easy]), ctx)
    assert sampler.generator.calls == [2 * G, G]  # both plain, then the all-wrong one with its prefix
    y = solution_text(hard)[:15]
    rows = out.groups[0].rollouts
    assert all(r.prompt_ids == ids(hard.prompt + y) and r.correct and r.hint.placement == "prompt" for r in rows)
    assert TOK.decode(rows[0].completion_ids, skip_special_tokens=True) == hard.reference[len(y):]
    assert out.groups[1].rollouts[0].hint is None and ctx.stats["questa/found_hard"] == 1
    sampler.generator.calls.clear()
    ctx = ctx_for(sampler, step=1)
    out = q.rescue(empty([hard, easy]), ctx)
    if remember:  # one call: the known-hard problem with its prefix, the other plain
        assert sampler.generator.calls == [2 * G] and ctx.stats["questa/known_hard"] == 1
    else:
        assert sampler.generator.calls == [2 * G, G] and ctx.stats["questa/known_hard"] == 0
    assert all(r.hint is not None for r in out.groups[0].rollouts)
    assert q.state_dict() == ({"hard": {hard.id: True}} if remember else {"hard": {}})


# --- POPE ------------------------------------------------------------------------------------------------------
def test_pope_tries_prefixes_up_to_a_quarter_shortest_first():
    p = TASK.problem("train", 3, 0)  # a 30-character solution
    assert POPE().candidate_lengths(p, TOK) == [1, 3, 5, 7]  # floor(30 x k / 16), k = 1..4
    assert POPE(levels=2, granularity="step").candidate_lengths(p, TOK) == []  # 1/4 of 3 steps rounds to 0


def test_pope_keeps_the_shortest_sufficient_prefix_and_guides_the_whole_group_with_it():
    p = TASK.problem("train", 3, 0)
    sampler = sampler_for([p], lambda q, lines, prefix, i: len(prefix) >= 5)
    pope = POPE()
    ctx = ctx_for(sampler)
    rows = pope.rescue(Batch([group(p, 0)], 0), ctx).groups[0].rollouts
    assert sampler.generator.calls == [1, 1, 1, G]  # lengths 1, 3, 5 searched, then the group
    prefix = solution_text(p)[:5]
    assert pope.lengths == {p.id: 5} and ctx.stats["pope/searched"] == 1 and ctx.stats["pope/search_samples"] == 3
    assert all(r.prompt_ids == ids(p.prompt + prefix) and r.correct and r.estimator == "on_policy" for r in rows)
    assert TOK.decode(rows[0].completion_ids, skip_special_tokens=True) == p.reference[5:]  # prefix never trained
    sampler.generator.calls.clear()
    pope.rescue(Batch([group(p, 0)], 1), ctx_for(sampler, 1))
    assert sampler.generator.calls == [G]  # found once, reused


def test_pope_falls_back_to_the_longest_prefix_when_none_suffices():
    p = TASK.problem("train", 3, 0)
    sampler = sampler_for([p], lambda *a: False)
    pope = POPE()
    ctx = ctx_for(sampler)
    rows = pope.rescue(Batch([group(p, 0)], 0), ctx).groups[0].rollouts
    assert pope.lengths == {p.id: 7} and ctx.stats["pope/no_sufficient_prefix"] == 1
    assert rows[0].prompt_ids == ids(p.prompt + solution_text(p)[:7]) and ctx.stats["scaf/rescued"] == 0


# --- LUFFY -----------------------------------------------------------------------------------------------------
def test_luffy_puts_one_shaped_reference_trace_in_every_group():
    p = TASK.problem("train", 3, 0)
    bare = Problem(id="bare", prompt=TASK.problem("train", 2, 0).prompt, answer="1")  # no reference
    sampler = sampler_for([p, bare], lambda *a: False, reward=answer_reward)
    ctx = ctx_for(sampler)
    out = LUFFY().rescue(empty([p, bare]), ctx)
    assert sampler.generator.calls == [G - 1, G]  # 7 on-policy samples beside the trace; 8 where there is none
    trace, *on = out.groups[0].rollouts
    assert trace.estimator == "off_policy" and trace.shaping_gamma == 0.1 and trace.correct
    assert trace.completion_ids == TOK(p.reference, add_special_tokens=False)["input_ids"] + [TOK.eos_token_id]
    assert trace.hint_token_count == len(trace.completion_ids) and trace.prompt_ids == ids(p.prompt)
    assert len(on) == G - 1 and all(r.estimator == "on_policy" and not r.correct for r in on)
    assert [r.estimator for r in out.groups[1].rollouts] == ["on_policy"] * G
    assert ctx.stats["luffy/off_policy_rows"] == 1 and ctx.stats["luffy/no_reference"] == 1


@pytest.mark.parametrize("scale,expected", [("group", ONE_IN_EIGHT), ("none", (0.875, -0.125))])
def test_luffy_trace_gets_the_group_advantage_of_the_union(tmp_path, scale, expected):
    problems = TASK.problems("train", 3, 1)
    sampler = sampler_for(problems, lambda *a: False)
    trainer, out = trainer_for(tmp_path, problems, sampler, LUFFY(), scale=scale)
    assert out["advantages"][0].item() == pytest.approx(expected[0], abs=1e-5)
    assert out["advantages"][1:].tolist() == pytest.approx([expected[1]] * 7, abs=1e-5)
    assert out["row_estimator"].tolist() == [2] + [0] * 7
    assert out["row_gamma"][0].item() == pytest.approx(0.1) and torch.isnan(out["row_gamma"][1:]).all()


# --- self-written hints ----------------------------------------------------------------------------------------
def test_json_hint_levels_are_read_from_fenced_bare_or_broken_json():
    reply = 'Sure!\n```json\n{"level_1": "idea", "level_2": "method", "level_3": "steps"}\n```'
    assert parse_levels(reply, 3) == ["idea", "method", "steps"]
    assert parse_levels('{"level_1": " a ", "level_2": "b"} trailing', 2) == ["a", "b"]
    assert parse_levels('{"level_1": "a", "level_2": "b",}', 2) == ["a", "b"]  # trailing comma: read by key
    assert parse_levels('{"level_1": "a"}', 2) is None and parse_levels("no json", 1) is None
    assert parse_levels('{"level_1": "", "level_2": "b"}', 2) is None


def test_answer_leaks_match_whole_numbers_only():
    assert leaks_answer("so the total is 559.", "559") and not leaks_answer("add 1559 first", "559")
    assert not leaks_answer("anything", None)


def test_self_hints_are_written_retried_and_tried_level_by_level():
    p = TASK.problem("train", 3, 0)

    def writer(problem, n):  # unreadable first, then three levels
        return "garbage" if n == 1 else '{"level_1": "one", "level_2": "two", "level_3": "three"}'

    sampler = sampler_for([p], lambda q, lines, prefix, i: lines == "P:two\n", writer=writer)
    hint = SelfHint()
    ctx = ctx_for(sampler)
    rows = hint.rescue(Batch([group(p, 0)], 0), ctx).groups[0].rollouts
    # two writing attempts, then level 1 (all wrong), level 2 (solved): level 3 never sampled
    assert sampler.generator.calls == [1, 1, G, G]
    assert all(r.correct and r.hint.text == "two" and r.prompt_ids == ids(p.prompt.replace("S:", "P:two\nS:"))
               for r in rows)
    stats = ctx.stats
    assert stats["self_hint/parse_failures"] == 1 and stats["self_hint/written"] == 1
    assert stats["self_hint/level/2"] == 1 and stats["scaf/rescued"] == 1 and stats["self_hint/write_tokens"] > 0
    assert hint.state_dict() == {}  # SAGE writes fresh hints every time


def test_reused_self_hints_are_written_once_and_checkpointed():
    p = TASK.problem("train", 3, 0)
    sampler = sampler_for([p], lambda *a: False, writer=lambda problem, n: "think of the middle step")
    hint = SelfHint(format="text", reuse=True)
    hint.rescue(Batch([group(p, 0)], 0), ctx_for(sampler))
    hint.rescue(Batch([group(p, 0)], 1), ctx_for(sampler, 1))
    assert sampler.generator.requests == {p.id: 1}
    state = json.loads(json.dumps(hint.state_dict()))
    assert state == {"cache": {p.id: ["think of the middle step"]}}
    fresh = SelfHint(format="text", reuse=True)
    fresh.load_state_dict(state)
    assert fresh.cache == hint.cache


def test_self_hints_on_a_real_chat_model_use_its_template_and_run_through_the_stage(tmp_path):
    """A tiny random Qwen2 with a chat template: the request is a system + user conversation; its replies are noise,
    so JSON hints fail to parse (counted) and text hints are used as they come."""
    from scaffold_rl.data.benchmarks import load_benchmark
    from scaffold_rl.models.loading import load_hf_model
    from scaffold_rl.rollout.generation import TransformersGenerator
    from scaffold_rl.rollout.prompts import ChatRenderer
    from tests.test_real_models import save_tiny

    model, tok = load_hf_model(save_tiny("qwen2", tmp_path / "q"), echo=lambda *a: None)
    problem = load_benchmark("gsm8k", limit=1)[0]
    request = tok.decode(SelfHint().request_ids(tok, problem, "Add them."), skip_special_tokens=False)
    assert request.startswith("<|im_start|>system\nYou are a tutor") and problem.prompt in request
    assert request.endswith("Solution:\nAdd them.<|im_end|>\n<|im_start|>assistant\n")
    reward = CorrectnessReward("answer", timeout_s=5.0)
    sampler = Sampler(TransformersGenerator(model, tok, batch_size=16), ChatRenderer(tok), reward, tok,
                      SamplingParams(max_new_tokens=8))
    solved = Problem(id=problem.id, prompt=problem.prompt, answer=problem.answer, meta={"solution": "Add them."})
    bad = Group(solved, [Rollout(solved, [1], [2], "", reward=0.0, correct=False) for _ in range(4)])
    ctx = RolloutContext(sampler, 0, 10, 4, seed=0, stats={})
    SelfHint(retries=2).rescue(Batch([bad], 0), ctx)
    assert ctx.stats["self_hint/parse_failures"] == 2 and ctx.stats["scaf/replaced"] == 0
    ctx = RolloutContext(sampler, 0, 10, 4, seed=0, stats={})
    out = SelfHint(format="text").rescue(Batch([bad], 0), ctx)
    rows = out.groups[0].rollouts
    if ctx.stats["self_hint/written"]:  # a reply of only special tokens would be empty: then nothing is tried
        assert ctx.stats["scaf/replaced"] == 4 and rows[0].hint.tier == "planning"
        assert "Planning Hints:" in tok.decode(rows[0].prompt_ids)


# --- construction and 2-step runs ------------------------------------------------------------------------------
def test_strategies_are_built_from_their_config_sections(tmp_path):
    from scaffold_rl.strategies.base import build_strategy

    cfg = tiny_config(tmp_path)
    cfg.strategy.name, cfg.strategy.guide.hint_tiers, cfg.strategy.guide.exemption = "guide", ["planning"], True
    s = build_strategy(cfg)
    assert isinstance(s, GuideGRPO) and s.ladder.tiers == ("planning",) and s.schedule is not None
    cfg.strategy.name, cfg.strategy.pope.levels, cfg.strategy.pope.granularity = "pope", 2, "step"
    s = build_strategy(cfg)
    assert isinstance(s, POPE) and s.levels == 2 and s.prefix.granularity == "step" and s.schedule is None
    cfg.strategy.name, cfg.strategy.questa.prefix_fractions = "questa", [0.5, 0.3, 0.1]
    assert build_strategy(cfg).stage_batches == 1  # 2 planned batches over 3 stages
    cfg.strategy.name, cfg.strategy.luffy.shaping_gamma = "luffy", None
    assert build_strategy(cfg).gamma is None
    cfg.strategy.luffy.off_policy_traces = 4
    with pytest.raises(ValueError, match="num_generations"):
        build_strategy(cfg)
    cfg.strategy.name, cfg.strategy.self_hint.format = "self_hint", "text"
    assert build_strategy(cfg).levels == 1


HINT_FAMILY_ARMS = ["guide", "guide_solution", "questa", "questa_steps", "pope", "luffy", "luffy_no_shaping",
                    "self_hint", "sage", "nurl"]


@pytest.mark.parametrize("arm", HINT_FAMILY_ARMS)
def test_hint_family_arm_presets_load_and_build_their_strategy(arm):
    from scaffold_rl.arms import PRESETS
    from scaffold_rl.config import RunConfig
    from scaffold_rl.configio import load_config
    from scaffold_rl.startup import check_config
    from scaffold_rl.strategies.base import build_strategy

    cfg = load_config(RunConfig, None, PRESETS[arm])
    check_config(cfg)
    strategy = build_strategy(cfg)
    assert strategy.name == cfg.strategy.name == strategy.config_section


def test_hint_family_knobs_are_typed_subsections_loaded_from_yaml(tmp_path):
    from scaffold_rl.config import RunConfig
    from scaffold_rl.configio import ConfigError, load_config
    from scaffold_rl.startup import check_config
    from scaffold_rl.strategies.base import build_strategy

    (tmp_path / "c.yaml").write_text("strategy:\n  name: questa\n  questa:\n    prefix_fractions: [0.6, 0.2]\n"
                                     "    granularity: step\n  luffy:\n    shaping_gamma: 0.05\n")
    cfg = load_config(RunConfig, tmp_path / "c.yaml", ["strategy.pope.levels=2"])
    q = build_strategy(cfg)
    assert (q.fractions, q.prefix.granularity) == ((0.6, 0.2), "step")
    assert cfg.strategy.luffy.shaping_gamma == 0.05 and cfg.strategy.pope.levels == 2
    with pytest.raises(ConfigError, match=r"unknown key 'strategy\.self_hint\.level'; did you mean "
                                          r"'strategy\.self_hint\.levels'"):
        load_config(RunConfig, None, ["strategy.self_hint.level=2"])
    with pytest.raises(ConfigError, match="unknown key 'strategy.prefix_fractions'"):  # no flat form
        load_config(RunConfig, None, ["strategy.prefix_fractions=[0.5]"])
    (tmp_path / "bad.yaml").write_text("strategy:\n  name: pope\n  pope:\n    max_prefix_fraction: 1.5\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*max_prefix_fraction must be in \(0, 1\]"):
        load_config(RunConfig, tmp_path / "bad.yaml", [])
    # a built-in strategy takes no plugin options: the error names its own subsection
    with pytest.raises(ConfigError, match=r"strategy 'guide' takes no strategy\.options.*strategy\.guide\.\*"):
        check_config(load_config(RunConfig, None, ["strategy.name=guide", "strategy.options={tiers: 1}"]))


@pytest.mark.parametrize("name,keys", [
    ("guide", ["guide/guided_samples", "scaf/rescue_rate"]),
    ("questa", ["questa/prefix_share", "scaf/rescue_rate"]),
    ("pope", ["pope/prefix_share_mean", "scaf/rescue_rate"]),
    ("luffy", ["luffy/off_policy_rows", "luffy/prob_mean"]),
    ("self_hint", ["self_hint/requests", "scaf/rescue_rate"]),
])
def test_two_step_training_run_logs_the_strategys_metrics(tmp_path, name, keys):
    from scaffold_rl.train.run import train

    cfg = tiny_config(tmp_path)
    cfg.strategy.name = name
    cfg.strategy.questa.min_prefix_chars = 0
    cfg.strategy.self_hint.max_hint_tokens = 8
    cfg.task.train_levels = [2]  # an untrained model: every group all wrong, every rescue triggered
    cfg.eval.samples, cfg.eval.hint_depths = 0, [0]
    run_dir = train(cfg, echo=lambda *a: None, make_report=False)
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if '"reward"' in x]
    assert [r["step"] for r in records] == [1, 2]
    for key in keys:
        assert all(key in r for r in records) or key == "luffy/prob_mean" and any(key in r for r in records), key
