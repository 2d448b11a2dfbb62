"""``python -m benchmark report``: every run record into paper-ready tables and figures, indexed by a
``README.md`` that states the protocol, data and versions, inlines every table and embeds every figure.

The report reads the results store only (``benchmark.store``): it imports neither torch nor transformers, so it
can be built on a machine that has nothing but the records.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ..config import Ablation, ablation_names, load_ablation
from ..data import is_synthetic
from ..errors import ReportError
from ..files import write_text
from ..record import RunRecord
from ..references import REFERENCES, is_reference
from ..store import RunStore
from .figures import ablation_figure, critical_difference_figure, pr_and_precision_figures, training_figures
from .diagnostics import centroid_figure, diagnostics_tables, distance_histogram_figures, embedding_figures
from .records import Published, citation_text, citations_of, coverage, load_published, metric_name, tidy
from .selection import Configuration, configuration, configurations, describe, differences, select
from .statistics import rank_rows
from .tables import DECIMALS, Table, latex_text, mean, quote, table_statistics, write_table
from .tuning import split_tuning, tuning_sections

FORMATS = ("latex", "markdown", "csv")


def metric_slug(metric: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", metric.replace("@", "_at_")).strip("_")


#: What every caption says about the marks, by number of replicates.
MARKS = ("bold: best mean; †: not significantly worse than the best (two-sided paired t-test over replicates, "
         "Holm-corrected over the column's losses, α = 0.05)")
NO_TEST = "one replicate: no significance is claimed, bold marks the highest value only"
#: What each reference row is, for the captions.
REFERENCE_NOTES = {
    "ref:random": "random codes",
    "ref:lsh": "LSH, the sign of a random projection of the backbone features",
    "ref:continuous": "the continuous backbone features ranked by cosine",
    "ref:oracle": "the visible-label oracle, the classes each modality shows ranked by cosine",
}


def varied_sources(records: list[RunRecord]) -> list[str]:
    """The sources of variation (data, backbone, split, init) the replicates of ``records`` draw anew."""
    varied = {source for record in records for source in record.spec.varies}
    return [source for source in ("data", "backbone", "split", "init") if source in varied]


def _caption(metric: str, records: list[RunRecord], table: Table, what: str, extra: tuple[str, ...] = ()) -> str:
    protocols = sorted({r.spec.settings.protocol for r in records})
    synthetic = any(is_synthetic(r.spec.dataset) for r in records)
    n = table.max_replicates
    parts = [f"{what}: {metric_name(metric)} of Hamming ranking",
             f"{'/'.join(protocols)} protocol" + (" (paper: best query epoch, optimistic)" if "paper" in protocols else ""),
             "SYNTHETIC stand-in data" if synthetic else "real datasets"]
    if n > 1:
        sources = ", ".join(varied_sources(records)) or "nothing"
        parts += [f"mean ± 95% t-interval half-width over {n} replicates (each draws anew: {sources})", MARKS]
    else:
        parts.append(NO_TEST)
    if table.quoted:
        sources = "; ".join(f"{q.method}: {q.source}" for q in table.quoted)
        parts.append(f"§ (italic): published numbers quoted from their sources ({sources}), on the real datasets; "
                     "not re-run here, no interval, never marked or tested")
    references = [REFERENCE_NOTES.get(row, REFERENCES[row]) for row in table.rows if is_reference(row)]
    if references:
        parts.append(f"reference rows ({'; '.join(references)}) are not tested")
    cited = citations_of(records)
    if cited:
        parts.append("methods: " + "; ".join(map(citation_text, cited)) + " (BibTeX: references.bib)")
    return "; ".join([*parts, *extra]) + "."


@dataclass
class Section:
    """One part of the report: its title, its Markdown (inlined in the index), and its files."""

    title: str
    markdown: str
    tables: list[Path] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)


def main_section(records: list[RunRecord], df, out: Path, formats, metric: str, decimals: int = DECIMALS,
                 published: list[Published] = ()) -> tuple[Section, Table]:
    """The main table, with rows quoting the ``published`` numbers of ``metric`` that have a place in it."""
    table = quote(table_statistics(df, metric), list(published), metric)
    caption = _caption(metric, records, table, "Cross-modal retrieval")
    files, markdown = write_table(table, out / "tables", f"main_{metric_slug(metric)}", formats, caption, decimals)
    return Section(f"Main table ({metric_name(metric)})", markdown, list(files.values())), table


def ranking_section(table: Table, out: Path, formats, metric: str) -> Section | None:
    """Average ranks of the losses over the cells where every loss has a value; None with fewer than two."""
    losses = [row for row in table.rows if not is_reference(row)]
    cells = [c for c in table.columns if all(table.cell(loss, c) for loss in losses)]
    if len(losses) < 2 or not cells:
        return None
    ranking = rank_rows({loss: [mean(table.cell(loss, c)) for c in cells] for loss in losses})
    order = sorted(losses, key=ranking.average_ranks.get)
    friedman = (f"Friedman test over the cells: χ² = {ranking.statistic:.2f}, p = {ranking.p_value:.3g}"
                if not math.isnan(ranking.p_value) else "no Friedman test (it needs at least 3 losses and 2 cells)")
    caption = (f"Average rank of each loss over {ranking.n_cells} cells (direction × dataset × bits; 1 = best, by "
               f"mean {metric_name(metric)}); {friedman}; Nemenyi critical difference at α = 0.05: "
               f"CD = {ranking.critical_difference:.2f} (losses whose average ranks differ by less are not "
               "significantly different). The cells are not independent (a dataset's directions and code lengths "
               "share its data), so read the tests as indicative.")
    rows = [{"loss": loss, "average_rank": ranking.average_ranks[loss], "cells": ranking.n_cells} for loss in order]
    lines = [f"*{caption}*", "", "| Loss | average rank |", "|---|---|"]
    lines += [f"| {row['loss']} | {row['average_rank']:.2f} |" for row in rows]
    markdown = "\n".join(lines) + "\n"
    slug = f"ranks_{metric_slug(metric)}"
    files = []
    if "markdown" in formats:
        files.append(write_text(out / "tables" / f"{slug}.md", markdown))
    if "csv" in formats:
        files.append(write_text(out / "tables" / f"{slug}.csv", pd.DataFrame(rows).to_csv(index=False)))
    if "latex" in formats:
        body = pd.DataFrame({"Average rank": [f"{r['average_rank']:.2f}" for r in rows]},
                            index=[r["loss"].replace("_", r"\_") for r in rows])
        files.append(write_text(out / "tables" / f"{slug}.tex", body.style.to_latex(
            hrules=True, caption=latex_text(caption), label=f"tab:{slug}", position="t", position_float="centering")))
    figures = critical_difference_figure(ranking, out / "figures", f"critical_difference_{metric_slug(metric)}")
    return Section(f"Ranks across cells ({metric_name(metric)})", markdown, files, figures)


def ablation_runs(df: pd.DataFrame, ablation: Ablation) -> pd.DataFrame:
    """The rows of ``df`` that belong to the ablation: those of its losses at the (dataset, bits, replicate) where
    every one of its losses, the reference without parameters among them, has a record."""
    runs = df[df.loss.isin(ablation.losses)]
    complete = {key for key, group in runs.groupby(["dataset", "bits", "replicate"])
                if set(ablation.losses) <= set(group.loss) and ablation.reference in set(group.row)}
    return runs[[key in complete for key in zip(runs.dataset, runs.bits, runs.replicate)]]


def ablation_section(records: list[RunRecord], df, out: Path, formats, ablation: Ablation, name: str,
                     metric: str = "map", decimals: int = DECIMALS) -> Section:
    """An ablation's table (each loss with its paired difference to the reference) and its figure, over the runs
    of ``ablation_runs``; without any, no table but a note saying what to run."""
    runs = ablation_runs(df, ablation)
    if runs.empty:
        return Section(ablation.description, f"Not in these records: no dataset, code length and replicate has a "
                                             f"record of every loss of the ablation ({', '.join(ablation.losses)}); "
                                             f"run `python -m benchmark ablate {name}` with the settings of this "
                                             "configuration.\n")
    table = table_statistics(runs, metric, losses=list(ablation.losses), reference=ablation.reference)
    ids = set(runs.run_id)
    caption = _caption(metric, [r for r in records if r.run_id in ids], table, ablation.description,
                       (f"Δ: paired difference to {ablation.reference} by replicate, mean ± 95% t-interval "
                        "half-width; n.s.: not significant (two-sided paired t-test, Holm-corrected over the "
                        "column, α = 0.05)",))
    slug = f"ablation_{name}_{metric_slug(metric)}"
    files, markdown = write_table(table, out / "tables", slug, formats, caption, decimals)
    return Section(ablation.description, markdown, list(files.values()),
                   ablation_figure(table, out / "figures", slug, metric))


def diagnostics_section(records: list[RunRecord], store: RunStore, out: Path, formats) -> Section:
    """The code-space diagnostics: a table per dataset and code length, the distance histograms, the 2-D
    embeddings and the class-centroid heatmap."""
    tables, markdown = diagnostics_tables(records, out / "tables", formats)
    if not tables and not markdown:
        return Section("Code-space diagnostics", "No record carries diagnostics (runs keep their codes since schema "
                                                 "version 2; python -m benchmark diagnose recomputes them).\n")
    embeddings, note = embedding_figures(records, store, out / "figures")
    figures = (distance_histogram_figures(records, out / "figures") + embeddings
               + centroid_figure(records, store, out / "figures"))
    text = markdown + (f"\n> {note}\n" if note else "")
    return Section("Code-space diagnostics", text, tables, figures)


@dataclass
class Report:
    """The files a report wrote, and the record files it could not read (each reason names the file)."""

    tables: list[Path] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    index: Path | None = None
    skipped: list[str] = field(default_factory=list)


def build_report(results: Path, out: Path, formats=FORMATS, metric: str = "map", where: list[str] = (),
                 decimals: int = DECIMALS, published: Path | None = None) -> Report:
    """Write tables, figures and ``<out>/README.md`` from the records in ``results`` of one configuration: the
    one with the most records among those meeting ``where`` (``benchmark.report.selection``); the others are
    listed in the index with the ``--where`` that reports them. Numbers print with ``decimals`` decimals (3 or
    4); ``published``, a YAML file (``records.load_published``), adds rows quoting published numbers."""
    results, out = Path(results), Path(out)
    if decimals not in (3, 4):
        raise ReportError(f"decimals must be 3 or 4, got {decimals!r}")
    quoted = load_published(published) if published is not None else []
    unknown = sorted(set(formats) - set(FORMATS))
    if not formats:
        raise ReportError(f"--format names no format; give a comma list of one or more of {', '.join(FORMATS)}")
    if unknown:
        raise ReportError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    store = RunStore(results)
    contents = store.contents()
    if not contents.records:
        skipped = "".join(f"\n  skipped: {reason}" for reason in contents.unreadable)
        raise ReportError(f"no run records in {store.root}; run python -m benchmark run first "
                          f"(or point --results at the folder holding runs/){skipped}")
    groups = configurations(select(contents.records, list(where)))
    if not groups:
        raise ReportError(f"no run in {store.root} meets --where {' --where '.join(where)}")
    records, tuned, trials = split_tuning(groups[0].records)  # runs of tuned parameters: a section of their own
    if not records:
        raise ReportError(f"the runs in {store.root} are tuning trials and tuned runs only: run the same grid with its "
                          "default parameters too (python -m benchmark run, without --params)")
    failures = [f for f in contents.failures if configuration(f.spec) == groups[0].settings]
    df = tidy(records)
    if metric not in set(df.metric):
        raise ReportError(f"metric {metric!r} is not in the records; available: {', '.join(sorted(set(df.metric)))}")
    main, table = main_section(records, df, out, formats, metric, decimals, quoted)
    sections = [main, ranking_section(table, out, formats, metric)]
    sections += [ablation_section(records, df, out, formats, load_ablation(name), name, metric, decimals)
                 for name in ablation_names()]
    sections.append(diagnostics_section(records, store, out, formats))
    sections += [Section(*part) for part in tuning_sections(records, tuned, trials, out, formats, metric, decimals)]
    trained = [r for r in records if not is_reference(r.spec.loss)]
    figures = Section("Figures", "", figures=pr_and_precision_figures(trained, out / "figures"))
    training = Section("Training curves", "", figures=training_figures(trained, out / "figures"))
    sections = [s for s in sections if s is not None] + [figures, training]
    cited = citations_of(records)
    if cited:
        write_text(out / "references.bib", "\n\n".join(c["bibtex"] for c in cited) + "\n")
    index = write_index(out, records, coverage(store, records, failures), contents.unreadable, results,
                        metric, sections, groups, where, len(contents.failures) - len(failures))
    return Report(tables=[p for s in sections for p in s.tables], figures=[p for s in sections for p in s.figures],
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


def _selection_lines(groups: list[Configuration], where, other_failures: int) -> list[str]:
    """What the report selected (``groups[0]``) and every configuration it left out, with how to report it, and
    how many failed runs belong to configurations left out."""
    chosen = groups[0]
    lines = ["## Configuration", "",
             f"This report covers the {len(chosen.records)} runs of one configuration"
             + (f" among those meeting `--where {' --where '.join(where)}`" if where else "")
             + "; a table cell aggregates only replicates of one configuration. Its settings:", "",
             "| key | value |", "|---|---|"]
    lines += [f"| `{key}` | `{value}` |" for key, value in sorted(chosen.settings.items())]
    if len(groups) > 1:
        lines += ["", "Left out (other configurations in these results; report one with the `--where` given):", ""]
        for group in groups[1:]:
            differing = differences(group.settings, chosen.settings)
            flags = " ".join(f"--where {k}={v}" for k, v in differing.items())
            lines.append(f"- {len(group.records)} runs with {describe(differing)}: `python -m benchmark report {flags}`")
    if other_failures:
        lines += ["", f"{other_failures} failed runs belong to other configurations (`python -m benchmark results` "
                      "lists them)."]
    return lines + [""]


def write_index(out: Path, records: list[RunRecord], grid: dict, skipped: list[str], results: Path, metric: str,
                sections: list[Section], groups: list[Configuration], where=(), other_failures: int = 0) -> Path:
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
    lines.append("")
    lines += _selection_lines(groups, where, other_failures)
    for section in sections:
        lines += [f"## {section.title}", ""]
        if section.markdown:
            lines += [section.markdown]
        if section.tables:
            lines += ["Files: " + _links(section.tables, out), ""]
        lines += _embed(section.figures, out)
    return write_text(out / "README.md", "\n".join(lines).rstrip() + "\n")
