"""``python -m benchmark diagnose``: recompute the diagnostics of stored runs from the files they kept, and check
those files against the hashes their records hold. Torch-free."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .codes import CODES, read_codes, read_continuous
from .continuous import quantization_gap
from .diagnostics import diagnostics
from .errors import RecordError
from .files import file_sha256
from .record import RunRecord
from .store import RunStore


@dataclass
class Diagnosed:
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # run id: why


def quantization_gap_from_files(record: RunRecord, folder: Path, labels: dict) -> dict[str, float] | None:
    """The quantization gap from the kept continuous outputs, else the one the record holds (None if neither)."""
    outputs = read_continuous(folder)
    if outputs is None:
        return (record.diagnostics or {}).get("quantization_gap")
    return quantization_gap(outputs, labels["query_labels"], labels["retrieval_labels"],
                            {d: record.metrics[d]["map"] for d in ("i2t", "t2i")})


def diagnose(results: Path) -> Diagnosed:
    """Recompute and rewrite the diagnostics of every record in ``results`` whose codes are kept and intact."""
    store = RunStore(results)
    outcome = Diagnosed()
    contents = store.contents()
    outcome.skipped += contents.unreadable  # each names its file and what to do
    for record in contents.records:
        folder = store.folder(record.run_id)
        if CODES not in record.files:  # a run that keeps no codes (the continuous features' reference row)
            continue
        if not (folder / CODES).is_file():
            outcome.skipped.append(f"{record.run_id}: its codes {folder / CODES} are missing; run it again with --force")
            continue
        if file_sha256(folder / CODES) != record.files[CODES]:
            outcome.skipped.append(f"{record.run_id}: {folder / CODES} is not the file its record describes "
                                   "(its SHA-256 differs); run it again with --force")
            continue
        try:  # a damaged file skips its run, named, as a missing one does
            codes, labels = read_codes(folder)
            gap = quantization_gap_from_files(record, folder, labels)
        except RecordError as exc:
            outcome.skipped.append(f"{record.run_id}: {exc}")
            continue
        new = diagnostics(codes["retrieval_image"], codes["retrieval_text"], labels["retrieval_labels"], gap)
        store.write_record(replace(record, diagnostics=new))
        outcome.updated.append(record.run_id)
    return outcome
