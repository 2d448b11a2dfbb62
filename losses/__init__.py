"""The registry of cross-modal hashing losses; docs/losses.md defines each one.

>>> import losses
>>> loss = losses.build("dcgh", n_classes=24, n_bits=64)
>>> out = loss(img_codes, txt_codes, labels)   # LossOutput: .total, .terms

Families (``losses.families()``), each with its representative first:
``pairwise`` (``dcmh``, ``pairwise``, ``hashnet``, ``dch``, ``dchmt``), ``triplet`` (``triplet``, ``dtsh``),
``center`` (``center``, ``dpn``, ``orthohash``), ``proxy`` (``proxy``, ``hyp2``, ``dsph``, ``proxy-anchor``),
``dcgh`` (``dcgh``); variants ``dcgh-novar``, ``dcgh-nopair``, ``dcgh-labelvar``, ``dcgh-proxyonly``; a user's
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
