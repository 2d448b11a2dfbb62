"""The presets: the stand-ins' generated labels match the real sets' statistics they are calibrated to, the stress
worlds are synth-coco with one property pushed, and docs/synthetic.md documents every knob, preset and source."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from benchmark import data
from benchmark.data.synthetic import KNOBS, SYNTHETIC_DATASETS, generate_labels, label_statistics

DOC = Path(__file__).resolve().parents[1] / "docs" / "synthetic.md"
TARGETED = [(name, stat) for name, spec in SYNTHETIC_DATASETS.items() for stat in spec.targets if stat != "classes"]


@pytest.fixture(scope="module")
def statistics():
    """Label statistics of every preset at its default size, for seeds 0, 1 and 2."""
    return {(name, seed): label_statistics(generate_labels(name, spec.size, seed)["labels"])
            for name, spec in SYNTHETIC_DATASETS.items() for seed in (0, 1, 2)}


@pytest.mark.parametrize("name,stat", TARGETED)
def test_generated_labels_match_the_preset_targets(statistics, name, stat):
    target = SYNTHETIC_DATASETS[name].targets[stat]
    assert abs(statistics[name, 0][stat] - target.value) <= target.tolerance, statistics[name, 0]
    # other generation seeds (the replicates) stay close too
    for seed in (1, 2):
        assert abs(statistics[name, seed][stat] - target.value) <= 1.5 * target.tolerance, (seed, statistics[name, seed])


@pytest.mark.parametrize("name", list(SYNTHETIC_DATASETS))
def test_class_counts_and_the_head_class(statistics, name):
    spec = SYNTHETIC_DATASETS[name]
    if "classes" in spec.targets:
        assert len(spec.class_names) == spec.targets["classes"].value
    assert statistics[name, 0]["empty_classes"] == 0
    assert spec.class_names[statistics[name, 0]["top_class_index"]] == spec.head


def test_the_label_side_measured_is_the_label_side_loaded(tmp_path):
    loaded = data.load("synth-nuswide", root=tmp_path, size=500, seed=2)
    assert np.array_equal(loaded.labels, generate_labels("synth-nuswide", 500, 2)["labels"])


def test_the_stress_worlds_are_synth_coco_with_one_property_pushed(statistics):
    coco = SYNTHETIC_DATASETS["synth-coco"]
    changed = {name: {k for k, v in spec.knobs.items() if coco.knobs[k] != v}
               for name, spec in SYNTHETIC_DATASETS.items() if spec.real is None}
    assert changed == {"synth-semantic-bias": {"dominant", "labels_per_item", "single_label"},
                       "synth-longtail": {"longtail", "dominant", "single_label", "labels_per_item", "cooccurrence"},
                       "synth-hierarchy": {"hierarchy"}}
    bias, base = statistics["synth-semantic-bias", 0], statistics["synth-coco", 0]
    # semantic bias: nearly every item has several labels, one of which is the dominant class
    assert bias["single_label"] < 0.06 and bias["head_in_multilabel"] > base["head_in_multilabel"] + 0.2
    tail = statistics["synth-longtail", 0]
    assert tail["tail_share"] < 0.6 * base["tail_share"]
    assert SYNTHETIC_DATASETS["synth-hierarchy"].knobs["hierarchy"] >= 2 * coco.knobs["hierarchy"]


def test_the_doc_documents_every_knob_preset_and_source():
    text = DOC.read_text()
    rows = {m.group(1) for m in re.finditer(r"^\| `([a-z_\-0-9]+)` \|", text, flags=re.MULTILINE)}
    assert set(KNOBS) <= rows, set(KNOBS) - rows
    assert set(SYNTHETIC_DATASETS) <= rows, set(SYNTHETIC_DATASETS) - rows
    sources = {t.source for spec in SYNTHETIC_DATASETS.values() for t in spec.targets.values()}
    for source in sources - {"knob"}:
        assert f"[{source}]" in text, source
    # each preset's knob values as the doc's table states them
    for name, spec in SYNTHETIC_DATASETS.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        for knob, value in spec.knobs.items():
            shown = "None" if value is None else f"{value:g}"
            assert f"{knob}={shown}" in row or knob not in spec.knobs, (name, knob)
