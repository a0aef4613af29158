"""Reader for the project's own long composition format `gutaxis-composition-csv`.

Two UTF-8 CSV files in one folder: `foods.csv` (food_code, description[, food_group]) and
`food_components.csv` (food_code, component_id, amount_per_100g[, route][, confidence]), amounts
in the registry's units. Food codes are kept as text, exactly as written.
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis import GutaxisError
from gutaxis.components import component_ids
from gutaxis.formats import Composition

FOODS_FILE = "foods.csv"
COMPONENTS_FILE = "food_components.csv"
FOODS_REQUIRED = ("food_code", "description")  # food_group is optional
COMPONENTS_REQUIRED = ("food_code", "component_id", "amount_per_100g")
ROUTES = ("analytical", "disaggregated", "literature", "matched")
DEFAULT_ROUTE = "analytical"
DEFAULT_CONFIDENCE = 1.0


def read(folder: Path, source_id: str) -> Composition:
    folder = Path(folder)
    foods_path, components_path = folder / FOODS_FILE, folder / COMPONENTS_FILE
    foods = _read(foods_path, FOODS_REQUIRED)
    if "food_group" not in foods.columns:
        foods = foods.with_columns(food_group=pl.lit(None, pl.String))
    _check_unique_codes(foods, foods_path)
    components = _read(components_path, COMPONENTS_REQUIRED)
    for optional in ("route", "confidence"):
        if optional not in components.columns:
            components = components.with_columns(pl.lit(None, pl.String).alias(optional))
    components = components.with_columns(
        route=pl.col("route").fill_null(DEFAULT_ROUTE),
        confidence=pl.col("confidence").fill_null(str(DEFAULT_CONFIDENCE)),
    )
    _check_components(components, components_path, set(foods["food_code"]))
    return Composition(
        foods=foods.select(source=pl.lit(source_id), food_code="food_code", description="description",
                           food_group="food_group"),
        food_components=components.select(
            source=pl.lit(source_id), food_code="food_code", component_id="component_id",
            amount_per_100g=pl.col("amount_per_100g").cast(pl.Float64), route="route",
            confidence=pl.col("confidence").cast(pl.Float64),
        ),
    )


def _read(path: Path, required: tuple[str, ...]) -> pl.DataFrame:
    """All columns as stripped text, plus `line` (the 1-based line in the file, header = 1)."""
    if not path.is_file():
        raise GutaxisError(f"{path}: file not found; a gutaxis-composition-csv source needs {FOODS_FILE} and "
                           f"{COMPONENTS_FILE} in its folder")
    try:
        table = pl.read_csv(path, infer_schema=False, raise_if_empty=False)
    except pl.exceptions.PolarsError as exc:
        first = str(exc).splitlines()[0]
        raise GutaxisError(f"{path}: cannot read as CSV ({first}); save it as UTF-8 CSV with a header row") from None
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise GutaxisError(f"{path}: missing column {missing[0]!r} (header has {table.columns}); "
                           f"add it, the header must name {list(required)}")
    # Empty cells read as null; a stripped blank is empty too.
    stripped = [pl.col(c).str.strip_chars().replace("", None).alias(c) for c in table.columns]
    return table.with_columns(stripped).with_row_index("line", offset=2)


def _fail_first(bad: pl.DataFrame, path: Path, message: str) -> None:
    """Raise `message` (formatted with the first bad row's columns) if `bad` has rows."""
    if bad.height:
        row = bad.row(0, named=True)
        raise GutaxisError(f"{path}: line {row['line']}: " + message.format(**row))


def _check_unique_codes(foods: pl.DataFrame, path: Path) -> None:
    _fail_first(foods.filter(pl.col("food_code").is_null()), path, "empty food_code; give every food a code")
    _fail_first(foods.filter(~pl.col("food_code").is_first_distinct()), path,
                "food_code {food_code!r} appears more than once; keep one row per food")


def _check_components(components: pl.DataFrame, path: Path, food_codes: set[str]) -> None:
    amount = pl.col("amount_per_100g").cast(pl.Float64, strict=False)
    confidence = pl.col("confidence").cast(pl.Float64, strict=False)
    _fail_first(components.filter(~pl.col("component_id").is_in(component_ids()).fill_null(True)), path,
                "unknown component_id {component_id!r}; use an id from data/reference/components.csv "
                "(or add the component there first)")
    _fail_first(components.filter(~pl.col("food_code").is_in(list(food_codes)).fill_null(True)), path,
                f"food_code {{food_code!r}} is not in {FOODS_FILE}; add the food there or fix the code")
    _fail_first(components.filter(amount.is_null() | (amount < 0)), path,
                "amount_per_100g {amount_per_100g!r} is not a number >= 0; write the amount per 100 g in the "
                "registry's unit")
    _fail_first(components.filter(~pl.col("route").is_in(ROUTES)), path,
                f"route {{route!r}} is not one of {list(ROUTES)}; fix the route or leave it empty ({DEFAULT_ROUTE})")
    _fail_first(components.filter(confidence.is_null() | (confidence < 0) | (confidence > 1)), path,
                "confidence {confidence!r} is not a number between 0 and 1; fix it or leave it empty (1.0)")
    _fail_first(components.filter(~pl.struct("food_code", "component_id").is_first_distinct()), path,
                "food_code {food_code!r} has component_id {component_id!r} more than once; keep one row")
