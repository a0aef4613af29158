"""Reader for the USDA Table of Nutrient Retention Factors, Release 6 (2007), official ASCII file.

`retn06.txt`: one line per (retention code, nutrient), caret-delimited, text fields in tildes,
like SR28: Retn_Code^FdGrp_Cd^Retn_Desc^Nutr_No^NutrDesc^Retn_Factor^Date_Entered. Retn_Factor is
the percent true retention (blank where the nutrient does not apply); Nutr_No is SR's nutrient
number. FNDDS ingredient rows carry the retention code of their preparation.
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis import GutaxisError
from gutaxis.formats.sr28 import read_table

OFFICIAL_FILE = "retn06.txt"
FIELDS = ("retn_code", "fdgrp_cd", "retn_desc", "nutr_no", "nutr_desc", "retn_factor")
SCHEMA = {"retention_code": pl.Int64, "nutr_no": pl.String, "retention_factor": pl.Float64,
          "retention_description": pl.String, "nutrient_description": pl.String}


def retention_file(folder: Path) -> Path | None:
    folder = Path(folder)
    for candidate in (folder / OFFICIAL_FILE, folder / f"{OFFICIAL_FILE}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read(path: Path) -> pl.DataFrame:
    """retention_code, nutr_no, retention_factor (a fraction: 0.85 for 85 %), and the two descriptions.

    Lines whose factor is blank (the nutrient does not apply) are left out.
    """
    path = Path(path)
    table = read_table(path, FIELDS).with_row_index("line", offset=1)
    code = table["retn_code"].str.strip_chars().cast(pl.Int64, strict=False)
    nutr_no = table["nutr_no"].str.strip_chars()
    factor_text = table["retn_factor"].str.strip_chars()
    factor = factor_text.cast(pl.Float64, strict=False)
    bad = table.filter(
        code.is_null() | ~nutr_no.str.contains(r"^\d{3}$").fill_null(False)
        | (factor.is_null() & factor_text.is_not_null() & (factor_text != ""))
        | (factor < 0).fill_null(False) | (factor > 1000).fill_null(False)
    )
    if bad.height:
        row = bad.row(0, named=True)
        raise GutaxisError(f"{path}: line {row['line']}: Retn_Code {row['retn_code']!r}, Nutr_No {row['nutr_no']!r}, "
                           f"Retn_Factor {row['retn_factor']!r} do not fit the Release 6 layout "
                           "(Retn_Code^FdGrp_Cd^Retn_Desc^Nutr_No^NutrDesc^Retn_Factor^Date); "
                           "give the official retn06.txt (`gutaxis fetch usda-retention-factors-r6`)")
    return (
        table.with_columns(retention_code=code, nutr_no=nutr_no, retention_factor=factor / 100)
        .drop_nulls("retention_factor")
        .select("retention_code", "nutr_no", "retention_factor", retention_description="retn_desc",
                nutrient_description="nutr_desc")
        .unique(["retention_code", "nutr_no"], keep="first", maintain_order=True)
        .cast(SCHEMA)
    )
