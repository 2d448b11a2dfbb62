"""The ``tune`` experiment: equal-budget tuning on the validation split (docs/configuration.md, "Tuning").

Per (loss, dataset, bits) of a grid, one Optuna study searches the loss's declared ranges and the shared optimizer
parameters (``benchmark.parameters``) with a TPE sampler seeded from the configuration: every loss gets the same
number of trials of the same epochs; the first trial is the configuration's own parameters (the authors' defaults
unless the configuration changes them). A trial is a run like any other — a record in the store, resumable — on
replicate 0's data, backbone and split, whose protocol (``TrialProtocol``) chooses its epoch on the validation split
and never evaluates the query set; its score is that validation mAP.

Each study is one file under ``<results>/tuning/``: SQLite, or Optuna's journal file when tune runs in shards or
on Slurm (array tasks often share a network file system, where SQLite's locks are unreliable). A study is tuned by
one process at a time: it is claimed as a run is (``benchmark.store.claim``, by ``tuning/<study>.claim.json``), so
shards, workers and two ``tune`` commands on one folder split the studies, never a study, and a study claimed by a
live process is left to it (``busy``); no file has two writers. Its trials run one after the other, so the sampler
sees every earlier trial and a resumed study draws what an uninterrupted one would. A trial killed half-way is taken
up again with the same parameters (its run is skipped if its record exists); finished trials are never repeated.
Optuna is imported only here, and only when tuning.
"""
from __future__ import annotations

import hashlib
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import losses

from ..config import ParameterSet, RunSpec
from ..errors import ConfigError
from ..execution import Outcome, RunContext, execute_run, make_executor, shard_of
from ..grid import Grid
from ..parameters import (PARAMS_FILE, TunedEntry, current_values, entry_of, search_space, study_name,
                          with_parameters, write_parameters)
from ..report.tuned import is_trial, sensitivity_figures
from ..store import CLAIM, Claim, RunStore, claim, claim_holder_of, describe_holder
from .request import RunOptions
from .run import run_batch

#: Trials the TPE sampler draws at random before it models the results (the first, the defaults, counts).
STARTUP_TRIALS = 4
FOLDER = "tuning"


def require_optuna():
    """The optuna module, quiet; ConfigError saying how to install it when it is missing."""
    try:
        import optuna
    except ImportError:
        raise ConfigError("tune needs Optuna: pip install 'xmhash-bench[tune]' (or pip install 'optuna>=3.6,<5')") \
            from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


@dataclass(frozen=True)
class Study:
    """The study of one (loss, dataset, bits): ``base`` is replicate 0 of the cell with its configuration's
    parameters; ``space`` what is searched and ``defaults`` the value ``base`` has of each parameter."""

    base: RunSpec
    space: dict
    defaults: dict

    @classmethod
    def of(cls, base: RunSpec) -> "Study":
        space = search_space(base.loss)
        return cls(base, space, current_values(base, space))

    @property
    def name(self) -> str:
        return study_name(self.base, self.space, {"sampler": "TPE", "startup": STARTUP_TRIALS})

    @property
    def seed(self) -> int:
        """The sampler's seed: from the study's name, a hash of the configuration."""
        return int(hashlib.sha256(self.name.encode()).hexdigest()[:8], 16)

    def trial_spec(self, values: dict) -> RunSpec:
        """The run of a trial giving ``values``."""
        parameter_set = ParameterSet(name="trial", defaults=self.defaults, study=self.name, trial=True,
                                     space={key: asdict(value) for key, value in self.space.items()})
        return with_parameters(self.base, values, parameter_set, f"a trial of study {self.name}")


def studies_of(grid: Grid) -> list[Study]:
    """One study per (loss, dataset, bits) of the grid, in the grid's order."""
    if grid.config.run.protocol != "honest":
        raise ConfigError("tune chooses parameters on the validation split, as the honest protocol does: tune with "
                          "--protocol honest (the tuned parameters can then be run with any protocol)")
    return [Study.of(spec) for spec in grid.training_runs if spec.replicate == 0]


# ------------------------------------------------------------------------------------------------ storage


def _storage(optuna, folder: Path, name: str, journal: bool, create: bool = True):
    """The storage of study ``name``: its journal file or its SQLite file, whichever exists; a new study gets a
    journal when ``journal`` (shards, Slurm), else SQLite. None when neither exists and not ``create``."""
    database, log = folder / f"{name}.db", folder / f"{name}.journal"
    if not (create or database.is_file() or log.is_file()):
        return None
    folder.mkdir(parents=True, exist_ok=True)
    if log.is_file() or (journal and not database.is_file()):
        backend = getattr(optuna.storages, "journal", None)
        file_backend = (backend.JournalFileBackend(str(log)) if hasattr(backend, "JournalFileBackend")
                        else optuna.storages.JournalFileStorage(str(log)))  # Optuna 3
        return optuna.storages.JournalStorage(file_backend)
    return optuna.storages.RDBStorage(f"sqlite:///{database}")


def _close(storage) -> None:
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()


def _finished(optuna, study) -> list:
    """The trials that used the budget (complete or failed), in order; an interrupted trial whose parameters were
    not all drawn is marked pruned and does not count."""
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
    return sorted(study.get_trials(deepcopy=False, states=states), key=lambda t: t.number)


def _distribution(optuna, value):
    d = optuna.distributions
    if isinstance(value, losses.FloatRange):
        return d.FloatDistribution(value.low, value.high, log=value.log)
    if isinstance(value, losses.IntRange):
        return d.IntDistribution(value.low, value.high, log=value.log)
    return d.CategoricalDistribution(value.options)


def _describe(values: dict) -> str:
    return ", ".join(f"{k.rsplit('.', 1)[-1]}={v:.4g}" if isinstance(v, float) else f"{k.rsplit('.', 1)[-1]}={v}"
                     for k, v in values.items())


def _busy(name: str, claim_file: Path) -> Outcome:
    """The outcome of a study (or its trial's run) that another live process holds, left to it."""
    holder = claim_holder_of(claim_file)
    return Outcome(name, "busy", holder=describe_holder(holder) if holder else "another process")


def run_study(base: RunSpec, context: RunContext, grid_id: str | None = None, *, trials: int,
              journal: bool = False) -> Outcome:
    """Tune the study of ``base`` until ``trials`` trials are finished, under a claim on it; ``busy`` when another
    live process holds it."""
    study_def = Study.of(base)
    folder, claim_name = Path(context.results) / FOLDER, f"{study_def.name}.{CLAIM}"
    held = claim(folder, claim_name)
    if held is None:
        return _busy(study_def.name, folder / claim_name)
    with held:
        return _tune_claimed(study_def, held, context, grid_id, trials, journal)


def _tune_claimed(study_def: Study, held: Claim, context: RunContext, grid_id: str | None, trials: int,
                  journal: bool) -> Outcome:
    optuna = require_optuna()
    start = time.perf_counter()
    storage = _storage(optuna, Path(context.results) / FOLDER, study_def.name, journal)
    try:
        study = optuna.create_study(study_name=study_def.name, storage=storage, direction="maximize",
                                    load_if_exists=True)
        if not study.trials:
            study.enqueue_trial(study_def.defaults)
        distributions = {key: _distribution(optuna, value) for key, value in study_def.space.items()}
        store, trained = RunStore(context.results), 0
        while len(_finished(optuna, study)) < trials:
            running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
            if running:  # left by an interrupted tune: this process holds the study, so it takes it up again
                number, values = running[0].number, running[0].params
                if set(values) != set(distributions):
                    study.tell(number, state=optuna.trial.TrialState.PRUNED)
                    continue
            else:
                study.sampler = optuna.samplers.TPESampler(seed=study_def.seed + len(study.trials),
                                                           n_startup_trials=STARTUP_TRIALS)
                trial = study.ask(distributions)
                number, values = trial.number, trial.params
            spec = study_def.trial_spec(values)
            if not running:
                trial.set_user_attr("run_id", spec.run_id)
            if store.status(spec.run_id) != "done":
                if execute_run(spec, context, grid_id).status == "busy":  # its run is another process's: left to
                    return _busy(study_def.name, store.folder(spec.run_id) / CLAIM)  # it, the trial still running
                trained += 1
            if not held.held():  # taken over meanwhile (stale, from another host): its new holder tells the trial
                return _busy(study_def.name, held.path)
            if store.status(spec.run_id) == "done":
                score = store.read_record(spec.run_id).selection.score
                study.tell(number, score)
                print(f"trial {number + 1}/{trials} {spec.label}: validation mAP {score:.4f} ({_describe(values)})",
                      flush=True)
            else:
                study.tell(number, state=optuna.trial.TrialState.FAIL)
                print(f"trial {number + 1}/{trials} {spec.label}: FAILED (see {store.folder(spec.run_id)})",
                      flush=True)
        finished = _finished(optuna, study)[:trials]
    finally:
        _close(storage)
    complete = [t for t in finished if t.value is not None]
    seconds = time.perf_counter() - start
    if not complete:
        return Outcome(study_def.name, "failed", seconds,
                       error=f"all {len(finished)} trials failed (their failed.json say why)")
    best = max(complete, key=lambda t: (t.value, -t.number))
    return Outcome(study_def.name, "done", seconds,
                   summary=f"best validation mAP {best.value:.4f} at trial {best.number + 1} of {len(finished)} "
                           f"({trained} trained now)")


# ------------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class StudyResult:
    """What a study has found so far: its finished trials within the budget and the best of them."""

    study: Study
    finished: int
    best: TunedEntry | None


def study_result(optuna, study: Study, results: Path, trials: int, epochs: int) -> StudyResult:
    """The first ``trials`` finished trials of ``study`` and the best of them (None when there is none yet)."""
    storage = _storage(optuna, Path(results) / FOLDER, study.name, journal=False, create=False)
    if storage is None:
        return StudyResult(study, 0, None)
    try:
        try:
            loaded = optuna.load_study(study_name=study.name, storage=storage)
        except KeyError:
            return StudyResult(study, 0, None)
        finished = _finished(optuna, loaded)[:trials]
    finally:
        _close(storage)
    complete = [t for t in finished if t.value is not None]
    if not complete:
        return StudyResult(study, len(finished), None)
    best = max(complete, key=lambda t: (t.value, -t.number))
    first = next((t for t in complete if t.number == 0), None)
    base = study.base
    entry = entry_of(base.loss, base.dataset, base.bits, {key: best.params[key] for key in study.space},
                     study=study.name, trials=trials, epochs=epochs, validation_map=round(best.value, 6),
                     default_validation_map=round(first.value, 6) if first else None)
    return StudyResult(study, len(finished), entry)


def tune(grid: Grid, context: RunContext, *, trials: int, options: RunOptions = RunOptions(),
         params_file: Path | None = None, figures: Path | None = None, out=None) -> int:
    """Tune every study of ``grid`` (this shard's part) to ``trials`` trials, then write the best parameters of every
    study of the grid that has its budget into ``params_file`` (default ``<results>/tuned.yaml``) and, with
    ``figures``, the sensitivity figures of its trials there; the exit status. Prints to ``out`` (default: the
    standard output)."""
    out = out or sys.stdout
    optuna = require_optuna()
    if options.force:
        raise ConfigError(f"tune never repeats a finished trial; to tune afresh, delete {Path(context.results) / FOLDER}")
    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    executor = make_executor(options.executor, context)  # an unknown name stops here
    studies, shard = studies_of(grid), options.shard
    mine = shard_of(studies, *shard) if shard else studies
    epochs = grid.config.run.epochs
    status = {s.name: study_result(optuna, s, context.results, trials, epochs) for s in mine}
    pending = [s for s in mine if status[s.name].finished < trials]
    where = f" in shard {shard[0]}/{shard[1]}" if shard else ""
    folder = Path(context.results) / FOLDER
    print(f"{len(mine) - len(pending)} studies done, {len(pending)} to tune{where}: {trials} trials × {epochs} epochs "
          f"per (loss, dataset, bits), scored on validation mAP (Optuna TPE); studies in {folder}", file=out)
    if options.dry_run:
        for s in mine:
            print(f"  {status[s.name].finished:>3}/{trials} trials  {s.name}  "
                  f"searching {', '.join(s.space)}", file=out)
        return 0
    failed = []
    if pending:
        work = partial(run_study, trials=trials, journal=shard is not None or options.executor != "local")
        batch = run_batch(executor, work, [s.base for s in pending], None, "study", out)
        if batch.outcomes is None:  # jobs left to run
            print("run this command again once they finish to write the tuned parameters", file=out)
            return 0
        failed = batch.failed
    found = [study_result(optuna, s, context.results, trials, epochs) for s in studies]
    _write_best(found, trials, len(studies), context, params_file, out)
    if figures is not None:
        names = {study.name for study in studies}
        records = [r for r in RunStore(context.results).contents().records
                   if is_trial(r) and r.spec.parameter_set.study in names]
        for path in sensitivity_figures(records, figures):
            if path.suffix == ".png":
                print(f"wrote {path}", file=out)
    return 1 if failed else 0


def _write_best(found: list[StudyResult], trials: int, studies: int, context: RunContext, params_file: Path | None,
                out) -> None:
    """Write the best parameters of the studies that have their budget, and print them."""
    entries = [r.best for r in found if r.best is not None and r.finished >= trials]
    path = Path(params_file) if params_file is not None else Path(context.results) / PARAMS_FILE
    if entries:
        write_parameters(path, entries)
        print(f"wrote the best parameters of {len(entries)} studies to {path}; run them with: python -m benchmark "
              f"run --params {'tuned' if params_file is None else path} (same grid flags)", file=out)
    if len(entries) < studies:
        print(f"{studies - len(entries)} studies of the grid have not finished their {trials} trials (other "
              "shards or processes, or interrupted): run this command again to finish them and write their "
              "parameters", file=out)
    for result in found:
        if result.best is not None:
            best = result.best
            gain = (f" (defaults {best.default_validation_map:.4f})" if best.default_validation_map is not None
                    else "")
            print(f"  {best.loss:<14} {best.dataset} {best.bits} bits: validation mAP {best.validation_map:.4f}"
                  f"{gain}  {_describe(best.values())}", file=out)
