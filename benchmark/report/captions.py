"""What a caption says about how its numbers were made, read from the records: backbone, frozen or fine-tuned,
epochs, split sizes, how the reported epoch and the optimizer setting were chosen. Plain words, so that a table
can go into a paper without the suite's own vocabulary ("honest protocol") left unexplained."""
from __future__ import annotations

from pathlib import Path

from ..config import SELECTION_RULES
from ..record import RunRecord
from .tidy_data import dataset_name, dataset_order


def _joined(values) -> str:
    return " / ".join(dict.fromkeys(map(str, values)))


def backbone_text(records: list[RunRecord]) -> str:
    """The backbone and whether it was frozen, as the runs of ``records`` used them."""
    settings = [r.spec.settings for r in records]
    described = {"synthetic": "a small CLIP pretrained per synthetic set",
                 "tiny": "a small randomly initialised CLIP (a smoke test: not a result)"}
    names = dict.fromkeys(described.get(s.backbone, f"CLIP {Path(str(s.backbone)).name}") for s in settings)
    modes = dict.fromkeys("frozen, a tanh hash head per modality trained" if s.mode == "frozen"
                          else "fine-tuned with a tanh hash head per modality" for s in settings)
    return f"backbone: {' / '.join(names)}, {' / '.join(modes)}"


def schedule_text(records: list[RunRecord]) -> str:
    """Epochs and batch size of the runs, and how their optimizer setting was chosen."""
    settings = [r.spec.settings for r in records]
    searched = any(r.spec.parameter_set is not None and r.spec.parameter_set.selected for r in records)
    optimizer = ("head learning rate and weight decay chosen per loss and dataset by the same search on validation"
                 if searched else "the same optimizer settings for every loss")
    return (f"{_joined(s.epochs for s in settings)} epochs, batch {_joined(s.batch_size for s in settings)}, "
            f"{optimizer}")


def split_text(records: list[RunRecord]) -> str:
    """The query / retrieval / training sizes (and the validation queries held out of training) per dataset; one
    statement when every dataset has the same."""
    sizes: dict[str, set] = {}
    for record in records:
        data = record.data
        if "n_query" in data:
            sizes.setdefault(record.spec.dataset, set()).add(
                (data["n_query"], data["n_retrieval"], data["n_train"], data.get("n_val_query", 0)))
    if not sizes:
        return ""
    described = {dataset: " or ".join(f"{q:,}/{r:,}/{t:,}" + (f" ({v:,} held out for validation)" if v else "")
                                      for q, r, t, v in sorted(found))
                 for dataset, found in sizes.items()}
    if len(set(described.values())) == 1:
        return f"query/retrieval/training items: {next(iter(described.values()))}"
    return "query/retrieval/training items: " + "; ".join(
        f"{dataset_name(d)} {described[d]}" for d in sorted(described, key=dataset_order))


def selection_text(records: list[RunRecord]) -> str:
    """How the reported state was chosen, per protocol of the runs."""
    protocols = sorted({r.spec.settings.protocol for r in records})
    return "; ".join(SELECTION_RULES.get(p, f"selection protocol {p}") for p in protocols)


def setup_text(records: list[RunRecord]) -> str:
    """Backbone, mode, schedule, split sizes and selection rule of ``records``, for a caption."""
    trained = [r for r in records if r.training is not None] or records
    parts = [backbone_text(trained), schedule_text(trained), split_text(records), selection_text(trained)]
    return "; ".join(part for part in parts if part)
