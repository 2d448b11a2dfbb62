"""Faults in real inputs, each one line naming the file and what to do: a corrupt image in a real dataset (dropped
with --drop-missing-images), a safetensors header of the wrong shape, an OpenAI TorchScript archive whose weights
cannot be read without running it (refused unless trusted), and Slurm settings that would add lines to the job
script."""
from __future__ import annotations

import json
import pickle
import struct
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import methods
from benchmark import cli, data
from benchmark.backbones import TRUST_TORCHSCRIPT_ENV, backbone_folder, backbone_problem, open_backbone
from benchmark.config import ExecutionConfig, RunSettings
from benchmark.errors import BackboneError, ConfigError, DataError
from benchmark.training.feature_sources import FrozenFeatures
from methods.openai_checkpoint import BPE_FILE, read_openai_state_dict
from methods.preprocess import ImageTransform, UnreadableImage, image_batches
from tests.mat_fixtures import cell_column, save_v5
from tests.openai_clip_reference import random_clip
from tests.real_format import VOCAB, smooth_image
from tests.test_openai_checkpoint import GEOMETRY, merges_file

N_ITEMS = 6
TRUNCATED, GARBAGE = 2, 4  # the items whose JPEG is damaged


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    model, tokenizer, processor = methods.tiny_clip("tiny", VOCAB, image_size=32, max_length=8, seed=0)
    return methods.save_backbone(tmp_path_factory.mktemp("clip") / "tiny", model, tokenizer, processor)


@pytest.fixture
def real_set(tmp_path):
    """A MIRFLICKR-layout set of ``N_ITEMS`` JPEGs, one truncated half-way and one garbage bytes."""
    root, images = tmp_path / "data" / "mirflickr25k", tmp_path / "images"
    root.mkdir(parents=True)
    images.mkdir()
    rng = np.random.default_rng(0)
    paths = [images / f"im{i}.jpg" for i in range(N_ITEMS)]
    for path in paths:
        Image.fromarray(smooth_image(rng, 40, 48)).save(path, quality=90)
    paths[TRUNCATED].write_bytes(paths[TRUNCATED].read_bytes()[:400])
    paths[GARBAGE].write_bytes(b"\xff\xd8 not really a jpeg" * 20)
    labels = np.zeros((N_ITEMS, 24), np.uint8)
    labels[np.arange(N_ITEMS), np.arange(N_ITEMS) % 24] = 1
    save_v5(root / "index.mat", index=cell_column([str(p) for p in paths]))
    save_v5(root / "label.mat", category=labels)
    save_v5(root / "caption.mat", caption=cell_column(["a dog on the sky"] * N_ITEMS))
    return root, [str(p) for p in paths]


# ------------------------------------------------------------------------------------------ corrupt images


def test_a_corrupt_image_stops_the_grid_in_one_line_naming_it_and_the_flag(tmp_path, real_set, clip_folder, capsys):
    root, paths = real_set
    args = ["run", "--datasets", "mirflickr25k", "--data-root", str(root.parent), "--backbone", str(clip_folder),
            "--losses", "dcgh", "--bits", "16", "--replicates", "1", "--workers", "1", "--set", "references=false",
            "--set", "run.split.query_size=1", "--set", "run.split.train_size=3", "--set", "run.max_text_len=8",
            "--results", str(tmp_path / "results"), "--quiet"]
    assert cli.main(args) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: mirflickr25k: cannot read image {paths[TRUNCATED]}: ")
    assert "--drop-missing-images" in line
    assert cli.main([*args, "--drop-missing-images"]) == 0  # the run goes on without them, and says so
    assert (f"warning: mirflickr25k: dropped 2 items whose image files could not be decoded (e.g. {paths[TRUNCATED]}"
            in capsys.readouterr().out)


def test_the_tiny_backbone_runs_a_real_sets_whole_pipeline_without_a_clip_folder(tmp_path, real_set):
    """--backbone tiny: a random tiny CLIP built for the set's own words, so that a real set's files, images and
    features are checked end to end without any pretrained weights (docs/usage.md, smoke test)."""
    from benchmark.store import RunStore

    root, _ = real_set
    args = ["run", "--datasets", "mirflickr25k", "--data-root", str(root.parent), "--backbone", "tiny", "--losses",
            "dcgh", "--bits", "16", "--replicates", "1", "--workers", "1", "--set", "references=false", "--set",
            "run.split.query_size=1", "--set", "run.split.train_size=3", "--set", "run.epochs=1", "--set",
            "search.enabled=false", "--drop-missing-images", "--results", str(tmp_path / "results"), "--quiet"]
    assert cli.main(args) == 0
    (record,) = RunStore(tmp_path / "results").contents().records
    assert record.spec.settings.backbone == "tiny" and record.data["n_query"] == 1
    assert record.data["backbone_architecture"].startswith("ViT (width ")  # no paper's tower: named by its numbers
    assert record.data["summary"]["variant"] is None  # files written by the test, not by prepare
    folder = Path(record.data["backbone"])
    assert folder.name.startswith("tiny-random-mirflickr25k-") and (folder / "config.json").is_file()
    vocabulary = json.loads((folder / "tokenizer.json").read_text())["model"]["vocab"]
    assert {"dog", "sky", "[UNK]"} <= set(vocabulary)  # the set's own words, so that texts are not all unknown


def test_corrupt_images_are_dropped_and_counted_with_the_flag(real_set, clip_folder, tmp_path):
    root, paths = real_set
    dataset = data.load("mirflickr25k", root=root, missing_images="drop")
    assert dataset.images == [p for i, p in enumerate(paths) if i not in (TRUNCATED, GARBAGE)]
    assert dataset.summary["dropped"] == {"no label": 0, "image unreadable": 2} and dataset.summary["kept"] == 4
    assert dataset.summary["unreadable_image_examples"] == [paths[TRUNCATED], paths[GARBAGE]]
    device = torch.device("cpu")
    FrozenFeatures.prepare(dataset, clip_folder, tmp_path / "cache", RunSettings(max_text_len=8), device, False)
    assert len(list((tmp_path / "cache" / "features").glob("*.npz"))) == 1


def test_a_corrupt_image_read_by_a_loader_worker_is_one_line(real_set, clip_folder):
    _, paths = real_set
    transform = ImageTransform(methods.load_backbone(clip_folder).processor)
    with pytest.raises(UnreadableImage) as error:
        list(image_batches(paths, [np.arange(3), np.arange(3, 6)], transform, workers=1))
    message = str(error.value)
    assert message.startswith(f"cannot read image {paths[TRUNCATED]}: ") and "\n" not in message, message


# ------------------------------------------------------------------------------------------ safetensors headers


def _with_header(folder: Path, header) -> Path:
    """``folder``'s weights file rewritten with ``header`` (JSON) before its tensors' bytes."""
    weights = folder / "model.safetensors"
    content = weights.read_bytes()
    body = content[8 + struct.unpack("<Q", content[:8])[0]:]
    encoded = json.dumps(header).encode()
    weights.write_bytes(struct.pack("<Q", len(encoded)) + encoded + body)
    return weights


@pytest.mark.parametrize("header", [
    [1, 2],
    {"w": "F32"},
    {"w": {"dtype": "F32", "shape": [2], "data_offsets": "08"}},
    {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}},
    {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, "8"]}},
    {"w": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}},
    {"w": {"dtype": 5, "shape": [2], "data_offsets": [0, 8]}},
    {"__metadata__": ["pt"], "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
], ids=["list", "entry-string", "offsets-string", "one-offset", "offset-string", "shape-string", "dtype-int",
        "metadata-list"])
def test_a_safetensors_header_of_the_wrong_type_is_one_backbone_error_line(clip_folder, tmp_path, header):
    import shutil

    folder = shutil.copytree(clip_folder, tmp_path / "clip")
    weights = _with_header(folder, header)
    with pytest.raises(BackboneError) as error:
        open_backbone(folder)
    message = str(error.value)
    assert "\n" not in message and f"{weights} has a damaged header" in message, message
    assert f"{weights} has a damaged header" in backbone_problem(str(folder))  # --dry-run says it too


# ------------------------------------------------------------------------------------------ TorchScript archives


class Attributes(torch.nn.Module):
    """A scripted module whose typed attributes TorchScript pickles with its own builders."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(2, 3)
        self.sizes = torch.jit.Attribute([1, 2], list[int])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x) * self.sizes[0]


@pytest.fixture
def no_jit(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("torch.jit.load ran")

    monkeypatch.setattr(torch.jit, "load", refuse)
    monkeypatch.delenv(TRUST_TORCHSCRIPT_ENV, raising=False)


def test_a_traced_openai_checkpoint_is_read_without_running_it(tmp_path, no_jit):
    import warnings

    reference = random_clip(seed=3, **GEOMETRY)
    reference.register_buffer("input_resolution", torch.tensor(32))
    checkpoint = tmp_path / "ViT-B-32.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.trace(reference, (torch.zeros(1, 3, 32, 32), torch.zeros(1, 16, dtype=torch.long)),
                        check_trace=False).save(str(checkpoint))
    state = read_openai_state_dict(checkpoint)
    expected = {k: v for k, v in reference.state_dict().items() if k != "input_resolution"}
    assert state.keys() == expected.keys() and all(torch.equal(state[k], v) for k, v in expected.items())
    merges_file(tmp_path / BPE_FILE)
    assert (backbone_folder(str(checkpoint), tmp_path / "cache") / "config.json").is_file()


def test_torchscript_that_needs_running_is_refused_unless_trusted(tmp_path, no_jit, monkeypatch):
    checkpoint = tmp_path / "ViT-B-32.pt"
    torch.jit.script(Attributes()).save(str(checkpoint))
    merges_file(tmp_path / BPE_FILE)
    with pytest.raises(BackboneError) as error:
        backbone_folder(str(checkpoint), tmp_path / "cache")
    message = str(error.value)
    assert "\n" not in message and str(checkpoint) in message and f"{TRUST_TORCHSCRIPT_ENV}=1" in message, message
    monkeypatch.undo()  # torch.jit.load back, then trusted: the archive is run and its weights read
    monkeypatch.setenv(TRUST_TORCHSCRIPT_ENV, "1")
    assert set(read_openai_state_dict(checkpoint, run_torchscript=True)) == {"lin.weight", "lin.bias"}
    with pytest.raises(BackboneError, match="is not in OpenAI's CLIP ViT layout|is missing"):
        backbone_folder(str(checkpoint), tmp_path / "cache")  # read now: refused for what it holds


def test_an_archive_calling_python_is_never_unpickled(tmp_path, no_jit):
    class Call:
        def __reduce__(self):
            return (Path.mkdir, (tmp_path / "ran",))

    checkpoint = tmp_path / "ViT-B-32.pt"
    with zipfile.ZipFile(checkpoint, "w") as archive:
        archive.writestr("ViT-B-32/data.pkl", pickle.dumps(Call(), protocol=2))
        archive.writestr("ViT-B-32/constants.pkl", pickle.dumps((), protocol=2))
        archive.writestr("ViT-B-32/code/__torch__.py", "")
    merges_file(tmp_path / BPE_FILE)
    with pytest.raises(BackboneError, match=f"{TRUST_TORCHSCRIPT_ENV}=1"):
        backbone_folder(str(checkpoint), tmp_path / "cache")
    assert not (tmp_path / "ran").exists()


# ------------------------------------------------------------------------------------------ Slurm script lines


@pytest.mark.parametrize("slurm", [
    {"partition": "gpu\n#SBATCH --wrap=evil"},
    {"parameters": {"slurm_setup": ["module load cuda", "echo\rrm -rf ~"]}},
    {"parameters": {"slurm_additional_parameters": {"account": "lab\nsrun evil"}}},
], ids=["partition", "setup", "additional"])
def test_slurm_settings_with_a_line_break_are_refused(tmp_path, slurm):
    from benchmark.execution.context import RunContext
    from benchmark.execution.slurm import slurm_executor

    execution = ExecutionConfig()
    execution = replace(execution, slurm=replace(execution.slurm, cluster="local", **slurm))
    with pytest.raises(ConfigError) as error:
        slurm_executor(RunContext(results=tmp_path, execution=execution))
    message = str(error.value)
    assert "\n" not in message and "line break" in message and "execution.slurm." in message, message
    assert not (tmp_path / "slurm").exists()


def test_a_dry_run_says_when_a_real_set_is_too_small_for_its_split(tmp_path, real_set, capsys):
    """The published sizes (2000 queries, 10000 training items) cannot split 6 items: --dry-run says so in one line
    naming the keys to change, before any run; sizes that fit say nothing."""
    root, _ = real_set
    args = ["run", "--datasets", "mirflickr25k", "--data-root", str(root.parent), "--backbone", "tiny", "--losses",
            "dcgh", "--bits", "16", "--replicates", "1", "--set", "references=false", "--results",
            str(tmp_path / "results"), "--dry-run"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert ("warning: mirflickr25k has 6 items: it cannot hold 2000 queries and 10000 training items (both >= 1, "
            "together <= the dataset size); lower run.split.query_size / run.split.train_size") in out
    assert cli.main([*args, "--set", "run.split.query_size=1", "--set", "run.split.train_size=3"]) == 0
    assert "cannot hold" not in capsys.readouterr().out
