"""The report's code-space diagnostics (docs/diagnostics.md): a table per dataset and code length (loss x
diagnostic, mean ± 95% t half-width over replicates), the intra/inter-class distance histograms, a 2-D embedding
of the codes coloured by label for each loss, and the class-centroid distances beside the label co-occurrence.

The embeddings and the heatmap read the codes runs kept (``codes.npz``): a figure whose codes are missing or damaged
is left out, and the section says which and why, instead of the whole report failing.

The embedding needs scikit-learn's t-SNE (``pip install 'xmhash-bench[diagnostics]'``); without it the figure is
left out and the index says why.
"""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .. import references  # noqa: E402
from ..codes import read_codes  # noqa: E402
from ..diagnostics import TABLE, class_centroids, hamming, label_dissimilarity, subsample  # noqa: E402
from ..errors import RecordError  # noqa: E402
from ..files import write_text  # noqa: E402
from ..record import RunRecord  # noqa: E402
from ..store import RunStore  # noqa: E402
from .figures import save_figure  # noqa: E402
from .sections import ReportContext, Section  # noqa: E402
from .selection import row_label  # noqa: E402
from .statistics import t_half_width  # noqa: E402
from .captions import setup_text  # noqa: E402
from .escape import plot_text  # noqa: E402
from .latex import frame_latex  # noqa: E402
from .tables import markdown_frame  # noqa: E402
from .tidy_data import dataset_name, families_of, loss_order, names_of, row_name, row_order  # noqa: E402

#: Items of the retrieval set the 2-D embedding shows, drawn with a fixed seed; and t-SNE's seed.
EMBEDDING_ITEMS, EMBEDDING_SEED = 300, 0
#: Classes given their own colour in the embedding (the most frequent); the others are grey.
COLOURED_CLASSES = 8


def _columns(records: list[RunRecord]) -> list[tuple[str, str]]:
    """(key, heading) of every diagnostic column, the quantization gap per direction last."""
    columns = [(key, heading) for key, heading, _ in TABLE]
    if any((r.diagnostics or {}).get("quantization_gap") for r in records):
        columns += [("quantization_gap.i2t", "quantization gap I→T"), ("quantization_gap.t2i", "quantization gap T→I")]
    return columns


def _value(record: RunRecord, key: str) -> float:
    found = record.diagnostics or {}
    for part in key.split("."):
        found = found.get(part, math.nan) if isinstance(found, dict) else math.nan
    return float(found) if found is not None else math.nan


def _cell(values: list[float]) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "–"
    half = t_half_width(values)
    return f"{np.mean(values):.3f}" + (f" ± {half:.3f}" if not math.isnan(half) else "")


def diagnostics_tables(records: list[RunRecord], out: Path, formats) -> tuple[list[Path], str]:
    """A table per (dataset, bits): rows the losses (then the reference rows with codes), columns the
    diagnostics; returns the files and the Markdown of all tables."""
    with_codes = [r for r in records if r.diagnostics]
    groups: dict[tuple[str, int], dict[str, list[RunRecord]]] = defaultdict(lambda: defaultdict(list))
    for record in with_codes:
        groups[(record.spec.dataset, record.spec.bits)][row_label(record.spec)].append(record)
    families, names = families_of(with_codes), names_of(with_codes)
    columns = _columns(with_codes)
    files, markdown = [], []
    for (dataset, bits), by_loss in sorted(groups.items()):
        rows = row_order(by_loss, families)
        n = max(len(v) for v in by_loss.values())
        caption = (f"Code-space diagnostics of the codes kept by each run, {dataset_name(dataset)}, {bits} bits "
                   "(Hamming distances between image and text codes within and across classes, how well they "
                   "separate, bit balance, entropy and correlation, the modality gap): "
                   + (f"mean ± 95% t-interval half-width over {n} replicates" if n > 1 else "one replicate")
                   + "; descriptive, nothing is tested; "
                   + setup_text([r for rs in by_loss.values() for r in rs]) + ".")
        table = pd.DataFrame([[_cell([_value(r, key) for r in by_loss[row]]) for key, _ in columns] for row in rows],
                             index=[references.label(r) for r in rows], columns=[heading for _, heading in columns])
        text = markdown_frame(table, caption)
        markdown.append(text)
        stem = f"diagnostics_{dataset}_{bits}"
        if "markdown" in formats:
            files.append(write_text(out / f"{stem}.md", text))
        if "csv" in formats:
            long = [{"loss": row, "dataset": dataset, "bits": bits, "diagnostic": key, "replicate": r.spec.replicate,
                     "value": _value(r, key)} for row in rows for r in by_loss[row] for key, _ in columns]
            files.append(write_text(out / f"{stem}.csv", pd.DataFrame(long).to_csv(index=False)))
        if "latex" in formats:
            named = table.set_axis([names[row] for row in rows])
            files.append(write_text(out / f"{stem}.tex", frame_latex(named, caption, f"tab:{stem}", "Loss")))
    return files, "\n".join(markdown)


def distance_histogram_figures(records: list[RunRecord], out: Path) -> list[Path]:
    """Per (dataset, bits), a panel per loss: the intra- and inter-class Hamming distance distributions (image
    against text codes), pooled over replicates."""
    groups: dict[tuple[str, int], dict[str, list[RunRecord]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        if record.diagnostics and references.row_kind(record.spec.loss) == "loss":
            groups[(record.spec.dataset, record.spec.bits)][row_label(record.spec)].append(record)
    paths = []
    for (dataset, bits), by_loss in sorted(groups.items()):
        pooled = [r for rs in by_loss.values() for r in rs]
        losses, names = loss_order(by_loss, families_of(pooled)), names_of(pooled)
        fig, axes = plt.subplots(1, len(losses), figsize=(2.4 * len(losses), 2.3), sharey=True, squeeze=False)
        for ax, loss in zip(axes[0], losses):
            for kind, colour in (("intra", "C0"), ("inter", "C3")):
                hist = np.sum([r.diagnostics["distance_histograms"][kind] for r in by_loss[loss]], axis=0)
                ax.plot(np.arange(len(hist)), hist / max(hist.sum(), 1), color=colour,
                        label=f"{kind}-class" if loss == losses[0] else None)
            ax.set_title(plot_text(names[loss]), fontsize=8)
            ax.set_xlabel("Hamming distance", fontsize=7)
        axes[0, 0].set_ylabel("Share of pairs", fontsize=7)
        fig.legend(loc="upper right", fontsize=7)
        fig.suptitle(plot_text(f"Intra- and inter-class distances (image to text codes), {dataset_name(dataset)}, "
                               f"{bits} bits"),
                     fontsize=9)
        fig.tight_layout()
        paths += save_figure(fig, out, f"distances_{dataset}_{bits}")
    return paths


def kept_codes(runs: dict[str, RunRecord], store: RunStore, stem: str, skipped: list[str]) -> dict | None:
    """The codes and labels each of ``runs`` kept (``codes.read_codes``), by key; None when any is missing or
    damaged, each such file then named in ``skipped`` as the reason figure ``stem`` is left out."""
    found, reasons = {}, []
    for key, record in runs.items():
        try:
            found[key] = read_codes(store.folder(record.run_id))
        except RecordError as exc:
            reasons.append(f"figure {stem} left out: {exc}")
    skipped += reasons
    return None if reasons else found


def embedding_figures(records: list[RunRecord], store: RunStore, out: Path,
                      skipped: list[str]) -> tuple[list[Path], str | None]:
    """Per dataset, at its longest codes: a t-SNE embedding of each loss's codes (replicate 0; the same
    ``EMBEDDING_ITEMS`` retrieval items, images as dots and texts as crosses) coloured by each item's most
    frequent class. Returns the files, and a note when scikit-learn is missing; a figure whose codes cannot be
    read is left out and its reasons added to ``skipped``."""
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        return [], ("2-D embeddings need scikit-learn's t-SNE: pip install 'xmhash-bench[diagnostics]' (or pip install "
                    "scikit-learn), then build the report again")
    chosen: dict[str, dict[str, RunRecord]] = defaultdict(dict)
    for record in records:
        spec = record.spec
        if record.files and references.row_kind(spec.loss) == "loss" and spec.replicate == 0:
            longest = max(r.spec.bits for r in records if r.spec.dataset == spec.dataset)
            if spec.bits == longest:
                chosen[spec.dataset][row_label(spec)] = record
    paths = []
    for dataset, by_loss in sorted(chosen.items()):
        kept = kept_codes(by_loss, store, f"embedding_{dataset}", skipped)
        if kept is None:
            continue
        losses = loss_order(by_loss, families_of(list(by_loss.values())))
        names = names_of(list(by_loss.values()))
        fig, axes = plt.subplots(1, len(losses), figsize=(2.6 * len(losses), 2.8), squeeze=False)
        for ax, loss in zip(axes[0], losses):
            codes, labels = kept[loss]
            y = labels["retrieval_labels"]
            items = subsample(len(y), EMBEDDING_ITEMS, EMBEDDING_SEED)
            points = _tsne(TSNE, np.concatenate([codes["retrieval_image"][items], codes["retrieval_text"][items]]))
            frequency = y.sum(0).astype(np.int64)
            top = np.argsort(-frequency, kind="stable")[:COLOURED_CLASSES]
            main = np.argmax(np.where(y[items] > 0, frequency, -1), axis=1)  # each item's most frequent class
            colours = [f"C{list(top).index(c)}" if c in top else "lightgrey" for c in main]
            half = len(items)
            ax.scatter(points[:half, 0], points[:half, 1], c=colours, s=5, marker="o", linewidths=0)
            ax.scatter(points[half:, 0], points[half:, 1], c=colours, s=7, marker="x", linewidths=0.6)
            ax.set_title(plot_text(names[loss]), fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle(plot_text(f"t-SNE of the codes, {dataset_name(dataset)}, {by_loss[losses[0]].spec.bits} bits "
                               "(replicate 0; "
                               "dots: images, crosses: texts; colour: the item's most frequent class, top "
                               f"{COLOURED_CLASSES})"), fontsize=8)
        fig.tight_layout()
        paths += save_figure(fig, out, f"embedding_{dataset}")
    return paths, None


def _tsne(tsne, codes: np.ndarray) -> np.ndarray:
    """2-D t-SNE positions of ``codes``: identical codes are one point (embedded once, then shared, with a small
    fixed jitter so that their count shows), which also keeps t-SNE fast on short codes with many duplicates."""
    unique, inverse = np.unique(codes, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    if len(unique) < 4:
        positions = np.zeros((len(unique), 2))
    else:
        # 500 iterations (sklearn's default is 1000): the layout of a few hundred points has settled by then
        positions = tsne(n_components=2, perplexity=min(30.0, (len(unique) - 1) / 3), init="pca", max_iter=500,
                         random_state=EMBEDDING_SEED, n_jobs=1).fit_transform(unique.astype(float))
    spread = 0.01 * (np.ptp(positions, axis=0).max() or 1.0)
    return positions[inverse] + np.random.default_rng(EMBEDDING_SEED).normal(0, spread, (len(codes), 2))


def centroid_figure(records: list[RunRecord], store: RunStore, out: Path, skipped: list[str]) -> list[Path]:
    """For one loss (dcgh when present) on the first dataset at its longest codes (replicate 0): the Hamming
    distances between class centroids beside the label dissimilarity (1 - Jaccard), classes by frequency. Left
    out, its reason added to ``skipped``, when those codes cannot be read."""
    candidates = [r for r in records
                  if r.files and references.row_kind(r.spec.loss) == "loss" and r.spec.replicate == 0]
    if not candidates:
        return []
    dataset = sorted({r.spec.dataset for r in candidates})[0]
    longest = max(r.spec.bits for r in candidates if r.spec.dataset == dataset)
    pool = {row_label(r.spec): r for r in candidates if (r.spec.dataset, r.spec.bits) == (dataset, longest)}
    record = pool.get("dcgh") or pool[sorted(pool)[0]]
    stem = f"centroids_{dataset}_{longest}"
    kept = kept_codes({stem: record}, store, stem, skipped)
    if kept is None:
        return []
    codes, labels = kept[stem]
    y = np.concatenate([labels["retrieval_labels"]] * 2)
    pooled = np.concatenate([codes["retrieval_image"], codes["retrieval_text"]])
    centroids, present = class_centroids(pooled, y)
    order = [c for c in np.argsort(-y.sum(0).astype(np.int64), kind="stable") if present[c]]
    distance = hamming(centroids[order], centroids[order])
    dissimilarity = label_dissimilarity(y)[np.ix_(order, order)]
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.8))
    for ax, matrix, title, cmap in ((axes[0], distance, f"Class-centroid Hamming distance ({row_name(record)})",
                                     "viridis"),
                                    (axes[1], dissimilarity, "Label dissimilarity (1 − Jaccard)", "viridis")):
        image = ax.imshow(matrix, cmap=cmap)
        ax.set_title(plot_text(title), fontsize=8)
        ax.set_xlabel("Class (by frequency)", fontsize=7)
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.suptitle(plot_text(f"{dataset_name(dataset)}, {longest} bits, replicate 0"), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out, stem)


def code_space_diagnostics(context: ReportContext) -> Section:
    """The code-space diagnostics: a table per dataset and code length, the distance histograms, the 2-D
    embeddings and the class-centroid heatmap."""
    records, store, out = context.records, context.store, context.out
    tables, markdown = diagnostics_tables(records, out / "tables", context.formats)
    if not tables and not markdown:
        return Section("Code-space diagnostics", "No record carries diagnostics (runs keep their codes since schema "
                                                 "version 2; python -m benchmark diagnose recomputes them).\n")
    skipped: list[str] = []
    embeddings, note = embedding_figures(records, store, out / "figures", skipped)
    figures = (distance_histogram_figures(records, out / "figures") + embeddings
               + centroid_figure(records, store, out / "figures", skipped))
    text = markdown + (f"\n> {note}\n" if note else "")
    return Section("Code-space diagnostics", text, tables, figures, skipped)
