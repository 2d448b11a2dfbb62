"""Cross-modal margin triplet loss on cosine similarity, with all-triplet or hardest mining
(docs/losses.md, `triplet`)."""
from __future__ import annotations

import torch

from .base import HashingLoss, LossOutput, check_choice, check_number
from .functional import cosine_matrix, hard_similarity, sorted_rows
from . import citations
from .registry import register
from .space import Choice, FloatRange


@register(
    "triplet",
    family="triplet",
    citation=citations.BIDIRECTIONAL_TRIPLET,
    representative=True,
)
class TripletLoss(HashingLoss):
    """Cross-modal triplet margin loss on cosine similarity, image->text and text->image.

    For an anchor ``a_i`` of one modality, positives ``p`` of the other modality share a label with it
    (its own pair always counts) and negatives ``q`` share none; each valid ``(i, p, q)`` contributes
    ``[m - cos(a_i, b_p) + cos(a_i, b_q)]_+`` and the reduction is the mean over the terms > 0.
    ``L = T(u->v) + T(v->u)``.

    Args:
        margin: ``m`` (default 0.3).
        mining: ``"all"`` (every valid triplet, default) or ``"hard"`` (per anchor the hardest positive
            and the hardest negative only).
    """

    search_space = {"margin": FloatRange(0.05, 1.0), "mining": Choice(("all", "hard"))}

    def __init__(self, n_classes: int, n_bits: int, margin: float = 0.3, mining: str = "all"):
        super().__init__(n_classes, n_bits)
        self.margin = check_number("margin", margin, minimum=0)
        self.mining = check_choice("mining", mining, ("all", "hard"))

    def _direction(self, anchors: torch.Tensor, others: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Mean of the active triplet terms with anchors from one modality and candidates from the other."""
        cos = cosine_matrix(anchors, others)  # (n, n): anchor i against candidate j
        neg = ~pos
        if self.mining == "hard":
            hardest_pos = cos.masked_fill(neg, float("inf")).amin(dim=1)
            # an anchor without negatives gets -inf here, so its term clamps to 0 (no triplet)
            hardest_neg = cos.masked_fill(pos, float("-inf")).amax(dim=1)
            terms = (self.margin - hardest_pos + hardest_neg).clamp_min(0)
            return terms.sum() / (terms > 0).sum().clamp_min(1)
        # Triplet (i, p, q) is active iff cos[i, q] > cos[i, p] - m. Sorting each anchor's negative
        # cosines makes the active negatives of (i, p) a suffix of that row, so their count and the sum of
        # their cosines come from a search and suffix sums: O(n^2 log n) instead of an n^3 tensor.
        floor = -(self.margin + 3.0)  # below every cos[i, p] - m, so non-negatives are never active
        neg_cos = sorted_rows(cos.masked_fill(pos, floor))
        suffix_sums = torch.cat([neg_cos.flip(1).cumsum(1).flip(1), neg_cos.new_zeros(len(cos), 1)], dim=1)
        first_active = torch.searchsorted(neg_cos.detach(), (cos - self.margin).detach(), right=True)
        count = torch.where(pos, cos.shape[1] - first_active, 0)
        active_sum = torch.where(pos, count * (self.margin - cos) + suffix_sums.gather(1, first_active), 0)
        return active_sum.sum() / count.sum().clamp_min(1)

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        eye = torch.eye(labels.shape[0], dtype=torch.bool, device=labels.device)
        pos = hard_similarity(labels, labels).bool() | eye
        return LossOutput.from_terms(
            {
                "img_to_txt": self._direction(img, txt, pos),
                "txt_to_img": self._direction(txt, img, pos),
            }
        )
