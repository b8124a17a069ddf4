"""`scaffold-rl prm label | train | eval` end to end on a 1-layer embedded model (seconds)."""
import json

from scaffold_rl.cli import main


def tiny_overrides(tmp_path):
    return [f"model.cache_dir={tmp_path / 'cache'}", "model.embedded.hidden_size=32",
            "model.embedded.intermediate_size=64", "model.embedded.num_layers=1", "model.embedded.num_heads=2",
            "model.embedded.max_positions=96", "model.pretrain.steps=3", "model.pretrain.batch_size=8",
            "rollout.max_new_tokens=24", "train.threads=1"]


def test_label_train_eval(tmp_path, capsys):
    over = tiny_overrides(tmp_path)
    labels, prm_dir = tmp_path / "labels.jsonl", tmp_path / "prm"
    main(["prm", "label", "--output", str(labels), "--problems", "3", "--levels", "1,2", "--solutions", "2",
          "--completions", "2", "--method", "binary", *over])
    summary = json.loads(capsys.readouterr().out)
    rows = [json.loads(x) for x in labels.read_text().splitlines()]
    assert summary["solutions"] == len(rows) == 6
    assert all(len(r["hard"]) == len(r["steps"]) and r["method"] == "binary" for r in rows)
    assert summary["completions"] == sum(r["completions"] for r in rows)

    main(["prm", "train", "--data", str(labels), "--output", str(prm_dir), "--epochs", "1", "--held-out", "0.34",
          *over])
    trained = json.loads(capsys.readouterr().out)
    assert trained["train_solutions"] + trained["held_out_solutions"] == 6
    assert (prm_dir / "prm_config.json").exists()

    out = tmp_path / "eval.json"
    main(["prm", "eval", "--prm", str(prm_dir), "--processbench", "gsm8k", "--limit", "4", "--exact", "2",
          "--levels", "1", "--output", str(out), *over])
    res = json.loads(out.read_text())
    gsm = res["processbench"]["splits"]["gsm8k"]
    assert gsm["n_err"] + gsm["n_corr"] == 4 and gsm["n_corr"] > 0  # spread over the file, not its head
    assert res["exact"]["L1"]["solutions"] == 2
