"""The environment a record states: the CPU's model and instruction set, which decide bit-for-bit agreement."""
from __future__ import annotations

import platform

import torch

from benchmark.config import load_config
from benchmark.environment import cpu_model, environment
from benchmark.report import build_report
from benchmark.store import RunStore
from tests.fake_records import write_record


def test_the_cpu_model_is_read_from_cpuinfo_and_falls_back_to_platform(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14 96-Core Processor\n"
                       "processor\t: 1\nmodel name\t: AMD EPYC 9R14 96-Core Processor\n")
    assert cpu_model(cpuinfo) == "AMD EPYC 9R14 96-Core Processor"
    cpuinfo.write_text("processor\t: 0\nmodel name\t:\n")  # an empty model name says nothing
    assert cpu_model(cpuinfo) == (platform.processor() or platform.machine())
    assert cpu_model(tmp_path / "absent") == (platform.processor() or platform.machine())


def test_a_record_states_the_instruction_set_of_torchs_kernels():
    env = environment(torch.device("cpu"))
    assert env["cpu_capability"] == torch.backends.cpu.get_cpu_capability() and env["cpu_capability"]
    assert env["device_name"] == cpu_model()


def test_the_report_says_when_records_come_from_different_kinds_of_cpu(tmp_path):
    config = load_config("default", {"losses": ["pairwise", "triplet"], "datasets": ["synth-coco"], "bits": [16],
                                     "replicates": 2, "references": False})
    results = tmp_path / "results"
    for loss, value in (("pairwise", 0.5), ("triplet", 0.6)):
        for replicate in (0, 1):
            write_record(results, config, loss, "synth-coco", 16, replicate, value + replicate / 100)
    build_report(results, tmp_path / "same")
    index = (tmp_path / "same" / "README.md").read_text()
    assert "device_name x86_64" in index and "**Machines**" not in index

    store = RunStore(results)
    record = store.read_record(write_record(results, config, "triplet", "synth-coco", 16, 1, 0.61).run_id)
    record.environment.update(cpu_capability="AVX512")  # the same model, torch's kernels forced to another set
    store.write_record(record)
    build_report(results, tmp_path / "mixed")
    index = (tmp_path / "mixed" / "README.md").read_text()
    assert "device_name x86_64; cpu_capability AVX512" in index
    assert "these records come from 2 kinds of device (model, instruction set)" in index
