"""What several commands share: the run flags, and how they become a ``GridRequest`` and ``RunOptions``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from ..config import ExecutionConfig, RunSettings, choices, set_nested
from ..errors import ConfigError
from ..paths import DEFAULT_RESULTS
from ..yaml_input import parse_yaml, yaml_problem

#: The configuration key each run flag overrides.
FLAG_KEYS = {"losses": "losses", "plugins": "plugins", "datasets": "datasets", "bits": "bits",
             "replicates": "replicates", "epochs": "run.epochs", "protocol": "run.protocol", "mode": "run.mode",
             "backbone": "run.backbone", "data_root": "execution.data_root", "image_root": "execution.image_root",
             "drop_missing_images": "execution.drop_missing_images", "device": "execution.device",
             "workers": "execution.workers", "threads": "execution.threads", "log": "execution.log",
             "search": "search.enabled"}


def int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def name_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def selection_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that pick rows and columns of ``report`` and ``results`` (shorthand for ``--where``)."""
    parser.add_argument("--losses", type=name_list, help="only these losses (comma list; reference rows stay)")
    parser.add_argument("--families", type=name_list, help="only the losses of these families (comma list)")
    parser.add_argument("--datasets", type=name_list, help="only these datasets (comma list)")
    parser.add_argument("--bits", type=name_list, help="only these code lengths (comma list)")


def selected_where(args: argparse.Namespace) -> list[str]:
    """``--where`` conditions with the selection flags' added (``--losses a,b`` is ``--where loss=[a, b]``)."""
    where = list(args.where or [])
    for flag, key in (("losses", "loss"), ("families", "family"), ("datasets", "dataset"), ("bits", "bits")):
        values = getattr(args, flag, None)
        if values:
            where.append(f"{key}=[{', '.join(values)}]")
    return where


def results_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results folder (default: results/)")


def add_run_arguments(parser: argparse.ArgumentParser, losses: bool = True) -> None:
    """The flags of every command that runs a grid (run, ablate, stress, sweep, tune)."""
    parser.add_argument("--config", default="default", help="a packaged config name (list configs) or a YAML file")
    if losses:
        parser.add_argument("--losses", type=name_list, help="'all' (the six families) or a comma list: names, "
                            "variants, package.module:Class")
    parser.add_argument("--plugins", type=name_list, help="comma list of modules to import first, whose "
                        "@losses.register losses can then be named in --losses (also: the benchmark.losses entry points)")
    parser.add_argument("--datasets", type=name_list, help="comma list of datasets (list datasets)")
    parser.add_argument("--bits", type=int_list, help="comma list of code lengths, e.g. 16,32,64")
    parser.add_argument("--replicates", type=int, help="independent repetitions of each cell (default 3); what each "
                        "draws anew: the vary settings (docs/configuration.md)")
    parser.add_argument("--epochs", type=int, help="training epochs of every run")
    parser.add_argument("--no-search", dest="search", action="store_false", default=None,
                        help="run the configuration's own optimizer setting instead of selecting one per loss and "
                             "dataset by the optimizer search on validation (docs/protocol.md)")
    parser.add_argument("--protocol", choices=choices(RunSettings, "protocol"),
                        help="honest: epoch chosen on validation; paper: best query epoch per direction; paper-sum: "
                             "the epoch of the best query-set I->T + T->I (both optimistic)")
    parser.add_argument("--mode", choices=choices(RunSettings, "mode"),
                        help="frozen: heads on cached CLIP features; finetune: backbone and heads end to end")
    parser.add_argument("--backbone", help="a CLIP folder written by save_pretrained, an OpenAI checkpoint .pt, "
                        "'synthetic', or 'tiny' (a random tiny CLIP: checks a dataset's whole pipeline in seconds, "
                        "its numbers meaningless)")
    parser.add_argument("--data-root", help="folder holding one folder per real dataset")
    parser.add_argument("--image-root", help="re-root image paths of real datasets that no longer exist")
    parser.add_argument("--drop-missing-images", action="store_true", default=None,
                        help="drop the items of real datasets whose image file is found nowhere (counted in each "
                             "record) instead of stopping")
    results_argument(parser)
    parser.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available)")
    parser.add_argument("--workers", type=int, help="runs in parallel on this machine (default: one per core on the "
                        "CPU, one on a GPU)")
    parser.add_argument("--threads", type=int, help="threads of each run for a real CLIP's passes (default: the "
                        "worker's share of the cores; small work always runs on one thread)")
    parser.add_argument("--log", choices=choices(ExecutionConfig, "log"),
                        help="tensorboard: write each run's loss terms and mAP per epoch to <run>/tensorboard/")
    parser.add_argument("--shard", help="I/N: run only shard I of N (default under a Slurm array: the array task)")
    parser.add_argument("--executor", default="local",
                        help="where the runs execute: local (this machine; default) or slurm (the pending runs as one "
                             "job array through submitit, as execution.slurm says: docs/configuration.md), or a "
                             "registered backend")
    parser.add_argument("--force", action="store_true", help="redo finished runs")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and each run's status")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override any config key (docs/configuration.md), e.g. --set run.optimizer.head_lr=3e-4 "
                             "--set loss_params.dcgh.gamma=0.5; repeatable")


def overrides(args: argparse.Namespace) -> dict:
    """The configuration overrides of the flags, then of each ``--set key=value`` (a YAML value)."""
    tree: dict = {}
    for attr, key in FLAG_KEYS.items():
        if getattr(args, attr, None) is not None:
            set_nested(tree, key, getattr(args, attr))
    for item in args.set or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set takes KEY=VALUE (e.g. run.optimizer.head_lr=3e-4), got {item!r}")
        try:
            value = parse_yaml(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {item}: the value is not valid YAML ({yaml_problem(exc)})") from None
        set_nested(tree, key.strip(), value)
    return tree


def request_of(args: argparse.Namespace):
    """The ``GridRequest`` of the run flags."""
    from ..experiments import GridRequest

    return GridRequest(args.config, overrides(args), getattr(args, "params", None), args.results,
                       progress=not args.quiet and sys.stderr.isatty())


def options_of(args: argparse.Namespace):
    """The ``RunOptions`` of the run flags (the shard: --shard, else the Slurm array task's)."""
    from ..execution.shards import this_shard
    from ..experiments import RunOptions

    return RunOptions(force=args.force, shard=this_shard(args.shard), dry_run=args.dry_run, executor=args.executor)
