"""`task.name=hf:<hub id or folder>`: a Hugging Face dataset through `datasets`, rows through the file parser.

* a folder written by `Dataset.save_to_disk` / `DatasetDict.save_to_disk` loads with `datasets.load_from_disk`;
* any other folder, or a hub id, goes through `datasets.load_dataset(id, task.hf_config, split=task.split)`. Hub
  ids resolve through the local cache only (offline mode for the call: nothing is downloaded at run time, and a
  miss fails at once instead of retrying a network that is not there), with an error saying how to fetch it.

Rows are parsed as a file's (task.prompt_field / answer_field / solution_field name the fields) and errors name
the dataset, split, row and field: `hf:openai/gsm8k[train]:17: field 'answer': missing`. The held-out set is
task.eval_split of the same dataset (its problems are removed from training), else task.eval_name /
task.eval_fraction / the first eval.n_per_level rows, as for files.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from scaffold_rl.tasks.base import register_prefix
from scaffold_rl.tasks.records import RecordsTask, parse_rows


class HFDatasetError(FileNotFoundError):
    """An hf: dataset that cannot be loaded here; the message says how to get it."""


@contextlib.contextmanager
def hub_offline():
    """Offline mode for one `datasets` call: cached hub datasets load, a miss fails at once (instead of ~25 s of
    retries against an unreachable hub)."""
    import datasets
    import huggingface_hub.constants as hub

    saved = datasets.config.HF_HUB_OFFLINE, hub.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = hub.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, hub.HF_HUB_OFFLINE = saved


def is_saved_to_disk(path: Path) -> bool:
    return path.is_dir() and ((path / "dataset_info.json").exists() and (path / "state.json").exists()
                              or (path / "dataset_dict.json").exists())


def load_hf_rows(name: str, config: str | None, split: str):
    """The `datasets.Dataset` of `split` of `name` (hub id or folder)."""
    import datasets

    label = f"hf:{name}"
    path = Path(name).expanduser()
    if is_saved_to_disk(path):
        data = datasets.load_from_disk(str(path))
        if isinstance(data, datasets.DatasetDict):
            if split not in data:
                raise HFDatasetError(f"{label}: no split {split!r} (splits: {', '.join(data)}); set task.split")
            data = data[split]
        return data
    try:
        with hub_offline():
            return datasets.load_dataset(str(path) if path.is_dir() else name, config, split=split)
    except ValueError as err:  # an unknown split or config of a dataset that is there
        raise HFDatasetError(f"{label} (config {config!r}, split {split!r}): {err}") from err
    except (ConnectionError, FileNotFoundError, OSError) as err:
        if path.is_dir() or name.startswith((".", "/", "~")):
            raise HFDatasetError(f"{label}: cannot load the folder {path}: {err}") from err
        home = os.environ.get("HF_HOME", "~/.cache/huggingface")
        cfg_arg = f", {config!r}" if config else ""
        raise HFDatasetError(
            f"{label}: not in the local Hugging Face cache (HF_HOME={home}) and nothing is downloaded at run time. "
            f"On a machine with internet run `python -c \"import datasets; datasets.load_dataset({name!r}{cfg_arg})\"` "
            f"and copy its HF_HOME here (or set HF_HOME to a copy), or save it with "
            f"`datasets.load_dataset(...).save_to_disk(FOLDER)` and use task.name=hf:FOLDER ({type(err).__name__})"
        ) from err


def load_hf_problems(name: str, task_cfg, split: str, require_answers: bool):
    data = load_hf_rows(name, getattr(task_cfg, "hf_config", None), split)
    where = f"hf:{name}[{split}]"
    return parse_rows(data, where, Path(name).name or name, task_cfg, require_answers)


@register_prefix("hf")
def hf_task(cfg, rest: str) -> RecordsTask:
    from scaffold_rl.tasks.files import eval_set, needs_answers

    if not rest:
        raise HFDatasetError("task.name=hf: needs a hub id or folder, e.g. hf:openai/gsm8k or hf:data/my_set")
    t = cfg.task
    problems = load_hf_problems(rest, t, t.split, needs_answers(cfg))
    if t.eval_split and not t.eval_name:
        held = load_hf_problems(rest, t, t.eval_split, False)
        return RecordsTask(cfg, cfg.task.name, problems, held, held_out_name=f"{cfg.task.name}[{t.eval_split}]")
    return RecordsTask(cfg, cfg.task.name, problems, eval_set(cfg))
