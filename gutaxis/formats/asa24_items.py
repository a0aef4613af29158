"""ASA24 researcher Items files (CSV): one row per food or supplement item of a recall.

participant_id = UserName (the researcher's id), external_id = UserID (ASA24's id). Choline is
CHOLN: CHOLE is cholesterol. reported__omega3_total = P183 + P205 + P225 + P226 when the file
has all four columns and the item all four values. item_key is RecallAttempt/CodeNum: a second
row with the same UserName, RecallNo and key is a duplicate (quarantined by gutaxis.diary_rules).
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis.formats import REPORTED_PREFIX
from gutaxis.formats.tabular import (Records, base_columns, checked_rows, concat_raw, omega3_total, open_text,
                                     require_columns, row_shape_columns)
from gutaxis.specs import CohortSpec

REQUIRED = {"participant_id": "UserName", "recall_day": "RecallNo", "food_code": "FoodCode",
            "grams": "FoodAmt", "recall_status": "RecallStatus"}
REPORTED = {"energy_kcal": "KCAL", "fiber": "FIBE", "choline": "CHOLN",
            "omega3_ala": "P183", "omega3_epa": "P205", "omega3_dha": "P226",
            "sodium": "SODI", "saturated_fat": "SFAT", "monounsaturated_fat": "MFAT", "polyunsaturated_fat": "PFAT",
            "fat_total": "TFAT",
            "protein": "PROT", "carbohydrate": "CARB", "cholesterol": "CHOLE", "alcohol": "ALC", "caffeine": "CAFF",
            "vitamin_b12": "VB12", "vitamin_b6": "VB6", "beta_carotene": "BCAR", "folic_acid": "FA", "iron": "IRON",
            "magnesium": "MAGN", "niacin": "NIAC", "riboflavin": "VB2", "selenium": "SELE", "thiamin": "VB1",
            "vitamin_c": "VC", "vitamin_d": "VITD", "vitamin_e": "ATOC", "zinc": "ZINC"}
OMEGA3_PARTS = ["P183", "P205", "P225", "P226"]
# The item key within a recall (UserName + RecallNo): CodeNum numbers the recall's food codes 1..n
# (FoodNum numbers the foods, and one food can carry several codes); RecallAttempt keeps a
# restarted recall's attempts apart.
ITEM_KEY = ("RecallAttempt", "CodeNum")
FIX = ("give the ASA24 researcher Items file (…_Items.csv) with its original column names, "
       "or use format: tabular with a columns map")


def read_file(path: Path, spec: CohortSpec) -> pl.LazyFrame:
    return open_file(path, spec).frame


def open_file(path: Path, spec: CohortSpec) -> Records:
    """The raw diary frame of one Items file, and the data rows the file holds."""
    text = open_text(path, spec.delimiter)
    columns = text.columns
    require_columns(path, columns, ((column, FIX) for column in REQUIRED.values()))
    used = [*REQUIRED.values(), *REPORTED.values(), *OMEGA3_PARTS, "UserID", *ITEM_KEY]
    checked = checked_rows(text, [c for c in used if c in columns])
    frame = checked.frame
    reported = {f"{REPORTED_PREFIX}{cid}": pl.col(col) for cid, col in REPORTED.items() if col in columns}
    if all(p in columns for p in OMEGA3_PARTS):
        reported[f"{REPORTED_PREFIX}omega3_total"] = omega3_total(OMEGA3_PARTS, numeric=False)
    external = pl.col("UserID") if "UserID" in columns else pl.lit(None, dtype=pl.Null)
    item_key = []
    if "CodeNum" in columns:
        # "attempt/code", each part without a printed ".0"; no key (no duplicate check) without CodeNum
        parts = [pl.col(c).str.strip_chars().str.replace(r"^(\d+)\.0*$", "${1}") for c in ITEM_KEY if c in columns]
        code = pl.col("CodeNum").str.strip_chars()
        item_key = [pl.when(code.is_not_null() & (code != "")).then(pl.concat_str(parts, separator="/", ignore_nulls=True))
                    .alias("item_key")]
    return Records(frame.select(
        *base_columns(path),
        *(pl.col(col).alias(canonical) for canonical, col in REQUIRED.items()),
        external.alias("external_id"),
        *item_key,
        *row_shape_columns(frame),
        *(expr.alias(name) for name, expr in reported.items()),
    ), checked.rows)


def read(spec: CohortSpec) -> pl.LazyFrame:
    return concat_raw([read_file(p, spec) for p in spec.data_files()])
