"""Speed of training and encoding on a synthetic set (``pytest -m benchmark``): frozen-mode training
throughput per loss at batch 128 and 64 bits, encode throughput of the synthetic backbone, and one whole
frozen-mode run (all epochs and the final evaluation)."""
from __future__ import annotations

import numpy as np
import pytest

import losses
from benchmark import data
from benchmark.backbones import synthetic_backbone
from benchmark.config import RunSpec
from benchmark.threads import torch_threads
from benchmark.training import RunEnvironment, make_trainer, train_and_evaluate
from methods import ImageTransform, encode_features, load_backbone

pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    ds = data.load("synth-coco", root=cache)
    split = data.load_or_create_split(ds, data.default_split_settings(ds), cache)
    return ds, split, synthetic_backbone(ds, split, cache, progress=False), cache


def spec(loss: str, epochs: int) -> RunSpec:
    return RunSpec.from_dict({"loss": loss, "dataset": "synth-coco", "bits": 64, "replicate": 0, "seed": 0, "varies": [],
                              "loss_params": {},
                              "settings": {"epochs": epochs, "batch_size": 128}, "synthetic": {}}, "the benchmark")


@pytest.mark.parametrize("name", losses.available())
def test_frozen_training_throughput(benchmark, coco, name):
    ds, split, backbone, cache = coco
    trainer = make_trainer(spec(name, 1), RunEnvironment(ds, split, backbone, cache, progress=False))
    optimizers = trainer._optimizers(100)
    order = np.random.default_rng(0).permutation(split.val_database)
    with torch_threads(1):  # as runs train (benchmark/threads.py)
        benchmark.pedantic(trainer.train_epoch, args=(1, order, optimizers), rounds=5, warmup_rounds=1)
    pairs_per_second = len(order) / benchmark.stats.stats.median
    benchmark.extra_info["pairs_per_second"] = pairs_per_second
    print(f"\n{name}: {pairs_per_second:,.0f} pairs/s (frozen, batch 128, 64 bits)")


def test_encode_throughput(benchmark, coco):
    ds, _, backbone_path, _ = coco
    backbone = load_backbone(backbone_path)
    transform = ImageTransform(backbone.processor)
    with torch_threads(1):  # as the synthetic backbone encodes (benchmark/threads.py)
        benchmark.pedantic(encode_features, args=(backbone.model, backbone.tokenizer, transform, ds.images[:2048],
                                                  ds.texts[:2048]), rounds=3, warmup_rounds=1)
    items_per_second = 2048 / benchmark.stats.stats.median
    benchmark.extra_info["items_per_second"] = items_per_second
    print(f"\nencode: {items_per_second:,.0f} image-text pairs/s (tiny synthetic CLIP)")


def test_whole_frozen_run(benchmark, coco):
    ds, split, backbone, cache = coco
    record = benchmark.pedantic(train_and_evaluate,
                                args=(spec("dcgh", 30), RunEnvironment(ds, split, backbone, cache, progress=False)),
                                rounds=3, warmup_rounds=1)
    print(f"\nwhole frozen run (synth-coco, dcgh, 64 bits, 30 epochs): {benchmark.stats.stats.median:.1f} s, "
          f"i2t mAP {record.metrics['i2t']['map']:.4f}")
