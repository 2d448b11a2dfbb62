"""The field's published numbers shipped as data (``benchmark/configs/published/*.yaml``; docs/protocols.md): per
method and table, its citation, where the table is (repository, commit, file), the protocol it was measured under
(a configuration of ``benchmark/configs/``), the metric, and the numbers by direction, dataset and code length.

A number is set beside this suite's results only where the report's runs were measured as it was
(``mismatches``); otherwise the report lists it as not comparable, with the reasons. Each file is checked when read: a table lacking a provenance field, citing a key the file does not define, naming
an unknown protocol or dataset, or holding a number outside [0, 1] is refused with one line naming it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from ..config import CONFIG_DIR, config_names, load_config
from ..data import dataset_names, split_settings
from ..data.variants import variant_differences
from ..errors import ReportError
from ..record import RunRecord
from ..yaml_input import read_yaml_file
from .tidy_data import Published

PUBLISHED_DIR = CONFIG_DIR / "published"
#: What every table of a published-numbers file states, and every citation.
TABLE_FIELDS = ("method", "cite", "table_of", "source", "commit", "protocol", "metric", "bits", "values")
CITATION_FIELDS = ("method", "title", "authors", "venue", "year", "bibtex")


@dataclass(frozen=True)
class PublishedTable:
    """One method's numbers in one paper's table, with their provenance."""

    method: str
    cite: str
    table_of: str
    source: str
    commit: str
    protocol: str
    metric: str
    bits: tuple[int, ...]
    values: dict[str, dict[str, tuple[float, ...]]]  # direction -> dataset -> one value per code length

    def numbers(self, citations: dict[str, dict]) -> list[Published]:
        """The table as quoted numbers, each citing the method's paper and naming the table it comes from."""
        paper = citations[self.table_of]
        where = f"{paper['method']}'s table" if self.table_of != self.cite else "its own paper"
        source = f"{where} ({paper['venue']} {paper['year']}), {self.source}"
        return [Published(method=self.method, source=source, dataset=dataset, task=direction, bits=bits,
                          value=value, metric=self.metric, cite=self.cite, protocol=self.protocol)
                for direction, by_dataset in self.values.items() for dataset, row in by_dataset.items()
                for bits, value in zip(self.bits, row)]


def read_published(path: Path) -> tuple[list[PublishedTable], dict[str, dict]]:
    """The tables and citations of a published-numbers file, checked (ReportError naming what is wrong)."""
    content = read_yaml_file(path, f"published numbers {path}", ReportError)
    if not isinstance(content, dict) or not isinstance(content.get("tables"), list) \
            or not isinstance(content.get("citations"), dict):
        raise ReportError(f"published numbers {path}: must hold 'citations' (by BibTeX key) and a list 'tables'")
    citations = content["citations"]
    for key, citation in citations.items():
        missing = [name for name in CITATION_FIELDS if not citation.get(name)] if isinstance(citation, dict) else [
            "everything"]
        if missing:
            raise ReportError(f"published numbers {path}: citation {key} lacks {', '.join(missing)}")
        if f"{{{key}," not in citation["bibtex"]:
            raise ReportError(f"published numbers {path}: citation {key}'s BibTeX entry has another key")
    tables = []
    for i, table in enumerate(content["tables"], 1):
        where = f"published numbers {path}, table {i}"
        missing = [name for name in TABLE_FIELDS if not isinstance(table, dict) or table.get(name) in (None, "", [])]
        if missing:
            raise ReportError(f"{where} lacks {', '.join(missing)}")
        for key in (table["cite"], table["table_of"]):
            if key not in citations:
                raise ReportError(f"{where} cites {key}, which the file's citations do not define")
        if table["protocol"] not in config_names():
            raise ReportError(f"{where}: protocol {table['protocol']!r} is not a configuration of "
                              f"benchmark/configs/ ({', '.join(config_names())})")
        bits = tuple(table["bits"])
        values = {}
        for direction, by_dataset in table["values"].items():
            if direction not in ("i2t", "t2i"):
                raise ReportError(f"{where}: direction {direction!r} is not i2t or t2i")
            for dataset, row in by_dataset.items():
                if dataset not in dataset_names():
                    raise ReportError(f"{where}: unknown dataset {dataset!r}")
                if len(row) != len(bits) or not all(isinstance(v, float) and 0 <= v <= 1 for v in row):
                    raise ReportError(f"{where}: {direction} {dataset} must hold one mAP in [0, 1] per code length "
                                      f"of {list(bits)}, got {row}")
            values[direction] = {dataset: tuple(row) for dataset, row in by_dataset.items()}
        tables.append(PublishedTable(**{**{k: table[k] for k in TABLE_FIELDS}, "bits": bits, "values": values}))
    return tables, citations


def packaged_published() -> tuple[list[PublishedTable], dict[str, dict]]:
    """Every packaged file's tables and citations."""
    tables, citations = [], {}
    for path in sorted(PUBLISHED_DIR.glob("*.yaml")):
        found, cited = read_published(path)
        tables += found
        citations.update(cited)
    return tables, citations


@lru_cache(maxsize=None)
def _protocol(name: str):
    return load_config(name)


def mismatches(number: Published, records: list[RunRecord], metric: str) -> list[str]:
    """Why ``number`` cannot be set beside ``records`` (the report's runs of its dataset) under ``metric``; empty
    when it can: a column of its own real dataset (never a synthetic stand-in's), the same metric and, for a number
    measured under a packaged protocol, the same split sizes and drawing, selection rule, training mode and image
    tower of the backbone, and the dataset variant the protocol assumes (its name where the set's prepare summary
    gives one, its item count)."""
    runs = [r for r in records if r.spec.dataset == number.dataset and r.training is not None]
    if not runs:
        return [f"no run on {number.dataset} (synthetic stand-ins never take published numbers)"]
    reasons = [] if number.metric == metric else [f"metric {number.metric}, this report's {metric}"]
    if number.protocol is None:
        return reasons
    preset = _protocol(number.protocol)
    split = split_settings(number.dataset, None, **asdict(preset.run.split))  # a real set's sizes need no count
    expected = {"query items": split.query_size, "training items": split.train_size,
                "split drawn": f"{split.generator} seed {split.split_seed}",
                "selection": preset.run.protocol, "mode": preset.run.mode, "backbone": preset.preset.backbone}
    for record in runs:
        settings = record.spec.settings
        found = {"query items": record.data.get("n_query"), "training items": record.data.get("n_train"),
                 "split drawn": f"{settings.split.generator} seed {settings.split.split_seed}",
                 "selection": settings.protocol, "mode": settings.mode,
                 "backbone": record.data.get("backbone_architecture")}
        reasons += [f"{key} {'unknown' if found[key] is None else found[key]}, {number.protocol}'s {value}"
                    for key, value in expected.items() if value is not None and found[key] != value]
        if preset.preset.variant is not None:
            summary = record.data.get("summary") or {}
            reasons += variant_differences(number.dataset, preset.preset.variant, summary.get("variant"),
                                           summary.get("items_read"))
    return list(dict.fromkeys(reasons))
