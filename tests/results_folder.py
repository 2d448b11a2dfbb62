"""A results folder as its files hold it (what the tests check is on disk, not what the store makes of it)."""
from __future__ import annotations

import json
from pathlib import Path


def read_records(results: Path) -> dict[str, dict]:
    """The records in ``results``, as JSON, by run folder name."""
    return {p.parent.name: json.loads(p.read_text()) for p in (results / "runs").glob("*/record.json")}
