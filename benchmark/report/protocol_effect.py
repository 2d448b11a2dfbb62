"""What the selection rule adds: where the results hold, beside the reported configuration, runs that differ from it
only in ``run.protocol`` (a preset such as ``--config mith`` and its ``--protocol honest`` counterpart), each loss's
query-set score under each rule, paired by replicate with the same loss under the honest rule (the reference; the
reported configuration's rule where no honest runs are there). The published code's rules let the scored set
choose the epoch; the difference is what that choice (and training on the validation items too) adds, measured
rather than assumed. Reads the store only.
"""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pandas as pd

from .. import references
from ..config import SELECTION_RULES
from ..files import write_text
from ..record import RunRecord
from .captions import setup_text
from .latex import frame_latex, number_text
from .sections import ReportContext, Section
from .statistics import ALPHA, differences_to
from .tables import markdown_frame
from .tidy_data import DIRECTION_LABELS, dataset_name, dataset_order, families_of, loss_order, metric_name, names_of
from .selection import differences

PROTOCOL_KEY = "run.protocol"
REFERENCE = "honest"
CROSS_MODAL = ("i2t", "t2i")


def only_the_rule_differs(differing: dict) -> bool:
    """Whether two configurations whose ``selection.differences`` are ``differing`` differ in the selection rule
    only: their runs are then each other's counterparts."""
    return set(differing) == {PROTOCOL_KEY}


def counterparts(groups: list, chosen, reported: list[RunRecord]) -> list[RunRecord]:
    """The trained runs (no reference rows, trials or tuned runs) of the configurations in ``groups`` that differ
    from ``chosen`` in the selection rule only, in the cells (loss, dataset, bits) of the ``reported`` runs."""
    cells = {(r.spec.loss, r.spec.dataset, r.spec.bits) for r in reported}
    return [record for group in groups
            if only_the_rule_differs(differences(group.settings, chosen.settings))
            for record in group.records
            if record.spec.parameter_set is None and references.row_kind(record.spec.loss) == "loss"
            and (record.spec.loss, record.spec.dataset, record.spec.bits) in cells]


def protocol_table(records: list[RunRecord], metric: str, reference: str) -> pd.DataFrame:
    """A row per (dataset, bits, loss, direction, protocol other than ``reference``): the two protocols' mean
    ``metric`` on the query set, their paired difference by replicate (``delta`` = protocol − reference) with its
    95% t half-width, the paired t-test Holm-corrected over the protocols compared in the cell (``p_holm``), and
    the replicates paired (``n``)."""
    values: dict[tuple, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for record in records:
        spec = record.spec
        for direction in CROSS_MODAL:
            value = record.metrics.get(direction, {}).get(metric)
            if value is not None:
                values[(spec.dataset, spec.bits, spec.loss, direction)][spec.settings.protocol][spec.replicate] = value
    rows = []
    for (dataset, bits, loss, direction), by_protocol in values.items():
        if reference not in by_protocol or len(by_protocol) < 2:
            continue
        for protocol, difference in differences_to(by_protocol, reference).items():
            shared = set(by_protocol[protocol]) & set(by_protocol[reference])
            rows.append({"dataset": dataset, "bits": bits, "loss": loss, "direction": direction,
                         "protocol": protocol, "reference": reference,
                         "protocol_mean": float(np.mean(list(by_protocol[protocol].values()))),
                         "reference_mean": float(np.mean(list(by_protocol[reference].values()))),
                         "delta": difference.mean, "delta_ci": difference.half_width, "p_holm": difference.p_holm,
                         "n": len(shared)})
    columns = ["dataset", "bits", "loss", "direction", "protocol", "reference", "protocol_mean", "reference_mean",
               "delta", "delta_ci", "p_holm", "n"]
    return pd.DataFrame(rows, columns=columns)


def _cell(row, decimals: int) -> str:
    text = number_text(row.delta, decimals, sign=True)
    text += "" if math.isnan(row.delta_ci) else f" ± {row.delta_ci:.{decimals}f}"
    return text + ("" if math.isnan(row.p_holm) or row.p_holm < ALPHA else " n.s.")


def summary_line(table: pd.DataFrame, decimals: int) -> str:
    """Per protocol: the mean difference over the table's cells and how many are shown above and below zero."""
    parts = []
    for protocol, group in table.groupby("protocol", sort=True):
        shown = group.p_holm < ALPHA
        parts.append(f"`{protocol}` − `{group.reference.iloc[0]}`: mean {number_text(group.delta.mean(), decimals, True)}"
                     f" over {len(group)} cells (loss × dataset × bits × direction; cells share runs, so this mean "
                     f"is a description, not a test); {int((shown & (group.delta > 0)).sum())} shown above zero, "
                     f"{int((shown & (group.delta < 0)).sum())} below")
    return "; ".join(parts) + "."


def selection_protocols(context: ReportContext) -> Section | None:
    """The table of each selection rule's difference to the honest one, or None without runs under two rules."""
    records = list(context.trained) + list(context.counterparts)
    present = {r.spec.settings.protocol for r in records}
    if len(present) < 2:
        return None
    reported = context.records[0].spec.settings.protocol
    reference = REFERENCE if REFERENCE in present else reported
    table = protocol_table(records, context.metric, reference)
    if table.empty:
        return None
    metric, decimals = context.metric, context.decimals
    families, names = families_of(records), names_of(records, row=lambda spec: spec.loss)
    losses = loss_order(set(table.loss), families)
    order = sorted(range(len(table)), key=lambda i: (
        table.protocol.iat[i], losses.index(table.loss.iat[i]), dataset_order(table.dataset.iat[i]),
        table.bits.iat[i], table.direction.iat[i]))
    table = table.iloc[order].reset_index(drop=True)
    columns = sorted({(r.dataset, r.bits, r.direction) for r in table.itertuples()},
                     key=lambda c: (dataset_order(c[0]), c[1], c[2]))
    cells = {(r.protocol, r.loss, (r.dataset, r.bits, r.direction)): _cell(r, decimals) for r in table.itertuples()}
    row_keys = list(dict.fromkeys((r.protocol, r.loss) for r in table.itertuples()))
    wide = pd.DataFrame([[cells.get((*key, column), "–") for column in columns] for key in row_keys],
                        columns=[f"{dataset_name(d)} {b} bits {DIRECTION_LABELS[t]}" for d, b, t in columns])
    replicates = int(table["n"].max())
    rules = "; ".join(f"{p}: {SELECTION_RULES[p]}" for p in sorted(present))
    caption = (f"What the selection rule adds: per loss, the paired difference by replicate of query-set "
               f"{metric_name(metric)} between runs that differ only in how the reported epoch is chosen (protocol − "
               f"{reference}), mean ± 95% t-interval half-width over up to {replicates} replicates; n.s.: not shown "
               f"different from zero (two-sided paired t-test, Holm-corrected over the rules compared in a cell, "
               f"α = {ALPHA}). A rule that selects on the query set also trains on the validation items the honest "
               f"rule holds out, so the difference is both effects together. Rules: {rules}; "
               + setup_text(context.records))
    stem = f"selection_protocols_{metric.replace('@', '_at_')}"
    folder, files = context.out / "tables", []
    markdown_index = [f"{names.get(loss, loss)}: {protocol} − {reference}" for protocol, loss in row_keys]
    markdown = markdown_frame(wide.set_axis(markdown_index), caption, "loss: rule")
    if "csv" in context.formats:
        files.append(write_text(folder / f"{stem}.csv", table.to_csv(index=False, float_format="%.6f")))
    if "markdown" in context.formats:
        files.append(write_text(folder / f"{stem}.md", markdown))
    if "latex" in context.formats:
        files.append(write_text(folder / f"{stem}.tex",
                                frame_latex(wide.set_axis(markdown_index), caption, f"tab:{stem}", "loss: rule")))
    return Section("Selection rules compared", summary_line(table, decimals) + "\n\n" + markdown, files)

