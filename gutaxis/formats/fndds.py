"""Reader for the FNDDS "At A Glance - FNDDS Nutrient Values" table (official xlsx, or the same table as CSV)."""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis import GutaxisError
from gutaxis.formats import Composition
from gutaxis.formats.workbook import header_sheet, read_csv_table

OFFICIAL_XLSX = "2017-2018 FNDDS At A Glance - FNDDS Nutrient Values.xlsx"
CODE_COLUMN = "Food code"
DESCRIPTION_COLUMN = "Main food description"
GROUP_COLUMNS = ("WWEIA Category description", "WWEIA Category number")  # first present wins
# Header cell (whitespace normalised) -> component id; FNDDS already uses the registry's units.
COMPONENT_COLUMNS = {
    "Energy (kcal)": "energy_kcal",
    "Fiber, total dietary (g)": "fiber",
    "Choline, total (mg)": "choline",
    "18:3 (g)": "omega3_ala",
    "20:5 n-3 (g)": "omega3_epa",
    "22:6 n-3 (g)": "omega3_dha",
}
# Diet-quality nutrients (the HEI's sodium and fatty acids, the DI-GM's total fat, the DII's nutrients): read when the table has them, as every official
# FNDDS Nutrient Values table does; a cut-down copy without them leaves those components without a value
# (the indices that need them are then reported not computable), instead of refusing the table.
QUALITY_COLUMNS = {
    "Sodium (mg)": "sodium",
    "Fatty acids, total saturated (g)": "saturated_fat",
    "Fatty acids, total monounsaturated (g)": "monounsaturated_fat",
    "Fatty acids, total polyunsaturated (g)": "polyunsaturated_fat",
    "Total Fat (g)": "fat_total",
    "Protein (g)": "protein",
    "Carbohydrate (g)": "carbohydrate",
    "Cholesterol (mg)": "cholesterol",
    "Alcohol (g)": "alcohol",
    "Caffeine (mg)": "caffeine",
    "Vitamin B-12 (mcg)": "vitamin_b12",
    "Vitamin B-6 (mg)": "vitamin_b6",
    "Carotene, beta (mcg)": "beta_carotene",
    "Folic acid (mcg)": "folic_acid",
    "Iron (mg)": "iron",
    "Magnesium (mg)": "magnesium",
    "Niacin (mg)": "niacin",
    "Riboflavin (mg)": "riboflavin",
    "Selenium (mcg)": "selenium",
    "Thiamin (mg)": "thiamin",
    "Vitamin C (mg)": "vitamin_c",
    "Vitamin D (D2 + D3) (mcg)": "vitamin_d",
    "Vitamin E (alpha-tocopherol) (mg)": "vitamin_e",
    "Zinc (mg)": "zinc",
}
DPA_COLUMN = "22:5 n-3 (g)"
OMEGA3_PARTS = ("omega3_ala", "omega3_epa", "dpa", "omega3_dha")


def read(folder: Path, source_id: str) -> Composition:
    """The composition in the folder's FNDDS Nutrient Values file (the official xlsx, else a CSV of it)."""
    return read_table(nutrient_values_file(Path(folder)), source_id)


def nutrient_values_file(folder: Path) -> Path:
    official = folder / OFFICIAL_XLSX
    if official.is_file():
        return official
    candidates = sorted(
        p for p in folder.glob("*") if p.suffix.lower() in (".xlsx", ".csv")
        and "nutrient values" in p.stem.lower().replace("_", " ")
    )
    candidates.sort(key=lambda p: p.suffix.lower() != ".xlsx")  # the official xlsx format first
    if not candidates:
        raise GutaxisError(f"{folder}: no FNDDS Nutrient Values file ({OFFICIAL_XLSX!r} or a CSV of it); "
                           "run `gutaxis fetch fndds-2017-2018`")
    return candidates[0]


def read_table(path: Path, source_id: str) -> Composition:
    """One FNDDS Nutrient Values table (.xlsx with a title row, or .csv) as canonical frames."""
    path = Path(path)
    table, first_row = _read_xlsx(path) if path.suffix.lower() == ".xlsx" else _read_csv(path)
    table = table.rename({c: _normalise(c) for c in table.columns})
    by_key = {c.casefold(): c for c in table.columns}
    wanted = [CODE_COLUMN, DESCRIPTION_COLUMN, *COMPONENT_COLUMNS, DPA_COLUMN]
    missing = [c for c in wanted if c.casefold() not in by_key]
    if missing:
        raise GutaxisError(f"{path}: column {missing[0]!r} not found; this is not an FNDDS Nutrient Values table, "
                           f"give the official {OFFICIAL_XLSX!r} (or the same table as CSV)")
    group = next((by_key[g.casefold()] for g in GROUP_COLUMNS if g.casefold() in by_key), None)

    table = table.with_row_index("row", offset=first_row)
    codes = table[by_key[CODE_COLUMN.casefold()]].cast(pl.String).str.strip_chars().str.replace(r"\.0+$", "")
    bad = table.filter(~codes.str.contains(r"^\d{8}$").fill_null(False))
    if bad.height:
        row = bad.row(0, named=True)
        raise GutaxisError(f"{path}: row {row['row']}: {CODE_COLUMN!r} is {row[by_key[CODE_COLUMN.casefold()]]!r}, "
                           "expected an 8-digit FNDDS food code; fix or remove that row")

    foods = table.select(
        source=pl.lit(source_id), food_code=codes,
        description=pl.col(by_key[DESCRIPTION_COLUMN.casefold()]).cast(pl.String),
        food_group=pl.col(group).cast(pl.String) if group else pl.lit(None, pl.String),
    )
    quality = {c: cid for c, cid in QUALITY_COLUMNS.items() if c.casefold() in by_key}
    parts = {**COMPONENT_COLUMNS, **quality, DPA_COLUMN: "dpa"}
    wide = table.select("row", food_code=codes, **{parts[c]: pl.col(by_key[c.casefold()]) for c in parts})
    wide = wide.with_columns(_to_float(wide, path, name, header) for header, name in parts.items())
    # A missing part counts as 0 when another part exists; all missing stays missing.
    omega3_total = pl.when(pl.any_horizontal(pl.col(OMEGA3_PARTS).is_not_null())).then(
        pl.sum_horizontal(OMEGA3_PARTS).round(6))
    food_components = (
        wide.with_columns(omega3_total=omega3_total)
        .unpivot(index="food_code", on=[*COMPONENT_COLUMNS.values(), *quality.values(), "omega3_total"],
                 variable_name="component_id", value_name="amount_per_100g")
        .drop_nulls("amount_per_100g")
        .select(source=pl.lit(source_id), food_code="food_code", component_id="component_id",
                amount_per_100g="amount_per_100g", route=pl.lit("analytical"), confidence=pl.lit(1.0))
        .sort("food_code", "component_id")
    )
    return Composition(foods=foods, food_components=food_components)


def _read_xlsx(path: Path) -> tuple[pl.DataFrame, int]:
    """The sheet from its header row on, and the sheet row number (1-based) of the first data row."""
    return header_sheet(path, lambda cell: _normalise(cell) == CODE_COLUMN, rows=10,
                        fetch_hint="gutaxis fetch fndds-2017-2018", header=repr(CODE_COLUMN),
                        give=f"the official {OFFICIAL_XLSX!r}", infer=True)


def _read_csv(path: Path) -> tuple[pl.DataFrame, int]:
    return read_csv_table(path, infer=True)


def _to_float(wide: pl.DataFrame, path: Path, name: str, header: str) -> pl.Series:
    column = wide[name]
    values = column.cast(pl.Float64, strict=False)
    bad = wide.filter(values.is_null() & column.is_not_null())
    if bad.height:
        row = bad.row(0, named=True)
        raise GutaxisError(f"{path}: row {row['row']}: column {header!r} is {row[name]!r}, not a number; "
                           "fix the value or leave the cell empty")
    return values.alias(name)


def _normalise(header: str) -> str:
    return " ".join(str(header).split())
