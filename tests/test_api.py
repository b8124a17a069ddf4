"""The open seams from Python and from the CLI: a user's own task (a registered class), strategy (with its own
options) and TRL reward function, `scaffold_rl.train` with a dataset and a model in memory, and the README's
Python example run as written."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import scaffold_rl
from scaffold_rl.cli import main as cli_main
from scaffold_rl.configio import save_config
from scaffold_rl.types import Problem
from tests.conftest import tiny_config

ROOT = Path(__file__).resolve().parent.parent

# what a user writes: a task, a strategy and a reward function, in one plugin module
PLUGIN = '''
from dataclasses import dataclass

import scaffold_rl
from scaffold_rl.data.arithmetic import ArithmeticSpec, ArithmeticTask

CALLS = []  # what each call of the reward function was given


@scaffold_rl.register_task("plus_chains")
class PlusChains(scaffold_rl.TaskBase):
    """One-operation additions: readable by the embedded model, so it declares so."""

    embedded_ok = True
    answer_pattern = r"A:(-?\\\\d+)"

    def __init__(self, cfg):
        super().__init__(cfg)
        self.source = ArithmeticTask(ArithmeticSpec(ops="+"), seed=cfg.task.seed)
        self.split_info = {"held_out": "the test split of plus-only chains"}

    def train_problems(self, n):
        return self.source.problems("train", 1, n)

    def eval_problems(self, n_per_level):
        return {1: self.source.problems("test", 1, n_per_level)}

    def renderer(self, tokenizer):
        from scaffold_rl.rollout.prompts import PlainRenderer

        return PlainRenderer(tokenizer)


@scaffold_rl.register_strategy
class CountGroups(scaffold_rl.RescueStrategy):
    """Leaves the groups alone and logs groups x scale: its option must arrive typed."""

    name = "count_groups"

    @dataclass
    class Options:
        scale: int = 1

    def __init__(self, options):
        self.options = options

    def rescue(self, batch, ctx):
        ctx.stats["mine/groups_scaled"] = float(len(batch.groups) * self.options.scale)
        return batch


def chain_reward(prompts, completions, answer, completion_ids, trainer_state, log_metric, **kwargs):
    CALLS.append({"n": len(completions), "answers": list(answer), "ids": [len(i) for i in completion_ids],
                  "step": trainer_state.global_step, "prompts": list(prompts)})
    log_metric("calls", float(len(CALLS)))
    return [1.0 if f"A:{a}" in c else 0.0 for c, a in zip(completions, answer)]
'''


def step_records(run_dir):
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if '"reward"' in x]


def check_run(run_dir, calls, scale):
    steps = step_records(run_dir)
    assert [s["step"] for s in steps] == [1, 2]
    assert [s["mine/groups_scaled"] for s in steps] == [2.0 * scale] * 2  # the strategy ran, options typed
    assert all("reward/chain_reward" in s for s in steps)
    # the reward function: one call per generation call (2 problems x 4 samples), given TRL's arguments
    assert [c["n"] for c in calls] == [8, 8] and [c["step"] for c in calls] == [0, 1]
    assert all(a is not None and len(set(c["answers"][i:i + 4])) == 1 for c in calls
               for i, a in zip(range(0, 8, 4), c["answers"][::4]))
    assert all(n > 0 for c in calls for n in c["ids"]) and all(p.startswith("Q:") for c in calls for p in c["prompts"])
    final = json.loads((run_dir / "eval_final.json").read_text())
    assert final["held_out"]["held_out"] == "the test split of plus-only chains" and final["levels"]["L1"]["n"] == 4


def test_user_task_strategy_and_reward_function_from_the_cli(tmp_path):
    plugin = tmp_path / "my_plugin.py"
    plugin.write_text(PLUGIN)
    cfg = tiny_config(tmp_path)
    save_config(cfg, tmp_path / "run.yaml")
    run_dir = tmp_path / "cli_run"
    cli_main(["train", "--config", str(tmp_path / "run.yaml"), "--run-dir", str(run_dir), f"plugins=[{plugin}]",
              "task.name=plus_chains", "strategy.name=count_groups", "strategy.options={scale: 3}",
              f"reward.funcs=[{plugin}:chain_reward]", "eval.hint_depths=[]"])
    module = sys.modules["scaffold_rl_plugin_my_plugin"]
    check_run(run_dir, module.CALLS, scale=3)
    steps = step_records(run_dir)
    assert [s["reward/calls"] for s in steps] == [1.0, 2.0]  # log_metric values reach the step's metrics


def test_user_task_strategy_and_reward_function_from_python(tmp_path):
    plugin = tmp_path / "py_plugin.py"
    plugin.write_text(PLUGIN)
    cfg = tiny_config(tmp_path)
    cfg.plugins = [str(plugin)]
    cfg.task.name, cfg.strategy.name, cfg.strategy.options = "plus_chains", "count_groups", {"scale": 2}
    cfg.eval.hint_depths = []
    calls = []

    def my_reward(prompts, completions, answer, completion_ids, trainer_state, **kwargs):
        calls.append({"n": len(completions), "answers": list(answer), "ids": [len(i) for i in completion_ids],
                      "step": trainer_state.global_step, "prompts": list(prompts)})
        return [1.0 if f"A:{a}" in c else 0.0 for c, a in zip(completions, answer)]

    my_reward.__name__ = "chain_reward"  # the metric is named after the function
    result = scaffold_rl.train(cfg, run_dir=tmp_path / "py_run", reward_funcs=[my_reward], echo=lambda *a: None,
                               make_report=False)
    assert result.run_dir == tmp_path / "py_run" and result.final["steps"] == 2 and result.base is not None
    check_run(result.run_dir, calls, scale=2)
    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert saved["reward"]["funcs"] == ["python:chain_reward"]  # a local function: named, not importable


def boxed_reward(prompts, completions, answer, **kwargs):
    return [1.0 if a is not None and f"\\boxed{{{a}}}" in c else 0.0 for c, a in zip(completions, answer)]


def test_python_dataset_and_model_in_memory(tmp_path, capsys):
    from scaffold_rl.models.loading import load_hf_model
    from tests.test_real_models import save_tiny

    model, tok = load_hf_model(save_tiny("qwen2", tmp_path / "tiny"), echo=lambda *a: None)
    rows = [{"prompt_text": f"What is {i} + 1?", "gold": str(i + 1)} for i in range(12)]
    held = [{"prompt_text": f"What is {i} + 2?", "gold": str(i + 2)} for i in range(3)]
    result = scaffold_rl.train({"output_dir": str(tmp_path / "runs"), "task": {"prompt_field": "prompt_text",
                                                                               "answer_field": "gold"},
                                "rollout": {"num_generations": 2, "max_new_tokens": 8},
                                "train": {"steps": 2, "prompts_per_step": 2}, "eval": {"samples": 0}},
                               ["reward.kind=answer"], model=model, tokenizer=tok, dataset=rows, eval_dataset=held,
                               reward_funcs=[boxed_reward], reward_weights=[2.0], echo=lambda *a: None,
                               make_report=False)
    assert result.final["levels"]["L0"]["n"] == 3 and result.final["held_out"]["held_out"].startswith("eval_dataset")
    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert saved["task"]["name"] == "python:dataset" and saved["model"]["path"] is None
    assert (saved["reward"]["funcs"], saved["reward"]["weights"]) == ([f"{boxed_reward.__module__}:boxed_reward"], [2.0])
    # the recorded names say what a CLI resume can and cannot rebuild
    with pytest.raises(SystemExit):
        cli_main(["train", "--resume", str(result.run_dir)])
    assert "this run's data was passed in Python" in capsys.readouterr().err


def test_trl_reward_functions_are_summed_batched_and_decide_correct():
    from scaffold_rl.rewards.trl_funcs import TRLRewardFunctions

    seen = []

    def a(prompts, completions, answer, **kw):
        seen.append(len(completions))
        return [1.0, None, 0.0]

    def b(prompts, completions, **kw):
        return [0.5, None, 0.25]

    problems = [Problem(id=str(i), prompt="q", answer="1") for i in range(3)]
    reward = TRLRewardFunctions([a, b], weights=[1.0, 2.0], threshold=1.5)
    scores = reward.score_batch([(p, "x", [1]) for p in problems])
    assert [s.reward for s in scores] == [2.0, 0.0, 0.5] and [s.correct for s in scores] == [True, False, False]
    assert scores[0].terms == {"a": 1.0, "b": 0.5} and scores[1].terms == {} and seen == [3]
    with pytest.raises(ValueError, match="returned 3 rewards for 1 completions"):
        reward.score_batch([(problems[0], "x", [1])])


def test_the_readme_python_example_runs_as_written(tmp_path):
    """The block under '## Python API', verbatim, in a fresh interpreter; its hub id resolves to a tiny model put
    in a local Hugging Face cache (nothing is downloaded)."""
    from tests.test_hf_data import fake_hub_cache
    from tests.test_real_models import save_tiny

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    model_id = re.search(r'"path": "([^"]+)"', code).group(1)
    fake_hub_cache(tmp_path / "hub", model_id, save_tiny("qwen2", tmp_path / "tiny"))
    env = dict(os.environ, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1",
               PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    run_dir, greedy = out.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    assert Path(tmp_path / run_dir).is_dir() and 0.0 <= float(greedy) <= 1.0
    final = json.loads((tmp_path / run_dir / "eval_final.json").read_text())
    assert final["steps"] == 4 and final["levels"]["L0"]["n"] == 10
    steps = step_records(tmp_path / run_dir)
    assert [s["step"] for s in steps] == [1, 2, 3, 4] and all("reward/boxed_answer" in s for s in steps)
