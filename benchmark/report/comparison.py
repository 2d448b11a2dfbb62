"""The report's comparisons of the losses: the main table with its marks, the average ranks over independent
blocks (dataset × replicate) with their critical-difference diagram, and each ablation's paired differences to its
reference."""
from __future__ import annotations

import math
import re
from dataclasses import replace

import pandas as pd

from .. import references
from ..config import Ablation, ablation_names, load_ablation
from ..files import write_text
from ..record import RunRecord
from .captions import setup_text
from .figures import ablation_figure, critical_difference_figure
from .sections import ReportContext, Section
from .statistics import ALPHA, BlockMatrix, Ranking, block_matrix, rank_rows, ranked_rows, t_half_width
from .escape import markdown_text
from .latex import frame_latex
from .tables import Table, quoted_label, table_statistics, write_table
from .tidy_data import DIRECTION_LABELS, citation_text, citations_of, dataset_name, is_generated, metric_name

#: What every caption says about the marks, by number of replicates.
MARKS = ("bold: best mean; †: not shown worse than the best (two-sided paired t-test over replicates, "
         "Holm-corrected over the column's losses, α = 0.05)")
NO_TEST = "one replicate: no significance is claimed, bold marks the highest value only"


def detectable_difference(table: Table) -> float:
    """About the smallest difference to a column's best that the † test can detect: the median, over the losses
    compared with their column's best, of the 95% t half-width of their paired differences to it. A mean
    difference smaller than its half-width has p >= 0.05 before Holm's correction, so it is never shown (NaN with
    nothing compared)."""
    widths = []
    for column in table.columns:
        best = next((row for row in table.rows if getattr(table.comparisons.get((row, column)), "mark", "") == "best"),
                    None)
        if best is None:
            continue
        top = table.cell(best, column)
        for row in table.rows:
            comparison = table.comparisons.get((row, column))
            if row == best or comparison is None or comparison.mark == "best":
                continue
            values = table.cell(row, column)
            shared = sorted(set(values) & set(top))
            width = t_half_width([top[r] - values[r] for r in shared])
            if not math.isnan(width):
                widths.append(width)
    return float(sorted(widths)[len(widths) // 2]) if widths else math.nan


def marks_text(table: Table) -> str:
    """``MARKS`` with the size of a difference the test cannot see at the table's number of replicates."""
    width = detectable_difference(table)
    if math.isnan(width):
        return MARKS
    return (MARKS[:-1] + f"; at {replicates_text(table)} replicates a difference to the best smaller than about "
            f"{width:.3f}, the median 95% half-width of a loss's paired difference to its column's best, is not "
            "detectable)")


def replicates_text(table: Table) -> str:
    """How many replicates the columns of ``table`` compare their rows on: "5", or "2 to 5" when it varies."""
    counts = table.replicate_counts
    return str(counts[-1]) if len(counts) == 1 else f"{counts[0]} to {counts[-1]}" if counts else "0"


def replicate_sets_text(table: Table) -> str | None:
    """What a caption says when rows hold different replicates (None when they all hold the same)."""
    parts = []
    if len(table.replicate_counts) > 1:
        sizes = [len(r) for r in table.compared.values()]
        usual = max(set(sizes), key=lambda n: (sizes.count(n), n))
        parts.append(f"n varies by column: {usual} replicates except " + ", ".join(
            f"{DIRECTION_LABELS[d]} {dataset_name(ds)} {b} bits ({len(r)})"
            for (d, ds, b), r in table.compared.items() if len(r) != usual))
    if table.trimmed:
        rows = sorted({table.names.get(row, row) for row, _ in table.trimmed})
        parts.append(f"each column compares its rows on the replicates they share; the other replicates of "
                     f"{', '.join(rows)} are left out of it")
    if table.incomplete:
        rows = sorted({table.names.get(row, row) for row, _ in table.incomplete})
        parts.append(f"‡: fewer replicates than its column compares on ({', '.join(rows)}): its own mean, left "
                     "out of the column's marks and tests")
    return "; ".join(parts) or None


def metric_slug(metric: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", metric.replace("@", "_at_")).strip("_")


def varied_sources(records: list[RunRecord]) -> list[str]:
    """The sources of variation (data, backbone, split, init) the replicates of ``records`` draw anew."""
    varied = {source for record in records for source in record.spec.varies}
    return [source for source in ("data", "backbone", "split", "init") if source in varied]


def _caption(metric: str, records: list[RunRecord], table: Table, what: str, extra: tuple[str, ...] = ()) -> str:
    synthetic = any(is_generated(r.spec.dataset) for r in records)
    n = table.replicate_counts[-1] if table.replicate_counts else 0
    parts = [f"{what}: {metric_name(metric)} of Hamming ranking",
             "SYNTHETIC stand-in data" if synthetic else "real datasets", setup_text(records)]
    if n > 1:
        sources = ", ".join(varied_sources(records)) or "nothing"
        parts += [f"mean ± 95% t-interval half-width over {replicates_text(table)} replicates (each draws anew: "
                  f"{sources}; per cell, not adjusted for the comparisons the marks make)",
                  marks_text(table)]
    else:
        parts.append(NO_TEST)
    sets = replicate_sets_text(table)
    if sets:
        parts.append(sets)
    if table.quoted:
        sources = "; ".join(f"{q.label}: {q.source}" for q in table.quoted)
        parts.append(f"§ (italic): published numbers quoted from their sources ({sources}), each only where these "
                     "runs were measured as it was (same dataset and metric; for a published protocol in brackets, "
                     "its split, selection rule and mode); not re-run here, no interval, never marked or tested")
    controls = [table.names[row] for row in table.rows if table.kind(row) == "control"]
    if controls:
        parts.append(f"label-free control{'s' if len(controls) > 1 else ''} ({', '.join(controls)}: trained on the "
                     "image-text pairing alone, no labels) shown apart, never marked, ranked or tested")
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
    if table.unplaced:
        markdown += ("\nPublished numbers not comparable with these runs, so not in the table:\n\n"
                     + "".join(f"- {markdown_text(quoted_label(method, protocol))} "
                               f"({markdown_text(source)}): not comparable: {markdown_text('; '.join(reasons))}\n"
                               for (method, source, _, protocol), reasons in table.unplaced.items()))
    return Section(f"Main table ({metric_name(metric)})", markdown, list(files.values()))


def ranked_losses(context: ReportContext) -> tuple[list[str], BlockMatrix, Ranking] | None:
    """The losses of the main table (its reference and quoted rows are never ranked), their block matrix
    (``statistics.block_matrix``: a block is one dataset × replicate) and their ranking over the blocks; None with
    fewer than two losses. With fewer than 3 losses or 2 blocks there is no Friedman test, and then no critical
    difference either."""
    table = context.table
    # without a loss whose missing replicates would leave out most blocks (ranked_rows keeps at least two)
    losses = ranked_rows(table, [row for row in table.rows if table.kind(row) == "loss"])
    if len(losses) < 2:
        return None
    blocks = block_matrix(table, losses)
    ranking = rank_rows(blocks.values)
    if not ranking.tested:  # Nemenyi's test follows a Friedman test that rejects: none made, no CD drawn
        ranking = replace(ranking, critical_difference=math.nan)
    return losses, blocks, ranking


def count(n: int, word: str, plural: str | None = None) -> str:
    """``n`` and ``word``, in the plural (``plural``, else ``word`` + s) unless ``n`` is 1."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


def blocks_text(blocks: BlockMatrix, metric: str) -> str:
    """What the blocks are, and how many were left out, as captions state it."""
    cells = sorted(set(blocks.cells.values()))
    per = " or ".join(map(str, cells)) if cells else "its"
    text = (f"{count(len(blocks.blocks), 'independent block')}, a block being one dataset × replicate (its data, "
            f"backbone and split; different replicates and datasets are drawn independently), and a loss's value in "
            f"a block the mean of its {metric_name(metric)} over that dataset's {per} cells (both directions × "
            "each code length) of that replicate")
    if blocks.left_out:
        text += (f"; {count(len(blocks.left_out), 'block')} left out, where some loss lacks a cell "
                 f"({', '.join(f'{d} replicate {r}' for d, r in blocks.left_out)})")
    return text


def unranked_text(table: Table, ranked: list[str]) -> str:
    """The losses of ``table`` left out of the ranks (``statistics.ranked_rows``), as captions say it ("" when
    none is)."""
    left = [row for row in table.rows if table.kind(row) == "loss" and row not in ranked]
    return (f"; not ranked, for lacking the replicates of most blocks (their cells are marked ‡): "
            f"{', '.join(table.names.get(row, row) for row in left)}") if left else ""


def ranks(context: ReportContext) -> Section | None:
    """Average ranks of the losses over the independent blocks (``ranked_losses``) with the Friedman test and the
    Nemenyi critical difference; None with fewer than two losses or no complete block."""
    metric, out, formats = context.metric, context.out, context.formats
    ranked = ranked_losses(context)
    if ranked is None or not ranked[1].blocks:
        return None
    losses, blocks, ranking = ranked
    order = sorted(losses, key=ranking.average_ranks.get)
    n, k = ranking.n_blocks, len(losses)
    if ranking.tested:
        tests = (f"Friedman test over the {n} blocks: χ² = {ranking.statistic:.2f}, p = {ranking.p_value:.3g}; "
                 f"Nemenyi critical difference at α = {ALPHA} for {k} losses and {n} blocks: "
                 f"CD = {ranking.critical_difference:.2f} (losses whose average ranks differ by less are not "
                 f"separable by this test at {n} blocks)")
    else:
        tests = (f"no test is made: the Friedman test needs at least 3 losses and 2 independent blocks, here "
                 f"{count(k, 'loss', 'losses')} and {count(n, 'block')}, so the ranks describe "
                 "what was measured and nothing more")
    caption = (f"Average rank of each loss (1 = best, by mean {metric_name(metric)}; ties share their average rank) "
               f"over {blocks_text(blocks, metric)}{unranked_text(context.table, losses)}; {tests}.")
    rows = [{"loss": loss, "average_rank": ranking.average_ranks[loss], "blocks": n,
             "friedman_chi2": ranking.statistic, "friedman_p": ranking.p_value,
             "critical_difference": ranking.critical_difference} for loss in order]
    lines = [f"*{markdown_text(caption)}*", "", "| Loss | average rank |", "|---|---|"]
    lines += [f"| {markdown_text(row['loss'])} | {row['average_rank']:.2f} |" for row in rows]
    markdown = "\n".join(lines) + "\n"
    slug = f"ranks_{metric_slug(metric)}"
    files = []
    if "markdown" in formats:
        files.append(write_text(out / "tables" / f"{slug}.md", markdown))
    if "csv" in formats:
        files.append(write_text(out / "tables" / f"{slug}.csv", pd.DataFrame(rows).to_csv(index=False)))
    if "latex" in formats:
        body = pd.DataFrame({"Average rank": [f"{r['average_rank']:.2f}" for r in rows]},
                            index=[context.table.names.get(r["loss"], r["loss"]) for r in rows])
        files.append(write_text(out / "tables" / f"{slug}.tex", frame_latex(body, caption, f"tab:{slug}", "Loss")))
    figures = critical_difference_figure(ranking, context.table.names, out / "figures",
                                         f"critical_difference_{metric_slug(metric)}")
    return Section(f"Ranks over independent blocks ({metric_name(metric)})", markdown, files, figures)


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
                       (f"Δ: paired difference to {table.names.get(ablation.reference, ablation.reference)} by "
                        "replicate, mean ± 95% t-interval half-width (not adjusted); n.s.: not significant "
                        "(two-sided paired t-test, Holm-corrected over the column, α = 0.05), so an interval that "
                        "excludes 0 can still be n.s. after the correction",))
    slug = f"ablation_{name}_{metric_slug(metric)}"
    files, markdown = write_table(table, context.out / "tables", slug, context.formats, caption, context.decimals)
    return Section(ablation.description, markdown, list(files.values()),
                   ablation_figure(table, context.out / "figures", slug, metric))


def ablations(context: ReportContext) -> list[Section]:
    """A section per packaged ablation (``benchmark/configs/ablations/``)."""
    return [ablation_section(context, load_ablation(name), name) for name in ablation_names()]
