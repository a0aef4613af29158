"""Fermented foods with live cultures: grams eaten, from a curated FNDDS food-code classification.

data/reference/fermented_foods.csv holds two kinds of rules (the in/out rationale is in
data/reference/README.md):
- scope `fndds`: an 8-digit food code, a code prefix (`114*`) or a description_pattern (regex on
  the FNDDS description), with live_cultures yes/no and basis:
    whole      the food is a fermented food throughout: 100 g per 100 g (yogurt, kefir, kimchi);
    ingredient a dish eaten cold whose live-culture part is an ingredient: the grams of live-culture
               SR ingredients per 100 g from the food's ingredient profile (parfait, tzatziki);
    none       not counted (cheese, beer, wine, vinegar pickles, frozen yogurt ...): 0.
  Precedence: exact code, then the longest matching prefix, then patterns in file order. Foods no
  rule names are not fermented foods with live cultures: 0 (cooked dishes that contain yogurt or
  sauerkraut, like curries or a Reuben sandwich, stay 0 on purpose: heating kills the cultures).
- scope `sr`: patterns on SR28 descriptions naming the ingredients that carry live cultures
  (yogurt, kefir, cultured buttermilk, kimchi, sauerkraut, miso, natto), first match wins.
The component `fermented_foods` is in grams of fermented food eaten (amount_per_100g = g per 100 g).
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis import DATA_DIR, GutaxisError
from gutaxis.formats.fped import YOGURT_GRAMS_PER_CUP_EQ
from gutaxis.components.linkage import judge_linked_share
from gutaxis.components.code_rules import match_rules
from gutaxis.reference_tables import read_reference

CLASSIFICATION_PATH = DATA_DIR / "reference" / "fermented_foods.csv"
COLUMNS = ("scope", "code", "description_pattern", "description", "live_cultures", "basis", "share", "confidence",
           "rationale", "citation")
BASES = ("whole", "ingredient", "none")
CONFIDENCE_SCORES = {"high": 0.9, "medium": 0.7, "low": 0.5}
# Foods no rule names: confident they are not live-culture foods (the rules list the candidates).
DEFAULT_RULE = "not a fermented food with live cultures (no rule names it)"
DEFAULT_CONFIDENCE = 0.9
COMPONENT_ID = "fermented_foods"


def load_classification(path: Path = CLASSIFICATION_PATH) -> pl.DataFrame:
    """The classification rules, validated, with their line number (rule_order)."""
    path = Path(path)
    table = read_reference(path, COLUMNS, "fermented-food classification")
    table = table.with_row_index("rule_order", offset=2).with_columns(
        pl.col("code").str.strip_chars(), share=pl.col("share").cast(pl.Float64, strict=False))

    def fail(bad: pl.DataFrame, message: str) -> None:
        if bad.height:
            row = bad.row(0, named=True)
            raise GutaxisError(f"{path}: line {row['rule_order']}: " + message.format(**row) + "; fix the classification")

    fail(table.filter(~pl.col("scope").is_in(["fndds", "sr"])), "scope is {scope!r}; use fndds or sr")
    fail(table.filter(~pl.col("live_cultures").is_in(["yes", "no"])), "live_cultures is {live_cultures!r}; use yes or no")
    fail(table.filter(~pl.col("basis").is_in(list(BASES))), "basis is {basis!r}; use whole, ingredient or none")
    fail(table.filter((pl.col("live_cultures") == "no") != (pl.col("basis") == "none")),
         "live_cultures {live_cultures} does not fit basis {basis} (no goes with none)")
    fail(table.filter(~pl.col("confidence").is_in(list(CONFIDENCE_SCORES))), "confidence is {confidence!r}; use high, medium or low")
    fndds = table.filter(pl.col("scope") == "fndds")
    fail(fndds.filter(pl.col("code").is_null() & pl.col("description_pattern").is_null()),
         "an fndds rule needs a code, a code prefix (114*) or a description_pattern")
    fail(fndds.filter(pl.col("code").is_not_null() & ~pl.col("code").str.contains(r"^(\d{8}|\d{1,7}\*)$")),
         "code {code!r} is neither an 8-digit FNDDS code nor a prefix like 114*")
    fail(table.filter((pl.col("scope") == "sr") & pl.col("description_pattern").is_null()),
         "an sr rule needs a description_pattern")
    fail(table.filter((pl.col("scope") == "sr") & pl.col("share").is_not_null()
                      & ((pl.col("share") <= 0) | (pl.col("share") > 100))),
         "share {share} must be grams of live-culture food per 100 g (0-100]")
    fail(table.filter(pl.col("rationale").is_null() | pl.col("citation").is_null()), "every rule needs a rationale and a citation")
    return table


def classify(foods: pl.DataFrame, rules: pl.DataFrame | None = None) -> pl.DataFrame:
    """food_code, description, live_cultures, basis, confidence (0-1), rule, rationale for every food given.

    `foods`: food_code (8 digits), description (e.g. the FNDDS 2017-2018 Main food description).
    """
    rules = load_classification() if rules is None else rules
    fndds = rules.filter(pl.col("scope") == "fndds")
    taken, remaining = match_rules(
        foods.select(pl.col("food_code").cast(pl.String), pl.col("description").cast(pl.String)), fndds)
    picked = [hit.with_columns(
        live_cultures=pl.lit(rule["live_cultures"]), basis=pl.lit(rule["basis"]),
        confidence=pl.lit(CONFIDENCE_SCORES[rule["confidence"]]), rule=pl.lit(rule["description"]),
        rationale=pl.lit(rule["rationale"])) for rule, hit in taken]
    picked.append(remaining.with_columns(
        live_cultures=pl.lit("no"), basis=pl.lit("none"), confidence=pl.lit(DEFAULT_CONFIDENCE),
        rule=pl.lit(DEFAULT_RULE), rationale=pl.lit("not listed among the fermented foods with live cultures")))
    return pl.concat(picked).sort("food_code")


def live_culture_sr_codes(sr_foods: pl.DataFrame, rules: pl.DataFrame | None = None) -> pl.DataFrame:
    """sr_code, sr_description, share (g of live-culture food per 100 g; 100 unless the rule says) of
    SR28 ingredients that carry live cultures (scope sr, first match wins)."""
    rules = load_classification() if rules is None else rules
    remaining = sr_foods.select("sr_code", "sr_description")
    live = []
    for rule in rules.filter(pl.col("scope") == "sr").sort("rule_order").iter_rows(named=True):
        hit = remaining.filter(pl.col("sr_description").str.contains(rule["description_pattern"]))
        remaining = remaining.join(hit.select("sr_code"), on="sr_code", how="anti")
        if rule["live_cultures"] == "yes":
            live.append(hit.with_columns(share=pl.lit(rule["share"] if rule["share"] is not None else 100.0)))
    if not live:
        return remaining.clear().with_columns(share=pl.lit(None, pl.Float64))
    return pl.concat(live).sort("sr_code")


def food_values(classified: pl.DataFrame, profile: pl.DataFrame | None = None,
                live_sr_codes: pl.DataFrame | None = None, unresolved: pl.DataFrame | None = None,
                keep_withheld: bool = False) -> pl.DataFrame:
    """food_code, component_id ('fermented_foods'), amount_per_100g (g), route, confidence.

    whole -> 100 (route literature); none -> 0 (route literature); ingredient -> the grams of
    live-culture SR ingredients per 100 g in the food's profile (route disaggregated), no row
    when the food has no profile, or when less than linkage.MIN_COVERAGE of its recipe weight
    reached SR28 (`unresolved`: the yogurt itself may be the lost part): unknown, not 0.
    keep_withheld=True adds those foods with a NULL amount and the reason.
    """
    columns = ["food_code", "component_id", "amount_per_100g", "route", "confidence"]
    fixed = classified.filter(pl.col("basis") != "ingredient").select(
        "food_code", component_id=pl.lit(COMPONENT_ID),
        amount_per_100g=pl.when(pl.col("basis") == "whole").then(100.0).otherwise(0.0),
        route=pl.lit("literature"), confidence="confidence")
    mixed = classified.filter(pl.col("basis") == "ingredient")
    if keep_withheld:
        fixed = fixed.with_columns(linked_share=pl.lit(None, pl.Float64), reason=pl.lit(None, pl.String))
    if mixed.height == 0 or profile is None or live_sr_codes is None:
        return fixed.select(columns + (["linked_share", "reason"] if keep_withheld else [])).sort("food_code")
    profile = profile.select(
        "food_code", sr_code=pl.col("sr_code").cast(pl.String).str.strip_chars().str.replace(r"\.0+$", "").str.zfill(5),
        grams=pl.col("grams_per_100g").cast(pl.Float64))
    share = live_sr_codes.select("sr_code", share=pl.col("share").fill_null(100.0) if "share" in live_sr_codes.columns
                                 else pl.lit(100.0))
    shares = (profile.join(mixed.select("food_code", "confidence"), on="food_code", how="inner")
              .join(share, on="sr_code", how="left")
              .group_by("food_code").agg(
                  amount_per_100g=(pl.col("grams") * pl.col("share").fill_null(0.0) / 100).sum()
                  .clip(upper_bound=100.0).round(4),
                  confidence=pl.col("confidence").first(),
                  # every SR ingredient is classified (live culture or not): what reached SR28 has a value
                  valued=pl.col("grams").sum(), resolved=pl.col("grams").sum())
              .with_columns(component_id=pl.lit(COMPONENT_ID)))
    lost = None if unresolved is None else unresolved.join(mixed.select("food_code"), on="food_code", how="semi")
    judged = judge_linked_share(shares, lost).join(mixed.select("food_code", "confidence"), on="food_code",
                                                   how="left", suffix="_rule")
    if not keep_withheld:
        judged = judged.filter(pl.col("reason").is_null())
    withheld = pl.col("reason").is_not_null()
    shares = judged.select(
        "food_code", "component_id", amount_per_100g=pl.when(withheld).then(None).otherwise(pl.col("amount_per_100g")),
        route=pl.lit("disaggregated"), confidence=pl.coalesce("confidence", "confidence_rule"),
        linked_share=pl.col("linked_share").round(4), reason="reason")
    columns += ["linked_share", "reason"] if keep_withheld else []
    return pl.concat([fixed.select(columns), shares.select(columns)]).sort("food_code")


# SR ingredients whose live-culture grams FPED D_YOGURT also counts (yogurt, the SR yogurt parfait).
YOGURT_SR_PATTERN = r"(?i)yogurt"
RECIPE_ROUTE = "fndds-ingredients"  # linkage route whose recipes name the yogurt itself


def fped_yogurt_grams(fped: pl.DataFrame) -> pl.DataFrame:
    """food_code, fped_yogurt_g: FPED D_YOGURT (cup eq. per 100 g) in grams of yogurt per 100 g."""
    return fped.select("food_code", fped_yogurt_g=(pl.col("D_YOGURT").cast(pl.Float64)
                                                   * YOGURT_GRAMS_PER_CUP_EQ).round(2))


def with_fped_yogurt(values: pl.DataFrame, classified: pl.DataFrame, fped: pl.DataFrame,
                     profile: pl.DataFrame | None = None, live_sr_codes: pl.DataFrame | None = None) -> pl.DataFrame:
    """`values` (food_values) with the yogurt of cold mixed dishes taken from FPED D_YOGURT.

    The FDA FDD breaks yogurt down to milk, so a parfait or tzatziki linked through it has no
    yogurt ingredient and came out at 0 g. For every food of basis `ingredient` whose profile is
    not an FNDDS Ingredients recipe naming a yogurt ingredient (that one is kept), the value becomes
    FPED's yogurt grams plus the profile's other live-culture ingredients (miso, kimchi, kefir ...;
    any yogurt-type SR ingredient of the profile is left out, FPED counts it). A food FPED does not
    list, or lists without yogurt while it has no profile, keeps what `food_values` gave. Foods of
    basis whole or none are never touched: yogurt itself stays 100 g, cooked dishes (curries,
    naan) and frozen yogurt stay 0 whatever FPED says. Adds the column yogurt_from: recipe | fped
    | classification.
    """
    columns = ["food_code", "component_id", "amount_per_100g", "route", "confidence"]
    values = values.select(columns)
    mixed = classified.filter(pl.col("basis") == "ingredient").select("food_code", "confidence")
    fped_grams = fped_yogurt_grams(fped)
    recipe_foods = pl.DataFrame(schema={"food_code": pl.String})
    other_live = pl.DataFrame(schema={"food_code": pl.String, "other_live_g": pl.Float64})
    has_profile = pl.DataFrame(schema={"food_code": pl.String})
    if profile is not None and profile.height:
        profile = profile.select(
            "food_code", route=pl.col("route") if "route" in profile.columns else pl.lit(None, pl.String),
            sr_code=pl.col("sr_code").cast(pl.String).str.strip_chars().str.replace(r"\.0+$", "").str.zfill(5),
            grams=pl.col("grams_per_100g").cast(pl.Float64))
        has_profile = profile.select("food_code").unique()
        if live_sr_codes is not None and live_sr_codes.height:
            live = live_sr_codes.select(
                "sr_code", yogurt=pl.col("sr_description").str.contains(YOGURT_SR_PATTERN),
                share=pl.col("share").fill_null(100.0) if "share" in live_sr_codes.columns else pl.lit(100.0))
            live_grams = profile.join(live, on="sr_code", how="inner").with_columns(g=pl.col("grams") * pl.col("share") / 100)
            other_live = (live_grams.filter(~pl.col("yogurt")).group_by("food_code")
                          .agg(other_live_g=pl.col("g").sum()))
            # an FNDDS recipe that names its yogurt is kept; one that lost it (a sub-recipe missing
            # from a partial Ingredients file) gets FPED's, which USDA computed from the full recipe
            recipe_foods = (live_grams.filter(pl.col("yogurt") & (pl.col("route") == RECIPE_ROUTE))
                            .group_by("food_code").agg(pl.col("g").sum()).filter(pl.col("g") > 0).select("food_code"))
    replaced = (
        mixed.join(recipe_foods, on="food_code", how="anti")
        .join(fped_grams, on="food_code", how="inner")
        .join(other_live, on="food_code", how="left")
        .join(has_profile.with_columns(profiled=pl.lit(True)), on="food_code", how="left")
        # without a profile, FPED's "no yogurt" cannot tell that the dish has no other live food
        .filter((pl.col("fped_yogurt_g") > 0) | pl.col("profiled").fill_null(False))
        .select("food_code", component_id=pl.lit(COMPONENT_ID),
                amount_per_100g=(pl.col("fped_yogurt_g") + pl.col("other_live_g").fill_null(0.0))
                .clip(upper_bound=100.0).round(4),
                route=pl.lit("disaggregated"), confidence="confidence", yogurt_from=pl.lit("fped"))
    )
    kept = values.join(replaced.select("food_code"), on="food_code", how="anti").join(
        mixed.select("food_code", from_recipe=pl.lit(True)), on="food_code", how="left").with_columns(
        yogurt_from=pl.when(pl.col("from_recipe").fill_null(False)).then(pl.lit("recipe"))
        .otherwise(pl.lit("classification"))).drop("from_recipe")
    return pl.concat([kept, replaced.select(kept.columns)]).sort("food_code")


def yogurt_crosscheck(values: pl.DataFrame, fped: pl.DataFrame, classified: pl.DataFrame,
                      tolerance_g: float = 15.0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Compare classified fermented grams with FPED D_YOGURT (cup eq. x 245 g) per food code.

    Compared: foods FPED gives yogurt, and foods classified as yogurt-type (rule mentions yogurt).
    agree = |fermented g - FPED yogurt g| <= tolerance_g per 100 g. FPED counts only the yogurt
    in fruit yogurt (~88 g/100 g) where gutaxis counts the fruit yogurt itself (100 g), hence the
    tolerance; disagreements are listed with the classification rule that explains them. Foods
    whose grams were taken from FPED (yogurt_from = fped, see `with_fped_yogurt`) agree by
    construction and are counted apart (n_from_fped), so share_agree_independent is the check.
    Returns (per_food: food_code, description, rule, basis, yogurt_from, fermented_g, fped_yogurt_g,
             difference_g, agree;
             summary: n_compared, n_agree, share_agree, share_agree_independent, n_from_fped,
             n_fped_only (FPED yogurt, gutaxis 0), n_gutaxis_only (gutaxis > 0, FPED none),
             n_without_value (mixed foods without a profile)).
    """
    fped_yogurt = fped_yogurt_grams(fped)
    yogurt_type = classified.filter((pl.col("live_cultures") == "yes")
                                    & pl.col("rule").str.contains(r"(?i)yogurt|smoothie|tzatziki|parfait"))
    candidates = pl.concat([fped_yogurt.filter(pl.col("fped_yogurt_g") > 0).select("food_code"),
                            yogurt_type.select("food_code")]).unique()
    fermented_values = values.filter(pl.col("component_id") == COMPONENT_ID).select(
        "food_code", fermented_g="amount_per_100g",
        yogurt_from=pl.col("yogurt_from") if "yogurt_from" in values.columns else pl.lit("classification"))
    basis = pl.col("basis") if "basis" in classified.columns else pl.lit(None, pl.String)
    per_food = (
        candidates.join(classified.select("food_code", "description", "rule", basis.alias("basis")),
                        on="food_code", how="left")
        .join(fermented_values, on="food_code", how="left")
        .join(fped_yogurt, on="food_code", how="left")
        .with_columns(difference_g=(pl.col("fermented_g") - pl.col("fped_yogurt_g")).round(2))
        .with_columns(agree=pl.col("difference_g").abs() <= tolerance_g)
        .select("food_code", "description", "rule", "basis", "yogurt_from", "fermented_g", "fped_yogurt_g",
                "difference_g", "agree")
        .sort("food_code")
    )
    compared = per_food.filter(pl.col("agree").is_not_null())
    independent = compared.filter(pl.col("yogurt_from").fill_null("") != "fped")
    summary = pl.DataFrame({
        "n_compared": [compared.height],
        "n_agree": [int(compared["agree"].sum())],
        "share_agree": [round(compared["agree"].mean(), 4) if compared.height else None],
        "share_agree_independent": [round(independent["agree"].mean(), 4) if independent.height else None],
        "n_from_fped": [per_food.filter(pl.col("yogurt_from") == "fped").height],
        "n_fped_only": [per_food.filter((pl.col("fermented_g") == 0) & (pl.col("fped_yogurt_g") > 0)).height],
        "n_gutaxis_only": [per_food.filter((pl.col("fermented_g") > 0) & (pl.col("fped_yogurt_g").fill_null(0) == 0)).height],
        "n_without_value": [per_food.filter(pl.col("fermented_g").is_null()).height],
    }, schema={"n_compared": pl.Int64, "n_agree": pl.Int64, "share_agree": pl.Float64,
               "share_agree_independent": pl.Float64, "n_from_fped": pl.Int64, "n_fped_only": pl.Int64,
               "n_gutaxis_only": pl.Int64, "n_without_value": pl.Int64})
    return per_food, summary
