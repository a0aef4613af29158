"""The one-part (amount) model: a linear mixed model with a random person intercept on the Box-Cox scale.

    y_ij = x_ij β + u_i + e_ij,   u_i ~ N(0, σ²_b),   e_ij ~ N(0, σ²_w)

With only a random intercept, person i's covariance is σ²_w (I + γ J) with γ = σ²_b / σ²_w, whose
inverse and determinant are closed-form: (I - c_i J)/σ²_w with c_i = γ / (1 + m_i γ), and
σ²_w^m_i (1 + m_i γ). So for a given γ, β (GLS) and σ²_w have closed forms from per-person sums,
and the (RE)ML likelihood is a function of γ alone: one bounded 1-D optimisation over log γ, each
evaluation O(persons × covariates), no loop over persons in Python.

Survey weights enter as a pseudo-likelihood: person i's log-likelihood contribution is multiplied
by its weight (normalised to mean 1), as MIXTRAN weights each subject's contribution.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar

from gutaxis.analysis.usual_intake.boxcox import boxcox, choose_lambda, minimum_amount_shift

# log γ searched in this range: γ = σ²_b/σ²_w from 4.5e-5 to 3e3. Reaching the lower end means the
# between-person variance is indistinguishable from 0; the upper end, that there is no
# within-person variation to speak of: both are reported as not converged / not estimable.
LOG_RATIO_BOUNDS = (-10.0, 8.0)


@dataclass
class RandomInterceptData:
    """Per-row design and per-person sums of one fit: everything (RE)ML needs that does not depend on y.

    Persons with the same number of recalls m share c = γ/(1 + mγ), so the sums over persons that
    the likelihood needs are kept per distinct m ("level"): each evaluation of the likelihood costs
    O(levels × covariates²), whatever the number of persons."""

    person: np.ndarray          # row -> person index 0..n-1
    design: np.ndarray          # N x p
    person_weight: np.ndarray   # n, mean 1
    recalls: np.ndarray         # n: rows per person (m_i)
    row_weight: np.ndarray = field(init=False)
    design_sums: np.ndarray = field(init=False)   # n x p: Σ_j x_ij
    weighted_xtx: np.ndarray = field(init=False)  # Σ w_i x_ij' x_ij
    levels: np.ndarray = field(init=False)        # distinct m
    level_of: np.ndarray = field(init=False)      # person -> level index
    level_weight: np.ndarray = field(init=False)  # Σ w_i per level
    level_sxx: np.ndarray = field(init=False)     # levels x p x p: Σ w_i s_i s_i'
    weighted_design: np.ndarray = field(init=False)   # N x p: w_i x_ij
    level_members: list = field(init=False)           # per level: its persons' indices
    level_sums_t: list = field(init=False)            # per level: p x its persons: s_i'
    n_rows_weighted: float = field(init=False)    # Σ w_i m_i

    def __post_init__(self) -> None:
        self.row_weight = self.person_weight[self.person]
        self.n_rows_weighted = float(np.dot(self.person_weight, self.recalls))
        n = self.recalls.size
        p = self.design.shape[1]
        self.design_sums = np.column_stack([
            np.bincount(self.person, weights=self.design[:, k], minlength=n) for k in range(p)])
        self.weighted_xtx = (self.design * self.row_weight[:, None]).T @ self.design
        self.levels, self.level_of = np.unique(self.recalls, return_inverse=True)
        self.level_weight = np.bincount(self.level_of, weights=self.person_weight, minlength=self.levels.size)
        weighted_sums = self.design_sums * self.person_weight[:, None]
        self.level_members = [np.flatnonzero(self.level_of == k) for k in range(self.levels.size)]
        self.level_sums_t = [np.ascontiguousarray(self.design_sums[m].T) for m in self.level_members]
        self.level_sxx = np.stack([weighted_sums[m].T @ self.design_sums[m] for m in self.level_members])
        self.weighted_design = self.design * self.row_weight[:, None]

    @classmethod
    def build(cls, person: np.ndarray, design: np.ndarray, person_weight: np.ndarray | None = None) -> "RandomInterceptData":
        person = np.asarray(person, dtype=np.int64)
        n = int(person.max()) + 1 if person.size else 0
        recalls = np.bincount(person, minlength=n).astype(float)
        weight = np.ones(n) if person_weight is None else np.asarray(person_weight, dtype=float)
        weight = weight / weight.mean()
        return cls(person=person, design=np.asarray(design, dtype=float), person_weight=weight, recalls=recalls)



@dataclass
class _Moments:
    """The y-dependent sums of one fit."""

    yty: float
    xty: np.ndarray
    level_sxy: np.ndarray   # levels x p: Σ w_i s_i ysum_i
    level_syy: np.ndarray   # levels: Σ w_i ysum_i²


def _moments(data: RandomInterceptData, y: np.ndarray) -> _Moments:
    n = data.recalls.size
    y_sums = np.bincount(data.person, weights=y, minlength=n)
    weighted = data.person_weight * y_sums
    levels = data.levels.size
    return _Moments(yty=float(np.dot(data.row_weight, y * y)),
                    xty=y @ data.weighted_design,
                    level_sxy=np.stack([sums_t @ weighted[members]
                                        for sums_t, members in zip(data.level_sums_t, data.level_members)]),
                    level_syy=np.bincount(data.level_of, weights=weighted * y_sums, minlength=levels))


def _profile(data: RandomInterceptData, moments: _Moments, log_ratio: float, reml: bool):
    """(-2 × profiled log-likelihood, β, σ²_w) at γ = exp(log_ratio)."""
    gamma = np.exp(log_ratio)
    c = gamma / (1.0 + data.levels * gamma)
    p = data.design.shape[1]
    xtvx = data.weighted_xtx - (c @ data.level_sxx.reshape(c.size, p * p)).reshape(p, p)
    xtvy = moments.xty - c @ moments.level_sxy
    try:
        beta = np.linalg.solve(xtvx, xtvy)
    except np.linalg.LinAlgError:
        beta = np.linalg.lstsq(xtvx, xtvy, rcond=None)[0]
    between = moments.level_syy - 2 * (moments.level_sxy @ beta) + np.einsum("i,kij,j->k", beta, data.level_sxx, beta)
    quadratic = moments.yty - 2 * float(beta @ moments.xty) + float(beta @ data.weighted_xtx @ beta) \
        - float(c @ between)
    dof = data.n_rows_weighted - (p if reml else 0)
    sigma2_w = max(quadratic, 1e-300) / dof
    log_det_v = float(data.level_weight @ np.log1p(data.levels * gamma))
    deviance = dof * (np.log(2 * np.pi * sigma2_w) + 1.0) + log_det_v
    if reml:
        sign, log_det_x = np.linalg.slogdet(xtvx)
        deviance += log_det_x if sign > 0 else np.inf
    return deviance, beta, sigma2_w


@dataclass
class RandomInterceptFit:
    beta: np.ndarray
    var_within: float
    var_between: float
    loglik: float
    converged: bool
    message: str = ""


def fit_random_intercept(data: RandomInterceptData, y: np.ndarray, *, reml: bool = True) -> RandomInterceptFit:
    """(RE)ML fit of the random-intercept model for transformed amounts y."""
    moments = _moments(data, np.asarray(y, dtype=float))
    low, high = LOG_RATIO_BOUNDS
    grid = np.linspace(low, high, 7)
    deviances = np.array([_profile(data, moments, t, reml)[0] for t in grid])
    best = int(np.nanargmin(deviances))
    bracket = (grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)])
    result = minimize_scalar(lambda t: _profile(data, moments, t, reml)[0], bounds=bracket,
                             method="bounded", options={"xatol": 1e-7})
    log_ratio = float(result.x) if result.success and result.fun <= deviances[best] else float(grid[best])
    deviance, beta, sigma2_w = _profile(data, moments, log_ratio, reml)
    converged = bool(np.isfinite(deviance)) and bool(result.success)
    message = ""
    if log_ratio <= low + 1e-3:
        message = ("between-person variance is 0: the likelihood is highest at σ²_b = 0 (a person's recalls "
                   "differ as much as different persons' do)")
    elif log_ratio >= high - 1e-3:
        converged = False
        message = "within-person variance is 0 (the likelihood is highest at the upper bound of σ²_b/σ²_w)"
    elif not converged:
        message = "the optimisation of the variance ratio did not converge"
    var_between = 0.0 if message.startswith("between") else sigma2_w * np.exp(log_ratio)
    return RandomInterceptFit(beta=beta, var_within=float(sigma2_w), var_between=float(var_between),
                              loglik=-0.5 * float(deviance), converged=converged, message=message)


def random_intercept_loglik(data: RandomInterceptData):
    """The maximised ML log-likelihood of the model as a function of y: what λ is chosen by."""
    def loglik(y: np.ndarray) -> float:
        return fit_random_intercept(data, y, reml=False).loglik
    return loglik


@dataclass
class OnePartFit:
    """The fitted one-part model: everything DISTRIB and INDIVINT need."""

    lam: float
    shift: float
    beta: np.ndarray
    names: list[str]
    var_within: float
    var_between: float
    converged: bool
    n_persons: int
    n_with_repeat: int
    message: str = ""

    def coefficient(self, name: str) -> float:
        return float(self.beta[self.names.index(name)])


def fit_one_part(amounts: np.ndarray, data: RandomInterceptData, names: list[str], *,
                 lam: float | None = None, shift: float | None = None) -> OnePartFit:
    """Choose λ (ML of the mixed model incl. the Jacobian), then fit the mixed model by REML at that λ.

    `lam` and `shift` may be given instead (e.g. to reproduce a published fit); replicates refit λ."""
    amounts = np.asarray(amounts, dtype=float)
    shift = minimum_amount_shift(amounts) if shift is None else shift
    shifted = amounts + shift
    if lam is None:
        lam = choose_lambda(shifted, random_intercept_loglik(data), weights=data.row_weight)
    fit = fit_random_intercept(data, boxcox(shifted, lam), reml=True)
    return OnePartFit(lam=float(lam), shift=float(shift), beta=fit.beta, names=list(names),
                      var_within=fit.var_within, var_between=fit.var_between, converged=fit.converged,
                      n_persons=int(data.recalls.size), n_with_repeat=int((data.recalls >= 2).sum()),
                      message=fit.message)
