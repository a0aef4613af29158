"""gutaxis.analysis: participants, PHQ-9 scoring, oxytocin rules, and survey estimates pinned against R
`survey` (tests/reference/nhanes1718_survey.R wrote tests/reference/nhanes1718_survey.csv; no R here)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pyreadstat
import pytest

from gutaxis import GutaxisError
from gutaxis.analysis.estimates import (SurveyDesign, estimate, fit_regression, lonely_strata,
                                        nchs_proportion_flag, survey_sample)
from gutaxis.analysis.outcomes import (OXYTOCIN_PG_PER_ML, outcome_registry, oxytocin_pg_per_ml,
                                       read_nhanes_dpq, refuse_pooled_oxytocin, score_phq9)
from gutaxis.analysis.participants import read_nhanes_demo

REFERENCE = Path(__file__).parent / "reference" / "nhanes1718_survey.csv"
ESTIMATE_RTOL, SE_RTOL = 1e-6, 1e-4
# What the IBM-float bytes 00 10 00 00 00 00 00 00 read back as: SAS transport's smallest normalised
# number, which some writers leave for a zero.
XPT_NEAR_ZERO_BYTES = bytes.fromhex("0010000000000000")
NAN = float("nan")


def reference(check: str) -> pl.DataFrame:
    rows = pl.read_csv(REFERENCE).filter(pl.col("check") == check)
    assert rows.height, f"no reference rows for {check}"
    return rows


def assert_matches_r(ours: dict, r: dict, ci: bool = True) -> None:
    assert ours["estimate"] == pytest.approx(r["estimate"], rel=ESTIMATE_RTOL, abs=1e-12)
    assert ours["se"] == pytest.approx(r["se"], rel=SE_RTOL)
    assert ours["n"] == r["n"] and ours["df"] == r["df"]
    if r.get("p_value") is not None:
        assert ours["p_value"] == pytest.approx(r["p_value"], rel=SE_RTOL)
    if ci and r["ci_low"] is not None:
        assert ours["ci_low"] == pytest.approx(r["ci_low"], rel=SE_RTOL, abs=1e-9)
        assert ours["ci_high"] == pytest.approx(r["ci_high"], rel=SE_RTOL, abs=1e-9)


def test_reference_records_r_and_survey_versions():
    versions = pl.read_csv(REFERENCE).select("r_version", "survey_version").unique()
    assert versions.height == 1 and versions["survey_version"][0].startswith("4.")


# --- real data: NHANES 2017-2018 ---------------------------------------------------------------

@pytest.fixture(scope="module")
def nhanes1718(realdata) -> pl.DataFrame:
    """One row per DEMO_J participant: design and attributes, PHQ-9, and day-1 FPED totals with WTDRD1."""
    folder = realdata / "nhanes" / "2017-2018"
    participants = read_nhanes_demo(folder / "DEMO_J.xpt", "nhanes1718")
    phq9 = read_nhanes_dpq(folder / "DPQ_J.xpt")
    fped, _ = pyreadstat.read_sas7bdat(str(folder / "fped_dr1tot_1718.sas7bdat"),
                                       usecols=["SEQN", "WTDRD1", "DR1DRSTZ", "DR1T_D_YOGURT", "DR1T_D_TOTAL",
                                                "DR1T_F_TOTAL"])
    day1 = pl.from_pandas(fped, nan_to_null=True).select(
        pl.col("SEQN").cast(pl.Int64).cast(pl.String).alias("participant_id"),
        pl.col("WTDRD1").alias("wt_day1_fped"), (pl.col("DR1DRSTZ") == 1).alias("day1_reliable"),
        pl.col("DR1T_D_YOGURT").alias("fg_yogurt"), pl.col("DR1T_D_TOTAL").alias("fg_dairy"),
        pl.col("DR1T_F_TOTAL").alias("fg_fruit"))
    frame = participants.drop("wt_day1").join(phq9, on="participant_id", how="left").join(
        day1, on="participant_id", how="left").rename({"wt_day1_fped": "wt_day1"})
    return frame.with_columns(
        pl.col("phq9_ge10").cast(pl.Int8),
        (pl.col("fg_yogurt") > 0).cast(pl.Int8).alias("yogurt_consumer"),
        pl.when(pl.col("age_years") < 20).then(None).when(pl.col("age_years") < 40).then(pl.lit("20-39"))
        .when(pl.col("age_years") < 60).then(pl.lit("40-59")).otherwise(pl.lit("60+")).alias("age_group"))


@pytest.mark.realdata
def test_demo_j_gives_every_participant_with_the_2017_2018_design(nhanes1718):
    assert nhanes1718.height == 9254 and nhanes1718["participant_id"].n_unique() == 9254
    assert nhanes1718["cycle"].unique().to_list() == ["2017-2018"]
    assert (nhanes1718["stratum"].n_unique(), nhanes1718.select("stratum", "psu").unique().height) == (15, 30)
    # The interview weights add up to the civilian non-institutionalised US population (~324 million).
    assert 3.1e8 < nhanes1718["wt_interview"].sum() < 3.4e8
    assert nhanes1718.filter(pl.col("wt_mec") == 0).height == 550  # interviewed, not examined


ADULTS = pl.col("age_years") >= 20
ADULTS_DAY1 = ADULTS & pl.col("day1_reliable")


@pytest.mark.realdata
def test_phq9_ge10_prevalence_in_adults_equals_r_survey(nhanes1718):
    ours = estimate(nhanes1718, SurveyDesign("wt_mec"), "phq9_ge10", "proportion", domain=ADULTS)
    assert_matches_r(ours.row(0, named=True), reference("phq9_ge10_adults").row(0, named=True))
    assert ours["estimate"][0] == pytest.approx(0.084944, abs=5e-7)  # the R survey 4.1 figure
    assert ours["weight"][0] == "wt_mec" and ours["reliability_flag"][0] is None
    assert ours["ci_low"][0] < ours["estimate"][0] < ours["ci_high"][0]


@pytest.mark.realdata
@pytest.mark.parametrize("check,by", [("phq9_ge10_by_sex", ["sex"]),
                                      ("phq9_ge10_by_age_group_sex", ["age_group", "sex"])])
def test_phq9_ge10_prevalence_by_domain_equals_r_survey(nhanes1718, check, by):
    ours = estimate(nhanes1718, SurveyDesign("wt_mec"), "phq9_ge10", "proportion", by=by, domain=ADULTS)
    r_rows = reference(check)
    assert ours.height == r_rows.height
    for r in r_rows.iter_rows(named=True):
        mine = ours.filter(pl.col("domain_value") == r["domain_value"])
        assert mine.height == 1, r["domain_value"]
        assert_matches_r(mine.row(0, named=True), r)


@pytest.mark.realdata
def test_mean_day1_yogurt_by_sex_with_the_day1_weight_equals_r_survey(nhanes1718):
    ours = estimate(nhanes1718, SurveyDesign("wt_day1"), "fg_yogurt", "mean", by=["sex"], domain=ADULTS_DAY1)
    for r in reference("yogurt_day1_by_sex").iter_rows(named=True):
        assert_matches_r(ours.filter(pl.col("domain_value") == r["domain_value"]).row(0, named=True), r)


@pytest.mark.realdata
def test_ratio_yogurt_share_of_dairy_by_sex_equals_r_svyratio(nhanes1718):
    ours = estimate(nhanes1718, SurveyDesign("wt_day1"), "fg_yogurt", "ratio", denominator="fg_dairy", by=["sex"],
                    domain=ADULTS_DAY1)
    for r in reference("yogurt_share_of_dairy_day1_by_sex").iter_rows(named=True):
        assert_matches_r(ours.filter(pl.col("domain_value") == r["domain_value"]).row(0, named=True), r)


@pytest.mark.realdata
@pytest.mark.parametrize("check,variable,weight,domain", [
    ("fruit_day1_quantiles", "fg_fruit", "wt_day1", ADULTS_DAY1),
    ("phq9_total_quantiles", "phq9_total", "wt_mec", ADULTS)])
def test_quantiles_math_rule_with_woodruff_interval_equal_r_svyquantile(nhanes1718, check, variable, weight, domain):
    r_rows = reference(check)
    ours = estimate(nhanes1718, SurveyDesign(weight), variable, "quantile", domain=domain,
                    quantiles=r_rows["quantile"].to_list())
    for r in r_rows.iter_rows(named=True):
        assert_matches_r(ours.filter(pl.col("quantile") == r["quantile"]).row(0, named=True), r)


R_TERMS = {"_intercept_": "(Intercept)", "yogurt_consumer": "yogurt_consumer", "age_years": "RIDAGEYR",
           "sex_female": "sexfemale"}


@pytest.mark.realdata
@pytest.mark.parametrize("check,outcome,model", [("logistic_phq9_ge10_yogurt", "phq9_ge10", "logistic"),
                                                 ("linear_phq9_total_yogurt", "phq9_total", "linear")])
def test_survey_weighted_regression_on_yogurt_equals_r_svyglm(nhanes1718, check, outcome, model):
    ours = fit_regression(nhanes1718, SurveyDesign("wt_day1"), outcome, ["yogurt_consumer", "age_years", "sex"],
                          model=model, categorical={"sex": "male"}, domain=ADULTS_DAY1)
    r_rows = reference(check)
    assert sorted(R_TERMS[t] for t in ours["term"]) == sorted(r_rows["term"])
    for mine in ours.iter_rows(named=True):
        assert_matches_r(mine, r_rows.filter(pl.col("term") == R_TERMS[mine["term"]]).row(0, named=True))


def test_regression_coefficients_are_tested_on_the_design_df_however_many_covariates():
    # 4 strata x 2 PSUs: design df 4. svyglm's default would leave 4 - 5 + 1 = 0 df to 5 coefficients.
    rows = 64
    frame = pl.DataFrame({"stratum": [1 + i % 4 for i in range(rows)], "psu": [1 + (i // 4) % 2 for i in range(rows)],
                          "weight": [1.0 + (i * 7) % 5 for i in range(rows)],
                          **{f"x{k}": [((i * (k + 3)) % 11) / 3.0 for i in range(rows)] for k in range(4)}})
    frame = frame.with_columns((pl.col("x0") + 0.5 * pl.col("x1") - pl.col("x3") + pl.Series([(i * 13) % 7 / 2 for i in range(rows)]))
                               .alias("y"))
    fitted = fit_regression(frame, SurveyDesign("weight"), "y", ["x0", "x1", "x2", "x3"], model="linear")
    from scipy import stats

    assert set(fitted["df"]) == {4}
    for row in fitted.iter_rows(named=True):
        half = stats.t.ppf(0.975, 4) * row["se"]
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((row["estimate"] - half, row["estimate"] + half))
        assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(row["estimate"] / row["se"]), 4))
        assert "t on design df" in row["method"]


# --- the lonely-PSU rule and domains (small fixtures, pinned against R) --------------------------

def lonely_psu_fixture() -> pl.DataFrame:
    return pl.DataFrame({"stratum": [1, 1, 1, 1, 2, 2, 2, 2, 3, 3], "psu": [1, 1, 2, 2, 1, 1, 2, 2, 1, 1],
                         "weight": [10.0, 12, 8, 15, 20, 18, 9, 11, 30, 25],
                         "y": [3.1, 4.2, 2.8, 5.0, 6.3, 5.9, 4.4, 3.7, 7.5, 8.1]})


@pytest.mark.parametrize("rule", ["adjust", "average", "remove"])
def test_lonely_psu_rule_equals_r_survey_lonely_psu_option(rule):
    frame = lonely_psu_fixture()
    ours = estimate(frame, SurveyDesign("weight", lonely_psu=rule), "y", "mean")
    r = reference(f"lonely_psu_{rule}").filter(pl.col("statistic") == "mean").row(0, named=True)
    assert_matches_r(ours.row(0, named=True), r, ci=False)
    assert f"lonely PSU: {rule} (strata 3)" in ours["method"][0]


def test_lonely_psu_adjust_differs_from_average_and_strata_are_listed():
    frame = lonely_psu_fixture()
    assert lonely_strata(frame, SurveyDesign("weight")) == [3]
    adjust = estimate(frame, SurveyDesign("weight", lonely_psu="adjust"), "y", "mean")["se"][0]
    average = estimate(frame, SurveyDesign("weight", lonely_psu="average"), "y", "mean")["se"][0]
    assert adjust > 1.5 * average


def test_unknown_lonely_psu_rule_is_one_line():
    with pytest.raises(GutaxisError, match="lonely_psu 'certainly' is not known"):
        SurveyDesign("weight", lonely_psu="certainly")


def domain_fixture() -> pl.DataFrame:
    return pl.DataFrame({
        "stratum": [1] * 6 + [2] * 6 + [3] * 6,
        "psu": [1, 1, 2, 2, 3, 3, 1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2],
        "weight": [5.0, 7, 6, 8, 4, 9, 10, 12, 11, 6, 7, 8, 3, 5, 4, 6, 2, 7],
        "y": [1.2, 2.3, 1.9, 3.1, 2.2, 2.8, 4.0, 3.6, 4.4, 2.9, 3.3, 3.0, 5.1, 4.7, 5.5, 4.9, 5.2, 4.8],
        "member": [1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0]})


def test_domain_estimation_keeps_the_design_and_equals_r_where_cutting_the_data_would_not():
    frame = domain_fixture()
    r_domain, r_cut = (reference("domain_not_subset").filter(pl.col("domain_value") == v).row(0, named=True)
                       for v in ("1 (domain)", "1 (data cut first)"))
    as_domain = estimate(frame, SurveyDesign("weight"), "y", "mean", domain=pl.col("member") == 1)
    assert_matches_r(as_domain.row(0, named=True), r_domain, ci=False)
    cut_first = estimate(frame.filter(pl.col("member") == 1), SurveyDesign("weight"), "y", "mean")
    assert_matches_r(cut_first.row(0, named=True), r_cut, ci=False)
    assert abs(as_domain["se"][0] - cut_first["se"][0]) > 0.1 * as_domain["se"][0]


def test_domain_with_members_in_one_psu_of_a_stratum_is_not_lonely_as_in_r():
    domain = (pl.col("member") == 1) & ~((pl.col("stratum") == 2) & (pl.col("psu") == 2))
    ours = estimate(domain_fixture(), SurveyDesign("weight"), "y", "mean", domain=domain)
    assert_matches_r(ours.row(0, named=True), reference("domain_in_one_psu_of_a_stratum").row(0, named=True))


# --- design input errors -----------------------------------------------------------------------

def test_negative_weight_is_one_line():
    frame = domain_fixture().with_columns(pl.when(pl.col("y") > 5).then(-1.0).otherwise(pl.col("weight")).alias("weight"))
    with pytest.raises(GutaxisError, match=r"column weight has 3 negative or non-finite weights") as err:
        estimate(frame, SurveyDesign("weight"), "y", "mean", source="demo-analysis")
    assert "\n" not in str(err.value) and str(err.value).startswith("demo-analysis:")


def test_missing_design_column_and_empty_domain_are_one_line():
    with pytest.raises(GutaxisError, match="the design's psu column psu is missing"):
        estimate(domain_fixture().drop("psu"), SurveyDesign("weight"), "y", "mean")
    with pytest.raises(GutaxisError, match="no participant of the domain has a weight > 0"):
        estimate(domain_fixture(), SurveyDesign("weight"), "y", "mean", domain=pl.col("y") > 100)


def test_null_weight_is_outside_the_subsample_but_its_psu_stays():
    """A participant without the subsample's weight (no dietary recall) counts as weight 0, as R counts
    a zero weight: same estimate and SE as giving it 0."""
    frame = domain_fixture()
    nulled = frame.with_columns(pl.when(pl.col("member") == 0).then(None).otherwise(pl.col("weight")).alias("weight"))
    zeroed = frame.with_columns(pl.when(pl.col("member") == 0).then(0.0).otherwise(pl.col("weight")).alias("weight"))
    members = pl.col("member") == 1
    a = estimate(nulled, SurveyDesign("weight"), "y", "mean", domain=members).row(0, named=True)
    b = estimate(zeroed, SurveyDesign("weight"), "y", "mean", domain=members).row(0, named=True)
    assert (a["estimate"], a["se"]) == (b["estimate"], b["se"])
    r = reference("domain_not_subset").filter(pl.col("domain_value") == "1 (domain)").row(0, named=True)
    assert a["se"] == pytest.approx(r["se"], rel=SE_RTOL)


def test_domain_member_without_the_weight_is_refused_not_dropped():
    frame = domain_fixture().with_columns(
        pl.when(pl.col("stratum") == 3).then(None).otherwise(pl.col("weight")).alias("weight"),
        pl.int_range(18).cast(pl.String).alias("participant_id"))
    with pytest.raises(GutaxisError, match=r"6 participants of the domain have y but no weight > 0 \(first participant 12\)"):
        estimate(frame, SurveyDesign("weight"), "y", "mean")
    with pytest.raises(GutaxisError, match="participants of the domain have phq, y but no weight"):
        fit_regression(frame.with_columns((pl.col("y") > 3).cast(pl.Int8).alias("phq")), SurveyDesign("weight"),
                       "phq", ["y"], model="logistic")
    # Restricted to the weighted subsample, it is estimated; so is a member whose value is missing.
    estimate(frame, SurveyDesign("weight"), "y", "mean", domain=pl.col("stratum") < 3)
    estimate(frame.with_columns(pl.when(pl.col("stratum") == 3).then(None).otherwise(pl.col("y")).alias("y")),
             SurveyDesign("weight"), "y", "mean")


def test_pooled_cycles_divide_the_weights():
    sample = survey_sample(domain_fixture(), SurveyDesign("weight", cycles=2))
    assert sample.data["weight"].to_list() == [w / 2 for w in domain_fixture()["weight"]]


def test_proportion_of_a_non_binary_variable_is_refused():
    with pytest.raises(GutaxisError, match="a proportion needs a 0/1 variable; y has values"):
        estimate(domain_fixture(), SurveyDesign("weight"), "y", "proportion")


# --- NCHS reliability flags (Parker et al. 2017) --------------------------------------------------

@pytest.mark.parametrize("p,se,n,df,ci,flag", [
    (0.30, 0.02, 2000, 15, (0.26, 0.34), None),
    (0.30, 0.10, 2000, 15, (0.12, 0.52), "suppress: effective sample size < 30"),   # n_eff = 21
    (0.50, 0.08, 100, 15, (0.33, 0.67), "suppress: CI width >= 0.30"),              # n_eff = 39
    (0.06, 0.015, 400, 15, (0.02, 0.11), "suppress: relative CI width > 130%"),      # 0.09 / 0.06
    (0.30, 0.02, 2000, 6, (0.26, 0.34), "review: design df < 8"),
    (0.0, 0.0, 200, 15, (0.0, 0.02), "review: proportion of 0 or 1"),
    (0.94, 0.015, 400, 15, (0.89, 0.98), "footnote: complement's relative CI width > 130%"),
])
def test_nchs_proportion_flags(p, se, n, df, ci, flag):
    assert nchs_proportion_flag(p, se, n, df, *ci) == flag


def test_effective_sample_size_is_capped_at_n():
    # p(1-p)/SE^2 = 2100 > n = 25: the cap makes it 25, below 30.
    assert nchs_proportion_flag(0.3, 0.01, 25, 15, 0.28, 0.32) == "suppress: effective sample size < 30"


# --- participants (DEMO) -----------------------------------------------------------------------

def write_xpt(path: Path, columns: dict, near_zero_sentinel: float | None = None) -> Path:
    pyreadstat.write_xport(pd.DataFrame(columns), str(path))
    if near_zero_sentinel is not None:  # turn every sentinel into the IBM near-zero some writers leave
        content = path.read_bytes()
        sentinel = _ibm_bytes(near_zero_sentinel)
        assert sentinel in content
        path.write_bytes(content.replace(sentinel, XPT_NEAR_ZERO_BYTES))
    return path


def _ibm_bytes(value: float) -> bytes:
    """IBM hexadecimal floating point of a small positive whole number (for the sentinel only)."""
    exponent, fraction = 64, float(value)
    while fraction >= 1:
        fraction /= 16
        exponent += 1
    return bytes([exponent]) + int(fraction * 2 ** 56).to_bytes(7, "big")


def demo_columns(**overrides) -> dict:
    columns = {"SEQN": [1.0, 2.0, 3.0], "SDDSRVYR": [10.0] * 3, "RIAGENDR": [1.0, 2.0, 2.0],
               "RIDAGEYR": [45.0, 30.0, 80.0], "RIDRETH1": [3.0, 5.0, 1.0], "RIDRETH3": [3.0, 6.0, 1.0],
               "INDFMPIR": [1.5, 0.5, 5.0], "RIDEXPRG": [float("nan"), 1.0, 2.0],
               "SDMVSTRA": [134.0, 134.0, 135.0], "SDMVPSU": [1.0, 2.0, 1.0],
               "WTINT2YR": [1000.5, 2000.0, 3000.0], "WTMEC2YR": [1100.0, 0.0, 3100.0]}
    columns.update(overrides)
    return {k: v for k, v in columns.items() if v is not None}


def test_demo_reader_gives_the_participant_columns(tmp_path):
    frame = read_nhanes_demo(write_xpt(tmp_path / "DEMO_J.xpt", demo_columns()), "study")
    assert frame.columns[:3] == ["cohort", "participant_id", "sex"]
    assert frame["sex"].to_list() == ["male", "female", "female"]
    assert frame["race_ethnicity"].to_list() == ["Non-Hispanic White", "Non-Hispanic Asian", "Mexican American"]
    assert frame["pregnant"].to_list() == [False, True, False]  # the man: RIDEXPRG not asked
    assert frame["cycle"].unique().to_list() == ["2017-2018"]
    assert frame["wt_mec"].to_list() == [1100.0, 0.0, 3100.0]
    assert frame["wt_day1"].null_count() == 3 and frame["has_usable_recall"].null_count() == 3


def test_demo_woman_without_pregnancy_status_is_unknown(tmp_path):
    frame = read_nhanes_demo(write_xpt(tmp_path / "DEMO_J.xpt", demo_columns(RIDEXPRG=[NAN, 3.0, NAN])), "study")
    assert frame["pregnant"].to_list() == [False, None, None]


def test_demo_reader_falls_back_to_ridreth1_and_reads_prepandemic_weights(tmp_path):
    columns = demo_columns(RIDRETH3=None, SDDSRVYR=[66.0] * 3, WTINT2YR=None, WTMEC2YR=None,
                           WTINTPRP=[10.0, 20.0, 30.0], WTMECPRP=[11.0, 0.0, 31.0])
    frame = read_nhanes_demo(write_xpt(tmp_path / "P_DEMO.xpt", columns), "study")
    assert frame["race_ethnicity"][1] == "Other race, including multi-racial"
    assert frame["wt_interview"].to_list() == [10.0, 20.0, 30.0] and frame["cycle"][0] == "2017-2020"


def test_demo_near_zero_values_mean_zero(tmp_path):
    # INDFMPIR 0 written as the XPT near-zero value: an income-to-poverty ratio of 0, not 5.4e-79.
    path = write_xpt(tmp_path / "DEMO_J.xpt", demo_columns(INDFMPIR=[7.0, 0.5, 5.0]), near_zero_sentinel=7.0)
    assert pyreadstat.read_xport(str(path))[0]["INDFMPIR"][0] == pytest.approx(5.397605e-79, rel=1e-6)
    assert read_nhanes_demo(path, "study")["income_poverty_ratio"][0] == 0.0


def test_demo_file_cut_short_is_one_line(tmp_path):
    path = write_xpt(tmp_path / "DEMO_J.xpt", demo_columns())
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(GutaxisError, match=r"DEMO_J\.xpt: the file is cut short"):
        read_nhanes_demo(path, "study")


def test_demo_duplicate_ids_are_one_line_naming_file_and_column(tmp_path):
    path = write_xpt(tmp_path / "DEMO_J.xpt", demo_columns(SEQN=[1.0, 2.0, 2.0]))
    with pytest.raises(GutaxisError, match=r"DEMO_J\.xpt: column SEQN has duplicate participant ids .*first 2") as err:
        read_nhanes_demo(path, "study")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("column", ["SDMVPSU", "SDMVSTRA", "WTMEC2YR"])
def test_demo_missing_design_column_is_one_line(tmp_path, column):
    path = write_xpt(tmp_path / "DEMO_J.xpt", demo_columns(**{column: None}))
    with pytest.raises(GutaxisError, match=rf"DEMO_J\.xpt: column {column} is missing"):
        read_nhanes_demo(path, "study")


def test_demo_missing_psu_on_a_row_is_refused(tmp_path):
    path = write_xpt(tmp_path / "DEMO_J.xpt", demo_columns(SDMVPSU=[1.0, float("nan"), 1.0]))
    with pytest.raises(GutaxisError, match=r"column SDMVPSU is missing on 1 rows \(first SEQN 2\)"):
        read_nhanes_demo(path, "study")


# --- PHQ-9 (DPQ) -------------------------------------------------------------------------------

def dpq_columns(*rows) -> dict:
    items = [f"DPQ0{i}0" for i in range(1, 10)]
    return {"SEQN": [float(i + 1) for i in range(len(rows))],
            **{item: [float(r[k]) for r in rows] for k, item in enumerate(items)}}


def test_phq9_total_only_for_complete_responses_with_7_and_9_missing(tmp_path):
    path = write_xpt(tmp_path / "DPQ_J.xpt", dpq_columns(
        [1, 1, 1, 1, 1, 1, 1, 1, 1],      # 9
        [3, 3, 3, 1, 0, 0, 0, 0, 0],      # 10: the cut-off itself
        [3, 3, 3, 3, 3, 3, 3, 3, 7],      # refused the last item: no total
        [0, 0, 9, 0, 0, 0, 0, 0, 0],      # don't know: no total
        [2, 2, 2, 2, 2, NAN, 2, 2, 2],    # not asked: no total
        [NAN] * 9))
    scored = read_nhanes_dpq(path)
    assert scored["phq9_total"].to_list() == [9, 10, None, None, None, None]
    assert scored["phq9_ge10"].to_list() == [False, True, None, None, None, None]
    assert scored["phq9_items_answered"].to_list() == [9, 9, 8, 8, 8, 0]


def test_phq9_xpt_near_zero_answers_are_zero(tmp_path):
    # Every 5 becomes the IBM near-zero (~5.4e-79): read as 0, so the response is complete and scores 4.
    path = write_xpt(tmp_path / "DPQ_J.xpt", dpq_columns([5, 1, 1, 1, 1, 5, 5, 5, 0]), near_zero_sentinel=5.0)
    assert pyreadstat.read_xport(str(path))[0]["DPQ010"][0] == pytest.approx(5.397605e-79, rel=1e-6)
    assert read_nhanes_dpq(path)["phq9_total"].to_list() == [4]


@pytest.mark.parametrize("bad", [4.0, 1.5, -1.0, 8.0])
def test_phq9_item_out_of_range_is_one_line(tmp_path, bad):
    path = write_xpt(tmp_path / "DPQ_J.xpt", dpq_columns([0, 0, 0, 0, bad, 0, 0, 0, 0], [1] * 9))
    with pytest.raises(GutaxisError, match=rf"DPQ_J\.xpt: column DPQ050 has 1 values outside 0-3, 7, 9 .*SEQN 1") as err:
        read_nhanes_dpq(path)
    assert "\n" not in str(err.value)


def test_phq9_duplicate_ids_are_refused(tmp_path):
    columns = dpq_columns([0] * 9, [1] * 9)
    columns["SEQN"] = [4.0, 4.0]
    with pytest.raises(GutaxisError, match="column SEQN has duplicate participant ids"):
        read_nhanes_dpq(write_xpt(tmp_path / "DPQ_J.xpt", columns))


def test_phq9_scoring_rules_without_a_file():
    items = pl.DataFrame(dpq_columns([3] * 9, [0] * 9), nan_to_null=True)
    assert score_phq9(items, "frame")["phq9_total"].to_list() == [27, 0]
    integers = items.with_columns(pl.all().cast(pl.Int64))
    assert score_phq9(integers, "frame")["phq9_ge10"].to_list() == [True, False]


# --- outcomes registry and oxytocin --------------------------------------------------------------

def test_outcome_registry_rows():
    registry = {r["outcome_id"]: r for r in outcome_registry().iter_rows(named=True)}
    assert set(registry) >= {"phq9_total", "phq9_ge10", "oxytocin"}
    assert (registry["phq9_total"]["low"], registry["phq9_total"]["high"]) == (0, 27)
    assert registry["phq9_ge10"]["kind"] == "binary" and registry["oxytocin"]["unit"] == "pg/mL"


def test_oxytocin_pmol_per_l_to_pg_per_ml():
    values = pl.DataFrame({"v": [100.0, 1.0, 0.0]})
    converted = values.select(oxytocin_pg_per_ml(pl.col("v"), "pmol/L", "ot.csv"))["v"].to_list()
    assert converted == pytest.approx([100.7, 1.007, 0.0])
    assert values.select(oxytocin_pg_per_ml(pl.col("v"), "pg/mL", "ot.csv"))["v"].to_list() == [100.0, 1.0, 0.0]
    assert OXYTOCIN_PG_PER_ML["ng/L"] == 1.0


def test_unknown_oxytocin_unit_is_one_line():
    with pytest.raises(GutaxisError, match=r"ot\.csv: oxytocin unit 'nmol/mL' is not known"):
        oxytocin_pg_per_ml(pl.col("v"), "nmol/mL", "ot.csv")


def oxytocin_rows(methods) -> pl.DataFrame:
    return pl.DataFrame([{"participant_id": str(i), "value": 10.0 + i, "sample_type": s, "assay": a,
                          "extraction": e} for i, (s, a, e) in enumerate(methods)])


def test_mixed_oxytocin_assays_are_refused_unless_stratified():
    mixed = oxytocin_rows([("plasma", "EIA/ELISA", "none"), ("plasma", "EIA/ELISA", "solid-phase"),
                           ("plasma", "RIA", "solid-phase")])
    with pytest.raises(GutaxisError, match=r"ot-mood: oxytocin values come from 3 methods .*Szeto et al") as err:
        refuse_pooled_oxytocin(mixed, "ot-mood", stratified_by_method=False)
    assert "\n" not in str(err.value)
    refuse_pooled_oxytocin(mixed, "ot-mood", stratified_by_method=True)
    refuse_pooled_oxytocin(oxytocin_rows([("saliva", "EIA/ELISA", "none")] * 3), "ot-mood", stratified_by_method=False)


def test_extraction_alone_makes_another_method():
    # Same kit, plasma, with and without extraction: 100-fold apart in Szeto et al. 2011.
    with pytest.raises(GutaxisError, match="2 methods"):
        refuse_pooled_oxytocin(oxytocin_rows([("plasma", "EIA/ELISA", "none"), ("plasma", "EIA/ELISA", "solid-phase")]),
                               "ot", stratified_by_method=False)


def test_proportion_with_no_case_is_zero_with_its_interval_and_flag():
    frame = domain_fixture().with_columns(pl.lit(0).alias("case"))
    overall = estimate(frame, SurveyDesign("weight"), "case", "proportion").row(0, named=True)
    assert (overall["estimate"], overall["ci_low"]) == (0.0, 0.0) and 0 < overall["ci_high"] < 1
    assert overall["reliability_flag"] == "suppress: effective sample size < 30"  # n = 18
    by_stratum = estimate(frame.with_columns((pl.col("stratum") == 1).cast(pl.Int8).alias("case")),
                          SurveyDesign("weight"), "case", "proportion", by=["stratum"])
    assert by_stratum["domain_value"].to_list() == ["1", "2", "3"]
    assert by_stratum["estimate"].to_list() == [1.0, 0.0, 0.0]


def test_estimate_means_equals_one_estimate_per_variable():
    """The population ratio method asks for many means per domain in one svy call (estimate_means): each
    row is exactly the one estimate() gives for that variable alone, a variable's own NULLs included."""
    import numpy as np

    from gutaxis.analysis.estimates import estimate_means

    rng = np.random.default_rng(3)
    n = 400
    frame = pl.DataFrame({
        "participant_id": [str(i) for i in range(n)], "stratum": [i % 5 for i in range(n)],
        "psu": [(i // 10) % 2 for i in range(n)], "wt": rng.uniform(100, 900, n),
        "a": rng.normal(3, 1, n), "b": [None if i % 7 == 0 else float(v) for i, v in enumerate(rng.normal(0, 2, n))],
        "c": rng.integers(0, 10, n), "sex": ["female", "male"] * (n // 2)})
    design = SurveyDesign("wt")
    domain = pl.col("sex") == "female"
    many = estimate_means(frame, design, ["a", "b", "c"], domain=domain)
    assert many["variable"].to_list() == ["a", "b", "c"]
    for row in many.iter_rows(named=True):
        one = estimate(frame, design, row["variable"], "mean", domain=domain).row(0, named=True)
        assert row == one and row["se"] > 0 and row["ci_low"] < row["estimate"] < row["ci_high"]
    with pytest.raises(GutaxisError, match="column zz is not in the analysis frame"):
        estimate_means(frame, design, ["a", "zz"])
