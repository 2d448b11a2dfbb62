"""The training loop on a tiny synthetic set: every loss in both modes, determinism, the feature cache,
protocol discipline and divergence."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import losses
import methods
from benchmark import data, training
from benchmark.metrics import evaluate
from benchmark.training import TrainingDiverged, TrainSettings, train_and_evaluate
from losses import HashingLoss, LossOutput


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A 300-pair synthetic set, its split, and a tiny CLIP briefly pretrained on its train split."""
    cache = tmp_path_factory.mktemp("cache")
    ds = data.load("synth-nuswide", root=cache, size=300)
    split = data.load_or_create_split(ds, data.SplitSettings(query_size=30, train_size=160), cache)
    texts = [ds.captions[i][0] for i in split.train]
    backbone = methods.pretrain_tiny_clip(cache / "backbone", ds.images[split.train], texts, ds.vocabulary,
                                          steps=120, batch_size=64, progress=False)
    return ds, split, backbone, cache


def run(setup, **settings):
    ds, split, backbone, cache = setup
    options = {"n_bits": 16, "epochs": 4, "batch_size": 32, **settings}
    return train_and_evaluate(TrainSettings(**options), ds, split, backbone, cache_dir=cache, progress=False)


@pytest.fixture(scope="module")
def random_val_map(setup):
    """Validation mAP (mean of i2t and t2i) of random codes, averaged over draws."""
    ds, split, _, _ = setup
    rng = np.random.default_rng(0)
    maps = []
    for _ in range(10):
        q, r = rng.choice([-1, 1], (len(split.val_query), 16)), rng.choice([-1, 1], (len(split.val_database), 16))
        maps.append(evaluate(q, r, ds.labels[split.val_query], ds.labels[split.val_database])["map"])
    return float(np.mean(maps))


@pytest.mark.parametrize("name", losses.available())
def test_frozen_run_of_every_loss_beats_random_codes(setup, random_val_map, name):
    record = run(setup, loss=name, epochs=6, head_lr=5e-3)
    assert set(record["metrics"]) == {"i2t", "t2i", "i2i", "t2t"}
    assert record["selection"]["val_map"] > random_val_map + 0.05
    assert record["metrics"]["i2t"]["map"] > 0 and "pr_radius" in record["curves"]["i2t"]
    assert [h["epoch"] for h in record["history"]] == list(range(1, 7))
    assert set(record["history"][0]["loss"]) == {"total", *losses.build(name, 21, 16).forward(
        torch.zeros(2, 16), torch.zeros(2, 16), torch.ones(2, 21)).terms}


@pytest.mark.parametrize("name", losses.available())
def test_finetune_run_of_every_loss_beats_random_codes(setup, random_val_map, name):
    record = run(setup, loss=name, mode="finetune", epochs=3, head_lr=5e-3, backbone_lr=1e-4)
    assert record["selection"]["val_map"] > random_val_map + 0.02
    assert record["data"]["feature_cache"] is None


def test_same_seed_gives_identical_codes_and_metrics(setup):
    a, b = run(setup, loss="dcgh"), run(setup, loss="dcgh")
    c = run(setup, loss="dcgh", seed=1)
    assert a["codes_sha256"] == b["codes_sha256"] and a["metrics"] == b["metrics"]
    assert a["history"][-1]["loss"] == b["history"][-1]["loss"]
    assert a["codes_sha256"] != c["codes_sha256"]


def test_finetune_is_reproducible_too(setup):
    a = run(setup, loss="proxy", mode="finetune", epochs=1)
    b = run(setup, loss="proxy", mode="finetune", epochs=1)
    assert a["codes_sha256"] == b["codes_sha256"] and a["metrics"] == b["metrics"]


def test_feature_cache_is_reused_and_keyed_by_backbone_and_data(setup, tmp_path, monkeypatch):
    ds, split, backbone, _ = setup
    first = train_and_evaluate(TrainSettings(loss="pairwise", n_bits=16, epochs=1), ds, split, backbone,
                               cache_dir=tmp_path, progress=False)
    assert first["data"]["feature_cache"]["reused"] is False

    def no_encoding(*args, **kwargs):
        raise AssertionError("features were recomputed")

    monkeypatch.setattr(methods.features, "encode_features", no_encoding)
    monkeypatch.setattr(training, "encode_features", no_encoding)
    second = train_and_evaluate(TrainSettings(loss="triplet", n_bits=32, epochs=1), ds, split, backbone,
                                cache_dir=tmp_path, progress=False)
    assert second["data"]["feature_cache"] == {**first["data"]["feature_cache"], "reused": True}
    monkeypatch.undo()

    other_backbone = methods.pretrain_tiny_clip(tmp_path / "other", ds.images[:64], [c[0] for c in ds.captions[:64]],
                                                ds.vocabulary, steps=2, batch_size=32, progress=False)
    other_data = data.load("synth-nuswide", root=tmp_path, size=300, seed=5)
    other_split = data.load_or_create_split(other_data, split.settings, tmp_path)
    paths = {first["data"]["feature_cache"]["path"]}
    for dataset, s, bb in ((ds, split, other_backbone), (other_data, other_split, backbone)):
        record = train_and_evaluate(TrainSettings(loss="pairwise", n_bits=16, epochs=1), dataset, s, bb,
                                    cache_dir=tmp_path, progress=False)
        assert record["data"]["feature_cache"]["reused"] is False
        paths.add(record["data"]["feature_cache"]["path"])
    assert len(paths) == 3


def test_honest_protocol_looks_at_the_query_set_once_after_training(setup):
    record = run(setup, loss="proxy", epochs=5)
    log = record["evaluations"]
    query = [i for i, e in enumerate(log) if e["set"] == "query"]
    validation = [i for i, e in enumerate(log) if e["set"] == "validation"]
    assert record["query_set_evaluations"] == 4 and len(query) == 4
    assert len(validation) == 10 and max(validation) < min(query)
    assert all(log[i]["stage"] == "final" for i in query)
    best = max(record["history"], key=lambda h: h["val_map"])
    assert record["selection"] == {"protocol": "honest", "criterion": "validation mAP, mean of i2t and t2i",
                                   "epoch": best["epoch"], "val_map": best["val_map"]}


def test_paper_protocol_keeps_the_best_query_epoch_per_direction(setup):
    record = run(setup, loss="proxy", protocol="paper", epochs=3)
    assert record["query_set_evaluations"] == 12
    assert record["data"]["n_fit"] == 160  # the whole train set: nothing is held out for validation
    for direction, epoch in record["selection"]["epochs"].items():
        maps = [h["query_map"][direction] for h in record["history"]]
        assert record["metrics"][direction]["map"] == max(maps) and maps[epoch - 1] == max(maps)


class NaNAtThirdStep(HashingLoss):
    """A loss that becomes NaN at its third call."""

    def __init__(self, n_classes: int, n_bits: int):
        super().__init__(n_classes, n_bits)
        self.calls = 0

    def forward(self, img, txt, labels):
        self.calls += 1
        value = (img - txt).pow(2).mean()
        return LossOutput.from_terms({"align": value, "broken": value * (float("nan") if self.calls == 3 else 0)})


def test_a_nan_loss_stops_the_run_naming_epoch_step_and_term(setup):
    with pytest.raises(TrainingDiverged, match=r"diverged at epoch 1, step 3: term 'broken' is nan"):
        run(setup, loss=f"{__name__}:NaNAtThirdStep")


@pytest.mark.parametrize("settings,message", [({"mode": "partial"}, "mode must be one of frozen, finetune"),
                                              ({"protocol": "best"}, "protocol must be one of honest, paper"),
                                              ({"epochs": 0}, "epochs must be a positive integer")])
def test_bad_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainSettings(loss="dcgh", n_bits=16, **settings)


def test_record_reports_timings_environment_and_data(setup):
    record = run(setup, loss="center", epochs=1)
    assert set(record["timings"]) == {"encode_s", "train_s", "eval_s", "total_s"}
    assert record["environment"]["torch"] == torch.__version__ and record["environment"]["device"] == "cpu"
    ds, split, _, _ = setup
    assert record["data"]["split_hash"] == split.hash and record["data"]["dataset_hash"] == ds.content_hash
    assert record["settings"]["loss"] == "center" and record["settings"]["n_bits"] == 16
