"""Deep Polarized Network: a hinge pushing each bit of a code past a margin on the side of its target
vector (docs/losses.md, `dpn`)."""
from __future__ import annotations

import torch

from .base import HashingLoss, LossConfigError, LossOutput, check_number, check_seed
from . import citations
from .registry import register
from .space import FloatRange


def random_target_vectors(n_classes: int, n_bits: int, p: float, generator: torch.Generator) -> torch.Tensor:
    """``(n_classes, n_bits)`` +-1 rows, each with ``int(n_bits * p)`` entries -1 at random positions (DPN's
    "random assignment of target vectors")."""
    minus = int(n_bits * p)
    order = torch.argsort(torch.rand(n_classes, n_bits, generator=generator), dim=1)
    return torch.where(order < minus, -1.0, 1.0)


def voted_targets(labels: torch.Tensor, centers: torch.Tensor, tie_breaker: torch.Tensor) -> torch.Tensor:
    """``(n, c) -> (n, k)``: ``sgn(sum_j y_ij centers_j)``, zero entries taken from ``tie_breaker`` (as CSQ)."""
    vote = (labels @ centers.to(labels.dtype)).sign()
    return torch.where(vote == 0, tie_breaker.to(vote.dtype), vote)


@register("dpn", family="center", citation=citations.DPN)
class DPNLoss(HashingLoss):
    """DPN: a hinge pushing every bit of the hash layer's output past a margin on the side of its label-voted target.

    Each class owns a fixed random target vector (``int(k p)`` entries -1); a multi-label pair's target is
    ``t_i = sgn(sum_j y_ij T_j)`` with zero entries from a fixed random +-1 vector (the source's multi-label rule,
    which for one label is that label's vector).
    ``L = (mean([m - z_u (.) t]_+) + mean([m - z_v (.) t]_+)) / 2`` on the unbounded outputs ``z`` (``consumes =
    "logits"``), as the authors apply it: a bit stops contributing once ``z t >= m``.

    Shapes: ``img``, ``txt`` ``(n, k)`` unbounded outputs; ``labels`` ``(n, c)``. The single-modal source's loss is
    applied to each modality with the same targets and averaged, so with ``img = txt`` it is the source's loss.

    Args:
        m: the polarization margin (default 1).
        p: fraction of -1 entries in a target vector (default 0.5).
        seed: seeds the target vectors and the tie-breaking vector.

    Attributes:
        centers: ``(n_classes, n_bits)`` buffer of +-1 target vectors, fixed per (c, k, p, seed).
        tie_breaker: ``(n_bits,)`` buffer of +-1 filling the zero entries of a voted target.
    """

    search_space = {"m": FloatRange(0.1, 2.0), "p": FloatRange(0.1, 0.9)}
    consumes = "logits"

    def __init__(self, n_classes: int, n_bits: int, m: float = 1.0, p: float = 0.5, seed: int = 0):
        super().__init__(n_classes, n_bits)
        self.m = check_number("m", m, minimum=0)
        self.p = check_number("p", p, minimum=0)
        if self.p > 1:
            raise LossConfigError(f"parameter p must be a number in [0, 1], got {p!r}")
        generator = torch.Generator().manual_seed(check_seed(seed))
        self.register_buffer("centers", random_target_vectors(n_classes, n_bits, self.p, generator))
        self.register_buffer("tie_breaker", torch.randint(0, 2, (n_bits,), generator=generator) * 2.0 - 1.0)

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        """``(n, n_classes) -> (n, n_bits)`` +-1 target of each pair."""
        return voted_targets(labels, self.centers, self.tie_breaker)

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        target = self.targets(labels)
        return LossOutput.from_terms(
            {
                "polarization_img": 0.5 * (self.m - img * target).clamp_min(0).mean(),
                "polarization_txt": 0.5 * (self.m - txt * target).clamp_min(0).mean(),
            }
        )
