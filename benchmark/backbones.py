"""Which CLIP folder a run uses: a pretrained one given by path, or for synthetic data a tiny CLIP
pretrained contrastively on the dataset's training split once and cached under ``<cache>/backbones/``."""
from __future__ import annotations

from pathlib import Path

from methods import pretrain_tiny_clip

from .data import PairedDataset, Split

#: The fixed pretraining budget of synthetic backbones (steps of 128 pairs).
PRETRAIN_STEPS = 300


def synthetic_backbone(dataset: PairedDataset, split: Split, cache_dir: Path, *, seed: int = 0,
                       config: str = "tiny", steps: int = PRETRAIN_STEPS, progress: bool = True) -> Path:
    """The folder of the tiny CLIP for ``dataset`` (pretrained on ``split.train`` only), built on first use."""
    if dataset.vocabulary is None:
        raise ValueError(f"{dataset.name} is not a synthetic dataset: give a pretrained CLIP folder as backbone")
    folder = (Path(cache_dir) / "backbones" /
              f"{dataset.name}-{dataset.content_hash[:12]}-{split.hash[:12]}-{config}-seed{seed}-{steps}")
    if not (folder / "config.json").is_file():
        texts = [dataset.captions[i][0] for i in split.train]
        pretrain_tiny_clip(folder, dataset.images[split.train], texts, dataset.vocabulary, config=config,
                           steps=steps, seed=seed, progress=progress)
    return folder
