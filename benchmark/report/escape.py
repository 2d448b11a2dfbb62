"""Text for each output format of the report: one escaping function per format, through which every string a
user controls (loss and display names, dataset names, published methods and sources, parameters, error messages)
passes before it reaches a LaTeX file, a Markdown file or a figure.

``latex_text`` also sets the symbols the report's own captions use (±, Δ, χ², −, ...) in math mode, so captions
go through it whole (pdflatex stops at a Unicode character it has no definition for); ``markdown_text`` escapes
only what would change a Markdown table's shape or start markup, so that names stay readable in the ``.md`` source;
``plot_text`` keeps matplotlib from reading ``$...$`` as math.
"""
from __future__ import annotations

import re

#: Characters of text and what LaTeX needs instead: its specials escaped, our symbols in math mode.
LATEX_TEXT = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "^": r"\^{}", "~": r"\~{}", "%": r"\%",
              "&": r"\&", "#": r"\#", "_": r"\_", "|": r"\textbar{}", "<": r"\textless{}", ">": r"\textgreater{}",
              "±": r"$\pm$", "Δ": r"$\Delta$", "†": r"$^\dagger$", "α": r"$\alpha$", "χ²": r"$\chi^2$",
              "²": r"$^2$", "×": r"$\times$", "→": r"$\rightarrow$", "≥": r"$\geq$", "§": r"\S{}", "–": "--",
              "−": r"$-$", "‡": r"$^\ddagger$", "≤": r"$\leq$", "≈": r"$\approx$", "—": "---", "…": r"\ldots{}",
              "·": r"$\cdot$", "χ": r"$\chi$", "γ": r"$\gamma$", "λ": r"$\lambda$", "τ": r"$\tau$",
              "β": r"$\beta$", "μ": r"$\mu$", "σ": r"$\sigma$", "ρ": r"$\rho$", "∈": r"$\in$", "’": "'"}
_LATEX = re.compile("|".join(map(re.escape, sorted(LATEX_TEXT, key=len, reverse=True))))

#: Markdown: backslash escapes for the pipe (a table's cell border), code, emphasis, strikethrough, math ($, as
#: GitHub renders it) and HTML; an underscore only where it could open or close emphasis (``my_loss`` stays).
_MARKDOWN = re.compile(r"[\\|`*$<>~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def latex_text(text: str) -> str:
    """``text`` for LaTeX's text mode: its special characters escaped and our symbols in math mode."""
    return _LATEX.sub(lambda m: LATEX_TEXT[m.group(0)], str(text))


def markdown_text(text: str) -> str:
    """``text`` for a Markdown file, inside a table cell or not: it neither splits a cell nor starts markup."""
    return _MARKDOWN.sub(lambda m: "\\" + m.group(0), str(text))


def plot_text(text: str) -> str:
    """``text`` for a matplotlib title, label, tick or legend entry: dollars are literal (never mathtext), and a
    leading underscore, which hides a legend entry, is kept visible by a space before it."""
    text = str(text).replace("$", r"\$")
    return " " + text if text.startswith("_") else text
