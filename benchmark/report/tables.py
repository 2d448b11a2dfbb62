"""Paper-style tables from the tidy records: the main comparison and the variance-constraint ablation,
as LaTeX (booktabs, through pandas' Styler), Markdown and CSV.

A cell is the mean over seeds (``± std`` when there are several); per column the best value is bold and
the second best underlined, comparing values as printed (so equal-looking values tie); a missing cell
is "–".
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..files import write_text
from .records import DIRECTION_LABELS, loss_order

DECIMALS = 4
MISSING = "–"


def cell_statistics(df: pd.DataFrame, metric: str, losses: list[str] | None = None,
                    directions=("i2t", "t2i")) -> pd.DataFrame:
    """Mean, std and number of seeds per (loss) x (direction, dataset, bits), for ``metric``."""
    subset = df[(df.metric == metric) & df.direction.isin(directions)]
    if losses is not None:
        subset = subset[subset.loss.isin(losses)]
    stats = subset.groupby(["loss", "direction", "dataset", "bits"]).value.agg(["mean", "std", "count"])
    wide = stats.unstack(["direction", "dataset", "bits"])
    if wide.empty:
        return wide
    order = loss_order(wide.index) if losses is None else [l for l in losses if l in wide.index]
    columns = sorted(wide["mean"].columns, key=lambda c: (list(directions).index(c[0]), c[1], c[2]))
    return wide.reindex(index=order).reindex(columns=pd.MultiIndex.from_tuples(
        [(s, *c) for s in ("mean", "std", "count") for c in columns]))


def ranks(means: pd.DataFrame) -> pd.DataFrame:
    """1 where a value is the best of its column (as printed), 2 where it is the second best, else 0."""
    rounded = means.round(DECIMALS)
    out = pd.DataFrame(0, index=means.index, columns=means.columns)
    for column in means.columns:
        values = sorted(set(rounded[column].dropna()), reverse=True)
        for rank, value in enumerate(values[:2], start=1):
            out.loc[rounded[column] == value, column] = rank
    return out


def _number(mean: float, std: float, count: int) -> str:
    text = f"{mean:.{DECIMALS}f}"
    return text + (f" ± {std:.{DECIMALS}f}" if count > 1 else "")


MARKUP = {
    "latex": {1: r"\textbf{%s}", 2: r"\underline{%s}", 0: "%s", "missing": "--", "pm": r" $\pm$ "},
    "markdown": {1: "**%s**", 2: "<u>%s</u>", 0: "%s", "missing": MISSING, "pm": " ± "},
}


def formatted(stats: pd.DataFrame, style: str, deltas: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cells as strings with the best / second-best markup of ``style``; optional ``(Δ ...)`` per cell."""
    markup = MARKUP[style]
    means, stds, counts = stats["mean"], stats["std"], stats["count"]
    rank = ranks(means)
    out = pd.DataFrame(markup["missing"], index=means.index, columns=means.columns)
    for row in means.index:
        for column in means.columns:
            mean = means.at[row, column]
            if pd.isna(mean):
                continue
            text = _number(mean, stds.at[row, column], int(counts.at[row, column])).replace(" ± ", markup["pm"])
            text = markup[int(rank.at[row, column])] % text
            if deltas is not None and not pd.isna(deltas.at[row, column]) and row != deltas.index[0]:
                delta = f"{deltas.at[row, column]:+.{DECIMALS}f}"
                text += f" ($\\Delta$ {delta})" if style == "latex" else f" (Δ {delta})"
            out.at[row, column] = text
    return out


def _column_labels(columns: pd.MultiIndex, style: str) -> list[tuple[str, str, str]]:
    labels = []
    for direction, dataset, bits in columns:
        arrow = DIRECTION_LABELS[direction]
        if style == "latex":
            arrow = arrow.replace("→", r"$\rightarrow$")
            dataset = dataset.replace("_", r"\_")
        labels.append((arrow, dataset, f"{bits} bits"))
    return labels


def to_latex(cells: pd.DataFrame, caption: str, label: str) -> str:
    table = cells.copy()
    table.columns = pd.MultiIndex.from_tuples(_column_labels(cells.columns, "latex"))
    table.index = [name.replace("_", r"\_") for name in table.index]
    caption = caption.replace("±", r"$\pm$").replace("Δ", r"$\Delta$").replace("_", r"\_")
    return table.style.to_latex(hrules=True, multicol_align="c", column_format="l" + "c" * table.shape[1],
                           caption=caption, label=label, position="t", position_float="centering")


def to_markdown(cells: pd.DataFrame, caption: str) -> str:
    headers = ["Loss"] + [" ".join(parts) for parts in _column_labels(cells.columns, "markdown")]
    lines = [f"*{caption}*", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for loss, row in cells.iterrows():
        lines.append("| " + " | ".join([loss] + list(row)) + " |")
    return "\n".join(lines) + "\n"


def to_csv(stats: pd.DataFrame, deltas: pd.DataFrame | None = None) -> str:
    """Long format: loss, direction, dataset, bits, mean, std, n_seeds, rank (1 best, 2 second) [, delta]."""
    rank = ranks(stats["mean"])
    rows = []
    for loss in stats.index:
        for column in stats["mean"].columns:
            mean = stats["mean"].at[loss, column]
            if pd.isna(mean):
                continue
            row = {"loss": loss, "direction": column[0], "dataset": column[1], "bits": column[2], "mean": mean,
                   "std": stats["std"].at[loss, column], "n_seeds": int(stats["count"].at[loss, column]),
                   "rank": int(rank.at[loss, column])}
            if deltas is not None:
                row["delta_to_" + deltas.index[0]] = deltas.at[loss, column]
            rows.append(row)
    return pd.DataFrame(rows).to_csv(index=False, float_format=f"%.{DECIMALS + 2}f")


def write_table(stats: pd.DataFrame, out: Path, stem: str, formats: list[str], caption: str,
                deltas: pd.DataFrame | None = None) -> tuple[dict[str, Path], str]:
    """Write ``<out>/<stem>.tex|.md|.csv``; returns the paths by format, and the Markdown table (which the
    report index inlines whether or not a ``.md`` file was asked for)."""
    markdown = to_markdown(formatted(stats, "markdown", deltas), caption)
    written = {}
    if "latex" in formats:
        written["latex"] = write_text(out / f"{stem}.tex", to_latex(formatted(stats, "latex", deltas), caption,
                                                                   f"tab:{stem}"))
    if "markdown" in formats:
        written["markdown"] = write_text(out / f"{stem}.md", markdown)
    if "csv" in formats:
        written["csv"] = write_text(out / f"{stem}.csv", to_csv(stats, deltas))
    return written, markdown


def ablation_deltas(stats: pd.DataFrame, reference: str) -> pd.DataFrame | None:
    """Each cell's mean minus the reference loss's mean in the same column (rows ordered reference first)."""
    if stats.empty or reference not in stats.index:
        return None
    means = stats["mean"]
    return means - means.loc[reference]
