"""NHANES per-day totals: DR1TOT_x / DR2TOT_x (nutrients, XPT) and FPED's fped_dr1tot_* / fped_dr2tot_*
(food-pattern equivalents, SAS7BDAT or CSV), one row per participant and recall day.

The recall day (1 or 2) comes from the DR1/DR2 prefix of the status column DRxDRSTZ, checked
against the file name. Nutrient totals are DRxT<suffix> (DR1TKCAL ...; the NHANES DR1TOT
codebook's names), FPED totals DRxT_<FPED name> (DR1T_F_TOTAL ...). The dietary weights the file
carries (WTDRD1/WTDR2D, or WTDRD1PP/WTDR2DPP in the 2017-March 2020 pre-pandemic files) are
passed on for the participants table. A cohort naming both a nutrient and an FPED file of the same
days gets them joined per participant-day (gutaxis.nhanes_tot_join).
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis import GutaxisError
from gutaxis.dietary_weights import NHANES_WEIGHT_VARIABLES, nhanes_weight_columns
from gutaxis.components.food_groups import FPED_GROUPS
from gutaxis.formats import REPORTED_PREFIX
from gutaxis.formats.nhanes_iff import OMEGA3_SUFFIXES, REPORTED_SUFFIXES, day_of_file, is_xpt, read_sas
from gutaxis.formats.tabular import (base_columns, checked_rows, missing_column_error, omega3_total,
                                     open_text, row_shape_columns)
from gutaxis.formats.totals import WEIGHT_PREFIX, TotalsFile
from gutaxis.specs import CohortSpec

SAS7BDAT_MAGIC_OFFSET = 32  # a SAS7BDAT file starts with 32 bytes of its magic number
SAS7BDAT_SUFFIX = ".sas7bdat"
FIX = ("give an NHANES DR1TOT/DR2TOT or FPED fped_dr1tot/fped_dr2tot file with its original column names "
       "(SEQN, DRxDRSTZ, DRxTKCAL ... or DRxT_F_TOTAL ...), or use format: tabular-totals with a columns map")


def recall_day(path: Path, columns: list[str]) -> int:
    """1 or 2, from the status column's prefix, checked against a DR1TOT/DR2TOT file name."""
    return day_of_file(path, columns, "DRSTZ", "TOT", FIX)


def component_columns(day: int) -> dict[str, str]:
    """component_id -> the day's totals column: nutrients DRxT<suffix>, FPED groups DRxT_<name>."""
    return {**{cid: f"DR{day}T{suffix}" for cid, suffix in REPORTED_SUFFIXES.items()},
            **{cid: f"DR{day}T_{name}" for cid, name in FPED_GROUPS.items()}}


def _is_sas7bdat(path: Path) -> bool:
    return path.suffix.lower() == SAS7BDAT_SUFFIX


def _wanted(day: int, columns: list[str]) -> list[str]:
    candidates = ["SEQN", f"DR{day}DRSTZ", *component_columns(day).values(),
                  *(f"DR{day}T{s}" for s in OMEGA3_SUFFIXES), *(v for vs in NHANES_WEIGHT_VARIABLES.values() for v in vs)]
    return [c for c in dict.fromkeys(candidates) if c in columns]


def read_file(path: Path, spec: CohortSpec) -> TotalsFile:
    """One NHANES or FPED per-day totals file as a raw day-totals frame (gutaxis.formats.totals)."""
    if is_xpt(path) or _is_sas7bdat(path):
        frame, columns, rows = read_sas(path, lambda names: _wanted(recall_day(path, names), names))
        numeric = True
    else:
        text = open_text(path, spec.delimiter)
        frame, columns = text.frame, text.columns
        numeric = False
    day = recall_day(path, columns)
    if "SEQN" not in columns:
        raise missing_column_error(path, "SEQN", columns, FIX)
    reported = {f"{REPORTED_PREFIX}{cid}": column for cid, column in component_columns(day).items() if column in columns}
    exprs = {name: pl.col(column) for name, column in reported.items()}
    omega3_parts = [f"DR{day}T{s}" for s in OMEGA3_SUFFIXES]
    if all(p in columns for p in omega3_parts):
        exprs[f"{REPORTED_PREFIX}omega3_total"] = omega3_total(omega3_parts, numeric=numeric)
        reported[f"{REPORTED_PREFIX}omega3_total"] = " + ".join(omega3_parts)
    if not reported:
        raise GutaxisError(f"{path}: no totals column found (looked for DR{day}TKCAL, DR{day}TFIBE, ..., "
                           f"DR{day}T_F_TOTAL, ...); {FIX}")
    weights = nhanes_weight_columns(columns)
    if not numeric:
        used = ["SEQN", f"DR{day}DRSTZ", *(c for c in reported.values() if c in columns), *omega3_parts, *weights.values()]
        checked = checked_rows(text, [c for c in used if c in columns])
        frame, rows = checked.frame, checked.rows
    raw = frame.select(
        *base_columns(path),
        pl.col("SEQN").alias("participant_id"),
        pl.lit(day, dtype=pl.Int32).alias("recall_day"),
        pl.col(f"DR{day}DRSTZ").alias("recall_status"),
        *row_shape_columns(frame),
        *(expr.alias(name) for name, expr in exprs.items()),
        *(pl.col(variable).alias(f"{WEIGHT_PREFIX}{canonical}") for canonical, variable in weights.items()),
    )
    return TotalsFile(raw, rows, reported, weights)
