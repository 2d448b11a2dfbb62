"""The generator's knobs: each a keyword of ``generate`` / ``load_synthetic`` with a validated range.

A preset is a named set of knob values; knobs given to ``load_synthetic(name, ..., **knobs)`` override the preset's.
What each knob does, and how its effect is measured, is in docs/synthetic.md.
"""
from __future__ import annotations

import difflib
import math
import numbers
from dataclasses import dataclass

from ...errors import DataError


@dataclass(frozen=True)
class Knob:
    """One knob: its type (``float`` or ``int``), closed range, whether ``None`` is allowed, and what it does."""

    name: str
    kind: type
    low: float
    high: float
    doc: str
    nullable: bool = False

    def describe(self) -> str:
        kind = "an integer" if self.kind is int else "a number"
        text = f"{kind} in [{self.low:g}, {self.high:g}]"
        return text + (" or None" if self.nullable else "")

    def check(self, value):
        """``value`` as this knob's type; DataError naming the knob and its valid values otherwise."""
        if value is None and self.nullable:
            return None
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if ok and self.kind is int:
            ok = isinstance(value, numbers.Integral) or (math.isfinite(value) and float(value).is_integer())
        if ok:
            ok = math.isfinite(value) and self.low <= value <= self.high
        if not ok:
            raise DataError(f"synthetic knob {self.name} must be {self.describe()}, got {value!r}")
        return int(value) if self.kind is int else float(value)


KNOBS: dict[str, Knob] = {k.name: k for k in (
    Knob("labels_per_item", float, 1.0, 8.0,
         "mean number of labels per item (of the annotation, before label noise)"),
    Knob("single_label", float, 0.0, 0.95,
         "fraction of items with exactly one label"),
    Knob("longtail", float, 0.0, 3.0,
         "Zipf exponent of class popularity: the class of popularity rank r is drawn with weight r^-longtail "
         "(0: all classes equally popular)"),
    Knob("dominant", float, 0.0, 0.95,
         "frequency of the head class (the most popular one): each item carries it with this probability; "
         "None: the head is only the first rank of the Zipf law", nullable=True),
    Knob("cooccurrence", float, 0.0, 1.0,
         "strength of scene templates: an item's classes are drawn from a mixture of global popularity (weight "
         "1 - cooccurrence) and its scene's template (weight cooccurrence)"),
    Knob("scenes", int, 1, 64,
         "number of scene templates (each: one or two super-classes' members and a few other classes)"),
    Knob("hierarchy", float, 0.0, 1.0,
         "class similarity through super-classes: the share of each class glyph's pixels that show its "
         "super-class's part, and the probability that a caption naming a class also names its super-class"),
    Knob("missing_labels", float, 0.0, 0.9,
         "label noise: probability that a class an item shows is missing from its labels (an item keeps one)"),
    Knob("spurious_labels", float, 0.0, 3.0,
         "label noise: expected number of labels per item of classes it does not show"),
    Knob("hide_image", float, 0.0, 0.9,
         "probability that a class of the item is not drawn in its image"),
    Knob("hide_caption", float, 0.0, 0.9,
         "probability that a class of the item is not named in its caption (a class hidden from both "
         "modalities is given back to one of them at random)"),
    Knob("modality_gap", float, 0.0, 3.0,
         "expected number of unlabelled classes per item that one modality shows on its own (drawn independently "
         "for the image and the caption, plausible for the item's scene)"),
)}


def resolve(preset: dict, overrides: dict) -> dict:
    """The knob values of a set: the preset's, overridden by ``overrides``; every value checked, and the
    combination too. DataError names an unknown knob (with the valid ones) or a bad value (with its range)."""
    unknown = sorted(set(overrides) - set(KNOBS))
    if unknown:
        hints = [difflib.get_close_matches(name, list(KNOBS), n=1) for name in unknown]
        hint = "".join(f" (did you mean {h[0]!r}?)" for h in hints if h) if len(unknown) == 1 else ""
        raise DataError(f"unknown synthetic knob(s) {', '.join(unknown)}{hint}; valid: {', '.join(KNOBS)}")
    values = {name: knob.check({**preset, **overrides}[name]) for name, knob in KNOBS.items()}
    single, mean = values["single_label"], values["labels_per_item"]
    if mean < 2 - single - 1e-9:
        raise DataError(f"synthetic knobs labels_per_item={mean:g} and single_label={single:g} do not fit: with a "
                        f"fraction s of single-label items the mean is at least s + 2(1 - s) = {2 - single:g}")
    if mean > 1 + (1 - single) * (MAX_LABELS - 1) - 0.5:
        raise DataError(f"synthetic knob labels_per_item={mean:g} is too high for single_label={single:g} "
                        f"(at most {MAX_LABELS} labels per item)")
    return values


#: At most this many labels per item (the image has 16 cells).
MAX_LABELS = 10
