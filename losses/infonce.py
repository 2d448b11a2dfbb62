"""CLIP's symmetric InfoNCE on the codes: the label-free control of the contrastive family (docs/losses.md,
`infonce`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import HashingLoss, LossOutput, check_number
from .functional import cosine_matrix
from . import citations
from .registry import register
from .space import FloatRange


@register("infonce", family="contrastive", citation=citations.CLIP, control=True)
class InfoNCELoss(HashingLoss):
    """CLIP's symmetric InfoNCE over the batch's image-text cosines; the paired item is the only positive.

    With ``C_ij = cos(u_i, v_j) / tau``: ``L = (CE(C, I) + CE(C^T, I)) / 2``, where ``CE(C, I)`` is the mean over
    rows ``i`` of ``-log softmax(C_i)_i`` (image -> text; its transpose text -> image). The labels are not used:
    this loss is the suite's label-free control, reported beside the supervised losses and never ranked with them.

    Args:
        temperature: ``tau`` (default 0.07, CLIP's initial temperature; CLIP learns it, this loss keeps it fixed).
    """

    search_space = {"temperature": FloatRange(0.01, 1.0, log=True)}

    def __init__(self, n_classes: int, n_bits: int, temperature: float = 0.07):
        super().__init__(n_classes, n_bits)
        self.temperature = check_number("temperature", temperature, minimum=1e-6)

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        logits = cosine_matrix(img, txt) / self.temperature
        paired = torch.arange(len(img), device=img.device)
        return LossOutput.from_terms({
            "img_to_txt": F.cross_entropy(logits, paired) / 2,
            "txt_to_img": F.cross_entropy(logits.T, paired) / 2,
        })
