"""Run configurations: a YAML file of ``benchmark/configs/`` (or the user's) over ``default.yaml``, command-line
overrides over both, and the grid of runs the result defines.

``default.yaml`` lists every valid key; a key it does not have is an error naming the nearest valid one.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

import losses

from . import data

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
FREE_FORM = {"loss_params", "slurm"}  # dict-valued keys whose contents are not checked against default.yaml


class ConfigError(ValueError):
    """A configuration or command-line value that cannot be used; the message says which and why."""


def config_names() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def describe_configs() -> list[tuple[str, str]]:
    """(name, first comment line) of every packaged config."""
    rows = []
    for name in config_names():
        first = (CONFIG_DIR / f"{name}.yaml").read_text().splitlines()[0]
        rows.append((name, first.lstrip("# ").strip()))
    return rows


def read_yaml(path: Path) -> dict:
    try:
        content = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"config {path} is not valid YAML:{where} {problem}") from exc
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"config {path} must be a mapping of keys to values, got {type(content).__name__}")
    return content


def config_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    if name_or_path in config_names():
        return CONFIG_DIR / f"{name_or_path}.yaml"
    raise ConfigError(f"unknown config {name_or_path!r}; packaged configs: {', '.join(config_names())}, "
                      "or give the path of a .yaml file")


def _merge(base: dict, update: dict, where: str, prefix: str = "") -> dict:
    merged = dict(base)
    for key, value in update.items():
        if key not in base:
            hint = difflib.get_close_matches(str(key), list(base), n=1)
            raise ConfigError(f"unknown key '{prefix}{key}' in {where}"
                              + (f"; did you mean '{prefix}{hint[0]}'?" if hint else "")
                              + f" (valid keys: {', '.join(prefix + k for k in base)})")
        if isinstance(base[key], dict) and key not in FREE_FORM:
            if not isinstance(value, dict):
                raise ConfigError(f"'{prefix}{key}' in {where} must be a mapping of {', '.join(base[key])}")
            value = _merge(base[key], value, where, f"{prefix}{key}.")
        merged[key] = value
    return merged


def load_config(name_or_path: str = "default", overrides: dict | None = None) -> dict:
    """``default.yaml``, then the chosen config, then ``overrides`` (command-line values); validated."""
    config = read_yaml(CONFIG_DIR / "default.yaml")
    path = config_path(name_or_path)
    if path.resolve() != (CONFIG_DIR / "default.yaml").resolve():
        config = _merge(config, read_yaml(path), f"config {path}")
    config = _merge(config, {k: v for k, v in (overrides or {}).items() if v is not None}, "the command line")
    return validate(config)


def _positive_ints(name: str, value, minimum: int = 1) -> list[int]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in values):
        raise ConfigError(f"'{name}' must be a list of integers >= {minimum}, got {value!r}")
    return values


def _names(name: str, value) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v for v in values):
        raise ConfigError(f"'{name}' must be a list of names, got {value!r}")
    return values


def validate(config: dict) -> dict:
    """Check every value and normalise lists; ``losses: all`` becomes the five families."""
    config = dict(config)
    names = losses.available(variants=False) if config["losses"] == "all" else _names("losses", config["losses"])
    for name in names:
        try:
            losses.parameters(name)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
    config["losses"] = names
    config["datasets"] = _names("datasets", config["datasets"])
    for name in config["datasets"]:
        if name not in data.dataset_names():
            hint = difflib.get_close_matches(name, data.dataset_names(), n=1)
            raise ConfigError(f"unknown dataset {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                              + f"; available: {', '.join(data.dataset_names())}")
    config["bits"] = _positive_ints("bits", config["bits"])
    config["seeds"] = _positive_ints("seeds", config["seeds"], minimum=0)
    config["topk"] = _positive_ints("topk", config["topk"])
    for key in ("epochs", "batch_size", "max_text_len", "workers"):
        _positive_ints(key, config[key])
    for key, choices in (("protocol", ("honest", "paper")), ("mode", ("frozen", "finetune"))):
        if config[key] not in choices:
            raise ConfigError(f"'{key}' must be one of {', '.join(choices)}, got {config[key]!r}")
    real = [d for d in config["datasets"] if not d.startswith("synth-")]
    if real and config["backbone"] in (None, "synthetic"):
        raise ConfigError(f"dataset(s) {', '.join(real)} need a pretrained CLIP folder: give --backbone PATH "
                          "(e.g. a saved openai/clip-vit-base-patch32)")
    if config["backbone"] is None:
        raise ConfigError("'backbone' is not set: use 'synthetic' for the synthetic sets or give --backbone PATH")
    if not isinstance(config["loss_params"], dict):
        raise ConfigError("'loss_params' must map loss names to their parameters, e.g. {dcgh: {gamma: 0.5}}")
    for name, params in config["loss_params"].items():
        if name not in names:
            raise ConfigError(f"loss_params names loss {name!r}, which is not in this grid's losses "
                              f"({', '.join(names)})")
        if not isinstance(params, dict):
            raise ConfigError(f"loss_params.{name} must map parameter names to values")
        try:
            losses.build(name, 2, 8, **params)  # refuses unknown parameters and bad values, naming them
        except ValueError as exc:
            raise ConfigError(f"loss_params.{name}: {exc}") from exc
    return config


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines one run's result; ``run_id`` is derived from it."""

    loss: str
    dataset: str
    bits: int
    seed: int
    loss_params: dict
    protocol: str
    mode: str
    epochs: int
    batch_size: int
    backbone: str
    optimizer: dict
    split: dict
    synthetic: dict
    topk: tuple
    max_text_len: int

    @property
    def run_id(self) -> str:
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True, default=list).encode()).hexdigest()
        loss = re.sub(r"[^A-Za-z0-9-]+", "_", self.loss)
        return f"{self.dataset}-{self.bits}b-{loss}-s{self.seed}-{digest[:10]}"

    @property
    def label(self) -> str:
        return f"{self.loss} {self.dataset} {self.bits} bits seed {self.seed}"


def build_grid(config: dict) -> list[RunSpec]:
    """The runs of a validated config, ordered dataset, bits, loss, seed (so caches are built once per dataset)."""
    specs = []
    for dataset in config["datasets"]:
        synthetic = dict(config["synthetic"]) if dataset.startswith("synth-") else {}
        backbone = config["backbone"]
        if backbone != "synthetic":
            backbone = str(Path(backbone).expanduser().resolve())
        for bits in config["bits"]:
            for loss in config["losses"]:
                for seed in config["seeds"]:
                    specs.append(RunSpec(
                        loss=loss, dataset=dataset, bits=bits, seed=seed,
                        loss_params=dict(config["loss_params"].get(loss, {})), protocol=config["protocol"],
                        mode=config["mode"], epochs=config["epochs"], batch_size=config["batch_size"],
                        backbone=backbone, optimizer=dict(config["optimizer"]), split=dict(config["split"]),
                        synthetic=synthetic, topk=tuple(config["topk"]), max_text_len=config["max_text_len"]))
    return specs
