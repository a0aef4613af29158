"""Any CSV, TSV or Parquet file of one row per participant-day: a `columns` map (participant_id,
recall_day, optional recall_status and the dietary weights wt_day1, wt_two_day) and a `reported` map (component id -> column), read with the
tabular reader's machinery (delimiter sniffing, row-shape checks, Parquet types)."""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis.formats import REPORTED_PREFIX
from gutaxis.formats.tabular import (PARQUET_SUFFIXES, ROW_INDEX, base_columns, checked_rows, missing_column_error,
                                     open_text, refuse_unusable_types, row_shape_columns)
from gutaxis.formats.totals import WEIGHT_PREFIX, WEIGHTS, TotalsFile
from gutaxis.specs import CohortSpec


def read_file(path: Path, spec: CohortSpec) -> TotalsFile:
    """One file as a raw day-totals frame (gutaxis.formats.totals)."""
    wanted = {c: spec.columns[c] for c in ("participant_id", "recall_day", "recall_status") if c in spec.columns}
    weights = {w: spec.columns[w] for w in WEIGHTS if w in spec.columns}
    wanted.update({f"{WEIGHT_PREFIX}{w}": column for w, column in weights.items()})
    wanted.update({f"{REPORTED_PREFIX}{cid}": column for cid, column in spec.reported.items()})
    key = {canonical: f"columns.{canonical.removeprefix(WEIGHT_PREFIX)}" if canonical.removeprefix(WEIGHT_PREFIX) in spec.columns
           else f"reported.{canonical.removeprefix(REPORTED_PREFIX)}" for canonical in wanted}
    parquet = path.suffix.lower() in PARQUET_SUFFIXES
    if parquet:
        frame = pl.scan_parquet(path, row_index_name=ROW_INDEX, row_index_offset=1, glob=False)
        available = frame.collect_schema().names()
    else:
        text = open_text(path, spec.delimiter)
        frame, available = text.frame, text.columns
    for canonical, column in wanted.items():
        if column not in available:
            raise missing_column_error(path, column, available, f"fix {key[canonical]} in the cohort spec to name a column of the file")
    if parquet:
        refuse_unusable_types(path, frame.collect_schema(), wanted, key)
    else:
        frame = checked_rows(text, wanted.values()).frame
    status = pl.col(wanted["recall_status"]) if "recall_status" in wanted else pl.lit(None, dtype=pl.String)
    raw = frame.select(
        *base_columns(path),
        pl.col(wanted["participant_id"]).alias("participant_id"),
        pl.col(wanted["recall_day"]).alias("recall_day"),
        status.alias("recall_status"),
        *row_shape_columns(frame),
        *(pl.col(column).alias(name) for name, column in wanted.items() if name.startswith((REPORTED_PREFIX, WEIGHT_PREFIX))),
    )
    return TotalsFile(raw, {name: column for name, column in wanted.items() if name.startswith(REPORTED_PREFIX)}, weights)
