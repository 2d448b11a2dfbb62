"""Equal-budget tuning (``python -m benchmark tune``) end to end on a tiny grid: a study per loss with the same budget
and the defaults first, resumed without repeating a finished trial (after a larger --trials, and after an interrupted
trial), no query-set evaluation in any trial, the best parameters written and used by ``run --params tuned``, the
report's default-against-tuned table; the search spaces the losses declare; and ``sweep``'s table against its
records."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml
from scipy import stats

import losses
from benchmark.experiments import tuning
from benchmark.config import ParameterSet, RunSpec, load_config
from benchmark.data.synthetic import GENERATOR_VERSION as SYNTHETIC_GENERATOR_VERSION
from benchmark.errors import ConfigError
from benchmark.grid import build_grid
from benchmark.parameters import SHARED_SPACE
from benchmark.report import build_report
from losses import FloatRange, HashingLoss, LossConfigError, LossOutput
from tests.results_folder import read_records

ROOT = Path(__file__).resolve().parents[1]


def trial_records(results: Path) -> dict[str, dict]:
    return {k: r for k, r in read_records(results).items() if (r["spec"]["parameter_set"] or {}).get("trial")}


def study_trials(results: Path) -> dict[str, list]:
    """Each study's trials, by number."""
    found = {}
    for path in sorted((results / "tuning").glob("*.db")):
        study = optuna.load_study(study_name=path.stem, storage=f"sqlite:///{path}")
        found[path.stem] = sorted(study.trials, key=lambda t: t.number)
    return found


@pytest.fixture(scope="module")
def folder(tmp_path_factory, tiny_config):
    """A folder holding the tiny grid's configuration with every representative loss and two replicates, where
    each test puts its results."""
    tmp = tmp_path_factory.mktemp("tuning")
    tiny_config(tmp, losses=["all"], replicates=2)
    return tmp


def flags(tmp: Path, results: str = "results") -> list:
    """The grid of ``tmp/tiny.yaml`` into ``tmp/results`` in this process (no worker processes), quiet."""
    return ["--config", tmp / "tiny.yaml", "--results", tmp / results, "--workers", "1", "--quiet"]


@pytest.fixture(scope="module")
def tuned(folder, cli):
    """tune --trials 2, then --trials 3 (what the first left in place), the default grid, and the tuned grid."""
    first = cli("tune", *flags(folder), "--trials", 2, "--out", folder / "figures")
    assert first.returncode == 0, first.stdout
    before = {p: p.stat().st_mtime_ns for p in (folder / "results" / "runs").glob("*/record.json")}
    second = cli("tune", *flags(folder), "--trials", 3, "--out", folder / "figures")
    assert second.returncode == 0, second.stdout
    after = {p: p.stat().st_mtime_ns for p in before}
    default = cli("run", *flags(folder))
    assert default.returncode == 0, default.stdout
    tuned_run = cli("run", *flags(folder), "--params", "tuned")
    assert tuned_run.returncode == 0, tuned_run.stdout
    return folder / "results", first.stdout, second.stdout, before, after


def test_a_study_per_loss_with_the_same_budget_and_the_defaults_first(tuned):
    results, first, _, _, _ = tuned
    assert f"0 studies done, {len(losses.representatives())} to tune: 2 trials × 2 epochs" in first
    studies = study_trials(results)
    assert sorted(name.split("-")[3] for name in studies) == sorted(losses.representatives())
    found = trial_records(results)
    assert len(found) == len(losses.representatives()) * 3
    config = load_config("default").run.optimizer
    for name, trials in studies.items():
        assert [t.number for t in trials] == [0, 1, 2] and {t.state.name for t in trials} == {"COMPLETE"}
        loss = next(r["spec"]["loss"] for r in found.values() if r["spec"]["parameter_set"]["study"] == name)
        defaults = {**{k: losses.defaults(loss)[k] for k in losses.search_space(loss)},
                    "run.optimizer.head_lr": config.head_lr, "run.optimizer.weight_decay": config.weight_decay}
        assert trials[0].params == defaults
        assert set(trials[1].params) == set(losses.search_space(loss)) | set(SHARED_SPACE)
        runs = [r for r in found.values() if r["spec"]["parameter_set"]["study"] == name]
        assert sorted(r["selection"]["score"] for r in runs) == sorted(t.value for t in trials)
        assert all(r["training"]["epochs"] == 2 and r["spec"]["replicate"] == 0 for r in runs)


def test_the_first_trial_trains_exactly_the_default_run(tuned):
    results = tuned[0]
    everything = read_records(results)
    for name, trials in study_trials(results).items():
        trial = everything[trials[0].user_attrs["run_id"]]
        default = next(r for r in everything.values() if r["spec"]["parameter_set"] is None
                       and r["spec"]["replicate"] == 0 and r["spec"]["loss"] == trial["spec"]["loss"])
        assert trial["selection"]["score"] == default["selection"]["score"]
        assert trial["history"][-1]["loss"] == default["history"][-1]["loss"]


def test_a_larger_budget_adds_trials_and_repeats_none(tuned, cli):
    _, _, second, before, after = tuned
    assert f"0 studies done, {len(losses.representatives())} to tune: 3 trials × 2 epochs" in second
    n = len(losses.representatives())
    assert second.count("(1 trained now)") == n and "trial 3/3" in second and "trial 1/3" not in second
    assert len(before) == 2 * n and after == before  # no finished trial's record was written again
    again = cli("tune", *flags(tuned[0].parent), "--trials", 3, "--out", tuned[0].parent / "figures")
    assert f"{n} studies done, 0 to tune" in again.stdout and "trained now" not in again.stdout


@pytest.mark.parametrize("when", ["training", "recorded"])
def test_an_interrupted_trial_is_taken_up_again_with_its_parameters(folder, cli, monkeypatch, when):
    """Interrupted while the second trial trains (it trains again, with the same parameters), or once its record is
    written but before the study heard of it (its record is used, nothing trains again)."""
    calls = []
    execute = tuning.execute_run

    def interrupted(spec, context, grid_id):
        calls.append(spec)
        if len(calls) == 2 and when == "training":
            raise KeyboardInterrupt  # as Ctrl-C or a killed job would, half-way through the second trial
        outcome = execute(spec, context, grid_id)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return outcome

    monkeypatch.setattr(tuning, "execute_run", interrupted)
    results = folder / f"interrupted-{when}"
    args = ["tune", *flags(folder, results.name), "--losses", "triplet", "--trials", 3, "--out", folder / "fig2"]
    assert cli(*args).returncode == 130
    (name, trials), = study_trials(results).items()
    assert [t.state.name for t in trials] == ["COMPLETE", "RUNNING"]
    stamps = {p: p.stat().st_mtime_ns for p in (results / "runs").glob("*/record.json")}
    assert len(stamps) == (1 if when == "training" else 2)
    status, out, _ = cli(*args)
    assert status == 0, out
    trials = study_trials(results)[name]
    assert [(t.number, t.state.name) for t in trials] == [(0, "COMPLETE"), (1, "COMPLETE"), (2, "COMPLETE")]
    if when == "training":
        assert len(calls) == 4 and calls[2] == calls[1]  # the interrupted trial again, with the same parameters
    else:
        assert len(calls) == 3 and calls[2].run_id == trials[2].user_attrs["run_id"]  # only the third trained
    assert trials[1].user_attrs["run_id"] == calls[1].run_id
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps and len(trial_records(results)) == 3
    assert "trial 1/3" not in out and "trial 2/3" in out and "trial 3/3" in out


def test_slurm_gets_one_task_per_study_which_tunes_in_a_journal_file(folder, cli, monkeypatch):
    submitted = []

    class Executor:  # submitit's AutoExecutor, recording what it is given
        def __init__(self, folder, cluster=None):
            pass

        def update_parameters(self, **parameters):
            pass

        def map_array(self, work, *arguments):
            submitted.append((work, *arguments))
            return [type("Job", (), {"job_id": f"42_{i}"})() for i in range(len(arguments[0]))]

    monkeypatch.setitem(__import__("sys").modules, "submitit", type("submitit", (), {"AutoExecutor": Executor}))
    monkeypatch.setattr("benchmark.execution.slurm._slurm_available", lambda: True)  # as on a Slurm login node
    args = ["tune", *flags(folder, "slurm"), "--losses", "pairwise,triplet", "--trials", 2, "--out", folder / "fig3"]
    status, out, _ = cli(*args, "--executor", "slurm")
    assert status == 0 and "submitted 2 studies as a Slurm job array" in out
    (work, specs, contexts, grid_ids), = submitted
    assert [s.loss for s in specs] == ["pairwise", "triplet"] and all(s.replicate == 0 for s in specs)
    assert work(specs[0], contexts[0], grid_ids[0]).status == "done"  # what the first array task runs
    assert [p.suffix for p in (folder / "slurm" / "tuning").iterdir()] == [".journal"]
    status, out, _ = cli(*args)  # here, without shards: the journal's study is done, the other is tuned in SQLite
    assert status == 0 and "1 studies done, 1 to tune" in out and out.count("trained now") == 1
    assert sorted(p.suffix for p in (folder / "slurm" / "tuning").iterdir()) == [".db", ".journal"]
    assert len(yaml.safe_load((folder / "slurm" / "tuned.yaml").read_text())["parameters"]) == 2


def test_runs_of_their_own_parameters_keep_their_ids():
    spec = build_grid(load_config("default")).specs[0]
    content = spec.to_dict()
    del content["parameter_set"]  # the spec as it was before parameter sets (and run.eval_every) existed
    del content["settings"]["eval_every"]
    del content["settings"]["split"]["generator"]  # and run.split.generator
    content["synthetic_generator"] = SYNTHETIC_GENERATOR_VERSION
    assert spec.run_id.endswith(hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:10])
    tuned = replace(spec, parameter_set=ParameterSet(name="tuned", defaults={"run.optimizer.head_lr": 0.001}))
    assert tuned.run_id != spec.run_id and RunSpec.from_dict(tuned.to_dict(), "the test") == tuned


def test_no_trial_evaluates_the_query_set(tuned):
    found = trial_records(tuned[0])
    assert found
    for run_id, record in found.items():
        assert {e["set"] for e in record["evaluations"]} == {"validation"}, run_id
        assert record["selection"]["source"] == "validation" and record["selection"]["protocol"] == "trial"
        assert record["metrics"]["i2t"]["n_queries"] == record["data"]["n_val_query"]
        assert record["files"] == {} and record["diagnostics"] is None
        assert not (tuned[0] / "runs" / run_id / "codes.npz").exists()
    ordinary = [r for r in read_records(tuned[0]).values() if not (r["spec"]["parameter_set"] or {}).get("trial")]
    assert all({"validation", "query"} == {e["set"] for e in r["evaluations"]} for r in ordinary)


def test_the_best_parameters_are_written_and_the_tuned_runs_use_them(tuned):
    results = tuned[0]
    entries = yaml.safe_load((results / "tuned.yaml").read_text())["parameters"]
    assert len(entries) == len(losses.representatives())
    studies = study_trials(results)
    everything = read_records(results)
    for entry in entries:
        trials = studies[entry["study"]]
        best = max(trials, key=lambda t: t.value)
        assert entry["validation_map"] == pytest.approx(best.value, abs=1e-6)
        assert entry["trials"] == 3 and entry["epochs"] == 2
        assert entry["default_validation_map"] == pytest.approx(trials[0].value, abs=1e-6)
        assert {**entry["loss_params"], **{f"run.optimizer.{k}": v for k, v in entry["run"]["optimizer"].items()}} \
            == best.params
        runs = [r for r in everything.values() if r["spec"]["loss"] == entry["loss"]
                and (r["spec"]["parameter_set"] or {}).get("name") == "tuned"]
        assert sorted(r["spec"]["replicate"] for r in runs) == [0, 1]
        for run in runs:
            assert run["spec"]["loss_params"] == entry["loss_params"]
            optimizer = run["spec"]["settings"]["optimizer"]
            assert {k: optimizer[k] for k in entry["run"]["optimizer"]} == entry["run"]["optimizer"]
            assert run["spec"]["parameter_set"]["trials"] == 3
            assert run["spec"]["parameter_set"]["study"] == entry["study"]
    # the runs of the defaults keep the ids they had before tuning existed
    grid = build_grid(load_config(str(results.parent / "tiny.yaml")))
    assert {s.run_id for s in grid.specs} == {k for k, r in everything.items() if r["spec"]["parameter_set"] is None}


def test_the_report_sets_default_and_tuned_side_by_side_with_the_budget(tuned):
    results = tuned[0]
    report = build_report(results, results.parent / "report", ["csv", "markdown", "latex"])
    index = report.index.read_text()
    assert "## Default and tuned parameters" in index and "the best of 3 trials × 2 epochs" in index
    assert "## Sensitivity to the tuned parameters" in index
    main_table = index.split("## Main table", 1)[1].split("\n## ", 1)[0]
    assert "[tuned]" not in main_table and "[trial]" not in main_table
    assert len(list((results.parent / "report" / "figures").glob("sensitivity_*.png"))) == len(losses.representatives())
    table = pd.read_csv(results.parent / "report" / "tables" / "tuned_map.csv")
    everything = read_records(results).values()
    for loss in losses.representatives():
        def values(name):
            return {r["spec"]["replicate"]: r["metrics"]["i2t"]["map"] for r in everything
                    if r["spec"]["loss"] == loss and (r["spec"]["parameter_set"] or {}).get("name") == name}
        default, tuned_values = values(None), values("tuned")
        row = table[(table.loss == loss) & (table.quantity == "I→T mAP")].iloc[0]
        differences = [tuned_values[r] - default[r] for r in (0, 1)]
        assert row["default"] == pytest.approx(np.mean(list(default.values())), abs=1e-6)  # the CSV has 6 decimals
        assert row["delta"] == pytest.approx(np.mean(differences), abs=1e-6)
        assert row["delta_ci"] == pytest.approx(stats.t.ppf(0.975, 1) * np.std(differences, ddof=1) / math.sqrt(2),
                                                abs=1e-6)
    from tests.test_report_layout import assert_fits_a_paper
    assert_fits_a_paper(results.parent / "report" / "tables")  # 10 columns: split over tabulars that fit the page


def test_run_params_names_what_is_missing(folder, cli, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("parameters:\n- {loss: dcgh, dataset: synth-nuswide, bits: 16, loss_params: {gamma: 0.5}}\n")
    assert cli("run", *flags(folder), "--params", path, "--dry-run").returncode == 2
    grid = build_grid(load_config(str(folder / "tiny.yaml"), {"losses": ["dcgh"]}))
    from benchmark.parameters import grid_with_parameters

    spec = grid_with_parameters(grid, "mine", path).specs[0]
    assert spec.loss_params == {"gamma": 0.5} and spec.parameter_set.name == "mine"
    assert spec.parameter_set.defaults == {"gamma": 1.0} and "[mine]" in spec.label
    path.write_text("parameters:\n- {loss: dcgh, dataset: synth-nuswide, bits: 16, loss_params: {gama: 0.5}}\n")
    with pytest.raises(ConfigError, match="did you mean 'gamma'"):
        grid_with_parameters(grid, "mine", path)


def test_tune_refuses_the_paper_protocol_and_says_how_to_get_optuna(folder, cli, monkeypatch):
    assert cli("tune", *flags(folder), "--protocol", "paper", "--dry-run").returncode == 2
    monkeypatch.setitem(__import__("sys").modules, "optuna", None)
    with pytest.raises(ConfigError, match=r"pip install 'xmhash-bench\[tune\]'"):
        tuning.require_optuna()


# ------------------------------------------------------------------------------------------ search spaces


class MarginLoss(HashingLoss):
    """A user's loss declaring its search space."""

    search_space = {"margin": FloatRange(0.1, 2.0)}

    def __init__(self, n_classes, n_bits, margin: float = 0.5):
        super().__init__(n_classes, n_bits)
        self.margin = margin

    def forward(self, img, txt, labels):
        return LossOutput.from_terms({"align": self.margin * (img - txt).pow(2).mean()})


class BadSpaceLoss(MarginLoss):
    search_space = {"margn": FloatRange(0.1, 2.0)}


class DefaultOutsideLoss(MarginLoss):
    search_space = {"margin": FloatRange(1.0, 2.0)}


def test_every_loss_declares_a_valid_space_and_the_docs_list_it():
    assert losses.search_space("qmi") == {}  # the one loss without a space (docs/losses.md says why)
    page = (ROOT / "docs" / "losses.md").read_text()
    section = page.split("## Search spaces", 1)[1].split("\n## ", 1)[0]
    for name in losses.available(variants=False):
        space = losses.search_space(name)
        row = next(line for line in section.splitlines() if line.startswith(f"| `{name}` |"))
        assert space or row.startswith(f"| `{name}` | none: "), name  # an empty space is declared, and says why
        for key, value in space.items():
            assert f"`{key}` {value.describe()}" in row, (name, key)
    assert set(losses.search_space("dcgh-novar")) == set(losses.search_space("dcgh")) - {"gamma"}


def test_a_users_loss_declares_its_space_the_same_way():
    assert losses.search_space("tests.test_tuning:MarginLoss") == {"margin": FloatRange(0.1, 2.0)}
    with pytest.raises(LossConfigError, match="search_space names 'margn'.*did you mean 'margin'"):
        losses.search_space("tests.test_tuning:BadSpaceLoss")
    with pytest.raises(LossConfigError, match="default margin=0.5 is outside its search range"):
        losses.search_space("tests.test_tuning:DefaultOutsideLoss")
    with pytest.raises(LossConfigError, match="low < high"):
        FloatRange(1.0, 0.5)


# ------------------------------------------------------------------------------------------------- sweep


def test_the_sweep_table_holds_its_records_means_and_intervals(folder, cli):
    status, out, _ = cli("sweep", "pairwise", "--param", "gamma=0,0.5", *flags(folder, "sweep"),
                         "--out", folder / "sweep")
    assert status == 0, out
    table = pd.read_csv(folder / "sweep" / "sweep_pairwise_gamma.csv")
    found = list(read_records(folder / "sweep").values())
    assert len(found) == 4 and {r["spec"]["loss"] for r in found} == {"pairwise"}
    assert set(table.row) == {"pairwise"} and set(table.gamma) == {0.0, 0.5}
    for value in (0.0, 0.5):
        for direction, quantity in (("i2t", "I→T mAP"), ("t2i", "T→I mAP")):
            maps = [r["metrics"][direction]["map"] for r in found if r["spec"]["loss_params"]["gamma"] == value]
            row = table[(table.gamma == value) & (table.quantity == quantity)].iloc[0]
            assert row["n"] == 2 and row["mean"] == pytest.approx(np.mean(maps))
            assert row["ci"] == pytest.approx(stats.t.ppf(0.975, 1) * np.std(maps, ddof=1) / math.sqrt(2))
    assert (folder / "sweep" / "figures" / "sweep_pairwise_gamma_synth-nuswide_16b.png").is_file()
    assert "gamma=0.5" in (folder / "sweep" / "sweep_pairwise_gamma.md").read_text()
