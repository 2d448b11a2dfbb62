"""Proxy Anchor: each class proxy is an anchor pulling its batch positives and pushing its negatives through
a log-sum-exp, multi-label (docs/losses.md, `proxy-anchor`)."""
from __future__ import annotations

import torch
from torch import nn

from .base import HashingLoss, LossOutput, check_number, check_seed, proxy_optimizer
from .functional import cosine_matrix, log1p_sum_exp
from .proxy import init_kaiming_proxies
from . import citations
from .registry import register
from .space import FloatRange


@register("proxy-anchor", family="proxy", citation=citations.PROXY_ANCHOR)
class ProxyAnchorLoss(HashingLoss):
    """Proxy Anchor: class proxies pull their batch positives and push their negatives via log-sum-exp.

    With ``C_ij = cos(a_i, P_j)``, ``P+`` the classes with at least one positive in the batch:
    ``PA(a) = sum_{j in P+} log(1 + sum_{i: y_ij=1} exp(-alpha (C_ij - delta))) / |P+|
    + sum_j log(1 + sum_{i: y_ij=0} exp(alpha (C_ij + delta))) / c`` (the first part is 0 when ``P+`` is empty),
    ``L = (PA(u) + PA(v)) / 2``.

    Shapes: ``img``, ``txt`` ``(n, k)``; ``labels`` ``(n, c)``. The single-modal source's loss is applied to each
    modality with the same proxies and averaged, so with ``img = txt`` it is the source's loss; a sample counts
    as a positive of every class it carries (the multi-label form of the source's one-hot ``P_one_hot``).

    Args:
        alpha: the scale ``alpha`` (default 32).
        mrg: the margin ``delta`` (default 0.1).
        seed: seeds the proxy initialisation.
        proxy_lr, proxy_weight_decay: AdamW settings of the proxies (1e-2 = 100 x the authors' base lr 1e-4,
            their proxy learning rate; weight decay 1e-4).

    Attributes:
        proxies: learnable ``(n_classes, n_bits)`` parameter (``randn``, then ``kaiming_normal_(fan_out)``).
    """

    search_space = {"alpha": FloatRange(4.0, 64.0, log=True), "mrg": FloatRange(0.0, 0.5),
                    "proxy_lr": FloatRange(0.001, 0.1, log=True)}
    consumes = "logits"

    def __init__(self, n_classes: int, n_bits: int, alpha: float = 32.0, mrg: float = 0.1, seed: int = 0,
                 proxy_lr: float = 1e-2, proxy_weight_decay: float = 1e-4):
        super().__init__(n_classes, n_bits)
        self.alpha = check_number("alpha", alpha, minimum=0)
        self.mrg = check_number("mrg", mrg)
        self.proxies = nn.Parameter(init_kaiming_proxies(n_classes, n_bits, check_seed(seed)))
        self.optimizer_settings = proxy_optimizer("adamw", proxy_lr, proxy_weight_decay)

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        pos_mask = labels > 0
        n_valid = pos_mask.any(dim=0).sum().clamp_min(1)
        terms = {}
        for modality, codes in (("img", img), ("txt", txt)):
            cos = cosine_matrix(codes, self.proxies.to(codes.dtype))
            pos = log1p_sum_exp(-self.alpha * (cos - self.mrg), pos_mask, 0).sum() / n_valid
            neg = log1p_sum_exp(self.alpha * (cos + self.mrg), ~pos_mask, 0).sum() / self.n_classes
            terms[f"pos_{modality}"], terms[f"neg_{modality}"] = 0.5 * pos, 0.5 * neg
        return LossOutput.from_terms(terms)
