"""Real data through the analysis: NHANES 2015-16 women (two recall days, WTDR2D in the file) with DEMO_I
publish two-day-weighted estimates; NHANES 2017-18 DEMO_J + DPQ_J give R survey's PHQ-9 prevalence."""
from __future__ import annotations

import duckdb
import polars as pl
import pytest

from gutaxis.analysis.analyses import analysis_frame, run_estimates
from gutaxis.analysis.cohort_tables import build_outcomes, build_participants
from gutaxis.analysis.declarations import AttributeTable, Design, OutcomeTable, analyses_dir, load_analysis_file
from gutaxis.analysis.outcomes import outcome_registry
from gutaxis.fetch import fetch
from pipelines.runner import run_cohorts
from tests.conftest import write_spec
from tests.test_survey_estimates import assert_matches_r, reference

pytestmark = pytest.mark.realdata
FNDDS_XLSX = "2017-2018 FNDDS At A Glance - FNDDS Nutrient Values.xlsx"
TRYPTOPHAN_PER_1000KCAL = (350, 550)  # mg; see test_women_two_day_tryptophan_per_1000kcal_is_weighted_by_wtdr2d


def _quiet(*args) -> None:
    """fetch's log: the tests need no progress lines."""


@pytest.fixture(scope="module")
def women(realdata, isolated_session, tmp_path_factory):
    """The 2015-16 women file (tabular, both days) with DEMO_I and a design, run as a one-off spec."""
    fetch("fndds-2017-2018", realdata / "usda" / "fndds-2017-2018" / FNDDS_XLSX, log=_quiet)
    # tryptophan comes from SR28's amino acids through the FDA FDD disaggregation of FNDDS foods to SR
    # ingredients (gutaxis.components.amino_acids): without both, it is the few linked foods' and far too low
    fetch("sr28", realdata / "usda" / "sr28", log=_quiet)
    fetch("fda-fdd-3.1", realdata / "fda-fdd" / "FDA_FDD_All_Records_v_3.1.xlsx", log=_quiet)
    fetch("fndds-ingredients-2017-2018", realdata / "usda" / "fndds-2017-2018" / "FNDDS_ingredients_2017_2018_SSB_subset.csv",
          log=_quiet)
    folder = realdata / "nhanes" / "2015-2016"
    spec = write_spec(
        tmp_path_factory.mktemp("specs"), "women-analysis", format="tabular",
        path=str(folder / "IFF_day1_day2_women40s.tsv"), delimiter="\t",
        columns={"participant_id": "SEQN", "recall_day": "Day", "food_code": "FoodCode", "grams": "FoodAmt"},
        reported={"energy_kcal": "KCAL", "fiber": "FIBE"},
        participants=[{"format": "nhanes-demo", "path": str(folder / "DEMO_I.XPT")}],
        design={"weight": "auto", "strata": "stratum", "psu": "psu", "cycles": 1, "lonely_psu": "adjust"},
        analyses=[{"id": "tryptophan-two-day", "kind": "estimates", "variables": ["tryptophan_per_1000kcal", "fiber_mean_daily"],
                   "statistics": ["mean", "quantile"], "quantiles": [0.5]}])
    reports, errors = run_cohorts([str(spec)])
    assert errors == [] and reports[0].outcome == "published"
    conn = duckdb.connect(str(isolated_session / "warehouse.duckdb"), read_only=True)
    yield conn, reports[0]
    conn.close()


def test_women_two_day_tryptophan_per_1000kcal_is_weighted_by_wtdr2d(women, realdata):
    conn, report = women
    rows = conn.sql("SELECT * FROM marts.population_estimates WHERE cohort = 'women-analysis' "
                    "AND variable = 'tryptophan_per_1000kcal' AND statistic = 'mean'").pl()
    assert rows.height == 1
    row = rows.row(0, named=True)
    # design df: PSUs minus strata that hold the domain's members (R's degf on a domain)
    psus, strata = conn.execute(
        "SELECT count(DISTINCT (stratum, psu)), count(DISTINCT stratum) FROM marts.analysis_participant "
        "WHERE cohort = 'women-analysis' AND wt_two_day > 0 AND tryptophan_per_1000kcal IS NOT NULL").fetchall()[0]
    assert row["weight"] == "wt_two_day" and row["df"] == psus - strata and row["se"] > 0
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    # Plausible: adults' usual tryptophan intake is 826 mg/day (Lieberman et al., J Nutr 2016;146:2609S, NHANES
    # 2001-2012), ~400 mg per 1000 kcal at the ~2,100 kcal/day adults eat; 441 here (CI 397-486) with SR28 and the
    # FDA FDD; a missing amino-acid route gave 11.
    assert TRYPTOPHAN_PER_1000KCAL[0] <= row["estimate"] <= TRYPTOPHAN_PER_1000KCAL[1], row["estimate"]
    # the point estimate is the WTDR2D-weighted mean of the published per-participant values
    iff = pl.read_csv(realdata / "nhanes" / "2015-2016" / "IFF_day1_day2_women40s.tsv", separator="\t",
                      infer_schema_length=0)
    weights = iff.group_by("SEQN").agg(pl.col("WTDR2D").first().cast(pl.Float64)).rename({"SEQN": "participant_id"})
    values = conn.sql("SELECT participant_id, per_1000kcal FROM marts.participant_exposure "
                      "WHERE cohort = 'women-analysis' AND component_id = 'tryptophan'").pl()
    both = values.join(weights, on="participant_id").drop_nulls()
    assert row["n"] == both.height > 100
    expected = (both["per_1000kcal"] * both["WTDR2D"]).sum() / both["WTDR2D"].sum()
    assert row["estimate"] == pytest.approx(expected, rel=1e-6)
    assert any(line.startswith("estimates tryptophan-two-day") and "wt_two_day" in line for line in report.estimated)


def test_women_cohort_keeps_every_demo_i_participant_flagged_by_recall(women):
    conn, _ = women
    counts = conn.execute("SELECT count(*), count(*) FILTER (WHERE has_usable_recall), count(wt_two_day), "
                          "count(DISTINCT stratum) FROM cohort.participants WHERE cohort = 'women-analysis'").fetchall()[0]
    assert counts == (9971, 151, 151, 15)
    wide = conn.execute("SELECT count(*), count(tryptophan_per_1000kcal) FROM marts.analysis_participant "
                        "WHERE cohort = 'women-analysis'").fetchall()[0]
    assert wide[0] == 9971 and 100 < wide[1] <= 151


def test_nhanes1718_phq9_prevalence_from_the_shipped_analysis_files_equals_r_survey(realdata, tmp_path):
    """DEMO_J and DPQ_J through the same engine steps the run uses (cohort_tables -> analysis_frame ->
    run_estimates). The 2017-18 diary side needs the nhanes-tot format (another branch)."""
    folder = realdata / "nhanes" / "2017-2018"
    participants = build_participants("nhanes1718", folder, [AttributeTable(format="nhanes-demo", path="DEMO_J.xpt")],
                                      pl.Series([], dtype=pl.String), pl.Series([], dtype=pl.String), pl.DataFrame())
    outcomes = build_outcomes("nhanes1718", folder, [OutcomeTable(format="nhanes-dpq", path="DPQ_J.xpt")])
    kinds = dict(outcome_registry().select("outcome_id", "kind").iter_rows())
    frame = analysis_frame(participants, pl.DataFrame(), outcomes, kinds)
    for analysis_id, check in (("phq9-prevalence", "phq9_ge10_adults"), ("phq9-prevalence-by-sex", "phq9_ge10_by_sex")):
        analysis = load_analysis_file(analyses_dir() / f"{analysis_id}.yaml")
        ours = run_estimates("nhanes1718", frame, Design(), analysis, kinds, outcomes.filter(pl.col("outcome_id") == "oxytocin"))
        ours = ours.filter((pl.col("variable") == "phq9_ge10") & (pl.col("statistic") == "proportion"))
        assert set(ours["weight"]) == {"wt_mec"}
        for r in reference(check).iter_rows(named=True):
            mine = ours.filter(pl.col("domain_value") == r["domain_value"])
            assert mine.height == 1
            assert_matches_r(mine.row(0, named=True), r)


def test_nhanes1718_cohort_publishes_the_r_survey_phq9_prevalence_in_the_warehouse(realdata, isolated, tmp_path):
    """The nhanes1718 spec of DESIGN.md (FPED day-1 totals, DEMO_J, DPQ_J) through `gutaxis run`: the
    warehouse's PHQ-9 >= 10 prevalence equals R survey's. Needs the nhanes-tot day-totals format."""
    import typing

    from gutaxis.specs import CohortSpec

    if "nhanes-tot" not in typing.get_args(CohortSpec.model_fields["format"].annotation):
        pytest.skip("the nhanes-tot day-totals format is not in this checkout (it comes from the day-totals branch)")
    fetch("fndds-2017-2018", realdata / "usda" / "fndds-2017-2018" / FNDDS_XLSX, log=_quiet)
    folder = realdata / "nhanes" / "2017-2018"
    spec = write_spec(tmp_path, "nhanes1718", format="nhanes-tot", path=str(folder / "fped_dr1tot_1718.sas7bdat"),
                      composition="fndds-2017-2018",
                      participants=[{"format": "nhanes-demo", "path": str(folder / "DEMO_J.xpt")}],
                      outcomes=[{"format": "nhanes-dpq", "path": str(folder / "DPQ_J.xpt")}],
                      design={"weight": "auto", "strata": "stratum", "psu": "psu", "cycles": 1, "lonely_psu": "adjust"})
    reports, errors = run_cohorts([str(spec)])
    assert errors == [] and reports[0].outcome == "published"
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    try:
        for analysis_id, check in (("phq9-prevalence", "phq9_ge10_adults"), ("phq9-prevalence-by-sex", "phq9_ge10_by_sex")):
            ours = conn.sql("SELECT * FROM marts.population_estimates WHERE cohort = 'nhanes1718' AND analysis_id = "
                            f"'{analysis_id}' AND variable = 'phq9_ge10'").pl()
            assert set(ours["weight"]) == {"wt_mec"}
            for r in reference(check).iter_rows(named=True):
                assert_matches_r(ours.filter(pl.col("domain_value") == r["domain_value"]).row(0, named=True), r)
        flagged = conn.execute("SELECT count(*), count(*) FILTER (WHERE has_usable_recall), count(wt_day1) "
                               "FROM cohort.participants WHERE cohort = 'nhanes1718'").fetchall()[0]
        assert flagged[0] == 9254 and 0 < flagged[1] < 9254 and flagged[2] > 0
    finally:
        conn.close()


def test_nhanes1718_yogurt_consumer_hypothesis_equals_r_svyglm(realdata):
    """A `kind: association` hypothesis through run_association (weight auto -> WTDRD1 read from the FPED
    day-1 file, consumers vs non-consumers, adjusted for age and sex, adults 20+) gives R's log odds ratio."""
    import pyreadstat

    folder = realdata / "nhanes" / "2017-2018"
    fped = folder / "fped_dr1tot_1718.sas7bdat"
    data, _ = pyreadstat.read_sas7bdat(str(fped), usecols=["SEQN", "DR1DRSTZ", "DR1T_D_YOGURT"])
    day1 = pl.from_pandas(data, nan_to_null=True).filter(pl.col("DR1DRSTZ") == 1).select(
        pl.col("SEQN").cast(pl.Int64).cast(pl.String).alias("participant_id"), pl.lit(1).alias("n_days"),
        pl.lit("fg_yogurt").alias("component_id"), pl.col("DR1T_D_YOGURT").alias("mean_daily"),
        pl.lit(None, pl.Float64).alias("per_1000kcal"))
    weights_data, _ = pyreadstat.read_sas7bdat(str(fped), usecols=["SEQN", "WTDRD1", "WTDR2D"])
    weights = pl.from_pandas(weights_data, nan_to_null=True).select(
        pl.col("SEQN").cast(pl.Int64).cast(pl.String).alias("participant_id"), pl.col("WTDRD1").alias("wt_day1"),
        pl.col("WTDR2D").alias("wt_two_day"))
    participants = build_participants("nhanes1718", folder, [AttributeTable(format="nhanes-demo", path="DEMO_J.xpt")],
                                      day1["participant_id"], day1["participant_id"], weights)
    outcomes = build_outcomes("nhanes1718", folder, [OutcomeTable(format="nhanes-dpq", path="DPQ_J.xpt")])
    kinds = dict(outcome_registry().select("outcome_id", "kind").iter_rows())
    frame = analysis_frame(participants, day1, outcomes, kinds)
    from gutaxis.analysis.analyses import run_association
    from gutaxis.analysis.declarations import Analysis

    hypothesis = Analysis(id="yogurt-phq9", kind="association", outcome="phq9_ge10", model="logistic",
                          exposure={"component": "fg_yogurt", "scale": "mean_daily", "groups": "consumer"},
                          covariates=["age_years", "sex"], domain="age_years >= 20")
    ours = run_association("nhanes1718", frame, Design(), hypothesis, kinds, {}).row(0, named=True)
    assert ours["weight"] == "wt_day1" and ours["contrast"] == "consumers vs non-consumers"
    r = reference("logistic_phq9_ge10_yogurt").filter(pl.col("term") == "yogurt_consumer").row(0, named=True)
    assert_matches_r(ours, r)
