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
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from ..files import atomic_path  # noqa: E402
from ..record import RunRecord  # noqa: E402
from .records import DIRECTION_LABELS, loss_order  # noqa: E402

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
        groups[(record.spec.dataset, record.spec.bits)][record.spec.loss].append(record)
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
        for colour, loss in zip(palette, loss_order(by_loss)):
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
        losses = loss_order(by_loss)
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


def ablation_figure(stats: pd.DataFrame, out: Path, stem: str, metric: str) -> list[Path]:
    """Grouped bars: per direction, one group per (dataset, bits), one bar per ablation loss."""
    means = stats["mean"]
    rows = [{"loss": loss, "direction": DIRECTION_LABELS[c[0]], "setting": f"{c[1]}\n{c[2]} bits",
             "value": means.at[loss, c]} for loss in means.index for c in means.columns
            if not pd.isna(means.at[loss, c])]
    frame = pd.DataFrame(rows)
    sns.set_theme(style="whitegrid", context="paper")
    grid = sns.catplot(data=frame, kind="bar", x="setting", y="value", hue="loss", col="direction",
                       hue_order=list(means.index), height=3.4, aspect=1.6, legend_out=True)
    grid.set_axis_labels("", metric)
    low = max(0.0, frame.value.min() - 0.05)
    for ax in grid.axes.flat:
        ax.set_ylim(low, min(1.0, frame.value.max() + 0.02))
        ax.tick_params(axis="x", labelsize=6)
    return _save(grid.figure, out, stem)
