"""ASA24 researcher Totals files (CSV): one row per recall, the day's totals as ASA24 computed them.

The keys are those of the Items file (gutaxis.formats.asa24_items): participant_id = UserName,
recall_day = RecallNo, recall_status = RecallStatus (2 = complete), external_id = UserID. The
registry components the file carries are the Items file's nutrient columns (KCAL, FIBE, CHOLN:
CHOLE is cholesterol; P183, P205, P226, and omega3_total from P183 + P205 + P225 + P226) and the
FPED food-pattern equivalents, which ASA24 prints under their bare FPED names (F_TOTAL, D_YOGURT
...; NCI, ASA24 Researcher Data Dictionary, Totals file). Every other component is NULL.
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis import GutaxisError
from gutaxis.components.food_groups import FPED_GROUPS
from gutaxis.formats import REPORTED_PREFIX, asa24_items
from gutaxis.formats.tabular import (base_columns, checked_rows, omega3_total, open_text, require_columns,
                                     row_shape_columns)
from gutaxis.formats.totals import TotalsFile
from gutaxis.specs import CohortSpec

KEYS = ("participant_id", "recall_day", "recall_status")
REQUIRED = {canonical: asa24_items.REQUIRED[canonical] for canonical in KEYS}
# component_id -> the Totals column: the Items file's nutrients, then the FPED groups
REPORTED = {**asa24_items.REPORTED, **FPED_GROUPS}
EXTERNAL_ID = "UserID"
FIX = ("give the ASA24 researcher Totals file (…_Totals.csv) with its original column names, "
       "or use format: tabular-totals with a columns map")


def read_file(path: Path, spec: CohortSpec) -> TotalsFile:
    """One Totals file as a raw day-totals frame (gutaxis.formats.totals)."""
    text = open_text(path, spec.delimiter)
    columns = text.columns
    require_columns(path, columns, ((column, FIX) for column in REQUIRED.values()))
    origins = {f"{REPORTED_PREFIX}{cid}": column for cid, column in REPORTED.items() if column in columns}
    exprs = {name: pl.col(column) for name, column in origins.items()}
    parts = asa24_items.OMEGA3_PARTS
    if all(p in columns for p in parts):
        exprs[f"{REPORTED_PREFIX}omega3_total"] = omega3_total(parts, numeric=False)
        origins[f"{REPORTED_PREFIX}omega3_total"] = " + ".join(parts)
    if not origins:
        raise GutaxisError(f"{path}: no totals column found (looked for KCAL, FIBE, CHOLN, ..., F_TOTAL, D_YOGURT, ...); {FIX}")
    external = [pl.col(EXTERNAL_ID).alias("external_id")] if EXTERNAL_ID in columns else []
    used = [*REQUIRED.values(), *origins.values(), *parts, EXTERNAL_ID]
    checked = checked_rows(text, [c for c in dict.fromkeys(used) if c in columns])
    frame = checked.frame
    raw = frame.select(
        *base_columns(path),
        *(pl.col(column).alias(canonical) for canonical, column in REQUIRED.items()),
        *external,
        *row_shape_columns(frame),
        *(expr.alias(name) for name, expr in exprs.items()),
    )
    return TotalsFile(raw, checked.rows, origins)
