"""Frozen splits: deterministic, disjoint, written once, never silently reused for other data or settings."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark import data
from benchmark.data import DataError, SplitSettings, load_or_create_split
from benchmark.data import splits as splits_module


@pytest.fixture
def dataset(tmp_path):
    return data.load("synth-nuswide", root=tmp_path / "cache", size=400)


def test_parts_are_disjoint_and_complete(dataset, tmp_path):
    settings = SplitSettings(query_size=40, train_size=200)
    split = load_or_create_split(dataset, settings, tmp_path)
    everything = set(range(len(dataset)))
    query, retrieval, train = set(split.query), set(split.retrieval), set(split.train)
    assert len(split.query) == 40 and len(split.train) == 200
    assert query.isdisjoint(retrieval) and query | retrieval == everything
    assert train <= retrieval
    assert len(split.val_query) == 20 and set(split.val_query) | set(split.val_database) == train
    assert set(split.val_query).isdisjoint(split.val_database)
    # the documented construction: one permutation from split_seed
    order = np.random.default_rng(1818).permutation(len(dataset))
    assert split.query.tolist() == order[:40].tolist() and split.retrieval.tolist() == order[40:].tolist()


def test_validation_is_capped_at_val_max(dataset, tmp_path):
    split = load_or_create_split(dataset, SplitSettings(query_size=10, train_size=300, val_max=7), tmp_path)
    assert len(split.val_query) == 7 and len(split.val_database) == 293


def test_written_once_then_reused(dataset, tmp_path, monkeypatch):
    settings = SplitSettings(query_size=40, train_size=200)
    first = load_or_create_split(dataset, settings, tmp_path)
    assert first.path.is_file() and first.path.parent == tmp_path / "splits"
    monkeypatch.setattr(splits_module, "make_split", lambda *a: pytest.fail("recomputed a stored split"))
    again = load_or_create_split(dataset, settings, tmp_path)
    assert again.hash == first.hash and np.array_equal(again.query, first.query)


def test_other_settings_or_other_data_get_their_own_file(dataset, tmp_path):
    base = load_or_create_split(dataset, SplitSettings(query_size=40, train_size=200), tmp_path)
    seed = load_or_create_split(dataset, SplitSettings(query_size=40, train_size=200, split_seed=7), tmp_path)
    other = data.load("synth-nuswide", root=tmp_path / "cache", size=400, seed=1)
    other_data = load_or_create_split(other, SplitSettings(query_size=40, train_size=200), tmp_path)
    assert len({base.path, seed.path, other_data.path}) == 3
    assert base.hash != seed.hash
    assert other_data.dataset_hash == other.content_hash != base.dataset_hash


def test_a_tampered_split_file_is_refused(dataset, tmp_path):
    settings = SplitSettings(query_size=40, train_size=200)
    split = load_or_create_split(dataset, settings, tmp_path)
    with np.load(split.path) as stored:
        parts = {k: stored[k] for k in stored.files}
    parts["query"] = parts["query"][::-1].copy()
    np.savez(split.path, **parts)
    with pytest.raises(DataError, match="does not match its dataset, settings or recorded hash; .*delete it"):
        load_or_create_split(dataset, settings, tmp_path)



def test_a_damaged_split_file_is_set_aside_and_re_created(dataset, tmp_path, capsys):
    settings = SplitSettings(query_size=40, train_size=200)
    split = load_or_create_split(dataset, settings, tmp_path)
    content = split.path.read_bytes()
    split.path.write_bytes(content[: len(content) // 2])  # truncated
    again = load_or_create_split(dataset, settings, tmp_path)
    assert again.hash == split.hash and np.array_equal(again.query, split.query)
    (aside,) = split.path.parent.glob(f"{split.path.name}.corrupt-*")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"warning: split file {split.path} is damaged") and aside.name in line


@pytest.mark.parametrize("query,train", [(300, 200), (0, 10), (10, 1)])
def test_sizes_that_do_not_fit_are_refused(dataset, tmp_path, query, train):
    with pytest.raises(DataError, match="synth-nuswide"):
        load_or_create_split(dataset, SplitSettings(query_size=query, train_size=train), tmp_path)


def test_the_legacy_generator_gives_the_published_splits_of_dchmt_twdh_and_mith():
    """The items the authors' own split functions chose on N items (tests/golden/splits/published.json: DCHMT and
    TwDH with seed 1814, MITH with seed 1), reproduced by ``generator: legacy``; the default draws another one."""
    import json
    from pathlib import Path

    golden = json.loads((Path(__file__).parent / "golden" / "splits" / "published.json").read_text())
    assert len(golden["cases"]) == 4
    for case in golden["cases"]:
        settings = SplitSettings(query_size=case["query_num"], train_size=case["train_num"], split_seed=case["seed"],
                                 generator="legacy")
        parts = splits_module.make_split(case["n_items"], settings)
        assert parts["query"].tolist() == case["query"], case["function"]
        assert parts["train"].tolist() == case["train"], case["function"]
        if "retrieval" in case:
            assert parts["retrieval"].tolist() == case["retrieval"], case["function"]
        ours = splits_module.make_split(case["n_items"], SplitSettings(
            query_size=case["query_num"], train_size=case["train_num"], split_seed=case["seed"]))
        assert ours["query"].tolist() != case["query"]


def test_the_default_generator_keeps_the_split_files_and_run_ids_made_before_it_could_be_chosen():
    from benchmark.config import load_config
    from benchmark.grid import build_grid

    assert "generator" not in SplitSettings(query_size=5, train_size=10).stored()
    # the key and the run id that the code before the generator existed gave (commit 1832b41)
    assert SplitSettings(query_size=5, train_size=10).key == ("1d03f2d94bbd14f4d804dedcbd7a6e79526abfaaf806d312"
                                                              "17a1f81057a372e1")
    assert SplitSettings(query_size=5, train_size=10).key != SplitSettings(5, 10, generator="legacy").key
    plain = build_grid(load_config("default", {"losses": ["dcgh"], "datasets": ["synth-coco"], "bits": [16],
                                               "replicates": 1, "references": False})).specs[0]
    legacy = build_grid(load_config("default", {"losses": ["dcgh"], "datasets": ["synth-coco"], "bits": [16],
                                                "replicates": 1, "references": False,
                                                "run": {"split": {"generator": "legacy"}}})).specs[0]
    assert plain.run_id == "synth-coco-16b-dcgh-r0-26e89a9175" and legacy.run_id != plain.run_id
