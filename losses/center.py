"""CSQ, Central Similarity Quantization: each class owns a fixed +-1 hash center, codes are pulled toward their
target by a BCE, plus the official code's pairwise likelihood and quantization (docs/losses.md, `center`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import HashingLoss, LossOutput, check_number, check_seed
from .functional import hard_similarity
from . import citations
from .registry import register
from .space import FloatRange

#: Random center sets drawn when Hadamard rows do not suffice; the most spread-out one is kept.
RANDOM_CANDIDATES = 20


def sylvester_hadamard(k: int) -> torch.Tensor:
    """The ``(k, k)`` Sylvester Hadamard matrix (``k`` a power of two), row 0 all ones."""
    if k < 1 or k & (k - 1):
        raise ValueError(f"a Sylvester Hadamard matrix needs a power-of-two size, got {k}")
    h = torch.ones(1, 1)
    while h.shape[0] < k:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h


def min_hamming_distance(codes: torch.Tensor) -> int:
    """Smallest Hamming distance between two different rows of a +-1 matrix (k when one row)."""
    k = codes.shape[1]
    if codes.shape[0] < 2:
        return k
    dist = (k - codes @ codes.T) / 2
    dist.fill_diagonal_(k)
    return int(dist.min())


def hash_centers(n_classes: int, n_bits: int, generator: torch.Generator) -> torch.Tensor:
    """``(n_classes, n_bits)`` +-1 centers, by the rule of the CSQ authors' released center files.

    Rows 1..c of ``H_k`` (row 0, all ones, left out) when ``k`` is a power of two and ``c <= k - 1``; otherwise
    the best (largest minimum pairwise Hamming distance) of ``RANDOM_CANDIDATES`` sets of balanced random vectors
    (``k // 2`` entries +1) drawn from ``generator``.
    """
    k = n_bits
    if k & (k - 1) == 0 and n_classes <= k - 1:
        return sylvester_hadamard(k)[1:n_classes + 1].clone()
    balanced = torch.cat([torch.ones(k // 2), -torch.ones(k - k // 2)])
    best, best_distance = None, -1
    for _ in range(RANDOM_CANDIDATES):
        order = torch.argsort(torch.rand(n_classes, k, generator=generator), dim=1)
        candidate = balanced[order]
        distance = min_hamming_distance(candidate)
        if distance > best_distance:
            best, best_distance = candidate, distance
    return best


@register("center", family="center", citation=citations.CSQ, representative=True)
class CenterLoss(HashingLoss):
    """CSQ: BCE of each modality's codes to the label-voted hash center, a pairwise likelihood and quantization.

    Target ``t_i = sgn(sum_j y_ij H_j)``, zero entries replaced by a fixed seeded random +-1 vector;
    ``L = (BCE((u+1)/2, (t+1)/2) + BCE((v+1)/2, (t+1)/2)) / 2 + lambda_pair l(u, v)
    + lambda_q (mean((|u|-1)^2) + mean((|v|-1)^2)) / 2`` with the pairwise likelihood
    ``l(u, v) = mean_ij softplus(theta_ij) - S_ij theta_ij``, ``theta = (10 / k) u v^T``, over image-text pairs.

    Shapes: ``img``, ``txt`` ``(n, k)`` codes; ``labels`` ``(n, c)``. Per-code terms are averaged over the
    modalities; the pair term, which the source takes between two halves of a batch, is taken over its n^2
    image-text pairs.

    Args:
        lambda_pair: weight of the pairwise likelihood (default 0.2, the authors' ``lambda1``).
        lambda_q: weight of the quantization term (default 0.05, the authors' ``lambda2``).
        seed: seeds the random centers (when Hadamard rows do not suffice) and the tie-breaking vector.

    Attributes:
        centers: ``(n_classes, n_bits)`` buffer of +-1, fixed per (c, k, seed).
        tie_breaker: ``(n_bits,)`` buffer of +-1 filling the zero entries of a target.
    """

    search_space = {"lambda_pair": FloatRange(0.0, 1.0), "lambda_q": FloatRange(0.001, 1.0, log=True)}

    def __init__(self, n_classes: int, n_bits: int, lambda_pair: float = 0.2, lambda_q: float = 0.05, seed: int = 0):
        super().__init__(n_classes, n_bits)
        self.lambda_pair = check_number("lambda_pair", lambda_pair, minimum=0)
        self.lambda_q = check_number("lambda_q", lambda_q, minimum=0)
        generator = torch.Generator().manual_seed(check_seed(seed))
        self.register_buffer("centers", hash_centers(n_classes, n_bits, generator))
        self.register_buffer("tie_breaker", torch.randint(0, 2, (n_bits,), generator=generator) * 2.0 - 1.0)

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        """``(n, n_classes) -> (n, n_bits)`` +-1 target of each sample."""
        vote = (labels @ self.centers.to(labels.dtype)).sign()
        return torch.where(vote == 0, self.tie_breaker.to(vote.dtype), vote)

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        self.check_inputs(img, txt, labels)
        target = (self.targets(labels) + 1) / 2
        theta = (10.0 / self.n_bits) * (img @ txt.T)
        pair = (F.softplus(theta) - hard_similarity(labels, labels) * theta).mean()
        quantization = ((img.abs() - 1) ** 2).mean() + ((txt.abs() - 1) ** 2).mean()
        return LossOutput.from_terms({
            "center_img": 0.5 * F.binary_cross_entropy((img + 1) / 2, target),
            "center_txt": 0.5 * F.binary_cross_entropy((txt + 1) / 2, target),
            "pair": self.lambda_pair * pair,
            "quantization": 0.5 * self.lambda_q * quantization,
        })
