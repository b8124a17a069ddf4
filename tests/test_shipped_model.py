"""The shipped embedded base model: found for the default config on any machine, and it reproduces the evaluation
table stored beside it (so every figure that starts from it starts from the same model)."""
import json

import pytest

from scaffold_rl.config import RunConfig
from scaffold_rl.models.pretrain import ASSETS, load_or_pretrain, shipped_path


def test_default_config_uses_the_shipped_model_whatever_the_cpu(monkeypatch, tmp_path):
    from scaffold_rl.models import pretrain

    cfg = RunConfig()
    cfg.model.cache_dir = str(tmp_path)  # an empty cache: nothing may be pretrained
    path = shipped_path(cfg.model, cfg.task)
    assert path is not None and path.parent == ASSETS
    for has_bf16 in (True, False):  # the key does not depend on the CPU's bf16 support
        monkeypatch.setattr(pretrain, "cpu_has_bf16", lambda: has_bf16)
        assert shipped_path(cfg.model, cfg.task) == path
    monkeypatch.setattr(pretrain, "pretrain", lambda *a, **k: pytest.fail("pretrained instead of loading"))
    model, tokenizer, where = load_or_pretrain(cfg.model, cfg.task)
    assert where == path and next(model.parameters()).dtype.is_floating_point
    assert str(next(model.parameters()).dtype) == "torch.float32"  # stored in bf16, trained in float32
    info = json.loads((path / "pretrain.json").read_text())
    assert info["stored_dtype"] == "bfloat16" and "scaffold-rl pretrain --ship" in info["rebuild_command"]


def test_the_shipped_model_reproduces_its_evaluation_table():
    from scaffold_rl.eval.evaluate import evaluate_levels
    from scaffold_rl.eval.held_out import eval_max_new_tokens
    from scaffold_rl.models.loading import load_policy
    from scaffold_rl.tasks import build_task
    from scaffold_rl.train.run import make_sampler

    cfg = RunConfig()
    table = json.loads((shipped_path(cfg.model, cfg.task) / "eval.json").read_text())
    cfg.eval.n_per_level = table["n_per_level"]
    model, tokenizer = load_policy(cfg, echo=lambda *a: None)
    task = build_task(cfg)
    sampler = make_sampler(cfg, model, tokenizer, task, evaluation=True)
    by_level = task.eval_problems(cfg.eval.n_per_level)
    got = evaluate_levels(sampler, by_level, max_new_tokens=eval_max_new_tokens(cfg), seed=1234)
    assert {k: v["greedy"] for k, v in got.items()} == table["levels"]
    hard = task.first_hard_level
    for key, expected in table["hints"].items():
        depth = int(key.split("k=")[1])
        res = evaluate_levels(sampler, {hard: by_level[hard]}, max_new_tokens=eval_max_new_tokens(cfg),
                              hint_depth=depth, seed=1234)
        assert res[f"L{hard}"]["greedy"] == expected, key
