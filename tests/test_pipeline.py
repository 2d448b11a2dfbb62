"""The image pipeline of real datasets: the fast transform against CLIP's image processor on image files of
several sizes, aspect ratios and modes, loader workers that change nothing, and the frozen feature cache keyed
by the image files' sizes and modification times."""
from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

import methods
from benchmark import data
from benchmark.config import RunSettings, RunSpec
from benchmark.data import PairedDataset
from benchmark.device import Precision
from benchmark.training import RunEnvironment, train_and_evaluate
from benchmark.training.feature_sources import CacheUse, FrozenFeatures
from methods import ImageTransform, load_backbone, save_backbone
from methods.preprocess import PROCESSOR_TOLERANCE
from tests.real_format import VOCAB, jpeg_dataset, smooth_image


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    """A tiny random CLIP (32x32 images) saved with save_pretrained."""
    model, tokenizer, processor = methods.tiny_clip("tiny", VOCAB, image_size=32, max_length=16, seed=0)
    return save_backbone(tmp_path_factory.mktemp("clip") / "tiny-clip", model, tokenizer, processor)


def various_jpegs(folder, n: int) -> PairedDataset:
    """A real-format set of ``n`` JPEGs of sizes between 24 and 90 pixels a side."""
    sizes = [(int(h), int(w)) for h, w in np.random.default_rng(1).integers(24, 90, (n, 2))]
    return jpeg_dataset(folder, sizes)


def test_fast_transform_equals_the_image_processor(clip_folder, tmp_path):
    """Crops identical to the processor's, float pixels within PROCESSOR_TOLERANCE (1e-6; one step of a uint8
    pixel is 1/255/std > 0.014): JPEGs landscape, portrait, square, smaller than the crop, grayscale and CMYK,
    a PNG with an alpha channel and a palette PNG with a transparent colour (JPEG holds no alpha), arrays of
    other sizes; for CLIP's processor at 224 and at 32, a crop narrower than the resize, and a height x width
    resize without a crop."""
    rng = np.random.default_rng(2)
    files = []
    for i, (height, width, mode) in enumerate([(375, 500, "RGB"), (500, 375, "RGB"), (224, 224, "RGB"),
                                               (57, 101, "L"), (641, 640, "CMYK")]):
        files.append(tmp_path / f"{i}.jpg")
        Image.fromarray(smooth_image(rng, height, width)).convert(mode).save(files[-1])
    files.append(tmp_path / "rgba.png")
    Image.fromarray(rng.integers(0, 256, (300, 200, 4), dtype=np.uint8), "RGBA").save(files[-1])
    files.append(tmp_path / "palette.png")
    Image.fromarray(smooth_image(rng, 90, 400)).quantize(16).save(files[-1], transparency=3)
    arrays = [smooth_image(rng, 40, 48), smooth_image(rng, 33, 32)]
    clip = load_backbone(clip_folder).processor
    processors = [type(clip)(), clip, type(clip)(size={"shortest_edge": 48}, crop_size={"height": 30, "width": 40}),
                  type(clip)(size={"height": 40, "width": 50}, do_center_crop=False)]
    for processor in processors:
        transform = ImageTransform(processor)
        for images in ([str(f) for f in files], arrays):
            reference = processor(images=[Image.open(i) if isinstance(i, str) else i for i in images],
                                  return_tensors="pt")["pixel_values"]
            fast = transform(images)
            assert fast.shape == reference.shape
            assert (fast - reference).abs().max() <= PROCESSOR_TOLERANCE


def test_an_image_processor_the_transform_cannot_reproduce_is_refused(clip_folder):
    clip = load_backbone(clip_folder).processor
    with pytest.raises(ValueError, match="has a shortest_edge but no center crop"):
        ImageTransform(type(clip)(do_center_crop=False))
    with pytest.raises(ValueError, match="has a crop larger than the resized image"):
        ImageTransform(type(clip)(size={"shortest_edge": 20}, crop_size={"height": 32, "width": 32}))


def test_loader_workers_change_no_feature_and_no_code(clip_folder, tmp_path):
    """A fine-tuning run (training batches and every evaluation through the loader) gives the same codes,
    metrics and losses with 0 and 2 loader workers, and draws nothing from torch's global random state; so does
    encoding, batch for batch."""
    dataset = various_jpegs(tmp_path, 40)
    split = data.load_or_create_split(dataset, data.SplitSettings(query_size=8, train_size=24), tmp_path)
    spec = RunSpec.from_dict({"loss": "dcgh", "dataset": dataset.name, "bits": 16, "replicate": 0, "seed": 0,
                              "varies": ["init"], "loss_params": {}, "synthetic": None,
                              "settings": {"mode": "finetune", "epochs": 1, "batch_size": 8, "max_text_len": 16,
                                           "backbone": str(clip_folder), "topk": [10]}}, "the test")
    global_state = torch.get_rng_state()
    runs = [train_and_evaluate(spec, RunEnvironment(dataset, split, clip_folder, tmp_path, progress=False,
                                                    loader_workers=workers)) for workers in (0, 2)]
    assert torch.equal(torch.get_rng_state(), global_state)
    assert runs[0].codes_sha256 == runs[1].codes_sha256 and runs[0].metrics == runs[1].metrics
    untimed = [[replace(entry, seconds=None) for entry in run.history] for run in runs]
    assert untimed[0] == untimed[1]
    backbone = load_backbone(clip_folder)
    transform = ImageTransform(backbone.processor)
    encoded = [methods.encode_features(backbone.model, backbone.tokenizer, transform, dataset.images, dataset.texts,
                                       batch_size=6, max_length=16, workers=workers)[0] for workers in (0, 2)]
    assert torch.equal(encoded[0], encoded[1])
    alone = methods.encode_features(backbone.model, backbone.tokenizer, transform, dataset.images[6:12],
                                    dataset.texts[6:12], max_length=16)[0]
    assert torch.allclose(encoded[1][6:12], alone, atol=1e-6)  # in order: batch 2 holds items 6 to 11


def test_frozen_cache_is_rebuilt_when_an_image_file_changes(clip_folder, tmp_path):
    (tmp_path / "images").mkdir()
    dataset = various_jpegs(tmp_path / "images", 12)
    backbone = load_backbone(clip_folder)
    device = torch.device("cpu")

    def features() -> FrozenFeatures:
        return FrozenFeatures.open(dataset, backbone, tmp_path / "cache", RunSettings(max_text_len=16), device,
                                   Precision(device), progress=False)

    first, again = features(), features()
    assert (first.cache.reused, again.cache.reused) == (False, True) and again.cache.path == first.cache.path
    assert torch.equal(first.image, again.image)
    changed = dataset.images[3]
    before = os.stat(changed)
    Image.fromarray(smooth_image(np.random.default_rng(9), 60, 70)).save(changed)
    os.utime(changed, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    replaced = features()
    assert not replaced.cache.reused and replaced.cache.path != first.cache.path
    assert not torch.equal(replaced.image[3], first.image[3])
    others = np.arange(len(dataset)) != 3
    assert torch.equal(replaced.image[others], first.image[others])
    assert features().cache == CacheUse(replaced.cache.path, reused=True)


def test_array_images_keep_their_cache_name(tmp_path):
    """Pixels in an array are covered by the content hash: no file fingerprint, the cache name of before."""
    dataset = PairedDataset("synth-coco", ["dog", "cat", "sky", "car"], np.eye(4, dtype=np.uint8), [["a"]] * 4,
                            np.zeros((4, 8, 8, 3), np.uint8))
    path = FrozenFeatures.cache_path(tmp_path, dataset, "b" * 64, 32)
    assert dataset.image_files_hash() is None
    assert path.name == f"synth-coco-{dataset.content_hash[:16]}-{'b' * 16}-len32.npz"
