"""DSPH: HyP²'s proxies for both modalities plus irrelevant-pair terms within and across modalities
(docs/losses.md, `dsph`)."""
from __future__ import annotations

import torch

from .base import LossOutput, check_number
from .functional import irrelevant_pairs
from .hyp2 import ThresholdProxies, proxy_terms
from . import citations
from .registry import register
from .space import FloatRange


@register("dsph", family="proxy", citation=citations.DSPH)
class DSPHLoss(ThresholdProxies):
    """DSPH: HyP² proxies for both modalities plus irrelevant-pair pushes within and across modalities.

    With the proxy terms of :func:`losses.hyp2.proxy_terms` and the irrelevant pairs
    ``Omega = {(i, j): |y_i| >= 2, |y_j| >= 2, y_i.y_j = 0}``, ``R(a, b) = mean_Omega [cos(a_i, b_j) - zeta]_+``:
    ``L = pos^u + neg^u + pos^v + neg^v + alpha (R(u, u) + R(v, v) + R(u, v))`` (R is 0 when Omega is empty).

    Shapes: ``img``, ``txt`` ``(n, k)``; ``labels`` ``(n, c)``. The source is cross-modal: the terms are its own.

    Args:
        alpha: weight of the irrelevant-pair terms (default 0.8).
        zeta: the threshold of all negative terms; default None: the authors' table entry for (n_bits, n_classes)
            (:func:`losses.thresholds.hyp2_threshold`), as the source reads it.
        seed: seeds the proxy initialisation (the authors' ``hypseed``).
        proxy_lr, proxy_momentum, proxy_weight_decay: SGD settings of the proxies (0.02, 0.9, 5e-4).

    Attributes:
        proxies: learnable ``(n_classes, n_bits)`` parameter (``randn``, then ``kaiming_normal_(fan_out)``).
    """

    search_space = {"alpha": FloatRange(0.1, 4.0, log=True), "proxy_lr": FloatRange(0.002, 0.2, log=True)}

    def __init__(self, n_classes: int, n_bits: int, alpha: float = 0.8, zeta: float | None = None, seed: int = 0,
                 proxy_lr: float = 0.02, proxy_momentum: float = 0.9, proxy_weight_decay: float = 5e-4):
        super().__init__(n_classes, n_bits, zeta, seed, proxy_lr, proxy_momentum, proxy_weight_decay)
        self.alpha = check_number("alpha", alpha, minimum=0)

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        terms = {}
        for modality, codes in (("img", img), ("txt", txt)):
            terms[f"proxy_pos_{modality}"], terms[f"proxy_neg_{modality}"] = proxy_terms(
                codes, self.proxies, labels, self.zeta
            )
        omega = irrelevant_pairs(labels)
        for name, a, b in (("img", img, img), ("txt", txt, txt), ("img_txt", img, txt)):
            terms[f"irrelevant_{name}"] = self.alpha * self.push(a, b, omega)
        return LossOutput.from_terms(terms)
