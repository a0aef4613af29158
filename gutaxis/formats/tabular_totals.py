"""Any CSV, TSV or Parquet file of one row per participant-day: a `columns` map (participant_id,
recall_day, optional recall_status and the dietary weights wt_day1, wt_two_day) and a `reported` map (component id -> column), read with the
tabular reader's machinery (delimiter sniffing, row-shape checks, Parquet types)."""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis.dietary_weights import nhanes_weight_columns
from gutaxis.formats import REPORTED_PREFIX
from gutaxis.formats.tabular import base_columns, open_mapped, row_shape_columns
from gutaxis.formats.totals import WEIGHT_PREFIX, WEIGHTS, TotalsFile
from gutaxis.specs import CohortSpec


def read_file(path: Path, spec: CohortSpec) -> TotalsFile:
    """One file as a raw day-totals frame (gutaxis.formats.totals)."""
    keys = [c for c in ("participant_id", "recall_day", "recall_status", *WEIGHTS) if c in spec.columns]
    wanted = {**{c: spec.columns[c] for c in keys}, **{f"{REPORTED_PREFIX}{cid}": column for cid, column in spec.reported.items()}}
    records = open_mapped(path, spec, wanted)
    frame = records.frame
    # without a map, the NHANES weights of a re-saved NHANES file (gutaxis.dietary_weights)
    weights = {w: spec.columns[w] for w in WEIGHTS if w in spec.columns} or nhanes_weight_columns(frame.collect_schema().names())
    status = pl.col(wanted["recall_status"]) if "recall_status" in wanted else pl.lit(None, dtype=pl.String)
    raw = frame.select(
        *base_columns(path),
        pl.col(wanted["participant_id"]).alias("participant_id"),
        pl.col(wanted["recall_day"]).alias("recall_day"),
        status.alias("recall_status"),
        *row_shape_columns(frame),
        *(pl.col(column).alias(f"{WEIGHT_PREFIX}{w}") for w, column in weights.items()),
        *(pl.col(column).alias(name) for name, column in wanted.items() if name.startswith(REPORTED_PREFIX)),
    )
    return TotalsFile(raw, records.rows, {name: column for name, column in wanted.items() if name.startswith(REPORTED_PREFIX)},
                      weights)
