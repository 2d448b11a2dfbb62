"""Optional TensorBoard logging of a run (``--log tensorboard``): every weighted loss term and the validation
(or, in the paper protocol, query-set) mAP of each epoch, written as the epoch ends to ``<run folder>/tensorboard/``
(``tensorboard --logdir results/runs``). Needs the ``tensorboard`` package (the ``tensorboard`` extra)."""
from __future__ import annotations

from pathlib import Path

from ..record import EpochLog


class TensorBoardLog:
    """An epoch observer of the trainer: called with each epoch's ``EpochLog`` as it ends, ``close()`` at the end.
    The grid checks that the package is there (``benchmark.grid``) before any run starts."""

    def __init__(self, folder: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(Path(folder) / "tensorboard"))

    def __call__(self, entry: EpochLog) -> None:
        epoch = entry.epoch
        for term, value in entry.loss.items():
            self.writer.add_scalar(f"loss/{term}", value, epoch)
        for direction, value in entry.validation_map.items():
            self.writer.add_scalar(f"validation/map_{direction}", value, epoch)
        if entry.val_map is not None:
            self.writer.add_scalar("validation/map", entry.val_map, epoch)
        for direction, value in (entry.query_map or {}).items():
            self.writer.add_scalar(f"query/map_{direction}", value, epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
