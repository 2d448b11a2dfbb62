"""The report as a list of sections: each is made by a small builder, a function of one ``ReportContext``, and
``build_report`` calls the builders in their registration order (the built-in ones first, then a user's, added by
``register_section``). The index inlines each section's Markdown, links its tables and embeds its figures.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from .. import references
from ..record import RunRecord
from ..registry import Registry
from ..store import RunStore
from .tables import DECIMALS, Table, quote, table_statistics
from .tidy_data import Published, tidy

FORMATS = ("latex", "markdown", "csv")


@dataclass
class Section:
    """One part of the report: its title, its Markdown (inlined in the index), its files, and the figures it left
    out because the files they are drawn from are missing or damaged (each reason names the figure and the file)."""

    title: str
    markdown: str
    tables: list[Path] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReportContext:
    """What a section builder reads: the report's records (runs of their configuration's own parameters; the runs
    of ``tuned`` parameters and the tuning ``trials`` apart), the store they come from (for the codes runs kept),
    the folder to write under (tables in ``<out>/tables``, figures in ``<out>/figures``) and the report's options;
    ``counterparts``: the trained runs of the configurations that differ from the reported one in their selection
    rule only (``protocol_effect``)."""

    records: list[RunRecord]
    store: RunStore
    out: Path
    formats: Sequence[str] = FORMATS
    metric: str = "map"
    decimals: int = DECIMALS
    published: Sequence[Published] = ()
    tuned: Sequence[RunRecord] = ()
    trials: Sequence[RunRecord] = ()
    counterparts: Sequence[RunRecord] = ()  # trained runs of the configurations differing in run.protocol only

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The records as one tidy DataFrame (``tidy_data.tidy``)."""
        return tidy(self.records)

    @cached_property
    def table(self) -> Table:
        """The main table of ``metric``, the published rows quoted in it; computed once for the sections reading it."""
        return quote(table_statistics(self.frame, self.metric), list(self.published), self.metric, self.records)

    @cached_property
    def trained(self) -> list[RunRecord]:
        """The records of losses, without the reference rows (nothing trained there to draw)."""
        return [r for r in self.records if references.row_kind(r.spec.loss) == "loss"]


#: A builder returns its section, several (one per ablation, say), or None when the records give it nothing to show.
SectionBuilder = Callable[[ReportContext], "Section | list[Section] | None"]

SECTIONS: Registry[SectionBuilder] = Registry("report section")


def register_section(builder: SectionBuilder, name: str | None = None) -> SectionBuilder:
    """Add ``builder`` after the sections registered before it, under ``name`` (by default its ``__name__``); a name
    registered already raises ValueError. Returns ``builder``, so that it can decorate the function."""
    return SECTIONS.add(name or builder.__name__, builder)


def section_names() -> list[str]:
    """The registered sections, in the order the report shows them."""
    return SECTIONS.names()


def build_sections(context: ReportContext, say: Callable[[str], None] | None = None) -> list[Section]:
    """Every registered builder's sections, in order; ``say`` (e.g. the CLI's printer) is told each one's name and
    the time taken so far as it starts."""
    sections, started = [], time.monotonic()
    for name in SECTIONS.names():
        builder = SECTIONS[name]
        if say is not None:
            say(f"report: {name.replace('_', ' ')} ({time.monotonic() - started:.0f} s)")
        built = builder(context)
        sections += [] if built is None else [built] if isinstance(built, Section) else list(built)
    return sections
