"""Encoding items with the CLIP towers in batches."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .encoder import image_embeddings, text_embeddings
from .preprocess import ImageTransform, image_batches, tokenize


@torch.no_grad()
def encode_features(clip: nn.Module, tokenizer, transform: ImageTransform, images, texts: list[str], *,
                    batch_size: int = 256, max_length: int = 32, device="cpu", desc: str | None = None,
                    workers: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Projected CLIP embeddings ``(n, d)`` of ``images`` (uint8 array or paths) and ``texts``, on ``device``,
    computed in evaluation mode (the model's mode is restored afterwards). ``workers`` loader processes decode
    the images ahead (``image_batches``; pinned memory on a GPU); the embeddings do not depend on their number."""
    device = torch.device(device)
    was_training = clip.training
    clip.eval()
    batches = [np.arange(start, min(start + batch_size, len(texts))) for start in range(0, len(texts), batch_size)]
    crops = image_batches(images, batches, transform, workers, pin_memory=device.type == "cuda")
    image_parts, text_parts = [], []
    for pixels, batch in tqdm(zip(crops, batches), total=len(batches), desc=desc, disable=desc is None, unit="batch"):
        image_parts.append(image_embeddings(clip, transform.normalise(pixels.to(device, non_blocking=True))).float())
        tokens = tokenize(tokenizer, [texts[i] for i in batch], max_length)
        text_parts.append(text_embeddings(clip, **{k: v.to(device) for k, v in tokens.items()}).float())
    clip.train(was_training)
    return torch.cat(image_parts), torch.cat(text_parts)
