"""The dataset registry and the reference rows' entries: what each built-in registers, duplicates refused, a
user's dataset working through ``data.load`` and the split with one registration, and the reference skip rule."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from benchmark import data, references
from benchmark.data import DataError, DatasetEntry, PairedDataset, classes
from benchmark.data.prepare import convertible
from benchmark.data.synthetic import KNOBS, SYNTHETIC_DATASETS
from benchmark.errors import ConfigError
from benchmark.report.tidy_data import dataset_name, dataset_order, is_generated

REAL = {"mirflickr25k": ("MIRFLICKR-25K", classes.MIRFLICKR25K, "caption.mat", (2000, 10000)),
        "nuswide": ("NUS-WIDE", classes.NUSWIDE, "caption.txt", (2100, 10500)),
        "coco": ("MS-COCO", classes.COCO, "caption.mat", (5000, 10000))}
STRESS = {"synth-semantic-bias": "Semantic bias", "synth-longtail": "Long tail", "synth-hierarchy": "Hierarchy"}


def toy_load(root=None, n: int = 40) -> PairedDataset:
    """A user's dataset held in memory: ``n`` items of three classes."""
    labels = np.eye(3, dtype=np.uint8)[np.arange(n) % 3]
    return PairedDataset("toy", ["a", "b", "c"], labels, [[f"item {i}"] for i in range(n)],
                         np.zeros((n, 32, 32, 3), np.uint8))


TOY = DatasetEntry(name="toy", display_name="Toy set", class_names=("a", "b", "c"), load=toy_load,
                   split_sizes=lambda n_items: (4, 20), options=frozenset({"n"}), size=40)


@pytest.fixture
def toy():
    data.register_dataset(TOY)
    try:
        yield TOY
    finally:
        data.unregister_dataset("toy")


# ------------------------------------------------------------------------------------------------ datasets


def test_the_registry_lists_real_sets_first_then_the_worlds_and_filters_by_pattern():
    assert data.dataset_names() == [*REAL, *SYNTHETIC_DATASETS]
    assert data.dataset_names("synth-*") == list(SYNTHETIC_DATASETS)
    assert data.dataset_names("*coco") == ["coco", "synth-coco"]
    assert [entry.name for entry in data.dataset_entries()] == data.dataset_names()
    assert convertible() == list(REAL)


@pytest.mark.parametrize("name", list(REAL))
def test_a_real_set_registers_its_files_split_converter_and_needs(name):
    display_name, class_names, caption_file, split = REAL[name]
    entry = data.dataset_entry(name)
    assert (entry.display_name, entry.class_names, entry.files) == (display_name, class_names,
                                                                    ("index.mat", "label.mat", caption_file))
    assert entry.split_sizes(None) == entry.split_sizes(25000) == split
    assert entry.options == {"image_root", "missing_images"} and entry.convert is not None and entry.size is None
    assert (entry.stand_in_for, entry.generated, entry.needs_backbone, entry.keeps_outputs,
            entry.knows_visible) == (None, False, True, False, False)


@pytest.mark.parametrize("name", list(SYNTHETIC_DATASETS))
def test_a_synthetic_world_registers_its_preset_and_what_it_knows(name):
    spec, entry = SYNTHETIC_DATASETS[name], data.dataset_entry(name)
    assert entry.stand_in_for == spec.real and entry.class_names == spec.class_names and entry.size == spec.size
    expected = f"{REAL[spec.real][0] if spec.real else STRESS[name]} (synthetic)"
    assert entry.display_name == expected
    assert entry.split_sizes(6000) == (600, 3000) and entry.files == () and entry.convert is None
    assert entry.options == {"seed", "size", *KNOBS}
    assert (entry.generated, entry.needs_backbone, entry.keeps_outputs, entry.knows_visible) == (True, False, True,
                                                                                                 True)
    with pytest.raises(DataError, match="unknown synthetic knob"):
        entry.check_options(hierarchi=0.5)


def test_a_second_registration_of_a_name_is_refused_and_an_unknown_name_lists_the_registered():
    with pytest.raises(DataError, match="a dataset named 'coco' is already registered"):
        data.register_dataset(replace(TOY, name="coco"))
    assert data.dataset_entry("coco").display_name == "MS-COCO"
    with pytest.raises(DataError, match="unknown dataset 'toy'; available: mirflickr25k, nuswide, coco, synth-"):
        data.dataset_entry("toy")
    assert data.find_dataset("toy") is None


def test_a_users_dataset_is_one_registration_end_to_end(toy, tmp_path):
    from benchmark.config import load_config
    from benchmark.grid import build_grid

    dataset = data.load("toy", n=60)
    assert len(dataset) == 60
    with pytest.raises(DataError, match="unknown option.*seed for dataset 'toy'; valid: n"):
        data.load("toy", seed=1)
    settings = data.default_split_settings(dataset)
    assert (settings.query_size, settings.train_size) == (4, 20)
    split = data.load_or_create_split(dataset, settings, tmp_path)
    assert len(split.query) == 4 and len(split.train) == 20
    row = next(r for r in data.describe(tmp_path, tmp_path / "cache") if r["name"] == "toy")
    assert row["classes"] == 3 and row["location"] == str(tmp_path / "toy")
    # the report and the grid read its registration: its name and column, its kind, its reference rows
    assert (dataset_name("toy"), is_generated("toy")) == ("Toy set", False)
    assert sorted(["synth-coco", "toy", "zeta-set"], key=dataset_order) == ["synth-coco", "toy", "zeta-set"]
    with pytest.raises(ConfigError, match="toy need a pretrained CLIP folder"):
        build_grid(load_config("default", {"datasets": ["toy"], "losses": ["dcgh"], "bits": [16]}))
    grid = build_grid(load_config("default", {"datasets": ["toy"], "losses": ["dcgh"], "bits": [16],
                                              "run": {"backbone": str(tmp_path / "clip")}}))
    assert sorted({spec.loss for spec in grid.specs}) == ["dcgh", "ref:continuous", "ref:lsh", "ref:random"]
    assert all(spec.synthetic is None for spec in grid.specs)


def test_only_a_generated_world_may_do_without_a_pretrained_backbone():
    with pytest.raises(DataError, match="'toy': needs_backbone=False is for generated worlds only"):
        replace(TOY, needs_backbone=False)


def test_an_unregistered_dataset_is_gone():
    data.register_dataset(TOY)
    data.unregister_dataset("toy")
    assert "toy" not in data.dataset_names()
    with pytest.raises(DataError, match="unknown dataset 'toy'"):
        data.load("toy")


# ------------------------------------------------------------------------------------------- reference rows


def test_reference_rows_are_entries_of_kind_reference():
    assert references.names() == ["ref:random", "ref:lsh", "ref:continuous", "ref:oracle"]
    assert [references.row_kind(name) for name in ("ref:lsh", "dcgh", "dcgh (gamma=0.5)")] == [
        "reference", "loss", "loss"]
    assert references.get("dcgh") is None
    lsh = references.get("ref:lsh")
    assert (lsh.label, lsh.display_name) == ("LSH of backbone features", "LSH") and "random projection" in lsh.note
    assert references.label("ref:random") == "random codes" and references.label("dcgh") == "dcgh"


def test_the_oracle_skips_datasets_that_do_not_know_what_each_modality_shows(toy):
    every = references.names()
    assert references.rows_for(data.dataset_entry("synth-longtail")) == every
    assert references.rows_for(data.dataset_entry("coco")) == [n for n in every if n != "ref:oracle"]
    assert references.rows_for(toy) == references.rows_for(data.dataset_entry("coco"))
    assert references.rows_for(replace(TOY, knows_visible=True)) == every


def test_a_reference_row_registers_once():
    with pytest.raises(ValueError, match="a reference row named 'ref:lsh' is already registered"):
        references.register(references.Reference("ref:lsh", "again", "Again", "again"))
    extra = references.register(references.Reference("ref:extra", "extra row", "Extra", "an extra row",
                                                      applies_to=lambda dataset: dataset.generated))
    try:
        assert references.row_kind("ref:extra") == "reference"
        assert "ref:extra" in references.rows_for(data.dataset_entry("synth-coco"))
        assert "ref:extra" not in references.rows_for(data.dataset_entry("coco"))
    finally:
        references.unregister(extra.name)
    assert references.row_kind("ref:extra") == "loss"
