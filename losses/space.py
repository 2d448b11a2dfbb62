"""Search spaces: the range of each parameter a loss lets a tuner search, declared next to its defaults.

A loss class declares ``search_space = {"margin": FloatRange(0.05, 1.0), "mining": Choice(("all", "hard"))}``;
``losses.search_space(name)`` returns it checked (every key a parameter of the loss, every default inside its
range) without the parameters a variant fixes. Nothing here depends on a tuning library: ``python -m benchmark
tune`` turns the ranges into Optuna distributions (docs/losses.md, "Search spaces").
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .base import LossConfigError


@dataclass(frozen=True)
class _Interval:
    """A closed range ``[low, high]`` of the values ``_accepts`` takes; ``log``: searched on a log scale (then
    ``low`` > 0)."""

    low: float
    high: float
    log: bool = False

    @staticmethod
    def _accepts(value) -> bool:
        raise NotImplementedError

    def __post_init__(self):
        name = type(self).__name__
        if not (self._accepts(self.low) and self._accepts(self.high)):
            raise LossConfigError(f"{name} bounds must be {self._kind}, got [{self.low!r}, {self.high!r}]")
        if not self.low < self.high or (self.log and self.low <= 0):
            raise LossConfigError(f"{name} needs low < high{' and low > 0 (log scale)' if self.log else ''}, "
                                  f"got [{self.low}, {self.high}]")

    def contains(self, value) -> bool:
        return self._accepts(value) and self.low <= value <= self.high


@dataclass(frozen=True)
class FloatRange(_Interval):
    """A real parameter in ``[low, high]``; ``log``: searched on a log scale (then ``low`` > 0)."""

    _kind = "finite numbers"

    @staticmethod
    def _accepts(value) -> bool:
        return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)

    def describe(self) -> str:
        return f"[{self.low:g}, {self.high:g}]" + (" log" if self.log else "")


@dataclass(frozen=True)
class IntRange(_Interval):
    """An integer parameter in ``[low, high]``; ``log``: searched on a log scale (then ``low`` >= 1)."""

    low: int
    high: int
    _kind = "integers"

    @staticmethod
    def _accepts(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def describe(self) -> str:
        return f"{{{self.low}, …, {self.high}}}" + (" log" if self.log else "")


@dataclass(frozen=True)
class Choice:
    """A parameter taking one of ``options`` (strings, numbers or booleans)."""

    options: tuple

    def __post_init__(self):
        if not isinstance(self.options, tuple) or len(self.options) < 2 or len(set(self.options)) != len(self.options):
            raise LossConfigError(f"Choice needs a tuple of at least two distinct options, got {self.options!r}")

    def contains(self, value) -> bool:
        return value in self.options

    def describe(self) -> str:
        return "{" + ", ".join(map(str, self.options)) + "}"


#: What a search space maps each parameter name to.
Range = FloatRange | IntRange | Choice
