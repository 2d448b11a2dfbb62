"""Turning captions and images into CLIP inputs: token ids padded/truncated to ``max_text_len``, and
pixel tensors normalised the way the backbone's image processor says."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

DEFAULT_MAX_TEXT_LEN = 32


def tokenize(tokenizer, texts: list[str], max_length: int = DEFAULT_MAX_TEXT_LEN) -> dict[str, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` ``(n, max_length)``, padded and truncated to ``max_length``."""
    encoded = tokenizer(list(texts), padding="max_length", truncation=True, max_length=max_length,
                        return_tensors="pt")
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}


class ImageTransform:
    """Pixel tensors ``(n, 3, H, W)`` for a batch of images: uint8 arrays ``(n, h, w, 3)`` or file paths.

    Arrays already at the processor's crop size are only scaled and normalised (what the processor would
    do to them anyway, without its per-image Python work); anything else goes through the processor.
    """

    def __init__(self, processor):
        self.processor = processor
        crop = processor.crop_size if processor.do_center_crop else processor.size
        edge = crop.get("shortest_edge")
        self.size = (crop.get("height") or edge, crop.get("width") or edge)
        self.mean = torch.tensor(processor.image_mean).view(1, 3, 1, 1)
        self.std = torch.tensor(processor.image_std).view(1, 3, 1, 1)

    def __call__(self, images) -> torch.Tensor:
        if isinstance(images, np.ndarray) and images.shape[1:3] == self.size:
            pixels = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
            return (pixels * self.processor.rescale_factor - self.mean) / self.std
        if not isinstance(images, np.ndarray):
            images = [_open_rgb(path) for path in images]
        return self.processor(images=list(images), return_tensors="pt")["pixel_values"]


def _open_rgb(path) -> Image.Image:
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except OSError as exc:
        raise ValueError(f"cannot read image {path}: {exc}") from exc
