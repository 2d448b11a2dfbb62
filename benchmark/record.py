"""The run record: what one run trained on, how its evaluated state was chosen, and what it measured.

A record is versioned (``schema_version``); it is written and read only through ``benchmark.store``. Each value
is stored once: the settings in ``spec``, what training actually used in ``training`` (reported by the code
that trained), the choice of the evaluated state in ``selection``. docs/architecture.md describes every field.
This module imports neither torch nor the loss registry.
"""
from __future__ import annotations

import json
import types
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, Union, get_args, get_origin, get_type_hints

from .config import RunSpec
from .errors import ConfigError, RecordError, shown

#: Version 1 was the first round's layout (no ``schema_version`` key); 2 is this one.
SCHEMA_VERSION = 2
DIRECTIONS = ("i2t", "t2i", "i2i", "t2t")
#: The N of precision@N / recall@N (values above the retrieval-set size are left out).
PRECISION_AT_N = (1, 10, 50, 100, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000)
#: Default K of map@K.
DEFAULT_TOPK = (1000, 5000)
#: Each direction's (query modality, database modality).
DIRECTION_MODALITIES = {"i2t": ("image", "text"), "t2i": ("text", "image"), "i2i": ("image", "image"),
                        "t2t": ("text", "text")}


@dataclass(frozen=True)
class TrainingUse:
    """What the training loop iterated, as it reports it.

    Attributes:
        part: the part of the split the protocol trains on (``val_database``: the train set minus the
            validation queries; ``train``: the whole train set).
        n_indices: distinct dataset items that reached a training batch.
        indices_sha256: SHA-256 of those items' indices, sorted, as little-endian int64.
        epochs, steps: epochs run and optimizer steps taken.
    """

    part: str
    n_indices: int
    indices_sha256: str
    epochs: int
    steps: int


@dataclass(frozen=True)
class Selection:
    """Which trained state each direction's metrics come from, and the evidence that it was used.

    Attributes:
        protocol: ``honest``, ``paper``, or ``trial`` (a tuning trial: its metrics are of the validation split).
        source: the set whose mAP chose the state: ``validation`` (honest) or ``query`` (paper, optimistic).
        criterion: the rule, in words.
        epochs: per direction, the epoch of the state its metrics were computed with (honest: one epoch).
        score: honest and trial: the validation mAP (mean of I->T and T->I) of the selected epoch; paper: None.
        selected_state_sha256: per direction, the hash of the trainable state when it was selected.
        evaluated_state_sha256: per direction, the hash of the trainable state the reported metrics were
            computed with; equal to the selected one when the final evaluation used the selected state.
    """

    protocol: str
    source: str
    criterion: str
    epochs: dict[str, int]
    score: float | None
    selected_state_sha256: dict[str, str]
    evaluated_state_sha256: dict[str, str]

    @property
    def used_selected_state(self) -> bool:
        return self.selected_state_sha256 == self.evaluated_state_sha256


@dataclass(frozen=True)
class EpochLog:
    """One epoch of a run's training, as the trainer logs it and ``RunRecord.history`` stores it.

    Attributes:
        epoch: the epoch, from 1.
        loss: each weighted loss term and ``total``, means over the epoch's batches.
        val_map_i2t, val_map_t2i, val_map: honest protocol and tuning trials, on evaluated epochs: the validation
            mAP of I->T, of T->I and their mean.
        query_map: paper protocol, on evaluated epochs: the query-set mAP per direction.
        seconds: the epoch's training and evaluation time.

    A field that is None is absent from the stored object, so ``to_dict`` gives back exactly what ``from_dict``
    read (the fields are in the order the trainer has always written its keys).
    """

    epoch: int
    loss: dict[str, float]
    val_map_i2t: float | None = None
    val_map_t2i: float | None = None
    val_map: float | None = None
    query_map: dict[str, float] | None = None
    seconds: float | None = None

    @property
    def validation_map(self) -> dict[str, float]:
        """The validation mAP per direction (``i2t``, ``t2i``) of an epoch evaluated on it; else empty."""
        return {d: v for d, v in (("i2t", self.val_map_i2t), ("t2i", self.val_map_t2i)) if v is not None}

    @property
    def evaluated(self) -> bool:
        """Whether the protocol evaluated this epoch (every ``eval_every``-th one and the last)."""
        return bool(self.validation_map) or self.query_map is not None

    def to_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, entry: dict) -> "EpochLog":
        return cls(**entry)


class _VersionedRecord:
    """A record stored as one JSON object carrying ``schema_version``."""

    WHAT = "record"

    def to_json(self) -> str:
        return json.dumps(self._stored(), indent=1) + "\n"

    def _stored(self) -> dict:
        """The JSON object of the record."""
        return asdict(self)

    @classmethod
    def from_json(cls, text: str, where: str):
        """Read a record; RecordError naming ``where`` when it is damaged or of another schema version."""
        content = _load(text, where, cls)
        try:
            _check_fields(cls, content)
            return cls(**cls._typed(content, where))
        except (KeyError, TypeError, ConfigError) as exc:
            raise RecordError(f"{cls.WHAT} {where} is damaged ({_problem(exc)}); delete its folder and run its "
                              "grid again") from exc

    @classmethod
    def _typed(cls, content: dict, where: str) -> dict:
        """``content`` with its nested parts as their dataclasses."""
        return {**content, "spec": RunSpec.from_dict(content["spec"], where)}


@dataclass(frozen=True)
class RunRecord(_VersionedRecord):
    """One finished run (``<results>/runs/<run_id>/record.json``).

    ``metrics[direction]`` holds the scalar metrics (``map``, ``map_tie_aware``, ``map@K``, ...) and
    ``curves[direction]`` the PR-by-radius and precision/recall@N curves of the four directions ``i2t``,
    ``t2i``, ``i2i``, ``t2t`` (a value that is undefined, the precision at a Hamming radius within which nothing
    is retrieved, is None, null in JSON; records written before 2026-12-06 said 0 there); ``history`` an
    ``EpochLog`` per epoch (loss terms, validation or query mAP);
    ``evaluations`` every evaluation made, in order: ``stage``, ``set``, ``direction`` and what it scored,
    ``query_items`` and ``database_items`` (how many) and ``query_sha256`` and ``database_sha256`` (SHA-256 of their
    indices as scored, little-endian int64; absent in records written before they were logged, which the same
    schema version reads); ``diagnostics`` the code-space
    diagnostics of the kept codes and ``files`` the SHA-256 of each file kept beside the record
    (``benchmark.codes``). A reference row
    (``benchmark.references``) trains nothing: its ``selection`` and ``training`` are None, its history empty.
    """

    WHAT = "run record"

    run_id: str
    spec: RunSpec
    grid_id: str | None
    metrics: dict[str, dict[str, float]]
    curves: dict[str, dict[str, dict[str, list[float | None]]]]
    selection: Selection | None
    training: TrainingUse | None
    history: list[EpochLog]
    evaluations: list[dict]
    codes_sha256: dict
    data: dict
    timings: dict[str, float]
    environment: dict
    finished_at: str
    family: str | None = None  # the loss's family in the registry (None: a reference row or a user's loss)
    control: bool = False  # a label-free control (infonce): reports show it and never rank or test it
    citation: dict | None = None  # the loss's declared losses.Citation as a dict (None: no published method)
    display_name: str | None = None  # the name the loss declares for tables and figures (None: the report's own)
    diagnostics: dict | None = None  # benchmark.diagnostics of the kept codes (None: no codes, ref:continuous)
    files: dict[str, str] = field(default_factory=dict)  # the files kept in the run's folder -> SHA-256
    schema_version: int = SCHEMA_VERSION

    def _stored(self) -> dict:
        return {**super()._stored(), "history": [entry.to_dict() for entry in self.history]}

    @classmethod
    def _typed(cls, content: dict, where: str) -> dict:
        selection, training = content["selection"], content["training"]
        return {**super()._typed(content, where), "selection": Selection(**selection) if selection else None,
                "training": TrainingUse(**training) if training else None,
                "history": [EpochLog.from_dict(entry) for entry in content["history"]]}


@dataclass(frozen=True)
class RunFailure(_VersionedRecord):
    """A run that raised (``failed.json``): the error and its traceback. The next invocation retries it."""

    WHAT = "failure record"

    run_id: str
    spec: RunSpec
    grid_id: str | None
    error: str
    error_type: str
    traceback: str
    failed_at: str
    schema_version: int = SCHEMA_VERSION


#: What each JSON type is called in a message.
_JSON_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _check_type(value, hint, key: str) -> None:
    """TypeError naming ``key`` (``metrics.i2t``, ``history[0].loss``) when the JSON ``value`` is not of the type
    ``hint``; a dataclass's keys are checked by its constructor, its values here."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return
        (hint,) = [a for a in args if a is not type(None)]
        _check_type(value, hint, key)
    elif is_dataclass(hint) or hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise TypeError(f"'{key}' must be a mapping, got {shown(value)}")
        hints = get_type_hints(hint) if is_dataclass(hint) else dict.fromkeys(value, args[1] if args else Any)
        for name, item in value.items():
            if name in hints:
                _check_type(item, hints[name], f"{key}.{name}")
    elif hint is list or origin is list:
        if not isinstance(value, list):
            raise TypeError(f"'{key}' must be a list, got {shown(value)}")
        for i, item in enumerate(value if args else ()):
            _check_type(item, args[0], f"{key}[{i}]")
    else:  # JSON's true and false are not numbers here, and a whole number is a number
        allowed = (int, float) if hint is float else hint
        if isinstance(value, bool) is not (hint is bool) or not isinstance(value, allowed):
            raise TypeError(f"'{key}' must be {_JSON_NAMES[hint]}, got {shown(value)}")


def _check_fields(cls: type, content: dict) -> None:
    """Each field of the record ``content`` of the JSON type ``cls`` declares (its run spec is checked when read)."""
    for name, hint in get_type_hints(cls).items():
        if name in content and hint is not RunSpec:
            _check_type(content[name], hint, name)


def _problem(exc: Exception) -> str:
    return f"missing {exc}" if isinstance(exc, KeyError) else str(exc)


def _load(text: str, where: str, cls: type) -> dict:
    """The JSON object of a record file of ``cls``'s current schema; RecordError naming ``where`` otherwise."""
    what = cls.WHAT
    try:
        content = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"{what} {where} is not valid JSON ({exc}); delete its folder and run its grid "
                          "again") from exc
    if not isinstance(content, dict):
        raise RecordError(f"{what} {where} is not a JSON object; delete its folder and run its grid again")
    version = content.get("schema_version")
    if version != SCHEMA_VERSION:
        made_by = ("the first version of the suite (it has no schema_version)" if version is None
                   else f"schema version {version}; this suite reads version {SCHEMA_VERSION}")
        raise RecordError(f"{what} {where} was written by {made_by}. Regenerate it with this version: run its "
                          "grid again with python -m benchmark run (same --config and flags; the runs get new "
                          "folders) and delete the old folder")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(content) - known)
    if unknown:
        raise RecordError(f"{what} {where} has unknown keys {', '.join(unknown)}; it was not written by this "
                          "version of the suite")
    return content
