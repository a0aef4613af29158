"""The warehouse resource: where the DuckDB file is, opened with the one-writer lock."""
from contextlib import contextmanager
from typing import Iterator

import dagster as dg
import duckdb

from gutaxis import shard_executors, warehouse


class WarehouseResource(dg.ConfigurableResource):
    """Path of the DuckDB warehouse (default: $GUTAXIS_WAREHOUSE or data/warehouse.duckdb)."""

    path: str = ""

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.open_writer(self.path or None) as conn:
            yield conn


class ShardsResource(dg.ConfigurableResource):
    """Where a sharded cohort's shards run (gutaxis.shard_executors): in-process, processes[:K] or
    dask:ADDRESS; default $GUTAXIS_SHARD_EXECUTOR, else processes:1. Set it in run config
    (resources: {shards: {config: {executor: dask:tcp://scheduler:8786}}}) or the environment."""

    executor: str = ""

    def resolved(self) -> str:
        return shard_executors.configured(self.executor or None)
