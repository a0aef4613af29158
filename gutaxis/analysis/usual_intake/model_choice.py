"""Which usual-intake model a component's recall days get: one-part, two-part, or none, with the reason.

The NCI method fits the one-part (amount-only) model to components eaten nearly every day by nearly
everyone, and the two-part model to episodically eaten ones. NCHS's NHANES dietary tutorial puts the
boundary at components "not consumed every day for more than about 5 % of the population" (NHANES
Dietary Tutorial, Module 20, Estimating distributions of usual intake, CDC/NCHS); the macros leave
the call to the analyst. gutaxis decides on the share of recall days with a zero amount, which the
data show directly: above `TWO_PART_ZERO_SHARE` of days the two-part model, at or below it the
one-part model (whose minimum-amount shift absorbs the few zero days). A cohort spec may force
either model per component.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Share of recall days with a zero amount above which a component is treated as episodic. The NCI
# macros fix no number; 10 % is this project's convention (a share of days, where the NCHS tutorial
# speaks of persons), chosen so that a one-part model never has to absorb more than 1 day in 10 at
# its shifted minimum amount. Override it per cohort (usual_intake: {two_part_zero_share: ...}) or
# force a model per component.
TWO_PART_ZERO_SHARE = 0.10
MODELS = ("one-part", "two-part")


@dataclass(frozen=True)
class ModelChoice:
    model: str | None       # "one-part", "two-part" or None (no model)
    reason: str
    zero_share: float


def choose_model(amounts: np.ndarray, *, forced: str | None = None,
                 two_part_zero_share: float = TWO_PART_ZERO_SHARE) -> ModelChoice:
    """The model for one component's day amounts (zeros included, no missing values)."""
    if forced is not None and forced not in MODELS:
        raise ValueError(f"usual-intake model {forced!r} is not one of {', '.join(MODELS)}")
    if not 0 <= two_part_zero_share < 1:
        raise ValueError(f"two_part_zero_share must be in [0, 1), not {two_part_zero_share}")
    amounts = np.asarray(amounts, dtype=float)
    if amounts.size == 0:
        return ModelChoice(None, "no recall day has a value", float("nan"))
    zero_share = float(np.mean(amounts == 0))
    percent = f"{100 * zero_share:.1f} % of {amounts.size} recall days are 0"
    if zero_share == 1:
        return ModelChoice(None, f"all {amounts.size} recall days are 0", zero_share)
    if forced == "two-part" and zero_share == 0:
        return ModelChoice("one-part", f"two-part asked for, but eaten on every recall day ({percent}): "
                           "the probability part has nothing to fit, one-part used", zero_share)
    if forced is not None:
        return ModelChoice(forced, f"{forced} as the spec asks ({percent})", zero_share)
    limit = f"{100 * two_part_zero_share:g} %"
    if zero_share > two_part_zero_share:
        return ModelChoice("two-part", f"episodic: {percent} (> {limit})", zero_share)
    return ModelChoice("one-part", f"eaten nearly every day: {percent} (<= {limit})", zero_share)
