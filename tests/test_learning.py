"""A trained tiny model beats its start: GRPO on an easy level raises held-out accuracy."""
from scaffold_rl.train.run import train
from tests.conftest import learner_config


def test_short_grpo_run_raises_sampled_accuracy_above_the_start(tmp_path):
    cfg = learner_config(tmp_path)
    cfg.task.train_levels, cfg.task.eval_levels, cfg.task.num_train_problems = [1], [1], 2000
    cfg.train.steps, cfg.train.prompts_per_step, cfg.train.lr, cfg.train.save_every = 30, 8, 1e-3, 30
    cfg.rollout.num_generations, cfg.rollout.max_new_tokens = 8, 20
    cfg.eval.n_per_level, cfg.eval.samples, cfg.eval.sample_problems, cfg.eval.hint_depths = 100, 4, 100, [0]
    run_dir = train(cfg, echo=lambda *a: None, make_report=False)
    import json

    base = json.loads((run_dir / "eval_base.json").read_text())["levels"]["L1"]
    final = json.loads((run_dir / "eval_final.json").read_text())["levels"]["L1"]
    # 400 samples each: a gain of 0.08 is ~3 standard errors at these rates
    assert final["sampled"] > base["sampled"] + 0.08, (base, final)
    steps = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if '"reward"' in x]
    early = sum(s["reward"] for s in steps[:5]) / 5
    late = sum(s["reward"] for s in steps[-5:]) / 5
    assert late > early
