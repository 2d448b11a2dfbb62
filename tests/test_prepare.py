"""The dataset converters of ``python -m benchmark prepare``, on tiny download trees in the original formats."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.data.classes import COCO, MIRFLICKR25K, NUSWIDE
from benchmark.data.dataset import DataError
from benchmark.data.matfiles import as_captions, as_label_matrix, as_paths, read_mat
from benchmark.data.prepare import convertible, prepare

CLASSES = {"mirflickr25k": MIRFLICKR25K, "nuswide": NUSWIDE, "coco": COCO}
# The real, non-contiguous COCO category ids, in the order of classes.COCO.
COCO_IDS = [*range(1, 12), *range(13, 26), 27, 28, *range(31, 45), *range(46, 66), 67, 70, *range(72, 83),
            *range(84, 91)]


def jpg(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (200, 30, 30)).save(path, "JPEG")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def read_back(out: Path, n_classes: int) -> tuple[list[str], np.ndarray, list[list[str]]]:
    paths = as_paths(read_mat(out / "index.mat", ("index",))[1], out / "index.mat", "index")
    labels = as_label_matrix(read_mat(out / "label.mat", ("category",))[1], out / "label.mat", "category", n_classes)
    if (out / "caption.txt").exists():
        captions = [[line] for line in (out / "caption.txt").read_text(encoding="utf-8").splitlines()]
    else:
        captions = as_captions(read_mat(out / "caption.mat", ("caption",))[1], out / "caption.mat", "caption")
    return paths, labels, captions


def run(name: str, raw: Path, out: Path) -> tuple[dict, list[str], np.ndarray, list[list[str]]]:
    """Convert, then read the output back: ``(summary, paths, labels, captions)``."""
    summary = prepare(name, raw, out)
    return summary, *read_back(out, len(CLASSES[name]))


def hot(class_names: tuple[str, ...], *names: str) -> list[int]:
    return [int(c in names) for c in class_names]


def check_summary(summary: dict, out: Path, seen: int, kept: int, dropped: dict, files: list[str]) -> None:
    assert summary["items_seen"] == seen and summary["kept"] == kept
    assert summary["dropped"] == dropped
    assert summary["files"] == files
    assert summary["out"] == str(out.resolve())
    assert json.loads((out / "summary.json").read_text()) == summary


# ------------------------------------------------------------------------------------------ MIRFLICKR-25K


@pytest.fixture
def mirflickr(tmp_path: Path) -> Path:
    """im1 kept, im2 no label, im3 empty tags, im4 no jpg, im5 no tag file, im9 and im10 kept (in number order,
    not name order)."""
    raw = tmp_path / "raw"
    for n in (1, 2, 3, 5, 9, 10):
        jpg(raw / "mirflickr" / f"im{n}.jpg")
    tags = {1: "sky\nclouds\n", 2: "dog\n", 3: "", 4: "lake\n", 9: "moon\n", 10: "\nwater \nsunset\n"}
    for n, text in tags.items():
        write(raw / "mirflickr" / "meta" / "tags" / f"tags{n}.txt", text)
    members = {"sky": [1, 3, 4, 5], "clouds": [1], "water": [10], "sunset": [10, 4], "night": [9]}
    annotations = raw / "mirflickr25k_annotations_v080"
    for name in MIRFLICKR25K:
        write(annotations / f"{name}.txt", "".join(f"{n}\n" for n in members.get(name, [])))
    write(annotations / "dog_r1.txt", "2\n")  # the "relevant" subsets are not labels
    write(annotations / "README.txt", "The annotations of MIRFLICKR-25K\n")
    return raw


def test_mirflickr_converts_tags_labels_and_paths(mirflickr: Path, tmp_path: Path):
    # every labelled image is kept, the untagged ones (im3: empty tag file, im5: none) with an empty text, as the
    # released make_mirflickr25k.py of the DCMH/DCHMT code does
    out = tmp_path / "out"
    summary, paths, labels, captions = run("mirflickr25k", mirflickr, out)
    images = (mirflickr / "mirflickr").resolve()
    assert paths == [str(images / f"im{n}.jpg") for n in (1, 3, 5, 9, 10)]
    assert labels.tolist() == [hot(MIRFLICKR25K, "sky", "clouds"), hot(MIRFLICKR25K, "sky"), hot(MIRFLICKR25K, "sky"),
                               hot(MIRFLICKR25K, "night"), hot(MIRFLICKR25K, "water", "sunset")]
    assert captions == [["sky clouds"], [""], [""], ["moon"], ["water sunset"]]
    check_summary(summary, out, seen=7, kept=5, dropped={"no label": 1, "no tags": 0, "image file missing": 1},
                  files=["index.mat", "label.mat", "caption.mat"])
    assert summary["untagged"] == {"kept": 2, "dropped": 0}
    assert summary["dataset"] == "mirflickr25k" and summary["raw"] == str(mirflickr.resolve())
    assert summary["label_cardinality"] == {"mean": round(7 / 5, 4), "min": 1, "max": 2}
    assert summary["items_per_class"] == [3 if c == "sky" else int(c in ("clouds", "night", "water", "sunset"))
                                          for c in MIRFLICKR25K]


def test_mirflickr_drop_untagged(mirflickr: Path, tmp_path: Path):
    out = tmp_path / "out"
    summary = prepare("mirflickr25k", mirflickr, out, drop_untagged=True)
    paths, labels, captions = read_back(out, len(MIRFLICKR25K))
    images = (mirflickr / "mirflickr").resolve()
    assert paths == [str(images / "im1.jpg"), str(images / "im9.jpg"), str(images / "im10.jpg")]
    assert labels.tolist() == [hot(MIRFLICKR25K, "sky", "clouds"), hot(MIRFLICKR25K, "night"),
                               hot(MIRFLICKR25K, "water", "sunset")]
    assert captions == [["sky clouds"], ["moon"], ["water sunset"]]
    check_summary(summary, out, seen=7, kept=3, dropped={"no label": 1, "no tags": 2, "image file missing": 1},
                  files=["index.mat", "label.mat", "caption.mat"])
    assert summary["untagged"] == {"kept": 0, "dropped": 2}
    assert summary["label_cardinality"] == {"mean": round(5 / 3, 4), "min": 1, "max": 2}


def test_drop_untagged_is_a_mirflickr_choice(tmp_path: Path):
    from benchmark.errors import ConfigError

    raw = nus_tree(tmp_path / "raw")
    with pytest.raises(ConfigError, match="--drop-untagged applies to mirflickr25k only"):
        prepare("nuswide", raw, tmp_path / "out", drop_untagged=True)
    assert "untagged" not in prepare("nuswide", raw, tmp_path / "out")  # NUS-WIDE drops them, and has no such count


def test_mirflickr_missing_class_file_or_tags_folder_is_named(mirflickr: Path, tmp_path: Path):
    (mirflickr / "mirflickr25k_annotations_v080" / "dog.txt").unlink()
    with pytest.raises(DataError, match=r"dog\.txt"):
        prepare("mirflickr25k", mirflickr, tmp_path / "out")
    write(mirflickr / "mirflickr25k_annotations_v080" / "dog.txt", "")
    shutil.rmtree(mirflickr / "mirflickr" / "meta")
    with pytest.raises(DataError, match=r"mirflickr/meta/tags"):
        prepare("mirflickr25k", mirflickr, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_mirflickr_bad_class_file_line_is_named(mirflickr: Path, tmp_path: Path):
    write(mirflickr / "mirflickr25k_annotations_v080" / "baby.txt", "1\nim2.jpg\n")
    with pytest.raises(DataError, match=r"baby\.txt line 2"):
        prepare("mirflickr25k", mirflickr, tmp_path / "out")


# ------------------------------------------------------------------------------------------------ NUS-WIDE

NUS_ITEMS = [  # (image list entry, All_Tags line, concepts, image present)
    ("actor\\0001_2124494179.jpg", "2124494179      cat  sky", ("animal", "sky"), True),   # kept
    ("actor\\0002_174174086.jpg", "174174086      puppy", ("dog",), True),               # no label (dog is not one)
    ("beach\\0003_100.jpg", "100", ("beach",), True),                                     # no tags
    ("beach\\0004_200.jpg", "200 sand sea", ("beach", "ocean"), False),                   # image file missing
    ("water\\0005_300.jpg", "300 lake\tblue", ("water",), True),                          # kept
]


def nus_tree(raw: Path, items=NUS_ITEMS, images: str = "Flickr", prefix: str = "", drive: str = "") -> Path:
    """The annotation files under ``raw/prefix``, the images under ``raw/images``; ``drive`` prefixes each
    image-list entry, as some releases do."""
    base = raw / prefix
    write(base / "ImageList" / "Imagelist.txt", "".join(f"{drive}{entry}\r\n" for entry, *_ in items))
    write(base / "NUS_WID_Tags" / "All_Tags.txt", "".join(f"{tags}\n" for _, tags, *_ in items))
    concepts = [*NUSWIDE, "dog", "actor"]
    write(base / "Concepts81.txt", "\n".join(concepts) + "\n")
    for concept in concepts:
        write(base / "Groundtruth" / "AllLabels" / f"Labels_{concept}.txt",
              "".join(f"{int(concept in names)}\n" for _, _, names, _ in items))
    for entry, _, _, present in items:
        if present:
            jpg(raw / images / Path(*entry.split("\\")))
    return raw


def test_nuswide_converts_in_image_list_order(tmp_path: Path):
    raw = nus_tree(tmp_path / "raw")
    out = tmp_path / "out"
    summary, paths, labels, captions = run("nuswide", raw, out)
    images = (raw / "Flickr").resolve()
    assert paths == [str(images / "actor" / "0001_2124494179.jpg"), str(images / "water" / "0005_300.jpg")]
    assert labels.tolist() == [hot(NUSWIDE, "animal", "sky"), hot(NUSWIDE, "water")]
    assert captions == [["cat sky"], ["lake blue"]]
    check_summary(summary, out, seen=5, kept=2, dropped={"no label": 1, "no tags": 1, "image file missing": 1},
                  files=["index.mat", "label.mat", "caption.txt"])


def test_nuswide_finds_files_in_other_layouts(tmp_path: Path):
    # annotations one folder down, images in images/ and the list with absolute Windows paths
    raw = nus_tree(tmp_path / "raw", images="images", prefix="NUS-WIDE", drive="C:\\ImageData\\Flickr\\")
    summary, paths, _, _ = run("nuswide", raw, tmp_path / "out")
    assert paths[1] == str((raw / "images" / "water" / "0005_300.jpg").resolve())
    assert summary["kept"] == 2


def test_nuswide_line_count_mismatch_names_the_files(tmp_path: Path):
    raw = nus_tree(tmp_path / "raw")
    write(raw / "Groundtruth" / "AllLabels" / "Labels_sky.txt", "1\n0\n")
    with pytest.raises(DataError, match=r"line counts differ.*Labels_sky\.txt 2"):
        prepare("nuswide", raw, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_nuswide_photo_id_mismatch_names_the_line(tmp_path: Path):
    items = list(NUS_ITEMS)
    items[3] = (items[3][0], "201 sand sea", *items[3][2:])
    raw = nus_tree(tmp_path / "raw", items)
    with pytest.raises(DataError, match=r"All_Tags\.txt line 4 is photo 201"):
        prepare("nuswide", raw, tmp_path / "out")


@pytest.mark.parametrize("missing", ["Groundtruth/AllLabels/Labels_water.txt", "NUS_WID_Tags/All_Tags.txt",
                                     "ImageList/Imagelist.txt"])
def test_nuswide_missing_file_is_named(tmp_path: Path, missing: str):
    raw = nus_tree(tmp_path / "raw")
    (raw / missing).unlink()
    with pytest.raises(DataError, match=rf"{Path(missing).name} \(looked for {re.escape(str(raw / missing))}"):
        prepare("nuswide", raw, tmp_path / "out")


def test_nuswide_bad_label_value_is_named(tmp_path: Path):
    raw = nus_tree(tmp_path / "raw")
    write(raw / "Groundtruth" / "AllLabels" / "Labels_snow.txt", "0\n0\n2\n0\n0\n")
    with pytest.raises(DataError, match=r"Labels_snow\.txt line 3"):
        prepare("nuswide", raw, tmp_path / "out")


# ------------------------------------------------------------------------------------------------ COCO 2017


def coco_tree(raw: Path) -> Path:
    """train: 9 kept (car), 12 no annotations, 15 no caption, 20 no file, 30 kept (person, dog, 2 captions);
    val: 5 kept (toothbrush, the last category: id 90)."""
    categories = [{"id": i, "name": n, "supercategory": "x"} for i, n in zip(COCO_IDS, COCO)][::-1]
    splits = {
        "train2017": {9: ["car"], 12: [], 15: ["bus"], 20: ["cat"], 30: ["person", "dog", "person"]},
        "val2017": {5: ["toothbrush"]},
    }
    captions = {9: [(7, "A red car.")], 12: [(8, "Nothing here.")], 20: [(9, "A cat.")],
                30: [(51, "  A man\nwalks   a dog. "), (4, "Dog and owner.")], 5: [(60, "A toothbrush.")]}
    ann_id = 1000
    for split, objects in splits.items():
        images = [{"id": i, "file_name": f"{i:012d}.jpg", "height": 8, "width": 8} for i in objects]
        instances = []
        for image_id, names in objects.items():
            for name in names:
                ann_id += 1
                instances.append({"id": ann_id, "image_id": image_id, "category_id": COCO_IDS[COCO.index(name)],
                                  "bbox": [0, 0, 1, 1], "area": 1, "iscrowd": 0})
            if image_id != 20:
                jpg(raw / split / f"{image_id:012d}.jpg")
        caps = [{"id": a, "image_id": i, "caption": text} for i in objects for a, text in captions.get(i, [])]
        write(raw / "annotations" / f"instances_{split}.json",
              json.dumps({"images": images[::-1], "annotations": instances, "categories": categories}))
        write(raw / "annotations" / f"captions_{split}.json", json.dumps({"images": images, "annotations": caps}))
    return raw


def test_coco_converts_both_splits_with_all_captions(tmp_path: Path):
    raw = coco_tree(tmp_path / "raw")
    out = tmp_path / "out"
    summary, paths, labels, captions = run("coco", raw, out)
    assert paths == [str((raw / "train2017" / "000000000009.jpg").resolve()),
                     str((raw / "train2017" / "000000000030.jpg").resolve()),
                     str((raw / "val2017" / "000000000005.jpg").resolve())]
    assert labels.tolist() == [hot(COCO, "car"), hot(COCO, "person", "dog"), hot(COCO, "toothbrush")]
    assert captions == [["A red car."], ["Dog and owner.", "A man walks a dog."], ["A toothbrush."]]
    check_summary(summary, out, seen=6, kept=3, dropped={"no label": 1, "no caption": 1, "image file missing": 1},
                  files=["index.mat", "label.mat", "caption.mat"])
    assert summary["label_cardinality"] == {"mean": round(4 / 3, 4), "min": 1, "max": 2}


def test_coco_missing_split_or_json_is_named(tmp_path: Path):
    raw = coco_tree(tmp_path / "raw")
    shutil.rmtree(raw / "val2017")
    for kind in ("instances", "captions"):
        (raw / "annotations" / f"{kind}_val2017.json").unlink()
    with pytest.raises(DataError) as error:
        prepare("coco", raw, tmp_path / "out")
    assert all(name in str(error.value) for name in ("instances_val2017.json", "captions_val2017.json", "val2017"))
    assert "train2017.json" not in str(error.value)
    assert not (tmp_path / "out").exists()


def test_coco_missing_captions_json_is_named(tmp_path: Path):
    raw = coco_tree(tmp_path / "raw")
    (raw / "annotations" / "captions_train2017.json").unlink()
    with pytest.raises(DataError, match=r"captions_train2017\.json"):
        prepare("coco", raw, tmp_path / "out")


def test_coco_other_categories_are_refused(tmp_path: Path):
    raw = coco_tree(tmp_path / "raw")
    path = raw / "annotations" / "instances_val2017.json"
    data = json.loads(path.read_text())
    next(c for c in data["categories"] if c["id"] == 18)["name"] = "puppy"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"instances_val2017\.json.*position 17 is id 18 'puppy', expected 'dog'"):
        prepare("coco", raw, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_coco_annotation_of_an_unknown_category_is_named(tmp_path: Path):
    raw = coco_tree(tmp_path / "raw")
    path = raw / "annotations" / "instances_train2017.json"
    data = json.loads(path.read_text())
    data["annotations"][0]["category_id"] = 12  # one of the gaps in the COCO ids
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"instances_train2017\.json: annotation 1001 has category_id 12"):
        prepare("coco", raw, tmp_path / "out")


# ------------------------------------------------------------------------------------------------- dispatch


def test_unknown_name_lists_the_valid_ones(tmp_path: Path):
    assert convertible() == ["mirflickr25k", "nuswide", "coco"]
    with pytest.raises(ValueError, match="mirflickr25k, nuswide, coco"):
        prepare("flickr30k", tmp_path, tmp_path / "out")


@pytest.mark.parametrize("name", sorted(convertible()))
def test_missing_raw_folder_is_named(tmp_path: Path, name: str):
    with pytest.raises(DataError, match=rf"raw folder {re.escape(str(tmp_path / 'nowhere'))} does not exist"):
        prepare(name, tmp_path / "nowhere", tmp_path / "out")


def test_rerun_replaces_the_output_and_nothing_kept_is_an_error(mirflickr: Path, tmp_path: Path):
    out = tmp_path / "out"
    prepare("mirflickr25k", mirflickr, out)
    before = (out / "summary.json").read_text()
    for name in ("sky", "clouds", "night", "water", "sunset"):  # now no image has a label
        write(mirflickr / "mirflickr25k_annotations_v080" / f"{name}.txt", "")
    with pytest.raises(DataError, match=r"no item of the 7 .*'no label': 7"):
        prepare("mirflickr25k", mirflickr, out)
    assert (out / "summary.json").read_text() == before  # a failed check leaves the earlier output as it was
    write(mirflickr / "mirflickr25k_annotations_v080" / "water.txt", "10\n")
    summary = prepare("mirflickr25k", mirflickr, out)
    assert summary["kept"] == 1 and read_back(out, len(MIRFLICKR25K))[2] == [["water sunset"]]


# ------------------------------------------------------------------------------------- command line


def test_cli_prepare_then_load(mirflickr: Path, tmp_path: Path, cli):
    from benchmark import data

    out = tmp_path / "data" / "mirflickr25k"
    result = cli("prepare", "mirflickr25k", "--raw", mirflickr, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "kept 5 of 7 items" in result.stdout and "dropped 0: no tags" in result.stdout
    assert "labelled without text: 2 kept (empty text), 0 dropped" in result.stdout
    hint = result.stdout.strip().splitlines()[-1]  # the command that runs on it, not a Python call
    assert hint.startswith("Run on it: ") and "python -m benchmark run --datasets mirflickr25k --data-root" in hint
    ds = data.load("mirflickr25k", root=out)
    assert ds.captions == [["sky clouds"], [""], [""], ["moon"], ["water sunset"]]
    assert ds.summary["missing_images"] == 0

    dropped = cli("prepare", "mirflickr25k", "--raw", mirflickr, "--out", out, "--drop-untagged")
    assert dropped.returncode == 0, dropped.stderr
    assert "kept 3 of 7 items" in dropped.stdout and "dropped 2: no tags" in dropped.stdout
    assert "labelled without text: 0 kept (empty text), 2 dropped" in dropped.stdout
    assert data.load("mirflickr25k", root=out).captions == [["sky clouds"], ["moon"], ["water sunset"]]

    failed = cli("prepare", "coco", "--raw", tmp_path / "none", "--out", out)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert failed.stderr.startswith("error: raw folder") and "does not exist" in failed.stderr
