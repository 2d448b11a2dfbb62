"""The registry of cross-modal hashing losses; docs/losses.md defines each one.

>>> import torch, losses
>>> loss = losses.build("dcgh", n_classes=24, n_bits=64)
>>> img, txt = torch.tanh(torch.randn(8, 64)), torch.tanh(torch.randn(8, 64))   # a batch's codes
>>> labels = (torch.rand(8, 24) < 0.2).float()
>>> out = loss(img, txt, labels)                 # LossOutput: .total (a scalar to backpropagate), .terms
>>> sorted(out.terms)
['neg_pair', 'pos_pair', 'proxy_neg_img', 'proxy_neg_txt', 'proxy_pos_img', 'proxy_pos_txt', 'variance']

Families (``losses.families()``), each with its representative first:
``pairwise`` (``dcmh``, ``pairwise``, ``hashnet``, ``dch``, ``dchmt``), ``triplet`` (``triplet``, ``dtsh``),
``center`` (``center``, ``dpn``, ``orthohash``), ``proxy`` (``proxy``, ``hyp2``, ``dsph``, ``proxy-anchor``),
``dcgh`` (``dcgh``), ``contrastive`` (``supcon``, ``infonce`` — the label-free control —, ``ms``, ``qmi``);
variants ``supcon-soft``, ``dcgh-novar``, ``dcgh-nopair``, ``dcgh-labelvar``, ``dcgh-proxyonly``; a user's
loss as ``package.module:ClassName``.
"""
from .base import CONSUMES, HashingLoss, LossConfigError, LossOutput, OptimizerSettings
from .citation import Citation
from .space import Choice, FloatRange, IntRange, Range
from .registry import (
    FAMILIES,
    LossEntry,
    available,
    build,
    declared,
    defaults,
    entries,
    families,
    family_members,
    parameters,
    register,
    register_variant,
    representatives,
    search_space,
    unregister,
)

# Importing the modules registers their losses.
from . import dcmh, pairwise, triplet, center, proxy, dcgh  # noqa: E402,F401  isort: skip
from . import hashnet, dch, dchmt, dtsh, dpn, orthohash, hyp2, dsph, proxy_anchor  # noqa: E402,F401  isort: skip
from . import supcon, infonce, ms, qmi  # noqa: E402,F401  isort: skip

__all__ = [
    "CONSUMES",
    "FAMILIES",
    "Choice",
    "Citation",
    "FloatRange",
    "HashingLoss",
    "IntRange",
    "LossConfigError",
    "LossEntry",
    "LossOutput",
    "OptimizerSettings",
    "Range",
    "available",
    "build",
    "declared",
    "defaults",
    "entries",
    "families",
    "family_members",
    "parameters",
    "register",
    "register_variant",
    "representatives",
    "search_space",
    "unregister",
]
