"""Run records into one tidy DataFrame, the coverage of the grids they come from, the names and order the tables
and figures give losses and datasets, and published numbers to quote. Reads the store only."""
from __future__ import annotations

import re
from dataclasses import MISSING, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml

from ..config import CONFIG_DIR, _bounds, from_mapping
from .. import references
from ..data import dataset_names, find_dataset
from ..errors import ReportError
from ..record import RunFailure, RunRecord
from ..store import RunStore
from ..yaml_input import read_yaml_file
from .selection import row_label

#: The order of the loss families in tables (the registry's); losses of no family come after them.
FAMILY_ORDER = ("pairwise", "triplet", "center", "proxy", "dcgh", "contrastive")
DIRECTION_LABELS = {"i2t": "I→T", "t2i": "T→I", "i2i": "I→I", "t2t": "T→T"}
COLUMNS = ["run_id", "loss", "row", "name", "family", "control", "dataset", "bits", "replicate", "protocol", "mode",
           "synthetic", "direction", "metric", "value"]
#: How the names of the records' ranking metrics begin: the binary ``map``, ``map_tie_aware``, ``map_best``,
#: ``map_worst``, ``map@K`` and the graded ``wmap``, ``wmap@K``, ``ndcg@K``, ``acg@K`` (``benchmark.graded``); the
#: other scalars of ``RunRecord.metrics`` (``n_queries``, ...) are not tabulated.
METRIC_PREFIXES = ("map", "wmap", "ndcg@", "acg@")


def is_metric(key: str) -> bool:
    """Whether ``key`` of ``RunRecord.metrics[direction]`` is a ranking metric a report can tabulate (``--metric``)."""
    return key.startswith(METRIC_PREFIXES)


def tidy(records: list[RunRecord]) -> pd.DataFrame:
    """One row per run x direction x scalar metric (``is_metric``: ``map``, ``map_tie_aware``, ``map_best``,
    ``map_worst``, ``map@K``, ``wmap``, ``wmap@K``, ``ndcg@K``, ``acg@K``), with the run's loss, its row
    (``selection.row_label``) and the row's display name (``row_name``), family, whether it is a label-free control,
    dataset, bits, replicate, protocol and mode."""
    rows = []
    for record in records:
        spec = record.spec
        for direction, metrics in record.metrics.items():
            for metric, value in metrics.items():
                if is_metric(metric):
                    rows.append([record.run_id, spec.loss, row_label(spec), row_name(record), record.family,
                                 record.control, spec.dataset, spec.bits, spec.replicate, spec.settings.protocol,
                                 spec.settings.mode, is_generated(spec.dataset), direction, metric, float(value)])
    return pd.DataFrame(rows, columns=COLUMNS)


def families_of(records: list[RunRecord]) -> dict[str, str | None]:
    """Each row's (``selection.row_label``) family, as its records state it."""
    return {row_label(record.spec): record.family for record in records}


def loss_order(names, families: dict[str, str | None]) -> list[str]:
    """Rows ``names`` grouped by family in the families' order, each family's representative (the loss named
    like it) first, then its other members by name; rows of no family last."""
    def key(name: str):
        family = families.get(name)
        rank = FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)
        return rank, name != family, name

    return sorted(set(names), key=key)


def row_order(rows, families: dict[str, str | None]) -> list[str]:
    """Rows ``rows``: the losses' in ``loss_order``, then the reference rows present, in their registry's order."""
    rows = set(rows)
    trained = loss_order((row for row in rows if references.row_kind(row) == "loss"), families)
    return trained + [name for name in references.names() if name in rows]


def coverage(store: RunStore, records: list[RunRecord], failures: list[RunFailure]) -> dict:
    """For every grid the records and failures were run from: the runs done, failed and missing."""
    done = {r.run_id for r in records}
    expected: dict[str, str] = {}
    for grid_id in sorted({r.grid_id for r in [*records, *failures] if r.grid_id}):
        expected.update(store.read_grid(grid_id) or {})
    expected.update({r.run_id: r.spec.label for r in [*records, *failures]})
    return {
        "expected": len(expected),
        "done": len(done),
        "failed": [(f.run_id, f.spec.label, f.error) for f in sorted(failures, key=lambda f: f.run_id)],
        "missing": sorted(label for run_id, label in expected.items()
                          if run_id not in done and run_id not in {f.run_id for f in failures}),
    }


# ----------------------------------------------------------------------------------------- names and order

#: The names LaTeX tables and figures print for losses and metrics (Markdown and CSV keep the names used on the
#: command line); datasets and reference rows carry theirs in their registrations.
NAMES_FILE = CONFIG_DIR / "report" / "names.yaml"


@lru_cache(maxsize=1)
def _names() -> dict[str, dict[str, str]]:
    return yaml.safe_load(NAMES_FILE.read_text(encoding="utf-8"))


def loss_name(loss: str) -> str:
    """The name a paper gives ``loss`` (``dcgh-novar``: "DCGH w/o var"; a reference row: its display name), else
    ``loss`` itself."""
    reference = references.get(loss)
    return reference.display_name if reference else _names()["losses"].get(loss, loss)


def citations_of(records: list[RunRecord]) -> list[dict]:
    """The distinct published methods behind the losses of ``records`` (each run's ``citation``, as its loss's
    registration gave it), in the order of their BibTeX keys."""
    cited = {r.citation["key"]: r.citation for r in records if r.citation}
    return [cited[key] for key in sorted(cited)]


def citation_text(citation: dict) -> str:
    """``"CSQ: Central Similarity Quantization ... (Yuan et al., CVPR 2020)"``, as ``losses.Citation.full``."""
    authors = citation["authors"]
    last = [name.split()[-1] for name in authors[:2]]
    who = last[0] if len(authors) == 1 else (" & ".join(last) if len(authors) == 2 else f"{last[0]} et al.")
    method, title = citation["method"], citation["title"]
    named = title if title.startswith(method) else f"{method}: {title}"
    return f"{named} ({who}, {citation['venue']} {citation['year']})"


def row_name(record: RunRecord, row: str | None = None) -> str:
    """The display name of ``record``'s row (``row``, by default ``selection.row_label``), the one every LaTeX
    table and figure prints: the name its loss declared (``losses.register(display_name=...)``, or a user's loss
    class's ``display_name``), else ``loss_name``'s, then what the row adds to the loss ("DCGH (gamma=0.5)")."""
    spec = record.spec
    row = row_label(spec) if row is None else row
    return (record.display_name or loss_name(spec.loss)) + row[len(spec.loss):]


def names_of(records: list[RunRecord], row=row_label) -> dict[str, str]:
    """Each row's (``row(spec)``, by default ``selection.row_label``) display name (``row_name``)."""
    return {row(record.spec): row_name(record, row(record.spec)) for record in records}


def is_generated(dataset: str) -> bool:
    """Whether ``dataset`` is a synthetic world, as its registration says (False for one not registered here)."""
    entry = find_dataset(dataset)
    return entry is not None and entry.generated


def stands_for(dataset: str) -> str:
    """The real set whose place ``dataset`` takes in a table: the set a synthetic stand-in imitates, else itself."""
    entry = find_dataset(dataset)
    return entry.stand_in_for if entry is not None and entry.stand_in_for else dataset


def dataset_name(dataset: str) -> str:
    """Its registration's display name ("MS-COCO" for coco, "MS-COCO (synthetic)" for synth-coco); a dataset not
    registered here as it is."""
    entry = find_dataset(dataset)
    return entry.display_name if entry is not None else dataset


def dataset_order(dataset: str) -> tuple:
    """Sort key of the column groups: the registry's order (the real sets in the papers' order first), a synthetic
    stand-in in its real set's place after it, then datasets not registered here by name."""
    order = dataset_names()
    place = stands_for(dataset)
    return order.index(place) if place in order else len(order), is_generated(dataset), dataset


def metric_name(metric: str) -> str:
    """"mAP" for map, "mAP@50" for map@50, "tie-aware mAP" for map_tie_aware, "NDCG@1000" for ndcg@1000: the name
    ``names.yaml`` gives the metric, else the one it gives what comes before its "@K", else the key with "map" written
    "mAP"."""
    names = _names()["metrics"]
    base, at, k = metric.partition("@")
    if metric in names:
        return names[metric]
    if at and base in names:
        return f"{names[base]}@{k}"
    return metric.replace("map", "mAP", 1)


# ----------------------------------------------------------------------------------------- published numbers


@dataclass(frozen=True)
class Published:
    """A published number quoted in the main table (``report --published FILE``): ``method``'s ``metric`` on
    ``dataset`` (a real set, and only its own column: ``published.mismatches``) in direction
    ``task`` at ``bits``, as ``source`` states it; ``cite``, a BibTeX key, makes the LaTeX row cite it."""

    method: str
    source: str
    dataset: str
    task: Literal["i2t", "t2i"]
    bits: int = field(metadata=_bounds(1))
    value: float = field(metadata=_bounds(0, 1))
    metric: str = "map"
    cite: str | None = None
    protocol: str | None = None  # the published protocol measured under (a configuration: dchmt, mith, twdh)


def load_published(path: Path) -> list[Published]:
    """The numbers of a published-results file: a YAML list of entries with the fields of ``Published``."""
    entries = read_yaml_file(path, f"--published {path}", ReportError)
    required = [f.name for f in fields(Published) if f.default is MISSING]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ReportError(f"--published {path} must be a list of entries, each with {', '.join(required)} "
                          "(docs/protocol.md, Reports)")
    published = []
    for i, entry in enumerate(entries, 1):
        where = f"entry {i} of {path}"
        missing = [name for name in required if name not in entry]
        if missing:
            raise ReportError(f"{where} lacks {', '.join(missing)}")
        number = from_mapping(Published, entry, where)
        if number.dataset not in dataset_names():
            raise ReportError(f"{where}: unknown dataset {number.dataset!r}; one of {', '.join(dataset_names())}")
        if number.cite is not None and not re.fullmatch(r"[\w:./-]+(,[\w:./-]+)*", number.cite):
            raise ReportError(f"{where}: cite must be BibTeX keys separated by commas, got {number.cite!r}")
        published.append(number)
    return published
