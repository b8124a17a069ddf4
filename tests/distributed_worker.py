"""A training run for tests/test_distributed.py, launched once in-process and once per process under
`accelerate launch --multi_gpu --num_processes 2 tests/distributed_worker.py CONFIG RUN_DIR` (on a
CPU-only machine the processes talk over gloo; `--cpu` would start one process).

Its generator draws every sample from a seed fixed by the prompt and how often that prompt was sampled on
this process before, so a sample does not depend on which other prompts share its batch or process: then one
process and two must produce the same rollouts, and any difference is the distributed logic's.
"""
from __future__ import annotations

import sys
import zlib

import torch.distributed

from scaffold_rl.rollout.generation import TransformersGenerator


class PromptSeededGenerator(TransformersGenerator):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen: dict[tuple[int, ...], int] = {}

    def generate(self, prompts, params, seed=None):
        out = []
        for p in prompts:
            key = tuple(p)
            k = self.seen.get(key, 0)
            self.seen[key] = k + 1
            out.extend(super().generate([p], params, seed=zlib.crc32(repr((key, k)).encode())))
        return out


def main(config_path: str, run_dir: str) -> None:
    """CONFIG is a pickled RunConfig: exactly the test's object, whatever a YAML round trip would change."""
    import pickle

    from scaffold_rl.rollout import factory
    from scaffold_rl.train import run
    from scaffold_rl.train.distributed import exit_launched_process

    factory.TransformersGenerator = PromptSeededGenerator
    cfg = pickle.loads(open(config_path, "rb").read())
    run.train(cfg, run_dir=run_dir, echo=lambda *a: None, make_report=False)
    # train() tears its process group down on every process
    if torch.distributed.is_initialized():
        sys.exit("train() returned with the process group still alive")
    exit_launched_process()  # as the CLI does; a normal exit aborts now and then (see its docstring)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
