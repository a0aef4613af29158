"""Reader for USDA SR28 ASCII: caret-delimited, `~`-quoted text, CRLF, Windows-1252."""
from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl

from gutaxis import GutaxisError
from gutaxis.components import units
from gutaxis.formats import Composition

# Leading columns of each SR28 table that the reader uses (the files have more columns).
FOOD_DES_COLUMNS = ("ndb_no", "fdgrp_cd", "long_desc")
FD_GROUP_COLUMNS = ("fdgrp_cd", "fdgrp_desc")
NUTR_DEF_COLUMNS = ("nutr_no", "units")
NUT_DATA_COLUMNS = ("ndb_no", "nutr_no", "nutr_val")

DIRECT_NUTRIENTS = {
    "208": "energy_kcal", "291": "fiber", "421": "choline", "501": "tryptophan",
    "509": "tyrosine", "629": "omega3_epa", "621": "omega3_dha",
    "307": "sodium", "606": "saturated_fat", "645": "monounsaturated_fat", "646": "polyunsaturated_fat",
}
ALA_NUTRIENT = "851"           # 18:3 n-3 c,c,c (ALA)
ALA_FALLBACK_NUTRIENT = "619"  # 18:3 undifferentiated
DPA_NUTRIENT = "631"           # 22:5 n-3; only feeds omega3_total
NEEDED_NUTRIENTS = (*DIRECT_NUTRIENTS, ALA_NUTRIENT, ALA_FALLBACK_NUTRIENT, DPA_NUTRIENT)
# Undifferentiated 18:3 also counts gamma-linolenic acid (n-6) and trans isomers; in most foods
# ALA dominates it, but not in all (e.g. evening primrose or borage oil), so it is a proxy.
ALA_FALLBACK_CONFIDENCE = 0.9

UNIT_FACTORS = {("g", "g"): 1.0, ("g", "mg"): 1000.0, ("mg", "mg"): 1.0, ("kcal", "kcal"): 1.0}


def read(folder: Path, source_id: str) -> Composition:
    """Foods and their gut-brain components per 100 g from an SR28 ASCII folder."""
    folder = Path(folder)
    foods = _foods(folder, source_id)
    amounts = _nutrient_amounts(folder)
    columns = ["food_code", "component_id", "amount_per_100g", "confidence"]
    direct = (
        amounts.filter(pl.col("nutr_no").is_in(list(DIRECT_NUTRIENTS)))
        .select("food_code", component_id=pl.col("nutr_no").replace_strict(DIRECT_NUTRIENTS),
                amount_per_100g="amount_per_100g", confidence=pl.lit(1.0))
    )
    ala = _ala(amounts).select(columns)
    dpa = amounts.filter(pl.col("nutr_no") == DPA_NUTRIENT).select(
        "food_code", component_id=pl.lit("dpa"), amount_per_100g="amount_per_100g", confidence=pl.lit(1.0))
    omega3_parts = pl.concat([ala, direct.filter(pl.col("component_id").is_in(["omega3_epa", "omega3_dha"])), dpa])
    # SR often lacks EPA/DPA/DHA where they are negligible (plants) or ALA where it is (fish):
    # counting a missing part as 0 keeps those foods' totals instead of losing them.
    omega3_total = omega3_parts.group_by("food_code").agg(
        # Rounding drops the binary noise of the sum (0.142000000000002).
        component_id=pl.lit("omega3_total"), amount_per_100g=pl.col("amount_per_100g").sum().round(6),
        confidence=pl.col("confidence").min(),
    )
    food_components = (
        pl.concat([direct, ala, omega3_total.select(columns)])
        .select(source=pl.lit(source_id), food_code="food_code", component_id="component_id",
                amount_per_100g="amount_per_100g", route=pl.lit("analytical"), confidence="confidence")
        .sort("food_code", "component_id")
    )
    return Composition(foods=foods, food_components=food_components)


def _ala(amounts: pl.DataFrame) -> pl.DataFrame:
    specific = amounts.filter(pl.col("nutr_no") == ALA_NUTRIENT).with_columns(confidence=pl.lit(1.0))
    fallback = (
        amounts.filter(pl.col("nutr_no") == ALA_FALLBACK_NUTRIENT)
        .join(specific.select("food_code"), on="food_code", how="anti")
        .with_columns(confidence=pl.lit(ALA_FALLBACK_CONFIDENCE))
    )
    return pl.concat([specific, fallback]).with_columns(component_id=pl.lit("omega3_ala"))


def _foods(folder: Path, source_id: str) -> pl.DataFrame:
    food_des = read_table(_find(folder, "FOOD_DES.txt"), FOOD_DES_COLUMNS)
    foods = food_des.select(
        source=pl.lit(source_id), food_code=_ndb_no("ndb_no"), description="long_desc", fdgrp_cd="fdgrp_cd",
    )
    group_path = _find(folder, "FD_GROUP.txt", required=False)
    if group_path is None:
        # Without the group table the code itself is the best label there is.
        return foods.rename({"fdgrp_cd": "food_group"})
    groups = read_table(group_path, FD_GROUP_COLUMNS)
    return (
        foods.join(groups, on="fdgrp_cd", how="left")
        .select("source", "food_code", "description", food_group=pl.coalesce("fdgrp_desc", "fdgrp_cd"))
    )


def _nutrient_amounts(folder: Path) -> pl.DataFrame:
    """food_code, nutr_no, amount_per_100g (converted to the registry unit) for the needed nutrients."""
    factors = _unit_factors(folder)
    path = _find(folder, "NUT_DATA.txt")
    data = read_table(path, NUT_DATA_COLUMNS).filter(pl.col("nutr_no").is_in(list(NEEDED_NUTRIENTS)))
    values = data["nutr_val"].cast(pl.Float64, strict=False)
    bad = data.filter(values.is_null() & data["nutr_val"].is_not_null())
    if bad.height:
        row = bad.row(0, named=True)
        raise GutaxisError(f"{path}: food {row['ndb_no']} nutrient {row['nutr_no']}: Nutr_Val {row['nutr_val']!r} is not a number; "
                           "the file is damaged, fetch it again with `gutaxis fetch`")
    return (
        data.with_columns(nutr_val=values)
        .drop_nulls("nutr_val")
        .select(
            food_code=_ndb_no("ndb_no"), nutr_no="nutr_no",
            # SR prints at most 3 decimals: rounding drops the binary noise of g -> mg (1.057 g -> 1057.0000000000002 mg).
            amount_per_100g=(pl.col("nutr_val") * pl.col("nutr_no").replace_strict(factors, return_dtype=pl.Float64))
            .round(6),
        )
    )


def _unit_factors(folder: Path) -> dict[str, float]:
    """Multiplier from SR's unit to the registry's unit per nutrient, checked against NUTR_DEF."""
    path = _find(folder, "NUTR_DEF.txt")
    sr_units = dict(read_table(path, NUTR_DEF_COLUMNS).iter_rows())
    registry_units = units()
    component_of = {**DIRECT_NUTRIENTS, ALA_NUTRIENT: "omega3_ala", ALA_FALLBACK_NUTRIENT: "omega3_ala",
                    DPA_NUTRIENT: "omega3_total"}
    factors = {}
    for nutr_no, component_id in component_of.items():
        pair = (sr_units.get(nutr_no), registry_units[component_id])
        if pair not in UNIT_FACTORS:
            raise GutaxisError(f"{path}: nutrient {nutr_no} has unit {pair[0]!r}, expected one convertible to "
                               f"{pair[1]!r} for {component_id}; this is not an SR28 NUTR_DEF.txt, fetch the official files")
        factors[nutr_no] = UNIT_FACTORS[pair]
    return factors


def _ndb_no(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().str.zfill(5)


def _find(folder: Path, name: str, required: bool = True) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    if required:
        raise GutaxisError(f"{folder}: {name} not found (nor {name}.gz); put the SR28 ASCII files there "
                           "or run `gutaxis fetch sr28`")
    return None


def read_table(path: Path, names: tuple[str, ...]) -> pl.DataFrame:
    """The leading columns of an SR table, all text, named `names`."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    try:
        # polars reads only UTF-8 (or lossy), so decode Windows-1252 here: latin-1 would turn the
        # curly quotes 0x91/0x92 into control characters.
        text = raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise GutaxisError(f"{path}: line {line}: byte 0x{raw[exc.start]:02x} is not Windows-1252 text; "
                           "this is not an official SR28 file, fetch it again") from None
    table = pl.read_csv(text.encode("utf-8"), separator="^", quote_char="~", has_header=False,
                        infer_schema=False, raise_if_empty=False)
    if table.width < len(names):
        raise GutaxisError(f"{path}: expected at least {len(names)} '^'-separated fields per line, found {table.width}; "
                           "this is not an SR28 ASCII file, fetch the official files")
    return table.select(pl.nth(range(len(names)))).rename(dict(zip(table.columns, names)))
