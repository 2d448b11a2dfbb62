"""The shared model: a CLIP dual encoder whose projected embeddings feed one hash head per modality.

Every random draw of the model (the heads' initialisation and their dropout masks) comes from one
``torch.Generator`` given at construction, never from torch's global random state, so two models built in one
process with the same generator seed are identical and cannot disturb each other.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def _embedding(output) -> torch.Tensor:
    """transformers 5 returns an output object from ``get_*_features`` (projection in ``pooler_output``),
    earlier versions the tensor itself."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def image_embeddings(clip: nn.Module, pixel_values: torch.Tensor) -> torch.Tensor:
    """Projected CLIP image embeddings ``(n, d)`` of pixel tensors ``(n, 3, H, W)``."""
    return _embedding(clip.get_image_features(pixel_values=pixel_values))


def text_embeddings(clip: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Projected CLIP text embeddings ``(n, d)`` of token ids ``(n, L)``."""
    return _embedding(clip.get_text_features(input_ids=input_ids, attention_mask=attention_mask))


class SeededDropout(nn.Module):
    """``nn.Dropout`` whose masks are drawn from ``generator`` (a CPU generator) instead of the global state.

    The mask is drawn as ``nn.Dropout`` draws it on the CPU (Bernoulli(1 - p), scaled by 1 / (1 - p)), so
    from the same generator state both give the same result; on another device it is moved there.
    """

    def __init__(self, p: float, generator: torch.Generator):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p!r}")
        self.p, self.generator = p, generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.empty(x.shape).bernoulli_(1 - self.p, generator=self.generator).div_(1 - self.p)
        return x * keep.to(device=x.device, dtype=x.dtype)


class HashHead(nn.Module):
    """``tanh(Dropout(p)(Linear(d -> k)))``: ``(n, d)`` features to ``(n, k)`` continuous codes in (-1, 1), or,
    with ``output="logits"``, the unbounded ``Dropout(p)(Linear(d -> k))`` before the tanh (the same signs).

    The linear layer is initialised as ``nn.Linear`` initialises itself (Kaiming-uniform weights with
    a = sqrt(5), uniform bias in +-1/sqrt(d)), drawing from ``generator``.
    """

    def __init__(self, dim: int, n_bits: int, dropout: float, generator: torch.Generator):
        super().__init__()
        self.linear = nn.utils.skip_init(nn.Linear, dim, n_bits)
        nn.init.kaiming_uniform_(self.linear.weight, a=math.sqrt(5), generator=generator)
        bound = 1 / math.sqrt(dim)
        nn.init.uniform_(self.linear.bias, -bound, bound, generator=generator)
        self.dropout = SeededDropout(dropout, generator)

    def forward(self, features: torch.Tensor, output: str = "codes") -> torch.Tensor:
        logits = self.dropout(self.linear(features))
        if output == "logits":
            return logits
        if output != "codes":
            raise ValueError(f"a hash head outputs 'codes' or 'logits', not {output!r}")
        return torch.tanh(logits)


class DualEncoder(nn.Module):
    """CLIP image and text towers plus a hash head per modality.

    ``image_features(pixel_values)`` / ``text_features(input_ids, attention_mask)`` give the projected CLIP
    embeddings ``(n, d)``; ``image_head`` / ``text_head`` map features to codes. In frozen mode only the
    heads are used, on cached features. ``generator`` (a CPU generator; default: one seeded with 0) draws
    the image head's initialisation, then the text head's, then every dropout mask.
    """

    def __init__(self, clip: nn.Module, n_bits: int, dropout: float = 0.2, generator: torch.Generator | None = None):
        super().__init__()
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.clip = clip
        dim = clip.config.projection_dim
        self.image_head = HashHead(dim, n_bits, dropout, generator)
        self.text_head = HashHead(dim, n_bits, dropout, generator)

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return image_embeddings(self.clip, pixel_values)

    def text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return text_embeddings(self.clip, input_ids, attention_mask)

    def heads(self) -> nn.ModuleList:
        return nn.ModuleList([self.image_head, self.text_head])
