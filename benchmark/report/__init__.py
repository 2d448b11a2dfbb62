"""``python -m benchmark report``: every run record into paper-ready tables and figures, indexed by a
``README.md`` that states the protocol, data and versions, inlines every table and embeds every figure."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from .figures import ablation_figure, pr_and_precision_figures, training_figures
from .records import coverage, failures, load_records, tidy
from .tables import ABLATION_LOSSES, ablation_deltas, cell_statistics, write_table

FORMATS = ("latex", "markdown", "csv")


def metric_slug(metric: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", metric.replace("@", "_at_")).strip("_")


def _caption(metric: str, records: list[dict], what: str) -> str:
    protocols = sorted({r["spec"]["protocol"] for r in records})
    synthetic = any(r.get("synthetic") for r in records)
    seeds = max(len({r["spec"]["seed"] for r in records if r["spec"]["loss"] == loss})
                for loss in {r["spec"]["loss"] for r in records})
    parts = [f"{what}: {metric} of Hamming ranking",
             f"{'/'.join(protocols)} protocol" + (" (paper: best query epoch, optimistic)" if "paper" in protocols else ""),
             "SYNTHETIC stand-in data" if synthetic else "real datasets",
             f"mean ± std over seeds ({seeds} at most)" if seeds > 1 else "one seed",
             "best in bold, second underlined"]
    return "; ".join(parts) + "."


def ablation_report(records: list[dict], out: Path, formats, metric: str = "map") -> dict[str, list[Path]]:
    """The variance-constraint ablation table (with each cell's difference to dcgh) and its figure."""
    df = tidy(records)
    present = [loss for loss in ABLATION_LOSSES if loss in set(df.loss)]
    if "dcgh" not in present or len(present) < 2:
        return {}
    stats = cell_statistics(df, metric, losses=present)
    slug = f"ablation_variance_{metric_slug(metric)}"
    caption = _caption(metric, records, "Ablation of the DCGH variance constraint (Δ: difference to dcgh)")
    tables, markdown = write_table(stats, out / "tables", slug, formats, caption, ablation_deltas(stats))
    return {"tables": list(tables.values()), "figures": ablation_figure(stats, out / "figures", slug, metric),
            "markdown": [markdown]}


def build_report(results: Path, out: Path, formats=FORMATS, metric: str = "map") -> dict[str, list[Path]]:
    """Write tables, figures and ``<out>/README.md`` from the records in ``results``; returns the files."""
    results, out = Path(results), Path(out)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    records = load_records(results)
    if not records:
        raise ValueError(f"no run records in {results / 'runs'}; run python -m benchmark run first "
                         "(or point --results at the folder holding runs/)")
    df = tidy(records)
    if metric not in set(df.metric):
        raise ValueError(f"metric {metric!r} is not in the records; available: {', '.join(sorted(set(df.metric)))}")
    slug = metric_slug(metric)
    caption = _caption(metric, records, "Cross-modal retrieval")
    stats = cell_statistics(df, metric)
    main, main_markdown = write_table(stats, out / "tables", f"main_{slug}", formats, caption)
    ablation = ablation_report(records, out, formats, metric)
    figures = {"pr": pr_and_precision_figures(records, out / "figures"),
               "training": training_figures(records, out / "figures")}
    index = write_index(out, records, failures(results), results, metric,
                        main_markdown=main_markdown, main_files=list(main.values()),
                        ablation=ablation, figures=figures)
    return {"tables": list(main.values()) + ablation.get("tables", []),
            "figures": figures["pr"] + figures["training"] + ablation.get("figures", []), "index": [index]}


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


def write_index(out: Path, records: list[dict], failed: list[dict], results: Path, metric: str, *,
                main_markdown: str, main_files: list[Path], ablation: dict, figures: dict) -> Path:
    datasets = sorted({r["spec"]["dataset"] for r in records})
    synthetic = sorted({r["spec"]["dataset"] for r in records if r.get("synthetic")})
    protocols = sorted({r["spec"]["protocol"] for r in records})
    modes = sorted({r["spec"]["mode"] for r in records})
    epochs = sorted({r["spec"]["epochs"] for r in records})
    envs = [r.get("environment", {}) for r in records]
    versions = {key: sorted({str(e.get(key)) for e in envs if e.get(key)}) for key in
                ("torch", "transformers", "numpy", "device_name", "git_commit")}
    grid = coverage(records, failed)
    lines = [
        "# Report",
        "",
        f"Generated by `python -m benchmark report` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from "
        f"{len(records)} run records in `{results}`.",
        "",
    ]
    if synthetic:
        lines += [f"> **Data: SYNTHETIC stand-ins** ({', '.join(synthetic)}): generated data shaped like the real "
                  "sets, used so the pipeline runs anywhere. They are not the paper's datasets; these numbers are "
                  "not comparable with published results.", ""]
    real = [d for d in datasets if d not in synthetic]
    if real:
        lines += [f"**Data**: {', '.join(real)} (real datasets).", ""]
    protocol_text = {"honest": "**honest** — the epoch is chosen by validation mAP (mean of I→T and T→I) and the "
                               "query set is evaluated once, at that epoch",
                     "paper": "**paper** — the best query-set epoch is kept per direction, as published code does "
                              "(optimistic)"}
    lines += [
        "**Protocol**: " + "; ".join(protocol_text[p] for p in protocols) + ".",
        f"**Training**: backbone {', '.join(modes)}, {', '.join(map(str, epochs))} epochs; only the loss changes "
        "between runs. **Metric**: " + f"`{metric}` (Hamming ranking, tied distances ordered by retrieval index).",
        "**Versions**: " + "; ".join(f"{k} {', '.join(v)}" for k, v in versions.items() if v) + ".",
        "",
        "## Coverage",
        "",
        f"{grid['done']} of {grid['expected']} runs of the grid have records.",
    ]
    if grid["failed"]:
        lines += ["", "Failed (see `failed.json` in each run folder):"]
        lines += [f"- {label} (`{run_id}`): {error}" for run_id, label, error in grid["failed"]]
    if grid["missing"]:
        lines += ["", "Missing (not run yet):"] + [f"- {label}" for label in grid["missing"]]
    lines += ["", f"## Main table ({metric})", "", main_markdown, "Files: " + _links(main_files, out), ""]
    lines += ["## Ablation of the variance constraint", ""]
    if ablation:
        lines += [ablation["markdown"][0], "Files: " + _links(ablation["tables"], out), ""]
        lines += _embed(ablation["figures"], out)
    else:
        lines += ["Not in these records: run `python -m benchmark ablate variance` (dcgh, dcgh-novar, "
                  "dcgh-labelvar, dcgh-nopair, proxy).", ""]
    lines += ["## Figures", "", "### PR curves (Hamming radius) and precision@N", ""]
    lines += _embed(figures["pr"], out)
    lines += ["### Training curves", ""] + _embed(figures["training"], out)
    index = out / "README.md"
    out.mkdir(parents=True, exist_ok=True)
    index.write_text("\n".join(lines).rstrip() + "\n")
    return index
