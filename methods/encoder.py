"""The shared model: a CLIP dual encoder whose projected embeddings feed one hash head per modality."""
from __future__ import annotations

import torch
from torch import nn


def _embedding(output) -> torch.Tensor:
    """transformers 5 returns an output object from ``get_*_features`` (projection in ``pooler_output``),
    earlier versions the tensor itself."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class HashHead(nn.Module):
    """``tanh(Dropout(p)(Linear(d -> k)))``: ``(n, d)`` features to ``(n, k)`` continuous codes in (-1, 1)."""

    def __init__(self, dim: int, n_bits: int, dropout: float = 0.2):
        super().__init__()
        self.linear = nn.Linear(dim, n_bits)
        self.dropout = nn.Dropout(dropout)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dropout(self.linear(features)))


class DualEncoder(nn.Module):
    """CLIP image and text towers plus a hash head per modality.

    ``image_features(pixel_values)`` / ``text_features(input_ids, attention_mask)`` give the projected CLIP
    embeddings ``(n, d)``; ``image_head`` / ``text_head`` map features to codes. In frozen mode only the
    heads are used, on cached features.
    """

    def __init__(self, clip: nn.Module, n_bits: int, dropout: float = 0.2):
        super().__init__()
        self.clip = clip
        dim = clip.config.projection_dim
        self.image_head = HashHead(dim, n_bits, dropout)
        self.text_head = HashHead(dim, n_bits, dropout)

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return _embedding(self.clip.get_image_features(pixel_values=pixel_values))

    def text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return _embedding(self.clip.get_text_features(input_ids=input_ids, attention_mask=attention_mask))

    def heads(self) -> nn.ModuleList:
        return nn.ModuleList([self.image_head, self.text_head])
