"""``python -m benchmark report``: every run record into paper-ready tables and figures, indexed by a
``README.md`` that states the protocol, data and versions, inlines every table and embeds every figure.

The report reads the results store only (``benchmark.store``): it imports neither torch nor transformers, so it
can be built on a machine that has nothing but the records.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..config import Ablation, ablation_names, load_ablation
from ..data import is_synthetic
from ..errors import ReportError
from ..files import write_text
from ..record import RunRecord
from ..store import RunStore
from .figures import ablation_figure, pr_and_precision_figures, training_figures
from .records import coverage, tidy
from .tables import ablation_deltas, cell_statistics, write_table

FORMATS = ("latex", "markdown", "csv")


def metric_slug(metric: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", metric.replace("@", "_at_")).strip("_")


def _caption(metric: str, records: list[RunRecord], what: str) -> str:
    protocols = sorted({r.spec.settings.protocol for r in records})
    synthetic = any(is_synthetic(r.spec.dataset) for r in records)
    seeds = max(len({r.spec.seed for r in records if r.spec.loss == loss}) for loss in {r.spec.loss for r in records})
    parts = [f"{what}: {metric} of Hamming ranking",
             f"{'/'.join(protocols)} protocol" + (" (paper: best query epoch, optimistic)" if "paper" in protocols else ""),
             "SYNTHETIC stand-in data" if synthetic else "real datasets",
             f"mean ± std over seeds ({seeds} at most)" if seeds > 1 else "one seed",
             "best in bold, second underlined"]
    return "; ".join(parts) + "."


def ablation_report(records: list[RunRecord], out: Path, formats, ablation: Ablation, name: str = "variance",
                    metric: str = "map") -> dict[str, list]:
    """An ablation's table (each cell with its difference to the reference loss) and its figure; empty when
    the reference or every other loss of the ablation has no record."""
    df = tidy(records)
    present = [loss for loss in ablation.losses if loss in set(df.loss)]
    if ablation.reference not in present or len(present) < 2:
        return {}
    stats = cell_statistics(df, metric, losses=present)
    slug = f"ablation_{name}_{metric_slug(metric)}"
    caption = _caption(metric, records, f"{ablation.description} (Δ: difference to {ablation.reference})")
    tables, markdown = write_table(stats, out / "tables", slug, formats, caption,
                                   ablation_deltas(stats, ablation.reference))
    return {"tables": list(tables.values()), "figures": ablation_figure(stats, out / "figures", slug, metric),
            "markdown": [markdown]}


@dataclass
class Report:
    """The files a report wrote, and the record files it could not read (each reason names the file)."""

    tables: list[Path] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    index: Path | None = None
    skipped: list[str] = field(default_factory=list)


def build_report(results: Path, out: Path, formats=FORMATS, metric: str = "map") -> Report:
    """Write tables, figures and ``<out>/README.md`` from the records in ``results``."""
    results, out = Path(results), Path(out)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ReportError(f"unknown format(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(FORMATS)}")
    store = RunStore(results)
    contents = store.contents()
    records = contents.records
    if not records:
        skipped = "".join(f"\n  skipped: {reason}" for reason in contents.unreadable)
        raise ReportError(f"no run records in {store.root}; run python -m benchmark run first "
                          f"(or point --results at the folder holding runs/){skipped}")
    df = tidy(records)
    if metric not in set(df.metric):
        raise ReportError(f"metric {metric!r} is not in the records; available: {', '.join(sorted(set(df.metric)))}")
    slug = metric_slug(metric)
    caption = _caption(metric, records, "Cross-modal retrieval")
    stats = cell_statistics(df, metric)
    main, main_markdown = write_table(stats, out / "tables", f"main_{slug}", formats, caption)
    ablations = {name: (load_ablation(name),) for name in ablation_names()}
    ablations = {name: (definition, ablation_report(records, out, formats, definition, name, metric))
                 for name, (definition,) in ablations.items()}
    figures = {"pr": pr_and_precision_figures(records, out / "figures"),
               "training": training_figures(records, out / "figures")}
    index = write_index(out, records, coverage(store, records, contents.failures), contents.unreadable, results,
                        metric, main_markdown=main_markdown, main_files=list(main.values()), ablations=ablations,
                        figures=figures)
    return Report(tables=list(main.values()) + [p for _, a in ablations.values() for p in a.get("tables", [])],
                  figures=figures["pr"] + figures["training"] + [p for _, a in ablations.values()
                                                                 for p in a.get("figures", [])],
                  index=index, skipped=contents.unreadable)


def _links(paths: list[Path], out: Path) -> str:
    return " · ".join(f"[{p.suffix.lstrip('.').upper()}]({p.relative_to(out).as_posix()})"
                      for p in paths if p.is_file())


def _embed(paths: list[Path], out: Path) -> list[str]:
    """An image (PNG) with a link to its PDF, for each figure that exists."""
    lines = []
    for png in (p for p in paths if p.suffix == ".png" and p.is_file()):
        pdf = png.with_suffix(".pdf")
        rel = png.relative_to(out).as_posix()
        lines.append(f"![{png.stem}]({rel})" + (f"  \n[PDF]({pdf.relative_to(out).as_posix()})" if pdf.is_file() else ""))
        lines.append("")
    return lines


def write_index(out: Path, records: list[RunRecord], grid: dict, skipped: list[str], results: Path, metric: str, *,
                main_markdown: str, main_files: list[Path], ablations: dict[str, tuple[Ablation, dict]],
                figures: dict) -> Path:
    datasets = sorted({r.spec.dataset for r in records})
    synthetic = [d for d in datasets if is_synthetic(d)]
    protocols = sorted({r.spec.settings.protocol for r in records})
    modes = sorted({r.spec.settings.mode for r in records})
    epochs = sorted({r.spec.settings.epochs for r in records})
    versions = {key: sorted({str(r.environment.get(key)) for r in records if r.environment.get(key)}) for key in
                ("torch", "transformers", "numpy", "device_name", "git_commit")}
    lines = [
        "# Report",
        "",
        f"Generated by `python -m benchmark report` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from "
        f"{len(records)} run records in `{results}`.",
        "",
    ]
    if synthetic:
        lines += [f"> **Data: SYNTHETIC stand-ins** ({', '.join(synthetic)}): generated data shaped like the real "
                  "sets, used so the pipeline runs anywhere. They are not the paper's datasets; these numbers are "
                  "not comparable with published results.", ""]
    real = [d for d in datasets if d not in synthetic]
    if real:
        lines += [f"**Data**: {', '.join(real)} (real datasets).", ""]
    protocol_text = {"honest": "**honest** — the epoch is chosen by validation mAP (mean of I→T and T→I) and the "
                               "query set is evaluated once, at that epoch",
                     "paper": "**paper** — the best query-set epoch is kept per direction, as published code does "
                              "(optimistic)"}
    lines += [
        "**Protocol**: " + "; ".join(protocol_text[p] for p in protocols) + ".",
        f"**Training**: backbone {', '.join(modes)}, {', '.join(map(str, epochs))} epochs; only the loss changes "
        "between runs. **Metric**: " + f"`{metric}` (Hamming ranking, tied distances ordered by retrieval index).",
        "**Versions**: " + "; ".join(f"{k} {', '.join(v)}" for k, v in versions.items() if v) + ".",
        "",
        "## Coverage",
        "",
        f"{grid['done']} of {grid['expected']} runs of the grid have records.",
    ]
    if grid["failed"]:
        lines += ["", "Failed (see `failed.json` in each run folder):"]
        lines += [f"- {label} (`{run_id}`): {error}" for run_id, label, error in grid["failed"]]
    if grid["missing"]:
        lines += ["", "Missing (not run yet):"] + [f"- {label}" for label in grid["missing"]]
    if skipped:
        lines += ["", "Record files skipped (not readable by this version):"] + [f"- {reason}" for reason in skipped]
    lines += ["", f"## Main table ({metric})", "", main_markdown, "Files: " + _links(main_files, out), ""]
    for name, (definition, ablation) in ablations.items():
        lines += [f"## {definition.description}", ""]
        if ablation:
            lines += [ablation["markdown"][0], "Files: " + _links(ablation["tables"], out), ""]
            lines += _embed(ablation["figures"], out)
        else:
            lines += [f"Not in these records: run `python -m benchmark ablate {name}` "
                      f"({', '.join(definition.losses)}).", ""]
    lines += ["## Figures", "", "### PR curves (Hamming radius) and precision@N", ""]
    lines += _embed(figures["pr"], out)
    lines += ["### Training curves", ""] + _embed(figures["training"], out)
    return write_text(out / "README.md", "\n".join(lines).rstrip() + "\n")
