"""The named synthetic worlds: three stand-ins calibrated to the real sets' label statistics, and stress worlds that
push one property of synth-coco to an extreme. Each is a set of knob values (``knobs.KNOBS``) plus its classes and
their super-classes; ``targets`` are the label statistics it is calibrated to (docs/synthetic.md cites each)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import classes


@dataclass(frozen=True)
class Target:
    """A label statistic a preset is calibrated to: its value, the tolerance the tests allow, and its source."""

    value: float
    tolerance: float
    source: str


@dataclass(frozen=True)
class SyntheticSpec:
    """A synthetic world: the real set it imitates (None for a stress world), its classes grouped into
    super-classes, its head (most popular) class, its default size and its knob values; a stress world's
    ``display_name`` is its name in tables (a stand-in takes its real set's)."""

    name: str
    real: str | None
    class_names: tuple[str, ...]
    superclasses: tuple[tuple[str, tuple[str, ...]], ...]
    head: str
    size: int
    knobs: dict
    targets: dict[str, Target] = field(default_factory=dict)
    description: str = ""
    display_name: str | None = None

    def split_sizes(self, n_items: int) -> tuple[int, int]:
        """(query, train) sizes, scaled like the real protocol: 10% queries, 50% training items."""
        return max(1, round(0.1 * n_items)), max(2, round(0.5 * n_items))

    def superclass_of(self) -> list[int]:
        """For each class (in label-column order), the index of its super-class."""
        index = {name: s for s, (_, members) in enumerate(self.superclasses) for name in members}
        return [index[name] for name in self.class_names]


#: The COCO super-categories (the ``supercategory`` field of the COCO annotation files).
COCO_SUPERCLASSES = (
    ("person", ("person",)),
    ("vehicle", ("bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat")),
    ("outdoor", ("traffic light", "fire hydrant", "stop sign", "parking meter", "bench")),
    ("animal", ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe")),
    ("accessory", ("backpack", "umbrella", "handbag", "tie", "suitcase")),
    ("sports", ("frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard",
                "surfboard", "tennis racket")),
    ("kitchen", ("bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl")),
    ("food", ("banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake")),
    ("furniture", ("chair", "couch", "potted plant", "bed", "dining table", "toilet")),
    ("electronic", ("tv", "laptop", "mouse", "remote", "keyboard", "cell phone")),
    ("appliance", ("microwave", "oven", "toaster", "sink", "refrigerator")),
    ("indoor", ("book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush")),
)

#: MIRFLICKR-25K and NUS-WIDE have no official super-classes: these groupings are ours (docs/synthetic.md).
MIRFLICKR25K_SUPERCLASSES = (
    ("people", ("baby", "female", "male", "people", "portrait")),
    ("fauna", ("animals", "bird", "dog")),
    ("sky", ("clouds", "night", "sky", "sunset")),
    ("water", ("lake", "river", "sea", "water")),
    ("flora", ("flower", "plant_life", "tree")),
    ("manmade", ("car", "structures", "transport")),
    ("interior", ("food", "indoor")),
)
NUSWIDE_SUPERCLASSES = (
    ("beings", ("animal", "person")),
    ("sky", ("clouds", "sky", "sunset")),
    ("water", ("beach", "lake", "ocean", "reflection", "water")),
    ("land", ("mountain", "rocks", "snow")),
    ("flora", ("flowers", "grass", "plants", "tree")),
    ("urban", ("buildings", "road", "vehicle", "window")),
)

#: Knobs every world shares unless it says otherwise.
BASE_KNOBS = dict(hierarchy=0.3, missing_labels=0.0, spurious_labels=0.0, hide_image=0.2, hide_caption=0.2,
                  modality_gap=0.1)

ESTIMATE = "estimate"  # a target that could not be sourced (docs/synthetic.md says why)

COCO_KNOBS = dict(BASE_KNOBS, labels_per_item=2.9, single_label=0.10, longtail=1.0, dominant=0.54, cooccurrence=0.9,
                  scenes=24)

PRESETS = (
    SyntheticSpec(
        "synth-mirflickr25k", "mirflickr25k", classes.MIRFLICKR25K, MIRFLICKR25K_SUPERCLASSES, "people", 5000,
        dict(BASE_KNOBS, labels_per_item=3.8, single_label=0.15, longtail=0.4, dominant=0.45, cooccurrence=0.97,
             scenes=8),
        {"classes": Target(24, 0, "mirflickr"), "mean_labels": Target(3.8, 0.2, ESTIMATE),
         "single_label": Target(0.15, 0.03, ESTIMATE), "top_class": Target(0.45, 0.04, ESTIMATE),
         "cooccurrence_density": Target(0.15, 0.05, ESTIMATE)},
        "stand-in for MIRFLICKR-25K"),
    SyntheticSpec(
        "synth-nuswide", "nuswide", classes.NUSWIDE, NUSWIDE_SUPERCLASSES, "sky", 6000,
        dict(BASE_KNOBS, labels_per_item=1.9, single_label=0.45, longtail=0.8, dominant=0.35, cooccurrence=0.97,
             scenes=12),
        {"classes": Target(21, 0, "nuswide"), "mean_labels": Target(1.9, 0.1, "mldr"),
         "single_label": Target(0.45, 0.04, ESTIMATE), "top_class": Target(0.35, 0.04, ESTIMATE),
         "cooccurrence_density": Target(0.15, 0.05, ESTIMATE)},
        "stand-in for NUS-WIDE (21 classes)"),
    SyntheticSpec(
        "synth-coco", "coco", classes.COCO, COCO_SUPERCLASSES, "person", 6000, COCO_KNOBS,
        {"classes": Target(80, 0, "coco"), "mean_labels": Target(2.9, 0.15, "coco-cardinality"),
         "single_label": Target(0.10, 0.03, "coco-paper"), "top_class": Target(0.54, 0.04, "coco-person"),
         "cooccurrence_density": Target(0.15, 0.05, ESTIMATE)},
        "stand-in for MS COCO (80 classes)"),
    SyntheticSpec(
        "synth-semantic-bias", None, classes.COCO, COCO_SUPERCLASSES, "person", 6000,
        dict(COCO_KNOBS, labels_per_item=3.5, single_label=0.05, dominant=0.8),
        {"head_in_multilabel": Target(0.8, 0.04, "knob"), "single_label": Target(0.05, 0.02, "knob"),
         "mean_labels": Target(3.5, 0.15, "knob")},
        "stress world: multi-label items nearly all carrying one dominant class (the situation DCGH's variance "
        "constraint targets)", "Semantic bias"),
    SyntheticSpec(
        "synth-longtail", None, classes.COCO, COCO_SUPERCLASSES, "person", 6000,
        dict(COCO_KNOBS, longtail=1.5, dominant=None, single_label=0.3, labels_per_item=2.2, cooccurrence=0.3),
        {"top_class": Target(0.57, 0.06, "knob"), "tail_share": Target(0.065, 0.025, "knob"),
         "mean_labels": Target(2.2, 0.1, "knob")},
        "stress world: a steep long tail (Zipf exponent 1.5, no separately set dominant class, weak scenes)",
        "Long tail"),
    SyntheticSpec(
        "synth-hierarchy", None, classes.COCO, COCO_SUPERCLASSES, "person", 6000,
        dict(COCO_KNOBS, hierarchy=0.8),
        {"mean_labels": Target(2.9, 0.15, "coco-cardinality")},
        "stress world: synth-coco whose classes look and read much like their super-class's other members",
        "Hierarchy"),
)
