"""Process-level helpers every command uses (threads, checkpoint folders), in a leaf module: importing it pulls
in neither TRL nor the trainer, so `scaffold-rl eval`, `search` and `prm` start without TRL."""
from __future__ import annotations

import os
from pathlib import Path

COMPLETE_MARKER = "COMPLETE"  # written last into a checkpoint folder: the save finished


def set_threads(threads: int | None) -> None:
    """torch CPU threads for this process (None = torch's default, all cores)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)


def last_complete_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint whose save finished (a kill -9 mid-save leaves one without the marker)."""
    folder = Path(folder)
    if not folder.exists():
        return None
    done = [p for p in folder.glob("checkpoint-*") if (p / COMPLETE_MARKER).exists()]
    return max(done, key=lambda p: int(p.name.split("-")[-1])) if done else None
