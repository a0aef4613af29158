"""HEI-2015 against the NCI SAS macro (hei2015.score.macro.sas) on real inputs, through the validation files
that dietaryindex publishes (pinned in tests/reference/, see its README): the ASA24 example's 21 recalls
and NHANES 2017-2018 day 1."""
from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pyreadstat
import pytest

from gutaxis.indices import INDICES, hei2015
from pipelines.runner import run_cohorts
from tests.conftest import write_spec

pytestmark = pytest.mark.realdata
REFERENCE = Path(__file__).parent / "reference"
ASA24_TOTALS = ("asa24", "dietaryindex-example", "Totals.csv")
FPED_TOTALS = ("nhanes", "2017-2018", "fped_dr1tot_1718.sas7bdat")
# our component -> the SAS macro's output variable
SAS_NAMES = {
    "total_vegetables": "HEI2015C1_TOTALVEG", "greens_and_beans": "HEI2015C2_GREEN_AND_BEAN",
    "total_fruit": "HEI2015C3_TOTALFRUIT", "whole_fruit": "HEI2015C4_WHOLEFRUIT", "whole_grains": "HEI2015C5_WHOLEGRAIN",
    "dairy": "HEI2015C6_TOTALDAIRY", "total_protein_foods": "HEI2015C7_TOTPROT",
    "seafood_plant_proteins": "HEI2015C8_SEAPLANT_PROT", "fatty_acids": "HEI2015C9_FATTYACID",
    "sodium": "HEI2015C10_SODIUM", "refined_grains": "HEI2015C11_REFINEDGRAIN", "saturated_fats": "HEI2015C12_SFAT",
    "added_sugars": "HEI2015C13_ADDSUG", "total": "HEI2015_TOTAL_SCORE",
}
# registry component -> the ASA24 Totals column (the names of the ASA24 researcher output)
ASA24_COLUMNS = {
    "energy_kcal": "KCAL", "fg_vegetables": "V_TOTAL", "fg_legumes": "V_LEGUMES", "fg_dark_green_veg": "V_DRKGR",
    "fg_fruit": "F_TOTAL", "fg_citrus_melons_berries": "F_CITMLB", "fg_other_fruit": "F_OTHER",
    "fg_whole_grains": "G_WHOLE", "fg_dairy": "D_TOTAL",
    "fg_meat_poultry_seafood": "PF_MPS_TOTAL", "fg_eggs": "PF_EGGS", "fg_nuts_seeds": "PF_NUTSDS", "fg_soy": "PF_SOY",
    "fg_legumes_protein": "PF_LEGUMES", "fg_seafood_high_n3": "PF_SEAFD_HI", "fg_seafood_low_n3": "PF_SEAFD_LOW",
    "fg_refined_grains": "G_REFINED", "sodium": "SODI", "saturated_fat": "SFAT", "monounsaturated_fat": "MFAT",
    "polyunsaturated_fat": "PFAT", "fg_added_sugars": "ADD_SUGARS",
}
TOLERANCE = 1e-6


def sas_scores(name: str, id_column: str) -> pl.DataFrame:
    """The pinned SAS output, long: participant_id, component, sas."""
    sas = pl.read_csv(REFERENCE / name)
    return (sas.select(pl.col(id_column).cast(pl.Int64).cast(pl.String).alias("participant_id"),
                       *(pl.col(v).cast(pl.Float64).alias(k) for k, v in SAS_NAMES.items()))
            .unpivot(index="participant_id", variable_name="component", value_name="sas"))


def worst_difference(ours: pl.DataFrame, sas: pl.DataFrame) -> pl.DataFrame:
    joined = ours.join(sas, on=["participant_id", "component"], how="inner")
    return joined.group_by("component").agg((pl.col("score") - pl.col("sas")).abs().max().alias("worst"),
                                             pl.len().alias("n"))


@pytest.fixture(scope="module")
def asa24_days(realdata) -> pl.DataFrame:
    """The 21 real recalls of the ASA24 example's Totals (the 21 synthetic RecallNo 2 rows left out),
    mapped to registry components in the test until the asa24-totals format exists."""
    totals = pl.read_csv(realdata.joinpath(*ASA24_TOTALS), infer_schema_length=0)
    return (totals.filter(pl.col("RecallNo").cast(pl.Float64) == 1)
            .select(pl.col("UserName").cast(pl.Float64).cast(pl.Int64).cast(pl.String).alias("participant_id"),
                    pl.lit(1, pl.Int32).alias("recall_day"),
                    *(pl.col(v).cast(pl.Float64).alias(k) for k, v in ASA24_COLUMNS.items())))


def test_hei2015_of_the_asa24_example_equals_the_nci_sas_macro(asa24_days):
    ours = INDICES["hei2015"].day_scores(asa24_days)
    worst = worst_difference(ours, sas_scores("hei2015_asa24_nci_sas.csv", "UserName"))
    assert worst.height == 14 and set(worst["n"]) == {21}
    assert worst["worst"].max() <= TOLERANCE, worst.sort("worst")


def test_hei2020_equals_hei2015_for_people_aged_two_and_over(asa24_days):
    """HEI-2020 keeps HEI-2015's standards from age 2 (the example's participants are adults)."""
    a = INDICES["hei2015"].day_scores(asa24_days)
    b = INDICES["hei2020"].day_scores(asa24_days)
    assert a.equals(b)


@pytest.fixture(scope="module")
def nhanes_day1(realdata) -> pl.DataFrame:
    data, _ = pyreadstat.read_sas7bdat(str(realdata.joinpath(*FPED_TOTALS)))
    return pl.from_pandas(data, nan_to_null=True).with_columns(pl.col("SEQN").cast(pl.Int64).cast(pl.String))


FPED_ONLY = ("total_vegetables", "greens_and_beans", "total_fruit", "whole_fruit", "whole_grains", "dairy",
             "total_protein_foods", "seafood_plant_proteins", "refined_grains", "added_sugars")
NUTRIENT_COMPONENTS = ("fatty_acids", "sodium", "saturated_fats")


def test_hei2015_of_nhanes_1718_day_1_equals_the_nci_sas_macro_where_the_file_allows(nhanes_day1):
    """The FPED day-1 file carries the food groups but not DR1TOT_J's energy, sodium and fatty acids (it has
    no DR1TKCAL, DR1TSODI, DR1TSFAT, DR1TMFAT, DR1TPFAT), so the HEI is not computable from it alone; with
    the energy the SAS output itself prints (DR1TKCAL) the ten food-group components are, and equal the
    macro's for all 7,122 participants. The total is checked as their sum plus the macro's three
    nutrient components."""
    assert not {"DR1TKCAL", "DR1TSODI", "DR1TSFAT", "DR1TMFAT", "DR1TPFAT"} & set(nhanes_day1.columns)
    sas = pl.read_csv(REFERENCE / "hei2015_nhanes1718_nci_sas.csv").with_columns(
        pl.col("SEQN").cast(pl.Int64).cast(pl.String))
    assert sas.height == 7122
    fped = {c: f"DR1T_{n}" for c, n in {
        "fg_vegetables": "V_TOTAL", "fg_legumes": "V_LEGUMES", "fg_dark_green_veg": "V_DRKGR", "fg_fruit": "F_TOTAL",
        "fg_citrus_melons_berries": "F_CITMLB", "fg_other_fruit": "F_OTHER", "fg_whole_grains": "G_WHOLE", "fg_dairy": "D_TOTAL",
        "fg_meat_poultry_seafood": "PF_MPS_TOTAL", "fg_eggs": "PF_EGGS", "fg_nuts_seeds": "PF_NUTSDS", "fg_soy": "PF_SOY",
        "fg_legumes_protein": "PF_LEGUMES", "fg_seafood_high_n3": "PF_SEAFD_HI", "fg_seafood_low_n3": "PF_SEAFD_LOW",
        "fg_refined_grains": "G_REFINED", "fg_added_sugars": "ADD_SUGARS"}.items()}
    days = nhanes_day1.select(pl.col("SEQN").alias("participant_id"), pl.lit(1, pl.Int32).alias("recall_day"),
                              *(pl.col(v).alias(k) for k, v in fped.items()))
    assert INDICES["hei2015"].not_computable([*fped, "participant_id"]) == (
        "not computable: missing energy_kcal, monounsaturated_fat, polyunsaturated_fat, saturated_fat, sodium")
    # energy from the SAS output; the three nutrient components' inputs set to neutral stand-ins, and
    # their scores not compared
    days = days.join(sas.select(pl.col("SEQN").alias("participant_id"), pl.col("DR1TKCAL").cast(pl.Float64)
                                .alias("energy_kcal")), on="participant_id", how="inner").with_columns(
        pl.lit(0.0).alias("sodium"), pl.lit(1.0).alias("saturated_fat"), pl.lit(1.0).alias("monounsaturated_fat"),
        pl.lit(1.0).alias("polyunsaturated_fat"))
    assert days.height == 7122
    ours = INDICES["hei2015"].day_scores(days)
    long_sas = sas_scores("hei2015_nhanes1718_nci_sas.csv", "SEQN")
    worst = worst_difference(ours.filter(pl.col("component").is_in(FPED_ONLY)), long_sas)
    assert worst.height == len(FPED_ONLY) and set(worst["n"]) == {7122}
    assert worst["worst"].max() <= TOLERANCE, worst.sort("worst")
    # the total: our ten components plus the macro's three nutrient components equal the macro's total
    ten = ours.filter(pl.col("component").is_in(FPED_ONLY)).group_by("participant_id").agg(pl.col("score").sum())
    three = long_sas.filter(pl.col("component").is_in(NUTRIENT_COMPONENTS)).group_by("participant_id").agg(
        pl.col("sas").sum().alias("three"))
    total = long_sas.filter(pl.col("component") == "total").select("participant_id", pl.col("sas").alias("total"))
    checked = ten.join(three, on="participant_id").join(total, on="participant_id")
    assert checked.height == 7122
    assert (checked["score"] + checked["three"] - checked["total"]).abs().max() <= 1e-6


def test_a_day_totals_cohort_publishes_the_macros_scores(realdata, isolated_session, tmp_path_factory):
    """End to end: the ASA24 example's Totals as a tabular-totals cohort (the 21 real recalls: the synthetic
    RecallNo 2 rows excluded through the recall status map) publish marts.participant_day_index equal to the
    SAS macro's scores, and marts.participant_index whose totals are the sums of their components."""
    folder = tmp_path_factory.mktemp("asa24-totals")
    totals = pl.read_csv(realdata.joinpath(*ASA24_TOTALS), infer_schema_length=0)
    # the example's synthetic RecallNo 2 rows halve recall 1: keep the real recalls only
    totals.filter(pl.col("RecallNo").cast(pl.Float64) == 1).write_csv(folder / "Totals.csv")
    spec = write_spec(folder, "asa24-totals-hei", format="tabular-totals", path=str(folder / "Totals.csv"),
                      columns={"participant_id": "UserName", "recall_day": "RecallNo"}, reported=ASA24_COLUMNS)
    reports, errors = run_cohorts([str(spec)])
    assert errors == [] and reports[0].outcome == "published"
    assert any(line.startswith("index hei2015: computed for 21 participants") for line in reports[0].indices)
    with duckdb.connect(str(isolated_session / "warehouse.duckdb"), read_only=True) as conn:
        days = conn.sql("SELECT participant_id, component, score FROM marts.participant_day_index "
                        "WHERE cohort = 'asa24-totals-hei' AND index_id = 'hei2015'").pl()
        people = conn.sql("SELECT participant_id, index_id, component, score, max_score FROM marts.participant_index "
                          "WHERE cohort = 'asa24-totals-hei'").pl()
        ratio = conn.sql("SELECT variable, estimate, se FROM marts.population_estimates "
                         "WHERE cohort = 'asa24-totals-hei' AND analysis_id = 'index-hei2015'").pl()
    days = days.with_columns(pl.col("participant_id").cast(pl.Float64).cast(pl.Int64).cast(pl.String))
    worst = worst_difference(days, sas_scores("hei2015_asa24_nci_sas.csv", "UserName"))
    assert worst.height == 14 and set(worst["n"]) == {21} and worst["worst"].max() <= TOLERANCE
    sums = people.group_by("participant_id", "index_id").agg(
        pl.col("score").filter(pl.col("component") == "total").first().alias("total"),
        pl.col("score").filter(pl.col("component") != "total").sum().alias("parts"))
    assert sums.filter(pl.col("index_id").is_in(["hei2015", "hei2020"])).height == 2 * 21
    assert (sums["total"] - sums["parts"]).abs().max() <= 1e-9
    # the population ratio of one recall each: the index scored on the cohort's mean intakes
    assert set(ratio["variable"]) == {"hei2015", *(f"hei2015_{c}" for c in hei2015.MAX_SCORES)}
    assert ratio.filter(pl.col("variable") == "hei2015")["se"][0] > 0
