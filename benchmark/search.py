"""The optimizer search of a grid (docs/protocol.md, "The optimizer search"): every loss gets the same deterministic
grid of head learning rates x weight decays (``search`` in the configuration), each setting trained on the first
replicates of each (loss, dataset) and scored on the validation split only; the setting with the best mean
validation mAP is then what every replicate of that (loss, dataset) runs.

A search trial is a run like any other (a record, resumable, sharded, on any executor) whose protocol never looks at
the query set (``TrialProtocol``); the grid's runs get the selected values as a parameter set named ``selected``
(``spec.parameter_set``), which keeps them in their configuration and their loss's row of its table whatever
learning rate each loss selected. A setting whose trial diverged is not selectable; a trial that failed otherwise
holds its (loss, dataset) back until a re-run finishes it, so a selection never changes once made.
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import SEARCH_KEYS as KEYS
from .config import SEARCH_PREFIX, SELECTED, ParameterSet, RunSpec, at_search_edge
from .grid import Grid
from .parameters import current_values, study_name, with_parameters
from .store import RunStore

#: ``error_type`` of a trial whose loss diverged: the setting is unusable, not the trial unfinished.
DIVERGED = "TrainingDiverged"


@dataclass(frozen=True)
class Setting:
    """One point of the search: its values by configuration key, and its trials (one per searched replicate)."""

    values: dict
    trials: tuple[RunSpec, ...]

    def describe(self) -> str:
        return ", ".join(f"{key.rsplit('.', 1)[-1]}={value:g}" for key, value in self.values.items())


@dataclass(frozen=True)
class Choice:
    """What the search of a group found: each setting's mean validation mAP (None: it diverged), the selected
    setting, and whether it lies at an edge of the searched learning rates."""

    scores: tuple[float | None, ...]
    selected: Setting
    at_edge: bool


@dataclass(frozen=True)
class Waiting:
    """Why a group has no choice yet: a trial not run (or being run elsewhere), or one that ``failed`` otherwise
    than by diverging (re-run to retry it)."""

    reason: str
    failed: bool = False


@dataclass(frozen=True)
class SearchGroup:
    """The (loss, dataset, bits) one setting is chosen for (``bits`` is None when one search serves every code
    length): its study name, its settings with their trials, and the grid's runs it decides."""

    loss: str
    dataset: str
    bits: int | None
    name: str
    space: dict
    settings: tuple[Setting, ...]
    runs: tuple[RunSpec, ...]

    @property
    def label(self) -> str:
        at = f" at {self.bits} bits" if self.bits is not None else ""
        return f"{self.loss} on {self.dataset}{at}"

    def trials(self) -> list[RunSpec]:
        return [trial for setting in self.settings for trial in setting.trials]

    def choose(self, store: RunStore) -> Choice | Waiting:
        """The choice among the settings, once every trial is done or diverged; else why not yet."""
        scores = []
        for setting in self.settings:
            values = []
            for trial in setting.trials:
                status = store.status(trial.run_id)
                if status == "pending":
                    return Waiting(f"its trial {trial.label} has not finished")
                if status == "failed":
                    error = store.read_failure(trial.run_id).error_type
                    if error != DIVERGED:
                        return Waiting(f"its trial {trial.label} failed ({error}); re-run to retry it", failed=True)
                    values = None
                    break
                values.append(store.read_record(trial.run_id).selection.score)
            scores.append(None if values is None else sum(values) / len(values))
        usable = [i for i, score in enumerate(scores) if score is not None]
        if not usable:
            return Waiting("every setting of its search diverged", failed=True)
        best = max(usable, key=lambda i: (scores[i], -i))  # ties: the first setting in the search's order
        rates = {s.values[KEYS[0]] for s in self.settings}
        return Choice(tuple(scores), self.settings[best], at_search_edge(self.settings[best].values[KEYS[0]], rates))

    def selected_runs(self, choice: Choice) -> list[RunSpec]:
        """The group's runs with the selected setting, labelled as such."""
        epochs = self.runs[0].settings.epochs
        runs = []
        for spec in self.runs:
            parameter_set = ParameterSet(name=SELECTED, defaults=current_values(spec, KEYS), study=self.name,
                                         space=self.space, trials=len(self.settings), epochs=epochs)
            runs.append(with_parameters(spec, choice.selected.values, parameter_set, f"the search {self.name}"))
        return runs


def _space(grid: Grid) -> dict:
    search = grid.config.search
    return {KEYS[0]: {"options": list(search.head_lr)}, KEYS[1]: {"options": list(search.weight_decay)}}


def search_bits(grid: Grid) -> int | None:
    """The code length the search runs at: the grid's middle one (the larger of two), or None with ``per_bits``."""
    if grid.config.search.per_bits:
        return None
    bits = sorted(grid.config.bits)
    return bits[len(bits) // 2]


def search_groups(grid: Grid) -> list[SearchGroup]:
    """The groups of a grid's optimizer search, in the grid's order; empty when the search is off or the runs have
    parameter sets already (``run --params``)."""
    config = grid.config
    training = grid.training_runs
    if not config.search.enabled or any(spec.parameter_set is not None for spec in training):
        return []
    space, at = _space(grid), search_bits(grid)
    sampler = {"sampler": "grid", "replicates": config.search.replicates, "per_bits": config.search.per_bits}
    groups: dict[tuple, list[RunSpec]] = {}
    for spec in training:
        groups.setdefault((spec.loss, spec.dataset, spec.bits if at is None else None), []).append(spec)
    found = []
    for (loss, dataset, bits), runs in groups.items():
        bases = [s for s in runs if s.bits == (bits if at is None else at) and s.replicate < config.search.replicates]
        bases.sort(key=lambda s: s.replicate)
        name = SEARCH_PREFIX + study_name(bases[0], space, sampler)
        trial_set = ParameterSet(name="trial", defaults=current_values(bases[0], KEYS), study=name, trial=True,
                                 space=space)
        settings = []
        for lr in config.search.head_lr:
            for decay in config.search.weight_decay:
                values = {KEYS[0]: lr, KEYS[1]: decay}
                trials = tuple(with_parameters(base, values, trial_set, f"the search {name}") for base in bases)
                settings.append(Setting(values, trials))
        found.append(SearchGroup(loss, dataset, bits, name, space, tuple(settings), tuple(runs)))
    return found
