"""The foods of the Dietary Index for Gut Microbiota (DI-GM) as components: grams per day of each named food.

Eight of the 14 DI-GM components are foods that no nutrient table or FPED group carries (avocado,
broccoli, chickpeas, coffee, cranberries, fermented dairy, green tea, soybean; Kase et al.,
Nutrients 2024;16:1045). data/reference/digm_foods.csv classifies FNDDS food codes into them
(rationale per rule in data/reference/README.md). Each becomes a registry component
`digm_<food>` in grams of that food eaten: a food a rule counts has 100 g per 100 g, every other
FNDDS food 0, so an item's amount is its grams and the day's amount the grams summed, like any
other component (gutaxis.exposure). Rules per component: an 8-digit code, a code prefix (`114*`)
or a description_pattern (regex on the FNDDS description), `counted` yes or no. Precedence
within a component: exact code, then the longest matching prefix, then patterns in file order;
a food no rule of the component names is not that food (0).
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis import DATA_DIR, GutaxisError
from gutaxis.components.code_rules import match_rules
from gutaxis.reference_tables import read_reference

CLASSIFICATION_PATH = DATA_DIR / "reference" / "digm_foods.csv"
COLUMNS = ("component", "code", "description_pattern", "description", "counted", "rationale", "citation")
FOODS = ("avocado", "broccoli", "chickpeas", "coffee", "cranberries", "fermented_dairy", "green_tea", "soybean")
COMPONENT_PREFIX = "digm_"
# A classification by food code, not an analysis: the same confidence as the fermented-food rules.
CONFIDENCE = 0.8
ROUTE = "literature"


def component_id(food: str) -> str:
    return f"{COMPONENT_PREFIX}{food}"


COMPONENT_IDS = tuple(component_id(food) for food in FOODS)


def load_classification(path: Path = CLASSIFICATION_PATH) -> pl.DataFrame:
    """The rules, validated, with their line number (rule_order)."""
    path = Path(path)
    table = read_reference(path, COLUMNS, "DI-GM food classification").with_row_index("rule_order", offset=2)
    table = table.with_columns(pl.col("code").str.strip_chars())

    def fail(bad: pl.DataFrame, message: str) -> None:
        if bad.height:
            row = bad.row(0, named=True)
            raise GutaxisError(f"{path}: line {row['rule_order']}: " + message.format(**row) + "; fix the classification")

    fail(table.filter(~pl.col("component").is_in(list(FOODS))),
         "component is {component!r}; use one of " + ", ".join(FOODS))
    fail(table.filter(~pl.col("counted").is_in(["yes", "no"])), "counted is {counted!r}; use yes or no")
    fail(table.filter(pl.col("code").is_null() & pl.col("description_pattern").is_null()),
         "a rule needs a code, a code prefix (114*) or a description_pattern")
    fail(table.filter(pl.col("code").is_not_null() & ~pl.col("code").str.contains(r"^(\d{8}|\d{1,7}\*)$")),
         "code {code!r} is neither an 8-digit FNDDS code nor a prefix like 114*")
    fail(table.filter(pl.col("rationale").is_null() | pl.col("citation").is_null()),
         "every rule needs a rationale and a citation")
    for row in table.filter(pl.col("description_pattern").is_not_null()).iter_rows(named=True):
        try:
            pl.select(pl.lit("").str.contains(row["description_pattern"]))
        except pl.exceptions.PolarsError:
            fail(pl.DataFrame([row]), "description_pattern {description_pattern!r} is not a valid regular expression")
    return table


def classify(foods: pl.DataFrame, rules: pl.DataFrame | None = None) -> pl.DataFrame:
    """component, food_code, description, counted (bool), rule, rationale: for every DI-GM food and
    every food given, the rule that decides (foods no rule names: counted false, rule null).

    `foods`: food_code (8 digits), description (the FNDDS Main food description).
    """
    rules = load_classification() if rules is None else rules
    foods = foods.select(pl.col("food_code").cast(pl.String), pl.col("description").cast(pl.String))
    decided = []
    for food in FOODS:
        own = rules.filter(pl.col("component") == food)
        taken, remaining = match_rules(foods, own)
        for rule, hit in taken:
            decided.append(hit.with_columns(component=pl.lit(food), counted=pl.lit(rule["counted"] == "yes"),
                                            rule=pl.lit(rule["description"]), rationale=pl.lit(rule["rationale"])))
        decided.append(remaining.with_columns(component=pl.lit(food), counted=pl.lit(False),
                                              rule=pl.lit(None, pl.String), rationale=pl.lit(None, pl.String)))
    return (pl.concat(decided).select("component", "food_code", "description", "counted", "rule", "rationale")
            .sort("component", "food_code"))


def food_values(foods: pl.DataFrame, rules: pl.DataFrame | None = None) -> pl.DataFrame:
    """food_code, component_id (digm_<food>), amount_per_100g (100 for a counted food, else 0), route,
    confidence: one row per food given and DI-GM food."""
    classified = classify(foods, rules)
    return classified.select(
        "food_code", component_id=pl.lit(COMPONENT_PREFIX) + pl.col("component"),
        amount_per_100g=pl.when(pl.col("counted")).then(100.0).otherwise(0.0),
        route=pl.lit(ROUTE), confidence=pl.lit(CONFIDENCE)).sort("food_code", "component_id")
