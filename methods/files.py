"""Writing a folder so that readers never see it half-written, even with concurrent writers."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_folder(folder: Path, marker: str):
    """Yield a temporary folder beside ``folder`` to fill; on success rename it into place.

    If another process completed ``folder`` first (its ``marker`` file exists), keep that copy and drop
    ours: both were built from the same inputs.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        yield tmp
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / marker).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
