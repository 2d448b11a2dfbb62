"""Loading the real datasets' files in every supported layout, and every kind of bad input."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark import data
from benchmark.data import DataError, classes
from benchmark.data.matfiles import mat_version, write_dataset_files
from tests.mat_fixtures import cell_column, save_v5, save_v73
from tests.real_format import smooth_image

LABELS = np.zeros((4, 24), np.uint8)
LABELS[0, [0, 3]] = 1
LABELS[1, 5] = 1
LABELS[3, [1, 2, 23]] = 1  # item 2 has no label
CAPTIONS = ["dog sky", "a b c", "unlabelled item", "sunset lake tree"]


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    paths, rng = [], np.random.default_rng(0)
    for i in range(4):
        path = folder / f"im{i + 1}.jpg"
        Image.fromarray(smooth_image(rng, 8, 8)).save(path)  # readable: an unreadable image is dropped too
        paths.append(str(path))
    return paths


def write_v5_dataset(root, paths, labels=LABELS, captions=CAPTIONS, label_key="category", caption_key="caption"):
    root.mkdir(parents=True, exist_ok=True)
    save_v5(root / "index.mat", index=cell_column(paths))
    save_v5(root / "label.mat", **{label_key: labels})
    save_v5(root / "caption.mat", **{caption_key: cell_column(captions)})
    return root


def check_loaded(ds, paths):
    assert ds.name == "mirflickr25k" and ds.class_names == list(classes.MIRFLICKR25K)
    assert ds.labels.dtype == np.uint8 and ds.labels.tolist() == LABELS[[0, 1, 3]].tolist()
    assert ds.captions == [["dog sky"], ["a b c"], ["sunset lake tree"]]
    assert ds.images == [paths[0], paths[1], paths[3]]
    assert ds.summary["dropped"] == {"no label": 1} and ds.summary["kept"] == 3
    assert ds.summary["missing_images"] == 0
    assert ds.summary["label_cardinality"] == {"mean": 2.0, "min": 1, "max": 3}


def test_v5_cell_columns(tmp_path, images):
    root = write_v5_dataset(tmp_path / "mir", images)
    check_loaded(data.load("mirflickr25k", root=root), images)


def test_written_by_prepare_helper(tmp_path, images):
    write_dataset_files(tmp_path / "mir", images, LABELS, [[c] for c in CAPTIONS])
    check_loaded(data.load("mirflickr25k", root=tmp_path / "mir"), images)


def test_v5_alternative_keys_row_cells_padded_chars_and_transposed_labels(tmp_path, images):
    root = tmp_path / "mir"
    root.mkdir()
    save_v5(root / "index.mat", index=np.array(images, dtype=object).reshape(1, -1))  # a 1 x N cell
    save_v5(root / "label.mat", LAll=LABELS.T.astype(float))                          # c x N doubles
    save_v5(root / "caption.mat", tags=np.array([c.ljust(20) for c in CAPTIONS]))     # padded char matrix
    check_loaded(data.load("mirflickr25k", root=root), images)
    save_v5(root / "label.mat", label=LABELS)
    check_loaded(data.load("mirflickr25k", root=root), images)


def test_v5_several_captions_per_item(tmp_path, images):
    captions = [["a dog", "the dog runs"], ["x"], ["y"], ["one", "two", "three"]]
    nested = cell_column([cell_column(c).T if len(c) > 1 else c[0] for c in captions])
    root = write_v5_dataset(tmp_path / "coco", images, labels=np.pad(LABELS, ((0, 0), (0, 56))), captions=CAPTIONS)
    save_v5(root / "caption.mat", caption=nested)
    ds = data.load("coco", root=root)
    assert ds.captions == [captions[0], captions[1], captions[3]]


def test_v73_hdf5_files(tmp_path, images):
    root = tmp_path / "mir"
    root.mkdir()
    save_v73(root / "index.mat", index=images)
    save_v73(root / "label.mat", category=LABELS)
    save_v73(root / "caption.mat", caption=[[c] for c in CAPTIONS])
    assert mat_version(root / "label.mat") == "v7.3" and mat_version(root / "caption.mat") == "v7.3"
    check_loaded(data.load("mirflickr25k", root=root), images)
    save_v73(root / "caption.mat", YAll=CAPTIONS)  # a cell of strings under an alternative key
    check_loaded(data.load("mirflickr25k", root=root), images)


def test_v73_without_h5py_says_how_to_install_it(tmp_path, images, monkeypatch):
    root = tmp_path / "mir"
    write_v5_dataset(root, images)
    save_v73(root / "label.mat", category=LABELS)
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(DataError, match=r"label.mat is a MATLAB v7.3 \(HDF5\) file; reading it needs h5py: pip install"):
        data.load("mirflickr25k", root=root)


def test_nuswide_caption_txt(tmp_path, images):
    root = tmp_path / "nus"
    labels = np.zeros((4, 21), np.uint8)
    labels[:, 0] = [1, 1, 0, 1]
    root.mkdir()
    save_v5(root / "index.mat", index=cell_column(images))
    save_v5(root / "label.mat", category=labels)
    (root / "caption.txt").write_text("sky cloud\nbeach\nnothing\nperson road\n")
    ds = data.load("nuswide", root=root)
    assert ds.captions == [["sky cloud"], ["beach"], ["person road"]]
    assert ds.summary["dropped"] == {"no label": 1}


# ----------------------------------------------------------------------------------------- bad input


def test_missing_folder_names_the_files_and_the_prepare_command(tmp_path):
    with pytest.raises(DataError) as info:
        data.load("coco", root=tmp_path / "nowhere")
    message = str(info.value)
    assert "index.mat, label.mat, caption.mat" in message
    assert "python -m benchmark prepare coco --raw DOWNLOAD_DIR --out" in message


def test_missing_file_is_named(tmp_path, images):
    root = write_v5_dataset(tmp_path / "mir", images)
    (root / "caption.mat").unlink()
    with pytest.raises(DataError, match=r"lacks caption.mat .*python -m benchmark prepare mirflickr25k"):
        data.load("mirflickr25k", root=root)


def test_mat_without_known_keys_lists_what_it_holds(tmp_path, images):
    root = write_v5_dataset(tmp_path / "mir", images, label_key="labels_v2")
    with pytest.raises(DataError, match=r"label.mat has none of the keys category, label, LAll; it holds: labels_v2"):
        data.load("mirflickr25k", root=root)


def test_row_counts_that_disagree_give_the_three_counts(tmp_path, images):
    root = write_v5_dataset(tmp_path / "mir", images, captions=CAPTIONS[:3])
    with pytest.raises(DataError, match="4 label rows, 3 captions, 4 image paths"):
        data.load("mirflickr25k", root=root)


def test_non_binary_labels_are_refused(tmp_path, images):
    labels = LABELS.astype(float)
    labels[1, 5] = 0.5
    root = write_v5_dataset(tmp_path / "mir", images, labels=labels)
    with pytest.raises(DataError, match=r"only 0/1 values; row 1, column 5 is 0.5"):
        data.load("mirflickr25k", root=root)


def test_wrong_number_of_classes_is_refused(tmp_path, images):
    root = write_v5_dataset(tmp_path / "mir", images, labels=LABELS[:, :20])
    with pytest.raises(DataError, match=r"shape \(4, 20\); expected N x 24"):
        data.load("mirflickr25k", root=root)


def test_corrupt_mat_names_the_file(tmp_path, images):
    root = write_v5_dataset(tmp_path / "mir", images)
    (root / "label.mat").write_bytes(b"\x00garbage" * 50)
    with pytest.raises(DataError, match=r"label.mat is not a MATLAB .mat file"):
        data.load("mirflickr25k", root=root)
    content = (root / "index.mat").read_bytes()
    (root / "index.mat").write_bytes(content[: len(content) // 2])  # truncated: a valid header, a broken body
    with pytest.raises(DataError, match=r"cannot read .*index.mat"):
        data.load("mirflickr25k", root=root)


def test_numeric_caption_matrix_is_explained(tmp_path, images):
    root = write_v5_dataset(tmp_path / "mir", images)
    save_v5(root / "caption.mat", YAll=np.ones((4, 1386)))
    with pytest.raises(DataError, match="numeric .* not text .*bag-of-words"):
        data.load("mirflickr25k", root=root)


def test_missing_images_are_counted_and_rerooted(tmp_path, images):
    stale = [f"/old/machine/mirflickr/{p.split('/')[-1]}" for p in images]
    root = write_v5_dataset(tmp_path / "mir", stale)
    ds = data.load("mirflickr25k", root=root)
    assert ds.summary["missing_images"] == 3
    assert ds.summary["missing_image_examples"][0] == "/old/machine/mirflickr/im1.jpg"
    ds = data.load("mirflickr25k", root=root, image_root=tmp_path / "images")
    assert ds.summary["missing_images"] == 0 and ds.images == [images[0], images[1], images[3]]


def test_missing_images_stop_the_grid_in_one_line_naming_them_or_are_dropped(tmp_path, images, capsys):
    """A run stops before any training with one line naming the first missing files, the count and both ways
    out; --drop-missing-images drops those items and the record's summary counts them."""
    from benchmark import cli
    from benchmark.data.real import load_real

    root = write_v5_dataset(tmp_path / "data" / "mirflickr25k", images)
    Path(images[1]).unlink()
    with pytest.raises(DataError) as error:
        load_real("mirflickr25k", root, missing_images="error")
    message = str(error.value)
    assert f"1 of 3 image files not found, e.g. {images[1]}" in message
    assert "--image-root" in message and "--drop-missing-images" in message and "drop those 1 items" in message
    ds = data.load("mirflickr25k", root=root, missing_images="drop")
    assert ds.images == [images[0], images[3]] and ds.captions == [["dog sky"], ["sunset lake tree"]]
    assert ds.summary["dropped"] == {"no label": 1, "image missing": 1} and ds.summary["kept"] == 2
    args = ["run", "--datasets", "mirflickr25k", "--data-root", str(tmp_path / "data"), "--backbone",
            str(tmp_path / "clip"), "--losses", "dcgh", "--bits", "16", "--replicates", "1", "--workers", "1",
            "--set", "references=false", "--results", str(tmp_path / "results"), "--quiet"]
    assert cli.main(args) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: mirflickr25k: 1 of 3 image files not found") and "--drop-missing-images" in line
    assert cli.main([*args, "--dry-run"]) == 0  # --dry-run says it before any run
    assert "warning: mirflickr25k: 1 of 3 image files not found" in capsys.readouterr().out
    from benchmark.config import load_config

    assert load_config("default", cli.common.overrides(cli.build_parser().parse_args(
        args + ["--drop-missing-images"]))).execution.drop_missing_images is True


def test_relative_image_paths_resolve_against_the_dataset_folder(tmp_path):
    root = tmp_path / "mir"
    (root / "img").mkdir(parents=True)
    for i in range(4):
        (root / "img" / f"{i}.jpg").write_bytes(b"x")
    write_v5_dataset(root, [f"img\\{i}.jpg" for i in range(4)])  # Windows separators too
    assert data.load("mirflickr25k", root=root).summary["missing_images"] == 0


def test_unknown_dataset_and_options(tmp_path):
    with pytest.raises(DataError, match="unknown dataset 'cocoa'; available: mirflickr25k, nuswide, coco, synth-"):
        data.load("cocoa")
    with pytest.raises(DataError, match="unknown option.*seed for dataset 'coco'; valid: image_root"):
        data.load("coco", root=tmp_path, seed=1)


def test_describe_reports_found_and_missing(tmp_path, images):
    write_v5_dataset(tmp_path / "mirflickr25k", images)
    (tmp_path / "nuswide").mkdir()
    rows = {r["name"]: r for r in data.describe(tmp_path, tmp_path / "cache")}
    assert rows["mirflickr25k"]["status"].startswith("found; variant not recorded (no summary.json); ")
    assert rows["nuswide"]["status"] == "missing index.mat, label.mat, caption.txt"
    assert rows["coco"]["status"].startswith("missing")
    assert rows["synth-coco"]["status"] == "generated on first use"
