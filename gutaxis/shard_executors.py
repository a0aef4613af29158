"""Where shard tasks run: configuration, never code (docs/scale.md).

GUTAXIS_SHARD_EXECUTOR (or the `shards` resource's `executor` in Dagster run config):
- `processes:1` (default) or `processes[:K]`: K processes at a time on this machine (`processes`: one
  per core), a fresh one per shard, so the peak is the central process plus K shards' workers.
- `in-process`: one shard after the other in this process. No process start-up per shard (a few
  seconds of imports), but memory is not given back between shards: four 25 M-item shards peaked at
  13.2 GB in-process against 6.0 GB with processes:1 (docs/scale.md "Measured"). For small shards and tests.
- `dask:ADDRESS` (or a bare `tcp://...` / `tls://...` address): the scheduler of an existing Dask
  `distributed` cluster, started however the site starts one (dask-jobqueue on SLURM/PBS,
  dask-kubernetes, `dask scheduler` + `dask worker` by hand). Dask reschedules the task of a lost
  worker itself (`distributed.scheduler.allowed-failures`); when that gives up, the step fails and
  Dagster's retry policy runs it again, reusing the shards already written.
"""
from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from gutaxis import GutaxisError

DEFAULT = "processes:1"
CONNECT_TIMEOUT = "30s"


def configured(executor: str | None = None) -> str:
    return (executor or os.environ.get("GUTAXIS_SHARD_EXECUTOR") or DEFAULT).strip()


def dask_address(executor: str) -> str | None:
    if executor.startswith("dask:"):
        return executor.removeprefix("dask:")
    if executor.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        return executor
    return None


def map_shards(run: Callable, tasks: list, executor: str) -> list:
    """run(task) for every task on the configured executor, results in the tasks' order."""
    address = dask_address(executor)
    if address is not None:
        return _on_dask(run, tasks, address)
    kind, _, count = executor.partition(":")
    if kind == "in-process":
        return [run(task) for task in tasks]
    if kind == "processes":
        try:
            workers = int(count) if count else (os.cpu_count() or 1)
        except ValueError:
            workers = 0
        if workers < 1:
            raise GutaxisError(f"GUTAXIS_SHARD_EXECUTOR: {executor!r}: give processes:K with K a whole number >= 1")
        # spawn, not fork: a forked child of a process holding DuckDB's and polars' threads can deadlock.
        # One shard per process: a long-lived process that scans the input shard after shard keeps
        # ~15 MB more per shard (measured at a 20 M-row input, docs/scale.md); a fresh one costs ~2-4 s
        # of imports per shard and holds exactly one shard.
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks)) or 1, max_tasks_per_child=1,
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            return list(pool.map(run, tasks))
    raise GutaxisError(f"GUTAXIS_SHARD_EXECUTOR: unknown executor {executor!r}; use in-process, processes[:K], "
                       "or dask:ADDRESS (the scheduler of a Dask distributed cluster, e.g. dask:tcp://10.0.0.5:8786)")


def _on_dask(run: Callable, tasks: list, address: str) -> list:
    try:
        from distributed import Client
    except ImportError:
        raise GutaxisError("GUTAXIS_SHARD_EXECUTOR names a Dask scheduler, but the distributed package is not installed; "
                           "install requirements.lock (dask and distributed 2026.8.0)") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except OSError as exc:
        raise GutaxisError(f"GUTAXIS_SHARD_EXECUTOR: cannot reach the Dask scheduler at {address} ({exc}); "
                           "start the cluster or fix the address") from None
    with client:
        # a fresh key per attempt: a retried step must not pick up the futures of the attempt it replaces
        attempt = uuid.uuid4().hex[:8]
        futures = client.map(run, tasks, key=[f"gutaxis-shard-{t.cohort}-{t.shard}-{attempt}" for t in tasks], pure=False)
        return client.gather(futures)
