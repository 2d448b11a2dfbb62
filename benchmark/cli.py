"""The ``python -m benchmark`` command line. A ``UserError`` prints as one line and exits 2; anything else is
a bug and keeps its traceback."""
from __future__ import annotations

import argparse
import difflib
import errno
import sys
from pathlib import Path

import yaml

from . import data
from .config import ExecutionConfig, RunSettings, choices
from .errors import ConfigError, UserError
from .paths import DEFAULT_RESULTS, cache_dir

EPILOG_LIST = """examples:
  python -m benchmark list losses
  python -m benchmark list datasets --data-root /datasets
  python -m benchmark list configs
"""
EPILOG_RUN = """examples:
  python -m benchmark run --losses all                       # the default grid on the synthetic sets
  python -m benchmark run --losses dcgh,dcgh-novar --bits 64 --replicates 5
  python -m benchmark run --set run.optimizer.head_lr=3e-4 --set loss_params.dcgh.gamma=0.5
  python -m benchmark run --losses mypkg.losses:MyLoss,dcgh --datasets synth-coco
  python -m benchmark run --config paper --backbone ~/clip-vit-base-patch32 --data-root /datasets
  python -m benchmark run --losses all --dry-run             # the resolved config and each run's status
  python -m benchmark run --losses all --shard 0/4           # this process's quarter of the grid
  sbatch --array=0-7 job.sh                                  # job.sh: python -m benchmark run ... (shards itself)

Finished runs are skipped (their record.json exists); failed ones are retried; --force redoes them.
"""
EPILOG_REPORT = """examples:
  python -m benchmark report                                   # results/ -> reports/
  python -m benchmark report --results /shared/results --out paper/ --format latex
  python -m benchmark report --metric map_tie_aware
"""
EPILOG_ABLATE = """examples:
  python -m benchmark ablate variance                          # on the synthetic sets of the default config
  python -m benchmark ablate variance --bits 64 --replicates 5 --out reports/ablation
"""
EPILOG_STRESS = """examples:
  python -m benchmark stress cooccurrence=0,0.5,0.9 --datasets synth-coco --bits 32
  python -m benchmark stress dominant=0.3,0.55,0.8 --datasets synth-semantic-bias \\
      --losses dcgh,dcgh-novar,dcgh-labelvar --reference dcgh
"""
#: Trials per study of ``tune`` unless --trials says otherwise (small enough for a laptop).
DEFAULT_TRIALS = 8
EPILOG_TUNE = """examples:
  python -m benchmark tune --losses all --datasets synth-coco --bits 16          # 8 trials per loss
  python -m benchmark tune --losses dcgh,triplet --trials 20 --epochs 30
  python -m benchmark tune --losses all --shard 0/4                          # this process's quarter of the studies
  python -m benchmark run --params tuned --losses all --datasets synth-coco --bits 16   # then run the tuned grid

Finished trials are never repeated: the same command resumes; a larger --trials adds trials to every study.
"""
EPILOG_SWEEP = """examples:
  python -m benchmark sweep dcgh --param gamma=0,0.1,0.5,1,2 --datasets synth-coco --bits 32
  python -m benchmark sweep triplet --param margin=0.1,0.3,0.6 --replicates 5 --out reports/margin
"""
EPILOG_RESULTS = """examples:
  python -m benchmark results                                  # every run in results/
  python -m benchmark results --where run.protocol=paper --csv > paper_runs.csv
"""
EPILOG_DIAGNOSE = """examples:
  python -m benchmark diagnose                                 # every run in results/
  python -m benchmark diagnose --results /shared/results
"""
EPILOG_EXPORT = """examples:
  python -m benchmark export --run synth-coco-64b-dcgh-r0 --format mat
  python -m benchmark export --run synth-coco-64b-dcgh-r0-1a2b3c4d5e --format npz --out dcgh.npz
"""
EPILOG_PREPARE = """examples:
  python -m benchmark prepare mirflickr25k --raw ~/downloads/mirflickr25k --out data/mirflickr25k
  python -m benchmark prepare nuswide --raw ~/downloads/NUS-WIDE --out data/nuswide
  python -m benchmark prepare coco --raw ~/downloads/coco2017 --out data/coco

--raw holds the original download:
  mirflickr25k  mirflickr/im*.jpg, mirflickr25k_annotations_v080/*.txt, mirflickr/meta/tags/tags*.txt
  nuswide       the image folder, All_Tags.txt, Imagelist.txt, AllLabels/Labels_*.txt
  coco          train2017/, val2017/, annotations/instances_*.json, annotations/captions_*.json
"""


def _list_losses(args: argparse.Namespace) -> str:
    import losses

    from .grid import load_plugins

    load_plugins(args.plugins or ())
    def describe(entry, mark: str = " ") -> list[str]:
        cited = entry.citation.full if entry.citation else entry.source
        source = f" [{cited}]" if cited else ""
        params = ", ".join(f"{k}={v!r}" for k, v in losses.defaults(entry.name).items())
        return [f"  {mark} {entry.name:<{width}}{entry.description}{source}"] + (
            [f"    {'':<{width}}parameters: {params}"] if params else [])

    entries = losses.entries()
    width = max(len(e.name) for e in entries) + 2
    lines = ["Losses by family (* stands for its family in --losses all; --losses zoo runs every loss, "
             "--losses family:NAME a family's):"]
    for family in losses.families():
        lines.append(f"{family}:")
        for entry in sorted((e for e in entries if e.family == family and not e.is_variant),
                            key=lambda e: (not e.representative, e.name)):
            lines += describe(entry, "*" if entry.representative else " ")
    others = [e for e in entries if e.family is None and not e.is_variant]
    if others:
        lines.append("other registered losses:")
        for entry in others:
            lines += describe(entry)
    lines.append("Variants (ablations of a loss, with the parameters they fix):")
    for entry in (e for e in entries if e.is_variant):
        fixed = ", ".join(f"{k}={v!r}" for k, v in entry.fixed.items())
        lines.append(f"    {entry.name:<{width}}{entry.description} [{entry.base}: {fixed}]")
    lines.append("Your own loss: name it package.module:ClassName (a losses.HashingLoss subclass); parameters go in "
                 "loss_params (docs/losses.md)")
    return "\n".join(lines)


def _list_datasets(args: argparse.Namespace) -> str:
    rows = data.describe(args.data_root, cache_dir(args.results))
    width = max(len(r["name"]) for r in rows) + 2
    lines = [f"Datasets (real ones under {args.data_root or data.data_root()}/NAME, synthetic ones in "
             f"{cache_dir(args.results)}):"]
    for r in rows:
        lines.append(f"  {r['name']:<{width}}{r['classes']:>3} classes  {r['status']}")
        lines.append(f"  {'':<{width}}    {r['location']}  ({r['files']})")
    lines.append("Build a real one from its original download: python -m benchmark prepare NAME --raw DIR --out DIR")
    return "\n".join(lines)


def _list_configs(args: argparse.Namespace) -> str:
    from .config import CONFIG_DIR, describe_configs

    lines = [f"Configs (in {CONFIG_DIR}; --config NAME or --config path/to/file.yaml):"]
    lines += [f"  {name:<10}{description}" for name, description in describe_configs()]
    return "\n".join(lines)


LISTINGS = {"losses": _list_losses, "datasets": _list_datasets, "configs": _list_configs}


def _cmd_list(args: argparse.Namespace) -> int:
    print(LISTINGS[args.what](args))
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from .data.prepare import prepare

    summary = prepare(args.name, args.raw, args.out, drop_untagged=args.drop_untagged)
    print(f"{args.name}: kept {summary['kept']} of {summary['items_seen']} items; files written to {args.out}")
    for reason, count in summary["dropped"].items():
        print(f"  dropped {count}: {reason}")
    if "untagged" in summary:  # labelled items without tags: kept with an empty text unless --drop-untagged
        untagged = summary["untagged"]
        print(f"  labelled without tags: {untagged['kept']} kept (empty text), {untagged['dropped']} dropped"
              + ("" if args.drop_untagged else "; --drop-untagged drops them"))
    cardinality = summary["label_cardinality"]
    print(f"  labels per item: mean {cardinality['mean']}, min {cardinality['min']}, max {cardinality['max']}")
    print(f"Load it with: benchmark.data.load({args.name!r}, root={str(args.out)!r})")
    return 0


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _name_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


#: The configuration key each run flag overrides.
FLAG_KEYS = {"losses": "losses", "plugins": "plugins", "datasets": "datasets", "bits": "bits", "replicates": "replicates", "epochs": "run.epochs",
             "protocol": "run.protocol", "mode": "run.mode", "backbone": "run.backbone",
             "data_root": "execution.data_root", "image_root": "execution.image_root",
             "drop_missing_images": "execution.drop_missing_images", "device": "execution.device",
             "workers": "execution.workers", "threads": "execution.threads", "log": "execution.log"}


def _set_nested(tree: dict, key: str | tuple[str, ...], value) -> None:
    """Set ``value`` at ``key``: dotted (``run.epochs``), or a tuple of parts (a loss name may hold a dot)."""
    *parents, leaf = key.split(".") if isinstance(key, str) else key
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value


def _overrides(args: argparse.Namespace) -> dict:
    """The configuration overrides of the flags, then of each ``--set key=value`` (a YAML value)."""
    overrides: dict = {}
    for attr, key in FLAG_KEYS.items():
        if getattr(args, attr, None) is not None:
            _set_nested(overrides, key, getattr(args, attr))
    for item in args.set or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set takes KEY=VALUE (e.g. run.optimizer.head_lr=3e-4), got {item!r}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ConfigError(f"--set {item}: the value is not valid YAML") from None
        _set_nested(overrides, key.strip(), value)
    return overrides


def _grid_from_args(args: argparse.Namespace, along: tuple[tuple[str, ...], list] | None = None):
    """The grid of the flags (with ``--params``, given those parameters); with ``along`` (a configuration key as a
    tuple of parts, and its values), the grids at each value together, each run once."""
    import transformers

    from .config import load_config
    from .grid import Grid, build_grid
    from .runner import RunContext

    transformers.utils.logging.disable_progress_bar()  # our own bars show the progress of each step
    if along is None:
        grid = build_grid(load_config(args.config, _overrides(args)))
    else:
        key, values = along
        grids = []
        for value in values:
            overrides = _overrides(args)
            _set_nested(overrides, key, value)
            grids.append(build_grid(load_config(args.config, overrides)))
        real = [d for d in grids[0].config.datasets if not data.is_synthetic(d)]
        if key[:2] == ("synthetic", "knobs") and real:
            raise ConfigError(f"stress varies a knob of the synthetic sets; {', '.join(real)} is not one: give "
                              "--datasets synth-... (python -m benchmark list datasets)")
        specs = {spec.run_id: spec for g in grids for spec in g.specs}
        grid = Grid(grids[0].config, tuple(specs.values()))
    if getattr(args, "params", None):
        from .parameters import grid_with_parameters, parameters_path

        grid = grid_with_parameters(grid, *parameters_path(args.params, args.results))
    return grid, RunContext(results=args.results, execution=grid.config.execution, plugins=grid.config.plugins,
                            progress=not args.quiet and sys.stderr.isatty())


def _run(args: argparse.Namespace, grid, context) -> int:
    from .runner import parse_shard, run_grid, slurm_array_shard

    shard = parse_shard(args.shard) if args.shard else slurm_array_shard()
    return run_grid(grid, context, force=args.force, shard=shard, dry_run=args.dry_run, executor=args.executor)


def _cmd_run(args: argparse.Namespace) -> int:
    return _run(args, *_grid_from_args(args))


def _cmd_ablate(args: argparse.Namespace) -> int:
    from .config import load_ablation
    from .report import FORMATS, ablation_section
    from .report.records import tidy
    from .store import RunStore

    ablation = load_ablation(args.what)
    args.losses = list(ablation.losses)
    grid, context = _grid_from_args(args)
    status = _run(args, grid, context)
    if args.dry_run or args.executor == "slurm":
        return status
    ids = {spec.run_id for spec in grid.specs}
    records = [r for r in RunStore(args.results).contents().records if r.run_id in ids]
    section = ablation_section(records, tidy(records), args.out, FORMATS, ablation, args.what)
    if not section.tables:
        print(f"no ablation table: {section.markdown.strip()}", file=sys.stderr)
        return 1
    for path in section.tables + section.figures:
        print(f"wrote {path}")
    return status


def _name_values(text: str, command: str, placeholder: str, example: str, what: str, names: list[str],
                 where: str = "") -> tuple[str, list]:
    """``NAME=v1,v2,...`` as the name (one of ``names``, the valid ones) and its values (YAML scalars), each once."""
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not values.strip():
        raise ConfigError(f"{command} takes {placeholder}=V1,V2,... (e.g. {example}), got {text!r}")
    if name not in names:
        hint = difflib.get_close_matches(name, names, n=1)
        raise ConfigError(f"unknown {what} {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                          + f"; valid: {', '.join(names) or '(none)'}{where}")
    parsed = []
    for item in values.split(","):
        try:
            parsed.append(yaml.safe_load(item))
        except yaml.YAMLError:
            raise ConfigError(f"{command} {name}: value {item!r} is not valid YAML") from None
    if len(set(map(repr, parsed))) != len(parsed):
        raise ConfigError(f"{command} {name}: a value is given twice in {values!r}")
    return name, parsed


def _knob_values(text: str) -> tuple[str, list]:
    """``KNOB=v1,v2,...`` as the knob's name and its values (YAML scalars), checked against the generator's knobs."""
    from .data.synthetic import KNOBS

    return _name_values(text, "stress", "KNOB", "cooccurrence=0,0.5,0.9", "synthetic knob", list(KNOBS),
                        " (docs/synthetic.md)")


def _run_along(args: argparse.Namespace, key: tuple[str, ...], values: list, axis, reference: str | None = None) -> int:
    """Run the grid of the flags at each of ``values`` of the configuration ``key``, then write the table and
    figures of its records along ``axis`` (``benchmark.report.stress``) under ``--out``."""
    from .report.stress import write_stress_report
    from .store import RunStore

    grid, context = _grid_from_args(args, (key, values))
    status = _run(args, grid, context)
    if args.dry_run or args.executor == "slurm":
        return status
    ids = {spec.run_id for spec in grid.specs}
    records = [r for r in RunStore(args.results).contents().records if r.run_id in ids]
    diagnostics = [d.strip() for d in args.diagnostics.split(",") if d.strip()]
    for path in write_stress_report(records, axis, args.out, diagnostics, reference):
        print(f"wrote {path}")
    return status


def _cmd_stress(args: argparse.Namespace) -> int:
    from .report.stress import knob_axis

    knob, values = _knob_values(args.knob)
    return _run_along(args, ("synthetic", "knobs", knob), values, knob_axis(knob), args.reference)


def _cmd_sweep(args: argparse.Namespace) -> int:
    import losses

    from .grid import load_plugins
    from .report.stress import parameter_axis

    load_plugins(args.plugins or ())
    try:
        names = losses.parameters(args.loss)
    except losses.LossConfigError as exc:
        raise ConfigError(str(exc)) from None
    parameter, values = _name_values(args.param, "sweep", "PARAMETER", "gamma=0,0.5,1",
                                     f"parameter of loss {args.loss!r}", names, " (docs/losses.md)")
    args.losses = [args.loss]
    args.set = [*(args.set or []), "references=false"]  # a sweep draws the loss along its parameter only
    return _run_along(args, ("loss_params", args.loss, parameter), values, parameter_axis(args.loss, parameter))


def _cmd_tune(args: argparse.Namespace) -> int:
    from .report.tuning import is_trial, sensitivity_figures
    from .runner import parse_shard, slurm_array_shard
    from .store import RunStore
    from .tuning import studies_of, tune

    if args.force:
        raise ConfigError(f"tune never repeats a finished trial; to tune afresh, delete {args.results / 'tuning'}")
    grid, context = _grid_from_args(args)
    shard = parse_shard(args.shard) if args.shard else slurm_array_shard()
    status = tune(grid, context, trials=args.trials, shard=shard, executor=args.executor, dry_run=args.dry_run,
                  params_file=args.params_file)
    if args.dry_run or args.executor == "slurm":
        return status
    names = {study.name for study in studies_of(grid)}
    trials = [r for r in RunStore(args.results).contents().records
              if is_trial(r) and r.spec.parameter_set.study in names]
    for path in sensitivity_figures(trials, args.out / "figures"):
        if path.suffix == ".png":
            print(f"wrote {path}")
    return status


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import build_report

    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    report = build_report(args.results, args.out, formats, args.metric, args.where or [], args.decimals,
                          args.published)
    for reason in report.skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    print(f"wrote {len(report.tables)} table files and {len(report.figures)} figure files under {args.out}")
    print(f"index: {report.index}")
    return 0


def _cmd_results(args: argparse.Namespace) -> int:
    from .report.selection import runs_table, select
    from .store import RunStore

    contents = RunStore(args.results).contents()
    where = args.where or []
    chosen = {id(item) for item in select([*contents.records, *contents.failures], where)}
    table = runs_table([r for r in contents.records if id(r) in chosen], [f for f in contents.failures if id(f) in chosen])
    for reason in contents.unreadable:
        print(f"skipped: {reason}", file=sys.stderr)
    if args.csv:
        print(table.to_csv(index=False, float_format="%.4f"), end="")
    else:
        with pd_display():
            print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}") if len(table) else
                  f"no runs in {args.results}")
    return 0


def pd_display():
    import pandas as pd

    return pd.option_context("display.width", 250, "display.max_columns", None, "display.max_colwidth", 60)


def _cmd_diagnose(args: argparse.Namespace) -> int:
    from .diagnose import diagnose

    outcome = diagnose(args.results)
    for reason in outcome.skipped:
        print(f"skipped {reason}", file=sys.stderr)
    print(f"recomputed the diagnostics of {len(outcome.updated)} runs in {args.results}"
          + (f"; {len(outcome.skipped)} skipped" if outcome.skipped else ""))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .codes import export
    from .store import RunStore

    store = RunStore(args.results)
    matches = sorted(p.name for p in store.root.glob(f"{args.run}*") if (p / "record.json").is_file())
    if len(matches) != 1:
        found = f"{len(matches)} match: {', '.join(matches[:5])}" if matches else "none matches"
        raise ConfigError(f"--run {args.run!r} must name one finished run in {store.root} ({found}); "
                          "see the folder names there")
    out = args.out or Path(f"{matches[0]}.{args.format}")
    print(f"wrote {export(store.folder(matches[0]), out, args.format)}")
    return 0


def _add_run_arguments(parser: argparse.ArgumentParser, losses: bool = True) -> None:
    parser.add_argument("--config", default="default", help="a packaged config name (list configs) or a YAML file")
    if losses:
        parser.add_argument("--losses", type=_name_list, help="'all' (the five families) or a comma list: names, "
                            "variants, package.module:Class")
    parser.add_argument("--plugins", type=_name_list, help="comma list of modules to import first, whose "
                        "@losses.register losses can then be named in --losses (also: the benchmark.losses entry points)")
    parser.add_argument("--datasets", type=_name_list, help="comma list of datasets (list datasets)")
    parser.add_argument("--bits", type=_int_list, help="comma list of code lengths, e.g. 16,32,64")
    parser.add_argument("--replicates", type=int, help="independent repetitions of each cell (default 3); what each "
                        "draws anew: the vary settings (docs/configuration.md)")
    parser.add_argument("--epochs", type=int, help="training epochs of every run")
    parser.add_argument("--protocol", choices=choices(RunSettings, "protocol"),
                        help="honest: epoch chosen on validation; paper: best query epoch per direction (optimistic)")
    parser.add_argument("--mode", choices=choices(RunSettings, "mode"),
                        help="frozen: heads on cached CLIP features; finetune: backbone and heads end to end")
    parser.add_argument("--backbone", help="a CLIP folder written by save_pretrained, an OpenAI checkpoint .pt, or "
                        "'synthetic'")
    parser.add_argument("--data-root", help="folder holding one folder per real dataset")
    parser.add_argument("--image-root", help="re-root image paths of real datasets that no longer exist")
    parser.add_argument("--drop-missing-images", action="store_true", default=None,
                        help="drop the items of real datasets whose image file is found nowhere (counted in each "
                             "record) instead of stopping")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results folder (default: results/)")
    parser.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available)")
    parser.add_argument("--workers", type=int, help="runs in parallel on this machine (default: one per core on the "
                        "CPU, one on a GPU)")
    parser.add_argument("--threads", type=int, help="threads of each run for a real CLIP's passes (default: the "
                        "worker's share of the cores; small work always runs on one thread)")
    parser.add_argument("--log", choices=choices(ExecutionConfig, "log"),
                        help="tensorboard: write each run's loss terms and mAP per epoch to <run>/tensorboard/")
    parser.add_argument("--shard", help="I/N: run only shard I of N (default under a Slurm array: the array task)")
    parser.add_argument("--executor", choices=["local", "slurm"], default="local",
                        help="slurm: submit the pending runs as one job array through submitit, as "
                             "execution.slurm says (docs/configuration.md)")
    parser.add_argument("--force", action="store_true", help="redo finished runs")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and each run's status")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override any config key (docs/configuration.md), e.g. --set run.optimizer.head_lr=3e-4 "
                             "--set loss_params.dcgh.gamma=0.5; repeatable")


def _subcommand(sub, name: str, func, *, help: str, description: str, epilog: str) -> argparse.ArgumentParser:
    """A subcommand running ``func(args)``, whose --help shows ``epilog`` (its examples) as written."""
    parser = sub.add_parser(name, help=help, description=description, epilog=epilog,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(func=func)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark",
        description="Benchmark of hashing losses for cross-modal (image-text) retrieval.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p_list = _subcommand(
        sub, "list", _cmd_list,
        help="list what the suite knows (registered losses, ...)",
        description="List what the suite knows.",
        epilog=EPILOG_LIST,
    )
    p_list.add_argument("what", choices=sorted(LISTINGS), help="what to list")
    p_list.add_argument("--data-root", type=Path, default=None,
                        help="folder holding one folder per real dataset (default $BENCHMARK_DATA_ROOT or ./data)")
    p_list.add_argument("--plugins", type=_name_list, help="modules to import first (their losses are listed too)")
    p_list.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                        help="results folder whose cache holds the synthetic sets (default: results/)")

    p_run = _subcommand(
        sub, "run", _cmd_run,
        help="train and evaluate a grid of losses x datasets x bits x replicates (resumable)",
        description="Train and evaluate every run of a grid. Values come from default.yaml, then --config, "
                    "then these flags.",
        epilog=EPILOG_RUN,
    )
    _add_run_arguments(p_run)
    p_run.add_argument("--params", metavar="tuned|FILE.yaml",
                       help="run with tuned parameters: 'tuned' (<results>/tuned.yaml, written by tune) or a file "
                            "of the same layout; each record names the set it used")

    p_report = _subcommand(
        sub, "report", _cmd_report,
        help="build tables, figures and an index from the run records",
        description="Load every run record into one tidy table and write paper-style tables (LaTeX, Markdown, "
                    "CSV), PR / precision@N / training figures (PNG, PDF) and README.md indexing them.",
        epilog=EPILOG_REPORT,
    )
    p_report.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results folder (default: results/)")
    p_report.add_argument("--out", type=Path, default=Path("reports"), help="output folder (default: reports/)")
    p_report.add_argument("--format", default="latex,markdown,csv", help="comma list of latex, markdown, csv")
    p_report.add_argument("--metric", default="map", help="map (default), map_tie_aware, map_best, map_worst, map@K")
    p_report.add_argument("--where", action="append", metavar="KEY=VALUE",
                          help="report the runs with this configuration value (run.protocol=paper, epochs=50) or loss "
                               "parameter (dcgh.gamma=0.5); repeatable. By default the configuration with the most "
                               "runs; the index lists the others")
    p_report.add_argument("--decimals", type=int, choices=(3, 4), default=3,
                          help="decimals of the numbers in the LaTeX and Markdown tables (default 3: a LaTeX table of "
                               "3 datasets x 3 code lengths with intervals fits a two-column page; 4 does not)")
    p_report.add_argument("--published", type=Path, metavar="FILE.yaml",
                          help="add rows quoting published numbers from this YAML file (a list of entries: method, "
                               "source, dataset, task, bits, value; docs/protocol.md, Reports)")

    from .config import ablation_names, load_ablation

    p_ablate = _subcommand(
        sub, "ablate", _cmd_ablate,
        help="run an ablation grid and write its table and figure",
        description="Run an ablation grid (benchmark/configs/ablations/NAME.yaml) through the same runner as `run` "
                    "(resumable, same --results), then write its table and figure. "
                    + " ".join(f"{name}: {', '.join(load_ablation(name).losses)}." for name in ablation_names()),
        epilog=EPILOG_ABLATE,
    )
    p_ablate.add_argument("what", choices=ablation_names(), help="which ablation")
    _add_run_arguments(p_ablate, losses=False)
    p_ablate.add_argument("--out", type=Path, default=Path("reports"), help="output folder (default: reports/)")
    p_ablate.set_defaults(losses=None)

    from .report.stress import DEFAULT_DIAGNOSTICS

    p_stress = _subcommand(
        sub, "stress", _cmd_stress,
        help="run the grid along the values of one synthetic knob and draw each loss's mAP and diagnostics against it",
        description="Run the grid once per value of one knob of the synthetic generator (docs/synthetic.md), "
                    "replicated and resumable through the same runner as `run` (same --results), then write a table "
                    "and one figure per dataset x bits of each loss's mAP and chosen diagnostics (mean ± 95% CI over "
                    "replicates) against the knob.",
        epilog=EPILOG_STRESS,
    )
    p_stress.add_argument("knob", metavar="KNOB=V1,V2,...", help="a synthetic knob and its values, e.g. cooccurrence=0,0.5,0.9")
    _add_run_arguments(p_stress)
    p_stress.add_argument("--out", type=Path, default=Path("reports/stress"), help="output folder (default: reports/stress/)")
    p_stress.add_argument("--diagnostics", default=",".join(DEFAULT_DIAGNOSTICS),
                          help=f"comma list of diagnostics to draw (docs/diagnostics.md); default {','.join(DEFAULT_DIAGNOSTICS)}")
    p_stress.add_argument("--reference", metavar="LOSS",
                          help="also tabulate each loss's paired difference to this one (paired t-test, Holm)")

    p_tune = _subcommand(
        sub, "tune", _cmd_tune,
        help="tune every loss's parameters on the validation split with the same budget (Optuna), resumable",
        description="Per (loss, dataset, bits) of the grid, an Optuna study (TPE, seeded from the configuration) of "
                    "the loss's declared search space and the shared optimizer parameters: the same --trials trials "
                    "of the same epochs for every loss, the first being the defaults, each scored on validation mAP "
                    "(the query set is never evaluated). Trials are runs in the same store; studies persist under "
                    "<results>/tuning/. Writes the best parameters to <results>/tuned.yaml (run them with run "
                    "--params tuned) and the sensitivity figures to --out.",
        epilog=EPILOG_TUNE,
    )
    _add_run_arguments(p_tune)
    p_tune.add_argument("--trials", type=int, default=DEFAULT_TRIALS,
                        help=f"trials per (loss, dataset, bits), the defaults included (default {DEFAULT_TRIALS})")
    p_tune.add_argument("--params-file", type=Path, help="where to write the best parameters (default: "
                        "<results>/tuned.yaml; entries of other losses, datasets or bits in it are kept)")
    p_tune.add_argument("--out", type=Path, default=Path("reports/tuning"),
                        help="folder of the sensitivity figures (default: reports/tuning/)")

    p_sweep = _subcommand(
        sub, "sweep", _cmd_sweep,
        help="run one loss along the values of one of its parameters and draw its mAP against it",
        description="Run the grid of one loss once per value of one of its parameters (replicated and resumable "
                    "through the same runner as `run`, same --results; no reference rows), then write a table and one "
                    "figure per dataset x bits of its query-set mAP (mean ± 95% CI over replicates) against the "
                    "parameter: the parameter-sensitivity figure of papers.",
        epilog=EPILOG_SWEEP,
    )
    p_sweep.add_argument("loss", help="a loss (list losses), variant or package.module:Class")
    p_sweep.add_argument("--param", required=True, metavar="NAME=V1,V2,...",
                         help="the parameter and its values, e.g. gamma=0,0.1,0.5,1,2")
    _add_run_arguments(p_sweep, losses=False)
    p_sweep.add_argument("--out", type=Path, default=Path("reports/sweep"),
                         help="output folder (default: reports/sweep/)")
    p_sweep.add_argument("--diagnostics", default="",
                         help="comma list of diagnostics to draw beside the mAP (docs/diagnostics.md); default none")

    p_results = _subcommand(
        sub, "results", _cmd_results,
        help="list the runs in a results folder: their settings that differ, status and headline mAP",
        description="A table of the finished and failed runs in a results folder: loss (with its parameters), "
                    "dataset, bits, replicate, status, I->T and T->I mAP, and every configuration key whose value "
                    "differs between the runs listed, so that what a report would put together is visible first.",
        epilog=EPILOG_RESULTS,
    )
    p_results.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results folder (default: results/)")
    p_results.add_argument("--where", action="append", metavar="KEY=VALUE", help="only these runs (as for report)")
    p_results.add_argument("--csv", action="store_true", help="print CSV instead of a table")

    p_diagnose = _subcommand(
        sub, "diagnose", _cmd_diagnose,
        help="recompute the code-space diagnostics of stored runs from the codes they kept",
        description="Recompute the diagnostics (docs/diagnostics.md) of every run in a results folder from the files "
                    "it kept (codes.npz, and continuous.npz for the quantization gap), after checking them against "
                    "their records' hashes; the records are rewritten in place.",
        epilog=EPILOG_DIAGNOSE,
    )
    p_diagnose.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results folder (default: results/)")

    p_export = _subcommand(
        sub, "export", _cmd_export,
        help="write a run's codes and labels as the field's PR-curve scripts read them (.mat or .npz)",
        description="Write the query and retrieval codes (q_img, q_txt, r_img, r_txt: +-1, float32, one row per item) "
                    "and labels (q_l, r_l: 0/1 float32) of one run, the layout published cross-modal hashing code "
                    "saves and its PR-curve and mAP scripts read.",
        epilog=EPILOG_EXPORT,
    )
    p_export.add_argument("--run", required=True, help="the run's id (its folder name), or a prefix of it naming one run")
    p_export.add_argument("--format", choices=["mat", "npz"], default="mat", help="MATLAB .mat (default) or numpy .npz")
    p_export.add_argument("--out", type=Path, help="output file (default: ./<run_id>.<format>)")
    p_export.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results folder (default: results/)")

    p_prepare = _subcommand(
        sub, "prepare", _cmd_prepare,
        help="build a dataset's index/label/caption files from its original download",
        description="Build index.mat, label.mat and caption.mat (caption.txt for nuswide) from the original "
                    "download of a dataset, with a summary of the items kept and dropped.",
        epilog=EPILOG_PREPARE,
    )
    p_prepare.add_argument("name", choices=["mirflickr25k", "nuswide", "coco"], help="the dataset")
    p_prepare.add_argument("--raw", type=Path, required=True, help="folder of the original download")
    p_prepare.add_argument("--out", type=Path, required=True, help="folder to write the files into")
    p_prepare.add_argument("--drop-untagged", action="store_true",
                           help="mirflickr25k: drop labelled images without tags (kept with an empty text by default, "
                                "as the released data scripts of the DCMH/DCHMT code do)")
    return parser


#: What the file system answers when a folder the user gave cannot be used (read-only, a file, full, missing).
OS_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR,
             errno.ENOENT, errno.EEXIST}


def os_error_line(exc: OSError) -> str | None:
    """One line for a file-system error caused by a path or folder the user gave (naming it and what to do), or
    None for any other OSError (a bug: it keeps its traceback)."""
    if exc.errno not in OS_ERRNOS or exc.filename is None:
        return None
    return (f"cannot use {exc.filename}: {exc.strerror}; check that --results / --out (and --data-root, the cache "
            "folder $BENCHMARK_CACHE) name folders that exist, are folders and that you can write to")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:  # errors a user can cause carry a message that says what to do
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        message = os_error_line(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished runs are kept; run the same command again to do the rest", file=sys.stderr)
        return 130
