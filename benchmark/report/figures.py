"""Figures from the run records, as PNG and PDF: PR curves by Hamming radius and precision@N curves per
dataset x bits (one line per loss, I->T and T->I side by side), training curves, and the ablation bars.
Curves of several seeds are averaged point by point."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

from ..files import atomic_path  # noqa: E402
from ..record import RunRecord  # noqa: E402
from .records import DIRECTION_LABELS, families_of, loss_order  # noqa: E402
from .selection import row_label  # noqa: E402
from .statistics import Ranking  # noqa: E402
from .tables import Table  # noqa: E402

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")

DIRECTIONS = ("i2t", "t2i")


def _save(fig, out: Path, stem: str) -> list[Path]:
    paths = [out / f"{stem}.png", out / f"{stem}.pdf"]
    for path, options in zip(paths, ({"dpi": 110}, {})):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, bbox_inches="tight", **options)
    plt.close(fig)
    return paths


def _by_setting(records: list[RunRecord]) -> dict[tuple[str, int], dict[str, list[RunRecord]]]:
    """records grouped by (dataset, bits), then by loss."""
    groups: dict = defaultdict(lambda: defaultdict(list))
    for record in records:
        groups[(record.spec.dataset, record.spec.bits)][row_label(record.spec)].append(record)
    return groups


def _mean_curve(records: list[RunRecord], direction: str, curve: str, x: str, y: str):
    xs = np.mean([r.curves[direction][curve][x] for r in records], axis=0)
    ys = np.mean([r.curves[direction][curve][y] for r in records], axis=0)
    return xs, ys


def _curve_figure(by_loss: dict[str, list[RunRecord]], title: str, curve: str, x: str, y: str, xlabel: str,
                  ylabel: str, log_x: bool = False):
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    palette = sns.color_palette("tab10", n_colors=max(3, len(by_loss)))
    for ax, direction in zip(axes, DIRECTIONS):
        for colour, loss in zip(palette, loss_order(by_loss, families_of([r for rs in by_loss.values() for r in rs]))):
            xs, ys = _mean_curve(by_loss[loss], direction, curve, x, y)
            if curve == "pr_radius":  # radii within which nothing relevant is retrieved have no PR point
                xs, ys = xs[xs > 0], ys[xs > 0]
            ax.plot(xs, ys, marker="o", markersize=2.5, linewidth=1.3, color=colour, label=loss)
        ax.set_title(f"{title} — {DIRECTION_LABELS[direction]}")
        ax.set_xlabel(xlabel)
        if log_x:
            ax.set_xscale("log")
    axes[0].set_ylabel(ylabel)
    axes[1].legend(fontsize=7, loc="best")
    return fig


def pr_and_precision_figures(records: list[RunRecord], out: Path) -> list[Path]:
    paths = []
    for (dataset, bits), by_loss in sorted(_by_setting(records).items()):
        title = f"{dataset}, {bits} bits"
        fig = _curve_figure(by_loss, title, "pr_radius", "recall", "precision", "recall", "precision")
        paths += _save(fig, out, f"pr_{dataset}_{bits}")
        fig = _curve_figure(by_loss, title, "precision@N", "n", "value", "N (top retrieved)", "precision@N",
                            log_x=True)
        paths += _save(fig, out, f"precision_at_n_{dataset}_{bits}")
    return paths


def training_figures(records: list[RunRecord], out: Path) -> list[Path]:
    """Per dataset x bits, one column per run (seed 0 of each loss): loss terms, then validation mAP."""
    paths = []
    for (dataset, bits), by_loss in sorted(_by_setting(records).items()):
        losses = loss_order(by_loss, families_of([r for rs in by_loss.values() for r in rs]))
        sns.set_theme(style="whitegrid", context="paper")
        fig, axes = plt.subplots(2, len(losses), figsize=(2.6 * len(losses), 4.6), squeeze=False, sharex=True)
        for column, loss in enumerate(losses):
            record = min(by_loss[loss], key=lambda r: r.spec.seed)
            history = record.history
            epochs = [h["epoch"] for h in history]
            for term in history[0]["loss"]:
                axes[0, column].plot(epochs, [h["loss"][term] for h in history], linewidth=1.1, label=term)
            axes[0, column].set_title(f"{loss} (seed {record.spec.seed})", fontsize=8)
            axes[0, column].legend(fontsize=5)
            for key, label in (("val_map_i2t", "I→T"), ("val_map_t2i", "T→I")):
                if key in history[0]:
                    axes[1, column].plot(epochs, [h[key] for h in history], linewidth=1.1, label=label)
            for direction, label in (("i2t", "I→T"), ("t2i", "T→I")):
                if "query_map" in history[0]:
                    axes[1, column].plot(epochs, [h["query_map"][direction] for h in history], linewidth=1.1,
                                         label=f"{label} (query)")
            axes[1, column].set_xlabel("epoch")
            axes[1, column].legend(fontsize=6)
        axes[0, 0].set_ylabel("loss (weighted terms)")
        axes[1, 0].set_ylabel("mAP per epoch")
        fig.suptitle(f"Training curves — {dataset}, {bits} bits", fontsize=10)
        paths += _save(fig, out, f"training_{dataset}_{bits}")
    return paths


def ablation_figure(table: Table, out: Path, stem: str, metric: str) -> list[Path]:
    """Each loss's paired difference to the ablation's reference, with its 95% interval: one panel per
    direction, one group per (dataset, bits), a marker per loss; the zero line is the reference."""
    others = [row for row in table.rows if row != table.reference]
    directions = list(dict.fromkeys(c[0] for c in table.columns))
    settings = list(dict.fromkeys((c[1], c[2]) for c in table.columns))
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(1, len(directions), figsize=(4.8 * len(directions), 3.4), squeeze=False, sharey=True)
    width = 0.7 / max(1, len(others))
    for ax, direction in zip(axes[0], directions):
        for i, (row, marker) in enumerate(zip(others, MARKERS)):
            for x, (dataset, bits) in enumerate(settings):
                difference = table.differences.get((row, (direction, dataset, bits)))
                if difference is None:
                    continue
                error = 0.0 if np.isnan(difference.half_width) else difference.half_width
                ax.errorbar(x - 0.35 + (i + 0.5) * width, difference.mean, yerr=error, fmt=marker, color=f"C{i}",
                            capsize=2, markersize=4, label=row if x == 0 else None)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(settings)), [f"{d}\n{b} bits" for d, b in settings], fontsize=6)
        ax.set_title(DIRECTION_LABELS[direction])
    axes[0, 0].set_ylabel(f"Δ {metric} to {table.reference} (95% CI)")
    axes[0, -1].legend(fontsize=7, loc="best")
    return _save(fig, out, stem)


def critical_difference_figure(ranking: Ranking, out: Path, stem: str) -> list[Path]:
    """Demšar's diagram: the losses on an axis of average rank (1 = best, at the left), the Nemenyi critical
    difference as a bar above it, and a thick bar below it joining each maximal group of losses whose average
    ranks differ by less than the critical difference (not significantly different)."""
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
        ax.text(1 + cd / 2, 1.12, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=7)
    for level, (low, high) in enumerate(groups):
        y = -0.35 - 0.35 * level
        ax.plot([low - 0.04, high + 0.04], [y, y], color="black", linewidth=2.5, solid_capstyle="butt")
    label_top = -0.6 - 0.35 * len(groups)
    for i, (name, rank) in enumerate(zip(order, ranks)):
        left = i < half
        y = label_top - 0.45 * (i if left else k - 1 - i)
        x_text = 0.95 if left else k + 0.05
        ax.plot([rank, rank, x_text], [0, y, y], color="black", linewidth=0.7)
        ax.text(x_text - 0.03 if left else x_text + 0.03, y, f"{name} ({rank:.2f})", ha="right" if left else "left",
                va="center", fontsize=7)
    return _save(fig, out, stem)


def _cliques(ranks: list[float], cd: float) -> list[tuple[float, float]]:
    """The maximal runs of sorted ranks whose span is below ``cd`` (runs of one rank are not drawn)."""
    spans = []
    for i in range(len(ranks)):
        j = max(j for j in range(i, len(ranks)) if ranks[j] - ranks[i] < cd)
        if j > i and not any(a <= i and j <= b for a, b in spans):
            spans.append((i, j))
    return [(ranks[i], ranks[j]) for i, j in spans]
