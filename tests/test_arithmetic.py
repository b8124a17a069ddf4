import re

import pytest

from scaffold_rl.data.arithmetic import ArithmeticSpec, ArithmeticTask, make_problem


def _evaluate(question: str) -> int:
    tokens = re.findall(r"\d+|[+\-*]", question)
    value = int(tokens[0])
    for op, x in zip(tokens[1::2], tokens[2::2]):
        value = {"+": value + int(x), "-": value - int(x), "*": value * int(x)}[op]
    return value


def test_same_seed_same_problems_and_different_seed_differs():
    a, b, c = ArithmeticTask(seed=0), ArithmeticTask(seed=0), ArithmeticTask(seed=1)
    pa = [p.prompt for p in a.problems("train", 3, 50)]
    assert pa == [p.prompt for p in b.problems("train", 3, 50)]
    assert pa != [p.prompt for p in c.problems("train", 3, 50)]
    # any single problem regenerates alone, without drawing the ones before it
    assert a.problem("train", 3, 37).prompt == pa[37]


def test_train_and_test_are_disjoint_and_split_is_by_content():
    task = ArithmeticTask()
    for level in (1, 2, 3):
        train = {p.prompt for p in task.problems("train", level, 2000)}
        test = {p.prompt for p in task.problems("test", level, 500)}
        assert not train & test
        assert all(task.is_test(p) for p in task.problems("test", level, 50))
        assert not any(task.is_test(p) for p in task.problems("train", level, 50))


@pytest.mark.parametrize("level", [1, 2, 3, 5])
def test_steps_answer_and_reference_are_consistent(level):
    spec = ArithmeticSpec()
    for p in ArithmeticTask(spec).problems("test", level, 100):
        question = p.prompt[2:].split("=?")[0]
        assert int(p.answer) == _evaluate(question)
        assert p.level == level and len(p.solution_steps) == level
        assert p.reference == "".join(p.solution_steps) + f"\nA:{p.answer}"
        values = [int(s.split("=")[1].rstrip(".")) for s in p.solution_steps]
        assert all(spec.value_min <= v <= spec.value_max for v in values)
        # each step starts from the previous result
        for prev, step in zip(values, p.solution_steps[1:]):
            assert step.startswith(str(prev))
        assert len(p.hints["knowledge"]) == len(p.hints["planning"]) == level
        assert p.hints["solution"] == p.solution_steps


def test_hint_tiers_reveal_progressively_more():
    p = make_problem(143, [("-", 7), ("+", 8)])
    assert p.prompt == "Q:143-7+8=?\nS:"
    assert p.reference == "143-7=136.136+8=144.\nA:144"
    assert p.hints["knowledge"] == ("sub 7.", "add 8.")
    assert p.hints["planning"] == ("143-7=?.", "?+8=?.")
    assert "136" not in "".join(p.hints["planning"])  # no calculations in the plan


def test_answers_spread_over_hundreds_of_values():
    """0..99 answers gave a 1-5% lucky-hit floor in the trial; 100..999 spreads them ten times wider."""
    problems = ArithmeticTask().problems("test", 3, 300)
    assert len({p.answer for p in problems}) > 250
    assert min(int(p.answer) for p in problems) >= 100 and max(int(p.answer) for p in problems) <= 999


def test_spec_validation():
    with pytest.raises(ValueError):
        ArithmeticSpec(ops="/")
    with pytest.raises(ValueError):
        ArithmeticSpec(value_min=5, value_max=5)
    with pytest.raises(ValueError):
        ArithmeticTask().problem("dev", 1, 0)


def test_wide_operations_draw_two_digit_operands_and_keep_default_problems():
    from scaffold_rl.data.arithmetic import ArithmeticTask

    narrow, wide = ArithmeticTask(), ArithmeticTask(ArithmeticSpec(wide_share=1.0))
    operands = [int(x) for p in wide.problems("train", 3, 50) for x in re.findall(r"[+-](\d+)", p.prompt)]
    assert operands and all(10 <= x <= 99 for x in operands)
    # wide_share=0 draws exactly as before the option existed, and keeps the old identity (cache keys)
    assert [p.prompt for p in narrow.problems("test", 3, 5)] == [
        p.prompt for p in ArithmeticTask(ArithmeticSpec(wide_share=0.0)).problems("test", 3, 5)]
    assert "wide_share" not in narrow.spec.identity() and wide.spec.identity()["wide_share"] == 1.0
    with pytest.raises(ValueError):
        ArithmeticSpec(wide_share=1.5)


def test_default_embedded_cache_key_is_stable():
    """Adding task or pretraining options must not silently re-pretrain everyone's cached base model."""
    from scaffold_rl.config import RunConfig
    from scaffold_rl.models.pretrain import cache_key, pretraining_task

    cfg = RunConfig()
    cfg.model.pretrain.bf16 = "off"
    assert cache_key(cfg.model, pretraining_task(cfg.model, cfg.task)) == "c8d1f71972383ca2"
