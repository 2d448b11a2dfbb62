"""DCGH, Deep Class-guided Hashing: class proxies + pairwise structure + a variance constraint,
and the named variants of its ablation (docs/losses.md, `dcgh`)."""
from __future__ import annotations

import torch

from .base import LossConfigError, LossOutput, check_choice, check_number
from .functional import cosine_matrix, masked_mean, soft_similarity
from .proxy import ProxyLoss
from . import citations
from .registry import register, register_variant
from .space import FloatRange

VARIANCES = ("all-classes", "label-classes")


def proxy_distance_variance(distance: torch.Tensor, labels: torch.Tensor, definition: str) -> torch.Tensor:
    """Mean over samples of the spread of ``distance`` ``(n, c)`` (``1 - cos`` to each proxy) over labels.

    ``"all-classes"``: unbiased variance (divisor c - 1) of the whole row ``D_i * y_i`` (non-label
    entries are 0, not removed), as the released implementation computes it.
    ``"label-classes"``: population variance of ``{D_ij : y_ij = 1}`` for samples with >= 2 labels,
    0 for the others, as the method states its intent.
    """
    if definition == "all-classes":
        return (distance * labels).var(dim=1, unbiased=True).mean()
    # a sample with one label (or none) has variance 0 by this formula, as the definition asks
    count = labels.sum(dim=1).clamp_min(1)
    mean = (distance * labels).sum(dim=1) / count
    return ((labels * (distance - mean.unsqueeze(1)) ** 2).sum(dim=1) / count).mean()


@register(
    "dcgh",
    family="dcgh",
    citation=citations.DCGH,
    representative=True,
)
class DCGHLoss(ProxyLoss):
    """DCGH: proxy loss + inter-class (neg) and intra-class (pos) pair terms + the variance constraint.

    ``L = L_proxy + alpha L_neg + beta L_pos + gamma L_var`` (docs/losses.md gives each term):
    ``L_neg`` pushes apart multi-label samples sharing no label (0 when there are none),
    ``L_pos`` pulls pairs toward their soft label similarity, ``L_var`` asks each code to be equally
    distant from the proxies of its labels.

    Args:
        alpha: weight of ``L_neg`` (default 0.8).
        beta: weight of ``L_pos`` (default 0.05).
        gamma: weight of ``L_var`` (default 1).
        variance: ``"all-classes"`` (default, the released implementation) or ``"label-classes"``.
        zeta: threshold of the negative proxy term, default 0: DCGH's released loss applies ``relu(cos)`` to the
            negative proxies (its imported threshold is used only in a commented-out line), unlike ``proxy``,
            whose default is HyP²'s table entry.
        seed, proxy_lr, proxy_momentum, proxy_weight_decay: as for ``proxy``.
    """

    search_space = {"alpha": FloatRange(0.0, 2.0), "beta": FloatRange(0.005, 0.5, log=True),
                    "gamma": FloatRange(0.0, 2.0), "proxy_lr": FloatRange(0.002, 0.2, log=True)}

    def __init__(
        self,
        n_classes: int,
        n_bits: int,
        alpha: float = 0.8,
        beta: float = 0.05,
        gamma: float = 1.0,
        variance: str = "all-classes",
        zeta: float = 0.0,
        seed: int = 0,
        proxy_lr: float = 0.02,
        proxy_momentum: float = 0.9,
        proxy_weight_decay: float = 5e-4,
    ):
        super().__init__(n_classes, n_bits, zeta, seed, proxy_lr, proxy_momentum, proxy_weight_decay)
        self.alpha = check_number("alpha", alpha, minimum=0)
        self.beta = check_number("beta", beta, minimum=0)
        self.gamma = check_number("gamma", gamma, minimum=0)
        self.variance = check_choice("variance", variance, VARIANCES)
        if variance == "all-classes" and n_classes < 2:
            raise LossConfigError("dcgh with variance='all-classes' needs n_classes >= 2 (its divisor is c - 1)")

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        terms, cos_img_proxy, cos_txt_proxy = self.proxy_terms(img, txt, labels)
        zero = img.new_zeros(())
        if self.alpha or self.beta:
            cos_uu, cos_vv, cos_uv = cosine_matrix(img, img), cosine_matrix(txt, txt), cosine_matrix(img, txt)
        if self.alpha:
            multi = labels.sum(dim=1) > 1
            omega_neg = multi.unsqueeze(1) & multi.unsqueeze(0) & (labels @ labels.T == 0)
            push = cos_uu.clamp_min(0) + cos_vv.clamp_min(0) + cos_uv.clamp_min(0)
            terms["neg_pair"] = self.alpha * masked_mean(push, omega_neg)
        else:
            terms["neg_pair"] = zero
        if self.beta:
            s_hat = soft_similarity(labels, labels)
            pull = (s_hat - cos_uu).clamp_min(0) + (s_hat - cos_vv).clamp_min(0) + (s_hat - cos_uv).clamp_min(0)
            terms["pos_pair"] = self.beta * masked_mean(pull, s_hat > 0)
        else:
            terms["pos_pair"] = zero
        if self.gamma:
            terms["variance"] = self.gamma * (
                proxy_distance_variance(1 - cos_img_proxy, labels, self.variance)
                + proxy_distance_variance(1 - cos_txt_proxy, labels, self.variance)
            )
        else:
            terms["variance"] = zero
        return LossOutput.from_terms(terms)


register_variant("dcgh-novar", "dcgh", "DCGH without the variance constraint (gamma = 0)", gamma=0.0)
register_variant("dcgh-nopair", "dcgh", "DCGH without the pair terms (alpha = beta = 0)", alpha=0.0, beta=0.0)
register_variant(
    "dcgh-labelvar", "dcgh", "DCGH with the stated-intent variance over label classes only",
    variance="label-classes",
)
register_variant(
    "dcgh-proxyonly", "dcgh", "DCGH reduced to its proxy term (alpha = beta = gamma = 0; proxy with zeta = 0)",
    alpha=0.0, beta=0.0, gamma=0.0,
)
