"""Variants of a real dataset: which cleaning of it a prepared folder holds (``prepare --variant``), and the item
counts their sources publish, so that a listing, a dry run and the report can say which variant a folder holds.

>>> VARIANTS["mith"].items["nuswide"]
190421
>>> matching_counts("coco", 122218)
['mith']
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

SUMMARY_FILE = "summary.json"  # what prepare writes last into the folder it builds


@dataclass(frozen=True)
class Variant:
    """A way of building a real dataset: its name (``prepare --variant NAME``), what it is, where its rules are
    read from, and the item count its source publishes per dataset (none where the source publishes none)."""

    name: str
    description: str
    source: str
    items: dict[str, int] = field(default_factory=dict)


VARIANTS = {
    "official": Variant("official", "built by prepare from the original download (every labelled item)",
                        "the datasets' own downloads (docs/protocol.md)"),
    "mith": Variant("mith", "MITH's cleaned set, built from its released all_*.txt lists",
                    "DarrenZZhang/MM23-MITH @4583a7c, dataset/README.md and dataset/*/make_*.py",
                    {"mirflickr25k": 20015, "nuswide": 190421, "coco": 122218}),
}


def prepared_summary(folder: Path) -> dict | None:
    """The ``summary.json`` prepare left in ``folder``; None where there is none (files made another way) or it
    cannot be read."""
    try:
        summary = json.loads((Path(folder) / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


def summary_variant(summary: dict | None) -> str | None:
    """The variant a prepare ``summary`` names (summaries from before variants existed are ``official``); None
    without a summary."""
    return None if summary is None else str(summary.get("variant", "official"))


def folder_variant(folder: Path) -> str | None:
    """The variant prepare built ``folder`` as; None when no prepare summary is there."""
    return summary_variant(prepared_summary(folder))


def matching_counts(dataset: str, n_items: int) -> list[str]:
    """The variants whose published count for ``dataset`` is ``n_items``."""
    return [v.name for v in VARIANTS.values() if v.items.get(dataset) == n_items]


def variant_text(dataset: str, variant: str | None, n_items: int) -> str:
    """One line saying which variant a folder of ``n_items`` items holds: from its prepare summary where there is
    one, else by its count (a guess, and said to be one)."""
    if variant is not None:
        known = VARIANTS.get(variant)
        text = f"variant {variant}" + (f": {known.description}" if known else "")
        published = known.items.get(dataset) if known else None
        if published is not None and published != n_items:
            text += f"; {n_items:,} items, not the {published:,} published"
        return text
    by_count = matching_counts(dataset, n_items)
    if by_count:
        return (f"variant not recorded (no {SUMMARY_FILE}); {n_items:,} items is the published count of "
                f"{' and '.join(by_count)}")
    return f"variant not recorded (no {SUMMARY_FILE}); {n_items:,} items, no published variant's count"


def variant_differences(dataset: str, variant: str, found: str | None, n_items: int | None) -> list[str]:
    """How a set read as ``found`` (its prepare summary's variant; None where none says) with ``n_items`` rows
    differs from ``variant`` of ``dataset``: another variant named, or another count than the published one."""
    expected = VARIANTS[variant]
    reasons = [f"data variant {found}, not {variant}"] if found is not None and found != variant else []
    published = expected.items.get(dataset)
    if published is not None and n_items != published:
        reasons.append(f"{'unknown' if n_items is None else format(n_items, ',')} items, {variant}'s "
                       f"{published:,}")
    return reasons
