"""DNpH's quadratic (spherical) mutual-information loss with square clamping (docs/losses.md, `qmi`)."""
from __future__ import annotations

import torch

from .base import HashingLoss, LossOutput, check_choice, check_number
from . import citations
from .registry import register

KERNELS = ("cosine", "gaussian")


@register("qmi", family="contrastive", citation=citations.DNPH)
class QMILoss(HashingLoss):
    """Quadratic mutual information between codes and "shares a label", with square clamping, as DNpH trains it.

    ``D_ij = 1[y_i . y_j > 0]``, ``M = n^2 / sum D`` (``1 / M = 0`` when no pair shares a label). For a similarity
    matrix ``K`` in [0, 1] (``"cosine"``: ``(1 + a_i.b_j / ((|a_i| + 1e-8)(|b_j| + 1e-8))) / 2``, the spherical QSMI;
    ``"gaussian"``: ``exp(-|a_i - b_j|^2 / (2 sigma^2))``, QMI), ``Q(K) = sum_ij (D_ij K_ij - 1)^2 + K_ij^2 / M``
    (``square_clamp``) or ``-sum_ij (D_ij K_ij - K_ij / M)`` (the unclamped QMI to maximise), and
    ``L = Q(K(u, u)) + Q(K(v, v)) + Q(K(u, v))``: sums over the batch's pairs, not means, as released.

    Args:
        kernel: ``"cosine"`` (default) or ``"gaussian"``.
        sigma: the Gaussian kernel's width (default 3; unused by the cosine kernel).
        square_clamp: minimise the square-clamped form (default True) rather than the plain QMI.
    """

    # none declared: DNpH's point is a loss free of parameters to tune (its kernel and clamping are its definition)

    def __init__(self, n_classes: int, n_bits: int, kernel: str = "cosine", sigma: float = 3.0,
                 square_clamp: bool = True):
        super().__init__(n_classes, n_bits)
        self.kernel = check_choice("kernel", kernel, KERNELS)
        self.sigma = check_number("sigma", sigma, minimum=1e-6)
        self.square_clamp = check_choice("square_clamp", square_clamp, (True, False))

    def _kernel(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.kernel == "cosine":
            # vector_norm's gradient at a zero code is 0, where the source's sqrt(sum(x^2)) gives NaN
            a = a / (torch.linalg.vector_norm(a, dim=1, keepdim=True) + 1e-8)
            b = b / (torch.linalg.vector_norm(b, dim=1, keepdim=True) + 1e-8)
            return (a @ b.T + 1) / 2
        squared = (a.square().sum(1)[:, None] + b.square().sum(1)[None, :] - 2 * a @ b.T).clamp_min(0)
        return torch.exp(-squared / (2 * self.sigma ** 2))

    def _q(self, k: torch.Tensor, d: torch.Tensor, inv_m: torch.Tensor) -> torch.Tensor:
        if self.square_clamp:
            return ((d * k - 1).square() + inv_m * k.square()).sum()
        return -(d * k - inv_m * k).sum()

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        d = (labels @ labels.T > 0).to(img.dtype)
        inv_m = d.sum() / len(img) ** 2  # 1 / M with M = n^2 / sum D, the source's default number of needs
        return LossOutput.from_terms({
            "image": self._q(self._kernel(img, img), d, inv_m),
            "text": self._q(self._kernel(txt, txt), d, inv_m),
            "cross": self._q(self._kernel(img, txt), d, inv_m),
        })
