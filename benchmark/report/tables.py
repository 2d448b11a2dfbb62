"""Paper-style tables from the tidy records, as LaTeX (booktabs), Markdown and CSV, and what their marks claim
(``benchmark.report.statistics``).

Layout (docs/protocol.md, Reports): a block of rows per task (I→T, then T→I); in each, one row per loss (in family
order), then the quoted rows (published numbers, ``report --published``), then the reference rows (random codes,
LSH, backbone features), each group set apart; column groups per dataset in the papers' order (MIRFLICKR-25K,
NUS-WIDE, MS-COCO, a synthetic stand-in in its real set's place), a column per code length. LaTeX is one
``table*`` whose tabular has a ``\\multirow`` task label and ``\\cmidrule``s under the dataset groups, with the display
names of ``names.yaml`` and of the dataset and reference registrations; it fits a two-column page (tested with
pdflatex). Markdown has a table per task (and per group of datasets, so that no table has more than ``MAX_COLUMNS``
value columns) with the names used on the command line.

A cell is the mean over replicates and, with several, ± the half-width of its 95% t-interval (a subscript in
LaTeX). A column compares its rows on one set of replicates (``statistics.compared_replicates``: the set shared by
the rows that keeps the most paired values): a row holding more shows its mean over that set, a row lacking one of
them shows its own mean marked ‡ and is left out of the column's marks and tests. Per column the best mean is
bold and every other loss that a paired t-test across replicates (Holm-corrected over the column) does not show
worse than it is marked † (not shown worse). With one replicate nothing is tested and only the best is bold. An
ablation table follows each loss with a row of its paired difference Δ to the reference loss, with its 95%
interval, marked "n.s." when not significant. Quoted and reference rows are never marked. A missing cell is "–".
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from .. import references
from ..errors import ReportError
from ..record import RunRecord
from ..files import write_text
from .escape import latex_text, markdown_text
from .latex import CAPTION_SIZE, LATEX_ARRAYSTRETCH, LATEX_SIZE, LATEX_TABCOLSEP, math_minus, number_text
from .published import mismatches
from .statistics import Comparison, Difference, compare_to_best, compared_replicates, differences_to, t_half_width
from .tidy_data import DIRECTION_LABELS, Published, dataset_name, dataset_order, row_order

#: Decimals of the numbers in LaTeX and Markdown tables (``report --decimals``); CSV keeps ``CSV_DECIMALS``.
DECIMALS = 3
CSV_DECIMALS = 6
MISSING = "–"
#: The most value columns of one tabular or Markdown table (3 datasets x 3 code lengths).
MAX_COLUMNS = 9

Column = tuple[str, str, int]  # direction, dataset, bits


@dataclass(frozen=True)
class Quoted:
    """A row of published numbers, by column: quoted as ``source`` states them, never marked or tested."""

    method: str
    source: str
    cite: str | None
    protocol: str | None
    values: dict[Column, float]

    @property
    def label(self) -> str:
        return quoted_label(self.method, self.protocol)


def quoted_label(method: str, protocol: str | None) -> str:
    """A published method with the protocol it was measured under: "DCHMT [mith]"."""
    return method + (f" [{protocol}]" if protocol else "")


@dataclass
class Table:
    """The numbers of a table: per row and column, the values by replicate and what the statistics say."""

    rows: list[str]
    columns: list[Column]
    values: dict[tuple[str, Column], dict[int, float]]
    comparisons: dict[tuple[str, Column], Comparison]
    differences: dict[tuple[str, Column], Difference]
    families: dict[str, str | None]
    names: dict[str, str]  # each row's display name (records.row_name)
    reference: str | None = None  # the row differences are measured against (ablations)
    quoted: list[Quoted] = field(default_factory=list)
    controls: frozenset[str] = frozenset()  # the rows of label-free control losses (records' ``control``)
    compared: dict[Column, frozenset[int]] = field(default_factory=dict)  # the replicates each column compares on
    incomplete: frozenset[tuple[str, Column]] = frozenset()  # cells lacking some of them: shown, never compared
    trimmed: frozenset[tuple[str, Column]] = frozenset()  # cells whose replicates beyond them are left out
    unplaced: dict[tuple, list[str]] = field(default_factory=dict)  # published numbers not comparable: reasons

    def kind(self, row: str) -> str:
        """What row ``row`` is: a "loss" (compared, tested, ranked), a label-free "control" (shown, never compared)
        or a "reference" row."""
        return row_kind(row, self.controls)

    def group(self, row: str) -> str:
        """The label of the block of rows ``row`` belongs to: its loss family, or "reference"."""
        kind = references.row_kind(row)
        return kind if kind == "reference" else self.families.get(row) or "other"

    def cell(self, row: str, column: Column) -> dict[int, float] | None:
        return self.values.get((row, column))

    @property
    def replicate_counts(self) -> list[int]:
        """The distinct numbers of replicates the columns compare their rows on, ascending."""
        return sorted({len(replicates) for replicates in self.compared.values()})


def row_kind(row: str, controls: frozenset[str]) -> str:
    """``Table.kind`` given the table's control rows (``controls``)."""
    if references.row_kind(row) == "reference":
        return "reference"
    return "control" if row in controls else "loss"


def table_statistics(df: pd.DataFrame, metric: str, losses: list[str] | None = None, reference: str | None = None,
                     directions=("i2t", "t2i")) -> Table:
    """The table of ``metric`` for the rows (losses with their parameters) of ``losses`` (default: every loss in
    ``df``, then the reference rows) over the columns (direction, dataset, bits) present; with ``reference``,
    each row's difference to that row. ReportError when two records give one (row, column, replicate): a cell keeps
    one value per replicate and never drops one silently."""
    subset = df[(df.metric == metric) & df.direction.isin(directions)]
    if losses is not None:
        subset = subset[subset.loss.isin(losses)]
    values: dict[tuple[str, Column], dict[int, float]] = {}
    for (row, direction, dataset, bits), group in subset.groupby(["row", "direction", "dataset", "bits"]):
        values[(row, (direction, dataset, int(bits)))] = _by_replicate(group, row, (direction, dataset, int(bits)))
    present = {row for row, _ in values}
    families = dict(zip(subset.row, subset.family))
    controls = frozenset(subset.row[subset.control.astype(bool)])
    if losses is None:
        rows = row_order(present, families)
    else:  # the losses' order, each loss's rows (its parameter settings) together
        of_loss = dict(zip(subset.row, subset.loss))
        rows = sorted(present, key=lambda row: (losses.index(of_loss[row]), row))
    columns = sorted({column for _, column in values},
                     key=lambda c: (list(directions).index(c[0]), dataset_order(c[1]), c[2]))
    comparisons, differences, compared, incomplete, trimmed = {}, {}, {}, set(), set()
    for column in columns:
        in_column = {row: values[(row, column)] for row in rows if (row, column) in values}
        competing = {row: v for row, v in in_column.items() if row_kind(row, controls) == "loss"} or in_column
        shared = compared[column] = compared_replicates({row: set(v) for row, v in competing.items()})
        for row, by_replicate in list(in_column.items()):
            if not shared <= set(by_replicate):
                incomplete.add((row, column))
                del in_column[row]
            elif set(by_replicate) != shared:
                trimmed.add((row, column))
                in_column[row] = values[(row, column)] = {r: by_replicate[r] for r in sorted(shared)}
        competing = {row: v for row, v in in_column.items() if row_kind(row, controls) == "loss"}
        if competing:
            comparisons.update({(row, column): c for row, c in compare_to_best(competing).items()})
        if reference is not None and reference in in_column:
            differences.update({(row, column): d for row, d in differences_to(in_column, reference).items()})
    return Table(rows, columns, values, comparisons, differences, families, dict(zip(subset.row, subset.name)),
                 reference, controls=controls, compared=compared, incomplete=frozenset(incomplete),
                 trimmed=frozenset(trimmed))


def _by_replicate(group: pd.DataFrame, row: str, column: Column) -> dict[int, float]:
    """The values of one table cell by replicate; ReportError when two records give one replicate, for a cell
    must never keep one of them silently (e.g. two learning rates that the configuration failed to tell apart)."""
    values: dict[int, float] = {}
    run_ids: dict[int, str] = {}
    for replicate, value, run_id in zip(group.replicate.astype(int), group.value, group.run_id):
        if replicate in values:
            direction, dataset, bits = column
            raise ReportError(
                f"two records for one table cell: row {row!r}, dataset {dataset}, {bits} bits, replicate {replicate} "
                f"({DIRECTION_LABELS.get(direction, direction)}): runs {run_ids[replicate]} and {run_id}. They differ "
                "in a setting the report does not group by, or the same run was stored twice; report one of them "
                "(select with --where KEY=VALUE, or move the other's folder out of the results folder)")
        values[replicate], run_ids[replicate] = float(value), run_id
    return values


def quote(table: Table, published: list[Published], metric: str, records: list[RunRecord]) -> Table:
    """``table`` with a row per (method, source, protocol) of the ``published`` numbers that can stand beside
    ``records`` (``published.mismatches``: their own real dataset's column, never a synthetic stand-in's; the same
    metric; under a packaged protocol, the same split, selection rule and mode), each in the column of its task,
    dataset and code length (a code length or task the table lacks is left out); the others in ``unplaced`` with
    the reasons."""
    rows: dict[tuple[str, str, str | None, str | None], dict[Column, float]] = {}
    unplaced: dict[tuple[str, str, str | None, str | None], list[str]] = {}
    found: dict[tuple[str, str, str | None], list[str]] = {}  # what decides the reasons: one look per table's set
    for number in published:
        key = (number.method, number.source, number.cite, number.protocol)
        where = (number.dataset, number.metric, number.protocol)
        reasons = found[where] if where in found else found.setdefault(where, mismatches(number, records, metric))
        if reasons:
            unplaced[key] = list(dict.fromkeys(unplaced.get(key, []) + reasons))
        elif (number.task, number.dataset, number.bits) in table.columns:
            rows.setdefault(key, {})[(number.task, number.dataset, number.bits)] = number.value
    return replace(table, quoted=[Quoted(*key, values) for key, values in rows.items()],
                   unplaced={key: reasons for key, reasons in unplaced.items() if key not in rows})


# ------------------------------------------------------------------------------------------- formatting

#: What a cell's mark adds, by style: † for a loss not shown worse than the best, "n.s." for a difference not significant.
CELL_MARKS = {"latex": {"": "", "not shown worse": r"^\dagger", "n.s.": r"^{\mathrm{n.s.}}",
                        "fewer replicates": r"^\ddagger"},
              "markdown": {"": "", "not shown worse": "†", "n.s.": " n.s.", "fewer replicates": "‡"}}


def mean(values: dict[int, float]) -> float:
    return sum(values.values()) / len(values)


def _render(style: str, number: float, decimals: int, half: float = math.nan, mark: str = "", best: bool = False,
            sign: bool = False) -> str:
    """A number with, when known, ± the half-width of its interval and its mark: ``0.751 ± 0.012†`` in Markdown,
    ``0.751$_{\\pm.012}^\\dagger$`` in LaTeX (the interval a subscript, so that a table fits a page)."""
    text = number_text(number, decimals, sign)
    interval = "" if math.isnan(half) else f"{half:.{decimals}f}"
    if style == "markdown":
        return (f"**{text}**" if best else text) + (f" ± {interval}" if interval else "") + CELL_MARKS[style][mark]
    script = (rf"_{{\pm{interval.lstrip('0')}}}" if interval else "") + CELL_MARKS[style][mark]
    if text[0] in "+-":  # a difference: "+.021", "$-$.004" (the sign takes the leading zero's room)
        text = math_minus(text[0] + text[1:].removeprefix("0"))
    text = rf"\textbf{{{text}}}" if best else text
    return text + (f"${script}$" if script else "")


def _measured(table: Table, row: str, column: Column, style: str, decimals: int) -> str:
    values = table.cell(row, column)
    comparison = table.comparisons.get((row, column))
    mark = comparison.mark if comparison else ""
    if (row, column) in table.incomplete:
        mark = "fewer replicates"
    return _render(style, mean(values), decimals, t_half_width(list(values.values())),
                   mark if mark in ("not shown worse", "fewer replicates") else "", best=mark == "best")


def _delta(difference: Difference, style: str, decimals: int) -> str:
    not_significant = not math.isnan(difference.p_holm) and not difference.significant
    return _render(style, difference.mean, decimals, difference.half_width, "n.s." if not_significant else "",
                   sign=True)


def _label(table: Table, row: str, style: str) -> str:
    """A row's label: Markdown keeps the command line's name (a reference row: what it is), LaTeX prints the
    display name; reference rows in italics."""
    if style == "latex":
        name = latex_text(table.names[row])
        return rf"\textit{{{name}}}" if references.row_kind(row) == "reference" else name
    if references.row_kind(row) == "reference":
        return f"*{markdown_text(references.label(row))}*"
    return markdown_text(row)


def _quoted_label(quoted: Quoted, style: str) -> str:
    if style == "markdown":
        return f"*{markdown_text(quoted.label)}*§"
    return rf"\textit{{{latex_text(quoted.label)}}}" + (rf"~\cite{{{quoted.cite}}}" if quoted.cite else "") + r"$^\S$"


Line = tuple[str, dict[Column, str]]  # a row's label and its cells by column


def _groups(table: Table, style: str, decimals: int) -> list[list[Line]]:
    """The rows of every task block, in the groups a rule sets apart: the losses (in an ablation each followed by
    its Δ to the reference), the label-free controls, the quoted rows, the reference rows."""
    by_kind: dict[str, list[Line]] = {"loss": [], "control": [], "reference": []}
    for row in table.rows:
        lines = by_kind[table.kind(row)]
        lines.append((_label(table, row, style),
                      {c: _measured(table, row, c, style, decimals) for c in table.columns if table.cell(row, c)}))
        if table.reference is not None and row != table.reference:
            target = latex_text(table.names[table.reference]) if style == "latex" else markdown_text(table.reference)
            lines.append((r"\quad $\Delta$ to " + target if style == "latex" else f"↳ Δ to {target}",
                          {c: _delta(table.differences[(row, c)], style, decimals) for c in table.columns
                           if (row, c) in table.differences}))
    quoted = [(_quoted_label(q, style), {c: _render(style, v, decimals) for c, v in q.values.items()})
              for q in table.quoted]
    return [group for group in (by_kind["loss"], by_kind["control"], quoted, by_kind["reference"]) if group]


def _chunks(table: Table) -> list[list[tuple[str, int]]]:
    """The (dataset, bits) column groups, in order, split between datasets into chunks of at most MAX_COLUMNS
    columns (a dataset with more code lengths than that alone in its chunk)."""
    settings = sorted({(c[1], c[2]) for c in table.columns}, key=lambda s: (dataset_order(s[0]), s[1]))
    chunks: list[list[tuple[str, int]]] = []
    for dataset in dict.fromkeys(d for d, _ in settings):
        mine = [s for s in settings if s[0] == dataset]
        if chunks and len(chunks[-1]) + len(mine) <= MAX_COLUMNS:
            chunks[-1] += mine
        else:
            chunks.append(mine)
    return chunks


def _directions(table: Table) -> list[str]:
    return list(dict.fromkeys(c[0] for c in table.columns))


def _block(groups: list[list[Line]], direction: str) -> list[list[Line]]:
    """The groups of rows of one task's block: the rows with a cell in ``direction`` (a published method may have
    numbers for one task only)."""
    kept = [[line for line in group if any(c[0] == direction for c in line[1])] for group in groups]
    return [group for group in kept if group]


def _tabular(table: Table, groups: list[list[Line]], settings: list[tuple[str, int]]) -> list[str]:
    width = 2 + len(settings)
    datasets = list(dict.fromkeys(d for d, _ in settings))
    spans, start = [], 3
    for dataset in datasets:
        count = sum(d == dataset for d, _ in settings)
        spans.append((dataset, start, start + count - 1))
        start += count
    lines = [rf"\begin{{tabular}}{{@{{}}ll*{{{len(settings)}}}{{c}}@{{}}}}", r"\toprule",
             r"\multirow{2}{*}{Task} & \multirow{2}{*}{Method} & "
             + " & ".join(rf"\multicolumn{{{b - a + 1}}}{{c}}{{{latex_text(dataset_name(d))}}}" for d, a, b in spans)
             + r" \\",
             " ".join(rf"\cmidrule(lr){{{a}-{b}}}" for _, a, b in spans),
             " & & " + " & ".join(f"{bits} bits" for _, bits in settings) + r" \\"]
    for direction in _directions(table):
        task = DIRECTION_LABELS[direction].replace("→", r"$\rightarrow$")
        block = _block(groups, direction)
        lines.append(r"\midrule")
        first = rf"\multirow{{{sum(map(len, block))}}}{{*}}{{{task}}}"
        for i, group in enumerate(block):
            if i:
                lines.append(rf"\cmidrule{{2-{width}}}")
            for label, cells in group:
                values = [cells.get((direction, d, b), "--") for d, b in settings]
                lines.append(" & ".join([first, label, *values]) + r" \\")
                first = ""
    return lines + [r"\bottomrule", r"\end{tabular}"]


def to_latex(table: Table, caption: str, label: str, decimals: int = DECIMALS) -> str:
    """A ``table*`` (booktabs; needs the multirow package) with a tabular per chunk of datasets."""
    groups = _groups(table, "latex", decimals)
    tabulars = [_tabular(table, groups, settings) for settings in _chunks(table)]
    lines = [r"\begin{table*}[t]", r"\centering", rf"\caption{{{CAPTION_SIZE} {latex_text(caption)}}}",
             rf"\label{{{label}}}",
             LATEX_SIZE, rf"\setlength{{\tabcolsep}}{{{LATEX_TABCOLSEP}}}",
             rf"\renewcommand{{\arraystretch}}{{{LATEX_ARRAYSTRETCH}}}"]
    for i, tabular in enumerate(tabulars):
        lines += ([r"\par\medskip"] if i else []) + tabular
    return "\n".join(lines + [r"\end{table*}"]) + "\n"


def to_markdown(table: Table, caption: str, decimals: int = DECIMALS) -> str:
    """A Markdown table per task and chunk of datasets, under a line naming the task."""
    groups = _groups(table, "markdown", decimals)
    chunks = _chunks(table)
    lines = [f"*{markdown_text(caption)}*", ""]
    for direction in _directions(table):
        for i, settings in enumerate(chunks):
            part = f" ({i + 1}/{len(chunks)})" if len(chunks) > 1 else ""
            lines += [f"**{DIRECTION_LABELS[direction]}**{part}", "",
                      "| Loss | " + " | ".join(f"{markdown_text(d)} {b} bits" for d, b in settings) + " |",
                      "|---|" + "---|" * len(settings)]
            lines += ["| " + " | ".join([label, *(cells.get((direction, d, b), MISSING) for d, b in settings)]) + " |"
                      for group in _block(groups, direction) for label, cells in group]
            lines.append("")
    return "\n".join(lines)


def markdown_frame(table: pd.DataFrame, caption: str, index_name: str = "Loss") -> str:
    """A Markdown table of string cells under an italic caption: the index as its first column; every string
    escaped (``escape.markdown_text``)."""
    lines = [f"*{markdown_text(caption)}*", "",
             f"| {markdown_text(index_name)} | " + " | ".join(map(markdown_text, table.columns)) + " |",
             "|" + "---|" * (len(table.columns) + 1)]
    lines += [f"| {markdown_text(name)} | " + " | ".join(map(markdown_text, row)) + " |"
              for name, row in zip(table.index, table.values.tolist())]
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """Long format: a row per loss x column with mean, 95% half-width, replicates, the mark and its Holm p-value
    against the best, and (ablations) the difference to the reference with its half-width and p-value; then the
    quoted numbers (mark "quoted", with their source)."""
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
                     "n_replicates": len(values),
                     "mark": ("fewer replicates" if (row, column) in table.incomplete else
                              comparison.mark if comparison else table.kind(row)),
                     "p_holm_vs_best": comparison.p_holm if comparison else math.nan}
            if table.reference is not None:
                difference = table.differences.get((row, column))
                entry.update({f"delta_to_{table.reference}": difference.mean if difference else 0.0,
                              "delta_ci95_half_width": difference.half_width if difference else math.nan,
                              "delta_p_holm": difference.p_holm if difference else math.nan})
            rows.append(entry)
    rows += [{"loss": q.method, "family": "quoted", "direction": direction, "dataset": dataset, "bits": bits,
              "mean": value, "ci95_half_width": math.nan, "n_replicates": 0, "mark": "quoted",
              "p_holm_vs_best": math.nan, "source": q.source}
             for q in table.quoted for (direction, dataset, bits), value in q.values.items()]
    return pd.DataFrame(rows).to_csv(index=False, float_format=f"%.{CSV_DECIMALS}f")


def write_table(table: Table, out: Path, stem: str, formats: list[str], caption: str,
                decimals: int = DECIMALS) -> tuple[dict[str, Path], str]:
    """Write ``<out>/<stem>.tex|.md|.csv``; returns the paths by format, and the Markdown tables (which the
    report index inlines whether or not a ``.md`` file was asked for)."""
    markdown = to_markdown(table, caption, decimals)
    written = {}
    if "latex" in formats:
        written["latex"] = write_text(out / f"{stem}.tex", to_latex(table, caption, f"tab:{stem}", decimals))
    if "markdown" in formats:
        written["markdown"] = write_text(out / f"{stem}.md", markdown)
    if "csv" in formats:
        written["csv"] = write_text(out / f"{stem}.csv", to_csv(table))
    return written, markdown
