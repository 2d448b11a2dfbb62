"""The device a run uses and its numeric precision: float32 on the CPU, bf16 (or fp16) autocast on a GPU."""
from __future__ import annotations

import contextlib

import torch

from .errors import ConfigError


def resolve_device(name: str | None) -> torch.device:
    """``name`` (cpu, cuda, cuda:N, mps) as a device that exists here; None: cuda when available, else cpu."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {name!r} (use cpu, cuda or cuda:N)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} was asked for but CUDA is not available here; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {name!r} was asked for but MPS is not available here; use --device cpu")
    return device


class Precision:
    """Mixed precision on a GPU (bf16 where supported, else fp16); plain float32 elsewhere. The losses always
    see float32 codes (callers cast the heads' outputs)."""

    def __init__(self, device: torch.device):
        self.dtype = None
        if device.type == "cuda":
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    def autocast(self):
        return torch.autocast("cuda", dtype=self.dtype) if self.dtype else contextlib.nullcontext()
