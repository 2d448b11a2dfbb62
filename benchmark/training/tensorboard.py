"""Optional TensorBoard logging of a run (``--log tensorboard``): every weighted loss term and the validation
(or, in the paper protocol, query-set) mAP of each epoch, written as the epoch ends to ``<run folder>/tensorboard/``
(``tensorboard --logdir results/runs``). Needs the ``tensorboard`` package (the ``tensorboard`` extra)."""
from __future__ import annotations

from pathlib import Path


class TensorBoardLog:
    """An epoch observer of the trainer: ``log(entry)`` after each epoch, ``close()`` at the end. The grid checks
    that the package is there (``benchmark.grid``) before any run starts."""

    def __init__(self, folder: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(Path(folder) / "tensorboard"))

    def __call__(self, entry: dict) -> None:
        epoch = entry["epoch"]
        for term, value in entry["loss"].items():
            self.writer.add_scalar(f"loss/{term}", value, epoch)
        for key in ("val_map_i2t", "val_map_t2i", "val_map"):
            if key in entry:
                self.writer.add_scalar(f"validation/{key.removeprefix('val_')}", entry[key], epoch)
        for direction, value in entry.get("query_map", {}).items():
            self.writer.add_scalar(f"query/map_{direction}", value, epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
