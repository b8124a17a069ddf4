"""The summaries task (procedural documents, the exact metric) and the reconstruction reward: its formula, the
reconstructor's log-likelihood, the guards, and a run through the task interface."""
import math
import random

import pytest
import torch

from scaffold_rl.data.documents import (
    DocumentTask,
    best_fields,
    false_facts,
    make_problem,
    max_fit,
    parse_document,
    random_summary,
    recovered_facts,
    render_document,
)
from scaffold_rl.models.embedded import TinyModelSpec, build_model, build_tokenizer
from scaffold_rl.rewards.composite import RewardContext
from scaffold_rl.rewards.reconstruction import (
    Reconstructor,
    ReconstructionTerm,
    degenerate_reason,
    normalised_gain,
)
from scaffold_rl.tasks.summaries import SummaryScorer

FACTS = {"name": "Ada", "city": "Oslo", "age": "41", "pet": "owl", "year": "1987"}
P = make_problem(FACTS, budget=12)


def test_documents_render_parse_and_the_exact_metric():
    assert P.prompt == "D:name=Ada;city=Oslo;age=41;pet=owl;year=1987\nS:"
    assert parse_document(P.meta["document"]) == FACTS
    # values are read as whole words, whatever the separators; keys and made-up values recover nothing
    assert recovered_facts("Ada,41;owl", FACTS) == {"name": True, "city": False, "age": True, "pet": True,
                                                    "year": False}
    assert sum(recovered_facts("name=Adam 4 1987x", FACTS).values()) == 0
    assert false_facts("Ada Rome 52", FACTS) == 2
    # the budget: shortest values first, one separator between two: "41" + " Ada" + " owl" = 10 <= 12 < 15
    assert best_fields(FACTS, 12) == ["age", "name", "pet"] and max_fit(FACTS, 12) == 3
    assert max_fit(FACTS, 1) == 0 and max_fit(FACTS, 100) == 5
    assert P.reference == "Ada 41 owl" and P.solution_steps == ("Ada ", "41 ", "owl") and P.level == 5
    with pytest.raises(ValueError, match="not a document fact"):
        parse_document("name=Zed")


def test_problems_are_deterministic_and_splits_disjoint():
    task = DocumentTask()
    a, b = task.problems("train", 3, 50), task.problems("train", 3, 50)
    assert [p.id for p in a] == [p.id for p in b] and len({p.id for p in a}) == 50
    test = task.problems("test", 3, 50)
    assert not {p.prompt for p in a} & {p.prompt for p in test}
    assert all(p.level == 3 and len(p.meta["facts"]) == 3 for p in test)
    assert 0 < len(task.problems("test", 1, 500)) < 100  # level 1 has few documents: all of them, not 500
    mix = task.mixture("train", {2: 0.5, 4: 0.5}, 40, seed=1)
    assert len(mix) == 40 and {p.level for p in mix} == {2, 4}


def test_random_summaries_keep_subsets_in_the_styles_asked_for():
    rng = random.Random(0)
    for _ in range(50):
        s = random_summary(rng, FACTS, min_keep=1)
        kept = recovered_facts(s, FACTS)
        assert 1 <= sum(kept.values()) == len(s.split(" "))
    styled = {random_summary(rng, FACTS, styles=True) for _ in range(300)}
    assert any("=" in s for s in styled) and any(", " in s for s in styled) and "" in styled


def test_scorer_counts_facts_and_zeroes_over_budget():
    score = SummaryScorer()
    assert (score(P, "Ada 41 owl").reward, score(P, "Ada 41 owl").correct) == (pytest.approx(3 / 5), True)
    assert (score(P, " 41 owl ").reward, score(P, " 41 owl ").correct) == (pytest.approx(2 / 5), False)
    over = score(P, "Ada Oslo 41 owl")  # 15 characters: more facts, but past the budget
    assert (over.reward, over.correct) == (0.0, False)


def test_normalised_gain_by_hand():
    assert normalised_gain(-6.0, -20.0, 10) == pytest.approx(1.4)  # 14 nats over 10 tokens
    assert normalised_gain(-6.0, -20.0, 10, "prior") == pytest.approx(0.7)  # 14 of the prior's 20 nats
    assert normalised_gain(-25.0, -20.0, 10) == pytest.approx(-0.5)  # a misleading summary
    with pytest.raises(ValueError, match="normalise"):
        normalised_gain(-1.0, -2.0, 3, "bits")


def tiny_reconstructor(seed=0):
    tok = build_tokenizer()
    return Reconstructor(build_model(tok, TinyModelSpec(32, 64, 1, 2, 128), seed=seed), tok)


def test_reconstructor_logprob_matches_the_models_own_loss():
    rec = tiny_reconstructor()
    doc = P.meta["document"]
    got = rec.logprobs(["Ada 41 owl", ""], doc)  # one padded batch of two lengths
    for summary, value in zip(["Ada 41 owl", ""], got):
        prompt = rec.tokenizer(f"S:{summary}\nD:")["input_ids"]
        target = rec.tokenizer(doc, add_special_tokens=False)["input_ids"] + [rec.tokenizer.eos_token_id]
        ids = torch.tensor([prompt + target])
        labels = torch.tensor([[-100] * len(prompt) + target])
        with torch.no_grad():
            loss = rec.model(input_ids=ids, labels=labels).loss  # mean NLL of the target tokens
        assert value == pytest.approx(-float(loss) * len(target), rel=1e-4)
    assert len(target) == len(doc) + 1  # characters plus the end of the record


class FakeReconstructor:
    """log p(doc | summary) = -20 + 4 per fact the summary holds; 10 target tokens."""

    calls = 0

    def logprobs(self, summaries, document):
        FakeReconstructor.calls += len(summaries)
        facts = parse_document(document)
        return [-20.0 + 4 * sum(recovered_facts(s, facts).values()) for s in summaries]

    def target_ids(self, document):
        return list(range(10))


def test_term_value_parts_and_verdict():
    term = ReconstructionTerm(FakeReconstructor())
    good = term(RewardContext(P, " Ada 41 owl"))
    assert good.reward == pytest.approx(1.2) and good.correct  # 3 facts x 4 nats / 10 tokens
    assert good.terms == {"gain": pytest.approx(1.2), "facts_kept": pytest.approx(0.6), "over_budget": 0.0,
                          "degenerate": 0.0, "length": 10.0}
    two = term(RewardContext(P, "41 owl"))
    assert two.reward == pytest.approx(0.8) and not two.correct
    prior = ReconstructionTerm(FakeReconstructor(), normalise="prior")
    assert prior(RewardContext(P, "41 owl")).reward == pytest.approx(0.4)
    calls = FakeReconstructor.calls
    term(RewardContext(P, "41 owl"))  # cached
    assert FakeReconstructor.calls == calls


def test_guards_never_pay_copying_past_the_budget_or_degenerate_summaries():
    term = ReconstructionTerm(FakeReconstructor(), penalty=-0.5)
    copy = term(RewardContext(P, P.meta["document"]))  # the whole document: reconstructs perfectly, 44 chars
    assert copy.reward == -0.5 and copy.terms["over_budget"] == 1.0 and not copy.correct
    for bad, why in (("", "empty"), ("  ", "empty"), ("Adaaaa", "char_run"), ("Ada Ada", "repeated_word"),
                     ("D:Ada", "echo"), ("Ada\n41", "echo"), ("S:41", "echo")):
        assert degenerate_reason(bad) == why, bad
        out = term(RewardContext(P, bad))
        assert out.reward == -0.5 and (out.terms["degenerate"] == 1.0 or out.terms["over_budget"] == 1.0), bad
    assert degenerate_reason("41 1987") is None and degenerate_reason("1999") is None  # a 3-run is a year
    assert term(RewardContext(P, "Ada 41", hacked=True)).reward == -0.5  # a composite guard fired
    assert ReconstructionTerm(FakeReconstructor(), budget=20)(RewardContext(P, "Ada Oslo 41 owl")).reward > 0
    with pytest.raises(ValueError, match="normalise"):
        ReconstructionTerm(FakeReconstructor(), normalise="bits")


def test_the_term_needs_documents_and_a_reconstructor(tmp_path):
    from scaffold_rl.data.arithmetic import make_problem as arithmetic_problem
    from scaffold_rl.rewards.registry import build_reward

    term = ReconstructionTerm(FakeReconstructor())
    with pytest.raises(ValueError, match="no document"):
        term(RewardContext(arithmetic_problem(143, [("-", 7)]), "136"))
    with pytest.raises(ValueError, match="needs a reconstructor"):
        build_reward("reconstruction")
    rec = tiny_reconstructor()
    rec.model.save_pretrained(tmp_path / "rec")
    rec.tokenizer.save_pretrained(tmp_path / "rec")
    reward = build_reward({"reconstruction": {"reconstructor": str(tmp_path / "rec"), "normalise": "prior"}})
    score = reward(P, "Ada 41 owl")
    assert score.correct and score.terms["reconstruction/facts_kept"] == pytest.approx(0.6)
    assert math.isfinite(score.reward) and score.reward == score.terms["reconstruction/gain"]
    with pytest.raises(ValueError, match="unknown options"):
        build_reward({"reconstruction": {"model": "x"}})


def summaries_config(tmp_path, **over):
    from tests.conftest import tiny_config

    cfg = tiny_config(tmp_path, **over)
    cfg.task.name, cfg.task.train_levels, cfg.task.eval_levels = "summaries", [2, 4], [2, 4]
    s = cfg.task.summaries
    s.policy_steps, s.reconstructor_steps, s.reconstructor_hidden, s.reconstructor_layers, s.batch_size = 3, 3, 32, 1, 8
    cfg.model.embedded.max_positions = 128
    cfg.reward.spec = "reconstruction"
    return cfg


def test_the_task_through_the_interface(tmp_path):
    from scaffold_rl.models.loading import load_policy
    from scaffold_rl.rewards.registry import reward_for_run
    from scaffold_rl.tasks import build_task

    cfg = summaries_config(tmp_path)
    task = build_task(cfg)
    problems = task.train_problems(20)
    assert {p.level for p in problems} == {2, 4} and all(p.prompt.endswith("\nS:") for p in problems)
    held = task.eval_problems(5)
    assert sorted(held) == [2, 4] and all(len(ps) == 5 for ps in held.values())
    assert task.extract_answer(" Ada 41 \n") == "Ada 41" and task.extract_answer("  ") is None
    model, tokenizer = load_policy(cfg, echo=lambda m: None)  # the task's own embedded policy (pretrained, cached)
    assert tokenizer.decode(task.renderer(tokenizer).render(P).prompt_ids, skip_special_tokens=True) == P.prompt
    reward = reward_for_run(cfg.reward, task, tokenizer, 16)
    assert "reconstruction" in reward.terms and reward.verdict == "reconstruction"
    evaluation = reward_for_run(cfg.reward, task, tokenizer, 16, evaluation=True)
    assert isinstance(evaluation, SummaryScorer)


def test_training_on_summaries_with_a_rescue_strategy(tmp_path):
    import json

    from scaffold_rl.train.run import train

    cfg = summaries_config(tmp_path, strategy__name="reference", strategy__exemption_steps=0)
    run_dir = train(cfg, echo=lambda *a: None, make_report=False)
    steps = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if '"reward"' in x]
    assert len(steps) == 2
    for key in ("reward/reconstruction", "reward/reconstruction/facts_kept", "reward/reconstruction/over_budget"):
        assert key in steps[0], key
    final = json.loads((run_dir / "eval_final.json").read_text())
    assert set(final["levels"]) == {"L2", "L4"}


def test_summaries_never_loads_the_shipped_arithmetic_model(monkeypatch):
    """With the default model config the shipped arithmetic model matches the config hash, so a summaries run that
    fell through to it would silently train a model that cannot read documents."""
    from scaffold_rl import cli
    from scaffold_rl.config import RunConfig
    from scaffold_rl.configio import ConfigError
    from scaffold_rl.models import pretrain
    from scaffold_rl.models.loading import load_policy
    from scaffold_rl.startup import check_model_reads_task
    from scaffold_rl.tasks import build_task
    from scaffold_rl.tasks.summaries import SummariesTask

    cfg = RunConfig()
    cfg.task.name = "summaries"
    assert cfg.model.use_shipped and pretrain.shipped_path(cfg.model, cfg.task) is not None
    monkeypatch.setattr(pretrain, "load_or_pretrain", lambda *a, **k: pytest.fail("loaded the arithmetic model"))
    own = object(), object()
    monkeypatch.setattr(SummariesTask, "embedded_policy", classmethod(lambda cls, cfg, echo=print: own))
    assert load_policy(cfg, echo=lambda m: None) == own
    check_model_reads_task(cfg, build_task(cfg))  # no model.path needed: the task brings its own
    for flag in ("ship", "rebuild"):  # both would build the arithmetic model
        args = cli.build_parser().parse_args(["pretrain", f"--{flag}", "task.name=summaries"])
        with pytest.raises(ConfigError, match="brings its own embedded policy"):
            args.func(args)
