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
    ("center", {"lambda_pair": 0.7, "lambda_q": 0.2, "seed": 3}),
    ("dcmh", {}),
    ("dcmh", {"gamma": 0.3, "eta": 2.0}),
    ("proxy", {}),
    ("proxy", {"zeta": 0.1, "seed": 5}),
    ("dcgh", {}),
    ("dcgh", {"variance": "label-classes"}),
    ("dcgh", {"alpha": 0.3, "beta": 0.7, "gamma": 2.0, "zeta": 0.05}),
    ("hashnet", {}),
    ("hashnet", {"scale": 40.0}),
    ("dch", {}),
    ("dch", {"gamma": 3.0, "lambda_q": 0.5}),
    ("dchmt", {}),
    ("dchmt", {"vartheta": 0.2, "gamma": 0.3}),
    ("dtsh", {}),
    ("dtsh", {"alpha": 1.0, "lambda_q": 0.2}),
    ("dtsh", {"alpha": 100.0}),  # most triplet logits below the source's clamp at -100 (its clamp at 50 moves
    # values by < 1e-21, which no tolerance sees)
    ("dpn", {}),
    ("dpn", {"m": 0.5, "p": 0.25, "seed": 3}),
    ("orthohash", {}),
    ("orthohash", {"s": 4.0, "m": 0.5, "ce": 0.7, "quan": 0.3, "seed": 2}),
    ("hyp2", {}),
    ("hyp2", {"beta": 1.5, "zeta": 0.1, "seed": 4}),
    ("dsph", {}),
    ("dsph", {"alpha": 0.3, "zeta": 0.15, "seed": 4}),
    ("proxy-anchor", {}),
    ("proxy-anchor", {"alpha": 8.0, "mrg": 0.3, "seed": 2}),
    ("infonce", {}),
    ("infonce", {"temperature": 0.5}),
    ("supcon", {}),
    ("supcon", {"temperature": 0.3, "base_temperature": 0.1, "positives": "cosine"}),
    ("ms", {}),
    ("ms", {"thresh": 0.2, "margin": 0.3, "scale_pos": 4.0, "scale_neg": 10.0, "similarity": "cosine"}),
    ("qmi", {}),
    ("qmi", {"kernel": "gaussian", "sigma": 1.5, "square_clamp": False}),
]
SHAPES = [(16, 21), (32, 24), (64, 80)]  # (bits, classes)
BATCH_SIZES = [1, 6, 17]
ORACLE_PARAMS = {"seed"}  # parameters that set the loss's anchors, not its formula


def oracle_terms(name: str, loss: losses.HashingLoss, u, v, y, params: dict) -> dict:
    kwargs = {k: v for k, v in params.items() if k not in ORACLE_PARAMS}
    u, v, y = u.tolist(), v.tolist(), y.tolist()
    if name in ("proxy", "hyp2", "dsph"):  # a default threshold comes from HyP²'s table: the loss's own value
        kwargs.setdefault("zeta", loss.zeta)
    if name == "pairwise":
        return oracle.pairwise(u, v, y, **kwargs)
    if name == "dcmh":
        return oracle.dcmh(u, v, y, **kwargs)
    if name == "triplet":
        return oracle.triplet(u, v, y, **kwargs)
    if name == "center":
        return oracle.center(u, v, y, loss.centers.tolist(), loss.tie_breaker.tolist(), **kwargs)
    if name == "proxy":
        return oracle.proxy(u, v, y, loss.proxies.tolist(), **kwargs)
    if name == "dcgh":
        return oracle.dcgh(u, v, y, loss.proxies.tolist(), **kwargs)
    if name in ("hashnet", "dch", "dchmt", "dtsh", "infonce", "supcon", "ms", "qmi"):
        return getattr(oracle, name)(u, v, y, **kwargs)
    if name == "dpn":
        return oracle.dpn(u, v, y, loss.centers.tolist(), loss.tie_breaker.tolist(), **kwargs)
    if name == "orthohash":
        return oracle.orthohash(u, v, y, loss.centers.tolist(), **kwargs)
    if name in ("hyp2", "dsph", "proxy-anchor"):
        return getattr(oracle, name.replace("-", "_"))(u, v, y, loss.proxies.tolist(), **kwargs)
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


def _edge_batches(k: int = 16, c: int = 21) -> dict:
    """Batches at the edges of every formula: one pair, one shared label set, every class on, identical codes
    (with an unlabeled pair), codes exactly +-1, codes exactly 0, tiny codes (norms ~1e-3, where DCH's floor on
    the norm product acts) and one label each."""
    g = torch.Generator().manual_seed(21)
    code = random_codes(1, k, g)
    shared = torch.zeros(7, c, dtype=torch.float64)
    shared[:, [2, 5]] = 1
    unlabeled = random_labels(7, c, "mixed", g)
    unlabeled[3] = 0
    signs = torch.where(torch.rand(7, k, generator=g) < 0.5, -1.0, 1.0).double()
    single = random_labels(7, c, "single", g)
    return {
        "one pair": (code, -code, single[:1]),
        "all share labels": (random_codes(7, k, g), random_codes(7, k, g), shared),
        "every class on": (random_codes(7, k, g), random_codes(7, k, g), torch.ones(7, c, dtype=torch.float64)),
        "identical codes": (code.repeat(7, 1), code.repeat(7, 1), unlabeled),
        "codes exactly +-1": (signs, signs.flip(0), unlabeled),
        "codes exactly 0": (torch.zeros(7, k, dtype=torch.float64), torch.zeros(7, k, dtype=torch.float64), unlabeled),
        "tiny codes": (1e-3 * random_codes(7, k, g), 1e-3 * random_codes(7, k, g), unlabeled),
        "one label each": (random_codes(7, k, g), random_codes(7, k, g), single),
    }


@pytest.mark.parametrize("case", list(_edge_batches()))
@pytest.mark.parametrize("name,params", [(n, p) for n, p in CONFIGS if not p], ids=[n for n, p in CONFIGS if not p])
def test_matrix_form_equals_loop_transcription_on_edge_batches(name, params, case):
    u, v, y = _edge_batches()[case]
    loss = losses.build(name, n_classes=21, n_bits=16).double()
    with torch.no_grad():
        out = loss(u, v, y)
    expected = oracle_terms(name, loss, u, v, y, params)
    assert set(out.terms) == set(expected)
    for term, value in expected.items():
        assert float(out.terms[term]) == pytest.approx(value, abs=1e-6), term


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
