"""A CLIP backbone as a folder: model, tokenizer and image processor, loaded offline with
``from_pretrained`` whether it is a real pretrained CLIP or a tiny one built for synthetic data."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers
from transformers import AutoTokenizer, CLIPConfig, CLIPModel, PreTrainedTokenizerFast

#: Named small configurations for synthetic data (images of 32x32, word-level captions).
TINY_CONFIGS = {
    "tiny": {
        "text": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4),
        "vision": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                       patch_size=8),
        "projection_dim": 64,
    },
}
SPECIAL_TOKENS = {"pad_token": "[PAD]", "unk_token": "[UNK]", "bos_token": "[BOS]", "eos_token": "[EOS]"}


def _image_processor_class():
    """transformers 5 splits CLIP's image processor into a torchvision and a PIL implementation; use the
    PIL one when torchvision is absent (what transformers would fall back to, minus its warning)."""
    try:
        import torchvision  # noqa: F401
    except ImportError:
        if hasattr(transformers, "CLIPImageProcessorPil"):
            return transformers.CLIPImageProcessorPil
    return transformers.CLIPImageProcessor


@dataclass
class Backbone:
    """What a CLIP folder holds, ready to use; ``hash`` identifies its files (for caches)."""

    model: CLIPModel
    tokenizer: object
    processor: object
    path: Path
    hash: str

    @property
    def dim(self) -> int:
        return self.model.config.projection_dim

    @property
    def architecture(self) -> str:
        """The image tower as papers name it (``ViT-B/32``), read from the model's configuration."""
        return architecture_name(self.model.config.vision_config)


#: CLIP's image towers by (width, layers), as Radford et al. (ICML 2021) name them.
VIT_SIZES = {(768, 12): "B", (1024, 24): "L", (1280, 32): "H"}


def architecture_name(vision) -> str:
    """``ViT-B/32`` for a CLIP vision configuration of width 768, 12 layers and patch 32 (``@336px`` added at another
    input size than 224); an unnamed tower by its numbers.

    >>> from transformers import CLIPVisionConfig
    >>> architecture_name(CLIPVisionConfig(hidden_size=768, num_hidden_layers=12, patch_size=32))
    'ViT-B/32'
    >>> architecture_name(CLIPVisionConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, patch_size=8,
    ...                                    image_size=32))
    'ViT (width 64, 2 layers, patch 8, 32 px)'
    """
    size = VIT_SIZES.get((vision.hidden_size, vision.num_hidden_layers))
    if size is None:
        return (f"ViT (width {vision.hidden_size}, {vision.num_hidden_layers} layers, patch {vision.patch_size}, "
                f"{vision.image_size} px)")
    return f"ViT-{size}/{vision.patch_size}" + ("" if vision.image_size == 224 else f"@{vision.image_size}px")


def folder_hash(path: Path) -> str:
    """SHA-256 over the folder's files (name, size and content; for files over 64 MB their first and last
    4 MB), so a changed or different backbone gets a different cache key."""
    digest = hashlib.sha256()
    for file in sorted(p for p in Path(path).rglob("*") if p.is_file()):
        size = file.stat().st_size
        digest.update(f"{file.relative_to(path)}:{size}".encode())
        with open(file, "rb") as f:
            if size <= 64 << 20:
                digest.update(f.read())
            else:
                digest.update(f.read(4 << 20))
                f.seek(-(4 << 20), os.SEEK_END)
                digest.update(f.read())
    return digest.hexdigest()


#: Files of which a saved tokenizer needs at least one set (fast, CLIP's BPE, or a sentencepiece model).
TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"), ("spiece.model",), ("sentencepiece.bpe.model",))


def _header_problem(header) -> str | None:
    """What in a safetensors header (its JSON) is not of the format's types, or None: safetensors' own reader would
    raise an error naming no file, and the checks below a TypeError."""
    if not isinstance(header, dict):
        return f"a JSON {type(header).__name__}, not an object" if header is not None else "not JSON"
    for key, entry in header.items():
        if key == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                return "__metadata__ is not an object of strings"
            continue
        if not isinstance(entry, dict):
            return f"entry {key!r} is not an object"
        offsets, shape = entry.get("data_offsets"), entry.get("shape")
        if not isinstance(entry.get("dtype"), str):
            return f"entry {key!r} has no dtype string"
        if not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)):
            return f"entry {key!r} has no shape of non-negative integers"
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(n) is int for n in offsets)
                and 0 <= offsets[0] <= offsets[1]):
            return f"entry {key!r} has no data_offsets [begin, end]"
    return None


def _weights_problem(file: Path) -> str | None:
    """Why the weights file ``file`` is incomplete (a safetensors file shorter than its header says, a
    PyTorch archive without its end), or None."""
    import json
    import struct
    import zipfile

    size = file.stat().st_size
    if file.suffix == ".safetensors":
        with open(file, "rb") as f:
            head = f.read(8)
            length = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
            try:
                header = json.loads(f.read(length)) if 0 <= length <= size - 8 else None
            except ValueError:
                header = None
        problem = _header_problem(header)
        if problem:
            return f"{file} has a damaged header ({problem})"
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
        if 8 + length + end > size:
            return f"{file} is truncated ({size} bytes, its header says {8 + length + end})"
    elif file.suffix == ".bin" and not zipfile.is_zipfile(file):
        with open(file, "rb") as f:
            legacy = f.read(2) == b"\x80\x02"  # a pickle of torch < 1.6 has no zip end to check
        if not legacy:
            return f"{file} is truncated or damaged (not a complete PyTorch archive)"
    return None


def folder_problem(path: Path) -> str | None:
    """What makes the CLIP folder ``path`` unusable that ``from_pretrained`` would not say, or None: no tokenizer
    files (transformers then builds a 2-token tokenizer that maps every caption to unknown tokens), or a
    truncated weights file."""
    path = Path(path)
    names = {p.name for p in path.iterdir()} if path.is_dir() else set()
    if not any(set(option) <= names for option in TOKENIZER_FILES):
        return (f"backbone folder {path} has no tokenizer files (tokenizer.json, or vocab.json and merges.txt): "
                "copy them from the model's download (e.g. openai/clip-vit-base-patch32), or save the tokenizer "
                "there with save_pretrained")
    for file in sorted(path.glob("*.safetensors")) + sorted(path.glob("pytorch_model*.bin")):
        problem = _weights_problem(file)
        if problem:
            return f"backbone folder {path}: {problem}; download or copy the weights again"
    return None


def load_backbone(path: Path) -> Backbone:
    """Load ``CLIPModel``, its tokenizer and its image processor from a local folder (no download); a folder
    ``folder_problem`` finds unusable raises ValueError, other errors are transformers' own
    (``benchmark.backbones.open_backbone`` turns them into one line for users)."""
    path = Path(path)
    problem = folder_problem(path) if path.is_dir() else None
    if problem:
        raise ValueError(problem)
    model = CLIPModel.from_pretrained(path, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    processor = _image_processor_class().from_pretrained(path, local_files_only=True)
    return Backbone(model=model, tokenizer=tokenizer, processor=processor, path=path, hash=folder_hash(path))


def word_level_tokenizer(vocabulary: list[str], max_length: int) -> PreTrainedTokenizerFast:
    """A lower-casing, whitespace-splitting word-level tokenizer over ``vocabulary`` (which starts with
    ``[PAD] [UNK] [BOS] [EOS]``), wrapping every text as ``[BOS] words [EOS]``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    index = {word: i for i, word in enumerate(vocabulary)}
    core = Tokenizer(models.WordLevel(vocab=index, unk_token="[UNK]"))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.post_processor = processors.TemplateProcessing(
        single="[BOS] $A [EOS]", special_tokens=[("[BOS]", index["[BOS]"]), ("[EOS]", index["[EOS]"])])
    return PreTrainedTokenizerFast(tokenizer_object=core, model_max_length=max_length, **SPECIAL_TOKENS)


def tiny_clip(name: str, vocabulary: list[str], image_size: int, max_length: int, seed: int):
    """A randomly initialised small CLIP (``TINY_CONFIGS[name]``), its tokenizer and image processor."""
    if name not in TINY_CONFIGS:
        raise ValueError(f"unknown small CLIP config {name!r}; available: {', '.join(TINY_CONFIGS)}")
    spec = TINY_CONFIGS[name]
    tokenizer = word_level_tokenizer(vocabulary, max_length)
    config = CLIPConfig(
        text_config=dict(vocab_size=len(vocabulary), max_position_embeddings=max_length,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, **spec["text"]),
        vision_config=dict(image_size=image_size, **spec["vision"]),
        projection_dim=spec["projection_dim"],
    )
    with torch.random.fork_rng(devices=[]):  # transformers initialises from the global state: keep it untouched
        torch.manual_seed(seed)
        model = CLIPModel(config)
    processor = _image_processor_class()(size={"shortest_edge": image_size},
                                   crop_size={"height": image_size, "width": image_size})
    return model, tokenizer, processor


def text_vocabulary(texts: list[str]) -> list[str]:
    """The special tokens, then every lower-cased whitespace-separated word of ``texts``, sorted: the vocabulary of
    a word-level tokenizer (``word_level_tokenizer``) that knows each word of ``texts``."""
    return [*SPECIAL_TOKENS.values(), *sorted({word for text in texts for word in text.lower().split()})]


def save_backbone(folder: Path, model, tokenizer, processor) -> Path:
    """``save_pretrained`` all three into ``folder``."""
    for part in (model, tokenizer, processor):
        part.save_pretrained(folder)
    return Path(folder)
