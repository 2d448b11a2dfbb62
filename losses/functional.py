"""Batch-level building blocks shared by the losses: cosine matrices, label similarities and
reductions whose empty case is 0 rather than NaN."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

#: Lower bound on a vector's norm inside a cosine, so zero codes give cosine 0 instead of NaN.
COS_EPS = 1e-8


def cosine_matrix(a: torch.Tensor, b: torch.Tensor, eps: float = COS_EPS) -> torch.Tensor:
    """``(n, k) x (m, k) -> (n, m)`` cosines ``a_i.b_j / (max(|a_i|, eps) * max(|b_j|, eps))``."""
    return F.normalize(a, dim=1, eps=eps) @ F.normalize(b, dim=1, eps=eps).T


def hard_similarity(y1: torch.Tensor, y2: torch.Tensor) -> torch.Tensor:
    """``S_ij = 1[y1_i . y2_j > 0]`` as a float ``(n, m)`` matrix: the pair shares at least one label."""
    return (y1 @ y2.T > 0).to(y1.dtype)


def soft_similarity(y1: torch.Tensor, y2: torch.Tensor) -> torch.Tensor:
    """``S^_ij = cos(y1_i, y2_j)``, the graded label similarity in [0, 1] for multi-hot labels."""
    return cosine_matrix(y1, y2)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` is true; 0 (still a graph node) when the mask is empty."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def irrelevant_pairs(labels: torch.Tensor) -> torch.Tensor:
    """``(n, n)`` bool: both samples carry at least two labels and they share none (HyP²'s irrelevant pairs)."""
    multi = labels.sum(dim=1) > 1
    return multi.unsqueeze(1) & multi.unsqueeze(0) & (labels @ labels.T == 0)


def sorted_rows(x: torch.Tensor) -> torch.Tensor:
    """``x`` sorted along dim 1, ascending, differentiable: the values of ``x.sort(dim=1)``. On the CPU numpy's
    vectorised sort finds the order several times faster than ``torch.sort`` at batch size (docs/performance.md).
    Equal values may come in another order than torch.sort's (neither is stable), which exchanges their
    gradients: use it where equal values get equal gradients (a threshold on the values never separates them)."""
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
        return x.gather(1, torch.from_numpy(np.argsort(x.detach().numpy(), axis=1)))
    return x.sort(dim=1).values


def log1p_sum_exp(logits: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """``log(1 + sum of exp(logits) where mask)`` along ``dim``, overflow-free (a log-sum-exp over the masked entries
    and a 0); an empty slice gives 0."""
    masked = logits.masked_fill(~mask, float("-inf"))
    zero = torch.zeros_like(masked.narrow(dim, 0, 1))
    return torch.logsumexp(torch.cat([zero, masked], dim=dim), dim=dim)
