"""The shared model: a CLIP folder loaded offline like a real pretrained one, tokenisation, encoding."""
from __future__ import annotations

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


def test_missing_or_broken_backbone_folder(tmp_path):
    with pytest.raises(BackboneError, match="has no config.json; give --backbone a CLIP folder written by save_pretrained"):
        open_backbone(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(BackboneError, match=f"cannot load the CLIP backbone in {tmp_path}"):
        open_backbone(tmp_path)


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
