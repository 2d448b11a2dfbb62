"""The thread policy: small work on one thread whatever the process's setting, so results do not depend on the
machine's cores; workers and threads planned from the cores."""
from __future__ import annotations

import torch

from benchmark import data
from benchmark.backbones import synthetic_backbone
from benchmark.threads import plan_workers, torch_threads
from methods import folder_hash


def test_the_synthetic_backbone_does_not_depend_on_the_thread_count(tmp_path):
    ds = data.load("synth-nuswide", root=tmp_path, size=300)
    split = data.load_or_create_split(ds, data.SplitSettings(query_size=30, train_size=160), tmp_path)
    hashes = []
    for threads in (2, 1):
        with torch_threads(threads):
            folder = synthetic_backbone(ds, split, tmp_path / f"cache{threads}", steps=8, progress=False)
            assert torch.get_num_threads() == threads  # restored after pretraining
        hashes.append(folder_hash(folder))
    assert hashes[0] == hashes[1]


def test_workers_and_threads_are_planned_from_the_cores(monkeypatch):
    monkeypatch.setattr("benchmark.threads.available_cores", lambda: 8)
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert plan_workers(None, None, 100, cpu) == (8, 1)
    assert plan_workers(None, None, 3, cpu) == (3, 2)      # no more workers than runs
    assert plan_workers(2, None, 100, cpu) == (2, 4)       # each worker its share of the cores
    assert plan_workers(None, 3, 100, cpu) == (8, 3)       # asked-for threads are kept
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert plan_workers(None, None, 100, gpu) == (1, 8)    # one worker shares the GPU
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    assert plan_workers(None, None, 100, gpu) == (3, 2)    # one worker per GPU, each its share of the cores
    assert plan_workers(None, None, 2, gpu) == (2, 4)      # no more workers than runs
    assert plan_workers(None, None, 100, torch.device("cuda:1")) == (1, 8)  # one GPU asked for: one worker


def test_the_thread_limit_covers_numpys_blas_and_is_restored():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas_threads()
    assert before, "numpy links a BLAS whose threads threadpoolctl sees"
    with torch_threads(1):
        assert blas_threads() == [1] * len(before)
        assert torch.get_num_threads() == 1
    assert blas_threads() == before
