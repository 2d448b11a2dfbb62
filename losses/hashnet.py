"""HashNet's class-balanced pairwise likelihood, on image-text pairs (docs/losses.md, `hashnet`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import HashingLoss, LossOutput, check_number
from .functional import hard_similarity, masked_mean
from . import citations
from .registry import register
from .space import FloatRange


@register("hashnet", family="pairwise", citation=citations.HASHNET)
class HashNetLoss(HashingLoss):
    """HashNet: class-balanced pairwise likelihood of label similarity over image-text pairs.

    With ``theta_ij = alpha u_i.v_j``, ``alpha = scale / k`` and ``l_ij = softplus(theta_ij) - S_ij theta_ij``
    (``S_ij = 1[y_i.y_j > 0]``), each pair is weighted ``|S| / |S_1|`` (similar) or ``|S| / |S_0|``
    (dissimilar) and the weighted sum divided by ``|S|``:
    ``L = mean_{S_ij=1} l_ij + mean_{S_ij=0} l_ij`` (an empty set contributes 0).

    Shapes: ``img``, ``txt`` ``(n, k)``; ``labels`` ``(n, c)``. The pair set ``(image i, text j)`` covers both
    retrieval directions (``S`` is symmetric), so there is one likelihood, as in the single-modal source.

    Args:
        scale: ``alpha * k`` (default 10: the authors' ``sigmoid_param = 10 / hash_bit``).
    """

    search_space = {"scale": FloatRange(1.0, 50.0, log=True)}

    def __init__(self, n_classes: int, n_bits: int, scale: float = 10.0):
        super().__init__(n_classes, n_bits)
        self.scale = check_number("scale", scale, minimum=0)

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        similar = hard_similarity(labels, labels).bool()
        theta = (self.scale / self.n_bits) * (img @ txt.T)
        likelihood = F.softplus(theta) - similar * theta
        return LossOutput.from_terms(
            {"similar_pairs": masked_mean(likelihood, similar), "dissimilar_pairs": masked_mean(likelihood, ~similar)}
        )
