"""Plain GRPO: train on the groups exactly as sampled. All-wrong groups keep zero advantage."""
from __future__ import annotations

from scaffold_rl.strategies.base import RescueStrategy, register
from scaffold_rl.types import Batch


@register
class PlainGRPO(RescueStrategy):
    name = "grpo"

    def rescue(self, batch: Batch, ctx) -> Batch:
        return batch
