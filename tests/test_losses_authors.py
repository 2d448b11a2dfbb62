"""Each zoo loss against a transcription of its authors' function (tests/authors_reference.py), fed identical
inputs in the configuration where the two must agree, in float64 to 1e-6.

For a single-modal source that configuration is ``img = txt``: the zoo applies a single-modal loss to
image-text pairs and averages per-code terms over the two modalities (docs/losses.md), which reduces to the
source's loss when both modalities hold the same codes. State the sources draw at random (proxies, target
vectors, codebooks) is taken from the project's loss and handed to the transcription.
"""
from __future__ import annotations

import itertools

import pytest
import torch

import losses
from tests import authors_reference as ref
from tests.batches import random_codes, random_labels

#: (batch size, bits, classes) of the compared batches.
SHAPES = [(6, 16, 21), (17, 32, 24), (40, 64, 80)]
PATTERNS = ("mixed", "single", "shared")
TOLERANCE = 1e-6


def batches(patterns=PATTERNS, seed=0):
    """``(u, v, y, bits, classes)`` over the shapes and label patterns, float64."""
    for (n, bits, classes), pattern in itertools.product(SHAPES, patterns):
        g = torch.Generator().manual_seed(seed + 7 * n + bits)
        yield random_codes(n, bits, g), random_codes(n, bits, g), random_labels(n, classes, pattern, g), bits, classes


def both_sets_present(y) -> bool:
    s = y @ y.T > 0
    return bool(s.any()) and bool((~s).any())


def total(name, bits, classes, u, v, y, **params) -> float:
    loss = losses.build(name, n_classes=classes, n_bits=bits, **params).double()
    with torch.no_grad():
        return float(loss(u, v, y).total)


# ------------------------------------------------------------------------------------------------ HashNet


@pytest.mark.parametrize("scale", [10.0, 3.0])
def test_hashnet_equals_deephash_pytorch_pairwise_loss(scale):
    """swuxyj/DeepHash-pytorch ``pairwise_loss(outputs1, outputs2, label1, label2, config)`` with
    ``config["alpha"] = scale / bit`` (the script sets 10 / bit), fed the image codes as ``outputs1`` and the text
    codes as ``outputs2`` (the source pairs the batch with its memory of codes; here with the other modality):
    the class-balance weights come from the same batch, so the two agree on any batch."""
    for u, v, y, bits, classes in batches():
        expected = float(ref.deephash_hashnet_pairwise_loss(u, v, y, y, {"alpha": scale / bits}))
        assert total("hashnet", bits, classes, u, v, y, scale=scale) == pytest.approx(expected, abs=TOLERANCE)


def test_hashnet_with_unit_scale_equals_thuml_pairwise_loss_updated():
    """thuml/HashNet ``pairwise_loss_updated(outputs1, outputs2, label1, label2)`` has no sigmoid scale: it is
    ``hashnet`` with ``scale = k`` (alpha = 1)."""
    for u, v, y, bits, classes in batches():
        expected = float(ref.thuml_pairwise_loss_updated(u, v, y, y))
        assert total("hashnet", bits, classes, u, v, y, scale=float(bits)) == pytest.approx(expected, abs=TOLERANCE)


def test_hashnet_is_twice_thuml_pairwise_loss_with_balancing_class_num():
    """thuml/HashNet ``pairwise_loss`` (sigmoid_param = 10 / bit, l_threshold = 15) weights similar pairs by a
    fixed ``class_num``; with ``class_num = |S_0| / |S_1|`` of the batch it is
    ``(mean_similar + mean_dissimilar) / 2``, half of ``hashnet`` (whose |theta| <= 10 never reaches the threshold)."""
    checked = 0
    for u, v, y, bits, classes in batches():
        if not both_sets_present(y):
            continue
        s = y @ y.T > 0
        class_num = float((~s).sum() / s.sum())
        expected = float(ref.thuml_pairwise_loss(u, v, y, y, sigmoid_param=10.0 / bits, l_threshold=15.0,
                                                 class_num=class_num))
        assert total("hashnet", bits, classes, u, v, y) == pytest.approx(2 * expected, abs=TOLERANCE)
        checked += 1
    assert checked >= 5


# ------------------------------------------------------------------------------------------------ DCH


@pytest.mark.parametrize("gamma,lambda_q", [(20.0, 0.1), (4.0, 0.6)])
def test_dch_equals_deephash_pytorch_dch_loss_when_image_codes_are_text_codes(gamma, lambda_q):
    """swuxyj/DeepHash-pytorch ``DCHLoss(config, bit).forward(u, y, ind, config)`` with ``batch_size = n``
    (its all-ones matrix), fed ``u``; the zoo's ``dch`` fed ``img = txt = u``. Its weights come from the batch,
    including the batches where one pair set is empty (``shared``: all pairs similar)."""
    for u, _, y, bits, classes in batches():
        authors = ref.DeepHashDCHLoss({"gamma": gamma, "lambda": lambda_q, "batch_size": len(u)}, bits)
        expected = float(authors.forward(u, y, None, None))
        assert total("dch", bits, classes, u, u, y, gamma=gamma, lambda_q=lambda_q) == pytest.approx(
            expected, abs=TOLERANCE)


# ------------------------------------------------------------------------------------------------ DCHMT


@pytest.mark.parametrize("vartheta", [0.5, 0.2])
def test_dchmt_equals_kalenforn_dchmt_compute_loss_with_the_tanh_hash_layer(vartheta):
    """kalenforn/DCHMT ``Trainer.compute_loss(image, text, label)`` with the defaults of its get_args
    (euclidean similarity, l2 loss, ``sim_threshold`` 0.1, which only the cosine branch reads) and
    ``hash_layer = "linear"``, its tanh layer, which adds ``(hash_loss(image) + hash_loss(text)) / 2``; the source
    is cross-modal, so image and text codes go in as they are."""
    for u, v, y, bits, classes in batches():
        trainer = ref.DCHMTTrainer(ref.dchmt_args(output_dim=bits, vartheta=vartheta))
        expected = float(trainer.compute_loss(u, v, y))
        assert total("dchmt", bits, classes, u, v, y, vartheta=vartheta) == pytest.approx(expected, abs=TOLERANCE)


def test_dchmt_without_quantization_equals_the_select_layer_configuration():
    """With its default ``hash_layer = "select"`` the source adds no quantization: ``dchmt`` with ``gamma = 0``."""
    for u, v, y, bits, classes in batches(patterns=("mixed",)):
        trainer = ref.DCHMTTrainer(ref.dchmt_args(output_dim=bits, hash_layer="select"))
        expected = float(trainer.compute_loss(u, v, y))
        assert total("dchmt", bits, classes, u, v, y, gamma=0.0) == pytest.approx(expected, abs=TOLERANCE)


# ------------------------------------------------------------------------------------------------ DTSH


@pytest.mark.parametrize("alpha,lambda_q", [(5.0, 1.0), (1.0, 0.3), (100.0, 1.0)])
def test_dtsh_equals_deephash_pytorch_dtsh_loss_when_image_codes_are_text_codes(alpha, lambda_q):
    """swuxyj/DeepHash-pytorch ``DTSHLoss.forward(u, y, ind, config)`` with ``config = {"alpha", "lambda"}`` fed
    ``u``; ``dtsh`` fed ``img = txt = u`` (its two directions then coincide). ``alpha = 100`` puts most triplet
    logits below the source's clamp at -100."""
    for u, _, y, bits, classes in batches():
        expected = float(ref.deephash_dtsh_loss(u, y, None, {"alpha": alpha, "lambda": lambda_q}))
        assert total("dtsh", bits, classes, u, u, y, alpha=alpha, lambda_q=lambda_q) == pytest.approx(
            expected, abs=TOLERANCE)


# ------------------------------------------------------------------------------------------------ DPN


@pytest.mark.parametrize("m,p", [(1.0, 0.5), (0.4, 0.25)])
def test_dpn_equals_deephash_pytorch_dpn_loss_when_image_codes_are_text_codes(m, p):
    """swuxyj/DeepHash-pytorch ``DPNLoss.forward`` (multi-label branch of ``label2center``) with the zoo loss's
    target vectors and, as its 0/1 ``multi_label_random_center``, ``(tie_breaker + 1) / 2``; ``dpn`` fed
    ``img = txt = u``. Batches include samples whose vote is 0 on some bits (``shared``: even label counts)."""
    for u, _, y, bits, classes in batches():
        loss = losses.build("dpn", n_classes=classes, n_bits=bits, m=m, p=p).double()
        authors = ref.DeepHashDPNLoss(loss.centers.clone(), (loss.tie_breaker + 1) / 2, m=m)
        with torch.no_grad():
            assert float(loss(u, u, y).total) == pytest.approx(float(authors.forward(u, y.clone())), abs=TOLERANCE)


def test_dpn_single_label_branch_agrees_too():
    """On one-label batches the source's single-label branch (``target_vectors[y.argmax()]``) gives the same loss."""
    for u, _, y, bits, classes in batches(patterns=("single",)):
        loss = losses.build("dpn", n_classes=classes, n_bits=bits).double()
        authors = ref.DeepHashDPNLoss(loss.centers.clone(), (loss.tie_breaker + 1) / 2, is_single_label=True)
        with torch.no_grad():
            assert float(loss(u, u, y).total) == pytest.approx(float(authors.forward(u, y.clone())), abs=TOLERANCE)


def test_dpn_target_vectors_have_the_sources_share_of_minus_ones():
    for p in (0.5, 0.25, 0.7):
        centers = losses.build("dpn", n_classes=80, n_bits=64, p=p).centers
        assert ((centers == -1).sum(dim=1) == int(64 * p)).all()
        assert set(centers.unique().tolist()) <= {-1.0, 1.0}


# ------------------------------------------------------------------------------------------------ OrthoHash


@pytest.mark.parametrize("params", [{}, {"s": 4.0, "m": 0.5, "ce": 0.7, "quan": 0.3}])
def test_orthohash_equals_kamwoh_orthohash_loss_when_image_codes_are_text_codes(params):
    """kamwoh/orthohash ``OrthoHashLoss(multiclass=True, multiclass_loss="label_smoothing", m_type="cos")`` on
    ``logits = CosSim(codebook)(u)`` (models/alexnet.py), ``code_logits = u``, with the zoo loss's codebook;
    ``orthohash`` fed ``img = txt = u``. Every sample has a label (the source divides by the label count)."""
    full = {"s": 8.0, "m": 0.2, "ce": 1.0, "quan": 0.0, **params}
    for u, _, y, bits, classes in batches():
        loss = losses.build("orthohash", n_classes=classes, n_bits=bits, **params).double()
        authors = ref.KamwohOrthoHashLoss(ce=full["ce"], s=full["s"], m=full["m"], multiclass=True, quan=full["quan"])
        expected = float(authors.forward(ref.orthohash_cossim(u, loss.centers), u, y))
        with torch.no_grad():
            assert float(loss(u, u, y).total) == pytest.approx(expected, abs=TOLERANCE)


def test_orthohash_single_label_path_agrees_on_one_label_batches():
    """The source's single-label path (``F.cross_entropy`` on the argmax) is the same loss on one-label batches."""
    for u, _, y, bits, classes in batches(patterns=("single",)):
        loss = losses.build("orthohash", n_classes=classes, n_bits=bits).double()
        authors = ref.KamwohOrthoHashLoss(multiclass=False)
        expected = float(authors.forward(ref.orthohash_cossim(u, loss.centers), u, y))
        with torch.no_grad():
            assert float(loss(u, u, y).total) == pytest.approx(expected, abs=TOLERANCE)


# ------------------------------------------------------------------------------------------------ HyP², DSPH


@pytest.mark.parametrize("beta,zeta", [(0.5, 0.0), (1.5, 0.12)])
def test_hyp2_equals_hyp2_loss_model_when_image_codes_are_text_codes(beta, zeta):
    """JerryXu0129/HyP2-Loss ``HyP.forward(x, batch_y)`` with the zoo loss's proxies, ``threshold = zeta`` and
    ``beta``; ``hyp2`` fed ``img = txt = u``. ``mixed`` batches hold irrelevant pairs, the others none."""
    for u, _, y, bits, classes in batches():
        loss = losses.build("hyp2", n_classes=classes, n_bits=bits, beta=beta, zeta=zeta).double()
        with torch.no_grad():
            expected = float(ref.hyp2_forward(loss.proxies, zeta, beta, x=u, batch_y=y))
            assert float(loss(u, u, y).total) == pytest.approx(expected, abs=TOLERANCE)


@pytest.mark.parametrize("alpha,zeta", [(0.8, 0.0), (0.3, 0.12)])
def test_dsph_equals_dsph_hyp_forward(alpha, zeta):
    """QinLab-WFU/DSPH ``HyP.forward(x, y, label)`` with the zoo loss's proxies, ``threshold = zeta`` and
    ``args.alpha = alpha``; the source is cross-modal, so image and text codes go in as they are."""
    for u, v, y, bits, classes in batches():
        loss = losses.build("dsph", n_classes=classes, n_bits=bits, alpha=alpha, zeta=zeta).double()
        with torch.no_grad():
            expected = float(ref.dsph_forward(loss.proxies, zeta, alpha, x=u, y=v, label=y))
            assert float(loss(u, v, y).total) == pytest.approx(expected, abs=TOLERANCE)


# ------------------------------------------------------------------------------------------------ Proxy Anchor


@pytest.mark.parametrize("alpha,mrg", [(32.0, 0.1), (8.0, 0.3)])
def test_proxy_anchor_equals_proxy_anchor_forward_on_one_label_batches(alpha, mrg):
    """tjddus9597/Proxy-Anchor-CVPR2020 ``Proxy_Anchor.forward(X, T)`` takes class indices: on one-label batches
    with ``T = labels.argmax(1)`` and the zoo loss's proxies it equals ``proxy-anchor`` fed ``img = txt = u``."""
    for u, _, y, bits, classes in batches(patterns=("single",)):
        loss = losses.build("proxy-anchor", n_classes=classes, n_bits=bits, alpha=alpha, mrg=mrg).double()
        with torch.no_grad():
            expected = float(ref.proxy_anchor_forward(loss.proxies, classes, mrg, alpha, u, y.argmax(1)))
            assert float(loss(u, u, y).total) == pytest.approx(expected, abs=TOLERANCE)


def test_proxy_anchor_multi_label_reading_is_the_sources_forward_on_multi_hot_positives():
    """With ``P_one_hot`` given as the multi-hot labels (the multi-label reading) the source's forward is unchanged
    otherwise, and equals ``proxy-anchor`` fed ``img = txt = u`` on multi-label batches."""
    for u, _, y, bits, classes in batches(patterns=("mixed", "shared")):
        loss = losses.build("proxy-anchor", n_classes=classes, n_bits=bits).double()
        with torch.no_grad():
            expected = float(ref.proxy_anchor_forward(loss.proxies, classes, 0.1, 32.0, u, None, P_one_hot=y))
            assert float(loss(u, u, y).total) == pytest.approx(expected, abs=TOLERANCE)


# ------------------------------------------------------------------------------------------------ guards


def test_the_compared_batches_reach_every_branch():
    """The batches above hold both pair sets, all-similar batches, irrelevant pairs and zero votes."""
    kinds = {"both": 0, "all similar": 0, "irrelevant": 0, "zero vote": 0}
    for u, v, y, bits, classes in batches():
        s = y @ y.T > 0
        kinds["both"] += both_sets_present(y)
        kinds["all similar"] += bool(s.all())
        kinds["irrelevant"] += bool(losses.functional.irrelevant_pairs(y).any())
        loss = losses.build("dpn", n_classes=classes, n_bits=bits)
        kinds["zero vote"] += bool(((y.float() @ loss.centers) == 0).any())
    assert all(count > 0 for count in kinds.values()), kinds
