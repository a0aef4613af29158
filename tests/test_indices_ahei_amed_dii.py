"""AHEI-2010, aMED and the DII: scoring checked against dietaryindex's validation grids (tests/reference/, see its
README), the servings formed from registry components, and "not computable" where inputs lack something."""
from __future__ import annotations

import math

import polars as pl
import pytest

from gutaxis import PROJECT_ROOT
from gutaxis.indices import INDICES, ahei2010, amed, dii
from gutaxis.indices.scoring import KEYS, sex_of

REFERENCE = PROJECT_ROOT / "tests" / "reference"
TOLERANCE = 1e-6
# what an NHANES or FNDDS-item cohort carries (the registry's components with a route there)
NHANES_LIKE = ("energy_kcal", "fiber", "omega3_epa", "omega3_dha", "omega3_total", "flavan3ols", "anthocyanidins",
               "fat_total", "saturated_fat", "monounsaturated_fat", "polyunsaturated_fat", "sodium", "protein",
               "carbohydrate", "cholesterol", "alcohol", "caffeine", "vitamin_b12", "vitamin_b6", "beta_carotene",
               "folic_acid", "iron", "magnesium", "niacin", "riboflavin", "selenium", "thiamin", "vitamin_c",
               "vitamin_d", "vitamin_e", "zinc", "fg_vegetables", "fg_dark_green_veg", "fg_potatoes", "fg_fruit",
               "fg_fruit_juice", "fg_whole_grains", "fg_legumes_protein", "fg_nuts_seeds", "fg_soy", "fg_red_meat",
               "fg_cured_meat", "fg_organ_meat", "fg_alcoholic_drinks", "fg_seafood_high_n3", "fg_seafood_low_n3")


def _keys(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(participant_id=pl.col("id").cast(pl.String), recall_day=pl.lit(None, pl.Int32))


# --- AHEI-2010 --------------------------------------------------------------------------------

AHEI_GRID = {"vegetables": ("vegetable", "VEG"), "fruit": ("fruit", "FRT"), "whole_grains": ("whole_grain", "WGRAIN"),
             "nuts_legumes": ("nut_legume", "NUTSLEG"), "long_chain_n3": ("n3_fat", "N3FAT"), "pufa": ("pufa", "PUFA"),
             "ssb_fruit_juice": ("ssb_fruit_juice", "SSB_FRTJ"), "red_processed_meat": ("red_processed_meat", "REDPROC_MEAT"),
             "trans_fat": ("trans_fat", "TRANS"), "sodium": ("sodium", "SODIUM"), "alcohol": ("alcohol", "ALCOHOL")}


def test_ahei2010_scores_dietaryindex_validation_grid():
    grid = _keys(pl.read_csv(REFERENCE / "ahei2010_validation_dietaryindex.csv"))
    intakes = grid.select(*KEYS, *(pl.col(col).cast(pl.Float64).alias(c) for c, (col, _) in AHEI_GRID.items()),
                          sex=pl.col("gender").cast(pl.String).replace({"1": "male", "2": "female"}))
    scored = ahei2010.score_servings(intakes, pl.col("sex")).join(grid.drop("recall_day"), on="participant_id")
    for component, (_, name) in AHEI_GRID.items():
        # dietaryindex's own scores at full precision (its EXP_ columns round 6.67 and 3.33 to 2 places)
        difference = (scored[component] - scored[f"AHEI_{name}"]).abs().max()
        assert difference < TOLERANCE, (component, difference)
        assert (scored[component] - scored[f"EXP_AHEI_{name}"]).abs().max() < 0.005, component
    total = scored.select(pl.sum_horizontal(ahei2010.COMPONENTS))[:, 0]
    assert (total - scored["AHEI_ALL"]).abs().max() < TOLERANCE


def test_ahei2010_servings_from_registry_components():
    row = {"participant_id": ["a"], "recall_day": [1], "energy_kcal": [2000.0],
           "fg_vegetables": [3.0], "fg_dark_green_veg": [1.0], "fg_potatoes": [1.0],  # 1 + (3 - 1 - 1) / 0.5 = 3 servings
           "fg_fruit": [2.5], "fg_fruit_juice": [0.5], "fg_whole_grains": [75 * ahei2010.OZ_PER_G],
           "fg_legumes_protein": [0.5], "fg_nuts_seeds": [0.25], "fg_soy": [0.25], "omega3_epa": [0.1],
           "omega3_dha": [0.15], "polyunsaturated_fat": [2000 * 0.06 / 9], "ssb": [0.3], "fg_red_meat": [2.0],
           "fg_cured_meat": [0.75], "fg_organ_meat": [0.0], "trans_fat": [2000 * 0.005 / 9], "sodium": [3000.0],
           "fg_alcoholic_drinks": [1.0]}
    scored = ahei2010.score(pl.DataFrame(row), pl.DataFrame({"participant_id": ["a"], "sex": ["female"]}))
    got = dict(zip(scored["component"], scored["score"]))
    assert got["vegetables"] == pytest.approx(6.0)        # 3 of 5 servings
    assert got["fruit"] == pytest.approx(5.0)             # 2 of 4 (juice left out)
    assert got["whole_grains"] == pytest.approx(10.0)     # 75 g, a woman's maximum
    assert got["nuts_legumes"] == pytest.approx(10.0)
    assert got["long_chain_n3"] == pytest.approx(10.0)    # 250 mg
    assert got["pufa"] == pytest.approx(5.0)              # 6 % of energy
    assert got["ssb_fruit_juice"] == pytest.approx(2.0)   # 0.3 + 0.5 servings
    assert got["red_processed_meat"] == pytest.approx(10 / 3)  # 2/4 + 0.75/1.5 = 1.0 serving; 0 points at 1.5
    assert got["trans_fat"] == pytest.approx(10.0)
    assert got["alcohol"] == pytest.approx(10.0)
    assert got["total"] == pytest.approx(sum(v for k, v in got.items() if k != "total"))


def test_ahei2010_red_and_processed_meat_servings():
    servings = ahei2010.servings(pl.DataFrame({
        "participant_id": ["a"], "recall_day": [1], **{c: [0.0] for c in ahei2010.REQUIRED},
        "fg_red_meat": [2.0], "fg_cured_meat": [0.75]}).with_columns(energy_kcal=pl.lit(2000.0)))
    assert servings["red_processed_meat"].item() == pytest.approx(2.0 / 4 + 0.75 / 1.5)


def test_ahei2010_is_not_computable_without_ssb_and_trans_fat():
    assert INDICES["ahei2010"].not_computable(NHANES_LIKE) == "not computable: missing ssb, trans_fat"


def test_ahei2010_needs_a_known_sex():
    row = {c: [1.0] for c in ahei2010.REQUIRED} | {"participant_id": ["a"], "recall_day": [1]}
    assert ahei2010.score(pl.DataFrame(row), pl.DataFrame({"participant_id": ["a"], "sex": [None]})).height == 0


@pytest.mark.parametrize("coded,expected", [("female", "female"), ("F", "female"), ("2", "female"), ("2.0", "female"),
                                            ("male", "male"), ("1", "male"), ("M", "male"), ("x", None)])
def test_sex_codings(coded, expected):
    assert pl.DataFrame({"sex": [coded]}).select(sex_of()).item() == expected


# --- aMED -------------------------------------------------------------------------------------

AMED_GRID = {"fruit": ("fruit", "FRUIT"), "vegetables": ("vegetable", "VEGETABLE"),
             "whole_grains": ("whole_grain", "WHOLE_GRAIN"), "legumes": ("legume", "LEGUME"), "nuts": ("nut", "NUT"),
             "fish": ("fish", "FISH"), "red_processed_meat": ("red_processed_meat", "RED_PROCESSED_MEAT"),
             "mufa_sfa_ratio": ("monofat_satfat", "MONOFAT_SATFAT"), "alcohol": ("alcohol", "ALCOHOL")}


def _amed_grid(low: float, high: float) -> pl.DataFrame:
    grid = _keys(pl.read_csv(REFERENCE / "amed_validation_dietaryindex.csv"))
    intakes = grid.select(*KEYS, *(pl.col(col).cast(pl.Float64).alias(c) for c, (col, _) in AMED_GRID.items()),
                          alcohol_low=pl.lit(low), alcohol_high=pl.lit(high))
    return amed.score_intakes(intakes).join(grid.drop("recall_day"), on="participant_id")


def test_amed_scores_dietaryindex_validation_grid_with_its_alcohol_range():
    scored = _amed_grid(10.0, 25.0)  # dietaryindex applies 10-25 g/d to everyone
    for component, (_, name) in AMED_GRID.items():
        assert (scored[component] == scored[f"EXP_MED_{name}"]).all(), component
    assert (scored.select(pl.sum_horizontal(amed.COMPONENTS))[:, 0] == scored["EXP_MED_ALL"]).all()


def test_amed_women_score_alcohol_on_fungs_5_to_15_g():
    # the grid's profiles are women: Fung et al.'s 5-15 g/d moves exactly the rows between the two ranges
    scored = _amed_grid(*amed.ALCOHOL_G["female"])
    moved = scored.filter(pl.col("alcohol") != pl.col("EXP_MED_ALCOHOL")).sort("id")
    assert moved.select("id", "alcohol").rows() == [(3, 1.0), (4, 1.0), (7, 0.0), (8, 0.0), (9, 0.0)]


def test_amed_from_registry_components_uses_cohort_medians_and_the_mufa_sfa_ratio():
    n = 4
    rows = pl.DataFrame({"participant_id": [f"p{i}" for i in range(n)], "recall_day": [1] * n,
                         **{c: [0.0] * n for c in amed.REQUIRED}}).with_columns(
        energy_kcal=pl.lit(2000.0), saturated_fat=pl.Series([10.0, 20.0, 20.0, 0.0]),
        monounsaturated_fat=pl.Series([10.0, 10.0, 30.0, 5.0]), alcohol=pl.Series([0.0, 7.0, 12.0, 20.0]),
        fg_seafood_low_n3=pl.Series([0.0, 1.0, 2.0, 3.0]))
    participants = pl.DataFrame({"participant_id": [f"p{i}" for i in range(n)], "sex": ["female", "female", "male", "male"]})
    scored = amed.score(rows, participants)
    got = {c: scored.filter(pl.col("component") == c).sort("participant_id")["score"].to_list()
           for c in ("mufa_sfa_ratio", "alcohol", "fish", "red_processed_meat", "total")}
    assert got["mufa_sfa_ratio"] == [0.0, 0.0, 1.0, 1.0]  # ratios 1, 0.5, 1.5, no SFA; median 1.25
    assert got["alcohol"] == [0.0, 1.0, 1.0, 1.0]          # women 5-15 g, men 10-25 g
    assert got["fish"] == [0.0, 0.0, 1.0, 1.0]             # median 1.5
    assert got["red_processed_meat"] == [1.0] * 4          # nobody ate any
    assert INDICES["amed"].not_computable(NHANES_LIKE) is None


# --- DII --------------------------------------------------------------------------------------

def test_dii_table_has_the_45_parameters_of_shivappa_2014():
    assert dii.PARAMETERS.height == dii.N_PARAMETERS
    energy = dii.PARAMETERS.filter(pl.col("parameter") == "energy").row(0, named=True)
    assert (energy["inflammatory_effect_score"], energy["global_mean"], energy["global_sd"]) == (0.180, 2056, 338)


def test_dii_scores_dietaryindex_validation_grid_on_all_45_parameters():
    grid = _keys(pl.read_csv(REFERENCE / "dii_validation_dietaryindex.csv"))
    inputs = grid.columns[2:2 + dii.N_PARAMETERS]  # the 45 intakes in the table's order
    expected = [c for c in grid.columns if c.endswith("_DII") and c not in ("DII_ALL",)][:dii.N_PARAMETERS]
    table = dii.PARAMETERS.with_columns(component_id=pl.Series(inputs), factor=pl.lit(1.0))
    scored = dii.parameter_scores(grid.select(*KEYS, *inputs), table).join(grid.drop("recall_day"), on="participant_id")
    for parameter, column in zip(table["parameter"], expected):
        assert (scored[parameter] - scored[column]).abs().max() < 1e-9, parameter
    total = scored.select(pl.sum_horizontal(table["parameter"].to_list()))[:, 0]
    assert (total - scored["DII_ALL"]).abs().max() < 1e-9
    assert total.to_list() == pytest.approx([0.0, -7.004394189, 7.004394189], abs=TOLERANCE)


def test_dii_parameter_is_effect_times_centred_percentile_and_within_its_bounds():
    rows = pl.DataFrame({"participant_id": ["a", "b", "c"], "recall_day": [1, 1, 1],
                         "fiber": [18.8, 18.8 + 4.9, 500.0], "caffeine": [8050.0, 0.0, 8050.0]})
    scored = dii.score(rows)
    fibre = dict(zip(scored.filter(pl.col("component") == "fibre")["participant_id"],
                     scored.filter(pl.col("component") == "fibre")["score"]))
    assert fibre["a"] == pytest.approx(0.0)
    assert fibre["b"] == pytest.approx(-0.663 * math.erf(1 / math.sqrt(2)))
    assert -0.663 <= fibre["c"] < -0.662
    caffeine = scored.filter((pl.col("component") == "caffeine") & (pl.col("participant_id") == "a"))["score"].item()
    assert caffeine == pytest.approx(0.0)  # 8050 mg is the table's 8.05 g
    assert set(scored["component"]) == {"fibre", "caffeine", "total"}
    totals = scored.filter(pl.col("component") == "total")
    assert set(totals["max_score"]) == {0.663 + 0.110}


def test_dii_counts_the_parameters_a_cohort_has():
    used = dii.parameters_used(NHANES_LIKE)
    assert len(used) == 28 and "flavan3ols" in used and "anthocyanidins" in used
    assert "vitamin_a" not in used and "trans_fat" not in used
    assert INDICES["dii"].not_computable(NHANES_LIKE) is None
    assert INDICES["dii"].not_computable(["fg_fruit"]).startswith("not computable: missing every DII parameter")
    assert INDICES["dii"].min_scores["fibre"] == -0.663


def test_dii_through_the_framework_takes_the_parameters_present():
    days = pl.DataFrame({"participant_id": ["a", "a", "b"], "recall_day": [1, 2, 1], "fiber": [10.0, 20.0, 30.0],
                         "energy_kcal": [2000.0, 2100.0, 1800.0], "zinc": [None, None, None],
                         "fg_fruit": [1.0, 1.0, 1.0]}).with_columns(pl.col("zinc").cast(pl.Float64))
    per_person = INDICES["dii"].participant_scores(days)
    # zinc has no value anywhere (no route): not a parameter of this cohort
    assert set(per_person["component"]) == {"fibre", "energy", "total"}
    a = per_person.filter((pl.col("participant_id") == "a") & (pl.col("component") == "fibre"))["score"].item()
    assert a == pytest.approx(-0.663 * math.erf((15.0 - 18.8) / 4.9 / math.sqrt(2)))


def test_amed_and_ahei2010_record_their_cohort_cut_points():
    n = 11
    base = {c: [0.0] * n for c in (*amed.REQUIRED, *ahei2010.REQUIRED)}
    rows = pl.DataFrame({"participant_id": [f"p{i}" for i in range(n)], "recall_day": [1] * n, **base}).with_columns(
        energy_kcal=pl.lit(2000.0), fg_fruit=pl.Series([float(i) for i in range(n)]),
        sodium=pl.Series([400.0 * (i + 1) for i in range(n)]))
    medians = amed.thresholds(rows)
    assert dict(zip(medians["component"], medians["median"]))["fruit"] == 5.0
    assert set(medians["n"]) == {n}
    cuts = ahei2010.thresholds(rows)
    assert cuts.height == 10 and cuts["median"].is_sorted()
    assert cuts["median"][0] == pytest.approx(400.0 + 4000.0 / 11)  # the 1/11 quantile of 400 ... 4400


def test_dii_row_missing_a_parameter_is_not_scored():
    rows = pl.DataFrame({"participant_id": ["a", "b"], "recall_day": [1, 1], "fiber": [20.0, None],
                         "energy_kcal": [2000.0, 1900.0]})
    scored = dii.score(rows)
    assert set(scored["participant_id"]) == {"a"} and scored["score"].is_not_null().all()


def test_long_scores_are_the_unpivoted_rows_in_key_and_component_order():
    """long_scores builds the long rows from the key-sorted wide rows (no sort of the long table): the same
    rows, values and order as unpivoting and sorting them, with NULL scores and a NULL recall_day kept."""
    from gutaxis.indices.scoring import SCORE_SCHEMA, TOTAL, long_scores

    wide = pl.DataFrame({"participant_id": ["10", "2", "10", "2", "3"], "recall_day": [2, 1, 1, None, 1],
                         "zinc": [0.5, -0.25, None, 0.125, 1.0], "alcohol": [0.0, 0.75, 0.5, float("nan"), -1.0]})
    maxima = {"zinc": 0.313, "alcohol": 0.278}
    found = long_scores(wide, maxima)
    expected = (wide.with_columns(pl.col("recall_day").cast(pl.Int32), pl.sum_horizontal("zinc", "alcohol").alias(TOTAL))
                .unpivot(index=["participant_id", "recall_day"], variable_name="component", value_name="score")
                .with_columns(pl.col("component").replace_strict({**maxima, TOTAL: 0.591}, return_dtype=pl.Float64)
                              .alias("max_score"))
                .select(*SCORE_SCHEMA).sort("participant_id", "recall_day", "component", nulls_last=True))
    assert found.schema == pl.Schema(SCORE_SCHEMA)
    assert found.equals(expected, null_equal=True)
    assert found.filter(pl.col("component") == "zinc")["score"].null_count() == 1  # NULL stays NULL, NaN stays NaN
    assert found.filter(pl.col("component") == "alcohol")["score"].is_nan().sum() == 1
    assert long_scores(wide.clear(), maxima).is_empty()


def test_index_audit_counts_out_of_range_scores_wrong_totals_and_partly_scored_rows():
    """check_indices from its per-index histogram: a score beyond its bound, a total that is not the sum of
    its components and a participant-day scored on fewer DII parameters than the others are each counted
    once, over the right denominators (rows, and participant(-day)s per index)."""
    import duckdb

    from gutaxis import warehouse
    from gutaxis.indices.steps import check_indices
    from gutaxis.specs import CohortSpec

    spec = CohortSpec(name="t", format="tabular", path="x.csv")
    conn = duckdb.connect()
    warehouse.ensure_schema(conn)
    zinc, alcohol = dii.MAX_SCORES["zinc"], dii.MAX_SCORES["alcohol"]

    def scored(pid, zinc_score, alcohol_score, total=None, with_alcohol=True):
        parts = [("zinc", zinc_score, zinc)] + ([("alcohol", alcohol_score, alcohol)] if with_alcohol else [])
        total = sum(s for _, s, _ in parts) if total is None else total
        return [(pid, c, s, m) for c, s, m in parts] + [(pid, "total", total, zinc + alcohol)]

    rows = (scored("1", 0.1, -0.2) + scored("2", zinc + 0.2, -alcohol)       # zinc above its maximum (the total is not)
            + scored("3", 0.1, 0.1, total=0.5) + scored("4", 0.1, 0.0, with_alcohol=False) + scored("5", -0.1, 0.2))
    days = pl.DataFrame(rows, schema=["participant_id", "component", "score", "max_score"], orient="row")
    for kind, frame in (("day_index", days.with_columns(pl.lit(1, pl.Int32).alias("recall_day"))),
                        ("participant_index", days)):
        table = warehouse.staging_table(kind, "t", "r1")
        conn.register("incoming", frame.with_columns(pl.lit("dii").alias("index_id")))
        conn.execute(f"CREATE TABLE {table} AS SELECT * FROM incoming")
        conn.unregister("incoming")
    results = check_indices(conn, spec, "r1")
    for check in ("score within 0..max_score", "total equals the sum of its components",
                  "every component of the index scored"):
        found = results.filter(pl.col("check") == check)
        assert found["unexpected_count"].to_list() == [1, 1], check
        assert found["element_count"].to_list() == ([days.height] * 2 if check.startswith("score") else [5, 5]), check
    detail = results.filter(pl.col("check") == "total equals the sum of its components")["detail"][0]
    assert "dii of participant 3" in detail
