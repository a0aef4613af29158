"""Curated literature tables (inulin-type fructans, resistant starch, beta-glucan) applied through ingredient profiles."""
from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from gutaxis import PROJECT_ROOT, GutaxisError
from gutaxis.components import curated, flavonoids, linkage

SR28_DIR = PROJECT_ROOT.parent / "shared" / "realdata" / "usda" / "sr28"

FOODS = pl.DataFrame({
    "sr_code": ["11282", "11283", "20081", "18069", "11365", "13000", "11260", "11429", "20038"],
    "sr_description": ["Onions, raw", "Onions, cooked, boiled, drained, without salt",
                       "Wheat flour, white, all-purpose, enriched, bleached", "Bread, white, commercially prepared",
                       "Potatoes, boiled, cooked in skin, flesh, without salt", "Beef, ground, raw",
                       "Mushrooms, white, raw", "Radishes, raw", "Oats"],
    "fdgrp_cd": ["1100", "1100", "2000", "1800", "1100", "1300", "1100", "1100", "2000"],
})


def table_file(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "table.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=curated.COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({"counted": "yes", "citation": "test", "confidence": "medium", **row})
    return path


def rule(**fields) -> dict:
    return {"label": fields.pop("label", "x"), "low": fields.get("amount_per_100g", 0),
            "high": fields.get("amount_per_100g", 0), **fields}


def test_shipped_tables_are_valid_and_every_counted_rule_has_a_citation_and_range():
    tables = curated.load_tables()
    assert set(tables["component_id"]) == {"inulin_fos", "resistant_starch", "beta_glucan"}
    counted = tables.filter(pl.col("counted") == "yes")
    assert counted.filter(pl.col("citation").is_null()).height == 0
    assert counted.filter((pl.col("low") > pl.col("amount_per_100g")) | (pl.col("high") < pl.col("amount_per_100g"))).height == 0
    assert set(counted["confidence"]) <= {"high", "medium", "low"}


def test_precedence_is_sr_code_then_pattern_in_file_order_then_group_default(tmp_path):
    path = table_file(tmp_path, [
        rule(fdgrp_cd="1100", amount_per_100g=0, label="other vegetables"),
        rule(description_pattern="(?i)^Onions?,.*cooked", fdgrp_cd="1100", amount_per_100g=5, label="onion, cooked"),
        rule(description_pattern="(?i)^Onions?,", fdgrp_cd="1100", amount_per_100g=8, label="onion"),
        rule(sr_code="11283", amount_per_100g=6, label="this boiled onion"),
        rule(description_pattern="(?i)^Mushrooms", fdgrp_cd="1100", amount_per_100g=0.3, counted="no", label="fungal"),
    ])
    values = curated.sr_values(curated.load_table("inulin_fos", path), FOODS)
    got = dict(values.select("sr_code", "amount_per_100g").iter_rows())
    assert got["11283"] == 6      # sr_code beats the cooked-onion pattern
    assert got["11282"] == 8      # pattern beats the group default
    assert got["11429"] == 0      # group default
    assert got["11260"] == 0      # an uncounted rule only documents: the group default still applies
    assert "13000" not in got     # no rule: unknown


@pytest.mark.parametrize("bad, message", [
    (rule(amount_per_100g=5, low=6, high=9, fdgrp_cd="1100"), "must lie within low 6.0 and high 9.0"),
    (rule(amount_per_100g=1, sr_code="123456"), "not a 5-digit SR28 code"),
    (rule(amount_per_100g=1), "names no sr_code"),
    (rule(amount_per_100g=1, fdgrp_cd="1100", confidence="sure"), "confidence is 'sure'"),
    (rule(amount_per_100g=1, description_pattern="(?i)(unclosed", fdgrp_cd="1100"), "not a valid regex"),
    (rule(amount_per_100g=1, description_pattern="(?i)^Beans"), "names no food group"),
    (rule(amount_per_100g=1, description_pattern="(?i)^Beans", fdgrp_cd="16OO"), "not a list of SR28 food group codes"),
])
def test_bad_rules_are_one_line_errors_naming_the_line(tmp_path, bad, message):
    with pytest.raises(GutaxisError, match=f"line 2: .*{message}" if "regex" not in message else message):
        curated.load_table("inulin_fos", table_file(tmp_path, [bad]))


VALUES = pl.DataFrame({
    "sr_code": ["11282", "11283", "20081", "18069", "11365", "13000", "11365"],
    "component_id": ["inulin_fos"] * 5 + ["inulin_fos", "resistant_starch"],
    "amount_per_100g": [8.0, 5.0, 4.8, 2.9, 0.0, 0.0, 1.0],
    "chilled_per_100g": [None, None, None, None, None, None, 2.1],
    "confidence": [0.6, 0.4, 0.4, 0.4, 0.4, 0.6, 0.4],
    "rule": ["onion"] * 7,
})


def profile(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"food_code": pl.String, "sr_code": pl.String, "grams_per_100g": pl.Float64},
                        orient="row")


def test_values_reach_mixed_dishes_through_their_ingredients():
    dishes = profile([
        ("75100500", "11282", 100.0),                                  # onion eaten whole
        ("58100000", "11283", 20.0), ("58100000", "13000", 80.0),      # beef and onion soup
        ("51000100", "18069", 100.0),                                  # bread
    ])
    out = curated.food_values(dishes, VALUES)
    inulin = dict(out.filter(pl.col("component_id") == "inulin_fos").select("food_code", "amount_per_100g").iter_rows())
    assert inulin == {"75100500": 8.0, "58100000": 1.0, "51000100": 2.9}
    assert set(out["route"]) == {"literature"}
    assert out.filter(pl.col("food_code") == "58100000")["confidence"].to_list()[0] == pytest.approx(0.4)


def test_cooked_then_chilled_dishes_use_the_chilled_resistant_starch_value():
    salad = profile([("71601010", "11365", 80.0), ("71601010", "13000", 20.0),
                     ("71501010", "11365", 100.0)])
    descriptions = pl.DataFrame({"food_code": ["71601010", "71501010"],
                                 "description": ["Potato salad with egg", "Potato, boiled, without peel"]})
    out = curated.food_values(salad, VALUES, food_descriptions=descriptions)
    rs = dict(out.filter(pl.col("component_id") == "resistant_starch").select("food_code", "amount_per_100g").iter_rows())
    assert rs == {"71601010": pytest.approx(0.8 * 2.1), "71501010": 1.0}


def test_foods_mostly_without_values_get_no_row():
    out = curated.food_values(profile([("1", "11282", 10.0), ("1", "99999", 90.0)]), VALUES)
    assert out.filter(pl.col("component_id") == "inulin_fos").height == 0
    kept = curated.food_values(profile([("1", "11282", 10.0), ("1", "99999", 90.0)]), VALUES, min_linked_share=0.1)
    assert kept.filter(pl.col("component_id") == "inulin_fos")["amount_per_100g"].to_list() == [0.8]


def test_reach_report_gives_shares_of_grams_and_the_biggest_unreached_foods():
    values = pl.DataFrame({"food_code": ["A", "B"], "component_id": ["inulin_fos", "inulin_fos"],
                           "amount_per_100g": [2.0, 0.0]})
    items = pl.DataFrame({"food_code": ["A", "B", "C", "D", "C"], "grams": [100.0, 300.0, 400.0, 50.0, 150.0]})
    names = pl.DataFrame({"food_code": ["C", "D"], "description": ["Soup", "Salad"]})
    summary, unreached = curated.reach_report(items, values, descriptions=names, top=5)
    row = summary.row(0, named=True)
    assert row["grams_total"] == 1000.0
    assert row["share_with_value"] == 0.4 and row["share_positive"] == 0.1
    assert unreached.select("food_code", "description", "grams", "share_of_grams").rows() == [
        ("C", "Soup", 550.0, 0.55), ("D", "Salad", 50.0, 0.05)]


@pytest.mark.realdata
@pytest.mark.skipif(not (SR28_DIR / "FOOD_DES.txt").is_file(), reason="real SR28 not found")
def test_real_sr_values_for_the_main_sources():
    values = curated.sr_values(curated.load_tables(), flavonoids.sr_foods(SR28_DIR))

    def get(code: str, component: str) -> float | None:
        row = values.filter((pl.col("sr_code") == code) & (pl.col("component_id") == component))
        return row["amount_per_100g"][0] if row.height else None

    assert get("11282", "inulin_fos") == 4.0           # onion, raw (Van Loo inulin midpoint, oligofructose inside it)
    assert get("11215", "inulin_fos") == 12.5          # garlic
    assert get("20081", "inulin_fos") == 2.5           # wheat flour
    assert get("18069", "inulin_fos") == 1.5           # white bread via its flour share
    assert get("13047", "inulin_fos") == 0.0           # beef: assumed 0
    assert get("11365", "resistant_starch") == 1.0     # boiled potato
    assert get("09040", "resistant_starch") == 2.5     # banana
    assert get("16070", "resistant_starch") == 2.5     # lentils, cooked
    assert get("08120", "beta_glucan") == 4.0          # rolled oats, dry
    assert get("20033", "beta_glucan") == 7.0          # oat bran
    assert get("11260", "beta_glucan") == 0.0          # mushrooms: fungal glucan not counted as cereal


def test_a_pattern_claims_only_foods_of_the_groups_it_names(tmp_path):
    foods = pl.DataFrame({
        "sr_code": ["16015", "11052", "11043", "16069", "18069", "09059"],
        "sr_description": ["Beans, black, mature seeds, cooked, boiled, without salt", "Beans, snap, green, raw",
                           "Beans, kidney, mature seeds, sprouted, raw", "Lentils, raw",
                           "Bread, white, commercially prepared", "Breadfruit, raw"],
        "fdgrp_cd": ["1600", "1100", "1100", "1600", "1800", "0900"],
    })
    path = table_file(tmp_path, [
        rule(description_pattern="(?i)^(Beans|Lentils)", fdgrp_cd="1600", amount_per_100g=2.5, label="legumes"),
        rule(description_pattern="(?i)^Bread", fdgrp_cd="1800 2500", amount_per_100g=1.0, label="breads"),
        rule(fdgrp_cd="1100", amount_per_100g=0, label="other vegetables"),
    ])
    got = dict(curated.sr_values(curated.load_table("resistant_starch", path), foods)
               .select("sr_code", "rule").iter_rows())
    assert got == {"16015": "legumes", "16069": "legumes", "11052": "other vegetables", "11043": "other vegetables",
                   "18069": "breads"}  # snap beans and sprouts are vegetables; breadfruit is no bread (no value)


def test_the_rule_confidence_survives_the_join_with_a_profile_that_has_its_own_confidence():
    """The linkage profile carries a link confidence column; it must not replace the rule's (literature <= 0.8)."""
    linked = profile([("75100500", "11282", 100.0), ("58100000", "11283", 20.0), ("58100000", "13000", 80.0)])
    linked = linked.with_columns(confidence=pl.lit(1.0))
    out = curated.food_values(linked, VALUES)
    confidence = dict(out.filter(pl.col("component_id") == "inulin_fos").select("food_code", "confidence").iter_rows())
    assert confidence == {"75100500": 0.6, "58100000": pytest.approx(0.4)}
    half_linked = curated.food_values(linked.with_columns(confidence=pl.lit(0.5)), VALUES)
    assert half_linked.filter(pl.col("food_code") == "75100500")["confidence"].to_list()[0] == pytest.approx(0.3)


def test_weight_that_reached_no_sr_food_counts_against_the_linked_share():
    """Dried blueberries: FDD lists the fruit (no SR28 match) and some sugar (SR, an assumed 0)."""
    dried_fruit = profile([("63203010", "19335", 10.0), ("75100500", "11282", 100.0)])
    sugar = pl.DataFrame({"sr_code": ["19335"], "component_id": ["inulin_fos"], "amount_per_100g": [0.0],
                          "chilled_per_100g": [None], "confidence": [0.6], "rule": ["sweets"]})
    values = pl.concat([VALUES, sugar], how="vertical_relaxed")
    lost = pl.DataFrame({"food_code": ["63203010"], "route": ["fda-fdd"], "ingredient_code": [None],
                         "ingredient_description": ["Blueberries, dried"], "grams_per_100g": [90.0],
                         "reason": ["no SR28 food matches this basic ingredient (crosswalk)"]},
                        schema=linkage.UNRESOLVED_SCHEMA)
    assert curated.food_values(dried_fruit, values).filter(pl.col("food_code") == "63203010")[
        "amount_per_100g"].to_list() == [0.0]  # without the lost weight: "all sugar, so 0"
    out = curated.food_values(dried_fruit, values, unresolved=lost)
    assert out.filter(pl.col("food_code") == "63203010").height == 0
    assert out.filter(pl.col("food_code") == "75100500")["amount_per_100g"].to_list() == [8.0]
    kept = curated.food_values(dried_fruit, values, unresolved=lost, keep_withheld=True)
    row = kept.filter((pl.col("food_code") == "63203010") & (pl.col("component_id") == "inulin_fos")).row(0, named=True)
    assert row["amount_per_100g"] is None and row["linked_share"] == 0.1
    assert row["reason"].startswith("10% of the recipe weight has a value, below 50%: 90% reached no SR28 food")


def test_brewed_beverages_get_none_of_their_malts_beta_glucan_starch_or_fructans():
    """FDA-FDD gives beer as malted barley (SR pearled barley) + hops + water; brewing removes these components."""
    barley = pl.DataFrame({"sr_code": ["20005"] * 3, "component_id": ["beta_glucan", "resistant_starch", "inulin_fos"],
                           "amount_per_100g": [4.5, 2.5, 1.0], "chilled_per_100g": [None, None, None],
                           "confidence": [0.6, 0.4, 0.6], "rule": ["barley"] * 3})
    water = pl.DataFrame({"sr_code": ["14411"] * 3, "component_id": ["beta_glucan", "resistant_starch", "inulin_fos"],
                          "amount_per_100g": [0.0] * 3, "chilled_per_100g": [None] * 3, "confidence": [0.6] * 3,
                          "rule": ["beverages"] * 3})
    recipes = profile([("93101000", "20005", 4.0), ("93101000", "14411", 95.0),
                       ("93106100", "20005", 6.0), ("93106100", "14411", 93.0),
                       ("14710200", "20005", 10.0), ("14710200", "14411", 90.0)])
    names = pl.DataFrame({"food_code": ["93101000", "93106100", "14710200"],
                          "description": ["Beer", "Alcoholic malt beverage", "Beer cheese soup, made with milk"]})
    out = curated.food_values(recipes, pl.concat([barley, water]), food_descriptions=names)
    amounts = {(r["food_code"], r["component_id"]): r["amount_per_100g"] for r in out.iter_rows(named=True)}
    for food in ("93101000", "93106100"):
        assert [amounts[(food, c)] for c in ("beta_glucan", "inulin_fos", "resistant_starch")] == [0.0, 0.0, 0.0]
        assert out.filter(pl.col("food_code") == food)["confidence"].max() <= curated.BREWED_CONFIDENCE
    assert amounts[("14710200", "beta_glucan")] == pytest.approx(0.45)  # the soup is not a brewed drink
    without_descriptions = curated.food_values(recipes, pl.concat([barley, water]))
    assert without_descriptions.filter((pl.col("food_code") == "93101000") & (pl.col("component_id") == "beta_glucan"))[
        "amount_per_100g"].to_list() == [0.18]  # what the barley rule alone gives a beer


# What each pattern rule claims in the real SR28 (8,789 foods). A change of a pattern, a group or the rule
# order shows here first: review the foods it adds or drops, then update the count.
PATTERN_RULE_MATCHES = {
    "beta_glucan": {
        "barley, cooked": 1, "barley, dry (hulled, pearled, flour)": 4, "oat bran": 1, "oat bran, cooked": 3,
        "oat ring cereals": 15, "oatmeal, cooked": 3, "oats, dry": 7, "other oat-based cereals and bars": 146,
    },
    "inulin_fos": {
        "Jerusalem artichoke": 1, "asparagus, cooked or canned": 8, "asparagus, raw": 1, "banana, dried": 1,
        "banana, raw": 1, "barley": 4, "barley, cooked": 1, "chicory root, raw": 1,
        "corn, rice or gluten-free baked goods": 33, "crackers and pretzels": 56, "dandelion greens, cooked": 2,
        "dandelion greens, raw": 1, "garlic powder": 1, "garlic, raw": 1, "globe artichoke, cooked": 5,
        "globe artichoke, raw": 1, "leek, cooked": 2, "leek, raw": 1, "non-wheat pasta": 8,
        "onion powder / dehydrated onion": 2, "onion, cooked": 8, "onion, raw": 5, "rye": 4, "rye bread": 4,
        "salsify, cooked": 2, "salsify, raw": 1, "spring onions, scallions": 2, "wheat bran": 1, "wheat breads": 122,
        "wheat breakfast cereals, dry": 54, "wheat cereals, cooked": 14, "wheat flour and grain": 35,
        "wheat grains, cooked": 3, "wheat pasta, cooked": 21, "wheat pasta, dry": 11,
    },
    "resistant_starch": {
        "banana, dried": 1, "banana, raw": 1, "breads": 80, "cooked whole grains": 7, "corn flakes": 4,
        "corn tortillas, masa, cornmeal": 36, "dry legumes, raw (cooked in the recipe)": 33,
        "flour (baked in the recipe)": 29, "fried potatoes, chips": 46, "green peas": 32,
        "legumes, cooked or canned": 111, "mashed or dehydrated potato": 12, "oatmeal, cooked": 6,
        "oats, dry (cooked in the recipe)": 8, "pasta and noodles, cooked": 30, "pasta, dry (cooked in the recipe)": 14,
        "plantain": 4, "potato (boiled, baked, raw for cooking)": 63, "rice, cooked": 21,
        "rice, dry (cooked in the recipe)": 14, "sweet corn": 33, "whole grains, dry (cooked in the recipe)": 20,
    },
}


@pytest.mark.realdata
@pytest.mark.skipif(not (SR28_DIR / "FOOD_DES.txt").is_file(), reason="real SR28 not found")
def test_every_rule_claims_only_foods_of_its_groups_in_the_real_sr28():
    tables = curated.load_tables()
    values = curated.sr_values(tables, flavonoids.sr_foods(SR28_DIR))
    rules = tables.select("component_id", rule_line="rule_order", groups="food_groups", pattern="description_pattern")
    claimed = values.join(rules, on=["component_id", "rule_line"], how="left")
    outside = claimed.filter(~pl.col("fdgrp_cd").is_in(pl.col("groups")) & pl.col("groups").is_not_null())
    assert outside.height == 0, outside.select("component_id", "rule", "sr_description", "fdgrp_cd").head(10)
    counts = (claimed.filter(pl.col("pattern").is_not_null()).group_by("component_id", "rule").len()
              .rows_by_key("component_id"))
    assert {c: dict(rows) for c, rows in counts.items()} == PATTERN_RULE_MATCHES

    def rules_of(description_regex: str, component: str) -> set[str]:
        return set(values.filter((pl.col("component_id") == component)
                                 & pl.col("sr_description").str.contains(description_regex))["rule"])
    # legumes are the mature seeds of group 1600: snap beans, sprouts, cowpea leaves and pods are vegetables
    assert rules_of(r"^Beans, snap|^(Beans|Lentils).*sprouted|^Cowpeas, (leafy tips|young pods)", "resistant_starch") \
        == {"vegetables other than starchy ones"}
    assert rules_of(r"^Sweet potato leaves", "resistant_starch") == {"vegetables other than starchy ones"}
    assert rules_of(r"^(Breadfruit|Pitanga)", "inulin_fos") == {"fruits other than banana"}
    assert rules_of(r"^(Macaroni|Pasta|Spaghetti|SPAGHETTIOS)", "inulin_fos") <= {
        "non-wheat pasta", "wheat pasta, dry", "wheat pasta, cooked",
        "sausages and luncheon meats"}  # pasta rules: group 2000 only (the 0700 macaroni-and-cheese loaf is a meat)
    assert values.filter(pl.col("fdgrp_cd") == "2200").height == 0  # mixed dishes: no single rule fits them
    assert rules_of(r"GENERAL MILLS, (Corn|Rice) CHEX", "inulin_fos") == {"breakfast cereals without wheat"}


@pytest.mark.realdata
@pytest.mark.skipif(not (SR28_DIR / "FOOD_DES.txt").is_file(), reason="real SR28 not found")
def test_inulin_of_the_source_foods_lies_in_van_loos_inulin_range_not_the_sum_of_both_fractions():
    """Van Loo 1995 (LITERATURE.md): inulin / oligofructose g per 100 g fresh; the second is part of the first."""
    inulin_range = {  # SR code: (low, high) of the inulin column, the total of inulin-type fructans
        "11226": (16, 20),   # Jerusalem-artichokes, raw (oligofructose 10-15)
        "11154": (15, 20),   # Chicory roots, raw (5-10)
        "11215": (9, 16),    # Garlic, raw (3-6)
        "11246": (3, 10),    # Leeks, raw (2-5)
        "11282": (2, 6),     # Onions, raw (2-6)
        "09040": (0.3, 0.7), # Bananas, raw (0.3-0.7)
        "20081": (1, 4),     # Wheat flour, white, all-purpose (1-4)
        "11007": (3, 10),    # Artichokes, globe, raw (<1)
        "11011": (0, 3),     # Asparagus, raw: total fructan 0-3.0 (Muir et al. 2007)
    }
    values = curated.sr_values(curated.load_tables(), flavonoids.sr_foods(SR28_DIR)).filter(
        pl.col("component_id") == "inulin_fos")
    got = dict(values.filter(pl.col("sr_code").is_in(list(inulin_range))).select("sr_code", "amount_per_100g").iter_rows())
    assert set(got) == set(inulin_range)
    for code, (low, high) in inulin_range.items():
        assert low <= got[code] <= high, (code, got[code], low, high)
    # wheat products follow the flour: nothing wheat-based may exceed wheat's 4 g/100 g (dry matter is not higher)
    wheaty = values.filter(pl.col("rule").str.contains("wheat|bread|pasta|crackers|baked"))
    assert wheaty["amount_per_100g"].max() <= 4.0


@pytest.mark.realdata
def test_brewed_beverage_rule_matches_the_beers_and_malt_beverages_of_fndds(realdata):
    foods = pl.read_csv(realdata / "usda" / "fndds-2017-2018" / "FNDDS_2017_2018_nutrient_values.csv",
                        infer_schema=False).select(code="Food code", description="Main food description")
    brewed = foods.filter(pl.col("description").str.contains(curated.BREWED_BEVERAGE))
    assert dict(brewed.iter_rows()) == {
        "92803000": "Nonalcoholic malt beverage", "93101000": "Beer", "93102000": "Beer, light",
        "93102100": "Beer, low carb", "93102200": "Beer, light, higher alcohol", "93102300": "Beer, higher alcohol",
        "93106000": "Alcoholic malt beverage, sweetened", "93106010": "Alcoholic malt beverage, higher alcohol, sweetened",
        "93106100": "Alcoholic malt beverage", "93106500": "Hard cider"}
