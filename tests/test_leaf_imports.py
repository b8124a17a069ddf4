"""Commands that do not train start without TRL: `scaffold-rl eval`, `search` and `prm` run end to end on a
1-layer embedded model in a fresh interpreter that never imports trl (seconds)."""
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_eval_search_and_prm_run_without_importing_trl(tmp_path):
    over = [f"model.cache_dir={tmp_path / 'cache'}", "model.embedded.hidden_size=32",
            "model.embedded.intermediate_size=64", "model.embedded.num_layers=1", "model.embedded.num_heads=2",
            "model.embedded.max_positions=96", "model.pretrain.steps=3", "model.pretrain.batch_size=8",
            "rollout.max_new_tokens=16", "train.threads=1"]
    code = textwrap.dedent(f"""
        import sys
        from scaffold_rl.cli import main
        over = {over!r}
        main(["eval", *over, "eval.n_per_level=2", "eval.samples=0", "task.eval_levels=[1]", "eval.hint_depths=[]"])
        main(["search", "--method", "majority", "--problems", "1", "--levels", "1", "search.n=2", *over])
        main(["prm", "label", "--output", {str(tmp_path / 'labels.jsonl')!r}, "--problems", "1", "--levels", "1",
              "--solutions", "1", "--completions", "1", "--method", "binary", *over])
        loaded = sorted(m for m in sys.modules if m == "trl" or m.startswith("trl."))
        print("TRL-MODULES", loaded)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "TRL-MODULES []" in out.stdout, out.stdout[-2000:]
    assert '"L1"' in out.stdout and "| L1 | majority" in out.stdout  # eval and search printed results
    assert (tmp_path / "labels.jsonl").read_text().strip()  # prm label did its work
