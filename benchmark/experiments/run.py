"""The ``run`` experiment: what is pending of a grid (this shard's part), through an executor, with a line per run
and a summary; ``--dry-run`` prints the resolved configuration, what would stop the runs, and each run's status."""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import yaml

from .. import data, references
from ..backbones import backbone_problem
from ..config import GENERATED_BACKBONES, SELECTION_RULES
from ..data.splits import split_problem
from ..data.variants import VARIANTS, variant_differences
from ..errors import RecordError
from ..execution import Batch, Executor, RunContext, Task, execute_run, make_executor, shard_of
from ..files import sweep_leftovers
from ..grid import Grid, planned_split
from ..search import Waiting, search_groups
from ..store import RunStore, damaged_record, pid_alive
from .request import RunOptions


@dataclass(frozen=True)
class GridRun:
    """How ``run_grid`` ended: its exit ``status``, and whether every run it started has ended here (``finished``:
    not a dry run, and not left to jobs still queued), so that the records can be read now."""

    status: int
    finished: bool


class _UnchangedStore(RunStore):
    """The store as a dry run reads it, changing nothing: a damaged record is reported (status ``damaged``; a real
    run sets it aside and redoes its run), never set aside."""

    def status(self, run_id: str) -> str:
        record = self.folder(run_id) / self.RECORD
        return "damaged" if record.is_file() and damaged_record(record) else super().status(run_id)


def preflight_warnings(grid: Grid) -> list[str]:
    """What would stop the grid's runs that the configuration alone cannot tell: a backbone folder without
    config.json, tokenizer files or whole weights, a real dataset's missing files or image files, or a split its
    items cannot hold, or a set that is not the variant a preset assumes."""
    warnings = []
    backbone = grid.config.run.backbone
    problem = backbone_problem(backbone) if backbone not in GENERATED_BACKBONES else None
    if problem:
        warnings.append(problem)
    root = grid.config.execution.data_root
    for dataset in grid.config.datasets:
        if data.dataset_entry(dataset).files:
            folder = Path(root) / dataset if root else data.data_root() / dataset
            missing = data.missing_dataset_files(dataset, folder)
            if missing:
                variant = grid.config.preset.variant
                how = f" --variant {variant}" if variant not in (None, "official") else ""
                warnings.append(f"{dataset}: {folder} lacks {', '.join(missing)}; give --data-root, or build them "
                                f"with python -m benchmark prepare {dataset}{how} --raw DOWNLOAD --out {folder}")
            else:
                warnings += _dataset_warning(dataset, folder, grid.config)
    return warnings


def _dataset_warning(dataset: str, folder: Path, config) -> list[str]:
    """The one line a run would stop with when image files of real ``dataset`` are found nowhere (unless they are
    dropped), on any other problem reading its files, or when its items cannot hold the split; read now for
    --dry-run."""
    execution = config.execution
    try:
        found = data.load(dataset, root=folder, image_root=execution.image_root,
                          missing_images="drop" if execution.drop_missing_images else "error")
    except data.DataError as exc:
        return [str(exc)]
    problem = split_problem(len(found), data.default_split_settings(found, **asdict(config.run.split)), dataset)
    variant = config.preset.variant
    differences = [] if variant is None else variant_differences(
        dataset, variant, found.summary.get("variant"), found.summary.get("items_read"))
    return ([problem] if problem else []) + [
        f"{dataset} in {folder}: {why}; the preset assumes variant {variant} (python -m benchmark prepare "
        f"{dataset} --variant {variant})" for why in differences]


def resolved_yaml(grid: Grid) -> str:
    """The grid's configuration with every key as resolved (defaults, file, flags), as YAML."""
    return yaml.safe_dump(json.loads(json.dumps(grid.config.to_dict())), sort_keys=False)


def protocol_lines(grid: Grid) -> list[str]:
    """What the grid's runs will be measured under, for --dry-run: per dataset the query and training sizes and how
    they are drawn, then the metric and the selection rule."""
    config = grid.config
    lines = [f"protocol: {config.preset.source}" if config.preset.source else "protocol: this configuration's"]
    for dataset in config.datasets:
        _, split = planned_split(config, data.dataset_entry(dataset))
        drawn = (f"numpy's legacy generator, seed {split.split_seed}, as published code draws it"
                 if split.generator == "legacy" else f"seed {split.split_seed}")
        lines.append(f"  {dataset}: query {split.query_size}, train {split.train_size} ({drawn})")
    if config.preset.variant is not None:
        variant = VARIANTS[config.preset.variant]
        counts = ", ".join(f"{name} {variant.items[name]:,}" for name in config.datasets if name in variant.items)
        lines.append(f"  data: variant {variant.name}, {variant.description} ({counts} items; "
                     f"python -m benchmark prepare NAME --variant {variant.name})")
    lines += [f"  metric: {config.preset.metric} (report --metric {config.preset.metric})",
              f"  selection: {SELECTION_RULES[config.run.protocol]}"]
    return lines


def run_batch(executor: Executor, task: Task, specs: list, grid_id: str | None, unit: str, out) -> Batch:
    """``task`` of each of ``specs`` through ``executor``, printing what it left alone and how it ran them."""
    batch = executor.run(task, specs, grid_id, unit)
    for spec, why in batch.in_flight:
        print(f"in flight {spec.label}: {why}; not submitted again", file=out)
    if batch.note:
        print(batch.note, file=out)
    return batch


def run_grid(grid: Grid, context: RunContext, options: RunOptions = RunOptions(), out=None) -> GridRun:
    """Run what is pending of the grid (this shard's part of it): with an optimizer search (``search`` in the
    configuration), first the search trials of this shard's (loss, dataset) groups, then the runs of the settings
    they select, beside the reference rows."""
    out = out or sys.stdout  # looked up now: a default bound at import would keep a stream replaced since
    make_executor(options.executor, context)  # an unknown name stops here, before anything is read or run
    store = (_UnchangedStore if options.dry_run else RunStore)(context.results)
    groups = search_groups(grid)
    if options.dry_run:
        print(resolved_yaml(grid), file=out)
        print("\n".join(protocol_lines(grid)), file=out)
        for warning in preflight_warnings(grid):
            print(f"warning: {warning}", file=out)
    else:  # what writers killed half-way left (a dry run changes nothing)
        for folder in (context.cache, context.results):
            sweep_leftovers(folder, pid_alive)
    if not groups:
        mine = shard_of(grid.specs, *options.shard) if options.shard else list(grid.specs)
        return _run_part(mine, "runs", grid, context, options, store, out)
    mine = shard_of(groups, *options.shard) if options.shard else groups
    trials = [trial for group in mine for trial in group.trials()]
    searched = _run_part(trials, "search trials", grid, context, options, store, out, report=False)
    if not searched.finished:
        return searched
    runs, waiting = [], []
    for group in mine:
        try:
            choice = group.choose(store)
        except RecordError as exc:  # a damaged trial record, which a dry run leaves in place
            if not options.dry_run:
                raise
            choice = Waiting(str(exc))
        if isinstance(choice, Waiting):
            waiting.append(choice)
            print(f"not run yet, {group.label}: {choice.reason}", file=out)
            continue
        edge = " (at the edge of the searched learning rates)" if choice.at_edge else ""
        print(f"search {group.label}: {choice.selected.describe()} selected{edge}", file=out)
        runs += group.selected_runs(choice)
    rows = [spec for spec in grid.specs if references.row_kind(spec.loss) == "reference"]
    runs += shard_of(rows, *options.shard) if options.shard else rows
    status = _run_part(runs, "runs", grid, context, options, store, out)
    blocked = any(w.failed for w in waiting)  # a diverged trial is a result; another failure holds its group back
    return GridRun(max(status.status, int(blocked)), status.finished and not waiting)


def _run_part(mine: list, what: str, grid: Grid, context: RunContext, options: RunOptions, store: RunStore, out,
              report: bool = True) -> GridRun:
    """Run what is pending of ``mine`` (one part of the grid: its search trials, or its runs)."""
    shard = options.shard
    status = {spec.run_id: store.status(spec.run_id) for spec in mine}
    pending = [s for s in mine if options.force or status[s.run_id] != "done"]
    retried = sum(status[s.run_id] == "failed" for s in pending)
    rows = sum(references.row_kind(s.loss) == "reference" for s in pending)
    kinds = f" ({len(pending) - rows} training runs, {rows} reference rows)" if rows else ""
    where = f" in shard {shard[0]}/{shard[1]}" if shard else ""
    print(f"{what}: {len(mine) - len(pending)} done, {len(pending)} to run{kinds}{where}"
          + (f" ({retried} failed before, retried)" if retried else "") + f"; records in {store.root}", file=out)
    if options.dry_run:
        for spec in mine:
            print(f"  {status[spec.run_id]:<8} {spec.run_id}", file=out)
        return GridRun(0, finished=what != "runs")
    if not pending:
        if report:
            print(f"Nothing to run. Build the report: python -m benchmark report --results {context.results}", file=out)
        return GridRun(0, finished=True)
    store.write_grid(grid.id, {spec.run_id: spec.label for spec in mine})
    if options.force:  # redo what was done before this command, not what another identical command has just done
        context = replace(context, redo_before=time.time())
    batch = run_batch(make_executor(options.executor, context), execute_run, pending, grid.id, "run", out)
    if batch.outcomes is None:
        print("re-run this command once the jobs finish to see what is left", file=out)
        return GridRun(0, finished=False)
    failed = batch.failed
    done = sum(store.status(s.run_id) == "done" for s in mine)
    print(f"{done} of {len(mine)} {what} done{where}; records in {store.root}", file=out)
    busy = sum(o.status == "busy" for o in batch.outcomes)
    if busy:
        print(f"{busy} being run by another process (left to it; re-run this command once it finishes)", file=out)
    if failed:
        print(f"{len(failed)} failed (re-run the same command to retry them): "
              + ", ".join(str(store.folder(o.run_id) / store.FAILURE) for o in failed[:3])
              + (" ..." if len(failed) > 3 else ""), file=out)
    if report:
        print(f"Build the report: python -m benchmark report --results {context.results}", file=out)
    return GridRun(1 if failed else 0, finished=True)
