"""The NCI two-part model for episodically eaten components (Tooze et al., J Am Diet Assoc 2006;
106:1575): the probability of eating on a day (logistic, person effect u1) and the amount on an
eating day (Box-Cox scale, person effect u2), with u1 and u2 correlated, fitted jointly by maximum
likelihood, then usual intake = P(eat) x E[amount | eat] per pseudo-person (DISTRIB) or per person
given their recalls (INDIVINT).

How the likelihood is integrated. The person effects are written u1 = sigma1 v and
u2 = a v + b w with v, w independent standard normals (a Cholesky factor of their covariance: a =
rho sigma2, b = sigma2 sqrt(1 - rho^2)). Given v, the eating-day amounts of a person are jointly
normal (compound symmetry: within variance plus b^2 on every pair), so w integrates out in closed
form; only v is integrated numerically, by adaptive Gauss-Hermite quadrature centred at each
person's posterior mode (found by vectorised Newton steps: the log integrand is concave in v). The
score comes from Fisher's identity (the posterior mean of the complete-data score), so the
optimiser gets an analytic gradient. Every step runs over arrays of days or persons: there is no
per-person Python loop.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import polars as pl
from scipy import optimize, sparse
from scipy.special import expit, log_expit, logsumexp

from gutaxis import GutaxisError
from gutaxis.analysis.usual_intake.boxcox import boxcox, choose_lambda, inverse_boxcox
from gutaxis.analysis.usual_intake.distrib import UsualIntakeCurve
from gutaxis.analysis.usual_intake.one_part import (RandomInterceptData, fit_random_intercept,
                                                    random_intercept_loglik)

# Nodes of the adaptive quadrature over the probability-part effect. Centred and scaled per person,
# 15 nodes integrate the (near-Gaussian) posterior to well below optimiser tolerance; the fits in
# tests/test_usual_intake_two_part.py move by < 1e-6 in the log-likelihood from 15 to 40 nodes.
QUADRATURE_NODES = 15
# Nodes over the amount-part effect when a person's prediction integrates it (INDIVINT).
PREDICTION_NODES = 15
NEWTON_STEPS = 12
_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class EpisodicDays:
    """One component's recall days in the arrays the likelihood reads."""
    person: np.ndarray          # index 0..n_persons-1 of each day
    design: np.ndarray          # days x p: intercept, covariates, nuisance effects
    eaten: np.ndarray           # bool per day: amount > 0
    amount: np.ndarray          # per day, 0 on days not eaten
    weight: np.ndarray          # per person, mean 1
    person_ids: np.ndarray
    columns: tuple[str, ...]

    @property
    def n_persons(self) -> int:
        return len(self.weight)


@dataclass
class TwoPartFit:
    """Estimates of the correlated two-part model (transformed amounts are standardised: z = (g(y) -
    centre) / scale, so var_within / var_between are reported on the Box-Cox scale, times scale^2)."""
    columns: tuple[str, ...]
    beta_probability: np.ndarray
    beta_amount: np.ndarray
    sigma_probability: float    # SD of u1 (logit scale)
    loading: float              # a = cov(u1, u2) / sigma1, on the standardised amount scale
    sigma_residual_effect: float  # b
    sigma_within: float         # SD of the within-person error, standardised scale
    lam: float
    centre: float
    scale: float
    loglik: float
    converged: bool
    message: str
    n_persons: int
    n_with_repeat: int
    n_iterations: int
    gradient_norm: float
    quadrature_nodes: int = QUADRATURE_NODES
    extra: dict = field(default_factory=dict)

    def theta(self, centre: float | None = None, scale: float | None = None) -> np.ndarray:
        """The likelihood's parameter vector, re-expressed for another standardisation of z."""
        centre = self.centre if centre is None else centre
        scale = self.scale if scale is None else scale
        ratio = self.scale / scale
        beta2 = self.beta_amount * ratio
        beta2[0] += (self.centre - centre) / scale
        return np.concatenate([self.beta_probability, beta2,
                               [np.log(self.sigma_probability), self.loading * ratio,
                                np.log(max(self.sigma_residual_effect * ratio, 1e-4)),
                                np.log(self.sigma_within * ratio)]])

    @property
    def var_between_amount(self) -> float:
        """Between-person variance of the amount part on the Box-Cox scale."""
        return (self.loading**2 + self.sigma_residual_effect**2) * self.scale**2

    @property
    def var_within_amount(self) -> float:
        return self.sigma_within**2 * self.scale**2

    @property
    def var_between_probability(self) -> float:
        return self.sigma_probability**2

    @property
    def correlation(self) -> float:
        sd = np.hypot(self.loading, self.sigma_residual_effect)
        return float(self.loading / sd) if sd > 0 else 0.0


def episodic_days(frame: pl.DataFrame, *, person: str, amount: str, covariates: Sequence[str] = (),
                  weight: str | None = None, source: str = "recall days") -> EpisodicDays:
    """Arrays for the likelihood from one row per person-day (covariates numeric, no nulls)."""
    needed = [person, amount, *covariates] + ([weight] if weight else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise GutaxisError(f"{source}: no column {missing[0]!r} for the two-part model; "
                           f"columns are {', '.join(frame.columns)}")
    for name in [amount, *covariates] + ([weight] if weight else []):
        values = frame[name]
        if values.null_count():
            row = int(values.is_null().arg_max())
            raise GutaxisError(f"{source}: column {name!r} is empty on row {row + 1}; "
                               "give it a value or drop the day before the usual-intake model")
    amounts = frame[amount].cast(pl.Float64).to_numpy()
    if (amounts < 0).any() or not np.isfinite(amounts).all():
        row = int(np.flatnonzero((amounts < 0) | ~np.isfinite(amounts))[0])
        raise GutaxisError(f"{source}: column {amount!r} on row {row + 1} is {amounts[row]}; "
                           "day amounts must be finite and >= 0")
    ids, index = np.unique(frame[person].to_numpy(), return_inverse=True)
    design = np.column_stack([np.ones(frame.height)]
                             + [frame[c].cast(pl.Float64).to_numpy() for c in covariates])
    if weight:
        day_weight = frame[weight].cast(pl.Float64).to_numpy()
        person_weight = np.zeros(len(ids))
        person_weight[index] = day_weight
        if (person_weight <= 0).any():
            raise GutaxisError(f"{source}: column {weight!r} has a weight <= 0; "
                               "drop persons without a positive weight before the usual-intake model")
    else:
        person_weight = np.ones(len(ids))
    return EpisodicDays(person=index, design=design, eaten=amounts > 0, amount=amounts,
                        weight=person_weight / person_weight.mean(), person_ids=ids,
                        columns=("intercept", *covariates))


class _Likelihood:
    """The marginal log-likelihood of the correlated two-part model and its score.

    Parameters, unconstrained: beta1 (p), beta2 (p), log sigma1, a, log b, log sigma_e."""

    def __init__(self, days: EpisodicDays, z: np.ndarray, nodes: int = QUADRATURE_NODES):
        self.days = days
        self.p = days.design.shape[1]
        n, n_days = days.n_persons, len(days.person)
        self.sum_by_person = sparse.csr_matrix(
            (np.ones(n_days), (days.person, np.arange(n_days))), shape=(n, n_days))
        self.eaten = days.eaten.astype(float)
        self.z = np.where(days.eaten, z, 0.0)
        self.m = self.sum_by_person @ self.eaten
        self.has_amount = self.m > 0
        x, w = np.polynomial.hermite.hermgauss(nodes)
        self.node_x, self.log_node_w = x, np.log(w) + x**2
        self.weight = days.weight
        self.total_weight = days.weight.sum()
        self.eaten_design = days.design * self.eaten[:, None]
        self.design_sum = self.sum_by_person @ self.eaten_design

    def unpack(self, theta: np.ndarray):
        p = self.p
        return (theta[:p], theta[p:2 * p], np.exp(theta[2 * p]), theta[2 * p + 1],
                np.exp(theta[2 * p + 2]), np.exp(theta[2 * p + 3]))

    def _person_sums(self, beta2):
        d = np.where(self.days.eaten, self.z - self.days.design @ beta2, 0.0)
        return d, self.sum_by_person @ d, self.sum_by_person @ (d * d)

    def posterior(self, theta: np.ndarray):
        """Per person: the quadrature nodes in v, their normalised posterior weights, log L_i."""
        beta1, beta2, s1, a, b, se = self.unpack(theta)
        days = self.days
        eta0 = days.design @ beta1
        d, d1, d2 = self._person_sums(beta2)
        s, q, m = se**2, b**2, self.m
        total = s + m * q
        v = np.zeros(days.n_persons)
        for _ in range(NEWTON_STEPS):
            prob = expit(eta0 + s1 * v[days.person])
            resid = d1 - m * a * v
            grad = s1 * (self.sum_by_person @ (self.eaten - prob)) + a * resid / total - v
            curv = s1**2 * (self.sum_by_person @ (prob * (1 - prob))) + a * a * m / total + 1.0
            v = v + np.clip(grad / curv, -4.0, 4.0)
        prob = expit(eta0 + s1 * v[days.person])
        curv = s1**2 * (self.sum_by_person @ (prob * (1 - prob))) + a * a * m / total + 1.0
        spread = np.sqrt(2.0 / curv)
        nodes_v = v[:, None] + spread[:, None] * self.node_x[None, :]
        eta = eta0[:, None] + s1 * nodes_v[days.person]
        binary = self.sum_by_person @ (self.eaten[:, None] * eta + log_expit(-eta))
        resid = d1[:, None] - (m * a)[:, None] * nodes_v
        quad = d2[:, None] - 2 * a * nodes_v * d1[:, None] + (m * a * a)[:, None] * nodes_v**2
        amount = np.where(self.has_amount[:, None], -0.5 * (
            ((m - 1) * np.log(s) + np.log(total) + m * _LOG_2PI)[:, None]
            + quad / s - q * resid**2 / (s * total)[:, None]), 0.0)
        log_joint = binary + amount - 0.5 * nodes_v**2 - 0.5 * _LOG_2PI
        terms = log_joint + self.log_node_w[None, :] + np.log(spread)[:, None]
        log_lik = logsumexp(terms, axis=1)
        post = np.exp(terms - log_lik[:, None])
        return nodes_v, post, log_lik, eta, d, resid, quad

    def value_and_gradient(self, theta: np.ndarray):
        beta1, beta2, s1, a, b, se = self.unpack(theta)
        days = self.days
        nodes_v, post, log_lik, eta, d, resid, quad = self.posterior(theta)
        w = self.weight
        s, q, m = se**2, b**2, self.m
        total = s + m * q
        prob = expit(eta)                       # days x nodes
        day_post = post[days.person]
        mean_prob = (prob * day_post).sum(axis=1)
        mean_prob_v = (prob * day_post * nodes_v[days.person]).sum(axis=1)
        mean_v = (post * nodes_v).sum(axis=1)
        day_w = w[days.person]
        g_beta1 = days.design.T @ (day_w * (self.eaten - mean_prob))
        g_log_s1 = s1 * np.sum(day_w * (self.eaten * mean_v[days.person] - mean_prob_v))
        mean_resid = (post * resid).sum(axis=1)
        mean_resid2 = (post * resid**2).sum(axis=1)
        mean_v_resid = (post * nodes_v * resid).sum(axis=1)
        mean_quad = (post * quad).sum(axis=1)
        has = self.has_amount
        # d ll / d r_j = -(r_j / s - q R / (s total)); r_j = d_j - a v
        shift = np.where(has, a * mean_v / s + q * mean_resid / (s * total), 0.0)
        g_beta2 = days.design.T @ (day_w * self.eaten * d / s) - self.design_sum.T @ (w * shift)
        g_a = np.sum(w * np.where(has, mean_v_resid / total, 0.0))
        g_log_b = np.sum(w * np.where(has, -q * (m / total - mean_resid2 / total**2), 0.0))
        g_log_se = np.sum(w * np.where(has, -s * (
            (m - 1) / s + 1 / total - mean_quad / s**2
            + q * mean_resid2 * (2 * s + m * q) / (s**2 * total**2)), 0.0))
        grad = np.concatenate([g_beta1, g_beta2, [g_log_s1, g_a, g_log_b, g_log_se]])
        value = float(np.sum(w * log_lik))
        return -value / self.total_weight, -grad / self.total_weight


def _logistic_start(design: np.ndarray, eaten: np.ndarray) -> np.ndarray:
    beta = np.zeros(design.shape[1])
    mean = eaten.mean()
    beta[0] = np.log(mean / (1 - mean))
    for _ in range(25):
        prob = expit(design @ beta)
        hess = design.T @ (design * (prob * (1 - prob))[:, None]) + 1e-8 * np.eye(len(beta))
        step = np.linalg.solve(hess, design.T @ (eaten - prob))
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    return beta


def _standardising_map(design: np.ndarray) -> np.ndarray:
    """A with design @ A = the design with every non-constant covariate centred and scaled to SD 1
    (column 0 is the intercept), so that beta = A @ beta_standardised."""
    p = design.shape[1]
    mapping = np.eye(p)
    for k in range(1, p):
        sd = design[:, k].std()
        if sd > 0:
            mapping[k, k] = 1.0 / sd
            mapping[0, k] = -design[:, k].mean() / sd
    return mapping


def _eating_day_model(days: EpisodicDays) -> RandomInterceptData:
    """The one-part random-intercept model restricted to eating days: the amount part on its own."""
    eaten = days.eaten
    _, person = np.unique(days.person[eaten], return_inverse=True)
    present = np.unique(days.person[eaten])
    return RandomInterceptData.build(person, days.design[eaten], days.weight[present])


def fit_two_part(days: EpisodicDays, *, lam: float | None = None, correlated: bool = True,
                 start: TwoPartFit | None = None, max_iterations: int = 500,
                 nodes: int = QUADRATURE_NODES) -> TwoPartFit:
    """Fit the correlated two-part model to one component's recall days.

    λ is chosen as the one-part model chooses it (ML of the random-intercept model, Jacobian
    included), on the eating days alone; that model's ML fit there is the amount part's start.
    `start`: a previous fit to start from (a replicate starts from the full sample's)."""
    eaten = days.eaten
    if not eaten.any():
        raise GutaxisError(f"all {eaten.size} recall days are 0: the component was eaten on no recall day")
    if eaten.all():
        raise GutaxisError("eaten on every recall day (no zero day): the two-part model has no "
                           "probability to fit; use the one-part model")
    counts = np.bincount(days.person, minlength=days.n_persons)
    n_with_repeat = int((counts > 1).sum())
    if n_with_repeat == 0:
        raise GutaxisError("no person has a second recall, so within- and between-person "
                           "variation cannot be told apart")
    positive = days.amount[eaten]
    amount_model = _eating_day_model(days)
    if lam is None:
        lam = choose_lambda(positive, random_intercept_loglik(amount_model),
                            weights=amount_model.row_weight)
    transformed = boxcox(np.where(eaten, days.amount, 1.0), lam)
    centre, scale = float(transformed[eaten].mean()), float(transformed[eaten].std())
    if not scale > 0:
        raise GutaxisError("every eating-day amount is the same: there is no amount variation to model")
    z = np.where(eaten, (transformed - centre) / scale, 0.0)
    p = days.design.shape[1]
    # The optimiser works on centred and scaled covariates (an age in years next to 0/1 indicators
    # took L-BFGS hundreds of iterations); `to_original` maps the coefficients back.
    to_original = _standardising_map(days.design)
    from_original = np.linalg.inv(to_original)
    original_days, days = days, replace(days, design=days.design @ to_original)
    amount_model = _eating_day_model(days)
    if start is not None:   # a nearby fit (a replicate's λ moves a little): its estimates re-expressed
        theta0 = start.theta(centre, scale)
        theta0[:p], theta0[p:2 * p] = from_original @ theta0[:p], from_original @ theta0[p:2 * p]
    else:
        amount_fit = fit_random_intercept(amount_model, z[eaten], reml=False)
        between = max(amount_fit.var_between, 0.05 * amount_fit.var_within)
        a0 = 0.3 * np.sqrt(between) if correlated else 0.0
        b0 = np.sqrt(max(between - a0**2, 1e-4))
        theta0 = np.concatenate([_logistic_start(days.design, eaten.astype(float)), amount_fit.beta,
                                 [0.0, a0, np.log(b0), 0.5 * np.log(amount_fit.var_within)]])
    if not correlated:
        theta0[2 * p + 1] = 0.0
    likelihood = _Likelihood(days, z, nodes)
    bounds = [(None, None)] * (2 * p) + [(np.log(1e-3), np.log(20.0)),
                                         (None, None) if correlated else (0.0, 0.0),
                                         (np.log(1e-4), np.log(20.0)), (np.log(1e-4), np.log(20.0))]
    result = optimize.minimize(likelihood.value_and_gradient, theta0, jac=True, method="L-BFGS-B",
                               bounds=bounds, options={"maxiter": max_iterations, "ftol": 1e-12,
                                                       "gtol": 1e-7, "maxcor": 20})
    theta = result.x
    _, grad = likelihood.value_and_gradient(theta)
    free = np.ones_like(grad, dtype=bool)
    if not correlated:
        free[2 * p + 1] = False
    gradient_norm = float(np.abs(grad[free]).max())
    beta1, beta2, s1, a, b, se = likelihood.unpack(theta)
    beta1, beta2 = to_original @ beta1, to_original @ beta2
    converged = bool(result.success or gradient_norm < 1e-5) and gradient_norm < 1e-3
    days = original_days
    return TwoPartFit(columns=days.columns, beta_probability=beta1, beta_amount=beta2,
                      sigma_probability=float(s1), loading=float(a), sigma_residual_effect=float(b),
                      sigma_within=float(se), lam=float(lam), centre=centre, scale=scale,
                      loglik=float(-result.fun * likelihood.total_weight), converged=converged,
                      message=str(result.message), n_persons=days.n_persons,
                      n_with_repeat=n_with_repeat, n_iterations=int(result.nit),
                      gradient_norm=gradient_norm, quadrature_nodes=nodes)


def expected_amount(fit: TwoPartFit, linear: np.ndarray) -> np.ndarray:
    """E[amount | eaten] on the original scale for a standardised linear predictor (fixed part plus
    the person's amount effect): the within-person error integrated by DISTRIB's 9-node rule,
    tabulated over the range of `linear` once and interpolated (the engine's curve)."""
    linear = np.asarray(linear, dtype=float)
    transformed = fit.centre + fit.scale * linear
    curve = UsualIntakeCurve.tabulate(float(transformed.min()), float(transformed.max()), lam=fit.lam,
                                      shift=0.0, var_within=(fit.scale * fit.sigma_within) ** 2)
    return curve(transformed)


def _scenario_designs(design: np.ndarray, columns: Sequence[str],
                      scenarios: Sequence[tuple[dict[str, float], float]] | None):
    """Person design rows with the nuisance columns set per scenario, and the scenario weights.
    Without scenarios every nuisance column a scenario could name keeps the person's value."""
    if not scenarios:
        return [(design, 1.0)]
    out = []
    for values, share in scenarios:
        row = design.copy()
        for name, value in values.items():
            if name not in columns:
                raise GutaxisError(f"nuisance effect {name!r} is not in the usual-intake model "
                                   f"(columns {', '.join(columns)})")
            row[:, list(columns).index(name)] = value
        out.append((row, share))
    total = sum(share for _, share in out)
    return [(row, share / total) for row, share in out]


def simulate_usual_intake(fit: TwoPartFit, person_design: np.ndarray, *, nsim: int = 100,
                          rng: np.random.Generator | None = None, normals: np.ndarray | None = None,
                          scenarios: Sequence[tuple[dict[str, float], float]] | None = None
                          ) -> np.ndarray:
    """Usual intake of nsim pseudo-persons per person (persons x nsim): both person effects drawn
    from their fitted joint normal, usual = sum over nuisance scenarios of share x P(eat) x
    E[amount | eat]. `normals` (2 x persons x nsim standard normals) replace `rng`'s draws, so that
    replicates reuse the full sample's pseudo-persons."""
    n = person_design.shape[0]
    if normals is None:
        normals = rng.standard_normal((2, n, nsim))
    v, w = normals
    nsim = v.shape[1]
    u1 = fit.sigma_probability * v
    u2 = fit.loading * v + fit.sigma_residual_effect * w
    usual = np.zeros((n, nsim))
    for row, share in _scenario_designs(person_design, fit.columns, scenarios):
        prob = expit((row @ fit.beta_probability)[:, None] + u1)
        usual += share * prob * expected_amount(fit, (row @ fit.beta_amount)[:, None] + u2)
    return usual


def predict_usual_intake(fit: TwoPartFit, days: EpisodicDays, person_design: np.ndarray,
                         scenarios: Sequence[tuple[dict[str, float], float]] | None = None,
                         chunk: int = 2000) -> np.ndarray:
    """Each person's expected usual intake given their recalls and covariates (INDIVINT): the
    posterior mean of P(eat | u1) x E[amount | eat, u2] over both person effects."""
    if days.columns != fit.columns:
        raise GutaxisError("the recall days do not carry the fitted model's columns")
    transformed = boxcox(np.where(days.eaten, days.amount, 1.0), fit.lam)
    z = np.where(days.eaten, (transformed - fit.centre) / fit.scale, 0.0)
    likelihood = _Likelihood(days, z)
    theta = fit.theta()
    nodes_v, post, *_ = likelihood.posterior(theta)
    _, beta2, s1, a, b, se = likelihood.unpack(theta)
    _, d1, _ = likelihood._person_sums(beta2)
    m, s = likelihood.m, se**2
    # w | v, data is normal: prior N(0, 1), each eating day's residual d_j - a v = b w + e_j.
    precision = 1.0 + m * b * b / s
    mean_w = (b / s) * (d1[:, None] - (m * a)[:, None] * nodes_v) / precision[:, None]
    sd_w = 1.0 / np.sqrt(precision)
    gx, gw = np.polynomial.hermite.hermgauss(PREDICTION_NODES)
    gw = gw / np.sqrt(np.pi)
    predicted = np.zeros(days.n_persons)
    for row, share in _scenario_designs(person_design, fit.columns, scenarios):
        fixed1, fixed2 = row @ fit.beta_probability, row @ fit.beta_amount
        for start in range(0, days.n_persons, chunk):
            sl = slice(start, start + chunk)
            prob = expit(fixed1[sl, None] + s1 * nodes_v[sl])                    # persons x K
            u2 = a * nodes_v[sl][..., None] + b * (mean_w[sl][..., None]
                                                    + np.sqrt(2.0) * sd_w[sl, None, None] * gx)
            amount = expected_amount(fit, fixed2[sl, None, None] + u2) @ gw      # persons x K
            predicted[sl] += share * np.sum(post[sl] * prob * amount, axis=1)
    return predicted
