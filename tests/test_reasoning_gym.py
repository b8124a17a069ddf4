"""reasoning-gym tasks (`task.name=rg:<dataset>`, the `rg` extra): levels, disjoint splits, worked chains,
score_answer as the scorer, training from the CLI and from Python. Offline: the generators are procedural.

Skipped without reasoning-gym (`pip install 'scaffold-rl[rg]'`, part of `dev`), except the missing-extra test.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from scaffold_rl.configio import ConfigError, save_config
from scaffold_rl.tasks import build_task, without_labels
from tests.conftest import tiny_config

needs_rg = pytest.mark.skipif(importlib.util.find_spec("reasoning_gym") is None,
                              reason="reasoning-gym is not installed: pip install 'scaffold-rl[rg]'")


def rg_config(tmp_path, dataset: str, **over):
    cfg = tiny_config(tmp_path, **over)
    cfg.task.name = f"rg:{dataset}"
    cfg.model.embedded.max_positions = 160  # rg questions are longer than the arithmetic ones
    cfg.rollout.max_new_tokens = cfg.eval.max_new_tokens = 24
    return cfg


def questions(problems):
    return {p.meta["rg_entry"]["question"] for p in problems}


# --- worked chains -------------------------------------------------------------------------------------------

def test_step_builders_reproduce_the_answer_or_give_none():
    from scaffold_rl.data.rg_steps import (by_place_value, by_precedence, left_to_right, place_values,
                                          reversed_letters)

    assert place_values(473) == [400, 70, 3] and place_values(-25) == [-20, -5] and place_values(0) == [0]
    assert place_values(105) == [100, 5]
    assert by_place_value("42 - 25 - 73", "-56") == ["42-20=22.22-5=17.", "17-70=-53.-53-3=-56."]
    assert by_place_value("4 + 0 - 9", "-5") == ["4+0=4.", "4-9=-5."]
    assert by_place_value("42 - 25", "18") is None
    assert reversed_letters({"answer": "buc", "metadata": {"word": "cub"}}) == ["b", "u", "c"]
    assert reversed_letters({"answer": "cub", "metadata": {"word": "cub"}}) is None
    assert reversed_letters({"answer": "x", "metadata": {}}) is None

    assert left_to_right("42 - 25 - 73", "-56") == ["42-25=17.", "17-73=-56."]
    assert left_to_right("42 * 25", "1050") == ["42*25=1050."]
    assert left_to_right("42 - -25", "67") == ["42--25=67."]
    assert left_to_right("42 - 25", "18") is None  # a chain that disagrees with the item is never shown
    assert by_precedence("95 - 21 / 21", "94") == ["21/21=1.", "95-1=94."]
    assert by_precedence("-( 6 / 2 ) - 99", "-102") == ["6/2=3.", "-(3)=-3.", "-3-99=-102."]
    assert by_precedence("559 - -32 * -222 - 0", "-6545") == ["-32*-222=7104.", "559-7104=-6545.",
                                                             "-6545-0=-6545."]
    assert by_precedence("-7 / 2", "-4") == ["-7/2=-4."]  # floor division, as the generator computes it
    assert by_precedence("1 +", "1") is None


# --- levels, problems, splits ----------------------------------------------------------------------------------

@needs_rg
def test_curriculum_levels_and_task_rg_on_top(tmp_path):
    cfg = rg_config(tmp_path, "chain_sum")
    cfg.task.eval_levels = [1, 2, 3]
    levels = build_task(cfg).split_info["levels"]
    assert levels[1] == {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1}
    assert levels[3] == {"min_terms": 4, "max_terms": 4, "min_digits": 3, "max_digits": 3}
    cfg.task.rg = {"min_digits": 2, "max_digits": 2}
    task = build_task(cfg)
    assert task.split_info["levels"][3] == {"min_terms": 4, "max_terms": 4, "min_digits": 2, "max_digits": 2}
    p = task.eval_problems(3)[3][0]
    terms = p.meta["rg_entry"]["metadata"]["expression"].split()[::2]
    assert p.level == 3 and len(terms) == 4 and all(len(t) == 2 for t in terms)
    assert len(p.solution_steps) == 3  # one step per operation
    assert p.reference == "".join(p.solution_steps) + f"\n<answer>{p.answer}</answer>"
    assert p.prompt == p.meta["rg_entry"]["question"] + "\nS:"


@needs_rg
def test_rg_levels_replace_the_curriculum(tmp_path):
    cfg = rg_config(tmp_path, "spell_backward")
    cfg.task.rg_levels = {1: {"min_word_len": 4, "max_word_len": 4}, 2: {"min_word_len": 8, "max_word_len": 8}}
    task = build_task(cfg)
    held = task.eval_problems(5)
    assert sorted(held) == [1, 2]
    assert {len(p.meta["rg_entry"]["metadata"]["word"]) for p in held[2]} == {8}
    cfg.task.eval_levels = [1, 3]
    with pytest.raises(ConfigError, match=r"levels \[1, 2\], not 3"):
        build_task(cfg)


@needs_rg
@pytest.mark.parametrize("dataset", ["chain_sum", "basic_arithmetic", "spell_backward"])
def test_held_out_is_disjoint_from_training_and_deterministic(tmp_path, dataset):
    from scaffold_rl.data.reasoning_gym import split_of

    cfg = rg_config(tmp_path, dataset)
    cfg.task.train_levels, cfg.task.eval_levels = [1, 2], [1, 2]
    task = build_task(cfg)
    train = task.train_problems(1500)
    held = task.eval_problems(40)
    assert {p.level for p in train} == {1, 2} and all(p.level == lv for lv, ps in held.items() for p in ps)
    for lv, ps in held.items():
        assert len(ps) == 40 and len(questions(ps)) == 40  # distinct held-out questions
        assert not questions(ps) & questions(train)
        assert {split_of(q, 0.2) for q in questions(ps)} == {"test"}
    assert [p.id for p in build_task(cfg).train_problems(50)] == [p.id for p in train[:50]]
    cfg.task.seed = 1
    assert [p.id for p in build_task(cfg).train_problems(50)] != [p.id for p in train[:50]]


@needs_rg
def test_small_problem_space_still_splits(tmp_path):
    """chain_sum level 1 (two 1-digit terms) has 200 questions: a seed-only split would overlap at once."""
    cfg = rg_config(tmp_path, "chain_sum")
    task = build_task(cfg)
    train = questions(task.train_problems(3000))
    held = questions(task.eval_problems(200)[1])
    assert 20 <= len(held) < 200 and not held & train  # fewer distinct than asked: what the level has
    assert len(held | train) <= 200


# --- answers and scores -----------------------------------------------------------------------------------------

@needs_rg
def test_scorer_is_score_answer_with_partial_credit(tmp_path):
    cfg = rg_config(tmp_path, "spell_backward")
    cfg.task.rg_levels = {1: {"min_word_len": 7, "max_word_len": 7}}
    cfg.task.train_levels, cfg.task.eval_levels = [1], [1]
    task = build_task(cfg)
    p = task.eval_problems(1)[1][0]
    score = task.scorer("strict", 2.0)  # rg decides what is right, whatever reward.kind says
    gold = p.answer
    assert score(p, f"<answer>{gold}</answer>").reward == 1.0 and score(p, f"<answer>{gold}</answer>").correct
    wrong_last = gold[:-1] + ("a" if gold[-1] != "a" else "b")
    s = score(p, f"<answer>{wrong_last}</answer>")
    assert s.reward == pytest.approx(6 / 7) and not s.correct  # spell_backward: share of letters in place
    assert score(p, f"<answer>{gold}</answer> then <answer>x</answer>").reward == 0.0  # the last tag counts
    assert score(p, gold).reward == 0.0  # no tag, no answer
    assert task.extract_answer(f"S:<answer> {gold} </answer>") == gold


@needs_rg
def test_chain_sum_partial_credit_and_chain_rendering(tmp_path):
    from scaffold_rl.strategies.hint_ladder import HintLadder

    cfg = rg_config(tmp_path, "chain_sum")
    cfg.task.eval_levels = [1, 3]
    task = build_task(cfg)
    p = task.eval_problems(2)[3][0]
    score = task.scorer("answer", 2.0)
    assert score(p, p.reference).correct
    s = score(p, f"<answer>= {p.answer}</answer>")  # compute_decimal_reward: oracle inside the answer
    assert s.reward == pytest.approx(len(p.answer) / (len(p.answer) + 2)) and not s.correct
    rungs = HintLadder(("solution",)).rungs(p)  # steps concatenate as in the reference; the last is withheld
    assert [h.text for h in rungs] == [p.solution_steps[0], "".join(p.solution_steps[:2])]
    assert all(p.reference.startswith(h.text) for h in rungs)


@needs_rg
def test_labels_and_hints_follow_the_dataset(tmp_path):
    cfg = rg_config(tmp_path, "caesar_cipher")  # non-numeric, no step builder
    task = build_task(cfg)
    p = task.train_problems(1)[0]
    assert not task.supports_hints and p.hints == {} and p.reference == f"<answer>{p.answer}</answer>"
    assert "rg_entry" not in without_labels(p).meta  # the entry holds the answer
    assert build_task(rg_config(tmp_path, "basic_arithmetic")).supports_hints
    spell = build_task(rg_config(tmp_path, "spell_backward")).train_problems(1)[0]
    word = spell.meta["rg_entry"]["metadata"]["word"]
    assert spell.solution_steps == tuple(word[::-1])  # one letter per step: a hint is the answer's first letters
    assert spell.reference == f"{word[::-1]}\n<answer>{word[::-1]}</answer>"
    cfg.strategy.name = "scaf_grpo"
    with pytest.raises(ConfigError, match="no worked solutions"):
        build_task(cfg)


def test_embedded_readability_uses_the_tokenizers_characters():
    from scaffold_rl.models.embedded import CHARS
    from scaffold_rl.tasks.reasoning_gym import EMBEDDED_CHARS

    assert EMBEDDED_CHARS == frozenset(CHARS)


@needs_rg
def test_chat_models_get_the_plain_question_and_rgs_system_prompt(tmp_path):
    from scaffold_rl.models.embedded import build_tokenizer

    cfg = rg_config(tmp_path, "chain_sum")
    cfg.model.path = str(tmp_path / "some-model")  # not loaded: building the task reads no weights
    task = build_task(cfg)
    p = task.train_problems(1)[0]
    assert p.prompt == p.meta["rg_entry"]["question"] and task.first_hard_level is None
    renderer = task.renderer(build_tokenizer())
    assert renderer.system.startswith("Given a problem") and "<answer>answer here</answer>" in renderer.system
    cfg.task.system_prompt = ""
    assert build_task(cfg).renderer(build_tokenizer()).system is None


# --- errors -----------------------------------------------------------------------------------------------------

@needs_rg
def test_unknown_dataset_and_field_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"no dataset 'chain_summ'; did you mean chain_sum"):
        build_task(rg_config(tmp_path, "chain_summ"))
    cfg = rg_config(tmp_path, "chain_sum")
    cfg.task.rg = {"max_digitz": 2}
    with pytest.raises(ConfigError, match=r"task.rg: unknown field\(s\) \['max_digitz'\].*max_digits"):
        build_task(cfg)
    cfg.task.rg = {"seed": 3}
    with pytest.raises(ConfigError, match="set by scaffold-rl"):
        build_task(cfg)
    cfg.task.rg = {"min_digits": 3, "max_digits": 2}
    with pytest.raises(ConfigError, match="level 1 config .* is invalid: max_digits must be >= min_digits"):
        build_task(cfg)


def test_missing_extra_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "reasoning_gym", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'scaffold-rl\[rg\]'"):
        build_task(rg_config(tmp_path, "chain_sum"))


# --- pretraining and training -----------------------------------------------------------------------------------

@needs_rg
def test_pretraining_cache_key_holds_the_task_identity(tmp_path):
    from scaffold_rl.models.pretrain import cache_key, pretraining_task

    cfg = rg_config(tmp_path, "chain_sum")
    key = cache_key(cfg.model, pretraining_task(cfg.model, cfg.task))
    assert key == cache_key(cfg.model, pretraining_task(cfg.model, cfg.task))
    cfg.task.rg = {"min_digits": 2, "max_digits": 2}
    assert cache_key(cfg.model, pretraining_task(cfg.model, cfg.task)) != key
    cfg.task.name = "rg:products"
    cfg.task.rg = {}
    assert cache_key(cfg.model, pretraining_task(cfg.model, cfg.task)) != key
    docs = pretraining_task(cfg.model, cfg.task).mixture("train", {1: 0.5, 2: 0.5}, 6, seed=3)
    assert all(d.prompt.endswith("\nS:") and d.reference.endswith(f"<answer>{d.answer}</answer>") for d in docs)


@needs_rg
def test_two_step_training_run_from_python(tmp_path):
    from scaffold_rl.train.run import train

    cfg = rg_config(tmp_path, "chain_sum")
    run_dir = train(cfg, echo=lambda *a: None, make_report=False)
    base = json.loads((run_dir / "eval_base.json").read_text())
    final = json.loads((run_dir / "eval_final.json").read_text())
    assert sorted(base["levels"]) == ["L1", "L2"] and final["steps"] == 2
    assert "rg:chain_sum test split" in base["held_out"]["held_out"]
    steps = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if '"reward"' in x]
    assert [r["step"] for r in steps] == [1, 2] and "pass_rate/L1" in steps[0]


@pytest.mark.slow  # ~15 s: the train command imports TRL before it reads the config
@needs_rg
def test_two_step_training_run_from_the_cli(tmp_path):
    cfg = rg_config(tmp_path, "basic_arithmetic")
    save_config(cfg, tmp_path / "tiny.yaml")
    out = subprocess.run([sys.executable, "-m", "scaffold_rl", "train", "--config", str(tmp_path / "tiny.yaml"),
                          "--run-dir", str(tmp_path / "run"), "task.name=rg:chain_sum",
                          "task.rg={min_digits: 1, max_digits: 1}"],
                         capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    final = json.loads((tmp_path / "run" / "eval_final.json").read_text())
    assert final["steps"] == 2 and sorted(final["levels"]) == ["L1", "L2"]
    saved = (tmp_path / "run" / "config.yaml").read_text()
    assert "rg:chain_sum" in saved and "min_digits: 1" in saved


@pytest.mark.slow  # ~10 s, as above
@needs_rg
def test_cli_unknown_dataset_exits_with_the_message(tmp_path):
    out = subprocess.run([sys.executable, "-m", "scaffold_rl", "train", f"output_dir={tmp_path}",
                          "task.name=rg:nope_nope"], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert out.returncode == 2 and "no dataset 'nope_nope'" in out.stderr


def test_demo_task_finds_its_packaged_config():
    from scaffold_rl.cli import DEMO_CONFIG, demo_config_for_task
    from scaffold_rl.config import RunConfig
    from scaffold_rl.configio import load_config

    packaged = demo_config_for_task("rg:chain_sum")
    assert packaged.name == "rg_chain_sum.yaml" and packaged != DEMO_CONFIG
    cfg = load_config(RunConfig, packaged, [])
    assert cfg.task.name == "rg:chain_sum" and cfg.train.max_tokens == 1_500_000 and cfg.train.max_minutes is None
    assert demo_config_for_task("rg:spell_backward") == DEMO_CONFIG  # no packaged one: the demo's, task overridden


@pytest.mark.slow  # ~50 s: pretraining, a base evaluation and one arm in a subprocess
@needs_rg
def test_demo_on_a_reasoning_gym_task_prints_the_counted_table(tmp_path):
    cfg = rg_config(tmp_path, "basic_arithmetic")
    save_config(cfg, tmp_path / "tiny.yaml")
    out = subprocess.run([sys.executable, "-m", "scaffold_rl", "demo", "--config", str(tmp_path / "tiny.yaml"),
                          "--task", "rg:chain_sum", "--arms", "grpo", "task.rg={min_digits: 1, max_digits: 1}"],
                         capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    table = [line for line in out.stdout.splitlines() if line.startswith("| ")]
    assert table[0] == "| model | L1 | L2 | steps | tokens |" and table[1].startswith("| base | ")
    assert table[2].startswith("| grpo | ") and table[2].split("|")[-3].strip() == "2"  # two steps trained
    runs = list((tmp_path / "runs").glob("demo-*/grpo/config.yaml"))
    assert len(runs) == 1 and "rg:chain_sum" in runs[0].read_text()


@pytest.mark.slow  # ~50 s, as above
@needs_rg
def test_rg_cliff_benchmark_trains_arms_for_a_counted_budget(tmp_path):
    cfg = rg_config(tmp_path, "chain_sum")
    save_config(cfg, tmp_path / "tiny.yaml")
    dest = tmp_path / "cliff.json"
    out = subprocess.run([sys.executable, "-m", "benchmarks.rg_cliff", "--config", str(tmp_path / "tiny.yaml"),
                          "--arms", "grpo", "--tokens", "1", "--out", str(dest)],
                         capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(dest.read_text())
    assert sorted(result["levels"]) == ["L1", "L2"] and result["budget"] == "1e-06 M tokens"
    row = result["arms"][0]
    assert row["arm"] == "grpo" and row["steps"] == 1 and row["tokens"] >= 1  # the first step spends the budget
    saved = (tmp_path / "cliff" / "grpo" / "config.yaml").read_text()
    assert "max_tokens: 1\n" in saved and "max_minutes: null" in saved
