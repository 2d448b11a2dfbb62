"""HyP²: learnable class proxies plus a push between irrelevant multi-label pairs, both with the threshold ζ
(docs/losses.md, `hyp2`)."""
from __future__ import annotations

import torch
from torch import nn

from .base import HashingLoss, LossOutput, check_number, check_seed, proxy_optimizer
from .functional import cosine_matrix, irrelevant_pairs, masked_mean
from .proxy import init_kaiming_proxies
from . import citations
from .registry import register
from .space import FloatRange
from .thresholds import threshold


def proxy_terms(codes: torch.Tensor, proxies: torch.Tensor, labels: torch.Tensor, zeta: float):
    """HyP²'s two proxy terms of one modality: ``sum_{y_ij=1} (1 - C_ij) / N_P`` and
    ``sum_{y_ij=0} [C_ij - zeta]_+ / N_N`` with ``C = cos(codes, proxies)`` (an empty count gives 0)."""
    cos = cosine_matrix(codes, proxies.to(codes.dtype))
    pos_mask = labels > 0
    return masked_mean(1 - cos, pos_mask), masked_mean((cos - zeta).clamp_min(0), ~pos_mask)


class ThresholdProxies(HashingLoss):
    """What ``hyp2`` and ``dsph`` share: class proxies drawn as the authors draw them and trained by SGD, and the
    threshold ``zeta`` of every negative term."""

    def __init__(self, n_classes: int, n_bits: int, zeta: float | None, seed: int, proxy_lr: float,
                 proxy_momentum: float, proxy_weight_decay: float):
        super().__init__(n_classes, n_bits)
        self.zeta = threshold(zeta, n_bits, n_classes)
        self.proxies = nn.Parameter(init_kaiming_proxies(n_classes, n_bits, check_seed(seed)))
        self.optimizer_settings = proxy_optimizer("sgd", proxy_lr, proxy_weight_decay, proxy_momentum)

    def push(self, a: torch.Tensor, b: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
        """``mean over pairs of [cos(a_i, b_j) - zeta]_+`` (0 when there are none)."""
        return masked_mean((cosine_matrix(a, b) - self.zeta).clamp_min(0), pairs)


@register("hyp2", family="proxy", citation=citations.HYP2)
class HyP2Loss(ThresholdProxies):
    """HyP²: class proxies per modality plus a push between irrelevant multi-label image-text pairs.

    With ``C^m_ij = cos(m_i, P_j)``, the proxy terms of :func:`proxy_terms` per modality and the irrelevant pairs
    ``Omega = {(i, j): |y_i| >= 2, |y_j| >= 2, y_i.y_j = 0}``:
    ``L = (pos^u + neg^u + pos^v + neg^v) / 2 + beta * mean_{(i,j) in Omega} [cos(u_i, v_j) - zeta]_+``
    (0 when Omega is empty).

    Shapes: ``img``, ``txt`` ``(n, k)``; ``labels`` ``(n, c)``. The single-modal source's per-code proxy terms are
    averaged over the two modalities and its pair term is taken on image-text pairs (``Omega`` is symmetric, so
    this covers both directions): with ``img = txt`` it is the source's loss.

    Args:
        beta: weight of the irrelevant-pair term (default 0.5).
        zeta: the threshold ζ of both negative terms; default None: the authors' table entry for
            (n_bits, n_classes) (:func:`losses.thresholds.hyp2_threshold`).
        seed: seeds the proxy initialisation.
        proxy_lr, proxy_momentum, proxy_weight_decay: SGD settings of the proxies (0.02, 0.9, 5e-4).

    Attributes:
        proxies: learnable ``(n_classes, n_bits)`` parameter (``randn``, then ``kaiming_normal_(fan_out)``).
    """

    search_space = {"beta": FloatRange(0.05, 2.0, log=True), "proxy_lr": FloatRange(0.002, 0.2, log=True)}
    consumes = "logits"

    def __init__(self, n_classes: int, n_bits: int, beta: float = 0.5, zeta: float | None = None, seed: int = 0,
                 proxy_lr: float = 0.02, proxy_momentum: float = 0.9, proxy_weight_decay: float = 5e-4):
        super().__init__(n_classes, n_bits, zeta, seed, proxy_lr, proxy_momentum, proxy_weight_decay)
        self.beta = check_number("beta", beta, minimum=0)

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        terms = {}
        for modality, codes in (("img", img), ("txt", txt)):
            pos, neg = proxy_terms(codes, self.proxies, labels, self.zeta)
            terms[f"proxy_pos_{modality}"], terms[f"proxy_neg_{modality}"] = 0.5 * pos, 0.5 * neg
        terms["irrelevant_pair"] = self.beta * self.push(img, txt, irrelevant_pairs(labels))
        return LossOutput.from_terms(terms)
