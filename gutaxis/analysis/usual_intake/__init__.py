"""Usual intake by the NCI method (Tooze et al. 2006; Kipnis et al. 2009), one-part model.

`estimate_usual_intake` takes one component's recall days and returns its usual-intake
distribution (percentiles, mean, SEs, by domain), each person's predicted usual intake, and a
status: "estimated" or "not estimable: <reason>", never a traceback for data that cannot carry
the model. The steps, each in its own module: boxcox (λ, the zero shift), one_part (the mixed
model), distrib (the distribution), indivint (per person), replicates (SEs).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import polars as pl

from gutaxis import GutaxisError
from gutaxis.analysis.usual_intake.boxcox import boxcox
from gutaxis.analysis.usual_intake.distrib import (PERCENTILES, WEEKEND_SHARE, NuisanceReference,
                                                   PseudoPersons, UsualIntakeCurve, pseudo_person_transformed,
                                                   weighted_quantiles)
from gutaxis.analysis.usual_intake.indivint import predicted_usual_intake
from gutaxis.analysis.usual_intake.one_part import OnePartFit, RandomInterceptData, fit_one_part
from gutaxis.analysis.usual_intake.replicates import ReplicateWeights, bootstrap, fay_brr

# Below 50 persons with a repeat recall the within-person variance rests on too few pairs for a
# usable split of the variance (the NCI method's advice is a repeat on a subsample of at least
# about 50; the macros themselves run on fewer and leave the judgement to the analyst).
MIN_PERSONS_WITH_REPEAT = 50
# A domain's percentiles from fewer than 30 persons are not reported (the smallest sample NCHS's
# presentation standards accept for an estimate; Parker et al., Vital Health Stat 2(175), 2017).
MIN_DOMAIN_PERSONS = 30
RECALL_SEQUENCE = "recall_sequence"   # nuisance derived from recall_day: 1 on the 2nd and later recalls
WEEKEND = "weekend"
MODEL = "one-part"

DISTRIBUTION_SCHEMA = {
    "component_id": pl.String, "domain": pl.String, "domain_value": pl.String, "percentile": pl.Float64,
    "value": pl.Float64, "se": pl.Float64, "mean": pl.Float64, "model": pl.String, "lambda": pl.Float64,
    "var_within": pl.Float64, "var_between": pl.Float64, "n_persons": pl.Int64, "n_with_repeat": pl.Int64,
}
DOMAIN_SCHEMA = {"domain": pl.String, "domain_value": pl.String, "n_persons": pl.Int64,
                 "n_with_repeat": pl.Int64, "status": pl.String, "mean": pl.Float64, "mean_se": pl.Float64}
ONE_DAY_SCHEMA = {"domain": pl.String, "domain_value": pl.String, "percentile": pl.Float64,
                  "value": pl.Float64, "mean": pl.Float64}


@dataclass
class UsualIntakeResult:
    """One component's usual intake; `distribution` has the columns of marts.usual_intake_distribution
    less cohort, `domains` one row per domain value with its status and the mean's SE, `one_day`
    the distribution of first-recall amounts for comparison."""

    status: str
    distribution: pl.DataFrame
    per_person: pl.DataFrame
    domains: pl.DataFrame
    one_day: pl.DataFrame
    fit: OnePartFit | None = None
    replicate_method: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def estimated(self) -> bool:
        return self.status == "estimated"


def estimate_usual_intake(days: pl.DataFrame, *, component: str, covariates: Sequence[str] = (),
                          nuisance: Sequence[str] = (), weight: str | None = None,
                          design: tuple[str, str] | None = None, domains: Sequence[str] = (),
                          nsim: int = 100, replicates: int | None = None, seed: int = 0,
                          percentiles: Sequence[float] = PERCENTILES,
                          weekend_share: float = WEEKEND_SHARE) -> UsualIntakeResult:
    """The NCI one-part model for one component's recall days.

    `days`: participant_id, recall_day, amount, and the covariate, nuisance, weight, design and
    domain columns (person-level columns are taken from the person's first recall). `nuisance` may
    name `recall_sequence` (derived from recall_day) and `weekend` (a 0/1 column, mixed in at
    `weekend_share` of days). `replicates`: the number of BRR replicates (with `design`) or
    bootstrap resamples (without); 0 for no SEs."""
    if nsim < 1:
        raise GutaxisError(f"usual intake of {component}: nsim must be at least 1, not {nsim}")
    prepared = _prepare(days, component=component, covariates=list(covariates), nuisance=list(nuisance),
                        weight=weight, design=design, domains=list(domains))
    if isinstance(prepared, str):
        return _not_estimable(prepared, [])
    notes = prepared.notes
    reason = _data_reason(prepared)
    if reason:
        return _not_estimable(reason, notes, prepared, percentiles)

    data = RandomInterceptData.build(prepared.person, prepared.design, prepared.person_weight)
    fit = fit_one_part(prepared.amount, data, prepared.names)
    reason = _fit_reason(fit)
    if reason:
        return _not_estimable(reason, notes, prepared, percentiles, fit)

    rng = np.random.default_rng(seed)
    normals = rng.standard_normal((data.recalls.size, nsim))
    reference = _nuisance_reference(fit, prepared.nuisance_names, weekend_share)
    pseudo = _pseudo_persons(fit, prepared, normals, prepared.person_weight, reference)
    groups = _domain_groups(prepared)
    estimates = {key: pseudo.statistics(members, percentiles)
                 for key, (members, status) in groups.items() if status == "estimated"}

    replicate_weights = _replicate_weights(prepared, replicates, rng)
    standard_errors: dict = {}
    if replicate_weights is not None:
        standard_errors, failed = _replicate_errors(prepared, replicate_weights, normals, groups, estimates,
                                                    percentiles, weekend_share)
        if failed:
            notes.append(f"{failed} of {replicate_weights.count} replicates could not be fitted: no SEs")
        if replicate_weights.unsplit_persons:
            notes.append(f"{replicate_weights.unsplit_persons} persons are in strata with one PSU: "
                         "they add no variance to the BRR SEs")

    transformed = boxcox(prepared.amount + fit.shift, fit.lam)
    per_person = pl.DataFrame({
        "participant_id": prepared.participant_ids,
        "usual_intake": predicted_usual_intake(fit, data, transformed, _reference_predictor(fit, prepared), reference),
    })
    return UsualIntakeResult(
        status="estimated",
        distribution=_distribution_frame(component, fit, groups, estimates, standard_errors, percentiles, prepared),
        per_person=per_person,
        domains=_domain_frame(groups, estimates, standard_errors, prepared),
        one_day=_one_day_frame(prepared, groups, percentiles),
        fit=fit,
        replicate_method=None if replicate_weights is None else replicate_weights.method,
        notes=notes,
    )


@dataclass
class _Prepared:
    amount: np.ndarray              # per recall day
    person: np.ndarray              # per recall day -> person index
    design: np.ndarray              # per recall day: intercept, covariates, nuisance
    names: list[str]
    covariate_count: int            # the first columns of design that are not nuisance
    nuisance_names: list[str]
    participant_ids: pl.Series      # per person
    person_weight: np.ndarray       # per person
    person_design: np.ndarray       # per person: intercept + covariates at the first recall
    first_amount: np.ndarray        # per person: the amount of the first recall
    recalls: np.ndarray             # per person
    strata: np.ndarray | None
    psu: np.ndarray | None
    domain_values: dict[str, np.ndarray]
    notes: list[str]


def _prepare(days: pl.DataFrame, *, component, covariates, nuisance, weight, design, domains):
    derived = [RECALL_SEQUENCE] if RECALL_SEQUENCE in nuisance and RECALL_SEQUENCE not in days.columns else []
    needed = ["participant_id", "recall_day", "amount", *covariates,
              *[n for n in nuisance if n not in derived], *([weight] if weight else []),
              *(list(design) if design else []), *domains]
    missing = [c for c in dict.fromkeys(needed) if c not in days.columns]
    if missing:
        raise GutaxisError(f"usual intake of {component}: the recall days lack column(s) {', '.join(missing)}; "
                           f"they have {', '.join(days.columns)}")
    notes: list[str] = []
    frame = days.select(list(dict.fromkeys(needed)))
    if derived:
        frame = frame.with_columns((pl.col("recall_day") >= 2).cast(pl.Float64).alias(RECALL_SEQUENCE))
    no_value = frame["amount"].is_null() | frame["amount"].cast(pl.Float64).is_nan()
    if no_value.any():
        notes.append(f"{int(no_value.sum())} recall days without a value for {component} left out")
        frame = frame.filter(~no_value)
    if frame.height == 0:
        return f"no recall day has a value for {component}"
    negative = int((frame["amount"] < 0).sum())
    if negative:
        return f"{negative} recall days have a negative amount of {component}"
    person_columns = [*covariates, *([weight] if weight else []), *(list(design) if design else []), *domains]
    row_columns = [*covariates, *nuisance]
    incomplete = pl.any_horizontal([pl.col(c).is_null() for c in dict.fromkeys(row_columns + person_columns)]) \
        if row_columns or person_columns else pl.lit(False)
    if weight:
        incomplete = incomplete | (pl.col(weight) <= 0)
    bad_persons = frame.filter(incomplete)["participant_id"].unique()
    if bad_persons.len():
        notes.append(f"{bad_persons.len()} persons left out: a missing {', '.join(dict.fromkeys(row_columns + person_columns))}"
                     + (f" or a weight ≤ 0" if weight else ""))
        frame = frame.filter(~pl.col("participant_id").is_in(bad_persons.implode()))
    if frame.height == 0:
        return "no person has all the covariates"
    frame = frame.sort("participant_id", "recall_day")
    person = frame["participant_id"].rank("dense").cast(pl.Int64).to_numpy() - 1
    firsts = frame.unique("participant_id", keep="first", maintain_order=True)

    covariate_columns, covariate_names = _expand(frame, covariates)
    nuisance_columns, nuisance_names = _expand(frame, nuisance)
    design_matrix = np.column_stack([np.ones(frame.height), *covariate_columns, *nuisance_columns])
    first_rows = np.flatnonzero(np.r_[True, person[1:] != person[:-1]])
    return _Prepared(
        amount=frame["amount"].cast(pl.Float64).to_numpy(),
        person=person,
        design=design_matrix,
        names=["intercept", *covariate_names, *nuisance_names],
        covariate_count=1 + len(covariate_names),
        nuisance_names=nuisance_names,
        participant_ids=firsts["participant_id"],
        person_weight=(firsts[weight].cast(pl.Float64).to_numpy() if weight else np.ones(firsts.height)),
        person_design=design_matrix[first_rows, :1 + len(covariate_names)],
        first_amount=frame["amount"].cast(pl.Float64).to_numpy()[first_rows],
        recalls=np.bincount(person).astype(float),
        strata=firsts[design[0]].to_numpy() if design else None,
        psu=firsts[design[1]].to_numpy() if design else None,
        domain_values={d: firsts[d].cast(pl.String).to_numpy() for d in domains},
        notes=notes,
    )


def _expand(frame: pl.DataFrame, columns: list[str]) -> tuple[list[np.ndarray], list[str]]:
    """Numeric and boolean columns as they are; text columns as 0/1 indicators of every level but the first."""
    arrays, names = [], []
    for column in columns:
        series = frame[column]
        if series.dtype.is_numeric() or series.dtype == pl.Boolean:
            arrays.append(series.cast(pl.Float64).to_numpy())
            names.append(column)
            continue
        text = series.cast(pl.String)
        for level in sorted(text.unique().to_list())[1:]:
            arrays.append((text == level).cast(pl.Float64).to_numpy())
            names.append(f"{column}={level}")
    return arrays, names


def _data_reason(prepared: _Prepared) -> str:
    """Why these recall days cannot carry the model, or ''."""
    if not (prepared.amount > 0).any():
        return f"all {prepared.amount.size} recall days are 0"
    repeats = int((prepared.recalls >= 2).sum())
    if repeats < MIN_PERSONS_WITH_REPEAT:
        return (f"only {repeats} of {prepared.recalls.size} persons have 2 or more recalls; at least "
                f"{MIN_PERSONS_WITH_REPEAT} are needed to separate within- from between-person variance")
    rank = np.linalg.matrix_rank(prepared.design)
    if rank < prepared.design.shape[1]:
        constant = [name for k, name in enumerate(prepared.names[1:], 1) if np.ptp(prepared.design[:, k]) == 0]
        detail = f": {', '.join(constant)} constant" if constant else ""
        return f"the model's covariates are collinear{detail}"
    return ""


def _fit_reason(fit: OnePartFit) -> str:
    if fit.var_between <= 0:
        return f"between-person variance ≤ 0 ({fit.message or 'estimated at 0'})"
    if not fit.converged:
        return f"the mixed model did not converge ({fit.message})"
    return ""


def _nuisance_reference(fit: OnePartFit, nuisance_names: list[str], weekend_share: float) -> NuisanceReference:
    if WEEKEND in nuisance_names:
        return NuisanceReference.weekend_mix(fit.coefficient(WEEKEND), weekend_share)
    return NuisanceReference()


def _reference_predictor(fit: OnePartFit, prepared: _Prepared) -> np.ndarray:
    return prepared.person_design @ fit.beta[:prepared.covariate_count]


def _pseudo_persons(fit: OnePartFit, prepared: _Prepared, normals: np.ndarray, person_weight: np.ndarray,
                    reference: NuisanceReference) -> PseudoPersons:
    transformed = pseudo_person_transformed(_reference_predictor(fit, prepared), normals, fit.var_between)
    curve = UsualIntakeCurve.tabulate(float(transformed.min()), float(transformed.max()), lam=fit.lam,
                                      shift=fit.shift, var_within=fit.var_within, nuisance=reference)
    return PseudoPersons(transformed, person_weight, curve)


def _domain_groups(prepared: _Prepared) -> dict[tuple[str, str], tuple[np.ndarray, str]]:
    """(domain, value) -> (member mask over persons, status); ('all', 'all') first."""
    groups = {("all", "all"): (np.ones(prepared.recalls.size, dtype=bool), "estimated")}
    for domain, values in prepared.domain_values.items():
        for value in sorted(set(values.tolist())):
            members = values == value
            count = int(members.sum())
            status = "estimated" if count >= MIN_DOMAIN_PERSONS else (
                f"not estimable: {domain} = {value} has {count} persons (at least {MIN_DOMAIN_PERSONS} needed)")
            groups[(domain, value)] = (members, status)
    return groups


def _replicate_weights(prepared: _Prepared, replicates: int | None, rng) -> ReplicateWeights | None:
    if replicates == 0:
        return None
    if prepared.strata is not None:
        try:
            return fay_brr(prepared.strata, prepared.psu, replicates)
        except ValueError as error:
            raise GutaxisError(f"usual intake: {error}") from None
    return bootstrap(prepared.recalls.size, replicates, rng)


def _replicate_errors(prepared, replicate_weights, normals, groups, estimates, percentiles, weekend_share):
    """SEs of each estimated domain's percentiles and mean, refitting the model (λ included) per replicate."""
    collected = {key: [] for key in estimates}
    failed = 0
    for r in range(replicate_weights.count):
        weights = prepared.person_weight * replicate_weights.multipliers[:, r]
        data = RandomInterceptData.build(prepared.person, prepared.design, weights)
        fit = fit_one_part(prepared.amount, data, prepared.names)
        if _fit_reason(fit):
            failed += 1
            continue
        pseudo = _pseudo_persons(fit, prepared, normals, weights,
                                 _nuisance_reference(fit, prepared.nuisance_names, weekend_share))
        for key in estimates:
            quantiles, mean = pseudo.statistics(groups[key][0], percentiles)
            collected[key].append(np.r_[quantiles, mean])
    if failed:
        return {}, failed
    errors = {}
    for key, (quantiles, mean) in estimates.items():
        errors[key] = replicate_weights.standard_error(np.r_[quantiles, mean], np.vstack(collected[key]))
    return errors, 0


def _distribution_frame(component, fit, groups, estimates, errors, percentiles, prepared) -> pl.DataFrame:
    rows = []
    for key, (quantiles, mean) in estimates.items():
        members = groups[key][0]
        se = errors.get(key)
        for k, percentile in enumerate(percentiles):
            rows.append({
                "component_id": component, "domain": key[0], "domain_value": key[1],
                "percentile": float(percentile), "value": float(quantiles[k]),
                "se": None if se is None else float(se[k]), "mean": mean, "model": MODEL,
                "lambda": fit.lam, "var_within": fit.var_within, "var_between": fit.var_between,
                "n_persons": int(members.sum()), "n_with_repeat": int((prepared.recalls[members] >= 2).sum()),
            })
    return pl.DataFrame(rows, schema=DISTRIBUTION_SCHEMA)


def _domain_frame(groups, estimates, errors, prepared) -> pl.DataFrame:
    rows = []
    for key, (members, status) in groups.items():
        estimate = estimates.get(key)
        se = errors.get(key)
        rows.append({"domain": key[0], "domain_value": key[1], "n_persons": int(members.sum()),
                     "n_with_repeat": int((prepared.recalls[members] >= 2).sum()), "status": status,
                     "mean": None if estimate is None else estimate[1],
                     "mean_se": None if se is None else float(se[-1])})
    return pl.DataFrame(rows, schema=DOMAIN_SCHEMA)


def _one_day_frame(prepared, groups, percentiles) -> pl.DataFrame:
    """The distribution of first-recall amounts (what one recall shows), weighted, by domain."""
    rows = []
    for key, (members, _) in groups.items():
        if not members.any():
            continue
        values = prepared.first_amount[members]
        weights = prepared.person_weight[members]
        quantiles = weighted_quantiles(values, weights, np.asarray(percentiles, dtype=float) / 100.0)
        mean = float(np.dot(values, weights) / weights.sum())
        rows.extend({"domain": key[0], "domain_value": key[1], "percentile": float(p), "value": float(q),
                     "mean": mean} for p, q in zip(percentiles, quantiles))
    return pl.DataFrame(rows, schema=ONE_DAY_SCHEMA)


def _not_estimable(reason: str, notes: list[str], prepared: _Prepared | None = None,
                   percentiles=PERCENTILES, fit: OnePartFit | None = None) -> UsualIntakeResult:
    groups = _domain_groups(prepared) if prepared is not None else {}
    domains = pl.DataFrame([
        {"domain": key[0], "domain_value": key[1], "n_persons": int(members.sum()),
         "n_with_repeat": int((prepared.recalls[members] >= 2).sum()), "status": f"not estimable: {reason}",
         "mean": None, "mean_se": None}
        for key, (members, _) in groups.items()], schema=DOMAIN_SCHEMA)
    return UsualIntakeResult(
        status=f"not estimable: {reason}",
        distribution=pl.DataFrame(schema=DISTRIBUTION_SCHEMA),
        per_person=pl.DataFrame(schema={"participant_id": pl.String, "usual_intake": pl.Float64}),
        domains=domains,
        one_day=_one_day_frame(prepared, groups, percentiles) if prepared is not None else pl.DataFrame(schema=ONE_DAY_SCHEMA),
        fit=fit, notes=notes)
