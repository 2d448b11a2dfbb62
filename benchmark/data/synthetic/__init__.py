"""Synthetic worlds: stand-ins for MIRFLICKR-25K, NUS-WIDE and MS COCO, and stress worlds, generated here so that the
suite runs anywhere and can run controlled experiments no real dataset allows (docs/synthetic.md).

A world is a preset (``SYNTHETIC_DATASETS``: class names, super-classes, head class, default size, knob values)
and knobs that override it (``KNOBS``: label cardinality, single-label fraction, long tail, dominant class,
co-occurrence, hierarchy, label noise, per-modality hiding, modality gap). An item has

* its content: the classes it shows (a scene, a number of labels, the head class with probability ``dominant``,
  then classes drawn by popularity and the scene's template);
* its labels: the content, less missing labels, plus spurious ones (label noise);
* a 32x32 image: a glyph per class the image shows (a class is hidden from it with probability ``hide_image``)
  among clutter, plus glyphs of unlabelled classes (``modality_gap``);
* a caption: a word per class the caption shows (hidden with probability ``hide_caption``; never hidden from
  both modalities), the super-class's word with probability ``hierarchy``, distractor words, and words of
  unlabelled classes (``modality_gap``).

Generated deterministically from (name, size, seed, knobs), cached under ``<cache>/synthetic/`` in a folder named
by all of them. They are not the real datasets and the reports say so. Each preset is registered as a dataset.

>>> import tempfile; from pathlib import Path
>>> ds = load_synthetic("synth-coco", Path(tempfile.mkdtemp()), seed=0, size=200, hierarchy=0.6)  # a knob overrides
>>> len(ds), ds.visible["image"].shape                                 # the classes each image shows
(200, (200, 80))
"""
from __future__ import annotations

import hashlib
import json
import zlib
from functools import partial
from pathlib import Path

import numpy as np

from ...errors import DataError, check_int
from ...files import DAMAGED, atomic_folder, manifest_problem, set_aside, write_manifest
from ...paths import cache_dir as default_cache
from .. import real  # noqa: F401 - registers the real sets first: their columns come first, a stand-in takes their name
from ..dataset import PairedDataset, label_summary
from ..registry import DatasetEntry, dataset_entry, register_dataset
from . import labels as label_model
from . import render
from .knobs import KNOBS, MAX_LABELS, Knob, resolve
from .presets import PRESETS, SyntheticSpec, Target
from .stats import cooccurrence_density, label_statistics, lift

__all__ = ["GENERATOR_VERSION", "KNOBS", "Knob", "MAX_LABELS", "SYNTHETIC_DATASETS", "SyntheticSpec", "Target",
           "cache_folder", "cooccurrence_density", "generate", "generate_labels", "knob_values", "label_statistics",
           "lift", "load_synthetic", "spec_of"]

#: Bump when the generator changes: cached sets of another version are not reused.
GENERATOR_VERSION = 2
IMAGE_SIZE, CELL = render.IMAGE_SIZE, render.CELL

SYNTHETIC_DATASETS: dict[str, SyntheticSpec] = {spec.name: spec for spec in PRESETS}

# Random streams: a world's structure depends on (seed, name) only, each item-level draw on (seed, name, size) and
# its own stream, so that changing one knob leaves every draw it does not affect unchanged.
_WORLD, _ITEMS = 0, 1
_POPULARITY, _SCENES, _APPEARANCE = 0, 1, 2
_CONTENT, _VISIBILITY, _IMAGE_EXTRAS, _CAPTION_EXTRAS, _ANNOTATION, _IMAGES, _CAPTIONS = range(10, 17)


def spec_of(spec: SyntheticSpec | str) -> SyntheticSpec:
    if isinstance(spec, SyntheticSpec):
        return spec
    if spec not in SYNTHETIC_DATASETS:
        raise DataError(f"unknown synthetic set {spec!r}; available: {', '.join(SYNTHETIC_DATASETS)}")
    return SYNTHETIC_DATASETS[spec]


def knob_values(spec: SyntheticSpec | str, **knobs) -> dict:
    """Every knob's value for ``spec`` with ``knobs`` overriding its preset (validated; DataError otherwise)."""
    return resolve(spec_of(spec).knobs, knobs)


def _rng(seed: int, name: str, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode()), *key])


def _label_world(spec: SyntheticSpec, values: dict, seed: int) -> label_model.LabelWorld:
    superclass_of = np.array(spec.superclass_of())
    head = spec.class_names.index(spec.head)
    templates, weights = label_model.scene_templates(_rng(seed, spec.name, _WORLD, _SCENES), superclass_of,
                                                     values["scenes"])
    return label_model.LabelWorld(
        popularity=label_model.popularity(_rng(seed, spec.name, _WORLD, _POPULARITY), len(spec.class_names), head,
                                          values["longtail"]),
        superclass_of=superclass_of, templates=templates, scene_weights=weights, head=head)


def generate_labels(spec: SyntheticSpec | str, size: int, seed: int, **knobs) -> dict:
    """The label side of a set, without images or captions (cheap, for measuring large samples): ``content``
    (classes each item shows), ``labels`` (its annotation), ``in_image`` / ``in_caption`` (classes each modality
    shows, before the image's 16 cells and the caption's length cut any), ``scenes``, ``knobs``."""
    spec = spec_of(spec)
    values = knob_values(spec, **knobs)
    world = _label_world(spec, values, seed)

    def rng(stream):
        return _rng(seed, spec.name, _ITEMS, size, stream)

    content, scenes = label_model.draw_content(rng(_CONTENT), world, size, values)
    in_image, in_caption = label_model.visibility(rng(_VISIBILITY), content, values["hide_image"],
                                                  values["hide_caption"])
    for stream, shown in ((_IMAGE_EXTRAS, in_image), (_CAPTION_EXTRAS, in_caption)):
        shown |= label_model.extras(rng(stream), world, content, scenes, values["modality_gap"],
                                    values["cooccurrence"])
    labels = label_model.annotate(rng(_ANNOTATION), world, content, values["missing_labels"],
                                  values["spurious_labels"])
    return {"content": content, "labels": labels.astype(np.uint8), "in_image": in_image, "in_caption": in_caption,
            "scenes": scenes, "knobs": values, "world": world}


def generate(spec: SyntheticSpec | str, size: int, seed: int, **knobs) -> dict:
    """Every array of the set, deterministically from (name, size, seed, knobs): ``generate_labels``'s, with
    ``in_image`` / ``in_caption`` as drawn and written, and ``images``, ``captions``, ``vocabulary``, and the
    world's glyphs and words (``appearance``, not cached)."""
    spec = spec_of(spec)
    out = generate_labels(spec, size, seed, **knobs)
    values = out["knobs"]
    look = render.appearance(_rng(seed, spec.name, _WORLD, _APPEARANCE), spec.class_names,
                             out["world"].superclass_of, values["hierarchy"])
    images, out["in_image"] = render.images(_rng(seed, spec.name, _ITEMS, size, _IMAGES), look, out["in_image"])
    out["captions"], out["in_caption"] = render.captions(_rng(seed, spec.name, _ITEMS, size, _CAPTIONS), look,
                                                         out["in_caption"], values["hierarchy"])
    out.update(images=images, vocabulary=render.vocabulary(look), appearance=look)
    return out


def _knob_key(values: dict) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:10]


def cache_folder(cache_dir: Path, name: str, size: int, seed: int, **knobs) -> Path:
    """Where set ``name`` of ``size`` items from ``seed`` with ``knobs`` (over its preset) is cached: the folder name
    carries the generator's version and a hash of every knob's value."""
    values = knob_values(name, **knobs)
    return (Path(cache_dir) / "synthetic" /
            f"{name}-n{size}-seed{seed}-v{GENERATOR_VERSION}-k{_knob_key(values)}")


_ARRAYS = ("labels", "content", "in_image", "in_caption", "images", "scenes")


def _write(folder: Path, data: dict) -> None:
    with atomic_folder(folder, marker="vocab.json") as tmp:
        np.savez(tmp / "arrays.npz", **{k: data[k] for k in _ARRAYS})
        (tmp / "captions.json").write_text(json.dumps(data["captions"]))
        (tmp / "knobs.json").write_text(json.dumps({"generator_version": GENERATOR_VERSION, **data["knobs"]},
                                                   indent=1, sort_keys=True))
        (tmp / "vocab.json").write_text(json.dumps(data["vocabulary"]))
        write_manifest(tmp)


def _read(folder: Path) -> dict:
    problem = manifest_problem(folder)  # a flipped bit in a caption or a pixel would read without a word
    if problem:
        raise DataError(f"the cached synthetic set {folder} is damaged ({problem}); delete the folder to regenerate it")
    try:
        with np.load(folder / "arrays.npz") as arrays:
            data = {k: arrays[k] for k in _ARRAYS}
        data["captions"] = json.loads((folder / "captions.json").read_text())
        data["vocabulary"] = json.loads((folder / "vocab.json").read_text())
    except DAMAGED as exc:
        raise DataError(f"the cached synthetic set {folder} is damaged ({type(exc).__name__}: {exc}); delete the "
                        "folder to regenerate it") from exc
    return data


def load_synthetic(name: str, cache_dir: str | Path | None = None, seed: int = 0, size: int | None = None,
                   **knobs) -> PairedDataset:
    """The synthetic set ``name`` (default size of its preset; ``knobs`` override the preset's), generated on first
    use and cached in ``cache_dir`` (default ``paths.cache_dir()``). Its ``visible`` holds the classes each modality
    shows ({"image": ..., "text": ...}).

    Raises:
        DataError: an unknown set or knob, a bad size, seed or knob value (naming it and what is valid).
    """
    spec = spec_of(name)
    size = spec.size if size is None else size
    for option, value, minimum in (("size", size, 50), ("seed", seed, 0)):
        check_int(f"{name}: option {option}", value, minimum, error=DataError)
    values = knob_values(spec, **knobs)
    folder = cache_folder(cache_dir or default_cache(), name, size, seed, **knobs)
    if not (folder / "vocab.json").is_file():
        _write(folder, generate(spec, size, seed, **knobs))
    try:
        data = _read(folder)
    except DataError as exc:  # generated from its seed and knobs alone: set aside and generated again
        set_aside(folder, str(exc).split("; delete the folder")[0], "it is generated again")
        _write(folder, generate(spec, size, seed, **knobs))
        data = _read(folder)
    labels, content = data["labels"], data["content"].astype(bool)
    statistics = label_statistics(labels)
    statistics["top_class"] = {"name": spec.class_names[statistics.pop("top_class_index")],
                               "frequency": statistics["top_class"]}
    summary = {
        "items_read": len(labels),
        "kept": len(labels),
        "dropped": {},
        **label_summary(labels),
        "hidden_from_image": int((content & ~data["in_image"]).sum()),
        "hidden_from_caption": int((content & ~data["in_caption"]).sum()),
        "unlabelled_in_image": int((data["in_image"] & ~labels.astype(bool)).sum()),
        "unlabelled_in_caption": int((data["in_caption"] & ~labels.astype(bool)).sum()),
        "missing_labels": int((content & ~labels.astype(bool)).sum()),
        "spurious_labels": int((labels.astype(bool) & ~content).sum()),
        "missing_images": 0,
        "seed": seed,
        "imitates": spec.real,
        "knobs": values,
        "statistics": statistics,
    }
    return PairedDataset(name=name, class_names=list(spec.class_names), labels=labels, captions=data["captions"],
                         images=data["images"], summary=summary, vocabulary=data["vocabulary"], root=folder,
                         visible={"image": data["in_image"], "text": data["in_caption"]})


def _describe(spec: SyntheticSpec, root: Path, cache: Path) -> dict:
    folder = cache_folder(cache, spec.name, spec.size, 0)
    kind = f"imitates {spec.real}" if spec.real else "stress world"
    return {"location": str(folder), "files": f"{spec.size} pairs (seed 0), {kind}",
            "status": "cached" if (folder / "vocab.json").is_file() else "generated on first use"}


def _register(spec: SyntheticSpec) -> None:
    shown = spec.display_name or dataset_entry(spec.real).display_name
    register_dataset(DatasetEntry(
        name=spec.name, display_name=f"{shown} (synthetic)", class_names=spec.class_names,
        load=partial(load_synthetic, spec.name), split_sizes=spec.split_sizes,
        options=frozenset({"seed", "size", *KNOBS}), size=spec.size, check_options=partial(knob_values, spec.name),
        describe=partial(_describe, spec), stand_in_for=spec.real, generated=True, needs_backbone=False,
        keeps_outputs=True, knows_visible=True))


for _spec in PRESETS:
    _register(_spec)
