"""One component's usual intake by the two-part model, in the shape `estimate_usual_intake` returns:
the distribution rows (with the probability part's person variance and the correlation of the two
person effects beside λ and the amount part's variances), per-person predictions, domains, the
one-day distribution and replicate SEs. The steps shared with the one-part model (preparing the
days, domains, replicate weights, the one-day frame) are the package's own helpers."""
from __future__ import annotations

import numpy as np
import polars as pl

from gutaxis import GutaxisError
from gutaxis.analysis import usual_intake as engine
from gutaxis.analysis.usual_intake.model_choice import ModelChoice
from gutaxis.analysis.usual_intake.two_part import (EpisodicDays, TwoPartFit, fit_two_part,
                                                    predict_usual_intake, simulate_usual_intake)

MODEL = "two-part"
# Persons with two or more eating days: only they separate the amount part's within- from its
# between-person variance. A floor of this project (the macros set none): below it the amount
# part's variance split rests on too few pairs to be worth reporting.
MIN_PERSONS_WITH_TWO_EATING_DAYS = 30
# A person-effect SD at the optimiser's lower bound (1e-3 on the logit scale; 1e-4 for the
# standardised amount) means that variance is estimated at 0.
_VARIANCE_FLOOR = 1e-5
# |correlation| above this is reported as at its boundary (the fit is kept: it is the ML estimate)
BOUNDARY_CORRELATION = 0.999


def estimate_two_part(prepared, *, component: str, choice: ModelChoice, nsim: int, replicates: int | None,
                      seed: int, percentiles, cutpoints, weekend_share: float,
                      lam: float | None = None) -> "engine.UsualIntakeResult":
    """The two-part model for days `_prepare` has checked; 'not estimable: reason' where it cannot run."""
    notes = prepared.notes + [f"two-part model: {choice.reason}"]

    def not_estimable(reason: str, fit: TwoPartFit | None = None):
        result = engine._not_estimable(reason, notes, prepared, percentiles)
        result.fit, result.model, result.model_reason = fit, MODEL, choice.reason
        return result

    reason = engine._data_reason(prepared) or _episodic_data_reason(prepared)
    if reason:
        return not_estimable(reason)
    days = _episodic_days(prepared, prepared.person_weight)
    try:
        fit = fit_two_part(days, lam=lam)
    except GutaxisError as error:
        return not_estimable(str(error))
    reason = _fit_reason(fit)
    if reason:
        return not_estimable(reason, fit)

    if abs(fit.correlation) > BOUNDARY_CORRELATION:
        notes.append(f"the two parts' person effects have correlation {fit.correlation:.3f}, at the boundary: "
                     "how often and how much a person eats are estimated as one person trait")
    rng = np.random.default_rng(seed)
    normals = rng.standard_normal((2, days.n_persons, nsim))
    person_rows = _person_rows(prepared)
    scenarios = _scenarios(prepared.nuisance_names, weekend_share)
    intakes = simulate_usual_intake(fit, person_rows, normals=normals, scenarios=scenarios)
    groups = engine._domain_groups(prepared)
    layout = engine._Layout(tuple(percentiles), tuple(cutpoints))
    pseudo = _PseudoPersonIntakes(intakes, prepared.person_weight)
    estimates = {key: pseudo.statistics(members, layout)
                 for key, (members, status) in groups.items() if status == "estimated"}

    replicate_weights = engine._replicate_weights(prepared, replicates, rng)
    errors: dict = {}
    if replicate_weights is not None:
        errors, failed = _replicate_errors(prepared, fit, replicate_weights, normals, person_rows, scenarios,
                                           groups, estimates, layout, lam)
        notes += engine._replicate_notes(replicate_weights, failed, bool(errors), "a person variance 0")

    per_person = pl.DataFrame({
        "participant_id": prepared.participant_ids,
        "usual_intake": predict_usual_intake(fit, days, person_rows, scenarios),
    })
    return engine.UsualIntakeResult(
        status="estimated",
        distribution=_distribution_frame(component, fit, groups, estimates, errors, layout, prepared),
        per_person=per_person,
        domains=engine._domain_frame(groups, estimates, errors, layout, prepared),
        shares=engine._shares_frame(estimates, errors, layout),
        one_day=engine._one_day_frame(prepared, groups, percentiles),
        fit=fit,
        replicate_method=None if replicate_weights is None else replicate_weights.method,
        notes=notes,
        model=MODEL,
        model_reason=choice.reason,
    )


def _episodic_data_reason(prepared) -> str:
    eaten = prepared.amount > 0
    if eaten.all():
        return ("eaten on every recall day (no zero day): the two-part model has no probability to fit; "
                "use the one-part model")
    eating_days = np.bincount(prepared.person[eaten], minlength=prepared.recalls.size)
    two_eating_days = int((eating_days >= 2).sum())
    if two_eating_days < MIN_PERSONS_WITH_TWO_EATING_DAYS:
        return (f"only {two_eating_days} persons ate it on 2 or more recall days; at least "
                f"{MIN_PERSONS_WITH_TWO_EATING_DAYS} are needed to separate the amount's within- from "
                "its between-person variance")
    design = prepared.design[eaten]
    if np.linalg.matrix_rank(design) < design.shape[1]:
        constant = [name for k, name in enumerate(prepared.names[1:], 1) if np.ptp(design[:, k]) == 0]
        detail = f": {', '.join(constant)} constant" if constant else ""
        return f"the model's covariates are collinear on the eating days{detail}"
    return ""


def _fit_reason(fit: TwoPartFit) -> str:
    if fit.var_between_probability < _VARIANCE_FLOOR:
        return "the probability part's between-person variance is estimated at 0"
    if fit.var_between_amount < _VARIANCE_FLOOR * fit.scale**2:
        return "the amount part's between-person variance is estimated at 0"
    if not fit.converged:
        return (f"the two-part model did not converge ({fit.message}; largest score component "
                f"{fit.gradient_norm:.2g})")
    return ""


def _episodic_days(prepared, person_weight: np.ndarray) -> EpisodicDays:
    return EpisodicDays(person=prepared.person, design=prepared.design, eaten=prepared.amount > 0,
                        amount=prepared.amount, weight=person_weight / person_weight.mean(),
                        person_ids=prepared.participant_ids.to_numpy(), columns=tuple(prepared.names))


def _person_rows(prepared) -> np.ndarray:
    """Each person's design row at the nuisance reference (every nuisance column 0: the first recall,
    a weekday); `_scenarios` sets the weekend column where the mix asks for it."""
    rows = np.zeros((prepared.recalls.size, prepared.design.shape[1]))
    rows[:, :prepared.covariate_count] = prepared.person_design
    return rows


def _scenarios(nuisance_names: list[str], weekend_share: float):
    """Usual intake mixes weekdays and weekend days at their shares; both parts move with the day."""
    if engine.WEEKEND not in nuisance_names or weekend_share == 0:
        return None
    return [({engine.WEEKEND: 0.0}, 1.0 - weekend_share), ({engine.WEEKEND: 1.0}, weekend_share)]


HISTOGRAM_BINS = 20_000


class _PseudoPersonIntakes:
    """The pseudo-persons' usual intakes (persons x nsim), binned once on the log scale so that each
    domain's percentiles cost one weighted count, not a sort of a million values (as the engine's
    PseudoPersons does on the transformed scale; the two-part intake is not a monotone function of one
    transformed value, so it is binned itself). Bins are 1/20,000 of the log range wide (0.1 % of the
    value for a thousand-fold range), interpolated inside: far below the Monte-Carlo error."""

    def __init__(self, intakes: np.ndarray, person_weight: np.ndarray):
        self.intakes = intakes
        self.person_weight = person_weight
        positive = intakes[intakes > 0]
        self.low = float(np.log(positive.min())) if positive.size else 0.0
        high = float(np.log(positive.max())) if positive.size else 1.0
        self.width = max((high - self.low) / HISTOGRAM_BINS, 1e-12)
        logs = np.log(np.where(intakes > 0, intakes, np.exp(self.low)))
        self.bin = np.minimum(((logs - self.low) / self.width).astype(np.int32), HISTOGRAM_BINS - 1)

    def statistics(self, members: np.ndarray, layout) -> np.ndarray:
        """One domain's percentiles, mean and shares below the cut-points, in the engine's layout."""
        nsim = self.intakes.shape[1]
        weights = self.person_weight[members]
        counts = np.bincount(self.bin[members].ravel(), weights=np.repeat(weights, nsim),
                             minlength=HISTOGRAM_BINS)
        cumulative = np.cumsum(counts)
        targets = np.asarray(layout.percentiles, dtype=float) / 100.0 * cumulative[-1]
        index = np.minimum(np.searchsorted(cumulative, targets, side="left"), HISTOGRAM_BINS - 1)
        inside = np.clip((targets - (cumulative[index] - counts[index])) / np.maximum(counts[index], 1e-300), 0, 1)
        quantiles = np.exp(self.low + self.width * (index + inside))
        intakes = self.intakes[members]
        mean = float(np.dot(intakes.mean(axis=1), weights) / weights.sum())
        shares = [float(np.dot((intakes < cut).mean(axis=1), weights) / weights.sum()) for cut in layout.cutpoints]
        return np.r_[quantiles, mean, shares]


def _replicate_errors(prepared, fit, replicate_weights, normals, person_rows, scenarios, groups, estimates,
                      layout, lam):
    """SEs of each estimated domain's percentiles and mean: the model (λ too, unless fixed) refitted
    per replicate from the full sample's estimates, the pseudo-persons' normal draws kept."""
    collected = {key: [] for key in estimates}
    failed = 0
    for r in range(replicate_weights.count):
        weights = prepared.person_weight * replicate_weights.multipliers[:, r]
        try:
            replicate_fit = fit_two_part(_episodic_days(prepared, weights), lam=lam, start=fit)
        except GutaxisError:
            failed += 1
            continue
        if _fit_reason(replicate_fit):
            failed += 1
            continue
        intakes = simulate_usual_intake(replicate_fit, person_rows, normals=normals, scenarios=scenarios)
        pseudo = _PseudoPersonIntakes(intakes, weights)
        for key in estimates:
            collected[key].append(pseudo.statistics(groups[key][0], layout))
    # as for the one-part model: BRR's balance needs every replicate, a bootstrap does without a resample
    if (failed and replicate_weights.method == "fay-brr") or replicate_weights.count - failed < 2:
        return {}, failed
    return {key: replicate_weights.standard_error(estimate, np.vstack(collected[key]))
            for key, estimate in estimates.items()}, failed


def _distribution_frame(component, fit: TwoPartFit, groups, estimates, errors, layout, prepared):
    return engine._distribution_frame(component, fit, groups, estimates, errors, layout, prepared, model=MODEL,
                                      fit_columns={"lambda": fit.lam, "var_within": fit.var_within_amount,
                                                   "var_between": fit.var_between_amount,
                                                   "var_between_probability": fit.var_between_probability,
                                                   "corr_between": fit.correlation})
