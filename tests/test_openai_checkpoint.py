"""OpenAI's CLIP checkpoints (``--backbone ViT-B-32.pt``): converted into a ``transformers`` CLIP folder whose image
and text embeddings reproduce an independent OpenAI-architecture model (``tests/openai_clip_reference.py``), from
a TorchScript archive and from plain state dicts, with the tokenizer given next to the checkpoint; and one clear
line for a file that is not one, a damaged one, or a missing tokenizer."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
import torch

from benchmark.backbones import (TOKENIZER_ENV, backbone_folder, backbone_problem, is_openai_checkpoint,
                                 open_backbone, openai_backbone)
from benchmark.errors import BackboneError
from methods.encoder import image_embeddings, text_embeddings
from methods.openai_checkpoint import (BPE_FILE, OpenAICheckpointError, convert_openai_checkpoint, is_tokenizer_folder,
                                       openai_geometry, read_openai_state_dict)
from methods.preprocess import tokenize
from tests.openai_clip_reference import openai_tokens, random_clip

#: OpenAI's merges file in miniature: its header line, then one merge per line (as ``bpe_simple_vocab_16e6.txt``).
MERGES = ["h e", "l l", "he ll", "hell o</w>", "w o", "r l", "wo rl", "worl d</w>", "s k", "sk y</w>",
          "c a", "ca t</w>", "d o", "do g</w>", "t h", "th e</w>", "a n", "an d</w>", "i n", "in g</w>"]
VOCAB = 2 * 256 + len(MERGES) + 2  # bytes, bytes + </w>, merges, start and end: OpenAI's SimpleTokenizer
# heads are width / 64 in OpenAI's CLIP: widths of 128 give two heads per tower, so the q/k/v split is exercised
GEOMETRY = dict(embed_dim=32, image_resolution=32, vision_layers=2, vision_width=128, vision_patch_size=8,
                context_length=16, vocab_size=VOCAB, transformer_width=128, transformer_heads=2, transformer_layers=2)
#: float32 on the CPU; the largest difference seen is 1e-6 on embeddings of norm ~7
ATOL = RTOL = 1e-5


def merges_file(path: Path) -> Path:
    path.write_bytes(gzip.compress(("\"bpe_simple_vocab_16e6.txt#version: 0.2\n" + "\n".join(MERGES) + "\n")
                                   .encode("utf-8")))
    return path


@pytest.fixture(scope="module")
def reference():
    return random_clip(seed=3, **GEOMETRY)


@pytest.fixture(scope="module")
def inputs():
    generator = torch.Generator().manual_seed(1)
    pixels = torch.randn(5, 3, 32, 32, generator=generator)
    texts = [torch.randint(1, VOCAB - 2, (n,), generator=generator).tolist() for n in (0, 1, 5, 9, 14)]
    return pixels, openai_tokens(texts, GEOMETRY["context_length"], VOCAB)


def save_state_dict(model, path: Path, metadata: bool = False) -> Path:
    state = dict(model.state_dict())
    if metadata:  # what OpenAI's TorchScript archives also hold; build_model drops them
        state.update(input_resolution=torch.tensor(32), context_length=torch.tensor(16), vocab_size=torch.tensor(VOCAB))
    torch.save(state, path)
    return path


def save_torchscript(model, path: Path, inputs) -> Path:
    import warnings

    model.register_buffer("input_resolution", torch.tensor(GEOMETRY["image_resolution"]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.trace(model, inputs, check_trace=False).save(str(path))
    finally:
        del model._buffers["input_resolution"]
    return path


def check_embeddings(folder: Path, reference, inputs) -> None:
    backbone = open_backbone(folder)
    pixels, tokens = inputs
    mask = (torch.arange(tokens.shape[1]) <= tokens.argmax(dim=1, keepdim=True)).long()  # up to the end token
    with torch.no_grad():
        expected_image, expected_text = reference.encode_image(pixels), reference.encode_text(tokens)
        image = image_embeddings(backbone.model, pixels)
        text = text_embeddings(backbone.model, tokens, mask)
        text_unmasked = text_embeddings(backbone.model, tokens, torch.ones_like(tokens))
    assert image.dtype == torch.float32 and image.shape == expected_image.shape
    torch.testing.assert_close(image, expected_image, atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(text, expected_text, atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(text_unmasked, expected_text, atol=ATOL, rtol=RTOL)
    assert backbone.model.logit_scale.item() == pytest.approx(reference.logit_scale.item())


@pytest.mark.parametrize("form", ["torchscript", "state_dict"])
def test_converted_checkpoint_reproduces_the_openai_model(tmp_path, reference, inputs, form):
    save = {"torchscript": lambda p: save_torchscript(reference, p, inputs),
            "state_dict": lambda p: save_state_dict(reference, p, metadata=True)}[form]
    checkpoint = save(tmp_path / "ViT-T-8.pt")
    merges_file(tmp_path / BPE_FILE)
    folder = backbone_folder(str(checkpoint), tmp_path / "cache")
    assert folder.parent == tmp_path / "cache" / "backbones" and folder.name.startswith("openai-ViT-T-8-")
    check_embeddings(folder, reference, inputs)
    config = open_backbone(folder).model.config
    assert (config.vision_config.num_attention_heads, config.text_config.num_attention_heads) == (2, 2)
    assert (config.vision_config.image_size, config.vision_config.patch_size, config.projection_dim) == (32, 8, 32)
    assert (config.text_config.max_position_embeddings, config.text_config.vocab_size) == (16, VOCAB)


def test_half_precision_weights_are_converted_to_float32(tmp_path, reference, inputs):
    half = random_clip(seed=3, **GEOMETRY).half()  # OpenAI's released archives hold fp16 weights
    rounded = random_clip(seed=4, **GEOMETRY)
    rounded.load_state_dict({k: v.float() for k, v in half.state_dict().items()})
    folder = convert_openai_checkpoint(save_state_dict(half, tmp_path / "half.pt"), tmp_path / "clip",
                                       merges_file(tmp_path / BPE_FILE))
    check_embeddings(folder, rounded, inputs)


def test_the_tokenizer_is_openais_vocabulary_and_pools_at_the_end_token(tmp_path, reference):
    checkpoint = save_state_dict(reference, tmp_path / "ViT.pt")
    merges_file(tmp_path / BPE_FILE)
    backbone = open_backbone(openai_backbone(checkpoint, tmp_path / "cache"))
    # SimpleTokenizer's ids: 512 byte tokens, then one per merge in file order, then start and end
    hello, world, cat = (512 + MERGES.index(m) for m in ("hell o</w>", "worl d</w>", "ca t</w>"))
    tokens = tokenize(backbone.tokenizer, ["Hello world", "the cat"], max_length=16)
    assert tokens["input_ids"][0, :4].tolist() == [VOCAB - 2, hello, world, VOCAB - 1]
    assert tokens["input_ids"][1, 2].item() == cat and tokens["attention_mask"][0].sum() == 4
    openai = openai_tokens([[hello, world], [512 + MERGES.index("th e</w>"), cat]], 16, VOCAB)
    with torch.no_grad():
        torch.testing.assert_close(text_embeddings(backbone.model, **tokens), reference.encode_text(openai),
                                   atol=ATOL, rtol=RTOL)


def test_a_saved_tokenizer_folder_next_to_it_or_from_the_environment(tmp_path, reference, inputs, monkeypatch):
    source = tmp_path / "source"
    source.mkdir()
    from_merges = save_state_dict(reference, source / "ViT.pt")
    assert "holds no vocabulary" in backbone_problem(str(from_merges))
    merges_file(source / BPE_FILE)
    assert backbone_problem(str(from_merges)) is None
    first = open_backbone(openai_backbone(from_merges, tmp_path / "cache"))

    first.tokenizer.save_pretrained(tmp_path / "models" / "tokenizer")  # e.g. openai/clip-vit-base-patch32's
    checkpoint = save_state_dict(reference, tmp_path / "models" / "ViT.pt")
    folder = openai_backbone(checkpoint, tmp_path / "cache")
    check_embeddings(folder, reference, inputs)
    assert open_backbone(folder).tokenizer("hello world")["input_ids"] == first.tokenizer("hello world")["input_ids"]

    (tmp_path / "alone").mkdir()
    alone = save_state_dict(reference, tmp_path / "alone" / "ViT.pt")
    monkeypatch.setenv(TOKENIZER_ENV, str(source / BPE_FILE))
    assert backbone_problem(str(alone)) is None
    assert (openai_backbone(alone, tmp_path / "cache") / "config.json").is_file()


def test_converted_once_per_content(tmp_path, reference):
    checkpoint = save_state_dict(reference, tmp_path / "ViT.pt")
    merges_file(tmp_path / BPE_FILE)
    folder = openai_backbone(checkpoint, tmp_path / "cache")
    stamp = (folder / "config.json").stat().st_mtime_ns
    assert backbone_folder(str(checkpoint), tmp_path / "cache") == folder  # found, not converted again
    assert (folder / "config.json").stat().st_mtime_ns == stamp
    save_state_dict(random_clip(seed=9, **GEOMETRY), checkpoint)  # other weights under the same name
    os.utime(checkpoint, ns=(stamp + 10**9, stamp + 10**9))
    assert openai_backbone(checkpoint, tmp_path / "cache") != folder
    assert [p.name for p in (tmp_path / "cache" / "backbones").iterdir() if p.name.startswith(".")] == []


def test_no_tokenizer_is_one_line_saying_what_to_give(tmp_path, reference):
    checkpoint = save_state_dict(reference, tmp_path / "ViT-B-32.pt")
    with pytest.raises(BackboneError) as error:
        backbone_folder(str(checkpoint), tmp_path / "cache")
    message = str(error.value)
    assert "\n" not in message and str(checkpoint) in message and BPE_FILE in message and "tokenizer/" in message
    assert not (tmp_path / "cache" / "backbones").exists() or not any((tmp_path / "cache" / "backbones").iterdir())


def broken(state: dict, change: str) -> dict:
    state = dict(state)
    if change == "missing":
        del state["visual.ln_post.bias"]
    elif change == "shape":
        state["visual.transformer.resblocks.1.mlp.c_proj.weight"] = torch.zeros(128, 256)
    elif change == "anchor":
        state["text_projection"] = state["text_projection"][:, :16]
    elif change == "block":
        state = {k: v for k, v in state.items() if not k.startswith("transformer.resblocks.0.")}
    elif change == "extra":
        state["visual.head.weight"] = torch.zeros(3)
    elif change == "resnet":
        state = {k: v for k, v in state.items() if not k.startswith("visual.")}
        state["visual.layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)
    return state


@pytest.mark.parametrize("change,key", [
    ("missing", "visual.ln_post.bias"), ("shape", "visual.transformer.resblocks.1.mlp.c_proj.weight"),
    ("anchor", "text_projection"), ("block", "transformer.resblocks.0"),
    ("extra", "visual.head.weight"), ("resnet", "ResNet")])
def test_a_damaged_checkpoint_is_one_line_naming_file_and_key(tmp_path, reference, change, key):
    checkpoint = tmp_path / "ViT-B-32.pt"
    torch.save(broken(reference.state_dict(), change), checkpoint)
    merges_file(tmp_path / BPE_FILE)
    with pytest.raises(BackboneError) as error:
        backbone_folder(str(checkpoint), tmp_path / "cache")
    message = str(error.value)
    assert "\n" not in message and str(checkpoint) in message and key in message, message


@pytest.mark.parametrize("content", [b"not a checkpoint", None])
def test_an_unreadable_file_is_one_line(tmp_path, content):
    checkpoint = tmp_path / "ViT-B-32.pt"
    if content is not None:
        checkpoint.write_bytes(content)
    merges_file(tmp_path / BPE_FILE)
    with pytest.raises(BackboneError) as error:
        backbone_folder(str(checkpoint), tmp_path / "cache")
    message = str(error.value)
    assert "\n" not in message and str(checkpoint) in message
    assert ("neither a TorchScript archive nor a state dict" if content else "does not exist") in message


def test_a_tokenizer_of_another_size_is_refused(tmp_path, reference):
    checkpoint = save_state_dict(reference, tmp_path / "ViT.pt")
    (tmp_path / BPE_FILE).write_bytes(gzip.compress(("header\n" + "\n".join(MERGES[:5]) + "\n").encode()))
    with pytest.raises(BackboneError, match=rf"{BPE_FILE} has 5 merges after its header.* needs {len(MERGES)}"):
        openai_backbone(checkpoint, tmp_path / "cache")


def test_a_tokenizer_folder_of_another_vocabulary_is_refused(tmp_path, reference):
    from methods.openai_checkpoint import load_clip_tokenizer

    (tmp_path / "small.txt").write_text("header\n" + "\n".join(MERGES[:5]) + "\n")
    load_clip_tokenizer(tmp_path / "small.txt", 2 * 256 + 5 + 2).save_pretrained(tmp_path / "tokenizer")
    checkpoint = save_state_dict(reference, tmp_path / "ViT.pt")
    with pytest.raises(BackboneError, match=rf"tokenizer {tmp_path / 'tokenizer'} does not fit the checkpoint: 519 "
                                            rf"tokens .* the checkpoint has {VOCAB} tokens"):
        openai_backbone(checkpoint, tmp_path / "cache")


def test_geometry_is_read_off_the_shapes(reference):
    g = openai_geometry(dict(reference.state_dict()))
    assert (g.embed_dim, g.image_resolution, g.patch_size, g.vision_width, g.vision_layers, g.vision_heads) == \
        (32, 32, 8, 128, 2, 2)
    assert (g.context_length, g.vocab_size, g.text_width, g.text_layers, g.text_heads, g.text_mlp) == \
        (16, VOCAB, 128, 2, 2, 512)


def test_pt_paths_are_checkpoints_and_reading_keeps_tensors_only(tmp_path, reference):
    assert is_openai_checkpoint("/x/ViT-B-32.pt") and not is_openai_checkpoint("/x/clip-vit-base-patch32")
    torch.save({"state_dict": {"a": torch.zeros(1)}}, tmp_path / "nested.pt")
    with pytest.raises(OpenAICheckpointError, match="entry 'state_dict' is a dict, not a tensor"):
        read_openai_state_dict(tmp_path / "nested.pt")
    state = read_openai_state_dict(save_state_dict(reference, tmp_path / "m.pt", metadata=True))
    assert "input_resolution" not in state and len(state) == len(reference.state_dict())


def test_the_runner_converts_a_pt_backbone_and_preflights_its_tokenizer(tmp_path, reference):
    from types import SimpleNamespace

    from benchmark.config import RunSettings, RunSpec, SyntheticConfig
    from benchmark.execution import RunContext, resources
    from benchmark.experiments import preflight_warnings

    checkpoint = save_state_dict(reference, tmp_path / "ViT-B-32.pt")
    grid = SimpleNamespace(config=SimpleNamespace(run=SimpleNamespace(backbone=str(checkpoint)), datasets=(),
                                                  execution=SimpleNamespace(data_root=None)))
    [warning] = preflight_warnings(grid)
    assert warning.startswith("every run would fail: OpenAI checkpoint") and "holds no vocabulary" in warning
    merges_file(tmp_path / BPE_FILE)
    assert preflight_warnings(grid) == []
    spec = RunSpec(loss="dcgh", dataset="synth-coco", bits=16, replicate=0, seed=0, varies=(), loss_params={},
                   settings=RunSettings(backbone=str(checkpoint)), synthetic=SyntheticConfig(size=200))
    context = RunContext(results=tmp_path / "results", progress=False)
    *_, folder = resources(spec, context)
    assert folder.parent == context.cache / "backbones" and folder.name.startswith("openai-ViT-B-32-")
    assert (folder / "openai_checkpoint.json").is_file() and is_tokenizer_folder(folder)
