"""Values that the FNDDS nutrient table lacks, derived for its foods from the other fetched sources.

One place decides, per FNDDS food and component, which route gives the value (DESIGN precedence:
the food's own analytical value > recipe disaggregation to SR28 ingredients > curated literature
tables). Routes and their sources:
- tryptophan, tyrosine: SR28 amino acids through the ingredient linkage (gutaxis.components.amino_acids)
- flavonoids_total, flavan3ols, anthocyanidins: USDA survey values when fetched, else R3.3
  matched to SR28 and carried through the linkage (gutaxis.components.flavonoids)
- inulin_fos, resistant_starch, beta_glucan: curated literature tables through the linkage
  (gutaxis.components.curated)
- fermented_foods: the curated live-culture classification (gutaxis.components.fermented); the yogurt of cold
  mixed dishes from FPED D_YOGURT when fetched (the FDA FDD breaks yogurt down to milk), and the
  FPED yogurt cross-check (`yogurt_crosscheck`)
- fg_* (FPED food groups): USDA's FPED per-food values when fetched (gutaxis.components.food_groups); they
  need no linkage, so they are derived even when SR28 is not fetched
- digm_* (the foods of the DI-GM index: grams of avocado, coffee, fermented dairy ...): the curated
  FNDDS food-code classification (gutaxis.components.digm_foods); no linkage either
A source that is not fetched is reported in `sources`, never silently skipped. A food whose recipe
reaches values for less than linkage.MIN_COVERAGE of its weight (unresolved ingredients counted)
gets no value for the component, and the reason is in `withheld` (audit.withheld_values).
Literature values never claim more than LITERATURE_MAX_CONFIDENCE: they are not analyses of the food.
"""
from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from gutaxis import GutaxisError
from gutaxis.components import amino_acids, curated, digm_foods, fermented, flavonoids, food_groups, linkage
from gutaxis import composition as composition_sources
from gutaxis.formats import flavonoid_r33, fped
from gutaxis.specs import load_source_spec

FNDDS_SOURCE = "fndds-2017-2018"
R33_SOURCE = "usda-flavonoid-r3.3"
FPED_SOURCE = "fped-2017-2018"
COLUMNS = ["food_code", "component_id", "amount_per_100g", "route", "confidence"]
LITERATURE_MAX_CONFIDENCE = 0.8
WITHHELD_COLUMNS = ["food_code", "component_id", "linked_share", "reason"]


@dataclass(frozen=True)
class DerivedValues:
    food_components: pl.DataFrame  # COLUMNS, only where the FNDDS table has no value
    sources: pl.DataFrame  # source, status, detail
    protein_agreement: pl.DataFrame  # amino_acids.agreement_summary
    unresolved: pl.DataFrame  # ingredients the linkage could not reach
    withheld: pl.DataFrame  # WITHHELD_COLUMNS: no value, and why (too little of the recipe linked)
    yogurt_crosscheck: pl.DataFrame | None = None  # fermented.yogurt_crosscheck per food; None without FPED
    yogurt_summary: pl.DataFrame | None = None  # its one-row summary


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
    parts.append(digm_foods.food_values(fndds_foods).select(COLUMNS))
    _status(status, "DI-GM food classification", "used", "data/reference/digm_foods.csv")
    try:
        aa = amino_acids.fndds_amino_acids(fndds_foods["food_code"].to_list())
    except GutaxisError as exc:  # no SR28 or no linkage source: nothing can be disaggregated
        _status(status, "linkage", "not available", str(exc))
        sources = pl.DataFrame(status, schema=["source", "status", "detail"], orient="row")
        empty = pl.DataFrame(schema={c: pl.String for c in COLUMNS[:2]} | {"amount_per_100g": pl.Float64,
                             "route": pl.String, "confidence": pl.Float64})
        values = pl.concat([empty, *parts], how="vertical_relaxed")
        return DerivedValues(values.sort("food_code", "component_id"), sources, pl.DataFrame(), pl.DataFrame(),
                             pl.DataFrame(schema=linkage.WITHHELD_SCHEMA))
    status += aa.sources.rows()
    parts.append(aa.food_components.select(COLUMNS))
    profile, unresolved = aa.profile, aa.unresolved
    withheld: list[pl.DataFrame] = []

    def kept(values: pl.DataFrame) -> pl.DataFrame:
        """The values; the foods withheld for too little linked weight go to `withheld` with their reason."""
        withheld.append(values.filter(pl.col("reason").is_not_null()).select(WITHHELD_COLUMNS))
        return values.filter(pl.col("reason").is_null()).select(COLUMNS)

    sr_folder = composition_sources.source_folder(load_source_spec("sr28"))
    sr_foods = flavonoids.sr_foods(sr_folder)

    r33_spec = load_source_spec(R33_SOURCE)
    survey, survey_status = flavonoids.fetched_survey()
    _status(status, flavonoids.SURVEY_SOURCE, "used" if survey is not None else "not fetched", survey_status)
    if composition_sources.is_available(r33_spec):
        r33 = flavonoid_r33.read(composition_sources.source_folder(r33_spec))
        values = flavonoids.sr_values(r33, flavonoids.load_crosswalk(), sr_foods, flavonoids.load_assumed_zero())
        from_r33 = kept(flavonoids.food_values(profile, values, food_descriptions=fndds_foods, sr_descriptions=sr_foods,
                                               unresolved=unresolved, keep_withheld=True))
        parts.append(flavonoids.prefer_survey(survey, from_r33).select(COLUMNS))
        _status(status, R33_SOURCE, "used", f"{values['sr_code'].n_unique()} SR28 foods with flavonoid values")
    else:
        if survey is not None:
            parts.append(flavonoids.survey_values(survey).select(COLUMNS))
        _status(status, R33_SOURCE, "not fetched", f"run `gutaxis fetch {R33_SOURCE} --from PATH` for flavonoids via SR28")

    tables = curated.sr_values(curated.load_tables(), sr_foods)
    parts.append(kept(curated.food_values(profile, tables, food_descriptions=fndds_foods, unresolved=unresolved,
                                          keep_withheld=True)))
    _status(status, "curated tables", "used", "data/reference/inulin_fos.csv, resistant_starch.csv, beta_glucan.csv")

    classified = fermented.classify(fndds_foods)
    live_sr = fermented.live_culture_sr_codes(sr_foods)
    fermented_values = kept(fermented.food_values(classified, profile, live_sr, unresolved=unresolved, keep_withheld=True))
    _status(status, "fermented classification", "used", "data/reference/fermented_foods.csv")
    crosscheck = summary = None
    fped_table = fetched_fped()
    if fped_table is not None:
        fermented_values = fermented.with_fped_yogurt(fermented_values, classified, fped_table, profile, live_sr)
        crosscheck, summary = fermented.yogurt_crosscheck(fermented_values, fped_table, classified)
        row = summary.row(0, named=True)
        _status(status, FPED_SOURCE, "used",
                f"D_YOGURT: yogurt grams of {row['n_from_fped']} cold mixed dishes; cross-check: "
                f"{row['n_agree']} of {row['n_compared']} foods agree within 15 g/100 g "
                f"({row['share_agree_independent']} of those not taken from FPED), {row['n_fped_only']} with FPED "
                f"yogurt counted 0 on purpose (audit.yogurt_crosscheck)")
    else:
        _status(status, FPED_SOURCE, "not fetched",
                f"yogurt in cold mixed dishes linked through the FDA FDD counts 0 g and the yogurt cross-check "
                f"does not run: run `gutaxis fetch {FPED_SOURCE} --from PATH`")
    parts.append(fermented_values.select(COLUMNS))

    derived = pl.concat(parts, how="vertical_relaxed").unique(["food_code", "component_id"], keep="first")
    # the FNDDS table's own values win: derive only what it lacks
    derived = derived.join(analytical.select("food_code", "component_id"), on=["food_code", "component_id"], how="anti")
    derived = derived.filter(pl.col("food_code").is_in(fndds_foods["food_code"].implode()))
    derived = derived.with_columns(confidence=pl.when(pl.col("route") == "literature")
                                   .then(pl.col("confidence").clip(upper_bound=LITERATURE_MAX_CONFIDENCE))
                                   .otherwise(pl.col("confidence")))
    # a survey value (flavonoids) or the FNDDS table may still give a withheld food its value
    gaps = (pl.concat(withheld, how="vertical_relaxed").cast(linkage.WITHHELD_SCHEMA)
            .join(derived.select("food_code", "component_id"), on=["food_code", "component_id"], how="anti")
            .join(analytical.select("food_code", "component_id"), on=["food_code", "component_id"], how="anti")
            .filter(pl.col("food_code").is_in(fndds_foods["food_code"].implode()))
            .unique(["food_code", "component_id"], keep="first").sort("food_code", "component_id"))
    if gaps.height:
        _status(status, "withheld values", "withheld",
                f"{gaps.height} food-component values withheld (less than {linkage.MIN_COVERAGE:.0%} of the recipe "
                f"weight linked): audit.withheld_values")
    sources = pl.DataFrame(status, schema=["source", "status", "detail"], orient="row")
    return DerivedValues(derived.sort("food_code", "component_id"), sources, aa.summary, aa.unresolved, gaps,
                         crosscheck, summary)


def fetched_fped() -> pl.DataFrame | None:
    """FPED per food code (gutaxis.formats.fped.read) when `gutaxis fetch fped-2017-2018` put it in data/raw."""
    spec = load_source_spec(FPED_SOURCE)
    if not composition_sources.is_available(spec):
        return None
    folder = composition_sources.source_folder(spec)
    name = next(iter(spec.files))
    # a stand-in the spec accepts (alternate_files) is read the same way: columns are matched by name
    path = folder / name if (folder / name).is_file() else next(
        (p for p in sorted(folder.iterdir()) if p.suffix.lower() in (".xls", ".xlsx")), folder / name)
    return fped.read(path)
