"""The dataset registry: a dataset, real or a synthetic world, is one ``DatasetEntry`` carrying all that code outside
``benchmark.data`` asks of it, so that adding one is one ``register_dataset`` call (plus its loader).

>>> dataset_names("synth-*")                              # in registration order, like timm's list_models
['synth-mirflickr25k', 'synth-nuswide', 'synth-coco', 'synth-semantic-bias', 'synth-longtail', 'synth-hierarchy']
>>> dataset_entry("synth-coco").stand_in_for, dataset_entry("coco").needs_backbone
('coco', True)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import DataError
from ..registry import Registry
from .dataset import PairedDataset

SplitSizes = Callable[[int | None], tuple[int, int]]


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset.

    Attributes:
        name: what configurations and the command line call it.
        display_name: what LaTeX tables and figures call it ("MS-COCO", "MS-COCO (synthetic)").
        class_names: its classes, in the column order of its labels.
        load: ``load(root, **options) -> PairedDataset``; ``root`` None is its default place.
        split_sizes: the protocol's (query, train) sizes for a set of ``n_items`` (None: not known before it is
            read); docs/protocol.md.
        options: the keyword options ``load`` takes (``data.load`` refuses others).
        files: the files its folder must hold (none for a generated world).
        size: its number of items when known before reading it (a generated world's default size).
        convert: ``convert(raw, out, **options) -> summary``, building its files from the original download
            (``prepare``), or None.
        check_options: raises DataError for a bad option value before anything is read (``--dry-run``), or None.
        describe: ``describe(root, cache) -> {"location", "files", "status"}`` for ``list datasets``; None: its files
            under ``root/<name>``.
        stand_in_for: the real set a synthetic world imitates (its column's place and name in tables), or None.
        generated: made here from a seed and the generator's knobs: nothing to download; its runs take the
            ``synthetic`` settings of a configuration (size, seeds, knobs, ``vary.synthetic``).
        needs_backbone: needs a pretrained CLIP (the tiny synthetic backbone is trained on generated images only).
        keeps_outputs: its runs keep their continuous outputs unless told otherwise (small enough to).
        knows_visible: it records the classes each modality shows (``PairedDataset.visible``).
    """

    name: str
    display_name: str
    class_names: tuple[str, ...]
    load: Callable[..., PairedDataset]
    split_sizes: SplitSizes
    options: frozenset[str] = frozenset()
    files: tuple[str, ...] = ()
    size: int | None = None
    convert: Callable[..., dict] | None = None
    check_options: Callable[..., object] | None = None
    describe: Callable[..., dict] | None = None
    stand_in_for: str | None = None
    generated: bool = False
    needs_backbone: bool = True
    keeps_outputs: bool = False
    knows_visible: bool = False

    def __post_init__(self):
        if not (self.needs_backbone or self.generated):  # the tiny backbone is pretrained with a world's settings
            raise DataError(f"dataset {self.name!r}: needs_backbone=False is for generated worlds only (the tiny "
                            "synthetic backbone is pretrained with the synthetic settings); a dataset of files "
                            "keeps needs_backbone=True and runs with --backbone PATH")


def fixed_split(query: int, train: int) -> SplitSizes:
    """The split sizes of a set whose protocol fixes them whatever its size (the real sets')."""
    return lambda n_items: (query, train)


_DATASETS: Registry[DatasetEntry] = Registry("dataset", DataError)


def register_dataset(entry: DatasetEntry) -> DatasetEntry:
    """Add ``entry``; a name registered already raises DataError."""
    return _DATASETS.add(entry.name, entry)


def unregister_dataset(name: str) -> None:
    """Remove ``name`` (for tests and interactive sessions)."""
    _DATASETS.remove(name)


def dataset_names(pattern: str = "*") -> list[str]:
    """The registered names matching the shell-style ``pattern``, in registration order (the real sets in the
    papers' order first: the tables' column order)."""
    return _DATASETS.names(pattern)


def dataset_entries() -> list[DatasetEntry]:
    return _DATASETS.values()


def find_dataset(name: str) -> DatasetEntry | None:
    """The entry of ``name``, or None (a record may name a dataset this installation does not register)."""
    return _DATASETS.find(name)


def dataset_entry(name: str) -> DatasetEntry:
    """The entry of ``name``; DataError listing the registered ones when there is none."""
    return _DATASETS[name]
