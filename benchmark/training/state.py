"""Snapshots of the trainable state (the weights of the epoch a protocol selects) and their fingerprints."""
from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import nn


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of ``module``'s state that later training does not change."""
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


def state_sha256(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(state):
        value = state[name].detach().cpu().contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)}".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def codes_sha256(codes: np.ndarray) -> str:
    """SHA-256 of +-1 codes as int8 bytes (row-major)."""
    return hashlib.sha256(np.ascontiguousarray(codes, np.int8).tobytes()).hexdigest()


def indices_sha256(indices: np.ndarray) -> str:
    """SHA-256 of dataset indices, sorted, as little-endian int64: a fingerprint of a set of items."""
    return hashlib.sha256(np.sort(np.asarray(indices)).astype("<i8").tobytes()).hexdigest()
