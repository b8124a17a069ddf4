"""Label-free rewards wired into training: config shorthand, what the sampler passes to reward terms, per-term
and guard metrics, `correct` without gold answers, answerless datasets, evaluation against gold answers, and
the bad-answer-habit pretraining option of the label-free benchmark.
"""
import json
from pathlib import Path

import pytest

from scaffold_rl.cli import main as cli_main
from scaffold_rl.config import RunConfig
from scaffold_rl.configio import ConfigError, load_config, save_config
from scaffold_rl.data.arithmetic import ANSWER_PATTERN, ArithmeticTask, habit_digits, with_answer_habit
from scaffold_rl.data.benchmarks import load_benchmark
from scaffold_rl.data.jsonl import DataError
from scaffold_rl.models.embedded import build_tokenizer
from scaffold_rl.rewards.correctness import CorrectnessReward
from scaffold_rl.rewards.registry import build_reward, correctness_kind, reward_for_run
from scaffold_rl.rollout.generation import Completion, SamplingParams
from scaffold_rl.rollout.prompts import PlainRenderer
from scaffold_rl.rollout.sampler import RolloutStage, Sampler
from scaffold_rl.strategies.grpo import PlainGRPO
from scaffold_rl.tasks import check_training_labels, labeled_only, without_labels
from scaffold_rl.train.run import train
from tests.conftest import learner_config, tiny_config

TOK = build_tokenizer()
TASK = ArithmeticTask()


class FixedGenerator:
    """Gives the i-th completion of `texts` (cyclically) to the i-th prompt of every call, eos appended."""

    def __init__(self, texts):
        self.texts, self.tokens_generated = texts, 0

    def generate(self, prompts, params, seed=None):
        out = []
        for i, _ in enumerate(prompts):
            ids = TOK(self.texts[i % len(self.texts)], add_special_tokens=False)["input_ids"] + [TOK.eos_token_id]
            self.tokens_generated += len(ids)
            out.append(Completion(ids, truncated=False))
        return out


# --- configuration --------------------------------------------------------------------------------------


def test_reward_shorthand_on_the_command_line_and_in_yaml(tmp_path):
    cfg = load_config(RunConfig, None, ["reward=format_length", "reward.kind=answer"])
    assert (cfg.reward.spec, cfg.reward.kind) == ("format_length", "answer")
    cfg = load_config(RunConfig, None, ["reward.kind=answer", "reward=format_length+0.5*overlong"])
    assert (cfg.reward.spec, cfg.reward.kind) == ("format_length+0.5*overlong", "answer")  # kind kept
    assert load_config(RunConfig).reward.spec is None  # default: correctness of reward.kind alone
    (tmp_path / "a.yaml").write_text("reward: format\n")
    cfg = load_config(RunConfig, tmp_path / "a.yaml", ["reward.kind=answer"])
    assert (cfg.reward.spec, cfg.reward.kind) == ("format", "answer")
    cfg = load_config(RunConfig, None, ["reward.spec={format_length: {p: 0.4}, guards: false}"])
    assert cfg.reward.spec == {"format_length": {"p": 0.4}, "guards": False}
    save_config(cfg, tmp_path / "saved.yaml")
    assert load_config(RunConfig, tmp_path / "saved.yaml").reward == cfg.reward
    # a term name is checked at startup, once plugins (which may register terms) are imported, still located
    from scaffold_rl.startup import check_config

    with pytest.raises(ConfigError, match="unknown reward term 'fromat'"):
        check_config(load_config(RunConfig, None, ["reward=fromat"]))
    (tmp_path / "b.yaml").write_text("train:\n  lr: 1.0e-4\nreward: format_lenght\n")
    with pytest.raises(ConfigError, match=r"b\.yaml:3: .*unknown reward term"):
        check_config(load_config(RunConfig, tmp_path / "b.yaml"))


def test_labels_a_spec_needs():
    assert correctness_kind(None, "strict") == "strict"
    assert correctness_kind("format_length", "strict") is None
    assert correctness_kind("correctness+0.1*repetition", "answer") == "answer"
    assert correctness_kind({"correctness": {"weight": 1.0, "kind": "strict"}}, "answer") == "strict"
    from scaffold_rl.tasks.base import TaskBase

    task = TaskBase()
    task.answer_pattern = ANSWER_PATTERN
    default = RunConfig().reward
    assert isinstance(reward_for_run(default, task, TOK, 64), CorrectnessReward)
    default.spec = "format_length"
    assert reward_for_run(default, task, TOK, 64).terms.keys() == {"format_length"}
    assert isinstance(reward_for_run(default, task, TOK, 64, evaluation=True), CorrectnessReward)


# --- what `correct` means without gold answers ----------------------------------------------------------


def test_correct_is_the_correctness_verdict_else_well_formed():
    p = TASK.problem("train", 1, 0)
    start = p.prompt[2:].split("+")[0].split("-")[0]
    right, no_line = p.reference, p.reference.split("\n")[0]
    wrong_value = p.reference.replace(f"A:{p.answer}", f"A:{start}")  # wrong, but a number the work wrote
    label_free = build_reward("format_length", ANSWER_PATTERN, max_length=64)
    assert [label_free(p, r, completion_len=10).correct for r in (right, wrong_value, no_line)] == [True, True, False]
    graded = build_reward("correctness+format", ANSWER_PATTERN, max_length=64)
    assert [graded(p, r).correct for r in (right, wrong_value, no_line)] == [True, False, False]
    logging_only = build_reward({"correctness": 0.0, "format": 1.0}, ANSWER_PATTERN)
    assert logging_only(p, wrong_value).correct  # a zero-weight correctness term does not decide
    hedge = right + "\nA:1"  # two different answers: the multiple-answer guard zeroes the format
    assert not label_free(p, hedge, completion_len=10).correct
    assert not build_reward("length", max_length=64)(p, right, completion_len=10).correct  # nothing to verify


# --- the sampler passes token lengths and the step; the stage logs terms and guards ---------------------


def _stage(texts, spec, max_length=20):
    reward = build_reward(spec, ANSWER_PATTERN, TOK, max_length=max_length)
    sampler = Sampler(FixedGenerator(texts), PlainRenderer(TOK), reward, TOK, SamplingParams(max_new_tokens=20))
    return RolloutStage(sampler, PlainGRPO(), num_generations=len(texts), total_steps=10, seed=0)


def test_sampler_scores_token_lengths_and_stage_logs_each_term_and_guard():
    # generated tokens (characters + eos) / 20: 6 -> x=0.3, 15 -> x=0.75, 8 -> x=0.4
    texts = ["1.A:1", "no answer here", "A:1\nA:2", "7.A:7"]
    stage = _stage(texts, {"format": 1.0, "length": {"weight": 0.5}})
    problem = TASK.problem("train", 1, 0)
    batch = stage.run([problem], step=1)
    length = [1 - (1 - 0.3 / 0.5) ** 2, 1 - 2 * ((0.75 - 0.5) / 0.5) ** 2, 0.0, 1 - (1 - 0.3 / 0.5) ** 2]
    fmt = [1.0, 0.0, 0.0, 1.0]  # "A:1\nA:2" hedges two answers: guarded, format 0 and length min(0, .) = 0
    rollouts = batch.groups[0].rollouts
    assert [r.reward for r in rollouts] == pytest.approx([f + 0.5 * x for f, x in zip(fmt, length)])
    assert [r.correct for r in rollouts] == [True, False, False, True]
    assert rollouts[2].reward_terms["guard/multiple_boxed"] == 1.0
    s = batch.stats
    assert s["reward/format"] == pytest.approx(0.5)
    assert s["reward/length"] == pytest.approx(sum(length) / 4)
    assert s["guard/multiple_boxed"] == pytest.approx(0.25)
    assert s["guard/empty_box"] == s["guard/repetition"] == s["guard/copy_problem"] == 0.0
    assert s["pass_rate"] == pytest.approx(0.5)  # well-formed share: the label-free verdict


def test_length_term_switches_on_at_its_step():
    stage = _stage(["1.A:1"], {"format_length": {"start_step": 5}})  # 6 tokens of 20: x = 0.3
    problem = TASK.problem("train", 1, 0)
    assert stage.run([problem], step=4).groups[0].rollouts[0].reward == 1.0  # format only
    on = stage.run([problem], step=5)
    assert on.groups[0].rollouts[0].reward == pytest.approx(1.0 + 0.84)
    assert on.stats["reward/format_length/length"] == pytest.approx(0.84)


def test_default_reward_adds_no_term_metrics():
    sampler = Sampler(FixedGenerator(["A:1"]), PlainRenderer(TOK), CorrectnessReward("answer", ANSWER_PATTERN), TOK,
                      SamplingParams(max_new_tokens=20))
    batch = RolloutStage(sampler, PlainGRPO(), 1, 10, 0).run([TASK.problem("train", 1, 0)], step=1)
    assert not [k for k in batch.stats if k.startswith(("reward/", "guard/"))]


# --- datasets without answers ---------------------------------------------------------------------------


def _write(path: Path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_loader_accepts_answerless_rows_only_when_asked(tmp_path):
    path = _write(tmp_path / "mixed.jsonl", [{"problem": "1+1?", "answer": "2"}, {"problem": "2+2?"},
                                             {"question": "3+3?", "answer": None}])
    problems = load_benchmark(str(path), require_answers=False)
    assert [(p.prompt, p.answer) for p in problems] == [("1+1?", "2"), ("2+2?", None), ("3+3?", None)]
    with pytest.raises(DataError, match=r"mixed\.jsonl:2: field 'answer': missing \(the first row without an answer"):
        load_benchmark(str(path))


def test_labels_checked_at_startup_and_evaluation_skipped_without_them():
    cfg = RunConfig()
    labeled = [TASK.problem("train", 1, i) for i in range(3)]
    bare = [without_labels(p) for p in labeled]
    assert (bare[0].answer, bare[0].reference, bare[0].solution_steps, bare[0].hints) == (None, None, (), {})
    check_training_labels(cfg, labeled)  # strict default: references present
    cfg.task.hide_train_answers = True
    with pytest.raises(ConfigError, match=f"{bare[0].id} has no reference chain.*hide_train_answers.*format_length"):
        check_training_labels(cfg, bare)
    cfg.reward.spec = "format_length"
    check_training_labels(cfg, bare)  # label-free: fine
    kept, skipped = labeled_only({1: labeled[:1] + bare[1:]}, "answer")
    assert kept == {1: labeled[:1]} and skipped is None
    kept, skipped = labeled_only({1: bare}, "answer")
    assert kept == {} and "no gold answers" in skipped


def test_train_without_any_answer_field_end_to_end_via_cli(tmp_path, capsys):
    """`scaffold-rl train reward=format_length` on a file without answers: an answerless held-out set is an error
    at startup; with a labelled one named (task.eval_name) it trains, logs the terms and evaluates on it."""
    data = _write(tmp_path / "unlabeled.jsonl", [{"problem": f"{i}+{i}?"} for i in range(8)])
    labelled = _write(tmp_path / "labelled.jsonl", [{"problem": f"{i}+{i}?", "answer": str(2 * i)}
                                                    for i in range(3)])
    from tests.test_real_models import save_tiny

    cfg = tiny_config(tmp_path)
    cfg.task.name, cfg.eval.n_per_level, cfg.reward.kind = str(data), 2, "answer"
    cfg.model.path = str(save_tiny("qwen2", tmp_path / "qwen2"))  # a file task needs a model that reads text
    save_config(cfg, tmp_path / "run.yaml")
    with pytest.raises(SystemExit):
        cli_main(["train", "--config", str(tmp_path / "run.yaml"), "--run-dir", str(tmp_path / "no_eval"),
                  "reward=format_length"])
    err = capsys.readouterr().err
    assert "held-out problems have no gold answers" in err and "first 2 rows of" in err and "task.eval_name" in err
    run_dir = tmp_path / "run"
    cli_main(["train", "--config", str(tmp_path / "run.yaml"), "--run-dir", str(run_dir), "reward=format_length",
              f"task.eval_name={labelled}"])
    steps = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in steps] == [1, 2]
    for key in ("reward/format_length", "reward/format_length/format", "reward/format_length/length",
                "guard/multiple_boxed", "guard/empty_box", "guard/repetition", "guard/copy_problem"):
        assert key in steps[0], key
    final = json.loads((run_dir / "eval_final.json").read_text())
    assert final["levels"]["L0"]["n"] == 2 and "labelled.jsonl (3 problems)" in final["held_out"]["held_out"]
    # the held-out rows were in the training file too: they were removed from training, and the report says so
    assert final["held_out"]["overlap_removed_from_train"] == 3
    assert "were removed from training" in (run_dir / "report.md").read_text()

    # the same file with a correctness reward: a clear error at startup, naming the file and first row
    with pytest.raises(SystemExit):
        cli_main(["train", "--config", str(tmp_path / "run.yaml"), "--run-dir", str(tmp_path / "bad"),
                  "reward=correctness"])
    err = capsys.readouterr().err
    assert "unlabeled.jsonl:1: field 'answer': missing" in err and "reward=format_length" in err


def test_small_files_never_train_on_their_own_evaluation_set(tmp_path):
    """aime24 has 30 rows and the default eval.n_per_level is 200: holding out 'the first 200' left nothing and
    training fell back to the whole file, i.e. the 30 evaluation problems. Now an error, or an explicit split."""
    from scaffold_rl.tasks import build_task

    cfg = RunConfig()
    cfg.task.name, cfg.reward.kind = "aime24", "answer"
    with pytest.raises(ConfigError, match=r"aime24 has 30 rows and eval.n_per_level=200 holds out all of them"):
        build_task(cfg)
    cfg.task.eval_fraction = 0.2
    task = build_task(cfg)
    train = {p.id for p in task.train_problems(1000)}
    held = {p.id for ps in task.eval_problems(200).values() for p in ps}
    assert len(held) == 6 and len(train) == 24 and not train & held
    again = build_task(cfg)  # the same draw every time (task.seed)
    assert {p.id for ps in again.eval_problems(200).values() for p in ps} == held
    cfg.task.eval_fraction, cfg.task.eval_name = None, "aime24"
    with pytest.raises(ConfigError, match="no training problems left"):
        build_task(cfg)  # every training row is also held out


@pytest.mark.slow  # two runs of the learner model: ~25 s of CPU
def test_label_free_training_is_the_same_with_or_without_answers(tmp_path):
    """format_length never reads a label: hiding them changes nothing, step by step (so the benchmark's
    label-free arms need no twin with answers)."""
    records = []
    for hide in (False, True):
        cfg = learner_config(tmp_path / str(hide), train__steps=2, rollout__max_new_tokens=32)
        cfg.reward.spec, cfg.task.hide_train_answers, cfg.eval.n_per_level = "format_length", hide, 2
        cfg.task.eval_levels, cfg.eval.samples, cfg.eval.hint_depths = [1], 0, []
        run = train(cfg, run_dir=tmp_path / f"run-{hide}", echo=lambda *a: None, make_report=False)
        lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        records.append([{k: v for k, v in r.items() if "time" not in k and "seconds" not in k} for r in lines])
        assert json.loads((run / "eval_final.json").read_text())["levels"]  # evaluation still graded
    assert records[0] == records[1] and len(records[0]) == 2
    assert any(r["reward/format_length/format"] > 0 for r in records[0])  # the learner writes answer lines


def test_hidden_answers_with_a_correctness_reward_fail_before_any_model_work(tmp_path):
    cfg = tiny_config(tmp_path)
    cfg.task.hide_train_answers = True
    with pytest.raises(ConfigError, match="hide_train_answers"):
        train(cfg, echo=lambda *a: None)
    assert not (Path(cfg.model.cache_dir) / "embedded").exists()  # failed before pretraining


# --- the benchmark's base model: bad answer habits ------------------------------------------------------


@pytest.mark.parametrize("key", ["question", "answer"])
def test_answer_habit_breaks_the_answer_line_of_habit_digits_only(key):
    assert habit_digits(0.0) == "" and habit_digits(0.5) == "01234" and habit_digits(1.0) == "0123456789"
    with pytest.raises(ValueError, match="multiple of 0.1"):
        habit_digits(0.25)
    problems = TASK.mixture("train", {1: 0.5, 2: 0.5}, 600, seed=3)
    forms = {"good": 0, "missing": 0, "equals": 0}
    for i, p in enumerate(problems):
        q = with_answer_habit(p, 0.5, salt=i, key=key)
        chain = "".join(p.solution_steps)
        digit = p.prompt.split("Q:")[1][:3][-1] if key == "question" else p.answer[-1]
        if digit not in "01234":
            assert q == p
            continue
        kind = "good" if q.reference == p.reference else "missing" if q.reference == chain else "equals"
        if kind == "equals":
            assert q.reference == f"{chain}\nA={p.answer}"
        forms[kind] += 1
        assert q.answer == p.answer and q.solution_steps == p.solution_steps  # only the document changes
    n = sum(forms.values())
    assert 0.3 < forms["missing"] / n < 0.5 and 0.3 < forms["equals"] / n < 0.5 and 0.1 < forms["good"] / n < 0.3
    assert with_answer_habit(problems[0], 0.0) is problems[0]


def test_question_keyed_habit_does_not_depend_on_the_answer():
    """Two problems with the same start value but different answers carry the habit alike, so a policy cannot
    escape it (and earn the format reward) by changing its arithmetic."""
    from scaffold_rl.data.arithmetic import habit_digit, make_problem

    a, b = make_problem(431, [("+", 3)]), make_problem(431, [("+", 8)])
    assert a.answer[-1] in "01234" and b.answer[-1] not in "01234"
    assert habit_digit(a) == habit_digit(b) == "1"
    assert (habit_digit(a, "answer"), habit_digit(b, "answer")) == ("4", "9")
    with pytest.raises(ValueError, match="bad_answer_key"):
        habit_digit(a, "nonsense")


def test_answer_habit_is_in_the_cache_key_only_when_on():
    from scaffold_rl.models.pretrain import cache_key, pretraining_task

    cfg = RunConfig()
    cfg.model.pretrain.bf16 = "off"
    task = pretraining_task(cfg.model, cfg.task)
    before = cache_key(cfg.model, task)
    assert before == "c8d1f71972383ca2"  # the key models cached before the knob existed keep
    cfg.model.pretrain.bad_answer_key = "answer"
    assert cache_key(cfg.model, task) == before  # the key alone changes nothing while the habit is off
    cfg.model.pretrain.bad_answer_share = 0.5
    by_answer = cache_key(cfg.model, task)
    assert by_answer != before
    cfg.model.pretrain.bad_answer_key = "question"
    assert cache_key(cfg.model, task) not in (before, by_answer)


def test_no_label_reaches_a_label_free_run():
    """hide_train_answers strips the worked solution from meta too: SEELE read meta['solution'] (boxed answer
    included) and showed it in 'label-free' runs."""
    from scaffold_rl.data.benchmarks import load_benchmark
    from scaffold_rl.strategies.seele import SolutionPrefix, solution_text
    from scaffold_rl.tasks.labels import LABEL_META_KEYS

    problems = load_benchmark("math_train", limit=5)
    assert all(p.meta.get("solution") and "\\boxed" in p.meta["solution"] for p in problems)
    bare = [without_labels(p) for p in problems]
    for p in bare:
        assert p.answer is None and p.reference is None and not p.solution_steps and not p.hints
        assert not set(p.meta) & set(LABEL_META_KEYS) and solution_text(p) == ""
        assert SolutionPrefix("char").units(p) == ()
