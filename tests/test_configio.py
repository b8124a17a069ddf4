"""Tests for scaffold_rl.configio: YAML + dotted overrides onto typed dataclass trees."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import pytest
import yaml

from scaffold_rl.configio import ConfigError, config_to_dict, describe_config, load_config, save_config


@dataclass
class ModelCfg:
    path: str = field(default="tiny/model", metadata={"help": "HF id or local path of the policy."})
    dtype: Literal["bf16", "fp32"] = "bf16"


@dataclass
class StrategyCfg:
    name: Literal["grpo", "scaf_grpo"] = field(default="grpo", metadata={"help": "Which RL strategy to run."})


@dataclass
class TrainCfg:
    lr: float = field(default=1e-6, metadata={"help": "Peak learning rate."})
    steps: int = 10
    bf16: bool = False
    warmup_ratio: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")


@dataclass
class RolloutCfg:
    levels: list[int] = field(default_factory=lambda: [1, 2])
    temps: tuple[float, ...] = (1.0,)
    pair: tuple[int, str] = (0, "a")


@dataclass
class EvalCfg:
    max_new_tokens: int | None = 256
    out_dir: Path = Path("runs/eval")
    extra: dict[str, float] = field(default_factory=dict)
    stop: Optional[list[str]] = None


@dataclass
class RefCfg:
    beta: float = 0.04


@dataclass
class Cfg:
    name: str = "demo"
    seed: int = 0
    model: ModelCfg = field(default_factory=ModelCfg, metadata={"help": "Policy model settings."})
    strategy: StrategyCfg = field(default_factory=StrategyCfg)
    train: TrainCfg = field(default_factory=TrainCfg)
    rollout: RolloutCfg = field(default_factory=RolloutCfg)
    eval: EvalCfg = field(default_factory=EvalCfg)
    ref: RefCfg | None = None


@dataclass
class NeedsPath:
    data: str
    train: TrainCfg


def write(tmp_path: Path, text: str, name: str = "cfg.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text).lstrip("\n"))
    return p


def test_defaults() -> None:
    cfg = load_config(Cfg)
    assert cfg == Cfg()
    assert cfg.rollout.levels == [1, 2] and cfg.ref is None
    assert load_config(Cfg).rollout.levels is not cfg.rollout.levels  # default_factory, not shared


def test_yaml_load(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
        name: run1
        model:
          path: /x/y
        train:
          steps: 5
          bf16: true
        rollout:
          levels: [3, 4]
        eval:
          out_dir: out/ev
          extra: {a: 1, b: 2.5}
        """,
    )
    cfg = load_config(Cfg, p)
    assert cfg.name == "run1" and cfg.model.path == "/x/y" and cfg.model.dtype == "bf16"
    assert cfg.train.steps == 5 and cfg.train.bf16 is True and cfg.train.lr == 1e-6
    assert cfg.rollout.levels == [3, 4]
    assert cfg.eval.out_dir == Path("out/ev") and isinstance(cfg.eval.out_dir, Path)
    assert cfg.eval.extra == {"a": 1.0, "b": 2.5} and isinstance(cfg.eval.extra["a"], float)


def test_override_beats_file_and_later_beats_earlier(tmp_path: Path) -> None:
    p = write(tmp_path, "train:\n  steps: 5\nseed: 1\n")
    cfg = load_config(Cfg, p, ["train.steps=7", "seed=2", "seed=3", "model.path=/x/y", "strategy.name=scaf_grpo"])
    assert cfg.train.steps == 7 and cfg.seed == 3
    assert cfg.model.path == "/x/y" and cfg.strategy.name == "scaf_grpo"


def test_scientific_float_from_yaml_and_override(tmp_path: Path) -> None:
    p = write(tmp_path, "train:\n  lr: 1e-5\n  warmup_ratio: 0\n")
    cfg = load_config(Cfg, p)
    assert cfg.train.lr == 1e-5 and isinstance(cfg.train.lr, float)
    assert cfg.train.warmup_ratio == 0.0 and isinstance(cfg.train.warmup_ratio, float)
    cfg = load_config(Cfg, p, ["train.lr=3e-4"])
    assert cfg.train.lr == 3e-4 and isinstance(cfg.train.lr, float)
    assert load_config(Cfg, overrides=["train.lr=1"]).train.lr == 1.0


def test_optional_null(tmp_path: Path) -> None:
    assert load_config(Cfg, overrides=["eval.max_new_tokens=null"]).eval.max_new_tokens is None
    assert load_config(Cfg, write(tmp_path, "eval:\n  max_new_tokens: ~\n")).eval.max_new_tokens is None
    assert load_config(Cfg, overrides=["eval.max_new_tokens=12"]).eval.max_new_tokens == 12
    with pytest.raises(ConfigError, match=r"train\.steps.*expected int.*None"):
        load_config(Cfg, overrides=["train.steps=null"])


def test_optional_section_created_by_override() -> None:
    assert load_config(Cfg, overrides=["ref.beta=0.1"]).ref == RefCfg(beta=0.1)
    assert load_config(Cfg, overrides=["ref={}"]).ref == RefCfg()
    assert load_config(Cfg, overrides=["ref.beta=0.1", "ref=null"]).ref is None


def test_literal_rejection_lists_choices() -> None:
    with pytest.raises(ConfigError) as ei:
        load_config(Cfg, overrides=["strategy.name=scaf_grpoo"])
    msg = str(ei.value)
    assert "strategy.name" in msg and "'grpo'" in msg and "'scaf_grpo'" in msg
    assert "did you mean 'scaf_grpo'" in msg and msg.startswith("override 'strategy.name=scaf_grpoo'")


def test_list_and_tuple_parsing(tmp_path: Path) -> None:
    cfg = load_config(Cfg, overrides=["rollout.levels=[2,3,3]", "rollout.temps=[0.7, 1]", "rollout.pair=[5, b]"])
    assert cfg.rollout.levels == [2, 3, 3]
    assert cfg.rollout.temps == (0.7, 1.0) and isinstance(cfg.rollout.temps, tuple)
    assert cfg.rollout.pair == (5, "b")
    cfg = load_config(Cfg, write(tmp_path, "rollout:\n  temps:\n    - 1e-1\n    - 2\n"))
    assert cfg.rollout.temps == (0.1, 2.0)
    assert load_config(Cfg, overrides=["eval.stop=[a, '</s>']"]).eval.stop == ["a", "</s>"]
    with pytest.raises(ConfigError, match=r"rollout\.levels\[1\].*expected int.*'x'"):
        load_config(Cfg, overrides=["rollout.levels=[1,x]"])
    with pytest.raises(ConfigError, match=r"'rollout\.levels'.*expected list\[int\]"):
        load_config(Cfg, overrides=["rollout.levels=3"])
    with pytest.raises(ConfigError, match="exactly 2 items"):
        load_config(Cfg, overrides=["rollout.pair=[1]"])


def test_bool_strictness(tmp_path: Path) -> None:
    assert load_config(Cfg, overrides=["train.bf16=true"]).train.bf16 is True
    assert load_config(Cfg, overrides=["train.bf16=no"]).train.bf16 is False
    assert load_config(Cfg, write(tmp_path, 'train:\n  bf16: "Yes"\n')).train.bf16 is True
    for bad in ("3", "1", "maybe", "[true]"):
        with pytest.raises(ConfigError, match=r"train\.bf16.*expected bool"):
            load_config(Cfg, overrides=[f"train.bf16={bad}"])
    with pytest.raises(ConfigError, match=r"cfg\.yaml:2:.*train\.bf16"):
        load_config(Cfg, write(tmp_path, "train:\n  bf16: 0\n"))


def test_unknown_key_in_file_top_level(tmp_path: Path) -> None:
    p = write(tmp_path, "name: x\nsed: 1\n")
    with pytest.raises(ConfigError) as ei:
        load_config(Cfg, p)
    assert str(ei.value) == f"{p}:2: unknown key 'sed'; did you mean 'seed'?"


def test_unknown_key_in_file_nested(tmp_path: Path) -> None:
    p = write(tmp_path, "name: x\ntrain:\n  steps: 3\n\n  lrr: 1e-5\n")
    with pytest.raises(ConfigError) as ei:
        load_config(Cfg, p)
    assert str(ei.value) == f"{p}:5: unknown key 'train.lrr'; did you mean 'train.lr'?"


def test_misplaced_key_suggests_other_section(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cfg\.yaml:1: unknown key 'lr'; did you mean 'train\.lr'\?"):
        load_config(Cfg, write(tmp_path, "lr: 1e-5\n"))


def test_unknown_key_from_override() -> None:
    with pytest.raises(ConfigError) as ei:
        load_config(Cfg, overrides=["train.lrr=1e-5"])
    assert str(ei.value) == "override 'train.lrr=1e-5': unknown key 'train.lrr'; did you mean 'train.lr'?"
    with pytest.raises(ConfigError, match=r"unknown key 'trian'; did you mean 'train'"):
        load_config(Cfg, overrides=["trian.lr=1"])
    with pytest.raises(ConfigError, match=r"'train\.lr' is a float value, not a section"):
        load_config(Cfg, overrides=["train.lr.x=1"])
    with pytest.raises(ConfigError, match=r"override 'train=\{lrr: 1\}': unknown key 'train\.lrr'"):
        load_config(Cfg, overrides=["train={lrr: 1}"])


def test_type_error_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as ei:
        load_config(Cfg, overrides=["train.steps=abc"])
    assert str(ei.value) == (
        "override 'train.steps=abc': invalid value for 'train.steps': expected int, got 'abc' (str)"
    )
    p = write(tmp_path, "train:\n  steps: 3\n  lr: fast\n")
    with pytest.raises(ConfigError, match=r"cfg\.yaml:3: invalid value for 'train\.lr': expected float, got 'fast'"):
        load_config(Cfg, p)
    with pytest.raises(ConfigError, match=r"cfg\.yaml:1: section 'train' must be a mapping"):
        load_config(Cfg, write(tmp_path, "train: 3\n"))
    with pytest.raises(ConfigError, match=r"'name'.*expected str.*quote it"):
        load_config(Cfg, write(tmp_path, "name: 2024\n"))


def test_str_override_keeps_raw_text() -> None:
    cfg = load_config(Cfg, overrides=["name=2024", "model.path=1e-5", "eval.out_dir=/tmp/x: y"])
    assert cfg.name == "2024" and cfg.model.path == "1e-5" and cfg.eval.out_dir == Path("/tmp/x: y")
    assert load_config(Cfg, overrides=["eval.extra.k=0.5"]).eval.extra == {"k": 0.5}


def test_missing_equals() -> None:
    with pytest.raises(ConfigError, match=r"invalid override 'train\.lr': expected KEY=VALUE"):
        load_config(Cfg, overrides=["train.lr"])
    with pytest.raises(ConfigError, match="empty key"):
        load_config(Cfg, overrides=["=3"])


def test_post_init_error_wrapped_with_section_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as ei:
        load_config(Cfg, overrides=["train.warmup_ratio=1.5"])
    msg = str(ei.value)
    assert "invalid section 'train' (TrainCfg)" in msg and "warmup_ratio must be in [0, 1), got 1.5" in msg
    assert isinstance(ei.value.__cause__, ValueError)
    p = write(tmp_path, "seed: 1\ntrain:\n  warmup_ratio: 2\n")
    with pytest.raises(ConfigError, match=r"cfg\.yaml:2: invalid section 'train'"):
        load_config(Cfg, p)


def test_required_fields(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing required key 'data' \(str\).*data=\.\.\."):
        load_config(NeedsPath)
    cfg = load_config(NeedsPath, overrides=["data=d.jsonl"])
    assert cfg == NeedsPath(data="d.jsonl", train=TrainCfg())


def test_yaml_file_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Cfg, tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"cfg\.yaml:2: invalid YAML"):
        load_config(Cfg, write(tmp_path, "a: [1,\nb: }\n"))
    with pytest.raises(ConfigError, match=r"cfg\.yaml:3: duplicate key 'train\.lr'"):
        load_config(Cfg, write(tmp_path, "train:\n  lr: 1\n  lr: 2\n"))
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(Cfg, write(tmp_path, "- 1\n"))
    assert load_config(Cfg, write(tmp_path, "# only a comment\n")) == Cfg()


def test_round_trip(tmp_path: Path) -> None:
    cfg = load_config(
        Cfg,
        overrides=[
            "train.lr=1e-5", "rollout.temps=[0.5, 0.25]", "eval.out_dir=/a/b", "eval.max_new_tokens=null",
            "eval.extra={x: 1.5}", "ref.beta=0.2", "strategy.name=scaf_grpo", "name=007",
        ],
    )
    out = save_config(cfg, tmp_path / "sub" / "saved.yaml")
    data = yaml.safe_load(out.read_text())
    assert data == config_to_dict(cfg)
    assert data["rollout"]["temps"] == [0.5, 0.25] and data["eval"]["out_dir"] == "/a/b"
    assert data["name"] == "007"
    assert load_config(Cfg, out) == cfg
    assert load_config(Cfg, save_config(Cfg(), tmp_path / "d.yaml")) == Cfg()


def test_describe_config_lists_keys_types_defaults_help() -> None:
    text = describe_config(Cfg)
    for needle in (
        "train.lr: float = 1.0e-06",
        "Peak learning rate.",
        "HF id or local path of the policy.",
        "Which RL strategy to run.",
        "Policy model settings.",
        "strategy.name: Literal['grpo', 'scaf_grpo'] = grpo",
        "eval.max_new_tokens: int | None = 256",
        "rollout.levels: list[int] = [1, 2]",
        "ref: RefCfg | None section = null",
        "ref.beta: float = 0.04",
    ):
        assert needle in text, needle
    assert "data: str = (required)" in describe_config(NeedsPath)


@dataclass
class _Inner:
    a: int = 1
    b: str = "x"


@dataclass
class _Outer:
    inner: _Inner = field(default_factory=lambda: _Inner(a=5, b="y"))


def test_partial_nested_section_keeps_parent_default_factory():
    """Overriding one key of a section whose parent default is not the section's class default keeps the rest."""
    assert load_config(_Outer, None, ["inner.b=z"]).inner == _Inner(a=5, b="z")
    assert load_config(_Outer, None, []).inner == _Inner(a=5, b="y")


def test_dict_knob_is_replaced_whole_and_survives_save_and_reload(tmp_path):
    from scaffold_rl.config import RunConfig

    cfg = load_config(RunConfig, None, ["model.pretrain.level_mix={1: 1.0}", "model.embedded.num_layers=2"])
    assert cfg.model.pretrain.level_mix == {1: 1.0} and cfg.model.embedded.num_layers == 2
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(RunConfig, tmp_path / "c.yaml") == cfg
