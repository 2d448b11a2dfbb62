"""LaTeX of the report's tables of text cells (optimizer search, ranks, diagnostics, default against tuned): one
booktabs float that fits a two-column paper.

A table narrow enough for one column is a ``table``; a wider one a ``table*`` whose columns are split over as many
tabulars as the page width needs, each repeating the row labels. Long headings and row labels wrap onto lines
(a nested tabular, so no package beyond booktabs is needed); an interval "0.751 ± 0.012" becomes a subscript as in
the main table, and a negative sign a math minus. The widths are estimates from the characters' count at
``\\scriptsize``, checked by compiling every table the report writes in the tests (where pdflatex exists).
"""
from __future__ import annotations

import re
import textwrap

import pandas as pd

from .escape import latex_text

#: Font size, column gap and row spacing of every LaTeX table: the main table's 9 columns of "0.751±.012†" fit a
#: two-column page's table*, and its 2 × 23 rows with their caption fit the page's height.
LATEX_SIZE, LATEX_TABCOLSEP, LATEX_ARRAYSTRETCH = r"\scriptsize", "2.5pt", "1.1"
#: The captions' size (inside the caption: LaTeX sets a caption at \normalsize whatever precedes it): they say how
#: the numbers were made, which takes several lines.
CAPTION_SIZE = r"\footnotesize"
#: The narrowest text width of the common two-column templates (CVPR: 6.875 in) and one of its columns, in points;
#: a character's width at \scriptsize, in points, rounded up (digits are 3.5 pt, most letters less).
PAGE_PT, COLUMN_PT, CHARACTER_PT, GAP_PT = 495.0, 237.0, 4.0, 5.0
#: Characters per line of a wrapped heading and of a wrapped row label.
HEADING_CHARACTERS, LABEL_CHARACTERS = 14, 30

_INTERVAL = re.compile(r"^(?P<number>[+-]?\d*\.\d+) ± (?P<half>\d*\.\d+)(?P<rest>.*)$")


def number_text(number: float, decimals: int, sign: bool = False) -> str:
    """``number`` with ``decimals`` decimals; with ``sign``, "+" before a positive one. A value that rounds to
    zero prints as zero, never "-0.000"."""
    if round(number, decimals) == 0:
        return f"{0:.{decimals}f}"
    return f"{number:{'+' if sign else ''}.{decimals}f}"


def math_minus(text: str) -> str:
    """A leading "-" of a number as LaTeX's minus sign (a hyphen in text mode is too short)."""
    return "$-$" + text[1:] if re.match(r"-[\d.]", text) else text


def _cell(text: str) -> tuple[str, float]:
    """A text cell as LaTeX, and its printed width in characters."""
    found = _INTERVAL.match(text)
    if found is None:
        return math_minus(latex_text(text)), len(text)  # "–" (missing) is "--", not a minus
    number, half, rest = found["number"], found["half"].lstrip("0"), found["rest"]
    latex = f"{math_minus(number)}$_{{\\pm{half}}}$" + latex_text(rest)
    return latex, len(number) + 0.7 * (len(half) + 1) + len(rest)


def _lines(text: str, width: int, align: str, position: str) -> tuple[str, float]:
    """``text`` wrapped onto lines of at most ``width`` characters (a nested tabular when it takes several)."""
    lines = textwrap.wrap(str(text), width, break_long_words=False, break_on_hyphens=False) or [""]
    if len(lines) == 1:
        return latex_text(lines[0]), len(lines[0])
    body = r" \\ ".join(latex_text(line) for line in lines)
    return rf"\begin{{tabular}}[{position}]{{@{{}}{align}@{{}}}}{body}\end{{tabular}}", max(map(len, lines))


def _points(characters: float) -> float:
    return characters * CHARACTER_PT + GAP_PT


def frame_latex(frame: pd.DataFrame, caption: str, label: str, index_name: str = "") -> str:
    """A booktabs float of ``frame`` (string cells; its index the row labels, headed ``index_name``) under
    ``caption``: a ``table`` when it fits a column of a two-column page, else a ``table*`` with the columns split
    over tabulars that each fit the page."""
    labels = [_lines(name, LABEL_CHARACTERS, "l", "t") for name in frame.index]
    heading_of_labels = _lines(index_name, HEADING_CHARACTERS, "l", "b")
    headings = [_lines(name, HEADING_CHARACTERS, "c", "b") for name in frame.columns]
    cells = [[_cell(str(value)) for value in column] for _, column in frame.items()]
    label_width = _points(max([heading_of_labels[1], *(width for _, width in labels)]))
    widths = [_points(max([heading[1], *(width for _, width in column)])) for heading, column in zip(headings, cells)]
    wide = label_width + sum(widths) > COLUMN_PT
    chunks: list[list[int]] = []
    for i, width in enumerate(widths):
        if chunks and label_width + sum(widths[j] for j in chunks[-1]) + width <= PAGE_PT:
            chunks[-1].append(i)
        else:
            chunks.append([i])
    float_name = "table*" if wide else "table"
    lines = [rf"\begin{{{float_name}}}[t]", r"\centering", rf"\caption{{{CAPTION_SIZE} {latex_text(caption)}}}",
             rf"\label{{{label}}}", LATEX_SIZE, rf"\setlength{{\tabcolsep}}{{{LATEX_TABCOLSEP}}}",
             rf"\renewcommand{{\arraystretch}}{{{LATEX_ARRAYSTRETCH}}}"]
    for n, chunk in enumerate(chunks):
        lines += [r"\par\medskip"] if n else []
        lines += [rf"\begin{{tabular}}{{@{{}}l*{{{len(chunk)}}}{{c}}@{{}}}}", r"\toprule",
                  " & ".join([heading_of_labels[0], *(headings[i][0] for i in chunk)]) + r" \\", r"\midrule"]
        lines += [" & ".join([name, *(cells[i][row][0] for i in chunk)]) + r" \\"
                  for row, (name, _) in enumerate(labels)]
        lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines + [rf"\end{{{float_name}}}"]) + "\n"
