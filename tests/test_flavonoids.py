"""Flavonoids: R3.3 and survey readers, the reviewed R3.3 -> SR28 crosswalk, values per SR and FNDDS food."""
from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from gutaxis import PROJECT_ROOT, GutaxisError
from gutaxis.components import flavonoids, linkage
from gutaxis.fetch import fetch
from gutaxis.formats import flavonoid_r33, flavonoid_survey

REALDATA = PROJECT_ROOT.parent / "shared" / "realdata"
R33_DIR = REALDATA / "usda" / "flavonoid-r3.3"
SR28_DIR = REALDATA / "usda" / "sr28"
needs_real = pytest.mark.skipif(not (R33_DIR / flavonoid_r33.CLASS_FILE).is_file()
                                or not (SR28_DIR / "FOOD_DES.txt").is_file(),
                                reason="real R3.3 export or SR28 not found in ../shared/realdata")


def write_xlsx(path: Path, rows: list[list], sheet: str = "SQLExport") -> Path:
    book = openpyxl.Workbook()
    book.active.title = sheet
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def r33_folder(tmp_path: Path, classes: list[list], totals: list[list] | None = None) -> Path:
    write_xlsx(tmp_path / flavonoid_r33.CLASS_FILE, [["LONG_DESC", "FLAV_CLASS", "FLAVONOIDS_MG_PER_100G"], *classes])
    if totals is not None:
        write_xlsx(tmp_path / flavonoid_r33.TOTAL_FILE, [["LONG_DESC", "FLAVONOIDS_MG_PER_100G"], *totals])
    return tmp_path


def values_of(frame: pl.DataFrame, key: str, key_column: str = "description") -> dict[str, float]:
    rows = frame.filter(pl.col(key_column) == key)
    return dict(zip(rows["component_id"], rows["amount_per_100g"]))


# --- R3.3 export reader ------------------------------------------------------------------------------

def test_r33_reader_gives_total_flavan3ols_and_anthocyanidins_with_unreported_classes_as_zero(tmp_path):
    folder = r33_folder(tmp_path, [["Tea, x", "Flavan-3-ols", 100.0], ["Tea, x", "Flavonols", 4.0],
                                   ["Berry, y", "Anthocyanidins", 150.0], ["Berry, y", "Flavonols", 10.0]],
                        totals=[["Tea, x", 104.0], ["Berry, y", 160.0]])
    out = flavonoid_r33.read(folder)
    assert values_of(out, "Tea, x") == {"flavonoids_total": 104.0, "flavan3ols": 100.0, "anthocyanidins": 0.0}
    assert values_of(out, "Berry, y") == {"flavonoids_total": 160.0, "flavan3ols": 0.0, "anthocyanidins": 150.0}


def test_r33_reader_sums_classes_when_the_total_workbook_is_absent(tmp_path):
    out = flavonoid_r33.read(r33_folder(tmp_path, [["Tea, x", "Flavan-3-ols", 100.0], ["Tea, x", "Flavonols", 4.0]]))
    assert values_of(out, "Tea, x")["flavonoids_total"] == 104.0


def test_r33_reader_rejects_totals_that_disagree_with_the_classes(tmp_path):
    folder = r33_folder(tmp_path, [["Tea, x", "Flavan-3-ols", 100.0]], totals=[["Tea, x", 50.0]])
    with pytest.raises(GutaxisError, match="Tea, x.*different exports"):
        flavonoid_r33.read(folder)


def test_r33_reader_names_the_missing_column(tmp_path):
    write_xlsx(tmp_path / flavonoid_r33.CLASS_FILE, [["DESC", "FLAV_CLASS", "FLAVONOIDS_MG_PER_100G"], ["a", "Flavones", 1]])
    with pytest.raises(GutaxisError, match="LONG_DESC"):
        flavonoid_r33.read(tmp_path)


# --- matching and the crosswalk ----------------------------------------------------------------------

SR_FOODS = pl.DataFrame({
    "sr_code": ["14355", "14352", "09050", "11282", "13000", "11429"],
    "sr_description": ["Beverages, tea, black, brewed, prepared with tap water",
                       "Beverages, tea, black, brewed, prepared with tap water, decaffeinated",
                       "Blueberries, raw", "Onions, raw", "Beef, ground, raw", "Radishes, raw"],
    "fdgrp_cd": ["1400", "1400", "0900", "1100", "1300", "1100"],
})


def test_matching_is_exact_first_then_case_insensitive_then_fuzzy_candidates():
    out = flavonoids.match_descriptions(["Onions, raw", "onions,  RAW", "Tea, black, brewed, prepared with tap water"],
                                        SR_FOODS, candidates=2)
    assert out.filter(pl.col("r33_description") == "Onions, raw").select("sr_code", "method").rows() == [("11282", "exact")]
    assert out.filter(pl.col("r33_description") == "onions,  RAW")["method"].to_list() == ["exact_ci"]
    tea = out.filter(pl.col("r33_description").str.starts_with("Tea"))
    assert tea["method"].to_list() == ["fuzzy", "fuzzy"]
    assert tea["sr_code"][0] == "14355"  # the SR prefix "Beverages," is ignored, decaf ranks second
    assert tea["score"][0] > tea["score"][1]


def crosswalk_file(tmp_path: Path, rows: list[list]) -> Path:
    path = tmp_path / "crosswalk.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(flavonoids.CROSSWALK_COLUMNS)
        writer.writerows(rows)
    return path


def test_crosswalk_rejects_an_unreviewed_status(tmp_path):
    path = crosswalk_file(tmp_path, [["Tea, x", "14355", "Beverages, tea", "90", "maybe", "fuzzy", "1", ""]])
    with pytest.raises(GutaxisError, match="line 2: reviewed is 'maybe'"):
        flavonoids.load_crosswalk(path)


def test_crosswalk_rejects_averaging_weights_that_do_not_sum_to_one(tmp_path):
    path = crosswalk_file(tmp_path, [["Grapes, red", "09132", "Grapes", "70", "yes", "fuzzy", "0.5", ""],
                                     ["Grapes, green", "09132", "Grapes", "70", "yes", "fuzzy", "0.7", ""]])
    with pytest.raises(GutaxisError, match="SR 09132 gets 2 R3.3 foods whose weights sum to 1.2"):
        flavonoids.load_crosswalk(path)


R33 = pl.DataFrame({
    "description": ["Tea, black, brewed, prepared with tap water"] * 3 + ["Blueberries, raw"] * 3 + ["Onions, raw"] * 3,
    "component_id": list(flavonoids.COMPONENT_IDS) * 3,
    "amount_per_100g": [118.0, 114.0, 0.0, 180.0, 7.0, 160.0, 26.0, 0.0, 0.0],
})
CROSSWALK = pl.DataFrame({
    "r33_description": ["Tea, black, brewed, prepared with tap water", "Tea, black, brewed, prepared with tap water"],
    "sr_code": ["14355", "14352"], "sr_description": ["", ""], "score": [83.0, 80.0], "reviewed": ["yes", "yes"],
    "match": ["fuzzy", "proxy"], "weight": [1.0, 0.5], "note": ["", ""],
})
ZERO = pl.DataFrame({"fdgrp_cd": ["1300"], "only_pattern": [None], "except_pattern": [None], "rationale": ["meat"]},
                    schema={"fdgrp_cd": pl.String, "only_pattern": pl.String, "except_pattern": pl.String,
                            "rationale": pl.String})


def test_sr_values_link_exact_matches_reviewed_rows_weights_and_assumed_zeros():
    values = flavonoids.sr_values(R33, CROSSWALK, SR_FOODS, ZERO)
    by_code = {code: dict(zip(g["component_id"], g["amount_per_100g"]))
               for (code,), g in values.partition_by("sr_code", as_dict=True).items()}
    assert by_code["14355"]["flavonoids_total"] == 118.0
    assert by_code["14352"]["flavan3ols"] == 57.0  # a proxy scaled by its weight
    assert by_code["09050"]["anthocyanidins"] == 160.0  # exact Long_Desc needs no crosswalk row
    assert by_code["13000"] == {c: 0.0 for c in flavonoids.COMPONENT_IDS}  # meat: assumed 0
    assert "11429" not in by_code  # radishes: not in R3.3 and not assumed 0 -> unknown
    basis = dict(values.select("sr_code", "basis").unique().iter_rows())
    assert basis == {"14355": "fuzzy", "14352": "proxy", "09050": "exact", "11282": "exact", "13000": "assumed_zero"}


# --- per FNDDS food through the profile ----------------------------------------------------------------

SR_VALUES = flavonoids.sr_values(R33, CROSSWALK, SR_FOODS, ZERO)


def profile(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"food_code": pl.String, "sr_code": pl.String, "grams_per_100g": pl.Float64,
                                      "retention_code": pl.Int64}, orient="row")


def test_a_food_eaten_whole_is_one_ingredient_at_100_g():
    out = flavonoids.food_values(profile([("92302000", "14355", 100.0, 0)]), SR_VALUES)
    assert values_of(out, "92302000", "food_code")["flavonoids_total"] == 118.0
    assert set(out["route"]) == {"disaggregated"}


def test_mixed_dishes_sum_their_ingredients_and_moist_heat_cuts_anthocyanidins_by_half():
    dish = profile([("1", "09050", 40.0, 0), ("1", "13000", 60.0, 0),      # blueberries on beef, not cooked
                    ("2", "09050", 40.0, 2151), ("2", "13000", 60.0, 0)])   # blueberry stew: berries boiled
    foods = pl.DataFrame({"food_code": ["1", "2"], "description": ["Beef with berries", "Blueberry stew"]})
    out = flavonoids.food_values(dish, SR_VALUES, food_descriptions=foods, sr_descriptions=SR_FOODS)
    raw, stewed = values_of(out, "1", "food_code"), values_of(out, "2", "food_code")
    assert raw["anthocyanidins"] == pytest.approx(64.0)
    assert stewed["anthocyanidins"] == pytest.approx(32.0)  # x 0.5
    assert stewed["flavan3ols"] == pytest.approx(7.0 * 0.4 * 0.85)
    # total: anthocyanidins x 0.5 + the other classes x 0.85
    assert stewed["flavonoids_total"] == pytest.approx(0.4 * (160 * 0.5 + 20 * 0.85))
    assert out.filter(pl.col("food_code") == "2")["moist_heat_share"][0] == pytest.approx(0.4)


def test_retention_is_not_applied_to_dry_heat_or_to_ingredients_already_cooked():
    baked = profile([("3", "09050", 100.0, 2151)])
    foods = pl.DataFrame({"food_code": ["3"], "description": ["Blueberry pie, baked"]})
    assert values_of(flavonoids.food_values(baked, SR_VALUES, food_descriptions=foods), "3", "food_code")[
        "anthocyanidins"] == 160.0
    cooked_sr = SR_FOODS.with_columns(sr_description=pl.lit("Blueberries, canned"))
    soup = pl.DataFrame({"food_code": ["3"], "description": ["Blueberry soup"]})
    out = flavonoids.food_values(baked, SR_VALUES, food_descriptions=soup, sr_descriptions=cooked_sr)
    assert values_of(out, "3", "food_code")["anthocyanidins"] == 160.0


def test_foods_whose_ingredients_are_mostly_unknown_get_no_value():
    dish = profile([("4", "11429", 70.0, 0), ("4", "11282", 30.0, 0)])  # radish (unknown) + onion
    assert flavonoids.food_values(dish, SR_VALUES).height == 0
    out = flavonoids.food_values(dish, SR_VALUES, min_linked_share=0.25)
    assert out["linked_share"][0] == pytest.approx(0.3)
    assert values_of(out, "4", "food_code")["flavonoids_total"] == pytest.approx(7.8)
    assert out["confidence"][0] < 0.5  # scaled by the linked share


def test_a_recipe_mostly_unresolved_is_no_value_not_zero():
    """Dried blueberries: the fruit reaches no SR28 food, the added sugar (beef here: an assumed 0) does."""
    dried = profile([("63203010", "13000", 10.0, 0), ("92302000", "14355", 100.0, 0)])
    lost = pl.DataFrame({"food_code": ["63203010"], "route": ["fda-fdd"], "ingredient_code": [None],
                         "ingredient_description": ["Blueberries, dried"], "grams_per_100g": [90.0],
                         "reason": ["no SR28 food matches this basic ingredient (crosswalk)"]},
                        schema=linkage.UNRESOLVED_SCHEMA)
    assert values_of(flavonoids.food_values(dried, SR_VALUES), "63203010", "food_code")["anthocyanidins"] == 0.0
    out = flavonoids.food_values(dried, SR_VALUES, unresolved=lost)
    assert out.filter(pl.col("food_code") == "63203010").height == 0
    assert values_of(out, "92302000", "food_code")["flavonoids_total"] == 118.0
    kept = flavonoids.food_values(dried, SR_VALUES, unresolved=lost, keep_withheld=True)
    withheld = kept.filter(pl.col("food_code") == "63203010")
    assert withheld.height == 3 and withheld["amount_per_100g"].null_count() == 3
    assert set(withheld["linked_share"]) == {0.1} and withheld["reason"].str.contains("90% reached no SR28 food").all()


def test_a_profile_without_the_expected_columns_is_a_clear_error():
    with pytest.raises(GutaxisError, match="retention_code"):
        flavonoids.food_values(pl.DataFrame({"food_code": ["1"], "sr_code": ["14355"], "grams_per_100g": [100.0]}),
                               SR_VALUES)


# --- USDA survey values (per FNDDS food code) -------------------------------------------------------

def survey_rows(with_totals: bool) -> list[list]:
    compounds = list(flavonoid_survey.COMPOUNDS)
    header = ["Food code", "Main food description", *[f"{c} (mg)" for c in compounds]]
    tea = [1.0 if c == "thearubigins" else 0.0 for c in compounds]
    tea[compounds.index("(-)-epigallocatechin 3-gallate")] = 9.0
    berry = [0.0] * len(compounds)
    berry[compounds.index("cyanidin")] = 20.0
    berry[compounds.index("quercetin")] = 3.0
    rows = [header, [92302000, "Tea, hot, leaf, black", *tea], ["63203010", "Blueberries, raw", *berry]]
    if with_totals:
        rows[0] += ["Total anthocyanidins (mg)", "Total flavan-3-ols (mg)", "Total flavonoids (mg)"]
        rows[1] += [0.0, 10.0, 10.0]
        rows[2] += [20.0, 0.0, 23.0]
    return [["Flavonoid Values for Survey Foods and Beverages 2017-2018"], [], *rows]


@pytest.mark.parametrize("with_totals", [True, False])
def test_survey_reader_finds_the_header_and_reads_totals_or_sums_compounds(tmp_path, with_totals):
    path = write_xlsx(tmp_path / "survey.xlsx", survey_rows(with_totals), sheet="Flavonoids")
    out = flavonoid_survey.read(path)
    assert values_of(out, "92302000", "food_code") == {"anthocyanidins": 0.0, "flavan3ols": 10.0, "flavonoids_total": 10.0}
    assert values_of(out, "63203010", "food_code") == {"anthocyanidins": 20.0, "flavan3ols": 0.0, "flavonoids_total": 23.0}


def test_survey_reader_names_a_missing_compound(tmp_path):
    rows = survey_rows(with_totals=False)
    rows[2] = [c.replace("cyanidin (mg)", "cyan (mg)") for c in rows[2]]
    with pytest.raises(GutaxisError, match="total anthocyanidins.*'cyanidin'"):
        flavonoid_survey.read(write_xlsx(tmp_path / "survey.xlsx", rows))


def test_survey_values_win_over_the_r33_derivation_food_by_food(tmp_path):
    survey = flavonoid_survey.read(write_xlsx(tmp_path / "survey.xlsx", survey_rows(True)))
    derived = flavonoids.food_values(profile([("92302000", "14355", 100.0, 0), ("92302500", "14352", 100.0, 0)]),
                                     SR_VALUES)
    out = flavonoids.prefer_survey(survey, derived)
    assert values_of(out, "92302000", "food_code")["flavonoids_total"] == 10.0  # USDA's value
    assert values_of(out, "92302500", "food_code")["flavonoids_total"] == 59.0  # not in the survey: R3.3
    assert flavonoids.prefer_survey(None, derived).height == derived.height


def test_absent_survey_source_is_reported_not_an_error(isolated):
    survey, status = flavonoids.fetched_survey()
    assert survey is None and "not fetched" in status


# --- real data ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real():
    if not (R33_DIR / flavonoid_r33.CLASS_FILE).is_file() or not (SR28_DIR / "FOOD_DES.txt").is_file():
        pytest.skip("real R3.3 export or SR28 not found in ../shared/realdata")
    foods = flavonoids.sr_foods(SR28_DIR)
    r33 = flavonoid_r33.read(R33_DIR)
    crosswalk = flavonoids.load_crosswalk()
    values = flavonoids.sr_values(r33, crosswalk, foods, flavonoids.load_assumed_zero())
    return {"foods": foods, "r33": r33, "crosswalk": crosswalk, "values": values}


@pytest.mark.realdata
@needs_real
def test_r33_has_512_foods_and_243_descriptions_equal_an_sr28_long_desc(real):
    descriptions = real["r33"]["description"].unique()
    assert descriptions.len() == 512
    matches = flavonoids.match_descriptions(descriptions, real["foods"], candidates=1)
    assert matches.filter(pl.col("method") == "exact").height == 243
    assert real["crosswalk"].filter(pl.col("match") == "exact").height == 243


@pytest.mark.realdata
@needs_real
def test_tea_crosswalk_entries_resolve_to_the_sr_teas(real):
    accepted = real["crosswalk"].filter(pl.col("reviewed") == "yes")
    sr_description = dict(real["foods"].select("sr_code", "sr_description").iter_rows())
    expected = {
        "Tea, black, brewed, prepared with tap water": "14355",
        "Tea, black, brewed, prepared with tap water, decaffeinated": "14352",
        "Tea, green, brewed": "14278",
        "Tea, green, brewed, decaffeinated": "14260",
        "Tea, oolong, brewed": "14185",
        "Tea, instant, unsweetened, powder, prepared": "14367",
    }
    for r33_description, code in expected.items():
        codes = accepted.filter(pl.col("r33_description") == r33_description)["sr_code"].to_list()
        assert code in codes, r33_description
    assert sr_description["14355"] == "Beverages, tea, black, brewed, prepared with tap water"


@pytest.mark.realdata
@needs_real
def test_every_accepted_crosswalk_row_names_a_real_r33_food_and_the_right_sr_description(real):
    accepted = real["crosswalk"].filter(pl.col("reviewed") == "yes")
    assert set(accepted["r33_description"]) <= set(real["r33"]["description"])
    joined = accepted.join(real["foods"].select("sr_code", real_description="sr_description"), on="sr_code", how="left")
    assert joined.filter(pl.col("real_description").is_null()).height == 0
    assert joined.filter(pl.col("real_description") != pl.col("sr_description")).height == 0
    # each SR code gets its value once (or as a declared average)
    assert accepted.filter(pl.col("match") == "exact")["sr_code"].is_unique().all()


@pytest.mark.realdata
@needs_real
def test_spot_values_per_sr_food(real):
    values = real["values"]
    tea = values_of(values, "14355", "sr_code")
    assert tea["flavonoids_total"] == pytest.approx(118.35)
    assert tea["flavan3ols"] == pytest.approx(114.3)  # thearubigins and catechins
    assert values_of(values, "14544", "sr_code") == tea  # distilled-water brew: reviewed proxy
    assert values_of(values, "09050", "sr_code")["anthocyanidins"] == pytest.approx(163.3)  # highbush blueberries
    # instant tea powder = prepared value x solids ratio, so 0.7 g in 237 g water gives ~R3.3's prepared tea
    powder = values_of(values, "14366", "sr_code")["flavonoids_total"]
    assert powder * 0.7 / 237.7 == pytest.approx(27.09 * 250 * 0.7 / 237.7) == pytest.approx(19.9, abs=0.1)
    assert values_of(values, "13047", "sr_code") == {c: 0.0 for c in flavonoids.COMPONENT_IDS}  # beef: assumed 0


@pytest.mark.realdata
@pytest.mark.skipif(not (R33_DIR / flavonoid_r33.CLASS_FILE).is_file(), reason="real R3.3 export not found")
def test_fetch_r33_export_from_the_realdata_folder_verifies_sha256(tmp_path):
    paths = fetch("usda-flavonoid-r3.3", from_path=R33_DIR, raw_dir=tmp_path)
    assert sorted(p.name for p in paths) == sorted(flavonoid_r33.FILES)
    assert flavonoid_r33.read(tmp_path / "usda-flavonoid-r3.3").height == 512 * 3
