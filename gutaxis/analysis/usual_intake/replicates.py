"""Replicate weights for the standard errors: Fay's balanced repeated replication, or a bootstrap.

**Fay's BRR** (what the NCI method does for NHANES, with Fay factor 0.3): each stratum's PSUs are
split into two halves; replicate r multiplies the weights of one half by 2 - ρ and of the other by
ρ, the half chosen by the sign of row r, column h of a Hadamard matrix (Sylvester's construction:
its order R is a power of 2; column 0, all +1, is skipped, so R must exceed the number of strata).
Then SE² = Σ_r (θ_r - θ)² / (R (1 - ρ)²).

Strata without exactly 2 PSUs: a stratum with 3 or more PSUs is split into two halves by
alternating its PSUs in sorted order (the halves differ by one PSU when the count is odd: an
approximation); a stratum with a single PSU cannot be split and keeps its weights in every
replicate, so it adds no variance (the result says how many persons that concerns).

**Bootstrap** (no design): replicate r multiplies each person's weight by how many times the
person was drawn in a resample of the persons with replacement; SE² = Σ_r (θ_r - θ̄)² / (R - 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FAY_FACTOR = 0.3
DEFAULT_BOOTSTRAP_REPLICATES = 100


def sylvester_hadamard(order: int) -> np.ndarray:
    """The Hadamard matrix of a power-of-2 order, by Sylvester's doubling."""
    if order < 1 or order & (order - 1):
        raise ValueError(f"a Sylvester Hadamard matrix needs a power of 2, not {order}")
    matrix = np.ones((1, 1), dtype=np.int8)
    while matrix.shape[0] < order:
        matrix = np.block([[matrix, matrix], [matrix, -matrix]])
    return matrix


def brr_replicate_count(n_strata: int) -> int:
    """The smallest power of 2 greater than the number of strata (16 for NHANES' 15)."""
    order = 1
    while order <= n_strata:
        order *= 2
    return order


@dataclass
class ReplicateWeights:
    """Replicate weight multipliers (persons x R) and how to turn replicate estimates into an SE."""

    multipliers: np.ndarray
    method: str                 # "fay-brr" | "bootstrap"
    fay: float = FAY_FACTOR
    unsplit_persons: int = 0    # persons in single-PSU strata (BRR): they add no variance

    @property
    def count(self) -> int:
        return self.multipliers.shape[1]

    def standard_error(self, estimate: np.ndarray, replicate_estimates: np.ndarray) -> np.ndarray:
        """SE from the full-sample estimate(s) and a (R, ...) array of replicate estimates."""
        replicate_estimates = np.asarray(replicate_estimates, dtype=float)
        if self.method == "fay-brr":
            deviations = replicate_estimates - np.asarray(estimate, dtype=float)
            return np.sqrt((deviations ** 2).sum(axis=0) / (self.count * (1.0 - self.fay) ** 2))
        return np.nanstd(replicate_estimates, axis=0, ddof=1)


def fay_brr(strata: np.ndarray, psu: np.ndarray, replicates: int | None = None, fay: float = FAY_FACTOR) -> ReplicateWeights:
    """Fay-BRR multipliers for persons with these strata and PSUs."""
    strata_codes, stratum_of = np.unique(np.asarray(strata), return_inverse=True)
    n_strata = strata_codes.size
    order = brr_replicate_count(n_strata) if replicates is None else int(replicates)
    if order <= n_strata or order & (order - 1):
        raise ValueError(f"Fay BRR with {n_strata} strata needs a power of 2 above {n_strata} replicates "
                         f"(e.g. {brr_replicate_count(n_strata)}), not {order}")
    signs = sylvester_hadamard(order)[:, 1:n_strata + 1]   # R x H
    half = np.zeros(stratum_of.size, dtype=np.int8)        # +1 / -1 half of the stratum, 0 = unsplit
    psu = np.asarray(psu)
    for h in range(n_strata):
        in_stratum = stratum_of == h
        psus, psu_of = np.unique(psu[in_stratum], return_inverse=True)
        if psus.size >= 2:
            half[in_stratum] = np.where(psu_of % 2 == 0, 1, -1)
    sign = signs[:, stratum_of].T * half[:, None]           # persons x R
    multipliers = np.where(sign > 0, 2.0 - fay, np.where(sign < 0, fay, 1.0))
    return ReplicateWeights(multipliers=multipliers, method="fay-brr", fay=fay,
                            unsplit_persons=int((half == 0).sum()))


def bootstrap(n_persons: int, replicates: int | None, rng: np.random.Generator) -> ReplicateWeights:
    """Bootstrap multipliers: persons x R counts of each person in R resamples of the persons."""
    count = DEFAULT_BOOTSTRAP_REPLICATES if replicates is None else int(replicates)
    if count < 2:
        raise ValueError(f"a bootstrap needs at least 2 replicates, not {count}")
    multipliers = np.empty((n_persons, count))
    for r in range(count):
        multipliers[:, r] = np.bincount(rng.integers(0, n_persons, n_persons), minlength=n_persons)
    return ReplicateWeights(multipliers=multipliers, method="bootstrap")
