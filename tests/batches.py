"""Random batches for the loss tests: codes in (-1, 1) and multi-hot labels in named patterns."""
from __future__ import annotations

import torch

PATTERNS = ("mixed", "single", "shared")


def random_codes(n: int, k: int, generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
    """``(n, k)`` tanh codes spread over (-1, 1)."""
    return torch.tanh(1.5 * torch.randn(n, k, generator=generator, dtype=dtype))


def random_labels(n: int, c: int, pattern: str, generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
    """``(n, c)`` multi-hot labels.

    ``mixed``: 1 to 4 labels per sample, and (when n >= 2) samples 0 and 1 hold two disjoint label pairs,
    so the multi-label negative set of DCGH is never empty; ``single``: one label each (that set is
    empty); ``shared``: every sample has class 0 plus up to two others (that set is empty again).
    """
    labels = torch.zeros(n, c, dtype=dtype)
    for i in range(n):
        if pattern == "single":
            count = 1
        elif pattern == "mixed":
            count = int(torch.randint(1, 5, (1,), generator=generator))
        elif pattern == "shared":
            count = int(torch.randint(0, 3, (1,), generator=generator))
        else:
            raise ValueError(pattern)
        labels[i, torch.randperm(c, generator=generator)[:count]] = 1
        if pattern == "shared":
            labels[i, 0] = 1
    if pattern == "mixed" and n >= 2:
        labels[:2] = 0
        labels[0, [0, 1]] = 1
        labels[1, [2, 3]] = 1
    return labels
