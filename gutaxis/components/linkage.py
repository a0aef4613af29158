"""FNDDS food codes -> SR28 ingredients (grams per 100 g of food), and values derived from SR through them.

Two routes, both ending in the same profile frame (food_code, sr_code, grams_per_100g,
retention_code, route, confidence):

- `fndds-ingredients`: the FNDDS Ingredients recipes. Ingredient weights are normalised to 100 g
  of the food as eaten, the way FNDDS computes its own values: the recipe's weight after cooking
  is the sum of its ingredient weights times (1 + moisture change % / 100). An ingredient that is
  itself an FNDDS food code is replaced by that food's recipe, level by level (a cycle or a chain
  deeper than MAX_DEPTH stops with the ingredient reported unresolved). Link confidence 1.
- `fda-fdd`: the FDA Food Disaggregation Database (basic ingredient + percent of the food's
  weight), its basic ingredients linked to SR28 by the reviewed crosswalk
  data/reference/fdd_ingredient_sr28.csv. FDD percents come from recipes without moisture change
  (e.g. bread is flour + water as mixed), so foods that lose water in cooking come out diluted.
  Coffee grounds and tea leaves are listed by the weight put in the pot (coffee, brewed: 6 %
  grounds + 94 % water), though most of them stays in the filter: in a food that also lists
  water, the brewing ingredient and the water are taken together as the brewed drink, through
  the crosswalk entry "<ingredient> [brewed]" (e.g. coffee, brewed: SR 14209).
  Link confidence: 1 for a reviewed crosswalk entry, UNREVIEWED_LINK_CONFIDENCE otherwise.

Ingredients that reach no SR28 food (an SR code not in SR28, an FNDDS code without a recipe, an
FDD basic ingredient without a crosswalk match) are never dropped silently: they come back in the
`unresolved` frame, and their weight counts against coverage in `derive_from_sr`.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import polars as pl

from gutaxis import DATA_DIR, GutaxisError

ROUTE_FNDDS = "fndds-ingredients"
ROUTE_FDD = "fda-fdd"
ROUTE_ORDER = (ROUTE_FNDDS, ROUTE_FDD)  # a tie in confidence goes to the first
MAX_DEPTH = 10
CROSSWALK_PATH = DATA_DIR / "reference" / "fdd_ingredient_sr28.csv"
STATE_RULES_PATH = DATA_DIR / "reference" / "fdd_ingredient_state.csv"
STATE_RULE_COLUMNS = ("basic_ingredient", "state", "food_pattern", "except_pattern", "rationale", "citation")
UNREVIEWED_LINK_CONFIDENCE = 0.5
BREWED_SUFFIX = " [brewed]"  # crosswalk entry for a brewing ingredient taken with its water
WATER_PREFIX = "Water, "     # FDD's water ingredients: "Water, tap", "Water, bottled (amount based on powder)"

# Confidence of a derived value = ROUTE_CONFIDENCE[route] x gram-weighted mean, over the
# ingredients that had a value, of (link confidence x the SR value's own confidence, e.g. lower
# when imputed) x coverage penalty, where coverage is the share of the recipe's
# ingredient weight (resolved or not) whose SR food has a value for the component: no penalty
# from FULL_COVERAGE up, else x coverage. Below MIN_COVERAGE no value is given (NULL: the route
# could not compute it), since missing ingredients count as 0 and the sum would be too low.
ROUTE_CONFIDENCE = {ROUTE_FNDDS: 0.9, ROUTE_FDD: 0.7}
FULL_COVERAGE = 0.9
MIN_COVERAGE = 0.5
DERIVED_ROUTE = "disaggregated"  # composition.food_components.route

# Component id -> SR nutrient number, for retention factors (which are keyed by Nutr_No).
COMPONENT_NUTRIENTS = {
    "energy_kcal": "208", "protein": "203", "fiber": "291", "choline": "421", "tryptophan": "501",
    "tyrosine": "509", "omega3_ala": "851", "omega3_epa": "629", "omega3_dha": "621",
}

PROFILE_SCHEMA = {"food_code": pl.String, "sr_code": pl.String, "grams_per_100g": pl.Float64,
                  "retention_code": pl.Int64, "route": pl.String, "confidence": pl.Float64}
UNRESOLVED_SCHEMA = {"food_code": pl.String, "route": pl.String, "ingredient_code": pl.String,
                     "ingredient_description": pl.String, "grams_per_100g": pl.Float64, "reason": pl.String}
CROSSWALK_COLUMNS = ("basic_ingredient", "sr_code", "sr_description", "score", "reviewed", "note")
DERIVED_SCHEMA = {"food_code": pl.String, "component_id": pl.String, "amount_per_100g": pl.Float64,
                  "route": pl.String, "confidence": pl.Float64}


class Profile(NamedTuple):
    profile: pl.DataFrame     # PROFILE_SCHEMA
    unresolved: pl.DataFrame  # UNRESOLVED_SCHEMA


def ingredient_profile(fndds_ingredients: pl.DataFrame | None = None, fdd: pl.DataFrame | None = None,
                       crosswalk: pl.DataFrame | None = None, sr_codes: Iterable[str] | None = None,
                       food_codes: Iterable[str] | None = None, all_routes: bool = False) -> Profile:
    """The SR ingredient profile of each food of `food_codes` (default: every food of the inputs).

    Each input given is a route (FNDDS Ingredients, FDA-FDD + crosswalk). A food both routes reach
    gets one: the higher ROUTE_CONFIDENCE x resolved-weight penalty (1 when at least
    FULL_COVERAGE of the ingredient weight reached SR28, else that share); a tie goes to FNDDS
    Ingredients. So the FNDDS recipes win unless they lose a sub-recipe or SR code that FDD does
    not. `unresolved` then lists the chosen route's gaps. all_routes=True keeps every route's rows
    (the frames have a route column; consumers must not sum grams across routes).
    """
    if fndds_ingredients is None and fdd is None:
        raise GutaxisError("no linkage source: fetch fndds-ingredients-2017-2018 or fda-fdd-3.1 "
                           "(`gutaxis fetch ID [--from PATH]`)")
    parts = []
    if fndds_ingredients is not None:
        parts.append(fndds_profile(fndds_ingredients, sr_codes, food_codes=food_codes))
    if fdd is not None:
        parts.append(fdd_profile(fdd, read_crosswalk() if crosswalk is None else crosswalk, sr_codes,
                                 food_codes=food_codes))
    profile = pl.concat([p.profile for p in parts])
    unresolved = pl.concat([p.unresolved for p in parts])
    if all_routes or len(parts) == 1:
        return Profile(profile, unresolved)
    chosen = _choose_routes(profile, unresolved)
    return Profile(profile.join(chosen, on=["food_code", "route"], how="semi"),
                   unresolved.join(chosen, on=["food_code", "route"], how="semi"))


def _choose_routes(profile: pl.DataFrame, unresolved: pl.DataFrame) -> pl.DataFrame:
    """food_code, route: the one route each food keeps (see ingredient_profile)."""
    resolved = profile.group_by("food_code", "route").agg(resolved=pl.col("grams_per_100g").sum())
    lost = unresolved.group_by("food_code", "route").agg(lost=pl.col("grams_per_100g").sum())
    share = pl.col("resolved") / (pl.col("resolved") + pl.col("lost"))
    return (
        resolved.join(lost, on=["food_code", "route"], how="full", coalesce=True)
        .with_columns(pl.col("resolved", "lost").fill_null(0.0))
        .with_columns(share=share.fill_nan(0.0))
        .with_columns(
            score=pl.col("route").replace_strict(ROUTE_CONFIDENCE, return_dtype=pl.Float64)
            * pl.when(pl.col("share") >= FULL_COVERAGE).then(1.0).otherwise(pl.col("share")),
            rank=pl.col("route").replace_strict({r: i for i, r in enumerate(ROUTE_ORDER)}, return_dtype=pl.Int32),
        )
        .sort("food_code", "score", "rank", descending=[False, True, False])
        .unique("food_code", keep="first", maintain_order=True)
        .select("food_code", "route")
    )


def fndds_profile(ingredients: pl.DataFrame, sr_codes: Iterable[str] | None = None,
                  food_codes: Iterable[str] | None = None, max_depth: int = MAX_DEPTH) -> Profile:
    """SR grams per 100 g of each food from FNDDS Ingredients rows (gutaxis.formats.fndds_ingredients.read)."""
    recipes = _normalised_recipes(ingredients)
    roots = recipes.select("food_code").unique()
    if food_codes is not None:
        roots = roots.filter(pl.col("food_code").is_in(list(food_codes)))
    frontier = (
        recipes.join(roots, on="food_code", how="semi")
        .with_columns(root=pl.col("food_code"), path=pl.concat_list(pl.col("food_code")))
    )
    sr_set = None if sr_codes is None else pl.Series(list(sr_codes), dtype=pl.String)
    resolved, unresolved = [], []
    for _ in range(max_depth):
        if frontier.is_empty():
            break
        sr_rows = frontier.filter(pl.col("ingredient_kind") == "sr")
        known = pl.lit(True) if sr_set is None else pl.col("ingredient_code").is_in(sr_set.implode())
        resolved.append(sr_rows.filter(known))
        unresolved.append(_unresolved(sr_rows.filter(~known), "SR code not in SR28"))
        nested = frontier.filter(pl.col("ingredient_kind") == "fndds")
        in_cycle = pl.col("path").list.contains(pl.col("ingredient_code"))
        unresolved.append(_unresolved(nested.filter(in_cycle), "recipe cycle: the food code contains itself"))
        nested = nested.filter(~in_cycle)
        unresolved.append(_unresolved(nested.join(recipes, left_on="ingredient_code", right_on="food_code", how="anti"),
                                      "FNDDS food code without a recipe in the ingredients file"))
        frontier = (
            nested.join(recipes, left_on="ingredient_code", right_on="food_code", how="inner", suffix="_sub")
            .select(
                "root",
                food_code=pl.col("ingredient_code"),
                ingredient_code="ingredient_code_sub", ingredient_kind="ingredient_kind_sub",
                ingredient_description="ingredient_description_sub",
                grams_per_100g=pl.col("grams_per_100g") * pl.col("grams_per_100g_sub") / 100,
                # The sub-recipe's own preparation applies to its ingredients; the outer code only when it has none.
                retention_code=pl.coalesce("retention_code_sub", "retention_code"),
                path=pl.col("path").list.concat(pl.concat_list(pl.col("ingredient_code"))),
            )
        )
    if not frontier.is_empty():
        unresolved.append(_unresolved(frontier, f"recipe nested deeper than {max_depth} levels"))
    profile = (
        pl.concat([r.select("root", "ingredient_code", "grams_per_100g", "retention_code") for r in resolved])
        if resolved else pl.DataFrame(schema={"root": pl.String, "ingredient_code": pl.String,
                                               "grams_per_100g": pl.Float64, "retention_code": pl.Int64})
    )
    profile = (
        profile.group_by("root", "ingredient_code", "retention_code")
        .agg(pl.col("grams_per_100g").sum())
        .select(food_code="root", sr_code="ingredient_code", grams_per_100g=pl.col("grams_per_100g").round(9),
                retention_code="retention_code", route=pl.lit(ROUTE_FNDDS), confidence=pl.lit(1.0))
        .cast(PROFILE_SCHEMA)
        .sort("food_code", "sr_code", "retention_code", nulls_last=True)
    )
    return Profile(profile, _concat_unresolved(unresolved))


def _normalised_recipes(ingredients: pl.DataFrame) -> pl.DataFrame:
    """Each ingredient's grams per 100 g of its food as eaten (after the recipe's moisture change)."""
    weight_after = (pl.col("ingredient_grams").sum() * (1 + pl.col("moisture_change_pct").first() / 100)).over("food_code")
    recipes = ingredients.with_columns(weight_after=weight_after)
    empty = recipes.filter(pl.col("weight_after") <= 0)
    if empty.height:
        code = empty["food_code"][0]
        raise GutaxisError(f"FNDDS ingredients: food {code}: its ingredient weights sum to 0 g (after moisture change); "
                           "the recipe cannot be normalised, fix or remove its rows")
    return recipes.select(
        "food_code", "ingredient_code", "ingredient_kind", "ingredient_description",
        grams_per_100g=pl.col("ingredient_grams") * 100 / pl.col("weight_after"),
        retention_code="retention_code",
    )


def _unresolved(rows: pl.DataFrame, reason: str) -> pl.DataFrame:
    return rows.select(food_code="root", route=pl.lit(ROUTE_FNDDS), ingredient_code="ingredient_code",
                       ingredient_description="ingredient_description", grams_per_100g="grams_per_100g",
                       reason=pl.lit(reason)).cast(UNRESOLVED_SCHEMA)


def _concat_unresolved(frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema=UNRESOLVED_SCHEMA)
    return pl.concat(frames).sort("food_code", "ingredient_code")


def fdd_profile(fdd: pl.DataFrame, crosswalk: pl.DataFrame, sr_codes: Iterable[str] | None = None,
                food_codes: Iterable[str] | None = None, state_rules: pl.DataFrame | None = None) -> Profile:
    """SR grams per 100 g of each food from FDA-FDD rows (gutaxis.formats.fda_fdd.read) and the crosswalk.

    An ingredient whose processing state depends on the food (state_rules, default
    data/reference/fdd_ingredient_state.csv) is linked through its crosswalk entry "<ingredient> [<state>]".
    """
    rows = fdd if food_codes is None else fdd.filter(pl.col("food_code").is_in(list(food_codes)))
    rows = in_processing_state(rows, crosswalk, read_state_rules() if state_rules is None else state_rules)
    rows = rows.group_by("food_code", "basic_ingredient").agg(grams_per_100g=pl.col("ingredient_percent").sum())
    rows = _brew(rows, crosswalk)
    links = crosswalk.select(
        "basic_ingredient", "sr_code",
        confidence=pl.when(pl.col("reviewed")).then(1.0).otherwise(UNREVIEWED_LINK_CONFIDENCE),
    )
    joined = rows.join(links, on="basic_ingredient", how="left")
    known = pl.col("sr_code").is_not_null()
    if sr_codes is not None:
        known = known & pl.col("sr_code").is_in(pl.Series(list(sr_codes), dtype=pl.String).implode())
    reason = (
        pl.when(pl.col("confidence").is_null()).then(pl.lit("basic ingredient not in the crosswalk"))
        .when(pl.col("sr_code").is_null()).then(pl.lit("no SR28 food matches this basic ingredient (crosswalk)"))
        .otherwise(pl.lit("crosswalk SR code not in SR28"))
    )
    unresolved = joined.filter(~known).select(
        "food_code", route=pl.lit(ROUTE_FDD), ingredient_code=pl.lit(None, pl.String),
        ingredient_description="basic_ingredient", grams_per_100g="grams_per_100g", reason=reason,
    ).cast(UNRESOLVED_SCHEMA).sort("food_code", "ingredient_description")
    profile = (
        joined.filter(known)
        .group_by("food_code", "sr_code")
        .agg(confidence=(pl.col("confidence") * pl.col("grams_per_100g")).sum() / pl.col("grams_per_100g").sum(),
             grams_per_100g=pl.col("grams_per_100g").sum())
        .select("food_code", "sr_code", "grams_per_100g", retention_code=pl.lit(None, pl.Int64),
                route=pl.lit(ROUTE_FDD), confidence=pl.col("confidence").fill_nan(1.0))
        .cast(PROFILE_SCHEMA)
        .sort("food_code", "sr_code")
    )
    return Profile(profile, unresolved)


def _brew(rows: pl.DataFrame, crosswalk: pl.DataFrame) -> pl.DataFrame:
    """In foods that list water, coffee grounds or tea leaves plus the water become the brewed drink.

    The water is shared among a food's brewing ingredients in proportion to their weight.
    """
    brewing = crosswalk.filter(pl.col("basic_ingredient").str.ends_with(BREWED_SUFFIX)).select(
        basic_ingredient=pl.col("basic_ingredient").str.strip_suffix(BREWED_SUFFIX))
    is_water = pl.col("basic_ingredient").str.starts_with(WATER_PREFIX)
    water = rows.filter(is_water).group_by("food_code").agg(water=pl.col("grams_per_100g").sum())
    brewed = (
        rows.join(brewing, on="basic_ingredient", how="semi")
        .join(water, on="food_code", how="inner")
        .with_columns(share=pl.col("grams_per_100g") / pl.col("grams_per_100g").sum().over("food_code"))
        .select("food_code", basic_ingredient=pl.col("basic_ingredient") + BREWED_SUFFIX,
                grams_per_100g=pl.col("grams_per_100g") + pl.col("water") * pl.col("share").fill_nan(0.0))
    )
    if brewed.is_empty():
        return rows
    in_brewed_food = pl.col("food_code").is_in(brewed["food_code"].unique().implode())
    taken = is_water | pl.col("basic_ingredient").is_in(brewing["basic_ingredient"].implode())
    return pl.concat([rows.filter(~(in_brewed_food & taken)), brewed])


def read_state_rules(path: Path = STATE_RULES_PATH) -> pl.DataFrame:
    """basic_ingredient, state, food_pattern, except_pattern, rationale, citation: where the food's description
    (matching food_pattern and not except_pattern) says which state an FDD ingredient is in."""
    from gutaxis.reference_tables import read_reference

    path = Path(path)
    rules = read_reference(path, STATE_RULE_COLUMNS, "FDD ingredient state rules").with_row_index("line", offset=2)
    for row in rules.iter_rows(named=True):
        where = f"{path}: line {row['line']}"
        if not row["basic_ingredient"] or not row["state"] or not row["food_pattern"]:
            raise GutaxisError(f"{where}: basic_ingredient, state and food_pattern are all needed; fill them in")
        for column in ("food_pattern", "except_pattern"):
            if row[column]:
                try:  # polars' regex dialect (no look-around): the one the rule runs in
                    pl.select(pl.lit("").str.contains(row[column]))
                except pl.exceptions.ComputeError as exc:
                    reason = str(exc).splitlines()[-1].strip() if str(exc).strip() else "invalid"
                    raise GutaxisError(f"{where}: {column} {row[column]!r} is not a regular expression polars can "
                                       f"run ({reason}); fix it") from None
        if not row["rationale"] or not row["citation"]:
            raise GutaxisError(f"{where}: every state rule needs a rationale and a citation")
    return rules.drop("line")


def in_processing_state(rows: pl.DataFrame, crosswalk: pl.DataFrame, state_rules: pl.DataFrame) -> pl.DataFrame:
    """FDD rows with `basic_ingredient` renamed "<ingredient> [<state>]" where the food's description
    matches a state rule (FDD's "Blueberries, raw/frozen" in "Blueberries, frozen"; its one cocoa in hot
    chocolate). A rule whose ingredient the crosswalk knows must have its entry, else a one-line error names it."""
    if state_rules.height == 0 or "description" not in rows.columns:
        return rows
    # rules for ingredients this crosswalk does not know are not its concern (a test's small crosswalk)
    state_rules = state_rules.join(crosswalk.select("basic_ingredient"), on="basic_ingredient", how="semi")
    missing = state_rules.with_columns(entry=pl.col("basic_ingredient") + " [" + pl.col("state") + "]").join(
        crosswalk.select(entry="basic_ingredient"), on="entry", how="anti")
    if missing.height:
        raise GutaxisError(f"{CROSSWALK_PATH}: no row for {missing['entry'][0]!r}, which the state rules in "
                           f"{STATE_RULES_PATH} use; add it with its SR28 food")
    renamed = pl.col("basic_ingredient")
    for ingredient, state, pattern, exception in state_rules.select(
            "basic_ingredient", "state", "food_pattern", "except_pattern").iter_rows():
        in_state = pl.col("description").str.contains(pattern).fill_null(False)
        if exception:
            in_state = in_state & ~pl.col("description").str.contains(exception).fill_null(False)
        renamed = pl.when((pl.col("basic_ingredient") == ingredient) & in_state).then(
            pl.lit(f"{ingredient} [{state}]")).otherwise(renamed)
    return rows.with_columns(basic_ingredient=renamed)


def read_crosswalk(path: Path = CROSSWALK_PATH) -> pl.DataFrame:
    """The reviewed FDD basic ingredient -> SR28 crosswalk (lines starting with # are comments)."""
    path = Path(path)
    if not path.is_file():
        raise GutaxisError(f"{path}: crosswalk not found; it is part of the project (data/reference/), restore it")
    table = pl.read_csv(path, infer_schema=False, comment_prefix="#")
    missing = [c for c in CROSSWALK_COLUMNS if c not in table.columns]
    if missing:
        raise GutaxisError(f"{path}: column {missing[0]!r} missing; expected {', '.join(CROSSWALK_COLUMNS)}")
    reviewed = table["reviewed"].str.to_lowercase().str.strip_chars()
    if not reviewed.is_in(["true", "false"]).all():
        raise GutaxisError(f"{path}: column 'reviewed' must be true or false")
    duplicated = table.filter(pl.col("basic_ingredient").is_duplicated())
    if duplicated.height:
        raise GutaxisError(f"{path}: basic ingredient {duplicated['basic_ingredient'][0]!r} is listed twice; keep one row")
    return table.select(
        pl.col("basic_ingredient").str.strip_chars(),
        sr_code=pl.when(pl.col("sr_code").str.strip_chars() != "").then(pl.col("sr_code").str.strip_chars().str.zfill(5)),
        sr_description="sr_description", score=pl.col("score").cast(pl.Float64, strict=False),
        reviewed=reviewed == "true", note="note",
    )


def derive_from_sr(profile: pl.DataFrame, sr_values: pl.DataFrame, retention: pl.DataFrame | None = None,
                   components: Iterable[str] | None = None, unresolved: pl.DataFrame | None = None,
                   min_coverage: float = MIN_COVERAGE, detail: bool = False, best_only: bool = True) -> pl.DataFrame:
    """Per food and component, the amount per 100 g summed over the food's SR ingredients.

    sr_values: sr_code, component_id, amount_per_100g (registry units) and optionally confidence
    (of the value itself, e.g. lower when imputed; default 1). retention (optional,
    gutaxis.formats.retention_factors.read): factors by (retention_code, SR nutrient number); a
    component or code without a factor is retained fully. unresolved: the profile's unresolved
    ingredients, whose weight lowers coverage. Where a food has both routes, the more confident
    value wins (best_only=False keeps one row per route). Columns: food_code, component_id, amount_per_100g, route ('disaggregated'),
    confidence; with detail=True also via (the linkage route), coverage and ingredient_grams.
    """
    wanted = sr_values["component_id"].unique().sort().to_list() if components is None else list(components)
    value_confidence = pl.col("confidence") if "confidence" in sr_values.columns else pl.lit(1.0)
    values = sr_values.filter(pl.col("component_id").is_in(wanted)).select(
        pl.col("sr_code").cast(pl.String), "component_id", pl.col("amount_per_100g").cast(pl.Float64),
        value_confidence=value_confidence.cast(pl.Float64))
    grid = profile.join(pl.DataFrame({"component_id": wanted}, schema={"component_id": pl.String}), how="cross")
    grid = grid.join(values, on=["sr_code", "component_id"], how="left")
    if retention is not None and retention.height:
        factors = retention.select("retention_code", "nutr_no", "retention_factor")
        grid = (
            grid.with_columns(nutr_no=pl.col("component_id").replace_strict(COMPONENT_NUTRIENTS, default=None,
                                                                              return_dtype=pl.String))
            .join(factors, on=["retention_code", "nutr_no"], how="left")
            .with_columns(retention_factor=pl.col("retention_factor").fill_null(1.0))
        )
    else:
        grid = grid.with_columns(retention_factor=pl.lit(1.0))
    has_value = pl.col("amount_per_100g").is_not_null()
    grams = pl.col("grams_per_100g")
    per_route = grid.group_by("food_code", "route", "component_id").agg(
        amount=(grams / 100 * pl.col("amount_per_100g") * pl.col("retention_factor")).sum(),
        covered=grams.filter(has_value).sum(),
        resolved=grams.sum(),
        link=(grams * pl.col("confidence") * pl.col("value_confidence")).filter(has_value).sum(),
    )
    lost = (
        unresolved.group_by("food_code", "route").agg(lost=pl.col("grams_per_100g").sum())
        if unresolved is not None and unresolved.height
        else pl.DataFrame(schema={"food_code": pl.String, "route": pl.String, "lost": pl.Float64})
    )
    coverage = pl.col("covered") / (pl.col("resolved") + pl.col("lost"))
    base = pl.col("route").replace_strict(ROUTE_CONFIDENCE, return_dtype=pl.Float64)
    derived = (
        per_route.join(lost, on=["food_code", "route"], how="left")
        .with_columns(lost=pl.col("lost").fill_null(0.0))
        .with_columns(coverage=coverage)
        .filter(pl.col("coverage") >= min_coverage)
        .with_columns(
            confidence=(base * pl.col("link") / pl.col("covered")
                        * pl.when(pl.col("coverage") >= FULL_COVERAGE).then(1.0).otherwise(pl.col("coverage"))).round(4),
            rank=pl.col("route").replace_strict({r: i for i, r in enumerate(ROUTE_ORDER)}, return_dtype=pl.Int32),
        )
        .sort("food_code", "component_id", "confidence", "rank", descending=[False, False, True, False])
    )
    if best_only:
        derived = derived.unique(["food_code", "component_id"], keep="first", maintain_order=True)
    columns = [
        pl.col("food_code"), pl.col("component_id"), pl.col("amount").round(6).alias("amount_per_100g"),
        pl.lit(DERIVED_ROUTE).alias("route"), pl.col("confidence"),
    ]
    if detail:
        columns += [pl.col("route").alias("via"), pl.col("coverage").round(4),
                    (pl.col("resolved") + pl.col("lost")).round(6).alias("ingredient_grams")]
    return derived.select(columns).cast(DERIVED_SCHEMA, strict=False)


WITHHELD_SCHEMA = {"food_code": pl.String, "component_id": pl.String, "linked_share": pl.Float64, "reason": pl.String}


def judge_linked_share(per_food: pl.DataFrame, unresolved: pl.DataFrame | None,
                       min_share: float = MIN_COVERAGE) -> pl.DataFrame:
    """Add linked_share and reason to per-food sums of a value computed through the ingredient profile.

    per_food: food_code, component_id, valued (grams per 100 g whose SR ingredient has a value),
    resolved (grams per 100 g that reached SR28), plus any columns of the computation. The share
    is taken over the whole recipe, the weight that reached no SR28 food (`unresolved`) included,
    as derive_from_sr does: a dried-fruit recipe whose fruit is unresolved is not "all sugar, so
    0". Foods whose every ingredient is unresolved get a row too. reason is NULL where
    linked_share >= min_share, else why the value is withheld (NULL, not 0).
    """
    lost = (unresolved.group_by("food_code").agg(lost=pl.col("grams_per_100g").sum())
            if unresolved is not None and unresolved.height
            else pl.DataFrame(schema={"food_code": pl.String, "lost": pl.Float64}))
    components = per_food.select("component_id").unique()
    only_lost = (lost.join(per_food.select("food_code").unique(), on="food_code", how="anti")
                 .join(components, how="cross").with_columns(valued=pl.lit(0.0), resolved=pl.lit(0.0)))
    rows = (pl.concat([per_food, only_lost.drop("lost")], how="diagonal_relaxed")
            .join(lost, on="food_code", how="left").with_columns(pl.col("lost").fill_null(0.0)))
    whole = pl.col("resolved") + pl.col("lost")
    share = pl.when(whole > 0).then(pl.col("valued") / whole).otherwise(0.0)
    percent = lambda expr: (expr * 100).round(0).cast(pl.Int64).cast(pl.String)  # noqa: E731
    reason = pl.format("{}% of the recipe weight has a value, below {}%: {}% reached no SR28 food, {}% reached "
                       "SR28 foods without a value", percent(pl.col("linked_share")), pl.lit(round(min_share * 100)),
                       percent(pl.when(whole > 0).then(pl.col("lost") / whole).otherwise(0.0)),
                       percent(pl.when(whole > 0).then((pl.col("resolved") - pl.col("valued")) / whole).otherwise(0.0)))
    return (rows.with_columns(linked_share=share)
            .with_columns(reason=pl.when(pl.col("linked_share") < min_share).then(reason))
            .drop("lost"))


def normalise_description(text: pl.Expr) -> pl.Expr:
    """Lower case, punctuation to spaces, SR/FDD filler words dropped: the form fuzzy matching compares."""
    filler = r"\b(ns|nfs|as|to|or|and|with|without|the|of|incl|includes|other|than|type|unknown|only|from)\b"
    return (text.str.to_lowercase().str.replace_all(r"[^a-z0-9% ]", " ").str.replace_all(filler, " ")
            .str.replace_all(r"\s+", " ").str.strip_chars())


def suggest_crosswalk(basic_ingredients: Iterable[str], sr_foods: pl.DataFrame, limit: int = 3,
                      prefer: Iterable[str] | None = None) -> pl.DataFrame:
    """Fuzzy candidates for a crosswalk that a person then reviews by eye.

    Candidates are the SR foods whose description shares the ingredient's head word (its first
    word, crudely singularised: "Potatoes" finds "potato"), or all foods when none does; they are
    ranked by the mean of rapidfuzz token_set_ratio and token_sort_ratio on normalised
    descriptions (token_sort favours SR's generic, shorter descriptions over specific cuts and
    brands). prefer: SR codes ranked first among near-equal scores (e.g. foods that carry the
    nutrient of interest), by a 3-point bonus. Returns basic_ingredient, rank, sr_code,
    sr_description, score (0-100).
    """
    import numpy as np
    from rapidfuzz import fuzz, process

    names = list(dict.fromkeys(basic_ingredients))
    queries = pl.Series(names, dtype=pl.String).to_frame("q").select(normalise_description(pl.col("q")))["q"].to_list()
    choices = sr_foods.select(normalise_description(pl.col("description")))["description"].to_list()
    scores = (process.cdist(queries, choices, scorer=fuzz.token_set_ratio, workers=-1)
              + process.cdist(queries, choices, scorer=fuzz.token_sort_ratio, workers=-1)) / 2
    words = [set(choice.split()) for choice in choices]
    bonus = (np.zeros(len(choices)) if prefer is None
             else sr_foods["sr_code"].is_in(list(prefer)).cast(pl.Float32).to_numpy() * 3)
    rows = []
    for i, (name, query) in enumerate(zip(names, queries)):
        head = (query.split() or [""])[0]
        stems = {head, head.removesuffix("es"), head.removesuffix("s")} - {""}
        shares = np.array([any(w.startswith(s) for w in ws for s in stems) for ws in words])
        ranked = scores[i] + bonus - np.where(shares.any() & ~shares, 1000, 0)
        for rank, j in enumerate(np.argsort(-ranked, kind="stable")[:limit]):
            rows.append((name, rank + 1, sr_foods["sr_code"][int(j)], sr_foods["description"][int(j)],
                         round(float(scores[i, j]), 1)))
    return pl.DataFrame(rows, schema={"basic_ingredient": pl.String, "rank": pl.Int64, "sr_code": pl.String,
                                      "sr_description": pl.String, "score": pl.Float64}, orient="row")
