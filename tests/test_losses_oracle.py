"""Every loss family against the loop transcription of its docs/losses.md formula, plus gradient checks."""
from __future__ import annotations

import itertools

import pytest
import torch

import losses
from tests import loss_oracles as oracle
from tests.batches import PATTERNS, random_codes, random_labels

# (loss name, parameters): defaults and non-default settings of every family.
CONFIGS = [
    ("pairwise", {}),
    ("pairwise", {"lambda_intra": 0.5, "gamma": 0.3}),
    ("triplet", {}),
    ("triplet", {"mining": "hard", "margin": 0.5}),
    ("center", {}),
    ("center", {"lambda_q": 0.2, "seed": 3}),
    ("proxy", {}),
    ("proxy", {"zeta": 0.1, "seed": 5}),
    ("dcgh", {}),
    ("dcgh", {"variance": "label-classes"}),
    ("dcgh", {"alpha": 0.3, "beta": 0.7, "gamma": 2.0, "zeta": 0.05}),
]
SHAPES = [(16, 21), (32, 24), (64, 80)]  # (bits, classes)
BATCH_SIZES = [1, 6, 17]
ORACLE_PARAMS = {"seed"}  # parameters that set the loss's anchors, not its formula


def oracle_terms(name: str, loss: losses.HashingLoss, u, v, y, params: dict) -> dict:
    kwargs = {k: v for k, v in params.items() if k not in ORACLE_PARAMS}
    u, v, y = u.tolist(), v.tolist(), y.tolist()
    if name == "pairwise":
        return oracle.pairwise(u, v, y, **kwargs)
    if name == "triplet":
        return oracle.triplet(u, v, y, **kwargs)
    if name == "center":
        return oracle.center(u, v, y, loss.centers.tolist(), loss.tie_breaker.tolist(), **kwargs)
    if name == "proxy":
        return oracle.proxy(u, v, y, loss.proxies.tolist(), **kwargs)
    if name == "dcgh":
        return oracle.dcgh(u, v, y, loss.proxies.tolist(), **kwargs)
    raise AssertionError(name)


CONFIG_IDS = [f"{n}-{'-'.join(map(str, p.values())) or 'default'}" for n, p in CONFIGS]


@pytest.mark.parametrize("name,params", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("bits,classes", SHAPES)
def test_matrix_form_equals_loop_transcription(name, params, bits, classes):
    loss = losses.build(name, n_classes=classes, n_bits=bits, **params).double()
    generator = torch.Generator().manual_seed(bits * 1000 + classes)
    for n, pattern in itertools.product(BATCH_SIZES, PATTERNS):
        u, v = random_codes(n, bits, generator), random_codes(n, bits, generator)
        y = random_labels(n, classes, pattern, generator)
        with torch.no_grad():
            out = loss(u, v, y)
        expected = oracle_terms(name, loss, u, v, y, params)
        assert set(out.terms) == set(expected), (n, pattern)
        for term, value in expected.items():
            assert float(out.terms[term]) == pytest.approx(value, abs=1e-6), (term, n, pattern)
        assert float(out.total) == pytest.approx(sum(expected.values()), abs=1e-6), (n, pattern)


@pytest.mark.parametrize("mining", ["all", "hard"])
@pytest.mark.parametrize("margin", [0.0, 0.25, 0.5])
def test_triplet_exact_ties_are_not_active_terms(margin, mining):
    """Binary codes make cosines multiples of 1/8, so many terms are exactly 0: they must not count."""
    generator = torch.Generator().manual_seed(int(margin * 100))
    loss = losses.build("triplet", n_classes=6, n_bits=16, margin=margin, mining=mining).double()
    u, v = random_codes(9, 16, generator).sign(), random_codes(9, 16, generator).sign()
    y = random_labels(9, 6, "mixed", generator)
    expected = oracle.triplet(u.tolist(), v.tolist(), y.tolist(), margin=margin, mining=mining)
    assert float(loss(u, v, y).total) == pytest.approx(sum(expected.values()), abs=1e-9)


def test_mixed_batches_exercise_every_dcgh_term():
    """Guard for the test above: its batches do reach the DCGH negative-pair and variance terms."""
    generator = torch.Generator().manual_seed(0)
    y = random_labels(6, 24, "mixed", generator)
    terms = oracle.dcgh(random_codes(6, 32, generator).tolist(), random_codes(6, 32, generator).tolist(),
                        y.tolist(), random_codes(24, 32, generator).tolist(), variance="label-classes")
    assert terms["neg_pair"] > 0 and terms["variance"] > 0


@pytest.mark.parametrize("name,params", [(name, {}) for name in losses.available()] + [("triplet", {"mining": "hard"})])
def test_gradcheck(name, params):
    loss = losses.build(name, n_classes=5, n_bits=8, **params).double()
    generator = torch.Generator().manual_seed(7)
    u = random_codes(4, 8, generator).requires_grad_()
    v = random_codes(4, 8, generator).requires_grad_()
    y = random_labels(4, 5, "mixed", generator)
    if hasattr(loss, "proxies"):
        proxies = loss.proxies.detach().clone().requires_grad_()

        def fn(u, v, p):
            return torch.func.functional_call(loss, {"proxies": p}, (u, v, y)).total

        assert torch.autograd.gradcheck(fn, (u, v, proxies))
    else:
        assert torch.autograd.gradcheck(lambda u, v: loss(u, v, y).total, (u, v))
