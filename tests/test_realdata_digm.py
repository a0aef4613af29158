"""DI-GM on the real NHANES 2015-2016 women set (151 women in their 40s, two recalls each) against the
distribution Kase et al. report for NHANES adults (Nutrients 2024;16:1045, abstract: NHANES 2005-2010,
n = 3812, DI-GM 0-13 with a mean of 4.8, SE 0.04).

The items carry NHANES' own per-item nutrients (KCAL, FIBE, TFAT) and FPED food groups (G_WHOLE,
G_REFINED, PF_MEAT, PF_CUREDMEAT), as the pipeline's reported values; the DI-GM foods come from the
committed FNDDS classification, applied to the file's own food descriptions.
"""
from __future__ import annotations

import duckdb
import polars as pl
import pytest

from gutaxis.components import digm_foods
from gutaxis.indices import digm

pytestmark = pytest.mark.realdata

PAPER_MEAN = 4.8  # Kase et al. 2024, NHANES 2005-2010 adults
PAPER_MAX = 13
# Our set is 151 women of one age band and cycle, not the paper's survey-weighted adults of both
# sexes: its mean's own SE is ~0.15, so 0.6 of room (4 SE) allows for sampling, not for a wrong rule.
MEAN_TOLERANCE = 0.6

REPORTED = {"energy_kcal": "KCAL", "fiber": "FIBE", "fat_total": "TFAT", "fg_whole_grains": "G_WHOLE",
            "fg_refined_grains": "G_REFINED", "fg_red_meat": "PF_MEAT", "fg_cured_meat": "PF_CUREDMEAT"}


@pytest.fixture(scope="module")
def women_days(realdata) -> pl.DataFrame:
    items = pl.read_csv(realdata / "nhanes" / "2015-2016" / "IFF_day1_day2_women40s.tsv", separator="\t",
                        infer_schema=False)
    foods = items.select(food_code="FoodCode", description="Old.Main.food.description").unique("food_code")
    grams_per_100g = digm_foods.food_values(foods).pivot(on="component_id", index="food_code",
                                                          values="amount_per_100g")
    number = lambda column: pl.col(column).cast(pl.Float64)  # noqa: E731
    items = items.select(participant_id="SEQN", recall_day=pl.col("Day").cast(pl.Int32), food_code="FoodCode",
                         grams=number("FoodAmt"), **{cid: number(col) for cid, col in REPORTED.items()})
    items = items.join(grams_per_100g, on="food_code", how="left")
    assert items.filter(pl.col("digm_coffee").is_null()).height == 0
    return items.group_by("participant_id", "recall_day").agg(
        *(pl.col(c).sum() for c in REPORTED),
        *((pl.col("grams") * pl.col(c) / 100).sum().alias(c) for c in digm_foods.COMPONENT_IDS))


@pytest.fixture(scope="module")
def participants(women_days) -> pl.DataFrame:
    return women_days.select("participant_id").unique().with_columns(sex=pl.lit("2"))


def _means(days: pl.DataFrame) -> pl.DataFrame:
    return days.group_by("participant_id").agg(pl.exclude("recall_day").mean()).with_columns(
        recall_day=pl.lit(None, pl.Int32))


def test_digm_of_the_women_set_is_distributed_like_the_papers(women_days, participants):
    scored = digm.score(_means(women_days), participants)
    total = scored.filter(pl.col("component") == "total")["score"]
    assert total.len() == 151 and total.null_count() == 0
    assert abs(total.mean() - PAPER_MEAN) <= MEAN_TOLERANCE, total.mean()
    assert 0 <= total.min() and total.max() <= PAPER_MAX
    assert total.n_unique() >= 8  # a spread, not a constant


def test_median_scored_components_give_the_point_to_about_half(women_days, participants):
    scored = digm.score(_means(women_days), participants)
    share = dict(scored.group_by("component").agg(pl.col("score").mean()).iter_rows())
    # continuous intakes that nearly everyone eats split at their median
    for component in ("fiber", "whole_grains", "red_meat", "refined_grains", "coffee"):
        assert 0.4 <= share[component] <= 0.6, (component, share[component])
    # foods most women did not eat on either day: the point goes to the few who did
    for component in ("avocado", "broccoli", "chickpeas", "cranberries", "soybean", "green_tea"):
        assert share[component] < 0.25, (component, share[component])
    # fermented dairy eaten as such (cheese in pizza or sandwiches is not counted): half the women
    # ate some on one of the two days, so the median is 0 and every eater gets the point
    medians = digm.thresholds(_means(women_days), participants)
    assert medians.filter(pl.col("component") == "fermented_dairy")["median"].item() == 0
    assert 0.4 <= share["fermented_dairy"] <= 0.6


def test_day_scores_use_the_day_medians_and_cover_every_recall(women_days, participants):
    day_scores = digm.score(women_days, participants).filter(pl.col("component") == "total")
    assert day_scores.height == women_days.height == 302
    assert day_scores["recall_day"].is_in([1, 2]).all()
    assert abs(day_scores["score"].mean() - PAPER_MEAN) <= 1.0


# --- end to end: the women set as a cohort ----------------------------------------------------

FNDDS_XLSX = "2017-2018 FNDDS At A Glance - FNDDS Nutrient Values.xlsx"


@pytest.fixture(scope="module")
def published(realdata, isolated_session, tmp_path_factory):
    """The women set as a tabular cohort: NHANES's own per-item nutrients and FPED groups as reported values,
    the DI-GM foods from the FNDDS 2017-2018 composition and the committed classification."""
    from gutaxis.fetch import fetch
    from pipelines.runner import run_cohorts
    from tests.conftest import write_spec

    fetch("fndds-2017-2018", realdata / "usda" / "fndds-2017-2018" / FNDDS_XLSX, log=lambda *a: None)
    specs = tmp_path_factory.mktemp("digm-specs")
    women = write_spec(specs, "women-digm", format="tabular",
                       path=str(realdata / "nhanes" / "2015-2016" / "IFF_day1_day2_women40s.tsv"), delimiter="\t",
                       columns={"participant_id": "SEQN", "recall_day": "Day", "food_code": "FoodCode", "grams": "FoodAmt"},
                       reported=REPORTED)
    reports, errors = run_cohorts([str(women)])
    assert errors == [] and reports[0].outcome == "published"
    conn = duckdb.connect(str(isolated_session / "warehouse.duckdb"), read_only=True)
    yield conn, reports[0]
    conn.close()


def test_published_digm_equals_the_engine_on_the_cohorts_own_composition(published, realdata):
    conn, report = published
    assert any(line.startswith("index digm: computed for 151 participants") for line in report.indices)
    ours = conn.sql("SELECT participant_id, component, score, max_score FROM marts.participant_index "
                    "WHERE cohort = 'women-digm' AND index_id = 'digm'").pl()
    assert set(ours["component"]) == {*digm.COMPONENTS, "total"}
    # the same scores from the file and the FNDDS 2017-2018 classification, without the pipeline (no sex:
    # the cohort has no participants table, so the whole cohort's medians, which for women are theirs)
    fndds = pl.read_csv(realdata / "usda" / "fndds-2017-2018" / "FNDDS_2017_2018_nutrient_values.csv",
                        infer_schema=False).select(food_code="Food code", description="Main food description")
    grams_per_100g = digm_foods.food_values(fndds).pivot(on="component_id", index="food_code", values="amount_per_100g")
    items = pl.read_csv(realdata / "nhanes" / "2015-2016" / "IFF_day1_day2_women40s.tsv", separator="\t",
                        infer_schema=False)
    number = lambda column: pl.col(column).cast(pl.Float64)  # noqa: E731
    items = items.select(participant_id="SEQN", recall_day=pl.col("Day").cast(pl.Int32), food_code="FoodCode",
                         grams=number("FoodAmt"), **{cid: number(col) for cid, col in REPORTED.items()}
                         ).join(grams_per_100g, on="food_code", how="left")
    days = items.group_by("participant_id", "recall_day").agg(
        *(pl.col(c).sum() for c in REPORTED),
        *((pl.col("grams") * pl.col(c) / 100).sum().alias(c) for c in digm_foods.COMPONENT_IDS))
    expected = digm.score(_means(days), None).select("participant_id", "component", expected="score")
    joined = ours.join(expected, on=["participant_id", "component"], how="inner")
    assert joined.height == ours.height == 151 * 15
    assert (joined["score"] - joined["expected"]).abs().max() < 1e-9


def test_the_cohort_records_what_each_other_index_lacks(published):
    conn, report = published
    status = dict(conn.sql("SELECT index_id, status FROM audit.index_status WHERE cohort = 'women-digm'").fetchall())
    assert status["ahei2010"].startswith("not computable: missing") and "trans_fat" in status["ahei2010"]
    assert status["dii"] == "computed"
    parameters = conn.sql("SELECT count(DISTINCT component) - 1 FROM marts.participant_index "
                          "WHERE cohort = 'women-digm' AND index_id = 'dii'").fetchall()[0][0]
    # the FNDDS nutrients and the reported ones; no flavonoid subclasses without SR28 and the FDA FDD
    assert parameters == 26
    bounds = conn.sql("SELECT min(score + max_score) FROM marts.participant_index "
                      "WHERE cohort = 'women-digm' AND index_id = 'dii'").fetchall()[0][0]
    assert bounds >= 0
    # the medians DI-GM and aMED scored against are on record, per scope
    cuts = conn.sql("SELECT index_id, scope, count(*) FROM audit.index_thresholds WHERE cohort = 'women-digm' "
                    "GROUP BY ALL ORDER BY ALL").fetchall()
    assert [c for c in cuts if c[0] == "digm"] == [("digm", "day", 14), ("digm", "participant", 14)]
    coffee = conn.sql("SELECT threshold FROM audit.index_thresholds WHERE cohort = 'women-digm' AND index_id = 'digm' "
                      "AND scope = 'participant' AND component = 'coffee'").fetchall()[0][0]
    assert coffee > 0  # half the women drink coffee on their average day
    # group means: the DII by the population ratio method; DI-GM has no group score (its cut points are the cohort's)
    population = dict(conn.sql("SELECT index_id, population FROM audit.index_status WHERE cohort = 'women-digm'").fetchall())
    assert population["digm"].startswith("not estimated: the index scores against the cohort's own distribution")
    dii_total = conn.sql("SELECT estimate, se FROM marts.population_estimates WHERE cohort = 'women-digm' "
                         "AND analysis_id = 'index-dii' AND variable = 'dii' AND domain = 'all'").fetchall()
    assert len(dii_total) == 1 and dii_total[0][1] > 0
