"""The registry of cross-modal hashing losses; docs/losses.md defines each one.

>>> import losses
>>> loss = losses.build("dcgh", n_classes=24, n_bits=64)
>>> out = loss(img_codes, txt_codes, labels)   # LossOutput: .total, .terms

Families: ``pairwise``, ``triplet``, ``center``, ``proxy``, ``dcgh``; variants ``dcgh-novar``,
``dcgh-nopair``, ``dcgh-labelvar``, ``dcgh-proxyonly``; a user's loss as ``package.module:ClassName``.
"""
from .base import HashingLoss, LossConfigError, LossOutput, OptimizerSettings
from .registry import LossEntry, available, build, entries, parameters, register, register_variant, unregister

# Importing the family modules registers them.
from . import pairwise, triplet, center, proxy, dcgh  # noqa: E402,F401  isort: skip

__all__ = [
    "HashingLoss",
    "LossConfigError",
    "LossEntry",
    "LossOutput",
    "OptimizerSettings",
    "available",
    "build",
    "entries",
    "parameters",
    "register",
    "register_variant",
    "unregister",
]
