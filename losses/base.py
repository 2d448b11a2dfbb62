"""The contract every hashing loss follows: `HashingLoss`, its `LossOutput`, and optimizer settings
for losses that own learnable parameters (proxies)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from .citation import Citation


class LossConfigError(ValueError):
    """A loss name, parameter or value that cannot be used; the message names it and the valid choices."""


@dataclass
class LossOutput:
    """What a loss returns.

    Attributes:
        total: scalar tensor, the value to back-propagate.
        terms: the weighted named terms (``proxy_pos_img``, ``neg_pair``, ``variance``, ...); they sum
            to ``total`` so a run's history shows which term dominates.
    """

    total: torch.Tensor
    terms: dict[str, torch.Tensor] = field(default_factory=dict)

    @classmethod
    def from_terms(cls, terms: dict[str, torch.Tensor]) -> "LossOutput":
        """Build the output whose total is the sum of ``terms`` (in insertion order)."""
        if not terms:
            raise ValueError("a LossOutput needs at least one term")
        return cls(total=sum(terms.values()), terms=terms)


@dataclass(frozen=True)
class OptimizerSettings:
    """How the trainer should optimise a loss's own parameters (e.g. class proxies).

    ``name`` is one of ``sgd``, ``adam``, ``adamw``; ``momentum`` applies to SGD only.
    """

    name: str = "sgd"
    lr: float = 0.02
    momentum: float = 0.0
    weight_decay: float = 0.0

    def build(self, params) -> torch.optim.Optimizer:
        if self.name == "sgd":
            return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)
        if self.name == "adam":
            return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        if self.name == "adamw":
            return torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        raise ValueError(f"unknown optimizer {self.name!r} in OptimizerSettings; choose sgd, adam or adamw")


#: What a loss may consume: the hash heads' tanh outputs (``codes``) or their unbounded outputs (``logits``).
CONSUMES = ("codes", "logits")


class HashingLoss(nn.Module):
    """Base class of every hashing loss.

    Subclasses implement ``forward(img, txt, labels) -> LossOutput`` where

    * ``img``, ``txt``: float ``(n, n_bits)`` outputs of the two hash heads; row ``i`` of both is one image-text
      pair. Which outputs is the class attribute ``consumes``: ``"codes"`` (the default), the continuous codes
      ``tanh(z)`` in (-1, 1), or ``"logits"``, the unbounded ``z`` itself, for a method whose authors apply their
      loss to the hash layer's raw output. The trainer passes what the loss declares; the binary codes are
      ``sign(z)`` either way;
    * ``labels``: float multi-hot ``(n, n_classes)``.

    A loss with learnable parameters sets ``optimizer_settings``; the trainer calls
    :meth:`make_optimizer` and needs no special case per loss. A loss declares the range a tuner may search of
    each of its parameters in ``search_space`` (``losses.space``: ``{"margin": FloatRange(0.05, 1.0)}``); the
    parameters it leaves out are never tuned. A user's loss given as ``package.module:ClassName`` may declare the
    name tables and figures print for it (``display_name``) and the published method it implements (``citation``,
    a :class:`losses.Citation`); a registered loss declares them with ``register``.
    """

    display_name: ClassVar[str | None] = None
    citation: ClassVar[Citation | None] = None
    optimizer_settings: OptimizerSettings | None = None
    search_space: ClassVar[Mapping[str, object]] = {}  # parameter -> losses.space range; read, never mutated
    consumes: ClassVar[str] = "codes"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.consumes not in CONSUMES:
            raise LossConfigError(f"{cls.__module__}.{cls.__qualname__}.consumes is {cls.consumes!r}; "
                                  f"a loss consumes one of {', '.join(map(repr, CONSUMES))}")

    def __init__(self, n_classes: int, n_bits: int):
        super().__init__()
        for name, value in (("n_classes", n_classes), ("n_bits", n_bits)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LossConfigError(f"{name} must be a positive integer, got {value!r}")
        self.n_classes = n_classes
        self.n_bits = n_bits

    def forward(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        raise NotImplementedError(f"{type(self).__name__} must implement forward(img, txt, labels)")

    def check_inputs(self, img: torch.Tensor, txt: torch.Tensor, labels: torch.Tensor) -> None:
        """Raise ``ValueError`` naming the shapes when a batch does not fit this loss."""
        n = img.shape[0] if img.dim() == 2 else -1
        if (
            img.dim() != 2
            or txt.shape != img.shape
            or img.shape[1] != self.n_bits
            or labels.shape != (n, self.n_classes)
        ):
            raise ValueError(
                f"{type(self).__name__} expects img and txt of shape (n, {self.n_bits}) and labels of shape "
                f"(n, {self.n_classes}); got img {tuple(img.shape)}, txt {tuple(txt.shape)}, "
                f"labels {tuple(labels.shape)}"
            )
        if n < 1:
            raise ValueError(f"{type(self).__name__} got an empty batch")

    def make_optimizer(self) -> torch.optim.Optimizer | None:
        """The optimizer for this loss's learnable parameters, or ``None`` when it has none."""
        params = [p for p in self.parameters() if p.requires_grad]
        if not params:
            return None
        if self.optimizer_settings is None:
            raise ValueError(
                f"{type(self).__name__} has learnable parameters but declares no optimizer_settings; "
                "set optimizer_settings = OptimizerSettings(...) on the class or instance"
            )
        return self.optimizer_settings.build(params)


def _described(value) -> str:
    """A parameter's value as a message quotes it: a scalar as written, anything else by its type (a list from YAML
    aliases can expand to gigabytes)."""
    return repr(value) if value is None or isinstance(value, (bool, int, float, str)) else f"a {type(value).__name__}"


def check_number(name: str, value: float, *, minimum: float | None = None) -> float:
    """Validate a weight or margin given by a user (finite: an infinite weight silently zeroes or swamps a term);
    returns it as a float."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not ok or (minimum is not None and value < minimum):
        bound = f" >= {minimum:g}" if minimum is not None else ""
        raise LossConfigError(f"parameter {name} must be a number{bound}, got {_described(value)}")
    return float(value)


def proxy_optimizer(name: str, lr: float, weight_decay: float, momentum: float = 0.0) -> OptimizerSettings:
    """The checked settings of a loss's optimizer for its proxies, from its ``proxy_*`` parameters."""
    return OptimizerSettings(name=name, lr=check_number("proxy_lr", lr, minimum=0),
                             momentum=check_number("proxy_momentum", momentum, minimum=0),
                             weight_decay=check_number("proxy_weight_decay", weight_decay, minimum=0))


def check_seed(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise LossConfigError(f"parameter seed must be an integer, got {_described(value)}")
    return value


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise LossConfigError(f"parameter {name} must be one of {', '.join(map(repr, choices))}, "
                              f"got {_described(value)}")
    return value
