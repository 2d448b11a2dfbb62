"""Paper-style tables from the tidy records, as LaTeX (booktabs, through pandas' Styler), Markdown and CSV, and
what their marks claim (``benchmark.report.statistics``).

A cell is the mean over replicates and, with several, ± the half-width of its 95% t-interval. Per column the
best mean is bold and every other loss that a paired t-test across replicates (Holm-corrected over the column)
cannot tell from it is marked † (tied). With one replicate nothing is tested and only the best is bold. An
ablation table adds each loss's paired difference Δ to the reference loss, with its 95% interval, marked "n.s."
when not significant. Reference rows (random codes, LSH, backbone features) sit below the losses, unmarked. A
missing cell is "–".
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..files import write_text
from ..references import REFERENCES, is_reference
from .records import DIRECTION_LABELS, loss_order
from .statistics import Comparison, Difference, compare_to_best, differences_to, t_half_width

DECIMALS = 4
MISSING = "–"

Column = tuple[str, str, int]  # direction, dataset, bits


@dataclass
class Table:
    """The numbers of a table: per row and column, the values by replicate and what the statistics say."""

    rows: list[str]
    columns: list[Column]
    values: dict[tuple[str, Column], dict[int, float]]
    comparisons: dict[tuple[str, Column], Comparison]
    differences: dict[tuple[str, Column], Difference]
    families: dict[str, str | None]
    reference: str | None = None  # the row differences are measured against (ablations)

    def group(self, row: str) -> str:
        """The label of the block of rows ``row`` belongs to: its loss family, or "reference"."""
        return "reference" if is_reference(row) else self.families.get(row) or "other"

    def cell(self, row: str, column: Column) -> dict[int, float] | None:
        return self.values.get((row, column))

    @property
    def max_replicates(self) -> int:
        return max((len(v) for v in self.values.values()), default=0)


def table_statistics(df: pd.DataFrame, metric: str, losses: list[str] | None = None, reference: str | None = None,
                     directions=("i2t", "t2i")) -> Table:
    """The table of ``metric`` for the rows (losses with their parameters) of ``losses`` (default: every loss in
    ``df``, then the reference rows) over the columns (direction, dataset, bits) present; with ``reference``,
    each row's difference to that row."""
    subset = df[(df.metric == metric) & df.direction.isin(directions)]
    if losses is not None:
        subset = subset[subset.loss.isin(losses)]
    values: dict[tuple[str, Column], dict[int, float]] = {}
    for (row, direction, dataset, bits), group in subset.groupby(["row", "direction", "dataset", "bits"]):
        values[(row, (direction, dataset, int(bits)))] = dict(zip(group.replicate.astype(int), group.value))
    present = {row for row, _ in values}
    families = dict(zip(subset.row, subset.family))
    if losses is None:
        trained = loss_order((name for name in present if not is_reference(name)), families)
        rows = trained + [name for name in REFERENCES if name in present]
    else:  # the losses' order, each loss's rows (its parameter settings) together
        of_loss = dict(zip(subset.row, subset.loss))
        rows = sorted(present, key=lambda row: (losses.index(of_loss[row]), row))
    columns = sorted({column for _, column in values}, key=lambda c: (list(directions).index(c[0]), c[1], c[2]))
    comparisons, differences = {}, {}
    for column in columns:
        in_column = {row: values[(row, column)] for row in rows if (row, column) in values}
        competing = {row: v for row, v in in_column.items() if not is_reference(row)}
        if competing:
            comparisons.update({(row, column): c for row, c in compare_to_best(competing).items()})
        if reference is not None and reference in in_column:
            differences.update({(row, column): d for row, d in differences_to(in_column, reference).items()})
    return Table(rows, columns, values, comparisons, differences, families, reference)


# ------------------------------------------------------------------------------------------- formatting

MARKUP = {
    "latex": {"best": r"\textbf{%s}", "tied": r"%s$^\dagger$", "": "%s", "missing": "--", "pm": r" $\pm$ ",
              "delta": r"$\Delta$"},
    "markdown": {"best": "**%s**", "tied": "%s†", "": "%s", "missing": MISSING, "pm": " ± ", "delta": "Δ"},
}


def mean(values: dict[int, float]) -> float:
    return sum(values.values()) / len(values)


def _number(values: dict[int, float], pm: str) -> str:
    text = f"{mean(values):.{DECIMALS}f}"
    half = t_half_width(list(values.values()))
    return text + (f"{pm}{half:.{DECIMALS}f}" if not math.isnan(half) else "")


def _difference(difference: Difference, markup: dict) -> str:
    text = f"{markup['delta']} {difference.mean:+.{DECIMALS}f}"
    if not math.isnan(difference.half_width):
        text += f"{markup['pm']}{difference.half_width:.{DECIMALS}f}"
    if not math.isnan(difference.p_holm) and not difference.significant:
        text += ", n.s."
    return f"({text})"


def formatted(table: Table, style: str) -> pd.DataFrame:
    """Cells as strings with the marks of ``style`` (``latex`` or ``markdown``)."""
    markup = MARKUP[style]
    out = pd.DataFrame(markup["missing"], index=table.rows, columns=pd.MultiIndex.from_tuples(table.columns))
    for row in table.rows:
        for column in table.columns:
            values = table.cell(row, column)
            if values is None:
                continue
            comparison = table.comparisons.get((row, column))
            text = markup[comparison.mark if comparison else ""] % _number(values, markup["pm"])
            difference = table.differences.get((row, column))
            if difference is not None:
                text += " " + _difference(difference, markup)
            out.at[row, column] = text
    return out


def row_label(row: str, style: str) -> str:
    label = REFERENCES.get(row, row)
    return label.replace("_", r"\_") if style == "latex" else label


def _column_labels(columns: list[Column], style: str) -> list[tuple[str, str, str]]:
    labels = []
    for direction, dataset, bits in columns:
        arrow = DIRECTION_LABELS[direction]
        if style == "latex":
            arrow = arrow.replace("→", r"$\rightarrow$")
            dataset = dataset.replace("_", r"\_")
        labels.append((arrow, dataset, f"{bits} bits"))
    return labels


#: Characters of captions and what LaTeX needs instead.
LATEX_TEXT = {"%": r"\%", "&": r"\&", "#": r"\#", "_": r"\_", "±": r"$\pm$", "Δ": r"$\Delta$", "†": r"$^\dagger$",
              "α": r"$\alpha$", "χ²": r"$\chi^2$", "×": r"$\times$", "→": r"$\rightarrow$", "≥": r"$\geq$"}


def latex_text(text: str) -> str:
    """``text`` (a caption, a label) with LaTeX's special characters escaped and our symbols in math mode."""
    return re.sub("|".join(map(re.escape, LATEX_TEXT)), lambda m: LATEX_TEXT[m.group(0)], text)


def to_latex(table: Table, caption: str, label: str) -> str:
    """A booktabs table; the rows grouped by family (and the reference rows) under a multirow label, with a
    rule between groups."""
    cells = formatted(table, "latex")
    cells.columns = pd.MultiIndex.from_tuples(_column_labels(table.columns, "latex"))
    cells.index = pd.MultiIndex.from_tuples([(table.group(row), row_label(row, "latex")) for row in table.rows])
    latex = cells.style.to_latex(hrules=True, multicol_align="c", multirow_align="t", clines="skip-last;data",
                                 column_format="ll" + "c" * cells.shape[1], caption=latex_text(caption), label=label,
                                 position="t", position_float="centering")
    # booktabs rules between the groups (Styler writes \cline, which booktabs spaces badly), none before the end
    latex = re.sub(r"\\cline\{[^}]*\}\n(?=\\bottomrule)", "", latex)
    return re.sub(r"\\cline\{[^}]*\}", r"\\midrule", latex)


def to_markdown(table: Table, caption: str) -> str:
    """A Markdown table whose first column names each block's family (or "reference") on its first row."""
    cells = formatted(table, "markdown")
    headers = ["Family", "Loss"] + [" ".join(parts) for parts in _column_labels(table.columns, "markdown")]
    lines = [f"*{caption}*", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    previous = None
    for row in table.rows:
        name = f"*{row_label(row, 'markdown')}*" if is_reference(row) else row
        group = table.group(row)
        lines.append("| " + " | ".join([group if group != previous else "", name] + list(cells.loc[row])) + " |")
        previous = group
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """Long format: a row per loss x column with mean, 95% half-width, replicates, the mark and its Holm p-value
    against the best, and (ablations) the difference to the reference with its half-width and p-value."""
    rows = []
    for row in table.rows:
        for column in table.columns:
            values = table.cell(row, column)
            if values is None:
                continue
            comparison = table.comparisons.get((row, column))
            entry = {"loss": row, "family": table.group(row), "direction": column[0], "dataset": column[1],
                     "bits": column[2],
                     "mean": mean(values), "ci95_half_width": t_half_width(list(values.values())),
                     "n_replicates": len(values), "mark": comparison.mark if comparison else "reference",
                     "p_holm_vs_best": comparison.p_holm if comparison else math.nan}
            if table.reference is not None:
                difference = table.differences.get((row, column))
                entry.update({f"delta_to_{table.reference}": difference.mean if difference else 0.0,
                              "delta_ci95_half_width": difference.half_width if difference else math.nan,
                              "delta_p_holm": difference.p_holm if difference else math.nan})
            rows.append(entry)
    return pd.DataFrame(rows).to_csv(index=False, float_format=f"%.{DECIMALS + 2}f")


def write_table(table: Table, out: Path, stem: str, formats: list[str], caption: str) -> tuple[dict[str, Path], str]:
    """Write ``<out>/<stem>.tex|.md|.csv``; returns the paths by format, and the Markdown table (which the
    report index inlines whether or not a ``.md`` file was asked for)."""
    markdown = to_markdown(table, caption)
    written = {}
    if "latex" in formats:
        written["latex"] = write_text(out / f"{stem}.tex", to_latex(table, caption, f"tab:{stem}"))
    if "markdown" in formats:
        written["markdown"] = write_text(out / f"{stem}.md", markdown)
    if "csv" in formats:
        written["csv"] = write_text(out / f"{stem}.csv", to_csv(table))
    return written, markdown
