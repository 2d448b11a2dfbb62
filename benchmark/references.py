"""Reference rows: what every loss's mAP is read against, evaluated once per dataset, bits and replicate on the
same split, data and backbone as the losses' runs. They train nothing. Each is a registered ``Reference``: a row of
kind "reference" (``row_kind``), which reports set apart and never test.

- ``ref:random``: random +-1 codes (each item, each modality, drawn independently): the floor;
- ``ref:lsh``: the sign of one random Gaussian projection of the backbone's features (SimHash), shared by both
  modalities: hashing without learning;
- ``ref:continuous``: the backbone's features themselves, ranked by cosine: the ceiling a hashing head starts from;
- ``ref:oracle`` (datasets that know the classes each modality shows: the synthetic worlds): those classes ranked
  by cosine: what a model reading every visible class perfectly would reach, the headroom above the backbone.

This module only names them (the report needs no torch); ``benchmark.training.reference_evaluation`` evaluates them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .registry import Registry

if TYPE_CHECKING:
    from .data import DatasetEntry


def _every_dataset(dataset: DatasetEntry) -> bool:
    return True


@dataclass(frozen=True)
class Reference:
    """A reference row: ``name`` (the loss name its records carry), ``label`` (Markdown tables and figure legends),
    ``display_name`` (LaTeX tables), ``note`` (what captions say it is), and ``applies_to``, the rule saying which
    registered datasets (``data.DatasetEntry``) get it."""

    name: str
    label: str
    display_name: str
    note: str
    applies_to: Callable[[DatasetEntry], bool] = _every_dataset


_REFERENCES: Registry[Reference] = Registry("reference row")


def register(reference: Reference) -> Reference:
    """Add ``reference``; a name registered already raises ValueError."""
    return _REFERENCES.add(reference.name, reference)


def unregister(name: str) -> None:
    """Remove ``name`` (for tests)."""
    _REFERENCES.remove(name)


def names() -> list[str]:
    """The reference rows, in the order tables list them (registration order)."""
    return _REFERENCES.names()


def get(name: str) -> Reference | None:
    """The reference row ``name``, or None for a loss (or a row of a loss with parameters)."""
    return _REFERENCES.find(name)


def row_kind(name: str) -> Literal["reference", "loss"]:
    """What a row of a grid or a table is: a registered reference row, or a loss (trained, compared, tested)."""
    return "reference" if name in _REFERENCES else "loss"


def label(name: str) -> str:
    """The label Markdown and figures give row ``name``: a reference's label, else the name itself."""
    reference = _REFERENCES.find(name)
    return reference.label if reference else name


def rows_for(dataset: DatasetEntry) -> list[str]:
    """The reference rows ``dataset`` gets: those whose rule admits it."""
    return [reference.name for reference in _REFERENCES.values() if reference.applies_to(dataset)]


register(Reference("ref:random", "random codes", "Random codes", "random codes"))
register(Reference("ref:lsh", "LSH of backbone features", "LSH",
                   "LSH, the sign of a random projection of the backbone features"))
register(Reference("ref:continuous", "backbone features (cosine)", "Backbone (cosine)",
                   "the continuous backbone features ranked by cosine"))
# It ranks the classes each modality shows, which only a dataset recording them (a generated world) knows.
register(Reference("ref:oracle", "visible-label oracle", "Label oracle",
                   "the visible-label oracle, the classes each modality shows ranked by cosine",
                   applies_to=lambda dataset: dataset.knows_visible))
