"""The selection protocols: which items train, which set chooses the state whose metrics are reported, and when
the query set is looked at (docs/protocol.md). ``PROTOCOLS`` is the one place that tells them apart;
``SelectionProtocol`` is what the trainer asks of each.

A protocol sees the trainer through three calls: ``evaluate`` (codes and metrics of one set, logged),
``snapshot`` / ``restore`` (the trainable state), and ``kept_state`` (what a run keeps of it).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from ..data import Split
from ..record import DIRECTIONS, Selection
from .state import codes_sha256, state_sha256

if TYPE_CHECKING:  # the trainer imports this module
    from .trainer import Trainer


@dataclass(frozen=True)
class Kept:
    """What a run keeps of the state it reports (in the paper protocol, the state selected for I->T): the ±1
    codes and continuous outputs of the query and retrieval sets, and the heads' and the loss's state."""

    codes: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    state: dict[str, np.ndarray]


@dataclass(frozen=True)
class Outcome:
    """What a protocol reports after training: metrics per direction, how they were chosen, the codes' hashes,
    and what the run keeps."""

    results: dict[str, dict]
    selection: Selection
    codes_sha256: dict
    kept: Kept | None  # None: nothing is kept (a tuning trial)


@runtime_checkable
class SelectionProtocol(Protocol):
    """What the trainer and ``train_and_evaluate`` ask of a run's protocol (one per ``protocol``, and the tuning
    trial's): the items to train on, the evaluation after an evaluated epoch, the outcome after the last."""

    name: ClassVar[str]  # Selection.protocol
    training_part: ClassVar[str]  # TrainingUse.part: the part of the split training_indices gives

    def training_indices(self) -> np.ndarray:
        """The dataset items training iterates."""

    def after_epoch(self, trainer: Trainer, epoch: int) -> dict[str, Any]:
        """Evaluate after ``epoch`` (and remember the state it may select); the ``EpochLog`` fields it fills."""

    def finish(self, trainer: Trainer) -> Outcome:
        """After training: the selected state's metrics, how it was selected, and what the run keeps."""


def _codes_hashes(codes: dict[str, np.ndarray]) -> dict[str, str]:
    return {name: codes_sha256(value) for name, value in codes.items()}


class HonestProtocol:
    """Train on the train set minus the validation queries. After each epoch, score I->T and T->I on the
    validation split (validation queries against the rest of the train set) and keep the state of the best
    mean. After training, restore that state and evaluate the query set once, in every direction."""

    name = "honest"
    training_part = "val_database"

    def __init__(self, split: Split):
        self.split = split
        self.best: tuple[int, float, dict, str] | None = None  # epoch, score, state, state hash

    def training_indices(self) -> np.ndarray:
        return self.split.val_database

    def after_epoch(self, trainer: Trainer, epoch: int) -> dict[str, Any]:
        split = self.split
        results = trainer.evaluate(f"epoch {epoch}", "validation", split.val_query, split.val_database,
                                   ("i2t", "t2i"), full=False).results
        entry = {"val_map_i2t": results["i2t"]["map"], "val_map_t2i": results["t2i"]["map"]}
        entry["val_map"] = (entry["val_map_i2t"] + entry["val_map_t2i"]) / 2
        if self.best is None or entry["val_map"] > self.best[1]:
            state = trainer.snapshot()
            self.best = (epoch, entry["val_map"], state, state_sha256(state))
        return entry

    def finish(self, trainer: Trainer) -> Outcome:
        epoch, score, state, selected = self.best
        trainer.restore(state)
        final = trainer.evaluate("final", "query", self.split.query, self.split.retrieval, DIRECTIONS, full=True)
        selection = Selection(protocol=self.name, source="validation", criterion="validation mAP, mean of I->T and T->I",
                              epochs={d: epoch for d in DIRECTIONS}, score=score,
                              selected_state_sha256={d: selected for d in DIRECTIONS},
                              evaluated_state_sha256={d: final.state_sha256 for d in DIRECTIONS})
        return Outcome(final.results, selection, _codes_hashes(final.codes),
                       Kept(final.codes, final.outputs, trainer.kept_state()))


class PaperProtocol:
    """What published code does: train on the whole train set, evaluate the query set after every epoch, and
    report each direction's best epoch. Optimistic: the query set chooses the epoch it is scored at."""

    name = "paper"
    training_part = "train"

    def __init__(self, split: Split):
        self.split = split
        self.best: dict[str, tuple[int, dict, dict, str]] = {}  # direction -> epoch, result, codes hashes, state
        self.kept: Kept | None = None  # of the epoch selected for I->T

    def training_indices(self) -> np.ndarray:
        return self.split.train

    def after_epoch(self, trainer: Trainer, epoch: int) -> dict[str, Any]:
        evaluation = trainer.evaluate(f"epoch {epoch}", "query", self.split.query, self.split.retrieval, DIRECTIONS,
                                      full=True)
        for direction, result in evaluation.results.items():
            if direction not in self.best or result["map"] > self.best[direction][1]["map"]:
                self.best[direction] = (epoch, result, _codes_hashes(evaluation.codes), evaluation.state_sha256)
                if direction == "i2t":
                    self.kept = Kept(evaluation.codes, evaluation.outputs, trainer.kept_state())
        return {"query_map": {d: r["map"] for d, r in evaluation.results.items()}}

    def finish(self, trainer: Trainer) -> Outcome:
        states = {d: best[3] for d, best in self.best.items()}
        selection = Selection(protocol=self.name, source="query",
                              criterion="best query-set mAP per direction (optimistic, as published code does)",
                              epochs={d: best[0] for d, best in self.best.items()}, score=None,
                              selected_state_sha256=states, evaluated_state_sha256=states)
        return Outcome({d: best[1] for d, best in self.best.items()}, selection,
                       {d: best[2] for d, best in self.best.items()}, self.kept)


class PaperSumProtocol(PaperProtocol):
    """MITH's rule: as ``PaperProtocol``, but one epoch for every direction, the one of the best sum of the query
    set's I->T and T->I mAP (DarrenZZhang/MM23-MITH ``train_asym.py`` saves its model so). Optimistic likewise."""

    name = "paper-sum"

    def __init__(self, split: Split):
        super().__init__(split)
        self.score: float | None = None  # the best I->T + T->I so far, of the epoch in ``best``

    def after_epoch(self, trainer: Trainer, epoch: int) -> dict[str, Any]:
        evaluation = trainer.evaluate(f"epoch {epoch}", "query", self.split.query, self.split.retrieval, DIRECTIONS,
                                      full=True)
        score = evaluation.results["i2t"]["map"] + evaluation.results["t2i"]["map"]
        if self.score is None or score > self.score:
            hashes = _codes_hashes(evaluation.codes)
            self.score, self.kept = score, Kept(evaluation.codes, evaluation.outputs, trainer.kept_state())
            self.best = {d: (epoch, r, hashes, evaluation.state_sha256) for d, r in evaluation.results.items()}
        return {"query_map": {d: r["map"] for d, r in evaluation.results.items()}}

    def finish(self, trainer: Trainer) -> Outcome:
        epoch, _, _, state = self.best["i2t"]
        selection = Selection(protocol=self.name, source="query",
                              criterion="best query-set mAP of I->T plus T->I (optimistic, as MITH's code does)",
                              epochs={d: epoch for d in self.best}, score=self.score,
                              selected_state_sha256={d: state for d in self.best},
                              evaluated_state_sha256={d: state for d in self.best})
        return Outcome({d: best[1] for d, best in self.best.items()}, selection,
                       {d: best[2] for d, best in self.best.items()}, self.kept)


class TrialProtocol(HonestProtocol):
    """A tuning trial (``python -m benchmark tune``): the honest protocol's training and choice of the epoch on the
    validation split, and no look at the query set at all: the state chosen is evaluated on the validation split
    (every direction), which is what the trial reports and keeps nothing of."""

    name = "trial"

    def finish(self, trainer: Trainer) -> Outcome:
        epoch, score, state, selected = self.best
        trainer.restore(state)
        split = self.split
        final = trainer.evaluate("final", "validation", split.val_query, split.val_database, DIRECTIONS, full=True)
        selection = Selection(protocol=self.name, source="validation",
                              criterion="validation mAP, mean of I->T and T->I", epochs={d: epoch for d in DIRECTIONS},
                              score=score, selected_state_sha256={d: selected for d in DIRECTIONS},
                              evaluated_state_sha256={d: final.state_sha256 for d in DIRECTIONS})
        return Outcome(final.results, selection, _codes_hashes(final.codes), kept=None)


#: The one mapping from a run's ``protocol`` to its behaviour.
PROTOCOLS = {"honest": HonestProtocol, "paper": PaperProtocol, "paper-sum": PaperSumProtocol}


def protocol_of(spec) -> Callable[[Split], SelectionProtocol]:
    """The protocol of run ``spec``: a tuning trial's (``spec.parameter_set.trial``), else its settings' one."""
    trial = spec.parameter_set is not None and spec.parameter_set.trial
    return TrialProtocol if trial else PROTOCOLS[spec.settings.protocol]
