"""The warehouse resource: where the DuckDB file is, opened with the one-writer lock."""
from contextlib import contextmanager
from typing import Iterator

import dagster as dg
import duckdb

from gutaxis import warehouse


class WarehouseResource(dg.ConfigurableResource):
    """Path of the DuckDB warehouse (default: $GUTAXIS_WAREHOUSE or data/warehouse.duckdb)."""

    path: str = ""

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.open_writer(self.path or None) as conn:
            yield conn
