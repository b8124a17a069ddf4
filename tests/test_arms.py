"""Arm specs of the benchmarks and the demo: presets, overrides, several overrides per arm in one --arms list."""
from __future__ import annotations

import pytest

from scaffold_rl.arms import PRESETS, arm_from_spec, split_arm_specs


def test_split_keeps_several_overrides_with_their_arm():
    specs = split_arm_specs("grpo,reference:strategy.exemption_steps=0,train.lr=3e-4,scaf:strategy.replace=2,seele")
    assert specs == ["grpo", "reference:strategy.exemption_steps=0,train.lr=3e-4", "scaf:strategy.replace=2", "seele"]


def test_arm_from_spec_names_variants_and_prepends_the_preset():
    arm = arm_from_spec("reference:strategy.exemption_steps=0,train.lr=3e-4")
    assert arm.name == "reference+exemption_steps=0,lr=3e-4"
    assert arm.overrides == PRESETS["reference"] + ["strategy.exemption_steps=0", "train.lr=3e-4"]


def test_unknown_preset_without_overrides_is_an_error():
    with pytest.raises(ValueError, match="unknown arm 'refrence'"):
        arm_from_spec("refrence")
