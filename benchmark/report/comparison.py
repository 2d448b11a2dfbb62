"""The report's comparisons of the losses: the main table with its marks, the average ranks across cells with
their critical-difference diagram, and each ablation's paired differences to its reference."""
from __future__ import annotations

import math
import re

import pandas as pd

from .. import references
from ..config import Ablation, ablation_names, load_ablation
from ..files import write_text
from ..record import RunRecord
from .figures import ablation_figure, critical_difference_figure
from .sections import ReportContext, Section
from .statistics import rank_rows
from .tables import Table, latex_text, mean, table_statistics, write_table
from .tidy_data import citation_text, citations_of, is_generated, metric_name

#: What every caption says about the marks, by number of replicates.
MARKS = ("bold: best mean; †: not significantly worse than the best (two-sided paired t-test over replicates, "
         "Holm-corrected over the column's losses, α = 0.05)")
NO_TEST = "one replicate: no significance is claimed, bold marks the highest value only"


def metric_slug(metric: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", metric.replace("@", "_at_")).strip("_")


def varied_sources(records: list[RunRecord]) -> list[str]:
    """The sources of variation (data, backbone, split, init) the replicates of ``records`` draw anew."""
    varied = {source for record in records for source in record.spec.varies}
    return [source for source in ("data", "backbone", "split", "init") if source in varied]


def _caption(metric: str, records: list[RunRecord], table: Table, what: str, extra: tuple[str, ...] = ()) -> str:
    protocols = sorted({r.spec.settings.protocol for r in records})
    synthetic = any(is_generated(r.spec.dataset) for r in records)
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
    notes = [references.get(row).note for row in table.rows if references.row_kind(row) == "reference"]
    if notes:
        parts.append(f"reference rows ({'; '.join(notes)}) are not tested")
    cited = citations_of(records)
    if cited:
        parts.append("methods: " + "; ".join(map(citation_text, cited)) + " (BibTeX: references.bib)")
    return "; ".join([*parts, *extra]) + "."


def main_table(context: ReportContext) -> Section:
    """The main table (``context.table``), with rows quoting the published numbers that have a place in it."""
    table, metric = context.table, context.metric
    caption = _caption(metric, context.records, table, "Cross-modal retrieval")
    files, markdown = write_table(table, context.out / "tables", f"main_{metric_slug(metric)}", context.formats,
                                  caption, context.decimals)
    return Section(f"Main table ({metric_name(metric)})", markdown, list(files.values()))


def ranks(context: ReportContext) -> Section | None:
    """Average ranks of the losses over the cells of the main table where every loss has a value; None with fewer
    than two losses."""
    table, metric, out, formats = context.table, context.metric, context.out, context.formats
    losses = [row for row in table.rows if references.row_kind(row) == "loss"]
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


def ablation_section(context: ReportContext, ablation: Ablation, name: str) -> Section:
    """An ablation's table (each loss with its paired difference to the reference) and its figure, over the runs
    of ``ablation_runs``; without any, no table but a note saying what to run."""
    runs = ablation_runs(context.frame, ablation)
    if runs.empty:
        return Section(ablation.description, f"Not in these records: no dataset, code length and replicate has a "
                                             f"record of every loss of the ablation ({', '.join(ablation.losses)}); "
                                             f"run `python -m benchmark ablate {name}` with the settings of this "
                                             "configuration.\n")
    metric = context.metric
    table = table_statistics(runs, metric, losses=list(ablation.losses), reference=ablation.reference)
    ids = set(runs.run_id)
    caption = _caption(metric, [r for r in context.records if r.run_id in ids], table, ablation.description,
                       (f"Δ: paired difference to {ablation.reference} by replicate, mean ± 95% t-interval "
                        "half-width; n.s.: not significant (two-sided paired t-test, Holm-corrected over the "
                        "column, α = 0.05)",))
    slug = f"ablation_{name}_{metric_slug(metric)}"
    files, markdown = write_table(table, context.out / "tables", slug, context.formats, caption, context.decimals)
    return Section(ablation.description, markdown, list(files.values()),
                   ablation_figure(table, context.out / "figures", slug, metric))


def ablations(context: ReportContext) -> list[Section]:
    """A section per packaged ablation (``benchmark/configs/ablations/``)."""
    return [ablation_section(context, load_ablation(name), name) for name in ablation_names()]
