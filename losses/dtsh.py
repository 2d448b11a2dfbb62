"""Deep Triplet Supervised Hashing: the likelihood of triplet orderings of inner products, image->text and
text->image (docs/losses.md, `dtsh`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import HashingLoss, LossOutput, check_number
from .functional import hard_similarity
from . import citations
from .registry import register
from .space import FloatRange

#: The source clamps each triplet's logit to this range before its log-likelihood.
LOGIT_RANGE = (-100.0, 50.0)


def triplet_likelihood(theta: torch.Tensor, similar: torch.Tensor, alpha: float) -> torch.Tensor:
    """Mean over anchors (rows of ``theta``) with at least one positive and one negative column of the
    per-anchor mean over (positive p, negative q) of ``softplus(-clamp(theta_ip - theta_iq - alpha, -100, 50))``.

    Only the (anchor, positive) pairs are expanded against the anchor's row, so the work is
    ``#positive pairs x n`` rather than ``n^3``; the per-anchor means are one dot product with weights
    ``1 / (#positives * #negatives)`` on the negatives (0 on the positives).
    """
    n_pos = similar.sum(dim=1)
    n_neg = similar.shape[1] - n_pos
    valid = (n_pos > 0) & (n_neg > 0)
    anchor, positive = torch.nonzero(similar & valid.unsqueeze(1), as_tuple=True)
    if anchor.numel() == 0:
        return theta.sum() * 0  # no anchor has both: 0, still a graph node
    low, high = LOGIT_RANGE
    # minus_logits[r, q] = -(theta_ip - theta_iq - alpha) for the r-th (anchor i, positive p) pair
    minus_logits = theta.index_select(0, anchor) - (theta[anchor, positive] - alpha).unsqueeze(1)
    weight = ((~similar).to(theta.dtype) / (n_pos * n_neg).to(theta.dtype).clamp_min(1).unsqueeze(1))[anchor]
    terms = F.softplus(minus_logits.clamp(-high, -low))
    return torch.dot(terms.flatten(), weight.flatten()) / valid.sum()


@register("dtsh", family="triplet", citation=citations.DTSH)
class DTSHLoss(HashingLoss):
    """DTSH: likelihood of triplet orderings of inner products, image->text and text->image, plus quantization.

    With ``theta = u v^T`` (image anchors, text candidates; ``v u^T`` for text anchors), positives
    ``S_ip = 1[y_i.y_p > 0]`` and negatives ``S_iq = 0``:
    ``T(theta) = mean over anchors with both of mean_{p,q} softplus(-clamp(theta_ip - theta_iq - alpha, -100, 50))``,
    ``L = (T(u v^T) + T(v u^T)) / 2 + lambda_q (mean((u - sgn u)^2) + mean((v - sgn v)^2)) / 2``.

    Shapes: ``img``, ``txt`` ``(n, k)``; ``labels`` ``(n, c)``. The single-modal source's loss is applied to
    image->text and text->image triplets and averaged, so with ``img = txt`` it is the source's loss.

    Args:
        alpha: the margin of the triplet logit (default 5).
        lambda_q: weight of the quantization term (default 1).
    """

    search_space = {"alpha": FloatRange(1.0, 20.0, log=True), "lambda_q": FloatRange(0.1, 10.0, log=True)}
    consumes = "logits"

    def __init__(self, n_classes: int, n_bits: int, alpha: float = 5.0, lambda_q: float = 1.0):
        super().__init__(n_classes, n_bits)
        self.alpha = check_number("alpha", alpha)
        self.lambda_q = check_number("lambda_q", lambda_q, minimum=0)

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        similar = hard_similarity(labels, labels).bool()
        theta = img @ txt.T
        quantization = ((img - img.sign()) ** 2).mean() + ((txt - txt.sign()) ** 2).mean()
        return LossOutput.from_terms(
            {
                "img_to_txt": 0.5 * triplet_likelihood(theta, similar, self.alpha),
                "txt_to_img": 0.5 * triplet_likelihood(theta.T, similar, self.alpha),
                "quantization": self.lambda_q * 0.5 * quantization,
            }
        )
