"""The loss registry: names, variants, user plug-ins and the errors a user can cause."""
from __future__ import annotations

import pytest
import torch

import losses
from losses import HashingLoss, LossOutput


class ScaledMeanLoss(HashingLoss):
    """A user's loss living outside the package: built by 'tests.test_registry:ScaledMeanLoss'."""

    def __init__(self, n_classes: int, n_bits: int, scale: float = 1.0):
        super().__init__(n_classes, n_bits)
        self.scale = scale

    def forward(self, img, txt, labels):
        return LossOutput.from_terms({"mean": self.scale * (img - txt).pow(2).mean()})


class NotALoss:
    pass


ZOO = {
    "pairwise": ["dch", "dchmt", "dcmh", "hashnet", "pairwise"],
    "triplet": ["dtsh", "triplet"],
    "center": ["center", "dpn", "orthohash"],
    "proxy": ["dsph", "hyp2", "proxy", "proxy-anchor"],
    "dcgh": ["dcgh"],
    "contrastive": ["infonce", "ms", "qmi", "supcon"],
}


def test_available_lists_losses_and_variants_sorted():
    names = losses.available()
    assert names == sorted(names)
    assert set(names) >= {"pairwise", "triplet", "center", "proxy", "dcgh",
                          "dcgh-novar", "dcgh-nopair", "dcgh-labelvar", "dcgh-proxyonly"}
    assert losses.available(variants=False) == sorted(name for members in ZOO.values() for name in members)


def test_families_members_and_representatives():
    assert losses.families() == ["pairwise", "triplet", "center", "proxy", "dcgh", "contrastive"]
    assert losses.representatives() == ["center", "dcgh", "dcmh", "proxy", "supcon", "triplet"]
    for family, members in ZOO.items():
        assert losses.family_members(family) == members
    with pytest.raises(ValueError, match="unknown loss family 'pair'; families: pairwise, triplet"):
        losses.family_members("pair")


def test_every_registered_loss_has_its_family_and_source():
    entries = {e.name: e for e in losses.entries()}
    for family, members in ZOO.items():
        for name in members:
            entry = entries[name]
            assert entry.family == family, name
            assert entry.representative == (name in ("dcmh", "triplet", "center", "proxy", "dcgh", "supcon")), name
            assert entry.control == (name == "infonce"), name
            if name == "pairwise":  # this suite's own loss, attributed to no published method
                assert entry.source is None and entry.citation is None
                continue
            assert entry.source == entry.citation.short and " — " in entry.source, name
            assert entry.citation.title and entry.citation.authors and entry.citation.year, name
            assert entry.citation.bibtex.startswith("@") and entry.citation.key in entry.citation.bibtex, name
    assert entries["hashnet"].source == "HashNet — Cao et al., ICCV 2017"
    assert entries["dcmh"].source == "DCMH — Jiang & Li, CVPR 2017"
    assert entries["center"].source == "CSQ — Yuan et al., CVPR 2020"
    assert entries["dcgh"].citation.full == ("DCGH: Deep Class-Guided Hashing for Multi-Label Cross-Modal Retrieval "
                                            "(Chen et al., Applied Sciences 2025)")
    assert entries["hashnet"].citation.full == "HashNet: Deep Learning to Hash by Continuation (Cao et al., ICCV 2017)"
    assert entries["supcon"].citation.full == "SupCon: Supervised Contrastive Learning (Khosla et al., NeurIPS 2020)"
    assert entries["qmi"].source == "DNpH — Qin et al., IEEE TMM 2024"
    for variant in ("dcgh-novar", "dcgh-nopair", "dcgh-labelvar", "dcgh-proxyonly"):
        entry = entries[variant]
        assert (entry.family, entry.source, entry.representative) == ("dcgh", entries["dcgh"].source, False)
    assert (entries["supcon-soft"].family, entries["supcon-soft"].fixed) == ("contrastive", {"positives": "cosine"})


def test_a_control_is_never_a_representative():
    with pytest.raises(ValueError, match="a control cannot be its family's representative"):
        losses.register("tmp-control", family="contrastive", representative=True, control=True)
    assert "tmp-control" not in losses.available()


def test_a_plain_user_registration_has_no_family_and_joins_no_group():
    @losses.register("tmp-plain-user-loss")
    class Plain(ScaledMeanLoss):
        pass

    try:
        entry = next(e for e in losses.entries() if e.name == "tmp-plain-user-loss")
        assert (entry.family, entry.source, entry.representative) == (None, None, False)
        assert "tmp-plain-user-loss" in losses.available(variants=False)
        assert "tmp-plain-user-loss" not in losses.representatives()
        assert all("tmp-plain-user-loss" not in losses.family_members(f) for f in losses.families())
        losses.register_variant("tmp-plain-user-loss-x2", "tmp-plain-user-loss", "twice", scale=2.0)
        assert next(e for e in losses.entries() if e.name == "tmp-plain-user-loss-x2").family is None
        assert losses.build("tmp-plain-user-loss-x2", 3, 4).scale == 2.0
    finally:
        losses.unregister("tmp-plain-user-loss-x2")
        losses.unregister("tmp-plain-user-loss")


def test_a_user_loss_can_join_a_family():
    losses.register("tmp-family-member", family="proxy", source="Mine — Me, 2026")(ScaledMeanLoss)
    try:
        assert "tmp-family-member" in losses.family_members("proxy")
        assert "tmp-family-member" not in losses.representatives()
    finally:
        losses.unregister("tmp-family-member")


def test_register_refuses_unknown_families_and_second_representatives():
    with pytest.raises(ValueError, match="unknown loss family 'metric'; families: pairwise, triplet, center"):
        losses.register("tmp-bad-family", family="metric")
    with pytest.raises(ValueError, match="needs a family"):
        losses.register("tmp-bad-representative", representative=True)
    with pytest.raises(ValueError, match="family 'proxy' already has its representative 'proxy'"):
        losses.register("tmp-second-representative", family="proxy", representative=True)
    assert not any(name.startswith("tmp-") for name in losses.available())


def test_variants_fix_their_parameters():
    assert losses.build("dcgh-novar", 24, 16).gamma == 0.0
    nopair = losses.build("dcgh-nopair", 24, 16)
    assert (nopair.alpha, nopair.beta, nopair.gamma) == (0.0, 0.0, 1.0)
    assert losses.build("dcgh-labelvar", 24, 16).variance == "label-classes"
    only = losses.build("dcgh-proxyonly", 24, 16)
    assert (only.alpha, only.beta, only.gamma) == (0.0, 0.0, 0.0)
    # a free parameter of the base still passes through; the same value of a fixed one is accepted
    assert losses.build("dcgh-novar", 24, 16, alpha=0.5, gamma=0.0).alpha == 0.5
    with pytest.raises(ValueError, match="fixes gamma=0.0; build 'dcgh' with gamma=1"):
        losses.build("dcgh-novar", 24, 16, gamma=1)


def test_duplicate_registration_raises():
    @losses.register("tmp-duplicate-check")
    class First(ScaledMeanLoss):
        pass

    try:
        with pytest.raises(ValueError, match="already registered"):
            losses.register("tmp-duplicate-check")(ScaledMeanLoss)
        with pytest.raises(ValueError, match="already registered"):
            losses.register("dcgh")(ScaledMeanLoss)
        with pytest.raises(ValueError, match="already registered"):
            losses.register_variant("dcgh-novar", "dcgh", "again", gamma=0.0)
        assert losses.build("tmp-duplicate-check", 3, 4).scale == 1.0
    finally:
        losses.unregister("tmp-duplicate-check")
    assert "tmp-duplicate-check" not in losses.available()


def test_register_rejects_what_is_not_a_loss():
    with pytest.raises(TypeError, match="HashingLoss subclasses"):
        losses.register("tmp-not-a-loss")(NotALoss)
    with pytest.raises(ValueError, match="not a registered loss family"):
        losses.register_variant("tmp-variant", "no-such-base", "x")
    with pytest.raises(ValueError, match="unknown parameter 'gama'.*did you mean 'gamma'"):
        losses.register_variant("tmp-variant", "dcgh", "x", gama=0)
    assert "tmp-variant" not in losses.available()


def test_user_loss_builds_from_module_and_class():
    loss = losses.build(f"{__name__}:ScaledMeanLoss", n_classes=3, n_bits=4, scale=2.0)
    assert isinstance(loss, ScaledMeanLoss) and loss.scale == 2.0
    out = loss(torch.ones(2, 4), torch.zeros(2, 4), torch.ones(2, 3))
    assert float(out.total) == 2.0
    with pytest.raises(ValueError, match="unknown parameter 'scal'.*valid parameters: scale"):
        losses.build(f"{__name__}:ScaledMeanLoss", 3, 4, scal=2.0)


@pytest.mark.parametrize(
    "spec,message",
    [
        ("no_such_module_xyz:Loss", "cannot import module 'no_such_module_xyz'"),
        (f"{__name__}:Missing", "has no attribute 'Missing'"),
        (f"{__name__}:NotALoss", "not a subclass of losses.HashingLoss"),
        (":Loss", "package.module:ClassName"),
    ],
)
def test_bad_user_loss_specs_raise_clearly(spec, message):
    with pytest.raises(ValueError, match=message):
        losses.build(spec, 3, 4)


class ReturnsATensor(HashingLoss):
    """A user's mistake: forward returns the bare tensor, not a LossOutput."""

    def forward(self, img, txt, labels):
        return (img - txt).pow(2).mean()


def test_a_user_loss_returning_a_wrong_type_or_a_plugin_with_a_syntax_error_is_one_line(tmp_path, monkeypatch, capsys):
    from benchmark import cli

    (tmp_path / "broken_plugin_xyz.py").write_text("def loss(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    base = ["run", "--datasets", "synth-coco", "--bits", "16", "--replicates", "1", "--dry-run",
            "--results", str(tmp_path / "results")]
    assert cli.main([*base, "--losses", f"{__name__}:ReturnsATensor"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "ReturnsATensor) returned Tensor from forward; it must return losses.LossOutput" in line
    assert cli.main([*base, "--losses", "dcgh", "--plugins", "broken_plugin_xyz"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: importing plugin module 'broken_plugin_xyz' raised SyntaxError: invalid syntax")
    assert cli.main([*base, "--losses", f"{__name__}:ScaledMeanLoss"]) == 0  # a right one passes the check


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError) as info:
        losses.build("dcgg", 24, 16)
    message = str(info.value)
    assert "did you mean 'dcgh'" in message
    for name in losses.available():
        assert name in message
    assert "package.module:ClassName" in message


@pytest.mark.parametrize(
    "name,params,message",
    [
        ("dcgh", {"gama": 1.0}, r"unknown parameter 'gama' for loss 'dcgh' \(did you mean 'gamma'\?\); valid parameters: alpha, beta, gamma, variance"),
        ("triplet", {"mining": "semi"}, "mining must be one of 'all', 'hard'"),
        ("dcgh", {"variance": "per-class"}, "variance must be one of 'all-classes', 'label-classes'"),
        ("triplet", {"margin": -0.1}, "margin must be a number >= 0"),
        ("pairwise", {"gamma": "high"}, "gamma must be a number"),
        ("proxy", {"zeta": float("nan")}, "zeta must be a number"),
        ("center", {"n_bits_typo": 3}, "valid parameters: lambda_pair, lambda_q, seed"),
        ("dcgh", {"seed": "abc"}, "seed must be an integer"),
        ("center", {"seed": 1.5}, "seed must be an integer"),
    ],
)
def test_bad_parameters_raise_naming_the_valid_choices(name, params, message):
    with pytest.raises(ValueError, match=message):
        losses.build(name, 24, 16, **params)


@pytest.mark.parametrize("n_classes,n_bits", [(0, 16), (24, 0), (24, 16.0), (True, 16)])
def test_bad_sizes_raise(n_classes, n_bits):
    with pytest.raises(ValueError, match="must be a positive integer"):
        losses.build("pairwise", n_classes, n_bits)


def test_a_learnable_user_loss_must_declare_its_optimizer():
    class WithParameter(ScaledMeanLoss):
        def __init__(self, n_classes, n_bits):
            super().__init__(n_classes, n_bits)
            self.weight = torch.nn.Parameter(torch.ones(()))

    with pytest.raises(ValueError, match="declares no optimizer_settings"):
        WithParameter(3, 4).make_optimizer()
    loss = WithParameter(3, 4)
    loss.optimizer_settings = losses.OptimizerSettings(name="adam", lr=0.1)
    assert isinstance(loss.make_optimizer(), torch.optim.Adam)


def test_parameters_lists_what_a_loss_accepts():
    assert losses.parameters("pairwise") == ["lambda_intra", "gamma"]
    assert "gamma" not in losses.parameters("dcgh-novar") and "alpha" in losses.parameters("dcgh-novar")
    assert losses.parameters(f"{__name__}:ScaledMeanLoss") == ["scale"]
    with pytest.raises(ValueError, match="unknown loss 'nope'"):
        losses.parameters("nope")
