"""DCHMT's distance loss: squared Euclidean distances pulled to 0 for similar pairs and pushed past a margin
for dissimilar ones, cross- and intra-modal, plus its quantization (docs/losses.md, `dchmt`)."""
from __future__ import annotations

import math

import torch

from .base import HashingLoss, LossOutput, check_number
from .functional import hard_similarity
from . import citations
from .registry import register
from .space import FloatRange


def euclidean_distances(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n, k) x (m, k) ->`` the squared distances ``|a_i - b_j|^2`` and the distances, both ``(n, m)``.

    The square root is taken only where the squared distance is > 0, so identical codes give distance 0 with
    gradient 0 (the subgradient) instead of NaN.
    """
    squared = (a.pow(2).sum(1).unsqueeze(1) + b.pow(2).sum(1).unsqueeze(0) - 2 * (a @ b.T)).clamp_min(0)
    positive = squared > 0
    return squared, torch.where(positive, torch.where(positive, squared, 1.0).sqrt(), 0.0)


@register("dchmt", family="pairwise", citation=citations.DCHMT)
class DCHMTLoss(HashingLoss):
    """DCHMT: squared distances of similar pairs to 0, dissimilar ones past a margin, cross- and intra-modal.

    For codes ``a``, ``b`` with ``D_ij = |a_i - b_j|``, ``S_ij = 1[y_i.y_j > 0]`` and the margin
    ``m = sqrt(2 k vartheta)``: ``pos(a, b) = mean_ij S_ij D_ij^2``,
    ``neg(a, b) = mean_ij (1 - S_ij) [m - D_ij]_+^2`` (means over all n^2 pairs, the source's ``l2`` type);
    ``L = pos(u,v) + neg(u,v) + pos(u,u) + neg(u,u) + pos(v,v) + neg(v,v) + gamma (q(u) + q(v)) / 2`` with
    ``q(a) = mean_i |sgn(a_i) - a_i| / 2`` (the source's quantization for its tanh hash layer).

    Shapes: ``img``, ``txt`` ``(n, k)``; ``labels`` ``(n, c)``. The source is cross-modal: the terms are its own.

    Args:
        vartheta: sets the margin ``sqrt(2 k vartheta)`` (default 0.5, the authors' default).
        gamma: weight of the quantization term (default 1: the authors add it unweighted).
    """

    search_space = {"vartheta": FloatRange(0.1, 1.0), "gamma": FloatRange(0.1, 10.0, log=True)}

    def __init__(self, n_classes: int, n_bits: int, vartheta: float = 0.5, gamma: float = 1.0):
        super().__init__(n_classes, n_bits)
        self.vartheta = check_number("vartheta", vartheta, minimum=0)
        self.gamma = check_number("gamma", gamma, minimum=0)
        self.margin = math.sqrt(2 * n_bits * self.vartheta)

    def _pair_terms(self, a: torch.Tensor, b: torch.Tensor, similar: torch.Tensor) -> tuple[torch.Tensor, ...]:
        squared, distance = euclidean_distances(a, b)
        positive = torch.where(similar, squared, 0).mean()
        negative = torch.where(similar, 0, (self.margin - distance).clamp_min(0).pow(2)).mean()
        return positive, negative

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        similar = hard_similarity(labels, labels).bool()
        terms = {}
        for name, a, b in (("img_txt", img, txt), ("img_img", img, img), ("txt_txt", txt, txt)):
            terms[f"pos_{name}"], terms[f"neg_{name}"] = self._pair_terms(a, b, similar)

        def quantization(codes: torch.Tensor) -> torch.Tensor:
            return 0.5 * torch.linalg.vector_norm(codes.sign() - codes, dim=1).mean()

        terms["quantization"] = self.gamma * 0.5 * (quantization(img) + quantization(txt))
        return LossOutput.from_terms(terms)
