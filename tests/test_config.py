"""The configuration schema: layers, unknown keys with the nearest valid one, typed values checked where they
are read, the grid's run ids, and the documentation of every key."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from benchmark.config import Config, RunSpec, load_config, schema_keys
from benchmark.errors import ConfigError
from benchmark.grid import build_grid

ROOT = Path(__file__).resolve().parents[1]


def test_the_default_config_is_the_schema():
    assert load_config("default") == Config()


def test_layers_apply_in_order(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("run: {epochs: 5, batch_size: 64}\nloss_params: {dcgh: {gamma: 0.5}}\n")
    config = load_config(str(path), {"run": {"epochs": 7}, "loss_params": {"dcgh": {"alpha": 1.0}}})
    assert (config.run.epochs, config.run.batch_size) == (7, 64)
    assert config.loss_params == {"dcgh": {"gamma": 0.5, "alpha": 1.0}}
    assert load_config("real").run.mode == "finetune" and load_config("real").replicates == 5


@pytest.mark.parametrize("overrides,message", [
    ({"epochs": 3}, "unknown key 'epochs' in the command line; did you mean 'run.epochs'?"),
    ({"run": {"epoch": 3}}, "unknown key 'run.epoch' in the command line; did you mean 'run.epochs'?"),
    ({"run": {"optimizer": {"head_rate": 1}}}, "did you mean 'run.optimizer.head_lr'?"),
    ({"run": {"optimizer": {"head_lr": -1}}}, "'run.optimizer.head_lr' in the command line must be > 0, got -1.0"),
    ({"run": {"optimizer": {"head_lr": "abc"}}}, "'run.optimizer.head_lr' in the command line must be a number, got 'abc'"),
    ({"run": {"optimizer": {"betas": [0.9]}}}, "'run.optimizer.betas' in the command line must be a list of 2"),
    ({"bits": [16, 0]}, "'bits' in the command line must be an integer >= 1, got 0"),
    ({"replicates": True}, "'replicates' in the command line must be an integer >= 1, got True"),
    ({"seeds": [0, 1]}, "unknown key 'seeds' in the command line; did you mean 'replicates'?"),
    ({"vary": {"real": ["data"]}}, "'vary.real' in the command line must be one of split, init, got 'data'"),
    ({"run": {"protocol": "best"}},
     "'run.protocol' in the command line must be one of honest, paper, paper-sum, got 'best'"),
    ({"run": {"split": {"val_fraction": 1.5}}}, "'run.split.val_fraction' in the command line must be > 0 and < 1"),
    ({"execution": {"device": "gpu"}}, "'execution.device' in the command line must match"),
    ({"execution": {"workers": 0}}, "'execution.workers' in the command line must be an integer >= 1"),
    ({"execution": {"loader_workers": -1}}, "'execution.loader_workers' in the command line must be an integer >= 0"),
    ({"run": {"eval_every": 0}}, "'run.eval_every' in the command line must be an integer >= 1, got 0"),
    ({"loss_params": {"dcgh": 3}}, "'loss_params' in the command line must map each name to a mapping"),
    ({"run": 3}, "'run' in the command line must be a mapping of protocol, mode, epochs"),
    ({"datasets": []}, "'datasets' in the command line must be a non-empty list"),
])
def test_bad_keys_and_values_name_the_key_the_value_and_what_is_allowed(overrides, message):
    with pytest.raises(ConfigError) as error:
        load_config("default", overrides)
    assert message in str(error.value)


def test_errors_name_the_file_they_come_from(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("run:\n  epochs: 0\n")
    with pytest.raises(ConfigError, match=rf"'run.epochs' in config {re.escape(str(path))} must be an integer >= 1"):
        load_config(str(path))


def test_yaml_exponents_without_a_dot_are_numbers(tmp_path):
    path = tmp_path / "lr.yaml"
    path.write_text("run: {optimizer: {head_lr: 3e-4}}\n")  # YAML 1.1 reads 3e-4 as a string
    assert load_config(str(path)).run.optimizer.head_lr == pytest.approx(3e-4)


@pytest.mark.parametrize("overrides,message", [
    ({"losses": ["dcgg"]}, "unknown loss 'dcgg'"),
    ({"loss_params": {"dcgh": {"gama": 1}}}, "loss_params.dcgh: unknown parameter 'gama' for loss 'dcgh' (did you mean 'gamma'?)"),
    ({"loss_params": {"dcgh": {"gamma": -1}}}, "loss_params.dcgh: parameter gamma must be a number >= 0"),
    ({"loss_params": {"triplet": {"margin": 0.1}}}, "loss_params names loss 'triplet', which is not in this grid"),
    ({"datasets": ["synth-cocoa"]}, "unknown dataset 'synth-cocoa' (did you mean 'synth-coco'?)"),
    ({"datasets": ["coco"]}, "dataset(s) coco need a pretrained CLIP folder"),
    ({"synthetic": {"knobs": {"hierarchi": 0.5}}}, "synthetic.knobs: unknown synthetic knob(s) hierarchi (did you mean 'hierarchy'?)"),
    ({"datasets": ["synth-coco"], "synthetic": {"size": 100}, "run": {"split": {"query_size": 90, "train_size": 50}}},
     "synth-coco has 100 items: it cannot hold 90 queries and 50 training items"),
    ({"datasets": ["synth-coco"], "run": {"split": {"train_size": 2, "val_fraction": 0.9}}},
     "synth-coco: 2 training items leave nothing for the validation database"),
])
def test_the_grid_checks_losses_and_datasets_before_any_work(overrides, message):
    config = load_config("default", {"losses": ["pairwise", "dcgh"], **overrides})
    with pytest.raises(ConfigError) as error:
        build_grid(config)
    assert message in str(error.value)


def test_split_advice_names_keys_the_config_accepts():
    """Every configuration key the split errors advise changing is a real key (``--set`` takes it)."""
    import benchmark.data.splits as splits

    source = Path(splits.__file__).read_text()
    advised = set(re.findall(r"\b(?:raise|lower) ([a-z_.]+)", source)) | set(re.findall(r"\b(run\.[a-z_.]+[a-z])", source))
    assert advised and advised <= set(schema_keys()), advised - set(schema_keys())


def test_loss_groups_expand_in_order():
    grid = build_grid(load_config("default", {"losses": ["all", "dcgh-novar", "dcgh"]}))
    assert grid.config.losses == ("center", "dcgh", "dcmh", "proxy", "supcon", "triplet", "dcgh-novar")
    assert len(grid.training_runs) == 3 * 3 * 5 * 7 and len(grid.specs) == len(grid.training_runs) + 3 * 3 * 5 * 4


def test_a_run_id_changes_with_what_shapes_the_run_only():
    base = {s.label: s.run_id for s in build_grid(load_config("default")).specs}
    assert len(base) == 270 + 180
    def ids(**overrides):
        return {s.label: s.run_id for s in build_grid(load_config("default", overrides)).specs}
    assert not set(ids(run={"epochs": 31}).values()) & set(base.values())
    assert ids(execution={"device": "cpu", "workers": 2, "loader_workers": 4}) == base  # where a run executes is not what it is
    assert not set(ids(run={"eval_every": 2}).values()) & set(base.values())  # which epochs are candidates is
    gamma = ids(loss_params={"dcgh": {"gamma": 0.5}})
    assert {label for label in base if gamma[label] != base[label]} == {l for l in base if l.startswith("dcgh ")}
    assert set(ids(references=False)) == {label for label in base if not label.startswith("ref:")}
    real = {"datasets": ["coco"], "run": {"backbone": "/clip"}}
    assert ids(**real) == ids(**real, synthetic={"seed": 3, "knobs": {"hierarchy": 0.5}})  # a real dataset's runs ignore synthetic settings


def test_a_run_spec_round_trips_through_its_dict():
    for spec in build_grid(load_config("real", {"run": {"backbone": "/clip"}, "bits": [16]})).specs[:3]:
        again = RunSpec.from_dict(spec.to_dict(), "the test")
        assert again == spec and again.run_id == spec.run_id
    spec = build_grid(load_config("default")).specs[0]
    assert replace(spec, seed=1).run_id != spec.run_id


def test_every_key_is_documented_and_every_documented_key_exists():
    page = (ROOT / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", page, flags=re.M))
    assert documented == set(schema_keys())


def test_set_overrides_any_key_from_the_command_line(tmp_path, cli):
    result = cli("run", "--dry-run", "--results", tmp_path, "--set", "run.optimizer.head_lr=3e-4", "--set",
                 "loss_params.dcgh.gamma=0.5", "--epochs", "3")
    assert result.returncode == 0, result.stderr
    assert "head_lr: 0.0003" in result.stdout and "gamma: 0.5" in result.stdout and "epochs: 3" in result.stdout
    bad = cli("run", "--dry-run", "--set", "run.epoch=3")
    assert bad.returncode == 2 and bad.stderr.startswith("error: unknown key 'run.epoch' in the command line")


def test_replicates_draw_the_sources_they_vary_and_share_them_across_losses():
    grid = build_grid(load_config("default", {"datasets": ["synth-coco", "coco"], "bits": [16], "replicates": 3,
                                              "run": {"backbone": "/clip"}}))
    seeds = {(s.dataset, s.loss, s.replicate): s.seeds for s in grid.specs}
    # synthetic sets: new data, backbone and init per replicate, the published split kept
    assert [seeds[("synth-coco", "dcgh", r)] for r in range(3)] == [
        {"data": r, "backbone": r, "split": 1818, "init": r} for r in range(3)]
    # real sets: only the init; the split is the published one
    assert [seeds[("coco", "dcgh", r)] for r in range(3)] == [
        {"data": None, "backbone": None, "split": 1818, "init": r} for r in range(3)]
    # every loss (and reference row) of a replicate shares its data, backbone and split: comparisons are paired
    for (dataset, loss, replicate), value in seeds.items():
        assert value == seeds[(dataset, "dcmh", replicate)]
    split = build_grid(load_config("default", {"datasets": ["coco"], "bits": [16], "replicates": 2,
                                               "vary": {"real": ["split", "init"]}, "run": {"backbone": "/clip"}}))
    assert sorted({s.seeds["split"] for s in split.specs}) == [1818, 1819]


def test_replicates_with_nothing_to_vary_are_refused():
    with pytest.raises(ConfigError, match="vary.real is empty: the replicates of the real datasets would be the same"):
        build_grid(load_config("default", {"datasets": ["coco"], "replicates": 2, "vary": {"real": []},
                                           "run": {"backbone": "/clip"}}))
    build_grid(load_config("default", {"datasets": ["coco"], "replicates": 1, "vary": {"real": []},
                                       "run": {"backbone": "/clip"}}))  # one replicate needs nothing to vary


def test_loss_groups_zoo_and_families():
    import losses

    zoo = build_grid(load_config("default", {"losses": ["zoo"], "bits": [16], "replicates": 1})).config.losses
    assert set(zoo) == set(losses.available(variants=False)) and not any(n.startswith("dcgh-") for n in zoo)
    proxy = build_grid(load_config("default", {"losses": ["family:proxy"], "bits": [16]})).config.losses
    assert proxy == tuple(losses.family_members("proxy")) and "proxy" in proxy and len(proxy) > 1
    with pytest.raises(ConfigError, match="unknown loss family 'proxi' \\(did you mean 'proxy'\\?\\)"):
        build_grid(load_config("default", {"losses": ["family:proxi"]}))
