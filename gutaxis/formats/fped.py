"""Reader for the Food Patterns Equivalents Database (FPED) per FNDDS food code.

USDA's FPED workbooks (e.g. `FPED_1718.xls`, `FPED_1516.xls`) hold one row per food code with 37
USDA Food Patterns components per 100 g, headed `FOODCODE | DESCRIPTION | F_TOTAL (cup eq.) ...`.
Copies differ: column order changes between releases, some re-saves add a second header row of
short names (`F_CITMLB`) under the long ones and extra sheets (`Variable_labels`, `..._forR`).
So the sheet is the first one whose header starts with FOODCODE, a repeated header row is
skipped, and columns are matched by their short name (the text before " (").
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis import GutaxisError
from gutaxis.formats.workbook import header_sheet

CODE = "FOODCODE"
DESCRIPTION = "DESCRIPTION"
COMPONENTS = (
    "F_TOTAL", "F_CITMLB", "F_OTHER", "F_JUICE", "V_TOTAL", "V_DRKGR", "V_REDOR_TOTAL", "V_REDOR_TOMATO",
    "V_REDOR_OTHER", "V_STARCHY_TOTAL", "V_STARCHY_POTATO", "V_STARCHY_OTHER", "V_OTHER", "V_LEGUMES",
    "G_TOTAL", "G_WHOLE", "G_REFINED", "PF_TOTAL", "PF_MPS_TOTAL", "PF_MEAT", "PF_CUREDMEAT", "PF_ORGAN",
    "PF_POULT", "PF_SEAFD_HI", "PF_SEAFD_LOW", "PF_EGGS", "PF_SOY", "PF_NUTSDS", "PF_LEGUMES", "D_TOTAL",
    "D_MILK", "D_YOGURT", "D_CHEESE", "OILS", "SOLID_FATS", "ADD_SUGARS", "A_DRINKS",
)
# Grams of yogurt in 1 cup equivalent of D_YOGURT. FPED counts 1 cup of yogurt as 1 cup eq. of dairy
# (Bowman SA et al., Food Patterns Equivalents Database 2017-2018: Methodology and User Guide, USDA ARS
# 2020, dairy definitions and its appendix of gram weights per cup eq.); 1 cup (8 fl oz) of plain
# yogurt weighs 245 g (SR28 WEIGHT, NDB 01116 and 01117, "cup (8 fl oz)" = 245 g). FPED's own rows
# bear it out: every plain yogurt of FPED 2017-2018, Greek ones included, is 0.41 cup eq. per 100 g.
YOGURT_GRAMS_PER_CUP_EQ = 245.0


def read(path: Path) -> pl.DataFrame:
    """food_code (8 digits), description, then the 37 FPED components (Float64, per 100 g) by short name."""
    path = Path(path)
    table, first_row = _sheet(path)
    names = {_short(c): c for c in table.columns}
    missing = [c for c in (CODE, *COMPONENTS) if c not in names]
    if missing:
        raise GutaxisError(f"{path}: column {missing[0]!r} not found; this is not an FPED per-food-code table")
    table = table.with_row_index("row", offset=first_row)
    # A second header row of short names (re-saved copies) repeats FOODCODE in the code column.
    table = table.filter(pl.col(names[CODE]).cast(pl.String).str.strip_chars().str.to_uppercase() != CODE)
    codes = table[names[CODE]].cast(pl.String).str.strip_chars().str.replace(r"\.0+$", "")
    table = table.with_columns(codes.alias("_code")).filter(pl.col("_code").is_not_null() & (pl.col("_code") != ""))
    bad = table.filter(~pl.col("_code").str.contains(r"^\d{8}$"))
    if bad.height:
        row = bad.row(0, named=True)
        raise GutaxisError(f"{path}: row {row['row']}: FOODCODE {row['_code']!r} is not an 8-digit FNDDS code")
    values = {}
    for component in COMPONENTS:
        column = table[names[component]]
        number = column.cast(pl.Float64, strict=False)
        broken = table.filter(number.is_null() & column.is_not_null() & (column.cast(pl.String).str.strip_chars() != ""))
        if broken.height:
            row = broken.row(0, named=True)
            raise GutaxisError(f"{path}: row {row['row']}: {component} is {row[names[component]]!r}, not a number")
        values[component] = number
    description = pl.col(names[DESCRIPTION]).cast(pl.String) if DESCRIPTION in names else pl.lit(None, pl.String)
    duplicated = table.group_by("_code").len().filter(pl.col("len") > 1)
    if duplicated.height:
        raise GutaxisError(f"{path}: food code {duplicated['_code'][0]} appears {duplicated['len'][0]} times; "
                           "expected one row per food code")
    return table.select(food_code="_code", description=description, **values).sort("food_code")


def _short(header: str) -> str:
    return str(header).split("(")[0].strip().upper()


def _sheet(path: Path) -> tuple[pl.DataFrame, int]:
    """The first sheet whose first 5 rows hold a FOODCODE, DESCRIPTION header, from that row on; and its first data row (1-based)."""
    return header_sheet(path, lambda cell: _short(cell) == CODE, rows=5,
                        fetch_hint="gutaxis fetch fped-2017-2018 --from PATH",
                        header="FOODCODE, DESCRIPTION", give="an FPED per-food-code workbook",
                        # Sheets made for R hold only codes and numbers: the FPED sheet also has DESCRIPTION.
                        header_row_ok=lambda cells: any(_short(c or "") == DESCRIPTION for c in cells))
