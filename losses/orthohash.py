"""OrthoHash: one cross-entropy over cosines to fixed +-1 class codes, with an additive cosine margin
(docs/losses.md, `orthohash`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import HashingLoss, LossOutput, check_number, check_seed
from .functional import cosine_matrix
from . import citations
from .registry import register
from .space import FloatRange


def bernoulli_codebook(n_classes: int, n_bits: int, generator: torch.Generator) -> torch.Tensor:
    """``(n_classes, n_bits)`` independent fair +-1 entries (OrthoHash's default codebook, method ``B``)."""
    return torch.bernoulli(torch.full((n_classes, n_bits), 0.5), generator=generator) * 2 - 1


@register("orthohash", family="center", citation=citations.ORTHOHASH)
class OrthoHashLoss(HashingLoss):
    """OrthoHash: cross-entropy of cosine-margin logits to fixed random +-1 class codes, per modality.

    With ``C`` the fixed codebook and ``z_ij = s (cos(a_i, C_j) - m y_ij)``:
    ``CE(a) = mean_i - sum_j (y_ij / max(|y_i|, 1)) log_softmax_j(z_i)`` (the source's multi-label
    ``label_smoothing`` loss; a sample without labels contributes 0), ``Q(a) = mean_i (1 - cos(a_i, sgn a_i))``
    (gradient through the first argument only), and
    ``L = ce (CE(u) + CE(v)) / 2 + quan (Q(u) + Q(v)) / 2``.

    Shapes: ``img``, ``txt`` ``(n, k)``; ``labels`` ``(n, c)``. The single-modal source's loss is applied to each
    modality with the same codebook and averaged, so with ``img = txt`` it is the source's loss.

    Args:
        s: the cosine scale (default 8).
        m: the cosine margin (default 0.2).
        ce: weight of the cross-entropy (default 1).
        quan: weight of the cosine quantization term (default 0, as the authors run it).
        seed: seeds the codebook.

    Attributes:
        centers: ``(n_classes, n_bits)`` buffer, the +-1 codebook, fixed per (c, k, seed).
    """

    search_space = {"s": FloatRange(2.0, 32.0, log=True), "m": FloatRange(0.0, 0.5)}
    consumes = "logits"

    def __init__(self, n_classes: int, n_bits: int, s: float = 8.0, m: float = 0.2, ce: float = 1.0,
                 quan: float = 0.0, seed: int = 0):
        super().__init__(n_classes, n_bits)
        self.s = check_number("s", s, minimum=0)
        self.m = check_number("m", m)
        self.ce = check_number("ce", ce, minimum=0)
        self.quan = check_number("quan", quan, minimum=0)
        generator = torch.Generator().manual_seed(check_seed(seed))
        self.register_buffer("centers", bernoulli_codebook(n_classes, n_bits, generator))

    def cross_entropy(self, codes: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = self.s * (cosine_matrix(codes, self.centers.to(codes.dtype)) - self.m * labels)
        target = labels / labels.sum(dim=1, keepdim=True).clamp_min(1)
        return -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()

    @staticmethod
    def quantization(codes: torch.Tensor) -> torch.Tensor:
        return (1 - (F.normalize(codes, dim=1, eps=1e-8) * F.normalize(codes.detach().sign(), dim=1, eps=1e-8))
                .sum(dim=1)).mean()

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        terms = {
            "ce_img": self.ce * 0.5 * self.cross_entropy(img, labels),
            "ce_txt": self.ce * 0.5 * self.cross_entropy(txt, labels),
        }
        if self.quan:
            terms["quantization"] = self.quan * 0.5 * (self.quantization(img) + self.quantization(txt))
        else:
            terms["quantization"] = img.new_zeros(())
        return LossOutput.from_terms(terms)
