"""The optimizer search in a report (docs/protocol.md, "The optimizer search"): the setting each loss selected per
dataset, with its validation mAP and whether it lies at an edge of the searched learning rates, and every searched
setting's validation mAP. Reads the store only: the selected runs' parameter sets and the search trials' records.
"""
from __future__ import annotations

from collections import defaultdict

import pandas as pd

from ..config import SEARCH_KEYS, at_search_edge
from ..files import write_text
from ..record import RunRecord
from .sections import ReportContext, Section
from .latex import frame_latex
from .tables import markdown_frame
from .tidy_data import dataset_name, dataset_order, families_of, loss_order, names_of

LR, DECAY = SEARCH_KEYS


def _setting(record: RunRecord) -> tuple[float, float]:
    optimizer = record.spec.settings.optimizer
    return optimizer.head_lr, optimizer.weight_decay


def search_table(runs: list[RunRecord], trials: list[RunRecord]) -> pd.DataFrame:
    """A row per (loss, dataset, search bits, head_lr, weight_decay) searched: the mean validation mAP of its trials
    (over the searched replicates), how many, and whether the grid's runs carry that setting."""
    studies = {r.spec.parameter_set.study for r in runs}
    selected = {(r.spec.parameter_set.study, _setting(r)) for r in runs}
    scores: dict[tuple, list[float]] = defaultdict(list)
    for trial in trials:
        study = trial.spec.parameter_set.study
        if study in studies:
            scores[(trial.spec.loss, trial.spec.dataset, trial.spec.bits, study, *_setting(trial))].append(
                trial.selection.score)
    rows = [{"loss": loss, "dataset": dataset, "bits": bits, "head_lr": lr, "weight_decay": decay,
             "validation_map": sum(values) / len(values), "trials": len(values),
             "selected": (study, (lr, decay)) in selected}
            for (loss, dataset, bits, study, lr, decay), values in scores.items()]
    return pd.DataFrame(rows, columns=["loss", "dataset", "bits", "head_lr", "weight_decay", "validation_map",
                                       "trials", "selected"])


def optimizer_search(context: ReportContext) -> Section | None:
    """The selected setting per loss and dataset, and every searched setting's validation mAP; None when the runs
    were not searched."""
    runs = [r for r in context.trained if r.spec.parameter_set is not None and r.spec.parameter_set.selected]
    if not runs:
        return None
    table = search_table(runs, [r for r in context.trials if r.spec.parameter_set.searched])
    order = loss_order({r.spec.loss for r in runs}, families_of(runs))
    datasets = sorted({r.spec.dataset for r in runs}, key=dataset_order)
    chosen: dict[tuple[str, str], RunRecord] = {(r.spec.loss, r.spec.dataset): r for r in runs}
    cells, edges = {}, 0
    for (loss, dataset), record in chosen.items():
        lr, decay = _setting(record)
        found = table[(table.loss == loss) & (table.dataset == dataset) & table.selected]
        score = f" ({found.validation_map.iloc[0]:.{context.decimals}f})" if len(found) else ""
        edge = at_search_edge(lr, record.spec.parameter_set.space.get(LR, {}).get("options", []))
        edges += edge
        cells[(loss, dataset)] = f"{lr:g} / {decay:g}{score}" + (" ‡" if edge else "")
    wide = pd.DataFrame({dataset_name(d): [cells.get((loss, d), "–") for loss in order] for d in datasets},
                        index=order)
    example = runs[0].spec.parameter_set
    space = example.space
    searched = " × ".join(f"{key.rsplit('.', 1)[-1]} ∈ {{{', '.join(f'{v:g}' for v in space[key]['options'])}}}"
                          for key in (LR, DECAY) if key in space)
    bits = sorted(set(table.bits)) if len(table) else []
    replicates = int(table.trials.max()) if len(table) else 0
    caption = (f"Optimizer setting selected per loss and dataset: head learning rate / weight decay (mean validation "
               f"mAP of the selected setting's trials). Every loss searched the same {example.trials} settings "
               f"({searched}) at {', '.join(map(str, bits))} bits on {replicates} replicate(s), {example.epochs} "
               "epochs each, scored on the validation split only; its runs on every replicate and code length use "
               "the selected setting. ‡: the selected learning rate is at an edge of the searched ones "
               f"({edges} of {len(chosen)}).")
    files = []
    slug = "optimizer_search"
    markdown = markdown_frame(wide, caption)
    if "markdown" in context.formats:
        files.append(write_text(context.out / "tables" / f"{slug}.md", markdown))
    if "csv" in context.formats:
        files.append(write_text(context.out / "tables" / f"{slug}.csv", table.to_csv(index=False)))
    if "latex" in context.formats:
        names = names_of(runs, row=lambda spec: spec.loss)
        files.append(write_text(context.out / "tables" / f"{slug}.tex", frame_latex(
            wide.set_axis([names.get(loss, loss) for loss in order]), caption, f"tab:{slug}", "Loss")))
    return Section("Optimizer search", markdown, files)
