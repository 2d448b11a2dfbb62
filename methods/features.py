"""Encoding items with the CLIP towers in batches."""
from __future__ import annotations

import torch
from torch import nn
from tqdm import tqdm

from .encoder import image_embeddings, text_embeddings
from .preprocess import ImageTransform, tokenize


@torch.no_grad()
def encode_features(clip: nn.Module, tokenizer, transform: ImageTransform, images, texts: list[str], *,
                    batch_size: int = 256, max_length: int = 32, device="cpu", desc: str | None = None,
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Projected CLIP embeddings ``(n, d)`` of ``images`` (uint8 array or paths) and ``texts``, on ``device``,
    computed in evaluation mode (the model's mode is restored afterwards)."""
    was_training = clip.training
    clip.eval()
    image_parts, text_parts = [], []
    for start in tqdm(range(0, len(texts), batch_size), desc=desc, disable=desc is None, unit="batch"):
        stop = start + batch_size
        image_parts.append(image_embeddings(clip, transform(images[start:stop]).to(device)).float())
        tokens = tokenize(tokenizer, texts[start:stop], max_length)
        text_parts.append(text_embeddings(clip, **{k: v.to(device) for k, v in tokens.items()}).float())
    clip.train(was_training)
    return torch.cat(image_parts), torch.cat(text_parts)
