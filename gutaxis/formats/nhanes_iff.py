"""NHANES individual foods files (DR1IFF_x / DR2IFF_x), as SAS transport (.XPT) or delimited text.

Columns keep their official names; the recall day (1 or 2) comes from the DR1I*/DR2I* prefix.
reported__omega3_total is ALA + EPA + DPA + DHA (DRxIP183 + P205 + P225 + P226), given only
when the file has all four columns and the item has all four values; otherwise the exposure
falls back to composition for that item. item_key is DRxILINE: a second row with the same
SEQN, day and line number is a duplicate (quarantined by gutaxis.diary_rules).
"""
from __future__ import annotations

import mmap
import re
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pyreadstat

from gutaxis import GutaxisError
from gutaxis.formats import REPORTED_PREFIX
from gutaxis.formats.tabular import (ROW_INDEX, Records, base_columns, checked_rows, concat_raw, missing_column_error,
                                     omega3_total, open_text, require_columns, row_shape_columns)
from gutaxis.specs import CohortSpec

# Version 5 (what NHANES publishes) says LIBRARY, version 8 LIBV8.
XPT_MAGIC = b"HEADER RECORD*******LIB"
XPT_RECORD = 80
XPT_OBS_HEADER = b"HEADER RECORD*******OBS"  # v5 "OBS     HEADER...", v8 "OBSV8   HEADER..."
XPT_MEMBER_HEADER = b"HEADER RECORD*******MEMB"  # v5 "MEMBER  HEADER...", v8 "MEMBV8  HEADER..."
# Some XPT readers turn an IBM-float zero into ~5.4e-79; no nutrient amount is that small.
XPT_ZERO_EPS = 1e-70
# component_id -> column suffix after DRxI
REPORTED_SUFFIXES = {"energy_kcal": "KCAL", "fiber": "FIBE", "choline": "CHL",
                     "omega3_ala": "P183", "omega3_epa": "P205", "omega3_dha": "P226",
                     "sodium": "SODI", "saturated_fat": "SFAT", "monounsaturated_fat": "MFAT", "polyunsaturated_fat": "PFAT",
                     "fat_total": "TFAT",
                     "protein": "PROT", "carbohydrate": "CARB", "cholesterol": "CHOL", "alcohol": "ALCO",
                     "caffeine": "CAFF", "vitamin_b12": "VB12", "vitamin_b6": "VB6", "beta_carotene": "BCAR",
                     "folic_acid": "FA", "iron": "IRON", "magnesium": "MAGN", "niacin": "NIAC", "riboflavin": "VB2",
                     "selenium": "SELE", "thiamin": "VB1", "vitamin_c": "VC", "vitamin_d": "VD", "vitamin_e": "ATOC",
                     "zinc": "ZINC"}
OMEGA3_SUFFIXES = ("P183", "P205", "P225", "P226")
FIX = ("give the official NHANES DR1IFF/DR2IFF file with its original column names "
       "(SEQN, DRxIFDCD, DRxIGRMS, DRxDRSTZ), or use format: tabular with a columns map")


def is_xpt(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(XPT_MAGIC)) == XPT_MAGIC


def recall_day(path: Path, columns: list[str]) -> int:
    """1 or 2, from the food-code column's prefix, checked against a DR1IFF/DR2IFF file name."""
    return day_of_file(path, columns, "IFDCD", "IFF", FIX)


def day_of_file(path: Path, columns: list[str], marker: str, kind: str, fix: str) -> int:
    """The recall day (1 or 2) of an NHANES dietary file: which of DR1<marker> / DR2<marker> its columns
    have, checked against a DR1<kind> / DR2<kind> file name (a renamed or mixed-up file is refused)."""
    names = {day: f"DR{day}{marker}" for day in (1, 2)}
    days = [day for day, name in names.items() if name in columns]
    if len(days) == 2:
        raise GutaxisError(f"{path}: has both {names[1]} and {names[2]} columns; give day 1 and day 2 as separate "
                           f"DR1{kind}/DR2{kind} files")
    if not days:
        raise missing_column_error(path, names[1], columns, fix, alternative=names[2])
    named = re.search(rf"DR([12]){kind}", path.name, re.IGNORECASE)
    if named and int(named.group(1)) != days[0]:
        raise GutaxisError(f"{path}: the file name says day {named.group(1)} but its columns are DR{days[0]}* ({names[days[0]]}); "
                           "rename the file or check that it is the right one")
    return days[0]


def read_sas(path: Path, wanted: Callable[[list[str]], list[str]]) -> tuple[pl.LazyFrame, list[str], int]:
    """An XPT (or SAS7BDAT) file: the columns wanted(its columns) names, SAS missing as null, XPT's
    near-zero floats as 0; its column names; and its rows as read (an XPT file's checked against its header)."""
    xpt = is_xpt(path)
    read = pyreadstat.read_xport if xpt else pyreadstat.read_sas7bdat
    _, meta = read(str(path), metadataonly=True)
    stated_rows = _check_not_cut_short(path, sum(meta.variable_storage_width.values())) if xpt else None
    columns = list(meta.column_names)
    data, _ = read(str(path), usecols=[c for c in wanted(columns) if c in columns])
    if stated_rows is not None and len(data) != stated_rows:
        raise _cut_short(path, f"{len(data):,} rows where its header states {stated_rows:,}")
    frame = pl.from_pandas(data, nan_to_null=True)  # SAS missing arrives as NaN
    if xpt:
        frame = frame.with_columns(pl.when(pl.col(c).abs() < XPT_ZERO_EPS).then(0.0).otherwise(pl.col(c)).alias(c)
                                   for c, dtype in frame.schema.items() if dtype.is_float())
    return frame.with_row_index(ROW_INDEX, offset=1).lazy(), columns, frame.height


def _check_not_cut_short(path: Path, row_width: int) -> int | None:
    """Refuse a transport file cut short (an interrupted download): pyreadstat reads up to where the
    bytes end and says nothing. SAS transport pads its data to whole 80-byte records with blanks,
    so a whole file is a multiple of 80 bytes, and what follows its last whole row is blanks. A
    cut at a row's end leaves neither trace: v8 files state their row count (returned, to be
    compared with the rows read); v5 files do not."""
    size = path.stat().st_size
    if size % XPT_RECORD:
        raise _cut_short(path, f"{size:,} bytes, not whole 80-byte records")
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as content:
        obs = content.find(XPT_OBS_HEADER)
        if obs < 0 or content.find(XPT_MEMBER_HEADER, obs) >= 0:
            return None  # no data, or several datasets: the first one's rows do not end the file
        data_start = obs + XPT_RECORD
        tail = content[size - (size - data_start) % row_width:] if row_width else b""
        stated = content[obs + 48:obs + 63].strip() if content[obs + 20:obs + 25] == b"OBSV8" else b""
    if tail.strip(b" "):
        raise _cut_short(path, "its last row incomplete")
    return int(stated) if stated.isdigit() else None


def _cut_short(path: Path, how: str) -> GutaxisError:
    return GutaxisError(f"{path}: the file is cut short ({how}); download or copy it again")


def _wanted_columns(day: int) -> list[str]:
    item = f"DR{day}I"
    return ["SEQN", f"{item}LINE", f"{item}FDCD", f"{item}GRMS", f"DR{day}DRSTZ",
            *(item + s for s in REPORTED_SUFFIXES.values()), *(item + s for s in OMEGA3_SUFFIXES)]


def read_file(path: Path, spec: CohortSpec) -> pl.LazyFrame:
    """One DR1IFF/DR2IFF file (XPT or text) as the raw diary frame, items in DRxILINE order."""
    return open_file(path, spec).frame


def open_file(path: Path, spec: CohortSpec) -> Records:
    """read_file's frame, and the data rows the file holds (an XPT file's rows as read: checked against its header)."""
    if is_xpt(path):
        frame, columns, rows = read_sas(path, lambda names: _wanted_columns(recall_day(path, names)))
        numeric = True
    else:
        text = open_text(path, spec.delimiter)
        frame, columns = text.frame, text.columns
        numeric = False
    day = recall_day(path, columns)
    item = f"DR{day}I"
    required = {"participant_id": "SEQN", "food_code": f"{item}FDCD", "grams": f"{item}GRMS",
                "recall_status": f"DR{day}DRSTZ"}
    require_columns(path, columns, ((column, FIX) for column in required.values()))
    reported = {f"{REPORTED_PREFIX}{cid}": pl.col(item + suffix)
                for cid, suffix in REPORTED_SUFFIXES.items() if item + suffix in columns}
    omega3_parts = [item + s for s in OMEGA3_SUFFIXES]
    if all(p in columns for p in omega3_parts):
        reported[f"{REPORTED_PREFIX}omega3_total"] = omega3_total(omega3_parts, numeric=numeric)
    line = f"{item}LINE"
    used = [*required.values(), *(item + s for s in (*REPORTED_SUFFIXES.values(), *OMEGA3_SUFFIXES))]
    if not numeric:
        checked = checked_rows(text, [c for c in [*used, line] if c in columns])
        frame, rows = checked.frame, checked.rows
    if line in columns:
        # Official files are already in SEQN, line order; re-saved ones may not be.
        key = [pl.col(c) if numeric else pl.col(c).str.strip_chars().cast(pl.Float64, strict=False) for c in ("SEQN", line)]
        frame = frame.sort(key, maintain_order=True, nulls_last=True)
    return Records(frame.select(
        *base_columns(path),
        pl.col(required["participant_id"]).alias("participant_id"),
        pl.lit(day, dtype=pl.Int32).alias("recall_day"),
        pl.col(required["food_code"]).alias("food_code"),
        pl.col(required["grams"]).alias("grams"),
        pl.col(required["recall_status"]).alias("recall_status"),
        pl.lit(None, dtype=pl.Null).alias("external_id"),  # Null dtype: this format has no external id
        # The instrument's item key within the recall: a repeat of SEQN + day + DRxILINE is a duplicate.
        *([pl.col(line).alias("item_key")] if line in columns else []),
        *row_shape_columns(frame),
        *(expr.alias(name) for name, expr in reported.items()),
    ), rows)


def read(spec: CohortSpec) -> pl.LazyFrame:
    return concat_raw([read_file(p, spec) for p in spec.data_files()])
