"""Every loss with released code against its golden cases (tests/golden/, described in tests/golden/README.md):
the values and gradients its authors' function gave on fixed inputs, in float64, to a relative tolerance of 1e-6
(absolute 1e-9 for entries near zero)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import losses

GOLDEN = Path(__file__).parent / "golden"
FILES = sorted(GOLDEN.glob("*.json"))
RTOL, ATOL = 1e-6, 1e-9


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


CASES = [pytest.param(path, index, id=f"{path.stem}-{case['name']}")
         for path in FILES for index, case in enumerate(_load(path)["cases"])]


def computed(name: str, case: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor], losses.HashingLoss]:
    """The project loss's value and gradients on a golden case, its state copied in first."""
    loss = losses.build(name, n_classes=case["n_classes"], n_bits=case["n_bits"], **case["params"]).double()
    with torch.no_grad():
        for key, value in case["state"].items():
            getattr(loss, key).copy_(torch.tensor(value, dtype=torch.float64))
    inputs = case["inputs"]
    img, txt = (torch.tensor(inputs[k], dtype=torch.float64, requires_grad=True) for k in ("img", "txt"))
    labels = torch.tensor(inputs["labels"], dtype=torch.float64)
    out = loss(img, txt, labels)
    out.total.backward()
    grads = {"img": img.grad, "txt": txt.grad,
             **{key: getattr(loss, key).grad for key in case["grad"] if key not in ("img", "txt")}}
    return out.total.detach(), grads, loss


@pytest.mark.parametrize("path,index", CASES)
def test_loss_equals_its_authors_function(path, index):
    golden = _load(path)
    case = golden["cases"][index]
    value, grads, loss = computed(golden["loss"], case)
    assert loss.consumes == golden["consumes"], "the loss takes another output than the authors' function"
    torch.testing.assert_close(value, torch.tensor(case["value"], dtype=torch.float64), rtol=RTOL, atol=ATOL)
    for key, expected in case["grad"].items():
        assert grads[key] is not None, f"no gradient for {key}"
        torch.testing.assert_close(grads[key], torch.tensor(expected, dtype=torch.float64), rtol=RTOL, atol=ATOL,
                                   msg=lambda m, key=key: f"gradient w.r.t. {key}: {m}")


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_golden_files_name_their_source_and_cover_the_defaults(path):
    golden = _load(path)
    source = golden["source"]
    assert set(source) == {"repository", "commit", "file", "function"} and len(source["commit"]) == 40
    assert golden["made"].strip()
    cases = golden["cases"]
    assert sum(not c["params"] for c in cases) >= 2, "at least two cases run the loss's defaults"
    assert any(c["application"] == "image-text" for c in cases)
    for c in cases:
        assert c["inputs"]["img"] != c["inputs"]["txt"] or c["application"] == "same-codes"
        assert {"img", "txt"} <= set(c["grad"])


def test_every_loss_with_released_code_has_golden_cases():
    """A registered loss whose citation names released code is checked against it (the triplet loss's source
    released none; ``pairwise`` is this suite's own)."""
    with_code = {e.name for e in losses.entries() if not e.is_variant and e.citation and e.citation.code}
    assert with_code == {p.stem for p in FILES}


def test_the_defaults_cases_reach_the_published_thresholds():
    """hyp2, dsph and proxy run their defaults where HyP²'s table gives 0.25 (80 classes, 16 bits) and 0.125 (80
    classes, 32 bits)."""
    for name in ("hyp2", "dsph", "proxy"):
        cells = {(c["n_classes"], c["n_bits"]) for c in _load(GOLDEN / f"{name}.json")["cases"] if not c["params"]}
        assert {(80, 16), (80, 32)} <= cells, name
        assert losses.build(name, n_classes=80, n_bits=16).zeta == 0.25
        assert losses.build(name, n_classes=80, n_bits=32).zeta == 0.125
    assert losses.build("dcgh", n_classes=80, n_bits=32).zeta == 0.0
