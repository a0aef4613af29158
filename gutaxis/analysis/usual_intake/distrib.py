"""The usual-intake distribution from a fitted one-part model (what DISTRIB does), by Monte Carlo.

Each person gets `nsim` pseudo-persons, each carrying weight / nsim: a draw of the random
effect u ~ N(0, σ²_b) added to the person's linear predictor with the nuisance effects at their
reference (see `NuisanceReference`). A pseudo-person's usual intake is the mean of its daily
intake over the within-person error, E_e[g⁻¹(t + e)], e ~ N(0, σ²_w): that integral is taken by
9-node Gauss-Hermite quadrature (DISTRIB's own back-transformation is also a 9-point
approximation of this expectation). Percentiles and the mean are then weighted statistics of the
pseudo-persons, by domain: a domain is a subset of the pseudo-persons, never a refit, so no person
leaves the model.

Speed: the usual intake is a non-decreasing function h(t) of the pseudo-person's transformed usual
intake t (g⁻¹ is, and so are its expectation and the mix of day types). So a weighted percentile of
the intakes is h of that percentile of t, exactly, and the quadrature runs on a grid of t
(`UsualIntakeCurve`, 4,001 points, interpolated: a relative error below 1e-6) instead of on a
million pseudo-persons per replicate; and the percentiles of t come from a fine histogram
(`PseudoPersons`) rather than a sort.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from gutaxis.analysis.usual_intake.boxcox import inverse_boxcox

QUADRATURE_POINTS = 9
HISTOGRAM_BINS = 20_000
PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)
# A Friday-to-Sunday weekend (NCI's NHANES examples): 3 days of 7.
WEEKEND_SHARE = 3.0 / 7.0


def quadrature(points: int = QUADRATURE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (summing to 1) for E[f(Z)], Z ~ N(0, 1)."""
    nodes, weights = hermegauss(points)
    return nodes, weights / weights.sum()


@dataclass(frozen=True)
class NuisanceReference:
    """How the nuisance effects enter the usual intake: a mix of day types, each an offset on the
    transformed scale with a share of days (e.g. weekday 4/7 at offset 0, weekend 3/7 at offset
    β_weekend); the recall-sequence effect is at its reference, the first recall (offset 0)."""

    offsets: tuple[float, ...] = (0.0,)
    shares: tuple[float, ...] = (1.0,)

    @classmethod
    def weekend_mix(cls, weekend_effect: float, weekend_share: float = WEEKEND_SHARE) -> "NuisanceReference":
        return cls(offsets=(0.0, weekend_effect), shares=(1.0 - weekend_share, weekend_share))


def expected_amount(transformed_mean: np.ndarray, variance: float | np.ndarray, lam: float, shift: float,
                    nuisance: NuisanceReference = NuisanceReference()) -> np.ndarray:
    """E[g⁻¹(t + e)] with e ~ N(0, variance), mixed over the day types: the back-transformation."""
    nodes, weights = quadrature()
    t = np.asarray(transformed_mean, dtype=float)
    sd = np.sqrt(variance)
    total = np.zeros_like(t)
    for offset, share in zip(nuisance.offsets, nuisance.shares):
        for node, weight in zip(nodes, weights):
            total += (share * weight) * inverse_boxcox(t + offset + sd * node, lam, shift)
    return total


def pseudo_person_intakes(linear_predictor: np.ndarray, normals: np.ndarray, *, lam: float, shift: float,
                          var_within: float, var_between: float,
                          nuisance: NuisanceReference = NuisanceReference()) -> np.ndarray:
    """Usual intakes of the pseudo-persons: persons x nsim, from standard normal draws of that shape."""
    transformed = linear_predictor[:, None] + np.sqrt(var_between) * normals
    return expected_amount(transformed, var_within, lam, shift, nuisance)


@dataclass(frozen=True)
class UsualIntakeCurve:
    """h(t) = E[g⁻¹(t + e)] tabulated on a grid of t covering the pseudo-persons."""

    grid: np.ndarray
    values: np.ndarray

    @classmethod
    def tabulate(cls, low: float, high: float, *, lam: float, shift: float, var_within: float,
                 nuisance: NuisanceReference = NuisanceReference(), points: int = 4001) -> "UsualIntakeCurve":
        grid = np.linspace(low, high, points) if high > low else np.array([low, low + 1e-9])
        return cls(grid=grid, values=expected_amount(grid, var_within, lam, shift, nuisance))

    def __call__(self, transformed: np.ndarray) -> np.ndarray:
        return np.interp(transformed, self.grid, self.values)


def pseudo_person_transformed(linear_predictor: np.ndarray, normals: np.ndarray, var_between: float) -> np.ndarray:
    """Transformed usual intakes t of the pseudo-persons: persons x nsim."""
    return linear_predictor[:, None] + np.sqrt(var_between) * normals


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, probabilities) -> np.ndarray:
    """Weighted quantiles: the smallest value whose cumulative weight share reaches p (ties averaged
    where the share lands exactly on p, as SAS's default definition does)."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    cumulative = np.cumsum(weights[order])
    cumulative /= cumulative[-1]
    probabilities = np.asarray(probabilities, dtype=float)
    index = np.searchsorted(cumulative, probabilities, side="left")
    index = np.minimum(index, sorted_values.size - 1)
    result = sorted_values[index]
    exact = np.isclose(cumulative[index], probabilities, rtol=0, atol=1e-12) & (index + 1 < sorted_values.size)
    result = np.where(exact, (result + sorted_values[np.minimum(index + 1, sorted_values.size - 1)]) / 2, result)
    return result


class PseudoPersons:
    """The pseudo-persons of one fit, binned once by t so that each domain's statistics cost one pass.

    A domain's weighted percentiles of t come from a histogram of its pseudo-persons' t in
    `HISTOGRAM_BINS` equal bins, interpolated linearly inside the bin where the cumulative weight
    reaches p (sorting a million pseudo-persons per domain and replicate was most of the run time;
    the bins are 1/20,000 of the range of t wide, far below the Monte-Carlo error). The mean uses
    each bin's weighted mean t, a second-order approximation."""

    def __init__(self, transformed: np.ndarray, person_weight: np.ndarray, curve: UsualIntakeCurve):
        self.transformed = transformed
        self.person_weight = person_weight
        self.curve = curve
        self.low = float(transformed.min())
        self.width = max((float(transformed.max()) - self.low) / HISTOGRAM_BINS, 1e-12)
        self.bin = np.minimum(((transformed - self.low) / self.width).astype(np.int32), HISTOGRAM_BINS - 1)
        self._intakes: np.ndarray | None = None

    def _histogram(self, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        everyone = bool(members.all())
        bins = self.bin if everyone else self.bin[members]
        transformed = self.transformed if everyone else self.transformed[members]
        weights = np.broadcast_to(self.person_weight[members][:, None], bins.shape)
        counts = np.bincount(bins.ravel(), weights=weights.ravel(), minlength=HISTOGRAM_BINS)
        sums = np.bincount(bins.ravel(), weights=(transformed * weights).ravel(), minlength=HISTOGRAM_BINS)
        return counts, sums

    def statistics(self, members: np.ndarray, percentiles=PERCENTILES) -> tuple[np.ndarray, float]:
        """Weighted percentiles and mean of the usual intakes of the pseudo-persons of `members` (persons mask)."""
        counts, sums = self._histogram(members)
        cumulative = np.cumsum(counts)
        total = cumulative[-1]
        if total <= 0:   # a bootstrap resample without any member of the domain
            return np.full(len(percentiles), np.nan), float("nan")
        targets = np.asarray(percentiles, dtype=float) / 100.0 * total
        index = np.minimum(np.searchsorted(cumulative, targets, side="left"), HISTOGRAM_BINS - 1)
        inside = np.clip((targets - (cumulative[index] - counts[index])) / np.maximum(counts[index], 1e-300), 0.0, 1.0)
        quantiles = self.curve(self.low + self.width * (index + inside))
        filled = counts > 0
        mean = float(np.dot(counts[filled], self.curve(sums[filled] / counts[filled])) / total)
        return quantiles, mean

    def shares_below(self, members: np.ndarray, cutpoints) -> np.ndarray:
        """Weighted share of the pseudo-persons of `members` whose usual intake is below each cut-point."""
        if len(cutpoints) == 0:
            return np.zeros(0)
        if self._intakes is None:
            self._intakes = self.curve(self.transformed)
        weights = self.person_weight[members]
        intakes = self._intakes[members]
        return np.array([float(np.dot((intakes < cut).mean(axis=1), weights) / weights.sum()) for cut in cutpoints])


def distribution_statistics(intakes: np.ndarray, person_weight: np.ndarray, members: np.ndarray,
                            percentiles=PERCENTILES) -> tuple[np.ndarray, float]:
    """Percentiles and mean of already back-transformed pseudo-person intakes (persons x nsim) of
    the persons in `members` (a boolean mask): the direct computation, without the curve."""
    values = intakes[members].ravel()
    weights = np.repeat(person_weight[members] / intakes.shape[1], intakes.shape[1])
    quantiles = weighted_quantiles(values, weights, np.asarray(percentiles, dtype=float) / 100.0)
    mean = float(np.dot(values, weights) / weights.sum())
    return quantiles, mean
