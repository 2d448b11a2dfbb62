"""The optimizer search of a grid (benchmark.search): its trials, the rule that selects a setting, the runs that
carry it, resuming, sharding, and how the report groups what it ran."""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from benchmark.config import load_config
from benchmark.grid import build_grid
from benchmark.report.selection import configurations, row_label
from benchmark.search import DIVERGED, KEYS, Choice, Waiting, search_bits, search_groups
from benchmark.store import RunStore

from .conftest import TINY_GRID

#: The tiny grid with a search of two learning rates (one weight decay) on replicate 0 of two, and reference rows.
SEARCHED = {"replicates": 2, "references": True, "search": {"enabled": True, "head_lr": [1e-3, 3e-2], "weight_decay": [0.2],
                                        "replicates": 1}}


def _config(folder, tiny_config, **changes):
    return tiny_config(folder, **{**SEARCHED, **changes})


@pytest.fixture(scope="module")
def searched(tmp_path_factory, tiny_config):
    """The tiny grid with its search, run once: its config file, results folder and what ``run`` printed."""
    folder = tmp_path_factory.mktemp("searched")
    config, results = _config(folder, tiny_config), folder / "results"
    from .conftest import run_cli

    first = run_cli("run", "--config", config, "--results", results, "--quiet")
    assert first.returncode == 0, first.stdout + first.stderr
    return SimpleNamespace(config=config, results=results, run=first)


def _records(results):
    return RunStore(results).contents().records


def _trial_score(records, loss, values) -> float:
    """The mean validation mAP of the trials of ``loss`` at ``values``, read from the records themselves."""
    scores = [r.selection.score for r in records if r.spec.loss == loss and r.spec.parameter_set.trial
              and {k: getattr(r.spec.settings.optimizer, k.rsplit(".", 1)[-1]) for k in KEYS} == values]
    assert scores
    return sum(scores) / len(scores)


def test_every_loss_gets_the_same_trials_scored_on_validation_only(searched):
    records = _records(searched.results)
    trials = [r for r in records if r.spec.parameter_set and r.spec.parameter_set.trial]
    assert sorted((r.spec.loss, r.spec.settings.optimizer.head_lr) for r in trials) == \
        [("pairwise", 1e-3), ("pairwise", 3e-2), ("proxy", 1e-3), ("proxy", 3e-2)]
    for trial in trials:
        assert trial.spec.replicate == 0 and trial.spec.parameter_set.searched
        assert trial.selection.source == "validation" and trial.selection.protocol == "trial"
        assert {e["set"] for e in trial.evaluations} == {"validation"}  # the query set is never looked at
        assert trial.spec.settings.optimizer.weight_decay == 0.2


def test_the_selected_setting_is_the_best_mean_validation_map_and_every_replicate_runs_it(searched):
    records = _records(searched.results)
    runs = [r for r in records if r.spec.parameter_set and r.spec.parameter_set.selected]
    assert sorted((r.spec.loss, r.spec.replicate) for r in runs) == \
        [("pairwise", 0), ("pairwise", 1), ("proxy", 0), ("proxy", 1)]
    for loss in ("pairwise", "proxy"):
        scores = {lr: _trial_score(records, loss, {KEYS[0]: lr, KEYS[1]: 0.2}) for lr in (1e-3, 3e-2)}
        best = max(scores, key=lambda lr: (scores[lr], -lr))
        chosen = {r.spec.settings.optimizer.head_lr for r in runs if r.spec.loss == loss}
        assert chosen == {best}
        assert f"search {loss} on synth-nuswide: head_lr={best:g}, weight_decay=0.2 selected" \
               in searched.run.stdout
    for run in runs:
        parameter_set = run.spec.parameter_set
        assert parameter_set.defaults == {KEYS[0]: 1e-3, KEYS[1]: 0.2}  # the configuration's own values
        assert parameter_set.space[KEYS[0]] == {"options": [1e-3, 3e-2]} and parameter_set.trials == 2
        assert {e["set"] for e in run.evaluations} == {"validation", "query"}


def test_the_report_puts_a_searched_grid_in_one_configuration_with_one_row_per_loss(searched):
    records = _records(searched.results)
    runs = [r for r in records if r.spec.parameter_set is None or not r.spec.parameter_set.trial]
    groups = configurations(runs)  # the reference rows (no search changes them) are the searched grid's too
    assert len(groups) == 1 and len(groups[0].records) == 4 + 8
    assert {row_label(r.spec) for r in runs if not r.spec.loss.startswith("ref:")} == {"pairwise", "proxy"}
    runs = [r for r in runs if r.spec.parameter_set is not None]
    # an unsearched run of the same configuration is another configuration, not another value of the same cell
    plain = replace(runs[0].spec, parameter_set=None,
                    settings=replace(runs[0].spec.settings, optimizer=load_config("default").run.optimizer))
    assert len(configurations([*runs, replace(runs[0], spec=plain, run_id=plain.run_id)])) == 2


def test_a_finished_search_is_not_run_again(searched, cli):
    again = cli("run", "--config", searched.config, "--results", searched.results, "--quiet")
    assert again.returncode == 0
    assert "search trials: 4 done, 0 to run" in again.stdout and "runs: 12 done, 0 to run" in again.stdout


def test_shards_run_the_same_trials_and_records_as_one_process(searched, tmp_path, cli):
    config = searched.config
    for shard in ("0/2", "1/2"):
        result = cli("run", "--config", config, "--results", tmp_path, "--quiet", "--shard", shard)
        assert result.returncode == 0, result.stdout + result.stderr
    whole = {r.run_id: r.codes_sha256 for r in _records(searched.results)}
    sharded = {r.run_id: r.codes_sha256 for r in _records(tmp_path)}
    assert sharded == whole


def test_dry_run_lists_the_trials_and_says_what_waits_for_them(tmp_path, tiny_config, cli):
    config = _config(tmp_path, tiny_config)
    result = cli("run", "--config", config, "--results", tmp_path / "results", "--dry-run")
    assert result.returncode == 0
    assert "search trials: 0 done, 4 to run" in result.stdout
    assert "not run yet, pairwise on synth-nuswide: its trial" in result.stdout
    assert not (tmp_path / "results" / "runs").exists()


# ------------------------------------------------------------------------------------ the selection rule


class FakeStore:
    """Trial outcomes by run id: a score (done), an error type (failed), or absent (pending)."""

    def __init__(self, outcomes: dict):
        self.outcomes = outcomes

    def status(self, run_id):
        outcome = self.outcomes.get(run_id)
        return "pending" if outcome is None else "failed" if isinstance(outcome, str) else "done"

    def read_record(self, run_id):
        return SimpleNamespace(selection=SimpleNamespace(score=self.outcomes[run_id]))

    def read_failure(self, run_id):
        return SimpleNamespace(error_type=self.outcomes[run_id])


def _group(tmp_path, tiny_config, **search):
    config = tiny_config(tmp_path, **{**SEARCHED, "search": {**SEARCHED["search"], **search}})
    return search_groups(build_grid(load_config(str(config))))[0]


def _outcomes(group, values):
    return {trial.run_id: value for setting, value in zip(group.settings, values) for trial in setting.trials}


def test_the_rule_picks_the_best_mean_and_the_first_of_equals(tmp_path, tiny_config):
    group = _group(tmp_path, tiny_config, head_lr=[1e-3, 1e-2, 1e-1], replicates=2)
    assert [len(s.trials) for s in group.settings] == [2, 2, 2]
    scores = iter([0.5, 0.75, 0.75, 0.5, 0.625, 0.625])  # equal means (exact in binary): the first setting
    outcomes = {t.run_id: next(scores) for s in group.settings for t in s.trials}
    choice = group.choose(FakeStore(outcomes))
    assert isinstance(choice, Choice) and choice.selected is group.settings[0] and choice.at_edge
    assert choice.scores == (0.625, 0.625, 0.625)
    outcomes[group.settings[1].trials[0].run_id] = 0.9  # now the middle one: not at an edge
    choice = group.choose(FakeStore(outcomes))
    assert choice.selected is group.settings[1] and not choice.at_edge
    outcomes[group.settings[2].trials[0].run_id] = 1.5  # the largest rate: the other edge
    choice = group.choose(FakeStore(outcomes))
    assert choice.selected is group.settings[2] and choice.at_edge


def test_a_diverged_setting_is_not_selectable_and_other_failures_hold_the_group(tmp_path, tiny_config):
    group = _group(tmp_path, tiny_config, head_lr=[1e-3, 1e-2, 1e-1])
    choice = group.choose(FakeStore(_outcomes(group, [0.5, 0.6, DIVERGED])))
    assert choice.selected is group.settings[1] and choice.scores == (0.5, 0.6, None)
    waiting = group.choose(FakeStore(_outcomes(group, [0.5, 0.6, "OutOfMemoryError"])))
    assert isinstance(waiting, Waiting) and waiting.failed and "OutOfMemoryError" in waiting.reason
    pending = group.choose(FakeStore(_outcomes(group, [0.5, 0.6])))
    assert isinstance(pending, Waiting) and not pending.failed
    none = group.choose(FakeStore(_outcomes(group, [DIVERGED] * 3)))
    assert isinstance(none, Waiting) and none.failed


def test_the_search_runs_at_the_middle_code_length_or_at_each(tmp_path, tiny_config):
    def grid(bits, per_bits=False):
        config = tiny_config(tmp_path, **{**SEARCHED, "bits": bits,
                                          "search": {**SEARCHED["search"], "per_bits": per_bits}})
        return build_grid(load_config(str(config)))

    assert search_bits(grid([16, 32, 64])) == 32 and search_bits(grid([16, 32])) == 32
    assert search_bits(grid([64])) == 64
    groups = search_groups(grid([16, 32]))
    assert {g.bits for g in groups} == {None} and {t.bits for g in groups for t in g.trials()} == {32}
    assert {len(g.runs) for g in groups} == {4}  # 2 bits x 2 replicates decided by one search
    per_bits = search_groups(grid([16, 32], per_bits=True))
    assert sorted((g.loss, g.bits) for g in per_bits) == [("pairwise", 16), ("pairwise", 32), ("proxy", 16),
                                                            ("proxy", 32)]


def test_no_search_when_disabled_or_when_the_runs_have_parameters(tmp_path, tiny_config):
    config = tiny_config(tmp_path, **{**SEARCHED, "search": {"enabled": False}})
    assert search_groups(build_grid(load_config(str(config)))) == []
    grid = build_grid(load_config(str(_config(tmp_path, tiny_config))))
    assert search_groups(grid)
    given = grid.specs[0].__class__  # a grid run with --params: its runs carry a parameter set already
    tuned_set = search_groups(grid)[0].settings[0].trials[0].parameter_set
    tuned = replace(grid, specs=tuple(replace(s, parameter_set=tuned_set) for s in grid.specs))
    assert all(isinstance(s, given) for s in tuned.specs) and search_groups(tuned) == []


def test_the_report_shows_each_losss_selected_setting_and_every_trials_score(searched, tmp_path):
    from benchmark.report import build_report

    report = build_report(searched.results, tmp_path / "report")
    records = _records(searched.results)
    csv = (tmp_path / "report" / "tables" / "optimizer_search.csv").read_text().splitlines()
    assert csv[0] == "loss,dataset,bits,head_lr,weight_decay,validation_map,trials,selected" and len(csv) == 5
    markdown = (tmp_path / "report" / "tables" / "optimizer_search.md").read_text()
    for loss in ("pairwise", "proxy"):
        run = next(r for r in records if r.spec.loss == loss and r.spec.parameter_set.selected)
        lr = run.spec.settings.optimizer.head_lr
        score = _trial_score(records, loss, {KEYS[0]: lr, KEYS[1]: 0.2})
        assert f"| {loss} | {lr:g} / 0.2 ({score:.3f}) ‡ |" in markdown  # two rates searched: both are edges
        assert f"{loss},synth-nuswide,16,{lr},0.2,{score}," in "\n".join(csv) or \
            any(line.startswith(f"{loss},synth-nuswide,16,{lr},0.2,") and line.endswith(",1,True") for line in csv)
    index = report.index.read_text()
    assert "Optimizer search" in index and "16 of 16 runs of the grid have records" in index  # trials count as runs
    main = (tmp_path / "report" / "tables" / "main_map.md").read_text()
    assert "random codes" in main and "| pairwise |" in main  # the reference rows sit in the searched table
    from tests.test_report_layout import assert_fits_a_paper
    assert_fits_a_paper(tmp_path / "report" / "tables")
