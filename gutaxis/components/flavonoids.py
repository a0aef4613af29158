"""Flavonoids (total, flavan-3-ols, anthocyanidins) per SR28 food and per FNDDS food.

Route of the values:
1. USDA Flavonoid Database R3.3 (by description) -> SR28 NDB numbers: exact `Long_Desc` matches,
   then the reviewed crosswalk data/reference/flavonoid_r33_sr28.csv (fuzzy candidates checked by
   eye, plus reviewed proxies such as instant-tea powders scaled by their solids ratio).
2. SR28 foods that R3.3 does not list get 0 where flavonoids are not expected (meat, fish, eggs,
   plain dairy, fats, sugars, water, plain grains: data/reference/flavonoid_assumed_zero.csv), as
   USDA did for its survey database; other SR foods stay unknown (no value, not 0).
3. FNDDS foods: the SR ingredient profile (grams of each SR ingredient per 100 g of food, from
   gutaxis.components.linkage) times the SR values, with USDA's cooking retention for moist heat (see
   `moist_heat_mask`).
Where USDA's "Flavonoid Values for Survey Foods and Beverages 2017-2018" is fetched, its per-food
values win (`prefer_survey`).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from gutaxis import DATA_DIR, GutaxisError
from gutaxis.formats.sr28 import FOOD_DES_COLUMNS, read_table
from gutaxis.components.linkage import MIN_COVERAGE, judge_linked_share
from gutaxis.reference_tables import read_reference

REFERENCE_DIR = DATA_DIR / "reference"
CROSSWALK_PATH = REFERENCE_DIR / "flavonoid_r33_sr28.csv"
ASSUMED_ZERO_PATH = REFERENCE_DIR / "flavonoid_assumed_zero.csv"

COMPONENT_IDS = ("flavonoids_total", "flavan3ols", "anthocyanidins")
CROSSWALK_COLUMNS = ("r33_description", "sr_code", "sr_description", "score", "reviewed", "match", "weight", "note")
MATCH_KINDS = ("exact", "exact_ci", "fuzzy", "proxy")
# How far a per-SR value can be trusted, by how it was linked to the SR food.
MATCH_CONFIDENCE = {"exact": 1.0, "exact_ci": 1.0, "fuzzy": 0.95, "proxy": 0.7}
ASSUMED_ZERO_CONFIDENCE = 0.9
SURVEY_CONFIDENCE = 0.95

# USDA's flavonoid retention after moist-heat cooking (used for its survey database):
# anthocyanidins lose 50 %, flavonols, flavan-3-ols, flavanones and flavones 15 %; dry heat: none.
ANTHOCYANIDIN_RETENTION = 0.5
OTHER_CLASS_RETENTION = 0.85
MOIST_HEAT = re.compile(r"(?i)\b(boil\w*|stew\w*|steam\w*|simmer\w*|braise\w*|poach\w*|blanch\w*|moist|soups?|"
                        r"chowder|gumbo|chili|cooked)\b")
# SR ingredients already processed or cooked carry their cooked value: no second loss. Frozen fruit
# and vegetables are uncooked ("Blueberries, frozen, unsweetened") unless SR says they were cooked.
RAW_INGREDIENT = re.compile(r"(?i)\b(raw|unprepared|unheated|fresh|frozen)\b")
COOKED_INGREDIENT = re.compile(r"(?i)\b(cooked|boiled|baked|roasted|fried|stewed|steamed|microwaved|canned)\b")

# Fuzzy matching: SR prefixes that R3.3 descriptions drop ("Beverages, tea, ..." vs "Tea, ...").
SR_PREFIX = re.compile(r"(?i)^(beverages|alcoholic beverages?|babyfood|fast foods?|snacks|candies|"
                       r"cereals ready-to-eat|spices|soup|sauce),\s*")


# --- SR foods and description matching ------------------------------------------------------------

def sr_foods(sr_folder: Path) -> pl.DataFrame:
    """sr_code (5 digits), sr_description, fdgrp_cd from SR28 FOOD_DES.txt (or .gz)."""
    folder = Path(sr_folder)
    path = next((p for p in (folder / "FOOD_DES.txt", folder / "FOOD_DES.txt.gz") if p.is_file()), None)
    if path is None:
        raise GutaxisError(f"{folder}: FOOD_DES.txt not found; run `gutaxis fetch sr28`")
    table = read_table(path, FOOD_DES_COLUMNS)
    return table.select(sr_code=pl.col("ndb_no").str.strip_chars().str.zfill(5),
                        sr_description="long_desc", fdgrp_cd="fdgrp_cd")


def match_descriptions(descriptions: Iterable[str], foods: pl.DataFrame, candidates: int = 3) -> pl.DataFrame:
    """r33_description, sr_code, sr_description, score (0-100), method (exact | exact_ci | fuzzy).

    Exact `Long_Desc` first (one row), then the same text ignoring case and spacing (one row),
    else the `candidates` best rapidfuzz token-sort matches after dropping SR's generic prefixes
    ("Beverages, ...") — candidates for a reviewer, never accepted by score alone.
    """
    from rapidfuzz import fuzz, process, utils

    by_exact = dict(zip(foods["sr_description"], foods["sr_code"]))
    by_folded = {_fold(d): (c, d) for d, c in by_exact.items()}
    normalised = [utils.default_process(SR_PREFIX.sub("", d)) for d in foods["sr_description"]]
    rows = []
    for description in dict.fromkeys(descriptions):
        if description in by_exact:
            rows.append((description, by_exact[description], description, 100.0, "exact"))
        elif _fold(description) in by_folded:
            code, sr_description = by_folded[_fold(description)]
            rows.append((description, code, sr_description, 100.0, "exact_ci"))
        else:
            query = utils.default_process(description)
            for _, score, index in process.extract(query, normalised, scorer=fuzz.token_sort_ratio, limit=candidates):
                rows.append((description, foods["sr_code"][index], foods["sr_description"][index],
                             round(float(score), 1), "fuzzy"))
    return pl.DataFrame(rows, schema={"r33_description": pl.String, "sr_code": pl.String, "sr_description": pl.String,
                                      "score": pl.Float64, "method": pl.String}, orient="row")


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


# --- the reviewed crosswalk -----------------------------------------------------------------------

def load_crosswalk(path: Path = CROSSWALK_PATH) -> pl.DataFrame:
    """The reviewed R3.3 -> SR28 crosswalk, validated (all rows; accepted ones have reviewed = yes)."""
    path = Path(path)
    table = read_reference(path, CROSSWALK_COLUMNS, "crosswalk").with_row_index("line", offset=2).with_columns(
        sr_code=pl.col("sr_code").str.strip_chars().str.zfill(5),
        score=pl.col("score").cast(pl.Float64, strict=False),
        weight=pl.col("weight").fill_null("1").cast(pl.Float64, strict=False),
    )
    _fail(table.filter(~pl.col("reviewed").is_in(["yes", "no"])), path,
          "reviewed is {reviewed!r}; use yes (accepted after review) or no (rejected)")
    accepted = table.filter(pl.col("reviewed") == "yes")
    _fail(accepted.filter(~pl.col("match").is_in(list(MATCH_KINDS))), path,
          "match is {match!r}; use one of " + ", ".join(MATCH_KINDS))
    _fail(accepted.filter(~pl.col("sr_code").str.contains(r"^\d{5}$").fill_null(False)), path,
          "sr_code {sr_code!r} is not a 5-digit SR28 code")
    _fail(accepted.filter(pl.col("weight").is_null() | (pl.col("weight") <= 0)), path,
          "weight must be a positive number")
    # Weights on one SR code either sum to 1 (a mean of R3.3 foods) or the code has one row (a scale).
    split = accepted.group_by("sr_code").agg(n=pl.len(), total=pl.col("weight").sum(), line=pl.col("line").min())
    _fail(split.filter((pl.col("n") > 1) & ((pl.col("total") - 1).abs() > 1e-6)), path,
          "SR {sr_code} gets {n} R3.3 foods whose weights sum to {total}, not 1")
    return table.drop("line")


def _fail(bad: pl.DataFrame, path: Path, message: str) -> None:
    if bad.height:
        row = bad.row(0, named=True)
        raise GutaxisError(f"{path}: line {row.get('line', '?')}: " + message.format(**row) + "; fix the crosswalk")


def load_assumed_zero(path: Path = ASSUMED_ZERO_PATH) -> pl.DataFrame:
    """fdgrp_cd, only_pattern, except_pattern, rationale: SR food groups (or parts) assumed flavonoid-free."""
    table = read_reference(path, ("fdgrp_cd", "only_pattern", "except_pattern", "rationale"), "assumed-zero table")
    return table.with_columns(pl.col("fdgrp_cd").str.strip_chars().str.zfill(4))


# --- values per SR food ---------------------------------------------------------------------------

def sr_values(r33: pl.DataFrame, crosswalk: pl.DataFrame, foods: pl.DataFrame | None = None,
              assumed_zero: pl.DataFrame | None = None) -> pl.DataFrame:
    """sr_code, component_id, amount_per_100g (mg), confidence, basis (exact | exact_ci | fuzzy | proxy | assumed_zero).

    `r33` is flavonoid_r33.read(): description, component_id, amount_per_100g. Exact description
    matches need no crosswalk row; reviewed rows add the rest (weights scale or average).
    """
    accepted = crosswalk.filter(pl.col("reviewed") == "yes").select(
        "r33_description", "sr_code", "weight", basis="match")
    links = accepted
    if foods is not None:
        exact = r33.select("description").unique().join(
            foods.select("sr_code", description="sr_description"), on="description", how="inner")
        exact = exact.select(r33_description="description", sr_code="sr_code", weight=pl.lit(1.0),
                             basis=pl.lit("exact"))
        links = pl.concat([exact, accepted.join(exact.select("sr_code"), on="sr_code", how="anti")])
    linked = (
        links.join(r33.rename({"description": "r33_description"}), on="r33_description", how="inner")
        .group_by("sr_code", "component_id")
        .agg(amount_per_100g=(pl.col("amount_per_100g") * pl.col("weight")).sum().round(4),
             basis=pl.col("basis").sort_by(pl.col("basis").replace_strict(
                 {k: i for i, k in enumerate(MATCH_KINDS)}, return_dtype=pl.Int32)).last())
        .with_columns(confidence=pl.col("basis").replace_strict(MATCH_CONFIDENCE, return_dtype=pl.Float64))
    )
    if foods is None or assumed_zero is None:
        return linked.select("sr_code", "component_id", "amount_per_100g", "confidence", "basis").sort(
            "sr_code", "component_id")
    zeros = zero_foods(foods, assumed_zero).join(linked.select("sr_code").unique(), on="sr_code", how="anti")
    zero_rows = zeros.join(pl.DataFrame({"component_id": list(COMPONENT_IDS)}), how="cross").select(
        "sr_code", "component_id", amount_per_100g=pl.lit(0.0), confidence=pl.lit(ASSUMED_ZERO_CONFIDENCE),
        basis=pl.lit("assumed_zero"))
    return pl.concat([linked.select(zero_rows.columns), zero_rows]).sort("sr_code", "component_id")


def zero_foods(foods: pl.DataFrame, assumed_zero: pl.DataFrame) -> pl.DataFrame:
    """sr_code of SR foods in an assumed-zero group (matching only_pattern, if any, and not except_pattern)."""
    picked = []
    for group, only, exception in assumed_zero.select("fdgrp_cd", "only_pattern", "except_pattern").iter_rows():
        in_group = foods.filter(pl.col("fdgrp_cd") == group)
        if only:
            in_group = in_group.filter(pl.col("sr_description").str.contains(only))
        if exception:
            in_group = in_group.filter(~pl.col("sr_description").str.contains(exception))
        picked.append(in_group.select("sr_code"))
    return pl.concat(picked).unique() if picked else pl.DataFrame({"sr_code": []}, schema={"sr_code": pl.String})


# --- values per FNDDS food through the ingredient profile -------------------------------------------

def moist_heat_mask(profile: pl.DataFrame, food_descriptions: pl.DataFrame | None = None,
                    sr_descriptions: pl.DataFrame | None = None,
                    retention_descriptions: pl.DataFrame | None = None) -> pl.Series:
    """True for profile rows whose SR ingredient is cooked with moist heat inside that food.

    FNDDS gives an ingredient a retention code (USDA Retention Factors R6) only when the recipe
    cooks it, so a missing or 0 code means "not cooked here". With a table of the codes'
    descriptions (retention_code, description) the method is read from it; without, from the
    FNDDS food's description (boiled, stewed, steamed, soup, "cooked" ...). Ingredients whose SR
    description is not raw (cooked, canned, juice ...) already carry a processed value and are
    never reduced again.
    """
    rows = profile.select("food_code", "sr_code", "retention_code").with_row_index("_row")
    code = pl.col("retention_code").cast(pl.String).str.strip_chars().str.replace(r"\.0+$", "")
    cooked_here = code.is_not_null() & ~code.is_in(["", "0"])
    rows = rows.with_columns(_code=code, _cooked=cooked_here.fill_null(False))
    if retention_descriptions is not None:
        methods = retention_descriptions.select(
            _code=pl.col("retention_code").cast(pl.String).str.replace(r"\.0+$", ""),
            _moist=pl.col("description").str.contains(MOIST_HEAT.pattern))
        rows = rows.join(methods, on="_code", how="left").with_columns(pl.col("_moist").fill_null(False))
    elif food_descriptions is not None:
        foods = food_descriptions.select("food_code", _moist=pl.col("description").str.contains(MOIST_HEAT.pattern))
        rows = rows.join(foods, on="food_code", how="left").with_columns(pl.col("_moist").fill_null(False))
    else:
        rows = rows.with_columns(_moist=pl.lit(False))
    if sr_descriptions is not None:
        raw = sr_descriptions.select("sr_code", _raw=pl.col("sr_description").str.contains(RAW_INGREDIENT.pattern)
                                     & ~pl.col("sr_description").str.contains(COOKED_INGREDIENT.pattern))
        rows = rows.join(raw, on="sr_code", how="left").with_columns(pl.col("_raw").fill_null(True))
    else:
        rows = rows.with_columns(_raw=pl.lit(True))
    return rows.sort("_row").select(moist=pl.col("_cooked") & pl.col("_moist") & pl.col("_raw")).to_series()


def food_values(profile: pl.DataFrame, values: pl.DataFrame, *, food_descriptions: pl.DataFrame | None = None,
                sr_descriptions: pl.DataFrame | None = None, retention_descriptions: pl.DataFrame | None = None,
                unresolved: pl.DataFrame | None = None, min_linked_share: float = MIN_COVERAGE,
                keep_withheld: bool = False) -> pl.DataFrame:
    """food_code, component_id, amount_per_100g (mg), route, confidence, linked_share, moist_heat_share.

    Each SR ingredient adds grams_per_100g x value / 100, after retention when it is cooked with
    moist heat (anthocyanidins x 0.5; flavan-3-ols and the other classes of the total x 0.85).
    linked_share is the share of the whole recipe's weight (`unresolved`: the profile's
    ingredients that reached no SR28 food, included) with a value (known or assumed 0); foods
    below `min_linked_share` get no row: their flavonoids are unknown, not 0 (keep_withheld=True:
    a row with a NULL amount and the reason, gutaxis.components.linkage.judge_linked_share).
    """
    _check_profile(profile)
    profile = profile.with_columns(
        sr_code=pl.col("sr_code").cast(pl.String).str.strip_chars().str.replace(r"\.0+$", "").str.zfill(5),
        moist=moist_heat_mask(profile, food_descriptions, sr_descriptions, retention_descriptions),
        profile_confidence=pl.col("confidence").cast(pl.Float64).fill_null(1.0)
        if "confidence" in profile.columns else pl.lit(1.0),
    )
    wide = values.pivot(on="component_id", index="sr_code", values="amount_per_100g")
    for component in COMPONENT_IDS:
        if component not in wide.columns:
            wide = wide.with_columns(pl.lit(None, pl.Float64).alias(component))
    confidence = values.group_by("sr_code").agg(value_confidence=pl.col("confidence").min())
    rows = profile.join(wide, on="sr_code", how="left").join(confidence, on="sr_code", how="left")
    anth, total = pl.col("anthocyanidins"), pl.col("flavonoids_total")
    retained = {
        "anthocyanidins": pl.when(pl.col("moist")).then(anth * ANTHOCYANIDIN_RETENTION).otherwise(anth),
        "flavan3ols": pl.when(pl.col("moist")).then(pl.col("flavan3ols") * OTHER_CLASS_RETENTION)
        .otherwise(pl.col("flavan3ols")),
        "flavonoids_total": pl.when(pl.col("moist")).then(
            anth.fill_null(0) * ANTHOCYANIDIN_RETENTION + (total - anth.fill_null(0)) * OTHER_CLASS_RETENTION)
        .otherwise(total),
    }
    grams = pl.col("grams_per_100g").cast(pl.Float64)
    per_component = []
    for component in COMPONENT_IDS:
        contribution = grams * retained[component] / 100
        known = retained[component].is_not_null()
        weight = pl.when(contribution > 0).then(contribution).otherwise(0.0)
        per_food = rows.group_by("food_code").agg(
            component_id=pl.lit(component),
            amount_per_100g=contribution.sum().round(4),
            valued=grams.filter(known).sum(),
            resolved=grams.sum(),
            moist_heat_share=(grams.filter(pl.col("moist")).sum() / grams.sum()).fill_nan(0.0),
            _amount_conf=((weight * pl.col("value_confidence") * pl.col("profile_confidence")).sum() / weight.sum()),
            _grams_conf=((grams * pl.col("value_confidence") * pl.col("profile_confidence")).filter(known).sum()
                         / grams.filter(known).sum()),
        )
        per_component.append(per_food)
    result = judge_linked_share(pl.concat(per_component), unresolved, min_linked_share)
    if not keep_withheld:
        result = result.filter(pl.col("reason").is_null())
    withheld = pl.col("reason").is_not_null()
    return (
        result.with_columns(
            route=pl.lit("disaggregated"),
            amount_per_100g=pl.when(withheld).then(None).otherwise(pl.col("amount_per_100g")),
            confidence=pl.when(withheld).then(None).otherwise(
                (pl.when(pl.col("amount_per_100g") > 0).then(pl.col("_amount_conf"))
                 .otherwise(pl.col("_grams_conf")).fill_nan(None).fill_null(0.0)
                 * pl.col("linked_share").clip(upper_bound=1.0)).round(3)),
            linked_share=pl.col("linked_share").round(4),
            moist_heat_share=pl.col("moist_heat_share").fill_null(0.0).round(4),
        )
        .select("food_code", "component_id", "amount_per_100g", "route", "confidence", "linked_share",
                "moist_heat_share", *(["reason"] if keep_withheld else []))
        .sort("food_code", "component_id")
    )


def _check_profile(profile: pl.DataFrame) -> None:
    missing = [c for c in ("food_code", "sr_code", "grams_per_100g", "retention_code") if c not in profile.columns]
    if missing:
        raise GutaxisError(f"ingredient profile lacks column {missing[0]!r}; expected food_code, sr_code, "
                           "grams_per_100g, retention_code[, route, confidence] (gutaxis.components.linkage.ingredient_profile)")


def survey_values(survey: pl.DataFrame) -> pl.DataFrame:
    """USDA survey flavonoid values (flavonoid_survey.read) as food_code, component_id, amount_per_100g, route, confidence.

    Route 'disaggregated': USDA computed most FNDDS values from the food's recipe, R3.3 and its
    retention factors, imputations and assumed zeros; they are not analyses of the food itself.
    """
    return survey.select("food_code", "component_id", "amount_per_100g", route=pl.lit("disaggregated"),
                         confidence=pl.lit(SURVEY_CONFIDENCE))


def prefer_survey(survey: pl.DataFrame | None, derived: pl.DataFrame) -> pl.DataFrame:
    """USDA's survey value where it has the food and component, else gutaxis' R3.3 derivation."""
    columns = ["food_code", "component_id", "amount_per_100g", "route", "confidence"]
    if survey is None or survey.height == 0:
        return derived.select(columns)
    survey = survey_values(survey).select(columns)
    rest = derived.select(columns).join(survey.select("food_code", "component_id"),
                                        on=["food_code", "component_id"], how="anti")
    return pl.concat([survey, rest]).sort("food_code", "component_id")


SURVEY_SOURCE = "usda-flavonoid-survey-2017-2018"


def fetched_survey() -> tuple[pl.DataFrame | None, str]:
    """USDA's survey flavonoid values if `gutaxis fetch usda-flavonoid-survey-2017-2018` put them in
    data/raw, else None; and a one-line status to report (used when fetched, absence reported)."""
    from gutaxis import composition
    from gutaxis.formats import flavonoid_survey
    from gutaxis.specs import load_source_spec

    spec = load_source_spec(SURVEY_SOURCE)
    if not composition.is_available(spec):
        return None, (f"{SURVEY_SOURCE} not fetched: flavonoids of FNDDS foods come from R3.3 through "
                      f"ingredient profiles; run `gutaxis fetch {SURVEY_SOURCE} --from PATH` to use USDA's values")
    folder = composition.source_folder(spec)
    survey = flavonoid_survey.read(folder / next(iter(spec.files)))
    return survey, f"{SURVEY_SOURCE}: {survey['food_code'].n_unique()} food codes from USDA's survey values"
