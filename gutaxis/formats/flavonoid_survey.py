"""Reader for USDA "Flavonoid Values for Survey Foods and Beverages 2017-2018" (per FNDDS food code).

The release (Sebastian, Martin, Goldman & Moshfegh 2022, USDA ARS Food Surveys Research Group)
gives, per 100 g of each of the ~7,000 FNDDS 2017-2018 foods, 29 flavonoids in 6 classes
(anthocyanidins, flavan-3-ols, flavanones, flavones, flavonols, isoflavones), a catechin subtotal
and total flavonoids, as an Excel workbook. The layout is read the way FSRG lays out its FNDDS
"At A Glance" workbooks: optional title rows, then a header row whose first cell is "Food code",
then one row per food. Columns are found by name, never by position: "Food code", "Main food
description" (optional) and either the class totals ("Total anthocyanidins", "Total flavan-3-ols",
"Total flavonoids", any of "(mg)"/"mg/100 g" suffixes) or, when a total is absent, the compounds
of that class, which are summed. The exact file name and column labels of the 2017-2018 workbook
could not be checked against a copy here: a workbook that differs gets a one-line error naming
the column it lacks.
"""
from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from gutaxis import GutaxisError
from gutaxis.formats.workbook import header_sheet

CODE_COLUMN = "food code"
DESCRIPTION_COLUMNS = ("main food description", "food description", "description")

ANTHOCYANIDINS = ("cyanidin", "delphinidin", "malvidin", "pelargonidin", "peonidin", "petunidin")
FLAVAN3OLS = ("(-)-epicatechin", "(-)-epicatechin 3-gallate", "(-)-epigallocatechin",
              "(-)-epigallocatechin 3-gallate", "(+)-catechin", "(+)-gallocatechin", "theaflavin",
              "theaflavin-3,3'-digallate", "theaflavin-3'-gallate", "theaflavin-3-gallate", "thearubigins")
FLAVANONES = ("eriodictyol", "hesperetin", "naringenin")
FLAVONES = ("apigenin", "luteolin")
FLAVONOLS = ("isorhamnetin", "kaempferol", "myricetin", "quercetin")
ISOFLAVONES = ("daidzein", "genistein", "glycitein")
COMPOUNDS = ANTHOCYANIDINS + FLAVAN3OLS + FLAVANONES + FLAVONES + FLAVONOLS + ISOFLAVONES  # 29

CLASS_TOTALS = {
    "anthocyanidins": ("total anthocyanidins", ANTHOCYANIDINS),
    "flavan3ols": ("total flavan-3-ols", FLAVAN3OLS),
    "flavonoids_total": ("total flavonoids", COMPOUNDS),
}
UNIT_SUFFIX = re.compile(r"\s*\((mg|mg/100 ?g)\)\s*$|\s*,?\s*mg(/100 ?g)?\s*$", re.IGNORECASE)


def read(path: Path) -> pl.DataFrame:
    """food_code (8 digits), description, component_id (flavonoids_total | flavan3ols | anthocyanidins), amount_per_100g (mg)."""
    path = Path(path)
    table, first_row = _sheet(path)
    columns = {_key(c): c for c in table.columns}
    if CODE_COLUMN not in columns:
        raise GutaxisError(f"{path}: no 'Food code' column; give the USDA Flavonoid Values for Survey Foods workbook")
    description = next((columns[k] for k in DESCRIPTION_COLUMNS if k in columns), None)
    codes = table[columns[CODE_COLUMN]].cast(pl.String).str.strip_chars().str.replace(r"\.0+$", "")
    table = table.with_row_index("row", offset=first_row).with_columns(codes.alias("food_code"))
    table = table.filter(pl.col("food_code").is_not_null() & (pl.col("food_code") != ""))
    bad = table.filter(~pl.col("food_code").str.contains(r"^\d{8}$"))
    if bad.height:
        row = bad.row(0, named=True)
        raise GutaxisError(f"{path}: row {row['row']}: food code {row['food_code']!r} is not an 8-digit FNDDS code")
    out = {"food_code": pl.col("food_code"),
           "description": pl.col(description).cast(pl.String) if description else pl.lit(None, pl.String)}
    for component, (total_name, compounds) in CLASS_TOTALS.items():
        if total_name in columns:
            out[component] = _number(table, path, columns[total_name])
            continue
        missing = [c for c in compounds if c not in columns]
        if missing:
            raise GutaxisError(f"{path}: neither {total_name!r} nor the compound {missing[0]!r} found; "
                               "this is not the survey flavonoid workbook (or its columns were renamed)")
        out[component] = pl.sum_horizontal([_number(table, path, columns[c]) for c in compounds])
    wide = table.select(**out)
    return (
        wide.unpivot(index=["food_code", "description"], variable_name="component_id", value_name="amount_per_100g")
        .drop_nulls("amount_per_100g")
        .with_columns(pl.col("amount_per_100g").round(4))
        .sort("food_code", "component_id")
    )


def _key(header: str) -> str:
    text = " ".join(str(header).replace("\u2019", "'").split()).lower()
    return UNIT_SUFFIX.sub("", text).strip()


def _number(table: pl.DataFrame, path: Path, column: str) -> pl.Series:
    values = table[column].cast(pl.Float64, strict=False)
    bad = table.filter(values.is_null() & table[column].is_not_null() & (table[column].cast(pl.String) != ""))
    if bad.height:
        row = bad.row(0, named=True)
        raise GutaxisError(f"{path}: row {row['row']}: column {column!r} is {row[column]!r}, not a number")
    return values


def _sheet(path: Path) -> tuple[pl.DataFrame, int]:
    """The first sheet whose first 10 rows hold a 'Food code' header, from that row on; and its first data row (1-based)."""
    return header_sheet(path, lambda cell: _key(cell) == CODE_COLUMN, rows=10,
                        fetch_hint="gutaxis fetch usda-flavonoid-survey-2017-2018 --from PATH", header="'Food code'",
                        give="the USDA Flavonoid Values for Survey Foods and Beverages 2017-2018 workbook")
