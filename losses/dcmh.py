"""DCMH, Deep Cross-Modal Hashing: the inter-modal likelihood of label similarity, quantization to one shared
binary code and bit balance, on the hash layers' unbounded outputs (docs/losses.md, `dcmh`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import citations
from .base import HashingLoss, LossOutput, check_number
from .functional import hard_similarity
from .registry import register
from .space import FloatRange


@register("dcmh", family="pairwise", citation=citations.DCMH, representative=True)
class DCMHLoss(HashingLoss):
    """DCMH: inter-modal likelihood of label similarity, quantization to one shared code, and bit balance.

    On a batch, ``L = (l + gamma q + eta b) / n^2`` for the image and text outputs ``F``, ``G``:

    ``theta = F G^T / 2``, ``l = sum_ij softplus(theta_ij) - S_ij theta_ij`` (image-text pairs only),
    ``B = sgn(F + G)`` (a constant: the codes DCMH's alternating step would give the batch),
    ``q = ||B - F||^2 + ||B - G||^2``, ``b = ||F^T 1||^2 + ||G^T 1||^2``. With the whole training set as the
    batch this is the authors' ``calc_loss`` divided by their normalisation, batch size times training-set size.

    Shapes: ``img``, ``txt`` ``(n, k)`` unbounded outputs (``consumes = "logits"``); ``labels`` ``(n, c)``.

    Args:
        gamma: weight of the quantization term (default 1).
        eta: weight of the bit-balance term (default 1).
    """

    search_space = {"gamma": FloatRange(0.1, 10.0, log=True), "eta": FloatRange(0.1, 10.0, log=True)}
    consumes = "logits"

    def __init__(self, n_classes: int, n_bits: int, gamma: float = 1.0, eta: float = 1.0):
        super().__init__(n_classes, n_bits)
        self.gamma = check_number("gamma", gamma, minimum=0)
        self.eta = check_number("eta", eta, minimum=0)

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        scale = 1.0 / len(img) ** 2
        theta = 0.5 * (img @ txt.T)
        likelihood = (F.softplus(theta) - hard_similarity(labels, labels) * theta).sum()
        codes = torch.sign(img + txt).detach()
        quantization = ((codes - img) ** 2).sum() + ((codes - txt) ** 2).sum()
        balance = (img.sum(dim=0) ** 2).sum() + (txt.sum(dim=0) ** 2).sum()
        return LossOutput.from_terms({
            "likelihood": scale * likelihood,
            "quantization": scale * self.gamma * quantization,
            "balance": scale * self.eta * balance,
        })
