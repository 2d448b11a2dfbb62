"""Multi-Similarity loss with its pair mining, as DMsH-LN applies it to image and text codes (docs/losses.md,
`ms`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import HashingLoss, LossOutput, check_choice, check_number
from .functional import cosine_matrix, log1p_sum_exp
from . import citations
from .registry import register
from .space import FloatRange

SIMILARITIES = ("row-normalized", "cosine")
#: Pairs this close to similarity 1 are left out of the positives (the source's guard against an anchor itself).
SELF_GUARD = 1e-5


@register("ms", family="contrastive", citation=citations.MULTI_SIMILARITY)
class MultiSimilarityLoss(HashingLoss):
    """Multi-Similarity with its pair mining on image-image, text-text and image->text, as DMsH-LN trains it.

    Per anchor, the mined positives are pulled above ``lambda`` and the mined negatives pushed below it, each set
    through a soft maximum.

    For anchors ``a`` against candidates ``b`` with similarity ``S`` (``"row-normalized"``: each row of ``a b^T``
    divided by its L2 norm, as the source computes it; ``"cosine"``: ``cos(a_i, b_j)``, Wang et al.'s form),
    positives ``P_i`` = candidates sharing a label with ``i`` and ``S_ij < 1 - 1e-5``, negatives ``N_i`` = the others.
    Mining keeps the negatives with ``S_ij + eps > min_{P_i} S`` and the positives with ``S_ij - eps < max_{N_i} S``;
    an anchor with an empty set (before or after mining) adds nothing. Then ``MS(a, b) = (1 / n) sum_i [1 / alpha
    log(1 + sum_{P_i} exp(-alpha (S_ij - lambda))) + 1 / beta log(1 + sum_{N_i} exp(beta (S_ij - lambda)))]`` and
    ``L = MS(u, u) + MS(v, v) + MS(u, v)``.

    Args:
        thresh: ``lambda`` (default 0.5). margin: ``eps`` of the mining (default 0.1).
        scale_pos: ``alpha`` (default 2). scale_neg: ``beta`` (default 40).
        similarity: ``"row-normalized"`` (default, the source's) or ``"cosine"``.
    """

    search_space = {"thresh": FloatRange(0.0, 1.0), "margin": FloatRange(0.0, 0.5),
                    "scale_pos": FloatRange(0.5, 8.0, log=True), "scale_neg": FloatRange(5.0, 80.0, log=True)}

    def __init__(self, n_classes: int, n_bits: int, thresh: float = 0.5, margin: float = 0.1, scale_pos: float = 2.0,
                 scale_neg: float = 40.0, similarity: str = "row-normalized"):
        super().__init__(n_classes, n_bits)
        self.thresh = check_number("thresh", thresh)
        self.margin = check_number("margin", margin, minimum=0)
        self.scale_pos = check_number("scale_pos", scale_pos, minimum=1e-6)
        self.scale_neg = check_number("scale_neg", scale_neg, minimum=1e-6)
        self.similarity = check_choice("similarity", similarity, SIMILARITIES)

    def _similarity(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.similarity == "cosine":
            return cosine_matrix(a, b)
        return F.normalize(a @ b.T, dim=1)

    def _ms(self, a: torch.Tensor, b: torch.Tensor, shares: torch.Tensor) -> torch.Tensor:
        sim = self._similarity(a, b)
        plain = sim.detach()  # the mining selects pairs; gradients flow through the selected similarities only
        pos = shares & (plain < 1 - SELF_GUARD)
        neg = ~shares
        hardest_pos = plain.masked_fill(~pos, float("inf")).amin(dim=1, keepdim=True)
        hardest_neg = plain.masked_fill(~neg, float("-inf")).amax(dim=1, keepdim=True)
        mined_neg = neg & (plain + self.margin > hardest_pos)
        mined_pos = pos & (plain - self.margin < hardest_neg)
        active = mined_pos.any(1) & mined_neg.any(1)  # an empty set before mining leaves an empty set after it
        per_anchor = (log1p_sum_exp(-self.scale_pos * (sim - self.thresh), mined_pos, 1) / self.scale_pos
                      + log1p_sum_exp(self.scale_neg * (sim - self.thresh), mined_neg, 1) / self.scale_neg)
        return torch.where(active, per_anchor, torch.zeros_like(per_anchor)).sum() / len(a)

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        shares = labels @ labels.T > 0
        return LossOutput.from_terms({
            "img_img": self._ms(img, img, shares),
            "txt_txt": self._ms(txt, txt, shares),
            "img_to_txt": self._ms(img, txt, shares),
        })
