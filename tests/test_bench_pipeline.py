"""Speed of the real-data image pipeline (``pytest -m benchmark``): the fast transform against CLIP's image
processor per image, the loader's throughput with 0, 1 and 2 worker processes, and fine-tuning steps of a tiny
CLIP fed by the loader, on generated 500x375 JPEGs (the size of most MIRFLICKR-25K and NUS-WIDE images)."""
from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

import methods
from benchmark import data
from benchmark.config import RunSpec
from benchmark.threads import torch_threads
from benchmark.training import RunEnvironment, make_trainer
from methods import ImageTransform, image_batches, load_backbone, save_backbone
from tests.real_format import VOCAB, jpeg_dataset

pytestmark = pytest.mark.benchmark

N_IMAGES, BATCH = 128, 32


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory):
    """A set of ``N_IMAGES`` photo-like 500x375 JPEGs, one in four portrait, and a tiny CLIP at 224x224."""
    folder = tmp_path_factory.mktemp("jpegs")
    dataset = jpeg_dataset(folder, [(500, 375) if i % 4 == 0 else (375, 500) for i in range(N_IMAGES)])
    model, tokenizer, processor = methods.tiny_clip("tiny", VOCAB, image_size=224, max_length=16, seed=0)
    return dataset, save_backbone(folder / "clip", model, tokenizer, processor)


def per_second(seconds: float, items: int = N_IMAGES) -> float:
    return items / seconds


def test_fast_transform_against_the_image_processor(benchmark, jpegs):
    """Per image, in this process: decoding alone, CLIP's image processor (decoded image in, pixel_values out) and
    the fast transform (path in, normalised pixels out), measured in the same test so that their ratio holds
    however loaded the machine is."""
    dataset, folder = jpegs
    paths = dataset.images
    processor = load_backbone(folder).processor
    transform = ImageTransform(type(processor)())  # CLIP's 224x224 processing

    def decode():
        for path in paths:
            with Image.open(path) as image:
                image.convert("RGB")

    def processed():
        for path in paths:
            with Image.open(path) as image:
                processor(images=[image], return_tensors="pt")

    timings = {}
    with torch_threads(1):  # one image's normalisation gains nothing from more threads, and they fight for cores
        for name, work in (("decode", decode), ("processor", processed)):
            start = time.perf_counter()
            work()
            timings[name] = time.perf_counter() - start
        benchmark.pedantic(lambda: [transform([path]) for path in paths], rounds=3, warmup_rounds=1)
    fast = benchmark.stats.stats.median
    benchmark.extra_info.update(images_per_second=per_second(fast), processor_over_fast=timings["processor"] / fast)
    print(f"\nper image: decode {1e3 * timings['decode'] / N_IMAGES:.2f} ms, processor "
          f"{1e3 * timings['processor'] / N_IMAGES:.2f} ms, fast transform {1e3 * fast / N_IMAGES:.2f} ms "
          f"(processor / fast = {timings['processor'] / fast:.2f}x)")


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_loader_throughput(benchmark, jpegs, workers):
    """Images per second out of ``image_batches`` (batches of 32, normalised in this process), workers' start-up
    included, as each epoch and each evaluation pays it."""
    dataset, folder = jpegs
    transform = ImageTransform(load_backbone(folder).processor)
    batches = np.array_split(np.arange(N_IMAGES), N_IMAGES // BATCH)

    def load():
        for crops in image_batches(dataset.images, batches, transform, workers):
            transform.normalise(crops)

    with torch_threads(1):  # the workers run on one thread each; so does this process here
        benchmark.pedantic(load, rounds=3, warmup_rounds=1)
    rate = per_second(benchmark.stats.stats.median)
    benchmark.extra_info["images_per_second"] = rate
    print(f"\nloader, {workers} workers: {rate:,.0f} images/s")


@pytest.mark.parametrize("workers", [0, 2])
def test_finetune_steps(benchmark, jpegs, tmp_path, workers):
    """Fine-tuning steps (batch 32) of a tiny CLIP at 224x224 on the JPEGs, images from the loader."""
    dataset, folder = jpegs
    split = data.load_or_create_split(dataset, data.SplitSettings(query_size=16, train_size=N_IMAGES - 16), tmp_path)
    spec = RunSpec.from_dict({"loss": "dcgh", "dataset": dataset.name, "bits": 16, "replicate": 0, "seed": 0,
                              "varies": ["init"], "loss_params": {}, "synthetic": None,
                              "settings": {"mode": "finetune", "epochs": 1, "batch_size": BATCH, "max_text_len": 16,
                                           "backbone": str(folder)}}, "the benchmark")
    trainer = make_trainer(spec, RunEnvironment(dataset, split, folder, tmp_path, progress=False,
                                                loader_workers=workers))
    optimizers = trainer._optimizers(100)
    order = split.val_database[:3 * BATCH]
    with torch_threads(1):  # as the tiny synthetic CLIP trains (benchmark/threads.py)
        benchmark.pedantic(trainer.train_epoch, args=(1, order, optimizers), rounds=3, warmup_rounds=1)
    step = benchmark.stats.stats.median / 3
    benchmark.extra_info["seconds_per_step"] = step
    print(f"\nfine-tuning step, tiny CLIP 224x224, batch {BATCH}, {workers} loader workers: {step:.2f} s")
