"""A configuration's grid of runs, checked against the loss registry, the datasets and this machine before any
work starts (so ``--dry-run`` catches every bad value), and the ``RunSpec`` of each run.

Loss names may be groups: ``all`` is the five loss families.
"""
from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import losses

from . import data
from .config import Config, RunSpec
from .device import resolve_device
from .errors import ConfigError

#: Names that stand for several losses in ``losses:``.
LOSS_GROUPS = {"all": lambda: losses.available(variants=False)}


@dataclass(frozen=True)
class Grid:
    """The runs of a checked configuration, ordered dataset, bits, loss, seed (so a dataset's caches are
    built once); ``config`` has its loss groups expanded."""

    config: Config
    specs: tuple[RunSpec, ...]

    @property
    def id(self) -> str:
        """A fingerprint of the set of runs (their ids)."""
        return hashlib.sha256("\n".join(sorted(s.run_id for s in self.specs)).encode()).hexdigest()[:16]

    def runs(self) -> dict[str, str]:
        return {spec.run_id: spec.label for spec in self.specs}


def expand_losses(names) -> tuple[str, ...]:
    """``names`` with groups replaced by their members, each name once, in order."""
    expanded = [member for name in names for member in (LOSS_GROUPS[name]() if name in LOSS_GROUPS else [name])]
    return tuple(dict.fromkeys(expanded))


def _check_losses(config: Config) -> tuple[str, ...]:
    names = expand_losses(config.losses)
    for name in names:
        try:
            losses.parameters(name)
        except losses.LossConfigError as exc:
            raise ConfigError(f"{exc}; or a group: {', '.join(LOSS_GROUPS)}") from exc
    for name, params in config.loss_params.items():
        if name not in names:
            raise ConfigError(f"loss_params names loss {name!r}, which is not in this grid's losses ({', '.join(names)})")
        try:
            losses.build(name, 2, 8, **params)  # refuses unknown parameters and bad values, naming them
        except losses.LossConfigError as exc:
            raise ConfigError(f"loss_params.{name}: {exc}") from exc
    return names


def _check_datasets(config: Config) -> None:
    for name in config.datasets:
        if name not in data.dataset_names():
            hint = difflib.get_close_matches(name, data.dataset_names(), n=1)
            raise ConfigError(f"unknown dataset {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                              + f"; available: {', '.join(data.dataset_names())}")
    real = [name for name in config.datasets if not data.is_synthetic(name)]
    if real and config.run.backbone in (None, "synthetic"):
        raise ConfigError(f"dataset(s) {', '.join(real)} need a pretrained CLIP folder: give --backbone PATH "
                          "(e.g. a saved openai/clip-vit-base-patch32)")
    if config.run.backbone is None:
        raise ConfigError("'run.backbone' is not set: use 'synthetic' for the synthetic sets or give --backbone PATH")


def build_grid(config: Config) -> Grid:
    """Check ``config`` against the registry, the datasets and this machine; its runs."""
    names = _check_losses(config)
    _check_datasets(config)
    resolve_device(config.execution.device)
    settings = config.run
    if settings.backbone != "synthetic":
        settings = replace(settings, backbone=str(Path(settings.backbone).expanduser().resolve()))
    config = replace(config, losses=names, run=settings)
    specs = [RunSpec(loss=loss, dataset=dataset, bits=bits, seed=seed, loss_params=dict(config.loss_params.get(loss, {})),
                     settings=settings, synthetic=config.synthetic if data.is_synthetic(dataset) else None)
             for dataset in config.datasets for bits in config.bits for loss in names for seed in config.seeds]
    return Grid(config, tuple(specs))
