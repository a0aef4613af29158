"""Curated literature values (inulin-type fructans, resistant starch, cereal beta-glucan) applied through ingredients.

Each table in data/reference/ (inulin_fos.csv, resistant_starch.csv, beta_glucan.csv) has rules
that give an SR28 food a value per 100 g: a rule names an `sr_code`, or a `description_pattern`
(regex on SR `Long_Desc`) within the SR28 food groups `fdgrp_cd` names (one or more, space
separated: a pattern always has its groups, since words like "Beans" or "Bread" also start snap
beans and breadfruit), or only `fdgrp_cd` (the default for whole SR food groups, often an assumed
0). Precedence: sr_code, then patterns in file order, then the group default. Rules with counted = no only document a value that does not feed the
component (mushrooms' fungal beta-glucan): they neither give a value nor claim the food. Every rule carries low/high, citation and confidence.

FNDDS foods get their value from their SR ingredient profile (gutaxis.components.linkage: grams of each SR
ingredient per 100 g of food), so onion in a soup, wheat flour in bread and potato in a salad
count; a food eaten whole is a profile with one ingredient at 100 g.
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis import DATA_DIR, GutaxisError
from gutaxis.components.linkage import MIN_COVERAGE, WITHHELD_SCHEMA, judge_linked_share
from gutaxis.reference_tables import read_reference

REFERENCE_DIR = DATA_DIR / "reference"
TABLES = {
    "inulin_fos": REFERENCE_DIR / "inulin_fos.csv",
    "resistant_starch": REFERENCE_DIR / "resistant_starch.csv",
    "beta_glucan": REFERENCE_DIR / "beta_glucan.csv",
}
COLUMNS = ("sr_code", "description_pattern", "fdgrp_cd", "label", "amount_per_100g", "low", "high", "counted",
           "chilled_per_100g", "citation", "confidence", "note")
CONFIDENCE_LEVELS = ("high", "medium", "low")
# Literature values are not analyses of the food: even "high" stays below analytical values (1.0).
CONFIDENCE_SCORES = {"high": 0.8, "medium": 0.6, "low": 0.4}
# FNDDS descriptions of dishes eaten cold after cooking, where retrograded starch raises RS.
CHILLED_DISH = r"(?i)\bsalad\b|\bcold\b|chilled|\bsushi\b|\bleftover"
# FNDDS descriptions of brewed and fermented cereal beverages (beer, malt beverages; not beer cheese soup
# or root beer). Mashing hydrolyses the malt's starch and its (1,3/1,4) beta-glucans (barley 1.5-2.5 %,
# well-modified malt 0.15-0.3 %: Lyons, MBAA Tech Q 1978;15:102), boiling precipitates more, and the
# yeast ferments the sugars and fructans; what stays in beer is dextrins and fragments of cell-wall
# polysaccharides (Bamforth, Beer: Health and Nutrition, 2004, ch. 5). As for brewed coffee and tea,
# the ingredient list (FDA-FDD: malted barley + water) does not describe the drink: these foods get 0
# for the curated components, whatever their recipe's cereals.
BREWED_BEVERAGE = r"(?i)^(beer|ale|lager|stout|porter)(,|$)|\bmalt beverage\b|^hard (seltzer|cider)\b|^sake\b|^kvass\b"
BREWED_CONFIDENCE = CONFIDENCE_SCORES["medium"]


def load_table(component_id: str, path: Path | None = None) -> pl.DataFrame:
    """One curated table, validated, with component_id and rule_order (file order) added."""
    path = Path(path) if path else TABLES.get(component_id)
    if path is None:
        raise GutaxisError(f"no curated table for {component_id!r}; known: {sorted(TABLES)}")
    table = read_reference(path, COLUMNS, "curated table").with_row_index("rule_order", offset=2).with_columns(
        component_id=pl.lit(component_id),
        sr_code=pl.col("sr_code").str.strip_chars().str.zfill(5),
        fdgrp_cd=pl.col("fdgrp_cd").str.strip_chars(),
        food_groups=pl.col("fdgrp_cd").str.strip_chars().str.split(" ")
        .list.eval(pl.element().filter(pl.element() != "").str.zfill(4)),
        **{c: pl.col(c).cast(pl.Float64, strict=False) for c in ("amount_per_100g", "low", "high", "chilled_per_100g")},
        counted=pl.col("counted").fill_null("yes"),
    )
    def fail(bad: pl.DataFrame, message: str) -> None:
        if bad.height:
            row = bad.row(0, named=True)
            raise GutaxisError(f"{path}: line {row['rule_order']}: " + message.format(**row) + "; fix the table")
    fail(table.filter(pl.col("sr_code").is_null() & pl.col("description_pattern").is_null() & pl.col("fdgrp_cd").is_null()),
         "the rule names no sr_code, description_pattern or fdgrp_cd")
    fail(table.filter(pl.col("sr_code").is_not_null() & ~pl.col("sr_code").str.contains(r"^\d{5}$")),
         "sr_code {sr_code!r} is not a 5-digit SR28 code")
    fail(table.filter(pl.col("fdgrp_cd").is_not_null() & ~pl.col("fdgrp_cd").str.contains(r"^\d{3,4}( +\d{3,4})*$")),
         "fdgrp_cd {fdgrp_cd!r} is not a list of SR28 food group codes (e.g. 1100 or '1100 2500')")
    fail(table.filter(pl.col("description_pattern").is_not_null() & pl.col("fdgrp_cd").is_null()),
         "the description_pattern {description_pattern!r} names no food group: give the SR28 groups (fdgrp_cd) "
         "it is meant for, so that it cannot claim foods of other groups")
    fail(table.filter(pl.col("amount_per_100g").is_null() | (pl.col("amount_per_100g") < 0)),
         "amount_per_100g is missing or negative")
    fail(table.filter(pl.col("low").is_null() | pl.col("high").is_null()
                      | (pl.col("low") > pl.col("amount_per_100g")) | (pl.col("amount_per_100g") > pl.col("high"))),
         "the value {amount_per_100g} must lie within low {low} and high {high}")
    fail(table.filter((pl.col("counted") == "yes") & ~pl.col("confidence").is_in(list(CONFIDENCE_LEVELS))),
         "confidence is {confidence!r}; use high, medium or low")
    fail(table.filter((pl.col("counted") == "yes") & (pl.col("citation").is_null() | (pl.col("citation") == ""))),
         "a counted rule needs a citation (or 'assumed' with the reason in note)")
    fail(table.filter(~pl.col("counted").is_in(["yes", "no"])), "counted is {counted!r}; use yes or no")
    for pattern, line in table.filter(pl.col("description_pattern").is_not_null()).select(
            "description_pattern", "rule_order").iter_rows():
        try:
            pl.Series(["x"]).str.contains(pattern)
        except pl.exceptions.PolarsError:
            raise GutaxisError(f"{path}: line {line}: description_pattern {pattern!r} is not a valid regex") from None
    return table


def load_tables(component_ids: tuple[str, ...] = tuple(TABLES)) -> pl.DataFrame:
    return pl.concat([load_table(c) for c in component_ids], how="diagonal_relaxed")


def sr_values(tables: pl.DataFrame, foods: pl.DataFrame) -> pl.DataFrame:
    """sr_code, component_id, amount_per_100g, chilled_per_100g, confidence (0-1), rule (label) per SR food,
    and which rule gave it: rule_line (its line in the table), sr_description, fdgrp_cd (the food's group).

    `foods` is gutaxis.components.flavonoids.sr_foods(): sr_code, sr_description, fdgrp_cd.
    """
    picked = []
    for component_id, rules in tables.partition_by("component_id", as_dict=True, maintain_order=True).items():
        component_id = component_id[0]
        remaining = foods.select("sr_code", "sr_description", "fdgrp_cd")
        matched = []
        ordered = rules.with_columns(
            tier=pl.when(pl.col("sr_code").is_not_null()).then(0)
            .when(pl.col("description_pattern").is_not_null()).then(1).otherwise(2)
        ).sort("tier", "rule_order")
        for rule in ordered.iter_rows(named=True):
            if rule["counted"] != "yes":
                continue  # documentation only: it neither gives a value nor claims the food
            if rule["sr_code"] is not None:
                hit = remaining.filter(pl.col("sr_code") == rule["sr_code"])
            else:
                hit = remaining
                if rule["description_pattern"] is not None:
                    hit = hit.filter(pl.col("sr_description").str.contains(rule["description_pattern"]))
                if rule["food_groups"] is not None:
                    hit = hit.filter(pl.col("fdgrp_cd").is_in(list(rule["food_groups"])))
            if hit.height == 0:
                continue
            remaining = remaining.join(hit.select("sr_code"), on="sr_code", how="anti")
            matched.append(hit.select(
                "sr_code", component_id=pl.lit(component_id), amount_per_100g=pl.lit(rule["amount_per_100g"]),
                chilled_per_100g=pl.lit(rule["chilled_per_100g"], pl.Float64),
                confidence=pl.lit(CONFIDENCE_SCORES.get(rule["confidence"], 0.4)), rule=pl.lit(rule["label"]),
                rule_line=pl.lit(rule["rule_order"], pl.Int64), sr_description="sr_description", fdgrp_cd="fdgrp_cd"))
        if matched:
            picked.append(pl.concat(matched))
    if not picked:
        return pl.DataFrame(schema={"sr_code": pl.String, "component_id": pl.String, "amount_per_100g": pl.Float64,
                                    "chilled_per_100g": pl.Float64, "confidence": pl.Float64, "rule": pl.String,
                                    "rule_line": pl.Int64, "sr_description": pl.String, "fdgrp_cd": pl.String})
    return pl.concat(picked).sort("component_id", "sr_code")


def food_values(profile: pl.DataFrame, values: pl.DataFrame, *, food_descriptions: pl.DataFrame | None = None,
                unresolved: pl.DataFrame | None = None, min_linked_share: float = MIN_COVERAGE,
                keep_withheld: bool = False) -> pl.DataFrame:
    """food_code, component_id, amount_per_100g, route ('literature'), confidence, linked_share.

    amount = sum over SR ingredients of grams_per_100g x value / 100; for dishes eaten cold
    (FNDDS description: salad, cold, chilled, sushi), ingredients with a chilled_per_100g
    (cooked-then-cooled starch) use it; brewed beverages (BREWED_BEVERAGE: beer, malt beverages)
    are 0 whatever their recipe's cereals. linked_share is the share of the whole recipe's weight
    (`unresolved`: the profile's ingredients that reached no SR28 food, included) whose SR
    ingredient has a value; foods below `min_linked_share` get no row (unknown, not 0), or with
    keep_withheld=True a row with a NULL amount and the reason (gutaxis.components.linkage.judge_linked_share).
    confidence = the rule's confidence x the ingredient link's, gram- (or amount-) weighted, x
    linked_share.
    """
    missing = [c for c in ("food_code", "sr_code", "grams_per_100g") if c not in profile.columns]
    if missing:
        raise GutaxisError(f"ingredient profile lacks column {missing[0]!r}; expected food_code, sr_code, grams_per_100g "
                           "(gutaxis.components.linkage.ingredient_profile)")
    profile = profile.with_columns(
        sr_code=pl.col("sr_code").cast(pl.String).str.strip_chars().str.replace(r"\.0+$", "").str.zfill(5),
        grams=pl.col("grams_per_100g").cast(pl.Float64),
        profile_confidence=pl.col("confidence").cast(pl.Float64).fill_null(1.0)
        if "confidence" in profile.columns else pl.lit(1.0),
    ).select("food_code", "sr_code", "grams", "profile_confidence")
    if food_descriptions is not None:
        kinds = food_descriptions.select("food_code", chilled=pl.col("description").str.contains(CHILLED_DISH),
                                         brewed=pl.col("description").str.contains(BREWED_BEVERAGE))
        profile = profile.join(kinds, on="food_code", how="left").with_columns(pl.col("chilled", "brewed").fill_null(False))
    else:
        profile = profile.with_columns(chilled=pl.lit(False), brewed=pl.lit(False))
    # The rule's confidence gets its own name before the join: the profile's link confidence must not shadow it.
    values = values.select("sr_code", "component_id", "amount_per_100g", "chilled_per_100g",
                           value_confidence=pl.col("confidence").cast(pl.Float64))
    components = values.select("component_id").unique().sort("component_id")
    rows = (
        profile.join(components, how="cross")
        .join(values, on=["sr_code", "component_id"], how="left")
        .with_columns(value=pl.when(pl.col("brewed")).then(0.0)
                      .when(pl.col("chilled") & pl.col("chilled_per_100g").is_not_null())
                      .then(pl.col("chilled_per_100g")).otherwise(pl.col("amount_per_100g")),
                      value_confidence=pl.when(pl.col("brewed")).then(BREWED_CONFIDENCE)
                      .otherwise(pl.col("value_confidence")))
    )
    known = pl.col("value").is_not_null()
    contribution = pl.col("grams") * pl.col("value") / 100
    both = pl.col("value_confidence") * pl.col("profile_confidence")
    per_food = rows.group_by("food_code", "component_id").agg(
        amount_per_100g=contribution.sum().round(4),
        valued=pl.col("grams").filter(known).sum(),
        resolved=pl.col("grams").sum(),
        _conf=(pl.col("grams") * both).filter(known).sum() / pl.col("grams").filter(known).sum(),
        _amount_conf=(contribution * both).filter(known).sum() / contribution.filter(known).sum(),
    )
    judged = judge_linked_share(per_food, unresolved, min_linked_share)
    if not keep_withheld:
        judged = judged.filter(pl.col("reason").is_null())
    withheld = pl.col("reason").is_not_null()
    return (
        judged.with_columns(
            route=pl.lit("literature"),
            amount_per_100g=pl.when(withheld).then(None).otherwise(pl.col("amount_per_100g")),
            confidence=pl.when(withheld).then(None).otherwise(
                (pl.when(pl.col("amount_per_100g") > 0).then(pl.col("_amount_conf")).otherwise(pl.col("_conf"))
                 .fill_nan(None).fill_null(0.0) * pl.col("linked_share").clip(upper_bound=1.0)).round(3)),
            linked_share=pl.col("linked_share").round(4),
        )
        .select("food_code", "component_id", "amount_per_100g", "route", "confidence", "linked_share",
                *(["reason"] if keep_withheld else []))
        .sort("food_code", "component_id")
    )


def reach_report(items_grams_by_food_code: pl.DataFrame, values: pl.DataFrame,
                 descriptions: pl.DataFrame | None = None, top: int = 20) -> tuple[pl.DataFrame, pl.DataFrame]:
    """How much of a cohort's food the curated tables reach, per component.

    items_grams_by_food_code: food_code, grams (diary items; several rows per code are summed).
    values: food_values() output (food_code, component_id, amount_per_100g ...).
    Returns (summary, unreached):
      summary: component_id, grams_total, share_with_value (a value, 0 included), share_positive
        (a value above 0: the tables' source foods reached);
      unreached: component_id, food_code, description, grams, share_of_grams — the `top` foods by
        grams that have no value (no ingredient rule reached them), largest first.
    """
    grams = (items_grams_by_food_code.select(
        food_code=pl.col("food_code").cast(pl.String).str.strip_chars().str.replace(r"\.0+$", ""),
        grams=pl.col("grams").cast(pl.Float64))
        .group_by("food_code").agg(pl.col("grams").sum()))
    total = grams["grams"].sum()
    components = values.select("component_id").unique().sort("component_id")
    joined = grams.join(components, how="cross").join(
        values.select("food_code", "component_id", "amount_per_100g"), on=["food_code", "component_id"], how="left")
    summary = joined.group_by("component_id").agg(
        grams_total=pl.col("grams").sum(),
        share_with_value=(pl.col("grams").filter(pl.col("amount_per_100g").is_not_null()).sum() / total),
        share_positive=(pl.col("grams").filter(pl.col("amount_per_100g") > 0).sum() / total),
    ).with_columns(pl.col("share_with_value", "share_positive").round(4)).sort("component_id")
    unreached = (
        joined.filter(pl.col("amount_per_100g").is_null())
        .with_columns(share_of_grams=(pl.col("grams") / total).round(4))
        .sort(["component_id", "grams", "food_code"], descending=[False, True, False])
        .group_by("component_id", maintain_order=True).head(top)
    )
    if descriptions is not None:
        unreached = unreached.join(descriptions.select("food_code", "description"), on="food_code", how="left")
    else:
        unreached = unreached.with_columns(description=pl.lit(None, pl.String))
    return summary, unreached.select("component_id", "food_code", "description", "grams", "share_of_grams")
