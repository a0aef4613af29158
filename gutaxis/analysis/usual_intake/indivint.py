"""Per-person predicted usual intake (what INDIVINT does), for regression calibration.

Given person i's m_i transformed recalls y_ij, the random effect's conditional distribution is
normal: u_i | y ~ N(μ_i, v_i) with

    μ_i = (m_i γ / (1 + m_i γ)) · mean_j(y_ij - x_ij β),   v_i = σ²_b / (1 + m_i γ),   γ = σ²_b / σ²_w

(the BLUP and its conditional variance). The person's usual intake is E_e[g⁻¹(t_i + u_i + e)]
with t_i the linear predictor at the nuisance reference; its conditional expectation given the
recalls is E[g⁻¹(t_i + μ_i + Z)], Z ~ N(0, v_i + σ²_w), because e is independent of u_i. That is
one 1-D integral per person, taken by the same quadrature as the distribution's back-transformation.

Why this and not the person's mean of recalls: regressing an outcome on the mean of one or two
recalls attenuates the slope by the factor σ²_b / (σ²_b + σ²_w / m) (on the transformed scale);
the conditional expectation E[usual | recalls] is the regression-calibration predictor, whose
regression of true usual intake on it has slope 1 (Kipnis et al., Biometrics 2009), so an outcome
model using it is not attenuated. The outcome model's covariates must be covariates of this model
too, or the calibration is not valid for that outcome model.
"""
from __future__ import annotations

import numpy as np

from gutaxis.analysis.usual_intake.distrib import NuisanceReference, expected_amount
from gutaxis.analysis.usual_intake.one_part import OnePartFit, RandomInterceptData


def conditional_random_effect(fit: OnePartFit, data: RandomInterceptData, transformed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(μ_i, v_i): the mean (BLUP) and variance of each person's random effect given the recalls."""
    n = data.recalls.size
    residual_sums = np.bincount(data.person, weights=transformed - data.design @ fit.beta, minlength=n)
    gamma = fit.var_between / fit.var_within
    shrink = gamma / (1.0 + data.recalls * gamma)
    return shrink * residual_sums, fit.var_between / (1.0 + data.recalls * gamma)


def predicted_usual_intake(fit: OnePartFit, data: RandomInterceptData, transformed: np.ndarray,
                           linear_predictor: np.ndarray, nuisance: NuisanceReference = NuisanceReference()) -> np.ndarray:
    """E[usual intake | recalls, covariates] per person, on the scale of the amounts."""
    blup, variance = conditional_random_effect(fit, data, transformed)
    return expected_amount(linear_predictor + blup, variance + fit.var_within, fit.lam, fit.shift, nuisance)


def missing_calibration_covariates(outcome_covariates: list[str], usual_intake_covariates: list[str]) -> list[str]:
    """The outcome model's covariates that the usual-intake model lacks, in the outcome model's order.

    The prediction is E[usual | recalls, the usual-intake model's covariates]; an outcome model that
    adjusts for a covariate Z outside that set regresses on a predictor that ignored Z, and the
    calibration no longer removes the attenuation (Kipnis et al. 2009). Empty means valid."""
    return [c for c in outcome_covariates if c not in set(usual_intake_covariates)]
