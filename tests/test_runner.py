"""``python -m benchmark run`` end to end on a tiny grid: records, resume, --force, failures, shards,
interruption, and the errors of bad flags and configs."""
from __future__ import annotations

import json
import os
import signal
import sys

import pytest

import losses
from benchmark.config import load_config
from benchmark.errors import ConfigError
from benchmark.grid import build_grid
from benchmark.search import search_groups
from benchmark.execution import shard_of, slurm_array_shard
from benchmark.store import RunStore
from losses import HashingLoss
from tests.results_folder import read_records


class ExplodingLoss(HashingLoss):
    """A user's loss that raises: its runs must be recorded as failed while the others finish."""

    def forward(self, img, txt, labels):
        raise RuntimeError("this loss always fails")


def record_files(results) -> dict:
    """Each record file of ``results`` and what tells whether it was written again: records are written to a new
    file that then replaces the old one, so a rewritten record has a new inode (and a new mtime)."""
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (results / "runs").glob("*/record.json")}


def test_a_grid_completes_and_records_its_runs(tiny_grid):
    first = tiny_grid.run
    assert "0 done, 2 to run" in first.stdout and "2 of 2 runs done" in first.stdout
    assert "python -m benchmark report --results" in first.stdout
    done = [line for line in first.stdout.splitlines() if line.startswith("done ")]
    assert len(done) == 2 and all("I->T" in line and "T->I" in line for line in done)
    found = read_records(tiny_grid.results)
    assert len(found) == 2
    for run_id, record in found.items():
        assert record["run_id"] == run_id and record["grid_id"]
        assert set(record["metrics"]) == {"i2t", "t2i", "i2i", "t2t"}
        assert record["spec"]["dataset"] == "synth-nuswide" and record["spec"]["settings"]["epochs"] == 2
        assert (tiny_grid.results / "runs" / run_id / "log.txt").is_file()


def test_a_finished_grid_resumes_doing_nothing_and_force_redoes_what_it_names(tiny_grid, tiny_grid_copy, cli):
    results = tiny_grid_copy
    written = record_files(results)
    again = cli("run", "--config", tiny_grid.config, "--results", results, "--quiet")
    assert again.returncode == 0 and "2 done, 0 to run" in again.stdout and "Nothing to run" in again.stdout
    assert record_files(results) == written

    forced = cli("run", "--config", tiny_grid.config, "--results", results, "--quiet", "--force", "--losses", "proxy")
    assert forced.returncode == 0 and "0 done, 1 to run" in forced.stdout
    rewritten = record_files(results)
    redone = {p.parent.name for p in written if rewritten[p] != written[p]}
    assert [read_records(results)[run_id]["spec"]["loss"] for run_id in redone] == ["proxy"]


def test_a_failing_loss_is_recorded_and_the_others_finish(tiny, cli):
    config, results = tiny
    result = cli("run", "--config", config, "--results", results, "--quiet",
                 "--losses", f"pairwise,{__name__}:ExplodingLoss")
    assert result.returncode == 1
    assert "1 of 2 runs done" in result.stdout and "1 failed" in result.stdout
    assert any(line.startswith("FAILED") and "this loss always fails" in line for line in result.stdout.splitlines())
    failed = list((results / "runs").glob("*/failed.json"))
    assert len(failed) == 1 and len(read_records(results)) == 1
    failure = json.loads(failed[0].read_text())
    assert failure["error"] == "this loss always fails" and "Traceback" in failure["traceback"]
    retry = cli("run", "--config", config, "--results", results, "--quiet",
                "--losses", f"pairwise,{__name__}:ExplodingLoss")
    assert "1 done, 1 to run (1 failed before, retried)" in retry.stdout


def test_two_shards_at_once_complete_the_grid_without_overlap(tiny, cli_process):
    config, results = tiny
    args = ["run", "--config", config, "--results", results, "--quiet", "--losses", "pairwise,proxy,center,triplet"]
    procs = [cli_process(*args, "--shard", f"{i}/2") for i in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    ran = [{line.split()[1] for line in out.splitlines() if line.startswith("done ")} for out, _ in outputs]
    assert len(ran[0]) == len(ran[1]) == 2 and not ran[0] & ran[1]
    assert len(read_records(results)) == 4


def test_parallel_workers_complete_the_grid(tiny, cli):
    config, results = tiny
    result = cli("run", "--config", config, "--results", results, "--quiet", "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "2 of 2 runs done" in result.stdout and len(read_records(results)) == 2


def test_killed_midway_loses_nothing_and_the_rest_completes(tiny, cli, cli_process, wait_for):
    config, results = tiny
    args = ["run", "--config", config, "--results", results, "--quiet", "--losses", "pairwise,proxy,center,triplet",
            "--epochs", "6"]
    process = cli_process(*args)
    wait_for(lambda: read_records(results), timeout=300)  # a first run done
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=120)
    store = RunStore(results)  # its workers die with it, and with them their claims
    wait_for(lambda: not any(store.claim_holder(p.name) for p in (results / "runs").iterdir()))
    kept = read_records(results)
    assert 1 <= len(kept) < 4
    resumed = cli(*args)
    assert resumed.returncode == 0 and f"{len(kept)} done, {4 - len(kept)} to run" in resumed.stdout
    final = read_records(results)
    assert len(final) == 4 and all(final[k] == kept[k] for k in kept)


def test_dry_run_prints_the_resolved_config_and_runs_nothing(tiny, cli):
    config, results = tiny
    result = cli("run", "--config", config, "--results", results, "--dry-run", "--bits", "16,32")
    assert result.returncode == 0
    assert "bits:\n- 16\n- 32\n" in result.stdout and "0 done, 4 to run" in result.stdout
    assert result.stdout.count("pending ") == 4 and not (results / "runs").exists()


@pytest.mark.parametrize("args,message", [
    (["--losses", "dcgg"], "error: unknown loss 'dcgg'"),
    (["--epochs", "0"], "error: 'run.epochs' in the command line must be an integer >= 1, got 0"),
    (["--device", "cuda:7"], "error: device 'cuda:7'"),
    (["--datasets", "synth-cocoa"], "error: unknown dataset 'synth-cocoa' (did you mean 'synth-coco'?)"),
    (["--datasets", "coco"], "error: dataset(s) coco need a pretrained CLIP folder: give --backbone PATH"),
    (["--shard", "2/2"], "error: --shard 2/2: I must be in 0..N-1"),
    (["--backbone", "/nonexistent/clip"], "error: backbone folder /nonexistent/clip has no config.json"),
    (["--config", "nope"], "error: unknown config 'nope'; packaged configs: dchmt, default, mith, real, twdh"),
    (["--bits", "16,x"], "argument --bits: expected comma-separated integers"),
    (["--protocol", "best"], "argument --protocol: invalid choice"),
])
def test_bad_flags_exit_non_zero_with_one_clear_line(tiny, cli, args, message):
    config, results = tiny
    dry_run = [] if "--backbone" in args else ["--dry-run"]  # the backbone folder is checked before training
    status, _, err = cli("run", "--config", config, "--results", results, *dry_run, *args)
    assert status == 2 and message in err


def test_a_bad_flag_in_a_new_process_is_one_line_without_traceback(tiny, cli_process):
    """What the in-process checks cannot see: the interpreter's own exit, with nothing but the line."""
    config, results = tiny
    process = cli_process("run", "--config", config, "--results", results, "--dry-run", "--losses", "dcgg")
    _, err = process.communicate(timeout=120)
    assert process.returncode == 2 and err.count("\n") == 1
    assert err.startswith("error: unknown loss 'dcgg'")


@pytest.mark.parametrize("content,message", [
    ("losses: [pairwise\nbits: 16", "is not valid YAML: line 2, column 5"),
    ("epoch: 3", "unknown key 'epoch' in config .*did you mean 'run.epochs'"),
    ("run: {optimizer: {head_rate: 0.1}}", "unknown key 'run.optimizer.head_rate' in config .*did you mean 'run.optimizer.head_lr'"),
    ("loss_params: {dcgh: {gama: 1}}", "loss_params.dcgh: unknown parameter 'gama'"),
    ("- just\n- a list", "must be a mapping"),
])
def test_bad_config_files(tmp_path, cli, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        build_grid(load_config(str(path)))
    status, _, err = cli("run", "--config", path, "--dry-run")
    assert status == 2 and err.count("\n") == 1 and err.startswith("error: ")


def test_shards_partition_the_whole_grid():
    grid = build_grid(load_config("default"))
    specs = grid.specs  # 6 losses x 3 datasets x 3 bits x 5 replicates, and 4 reference rows per (dataset, bits, r)
    parts = [shard_of(specs, i, 4) for i in range(4)]
    ids = [{s.run_id for s in part} for part in parts]
    assert sum(map(len, ids)) == len(specs) == 270 + 180 and set().union(*ids) == {s.run_id for s in specs}
    groups = search_groups(grid)  # a searched grid's shards split its (loss, dataset) searches, never one
    trials = [{t.run_id for g in shard_of(groups, i, 4) for t in g.trials()} for i in range(4)]
    assert len(groups) == 18 and sum(map(len, trials)) == 18 * 16 == len(set().union(*trials))


def test_slurm_array_environment(monkeypatch):
    assert slurm_array_shard() is None or "SLURM_ARRAY_TASK_ID" in os.environ
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "4")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "5")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "1")
    assert slurm_array_shard() == (3, 5)


def test_runs_keep_their_codes_and_export_and_diagnose_read_them(tiny_grid, tiny_grid_copy, cli, tmp_path,
                                                                 benchmark_cache):
    from dataclasses import asdict

    import numpy as np
    import scipy.io

    from benchmark import data
    from benchmark.codes import read_codes
    from benchmark.data.splits import make_split
    from benchmark.training.state import codes_sha256

    results = tiny_grid.results
    for folder in (results / "runs").iterdir():
        assert {"record.json", "codes.npz", "continuous.npz", "state.npz"} <= {p.name for p in folder.iterdir()}
    run_id = sorted(p.name for p in (results / "runs").iterdir())[0]
    record = RunStore(results).read_record(run_id)
    codes, labels = read_codes(results / "runs" / run_id)
    assert {name: codes_sha256(value) for name, value in codes.items()} == record.codes_sha256  # the run's codes
    spec = record.spec  # its labels, from its data and its split recomputed here
    dataset = data.load(spec.dataset, root=benchmark_cache, seed=spec.synthetic.seed, size=spec.synthetic.size,
                        **spec.synthetic.knobs)
    split = make_split(len(dataset), data.default_split_settings(dataset, **asdict(spec.settings.split)))
    n_query, n_retrieval, n_classes = len(split["query"]), len(split["retrieval"]), dataset.labels.shape[1]
    expected = {"q_img": (codes["query_image"], (n_query, spec.bits)),
                "q_txt": (codes["query_text"], (n_query, spec.bits)),
                "r_img": (codes["retrieval_image"], (n_retrieval, spec.bits)),
                "r_txt": (codes["retrieval_text"], (n_retrieval, spec.bits)),
                "q_l": (dataset.labels[split["query"]], (n_query, n_classes)),
                "r_l": (dataset.labels[split["retrieval"]], (n_retrieval, n_classes))}
    assert np.array_equal(labels["query_labels"], expected["q_l"][0])
    assert np.array_equal(labels["retrieval_labels"], expected["r_l"][0])
    for fmt, load in (("mat", scipy.io.loadmat), ("npz", np.load)):
        out = tmp_path / f"export.{fmt}"
        exported = cli("export", "--run", run_id[:-4], "--format", fmt, "--out", out, "--results", results)
        assert exported.returncode == 0, exported.stderr
        arrays = load(out)
        assert {k for k in arrays if not k.startswith("__")} == set(expected), fmt  # .mat adds __header__ etc.
        for name, (values, shape) in expected.items():
            assert arrays[name].shape == shape and arrays[name].dtype == np.float32, (fmt, name, arrays[name].shape)
            assert np.array_equal(arrays[name], values), (fmt, name)
    ambiguous = cli("export", "--run", "synth", "--results", results)
    assert ambiguous.returncode == 2 and "must name one finished run" in ambiguous.stderr
    found = sorted(p.name for p in (results / "runs").glob("synth*") if (p / "record.json").is_file())
    listed = [f"{run} ({RunStore(results).read_record(run).spec.label})" for run in found]
    assert f"({len(found)} match, give more of the id: {'; '.join(listed)})" in ambiguous.stderr  # every match named
    exported = cli("export", "--run", run_id, "--results", results)  # no --out: into the results folder
    assert exported.returncode == 0 and (results / "exports" / f"{run_id}.mat").is_file(), exported.stderr
    diagnosed = cli("diagnose", "--results", tiny_grid_copy)  # it writes the records again
    assert diagnosed.returncode == 0 and "recomputed the diagnostics of 2 runs" in diagnosed.stdout


PLUGIN = '''
import losses
from losses import HashingLoss, LossOutput


@losses.register("plugin-align", display_name="Align (ours)")
class PluginAlign(HashingLoss):
    """Pulls each image code toward its text code."""

    def forward(self, img, txt, labels):
        return LossOutput.from_terms({"align": (img - txt).pow(2).mean()})


class Unregistered(PluginAlign):
    """The same, named by its class (no registration), declaring its name and citation."""

    display_name = "Align 2 & co"
    citation = losses.Citation(method="AL2", title="Aligning Codes", authors=("Ann Smith", "Bo Li"), venue="CVPR",
                               year=2031, key="smith2031align", bibtex="@inproceedings{smith2031align, title={A}}")
'''


@pytest.fixture
def plugin_on_path(tmp_path, monkeypatch):
    """The module ``myplugin`` on sys.path (which the worker processes inherit), forgotten with its loss after the
    test."""
    (tmp_path / "myplugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(tmp_path)
    yield "myplugin"
    sys.modules.pop("myplugin", None)
    losses.unregister("plugin-align")


def test_plugins_register_losses_for_the_grid_and_its_workers(tiny, cli, plugin_on_path):
    config, results = tiny
    unknown = cli("run", "--config", config, "--dry-run", "--losses", "plugin-align")  # its module not imported yet
    assert unknown.returncode == 2 and "needs that module imported (--plugins package.module)" in unknown.stderr
    listed = cli("list", "losses", "--plugins", plugin_on_path)
    assert listed.returncode == 0 and "plugin-align" in listed.stdout
    result = cli("run", "--config", config, "--results", results, "--quiet", "--plugins", plugin_on_path, "--losses",
                 f"plugin-align,{plugin_on_path}:Unregistered", "--workers", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 of 2 runs done" in result.stdout
    records = {r.spec.loss: r for r in RunStore(results).contents().records}
    assert records["plugin-align"].display_name == "Align (ours)" and records["plugin-align"].citation is None
    assert records["myplugin:Unregistered"].display_name == "Align 2 & co"
    assert records["myplugin:Unregistered"].citation["key"] == "smith2031align"
    from benchmark.report import build_report

    build_report(results, results.parent / "report", formats=["latex"])  # never imports the losses
    latex = (results.parent / "report" / "tables" / "main_map.tex").read_text()
    assert "& Align (ours) &" in latex and "& Align 2 \\& co &" in latex and "myplugin" not in latex
    assert "AL2: Aligning Codes (Smith \\& Li, CVPR 2031)" in latex
    assert "smith2031align" in (results.parent / "report" / "references.bib").read_text()
    missing = cli("run", "--config", config, "--dry-run", "--plugins", "nowhere.plugin")
    assert missing.returncode == 2 and "cannot import plugin module 'nowhere.plugin'" in missing.stderr


def test_dry_run_warns_about_a_missing_backbone_folder_and_dataset_files(tmp_path, cli):
    result = cli("run", "--config", "real", "--backbone", tmp_path / "clip", "--data-root", tmp_path / "data",
                 "--dry-run", "--results", tmp_path / "results")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 4 and "has no config.json" in warnings[0]
    assert f"coco: {tmp_path / 'data' / 'coco'} lacks index.mat, label.mat, caption.mat" in result.stdout


@pytest.mark.parametrize("preset, sizes, seed, metric, rule", [
    ("dchmt", {"mirflickr25k": (5120, 10240), "nuswide": (5120, 10240), "coco": (5120, 10240)}, 1814, "map",
     "per direction the reported epoch is the one of best query-set mAP"),
    ("mith", {"mirflickr25k": (2000, 10000), "nuswide": (2100, 10500), "coco": (5000, 10000)}, 1, "map",
     "the reported epoch is the one of best query-set mAP of I→T plus T→I"),
    ("twdh", {"mirflickr25k": (5000, 10000), "nuswide": (5000, 10000), "coco": (5000, 10000)}, 1814, "map@5000",
     "per direction the reported epoch is the one of best query-set mAP")])
def test_a_dry_run_of_a_published_protocol_prints_its_split_metric_and_selection(tmp_path, cli, preset, sizes, seed,
                                                                                 metric, rule):
    result = cli("run", "--config", preset, "--backbone", tmp_path / "clip", "--data-root", tmp_path / "data",
                 "--dry-run", "--results", tmp_path / "results")
    assert result.returncode == 0, result.stderr
    for dataset, (query, train) in sizes.items():
        assert (f"  {dataset}: query {query}, train {train} (numpy's legacy generator, seed {seed}, as published "
                "code draws it)") in result.stdout
    assert f"  metric: {metric} (report --metric {metric})" in result.stdout and f"  selection: {rule}" in result.stdout
    data_line = ("  data: variant mith, MITH's cleaned set, built from its released all_*.txt lists (mirflickr25k "
                 "20,015, nuswide 190,421, coco 122,218 items; python -m benchmark prepare NAME --variant mith)")
    assert (data_line in result.stdout) == (preset == "mith")
    assert (f"prepare coco --variant mith --raw DOWNLOAD" in result.stdout) == (preset == "mith")
    honest = cli("run", "--config", preset, "--protocol", "honest", "--backbone", tmp_path / "clip", "--data-root",
                 tmp_path / "data", "--dry-run", "--results", tmp_path / "results")
    assert "  selection: the reported epoch is the one of best mean I→T and T→I mAP on a validation split" in \
        honest.stdout  # the honest counterpart: same data and metric, the epoch chosen on validation


def test_a_redirected_log_gets_plain_lines_not_progress_bars(tiny_grid):
    result = tiny_grid.run  # no --quiet; stderr is no terminal
    assert "\r" not in result.stderr and "%|" not in result.stderr, result.stderr[-500:]
    assert sum(line.startswith("done ") for line in result.stdout.splitlines()) == 2


def test_tensorboard_logs_each_epoch_of_each_run(tiny, cli):
    pytest.importorskip("tensorboard", reason="the tensorboard extra (in dev) is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config, results = tiny
    result = cli("run", "--config", config, "--results", results, "--quiet", "--log", "tensorboard", "--losses",
                 "pairwise")
    assert result.returncode == 0, result.stderr
    (folder,) = (results / "runs").iterdir()
    events = EventAccumulator(str(folder / "tensorboard"))
    events.Reload()
    assert {"loss/total", "loss/inter", "validation/map_i2t", "validation/map"} <= set(events.Tags()["scalars"])
    record = json.loads((folder / "record.json").read_text())
    logged = [e.value for e in events.Scalars("validation/map")]
    assert logged == pytest.approx([h["val_map"] for h in record["history"]], rel=1e-6)
