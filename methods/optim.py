"""The learning-rate schedule shared by pretraining and training: linear warmup, then cosine to zero."""
from __future__ import annotations

import math

import torch


def warmup_cosine(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int):
    """A ``LambdaLR`` rising linearly over ``warmup_steps`` and then decaying by a half cosine to 0 at
    ``total_steps``."""
    warmup_steps = max(1, warmup_steps)
    decay_steps = max(1, total_steps - warmup_steps)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup_steps) / decay_steps)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
