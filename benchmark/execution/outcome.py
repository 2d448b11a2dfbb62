"""What a task gives back for one run (``Outcome``) and what an executor did with a list of them (``Batch``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..config import RunSpec

Status = Literal["done", "failed", "busy", "skipped"]


@dataclass(frozen=True)
class Outcome:
    """How one task ended: ``done`` (with the run's headline mAP or a ``summary``), ``failed`` (``error``),
    ``busy`` (another live process holds the run: ``holder``) or ``skipped`` (finished elsewhere meanwhile)."""

    run_id: str
    status: Status
    seconds: float = 0.0
    i2t: float | None = None
    t2i: float | None = None
    summary: str | None = None
    error: str | None = None
    holder: str | None = None

    def line(self, label: str) -> str:
        """The line the grid prints when this task ends."""
        if self.status == "busy":
            return f"busy   {label}: being run by {self.holder}; left to it"
        if self.status == "skipped":
            return f"skip   {label}: finished by another process meanwhile"
        if self.status == "done":
            result = self.summary or f"I->T {self.i2t:.4f}  T->I {self.t2i:.4f}"
            return f"done   {label}: {result}  ({self.seconds:.1f} s)"
        return f"FAILED {label}: {self.error}"


@dataclass
class Batch:
    """What an executor did with a list of tasks: each one's outcome when it waited for them (``outcomes`` is None
    when jobs were submitted and left to run), the tasks it left alone because a process or job still has them,
    and a sentence on how they ran."""

    outcomes: list[Outcome] | None
    in_flight: list[tuple[RunSpec, str]] = field(default_factory=list)
    note: str | None = None
    logs: Path | None = None

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes or [] if o.status == "failed"]
