"""Values that the FNDDS nutrient table lacks, derived for its foods from the other fetched sources.

One place decides, per FNDDS food and component, which route gives the value (DESIGN precedence:
the food's own analytical value > recipe disaggregation to SR28 ingredients > curated literature
tables). Routes and their sources:
- tryptophan, tyrosine: SR28 amino acids through the ingredient linkage (gutaxis.amino_acids)
- flavonoids_total, flavan3ols, anthocyanidins: USDA survey values when fetched, else R3.3
  matched to SR28 and carried through the linkage (gutaxis.flavonoids)
- inulin_fos, resistant_starch, beta_glucan: curated literature tables through the linkage
  (gutaxis.curated)
- fermented_foods: the curated live-culture classification (gutaxis.fermented)
- fg_* (FPED food groups): USDA's FPED per-food values when fetched (gutaxis.food_groups); they
  need no linkage, so they are derived even when SR28 is not fetched
A source that is not fetched is reported in `sources`, never silently skipped.
"""
from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from gutaxis import GutaxisError, amino_acids, curated, fermented, flavonoids, food_groups
from gutaxis import composition as composition_sources
from gutaxis.formats import flavonoid_r33
from gutaxis.specs import load_source_spec

FNDDS_SOURCE = "fndds-2017-2018"
R33_SOURCE = "usda-flavonoid-r3.3"
COLUMNS = ["food_code", "component_id", "amount_per_100g", "route", "confidence"]


@dataclass(frozen=True)
class DerivedValues:
    food_components: pl.DataFrame  # COLUMNS, only where the FNDDS table has no value
    sources: pl.DataFrame  # source, status, detail
    protein_agreement: pl.DataFrame  # amino_acids.agreement_summary
    unresolved: pl.DataFrame  # ingredients the linkage could not reach


def _status(rows: list[tuple[str, str, str]], source: str, status: str, detail: str) -> None:
    rows.append((source, status, detail))


def derive(fndds_foods: pl.DataFrame, analytical: pl.DataFrame) -> DerivedValues:
    """fndds_foods: food_code, description; analytical: the FNDDS rows already loaded (food_code, component_id)."""
    status: list[tuple[str, str, str]] = []
    parts: list[pl.DataFrame] = []
    fped_table, fped_status = food_groups.fetched()
    _status(status, food_groups.SOURCE, "used" if fped_table is not None else "not fetched", fped_status)
    if fped_table is not None:
        parts.append(food_groups.food_values(fped_table, fndds_foods["food_code"]).select(COLUMNS))
    try:
        aa = amino_acids.fndds_amino_acids(fndds_foods["food_code"].to_list())
    except GutaxisError as exc:  # no SR28 or no linkage source: nothing can be disaggregated
        _status(status, "linkage", "not available", str(exc))
        sources = pl.DataFrame(status, schema=["source", "status", "detail"], orient="row")
        empty = pl.DataFrame(schema={c: pl.String for c in COLUMNS[:2]} | {"amount_per_100g": pl.Float64,
                             "route": pl.String, "confidence": pl.Float64})
        values = pl.concat([empty, *parts], how="vertical_relaxed")
        return DerivedValues(values.sort("food_code", "component_id"), sources, pl.DataFrame(), pl.DataFrame())
    status += aa.sources.rows()
    parts.append(aa.food_components.select(COLUMNS))
    profile = aa.profile
    sr_folder = composition_sources.source_folder(load_source_spec("sr28"))
    sr_foods = flavonoids.sr_foods(sr_folder)

    r33_spec = load_source_spec(R33_SOURCE)
    survey, survey_status = flavonoids.fetched_survey()
    _status(status, flavonoids.SURVEY_SOURCE, "used" if survey is not None else "not fetched", survey_status)
    if composition_sources.is_available(r33_spec):
        r33 = flavonoid_r33.read(composition_sources.source_folder(r33_spec))
        values = flavonoids.sr_values(r33, flavonoids.load_crosswalk(), sr_foods, flavonoids.load_assumed_zero())
        from_r33 = flavonoids.food_values(profile, values, food_descriptions=fndds_foods, sr_descriptions=sr_foods)
        parts.append(flavonoids.prefer_survey(survey, from_r33).select(COLUMNS))
        _status(status, R33_SOURCE, "used", f"{values['sr_code'].n_unique()} SR28 foods with flavonoid values")
    else:
        if survey is not None:
            parts.append(flavonoids.survey_values(survey).select(COLUMNS))
        _status(status, R33_SOURCE, "not fetched", f"run `gutaxis fetch {R33_SOURCE} --from PATH` for flavonoids via SR28")

    tables = curated.sr_values(curated.load_tables(), sr_foods)
    parts.append(curated.food_values(profile, tables, food_descriptions=fndds_foods).select(COLUMNS))
    _status(status, "curated tables", "used", "data/reference/inulin_fos.csv, resistant_starch.csv, beta_glucan.csv")

    classified = fermented.classify(fndds_foods)
    parts.append(fermented.food_values(classified, profile, fermented.live_culture_sr_codes(sr_foods)).select(COLUMNS))
    _status(status, "fermented classification", "used", "data/reference/fermented_foods.csv")

    derived = pl.concat(parts, how="vertical_relaxed").unique(["food_code", "component_id"], keep="first")
    # the FNDDS table's own values win: derive only what it lacks
    derived = derived.join(analytical.select("food_code", "component_id"), on=["food_code", "component_id"], how="anti")
    derived = derived.filter(pl.col("food_code").is_in(fndds_foods["food_code"].implode()))
    sources = pl.DataFrame(status, schema=["source", "status", "detail"], orient="row")
    return DerivedValues(derived.sort("food_code", "component_id"), sources, aa.summary, aa.unresolved)
