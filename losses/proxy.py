"""Learnable class proxies (the HyP^2 proxy term used by DSPH and DCGH;
docs/losses.md, `proxy`)."""
from __future__ import annotations

import torch
from torch import nn

from .base import HashingLoss, LossOutput, check_seed, proxy_optimizer
from .functional import cosine_matrix
from . import citations
from .registry import register
from .space import FloatRange
from .thresholds import threshold


def init_kaiming_proxies(n_classes: int, n_bits: int, seed: int) -> torch.Tensor:
    """``randn``, then ``kaiming_normal_(mode="fan_out")``, from one seeded generator: the initialisation of the
    HyP², DSPH and Proxy Anchor code (which seed the global generator instead)."""
    generator = torch.Generator().manual_seed(seed)
    proxies = torch.randn(n_classes, n_bits, generator=generator)
    nn.init.kaiming_normal_(proxies, mode="fan_out", generator=generator)
    return proxies


def init_proxies(n_classes: int, n_bits: int, seed: int) -> torch.Tensor:
    """``randn``, then ``kaiming_normal_(mode="fan_out")``, then ``tanh``, all from one seeded generator."""
    return torch.tanh(init_kaiming_proxies(n_classes, n_bits, seed))


@register("proxy", family="proxy", citation=citations.HYP2, representative=True,
          description="HyP²'s proxy term for both modalities, as DSPH and DCGH use it")
class ProxyLoss(HashingLoss):
    """Class proxies: pull codes toward their labels' proxies, push them from the others (HyP^2/DSPH).

    With ``C^m_ij = cos(m_i, P_j)`` for modality ``m`` in {u, v} and the batch counts
    ``N_P = #{y_ij = 1}``, ``N_N = #{y_ij = 0}``:
    ``pos^m = sum_{y_ij=1} (1 - C^m_ij) / N_P``, ``neg^m = sum_{y_ij=0} [C^m_ij - zeta]_+ / N_N``,
    ``L = pos^u + neg^u + pos^v + neg^v``.

    Args:
        zeta: threshold of the negative term; default None: HyP²'s table entry for (n_bits, n_classes)
            (:func:`losses.thresholds.hyp2_threshold`: 0.25 at 16 bits and 0.125 at 32 bits for 80 classes, 0 for
            24 classes).
        seed: seeds the proxy initialisation.
        proxy_lr, proxy_momentum, proxy_weight_decay: SGD settings of the proxies (0.02, 0.9, 5e-4).

    Attributes:
        proxies: learnable ``(n_classes, n_bits)`` parameter.
    """

    search_space = {"proxy_lr": FloatRange(0.002, 0.2, log=True)}

    def __init__(
        self,
        n_classes: int,
        n_bits: int,
        zeta: float | None = None,
        seed: int = 0,
        proxy_lr: float = 0.02,
        proxy_momentum: float = 0.9,
        proxy_weight_decay: float = 5e-4,
    ):
        super().__init__(n_classes, n_bits)
        self.zeta = threshold(zeta, n_bits, n_classes)
        self.proxies = nn.Parameter(init_proxies(n_classes, n_bits, check_seed(seed)))
        self.optimizer_settings = proxy_optimizer("sgd", proxy_lr, proxy_weight_decay, proxy_momentum)

    def proxy_terms(
        self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """The four proxy terms, and the code-to-proxy cosines ``(n, c)`` of image and text."""
        proxies = self.proxies.to(img.dtype)
        pos_mask = labels > 0
        n_pos = pos_mask.sum().clamp_min(1)
        n_neg = (~pos_mask).sum().clamp_min(1)
        terms, cosines = {}, []
        for modality, codes in (("img", img), ("txt", txt)):
            cos = cosine_matrix(codes, proxies)
            terms[f"proxy_pos_{modality}"] = torch.where(pos_mask, 1 - cos, 0).sum() / n_pos
            terms[f"proxy_neg_{modality}"] = torch.where(pos_mask, 0, (cos - self.zeta).clamp_min(0)).sum() / n_neg
            cosines.append(cos)
        return terms, cosines[0], cosines[1]

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        terms, _, _ = self.proxy_terms(img, txt, labels)
        return LossOutput.from_terms(terms)
