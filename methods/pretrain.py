"""Contrastive pretraining of a tiny CLIP on a synthetic dataset's training split, so synthetic runs get
a "pretrained" backbone that is then loaded exactly like a real one."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .backbone import save_backbone, tiny_clip
from .optim import warmup_cosine
from .preprocess import ImageTransform, tokenize


def pretrain_tiny_clip(folder: Path, images: np.ndarray, texts: list[str], vocabulary: list[str], *,
                       config: str = "tiny", steps: int = 300, batch_size: int = 128, lr: float = 2e-3,
                       max_length: int = 32, seed: int = 0, progress: bool = True, desc: str | None = None) -> Path:
    """Train ``TINY_CONFIGS[config]`` with CLIP's symmetric contrastive loss for ``steps`` steps on the
    pairs (``images`` uint8 ``(n, s, s, 3)``, ``texts``), then ``save_pretrained`` model, tokenizer and
    image processor into ``folder``. Deterministic for a seed on the CPU.

    Each batch's tokens are cut to its longest caption: the padding after it is masked out, so this changes
    only the time a step takes (captions are far shorter than ``max_length``), up to floating-point rounding."""
    model, tokenizer, processor = tiny_clip(config, vocabulary, images.shape[1], max_length, seed)
    pixels = ImageTransform(processor)(images)
    tokens = tokenize(tokenizer, texts, max_length)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1)
    schedule = warmup_cosine(optimizer, steps, steps // 10)
    rng = np.random.default_rng(seed)
    order, position = rng.permutation(len(texts)), 0
    model.train()
    for _ in tqdm(range(steps), desc=desc or f"pretraining {Path(folder).name}", disable=not progress, unit="step"):
        if position + batch_size > len(order):
            order, position = rng.permutation(len(texts)), 0
        batch = torch.from_numpy(order[position:position + batch_size])
        position += batch_size
        mask = tokens["attention_mask"][batch]
        length = int(mask.sum(dim=1).max())
        loss = model(pixel_values=pixels[batch], input_ids=tokens["input_ids"][batch][:, :length],
                     attention_mask=mask[:, :length], return_loss=True).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
    model.eval()
    return save_backbone(folder, model, tokenizer, processor)
