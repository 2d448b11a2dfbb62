"""Deep Cauchy Hashing: a Cauchy likelihood of pairwise similarity on a cosine-based Hamming distance, on
image-text pairs (docs/losses.md, `dch`)."""
from __future__ import annotations

import torch

from .base import HashingLoss, LossConfigError, LossOutput, check_number
from .functional import hard_similarity, masked_mean
from . import citations
from .registry import register
from .space import FloatRange

#: The source's floor on the product of two norms inside its cosine.
NORM_PRODUCT_FLOOR = 1e-4
#: The source caps the cosine at this value, so ``d >= 0.005 k > 0`` and ``log(gamma / d)`` stays finite.
COS_CAP = 0.99


def cauchy_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(n, k) x (m, k) -> (n, m)``: ``d_ij = (1 - min(cos_ij, 0.99)) k / 2`` with the source's cosine
    ``a_i.b_j / max(|a_i| |b_j|, 1e-4)`` (the norm product is floored, not each norm)."""
    norms = torch.linalg.vector_norm(a, dim=1).unsqueeze(1) * torch.linalg.vector_norm(b, dim=1).unsqueeze(0)
    cos = (a @ b.T) / norms.clamp_min(NORM_PRODUCT_FLOOR)
    return (1 - cos.clamp(max=COS_CAP)) * (a.shape[1] / 2)


@register("dch", family="pairwise", citation=citations.DCH)
class DCHLoss(HashingLoss):
    """DCH: class-balanced Cauchy cross-entropy on image-text pairs, plus Cauchy quantization.

    With ``d_ij`` the distance of :func:`cauchy_distance` between ``u_i`` and ``v_j``,
    ``L = mean_{S_ij=1} log(1 + d_ij / gamma) + mean_{S_ij=0} log(1 + gamma / d_ij)
    + lambda_q * (Q(u) + Q(v)) / 2``, ``Q(a) = mean_i log(1 + d(|a_i|, 1) / gamma)``
    (``S_ij = 1[y_i.y_j > 0]``; the two means are the source's weights ``|S|/|S_1|``, ``|S|/|S_0|`` over ``|S|``;
    when one set is empty the source's weights are all 1, which is again the mean over the other).

    Shapes: ``img``, ``txt`` ``(n, k)``; ``labels`` ``(n, c)``. The pair set ``(image i, text j)`` covers both
    directions; the per-code quantization is averaged over the two modalities.

    Args:
        gamma: the Cauchy scale (default 20).
        lambda_q: weight of the quantization term (default 0.1).
    """

    search_space = {"gamma": FloatRange(2.0, 100.0, log=True), "lambda_q": FloatRange(0.01, 1.0, log=True)}
    consumes = "logits"

    def __init__(self, n_classes: int, n_bits: int, gamma: float = 20.0, lambda_q: float = 0.1):
        super().__init__(n_classes, n_bits)
        self.gamma = check_number("gamma", gamma, minimum=0)
        if self.gamma == 0:
            raise LossConfigError("parameter gamma must be a number > 0, got 0")
        self.lambda_q = check_number("lambda_q", lambda_q, minimum=0)

    def quantization(self, codes: torch.Tensor) -> torch.Tensor:
        """``mean_i log(1 + d(|a_i|, 1) / gamma)``: the Cauchy distance of each code's magnitudes to all-ones."""
        ones = codes.new_ones(1, codes.shape[1])
        return torch.log1p(cauchy_distance(codes.abs(), ones) / self.gamma).mean()

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        similar = hard_similarity(labels, labels).bool()
        d = cauchy_distance(img, txt)
        return LossOutput.from_terms(
            {
                "similar_pairs": masked_mean(torch.log1p(d / self.gamma), similar),
                "dissimilar_pairs": masked_mean(torch.log1p(self.gamma / d), ~similar),
                "quantization": self.lambda_q * 0.5 * (self.quantization(img) + self.quantization(txt)),
            }
        )
