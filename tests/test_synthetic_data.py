"""The synthetic sets as datasets: deterministic, cached by (name, size, seed, knobs), shaped as the suite expects,
noisy in each modality, and their images and captions showing what ``visible`` says they show.

Updated for generator version 2 (docs/synthetic.md): the label statistics of each preset are tested against its
targets in test_synthetic_presets.py, each knob in test_synthetic_knobs.py; a modality's visible classes can now
include unlabelled ones (modality gap) and its hidden classes are counted against the item's content (what it
shows), which equals its labels unless label noise is set."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark import data
from benchmark.data import synthetic
from benchmark.data.synthetic import SYNTHETIC_DATASETS, generate, render


@pytest.fixture(scope="module")
def full_sets(tmp_path_factory):
    """The three calibrated stand-ins at their default size, generated once for the module."""
    cache = tmp_path_factory.mktemp("cache")
    return {name: data.load(name, root=cache) for name in ("synth-mirflickr25k", "synth-nuswide", "synth-coco")}


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    a = data.load("synth-nuswide", root=tmp_path / "a", size=300, seed=3)
    b = data.load("synth-nuswide", root=tmp_path / "b", size=300, seed=3)
    c = data.load("synth-nuswide", root=tmp_path / "c", size=300, seed=4)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.images, b.images)
    assert a.captions == b.captions and a.vocabulary == b.vocabulary
    assert all(np.array_equal(a.visible[m], b.visible[m]) for m in ("image", "text"))
    assert a.content_hash == b.content_hash != c.content_hash
    assert not np.array_equal(a.labels, c.labels) and a.captions != c.captions


def test_a_knob_changes_the_data_and_the_cache_folder(tmp_path):
    base = data.load("synth-coco", root=tmp_path, size=200)
    again = data.load("synth-coco", root=tmp_path, size=200, hierarchy=SYNTHETIC_DATASETS["synth-coco"].knobs["hierarchy"])
    other = data.load("synth-coco", root=tmp_path, size=200, hierarchy=0.9)
    assert again.root == base.root  # a knob set to the preset's value is the preset
    assert other.root != base.root and other.root.parent == base.root.parent
    assert f"-v{synthetic.GENERATOR_VERSION}-" in base.root.name
    assert other.content_hash != base.content_hash
    assert other.summary["knobs"]["hierarchy"] == 0.9 and base.summary["knobs"] == synthetic.knob_values("synth-coco")


def test_cached_after_first_use(tmp_path, monkeypatch):
    first = data.load("synth-coco", root=tmp_path, size=200)
    assert (first.root / "arrays.npz").is_file() and first.root.parent == tmp_path / "synthetic"
    monkeypatch.setattr(synthetic, "generate", lambda *a, **k: pytest.fail("regenerated a cached set"))
    again = data.load("synth-coco", root=tmp_path, size=200)
    assert again.content_hash == first.content_hash


@pytest.mark.parametrize("damage", ["captions.json", "arrays.npz"])
def test_a_damaged_cache_is_set_aside_and_generated_again(tmp_path, capsys, damage):
    ds = data.load("synth-coco", root=tmp_path, size=100)
    file = ds.root / damage
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])  # truncated
    again = data.load("synth-coco", root=tmp_path, size=100)
    assert again.content_hash == ds.content_hash
    (aside,) = ds.root.parent.glob(f"{ds.root.name}.corrupt-*")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"warning: the cached synthetic set {ds.root} is damaged") and aside.name in line


@pytest.mark.parametrize("name", list(SYNTHETIC_DATASETS))
def test_shapes_sizes_and_split_sizes(tmp_path, name):
    spec = SYNTHETIC_DATASETS[name]
    ds = data.load(name, root=tmp_path, size=300)
    assert 4000 <= spec.size <= 8000 and len(ds) == 300
    assert ds.images.shape == (300, 32, 32, 3) and ds.images.dtype == np.uint8
    assert ds.labels.shape == (300, len(spec.class_names)) and ds.labels.dtype == np.uint8
    assert ds.class_names == list(getattr(data.classes, (spec.real or "coco").upper()))
    assert set(ds.visible) == {"image", "text"} and all(m.shape == ds.labels.shape for m in ds.visible.values())
    assert ds.labels.sum(axis=1).min() >= 1
    settings = data.default_split_settings(ds)
    assert (settings.query_size, settings.train_size) == (30, 150)
    assert spec.split_sizes(spec.size) == (spec.size // 10, spec.size // 2)


@pytest.mark.parametrize("name", ["synth-mirflickr25k", "synth-nuswide", "synth-coco"])
def test_the_stand_ins_keep_their_names_sizes_and_real_class_names(full_sets, name):
    ds, spec = full_sets[name], SYNTHETIC_DATASETS[name]
    assert len(ds) == {"synth-mirflickr25k": 5000, "synth-nuswide": 6000, "synth-coco": 6000}[name] == spec.size
    assert ds.class_names == list(getattr(data.classes, spec.real.upper()))
    assert ds.summary["imitates"] == spec.real and ds.summary["statistics"]["top_class"]["name"] == spec.head
    assert ds.labels.sum(axis=0).min() >= 5  # every class occurs


def test_modality_noise_hides_labels_from_one_modality_never_both():
    out = generate(SYNTHETIC_DATASETS["synth-mirflickr25k"], 800, 0)
    content = out["content"]
    assert np.array_equal(content, out["labels"].astype(bool))  # no label noise in the preset
    hidden_image, hidden_caption = content & ~out["in_image"], content & ~out["in_caption"]
    assert not (hidden_image & hidden_caption).any()
    for hidden in (hidden_image, hidden_caption):
        assert 0.1 <= hidden.sum() / content.sum() <= 0.3


def test_visible_is_what_each_modality_shows(full_sets):
    ds = full_sets["synth-coco"]
    words = [set(caption[0].split()) for caption in ds.captions]
    names = [name.replace(" ", "_") for name in ds.class_names]
    # the class's name is one of its two words: it appears only where the caption shows the class, and in about
    # half of those captions
    for j in (0, 2, 56):
        named = np.array([names[j] in w for w in words])
        assert not (named & ~ds.visible["text"][:, j]).any()
        assert 0.35 <= named[ds.visible["text"][:, j]].mean() <= 0.65
    unlabelled = ds.visible["image"] & ~ds.labels.astype(bool)
    assert 0.05 <= unlabelled.sum(axis=1).mean() <= 0.15  # the preset's modality gap of 0.1


def test_captions_use_the_vocabulary(full_sets):
    ds = full_sets["synth-coco"]
    vocabulary = set(ds.vocabulary)
    assert ds.vocabulary[:4] == ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]
    assert {"person", "traffic_light", "teddy_bear"} <= vocabulary
    assert {w for caption in ds.captions for w in caption[0].split()} <= vocabulary
    assert max(len(caption[0].split()) for caption in ds.captions) <= render.MAX_WORDS


def _palette_indices(cell: np.ndarray) -> np.ndarray:
    """The palette index of each pixel of a glyph cell (each channel low or high; brightness 0.75-1 and noise keep
    low channels under 100 and high ones over it)."""
    high = cell.astype(int) > 100
    return high[..., 0] * 4 + high[..., 1] * 2 + high[..., 2]


def test_images_show_a_glyph_per_visible_class():
    spec = SYNTHETIC_DATASETS["synth-nuswide"]
    out = generate(spec, 200, 1)
    look = render.appearance(synthetic._rng(1, spec.name, synthetic._WORLD, synthetic._APPEARANCE), spec.class_names,
                             np.array(spec.superclass_of()), spec.knobs["hierarchy"])
    for i in range(30):
        cells = [_palette_indices(out["images"][i, r:r + 8, c:c + 8]) for r in range(0, 32, 8) for c in range(0, 32, 8)]
        for j in range(len(spec.class_names)):
            # a cell shows class j's glyph (up to two pixels) exactly when the image shows class j
            shows = any((cell != look.glyphs[j]).sum() <= 2 for cell in cells)
            assert shows == bool(out["in_image"][i, j]), (i, j)


@pytest.mark.parametrize("options,message", [({"size": 10}, "size must be an integer >= 50"),
                                             ({"seed": -1}, "seed must be an integer >= 0"),
                                             ({"size": 99.5}, "size must be an integer"),
                                             ({"hierarchy": 1.5}, r"knob hierarchy must be a number in \[0, 1\], got 1.5"),
                                             ({"colour": 1}, "unknown option.*colour.*valid:.*hierarchy")])
def test_bad_options(tmp_path, options, message):
    with pytest.raises(data.DataError, match=message):
        data.load("synth-coco", root=tmp_path, **options)


def test_describe_names_the_stress_worlds(tmp_path):
    rows = {r["name"]: r for r in data.describe(tmp_path, tmp_path / "cache")}
    assert rows["synth-coco"]["files"].endswith("imitates coco")
    assert rows["synth-semantic-bias"]["files"].endswith("stress world") and rows["synth-longtail"]["classes"] == 80
