"""Contract properties of every registered loss: terms, edge batches, equivalences, anchors."""
from __future__ import annotations

import math

import pytest
import torch

import losses
from losses.center import min_hamming_distance
from losses import triplet as triplet_module
from losses.functional import sorted_rows
from tests.batches import random_codes, random_labels

ALL = losses.available()


def finite_loss_and_grads(loss, u, v, y):
    u = u.clone().requires_grad_()
    v = v.clone().requires_grad_()
    out = loss(u, v, y)
    out.total.backward()
    grads = [u.grad, v.grad] + [p.grad for p in loss.parameters()]
    return all(torch.isfinite(t).all() for t in [out.total, *out.terms.values(), *grads])


@pytest.mark.parametrize("name", ALL)
def test_terms_sum_to_total(name):
    loss = losses.build(name, n_classes=24, n_bits=32)
    generator = torch.Generator().manual_seed(3)
    out = loss(random_codes(20, 32, generator, torch.float32), random_codes(20, 32, generator, torch.float32),
               random_labels(20, 24, "mixed", generator, torch.float32))
    assert out.total.dim() == 0 and out.terms
    assert torch.allclose(sum(out.terms.values()), out.total, atol=1e-6)


def _edge_batches():
    g = torch.Generator().manual_seed(11)
    k, c = 16, 21
    code = random_codes(1, k, g, torch.float32)
    ones = torch.ones(8, c)
    shared = torch.zeros(8, c)
    shared[:, [2, 5]] = 1
    one_each = random_labels(8, c, "single", g, torch.float32)
    unlabeled = random_labels(8, c, "mixed", g, torch.float32)
    unlabeled[3] = 0
    signs = torch.where(torch.rand(8, k, generator=g) < 0.5, -1.0, 1.0)
    return {
        "batch of one": (code, -code, one_each[:1]),
        "all share labels": (random_codes(8, k, g, torch.float32), random_codes(8, k, g, torch.float32), shared),
        "every class on": (random_codes(8, k, g, torch.float32), random_codes(8, k, g, torch.float32), ones),
        "identical codes": (code.repeat(8, 1), code.repeat(8, 1), unlabeled),
        "codes exactly +-1": (signs, signs.flip(0), one_each),
        "codes exactly 0": (torch.zeros(8, k), torch.zeros(8, k), unlabeled),
    }


@pytest.mark.parametrize("case", list(_edge_batches()))
@pytest.mark.parametrize("name", ALL)
def test_edge_batches_stay_finite(name, case):
    u, v, y = _edge_batches()[case]
    assert finite_loss_and_grads(losses.build(name, n_classes=21, n_bits=16), u, v, y)


def test_dcgh_proxyonly_equals_proxy():
    g = torch.Generator().manual_seed(5)
    u, v, y = random_codes(12, 64, g), random_codes(12, 64, g), random_labels(12, 80, "mixed", g)
    proxy = losses.build("proxy", n_classes=80, n_bits=64, seed=9).double()
    proxyonly = losses.build("dcgh-proxyonly", n_classes=80, n_bits=64, seed=9).double()
    assert torch.equal(proxy.proxies, proxyonly.proxies)
    a, b = proxy(u, v, y), proxyonly(u, v, y)
    assert torch.allclose(a.total, b.total, rtol=0, atol=1e-12)
    a.total.backward()
    b.total.backward()
    assert torch.allclose(proxy.proxies.grad, proxyonly.proxies.grad, rtol=0, atol=1e-12)


@torch.no_grad()
def test_dcgh_gamma_zero_equals_novar():
    g = torch.Generator().manual_seed(6)
    u, v, y = random_codes(12, 32, g), random_codes(12, 32, g), random_labels(12, 24, "mixed", g)
    novar = losses.build("dcgh-novar", n_classes=24, n_bits=32).double()(u, v, y)
    gamma0 = losses.build("dcgh", n_classes=24, n_bits=32, gamma=0).double()(u, v, y)
    full = losses.build("dcgh", n_classes=24, n_bits=32).double()(u, v, y)
    assert torch.allclose(novar.total, gamma0.total, rtol=0, atol=1e-12)
    assert float(novar.terms["variance"]) == 0.0
    assert float(full.total - novar.total) == pytest.approx(float(full.terms["variance"]))


@torch.no_grad()
def test_variance_definitions_differ_and_single_labels_do_not_count_in_label_classes():
    g = torch.Generator().manual_seed(8)
    u, v = random_codes(10, 32, g), random_codes(10, 32, g)
    single = random_labels(10, 24, "single", g)
    labelvar = losses.build("dcgh-labelvar", n_classes=24, n_bits=32).double()
    allvar = losses.build("dcgh", n_classes=24, n_bits=32).double()
    assert float(labelvar(u, v, single).terms["variance"]) == 0.0
    assert float(allvar(u, v, single).terms["variance"]) > 0.0


def _sylvester_by_definition(k):
    """H_k[i][j] = (-1)^popcount(i & j), the closed form of the Sylvester construction."""
    return torch.tensor([[(-1.0) ** bin(i & j).count("1") for j in range(k)] for i in range(k)])


@pytest.mark.parametrize("bits,classes", [(32, 21), (64, 21), (32, 24), (64, 63), (8, 7)])
def test_centers_are_hadamard_rows_in_order(bits, classes):
    """Rows 1..c of H_k when c <= k - 1, as the CSQ authors' released center files (e.g. NUS-WIDE's 21 classes at
    32 and 64 bits) hold them."""
    centers = losses.build("center", n_classes=classes, n_bits=bits).centers
    expected = _sylvester_by_definition(bits)[1:classes + 1]
    assert torch.equal(centers, expected)
    assert min_hamming_distance(centers) == bits // 2


@pytest.mark.parametrize("bits,classes", [(32, 80), (16, 80), (16, 21), (64, 80), (12, 5)])
def test_random_centers_are_balanced_seeded_and_the_best_candidate(bits, classes):
    a = losses.build("center", n_classes=classes, n_bits=bits, seed=1).centers
    b = losses.build("center", n_classes=classes, n_bits=bits, seed=1).centers
    c = losses.build("center", n_classes=classes, n_bits=bits, seed=2).centers
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (classes, bits) and set(a.unique().tolist()) == {-1.0, 1.0}
    assert (a.sum(dim=1) == -(bits % 2)).all()  # k // 2 entries +1, the rest -1
    # Replays the documented draw: the kept set has the largest minimum distance of the 20 candidates.
    g = torch.Generator().manual_seed(1)
    balanced = torch.cat([torch.ones(bits // 2), -torch.ones(bits - bits // 2)])
    distances = [min_hamming_distance(balanced[torch.argsort(torch.rand(classes, bits, generator=g), dim=1)])
                 for _ in range(20)]
    assert min_hamming_distance(a) == max(distances)


def test_center_targets_vote_and_break_ties_with_the_fixed_vector():
    loss = losses.build("center", n_classes=4, n_bits=8)
    y = torch.tensor([[1.0, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]])
    t = loss.targets(y)
    assert torch.equal(t[0], loss.centers[0])
    vote = (loss.centers[0] + loss.centers[1]).sign()
    assert torch.equal(t[1], torch.where(vote == 0, loss.tie_breaker, vote))
    assert torch.equal(t[2], loss.tie_breaker)
    assert set(loss.tie_breaker.tolist()) <= {-1.0, 1.0}


def test_proxies_follow_the_documented_initialisation():
    loss = losses.build("proxy", n_classes=80, n_bits=64, seed=4)
    g = torch.Generator().manual_seed(4)
    raw = torch.randn(80, 64, generator=g)
    torch.nn.init.kaiming_normal_(raw, mode="fan_out", generator=g)
    assert torch.equal(loss.proxies.detach(), torch.tanh(raw))
    assert loss.proxies.requires_grad and loss.proxies.shape == (80, 64)
    # kaiming fan_out for a (c, k) weight has std sqrt(2 / c) before the tanh
    assert float(raw.std()) == pytest.approx(math.sqrt(2 / 80), rel=0.05)
    assert not torch.equal(loss.proxies, losses.build("proxy", n_classes=80, n_bits=64, seed=5).proxies)


@pytest.mark.parametrize("name", ["proxy", "dcgh", "dcgh-novar"])
def test_proxies_declare_their_sgd_optimizer(name):
    loss = losses.build(name, n_classes=24, n_bits=16)
    opt = loss.make_optimizer()
    assert isinstance(opt, torch.optim.SGD)
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.02, 0.9, 5e-4)
    assert group["params"][0] is loss.proxies
    assert losses.build(name, 24, 16, proxy_lr=0.1).make_optimizer().param_groups[0]["lr"] == 0.1


@pytest.mark.parametrize("name", ["pairwise", "triplet", "center"])
def test_losses_without_parameters_need_no_optimizer(name):
    assert losses.build(name, n_classes=24, n_bits=16).make_optimizer() is None


@pytest.mark.parametrize("name", ["pairwise", "dcgh"])
def test_mismatched_batch_shapes_raise(name):
    loss = losses.build(name, n_classes=24, n_bits=16)
    with pytest.raises(ValueError, match=r"labels of shape \(n, 24\)"):
        loss(torch.zeros(4, 16), torch.zeros(4, 16), torch.zeros(4, 21))
    with pytest.raises(ValueError, match=r"\(n, 16\)"):
        loss(torch.zeros(4, 32), torch.zeros(4, 32), torch.zeros(4, 24))
    with pytest.raises(ValueError, match="txt"):
        loss(torch.zeros(4, 16), torch.zeros(3, 16), torch.zeros(4, 24))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_sorted_rows_equals_torch_sort_where_equal_values_get_equal_gradients(dtype):
    """The CPU shortcut (numpy's sort order, then a gather) gives torch.sort's values bit for bit, and its gradients
    wherever the gradient of a sorted slot depends on its value only, ties included (cosines of +-1 codes tie
    often); other dtypes take torch.sort itself."""
    g = torch.Generator().manual_seed(3)
    codes = torch.randint(0, 2, (60, 8), generator=g).float() * 2 - 1
    for x in (codes @ codes.T / 8, torch.randn(40, 33, generator=g)):
        results = []
        for sort in (sorted_rows, lambda t: t.sort(dim=1).values):
            leaf = x.to(dtype).clone().requires_grad_()
            values = sort(leaf)
            ((values * values.detach().cos()).sum() + values.sum() ** 2).backward()
            results.append((values.detach(), leaf.grad))
        assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])


def test_triplet_with_the_sort_shortcut_equals_torch_sort_bit_for_bit(monkeypatch):
    """The triplet's suffix sums are a case where equal values get equal gradients (its thresholds compare values):
    loss and gradients with ``sorted_rows`` equal those with torch.sort exactly, on tie-heavy +-1 codes."""
    g = torch.Generator().manual_seed(4)
    loss = losses.build("triplet", n_classes=10, n_bits=16)
    for codes in (random_codes(70, 16, g, torch.float32), random_codes(70, 16, g, torch.float32).sign()):
        img, txt = codes, codes.roll(3, dims=0).flip(1)
        labels = random_labels(70, 10, "mixed", g, torch.float32)
        outcomes = []
        for sort in (sorted_rows, lambda t: t.sort(dim=1).values):
            monkeypatch.setattr(triplet_module, "sorted_rows", sort)
            a, b = img.clone().requires_grad_(), txt.clone().requires_grad_()
            total = loss(a, b, labels).total
            total.backward()
            outcomes.append((total.detach(), a.grad, b.grad))
        assert all(torch.equal(x, y) for x, y in zip(*outcomes))
