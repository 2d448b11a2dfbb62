"""Which CLIP folder a run uses: a pretrained one given by path; an OpenAI checkpoint (``ViT-B-32.pt``) converted
once into a CLIP folder cached under ``<cache>/backbones/``; or for a synthetic set a tiny CLIP pretrained
contrastively on the set's training split once and cached there too; and opening a folder with one clear error
when it is not a usable CLIP."""
from __future__ import annotations

import os
from pathlib import Path

from methods import Backbone, load_backbone, pretrain_tiny_clip, save_backbone, text_vocabulary, tiny_clip
from methods.backbone import folder_problem
from methods.openai_checkpoint import (BPE_FILE, CONVERTER_VERSION, OpenAICheckpointError, TorchScriptRefused,
                                       convert_openai_checkpoint, find_tokenizer, tokenizer_hash)

from .data import PairedDataset, Split
from .errors import BackboneError
from .files import atomic_folder, file_sha256, manifest_problem, set_aside, write_manifest
from .threads import torch_threads


def check_backbone_folder(path: Path) -> Path:
    """``path`` when it looks like a folder written by ``save_pretrained``; BackboneError otherwise."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise BackboneError(f"backbone folder {path} has no config.json; give --backbone a CLIP folder written by "
                            "save_pretrained (e.g. a downloaded openai/clip-vit-base-patch32)")
    problem = folder_problem(path)
    if problem:
        raise BackboneError(problem)
    return path


def open_backbone(path: Path) -> Backbone:
    """The CLIP model, tokenizer and image processor of ``path``; BackboneError naming the folder otherwise."""
    path = check_backbone_folder(path)
    try:
        return load_backbone(path)
    except (OSError, ValueError, KeyError) as exc:  # what transformers raises for a folder it cannot load
        raise BackboneError(f"cannot load the CLIP backbone in {path}: {exc}") from exc
    except Exception as exc:  # e.g. safetensors' own error for a damaged weights file
        if type(exc).__module__.split(".")[0] not in ("safetensors", "tokenizers"):
            raise
        raise BackboneError(f"cannot load the CLIP backbone in {path}: {exc}; download or copy it again") from exc


#: Overrides where the tokenizer of an OpenAI checkpoint is looked for (OpenAI's merges file or a tokenizer folder).
TOKENIZER_ENV = "BENCHMARK_CLIP_TOKENIZER"
#: Set to 1 to let an OpenAI TorchScript archive whose weights cannot be read as data run through torch.jit.load.
TRUST_TORCHSCRIPT_ENV = "BENCHMARK_TRUST_TORCHSCRIPT"
_HASHES: dict[tuple, str] = {}  # (path, size, mtime) -> SHA-256: a checkpoint is hashed once per process


def is_openai_checkpoint(backbone: str | Path) -> bool:
    """Whether the ``run.backbone`` setting names an OpenAI checkpoint file (a path ending in ``.pt``)."""
    return str(backbone).lower().endswith(".pt")


def openai_tokenizer(checkpoint: Path) -> Path:
    """The tokenizer to convert ``checkpoint`` with: ``$BENCHMARK_CLIP_TOKENIZER``, else one next to it
    (``methods.openai_checkpoint.find_tokenizer``); BackboneError saying what to provide otherwise."""
    given = os.environ.get(TOKENIZER_ENV)
    if given:
        if not Path(given).expanduser().exists():
            raise BackboneError(f"${TOKENIZER_ENV} is {given}, which does not exist; point it at OpenAI's {BPE_FILE} "
                                "or a folder holding a saved CLIPTokenizer")
        return Path(given).expanduser().resolve()
    found = find_tokenizer(checkpoint)
    if found is None:
        raise BackboneError(
            f"OpenAI checkpoint {checkpoint} holds no vocabulary: put OpenAI's {BPE_FILE} (from the openai/CLIP code) "
            f"or a folder tokenizer/ with a saved CLIPTokenizer (vocab.json and merges.txt, or tokenizer.json, e.g. of "
            f"openai/clip-vit-base-patch32) next to it, or set ${TOKENIZER_ENV} to either")
    return found


def _checkpoint_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = file_sha256(path)
    return _HASHES[key]


def openai_backbone(checkpoint: str | Path, cache_dir: Path) -> Path:
    """The CLIP folder converted from OpenAI checkpoint ``checkpoint`` (a TorchScript archive or a state dict),
    built on first use under ``<cache>/backbones/`` and keyed by the contents of the checkpoint and of its tokenizer;
    BackboneError with one line naming the file otherwise. A TorchScript archive is read as data; one that would
    have to run is run only with ``$BENCHMARK_TRUST_TORCHSCRIPT=1``."""
    checkpoint = Path(checkpoint).expanduser()
    if not checkpoint.is_file():
        state = "is a folder" if checkpoint.is_dir() else "does not exist"
        raise BackboneError(f"OpenAI checkpoint {checkpoint} {state}; give --backbone the .pt file (e.g. ViT-B-32.pt) "
                            "or a CLIP folder written by save_pretrained")
    tokenizer = openai_tokenizer(checkpoint)
    try:
        digest = _checkpoint_sha256(checkpoint)
        folder = (Path(cache_dir) / "backbones" /
                  f"openai-{checkpoint.stem}-{digest[:16]}-tok{tokenizer_hash(tokenizer)[:12]}-v{CONVERTER_VERSION}")
        _set_aside_if_damaged(folder)
        if not (folder / "config.json").is_file():
            with atomic_folder(folder, marker="config.json") as tmp:
                convert_openai_checkpoint(checkpoint, tmp, tokenizer, checkpoint_sha256=digest,
                                          run_torchscript=os.environ.get(TRUST_TORCHSCRIPT_ENV) == "1")
                write_manifest(tmp)
    except TorchScriptRefused as exc:
        raise BackboneError(f"{exc}; TorchScript is code: if you trust this file, set {TRUST_TORCHSCRIPT_ENV}=1 "
                            "to run it with torch.jit.load, or give its state dict saved with torch.save") from None
    except OpenAICheckpointError as exc:
        raise BackboneError(str(exc)) from None
    except OSError as exc:
        raise BackboneError(f"cannot convert OpenAI checkpoint {checkpoint} into {cache_dir}: {exc}") from None
    return folder


def backbone_folder(backbone: str | Path, cache_dir: Path) -> Path:
    """The CLIP folder of a ``run.backbone`` path: an OpenAI checkpoint (``.pt``) converted and cached, or the
    folder itself, checked."""
    if is_openai_checkpoint(backbone):
        return openai_backbone(backbone, cache_dir)
    return check_backbone_folder(Path(backbone))


def backbone_problem(backbone: str) -> str | None:
    """What would stop every run using the ``run.backbone`` path ``backbone``, found without loading it; None if
    nothing is seen."""
    if is_openai_checkpoint(backbone):
        if not Path(backbone).is_file():
            return f"OpenAI checkpoint {backbone} does not exist: every run would fail"
        try:
            openai_tokenizer(Path(backbone))
        except BackboneError as exc:
            return f"every run would fail: {exc}"
        return None
    if not (Path(backbone) / "config.json").is_file():
        return (f"backbone folder {backbone} has no config.json: every run would fail; give --backbone a CLIP "
                "folder written by save_pretrained (or OpenAI's .pt checkpoint)")
    problem = folder_problem(Path(backbone))
    return f"every run would fail: {problem}" if problem else None


def _set_aside_if_damaged(folder: Path) -> None:
    """A cached backbone folder (built here, so rebuilt from its inputs) with a truncated weights file, without
    its tokenizer, or whose files are not those its content hashes were taken of (a flipped bit in the weights
    trains on without a word) is set aside (``benchmark.files.set_aside``), so that it is built again."""
    if not (folder / "config.json").is_file():
        return
    problem = folder_problem(folder)
    if problem:
        set_aside(folder, f"cached {problem.split('; download')[0].split(': copy them')[0]}", "it is built again")
    elif (problem := manifest_problem(folder)):
        set_aside(folder, f"cached backbone: {problem}", "it is built again")


#: The image side of the ``tiny`` backbone: its processor resizes every image to it.
TINY_IMAGE_SIZE = 32


def tiny_backbone(dataset: PairedDataset, cache_dir: Path, max_length: int, seed: int = 0) -> Path:
    """The folder of ``run.backbone: tiny`` for ``dataset``: a randomly initialised tiny CLIP whose word-level
    tokenizer knows every word of the set's texts, built on first use and cached under ``<cache>/backbones/``."""
    folder = Path(cache_dir) / "backbones" / f"tiny-random-{dataset.name}-{dataset.content_hash[:12]}-{max_length}"
    _set_aside_if_damaged(folder)
    if not (folder / "config.json").is_file():
        with atomic_folder(folder, marker="config.json") as tmp:
            save_backbone(tmp, *tiny_clip("tiny", text_vocabulary(dataset.texts), TINY_IMAGE_SIZE, max_length, seed))
            write_manifest(tmp)
    return folder


def synthetic_backbone(dataset: PairedDataset, split: Split, cache_dir: Path, *, seed: int = 0,
                       config: str = "tiny", steps: int = 300, progress: bool = False) -> Path:
    """The folder of the tiny CLIP for synthetic ``dataset`` (pretrained on ``split.train`` only), built on
    first use and written atomically. Pretrained on one thread: the weights then depend on the seed only, not
    on the machine's cores (and the tiny model gains nothing from more)."""
    folder = (Path(cache_dir) / "backbones" /
              f"{dataset.name}-{dataset.content_hash[:12]}-{split.hash[:12]}-{config}-seed{seed}-{steps}")
    _set_aside_if_damaged(folder)
    if not (folder / "config.json").is_file():
        with atomic_folder(folder, marker="config.json") as tmp, torch_threads(1):
            pretrain_tiny_clip(tmp, dataset.images[split.train], [dataset.texts[i] for i in split.train],
                               dataset.vocabulary, config=config, steps=steps, seed=seed, progress=progress,
                               desc=f"pretraining {folder.name}")
            write_manifest(tmp)
    return folder
