"""Each knob of the synthetic generator, measured on what it generates (docs/synthetic.md): label cardinality,
single-label fraction, long tail, dominant class, co-occurrence, scenes, hierarchy, label noise, per-modality
hiding and the modality gap; and the knobs' validation.

Label-side effects are measured with ``generate_labels`` on large samples (no images or captions: cheap), so the
tolerances are a few standard errors wide."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.data.synthetic import (KNOBS, SYNTHETIC_DATASETS, DataError, generate, generate_labels, knob_values,
                                      label_statistics, render)

N = 20000  # items per label-side measurement


def stats(name="synth-coco", size=N, seed=0, **knobs) -> dict:
    return label_statistics(generate_labels(name, size, seed, **knobs)["labels"])


@pytest.mark.parametrize("mean,single", [(1.5, 0.6), (2.5, 0.2), (4.0, 0.0), (6.0, 0.05)])
def test_labels_per_item_and_single_label_are_what_they_say(mean, single):
    s = stats(labels_per_item=mean, single_label=single)
    assert abs(s["mean_labels"] - mean) <= 0.03 * mean
    assert abs(s["single_label"] - single) <= 0.01


def test_the_long_tail_exponent_steepens_class_frequencies():
    by_exponent = [stats(longtail=a, dominant=None, cooccurrence=0.0) for a in (0.0, 1.0, 2.0)]
    tops = [s["top_class"] for s in by_exponent]
    tails = [s["tail_share"] for s in by_exponent]
    assert tops[0] < 0.06 < tops[1] < tops[2]   # flat: every class near mean_labels / c = 2.9 / 80
    assert tails[0] > 0.4 > tails[1] > tails[2]  # flat: the rarer half holds half of the occurrences


def test_the_dominant_class_has_the_frequency_it_is_given():
    for dominant in (0.2, 0.5, 0.9):
        s = stats(dominant=dominant)
        assert abs(s["top_class"] - dominant) <= 0.01 and abs(s["head_in_multilabel"] - dominant) <= 0.015
        assert s["top_class_index"] == SYNTHETIC_DATASETS["synth-coco"].class_names.index("person")


def test_cooccurrence_strength_raises_the_density_of_co_occurring_pairs():
    densities = [stats(cooccurrence=k, dominant=None)["cooccurrence_density"] for k in (0.0, 0.5, 1.0)]
    assert densities[0] < 0.03 and densities[1] > densities[0] + 0.02 and densities[2] > densities[1] + 0.05


def test_scenes_are_drawn_from_the_number_of_templates_given():
    for n_scenes in (1, 5, 40):
        out = generate_labels("synth-coco", 5000, 0, scenes=n_scenes)
        assert set(np.unique(out["scenes"])) == set(range(n_scenes))
        assert out["world"].templates.shape == (n_scenes, 80)
    # with one scene and co-occurrence 1, an item's classes come from that scene's template
    out = generate_labels("synth-coco", 5000, 0, scenes=1, cooccurrence=1.0, dominant=None)
    template = out["world"].templates[0].astype(bool)
    assert out["content"][:, ~template].sum() <= 0.01 * out["content"].sum()


def _superclass_of(name="synth-coco") -> np.ndarray:
    return np.array(SYNTHETIC_DATASETS[name].superclass_of())


def test_hierarchy_makes_siblings_glyphs_share_their_super_class_part():
    superclass_of = _superclass_of()
    sibling = superclass_of[:, None] == superclass_of[None, :]
    np.fill_diagonal(sibling, False)
    other = superclass_of[:, None] != superclass_of[None, :]
    for h in (0.0, 0.5, 1.0):
        glyphs = render.glyph_patterns(np.random.default_rng(0), superclass_of, h).reshape(80, -1)
        agreement = (glyphs[:, None, :] == glyphs[None, :, :]).mean(axis=2)
        chance = 1 / len(render.PALETTE)
        # a fraction h of the pixels is the super-class's part, the others agree by chance
        assert abs(agreement[sibling].mean() - (h + (1 - h) * chance)) <= 0.02
        assert abs(agreement[other].mean() - chance) <= 0.02


def test_hierarchy_makes_captions_name_the_super_class():
    superclass_of = _superclass_of()
    shared = []
    for h in (0.0, 0.4, 0.8):
        out = generate("synth-coco", 2000, 0, hierarchy=h)
        look, mentioned = out["appearance"], out["in_caption"]
        words = [set(c[0].split()) for c in out["captions"]]
        # a class named in a caption comes with its super-class's word with probability h (counted where no sibling
        # is named too)
        named, with_super = 0, 0
        for i, row in enumerate(mentioned):
            supers = superclass_of[row]
            for j in np.flatnonzero(row):
                if (supers == superclass_of[j]).sum() == 1:
                    named += 1
                    with_super += look.super_words[superclass_of[j]] in words[i]
        assert abs(with_super / named - h) <= 0.03
        # so items naming two different members of one super-class share a caption word more often
        only = [i for i, row in enumerate(mentioned) if row.sum() == 1]
        pairs = [(a, b) for a in only[:300] for b in only[:300]
                 if a < b and superclass_of[mentioned[a]][0] == superclass_of[mentioned[b]][0]
                 and not (mentioned[a] & mentioned[b]).any()]
        shared.append(np.mean([bool((words[a] & words[b]) - set(render.TEMPLATE_WORDS)) for a, b in pairs]))
    assert shared[0] < shared[1] < shared[2] and shared[2] - shared[0] > 0.3


def test_missing_and_spurious_labels_change_the_annotation_at_their_rates():
    out = generate_labels("synth-coco", N, 0, missing_labels=0.3, spurious_labels=0.5)
    content, labels = out["content"], out["labels"].astype(bool)
    rich = content.sum(axis=1) >= 4  # items that never lose all their labels (0.3^4 < 1%)
    missing_rate = (content & ~labels)[rich].sum() / content[rich].sum()
    assert abs(missing_rate - 0.3) <= 0.015
    assert abs((labels & ~content).sum(axis=1).mean() - 0.5) <= 0.02
    assert labels.sum(axis=1).min() >= 1
    clean = generate_labels("synth-coco", N, 0)
    assert np.array_equal(clean["content"], content)  # noise changes the annotation only
    assert np.array_equal(clean["labels"].astype(bool), clean["content"])


def test_hiding_rates_per_modality():
    out = generate_labels("synth-coco", N, 0, hide_image=0.4, hide_caption=0.1, modality_gap=0.0)
    content = out["content"]
    hidden_image = (content & ~out["in_image"]).sum() / content.sum()
    hidden_caption = (content & ~out["in_caption"]).sum() / content.sum()
    # hidden from both happens with 0.4 x 0.1 and is given back to one modality at random
    assert abs(hidden_image - 0.4 * (1 - 0.1 / 2)) <= 0.01
    assert abs(hidden_caption - 0.1 * (1 - 0.4 / 2)) <= 0.01
    assert not (content & ~out["in_image"] & ~out["in_caption"]).any()


def test_the_modality_gap_adds_unlabelled_classes_to_each_modality_on_its_own():
    disagreement = []
    for gap in (0.0, 0.5, 1.5):
        out = generate_labels("synth-coco", N, 0, modality_gap=gap)
        labels = out["labels"].astype(bool)
        for modality in ("in_image", "in_caption"):
            assert abs((out[modality] & ~labels).sum(axis=1).mean() - gap) <= 0.03 + 0.02 * gap
        # classes shown by exactly one modality, per item
        disagreement.append((out["in_image"] ^ out["in_caption"]).sum(axis=1).mean())
        extra_image, extra_caption = out["in_image"] & ~labels, out["in_caption"] & ~labels
        if gap:
            assert (extra_image & extra_caption).sum() < 0.2 * extra_image.sum()  # drawn independently
    assert disagreement[0] < disagreement[1] < disagreement[2]
    # most of the 2 x 1.5 extra classes per item are shown by one modality only
    assert 0.7 * 2 * 1.5 <= disagreement[2] - disagreement[0] <= 2 * 1.5


def test_changing_one_knob_leaves_the_draws_it_does_not_affect_unchanged():
    base = generate_labels("synth-coco", 3000, 0)
    hidden = generate_labels("synth-coco", 3000, 0, hide_image=0.5)
    assert np.array_equal(base["content"], hidden["content"]) and np.array_equal(base["labels"], hidden["labels"])
    assert not np.array_equal(base["in_image"], hidden["in_image"])
    gap = generate_labels("synth-coco", 3000, 0, modality_gap=1.0)
    assert np.array_equal(base["content"], gap["content"])


def test_knobs_are_deterministic_for_a_seed():
    a = generate("synth-nuswide", 300, 5, hierarchy=0.7, spurious_labels=0.3, modality_gap=0.5)
    b = generate("synth-nuswide", 300, 5, hierarchy=0.7, spurious_labels=0.3, modality_gap=0.5)
    for key in ("labels", "content", "in_image", "in_caption", "images"):
        assert np.array_equal(a[key], b[key]), key
    assert a["captions"] == b["captions"] and a["vocabulary"] == b["vocabulary"]


@pytest.mark.parametrize("knob,value,message", [
    ("hierarchy", -0.1, r"hierarchy must be a number in \[0, 1\], got -0.1"),
    ("scenes", 2.5, r"scenes must be an integer in \[1, 64\], got 2.5"),
    ("scenes", 0, r"scenes must be an integer in \[1, 64\], got 0"),
    ("dominant", 1.0, r"dominant must be a number in \[0, 0.95\] or None, got 1.0"),
    ("longtail", "steep", r"longtail must be a number in \[0, 3\], got 'steep'"),
    ("hide_image", True, r"hide_image must be a number in \[0, 0.9\], got True"),
    ("cooccurrence", float("nan"), r"cooccurrence must be a number in \[0, 1\], got nan"),
    ("single_label", None, r"single_label must be a number in \[0, 0.95\], got None"),
])
def test_a_bad_knob_value_names_the_knob_and_its_range(knob, value, message):
    with pytest.raises(DataError, match=message):
        generate_labels("synth-coco", 100, 0, **{knob: value})


def test_an_unknown_knob_or_an_impossible_combination_is_refused():
    with pytest.raises(DataError, match="unknown synthetic knob.*colour; valid: " + ", ".join(KNOBS)):
        knob_values("synth-coco", colour=3)
    with pytest.raises(DataError, match="labels_per_item=1.2 and single_label=0.1 do not fit"):
        knob_values("synth-coco", labels_per_item=1.2, single_label=0.1)
    with pytest.raises(DataError, match="unknown synthetic set 'synth-cocoa'"):
        knob_values("synth-cocoa")


def test_knobs_override_the_preset_and_keep_the_rest():
    values = knob_values("synth-coco", hierarchy=0.7, scenes=3.0)
    preset = SYNTHETIC_DATASETS["synth-coco"].knobs
    assert values["hierarchy"] == 0.7 and values["scenes"] == 3 and isinstance(values["scenes"], int)
    assert {k: v for k, v in values.items() if k not in ("hierarchy", "scenes")} == \
        {k: v for k, v in preset.items() if k not in ("hierarchy", "scenes")}
