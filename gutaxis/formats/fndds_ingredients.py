"""Reader for the FNDDS "At A Glance - FNDDS Ingredients" table: each food code's recipe.

Accepted layouts: the official xlsx (row 1 a title, row 2 the header) and the same table as CSV
(one header row; codes may be printed as floats, `11300100.0`, `14091.0`). Columns used:
Food code, Main food description, Seq num, Ingredient code, Ingredient description, Ingredient
weight (g), Retention code, Moisture change (%). An ingredient code below 10,000,000 is an SR
(Legacy) NDB number, kept as 5-digit text; from 10,000,000 up it is another FNDDS food code (8
digits), whose own recipe applies.
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis import GutaxisError
from gutaxis.formats.workbook import header_sheet, pick_columns, read_csv_table

OFFICIAL_XLSX = "2017-2018 FNDDS At A Glance - FNDDS Ingredients.xlsx"
FIRST_FNDDS_CODE = 10_000_000
# Header (matched whitespace-normalised and case-insensitively) -> canonical column.
COLUMNS = {
    "Food code": "food_code",
    "Main food description": "description",
    "Seq num": "seq_num",
    "Ingredient code": "ingredient_code",
    "Ingredient description": "ingredient_description",
    "Ingredient weight (g)": "ingredient_grams",
    "Retention code": "retention_code",
    "Moisture change (%)": "moisture_change_pct",
}
OPTIONAL = ("description", "seq_num", "ingredient_description", "retention_code", "moisture_change_pct")
SCHEMA = {
    "food_code": pl.String, "description": pl.String, "seq_num": pl.Int64, "ingredient_code": pl.String,
    "ingredient_kind": pl.String, "ingredient_description": pl.String, "ingredient_grams": pl.Float64,
    "retention_code": pl.Int64, "moisture_change_pct": pl.Float64,
}


def ingredients_file(folder: Path) -> Path | None:
    """The official xlsx in the folder, else a CSV of the table (`*ingredients*.csv`); None if neither."""
    folder = Path(folder)
    if (folder / OFFICIAL_XLSX).is_file():
        return folder / OFFICIAL_XLSX
    candidates = sorted(p for p in folder.glob("*") if p.is_file() and "ingredients" in p.name.lower()
                        and p.suffix.lower() in (".xlsx", ".csv"))
    candidates.sort(key=lambda p: p.suffix.lower() != ".xlsx")
    return candidates[0] if candidates else None


def read(path: Path) -> pl.DataFrame:
    """One recipe row per ingredient, typed (see SCHEMA).

    ingredient_kind is 'sr' or 'fndds'; retention_code 0 (none) becomes null; a missing moisture
    change is 0.
    """
    path = Path(path)
    raw, first_row = _read_xlsx(path) if path.suffix.lower() == ".xlsx" else read_csv_table(path, infer=False)
    table = pick_columns(raw, path, COLUMNS, optional=OPTIONAL,
                         not_this=f"this is not an FNDDS Ingredients table, give the official {OFFICIAL_XLSX!r} "
                                  "(or the same table as CSV)").with_row_index("row", offset=first_row)

    food_code = _code_text(table, "food_code", path)
    ingredient = _code_text(table, "ingredient_code", path)
    grams = _number(table, "ingredient_grams", path)
    table = table.with_columns(
        food_code=food_code, ingredient_code=ingredient, ingredient_grams=grams,
        seq_num=_number(table, "seq_num", path).cast(pl.Int64),
        retention_code=_number(table, "retention_code", path).cast(pl.Int64),
        moisture_change_pct=_number(table, "moisture_change_pct", path).fill_null(0.0),
    )
    _check(table, path)
    is_fndds = pl.col("ingredient_code").cast(pl.Int64) >= FIRST_FNDDS_CODE
    return table.select(
        food_code=pl.col("food_code").str.zfill(8),
        description=pl.col("description").cast(pl.String),
        seq_num="seq_num",
        ingredient_code=pl.when(is_fndds).then(pl.col("ingredient_code").str.zfill(8))
        .otherwise(pl.col("ingredient_code").str.zfill(5)),
        ingredient_kind=pl.when(is_fndds).then(pl.lit("fndds")).otherwise(pl.lit("sr")),
        ingredient_description=pl.col("ingredient_description").cast(pl.String),
        ingredient_grams="ingredient_grams",
        retention_code=pl.when(pl.col("retention_code") == 0).then(None).otherwise(pl.col("retention_code")),
        moisture_change_pct="moisture_change_pct",
    ).cast(SCHEMA)


def _check(table: pl.DataFrame, path: Path) -> None:
    rules = [
        (pl.col("food_code").str.len_chars() != 8, "Food code", "an 8-digit FNDDS food code"),
        (pl.col("ingredient_grams").is_null() | (pl.col("ingredient_grams") < 0), "Ingredient weight (g)",
         "a weight in grams >= 0"),
        (pl.col("moisture_change_pct") <= -100, "Moisture change (%)", "a change above -100 %"),
    ]
    for bad, column, expected in rules:
        rows = table.filter(bad.fill_null(True))
        if rows.height:
            row = rows.row(0, named=True)
            raise GutaxisError(f"{path}: row {row['row']}: {column!r} does not hold {expected}; fix or remove that row")


def _code_text(table: pl.DataFrame, name: str, path: Path) -> pl.Series:
    """Digits of a code printed as text, integer or float (`11300100.0`)."""
    text = table[name].cast(pl.String).str.strip_chars().str.replace(r"\.0*$", "")
    _reject(table.filter(~text.str.contains(r"^\d{1,8}$").fill_null(False)), name, path,
            "not a food or SR code; fix or remove that row")
    return text.alias(name)


def _number(table: pl.DataFrame, name: str, path: Path) -> pl.Series:
    column = table[name]
    values = column.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    _reject(table.filter(values.is_null() & column.is_not_null() & (column.cast(pl.String).str.strip_chars() != "")),
            name, path, "not a number; fix the value or leave the cell empty")
    return values.alias(name)


def _reject(bad: pl.DataFrame, name: str, path: Path, problem: str) -> None:
    """Fail on the first bad row: `{path}: row N: 'Header' is <value>, {problem}`."""
    if bad.height:
        row = bad.row(0, named=True)
        header = next(h for h, n in COLUMNS.items() if n == name)
        raise GutaxisError(f"{path}: row {row['row']}: {header!r} is {row[name]!r}, {problem}")


def _read_xlsx(path: Path) -> tuple[pl.DataFrame, int]:
    """The sheet from its header row on (the official file has a title row), and the first data row's number."""
    return header_sheet(path, lambda cell: " ".join(cell.split()).casefold() == "food code", rows=10,
                        fetch_hint="gutaxis fetch fndds-ingredients-2017-2018", header="'Food code'",
                        give=f"the official {OFFICIAL_XLSX!r}")
