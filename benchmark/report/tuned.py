"""Tuned against default parameters in a report (``python -m benchmark tune``, then ``run --params tuned``): each
loss's default and tuned results side by side with their paired difference, the budget in the caption, and the
sensitivity figures drawn from the tuning trials. Reads the store only.

A run's ``spec.parameter_set`` says what it is: None for a run of its configuration's own parameters, a set with
``trial`` for a tuning trial (its metrics are of the validation split: it never saw the query set), any other set
for a run with tuned parameters.
"""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..files import write_text  # noqa: E402
from ..record import RunRecord  # noqa: E402
from .figures import save_figure  # noqa: E402
from .sections import ReportContext, Section  # noqa: E402
from .statistics import ALPHA, holm, paired_p_value, t_half_width  # noqa: E402
from .escape import plot_text  # noqa: E402
from .captions import setup_text  # noqa: E402
from .latex import frame_latex, number_text  # noqa: E402
from .tables import markdown_frame  # noqa: E402
from .tidy_data import (DIRECTION_LABELS, dataset_name, dataset_order, families_of, loss_order,  # noqa: E402
                        metric_name, names_of, row_name)

VALIDATION = "validation mAP"


def is_trial(record: RunRecord) -> bool:
    return record.spec.parameter_set is not None and record.spec.parameter_set.trial


def split_tuning(records: list[RunRecord]) -> tuple[list[RunRecord], list[RunRecord], list[RunRecord]]:
    """``records`` as (runs of their configuration's own protocol — its own parameters, or the setting its optimizer
    search selected —, runs with tuned parameters, tuning and search trials)."""
    def own(record: RunRecord) -> bool:
        return record.spec.parameter_set is None or record.spec.parameter_set.selected

    plain = [r for r in records if own(r)]
    trials = [r for r in records if is_trial(r)]
    tuned = [r for r in records if not own(r) and not is_trial(r)]
    return plain, tuned, trials


def parameter_value(record: RunRecord, key: str):
    """The value the record's run had of parameter ``key`` (a loss parameter's name, or ``run.…``)."""
    if not key.startswith("run."):
        return record.spec.loss_params.get(key, record.spec.parameter_set.defaults.get(key))
    value = record.spec.settings
    for part in key.split(".")[1:]:
        value = getattr(value, part)
    return value


def _quantities(record: RunRecord, metric: str) -> dict[str, float]:
    found = {f"{DIRECTION_LABELS[d]} {metric_name(metric)}": record.metrics[d][metric] for d in ("i2t", "t2i")
             if metric in record.metrics.get(d, {})}
    if record.selection is not None and record.selection.score is not None:
        found = {VALIDATION: record.selection.score, **found}
    return found


def tuning_table(plain: list[RunRecord], tuned: list[RunRecord], metric: str = "map") -> pd.DataFrame:
    """A row per (dataset, bits, loss, tuned set, quantity) where the loss has default and tuned runs: the validation
    mAP that chose the epoch (what tuning maximised) and the query-set ``metric`` per direction, each as
    ``default`` and ``tuned`` mean with its 95% t half-width, their paired difference by replicate ``delta`` ±
    ``delta_ci`` with its paired t-test Holm-corrected over the losses (``p_holm``), the replicates paired (``n``),
    the loss's rank among the losses (by the mean of its two directions; 1 = best) with default and with tuned
    parameters, and ``rank_change``: "" when the rank is the same, else "tested" or "untested" (``rank_changes``)."""
    values: dict[tuple, dict[int, float]] = defaultdict(dict)
    for record in plain + tuned:
        spec = record.spec
        kind = spec.parameter_set.name if spec.parameter_set is not None else None  # None: the defaults
        for quantity, value in _quantities(record, metric).items():
            values[(spec.dataset, spec.bits, spec.loss, kind, quantity)][spec.replicate] = float(value)
    sets = sorted({(r.spec.dataset, r.spec.bits, r.spec.loss, r.spec.parameter_set.name) for r in tuned})
    rows = []
    for dataset, bits, loss, name in sets:
        cell = (dataset, bits, loss)
        for quantity in dict.fromkeys(key[4] for key in values if key[:4] == (*cell, name)):
            default, best = values.get((*cell, None, quantity)), values[(*cell, name, quantity)]
            if not default:
                continue
            shared = sorted(set(default) & set(best))
            differences = [best[r] - default[r] for r in shared]
            rows.append({"dataset": dataset, "bits": bits, "loss": loss, "set": name, "quantity": quantity,
                         "default": np.mean(list(default.values())), "default_ci": t_half_width(list(default.values())),
                         "tuned": np.mean(list(best.values())), "tuned_ci": t_half_width(list(best.values())),
                         "delta": np.mean(differences) if differences else math.nan,
                         "delta_ci": t_half_width(differences),
                         "p": paired_p_value([best[r] for r in shared], [default[r] for r in shared]),
                         "n": len(shared)})
    columns = ["dataset", "bits", "loss", "set", "quantity", "default", "default_ci", "tuned", "tuned_ci", "delta",
               "delta_ci", "p_holm", "n", "rank_default", "rank_tuned", "rank_change"]
    if not rows:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(rows)
    table["p_holm"] = math.nan
    for _, group in table.groupby(["dataset", "bits", "set", "quantity"]):
        adjusted = holm({index: p for index, p in group["p"].items()})
        table.loc[list(adjusted), "p_holm"] = list(adjusted.values())
    query = table[table.quantity != VALIDATION].groupby(["dataset", "bits", "set", "loss"])[["default", "tuned"]].mean()
    ranks = query.groupby(level=["dataset", "bits", "set"]).rank(ascending=False, method="average")
    table = table.join(ranks.rename(columns={"default": "rank_default", "tuned": "rank_tuned"}),
                       on=["dataset", "bits", "set", "loss"])
    changes = rank_changes(values, query)
    table["rank_change"] = [changes.get((row.dataset, row.bits, row.set, row.loss), "") for row in table.itertuples()]
    return table[columns]


def _per_replicate(values: dict[tuple, dict[int, float]], dataset, bits, loss, kind) -> dict[int, float]:
    """A loss's query-set score by replicate: the mean of its directions (the replicates that have them all)."""
    found = [v for key, v in values.items() if key[:4] == (dataset, bits, loss, kind) and key[4] != VALIDATION]
    shared = set.intersection(*(set(v) for v in found)) if found else set()
    return {r: float(np.mean([v[r] for v in found])) for r in sorted(shared)}


def rank_changes(values: dict[tuple, dict[int, float]], query: pd.DataFrame) -> dict[tuple, str]:
    """Per (dataset, bits, set, loss) whose rank differs between default and tuned parameters: "tested" when a paired
    test supports every swap behind the change, else "untested". A swap is another loss whose order with this one
    (by ``query``'s means) differs between the defaults and the tuned runs; it is supported when the paired t-test
    over replicates of the two losses' scores (the mean of their directions) rejects, after Holm's correction over
    every such test of the (dataset, bits, set), both with the defaults and with the tuned parameters (each order
    shown). A rank change with no test behind it (one replicate) is "untested" too."""
    marks = {}
    for (dataset, bits, name), group in query.groupby(level=["dataset", "bits", "set"]):
        means = group.droplevel(["dataset", "bits", "set"])
        by_loss = {loss: {kind: _per_replicate(values, dataset, bits, loss, None if kind == "default" else name)
                          for kind in ("default", "tuned")} for loss in means.index}
        rank = means.rank(ascending=False, method="average")
        swaps, p = {}, {}
        for loss in means.index[rank["default"] != rank["tuned"]]:  # the losses whose rank changed
            swaps[loss] = [other for other in means.index if other != loss and
                           np.sign(means.at[loss, "default"] - means.at[other, "default"])
                           != np.sign(means.at[loss, "tuned"] - means.at[other, "tuned"])]
            for other in swaps[loss]:
                for kind in ("default", "tuned"):
                    key = (kind, *sorted((loss, other)))
                    if key not in p:
                        a, b = by_loss[loss][kind], by_loss[other][kind]
                        shared = sorted(set(a) & set(b))
                        p[key] = paired_p_value([a[r] for r in shared], [b[r] for r in shared])
        adjusted = holm(p)
        for loss, others in swaps.items():
            supported = bool(others) and all(adjusted[(kind, *sorted((loss, other)))] < ALPHA
                                             for other in others for kind in ("default", "tuned"))
            marks[(dataset, bits, name, loss)] = "tested" if supported else "untested"
    return marks


def budget(tuned: list[RunRecord]) -> str:
    """The tuning budget of the tuned runs, as a caption states it."""
    budgets = sorted({(r.spec.parameter_set.trials, r.spec.parameter_set.epochs) for r in tuned}, key=str)
    return "; ".join(f"{trials if trials is not None else '?'} trials × {epochs if epochs is not None else '?'} epochs"
                     for trials, epochs in budgets)


def _cell(mean: float, half: float, decimals: int, sign: bool = False) -> str:
    text = number_text(mean, decimals, sign)
    return text + ("" if math.isnan(half) else f" ± {half:.{decimals}f}")


def _wide(table: pd.DataFrame, decimals: int, families: dict) -> tuple[pd.DataFrame, list[tuple]]:
    """A row per (dataset, bits, loss, set), three columns per quantity (default, tuned, Δ) and the ranks; and the
    (dataset, bits, loss, set) of each row."""
    rows = {}
    for (dataset, bits, loss, name), group in table.groupby(["dataset", "bits", "loss", "set"], sort=False):
        row = {}
        for entry in group.itertuples():
            mark = "" if math.isnan(entry.p_holm) or entry.p_holm < ALPHA else " n.s."
            row[f"{entry.quantity}: default"] = _cell(entry.default, entry.default_ci, decimals)
            row[f"{entry.quantity}: tuned"] = _cell(entry.tuned, entry.tuned_ci, decimals)
            row[f"{entry.quantity}: Δ"] = _cell(entry.delta, entry.delta_ci, decimals, sign=True) + mark
        first = group.iloc[0]
        row["rank: default → tuned"] = (f"{first.rank_default:g} → {first.rank_tuned:g}"
                                        + (" (untested)" if first.rank_change == "untested" else ""))
        rows[(dataset, bits, loss, name)] = row
    losses = loss_order({key[2] for key in rows}, families)
    order = sorted(rows, key=lambda k: (dataset_order(k[0]), k[1], losses.index(k[2]), k[3]))
    wide = pd.DataFrame([rows[k] for k in order]).fillna("–")
    wide.index = [f"{d} / {b} / {loss} [{name}]" for d, b, loss, name in order]
    return wide, order


def tuned_parameters(context: ReportContext) -> Section | None:
    """The side-by-side table of default and tuned results, or None without both."""
    plain, tuned, metric = context.records, list(context.tuned), context.metric
    table = tuning_table(plain, tuned, metric)
    if table.empty:
        return None
    replicates = int(table["n"].max())
    caption = (f"Default against tuned parameters: the validation mAP that chose the epoch (what tuning maximised) "
               f"and the query-set {metric_name(metric)}, mean ± 95% t-interval half-width over {replicates} "
               f"replicates; tuned: the best of {budget(tuned)} per (loss, dataset, bits), Optuna TPE on validation "
               "mAP, the query set never evaluated while tuning; Δ: paired difference tuned − default by replicate, "
               f"n.s.: not significant (two-sided paired t-test, Holm-corrected over the losses, α = {ALPHA}); rank "
               "among the losses by the mean of I→T and T→I (1 = best); a rank change is marked (untested) unless, "
               "for every loss it swaps places with, a paired t-test over replicates (Holm-corrected over the swaps "
               "of the dataset and code length) shows both the default order and the tuned order; "
               + setup_text(plain))
    wide, order = _wide(table, context.decimals, families_of(plain + tuned))
    names = names_of(plain, row=lambda spec: spec.loss)
    markdown = markdown_frame(wide, caption, "dataset / bits / loss [set]")
    stem = f"tuned_{metric.replace('@', '_at_')}"
    folder, formats, files = context.out / "tables", context.formats, []
    if "csv" in formats:
        files.append(write_text(folder / f"{stem}.csv", table.to_csv(index=False, float_format="%.6f")))
    if "markdown" in formats:
        files.append(write_text(folder / f"{stem}.md", markdown))
    if "latex" in formats:
        named = wide.set_axis([f"{dataset_name(d)}, {b} bits, {names.get(loss, loss)} [{name}]"
                               for d, b, loss, name in order])
        files.append(write_text(folder / f"{stem}.tex",
                                frame_latex(named, caption, f"tab:{stem}", "dataset, bits, loss [set]")))
    return Section("Default and tuned parameters", markdown, files)


# ----------------------------------------------------------------------------------------------- sensitivity


def sensitivity_figures(trials: list[RunRecord], out: Path) -> list[Path]:
    """Per tuning study, a panel per searched parameter: each trial's validation mAP against its value (slice
    plots) over the searched range (on its scale), the default value a dashed line, the trial of the defaults a
    star and the best trial a ring."""
    studies: dict[str, list[RunRecord]] = defaultdict(list)
    for record in trials:
        if record.selection is not None and record.selection.score is not None:
            studies[record.spec.parameter_set.study].append(record)
    paths = []
    for name, records in sorted(studies.items()):
        spec = records[0].spec
        defaults = spec.parameter_set.defaults
        keys = list(defaults)
        scores = [r.selection.score for r in records]
        best = int(np.argmax(scores))
        fig, axes = plt.subplots(1, len(keys), figsize=(2.6 * len(keys), 2.8), squeeze=False, sharey=True)
        for ax, key in zip(axes[0], keys):
            xs = [parameter_value(r, key) for r in records]
            numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs + [defaults[key]])
            if not numeric:  # a choice: its options in order on the axis
                options = list(dict.fromkeys(map(str, [defaults[key], *xs])))
                ax.set_xticks(range(len(options)), [plot_text(option) for option in options])
                xs = [options.index(str(x)) for x in xs]
            ax.scatter(xs, scores, s=18, color="0.35", zorder=2)
            at_default = [i for i, r in enumerate(records)
                          if all(parameter_value(r, k) == v for k, v in defaults.items())]
            for i in at_default:
                ax.scatter([xs[i]], [scores[i]], marker="*", s=140, color="tab:orange", zorder=3,
                           label="defaults" if ax is axes[0][0] else None)
            ax.scatter([xs[best]], [scores[best]], s=90, facecolors="none", edgecolors="tab:blue", linewidths=1.5,
                       zorder=4, label="best" if ax is axes[0][0] else None)
            if numeric:
                ax.axvline(defaults[key], color="tab:orange", linestyle="--", linewidth=1)
                searched = spec.parameter_set.space.get(key, {})
                if searched.get("log"):
                    ax.set_xscale("log")
                if "low" in searched:  # the searched range, a little wider so that its ends show
                    low, high = searched["low"], searched["high"]
                    pad = 0.04 * (high - low)
                    ax.set_xlim(*((low / 1.2, high * 1.2) if searched.get("log") else (low - pad, high + pad)))
            ax.set_xlabel(plot_text(key.rsplit(".", 1)[-1].replace("_", " ")))
        axes[0][0].set_ylabel("Validation mAP")
        axes[0][0].legend(frameon=False, fontsize=7, loc="best")
        fig.suptitle(plot_text(f"{row_name(records[0], spec.loss)}, {dataset_name(spec.dataset)}, {spec.bits} bits: "
                               f"{len(records)} trials"), fontsize=10)
        fig.tight_layout()
        paths += save_figure(fig, out, f"sensitivity_{name}")
    return paths


def sensitivity(context: ReportContext) -> Section | None:
    """The sensitivity figures of the tuning trials, or None without trials."""
    trials = list(context.trials)
    if not trials:
        return None
    text = (f"Validation mAP of each of the {len(trials)} tuning trials against each searched parameter, per "
            "study (loss × dataset × bits); dashed: the default value; star: the trial of the defaults; ring: the "
            "best trial. Trials never evaluate the query set.\n")
    figures = sensitivity_figures(trials, context.out / "figures")
    return Section("Sensitivity to the tuned parameters", text, figures=figures)
