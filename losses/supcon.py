"""Supervised contrastive loss (SupCon) with the image and the text of a pair as two views, positives the pairs that
share a label or, in the soft variant, weighted by label overlap (docs/losses.md, `supcon`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import HashingLoss, LossOutput, check_choice, check_number
from .functional import COS_EPS, hard_similarity, soft_similarity
from . import citations
from .registry import register, register_variant
from .space import FloatRange

POSITIVES = ("shared", "cosine")


@register("supcon", family="contrastive", citation=citations.SUPCON, representative=True)
class SupConLoss(HashingLoss):
    """Supervised contrastive loss over a batch's image and text codes; positives are the items sharing a label.

    Every one of the ``2n`` codes (the batch's images and texts) is an anchor against the other ``2n - 1``.

    With ``z`` the ``2n`` L2-normalised codes (images first), ``A(a)`` every code but ``a`` itself and weights
    ``W_ab`` (``positives="shared"``: 1 when the two items share a label, else 0; ``"cosine"``: the cosine of their
    label vectors; an item and its own pair always 1):
    ``l(a) = -(tau / tau_b) * sum_{b in A(a)} W_ab log(exp(z_a.z_b / tau) / sum_{d in A(a)} exp(z_a.z_d / tau))
    / sum_{b in A(a)} W_ab``, ``L`` = the mean of ``l`` over the ``2n`` anchors (terms: the image
    anchors' half and the text anchors' half).

    Args:
        temperature: ``tau`` (default 0.07, the source's default).
        base_temperature: ``tau_b`` (default 0.07).
        positives: ``"shared"`` (default) or ``"cosine"`` (graded by label overlap; the variant ``supcon-soft``).
    """

    search_space = {"temperature": FloatRange(0.01, 1.0, log=True)}

    def __init__(self, n_classes: int, n_bits: int, temperature: float = 0.07, base_temperature: float = 0.07,
                 positives: str = "shared"):
        super().__init__(n_classes, n_bits)
        self.temperature = check_number("temperature", temperature, minimum=1e-6)
        self.base_temperature = check_number("base_temperature", base_temperature, minimum=1e-6)
        self.positives = check_choice("positives", positives, POSITIVES)

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        n = len(img)
        weights = hard_similarity(labels, labels) if self.positives == "shared" else soft_similarity(labels, labels)
        weights = weights.fill_diagonal_(1.0).repeat(2, 2)  # an item's own pair is always a positive
        z = F.normalize(torch.cat([img, txt]), dim=1, eps=COS_EPS)
        logits = z @ z.T / self.temperature
        itself = torch.eye(2 * n, dtype=torch.bool, device=img.device)
        log_prob = logits - torch.logsumexp(logits.masked_fill(itself, float("-inf")), dim=1, keepdim=True)
        weights = weights.masked_fill(itself, 0.0)
        # every anchor has its own pair among its positives, so the sum of its weights is at least 1
        per_anchor = -(self.temperature / self.base_temperature) * (weights * log_prob).sum(1) / weights.sum(1)
        return LossOutput.from_terms({
            "img_anchors": per_anchor[:n].sum() / (2 * n),
            "txt_anchors": per_anchor[n:].sum() / (2 * n),
        })


register_variant("supcon-soft", "supcon", "SupCon with positives weighted by the cosine of the label vectors",
                 positives="cosine")
