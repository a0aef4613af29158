"""The NCI two-part model: its likelihood against brute-force integration, recovery of a known usual-intake
distribution from simulated episodic populations, the per-person prediction, the model choice, bad input,
and the CCHS 2015 milk and egg fits."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import optimize
from scipy.special import expit
from scipy.stats import norm

from gutaxis import GutaxisError
from gutaxis.analysis.usual_intake import estimate_usual_intake, two_part
from gutaxis.analysis.usual_intake.boxcox import boxcox, inverse_boxcox
from gutaxis.analysis.usual_intake.model_choice import TWO_PART_ZERO_SHARE, choose_model

PERCENTILES = np.array([5, 10, 25, 50, 75, 90, 95])


# A simulated episodic population: person effects u1 (logit of eating), u2 (amount, Box-Cox scale)
# correlated rho; day amount = g^-1(beta2 + u2 + e) on eating days.
SETTINGS = {
    # name: (beta1, beta2, sigma1, sigma2, rho, sigma_within, lambda); P(eat) at u1 = 0 in brackets
    "log-often": (0.5, 5.0, 1.0, 0.7, 0.4, 0.8, 0.0),          # 62 %, within/between variance 1.3
    "quarter-half": (-0.5, 8.0, 1.2, 1.5, 0.5, 2.0, 0.25),     # 38 %, ratio 1.8
    "rare-log": (-2.0, 3.0, 1.0, 0.5, 0.3, 0.7, 0.0),          # 12 %, ratio 2.0
    "half-noisy": (0.0, 6.0, 0.8, 0.5, 0.2, 1.6, 0.5),         # 50 %, ratio 10
    "sqrt-steady": (1.0, 12.0, 0.7, 3.0, 0.6, 2.1, 0.5),       # 73 %, ratio 0.5
}


def simulate_days(rng, n_persons, repeat_share, setting):
    beta1, beta2, s1, s2, rho, se, lam = SETTINGS[setting]
    v, w = rng.standard_normal(n_persons), rng.standard_normal(n_persons)
    u1, u2 = s1 * v, s2 * (rho * v + np.sqrt(1 - rho**2) * w)
    recalls = np.where(rng.random(n_persons) < repeat_share, 2, 1)
    person = np.repeat(np.arange(n_persons), recalls)
    eaten = rng.random(person.size) < expit(beta1 + u1[person])
    transformed = beta2 + u2[person] + se * rng.standard_normal(person.size)
    amount = np.where(eaten, inverse_boxcox(transformed, lam), 0.0)
    true_usual = expit(beta1 + u1) * _true_amount(beta2 + u2, se, lam)
    return pl.DataFrame({"person": person, "amount": amount}), true_usual


def _true_amount(linear, sigma_within, lam):
    """E[g^-1(linear + e)] with an 80-node rule (the model under test uses 9)."""
    x, w = np.polynomial.hermite.hermgauss(80)
    return inverse_boxcox(linear[:, None] + np.sqrt(2) * sigma_within * x, lam) @ (w / np.sqrt(np.pi))


def true_percentiles(setting, draws=1_000_000):
    beta1, beta2, s1, s2, rho, se, lam = SETTINGS[setting]
    rng = np.random.default_rng(20261207)
    v, w = rng.standard_normal(draws), rng.standard_normal(draws)
    usual = expit(beta1 + s1 * v) * _true_amount(beta2 + s2 * (rho * v + np.sqrt(1 - rho**2) * w), se, lam)
    return np.percentile(usual, PERCENTILES)


def estimated_percentiles(frame, rng, nsim=100):
    days = two_part.episodic_days(frame, person="person", amount="amount")
    fit = two_part.fit_two_part(days)
    assert fit.converged, fit.message
    usual = two_part.simulate_usual_intake(fit, np.ones((days.n_persons, 1)), nsim=nsim, rng=rng)
    return np.percentile(usual.ravel(), PERCENTILES), fit


def mean_relative_error(setting, n_persons, repeat_share, replicates=20):
    """Relative error of the replicate mean of each percentile. A true percentile near 0 makes a
    relative error meaningless: where the truth is below 2 % of the true median, the error is taken
    against 2 % of the median instead (an absolute comparison). The correlated two-part model has no
    never-eaters, so no true percentile is exactly 0 in these settings."""
    truth = true_percentiles(setting)
    estimates = []
    for replicate in range(replicates):
        rng = np.random.default_rng(1000 * n_persons + replicate)
        frame, _ = simulate_days(rng, n_persons, repeat_share, setting)
        estimates.append(estimated_percentiles(frame, rng)[0])
    scale = np.maximum(truth, 0.02 * truth[PERCENTILES.tolist().index(50)])
    return (np.mean(estimates, axis=0) - truth) / scale


def test_likelihood_equals_brute_force_integration_over_both_person_effects():
    rng = np.random.default_rng(3)
    frame, _ = simulate_days(rng, 12, 0.6, "log-often")
    days = two_part.episodic_days(frame, person="person", amount="amount")
    z = np.where(days.eaten, np.log(np.where(days.eaten, days.amount, 1.0)) - 5.0, 0.0)
    likelihood = two_part._Likelihood(days, z)
    beta1, beta2, s1, a, b, se = 0.3, 0.1, 1.3, 0.4, 0.5, 0.9
    theta = np.array([beta1, beta2, np.log(s1), a, np.log(b), np.log(se)])
    per_person = likelihood.posterior(theta)[2]

    # a plain product Gauss-Hermite rule over (v, w) on their prior scale, 120 nodes each: no closed
    # form for w, no adaptive centring, nothing shared with the code under test
    x, weight = np.polynomial.hermite.hermgauss(120)
    v, w = np.meshgrid(np.sqrt(2) * x, np.sqrt(2) * x, indexing="ij")
    grid_weight = np.outer(weight, weight) / np.pi

    def person_likelihood(i):
        rows = days.person == i
        prob = expit(beta1 + s1 * v)
        value = np.ones_like(v)
        for eaten, amount in zip(days.eaten[rows], z[rows]):
            value *= prob * norm.pdf(amount, beta2 + a * v + b * w, se) if eaten else 1 - prob
        return np.sum(grid_weight * value)

    brute = np.log([person_likelihood(i) for i in range(days.n_persons)])
    np.testing.assert_allclose(per_person, brute, rtol=1e-7, atol=1e-9)


def test_score_is_the_gradient_of_the_likelihood():
    rng = np.random.default_rng(4)
    frame, _ = simulate_days(rng, 400, 0.5, "quarter-half")
    frame = frame.with_columns(age=pl.Series(rng.normal(size=frame.height)))
    days = two_part.episodic_days(frame, person="person", amount="amount", covariates=["age"])
    z = np.where(days.eaten, boxcox(np.where(days.eaten, days.amount, 1.0), 0.25) - 8.0, 0.0) / 3
    likelihood = two_part._Likelihood(days, z)
    theta = np.array([-0.4, 0.05, 0.1, -0.02, np.log(1.1), 0.2, np.log(0.4), np.log(0.7)])
    value, gradient = likelihood.value_and_gradient(theta)
    numeric = optimize.approx_fprime(theta, lambda t: likelihood.value_and_gradient(t)[0], 1e-7)
    np.testing.assert_allclose(gradient, numeric, rtol=2e-4, atol=2e-7)


def test_fit_recovers_the_parameters_of_a_large_population():
    rng = np.random.default_rng(5)
    frame, _ = simulate_days(rng, 6000, 0.6, "log-often")
    days = two_part.episodic_days(frame, person="person", amount="amount")
    fit = two_part.fit_two_part(days, lam=0.0)
    beta1, beta2, s1, s2, rho, se, _ = SETTINGS["log-often"]
    assert fit.converged and fit.gradient_norm < 1e-4
    assert fit.beta_probability[0] == pytest.approx(beta1, abs=0.08)
    assert fit.centre + fit.scale * fit.beta_amount[0] == pytest.approx(beta2, abs=0.05)
    assert fit.sigma_probability == pytest.approx(s1, abs=0.15)
    assert fit.var_between_amount == pytest.approx(s2**2, rel=0.1)
    assert fit.var_within_amount == pytest.approx(se**2, rel=0.05)
    assert fit.correlation == pytest.approx(rho, abs=0.2)  # its SE here is ~0.07


def test_usual_intake_percentiles_within_3_percent_of_the_truth():
    errors = mean_relative_error("log-often", 2000, 1.0)
    assert np.abs(errors).max() < 0.03, np.round(100 * errors, 2)


@pytest.mark.slow
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("n_persons,repeat_share", [(5000, 0.5), (5000, 1.0), (3000, 1.0)])
def test_usual_intake_percentiles_within_3_percent_across_settings(setting, n_persons, repeat_share):
    errors = mean_relative_error(setting, n_persons, repeat_share)
    assert np.abs(errors).max() < 0.03, np.round(100 * errors, 2)


def test_one_day_distribution_is_wider_than_the_usual_one():
    rng = np.random.default_rng(6)
    frame, _ = simulate_days(rng, 3000, 0.5, "quarter-half")
    usual, _ = estimated_percentiles(frame, rng)
    first_day = frame.unique("person", keep="first", maintain_order=True)["amount"].to_numpy()
    one_day = np.percentile(first_day, PERCENTILES)
    # the one-day P5-P25 are 0 (not eating that day); the usual distribution has no zero
    assert one_day[0] == 0 and usual[0] > 0
    assert one_day[-1] - one_day[0] > 1.5 * (usual[-1] - usual[0])
    assert one_day[-1] > usual[-1]


def _true_fit(setting, columns=("intercept",)):
    beta1, beta2, s1, s2, rho, se, lam = SETTINGS[setting]
    return two_part.TwoPartFit(
        columns=columns, beta_probability=np.array([beta1]), beta_amount=np.array([beta2]),
        sigma_probability=s1, loading=s2 * rho, sigma_residual_effect=s2 * np.sqrt(1 - rho**2),
        sigma_within=se, lam=lam, centre=0.0, scale=1.0, loglik=0.0, converged=True, message="",
        n_persons=0, n_with_repeat=0, n_iterations=0, gradient_norm=0.0)


def test_prediction_is_the_posterior_mean_of_usual_intake_by_brute_force():
    """INDIVINT's E[P(eat) x E[amount | eat] | recalls], against a product rule over (v, w) with the
    amount's mean in closed form (lambda 0: exp(mu + sigma^2 / 2))."""
    rng = np.random.default_rng(9)
    frame, _ = simulate_days(rng, 10, 0.7, "log-often")
    days = two_part.episodic_days(frame, person="person", amount="amount")
    fit = _true_fit("log-often")
    predicted = two_part.predict_usual_intake(fit, days, np.ones((days.n_persons, 1)))
    beta1, beta2, s1, _, _, se, _ = SETTINGS["log-often"]
    x, weight = np.polynomial.hermite.hermgauss(120)
    v, w = np.meshgrid(np.sqrt(2) * x, np.sqrt(2) * x, indexing="ij")
    grid_weight = np.outer(weight, weight) / np.pi
    u2 = fit.loading * v + fit.sigma_residual_effect * w
    prob, amount = expit(beta1 + s1 * v), np.exp(beta2 + u2 + se**2 / 2)
    log_amounts = np.log(np.where(days.eaten, days.amount, 1.0))
    for i in range(days.n_persons):
        likelihood = np.ones_like(v)
        for eaten, value in zip(days.eaten[days.person == i], log_amounts[days.person == i]):
            likelihood *= prob * norm.pdf(value, beta2 + u2, se) if eaten else 1 - prob
        expected = np.sum(grid_weight * likelihood * prob * amount) / np.sum(grid_weight * likelihood)
        assert predicted[i] == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_predictions_are_calibrated_where_recall_means_are_attenuated():
    """Regressing the true usual intake on the prediction gives slope 1 (it is E[T | recalls]); on
    the mean of the two recalls, an attenuated slope. Slopes averaged over 3 populations: one slope
    of a skewed intake has an SE of ~0.03."""
    slopes, naive = [], []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        frame, truth = simulate_days(rng, 6000, 1.0, "sqrt-steady")
        days = two_part.episodic_days(frame, person="person", amount="amount")
        fit = two_part.fit_two_part(days)
        predicted = two_part.predict_usual_intake(fit, days, np.ones((days.n_persons, 1)))
        recall_mean = frame.group_by("person").agg(pl.col("amount").mean()).sort("person")["amount"].to_numpy()
        slopes.append(np.polyfit(predicted, truth, 1)[0])
        naive.append(np.polyfit(recall_mean, truth, 1)[0])
        assert predicted.std() < truth.std()
        assert predicted.mean() == pytest.approx(truth.mean(), rel=0.03)
    assert np.mean(slopes) == pytest.approx(1.0, abs=0.04)
    assert np.mean(naive) < 0.7


def test_nuisance_scenarios_mix_weekday_and_weekend():
    rng = np.random.default_rng(8)
    frame, _ = simulate_days(rng, 1500, 1.0, "log-often")
    weekend = (rng.random(frame.height) < 3 / 7).astype(float)
    # weekend days: more eaten, more eating (both parts move)
    amount = np.where(weekend == 1, frame["amount"].to_numpy() * 1.5, frame["amount"].to_numpy())
    frame = frame.with_columns(amount=pl.Series(amount), weekend=pl.Series(weekend))
    days = two_part.episodic_days(frame, person="person", amount="amount", covariates=["weekend"])
    fit = two_part.fit_two_part(days)
    assert fit.beta_amount[1] > 0
    design = np.column_stack([np.ones(days.n_persons), np.zeros(days.n_persons)])
    draws = lambda scenarios: two_part.simulate_usual_intake(  # noqa: E731
        fit, design, nsim=50, rng=np.random.default_rng(1), scenarios=scenarios).mean()
    weekday_only, weekend_only = draws([({"weekend": 0.0}, 1.0)]), draws([({"weekend": 1.0}, 1.0)])
    mixed = draws([({"weekend": 0.0}, 4 / 7), ({"weekend": 1.0}, 3 / 7)])
    assert weekday_only < mixed < weekend_only
    assert mixed == pytest.approx(4 / 7 * weekday_only + 3 / 7 * weekend_only, rel=1e-9)
    with pytest.raises(GutaxisError, match="'holiday' is not in the usual-intake model"):
        two_part.simulate_usual_intake(fit, design, nsim=2, rng=rng, scenarios=[({"holiday": 1.0}, 1.0)])


def test_model_choice_by_share_of_zero_days():
    assert choose_model(np.array([0.0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).model == "one-part"  # 9 %
    choice = choose_model(np.array([0.0, 0, 2, 3, 4, 5, 6, 7, 8, 9]))  # 20 %
    assert choice.model == "two-part" and "20.0 % of 10 recall days are 0 (> 10 %)" in choice.reason
    assert choose_model(np.array([0.0, 1, 2, 3]), two_part_zero_share=0.3).model == "one-part"
    assert choose_model(np.array([0.0, 1, 2, 3]), forced="one-part").model == "one-part"
    assert TWO_PART_ZERO_SHARE == 0.10


def test_a_component_eaten_by_nobody_gets_no_model():
    choice = choose_model(np.zeros(40))
    assert choice.model is None and choice.reason == "all 40 recall days are 0"
    frame = pl.DataFrame({"person": [1, 1, 2, 2], "amount": [0.0, 0, 0, 0]})
    with pytest.raises(GutaxisError, match="all 4 recall days are 0"):
        two_part.fit_two_part(two_part.episodic_days(frame, person="person", amount="amount"))


def test_a_component_eaten_every_day_by_everybody_goes_to_the_one_part_model():
    choice = choose_model(np.full(40, 3.0), forced="two-part")
    assert choice.model == "one-part" and "eaten on every recall day" in choice.reason
    assert choose_model(np.full(40, 3.0)).model == "one-part"
    frame = pl.DataFrame({"person": [1, 1, 2, 2], "amount": [1.0, 2, 3, 4]})
    with pytest.raises(GutaxisError, match=r"eaten on every recall day \(no zero day\)"):
        two_part.fit_two_part(two_part.episodic_days(frame, person="person", amount="amount"))


def test_bad_day_rows_are_named():
    frame = pl.DataFrame({"person": [1, 1, 2], "amount": [0.0, -2.0, 1.0]})
    with pytest.raises(GutaxisError, match=r"column 'amount' on row 2 is -2.0; day amounts must be finite"):
        two_part.episodic_days(frame, person="person", amount="amount")
    frame = pl.DataFrame({"person": [1, 1, 2], "amount": [0.0, 2.0, 1.0], "age": [30.0, None, 40.0]})
    with pytest.raises(GutaxisError, match=r"column 'age' is empty on row 2"):
        two_part.episodic_days(frame, person="person", amount="amount", covariates=["age"])
    with pytest.raises(GutaxisError, match=r"no column 'sex'"):
        two_part.episodic_days(frame, person="person", amount="amount", covariates=["sex"])


def test_single_recall_per_person_is_not_estimable():
    frame = pl.DataFrame({"person": [1, 2, 3, 4], "amount": [0.0, 2.0, 1.0, 0.0]})
    with pytest.raises(GutaxisError, match="no person has a second recall"):
        two_part.fit_two_part(two_part.episodic_days(frame, person="person", amount="amount"))


# ---- through estimate_usual_intake --------------------------------------------------------------

def episodic_cohort(n_persons, repeat_share, setting, seed):
    """Recall days in estimate_usual_intake's shape, with a sex domain and a weight."""
    rng = np.random.default_rng(seed)
    frame, truth = simulate_days(rng, n_persons, repeat_share, setting)
    sex = np.where(rng.random(n_persons) < 0.5, "female", "male")
    weight = rng.uniform(0.5, 2.0, n_persons)
    days = frame.with_columns(
        participant_id=pl.col("person") + 100,
        recall_day=pl.col("person").cum_count().over("person"),
        sex=pl.Series(sex[frame["person"].to_numpy()]),
        weight=pl.Series(weight[frame["person"].to_numpy()])).drop("person")
    return days, truth


def test_episodic_component_gets_the_two_part_model_with_its_reason_and_rows():
    days, _ = episodic_cohort(1500, 0.5, "log-often", seed=11)
    result = estimate_usual_intake(days, component="fg_yogurt", domains=["sex"], weight="weight",
                                   replicates=4, seed=1, cutpoints=[50.0])
    assert result.status == "estimated", result.status
    assert result.model == "two-part" and result.model_reason.startswith("episodic: ")
    assert isinstance(result.fit, two_part.TwoPartFit)
    rows = result.distribution
    assert set(rows["model"]) == {"two-part"}
    assert set(rows["domain_value"]) == {"all", "female", "male"}
    for column in ("lambda", "var_within", "var_between", "var_between_probability", "corr_between", "se"):
        assert rows[column].null_count() == 0 and rows[column].is_finite().all(), column
    assert rows["lambda"][0] == pytest.approx(result.fit.lam)
    assert rows["var_between_probability"][0] == pytest.approx(result.fit.sigma_probability**2)
    assert (rows["se"] > 0).all()
    for _, group in rows.group_by("domain_value"):
        assert group.sort("percentile")["value"].is_sorted()
    assert rows.filter(pl.col("domain") == "all")["n_with_repeat"][0] == days["participant_id"].is_duplicated().sum() // 2
    assert result.per_person.height == 1500 and (result.per_person["usual_intake"] > 0).all()
    assert result.replicate_method == "bootstrap"
    share = result.shares.filter(pl.col("domain") == "all")
    median = rows.filter((pl.col("domain") == "all") & (pl.col("percentile") == 50))["value"][0]
    assert share["cutpoint"][0] == 50.0 and (share["share_below"][0] < 0.5) == (median > 50) and share["se"][0] > 0


def test_estimate_usual_intake_weekend_mix_moves_both_parts():
    days, _ = episodic_cohort(1500, 1.0, "log-often", seed=12)
    rng = np.random.default_rng(12)
    weekend = (rng.random(days.height) < 3 / 7).astype(int)
    days = days.with_columns(weekend=pl.Series(weekend),
                             amount=pl.col("amount") * pl.when(pl.Series(weekend) == 1).then(1.6).otherwise(1.0))
    mixed = estimate_usual_intake(days, component="fg_yogurt", nuisance=["weekend"], replicates=0)
    weekday = estimate_usual_intake(days, component="fg_yogurt", nuisance=["weekend"], replicates=0,
                                    weekend_share=0.0)
    assert mixed.model == "two-part" and mixed.fit.columns == ("intercept", "weekend")
    assert mixed.distribution["mean"][0] > weekday.distribution["mean"][0]


def test_near_daily_component_stays_one_part_and_the_threshold_is_overridable():
    days, _ = episodic_cohort(800, 1.0, "sqrt-steady", seed=13)   # 27 % zero days
    assert estimate_usual_intake(days, component="x", replicates=0).model == "two-part"
    one_part = estimate_usual_intake(days, component="x", replicates=0, two_part_zero_share=0.5)
    assert one_part.model == "one-part" and "(<= 50 %)" in one_part.model_reason
    assert one_part.distribution["var_between_probability"].null_count() == one_part.distribution.height
    forced = estimate_usual_intake(days, component="x", replicates=0, model="one-part")
    assert forced.model == "one-part" and forced.model_reason.startswith("one-part as the spec asks")
    with pytest.raises(GutaxisError, match="usual intake of x: usual-intake model 'three-part' is not one of"):
        estimate_usual_intake(days, component="x", model="three-part")


def test_estimate_usual_intake_component_eaten_by_nobody_or_by_everybody_every_day():
    days, _ = episodic_cohort(300, 1.0, "log-often", seed=14)
    nobody = estimate_usual_intake(days.with_columns(amount=pl.lit(0.0)), component="x", replicates=0)
    assert nobody.status == f"not estimable: all {days.height} recall days are 0" and nobody.model is None
    everyday = estimate_usual_intake(days.with_columns(amount=pl.col("amount") + 1.0), component="x",
                                     replicates=0, model="two-part")
    assert everyday.model == "one-part" and "eaten on every recall day" in everyday.model_reason
    assert everyday.status == "estimated"


def test_too_few_persons_eating_on_two_days_is_not_estimable():
    days, _ = episodic_cohort(400, 0.3, "rare-log", seed=15)
    result = estimate_usual_intake(days, component="x", replicates=0)
    assert result.model == "two-part"
    assert result.status.startswith("not estimable: only ") and "ate it on 2 or more recall days" in result.status
    assert result.distribution.is_empty() and not result.one_day.is_empty()


# ---- real data: CCHS 2015 Nutrition, ages 19-30, milk and eggs ---------------------------------

CCHS = "usual-intake/cchs-2015-19to30/hsnci_19to30y.xlsx"


def cchs_days(realdata, food: str) -> pl.DataFrame:
    frame = pl.read_excel(realdata / CCHS)
    return frame.select(
        participant_id=pl.col("ADM_RNO"), recall_day=pl.col("recallid"), amount=pl.col(food),
        age_years=pl.col("AGE"), sex=pl.when(pl.col("SEX") == 1).then(pl.lit("male")).otherwise(pl.lit("female")),
        weekend=pl.col("weekend"), weight=pl.col("WTS_P"))


@pytest.mark.realdata
@pytest.mark.parametrize("food,zero_share", [("milk", "27.4 %"), ("egg", "44.2 %")])
def test_cchs_milk_and_eggs_get_the_two_part_model_narrower_than_one_day(realdata, food, zero_share):
    days = cchs_days(realdata, food)
    result = estimate_usual_intake(days, component=food, covariates=["age_years", "sex"],
                                   nuisance=["recall_sequence", "weekend"], weight="weight",
                                   domains=["sex"], nsim=100, replicates=8, seed=1)
    assert result.status == "estimated", result.status
    assert result.model == "two-part" and result.model_reason == f"episodic: {zero_share} of 2341 recall days are 0 (> 10 %)"
    fit = result.fit
    assert fit.converged and (fit.n_persons, fit.n_with_repeat) == (1901, 440)
    assert 0.01 <= fit.lam <= 1
    assert fit.var_within_amount > 0 and fit.var_between_amount > 0 and fit.var_between_probability > 0
    assert -1 <= fit.correlation <= 1
    usual = result.distribution.filter(domain="all").sort("percentile")
    one_day = result.one_day.filter(domain="all").sort("percentile")
    value = lambda frame, p: frame.filter(pl.col("percentile") == p)["value"][0]  # noqa: E731
    assert usual["value"].is_sorted() and (usual["se"] > 0).all()
    assert value(one_day, 5) == 0 and value(usual, 5) > 0        # a day without it is not a life without it
    assert value(usual, 95) - value(usual, 5) < value(one_day, 95) - value(one_day, 5)
    assert value(usual, 95) < value(one_day, 95)
    assert usual["mean"][0] == pytest.approx(one_day["mean"][0], rel=0.1)


@pytest.mark.realdata
@pytest.mark.parametrize("food", ["milk", "egg"])
def test_cchs_uncorrelated_amount_part_agrees_with_statsmodels_mixedlm(realdata, food):
    """With the person effects uncorrelated the likelihood factorises, so the amount part is an ML
    random-intercept model on the eating days: statsmodels MixedLM fits that independently."""
    smf = pytest.importorskip("statsmodels.formula.api")
    frame = cchs_days(realdata, food).sort("participant_id", "recall_day").with_columns(
        recall_sequence=(pl.col("recall_day") >= 2).cast(pl.Float64),
        male=(pl.col("sex") == "male").cast(pl.Float64))
    days = two_part.episodic_days(frame, person="participant_id", amount="amount",
                                  covariates=["age_years", "male", "recall_sequence", "weekend"])
    fit = two_part.fit_two_part(days, correlated=False)
    assert fit.converged and fit.correlation == 0
    eating = frame.filter(pl.col("amount") > 0).with_columns(
        y=pl.col("amount").map_batches(lambda s: pl.Series(boxcox(s.to_numpy(), fit.lam)))).to_pandas()
    reference = smf.mixedlm("y ~ age_years + male + recall_sequence + weekend", eating,
                            groups=eating["participant_id"]).fit(reml=False)
    assert fit.var_between_amount == pytest.approx(float(reference.cov_re.iloc[0, 0]), rel=0.01)
    assert fit.var_within_amount == pytest.approx(float(reference.scale), rel=0.01)
    amount_beta = fit.beta_amount * fit.scale
    amount_beta[0] += fit.centre
    assert amount_beta == pytest.approx(np.asarray(reference.fe_params), rel=0.01, abs=1e-3)
