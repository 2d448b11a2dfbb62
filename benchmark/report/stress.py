"""Runs along one quantity: a stress experiment (``python -m benchmark stress KNOB=v1,v2,...``, a synthetic knob) or
a sweep (``python -m benchmark sweep LOSS --param NAME=v1,v2,...``, a loss parameter). Each row's mAP and chosen
code-space diagnostics, mean ± 95% t-interval over replicates, against the values of the quantity (an ``Axis``); a
table and one figure per dataset x bits. Reads the store only."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .. import references  # noqa: E402
from ..files import atomic_path  # noqa: E402
from ..config import RunSpec  # noqa: E402
from ..record import RunRecord  # noqa: E402
from .escape import plot_text  # noqa: E402
from .figures import MARKERS, save_figure  # noqa: E402
from .selection import row_label  # noqa: E402
from .statistics import ALPHA, differences_to, t_half_width  # noqa: E402
from .tables import markdown_frame  # noqa: E402
from .tidy_data import DIRECTION_LABELS, dataset_name, names_of, row_order  # noqa: E402

#: The diagnostics a stress figure draws unless told otherwise (docs/diagnostics.md).
DEFAULT_DIAGNOSTICS = ("semantic_bias_spread", "separation_auc", "structure_spearman")
LINESTYLES = ("-", "--", "-.", ":")
#: Axis labels of the diagnostics a stress figure usually draws; others get their key, capitalised.
DIAGNOSTIC_LABELS = {"semantic_bias_spread": "Semantic-bias spread (bits)", "separation_auc": "Separation (AUC)",
                     "structure_spearman": "Inter-class structure (Spearman)",
                     "nearest_is_frequent": "Nearest own centroid is the frequent class"}


def knob_value(record: RunRecord, knob: str):
    """The value of synthetic ``knob`` the record's run was given (None when its config did not set it)."""
    synthetic = record.spec.synthetic
    return None if synthetic is None else synthetic.knobs.get(knob)


@dataclass(frozen=True)
class Axis:
    """What runs are tabulated along: ``name`` (the table's column), each record's ``value`` on it (None: not on
    it), the ``row`` a run is drawn as, the ``stem`` of the files and the ``label`` captions use."""

    name: str
    value: Callable[[RunRecord], object]
    row: Callable[[RunSpec], str]
    stem: str
    label: str


def knob_axis(knob: str) -> Axis:
    """A synthetic knob (``stress``): its value in every run's data."""
    return Axis(knob, lambda record: knob_value(record, knob), row_label, f"stress_{knob}", knob)


def parameter_axis(loss: str, parameter: str) -> Axis:
    """A parameter of ``loss`` (``sweep``): its value in the runs of ``loss`` given it, whose row leaves it out."""
    def value(record: RunRecord):
        spec = record.spec
        return spec.loss_params.get(parameter) if spec.loss == loss and spec.parameter_set is None else None

    def row(spec: RunSpec) -> str:
        return row_label(replace(spec, loss_params={k: v for k, v in spec.loss_params.items() if k != parameter}))

    slug = "".join(c if c.isalnum() or c == "-" else "_" for c in loss)
    return Axis(parameter, value, row, f"sweep_{slug}_{parameter}", f"{loss} {parameter}")


def stress_table(records: list[RunRecord], axis: Axis, diagnostics=DEFAULT_DIAGNOSTICS,
                 reference: str | None = None) -> pd.DataFrame:
    """One row per dataset x bits x row (``axis.row``: a loss, with its parameters) x value on ``axis`` x quantity
    (``I→T mAP``, ``T→I mAP``, then each diagnostic): ``mean``, ``ci`` (95% t half-width over replicates, NaN for
    one) and ``n``. With ``reference`` (a row), also each other trained row's paired difference to it by replicate:
    ``delta``, ``delta_ci`` and ``p_holm`` (paired t-test, Holm-corrected over the rows of the cell). Records not on
    the axis are left out; diagnostics a record lacks (reference rows without codes) are left out for it."""
    knob = axis.name
    rows = []
    for record in records:
        value = axis.value(record)
        if value is None:
            continue
        quantities = {f"{DIRECTION_LABELS[d]} mAP": record.metrics[d]["map"] for d in ("i2t", "t2i")}
        for name in diagnostics:
            if record.diagnostics and record.diagnostics.get(name) is not None:
                quantities[name] = record.diagnostics[name]
        spec = record.spec
        rows += [(spec.dataset, spec.bits, axis.row(spec), value, quantity, spec.replicate, float(v))
                 for quantity, v in quantities.items()]
    frame = pd.DataFrame(rows, columns=["dataset", "bits", "row", knob, "quantity", "replicate", "value"])
    keys = ["dataset", "bits", "row", knob, "quantity"]
    table = frame.groupby(keys, sort=True)["value"].agg(mean="mean", ci=t_half_width, n="count").reset_index()
    if reference is None or table.empty:
        return table
    found = []
    cell_keys = [key for key in keys if key != "row"]  # a cell: the rows compared with each other
    for cell_key, cell in frame[frame.row.map(references.row_kind) == "loss"].groupby(cell_keys, sort=True):
        values = {row: dict(zip(part.replicate, part.value)) for row, part in cell.groupby("row")}
        if reference in values and len(values) > 1:
            found += [(*cell_key, row, d.mean, d.half_width, d.p_holm)
                      for row, d in differences_to(values, reference).items()]
    differences = pd.DataFrame(found, columns=[*cell_keys, "row", "delta", "delta_ci", "p_holm"])
    return table.merge(differences, on=keys, how="left")


def stress_figures(table: pd.DataFrame, records: list[RunRecord], axis: Axis, out: Path) -> list[Path]:
    """Per dataset x bits, one panel per quantity: each row's mean against the axis's values, with its 95% interval
    as an error bar; a distinct marker and line style per row (readable in greyscale) and one shared legend."""
    out.mkdir(parents=True, exist_ok=True)
    knob = axis.name
    families = {axis.row(record.spec): record.family for record in records}
    names = names_of(records, axis.row)
    order = row_order(table.row, families)
    trained = sum(references.row_kind(row) == "loss" for row in order)
    paths = []
    for (dataset, bits), cell in table.groupby(["dataset", "bits"], sort=True):
        quantities = list(dict.fromkeys(cell.quantity))
        fig, axes = plt.subplots(1, len(quantities), figsize=(3.2 * len(quantities), 3.2), squeeze=False)
        for ax, quantity in zip(axes[0], quantities):
            for i, row in enumerate(order):
                line = cell[(cell.quantity == quantity) & (cell.row == row)].sort_values(knob)
                if line.empty:
                    continue
                ax.errorbar(line[knob], line["mean"], yerr=np.nan_to_num(line["ci"]),
                            label=plot_text(names.get(row, row)),
                            marker=MARKERS[i % len(MARKERS)], linestyle=LINESTYLES[i % len(LINESTYLES)],
                            color=f"{0.3 + 0.15 * (i - trained)}" if references.row_kind(row) == "reference" else None,
                            capsize=2, markersize=4, linewidth=1.2)
            ax.set_xlabel(plot_text(axis.label.replace("_", " ").capitalize()))
            ax.set_ylabel(plot_text(DIAGNOSTIC_LABELS.get(quantity, quantity if quantity.endswith("mAP")
                                                          else quantity.replace("_", " ").capitalize())))
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), frameon=False,
                   bbox_to_anchor=(0.5, -0.02 - 0.06 * ((len(labels) - 1) // 6)))
        fig.suptitle(plot_text(f"{dataset_name(dataset)}, {bits} bits: along {axis.label} "
                               "(mean ± 95% CI over replicates)"))
        fig.tight_layout(rect=(0, 0.08 + 0.06 * ((len(labels) - 1) // 6), 1, 1))
        paths += save_figure(fig, out, f"{axis.stem}_{dataset}_{bits}b")
    return paths


def write_stress_report(records: list[RunRecord], axis: Axis, out: Path, diagnostics=DEFAULT_DIAGNOSTICS,
                        reference: str | None = None) -> list[Path]:
    """The table along ``axis`` (CSV, and Markdown: mean ± CI per value, then with ``reference`` each row's paired
    difference to it) and its figures under ``out``: ``<axis.stem>.csv|.md``, ``figures/<axis.stem>_*``."""
    table = stress_table(records, axis, diagnostics, reference)
    if table.empty:
        return []
    out.mkdir(parents=True, exist_ok=True)
    knob = axis.name
    text = _wide_markdown(table, knob, [f"{m:.4f}" + ("" if np.isnan(c) else f" ± {c:.4f}")
                                        for m, c in zip(table["mean"], table["ci"])],
                          f"Along {axis.label}: mean ± 95% t-interval over replicates")
    if reference is not None and "delta" in table and table["delta"].notna().any():
        tested = table[table["delta"].notna()]
        text += "\n" + _wide_markdown(
            tested, knob, [f"{d:+.4f} ± {c:.4f}" + ("" if p < ALPHA else " n.s.")
                           for d, c, p in zip(tested["delta"], tested["delta_ci"], tested["p_holm"])],
            f"Along {axis.label}: paired difference to {reference} by replicate, mean ± 95% t-interval; n.s.: not "
            f"significant (paired t-test, Holm-corrected over the rows of each cell, α = {ALPHA})")
    paths = [out / f"{axis.stem}.csv", out / f"{axis.stem}.md"]
    with atomic_path(paths[0]) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(paths[1]) as tmp:
        Path(tmp).write_text(text)
    return paths + stress_figures(table, records, axis, out / "figures")


def _wide_markdown(table: pd.DataFrame, knob: str, cells: list[str], caption: str) -> str:
    """``cells`` (one per row of ``table``) in a Markdown table: a line per dataset / bits / quantity / row, a
    column per knob value."""
    wide = table.assign(cell=cells).pivot_table(index=["dataset", "bits", "quantity", "row"], columns=knob,
                                                values="cell", aggfunc="first")
    wide.index = [" / ".join(map(str, key)) for key in wide.index]
    wide.columns = [f"{knob}={value:g}" if isinstance(value, (int, float)) else f"{knob}={value}"
                    for value in wide.columns]
    return markdown_frame(wide.fillna(""), caption, "dataset / bits / quantity / row")
