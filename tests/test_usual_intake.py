"""Usual intake by the NCI method, one-part model: the mixed model against statsmodels, recovery of
known usual-intake distributions, per-person calibration, replicate SEs, and "not estimable" data."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from numpy.polynomial.hermite_e import hermegauss
from scipy.stats import norm

from gutaxis import GutaxisError
from gutaxis.analysis.usual_intake import MIN_DOMAIN_PERSONS, MIN_PERSONS_WITH_REPEAT, estimate_usual_intake
from gutaxis.analysis.usual_intake.boxcox import (boxcox, choose_lambda, inverse_boxcox, linear_model_loglik,
                                                  minimum_amount_shift)
from gutaxis.analysis.usual_intake.distrib import (NuisanceReference, PseudoPersons, UsualIntakeCurve,
                                                   distribution_statistics, pseudo_person_intakes,
                                                   pseudo_person_transformed, weighted_quantiles)
from gutaxis.analysis.usual_intake.indivint import missing_calibration_covariates
from gutaxis.analysis.usual_intake.one_part import RandomInterceptData, fit_random_intercept
from gutaxis.analysis.usual_intake.replicates import bootstrap, fay_brr, sylvester_hadamard

SIM_PERCENTILES = (5, 10, 25, 50, 75, 90, 95)


def true_usual(transformed_usual: np.ndarray, lam: float, var_within: float) -> np.ndarray:
    """E[g⁻¹(t + e)], e ~ N(0, var_within), by a 60-node quadrature (independent of the engine's 9 nodes)."""
    nodes, weights = hermegauss(60)
    weights = weights / weights.sum()
    t = np.asarray(transformed_usual, dtype=float)[..., None]
    return (inverse_boxcox(t + np.sqrt(var_within) * nodes, lam) * weights).sum(axis=-1)


def simulate(n_persons: int, repeat_share: float, *, lam: float, mu: float, var_between: float,
             var_within: float, seed: int, sex_effect: float = 0.0, weekend_effect: float = 0.0):
    """Recall days from a known one-part model; returns (days, transformed usual per person)."""
    rng = np.random.default_rng(seed)
    sex = rng.integers(0, 2, n_persons)
    usual_t = mu + sex_effect * sex + rng.normal(0.0, np.sqrt(var_between), n_persons)
    recalls = np.where(rng.random(n_persons) < repeat_share, 2, 1)
    person = np.repeat(np.arange(n_persons), recalls)
    day = np.concatenate([np.arange(1, m + 1) for m in recalls])
    weekend = (rng.random(person.size) < 3 / 7).astype(int)
    y = usual_t[person] + weekend_effect * weekend + rng.normal(0.0, np.sqrt(var_within), person.size)
    days = pl.DataFrame({"participant_id": person + 1000, "recall_day": day, "amount": inverse_boxcox(y, lam),
                         "sex": np.where(sex[person] == 1, "male", "female"), "weekend": weekend})
    return days, usual_t


# ---- the mixed model ---------------------------------------------------------------------------

def test_random_intercept_reml_matches_statsmodels_mixedlm():
    smf = pytest.importorskip("statsmodels.formula.api")
    rng = np.random.default_rng(3)
    n = 800
    recalls = np.where(rng.random(n) < 0.4, 2, 1)
    person = np.repeat(np.arange(n), recalls)
    age = rng.uniform(19, 70, n)[person]
    y = 3.0 + 0.02 * age + rng.normal(0, 0.8, n)[person] + rng.normal(0, 1.3, person.size)
    data = RandomInterceptData.build(person, np.column_stack([np.ones(person.size), age]))
    ours = fit_random_intercept(data, y, reml=True)
    frame = pl.DataFrame({"y": y, "age": age, "person": person}).to_pandas()
    reference = smf.mixedlm("y ~ age", frame, groups=frame["person"]).fit(reml=True)
    assert ours.converged
    assert ours.var_between == pytest.approx(float(reference.cov_re.iloc[0, 0]), rel=1e-4)
    assert ours.var_within == pytest.approx(float(reference.scale), rel=1e-4)
    assert ours.beta == pytest.approx(np.asarray(reference.fe_params), rel=1e-4)


def test_weighted_fit_with_integer_weights_equals_fit_of_duplicated_persons():
    rng = np.random.default_rng(4)
    n = 400
    recalls = np.where(rng.random(n) < 0.5, 2, 1)
    person = np.repeat(np.arange(n), recalls)
    y = 1.0 + rng.normal(0, 1, n)[person] + rng.normal(0, 1, person.size)
    copies = rng.integers(1, 4, n)
    weighted = fit_random_intercept(RandomInterceptData.build(person, np.ones((person.size, 1)), copies), y, reml=False)
    duplicated_person = np.concatenate([np.repeat(np.flatnonzero(person == i)[None, :], copies[i], axis=0).ravel()
                                        for i in range(n)])
    new_ids = np.concatenate([np.repeat(np.arange(copies[i]), recalls[i]) + 10 * i for i in range(n)])
    _, codes = np.unique(new_ids, return_inverse=True)
    plain = fit_random_intercept(RandomInterceptData.build(codes, np.ones((codes.size, 1))), y[duplicated_person], reml=False)
    assert weighted.var_between == pytest.approx(plain.var_between, rel=1e-6)
    assert weighted.var_within == pytest.approx(plain.var_within, rel=1e-6)


# ---- Box-Cox ------------------------------------------------------------------------------------

def test_boxcox_round_trip_and_log_limit():
    x = np.array([0.5, 1.0, 7.0, 1234.5])
    for lam in (0.0, 0.01, 0.33, 1.0):
        assert inverse_boxcox(boxcox(x, lam), lam) == pytest.approx(x, rel=1e-10)
    assert boxcox(x, 1e-9) == pytest.approx(np.log(x), rel=1e-6)
    assert inverse_boxcox(np.array([-5.0]), 0.5)[0] == 0.0   # 1 + λz ≤ 0: the transform's lower limit


def test_minimum_amount_shift_is_half_the_smallest_positive_amount_when_zeros_occur():
    assert minimum_amount_shift(np.array([0.0, 4.0, 2.0, 9.0])) == 1.0
    assert minimum_amount_shift(np.array([3.0, 4.0])) == 0.0
    assert inverse_boxcox(boxcox(np.array([0.0, 3.0]) + 1.0, 0.4), 0.4, shift=1.0) == pytest.approx([0.0, 3.0])


@pytest.mark.parametrize("true_lambda", [0.0, 0.25, 0.5, 0.9])
def test_choose_lambda_recovers_the_transformation_of_normal_data(true_lambda):
    rng = np.random.default_rng(11)
    group = rng.integers(0, 2, 5000)
    y = 2.0 + 0.5 * group + rng.normal(0, 0.6, group.size)
    x = inverse_boxcox(y, true_lambda)
    design = np.column_stack([np.ones(group.size), group])
    estimated = choose_lambda(x, linear_model_loglik(design))
    assert estimated == pytest.approx(max(true_lambda, 0.01), abs=0.06)


# ---- distribution -------------------------------------------------------------------------------

def test_percentiles_from_the_curve_and_histogram_equal_those_of_directly_back_transformed_pseudo_persons():
    rng = np.random.default_rng(5)
    predictor = rng.normal(40, 2, 300)
    normals = rng.standard_normal((300, 100))
    weights = rng.uniform(0.5, 3, 300)
    members = rng.random(300) < 0.6
    reference = NuisanceReference.weekend_mix(1.5)
    direct = pseudo_person_intakes(predictor, normals, lam=0.35, shift=2.0, var_within=20.0, var_between=9.0,
                                   nuisance=reference)
    expected_quantiles, expected_mean = distribution_statistics(direct, weights, members)
    transformed = pseudo_person_transformed(predictor, normals, 9.0)
    curve = UsualIntakeCurve.tabulate(transformed.min(), transformed.max(), lam=0.35, shift=2.0,
                                      var_within=20.0, nuisance=reference)
    quantiles, mean = PseudoPersons(transformed, weights, curve).statistics(members)
    # the histogram's interpolation differs from the sorted pseudo-persons' quantile by far less than
    # the Monte-Carlo error (here ~1 % at P5)
    assert quantiles == pytest.approx(expected_quantiles, rel=1e-3)
    assert mean == pytest.approx(expected_mean, rel=1e-6)


def test_weighted_quantiles_equal_unweighted_quantiles_of_repeated_values():
    values = np.array([5.0, 1.0, 3.0, 9.0])
    weights = np.array([1.0, 2.0, 1.0, 4.0])
    repeated = np.repeat(values, weights.astype(int))
    for p in (0.1, 0.3, 0.6, 0.8):
        assert weighted_quantiles(values, weights, [p])[0] == np.sort(repeated)[int(np.ceil(p * repeated.size)) - 1]
    assert weighted_quantiles(values, weights, [0.5])[0] == 7.0   # the share lands on 0.5 exactly: (5 + 9) / 2


def run(days, **options):
    settings = dict(component="x", covariates=[], nuisance=[], weight=None, design=None, domains=[],
                    nsim=100, replicates=0, seed=1)
    settings.update(options)
    return estimate_usual_intake(days, **settings)


SETTINGS_FAST = [  # (persons, share with a repeat, λ, mean on the transformed scale, σ²_b, σ²_w)
    (300, 1.0, 0.0, 7.5, 0.10, 0.05),      # log scale, σ²_w/σ²_b = 0.5
    (2000, 0.25, 0.5, 60.0, 36.0, 72.0),   # square root, ratio 2
]
SETTINGS_FULL = SETTINGS_FAST + [
    (5000, 0.10, 0.25, 20.0, 4.0, 40.0),   # ratio 10, 10 % with a repeat
    (1000, 0.5, 0.33, 25.0, 6.0, 12.0),
    (3000, 1.0, 0.75, 250.0, 400.0, 400.0),
    (5000, 0.10, 0.0, 7.0, 0.20, 0.10),    # log scale, 10 % with a repeat, ratio 0.5
]


def check_recovery(setting, replicates: int) -> None:
    persons, share, lam, mu, var_between, var_within = setting
    truth = true_usual(mu + np.sqrt(var_between) * norm.ppf(np.array(SIM_PERCENTILES) / 100), lam, var_within)
    estimates = []
    for seed in range(replicates):
        days, _ = simulate(persons, share, lam=lam, mu=mu, var_between=var_between, var_within=var_within, seed=seed)
        result = run(days, seed=seed, percentiles=SIM_PERCENTILES)
        assert result.status == "estimated", result.status
        estimates.append(result.distribution.sort("percentile")["value"].to_numpy())
    relative_error = np.mean(estimates, axis=0) / truth - 1
    assert np.abs(relative_error).max() < 0.03, dict(zip(SIM_PERCENTILES, relative_error.round(4)))


@pytest.mark.parametrize("setting", SETTINGS_FAST)
def test_estimated_percentiles_recover_the_known_usual_intake_distribution(setting):
    check_recovery(setting, replicates=20)


@pytest.mark.slow
@pytest.mark.parametrize("setting", SETTINGS_FULL[len(SETTINGS_FAST):])
def test_estimated_percentiles_recover_the_known_distribution_across_the_grid(setting):
    check_recovery(setting, replicates=20)


def test_one_day_distribution_is_wider_than_the_usual_intake_distribution():
    days, _ = simulate(3000, 0.5, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=2)
    result = run(days)
    usual = dict(zip(*result.distribution.select("percentile", "value").to_numpy().T))
    one_day = dict(zip(*result.one_day.select("percentile", "value").to_numpy().T))
    assert one_day[95] - one_day[5] > 1.4 * (usual[95] - usual[5])
    assert result.distribution["mean"][0] == pytest.approx(result.one_day["mean"][0], rel=0.03)


def test_per_person_predictions_are_calibrated_where_recall_means_are_attenuated():
    var_between, var_within, lam, mu = 30.0, 60.0, 0.4, 40.0
    days, usual_t = simulate(6000, 1.0, lam=lam, mu=mu, var_between=var_between, var_within=var_within,
                             seed=7, sex_effect=4.0)
    result = run(days, covariates=["sex"])
    true = true_usual(usual_t, lam, var_within)
    predicted = result.per_person.sort("participant_id")["usual_intake"].to_numpy()
    slope_calibrated = np.polyfit(predicted, true, 1)[0]
    assert slope_calibrated == pytest.approx(1.0, abs=0.05)
    # the mean of two recalls on the transformed scale is attenuated by σ²_b / (σ²_b + σ²_w / 2)
    recall_mean = days.with_columns(t=pl.col("amount").map_batches(lambda s: pl.Series(boxcox(s.to_numpy(), lam)))) \
        .group_by("participant_id").agg(pl.col("t").mean()).sort("participant_id")["t"].to_numpy()
    attenuation = var_between / (var_between + var_within / 2)
    assert np.polyfit(recall_mean, usual_t, 1)[0] == pytest.approx(attenuation, abs=0.05)


def test_calibration_needs_every_outcome_covariate_in_the_usual_intake_model():
    assert missing_calibration_covariates(["age_years", "sex", "bmi"], ["sex", "age_years"]) == ["bmi"]
    assert missing_calibration_covariates(["sex"], ["age_years", "sex"]) == []


def test_prediction_ignoring_an_outcome_covariate_is_not_calibrated_for_a_model_adjusting_for_it():
    # usual intake depends on sex; predicted without sex in the model, the slope of true usual on the
    # prediction within sex (what an outcome model adjusting for sex sees) is no longer 1
    var_between, var_within, lam, mu = 30.0, 60.0, 0.4, 40.0
    days, usual_t = simulate(6000, 1.0, lam=lam, mu=mu, var_between=var_between, var_within=var_within,
                             seed=7, sex_effect=12.0)
    true = true_usual(usual_t, lam, var_within)
    male = days.unique("participant_id", keep="first").sort("participant_id")["sex"].to_numpy() == "male"

    def within_sex_slope(result):
        predicted = result.per_person.sort("participant_id")["usual_intake"].to_numpy()
        design = np.column_stack([np.ones(predicted.size), predicted, male])
        return np.linalg.lstsq(design, true, rcond=None)[0][1]

    assert within_sex_slope(run(days, covariates=["sex"])) == pytest.approx(1.0, abs=0.06)
    assert within_sex_slope(run(days)) < 0.85


def test_weekend_effect_is_mixed_in_at_its_share_of_days():
    days, _ = simulate(3000, 1.0, lam=0.5, mu=60.0, var_between=30.0, var_within=30.0, seed=8, weekend_effect=6.0)
    with_weekend = run(days, nuisance=["weekend"])
    assert with_weekend.fit.coefficient("weekend") == pytest.approx(6.0, abs=0.6)
    weekday_only = run(days, nuisance=["weekend"], weekend_share=0.0)
    assert with_weekend.distribution["mean"][0] > weekday_only.distribution["mean"][0]


# ---- standard errors ----------------------------------------------------------------------------

def test_sylvester_hadamard_rows_are_orthogonal():
    h = sylvester_hadamard(16).astype(int)
    assert (h @ h.T == 16 * np.eye(16)).all()


def test_fay_brr_variance_of_a_total_equals_the_two_psu_per_stratum_formula():
    rng = np.random.default_rng(9)
    strata = np.repeat(np.arange(15), 40)
    psu = np.tile(np.repeat([1, 2], 20), 15)
    y = rng.gamma(2.0, 3.0, strata.size) + strata
    weights = rng.uniform(500, 1500, strata.size)
    replicate = fay_brr(strata, psu)
    assert replicate.count == 16
    assert set(np.unique(replicate.multipliers)) == {0.3, 1.7}
    totals = (y * weights) @ replicate.multipliers
    se = replicate.standard_error(np.dot(y, weights), totals)
    psu_totals = np.array([[np.dot(y * weights, (strata == h) & (psu == k)) for k in (1, 2)] for h in range(15)])
    expected = np.sqrt(((psu_totals[:, 0] - psu_totals[:, 1]) ** 2).sum())
    assert se == pytest.approx(expected, rel=1e-10)


def test_fay_brr_leaves_single_psu_strata_unperturbed_and_splits_larger_ones():
    strata = np.array([1, 1, 2, 2, 2, 3, 3])
    psu = np.array([1, 2, 1, 2, 3, 1, 1])
    replicate = fay_brr(strata, psu, replicates=4)
    assert replicate.unsplit_persons == 2
    assert (replicate.multipliers[5:] == 1.0).all()
    assert (replicate.multipliers[2] == replicate.multipliers[4]).all()   # PSUs 1 and 3: one half
    assert (replicate.multipliers[2] + replicate.multipliers[3] == 2.0).all()


def test_fay_brr_refuses_too_few_replicates():
    with pytest.raises(ValueError, match="power of 2 above 15"):
        fay_brr(np.repeat(np.arange(15), 2), np.tile([1, 2], 15), replicates=8)


def test_bootstrap_multipliers_resample_every_person_count():
    replicate = bootstrap(50, 20, np.random.default_rng(0))
    assert replicate.multipliers.shape == (50, 20)
    assert (replicate.multipliers.sum(axis=0) == 50).all()


def with_design(days: pl.DataFrame) -> pl.DataFrame:
    """15 strata of 2 PSUs, persons spread over them, weight 1."""
    persons = days["participant_id"].unique().sort()
    design = pl.DataFrame({"participant_id": persons, "stratum": persons % 15, "psu": (persons // 15) % 2 + 1,
                           "w": np.ones(persons.len())})
    return days.join(design, on="participant_id")


def test_a_design_gives_fay_brr_standard_errors_for_every_estimate():
    days, _ = simulate(600, 0.5, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=12)
    result = run(with_design(days), weight="w", design=("stratum", "psu"), replicates=16, domains=["sex"])
    assert result.replicate_method == "fay-brr"
    assert (result.distribution["se"] > 0).all() and (result.domains["mean_se"] > 0).all()


@pytest.mark.slow
def test_standard_errors_by_brr_and_bootstrap_are_of_the_size_of_the_sampling_spread():
    days, _ = simulate(1000, 0.5, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=12)
    days = with_design(days)
    brr = run(days, weight="w", design=("stratum", "psu"), replicates=16)
    boot = run(days, replicates=30)
    spread = []
    for seed in range(20, 40):
        other, _ = simulate(1000, 0.5, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=seed)
        spread.append(run(other).distribution.filter(pl.col("percentile") == 50)["value"][0])
    sd = np.std(spread, ddof=1)
    for result in (brr, boot):
        se = result.distribution.filter(pl.col("percentile") == 50)["se"][0]
        assert 0.5 * sd < se < 2.0 * sd
    assert brr.replicate_method == "fay-brr" and boot.replicate_method == "bootstrap"
    assert brr.domains["mean_se"][0] > 0


# ---- domains and not estimable ------------------------------------------------------------------

def test_domains_subset_the_pseudo_persons_without_refitting():
    days, _ = simulate(2000, 0.5, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=13, sex_effect=8.0)
    result = run(days, covariates=["sex"], domains=["sex"])
    means = {row["domain_value"]: row["mean"] for row in result.domains.iter_rows(named=True)}
    assert means["male"] > means["all"] > means["female"]
    assert result.domains["n_persons"].to_list() == [2000, *days.group_by("sex").agg(pl.col("participant_id").n_unique())
                                                     .sort("sex")["participant_id"].to_list()]
    assert result.distribution.group_by("domain_value").len().height == 3
    for _, group in result.distribution.group_by("domain_value"):
        assert group.sort("percentile")["value"].is_sorted()


def test_single_recall_per_person_is_not_estimable():
    days, _ = simulate(500, 0.0, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=1)
    result = run(days)
    assert result.status == (f"not estimable: only 0 of 500 persons have 2 or more recalls; at least "
                             f"{MIN_PERSONS_WITH_REPEAT} are needed to separate within- from between-person variance")
    assert result.distribution.is_empty() and result.per_person.is_empty()
    assert not result.one_day.is_empty()


def test_all_zero_days_are_not_estimable():
    days, _ = simulate(300, 1.0, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=1)
    result = run(days.with_columns(amount=pl.lit(0.0)))
    assert result.status == f"not estimable: all {days.height} recall days are 0"


def test_a_three_person_domain_is_not_estimable_and_the_others_are():
    days, _ = simulate(600, 0.5, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=1)
    days = days.with_columns(region=pl.when(pl.col("participant_id") < 1003).then(pl.lit("islands")).otherwise(pl.lit("mainland")))
    result = run(days, domains=["region"])
    assert result.status == "estimated"
    status = dict(zip(result.domains["domain_value"], result.domains["status"]))
    assert status["islands"] == (f"not estimable: region = islands has 3 persons (at least {MIN_DOMAIN_PERSONS} needed)")
    assert status["mainland"] == "estimated"
    assert "islands" not in result.distribution["domain_value"].to_list()


def test_no_between_person_variance_is_not_estimable():
    # each person's second day mirrors the first around the mean: recalls of a person are
    # negatively correlated, so the likelihood is highest at σ²_b = 0
    rng = np.random.default_rng(1)
    first = rng.normal(60.0, 8.0, 300)
    days = pl.DataFrame({"participant_id": np.repeat(np.arange(300), 2), "recall_day": np.tile([1, 2], 300),
                         "amount": inverse_boxcox(np.column_stack([first, 120.0 - first]).ravel(), 0.5)})
    result = run(days)
    assert result.status == ("not estimable: between-person variance ≤ 0: the likelihood is highest at σ²_b = 0 "
                             "(a person's recalls differ as much as different persons' do)")


def test_a_missing_column_is_a_one_line_error_naming_it():
    days, _ = simulate(100, 1.0, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=1)
    with pytest.raises(GutaxisError, match="lack column\\(s\\) age_years; they have participant_id"):
        run(days, covariates=["age_years"])


def test_fewer_than_100_pseudo_persons_per_person_are_refused():
    days, _ = simulate(100, 1.0, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=1)
    with pytest.raises(GutaxisError, match="nsim must be at least 100 pseudo-persons per person, not 10"):
        run(days, nsim=10)


def test_persons_missing_a_covariate_are_left_out_and_counted():
    days, _ = simulate(400, 1.0, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=1)
    days = days.with_columns(sex=pl.when(pl.col("participant_id") < 1005).then(None).otherwise(pl.col("sex")))
    result = run(days, covariates=["sex"])
    assert result.status == "estimated"
    assert result.fit.n_persons == 395
    assert result.notes == ["5 persons left out: 5 with a missing sex"]


def test_a_person_without_a_domain_value_stays_in_the_model_and_the_other_domains():
    days, _ = simulate(400, 1.0, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=1)
    days = days.with_columns(region=pl.when(pl.col("participant_id") < 1010).then(None).otherwise(pl.lit("north")))
    result = run(days, domains=["region"])
    assert result.fit.n_persons == 400 and result.notes == []
    assert result.domains.select("domain_value", "n_persons").rows() == [("all", 400), ("north", 390)]


def test_a_recall_day_given_twice_is_a_one_line_error():
    days, _ = simulate(100, 1.0, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=1)
    with pytest.raises(GutaxisError, match="participant 1000 has recall day 1 more than once \\(2 rows like it\\)"):
        run(pl.concat([days, days.head(1)]))


# ---- real data: CCHS 2015 Nutrition, ages 19-30, energy --------------------------------------

CCHS = "usual-intake/cchs-2015-19to30/hsnci_19to30y.xlsx"


def cchs_energy_days(realdata) -> pl.DataFrame:
    frame = pl.read_excel(realdata / CCHS)
    return frame.select(
        participant_id=pl.col("ADM_RNO"), recall_day=pl.col("recallid"), amount=pl.col("energy"),
        age_years=pl.col("AGE"), sex=pl.when(pl.col("SEX") == 1).then(pl.lit("male")).otherwise(pl.lit("female")),
        weekend=pl.col("weekend"), weight=pl.col("WTS_P"))


@pytest.mark.realdata
def test_cchs_energy_variance_components_agree_with_statsmodels_mixedlm(realdata):
    smf = pytest.importorskip("statsmodels.formula.api")
    days = cchs_energy_days(realdata)
    result = estimate_usual_intake(days, component="energy_kcal", covariates=["age_years", "sex"],
                                   nuisance=["recall_sequence", "weekend"], weight=None, design=None,
                                   domains=["sex"], nsim=100, replicates=0, seed=1)
    assert result.status == "estimated"
    fit = result.fit
    assert (fit.n_persons, fit.n_with_repeat) == (1901, 440)
    assert fit.shift > 0   # one recall day has 0 kcal: half the smallest positive amount is added
    frame = days.sort("participant_id", "recall_day").with_columns(
        y=pl.col("amount").map_batches(lambda s: pl.Series(boxcox(s.to_numpy() + fit.shift, fit.lam))),
        recall_sequence=(pl.col("recall_day") >= 2).cast(pl.Float64)).to_pandas()
    reference = smf.mixedlm("y ~ age_years + sex + recall_sequence + weekend", frame,
                            groups=frame["participant_id"]).fit(reml=True)
    assert fit.var_between == pytest.approx(float(reference.cov_re.iloc[0, 0]), rel=0.01)
    assert fit.var_within == pytest.approx(float(reference.scale), rel=0.01)


@pytest.mark.realdata
def test_cchs_energy_usual_intake_is_narrower_than_one_day_and_centred_like_it(realdata):
    days = cchs_energy_days(realdata)
    result = estimate_usual_intake(days, component="energy_kcal", covariates=["age_years", "sex"],
                                   nuisance=["recall_sequence", "weekend"], weight="weight", design=None,
                                   domains=["sex"], nsim=100, replicates=20, seed=1)
    assert result.status == "estimated", result.status
    usual = result.distribution.filter(domain="all").sort("percentile")
    one_day = result.one_day.filter(domain="all").sort("percentile")
    assert usual["value"].is_sorted()
    spread = lambda frame: frame.filter(pl.col("percentile") == 95)["value"][0] - frame.filter(pl.col("percentile") == 5)["value"][0]
    assert spread(usual) < 0.8 * spread(one_day)
    assert usual["mean"][0] == pytest.approx(one_day["mean"][0], rel=0.05)
    assert (usual["se"] > 0).all()
    men, women = (result.domains.filter(domain_value=v)["mean"][0] for v in ("male", "female"))
    assert men > women


def test_share_below_a_cutpoint_matches_the_percentile_at_that_cutpoint():
    days, _ = simulate(1000, 0.5, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=14)
    first = run(days)
    p25 = first.distribution.filter(pl.col("percentile") == 25)["value"][0]
    p90 = first.distribution.filter(pl.col("percentile") == 90)["value"][0]
    result = run(days, cutpoints=[p25, p90], replicates=8)
    shares = result.shares.filter(domain="all").sort("cutpoint")
    assert shares["share_below"].to_list() == pytest.approx([0.25, 0.90], abs=1e-3)
    assert (shares["se"] > 0).all()


@pytest.mark.parametrize("method", ["bootstrap", "fay-brr"])
def test_a_replicate_that_cannot_be_fitted_costs_brr_its_ses_and_a_bootstrap_one_resample(monkeypatch, method):
    import dataclasses

    import gutaxis.analysis.usual_intake as usual_intake

    fits = []
    real_fit = usual_intake.fit_one_part

    def third_fit_without_between_variance(*args, **kwargs):
        fit = real_fit(*args, **kwargs)
        fits.append(fit)
        return dataclasses.replace(fit, var_between=0.0) if len(fits) == 3 else fit

    monkeypatch.setattr(usual_intake, "fit_one_part", third_fit_without_between_variance)
    days, _ = simulate(600, 0.5, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=3)
    if method == "fay-brr":
        result = run(with_design(days), weight="w", design=("stratum", "psu"), replicates=16)
        assert result.distribution["se"].is_null().all()
        assert result.notes == ["1 of 16 fay-brr replicates could not be fitted (between-person variance 0 or "
                                "no convergence): no SEs"]
    else:
        result = run(days, replicates=10)
        assert (result.distribution["se"] > 0).all()
        assert result.notes == ["1 of 10 bootstrap replicates could not be fitted (between-person variance 0 or "
                                "no convergence): SEs from the others"]
    assert result.status == "estimated"


def test_a_constant_covariate_is_not_estimable_by_name():
    days, _ = simulate(300, 1.0, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=1)
    result = run(days.with_columns(cycle=pl.lit(1)), covariates=["cycle"])
    assert result.status == "not estimable: the model's covariates are collinear: cycle constant"


def test_a_weekend_column_that_is_not_0_1_is_refused():
    days, _ = simulate(100, 1.0, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=1)
    with pytest.raises(GutaxisError, match="the weekend column must be 0/1 or true/false, not String"):
        run(days.with_columns(weekend=pl.lit("no")), nuisance=["weekend"])


def test_describe_gives_the_model_in_one_line():
    days, _ = simulate(300, 1.0, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=1)
    line = run(days).describe()
    assert line.startswith("one-part: λ 0.") and line.endswith("300 persons, 300 with a repeat recall")
    single, _ = simulate(300, 0.0, lam=0.5, mu=60.0, var_between=36.0, var_within=72.0, seed=1)
    assert run(single).describe().startswith("not estimable: only 0 of 300 persons")
