"""A configuration's grid of runs, checked against the loss registry, the datasets and this machine before any
work starts (so ``--dry-run`` catches every bad value), and the ``RunSpec`` of each run.

Loss names may be groups: ``all`` is the six families' representatives (``dcmh``, ``triplet``, ``center``,
``proxy``, ``dcgh``, ``supcon``), ``zoo`` every registered loss (not the variants), ``family:NAME`` a family's members.
"""
from __future__ import annotations

import difflib
import hashlib
import importlib.util
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import losses

from . import data, references
from .config import GENERATED_BACKBONES, Config, RunSpec
from .device import resolve_device
from .errors import ConfigError
from .plugins import load_plugins

#: Names that stand for several losses in ``losses:`` (and ``family:NAME`` for each family).
LOSS_GROUPS = {"all": losses.representatives, "zoo": lambda: losses.available(variants=False)}
FAMILY_PREFIX = "family:"


def _group(name: str) -> list[str] | None:
    """The members of group ``name``, or None when it is not a group."""
    if name.startswith(FAMILY_PREFIX):
        family = name[len(FAMILY_PREFIX):]
        if family not in losses.families():
            hint = difflib.get_close_matches(family, losses.families(), n=1)
            raise ConfigError(f"unknown loss family {family!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                              + f"; families: {', '.join(losses.families())}")
        return losses.family_members(family)
    return LOSS_GROUPS[name]() if name in LOSS_GROUPS else None


@dataclass(frozen=True)
class Grid:
    """The runs of a checked configuration, ordered dataset, replicate, bits, loss (so the caches of a
    replicate's data and backbone are built once, before its runs); ``config`` has its loss groups expanded.
    With ``config.references``, each (dataset, replicate, bits) also has its reference rows."""

    config: Config
    specs: tuple[RunSpec, ...]

    @property
    def training_runs(self) -> list[RunSpec]:
        return [spec for spec in self.specs if references.row_kind(spec.loss) == "loss"]

    @property
    def id(self) -> str:
        """A fingerprint of the set of runs (their ids)."""
        return hashlib.sha256("\n".join(sorted(s.run_id for s in self.specs)).encode()).hexdigest()[:16]

    def runs(self) -> dict[str, str]:
        return {spec.run_id: spec.label for spec in self.specs}


def expand_losses(names) -> tuple[str, ...]:
    """``names`` with groups replaced by their members, each name once, in order."""
    expanded = [member for name in names for member in (_group(name) or [name])]
    return tuple(dict.fromkeys(expanded))


def _check_losses(config: Config) -> tuple[str, ...]:
    names = expand_losses(config.losses)
    for name in names:
        if references.row_kind(name) == "reference":
            raise ConfigError(f"{name!r} is a reference row, not a loss: every grid with 'references: true' (the "
                              "default) evaluates the reference rows beside its losses")
        try:
            losses.parameters(name)
        except losses.LossConfigError as exc:
            if ":" in name:  # a user's module:Class, not a misspelt name: a list of groups would not help
                raise ConfigError(str(exc)) from exc
            raise ConfigError(f"{exc}; or a group: {', '.join(LOSS_GROUPS)}, "
                              f"{', '.join(FAMILY_PREFIX + f for f in losses.families())}") from exc
    for name, params in config.loss_params.items():
        if name not in names:
            raise ConfigError(f"loss_params names loss {name!r}, which is not in this grid's losses ({', '.join(names)})")
        try:
            losses.build(name, 2, 8, **params)  # refuses unknown parameters and bad values, naming them
        except losses.LossConfigError as exc:
            raise ConfigError(f"loss_params.{name}: {exc}") from exc
    for name in names:
        try:
            _check_user_loss_output(name, config.loss_params.get(name, {}), config.bits[0])
        except losses.LossConfigError as exc:  # e.g. a user's constructor raising, or no default at these bits
            raise ConfigError(str(exc)) from exc
    return names


def _check_user_loss_output(name: str, params: dict, bits: int) -> None:
    """A loss from outside the suite (``module:Class`` or a plugin's) is called once on a small random batch, so
    that one returning something other than a ``LossOutput`` stops the grid now, in one line, instead of failing
    every run. A loss that raises on that batch is left to its runs, which record the error."""
    import torch

    params = dict(params)
    if "seed" in losses.parameters(name) and "seed" not in params:
        params["seed"] = 0
    loss = losses.build(name, 3, bits, **params)
    if type(loss).__module__.split(".")[0] == "losses":
        return
    generator = torch.Generator().manual_seed(0)
    img, txt = (torch.randn(6, bits, generator=generator).tanh().requires_grad_() for _ in range(2))
    labels = torch.eye(3)[torch.arange(6) % 3]
    try:
        out = loss(img, txt, labels)
    except Exception:  # noqa: BLE001 - the runs record it
        return
    where = f"loss {name!r} ({type(loss).__module__}.{type(loss).__qualname__})"
    if not isinstance(out, losses.LossOutput):
        raise ConfigError(f"{where} returned {type(out).__name__} from forward; it must return "
                          "losses.LossOutput(total=<scalar tensor>, terms={name: tensor}), e.g. "
                          "LossOutput.from_terms({'main': value}) (docs/losses.md, 'Your own loss')")
    terms_ok = isinstance(out.terms, dict) and all(isinstance(v, torch.Tensor) for v in out.terms.values())
    if not (isinstance(out.total, torch.Tensor) and out.total.dim() == 0 and out.total.is_floating_point()
            and out.total.requires_grad) or not terms_ok:
        raise ConfigError(f"{where} returned a LossOutput whose total is not a scalar float tensor with gradients "
                          "or whose terms are not a dict of tensors; build it with LossOutput.from_terms({'main': "
                          "value}) from the codes it is given (docs/losses.md, 'Your own loss')")


def _vary(config: Config, dataset: data.DatasetEntry) -> tuple[str, tuple[str, ...]]:
    """The section of ``vary`` that the replicates of ``dataset`` read, and its sources: ``synthetic`` for a
    generated world, ``real`` otherwise."""
    return ("synthetic", config.vary.synthetic) if dataset.generated else ("real", config.vary.real)


def _check_replicates(config: Config) -> None:
    if config.replicates < 2:
        return
    used = dict(_vary(config, data.dataset_entry(name)) for name in config.datasets)
    for section in ("synthetic", "real"):
        if section in used and not used[section]:
            raise ConfigError(f"replicates: {config.replicates}, but vary.{section} is empty: the replicates of the "
                              f"{section} datasets would be the same run; vary at least one of its sources (e.g. init)")


def _check_datasets(config: Config) -> None:
    for name in config.datasets:
        if name not in data.dataset_names():
            hint = difflib.get_close_matches(name, data.dataset_names(), n=1)
            raise ConfigError(f"unknown dataset {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                              + f"; available: {', '.join(data.dataset_names())}")
    entries = [data.dataset_entry(name) for name in config.datasets]
    for entry in entries:
        if entry.generated and entry.check_options:  # the generated worlds take the configuration's knobs
            try:
                entry.check_options(**config.synthetic.knobs)
            except data.DataError as exc:
                raise ConfigError(f"synthetic.knobs: {exc}") from None
    for entry in entries:
        _check_split(config, entry)
    need = [entry.name for entry in entries if entry.needs_backbone]
    if need and config.run.backbone in (None, "synthetic"):
        raise ConfigError(f"dataset(s) {', '.join(need)} need a pretrained CLIP folder: give --backbone PATH "
                          "(e.g. a saved openai/clip-vit-base-patch32)")
    if config.run.backbone is None:
        raise ConfigError("'run.backbone' is not set: use 'synthetic' for the synthetic sets or give --backbone PATH")


def planned_split(config: Config, dataset: data.DatasetEntry) -> tuple[int | None, data.SplitSettings]:
    """``dataset``'s number of items when known before reading it (a generated world's, which ``synthetic.size``
    sets; else None), and the split ``config`` gives it."""
    n_items = (config.synthetic.size if dataset.generated else None) or dataset.size
    return n_items, data.split_settings(dataset.name, n_items, **asdict(config.run.split))


def _check_split(config: Config, dataset: data.DatasetEntry) -> None:
    """The split sizes of ``dataset`` checked now (so --dry-run catches them): against its size when known before
    reading it, else what does not depend on it."""
    from .data.splits import split_problem

    problem = split_problem(*planned_split(config, dataset), dataset.name)
    if problem:
        raise ConfigError(problem)


def _replicate_specs(config: Config, dataset: str, replicate: int) -> list[RunSpec]:
    """The runs of one replicate of ``dataset``: every loss (and reference) at every code length, all sharing
    the replicate's data, backbone and split, so that comparisons between losses are paired."""
    entry = data.dataset_entry(dataset)
    _, varied = _vary(config, entry)

    def step(source: str) -> int:
        return replicate if source in varied else 0

    split = replace(config.run.split, split_seed=config.run.split.split_seed + step("split"))
    settings = replace(config.run, split=split)
    data_options = replace(config.synthetic, seed=config.synthetic.seed + step("data"),
                           backbone_seed=config.synthetic.backbone_seed + step("backbone")) if entry.generated else None
    names = list(config.losses) + (references.rows_for(entry) if config.references else [])
    return [RunSpec(loss=name, dataset=dataset, bits=bits, replicate=replicate, seed=step("init"), varies=tuple(varied),
                    loss_params=dict(config.loss_params.get(name, {})), settings=settings, synthetic=data_options)
            for bits in config.bits for name in names]


def build_grid(config: Config) -> Grid:
    """Check ``config`` against the registry (with its plugins loaded), the datasets and this machine; its runs."""
    load_plugins(config.plugins)
    names = _check_losses(config)
    _check_datasets(config)
    _check_replicates(config)
    resolve_device(config.execution.device)
    if config.execution.log == "tensorboard" and importlib.util.find_spec("tensorboard") is None:
        raise ConfigError("--log tensorboard needs the tensorboard package: pip install 'xmhash-bench[tensorboard]' "
                          "(or pip install tensorboard)")
    settings = config.run
    if settings.backbone not in GENERATED_BACKBONES:
        settings = replace(settings, backbone=str(Path(settings.backbone).expanduser().resolve()))
    config = replace(config, losses=names, run=settings)
    specs = [spec for dataset in config.datasets for replicate in range(config.replicates)
             for spec in _replicate_specs(config, dataset, replicate)]
    return Grid(config, tuple(specs))
