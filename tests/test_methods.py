"""The shared model: a CLIP folder loaded offline like a real pretrained one, tokenisation, encoding."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import methods
from benchmark.backbones import open_backbone
from benchmark.errors import BackboneError
from methods import DualEncoder, ImageTransform, encode_features, load_backbone, save_backbone, tokenize

VOCAB = ["[PAD]", "[UNK]", "[BOS]", "[EOS]", "a", "dog", "cat", "sky", "on", "the"]


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """A tiny random CLIP with a word-level tokenizer and an image processor, saved with save_pretrained."""
    model, tokenizer, processor = methods.tiny_clip("tiny", VOCAB, image_size=32, max_length=32, seed=0)
    return save_backbone(tmp_path_factory.mktemp("clip") / "tiny-clip", model, tokenizer, processor)


def test_a_saved_clip_loads_through_the_pretrained_path_and_encodes(tiny_folder, tmp_path):
    backbone = load_backbone(tiny_folder)
    assert {"config.json", "tokenizer.json", "preprocessor_config.json"} <= {p.name for p in tiny_folder.iterdir()}
    assert backbone.dim == 64 and len(backbone.hash) == 64
    encoder = DualEncoder(backbone.model, n_bits=16)
    transform = ImageTransform(backbone.processor)
    arrays = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    files = []
    for i, size in enumerate([(40, 48), (32, 32), (64, 20)]):  # other sizes go through the processor
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(np.full((*size, 3), 60 * i, np.uint8)).save(files[-1])
    texts = ["a dog on the sky", "cat", "an unknown word"]
    for images in (arrays, files):
        image, text = encode_features(backbone.model, backbone.tokenizer, transform, images, texts, batch_size=2)
        assert image.shape == (3, 64) and text.shape == (3, 64)
        assert torch.isfinite(image).all() and torch.isfinite(text).all()
        codes = encoder.image_head(image)
        assert codes.shape == (3, 16) and codes.abs().max() < 1
    again, _ = encode_features(backbone.model, backbone.tokenizer, transform, arrays, texts)
    first, _ = encode_features(backbone.model, backbone.tokenizer, transform, arrays, texts)
    assert torch.equal(first, again)  # evaluation mode: no dropout, deterministic


def test_fast_array_path_equals_the_image_processor(tiny_folder):
    backbone = load_backbone(tiny_folder)
    arrays = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    fast = ImageTransform(backbone.processor)(arrays)
    reference = backbone.processor(images=list(arrays), return_tensors="pt")["pixel_values"]
    assert torch.allclose(fast, reference, atol=1e-5)


def test_text_is_padded_and_truncated_with_end_token(tiny_folder):
    tokenizer = load_backbone(tiny_folder).tokenizer
    tokens = tokenize(tokenizer, ["dog", " ".join(["cat"] * 50), "Sky zebra"], max_length=32)
    ids, mask = tokens["input_ids"], tokens["attention_mask"]
    assert ids.shape == (3, 32) and mask.shape == (3, 32)
    bos, eos, pad, unk = (VOCAB.index(t) for t in ("[BOS]", "[EOS]", "[PAD]", "[UNK]"))
    assert ids[0, :3].tolist() == [bos, VOCAB.index("dog"), eos] and (ids[0, 3:] == pad).all()
    assert mask[0].sum() == 3 and mask[1].sum() == 32 and ids[1, -1] == eos  # truncated, end token kept
    assert ids[2, 1:4].tolist() == [VOCAB.index("sky"), unk, eos]  # lower-cased; unknown words map to [UNK]


def test_changed_files_change_the_backbone_hash(tiny_folder, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_folder, copy)
    assert methods.folder_hash(copy) == methods.folder_hash(tiny_folder)
    config = copy / "preprocessor_config.json"
    config.write_text(config.read_text().replace("0.48145466", "0.5"))
    assert methods.folder_hash(copy) != methods.folder_hash(tiny_folder)


def test_missing_or_broken_backbone_folder(tiny_folder, tmp_path):
    import shutil

    with pytest.raises(BackboneError, match="has no config.json; give --backbone a CLIP folder written by save_pretrained"):
        open_backbone(tmp_path)
    tmp_path = shutil.copytree(tiny_folder, tmp_path / "broken")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(BackboneError, match=f"cannot load the CLIP backbone in {tmp_path}"):
        open_backbone(tmp_path)


def test_backbone_folder_without_tokenizer_or_with_truncated_weights_is_refused(tiny_folder, tmp_path):
    """transformers would build a 2-token tokenizer for a folder without tokenizer files (every caption unknown
    tokens) and safetensors raises its own error for truncated weights: both are one BackboneError line."""
    import shutil

    from benchmark.backbones import backbone_problem

    no_tokenizer = shutil.copytree(tiny_folder, tmp_path / "no-tokenizer")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (no_tokenizer / name).unlink()
    truncated = shutil.copytree(tiny_folder, tmp_path / "truncated")
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    for folder, message in ((no_tokenizer, "has no tokenizer files"), (truncated, "model.safetensors is truncated")):
        with pytest.raises(BackboneError, match=message):
            open_backbone(folder)
        assert message in backbone_problem(str(folder))  # --dry-run says it too
    assert backbone_problem(str(tiny_folder)) is None


def test_a_damaged_cached_backbone_is_set_aside_and_built_again(tiny_folder, tmp_path, monkeypatch, capsys):
    import shutil
    from types import SimpleNamespace

    import benchmark.backbones as backbones

    builds = []

    def pretrain(folder, *args, **kwargs):  # stands in for the pretraining: the tiny CLIP saved as it would be
        builds.append(folder)
        shutil.copytree(tiny_folder, folder, dirs_exist_ok=True)

    monkeypatch.setattr(backbones, "pretrain_tiny_clip", pretrain)
    dataset = SimpleNamespace(name="synth-coco", content_hash="c" * 64, images=np.zeros((4, 32, 32, 3), np.uint8),
                              texts=["a"] * 4, vocabulary=VOCAB)
    split = SimpleNamespace(hash="s" * 64, train=np.arange(4))
    folder = backbones.synthetic_backbone(dataset, split, tmp_path, progress=False)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # truncated
    assert backbones.synthetic_backbone(dataset, split, tmp_path, progress=False) == folder and len(builds) == 2
    assert open_backbone(folder).dim == 64
    (aside,) = folder.parent.glob(f"{folder.name}.corrupt-*")
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert f"cached backbone folder {folder}" in line and "is truncated" in line and aside.name in line


def test_a_damaged_feature_cache_is_set_aside_and_rebuilt(tiny_folder, tmp_path, capsys):
    from benchmark.config import RunSettings
    from benchmark.data import PairedDataset
    from benchmark.device import Precision
    from benchmark.training.feature_sources import FrozenFeatures

    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    dataset = PairedDataset("synth-coco", ["a", "b"], np.eye(2, dtype=np.uint8)[[0, 1, 0, 1]],
                            [["a dog"], ["the cat"], ["sky"], ["a"]], images)
    device, settings = torch.device("cpu"), RunSettings(max_text_len=8)
    first = FrozenFeatures.open(dataset, load_backbone(tiny_folder), tmp_path, settings, device, Precision(device), False)
    path = Path(first.cache.path)
    path.write_bytes(path.read_bytes()[:100])  # truncated
    FrozenFeatures.prepare(dataset, tiny_folder, tmp_path, settings, device, False)  # before any run: rebuilt
    (aside,) = path.parent.glob(f"{path.name}.corrupt-*")
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert line.startswith(f"warning: feature cache {path} is damaged") and aside.name in line
    again = FrozenFeatures.open(dataset, load_backbone(tiny_folder), tmp_path, settings, device, Precision(device), False)
    assert again.cache.reused and torch.equal(again.image, first.image)


def test_heads_draw_from_their_generator_as_torch_layers_draw_from_the_global_state(tiny_folder):
    """Seeded heads and dropout equal nn.Linear / nn.Dropout run from a global state seeded the same way,
    and leave the global state alone."""
    clip = load_backbone(tiny_folder).model
    state = torch.get_rng_state()
    encoder = DualEncoder(clip, n_bits=16, dropout=0.2, generator=torch.Generator().manual_seed(7))
    features = torch.randn(5, 64, generator=torch.Generator().manual_seed(1))
    encoder.train()
    codes = encoder.image_head(features), encoder.text_head(features)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(7)
    layers = [torch.nn.Linear(64, 16), torch.nn.Linear(64, 16)]
    dropout = torch.nn.Dropout(0.2)
    expected = [torch.tanh(dropout(layer(features))) for layer in layers]
    assert torch.equal(encoder.image_head.linear.weight, layers[0].weight)
    assert torch.equal(encoder.text_head.linear.bias, layers[1].bias)
    assert all(torch.equal(a, b) for a, b in zip(codes, expected))
    encoder.eval()
    assert torch.equal(encoder.image_head(features), torch.tanh(layers[0](features)))  # no dropout in evaluation


def test_pretraining_is_deterministic(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    texts = [" ".join(rng.choice(VOCAB[4:], 3)) for _ in range(40)]
    a = methods.pretrain_tiny_clip(tmp_path / "a", images, texts, VOCAB, steps=3, batch_size=16, progress=False)
    b = methods.pretrain_tiny_clip(tmp_path / "b", images, texts, VOCAB, steps=3, batch_size=16, progress=False)
    c = methods.pretrain_tiny_clip(tmp_path / "c", images, texts, VOCAB, steps=3, batch_size=16, seed=1,
                                   progress=False)
    state = {k: load_backbone(p).model.state_dict() for k, p in (("a", a), ("b", b), ("c", c))}
    assert all(torch.equal(state["a"][k], state["b"][k]) for k in state["a"])
    assert not all(torch.equal(state["a"][k], state["c"][k]) for k in state["a"])
