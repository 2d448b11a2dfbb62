"""The Slurm backend through submitit: one job array on a cluster, or submitit's local executor on this machine
(``execution.slurm.cluster: local``). A run that a live process or a queued job still has is never submitted
again; the caches the runs share are built first (here, or in one job)."""
from __future__ import annotations

import json
import shutil
import socket
import time
from dataclasses import replace
from pathlib import Path

from ..config import RunSpec
from ..errors import ConfigError
from ..files import write_json
from ..store import RunStore, describe_holder, pid_alive
from .base import Executor, Tally, Task, announce, register_executor, warn_missing_images
from .context import RunContext
from .outcome import Batch, Outcome
from .one_run import prepare_all, sharing_caches

#: Slurm job states of a job still queued or running (sacct's names).
IN_FLIGHT = {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "COMPLETING",
             "SUSPENDED", "RESIZING", "SIGNALING", "STAGE_OUT"}


def _slurm_available() -> bool:
    return shutil.which("sbatch") is not None


def _line_break(value, key: str) -> tuple[str, str] | None:
    """The key (dotted) and value of the first string in ``value`` (nested lists and dicts, keys too) holding a line
    break, or None."""
    if isinstance(value, str):
        return (key, value) if "\n" in value or "\r" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for name, item in items:
        found = _line_break(str(name), key) or _line_break(item, f"{key}.{name}")
        if found:
            return found
    return None


def slurm_executor(context: RunContext):
    """submitit's executor for ``execution.slurm`` (its cluster, limits and resources), checked before anything
    is built or submitted."""
    try:
        import submitit
    except ImportError:
        raise ConfigError("--executor slurm needs submitit: pip install 'xmhash-bench[slurm]' "
                          "(or pip install submitit), or run one shard per array task with --shard / "
                          "sbatch --array (see README)") from None
    config = context.execution.slurm
    if config.cluster == "slurm" and not _slurm_available():
        raise ConfigError("--executor slurm: there is no Slurm here (sbatch not found); submit from a machine of the "
                          "cluster, or run the same jobs on this machine through submitit's local executor with "
                          "--set execution.slurm.cluster=local, or use --executor local")
    broken = _line_break(config.partition, "partition") or _line_break(config.parameters, "parameters")
    if broken:
        raise ConfigError(f"execution.slurm.{broken[0]} holds a line break ({broken[1]!r}): each setting becomes a "
                          "line of the job script, so one with a line break would add lines to it; remove it")
    executor = submitit.AutoExecutor(folder=Path(context.results) / "slurm", cluster=config.cluster)
    parameters = {"name": "xmhash-bench", "timeout_min": config.timeout_min,
                  "slurm_array_parallelism": config.array_parallelism, "slurm_partition": config.partition,
                  "gpus_per_node": config.gpus_per_node, "cpus_per_task": config.cpus_per_task,
                  "mem_gb": config.mem_gb, **config.parameters}
    try:
        executor.update_parameters(**{k: v for k, v in parameters.items() if v is not None})
    except (ValueError, TypeError, AssertionError) as exc:
        raise ConfigError(f"execution.slurm: submitit refuses the parameters: {exc}") from None
    return executor


def _marker(unit: str) -> str:
    return "submitted.json" if unit == "run" else f"submitted-{unit}.json"


def _in_flight(store: RunStore, spec: RunSpec, marker: str) -> str | None:
    """Why ``spec`` must not be submitted again (a live process holds it, or its job is queued or running), or
    None."""
    holder = store.claim_holder(spec.run_id)
    if holder is not None:
        return f"being run by {describe_holder(holder)}"
    try:
        job = json.loads((store.folder(spec.run_id) / marker).read_text())
    except (OSError, ValueError):
        return None
    if job.get("cluster") == "local":
        alive = job.get("host") == socket.gethostname() and pid_alive(int(job["job_id"]))
        return f"submitit local job {job['job_id']} is running" if alive else None
    try:
        import submitit

        state = submitit.SlurmJob(folder=job["folder"], job_id=job["job_id"]).state
    except Exception:  # noqa: BLE001 - no sacct, an unknown job: the job cannot be found, so it is not in flight
        return None
    recent = time.time() - job.get("submitted", 0) < 600  # sacct may not list a job submitted a moment ago
    if state in IN_FLIGHT or (state == "UNKNOWN" and recent):
        return f"Slurm job {job['job_id']} is {state.lower()}"
    return None


def _mark_submitted(store: RunStore, spec: RunSpec, marker: str, cluster: str, job, folder: Path) -> None:
    write_json(store.folder(spec.run_id) / marker, {"cluster": cluster, "job_id": str(job.job_id),
                                                    "host": socket.gethostname(), "folder": str(folder),
                                                    "submitted": time.time()})


def _job_outcome(job, spec: RunSpec):
    """What the task returned in ``job``, or a failure saying why the job gave none (timeout, killed)."""
    try:
        return job.result()
    except Exception as exc:  # noqa: BLE001 - submitit raises its own errors for a failed or killed job
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Outcome(spec.run_id, "failed", error=f"job {job.job_id}: {first}")


@register_executor
class SubmititExecutor(Executor):
    """Tasks as jobs of submitit (``execution.slurm``): on Slurm one job array of at most ``array_parallelism``
    running jobs (waited for when ``wait``), or through submitit's local executor on this machine (always waited
    for, with the same limit)."""

    name = "slurm"

    def run(self, task: Task, specs: list[RunSpec], grid_id: str | None = None, unit: str = "run") -> Batch:
        context = self.context
        executor = slurm_executor(context)
        config, store, folder = context.execution.slurm, RunStore(context.results), Path(context.results) / "slurm"
        marker = _marker(unit)
        in_flight = [(spec, why) for spec in specs if (why := _in_flight(store, spec, marker))]
        busy = {spec.run_id for spec, _ in in_flight}
        specs = [spec for spec in specs if spec.run_id not in busy]
        batch = Batch(None, in_flight, f"nothing submitted: every pending {unit} is in flight", folder)
        if not specs:
            return batch
        shared = sharing_caches(specs)
        quiet = replace(context, progress=False)
        if config.prepare == "job":
            summaries = _job_outcome(executor.submit(prepare_all, shared, quiet), specs[0])
            if isinstance(summaries, Outcome):  # the preparation job failed
                raise ConfigError(f"the job building the shared caches failed: {summaries.error}")
        else:
            summaries = prepare_all(shared, context)
        for spec, summary in zip(shared, summaries):
            warn_missing_images(spec, summary)
        if config.cluster == "local":
            batch.outcomes, job_ids = self._run_here(executor, task, specs, quiet, grid_id, marker)
        else:
            jobs = executor.map_array(task, specs, [quiet] * len(specs), [grid_id] * len(specs))
            for spec, job in zip(specs, jobs):
                _mark_submitted(store, spec, marker, "slurm", job, folder)
            job_ids = [str(job.job_id) for job in jobs]
            if config.wait:
                batch.outcomes, tally = [], Tally(len(specs))
                for spec, job in zip(specs, jobs):
                    batch.outcomes.append(_job_outcome(job, spec))
                    announce(spec, batch.outcomes[-1], tally)
        batch.note = self._describe(job_ids, unit)
        return batch

    def _run_here(self, executor, task: Task, specs: list[RunSpec], context: RunContext, grid_id: str | None,
                  marker: str) -> tuple[list, list[str]]:
        """The jobs of submitit's local executor, at most ``array_parallelism`` at once, each waited for."""
        config, store = context.execution.slurm, RunStore(context.results)
        outcomes, job_ids, waiting, running = [], [], list(specs), {}
        tally = Tally(len(specs))
        try:
            while waiting or running:
                while waiting and len(running) < config.array_parallelism:
                    spec = waiting.pop(0)
                    job = executor.submit(task, spec, context, grid_id)
                    _mark_submitted(store, spec, marker, "local", job, Path(context.results) / "slurm")
                    job_ids.append(str(job.job_id))
                    running[job] = spec
                time.sleep(0.1)
                for job in [job for job in running if job.done()]:
                    spec = running.pop(job)
                    outcomes.append(_job_outcome(job, spec))
                    announce(spec, outcomes[-1], tally)
        except BaseException:  # Ctrl-C: the local jobs end too
            for job in running:
                job.cancel(check=False)
            raise
        return outcomes, job_ids

    def _describe(self, job_ids: list[str], unit: str) -> str:
        config = self.context.execution.slurm
        limits = (f"at most {config.array_parallelism} at once, {config.timeout_min} min each; logs in "
                  f"{Path(self.context.results) / 'slurm'}")
        units = "studies" if unit == "study" else f"{unit}s"
        if config.cluster == "slurm":
            return f"submitted {len(job_ids)} {units} as a Slurm job array {job_ids[0].split('_')[0]} ({limits})"
        return (f"ran {len(job_ids)} {units} through submitit's local executor (no Slurm: processes on this "
                f"machine, {limits})")
