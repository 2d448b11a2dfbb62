"""``python -m benchmark run`` end to end on a tiny grid: records, resume, --force, failures, shards,
interruption, and the errors of bad flags and configs."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.cli import main as cli_main
from benchmark.config import load_config
from benchmark.errors import ConfigError
from benchmark.grid import build_grid
from benchmark.runner import shard_of, slurm_array_shard
from losses import HashingLoss

ROOT = Path(__file__).resolve().parents[1]
TINY = """
losses: [pairwise, proxy]
datasets: [synth-nuswide]
bits: [16]
replicates: 1
references: false
run: {epochs: 2, batch_size: 64, topk: [50]}
synthetic: {size: 300, pretrain_steps: 10}
"""


class ExplodingLoss(HashingLoss):
    """A user's loss that raises: its runs must be recorded as failed while the others finish."""

    def forward(self, img, txt, labels):
        raise RuntimeError("this loss always fails")


def cli(*args, cwd=ROOT, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmark", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=600, **kwargs)


def main_in_process(*args) -> tuple[int, str]:
    """``python -m benchmark ARGS`` in this process: its exit status and what it printed to stderr."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            status = cli_main([str(a) for a in args])
        except SystemExit as exit_:  # argparse's own errors
            status = exit_.code
    return status, err.getvalue()


@pytest.fixture
def tiny(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    env = {**os.environ, "BENCHMARK_CACHE": str(tmp_path.parent / "shared-cache")}  # caches shared by the tests
    return config, tmp_path / "results", env


def records(results: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in (results / "runs").glob("*/record.json")}


def test_grid_completes_then_resumes_then_force_redoes(tiny):
    config, results, env = tiny
    first = cli("run", "--config", config, "--results", results, "--quiet", env=env)
    assert first.returncode == 0, first.stderr
    assert "0 done, 2 to run" in first.stdout and "2 of 2 runs done" in first.stdout
    assert "python -m benchmark report --results" in first.stdout
    done = [line for line in first.stdout.splitlines() if line.startswith("done ")]
    assert len(done) == 2 and all("I->T" in line and "T->I" in line for line in done)
    found = records(results)
    assert len(found) == 2
    for run_id, record in found.items():
        assert record["run_id"] == run_id and record["grid_id"]
        assert set(record["metrics"]) == {"i2t", "t2i", "i2i", "t2t"}
        assert record["spec"]["dataset"] == "synth-nuswide" and record["spec"]["settings"]["epochs"] == 2
        assert (results / "runs" / run_id / "log.txt").is_file()
    stamps = {run_id: r["finished_at"] for run_id, r in found.items()}
    mtimes = {p: p.stat().st_mtime_ns for p in (results / "runs").glob("*/record.json")}

    again = cli("run", "--config", config, "--results", results, "--quiet", env=env)
    assert again.returncode == 0 and "2 done, 0 to run" in again.stdout and "Nothing to run" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in (results / "runs").glob("*/record.json")} == mtimes

    time.sleep(1.1)  # finished_at has a resolution of one second
    forced = cli("run", "--config", config, "--results", results, "--quiet", "--force", "--losses", "proxy", env=env)
    assert forced.returncode == 0 and "0 done, 1 to run" in forced.stdout
    redone = records(results)
    assert sum(redone[k]["finished_at"] != stamps[k] for k in stamps) == 1


def test_a_failing_loss_is_recorded_and_the_others_finish(tiny):
    config, results, env = tiny
    result = cli("run", "--config", config, "--results", results, "--quiet",
                 "--losses", f"pairwise,{__name__}:ExplodingLoss", env=env)
    assert result.returncode == 1
    assert "1 of 2 runs done" in result.stdout and "1 failed" in result.stdout
    assert any(line.startswith("FAILED") and "this loss always fails" in line for line in result.stdout.splitlines())
    failed = list((results / "runs").glob("*/failed.json"))
    assert len(failed) == 1 and len(records(results)) == 1
    failure = json.loads(failed[0].read_text())
    assert failure["error"] == "this loss always fails" and "Traceback" in failure["traceback"]
    retry = cli("run", "--config", config, "--results", results, "--quiet",
                "--losses", f"pairwise,{__name__}:ExplodingLoss", env=env)
    assert "1 done, 1 to run (1 failed before, retried)" in retry.stdout


def test_two_shards_at_once_complete_the_grid_without_overlap(tiny):
    config, results, env = tiny
    args = ["run", "--config", config, "--results", results, "--quiet", "--losses", "pairwise,proxy,center,triplet"]
    procs = [subprocess.Popen([sys.executable, "-m", "benchmark", *map(str, args), "--shard", f"{i}/2"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for i in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    ran = [{line.split()[1] for line in out.splitlines() if line.startswith("done ")} for out, _ in outputs]
    assert len(ran[0]) == len(ran[1]) == 2 and not ran[0] & ran[1]
    assert len(records(results)) == 4


def test_parallel_workers_complete_the_grid(tiny):
    config, results, env = tiny
    result = cli("run", "--config", config, "--results", results, "--quiet", "--workers", "2", env=env)
    assert result.returncode == 0, result.stderr
    assert "2 of 2 runs done" in result.stdout and len(records(results)) == 2


def test_killed_midway_loses_nothing_and_the_rest_completes(tiny):
    config, results, env = tiny
    args = [sys.executable, "-m", "benchmark", "run", "--config", str(config), "--results", str(results), "--quiet",
            "--losses", "pairwise,proxy,center,triplet", "--epochs", "6"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 300
    while not list((results / "runs").glob("*/record.json")) and time.time() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = records(results)
    assert 1 <= len(kept) < 4
    resumed = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert resumed.returncode == 0 and f"{len(kept)} done, {4 - len(kept)} to run" in resumed.stdout
    final = records(results)
    assert len(final) == 4 and all(final[k] == kept[k] for k in kept)


def test_dry_run_prints_the_resolved_config_and_runs_nothing(tiny):
    config, results, env = tiny
    result = cli("run", "--config", config, "--results", results, "--dry-run", "--bits", "16,32", env=env)
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
    (["--config", "nope"], "error: unknown config 'nope'; packaged configs: default, paper"),
    (["--bits", "16,x"], "argument --bits: expected comma-separated integers"),
    (["--protocol", "best"], "argument --protocol: invalid choice"),
])
def test_bad_flags_exit_non_zero_with_one_clear_line(tiny, monkeypatch, args, message):
    config, results, env = tiny
    monkeypatch.setenv("BENCHMARK_CACHE", env["BENCHMARK_CACHE"])
    dry_run = [] if "--backbone" in args else ["--dry-run"]  # the backbone folder is checked before training
    status, err = main_in_process("run", "--config", config, "--results", results, *dry_run, *args)
    assert status == 2 and message in err


def test_a_bad_flag_in_a_new_process_is_one_line_without_traceback(tiny):
    """What the in-process checks above cannot see: the interpreter's own exit, with nothing but the line."""
    config, results, env = tiny
    result = cli("run", "--config", config, "--results", results, "--dry-run", "--losses", "dcgg", env=env)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: unknown loss 'dcgg'")


@pytest.mark.parametrize("content,message", [
    ("losses: [pairwise\nbits: 16", "is not valid YAML: line 2, column 5"),
    ("epoch: 3", "unknown key 'epoch' in config .*did you mean 'run.epochs'"),
    ("run: {optimizer: {head_rate: 0.1}}", "unknown key 'run.optimizer.head_rate' in config .*did you mean 'run.optimizer.head_lr'"),
    ("loss_params: {dcgh: {gama: 1}}", "loss_params.dcgh: unknown parameter 'gama'"),
    ("- just\n- a list", "must be a mapping"),
])
def test_bad_config_files(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        build_grid(load_config(str(path)))
    status, err = main_in_process("run", "--config", path, "--dry-run")
    assert status == 2 and err.count("\n") == 1 and err.startswith("error: ")


def test_shards_partition_the_whole_grid():
    specs = build_grid(load_config("default")).specs
    parts = [shard_of(specs, i, 4) for i in range(4)]
    ids = [{s.run_id for s in part} for part in parts]
    assert sum(map(len, ids)) == len(specs) == 135 + 108 and set().union(*ids) == {s.run_id for s in specs}


def test_slurm_array_environment(monkeypatch):
    assert slurm_array_shard() is None or "SLURM_ARRAY_TASK_ID" in os.environ
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "4")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "5")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "1")
    assert slurm_array_shard() == (3, 5)


def test_slurm_executor_without_submitit_says_what_to_install(tiny):
    if importlib.util.find_spec("submitit") is not None:
        pytest.skip("submitit is installed here: there is no missing package to report")
    config, results, env = tiny
    result = cli("run", "--config", config, "--results", results, "--executor", "slurm", env=env)
    assert result.returncode == 2 and "--executor slurm needs submitit: pip install" in result.stderr


def test_runs_keep_their_codes_and_export_and_diagnose_read_them(tiny):
    import numpy as np
    import scipy.io

    from benchmark.codes import read_codes

    config, results, env = tiny
    assert cli("run", "--config", config, "--results", results, "--quiet", env=env).returncode == 0
    for folder in (results / "runs").iterdir():
        assert {"record.json", "codes.npz", "continuous.npz", "state.npz"} <= {p.name for p in folder.iterdir()}
    run_id = sorted(p.name for p in (results / "runs").iterdir())[0]
    codes, labels = read_codes(results / "runs" / run_id)
    for fmt, load in (("mat", scipy.io.loadmat), ("npz", np.load)):
        out = results.parent / f"export.{fmt}"
        exported = cli("export", "--run", run_id[:-4], "--format", fmt, "--out", out, "--results", results)
        assert exported.returncode == 0, exported.stderr
        arrays = load(out)
        assert np.array_equal(arrays["q_img"], codes["query_image"]) and arrays["q_img"].dtype == np.float32
        assert np.array_equal(arrays["r_txt"], codes["retrieval_text"])
        assert np.array_equal(arrays["r_l"], labels["retrieval_labels"])
    ambiguous = cli("export", "--run", "synth", "--results", results)
    assert ambiguous.returncode == 2 and "must name one finished run" in ambiguous.stderr
    diagnosed = cli("diagnose", "--results", results)
    assert diagnosed.returncode == 0 and "recomputed the diagnostics of 2 runs" in diagnosed.stdout


PLUGIN = '''
import losses
from losses import HashingLoss, LossOutput


@losses.register("plugin-align")
class PluginAlign(HashingLoss):
    """Pulls each image code toward its text code."""

    def forward(self, img, txt, labels):
        return LossOutput.from_terms({"align": (img - txt).pow(2).mean()})
'''


def test_plugins_register_losses_for_the_grid_and_its_workers(tiny):
    config, results, env = tiny
    (results.parent / "myplugin.py").write_text(PLUGIN)
    env = {**env, "PYTHONPATH": str(results.parent)}
    listed = cli("list", "losses", "--plugins", "myplugin", env=env)
    assert listed.returncode == 0 and "plugin-align" in listed.stdout
    result = cli("run", "--config", config, "--results", results, "--quiet", "--plugins", "myplugin", "--losses",
                 "plugin-align", "--workers", "2", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 of 1 runs done" in result.stdout
    missing = cli("run", "--config", config, "--dry-run", "--plugins", "nowhere.plugin", env=env)
    assert missing.returncode == 2 and "cannot import plugin module 'nowhere.plugin'" in missing.stderr


def test_dry_run_warns_about_a_missing_backbone_folder_and_dataset_files(tmp_path):
    result = cli("run", "--config", "paper", "--backbone", tmp_path / "clip", "--data-root", tmp_path / "data",
                 "--dry-run", "--results", tmp_path / "results")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 4 and "has no config.json" in warnings[0]
    assert f"coco: {tmp_path / 'data' / 'coco'} lacks index.mat, label.mat, caption.mat" in result.stdout


def test_a_redirected_log_gets_plain_lines_not_progress_bars(tiny):
    config, results, env = tiny
    result = cli("run", "--config", config, "--results", results, env=env)  # no --quiet; stderr is a pipe
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "%|" not in result.stderr, result.stderr[-500:]
    assert sum(line.startswith("done ") for line in result.stdout.splitlines()) == 2


def test_tensorboard_logs_each_epoch_of_each_run(tiny):
    pytest.importorskip("tensorboard", reason="the tensorboard extra (in dev) is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config, results, env = tiny
    result = cli("run", "--config", config, "--results", results, "--quiet", "--log", "tensorboard", "--losses",
                 "pairwise", env=env)
    assert result.returncode == 0, result.stderr
    (folder,) = (results / "runs").iterdir()
    events = EventAccumulator(str(folder / "tensorboard"))
    events.Reload()
    assert {"loss/total", "loss/inter", "validation/map_i2t", "validation/map"} <= set(events.Tags()["scalars"])
    record = json.loads((folder / "record.json").read_text())
    logged = [e.value for e in events.Scalars("validation/map")]
    assert logged == pytest.approx([h["val_map"] for h in record["history"]], rel=1e-6)
