"""The synthetic stand-ins: deterministic, cached, shaped like the real sets, noisy in each modality."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark import data
from benchmark.data import synthetic
from benchmark.data.synthetic import SYNTHETIC_DATASETS, generate


@pytest.fixture(scope="module")
def full_sets(tmp_path_factory):
    """The three default-size sets, generated once for the module."""
    cache = tmp_path_factory.mktemp("cache")
    return {name: data.load(name, root=cache) for name in SYNTHETIC_DATASETS}


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    a = data.load("synth-nuswide", root=tmp_path / "a", size=300, seed=3)
    b = data.load("synth-nuswide", root=tmp_path / "b", size=300, seed=3)
    c = data.load("synth-nuswide", root=tmp_path / "c", size=300, seed=4)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.images, b.images)
    assert a.captions == b.captions and a.vocabulary == b.vocabulary
    assert a.content_hash == b.content_hash != c.content_hash
    assert not np.array_equal(a.labels, c.labels) and a.captions != c.captions


def test_cached_after_first_use(tmp_path, monkeypatch):
    first = data.load("synth-coco", root=tmp_path, size=200)
    assert (first.root / "arrays.npz").is_file() and first.root.parent == tmp_path / "synthetic"
    monkeypatch.setattr(synthetic, "generate", lambda *a, **k: pytest.fail("regenerated a cached set"))
    again = data.load("synth-coco", root=tmp_path, size=200)
    assert again.content_hash == first.content_hash


def test_a_damaged_cache_is_reported(tmp_path):
    ds = data.load("synth-coco", root=tmp_path, size=100)
    (ds.root / "captions.json").write_text("{broken")
    with pytest.raises(data.DataError, match="is damaged .*delete the folder"):
        data.load("synth-coco", root=tmp_path, size=100)


@pytest.mark.parametrize("name", list(SYNTHETIC_DATASETS))
def test_shapes_sizes_and_split_sizes(full_sets, name):
    ds, spec = full_sets[name], SYNTHETIC_DATASETS[name]
    assert len(ds) == spec.size and 4000 <= spec.size <= 8000
    assert ds.images.shape == (spec.size, 32, 32, 3) and ds.images.dtype == np.uint8
    assert ds.labels.shape == (spec.size, len(spec.class_names)) and ds.labels.dtype == np.uint8
    assert ds.class_names == list(getattr(data.classes, spec.real.upper()))
    settings = data.default_split_settings(ds)
    assert (settings.query_size, settings.train_size) == (spec.size // 10, spec.size // 2)


# Targets: mean labels per item of the real sets (MIRFLICKR-25K ~3.8, NUS-WIDE ~1.9, COCO ~2.9).
@pytest.mark.parametrize("name", list(SYNTHETIC_DATASETS))
def test_label_statistics_within_bounds(full_sets, name):
    labels = full_sets[name].labels.astype(float)
    target = SYNTHETIC_DATASETS[name].mean_labels
    per_item = labels.sum(axis=1)
    assert abs(per_item.mean() - target) <= 0.1 * target
    assert per_item.min() >= 1
    assert 0.3 <= (per_item > 1).mean() <= 0.99           # many multi-label items, not all
    frequency = labels.mean(axis=0)
    assert frequency.min() >= 0.003                        # every class occurs
    assert frequency.max() / np.median(frequency) >= 2     # a few classes are much more frequent
    lift = (labels.T @ labels / len(labels)) / np.outer(frequency, frequency)
    np.fill_diagonal(lift, 0)
    assert lift.max() >= 1.5                               # classes co-occur beyond independence


def test_modality_noise_hides_labels_from_one_modality_never_both():
    out = generate(SYNTHETIC_DATASETS["synth-mirflickr25k"], 800, 0)
    present = out["labels"].astype(bool)
    hidden_image, hidden_caption = present & ~out["in_image"], present & ~out["in_caption"]
    assert not (hidden_image & hidden_caption).any()
    for hidden in (hidden_image, hidden_caption):
        assert 0.1 <= hidden.sum() / present.sum() <= 0.3
    assert not (out["in_image"] & ~present).any() and not (out["in_caption"] & ~present).any()


def test_captions_name_their_visible_labels_from_the_vocabulary(full_sets):
    ds = full_sets["synth-coco"]
    vocabulary = set(ds.vocabulary)
    assert ds.vocabulary[:4] == ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]
    assert {"person", "traffic_light", "teddy_bear"} <= vocabulary
    words = [w for caption in ds.captions for w in caption[0].split()]
    assert set(words) <= vocabulary
    person = np.array(["person" in c[0].split() for c in ds.captions])
    has_person = ds.labels[:, 0].astype(bool)
    # the word comes with the label far more often than without it (it is one of three synonyms)
    assert person[has_person].mean() > 5 * person[~has_person].mean()


def test_images_show_a_glyph_per_visible_label():
    out = generate(SYNTHETIC_DATASETS["synth-nuswide"], 200, 1)
    masks = synthetic._glyph_masks()
    for i in range(20):
        for j in np.flatnonzero(out["in_image"][i]):
            mask = masks[j % len(masks)]
            cells = [out["images"][i, r:r + 8, c:c + 8] for r in range(0, 32, 8) for c in range(0, 32, 8)]
            # some cell holds the class's shape in one flat colour
            assert any(np.ptp(cell[mask], axis=0).max() <= 1 for cell in cells), (i, j)


@pytest.mark.parametrize("options,message", [({"size": 10}, "size must be an integer >= 50"),
                                             ({"seed": -1}, "seed must be an integer >= 0"),
                                             ({"size": 99.5}, "size must be an integer")])
def test_bad_options(tmp_path, options, message):
    with pytest.raises(data.DataError, match=message):
        data.load("synth-coco", root=tmp_path, **options)
