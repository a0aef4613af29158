"""Reader for the USDA Flavonoid Database R3.3 as exported by food description.

USDA publishes Release 3.3 (March 2018) as an MS Access database (`Flav_R03-3.accdb`, with the
documentation `Flav3.3.pdf`, on Ag Data Commons, doi:10.15482/USDA.ADC/1529181): tables FOOD_DES,
FLAV_DAT (NDB_No, Nutr_No, Flav_Val mg/100 g ...), NUTR_DEF (with the flavonoid class) and source
tables. This reader takes the widely shared SQL export of that database by food description (three
workbooks, sheet "SQLExport", built by joining FLAV_DAT to FOOD_DES and NUTR_DEF):

- `food_by_flavonoid_total.xlsx`    LONG_DESC | FLAVONOIDS_MG_PER_100G
- `food_by_flavonoid_class.xlsx`    LONG_DESC | FLAV_CLASS | FLAVONOIDS_MG_PER_100G
- `food_by_flavonoid_compound.xlsx` LONG_DESC | FLAV_CLASS | NUTRIENT_NAME | FLAVONOIDS_MG_PER_100G

The export has lost NDB_No, so foods are linked to SR28 by description (gutaxis.components.flavonoids and the
reviewed crosswalk data/reference/flavonoid_r33_sr28.csv). Reading the .accdb itself would need an
Access reader (mdbtools), which the project does not install.
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis import GutaxisError

TOTAL_FILE = "food_by_flavonoid_total.xlsx"
CLASS_FILE = "food_by_flavonoid_class.xlsx"
COMPOUND_FILE = "food_by_flavonoid_compound.xlsx"
FILES = (TOTAL_FILE, CLASS_FILE, COMPOUND_FILE)

DESCRIPTION = "LONG_DESC"
CLASS = "FLAV_CLASS"
COMPOUND = "NUTRIENT_NAME"
VALUE = "FLAVONOIDS_MG_PER_100G"

# R3.3 has five classes (no isoflavones, which are in the separate isoflavone database).
CLASSES = ("Anthocyanidins", "Flavan-3-ols", "Flavanones", "Flavones", "Flavonols")
CLASS_COMPONENTS = {"Flavan-3-ols": "flavan3ols", "Anthocyanidins": "anthocyanidins"}
COMPONENT_IDS = ("flavonoids_total", "flavan3ols", "anthocyanidins")


def read(folder: Path) -> pl.DataFrame:
    """description, component_id (flavonoids_total | flavan3ols | anthocyanidins), amount_per_100g (mg).

    A class R3.3 did not report for a food is 0 for that food (R3.3 lists the classes that were
    analysed; USDA's survey database likewise treats unreported classes of listed foods as 0).
    """
    classes = read_classes(Path(folder))
    wide = classes.pivot(on="flav_class", index="description", values="amount_per_100g")
    for name in CLASSES:
        if name not in wide.columns:
            wide = wide.with_columns(pl.lit(None, pl.Float64).alias(name))
    totals = _totals(Path(folder), classes)
    wide = wide.join(totals, on="description", how="full", coalesce=True)
    return (
        wide.select(
            "description",
            flavonoids_total=pl.col("total"),
            flavan3ols=pl.col("Flavan-3-ols").fill_null(0.0),
            anthocyanidins=pl.col("Anthocyanidins").fill_null(0.0),
        )
        .unpivot(index="description", variable_name="component_id", value_name="amount_per_100g")
        .with_columns(pl.col("amount_per_100g").round(4))
        .sort("description", "component_id")
    )


def read_classes(folder: Path) -> pl.DataFrame:
    """description, flav_class, amount_per_100g: one row per food and reported class."""
    path = Path(folder) / CLASS_FILE
    table = _sheet(path, (DESCRIPTION, CLASS, VALUE))
    unknown = sorted(set(table[CLASS].drop_nulls()) - set(CLASSES))
    if unknown:
        raise GutaxisError(f"{path}: {CLASS} {unknown[0]!r} is not one of R3.3's classes {list(CLASSES)}; "
                           "this is not an R3.3 export")
    duplicated = table.group_by(DESCRIPTION, CLASS).len().filter(pl.col("len") > 1)
    if duplicated.height:
        row = duplicated.row(0, named=True)
        raise GutaxisError(f"{path}: {row[DESCRIPTION]!r} has {row['len']} rows for class {row[CLASS]!r}; "
                           "expected one summed row per food and class")
    return table.select(description=DESCRIPTION, flav_class=CLASS, amount_per_100g=VALUE)


def read_compounds(folder: Path) -> pl.DataFrame:
    """description, flav_class, compound, amount_per_100g (the 26 R3.3 compounds)."""
    path = Path(folder) / COMPOUND_FILE
    table = _sheet(path, (DESCRIPTION, CLASS, COMPOUND, VALUE))
    return table.select(description=DESCRIPTION, flav_class=CLASS,
                        compound=pl.col(COMPOUND).str.strip_chars(), amount_per_100g=VALUE)


def _totals(folder: Path, classes: pl.DataFrame) -> pl.DataFrame:
    """Total per food from the total workbook; without it, the sum of the classes."""
    path = folder / TOTAL_FILE
    summed = classes.group_by("description").agg(total=pl.col("amount_per_100g").sum())
    if not path.is_file():
        return summed
    totals = _sheet(path, (DESCRIPTION, VALUE)).select(description=DESCRIPTION, total=VALUE)
    check = totals.join(summed, on="description", how="inner", suffix="_classes").filter(
        (pl.col("total") - pl.col("total_classes")).abs() > 0.05)
    if check.height:
        row = check.row(0, named=True)
        raise GutaxisError(f"{path}: total for {row['description']!r} is {row['total']} but its classes in "
                           f"{CLASS_FILE} sum to {row['total_classes']}; the workbooks are from different exports")
    return totals


def _sheet(path: Path, columns: tuple[str, ...]) -> pl.DataFrame:
    if not path.is_file():
        raise GutaxisError(f"{path.parent}: {path.name} not found; put the R3.3 export workbooks "
                           f"({', '.join(FILES)}) there or run `gutaxis fetch usda-flavonoid-r3.3 --from PATH`")
    try:
        table = pl.read_excel(path)
    except Exception as exc:  # calamine raises its own error types for damaged workbooks
        raise GutaxisError(f"{path}: cannot read the workbook ({type(exc).__name__}); fetch it again") from None
    table = table.rename({c: c.strip().upper() for c in table.columns})
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise GutaxisError(f"{path}: column {missing[0]!r} not found (has {table.columns}); "
                           "this is not the R3.3 export by description")
    table = table.select(columns).with_columns(pl.col(DESCRIPTION).cast(pl.String).str.strip_chars())
    values = table[VALUE].cast(pl.Float64, strict=False)
    bad = table.with_row_index("row", offset=2).filter(values.is_null() & table[VALUE].is_not_null())
    if bad.height:
        row = bad.row(0, named=True)
        raise GutaxisError(f"{path}: row {row['row']}: {VALUE} is {row[VALUE]!r}, not a number; fix or remove it")
    return table.with_columns(values.alias(VALUE)).filter(pl.col(DESCRIPTION).is_not_null())
