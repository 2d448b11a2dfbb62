"""``prepare NAME --variant mith``: MITH's cleaned sets from its released lists, each rule of its ``make_*.py``
(DarrenZZhang/MM23-MITH @4583a7c) on fabricated lists, the published counts checked; which variant a folder
holds, as ``list datasets``, a preset's dry run and the report's published block see it."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.data import describe, load
from benchmark.data.classes import COCO, MIRFLICKR25K, NUSWIDE
from benchmark.data.dataset import DataError
from benchmark.data.prepare import prepare
from benchmark.data.variants import VARIANTS, variant_differences, variant_text
from benchmark.errors import ConfigError
from tests.test_prepare import read_back


def lists(raw: Path, images: Path, names: list[str], texts: list[str], labels: list[list[int]], text_file: str,
          folder: str = "mirflickr") -> None:
    """MITH's three lists in ``raw`` (image lines as ``<folder>/<name>``) and a JPEG per name in ``images``."""
    raw.mkdir(parents=True, exist_ok=True)
    images.mkdir(parents=True, exist_ok=True)
    (raw / "all_imgs.txt").write_text("".join(f"{folder}/{n}\n" for n in names), encoding="utf-8")
    (raw / text_file).write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    (raw / "all_labels.txt").write_text("".join(" ".join(f"{v}.0" for v in row) + "\n" for row in labels))
    for name in names:
        Image.new("RGB", (8, 8), (10, 200, 30)).save(images / name, "JPEG")


def row(n_classes: int, *on: int) -> list[int]:
    return [int(i in on) for i in range(n_classes)]


def test_mirflickr_tags_become_words_and_every_line_is_kept(tmp_path: Path):
    raw, images, out = tmp_path / "mith", tmp_path / "images", tmp_path / "out"
    labels = [row(24, 0, 5), row(24), row(24, 23)]  # MITH keeps a line without a label; the loader drops it
    lists(raw, images, ["im1.jpg", "im2.jpg", "im7.jpg"], ["sky,clouds,blue", "dog", "night,city"], labels,
          "all_tags.txt")
    summary = prepare("mirflickr25k", raw, out, variant="mith", images=images)
    paths, read_labels, captions = read_back(out, len(MIRFLICKR25K))
    assert paths == [str((images / n).resolve()) for n in ("im1.jpg", "im2.jpg", "im7.jpg")]
    assert captions == [["sky clouds blue"], ["dog"], ["night city"]]
    assert read_labels.tolist() == labels
    assert summary["variant"] == "mith" and summary["kept"] == 3 and summary["dropped"]["no label"] == 0
    assert (summary["published_items"], summary["as_published"]) == (20015, False)
    assert json.loads((out / "summary.json").read_text()) == summary
    loaded = load("mirflickr25k", root=out)
    assert (len(loaded), loaded.summary["variant"], loaded.summary["items_read"]) == (2, "mith", 3)


def test_nuswide_writes_its_caption_text_file_with_21_classes(tmp_path: Path):
    raw, images, out = tmp_path / "mith", tmp_path / "images", tmp_path / "out"
    lists(raw, images, ["0001_2124494179.jpg", "0002_42.jpg"], ["portrait,man", "lake"],
          [row(21, 3), row(21, 0, 20)], "all_tags.txt", folder="nuswide")
    prepare("nuswide", raw, out, variant="mith", images=images)
    assert (out / "caption.txt").read_text(encoding="utf-8") == "portrait man\nlake\n"
    assert read_back(out, len(NUSWIDE))[1].tolist() == [row(21, 3), row(21, 0, 20)]


# Golden: the captions MITH's own make_coco.py::sentence2str keeps for these five lines (its function run on them
# under random.seed(1), in a scratch folder): draws 1, 4, 0, 2, 0, one per line, the unlabelled line included.
COCO_LINES = ["A dog runs. On grass;Two dogs play. Outside;A brown dog.;The dog sits;Dog in park",
              "Empty one;Still empty;No label here;None;Nothing",
              "A cat sleeps. Zzz;A cat. Asleep;Cat on bed;Sleeping cat;Kitty",
              "A red bus;Bus on road. Yes;A bus;Big bus;Red vehicle",
              "Only one caption. Really"]
COCO_KEPT = [["Two dogs play"], ["A cat sleeps"], ["A bus"], ["Only one caption"]]


def test_coco_draws_one_caption_per_line_with_seed_1_cuts_at_the_dot_and_drops_unlabelled_lines(tmp_path: Path):
    raw, images, out = tmp_path / "mith", tmp_path / "images", tmp_path / "out"
    names = [f"COCO_train2014_{i:012d}.jpg" for i in range(5)]
    labels = [row(80, 0), row(80), row(80, 15), row(80, 5, 6), row(80, 79)]
    lists(raw, images, names, COCO_LINES, labels, "all_txts.txt", folder="train2014")
    summary = prepare("coco", raw, out, variant="mith", images=images)
    paths, read_labels, captions = read_back(out, len(COCO))
    assert captions == COCO_KEPT
    assert [Path(p).name for p in paths] == [names[i] for i in (0, 2, 3, 4)]
    assert read_labels.tolist() == [labels[i] for i in (0, 2, 3, 4)]
    assert summary["dropped"]["no label"] == 1 and summary["published_items"] == 122218


def test_an_empty_tag_line_or_disagreeing_lists_are_named(tmp_path: Path):
    raw, images = tmp_path / "mith", tmp_path / "images"
    lists(raw, images, ["im1.jpg", "im2.jpg"], ["sky", ""], [row(24, 1), row(24, 2)], "all_tags.txt")
    with pytest.raises(DataError, match=r"all_tags.txt line 2 is empty"):
        prepare("mirflickr25k", raw, tmp_path / "out", variant="mith", images=images)
    lists(raw, images, ["im1.jpg", "im2.jpg"], ["sky", "sea"], [row(24, 1)], "all_tags.txt")
    with pytest.raises(DataError, match=r"line counts differ: .*all_imgs.txt 2, .*all_tags.txt 2, .*all_labels.txt 1"):
        prepare("mirflickr25k", raw, tmp_path / "out", variant="mith", images=images)
    lists(raw, images, ["im1.jpg"], ["sky"], [row(21, 1)], "all_tags.txt")
    with pytest.raises(DataError, match=r"21 numbers per line, 24 expected"):
        prepare("mirflickr25k", raw, tmp_path / "out", variant="mith", images=images)
    assert not (tmp_path / "out").exists()


def test_a_missing_image_is_dropped_and_the_count_then_differs(tmp_path: Path, cli):
    raw, images, out = tmp_path / "mith", tmp_path / "images", tmp_path / "data" / "mirflickr25k"
    lists(raw, images, ["im1.jpg", "im2.jpg"], ["sky", "sea"], [row(24, 1), row(24, 2)], "all_tags.txt")
    (images / "im2.jpg").unlink()
    done = cli("prepare", "mirflickr25k", "--variant", "mith", "--raw", raw, "--images", images, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "kept 1 of 2 items" in done.stdout and "dropped 1: image file missing" in done.stdout
    assert "variant mith: published count 20,015; this set has 1 (-20,014): not the published set" in done.stdout
    listed = cli("list", "datasets", "--data-root", out.parent)
    assert "variant mith: MITH's cleaned set" in listed.stdout and "1 items, not the 20,015 published" in listed.stdout
    dry = cli("run", "--config", "mith", "--datasets", "mirflickr25k", "--backbone", "tiny", "--data-root",
              out.parent, "--results", tmp_path / "results", "--dry-run")
    assert (f"warning: mirflickr25k in {out}: 1 items, mith's 20,015; the preset assumes variant mith "
            "(python -m benchmark prepare mirflickr25k --variant mith)") in dry.stdout, dry.stdout[-1500:]


@pytest.mark.parametrize("flags, message", [
    (["--variant", "mith", "--drop-untagged"], "--drop-untagged does not apply to --variant mith"),
    (["--images", "."], "--images goes with --variant mith"),
])
def test_cli_refuses_flags_that_do_not_go_together_in_one_line(tmp_path: Path, cli, flags, message):
    done = cli("prepare", "coco", "--raw", tmp_path, "--out", tmp_path / "out", *flags)
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr
    with pytest.raises(ConfigError, match="unknown variant"):
        prepare("coco", tmp_path, tmp_path / "out", variant="mit")


def test_a_folder_without_a_summary_is_named_by_its_count(tmp_path: Path, monkeypatch):
    from benchmark.data.matfiles import write_dataset_files

    monkeypatch.setitem(VARIANTS["mith"].items, "coco", 1218)  # 122,218 rows of files take seconds to write
    folder = tmp_path / "coco"
    labels = np.zeros((1218, 80), np.uint8)
    labels[:, 0] = 1
    write_dataset_files(folder, ["x.jpg"] * len(labels), labels, [["a"]] * len(labels))
    status = {r["name"]: r["status"] for r in describe(tmp_path, tmp_path / "cache")}
    assert status["coco"] == ("found; variant not recorded (no summary.json); 1,218 items is the published count "
                              "of mith")
    assert status["mirflickr25k"].startswith("missing")
    assert variant_text("coco", None, 5) == "variant not recorded (no summary.json); 5 items, no published variant's count"


def test_variant_differences_name_the_variant_and_the_count():
    assert variant_differences("coco", "mith", "mith", 122218) == []
    assert variant_differences("coco", "mith", None, 122218) == []  # by its count
    assert variant_differences("coco", "mith", "official", 122218) == ["data variant official, not mith"]
    assert variant_differences("nuswide", "mith", None, 186577) == ["186,577 items, mith's 190,421"]
    assert variant_differences("nuswide", "mith", "mith", None) == ["unknown items, mith's 190,421"]


def test_the_config_accepts_exactly_the_variants_there_are():
    from typing import get_args

    from benchmark.config import PresetConfig

    hint = PresetConfig.__dataclass_fields__["variant"].type
    literal = next(a for a in get_args(eval(hint, vars(__import__("typing")))) if a is not type(None))
    assert set(get_args(literal)) == set(VARIANTS)


def test_a_mith_number_is_placed_only_beside_runs_on_its_variant_and_backbone(tmp_path: Path):
    from benchmark.config import load_config
    from benchmark.report.published import mismatches, packaged_published
    from tests.fake_records import write_record

    config = load_config("mith", {"losses": ["dcgh"], "datasets": ["mirflickr25k"], "bits": [16], "replicates": 1,
                                  "references": False, "run": {"backbone": str(tmp_path)}})
    record = write_record(tmp_path / "results", config, "dcgh", "mirflickr25k", 16, 0, 0.81)
    tables, citations = packaged_published()
    (table,) = [t for t in tables if (t.method, t.protocol) == ("MITH", "mith")]
    number = next(n for n in table.numbers(citations) if n.dataset == "mirflickr25k")

    def placed_with(summary: dict, backbone: str = "ViT-B/32") -> list[str]:
        data = {"n_query": 2000, "n_retrieval": 18015, "n_train": 10000, "summary": summary,
                "backbone_architecture": backbone}
        return mismatches(number, [dataclasses.replace(record, data=data)], "map")

    assert placed_with({"variant": "mith", "items_read": 20015}) == []
    assert placed_with({"variant": None, "items_read": 20015}) == []
    assert placed_with({"variant": "official", "items_read": 24581}) == [
        "data variant official, not mith", "24,581 items, mith's 20,015"]
    assert placed_with({"variant": "mith", "items_read": 20015}, "ViT-B/16") == ["backbone ViT-B/16, mith's ViT-B/32"]


def test_a_set_of_the_published_count_is_reported_as_such(tmp_path: Path, cli, monkeypatch):
    monkeypatch.setitem(VARIANTS["mith"].items, "mirflickr25k", 2)  # the published count, scaled down to 2 items
    raw, images, out = tmp_path / "mith", tmp_path / "images", tmp_path / "data" / "mirflickr25k"
    lists(raw, images, ["im1.jpg", "im2.jpg"], ["sky", "sea"], [row(24, 1), row(24, 2)], "all_tags.txt")
    done = cli("prepare", "mirflickr25k", "--variant", "mith", "--raw", raw, "--images", images, "--out", out)
    assert "variant mith: published count 2; this set has the same" in done.stdout
    assert f"Run on it: python -m benchmark run --config mith --datasets mirflickr25k --data-root {out.parent}" \
        in done.stdout
    assert json.loads((out / "summary.json").read_text())["as_published"] is True
    listed = cli("list", "datasets", "--data-root", out.parent).stdout
    assert "found; variant mith: MITH's cleaned set, built from its released all_*.txt lists\n" in listed
