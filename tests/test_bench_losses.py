"""Speed of every loss: forward + backward at batch 128, 64 bits, 80 classes (``pytest -m benchmark``)."""
from __future__ import annotations

import pytest
import torch

import losses
from tests.batches import random_codes, random_labels

pytestmark = pytest.mark.benchmark


@pytest.mark.parametrize("name", losses.available())
def test_forward_backward_speed(benchmark, name):
    g = torch.Generator().manual_seed(0)
    loss = losses.build(name, n_classes=80, n_bits=64)
    img = random_codes(128, 64, g, torch.float32).requires_grad_()
    txt = random_codes(128, 64, g, torch.float32).requires_grad_()
    labels = random_labels(128, 80, "mixed", g, torch.float32)

    def step():
        img.grad = txt.grad = None
        loss.zero_grad(set_to_none=True)
        loss(img, txt, labels).total.backward()

    benchmark(step)
    assert img.grad is not None and torch.isfinite(img.grad).all()
