"""Encoding items with the CLIP towers in batches, and the on-disk cache of frozen features."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from .encoder import DualEncoder
from .preprocess import ImageTransform, tokenize


@torch.no_grad()
def encode_features(encoder: DualEncoder, tokenizer, transform: ImageTransform, images, texts: list[str], *,
                    batch_size: int = 256, max_length: int = 32, device="cpu", desc: str | None = None,
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Projected CLIP embeddings ``(n, d)`` of ``images`` (uint8 array or paths) and ``texts``, on ``device``."""
    was_training = encoder.training
    encoder.eval()
    image_parts, text_parts = [], []
    for start in tqdm(range(0, len(texts), batch_size), desc=desc, disable=desc is None, unit="batch"):
        stop = start + batch_size
        image_parts.append(encoder.image_features(transform(images[start:stop]).to(device)).float())
        tokens = tokenize(tokenizer, texts[start:stop], max_length)
        text_parts.append(encoder.text_features(**{k: v.to(device) for k, v in tokens.items()}).float())
    encoder.train(was_training)
    return torch.cat(image_parts), torch.cat(text_parts)


def cached_features(path: Path, compute: Callable[[], tuple[torch.Tensor, torch.Tensor]]
                    ) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """``(image, text, reused)``: the features stored at ``path``, or computed once and stored there.

    The caller puts the backbone's and the data's hashes in ``path``, so a changed backbone or changed
    data never reuses features; the file is written under a temporary name and renamed.
    """
    path = Path(path)
    if path.is_file():
        with np.load(path) as stored:
            return torch.from_numpy(stored["image"]), torch.from_numpy(stored["text"]), True
    image, text = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp.npz", dir=path.parent)
    os.close(fd)
    np.savez(tmp, image=image.cpu().numpy(), text=text.cpu().numpy())
    os.replace(tmp, path)
    return image.cpu(), text.cpu(), False
