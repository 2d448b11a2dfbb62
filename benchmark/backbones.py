"""Which CLIP folder a run uses: a pretrained one given by path, or for a synthetic set a tiny CLIP pretrained
contrastively on the set's training split once and cached under ``<cache>/backbones/``; and opening a folder
with one clear error when it is not a usable CLIP."""
from __future__ import annotations

from pathlib import Path

from methods import Backbone, load_backbone, pretrain_tiny_clip

from .data import PairedDataset, Split
from .errors import BackboneError
from .files import atomic_folder
from .threads import torch_threads


def check_backbone_folder(path: Path) -> Path:
    """``path`` when it looks like a folder written by ``save_pretrained``; BackboneError otherwise."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise BackboneError(f"backbone folder {path} has no config.json; give --backbone a CLIP folder written by "
                            "save_pretrained (e.g. a downloaded openai/clip-vit-base-patch32)")
    return path


def open_backbone(path: Path) -> Backbone:
    """The CLIP model, tokenizer and image processor of ``path``; BackboneError naming the folder otherwise."""
    path = check_backbone_folder(path)
    try:
        return load_backbone(path)
    except (OSError, ValueError, KeyError) as exc:  # what transformers raises for a folder it cannot load
        raise BackboneError(f"cannot load the CLIP backbone in {path}: {exc}") from exc


def synthetic_backbone(dataset: PairedDataset, split: Split, cache_dir: Path, *, seed: int = 0,
                       config: str = "tiny", steps: int = 300, progress: bool = True) -> Path:
    """The folder of the tiny CLIP for synthetic ``dataset`` (pretrained on ``split.train`` only), built on
    first use and written atomically. Pretrained on one thread: the weights then depend on the seed only, not
    on the machine's cores (and the tiny model gains nothing from more)."""
    folder = (Path(cache_dir) / "backbones" /
              f"{dataset.name}-{dataset.content_hash[:12]}-{split.hash[:12]}-{config}-seed{seed}-{steps}")
    if not (folder / "config.json").is_file():
        with atomic_folder(folder, marker="config.json") as tmp, torch_threads(1):
            pretrain_tiny_clip(tmp, dataset.images[split.train], [dataset.texts[i] for i in split.train],
                               dataset.vocabulary, config=config, steps=steps, seed=seed, progress=progress,
                               desc=f"pretraining {folder.name}")
    return folder
