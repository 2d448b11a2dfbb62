"""Figures from the run records, as PNG and PDF, each usable in a paper: per code length, the PR curves by Hamming
radius and the precision@N curves with a panel per dataset x direction and one shared legend (a loss keeps its
colour, marker and line style in every figure, so the curves read in greyscale too); per dataset x code length,
the training curves (each loss term, the validation mAP and the epoch the protocol selected); the ablation's
paired differences to its reference with their intervals. Curves of several replicates are averaged point by
point, over the points defined in every replicate (``mean_curve``)."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import seaborn as sns  # noqa: E402

from ..files import atomic_path  # noqa: E402
from ..record import RunRecord  # noqa: E402
from .escape import plot_text  # noqa: E402
from .sections import ReportContext, Section  # noqa: E402
from .selection import row_label  # noqa: E402
from .statistics import Ranking  # noqa: E402
from .tables import Table  # noqa: E402
from .tidy_data import (DIRECTION_LABELS, dataset_name, dataset_order, families_of, loss_order,  # noqa: E402
                        metric_name, names_of, row_name)

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
#: With the 10 markers, 20 losses get a distinct (marker, line style) pair.
LINESTYLES = ("-", "--", "-.", ":")
#: Markers drawn per curve at most (a PR curve at 64 bits has 65 points).
MARKS_PER_CURVE = 9

DIRECTIONS = ("i2t", "t2i")


def save_figure(fig, out: Path, stem: str) -> list[Path]:
    """Write ``fig`` as ``<out>/<stem>.png`` (110 dpi, embedded in the index) and ``<out>/<stem>.pdf`` (for a
    paper), each atomically, close it, and return the two paths."""
    paths = [out / f"{stem}.png", out / f"{stem}.pdf"]
    # the tight box found once: savefig(bbox_inches="tight") draws the whole figure an extra time per file to find it
    box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])
    for path, options in zip(paths, ({"dpi": 110}, {})):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, bbox_inches=box, **options)
    plt.close(fig)
    return paths


def styles(rows: list[str]) -> dict[str, dict]:
    """Each row's colour, marker and line style (the ``plot`` keywords), by its place in ``rows``."""
    palette = sns.color_palette("colorblind", n_colors=len(MARKERS))
    return {row: {"color": palette[i % len(palette)], "marker": MARKERS[i % len(MARKERS)],
                  "linestyle": LINESTYLES[i % len(LINESTYLES)]} for i, row in enumerate(rows)}


def _rows(records: list[RunRecord]) -> list[str]:
    """The rows (``selection.row_label``) of ``records`` in table order."""
    return loss_order({row_label(r.spec) for r in records}, families_of(records))


def mean_curve(records: list[RunRecord], direction: str, curve: str, x: str, y: str):
    """The mean over ``records`` (a row's replicates) of one curve, at the points defined in every replicate (None,
    NaN here, is undefined: the precision at a Hamming radius within which a replicate retrieved nothing),
    so that a point's mean never mixes replicates that retrieved something with ones that did not. A PR point of
    precision 0 at recall 0 (nothing relevant retrieved; what records written before 2026-12-06 stored where nothing
    at all was) counts as undefined too: it places nothing on a PR curve."""
    xs = np.array([r.curves[direction][curve][x] for r in records], dtype=float)
    ys = np.array([r.curves[direction][curve][y] for r in records], dtype=float)
    defined = np.isfinite(xs).all(0) & np.isfinite(ys).all(0)
    if curve == "pr_radius":
        defined &= ((xs != 0) | (ys != 0)).all(0)
    return xs[:, defined].mean(0), ys[:, defined].mean(0)


def curve_figure(records: list[RunRecord], bits: int, curve: str, x: str, y: str, xlabel: str, ylabel: str,
                  title: str, log_x: bool = False):
    """A panel per dataset (columns) x direction (rows) of the ``bits``-bit runs, a line per row, one legend."""
    sns.set_theme(style="whitegrid", context="paper")
    datasets = sorted({r.spec.dataset for r in records}, key=dataset_order)
    rows = _rows(records)
    style, names = styles(rows), names_of(records)
    fig, axes = plt.subplots(len(DIRECTIONS), len(datasets), figsize=(2.6 * len(datasets) + 0.6, 5.0),
                             squeeze=False, sharex=True, sharey="col")
    for column, dataset in enumerate(datasets):
        for line, direction in enumerate(DIRECTIONS):
            ax = axes[line, column]
            for row in rows:
                runs = [r for r in records if r.spec.dataset == dataset and row_label(r.spec) == row]
                if not runs:
                    continue
                xs, ys = mean_curve(runs, direction, curve, x, y)
                ax.plot(xs, ys, linewidth=1.2, markersize=4, markevery=max(1, len(xs) // MARKS_PER_CURVE),
                        label=plot_text(names[row]), **style[row])
            ax.set_title(plot_text(f"{dataset_name(dataset)}, {DIRECTION_LABELS[direction]}"), fontsize=9)
            if log_x:
                ax.set_xscale("log")
            if line == len(DIRECTIONS) - 1:
                ax.set_xlabel(xlabel)
            if column == 0:
                ax.set_ylabel(ylabel)
    handles = {label: handle for ax in axes.flat for handle, label in zip(*ax.get_legend_handles_labels())}
    fig.suptitle(f"{title}, {bits} bits", fontsize=10)
    fig.tight_layout()
    fig.legend(handles.values(), handles.keys(), loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=min(len(handles), 5), fontsize=8, frameon=False)
    return fig


def pr_and_precision_figures(records: list[RunRecord], out: Path) -> list[Path]:
    """Per code length: ``pr_<bits>`` (precision against recall by Hamming radius) and ``precision_at_n_<bits>``."""
    paths = []
    for bits in sorted({r.spec.bits for r in records}):
        runs = [r for r in records if r.spec.bits == bits]
        fig = curve_figure(runs, bits, "pr_radius", "recall", "precision", "Recall", "Precision",
                            "Precision-recall by Hamming radius")
        paths += save_figure(fig, out, f"pr_{bits}")
        fig = curve_figure(runs, bits, "precision@N", "n", "value", "Top N retrieved", "Precision@N",
                            "Precision of the top N", log_x=True)
        paths += save_figure(fig, out, f"precision_at_n_{bits}")
    return paths


def retrieval_curves(context: ReportContext) -> Section:
    """The PR and precision@N figures of the losses (``pr_and_precision_figures``)."""
    return Section("Figures", "", figures=pr_and_precision_figures(context.trained, context.out / "figures"))


def _by_setting(records: list[RunRecord]) -> dict[tuple[str, int], dict[str, list[RunRecord]]]:
    """records grouped by (dataset, bits), then by row."""
    groups: dict = defaultdict(lambda: defaultdict(list))
    for record in records:
        groups[(record.spec.dataset, record.spec.bits)][row_label(record.spec)].append(record)
    return groups


def training_figures(records: list[RunRecord], out: Path) -> list[Path]:
    """Per dataset x bits, a column per row (its first replicate): the weighted loss terms by epoch with their
    legend below them, then the validation mAP by direction (and the query-set mAP when the protocol recorded
    it) with the epoch the protocol selected marked."""
    paths = []
    settings = sorted(_by_setting(records).items(), key=lambda item: (dataset_order(item[0][0]), item[0][1]))
    for (dataset, bits), by_row in settings:
        rows = loss_order(by_row, families_of([r for rs in by_row.values() for r in rs]))
        sns.set_theme(style="whitegrid", context="paper")
        fig, axes = plt.subplots(3, len(rows), figsize=(3.0 * len(rows), 6.8), squeeze=False,
                                 gridspec_kw={"height_ratios": [3, 1, 3]})
        for column, row in enumerate(rows):
            record = min(by_row[row], key=lambda r: r.spec.replicate)
            _training_column(record, *axes[:, column])
        axes[0, 0].set_ylabel("Loss (weighted terms)")
        fig.suptitle(plot_text(f"Training curves, {dataset_name(dataset)}, {bits} bits"), fontsize=10)
        fig.tight_layout()
        paths += save_figure(fig, out, f"training_{dataset}_{bits}")
    return paths


def training_curves(context: ReportContext) -> Section:
    """The training curves of the losses (``training_figures``)."""
    return Section("Training curves", "", figures=training_figures(context.trained, context.out / "figures"))


def _training_column(record: RunRecord, top, legend, bottom) -> None:
    history = record.history
    epochs = [h.epoch for h in history]
    for i, term in enumerate(history[0].loss):
        top.plot(epochs, [h.loss[term] for h in history], linewidth=1.2, linestyle=LINESTYLES[i % len(LINESTYLES)],
                 label=plot_text(term))
    top.set_title(plot_text(f"{row_name(record)} (replicate {record.spec.replicate})"), fontsize=9)
    legend.axis("off")
    legend.legend(*top.get_legend_handles_labels(), loc="center", ncol=2, fontsize=7, frameon=False)
    evaluated = [h for h in history if h.evaluated]  # with run.eval_every > 1, only some epochs were evaluated
    paper = any(h.query_map is not None for h in evaluated)
    curves = [(f"Validation, {DIRECTION_LABELS[d]}", [h.validation_map[d] for h in evaluated], "-")
              for d in DIRECTIONS if evaluated and d in evaluated[0].validation_map]
    curves += [(f"Query set, {DIRECTION_LABELS[d]}", [h.query_map[d] for h in evaluated], "--")
               for d in DIRECTIONS if paper]
    for label, values, linestyle in curves:
        bottom.plot([h.epoch for h in evaluated], values, linewidth=1.2, linestyle=linestyle, marker="o",
                    markersize=3, label=label)
    selected = sorted({record.selection.epochs[d] for d in DIRECTIONS if d in record.selection.epochs})
    for i, epoch in enumerate(selected):
        bottom.axvline(epoch, color="0.2", linewidth=1.2, linestyle=":", label="Selected epoch" if i == 0 else None)
    for ax in (top, bottom):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.margins(x=0.08)
    bottom.set_xlabel("Epoch")
    bottom.set_ylabel("mAP" if paper else "Validation mAP")
    bottom.legend(fontsize=7, loc="lower right", framealpha=0.8)


def ablation_figure(table: Table, out: Path, stem: str, metric: str) -> list[Path]:
    """Each loss's paired difference to the ablation's reference, with its 95% interval: a panel per direction, a
    group per (dataset, bits), a marker per loss; the zero line is the reference. Not bars: a difference has no
    baseline but zero, and its interval is the point."""
    others = [row for row in table.rows if row != table.reference]
    directions = list(dict.fromkeys(c[0] for c in table.columns))
    settings = list(dict.fromkeys((c[1], c[2]) for c in table.columns))
    style = styles(others)
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(1, len(directions), figsize=(1.2 + 1.3 * len(settings) * len(directions), 3.4),
                             squeeze=False, sharey=True)
    width = 0.7 / max(1, len(others))
    for ax, direction in zip(axes[0], directions):
        for i, row in enumerate(others):
            points = [(x, table.differences[(row, (direction, *setting))]) for x, setting in enumerate(settings)
                      if (row, (direction, *setting)) in table.differences]
            if not points:
                continue
            xs = [x - 0.35 + (i + 0.5) * width for x, _ in points]
            errors = [0.0 if np.isnan(d.half_width) else d.half_width for _, d in points]
            ax.errorbar(xs, [d.mean for _, d in points], yerr=errors, fmt=style[row]["marker"],
                        color=style[row]["color"], capsize=2.5, markersize=5,
                        label=plot_text(table.names[row]))
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.grid(axis="x", visible=False)
        ax.set_xticks(range(len(settings)), [plot_text(f"{dataset_name(d)}\n{b} bits") for d, b in settings],
                      fontsize=7)
        ax.set_title(DIRECTION_LABELS[direction], fontsize=9)
    axes[0, 0].set_ylabel(plot_text(f"Δ {metric_name(metric)} to {table.names[table.reference]} (95% CI)"))
    fig.tight_layout()
    handles = {label: handle for ax in axes.flat for handle, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(handles.values(), handles.keys(), loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=min(len(handles), 4), fontsize=8, frameon=False)
    return save_figure(fig, out, stem)


def critical_difference_figure(ranking: Ranking, names: dict[str, str], out: Path, stem: str) -> list[Path]:
    """Demšar's diagram: the losses on an axis of average rank over the ranking's independent blocks (1 = best, at
    the left), the Nemenyi critical difference as a bar above it with the number of blocks, and a thick bar below
    it joining each maximal group of losses whose average ranks differ by less than the critical difference (not
    separable by the test). Without a critical difference (no test made) neither bar is drawn. Losses are labelled
    with their display names (``names``)."""
    order = sorted(ranking.average_ranks, key=ranking.average_ranks.get)
    ranks = [ranking.average_ranks[name] for name in order]
    k, half = len(order), (len(order) + 1) // 2
    groups = [] if np.isnan(ranking.critical_difference) else _cliques(ranks, ranking.critical_difference)
    bottom = 0.8 + 0.35 * len(groups) + 0.45 * half
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.35 * bottom))
    ax.set_xlim(0.2, k + 0.8)
    ax.set_ylim(-bottom - 0.3, 1.6)
    ax.axis("off")
    ax.plot([1, k], [0, 0], color="black", linewidth=1)
    for tick in range(1, k + 1):
        ax.plot([tick, tick], [0, 0.12], color="black", linewidth=1)
        ax.text(tick, 0.2, str(tick), ha="center", va="bottom", fontsize=8)
    if not np.isnan(ranking.critical_difference):
        cd = ranking.critical_difference
        ax.plot([1, 1 + cd], [1.0, 1.0], color="black", linewidth=1.5)
        for end in (1, 1 + cd):
            ax.plot([end, end], [0.92, 1.08], color="black", linewidth=1)
        ax.text(1 + cd / 2, 1.12, f"CD = {cd:.2f} (N = {ranking.n_blocks} blocks)", ha="center", va="bottom",
                fontsize=7)
    for level, (low, high) in enumerate(groups):
        y = -0.35 - 0.35 * level
        ax.plot([low - 0.04, high + 0.04], [y, y], color="black", linewidth=2.5, solid_capstyle="butt")
    label_top = -0.6 - 0.35 * len(groups)
    for i, (name, rank) in enumerate(zip(order, ranks)):
        left = i < half
        y = label_top - 0.45 * (i if left else k - 1 - i)
        x_text = 0.95 if left else k + 0.05
        ax.plot([rank, rank, x_text], [0, y, y], color="black", linewidth=0.7)
        ax.text(x_text - 0.03 if left else x_text + 0.03, y, plot_text(f"{names.get(name, name)} ({rank:.2f})"),
                ha="right" if left else "left", va="center", fontsize=7)
    return save_figure(fig, out, stem)


def _cliques(ranks: list[float], cd: float) -> list[tuple[float, float]]:
    """The maximal runs of sorted ranks whose span is below ``cd`` (runs of one rank are not drawn)."""
    spans = []
    for i in range(len(ranks)):
        j = max(j for j in range(i, len(ranks)) if ranks[j] - ranks[i] < cd)
        if j > i and not any(a <= i and j <= b for a, b in spans):
            spans.append((i, j))
    return [(ranks[i], ranks[j]) for i, j in spans]
