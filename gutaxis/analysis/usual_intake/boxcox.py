"""The Box-Cox transformation of day amounts: λ by maximum likelihood, the minimum-amount shift, and back.

λ is searched in [0.01, 1]: a coarse grid (step 0.1, so that a second local maximum is not
missed), then a bounded Brent refinement around the best grid point. The likelihood maximised is
that of the model the amounts are then fitted with (the caller passes it: the random-intercept
model of `one_part`, or a plain linear model), plus the Jacobian of the transformation
(λ - 1) Σ w log x, so that likelihoods at different λ are comparable on the scale of the amounts.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.optimize import minimize_scalar

LAMBDA_BOUNDS = (0.01, 1.0)
LAMBDA_GRID_STEP = 0.1


def minimum_amount_shift(amounts: np.ndarray) -> float:
    """Half the smallest positive amount when some amounts are zero, else 0.

    The one-part model cannot transform a zero day; as the NCI macros do for amounts of a component
    eaten nearly every day, a small constant (half the smallest positive amount) is added before
    the transformation, and taken off again after the back-transformation (`inverse_boxcox`)."""
    amounts = np.asarray(amounts, dtype=float)
    if not (amounts == 0).any():
        return 0.0
    positive = amounts[amounts > 0]
    return float(positive.min() / 2.0) if positive.size else 0.0


def boxcox(amounts: np.ndarray, lam: float) -> np.ndarray:
    """(x^λ - 1)/λ, or log x at λ = 0; x must be positive (shift zeros first)."""
    amounts = np.asarray(amounts, dtype=float)
    if lam == 0:
        return np.log(amounts)
    return np.expm1(lam * np.log(amounts)) / lam


def inverse_boxcox(transformed: np.ndarray, lam: float, shift: float = 0.0) -> np.ndarray:
    """The amount whose transform is `transformed`, less the shift, floored at 0.

    Where 1 + λz ≤ 0 (a normal draw far in the left tail, λ > 0) no amount has that transform:
    the amount is 0, the transform's lower limit."""
    z = np.asarray(transformed, dtype=float)
    if lam == 0:
        amount = np.exp(z)
    else:
        base = 1.0 + lam * z
        amount = np.where(base > 0, np.exp(np.log(np.maximum(base, 1e-300)) / lam), 0.0)
    if shift:
        amount = np.maximum(amount - shift, 0.0)
    return amount


def choose_lambda(amounts: np.ndarray, model_loglik: Callable[[np.ndarray], float],
                  weights: np.ndarray | None = None,
                  bounds: tuple[float, float] = LAMBDA_BOUNDS) -> float:
    """The λ in `bounds` that maximises model_loglik(boxcox(x, λ)) + the log Jacobian.

    `model_loglik` returns the maximised (ML) log likelihood of the model for transformed
    amounts; `weights` are the row weights that model uses (for the Jacobian)."""
    amounts = np.asarray(amounts, dtype=float)
    if (amounts <= 0).any():
        raise ValueError("Box-Cox amounts must be positive: add minimum_amount_shift first")

    logs = np.log(amounts)
    log_total = float(logs.sum() if weights is None else np.dot(weights, logs))

    def profile(lam: float) -> float:
        return model_loglik(np.expm1(lam * logs) / lam) + (lam - 1.0) * log_total

    low, high = bounds
    grid = np.unique(np.clip(np.arange(low, high + LAMBDA_GRID_STEP / 2, LAMBDA_GRID_STEP), low, high))
    values = np.array([profile(lam) for lam in grid])
    best = int(np.nanargmax(values))
    bracket = (grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)])
    refined = minimize_scalar(lambda lam: -profile(lam), bounds=bracket, method="bounded",
                              options={"xatol": 1e-3})
    if refined.success and -refined.fun >= values[best]:
        return float(refined.x)
    return float(grid[best])


def linear_model_loglik(design: np.ndarray, weights: np.ndarray | None = None) -> Callable[[np.ndarray], float]:
    """The maximised log likelihood of a (weighted) linear model with this design, as a function of y."""
    w = np.ones(design.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    root_w = np.sqrt(w)
    weighted_design = design * root_w[:, None]
    total_weight = w.sum()

    def loglik(y: np.ndarray) -> float:
        coef, *_ = np.linalg.lstsq(weighted_design, y * root_w, rcond=None)
        residual = y - design @ coef
        sigma2 = float(np.dot(w, residual * residual)) / total_weight
        return -0.5 * total_weight * (np.log(2 * np.pi * sigma2) + 1.0)

    return loglik
