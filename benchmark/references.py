"""Reference rows: what every loss's mAP is read against, evaluated once per dataset, bits and replicate on the
same split, data and backbone as the losses' runs. They train nothing.

- ``ref:random``: random +-1 codes (each item, each modality, drawn independently): the floor;
- ``ref:lsh``: the sign of one random Gaussian projection of the backbone's features (SimHash), shared by both
  modalities: hashing without learning;
- ``ref:continuous``: the backbone's features themselves, ranked by cosine: the ceiling a hashing head starts from;
- ``ref:oracle`` (synthetic sets only): the classes each modality shows (``PairedDataset.visible``) ranked by
  cosine: what a model reading every visible class perfectly would reach, the headroom above the backbone.

This module only names them (the report needs no torch); ``benchmark.training.references`` evaluates them.
"""
from __future__ import annotations

#: Reference name -> the row label reports show.
REFERENCES = {
    "ref:random": "random codes",
    "ref:lsh": "LSH of backbone features",
    "ref:continuous": "backbone features (cosine)",
    "ref:oracle": "visible-label oracle",
}
#: Reference rows that need what only a synthetic set knows (the classes each modality shows).
SYNTHETIC_ONLY = frozenset({"ref:oracle"})


def is_reference(name: str) -> bool:
    return name in REFERENCES


def references_for(synthetic: bool) -> list[str]:
    """The reference rows a dataset gets: all of them for a synthetic set, those a real one allows otherwise."""
    return [name for name in REFERENCES if synthetic or name not in SYNTHETIC_ONLY]
