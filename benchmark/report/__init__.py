"""``python -m benchmark report``: every run record into paper-ready tables and figures, indexed by a
``README.md`` that states the protocol, data and versions, inlines every table and embeds every figure.

The report is a list of sections (``benchmark.report.sections``), each made by a builder from one
``ReportContext``: the built-in ones below, in the order the index shows them, then any a user adds with
``register_section``; ``section_names()`` lists them. ``save_figure`` writes a figure as the report does (PNG and
PDF).

The report is built in a temporary folder inside the output folder and its files are moved into place only once
all of them are written (``publish``): a report that fails or is killed half-way leaves the previous one as it was,
and a file the report does not write (a README of the folder, an ``example/``) is never touched. A figure whose
kept files are missing or damaged is left out, and the index and ``Report.skipped`` say which and why.

The report reads the results store only (``benchmark.store``): it imports neither torch nor transformers, so it
can be built on a machine that has nothing but the records.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..config import SELECTION_RULES
from ..errors import ReportError
from ..files import sweep_leftovers, temporary_folder, write_json, write_text
from ..record import RunRecord
from ..store import RunStore, pid_alive
from .comparison import ablation_section, ablations, main_table, ranks
from .diagnostic_sections import code_space_diagnostics
from .escape import markdown_text
from .figures import retrieval_curves, save_figure, training_curves
from .optimizer_search import optimizer_search
from .protocol_effect import counterparts, only_the_rule_differs, selection_protocols
from .published import packaged_published
from .sections import (FORMATS, ReportContext, Section, SectionBuilder, build_sections, register_section,
                       section_names)
from .selection import Configuration, configurations, describe, differences, in_configuration, select
from .tables import DECIMALS
from .tidy_data import citations_of, coverage, is_generated, load_published
from .tuned import sensitivity, split_tuning, tuned_parameters
from .verdict import verdict as _verdict  # the builder; ``benchmark.report.verdict`` stays the module

__all__ = ["FORMATS", "Report", "ReportContext", "Section", "SectionBuilder", "ablation_section", "build_report",
           "register_section", "save_figure", "section_names"]

for _builder in (main_table, _verdict, ranks, optimizer_search, ablations, selection_protocols, code_space_diagnostics,
                 tuned_parameters, sensitivity, retrieval_curves, training_curves):
    register_section(_builder)


@dataclass
class Report:
    """The files a report wrote, and what it left out: the record files it could not read and the figures whose
    kept files were missing or damaged (each reason names the file)."""

    tables: list[Path] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    index: Path | None = None
    skipped: list[str] = field(default_factory=list)


def build_report(results: Path, out: Path, formats=FORMATS, metric: str = "map", where: list[str] = (),
                 decimals: int = DECIMALS, published: Path | None = None,
                 say: Callable[[str], None] | None = None) -> Report:
    """Write tables, figures and ``<out>/README.md`` from the records in ``results`` of one configuration: the
    one with the most records among those meeting ``where`` (``benchmark.report.selection``); the others are
    listed in the index with the ``--where`` that reports them. Numbers print with ``decimals`` decimals (3 or
    4); ``published``, a YAML file (``tidy_data.load_published``), adds rows quoting published numbers. ``say``,
    when given, is told what is being rendered as it starts (the CLI prints it; a library call stays silent)."""
    results, out = Path(results), Path(out)
    if decimals not in (3, 4):
        raise ReportError(f"decimals must be 3 or 4, got {decimals!r}")
    packaged, packaged_citations = packaged_published()
    quoted = [n for table in packaged for n in table.numbers(packaged_citations)]
    quoted += load_published(published) if published is not None else []
    unknown = sorted(set(formats) - set(FORMATS))
    if not formats:
        raise ReportError(f"--format names no format; give a comma list of one or more of {', '.join(FORMATS)}")
    if unknown:
        raise ReportError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    store = RunStore(results)
    contents = store.contents()
    if not contents.records:
        skipped = "".join(f"\n  skipped: {reason}" for reason in contents.unreadable)
        raise ReportError(f"no run records in {store.root}; run python -m benchmark run first "
                          f"(or point --results at the folder holding runs/){skipped}")
    every = configurations(contents.records)  # also where the counterparts of the reported one come from
    groups = configurations(select(contents.records, list(where), keep_references=True)) if where else every
    if not groups:
        raise ReportError(f"no run in {store.root} meets --where {' --where '.join(where)}")
    records, tuned, trials = split_tuning(groups[0].records)  # runs of tuned parameters: a section of their own
    if not records:
        raise ReportError(f"the runs in {store.root} are tuning trials and tuned runs only: run the same grid with its "
                          "default parameters too (python -m benchmark run, without --params)")
    failures = [f for f in contents.failures if in_configuration(f.spec, groups[0].settings)]
    if say is not None:
        say(f"report: {len(groups[0].records)} records of the reported configuration read from {store.root}")
    out.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(out, pid_alive)  # the staging folders of reports killed half-way
    staging = temporary_folder(out, "report")
    try:
        context = ReportContext(records, store, staging, formats, metric, decimals, quoted, tuned, trials,
                                counterparts(every, groups[0], records))
        if metric not in set(context.frame.metric):
            raise ReportError(f"metric {metric!r} is not in the records; available: "
                              f"{', '.join(sorted(set(context.frame.metric)))}")
        sections = build_sections(context, say)
        cited = {c["key"]: c["bibtex"] for c in citations_of(records)}  # the losses', then the quoted methods'
        quoted = sorted({q.cite for q in context.table.quoted if q.cite})
        cited |= {key: packaged_citations[key]["bibtex"] for key in quoted
                  if key in packaged_citations and key not in cited}
        if cited:
            write_text(staging / "references.bib", "\n\n".join(cited.values()) + "\n")
        write_index(staging, records, coverage(store, groups[0].records, failures), contents.unreadable, results,
                    metric, sections, groups, where, len(contents.failures) - len(failures))
        publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    def placed(path: Path) -> Path:  # where a file written in the staging folder now lies
        return out / path.relative_to(staging) if path.is_relative_to(staging) else path

    return Report(tables=[placed(p) for s in sections for p in s.tables],
                  figures=[placed(p) for s in sections for p in s.figures], index=out / "README.md",
                  skipped=contents.unreadable + [reason for s in sections for reason in s.skipped])


#: The list of the files the last report wrote under its output folder (relative paths), kept beside them.
WRITTEN = ".report-files.json"


def publish(staging: Path, out: Path) -> None:
    """Move every file of the report built in ``staging`` to its place under ``out``, each by one rename, the index
    (README.md) last so that it never links a file not yet in place; then remove the files the previous report
    wrote (``WRITTEN``) that this one did not (a figure of a dataset no longer reported), so that the folder holds
    one report, whole. Files the reports did not write are left alone."""
    index = staging / "README.md"
    files = sorted((p for p in staging.rglob("*") if p.is_file()), key=lambda p: (p == index, p))
    written = [p.relative_to(staging).as_posix() for p in files]
    before = _written_before(out)
    for path in files:
        target = out / path.relative_to(staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    write_json(out / WRITTEN, written)
    for stale in sorted(before - set(written)):
        (out / stale).unlink(missing_ok=True)


def _written_before(out: Path) -> set[str]:
    """The files the previous report in ``out`` wrote, as its ``WRITTEN`` lists them: only plain relative paths
    inside ``out`` (a damaged or edited list removes nothing else)."""
    try:
        listed = json.loads((out / WRITTEN).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(listed, list):
        return set()
    return {name for name in listed if isinstance(name, str) and name and not Path(name).is_absolute()
            and ".." not in Path(name).parts and name != WRITTEN}


def _links(paths: list[Path], out: Path) -> str:
    return " · ".join(f"[{p.suffix.lstrip('.').upper()}]({p.relative_to(out).as_posix()})"
                      for p in paths if p.is_file())


def _embed(paths: list[Path], out: Path) -> list[str]:
    """An image (PNG) with a link to its PDF, for each figure that exists."""
    lines = []
    for png in (p for p in paths if p.suffix == ".png" and p.is_file()):
        pdf = png.with_suffix(".pdf")
        rel = png.relative_to(out).as_posix()
        lines.append(f"![{png.stem}]({rel})" + (f"  \n[PDF]({pdf.relative_to(out).as_posix()})" if pdf.is_file() else ""))
        lines.append("")
    return lines


def _selection_lines(groups: list[Configuration], where, other_failures: int) -> list[str]:
    """What the report selected (``groups[0]``) and every configuration it left out, with how to report it, and
    how many failed runs belong to configurations left out."""
    chosen = groups[0]
    lines = ["## Configuration", "",
             f"This report covers the {len(chosen.records)} runs of one configuration"
             + (f" among those meeting `--where {' --where '.join(where)}`" if where else "")
             + "; a table cell aggregates only replicates of one configuration. Its settings:", "",
             "| key | value |", "|---|---|"]
    lines += [f"| `{key}` | {markdown_text(value)} |" for key, value in sorted(chosen.settings.items())]
    if len(groups) > 1:
        lines += ["", "Left out (other configurations in these results; report one with the `--where` given):", ""]
        for group in groups[1:]:
            differing = differences(group.settings, chosen.settings)
            flags = " ".join(f"--where {k}={v}" for k, v in differing.items())
            compared = " (its losses are compared with these in *Selection rules compared*)" \
                if only_the_rule_differs(differing) else ""
            lines.append(f"- {len(group.records)} runs with {markdown_text(describe(differing))}: "
                         f"`python -m benchmark report {flags}`{compared}")
    if other_failures:
        lines += ["", f"{other_failures} failed runs belong to other configurations (`python -m benchmark results` "
                      "lists them)."]
    return lines + [""]


def write_index(out: Path, records: list[RunRecord], grid: dict, skipped: list[str], results: Path, metric: str,
                sections: list[Section], groups: list[Configuration], where=(), other_failures: int = 0) -> Path:
    datasets = sorted({r.spec.dataset for r in records})
    synthetic = [d for d in datasets if is_generated(d)]
    protocols = sorted({r.spec.settings.protocol for r in records})
    modes = sorted({r.spec.settings.mode for r in records})
    epochs = sorted({r.spec.settings.epochs for r in records})
    versions = {key: sorted({str(r.environment.get(key)) for r in records if r.environment.get(key)}) for key in
                ("torch", "transformers", "numpy", "device_name", "cpu_capability", "git_commit")}
    machines = {(r.environment.get("device_name"), r.environment.get("cpu_capability")) for r in records}
    lines = [
        "# Report",
        "",
        f"Generated by `python -m benchmark report` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from "
        f"{len(records)} run records in `{results}`.",
        "",
    ]
    if synthetic:
        lines += [f"> **Data: SYNTHETIC stand-ins** ({markdown_text(', '.join(synthetic))}): generated data shaped "
                  "like the real sets, used so the pipeline runs anywhere. They are not the paper's datasets; these "
                  "numbers are not comparable with published results.", ""]
    real = [d for d in datasets if d not in synthetic]
    if real:
        lines += [f"**Data**: {markdown_text(', '.join(real))} (real datasets).", ""]
    lines += [
        "**Protocol**: " + "; ".join(f"**{p}** — {SELECTION_RULES.get(p, p)}" for p in protocols) + ".",
        f"**Training**: backbone {', '.join(modes)}, {', '.join(map(str, epochs))} epochs; only the loss changes "
        "between runs. **Metric**: " + f"`{metric}` (Hamming ranking, tied distances ordered by retrieval index).",
        "**Versions**: " + "; ".join(f"{k} {', '.join(v)}" for k, v in versions.items() if v) + ".",
    ]
    if len(machines) > 1:
        lines.append(f"**Machines**: these records come from {len(machines)} kinds of device (model, instruction "
                     "set); the same configuration and seed give the same numbers bit for bit only on one kind, so "
                     "runs compared here may differ for that reason alone (in the last digits, and in choices "
                     "between near-tied settings).")
    lines += [
        "",
        "## Coverage",
        "",
        f"{grid['done']} of {grid['expected']} runs of the grid have records.",
    ]
    if grid["failed"]:
        lines += ["", "Failed (see `failed.json` in each run folder):"]
        lines += [f"- {markdown_text(label)} (`{run_id}`): {markdown_text(error)}"
                  for run_id, label, error in grid["failed"]]
    if grid["missing"]:
        lines += ["", "Missing (not run yet):"] + [f"- {markdown_text(label)}" for label in grid["missing"]]
    if skipped:
        lines += ["", "Record files skipped (not readable by this version):"]
        lines += [f"- {markdown_text(reason)}" for reason in skipped]
    lines.append("")
    lines += _selection_lines(groups, where, other_failures)
    for section in sections:
        lines += [f"## {markdown_text(section.title)}", ""]
        if section.markdown:
            lines += [section.markdown]
        if section.tables:
            lines += ["Files: " + _links(section.tables, out), ""]
        lines += _embed(section.figures, out)
        if section.skipped:
            lines += ["Figures left out:"] + [f"- {markdown_text(reason)}" for reason in section.skipped] + [""]
    return write_text(out / "README.md", "\n".join(lines).rstrip() + "\n")
