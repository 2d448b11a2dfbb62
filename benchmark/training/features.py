"""Where the CLIP features of a batch come from: the frozen-feature cache (only the hash heads train), or the
backbone itself (fine-tuning). ``FEATURE_SOURCES`` is the one place that tells the two modes apart.

A feature source answers, for the trainer: which part of the model trains (and is selected and restored), its
optimizer parameter groups, the model's training mode, the features of a training batch (with gradients where
the backbone trains) and the features of items to evaluate.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from methods import Backbone, DualEncoder, ImageTransform, encode_features, folder_hash, load_backbone, tokenize

from ..config import RunSettings
from ..data import PairedDataset
from ..device import Precision
from ..files import atomic_path

#: Items per forward pass when encoding for the cache or for evaluation.
ENCODE_BATCH = 256


@dataclass(frozen=True)
class CacheUse:
    """Which feature cache file a frozen run used, and whether it was already there."""

    path: str
    reused: bool


class _Encoder:
    """Encodes items of a dataset with a backbone's CLIP towers, in evaluation mode."""

    def __init__(self, dataset: PairedDataset, backbone: Backbone, max_text_len: int, device: torch.device,
                 precision: Precision):
        self.dataset, self.backbone, self.max_text_len = dataset, backbone, max_text_len
        self.device, self.precision = device, precision
        self.transform = ImageTransform(backbone.processor)

    def __call__(self, clip: nn.Module, indices: np.ndarray, desc: str | None = None):
        with self.precision.autocast():
            return encode_features(clip, self.backbone.tokenizer, self.transform, self.dataset.images_at(indices),
                                   [self.dataset.texts[i] for i in indices], batch_size=ENCODE_BATCH,
                                   max_length=self.max_text_len, device=self.device, desc=desc)


class FrozenFeatures:
    """CLIP features of every item, computed once per (dataset, backbone, text length) and cached under
    ``<cache>/features/``; only the hash heads train, the backbone stays in evaluation mode."""

    runs_backbone = False  # training steps never run the backbone

    def __init__(self, image: torch.Tensor, text: torch.Tensor, cache: CacheUse):
        self.image, self.text, self.cache = image, text, cache

    @staticmethod
    def cache_path(cache_dir: Path, dataset: PairedDataset, backbone_hash: str, max_text_len: int) -> Path:
        return (Path(cache_dir) / "features" /
                f"{dataset.name}-{dataset.content_hash[:16]}-{backbone_hash[:16]}-len{max_text_len}.npz")

    @classmethod
    def open(cls, dataset: PairedDataset, backbone: Backbone, cache_dir: Path, settings: RunSettings,
             device: torch.device, precision: Precision, progress: bool) -> "FrozenFeatures":
        """The cached features of ``dataset``, computed with ``backbone`` and stored first if missing."""
        path = cls.cache_path(cache_dir, dataset, backbone.hash, settings.max_text_len)
        reused = path.is_file()
        if reused:
            with np.load(path) as stored:
                image, text = torch.from_numpy(stored["image"]), torch.from_numpy(stored["text"])
        else:
            encode = _Encoder(dataset, backbone, settings.max_text_len, device, precision)
            image, text = encode(backbone.model.to(device), np.arange(len(dataset)),
                                 desc=f"encoding {dataset.name}" if progress else None)
            with atomic_path(path) as tmp:
                np.savez(tmp, image=image.cpu().numpy(), text=text.cpu().numpy())
        return cls(image.to(device), text.to(device), CacheUse(str(path), reused))

    @classmethod
    def prepare(cls, dataset: PairedDataset, backbone_path: Path, cache_dir: Path, settings: RunSettings,
                device: torch.device, progress: bool) -> None:
        """Build the cache the runs of ``dataset`` share, before any of them trains."""
        if not cls.cache_path(cache_dir, dataset, folder_hash(backbone_path), settings.max_text_len).is_file():
            cls.open(dataset, load_backbone(backbone_path), cache_dir, settings, device, Precision(device), progress)

    def trainable(self, model: DualEncoder) -> nn.Module:
        return model.heads()

    def param_groups(self, model: DualEncoder, settings: RunSettings) -> list[dict]:
        return [{"params": list(model.heads().parameters()), "lr": settings.optimizer.head_lr}]

    def train_mode(self, model: DualEncoder) -> None:
        model.train()
        model.clip.eval()

    def batch(self, model: DualEncoder, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return self.image[indices], self.text[indices]

    def features(self, model: DualEncoder, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return self.image[indices], self.text[indices]


class BackboneFeatures:
    """Features computed by the backbone at every step: backbone and heads train end to end."""

    cache = None
    runs_backbone = True

    def __init__(self, dataset: PairedDataset, backbone: Backbone, settings: RunSettings, device: torch.device,
                 precision: Precision):
        self.dataset, self.backbone, self.max_text_len = dataset, backbone, settings.max_text_len
        self.device, self.precision = device, precision
        self.encode = _Encoder(dataset, backbone, settings.max_text_len, device, precision)

    @classmethod
    def open(cls, dataset: PairedDataset, backbone: Backbone, cache_dir: Path, settings: RunSettings,
             device: torch.device, precision: Precision, progress: bool) -> "BackboneFeatures":
        return cls(dataset, backbone, settings, device, precision)

    @classmethod
    def prepare(cls, dataset: PairedDataset, backbone_path: Path, cache_dir: Path, settings: RunSettings,
                device: torch.device, progress: bool) -> None:
        """Nothing is shared between fine-tuning runs besides the data and the backbone folder."""

    def trainable(self, model: DualEncoder) -> nn.Module:
        return model

    def param_groups(self, model: DualEncoder, settings: RunSettings) -> list[dict]:
        return [{"params": list(model.heads().parameters()), "lr": settings.optimizer.head_lr},
                {"params": list(model.clip.parameters()), "lr": settings.optimizer.backbone_lr}]

    def train_mode(self, model: DualEncoder) -> None:
        model.train()

    def batch(self, model: DualEncoder, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = tokenize(self.backbone.tokenizer, [self.dataset.texts[i] for i in indices], self.max_text_len)
        with self.precision.autocast():
            image = model.image_features(self.encode.transform(self.dataset.images_at(indices)).to(self.device))
            text = model.text_features(**{k: v.to(self.device) for k, v in tokens.items()})
        return image, text

    def features(self, model: DualEncoder, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode(model.clip, indices)


#: The one mapping from a run's ``mode`` to how it gets its features.
FEATURE_SOURCES = {"frozen": FrozenFeatures, "finetune": BackboneFeatures}
