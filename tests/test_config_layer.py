"""The configuration layer: strategy subsections and plugin options, renamed keys and TRL's names pointing to ours,
train.trl passed through to GRPOConfig, train.report_to, eval.max_new_tokens following the rollout, chat template
arguments, --help-config, and the package root's exports."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scaffold_rl.config import RunConfig
from scaffold_rl.configio import ConfigError, load_config
from scaffold_rl.startup import check_config

ROOT = Path(__file__).resolve().parent.parent


def load(*overrides, path=None):
    return load_config(RunConfig, path, list(overrides))


# --- strategy subsections -------------------------------------------------------------------------------


def test_each_strategy_reads_its_own_subsection():
    from scaffold_rl.strategies.base import build_strategy

    scaf = build_strategy(load("strategy.name=scaf_grpo", "strategy.scaf.hint_placement=response",
                               "strategy.scaf.hint_tiers=[solution]", "strategy.scaf.search=batched",
                               "strategy.replace=2"))
    assert (scaf.placement, scaf.ladder.tiers, scaf.search, scaf.replace) == ("response", ("solution",), "batched", 2)
    seele = build_strategy(load("strategy.name=seele", "strategy.seele.rounds=2", "strategy.seele.target=0.25",
                                "strategy.seele.granularity=char"))
    assert (seele.rounds, seele.samples_per_round, seele.target, seele.prefix.granularity) == (2, 4, 0.25, "char")
    dapo = build_strategy(load("strategy.name=dynamic_sampling", "strategy.dapo.max_extra_batches=5"))
    assert dapo.max_extra_batches == 5


@pytest.mark.parametrize("old, new", [
    ("strategy.seele_rounds=3", "strategy.seele.rounds"),
    ("strategy.seele_hint_loss=rl", "strategy.seele.hint_loss"),
    ("strategy.hint_placement=response", "strategy.scaf.hint_placement"),
    ("strategy.search=batched", "strategy.scaf.search"),
    ("strategy.dapo_max_extra_batches=1", "strategy.dapo.max_extra_batches"),
    ("rollout.generation_batch_size=64", "rollout.max_batch_sequences"),
])
def test_an_old_flat_key_is_an_error_naming_its_new_key(old, new):
    with pytest.raises(ConfigError, match=f"was renamed: use '{new}'"):
        load(old)


def test_an_old_key_in_a_yaml_file_names_the_line_and_the_new_key(tmp_path):
    (tmp_path / "old.yaml").write_text("strategy:\n  name: seele\n  seele_target: 0.5\n")
    with pytest.raises(ConfigError, match=r"old\.yaml:3: 'strategy\.seele_target' was renamed: use "
                                          r"'strategy\.seele\.target'"):
        load(path=tmp_path / "old.yaml")


def test_strategy_name_is_checked_at_startup_against_the_registry_with_the_names_listed(tmp_path):
    (tmp_path / "c.yaml").write_text("strategy:\n  name: scaf\n")
    cfg = load(path=tmp_path / "c.yaml")  # a plain string at load time: plugins may register it
    with pytest.raises(ConfigError, match=r"c\.yaml:2: unknown strategy 'scaf'; available: ") as err:
        check_config(cfg)
    listed = str(err.value).split("available: ")[1].split(" (")[0].split(", ")
    assert {"dynamic_sampling", "grpo", "reference", "scaf_grpo", "seele"} <= set(listed)  # plugins' too, if any


PLUGIN = '''
from dataclasses import dataclass

import scaffold_rl


@scaffold_rl.register_strategy
class Scaled(scaffold_rl.RescueStrategy):
    """Counts groups: stats carry groups x options.scale (a strategy with its own typed options)."""

    name = "scaled_count"

    @dataclass
    class Options:
        scale: int = 1
        tag: str = "x"

    def __init__(self, options):
        self.options = options

    def rescue(self, batch, ctx):
        ctx.stats["mine/groups_scaled"] = float(len(batch.groups) * self.options.scale)
        return batch
'''


def test_a_plugin_strategy_gets_its_options_checked_by_its_own_dataclass(tmp_path):
    from scaffold_rl.strategies.base import build_strategy

    plugin = tmp_path / "my_strategy.py"
    plugin.write_text(PLUGIN)
    base = [f"plugins=[{plugin}]", "strategy.name=scaled_count"]
    built = build_strategy(load(*base, "strategy.options={scale: 3}"))
    assert (type(built).__name__, built.options.scale, built.options.tag) == ("Scaled", 3, "x")
    with pytest.raises(ConfigError, match=r"unknown key 'strategy\.options\.sclae'; did you mean "
                                          r"'strategy\.options\.scale'"):
        check_config(load(*base, "strategy.options={sclae: 3}"))
    with pytest.raises(ConfigError, match=r"invalid value for 'strategy\.options\.scale': expected int"):
        check_config(load(*base, "strategy.options={scale: many}"))
    with pytest.raises(ConfigError, match=r"strategy 'seele' takes no strategy\.options .*strategy\.seele\.\*"):
        check_config(load("strategy.name=seele", "strategy.options={rounds: 2}"))


# --- TRL's names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key, ours", [
    ("train.learning_rate=1e-5", "train.lr"), ("learning_rate=1e-5", "train.lr"),
    ("train.num_generations=4", "rollout.num_generations"), ("rollout.max_completion_length=9",
                                                             "rollout.max_new_tokens"),
    ("train.per_device_train_batch_size=4", "train.prompts_per_step"), ("train.num_iterations=2",
                                                                       "train.mini_batches"),
])
def test_trl_names_point_to_ours(key, ours):
    with pytest.raises(ConfigError, match=f"is TRL's name; ours is '{ours}'"):
        load(key)


def test_train_trl_passes_other_grpo_config_fields_and_refuses_ours_with_the_reason():
    from scaffold_rl.train.trainer import grpo_args

    args = grpo_args(load("train.trl={lr_scheduler_type: cosine, mask_truncated_completions: true, "
                          "adam_beta1: 0.8}", "train.lr=3e-5"), Path("/tmp/x"))
    assert (args.lr_scheduler_type.value, args.mask_truncated_completions, args.adam_beta1, args.learning_rate) == \
        ("cosine", True, 0.8, 3e-5)
    with pytest.raises(ConfigError, match=r"train\.trl\.learning_rate: set our key 'train\.lr' instead"):
        grpo_args(load("train.trl={learning_rate: 1e-5}"), Path("/tmp/x"))
    with pytest.raises(ConfigError, match=r"train\.trl\.logging_steps cannot be passed through: every step is "
                                          "logged"):
        grpo_args(load("train.trl={logging_steps: 10}"), Path("/tmp/x"))
    with pytest.raises(ConfigError, match=r"'mask_truncated_completion' is not a trl\.GRPOConfig field.*did you "
                                          r"mean 'mask_truncated_completions'"):
        grpo_args(load("train.trl={mask_truncated_completion: true}"), Path("/tmp/x"))


def test_report_to_reaches_grpo_config_and_a_missing_tracker_is_a_clear_error(monkeypatch):
    import importlib.util

    from scaffold_rl.train.trainer import grpo_args

    assert grpo_args(load(), Path("/tmp/x")).report_to in ([], "none", ["none"])
    assert grpo_args(load("train.report_to=tensorboard"), Path("/tmp/x")).report_to == ["tensorboard"]
    assert grpo_args(load("train.report_to=[tensorboard, wandb]"), Path("/tmp/x")).report_to == ["tensorboard",
                                                                                                  "wandb"]
    with pytest.raises(ConfigError, match="'none', or one or more trackers"):
        load("train.report_to=[none, wandb]")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "trackio" else real(name, *a))
    with pytest.raises(ConfigError, match=r"train\.report_to=trackio needs trackio installed: pip install trackio"):
        check_config(load("train.report_to=trackio"))


def test_help_config_shows_the_new_keys_and_trls_names():
    from scaffold_rl.cli import help_config

    text = help_config()
    for line in ("strategy.seele.rounds: int = 4", "strategy.scaf.hint_placement:", "strategy.options:",
                 "train.trl: dict[str, Any] = {}", "train.report_to:", "rollout.chat_template_kwargs:",
                 "rollout.max_batch_sequences: int = 256", "task.prompt_field:", "task.answer_field:",
                 "task.solution_field:", "task.hf_config:", "reward.funcs:", "eval.max_new_tokens: int | None = null",
                 "learning_rate                  -> train.lr", "logging_steps"):
        assert line in text, line


# --- smaller knobs --------------------------------------------------------------------------------------


def test_eval_max_new_tokens_follows_the_rollout_unless_set():
    from scaffold_rl.eval.held_out import eval_max_new_tokens

    assert eval_max_new_tokens(load("rollout.max_new_tokens=48")) == 48
    assert eval_max_new_tokens(load("rollout.max_new_tokens=48", "eval.max_new_tokens=100")) == 100


def test_chat_template_kwargs_and_system_prompt_reach_the_chat_template():
    from scaffold_rl.tasks.base import TaskBase
    from scaffold_rl.types import Problem

    class Tok:
        chat_template = "x"

        def apply_chat_template(self, messages, **kwargs):
            self.seen = (messages, kwargs)
            return [1, 2, 3]

    tok = Tok()
    cfg = load("rollout.chat_template_kwargs={enable_thinking: false}", "task.system_prompt=Be brief.")
    TaskBase(cfg).renderer(tok).render(Problem(id="p", prompt="2+2?"))
    messages, kwargs = tok.seen
    assert messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]
    assert kwargs == {"add_generation_prompt": True, "tokenize": True, "enable_thinking": False}


def test_the_package_root_exports_what_a_user_needs_without_importing_trl():
    code = textwrap.dedent("""
        import sys
        import scaffold_rl
        names = ["train", "TrainResult", "RunConfig", "load_config", "ConfigError", "register_task", "TaskBase",
                 "register_strategy", "RescueStrategy", "Problem", "Hint", "Batch"]
        assert all(getattr(scaffold_rl, n) is not None for n in names)
        assert callable(scaffold_rl.train) and "trl" not in sys.modules
        import scaffold_rl.train.run  # the package stays a package
        assert callable(scaffold_rl.train) and scaffold_rl.train.run.train
        from scaffold_rl.api import train
        assert scaffold_rl.train.__call__.__func__ is not None
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


def test_the_config_module_imports_neither_rewards_nor_trl():
    code = ("import sys, scaffold_rl.config, scaffold_rl.configio; "
            "print(sorted(m for m in sys.modules if m.startswith(('scaffold_rl.rewards', 'trl', 'torch'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr[-2000:]
