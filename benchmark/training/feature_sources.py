"""Where the CLIP features of a batch come from: the frozen-feature cache (only the hash heads train), or the
backbone itself (fine-tuning). ``FEATURE_SOURCES`` is the one place that tells the two modes apart.

A feature source (``FeatureSource``) answers, for the trainer: which part of the model trains (and is selected
and restored), its optimizer parameter groups, the model's training mode, the features of an epoch's training
batches (with gradients where the backbone trains) and the features of items to evaluate. Images are decoded and
cropped by ``workers`` loader processes (``methods.image_batches``), which change how fast, never what, features
come.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from methods import (Backbone, DualEncoder, ImageTransform, encode_features, folder_hash, image_batches,
                     load_backbone, tokenize)
from methods.preprocess import UnreadableImage

from ..config import RunSettings
from ..data import PairedDataset
from ..device import Precision
from ..errors import DataError
from ..files import load_npz_cache, npz_complete, save_npz_cache

#: Items per forward pass when encoding for the cache or for evaluation.
ENCODE_BATCH = 256


@dataclass(frozen=True)
class CacheUse:
    """Which feature cache file a frozen run used, and whether it was already there."""

    path: str
    reused: bool


@runtime_checkable
class FeatureSource(Protocol):
    """How a run gets its features (one per ``mode``): what the trainer, ``train_and_evaluate`` and the runner's
    preparation call. ``open`` and ``prepare`` are called on the class, the rest on the source ``open`` gives."""

    runs_backbone: ClassVar[bool]  # whether training steps run the backbone (it then gets the run's threads)
    cache: CacheUse | None  # the feature cache the run used; None: none

    @classmethod
    def open(cls, dataset: PairedDataset, backbone: Backbone, cache_dir: Path, settings: RunSettings,
             device: torch.device, precision: Precision, progress: bool, workers: int = 0) -> FeatureSource: ...

    @classmethod
    def prepare(cls, dataset: PairedDataset, backbone_path: Path, cache_dir: Path, settings: RunSettings,
                device: torch.device, progress: bool, workers: int = 0) -> None: ...

    def trainable(self, model: DualEncoder) -> nn.Module:
        """The part of the model that trains, and is snapshotted and restored."""

    def param_groups(self, model: DualEncoder, settings: RunSettings) -> list[dict]:
        """The optimizer's parameter groups, with their learning rates."""

    def set_mode(self, model: DualEncoder, training: bool) -> None:
        """Put ``model`` in training (``training``) or evaluation mode; a frozen backbone stays in evaluation mode."""

    def batches(self, model: DualEncoder, batches: list[np.ndarray]
                ) -> Iterator[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
        """``(indices, image, text)`` features of each batch of indices, in order."""

    def features(self, model: DualEncoder, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The image and text features of ``indices``, to evaluate."""


@contextmanager
def _readable_images(dataset: PairedDataset) -> Iterator[None]:
    """An image of ``dataset`` that cannot be decoded, as one line naming it and the ways out."""
    try:
        yield
    except UnreadableImage as exc:
        raise DataError(f"{dataset.name}: {exc}; replace the file, or pass --drop-missing-images "
                        "(execution.drop_missing_images: true) to drop the items whose image is missing or "
                        "unreadable") from exc


def _decoded(dataset: PairedDataset, crops: Iterator[torch.Tensor]) -> Iterator[torch.Tensor]:
    """``crops`` of ``dataset``'s images, an image that cannot be decoded as ``_readable_images`` says it."""
    with _readable_images(dataset):
        yield from crops


class _Encoder:
    """Encodes items of a dataset with a backbone's CLIP towers, in evaluation mode, images decoded by ``workers``
    loader processes."""

    def __init__(self, dataset: PairedDataset, backbone: Backbone, max_text_len: int, device: torch.device,
                 precision: Precision, workers: int):
        self.dataset, self.backbone, self.max_text_len = dataset, backbone, max_text_len
        self.device, self.precision, self.workers = device, precision, workers
        self.transform = ImageTransform(backbone.processor)

    def __call__(self, clip: nn.Module, indices: np.ndarray, desc: str | None = None):
        with self.precision.autocast(), _readable_images(self.dataset):
            return encode_features(clip, self.backbone.tokenizer, self.transform, self.dataset.images_at(indices),
                                   [self.dataset.texts[i] for i in indices], batch_size=ENCODE_BATCH,
                                   max_length=self.max_text_len, device=self.device, desc=desc,
                                   workers=self.workers)


class FrozenFeatures:
    """CLIP features of every item, computed once per (dataset, its image files, backbone, text length) and cached
    under ``<cache>/features/``; only the hash heads train, the backbone stays in evaluation mode."""

    runs_backbone = False  # training steps never run the backbone

    def __init__(self, image: torch.Tensor, text: torch.Tensor, cache: CacheUse):
        self.image, self.text, self.cache = image, text, cache

    @staticmethod
    def cache_path(cache_dir: Path, dataset: PairedDataset, backbone_hash: str, max_text_len: int) -> Path:
        """The cache file of ``dataset``'s features: named by its content hash, for image files also by their
        sizes and modification times (``image_files_hash``: a replaced image is encoded anew), the backbone's hash
        and the text length."""
        files = dataset.image_files_hash()
        data = dataset.content_hash[:16] + (f"-files{files[:16]}" if files else "")
        return Path(cache_dir) / "features" / f"{dataset.name}-{data}-{backbone_hash[:16]}-len{max_text_len}.npz"

    @classmethod
    def open(cls, dataset: PairedDataset, backbone: Backbone, cache_dir: Path, settings: RunSettings,
             device: torch.device, precision: Precision, progress: bool, workers: int = 0) -> "FrozenFeatures":
        """The cached features of ``dataset``, computed with ``backbone`` (images decoded by ``workers`` loader
        processes) and stored first if missing."""
        path = cls.cache_path(cache_dir, dataset, backbone.hash, settings.max_text_len)
        stored = load_npz_cache(path, ("image", "text"), "feature cache")  # a damaged one: set aside, rebuilt
        reused = stored is not None
        if reused:
            image, text = torch.from_numpy(stored["image"]), torch.from_numpy(stored["text"])
        else:
            encode = _Encoder(dataset, backbone, settings.max_text_len, device, precision, workers)
            image, text = encode(backbone.model.to(device), np.arange(len(dataset)),
                                 desc=f"encoding {dataset.name}" if progress else None)
            save_npz_cache(path, image=image.cpu().numpy(), text=text.cpu().numpy())
        return cls(image.to(device), text.to(device), CacheUse(str(path), reused))

    @classmethod
    def prepare(cls, dataset: PairedDataset, backbone_path: Path, cache_dir: Path, settings: RunSettings,
                device: torch.device, progress: bool, workers: int = 0) -> None:
        """Build the cache the runs of ``dataset`` share, before any of them trains."""
        path = cls.cache_path(cache_dir, dataset, folder_hash(backbone_path), settings.max_text_len)
        if not npz_complete(path, ("image", "text")):  # missing or truncated: (re)built here, once
            cls.open(dataset, load_backbone(backbone_path), cache_dir, settings, device, Precision(device), progress,
                     workers)

    def trainable(self, model: DualEncoder) -> nn.Module:
        return model.heads()

    def param_groups(self, model: DualEncoder, settings: RunSettings) -> list[dict]:
        return [{"params": list(model.heads().parameters()), "lr": settings.optimizer.head_lr}]

    def set_mode(self, model: DualEncoder, training: bool) -> None:
        # only the heads switch: walking the CLIP's module tree twice an epoch cost ~6% of a frozen run
        if model.clip.training:
            model.clip.eval()
        model.heads().train(training)
        model.training = training

    def batches(self, model: DualEncoder, batches: list[np.ndarray]):
        """``(indices, image, text)`` for each batch of indices, in order: the cached features ``(n, d)``."""
        for indices in batches:
            yield indices, *self.features(model, indices)

    def features(self, model: DualEncoder, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return self.image[indices], self.text[indices]


class BackboneFeatures:
    """Features computed by the backbone at every step: backbone and heads train end to end."""

    cache = None
    runs_backbone = True

    def __init__(self, dataset: PairedDataset, backbone: Backbone, settings: RunSettings, device: torch.device,
                 precision: Precision, workers: int = 0):
        self.dataset, self.backbone, self.max_text_len = dataset, backbone, settings.max_text_len
        self.device, self.precision = device, precision
        self.encode = _Encoder(dataset, backbone, settings.max_text_len, device, precision, workers)

    @classmethod
    def open(cls, dataset: PairedDataset, backbone: Backbone, cache_dir: Path, settings: RunSettings,
             device: torch.device, precision: Precision, progress: bool, workers: int = 0) -> "BackboneFeatures":
        return cls(dataset, backbone, settings, device, precision, workers)

    @classmethod
    def prepare(cls, dataset: PairedDataset, backbone_path: Path, cache_dir: Path, settings: RunSettings,
                device: torch.device, progress: bool, workers: int = 0) -> None:
        """Nothing is shared between fine-tuning runs besides the data and the backbone folder."""

    def trainable(self, model: DualEncoder) -> nn.Module:
        return model

    def param_groups(self, model: DualEncoder, settings: RunSettings) -> list[dict]:
        return [{"params": list(model.heads().parameters()), "lr": settings.optimizer.head_lr},
                {"params": list(model.clip.parameters()), "lr": settings.optimizer.backbone_lr}]

    def set_mode(self, model: DualEncoder, training: bool) -> None:
        model.train(training)

    def batches(self, model: DualEncoder, batches: list[np.ndarray]):
        """``(indices, image, text)`` for each batch of indices, in order: features ``(n, d)`` computed by ``model``
        with gradients, from images the loader's workers decode ahead."""
        encode = self.encode
        crops = _decoded(self.dataset, image_batches(self.dataset.images, batches, encode.transform, encode.workers,
                                                     pin_memory=self.device.type == "cuda"))
        for pixels, indices in zip(crops, batches):
            tokens = tokenize(self.backbone.tokenizer, [self.dataset.texts[i] for i in indices], self.max_text_len)
            with self.precision.autocast():
                image = model.image_features(encode.transform.normalise(pixels.to(self.device, non_blocking=True)))
                text = model.text_features(**{k: v.to(self.device) for k, v in tokens.items()})
            yield indices, image, text

    def features(self, model: DualEncoder, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode(model.clip, indices)


#: The one mapping from a run's ``mode`` to how it gets its features.
FEATURE_SOURCES: dict[str, type[FeatureSource]] = {"frozen": FrozenFeatures, "finetune": BackboneFeatures}
