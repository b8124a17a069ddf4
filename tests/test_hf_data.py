"""Hugging Face data and models without a network: `task.name=hf:<folder or hub id>` through `datasets`, field
mapping for files and datasets, a dataset saved to disk, hub ids of models resolved in the local cache, and the
clear errors for what is not there (an uncached id, a task the embedded model cannot read)."""
import json
import time

import pytest

from scaffold_rl.config import RunConfig
from scaffold_rl.configio import ConfigError, load_config
from scaffold_rl.data.jsonl import DataError
from scaffold_rl.tasks import build_task

ROWS = [{"q": f"What is {i} + {i}?", "target": str(2 * i), "worked": f"{i} + {i} = {2 * i}"} for i in range(10)]
MAPPED = ["task.prompt_field=q", "task.answer_field=target", "task.solution_field=worked", "reward.kind=answer"]


def cfg_for(*overrides):
    return load_config(RunConfig, None, ["eval.n_per_level=3", *overrides])


def test_a_dataset_saved_to_disk_loads_with_field_mapping_and_its_own_test_split(tmp_path):
    import datasets

    folder = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS),
                          "test": datasets.Dataset.from_list(ROWS[:2])}).save_to_disk(str(folder))
    task = build_task(cfg_for(f"task.name=hf:{folder}", *MAPPED, "task.eval_split=test"))
    train = task.train_problems(100)
    assert [p.prompt for p in train] == [r["q"] for r in ROWS[2:]]  # the test split's problems left training
    assert [p.answer for p in train][:2] == ["4", "6"] and train[0].meta["solution"] == "2 + 2 = 4"
    held = task.eval_problems(10)[0]
    assert [p.answer for p in held] == ["0", "2"] and task.split_info["overlap_removed_from_train"] == 2
    assert train[0].meta["columns"] == ROWS[2]  # the raw row, for TRL-style reward functions


def test_a_single_saved_dataset_and_a_folder_of_jsonl_load_through_datasets(tmp_path):
    import datasets

    datasets.Dataset.from_list(ROWS).save_to_disk(str(tmp_path / "one"))
    task = build_task(cfg_for(f"task.name=hf:{tmp_path / 'one'}", *MAPPED, "task.eval_fraction=0.2"))
    assert len(task.train_problems(100)) == 8 and sum(map(len, task.eval_problems(10).values())) == 2
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    task = build_task(cfg_for(f"task.name=hf:{tmp_path / 'raw'}", *MAPPED))
    assert [p.answer for p in task.train_problems(100)] == [r["target"] for r in ROWS[3:]]


def test_a_bad_row_names_the_dataset_split_row_and_field(tmp_path):
    import datasets

    rows = [dict(r) for r in ROWS]
    rows[4]["target"] = None
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "bad"))
    with pytest.raises(DataError, match=rf"hf:{tmp_path / 'bad'}\[train\]:5: field 'target': null"):
        build_task(cfg_for(f"task.name=hf:{tmp_path / 'bad'}", *MAPPED))
    with pytest.raises(DataError, match=r"\[train\]:1: field 'answer': missing"):  # unmapped: the usual names
        build_task(cfg_for(f"task.name=hf:{tmp_path / 'bad'}", "reward.kind=answer"))


def test_an_uncached_hub_dataset_fails_at_once_saying_how_to_get_it():
    t0 = time.perf_counter()
    with pytest.raises(FileNotFoundError, match=r"hf:nobody-xyz/no-such-set: not in the local Hugging Face cache.*"
                                                r"datasets\.load_dataset\('nobody-xyz/no-such-set'.*save_to_disk"):
        build_task(cfg_for("task.name=hf:nobody-xyz/no-such-set", "reward.kind=answer"))
    assert time.perf_counter() - t0 < 20  # offline mode: no ~25 s of retries against an unreachable hub


def test_field_mapping_works_for_jsonl_files_and_is_refused_for_shipped_benchmarks(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    task = build_task(cfg_for(f"task.name={path}", *MAPPED))
    assert [p.prompt for p in task.train_problems(2)] == [ROWS[3]["q"], ROWS[4]["q"]]
    with pytest.raises(ValueError, match="math500 is a shipped benchmark with its own fields"):
        build_task(cfg_for("task.name=math500", "task.prompt_field=question"))


def test_rows_in_memory_go_through_the_same_parser():
    from scaffold_rl.tasks.records import RecordsTask

    cfg = cfg_for(*MAPPED)
    task = RecordsTask.from_rows(cfg, ROWS, eval_data=ROWS[:3])
    assert len(task.train_problems(100)) == 7 and task.split_info["held_out"] == "eval_dataset (3 problems)"
    with pytest.raises(DataError, match=r"^dataset:2: field 'target': missing"):
        RecordsTask.from_rows(cfg, [ROWS[0], {"q": "x"}])


# --- models by hub id ------------------------------------------------------------------------------------


def fake_hub_cache(root, repo_id, folder_files):
    """The layout huggingface_hub keeps: models--org--name/{refs/main, snapshots/<sha>/...}."""
    sha = "0" * 40
    repo = root / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(sha)
    snapshot = repo / "snapshots" / sha
    snapshot.mkdir(parents=True)
    for f in folder_files.iterdir():
        (snapshot / f.name).write_bytes(f.read_bytes())
    return snapshot


def test_a_hub_id_resolves_in_the_local_cache_and_a_miss_says_how_to_fetch_it(tmp_path, monkeypatch):
    import huggingface_hub.constants as hub

    from scaffold_rl.models.loading import ModelPathError, load_hf_model, resolve_model_path
    from tests.test_real_models import save_tiny

    snapshot = fake_hub_cache(tmp_path / "hub", "tiny-org/tiny-qwen", save_tiny("qwen2", tmp_path / "tiny"))
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert resolve_model_path("tiny-org/tiny-qwen") == snapshot
    model, tok = load_hf_model("tiny-org/tiny-qwen", echo=lambda *a: None)
    assert type(model).__name__ == "Qwen2ForCausalLM" and tok.padding_side == "left"
    with pytest.raises(ModelPathError, match=r"'tiny-org/missing' is neither a folder here nor a model in the local "
                                             r"Hugging Face cache.*hf download tiny-org/missing.*HF_HOME"):
        resolve_model_path("tiny-org/missing")
    with pytest.raises(ModelPathError, match="does not exist"):
        resolve_model_path(str(tmp_path / "no" / "folder"))


def test_a_task_the_embedded_model_cannot_read_needs_a_model_before_anything_loads(tmp_path):
    from scaffold_rl.train.run import train

    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    cfg = cfg_for(f"task.name={path}", *MAPPED, f"output_dir={tmp_path / 'runs'}",
                  f"model.cache_dir={tmp_path / 'cache'}")
    with pytest.raises(ConfigError, match=r"task '.*mine.jsonl' needs a model that can read it: set model.path"):
        train(cfg, echo=lambda *a: None)
    assert not (tmp_path / "cache").exists()  # no embedded model was built or loaded
    assert not (tmp_path / "runs").exists()  # and no run folder was left behind
