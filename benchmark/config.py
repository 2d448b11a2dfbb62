"""The run configuration: one schema of nested frozen dataclasses, read straight from YAML and overridden by
command-line flags, and the ``RunSpec`` of one run.

A configuration has three layers, each checked on its own so that an error names where it came from: the
schema's defaults (below), a YAML file (``benchmark/configs/NAME.yaml`` or the user's), and the command line.
An unknown key is an error naming the nearest valid key; a value of the wrong type or out of range is an
error naming the key, the value and what is allowed. Every key is documented in docs/configuration.md.

This module imports neither torch nor the loss registry, so that records (which hold a ``RunSpec``) can be read
anywhere; checking loss names and parameters against the registry is ``benchmark.grid``'s job.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
import types
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Literal, Union, get_args, get_origin, get_type_hints

from .data.synthetic import GENERATOR_VERSION as SYNTHETIC_GENERATOR_VERSION
from .errors import ConfigError, check_int, shown
from .yaml_input import read_yaml_file

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
ABLATION_DIR = CONFIG_DIR / "ablations"


def _bounds(low: float | None = None, high: float | None = None, *, low_open: bool = False,
            high_open: bool = False, why: str | None = None) -> dict:
    """Field metadata: the range a number (or each number of a tuple) must lie in, and why when it is not plain."""
    return {"bounds": (low, high, low_open, high_open), "why": why}


# The upper bounds of sizes: far above any sensible value, they stop a typo (1000000000 for 1000) before it
# exhausts memory or runs for months.
MAX_REPLICATES = _bounds(1, 1000, why="each replicate repeats every run of the grid")
MAX_EPOCHS = _bounds(1, 10_000, why="each epoch adds an entry to every run's record; published methods train "
                                    "for at most a few hundred")


# ------------------------------------------------------------------------------------------------ schema


@dataclass(frozen=True)
class OptimizerConfig:
    """AdamW over the hash heads (and the backbone when fine-tuning), with warmup then cosine decay."""

    head_lr: float = field(default=1e-3, metadata=_bounds(0, low_open=True))
    backbone_lr: float = field(default=1e-5, metadata=_bounds(0))
    weight_decay: float = field(default=0.2, metadata=_bounds(0))
    betas: tuple[float, float] = field(default=(0.9, 0.98), metadata=_bounds(0, 1, high_open=True))
    eps: float = field(default=1e-6, metadata=_bounds(0, low_open=True))
    warmup: float = field(default=0.1, metadata=_bounds(0, 1))
    grad_clip: float = field(default=1.0, metadata=_bounds(0, low_open=True))


@dataclass(frozen=True)
class SplitConfig:
    """How a dataset is split (docs/protocol.md): sizes, the permutation seed and the validation carve-out."""

    query_size: int | None = field(default=None, metadata=_bounds(1))
    train_size: int | None = field(default=None, metadata=_bounds(2))
    split_seed: int = field(default=1818, metadata=_bounds(0))
    val_fraction: float = field(default=0.1, metadata=_bounds(0, 1, low_open=True, high_open=True))
    val_max: int = field(default=1000, metadata=_bounds(1))
    generator: Literal["pcg64", "legacy"] = "pcg64"


#: ``run.backbone`` values that name no folder: a tiny CLIP pretrained on each synthetic set (``synthetic``), or a
#: tiny CLIP left at its random initialisation (``tiny``: ``backbones.tiny_backbone``), which runs any dataset's
#: whole pipeline in seconds to check it (a real set's files, loading, images, features), its numbers meaningless.
GENERATED_BACKBONES = ("synthetic", "tiny")


#: The selection protocols (``run.protocol``) in plain words, as captions and --dry-run state them.
SELECTION_RULES = {
    "honest": "the reported epoch is the one of best mean I→T and T→I mAP on a validation split held out of the "
              "training set; the query set is evaluated once, after training",
    "paper": "per direction the reported epoch is the one of best query-set mAP, as published code does "
             "(optimistic: the scored set chooses the epoch)",
    "paper-sum": "the reported epoch is the one of best query-set mAP of I→T plus T→I, as MITH's code saves its "
                 "model (optimistic: the scored set chooses the epoch)",
}


@dataclass(frozen=True)
class PresetConfig:
    """What a configuration that reproduces a published protocol declares about it (``benchmark/configs/dchmt.yaml``
    and the others; docs/protocols.md): its source, the metric its tables report (``report --metric``), the
    dataset variant it assumes (``data.variants``; ``prepare --variant``) and the image tower of its backbone as
    papers name it (``ViT-B/32``); None where it fixes none."""

    source: str | None = None
    metric: str = "map"
    variant: Literal["official", "mith"] | None = None
    backbone: str | None = None


@dataclass(frozen=True)
class RunSettings:
    """Everything besides the grid coordinates that shapes a run's result (all of it is in ``run_id``)."""

    protocol: Literal["honest", "paper", "paper-sum"] = "honest"
    mode: Literal["frozen", "finetune"] = "frozen"
    epochs: int = field(default=30, metadata=MAX_EPOCHS)
    eval_every: int = field(default=1, metadata=_bounds(1))
    batch_size: int = field(default=128, metadata=_bounds(1, 16_384, why="the pairwise losses hold batch x batch "
                                                         "matrices, 1 GiB each at 16384"))
    backbone: str | None = "synthetic"
    dropout: float = field(default=0.2, metadata=_bounds(0, 1, high_open=True))
    max_text_len: int = field(default=32, metadata=_bounds(2))
    topk: tuple[int, ...] = field(default=(1000, 5000), metadata=_bounds(1))
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    split: SplitConfig = field(default_factory=SplitConfig)


@dataclass(frozen=True)
class SyntheticConfig:
    """The synthetic sets: their size, generation seed and generator knobs (over each set's preset:
    docs/synthetic.md), and their backbone's pretraining seed and budget.

    In a ``RunSpec`` the seeds are the run's own (its replicate's, when the replicates vary them)."""

    size: int | None = field(default=None, metadata=_bounds(50, 200_000, why="the stand-ins go up to the largest "
                                                               "real set (NUS-WIDE: 195,834 pairs)"))
    seed: int = field(default=0, metadata=_bounds(0))
    knobs: dict = field(default_factory=dict)
    backbone_seed: int = field(default=0, metadata=_bounds(0))
    pretrain_steps: int = field(default=300, metadata=_bounds(1, 100_000, why="the default, 300, already fits "
                                                                   "the stand-ins"))


@dataclass(frozen=True)
class VaryConfig:
    """Which sources of variation each replicate draws anew, for synthetic and for real datasets.

    ``data``: a new generation seed; ``backbone``: a new pretraining seed of the synthetic backbone; ``split``: a new
    permutation; ``init``: a new seed for the heads' initialisation, dropout, batch order, proxies and centers.
    Replicate r adds r to the base seed of each source it varies; replicate 0 is the base configuration."""

    synthetic: tuple[Literal["data", "backbone", "split", "init"], ...] = field(
        default=("data", "backbone", "init"), metadata={"may_be_empty": True})
    real: tuple[Literal["split", "init"], ...] = field(default=("init",), metadata={"may_be_empty": True})


@dataclass(frozen=True)
class SlurmConfig:
    """How ``--executor slurm`` submits the pending runs through submitit (``benchmark.execution.SubmititExecutor``).

    ``cluster``: ``slurm`` (sbatch must exist here), or ``local``: submitit's local executor, the same jobs as
    processes on this machine, waited for (for testing a setup without a cluster). ``timeout_min``: each job's time
    limit; ``array_parallelism``: jobs running at once; ``partition``, ``gpus_per_node``, ``cpus_per_task``,
    ``mem_gb``: the job's resources (None: the cluster's defaults); ``prepare``: where the caches the runs share
    are built before any job is submitted, ``here`` or in one ``job``; ``wait``: wait for the jobs and print
    their outcomes (always for ``local``); ``parameters``: any other submitit parameter (``slurm_account``,
    ``slurm_constraint``, ...), checked by submitit before anything is submitted."""

    cluster: Literal["slurm", "local"] = "slurm"
    timeout_min: int = field(default=240, metadata=_bounds(1))
    array_parallelism: int = field(default=8, metadata=_bounds(1))
    partition: str | None = None
    gpus_per_node: int | None = field(default=None, metadata=_bounds(0))
    cpus_per_task: int | None = field(default=None, metadata=_bounds(1))
    mem_gb: int | None = field(default=None, metadata=_bounds(1))
    prepare: Literal["here", "job"] = "here"
    wait: bool = False
    parameters: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ExecutionConfig:
    """Where and how runs execute; none of it changes a result, so none of it is in ``run_id``."""

    data_root: str | None = None
    image_root: str | None = None
    drop_missing_images: bool = False
    device: str | None = field(default=None, metadata={"pattern": r"cpu|cuda(:\d+)?|mps"})
    workers: int | None = field(default=None, metadata=_bounds(1))
    threads: int | None = field(default=None, metadata=_bounds(1))
    loader_workers: int | None = field(default=None, metadata=_bounds(0))
    save_continuous: bool | None = None
    log: Literal["none", "tensorboard"] = "none"
    slurm: SlurmConfig = field(default_factory=SlurmConfig)


@dataclass(frozen=True)
class SearchConfig:
    """The optimizer search every loss of a grid gets before its runs (docs/protocol.md, "The optimizer search"):
    each setting of ``head_lr`` x ``weight_decay`` trains on the first ``replicates`` replicates of each (loss,
    dataset) — at the grid's middle code length, or at every code length with ``per_bits`` — and is scored on the
    validation split only; the setting with the best mean validation mAP is the one every replicate then runs.
    The loss's own parameters keep their values (the authors' defaults unless the configuration sets them)."""

    enabled: bool = True
    head_lr: tuple[float, ...] = field(default=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1),
                                       metadata=_bounds(0, low_open=True))
    weight_decay: tuple[float, ...] = field(default=(0.0, 0.2), metadata=_bounds(0))
    replicates: int = field(default=1, metadata=MAX_REPLICATES)
    per_bits: bool = False


@dataclass(frozen=True)
class Config:
    """A grid of runs: losses x datasets x bits x seeds, the settings they share, and where they execute."""

    losses: tuple[str, ...] = ("all",)
    loss_params: dict[str, dict] = field(default_factory=dict)
    plugins: tuple[str, ...] = field(default=(), metadata={"may_be_empty": True})
    datasets: tuple[str, ...] = ("synth-mirflickr25k", "synth-nuswide", "synth-coco")
    bits: tuple[int, ...] = field(default=(16, 32, 64), metadata=_bounds(1, 1024, why="published methods use 16 "
                                                                        "to 128 bits"))
    replicates: int = field(default=5, metadata=MAX_REPLICATES)
    vary: VaryConfig = field(default_factory=VaryConfig)
    references: bool = True
    run: RunSettings = field(default_factory=RunSettings)
    search: SearchConfig = field(default_factory=SearchConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    preset: PresetConfig = field(default_factory=PresetConfig)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ParameterSet:
    """Where a run's parameters come from when not from its configuration alone: a tuning trial, or a tuned set
    (``python -m benchmark tune``, then ``run --params``).

    Attributes:
        name: ``trial`` for a tuning or search trial; ``selected`` for a run of a searched grid (the setting its
            optimizer search chose: ``benchmark.search``); for a set run with ``--params``, its name (``tuned``, or
            the stem of the file given).
        defaults: every parameter the set gives — a loss parameter by its name (``margin``), a shared one by its
            configuration key (``run.optimizer.head_lr``) — with the value the run would have without the set (its
            configuration's, else the loss's default). The values the set gives are the run's own ``loss_params``
            and ``settings``; a report puts the run in its configuration with ``defaults``'s values.
        study: the Optuna study the parameters come from (None for a hand-written file), or the optimizer search
            (its name starts with ``search-``).
        trial: True for a tuning trial: the query set is never evaluated (docs/protocol.md).
        space: a trial's search space: per parameter ``low``, ``high`` and ``log``, or ``options`` (empty for a
            tuned set).
        trials, epochs: a tuned set's budget: the trials of its study and the epochs of each (None for a trial).
    """

    name: str
    defaults: dict
    study: str | None = None
    trial: bool = False
    space: dict = field(default_factory=dict)
    trials: int | None = field(default=None, metadata=_bounds(1, 10_000, why="each trial is a full run"))
    epochs: int | None = field(default=None, metadata=MAX_EPOCHS)

    @property
    def selected(self) -> bool:
        """A run of a searched grid: its optimizer setting is the one its grid's search selected."""
        return self.name == SELECTED

    @property
    def searched(self) -> bool:
        """A run or a trial of a grid's optimizer search (``benchmark.search``), not of ``tune``."""
        return (self.study or "").startswith(SEARCH_PREFIX)


#: The parameter set of a searched grid's runs, and the prefix of its searches' names (``benchmark.search``).
SELECTED = "selected"
SEARCH_PREFIX = "search-"
#: The configuration keys the optimizer search sets: the head learning rate, then the weight decay.
SEARCH_KEYS = ("run.optimizer.head_lr", "run.optimizer.weight_decay")


def at_search_edge(head_lr: float, searched) -> bool:
    """Whether ``head_lr`` is the smallest or the largest of the ``searched`` learning rates (of more than one): the
    search's range may then not hold that loss's optimum."""
    rates = sorted(searched)
    return len(rates) > 1 and head_lr in (rates[0], rates[-1])


@dataclass(frozen=True)
class RunSpec:
    """One run: its grid coordinates (loss, dataset, bits, replicate) and every setting that shapes its result;
    ``run_id`` is their hash.

    The seeds are the run's own: ``seed`` draws its initialisation (heads, dropout, batch order, proxies,
    centers), ``synthetic.seed`` and ``synthetic.backbone_seed`` its synthetic data and backbone, and
    ``settings.split.split_seed`` its split (``seeds`` gathers them); ``varies`` names the sources its replicate
    draws anew (replicate r adds r to their base seeds). ``loss_params`` are this loss's parameters
    only and ``synthetic`` is None for a real dataset, so a setting that cannot change a run's result never
    changes its id. ``parameter_set`` says where tuned parameters came from (None: the configuration's own; then it
    is left out of the id, so such runs keep the ids they had before tuning existed). A ``loss`` named ``ref:...``
    is a reference row (``benchmark.references``), not a loss.
    """

    loss: str
    dataset: str
    bits: int = field(metadata=_bounds(1))
    replicate: int = field(metadata=_bounds(0))
    seed: int = field(metadata=_bounds(0))
    varies: tuple[Literal["data", "backbone", "split", "init"], ...] = field(metadata={"may_be_empty": True})
    loss_params: dict
    settings: RunSettings
    synthetic: SyntheticConfig | None
    parameter_set: ParameterSet | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, content: Mapping, where: str) -> "RunSpec":
        return from_mapping(cls, content, where)

    @property
    def run_id(self) -> str:
        content = self.to_dict()
        if self.parameter_set is None:  # a run of its configuration's own parameters keeps the id it always had
            del content["parameter_set"]
        if self.settings.eval_every == 1:  # as every run evaluated before the key existed: those keep their ids
            del content["settings"]["eval_every"]
        if self.settings.split.generator == "pcg64":  # likewise for the split's generator
            del content["settings"]["split"]["generator"]
        if self.synthetic is not None:  # a new generator makes other data from the same seed: other runs
            content["synthetic_generator"] = SYNTHETIC_GENERATOR_VERSION
        digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
        loss = re.sub(r"[^A-Za-z0-9-]+", "_", self.loss)
        return f"{self.dataset}-{self.bits}b-{loss}-r{self.replicate}-{digest[:10]}"

    @property
    def label(self) -> str:
        tag = f" [{self.parameter_set.name}]" if self.parameter_set is not None else ""
        return f"{self.loss}{tag} {self.dataset} {self.bits} bits replicate {self.replicate}"

    @property
    def seeds(self) -> dict[str, int | None]:
        """The seed of each source of variation (data and backbone: None for a real dataset)."""
        synthetic = self.synthetic
        return {"data": synthetic.seed if synthetic else None,
                "backbone": synthetic.backbone_seed if synthetic else None,
                "split": self.settings.split.split_seed, "init": self.seed}

    @property
    def base_seeds(self) -> dict[str, int | None]:
        """The configuration's seed of each source: the run's own, less the replicate for the sources it varies."""
        return {source: seed - self.replicate if seed is not None and source in self.varies else seed
                for source, seed in self.seeds.items()}


@dataclass(frozen=True)
class Ablation:
    """An ablation experiment (``benchmark/configs/ablations/NAME.yaml``): losses compared to a reference."""

    description: str
    reference: str
    losses: tuple[str, ...]


# ------------------------------------------------------------------------------------ typed loading


def choices(cls: type, key: str) -> tuple[str, ...]:
    """The values a ``Literal`` key of the dataclass ``cls`` accepts (for command-line flags)."""
    return get_args(get_type_hints(cls)[key])


def schema_keys(cls: type = Config, prefix: str = "") -> list[str]:
    """Every key of the schema as a dotted path (``run.optimizer.head_lr``), nested sections included."""
    keys = []
    for f in fields(cls):
        keys.append(prefix + f.name)
        hint = get_type_hints(cls)[f.name]
        if is_dataclass(hint):
            keys += schema_keys(hint, f"{prefix}{f.name}.")
    return keys


#: Keys of earlier versions, and what replaced them.
RENAMED = {"seeds": "replicates"}


def _nearest_key(key: str, here: list[str]) -> str | None:
    """The valid key a misspelled ``key`` most likely meant: what replaced it, a key at the same level, else
    anywhere in the schema by its last part (``epochs`` at the top means ``run.epochs``)."""
    if key in RENAMED:
        return RENAMED[key]
    match = difflib.get_close_matches(key, here, n=1)
    if match:
        return match[0]
    leaf = key.rsplit(".", 1)[-1]
    by_leaf = {k.rsplit(".", 1)[-1]: k for k in schema_keys()}
    match = difflib.get_close_matches(leaf, list(by_leaf), n=1, cutoff=0.8)
    return by_leaf[match[0]] if match else None


def _check_bounds(key: str, value, where: str, metadata: Mapping) -> None:
    if "bounds" in metadata and value is not None:
        low, high, low_open, high_open = metadata["bounds"]
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            lower = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
            upper = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
            why = f"; {metadata['why']}" if metadata.get("why") else ""
            raise ConfigError(f"'{key}' in {where} must be {' and '.join(p for p in (lower, upper) if p)}, "
                              f"got {shown(value)}{why}")
    if "pattern" in metadata and value is not None and not re.fullmatch(metadata["pattern"], value):
        raise ConfigError(f"'{key}' in {where} must match {metadata['pattern']} (e.g. cpu, cuda, cuda:1), "
                          f"got {shown(value)}")


def _convert(hint, value, key: str, where: str, metadata: Mapping):
    """``value`` as the type ``hint`` says, or a ConfigError naming ``key``, the value and what is allowed."""
    origin, args = get_origin(hint), get_args(hint)
    if is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ConfigError(f"'{key}' in {where} must be a mapping of {', '.join(f.name for f in fields(hint))}, "
                              f"got {shown(value)}")
        return from_mapping(hint, value, where, f"{key}.")
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, key, where, metadata)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"'{key}' in {where} must be one of {', '.join(args)}, got {shown(value)}")
        return value
    if origin is tuple:
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        inner = [args[0]] * len(values) if args[1:] == (Ellipsis,) else list(args)
        if (not values and not metadata.get("may_be_empty")) or len(values) != len(inner):
            size = "a non-empty list" if args[1:] == (Ellipsis,) else f"a list of {len(inner)}"
            raise ConfigError(f"'{key}' in {where} must be {size}, got {shown(value)}")
        return tuple(_convert(t, v, key, where, metadata) for t, v in zip(inner, values))
    if hint is dict or origin is dict:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise ConfigError(f"'{key}' in {where} must be a mapping of names to values, got {shown(value)}")
        if args and args[1] is dict and not all(isinstance(v, Mapping) for v in value.values()):
            raise ConfigError(f"'{key}' in {where} must map each name to a mapping, e.g. {{dcgh: {{gamma: 0.5}}}}, "
                              f"got {shown(value)}")
        return json.loads(json.dumps(value))  # a deep, plain copy: the config never shares the caller's dicts
    if hint is int:  # every integer key has a lower bound
        check_int(f"'{key}' in {where}", value, minimum=metadata["bounds"][0])
    elif hint is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"'{key}' in {where} must be a number, got {shown(value)}")
        value = float(value)
    elif hint is str:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"'{key}' in {where} must be a non-empty string, got {shown(value)}")
    elif hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"'{key}' in {where} must be true or false, got {shown(value)}")
    _check_bounds(key, value, where, metadata)
    return value


def from_mapping(cls: type, values: Mapping, where: str, prefix: str = ""):
    """An instance of the dataclass ``cls`` from a (YAML) mapping: keys checked, values converted and checked;
    keys left out take the schema's defaults."""
    known = {f.name: f for f in fields(cls)}
    for key in values:
        if key not in known:
            hint = _nearest_key(f"{prefix}{key}", [prefix + k for k in known])
            raise ConfigError(f"unknown key '{prefix}{key}' in {where}" + (f"; did you mean '{hint}'?" if hint else "")
                              + f" (valid keys here: {', '.join(prefix + k for k in known)})")
    hints = get_type_hints(cls)
    return cls(**{name: _convert(hints[name], values[name], prefix + name, where, f.metadata)
                  for name, f in known.items() if name in values})


def _merge(base: Mapping, update: Mapping) -> dict:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            value = _merge(merged[key], value)
        merged[key] = value
    return merged


# ------------------------------------------------------------------------------------------ files


def set_nested(tree: dict, key: str | tuple[str, ...], value) -> None:
    """Set ``value`` at ``key`` of an overrides tree: dotted (``run.epochs``), or a tuple of parts (a loss name may
    hold a dot)."""
    *parents, leaf = key.split(".") if isinstance(key, str) else key
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value


def config_names() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def describe_configs() -> list[tuple[str, str]]:
    """(name, first comment line) of every packaged config."""
    return [(name, _first_comment(CONFIG_DIR / f"{name}.yaml")) for name in config_names()]


def _first_comment(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    return first.lstrip("# ").strip()


def read_yaml(path: Path) -> dict:
    content = read_yaml_file(path, f"config {path}", ConfigError)
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"config {path} must be a mapping of keys to values, got {type(content).__name__}")
    return content


def config_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if path.is_dir():
            raise ConfigError(f"config {path} is a folder; give the path of a .yaml file")
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    if name_or_path in config_names():
        return CONFIG_DIR / f"{name_or_path}.yaml"
    raise ConfigError(f"unknown config {name_or_path!r}; packaged configs: {', '.join(config_names())}, "
                      "or give the path of a .yaml file")


def load_config(name_or_path: str = "default", overrides: Mapping | None = None) -> Config:
    """The schema's defaults, then the config file, then ``overrides`` (nested, from the command line).

    Each layer is checked alone first, so an error names the file or the command line it came from.
    """
    path = config_path(name_or_path)
    layers = [(f"config {path}", read_yaml(path)), ("the command line", dict(overrides or {}))]
    merged: dict = {}
    for where, layer in layers:
        from_mapping(Config, layer, where)
        merged = _merge(merged, layer)
    return from_mapping(Config, merged, "the configuration")


def ablation_names() -> list[str]:
    return sorted(p.stem for p in ABLATION_DIR.glob("*.yaml"))


def load_ablation(name: str) -> Ablation:
    """The ablation experiment ``benchmark/configs/ablations/<name>.yaml``."""
    path = ABLATION_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown ablation {name!r}; defined: {', '.join(ablation_names())}")
    return from_mapping(Ablation, read_yaml(path), f"ablation {path}")
