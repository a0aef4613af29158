"""Reader for the FDA Food Disaggregation Database (FDA-FDD) v3.1 all-records xlsx.

One row per (WWEIA food code, basic ingredient): Latest Survey, WWEIA Food Code, WWEIA Food
Description, Basic Ingredient Description, Ingredient Percent (percent of the food's weight; a
food's percents sum to 100 ± 0.4). Codes of every survey cycle since 2001 are there, each once,
with the survey that last used it.
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis import GutaxisError
from gutaxis.formats.workbook import pick_columns

OFFICIAL_XLSX = "FDA_FDD_All_Records_v_3.1.xlsx"
COLUMNS = {  # header (matched case-insensitively) -> canonical column
    "Latest Survey": "latest_survey",
    "WWEIA Food Code": "food_code",
    "WWEIA Food Description": "description",
    "Basic Ingredient Description": "basic_ingredient",
    "Ingredient Percent": "ingredient_percent",
}
SCHEMA = {"food_code": pl.String, "description": pl.String, "basic_ingredient": pl.String,
          "ingredient_percent": pl.Float64, "latest_survey": pl.String}


def fdd_file(folder: Path) -> Path | None:
    """The official xlsx in the folder, else another FDD all-records xlsx/CSV; None if neither."""
    folder = Path(folder)
    if (folder / OFFICIAL_XLSX).is_file():
        return folder / OFFICIAL_XLSX
    candidates = sorted(p for p in folder.glob("*") if p.is_file() and "fdd" in p.name.lower()
                        and "record" in p.name.lower() and p.suffix.lower() in (".xlsx", ".csv"))
    return candidates[0] if candidates else None


def read(path: Path) -> pl.DataFrame:
    """food_code (8-digit text), description, basic_ingredient, ingredient_percent, latest_survey."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        raw = pl.read_excel(path, infer_schema_length=0, drop_empty_rows=True)
    else:
        raw = pl.read_csv(path, infer_schema=False)
    table = pick_columns(raw, path, COLUMNS, optional=("latest_survey",),
                         not_this=f"this is not the FDA-FDD all-records table, give the official {OFFICIAL_XLSX!r}"
                         ).with_row_index("row", offset=2)
    code = table["food_code"].cast(pl.String).str.strip_chars().str.replace(r"\.0*$", "")
    percent = table["ingredient_percent"].cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    bad = table.filter(~code.str.contains(r"^\d{7,8}$").fill_null(False) | percent.is_null() | (percent < 0)
                       | table["basic_ingredient"].is_null())
    if bad.height:
        row = bad.row(0, named=True)
        raise GutaxisError(f"{path}: row {row['row']}: food code {row['food_code']!r}, ingredient "
                           f"{row['basic_ingredient']!r}, percent {row['ingredient_percent']!r}: expected an 8-digit "
                           "WWEIA food code, an ingredient and a percent >= 0; fix or remove that row")
    return table.select(
        food_code=code.str.zfill(8),
        description=pl.col("description").cast(pl.String),
        basic_ingredient=pl.col("basic_ingredient").cast(pl.String).str.strip_chars(),
        ingredient_percent=percent,
        latest_survey=pl.col("latest_survey").cast(pl.String),
    ).cast(SCHEMA)
