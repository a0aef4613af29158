"""DI-GM (Kase et al., Nutrients 2024;16:1045): the scoring rules per component on built fixtures, the
FNDDS food classification's loader and precedence, and (realdata) what each DI-GM food matches in
FNDDS 2017-2018."""
from __future__ import annotations

import re

import polars as pl
import pytest

from gutaxis import PROJECT_ROOT, GutaxisError
from gutaxis.components import digm_foods
from gutaxis.formats import nhanes_tot
from gutaxis.indices import INDICES, digm

NEUTRAL = {"digm_avocado": 0.0, "digm_broccoli": 0.0, "digm_chickpeas": 0.0, "digm_coffee": 0.0,
           "digm_cranberries": 0.0, "digm_fermented_dairy": 0.0, "fiber": 0.0, "digm_green_tea": 0.0,
           "digm_soybean": 0.0, "fg_whole_grains": 0.0, "fg_red_meat": 0.0, "fg_cured_meat": 0.0,
           "fg_refined_grains": 0.0, "fat_total": 50.0, "energy_kcal": 2000.0}


def _days(values: dict[str, list[float]], sexes: list[str] | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    n = len(next(iter(values.values())))
    rows = pl.DataFrame({"participant_id": [f"p{i}" for i in range(n)], "recall_day": [1] * n,
                         **{c: values.get(c, [v] * n) for c, v in NEUTRAL.items()}})
    participants = pl.DataFrame({"participant_id": [f"p{i}" for i in range(n)], "sex": sexes or ["2"] * n})
    return rows, participants


def _scores(rows: pl.DataFrame, participants: pl.DataFrame | None, component: str) -> list[float | None]:
    scored = digm.score(rows, participants)
    return scored.filter(pl.col("component") == component).sort("participant_id")["score"].to_list()


@pytest.mark.parametrize("component,column", list(digm.BENEFICIAL.items()))
def test_beneficial_component_scores_one_at_or_above_the_median_and_above_zero(component, column):
    rows, participants = _days({column: [0.0, 1.0, 2.0, 3.0, 4.0]})  # median 2
    assert _scores(rows, participants, component) == [0.0, 0.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("component,column", list(digm.BENEFICIAL.items()))
def test_beneficial_component_with_a_zero_median_rewards_any_intake_but_not_none(component, column):
    rows, participants = _days({column: [0.0, 0.0, 0.0, 5.0, 0.5]})  # median 0: most ate none
    assert _scores(rows, participants, component) == [0.0, 0.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("component,column", list(digm.UNFAVOURABLE.items()))
def test_unfavourable_component_scores_one_below_the_median_or_at_zero(component, column):
    rows, participants = _days({column: [0.0, 1.0, 2.0, 3.0, 4.0]})  # median 2
    assert _scores(rows, participants, component) == [1.0, 1.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("component,column", list(digm.UNFAVOURABLE.items()))
def test_unfavourable_component_with_a_zero_median_rewards_only_non_eaters(component, column):
    rows, participants = _days({column: [0.0, 0.0, 0.0, 2.0, 0.1]})
    assert _scores(rows, participants, component) == [1.0, 1.0, 1.0, 0.0, 0.0]


def test_high_fat_diet_is_a_fixed_40_percent_of_energy_cut():
    # 9 kcal per g of fat: 2000 kcal with 88.8 g fat = 39.96 %, 88.9 g = 40.005 %
    rows, participants = _days({"fat_total": [0.0, 88.8, 88.9, 120.0, 10.0], "energy_kcal": [2000.0] * 4 + [0.0]})
    assert _scores(rows, participants, "high_fat_diet") == [1.0, 1.0, 0.0, 0.0, 1.0]


def test_medians_are_sex_specific():
    # men eat more fibre: the same 20 g earns a woman the point and not a man
    fiber = [10.0, 20.0, 30.0, 20.0, 30.0, 40.0]
    rows, participants = _days({"fiber": fiber}, sexes=["2", "2", "2", "1", "1", "1"])
    assert _scores(rows, participants, "fiber") == [0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    medians = digm.thresholds(rows, participants).filter(pl.col("component") == "fiber")
    assert dict(zip(medians["sex"], medians["median"])) == {"male": 30.0, "female": 20.0}
    assert medians["n"].to_list() == [3, 3]


def test_sex_codings_are_one_group_per_sex():
    rows, participants = _days({"fiber": [10.0, 20.0, 30.0, 40.0]}, sexes=["F", "female", "2", "male"])
    medians = digm.thresholds(rows, participants).filter(pl.col("component") == "fiber")
    assert dict(zip(medians["sex"], medians["n"])) == {"female": 3, "male": 1}


def test_without_sex_every_row_is_scored_against_the_whole_cohort_median():
    rows, _ = _days({"fiber": [10.0, 20.0, 30.0, 40.0, 50.0]})
    assert _scores(rows, None, "fiber") == [0.0, 0.0, 1.0, 1.0, 1.0]
    medians = digm.thresholds(rows, None)
    assert set(medians["sex"]) == {digm.UNKNOWN_SEX}


def test_total_is_the_sum_of_the_fourteen_components_within_0_and_14():
    rows, participants = _days({"fiber": [10.0, 30.0, 50.0], "digm_coffee": [0.0, 200.0, 400.0],
                                "fg_red_meat": [3.0, 1.0, 0.0], "fat_total": [120.0, 60.0, 40.0]})
    scored = digm.score(rows, participants)
    wide = scored.pivot(on="component", index="participant_id", values="score").sort("participant_id")
    assert (wide["total"] == wide.select(digm.COMPONENTS).sum_horizontal()).all()
    # 2 points each from the unfavourable foods nobody ate (processed meat, refined grains)
    assert wide["total"].to_list() == [2.0, 5.0, 6.0]
    assert set(scored.filter(pl.col("component") == "total")["max_score"]) == {14.0}  # 14 components of 1 point
    assert set(scored.filter(pl.col("component") != "total")["max_score"]) == {1.0}
    assert scored.filter(pl.col("component") != "total")["score"].is_in([0.0, 1.0]).all()
    assert scored.schema["recall_day"] == pl.Int32


def test_participant_means_are_scored_with_recall_day_null():
    rows, participants = _days({"fiber": [10.0, 20.0, 30.0]})
    means = rows.drop("recall_day").with_columns(recall_day=pl.lit(None, pl.Int32))
    scored = digm.score(means, participants)
    assert scored["recall_day"].is_null().all()
    assert scored.filter(pl.col("component") == "total").height == 3


def test_a_row_missing_an_input_is_not_scored_and_not_in_the_medians():
    # p1 has no fibre value (no route computed it): scoring it 0 or 1 would be a guess
    rows, participants = _days({"fiber": [10.0, None, 30.0, 40.0]})
    scored = digm.score(rows, participants)
    assert "p1" not in set(scored["participant_id"])
    assert _scores(rows, participants, "fiber") == [0.0, 1.0, 1.0]  # median of 10, 30, 40 is 30


def test_digm_is_registered_and_not_computable_names_every_missing_input():
    index = INDICES["digm"]
    assert index.max_scores == {c: 1.0 for c in digm.COMPONENTS}
    available = [c for c in digm.REQUIRED if c not in ("digm_avocado", "fat_total")]
    assert index.not_computable(available) == "not computable: missing digm_avocado, fat_total"
    assert index.not_computable(list(digm.REQUIRED)) is None


def test_nhanes_day_totals_carry_every_input_but_the_eight_foods():
    # DR1TOT/FPED totals name total fat, meat and cured meat; no totals file names avocado or green tea
    columns = nhanes_tot.component_columns(1)
    assert (columns["fat_total"], columns["fg_red_meat"], columns["fg_cured_meat"]) == (
        "DR1TTFAT", "DR1T_PF_MEAT", "DR1T_PF_CUREDMEAT")
    reason = INDICES["digm"].not_computable(columns)
    assert reason == "not computable: missing " + ", ".join(digm_foods.COMPONENT_IDS)


def test_framework_scores_days_and_participant_means():
    rows, participants = _days({"fiber": [10.0, 20.0, 30.0]})
    second = rows.with_columns(recall_day=pl.lit(2, pl.Int64), fiber=pl.Series([30.0, 20.0, 10.0]))
    days = pl.concat([rows, second])
    index = INDICES["digm"]
    per_day = index.day_scores(days, participants).filter(pl.col("component") == "fiber")
    assert per_day.height == 6
    per_person = index.participant_scores(days, participants).filter(pl.col("component") == "fiber")
    # every mean is 20 g, the median too: everyone scores the point
    assert per_person["score"].to_list() == [1.0, 1.0, 1.0] and per_person["recall_day"].is_null().all()


def test_cut_points_record_the_day_and_the_participant_medians():
    rows, participants = _days({"fiber": [10.0, 20.0, 30.0]})
    second = rows.with_columns(recall_day=pl.lit(2, pl.Int64), fiber=pl.Series([50.0, 60.0, 70.0]))
    cuts = INDICES["digm"].cut_points(pl.concat([rows, second]), participants)
    fiber = cuts.filter(pl.col("component") == "fiber")
    assert dict(zip(fiber["scope"], fiber["median"])) == {"day": 40.0, "participant": 40.0}
    assert dict(zip(fiber["scope"], fiber["n"])) == {"day": 6, "participant": 3}
    fat = cuts.filter(pl.col("component") == "high_fat_diet")
    assert set(fat["median"]) == {40.0} and set(fat["kind"]) == {"fixed cut, % of energy"}
    assert INDICES["hei2015"].cut_points(rows, participants) is None  # fixed standards: nothing to record


# --- the food classification ------------------------------------------------------------------

def _rules(tmp_path, body: str) -> pl.DataFrame:
    path = tmp_path / "digm_foods.csv"
    path.write_text(",".join(digm_foods.COLUMNS) + "\n" + body)
    return digm_foods.load_classification(path)


def test_classification_precedence_exact_code_then_longest_prefix_then_pattern(tmp_path):
    rules = _rules(tmp_path, "\n".join([
        "fermented_dairy,,(?i)yogurt,any yogurt,yes,r,c",
        "fermented_dairy,114*,,yogurts,yes,r,c",
        "fermented_dairy,1146*,,frozen yogurt,no,r,c",
        "fermented_dairy,11461200,,frozen yogurt sandwich,yes,r,c",
    ]) + "\n")
    foods = pl.DataFrame({"food_code": ["11411100", "11460000", "11461200", "53100100", "99999999"],
                          "description": ["Yogurt, plain", "Frozen yogurt", "Frozen yogurt sandwich",
                                          "Cake with yogurt frosting", "Apple"]})
    classified = digm_foods.classify(foods, rules).filter(pl.col("component") == "fermented_dairy")
    decided = dict(zip(classified["food_code"], classified["rule"]))
    counted = dict(zip(classified["food_code"], classified["counted"]))
    assert decided == {"11411100": "yogurts", "11460000": "frozen yogurt", "11461200": "frozen yogurt sandwich",
                       "53100100": "any yogurt", "99999999": None}
    assert counted == {"11411100": True, "11460000": False, "11461200": True, "53100100": True, "99999999": False}


def test_food_values_give_100_g_per_100_g_to_counted_foods_and_0_to_the_rest(tmp_path):
    rules = _rules(tmp_path, "avocado,63105010,,Avocado,yes,r,c\n")
    foods = pl.DataFrame({"food_code": ["63105010", "11111000"], "description": ["Avocado, raw", "Milk, whole"]})
    values = digm_foods.food_values(foods, rules)
    assert set(values["component_id"]) == set(digm_foods.COMPONENT_IDS)
    avocado = values.filter(pl.col("component_id") == "digm_avocado")
    assert dict(zip(avocado["food_code"], avocado["amount_per_100g"])) == {"63105010": 100.0, "11111000": 0.0}
    assert values.filter(pl.col("food_code") == "11111000")["amount_per_100g"].sum() == 0.0


@pytest.mark.parametrize("body,message", [
    ("mango,63105010,,x,yes,r,c\n", "line 2: component is 'mango'"),
    ("avocado,6310501,,x,yes,r,c\n", "line 2: code '6310501' is neither"),
    ("avocado,,,x,yes,r,c\n", "line 2: a rule needs a code"),
    ("avocado,63105010,,x,maybe,r,c\n", "line 2: counted is 'maybe'"),
    ("avocado,63105010,,x,yes,,c\n", "line 2: every rule needs a rationale"),
    ("avocado,,(?i)avocado(,x,yes,r,c\n", "line 2: description_pattern '(?i)avocado(' is not a valid"),
])
def test_a_bad_classification_rule_is_named_with_its_line(tmp_path, body, message):
    with pytest.raises(GutaxisError, match=re.escape("digm_foods.csv: " + message)):
        _rules(tmp_path, body)


def test_the_committed_classification_loads_and_every_food_has_rules():
    rules = digm_foods.load_classification()
    assert set(rules["component"]) == set(digm_foods.FOODS)
    assert rules["rationale"].is_not_null().all()


# --- realdata: what each DI-GM food matches in FNDDS 2017-2018 ---------------------------------

# component -> (number of FNDDS 2017-2018 foods counted, codes that must be among them, codes that must not)
EXPECTED_MATCHES = {
    "avocado": (5, {"63105010", "63409010", "89902000"}, {"58151170", "83112000"}),
    "broccoli": (15, {"72201100", "72201212", "72203070", "72202030", "99997220"}, {"72103000", "72202010", "27415110"}),
    "chickpeas": (8, {"41302020", "41302110", "41205070", "41205075"}, {"41209000", "41602020", "41205010"}),
    "coffee": (109, {"92101000", "92101610", "92111010", "92161000", "92171000"}, {"92191100", "92201010", "93301400", "12210200"}),
    "cranberries": (3, {"62109100", "63207010", "63207110"}, {"64105400", "92530510"}),
    "fermented_dairy": (131, {"11411100", "11115400", "11115000", "14104100", "14201010", "12310100", "11440060"},
                        {"11460000", "14640000", "14650100", "12320100", "42401100", "41420380", "11111000"}),
    "green_tea": (14, {"92303010", "92305900", "92308520", "92309500"}, {"92302000", "92306000"}),
    "soybean": (17, {"11320000", "41420010", "41420020", "41107010", "41420110"}, {"41420300", "82108000", "11720610"}),
}


@pytest.mark.realdata
def test_classification_matches_in_fndds_2017_2018(realdata):
    table = pl.read_csv(realdata / "usda" / "fndds-2017-2018" / "FNDDS_2017_2018_nutrient_values.csv",
                        infer_schema=False).select(food_code="Food code", description="Main food description")
    counted = digm_foods.classify(table).filter("counted")
    for component, (n, members, outsiders) in EXPECTED_MATCHES.items():
        codes = set(counted.filter(pl.col("component") == component)["food_code"])
        assert len(codes) == n, (component, len(codes))
        assert members <= codes, (component, members - codes)
        assert not (outsiders & codes), (component, outsiders & codes)
    # a food counts for at most one DI-GM food, except soy yogurt is not dairy and tofu is not cheese
    per_food = counted.group_by("food_code").agg(pl.col("component").n_unique())
    assert per_food["component"].max() == 1


# --- dietaryindex's DI-GM validation grid --------------------------------------------------------

GRID_COLUMNS = {"AVOCADO": "digm_avocado", "BROCCOLI": "digm_broccoli", "CHICKPEA": "digm_chickpeas",
                "COFFEE": "digm_coffee", "CRANBERRY": "digm_cranberries", "FERMENTED_DAIRY": "digm_fermented_dairy",
                "FIBER": "fiber", "GREEN_TEA": "digm_green_tea", "SOYBEAN": "digm_soybean",
                "WHOLE_GRAIN": "fg_whole_grains", "PROCESSED_MEAT": "fg_cured_meat", "RED_MEAT": "fg_red_meat",
                "REFINED_GRAIN": "fg_refined_grains"}
GRID_SCORES = {"avocado": "AVOCADO", "broccoli": "BROCCOLI", "chickpeas": "CHICKPEA", "coffee": "COFFEE",
               "cranberries": "CRANBERRY", "fermented_dairy": "FERMENTED_DAIRY", "fiber": "FIBER",
               "green_tea": "GREEN_TEA", "soybean": "SOYBEAN", "whole_grains": "WHOLE_GRAIN",
               "high_fat_diet": "TOTAL_FAT_PERCENTAGE", "processed_meat": "PROCESSED_MEAT", "red_meat": "RED_MEAT",
               "refined_grains": "REFINED_GRAIN"}


def test_digm_on_dietaryindex_validation_grid():
    grid = pl.read_csv(PROJECT_ROOT / "tests" / "reference" / "digm_validation_dietaryindex.csv")
    # 900 kcal: fat_total g = the grid's % of energy (9 kcal per g)
    rows = grid.select(participant_id=pl.col("id").cast(pl.Int64).cast(pl.String), recall_day=pl.lit(1),
                       energy_kcal=pl.lit(900.0), fat_total=pl.col("TOTAL_FAT_PERCENTAGE"),
                       **{cid: pl.col(col) for col, cid in GRID_COLUMNS.items()})
    participants = grid.select(participant_id=pl.col("id").cast(pl.Int64).cast(pl.String),
                               sex=pl.col("gender").cast(pl.Int64).cast(pl.String))
    scored = digm.score(rows, participants).pivot(on="component", index="participant_id", values="score")
    joined = scored.join(grid.with_columns(participant_id=pl.col("id").cast(pl.Int64).cast(pl.String)),
                         on="participant_id")
    for component, name in GRID_SCORES.items():
        differ = joined.filter(pl.col(component) != pl.col(f"EXP_DI_GM_{name}"))
        if component in digm.UNFAVOURABLE:
            # the grid's expected scores give an unfavourable food AT the median (2 of 0-4) the point; its
            # own DI_GM() code (and gutaxis) give it below the median only: the two median rows differ
            assert sorted(differ["participant_id"]) == ["3", "8"], component
            assert (differ[component] == 0).all() and (differ[f"EXP_DI_GM_{name}"] == 1).all()
        else:
            assert differ.height == 0, component
    # so the totals differ by those three points on the two median rows, and agree everywhere else
    gap = joined.select("participant_id", gap=pl.col("EXP_DI_GM_TOTAL") - pl.col("total"))
    assert dict(gap.filter(pl.col("gap") != 0).iter_rows()) == {"3": 3.0, "8": 3.0}
