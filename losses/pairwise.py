"""This suite's pairwise likelihood loss: cross- and intra-modal likelihoods of label similarity, each modality
quantized to its own sign (docs/losses.md, `pairwise`). It is DCMH's likelihood extended, not DCMH: that is
``dcmh``."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import HashingLoss, LossOutput, check_number
from .functional import hard_similarity
from .registry import register
from .space import FloatRange


def pairwise_nll(a: torch.Tensor, b: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``mean_ij softplus(theta_ij) - S_ij theta_ij`` with ``theta = a b^T / 2``; softplus never overflows."""
    theta = 0.5 * (a @ b.T)
    return (F.softplus(theta) - s * theta).mean()


@register("pairwise", family="pairwise")
class PairwiseLoss(HashingLoss):
    """Likelihood of pairwise label similarity, cross- and intra-modal, plus quantization (this suite's own).

    ``L = l(u,v) + lambda_intra (l(u,u) + l(v,v)) + gamma Q`` with
    ``l(a,b) = mean_ij [softplus(a_i.b_j/2) - S_ij a_i.b_j/2]``, ``S_ij = 1[y_i.y_j > 0]`` and
    ``Q = mean((u - sgn u)^2) + mean((v - sgn v)^2)``.

    Args:
        lambda_intra: weight of the two intra-modal likelihoods (default 1).
        gamma: weight of the quantization term (default 0.1).
    """

    search_space = {"lambda_intra": FloatRange(0.1, 2.0), "gamma": FloatRange(0.01, 1.0, log=True)}

    def __init__(self, n_classes: int, n_bits: int, lambda_intra: float = 1.0, gamma: float = 0.1):
        super().__init__(n_classes, n_bits)
        self.lambda_intra = check_number("lambda_intra", lambda_intra, minimum=0)
        self.gamma = check_number("gamma", gamma, minimum=0)

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        s = hard_similarity(labels, labels)
        quantization = ((img - img.sign()) ** 2).mean() + ((txt - txt.sign()) ** 2).mean()
        return LossOutput.from_terms(
            {
                "inter": pairwise_nll(img, txt, s),
                "intra_img": self.lambda_intra * pairwise_nll(img, img, s),
                "intra_txt": self.lambda_intra * pairwise_nll(txt, txt, s),
                "quantization": self.gamma * quantization,
            }
        )
