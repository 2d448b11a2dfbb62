"""Properties of the zoo's losses beyond the shared contract: their anchors (target vectors, codebooks,
proxies) and optimizers, their parameters, and invariances of their cross-modal forms."""
from __future__ import annotations

import math

import pytest
import torch

import losses
from losses.proxy import init_kaiming_proxies
from tests.batches import random_codes, random_labels

ZOO = ["hashnet", "dch", "dchmt", "dtsh", "dpn", "orthohash", "hyp2", "dsph", "proxy-anchor", "supcon", "supcon-soft",
       "ms", "qmi"]
WITH_PROXIES = {"hyp2": ("sgd", 0.02, 0.9, 5e-4), "dsph": ("sgd", 0.02, 0.9, 5e-4),
                "proxy-anchor": ("adamw", 1e-2, None, 1e-4)}


@pytest.mark.parametrize("name", ["dpn", "orthohash"])
def test_fixed_codes_are_seeded_and_plus_minus_one(name):
    a = losses.build(name, n_classes=80, n_bits=64, seed=1).centers
    b = losses.build(name, n_classes=80, n_bits=64, seed=1).centers
    c = losses.build(name, n_classes=80, n_bits=64, seed=2).centers
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (80, 64) and set(a.unique().tolist()) == {-1.0, 1.0}
    assert not a.requires_grad and "centers" in dict(losses.build(name, 80, 64).named_buffers())


def test_dpn_targets_are_the_label_vector_for_one_label_and_the_vote_otherwise():
    loss = losses.build("dpn", n_classes=4, n_bits=8)
    y = torch.tensor([[0.0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]])
    t = loss.targets(y)
    assert torch.equal(t[0], loss.centers[1])
    vote = (loss.centers[0] + loss.centers[1]).sign()
    assert torch.equal(t[1], torch.where(vote == 0, loss.tie_breaker, vote))
    assert torch.equal(t[2], loss.tie_breaker)


def test_orthohash_codebook_is_a_fair_coin():
    centers = losses.build("orthohash", n_classes=200, n_bits=64, seed=0).centers
    assert abs(float(centers.mean())) < 0.03  # 12,800 fair +-1 draws: std of the mean ~0.009


@pytest.mark.parametrize("name", sorted(WITH_PROXIES))
def test_proxies_are_kaiming_without_tanh_and_declare_their_optimizer(name):
    loss = losses.build(name, n_classes=80, n_bits=64, seed=4)
    g = torch.Generator().manual_seed(4)
    raw = torch.randn(80, 64, generator=g)
    torch.nn.init.kaiming_normal_(raw, mode="fan_out", generator=g)
    assert torch.equal(loss.proxies.detach(), raw) and loss.proxies.requires_grad
    # the same draw as `proxy`'s, before its tanh
    assert torch.allclose(torch.tanh(loss.proxies.detach()), losses.build("proxy", 80, 64, seed=4).proxies.detach())
    opt_name, lr, momentum, weight_decay = WITH_PROXIES[name]
    opt = loss.make_optimizer()
    assert type(opt).__name__.lower() == opt_name and opt.param_groups[0]["params"][0] is loss.proxies
    group = opt.param_groups[0]
    assert (group["lr"], group["weight_decay"]) == (lr, weight_decay)
    if momentum is not None:
        assert group["momentum"] == momentum
    assert losses.build(name, 80, 64, proxy_lr=0.5).make_optimizer().param_groups[0]["lr"] == 0.5


def test_init_kaiming_proxies_matches_its_documented_draw():
    g = torch.Generator().manual_seed(9)
    raw = torch.randn(5, 7, generator=g)
    torch.nn.init.kaiming_normal_(raw, mode="fan_out", generator=g)
    assert torch.equal(init_kaiming_proxies(5, 7, 9), raw)


@pytest.mark.parametrize("name", ["hashnet", "dch", "dchmt", "dtsh", "dpn", "orthohash"])
def test_losses_without_learnable_parameters_need_no_optimizer(name):
    loss = losses.build(name, n_classes=24, n_bits=16)
    assert loss.make_optimizer() is None and not list(loss.parameters())


@pytest.mark.parametrize(
    "name,params,message",
    [
        ("dch", {"gamma": 0}, "gamma must be a number > 0"),
        ("dch", {"lambda_q": -1}, "lambda_q must be a number >= 0"),
        ("dpn", {"p": 1.5}, r"p must be a number in \[0, 1\]"),
        ("dchmt", {"vartheta": -0.1}, "vartheta must be a number >= 0"),
        ("hashnet", {"scale": "ten"}, "scale must be a number"),
        ("dtsh", {"alpha": float("nan")}, "alpha must be a number"),
        ("orthohash", {"seed": 0.5}, "seed must be an integer"),
        ("hyp2", {"threshold": 0.1}, r"unknown parameter 'threshold'.*valid parameters: beta, zeta, seed"),
        ("dsph", {"hypseed": 1}, "unknown parameter 'hypseed'"),
        ("proxy-anchor", {"margin": 0.1}, "unknown parameter 'margin'.*valid parameters: alpha, mrg, seed"),
    ],
)
def test_bad_parameters_raise_naming_the_choices(name, params, message):
    with pytest.raises(losses.LossConfigError, match=message):
        losses.build(name, 24, 16, **params)


def test_dchmt_margin_is_the_sources_sqrt_2k_vartheta():
    assert losses.build("dchmt", 24, 64).margin == pytest.approx(8.0)
    assert losses.build("dchmt", 24, 32, vartheta=0.25).margin == pytest.approx(math.sqrt(16))


#: Losses whose released form treats the modalities differently, and how.
ASYMMETRIC = {"ms": "DMsH-LN's cross-modal term takes the images as anchors only"}


@pytest.mark.parametrize("name", [name for name in losses.available() if name not in ASYMMETRIC])
def test_swapping_the_modalities_leaves_the_loss_unchanged(name):
    """Every loss but those of ASYMMETRIC treats image and text alike: L(u, v) = L(v, u)."""
    g = torch.Generator().manual_seed(13)
    u, v, y = random_codes(12, 32, g), random_codes(12, 32, g), random_labels(12, 24, "mixed", g)
    loss = losses.build(name, n_classes=24, n_bits=32).double()
    with torch.no_grad():
        assert float(loss(u, v, y).total) == pytest.approx(float(loss(v, u, y).total), abs=1e-12)


@pytest.mark.parametrize("name", ZOO)
def test_perfect_codes_score_lower_than_random_codes(name):
    """Codes equal to their labels' voted +-1 targets (perfectly separated classes) have a lower loss than random
    codes: the losses point the right way before any training."""
    g = torch.Generator().manual_seed(5)
    y = random_labels(32, 8, "single", g)
    perfect = 0.95 * (y @ losses.build("center", 8, 32).centers.double())  # Hadamard rows, one per class
    noise = random_codes(32, 32, g)
    loss = losses.build(name, n_classes=8, n_bits=32).double()
    if hasattr(loss, "centers"):  # the loss's own targets
        perfect = 0.95 * loss.targets(y) if hasattr(loss, "targets") else 0.95 * (y @ loss.centers.double())
    if hasattr(loss, "proxies"):  # proxies at the perfect codes' class means
        loss.proxies.data = (y.T @ perfect) / y.sum(0).clamp_min(1).unsqueeze(1)
    with torch.no_grad():
        assert float(loss(perfect, perfect, y).total) < float(loss(noise, noise.flip(0), y).total)


def test_proxy_anchor_is_finite_at_a_large_scale_in_float32():
    g = torch.Generator().manual_seed(2)
    u = random_codes(64, 64, g, torch.float32).requires_grad_()
    y = random_labels(64, 80, "mixed", g, torch.float32)
    loss = losses.build("proxy-anchor", n_classes=80, n_bits=64, alpha=400.0)
    out = loss(u, u, y)
    out.total.backward()
    assert torch.isfinite(out.total) and torch.isfinite(u.grad).all() and torch.isfinite(loss.proxies.grad).all()


def test_dtsh_without_any_valid_anchor_is_zero_and_differentiable():
    g = torch.Generator().manual_seed(3)
    u = random_codes(6, 16, g).requires_grad_()
    y = torch.zeros(6, 21, dtype=torch.float64)
    y[:, 0] = 1  # every pair similar: no anchor has a negative
    out = losses.build("dtsh", 21, 16, lambda_q=0.0).double()(u, u, y)
    assert float(out.total.detach()) == 0.0
    out.total.backward()
    assert torch.equal(u.grad, torch.zeros_like(u))
