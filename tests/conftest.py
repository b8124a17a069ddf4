import os

import pytest
import torch

# Tests share 2 cores with nothing else in CI; one torch thread per test process keeps timings stable.
torch.set_num_threads(int(os.environ.get("SCAFFOLD_RL_TEST_THREADS", "2")))


def tiny_config(tmp_path, **over):
    """A RunConfig small enough for unit tests: 1-layer model, few problems, few steps."""
    from scaffold_rl.config import RunConfig

    cfg = RunConfig(name="t", output_dir=str(tmp_path / "runs"))
    cfg.model.cache_dir = str(tmp_path / "cache")
    e = cfg.model.embedded
    e.hidden_size, e.intermediate_size, e.num_layers, e.num_heads, e.max_positions = 32, 64, 1, 2, 96
    cfg.model.pretrain.steps, cfg.model.pretrain.batch_size = 3, 8
    cfg.task.train_levels, cfg.task.eval_levels, cfg.task.num_train_problems = [1], [1, 2], 64
    cfg.train.steps, cfg.train.prompts_per_step = 2, 2
    cfg.rollout.num_generations, cfg.rollout.max_new_tokens = 4, 16
    cfg.eval.n_per_level, cfg.eval.samples, cfg.eval.sample_problems, cfg.eval.hint_depths = 4, 2, 2, [0, 1]
    for key, value in over.items():
        section, name = key.split("__")
        setattr(getattr(cfg, section), name, value)
    return cfg


@pytest.fixture
def tiny_cfg(tmp_path):
    return tiny_config(tmp_path)


def learner_config(tmp_path, **over):
    """A small model pretrained (about a minute, cached across runs) to ~50% greedy on level 1: room to improve."""
    import os
    from pathlib import Path

    cfg = tiny_config(tmp_path, **over)
    cfg.model.cache_dir = os.environ.get("SCAFFOLD_RL_CACHE") or str(Path.home() / ".cache" / "scaffold-rl")
    e = cfg.model.embedded
    e.hidden_size, e.intermediate_size, e.num_layers, e.num_heads, e.max_positions = 96, 192, 2, 2, 96
    pt = cfg.model.pretrain
    pt.steps, pt.batch_size, pt.lr, pt.warmup_steps, pt.level_mix = 400, 64, 3e-3, 10, {1: 1.0}
    return cfg
