"""`scaffold-rl demo`: the learning cliff on the embedded task, end to end on 2 CPU cores."""
from __future__ import annotations

import time

from scaffold_rl.models.loading import load_policy
from scaffold_rl.train.run import train
from scaffold_rl.train.trainer import set_threads


def run_demo(cfg) -> None:
    t0 = time.perf_counter()
    set_threads(cfg.train.threads)
    load_policy(cfg)  # pretrain once (cached), before the clock of the RL run starts
    run_dir = train(cfg)
    print(f"\ndemo finished in {time.perf_counter() - t0:.0f} s")
    print(f"run folder: {run_dir}\nreport:     {run_dir / 'report.md'}")
