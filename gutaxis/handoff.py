"""Canonical items handed from a run's ingest to its exposures step when both run in one process.

`gutaxis run` executes a cohort's steps in one process (Dagster's in-process executor). Re-reading
100 M staged items out of DuckDB for the exposures (an export to Parquet and a scan) costs more
than keeping the ingest's frame: the exposures step takes it from here if it is here, and reads
the staged table otherwise (another process, a retried step). The staged table stays the record.
"""
from __future__ import annotations

import polars as pl

_frames: dict[tuple[str, str], pl.DataFrame] = {}


def put(cohort: str, run_key: str, items: pl.DataFrame) -> None:
    drop(cohort)  # one run of a cohort at a time: an earlier run's frame is stale
    _frames[(cohort, run_key)] = items


def take(cohort: str, run_key: str) -> pl.DataFrame | None:
    """The run's items, forgotten here (the caller holds the only reference), or None."""
    return _frames.pop((cohort, run_key), None)


def drop(cohort: str) -> None:
    for key in [k for k in _frames if k[0] == cohort]:
        del _frames[key]
