"""Usual intake by the NCI method (Tooze et al. 2006; Kipnis et al. 2009), one-part model.

`estimate_usual_intake` takes one component's recall days and returns its usual-intake
distribution (percentiles, mean, SEs, by domain), each person's predicted usual intake, and a
status: "estimated" or "not estimable: <reason>", never a traceback for data that cannot carry
the model. The steps, each in its own module: boxcox (λ, zero days), one_part (the mixed
model), distrib (the distribution), indivint (per person), replicates (SEs).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import polars as pl

from gutaxis import GutaxisError
from gutaxis.analysis.usual_intake.boxcox import boxcox, replace_zero_days
from gutaxis.analysis.usual_intake.distrib import (PERCENTILES, WEEKEND_SHARE, NuisanceReference,
                                                   PseudoPersons, UsualIntakeCurve, pseudo_person_transformed,
                                                   weighted_quantiles)
from gutaxis.analysis.usual_intake.indivint import predicted_usual_intake
from gutaxis.analysis.usual_intake.model_choice import TWO_PART_ZERO_SHARE, ModelChoice, choose_model
from gutaxis.analysis.usual_intake.one_part import OnePartFit, RandomInterceptData, fit_one_part
from gutaxis.analysis.usual_intake.replicates import ReplicateWeights, bootstrap, fay_brr

# Persons with a repeat recall are what separates within- from between-person variance: with n of
# them σ²_w rests on about n degrees of freedom, a relative SE of about √(2/n) (20 % at 50), and it
# grows fast below. MIXTRAN itself stops below 2 such persons and warns below 11.
MIN_PERSONS_WITH_REPEAT = 50
# A domain's percentiles from fewer than 30 persons are not reported (the smallest sample NCHS's
# presentation standards accept for an estimate; Parker et al., Vital Health Stat 2(175), 2017).
MIN_DOMAIN_PERSONS = 30
# Pseudo-persons per person: fewer leave Monte-Carlo noise in the tails (DISTRIB's default is 100).
MIN_NSIM = 100
RECALL_SEQUENCE = "recall_sequence"   # nuisance derived from recall_day: 1 on the 2nd and later recalls
WEEKEND = "weekend"
MODEL = "one-part"

DISTRIBUTION_SCHEMA = {
    "component_id": pl.String, "domain": pl.String, "domain_value": pl.String, "percentile": pl.Float64,
    "value": pl.Float64, "se": pl.Float64, "mean": pl.Float64, "model": pl.String, "lambda": pl.Float64,
    "var_within": pl.Float64, "var_between": pl.Float64,
    # two-part only (NULL for one-part): the probability part's person variance (logit scale) and the
    # correlation of the two parts' person effects
    "var_between_probability": pl.Float64, "corr_between": pl.Float64,
    "n_persons": pl.Int64, "n_with_repeat": pl.Int64,
}
DOMAIN_SCHEMA = {"domain": pl.String, "domain_value": pl.String, "n_persons": pl.Int64,
                 "n_with_repeat": pl.Int64, "status": pl.String, "mean": pl.Float64, "mean_se": pl.Float64}
SHARES_SCHEMA = {"domain": pl.String, "domain_value": pl.String, "cutpoint": pl.Float64,
                 "share_below": pl.Float64, "se": pl.Float64}
ONE_DAY_SCHEMA = {"domain": pl.String, "domain_value": pl.String, "percentile": pl.Float64,
                  "value": pl.Float64, "mean": pl.Float64}


@dataclass
class UsualIntakeResult:
    """One component's usual intake; `distribution` has the columns of marts.usual_intake_distribution
    less cohort, `domains` one row per domain value with its status and the mean's SE, `shares` the
    share of each domain below each cut-point (1 - share_below is the share at or above it),
    `one_day` the distribution of first-recall amounts for comparison."""

    status: str
    distribution: pl.DataFrame
    per_person: pl.DataFrame
    domains: pl.DataFrame
    one_day: pl.DataFrame
    shares: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SHARES_SCHEMA))
    fit: OnePartFit | None = None
    replicate_method: str | None = None
    notes: list[str] = field(default_factory=list)
    model: str | None = None          # "one-part" | "two-part" | None (no model)
    model_reason: str = ""            # why that model (model_choice), e.g. the share of zero days

    @property
    def estimated(self) -> bool:
        return self.status == "estimated"

    def describe(self) -> str:
        """One line for a run summary: the model and its figures, or why there is none."""
        if not self.estimated or self.fit is None:
            return self.status
        fit = self.fit
        if self.model == "two-part":
            return f"two-part ({self.model_reason}): {fit.describe()}"
        return (f"{MODEL}: λ {fit.lam:.3f}, σ²_w {fit.var_within:.4g}, σ²_b {fit.var_between:.4g} (transformed scale), "
                f"{fit.n_persons} persons, {fit.n_with_repeat} with a repeat recall")


def estimate_usual_intake(days: pl.DataFrame, *, component: str, covariates: Sequence[str] = (),
                          nuisance: Sequence[str] = (), weight: str | None = None,
                          design: tuple[str, str] | None = None, domains: Sequence[str] = (),
                          nsim: int = 100, replicates: int | None = None, seed: int = 0,
                          percentiles: Sequence[float] = PERCENTILES, cutpoints: Sequence[float] = (),
                          weekend_share: float = WEEKEND_SHARE, lam: float | None = None,
                          model: str | None = None,
                          two_part_zero_share: float = TWO_PART_ZERO_SHARE) -> UsualIntakeResult:
    """The NCI method for one component's recall days: the one-part model, or the two-part model
    (two_part_estimate) for an episodically eaten component.

    `days`: participant_id, recall_day, amount, and the covariate, nuisance, weight, design and
    domain columns (person-level columns are taken from the person's first recall). `nuisance` may
    name `recall_sequence` (derived from recall_day) and `weekend` (a 0/1 column, mixed in at
    `weekend_share` of days). `replicates`: the number of BRR replicates (with `design`) or
    bootstrap resamples (without); 0 for no SEs. `cutpoints`: amounts whose share of the population
    below is estimated (`UsualIntakeResult.shares`). `lam`: a fixed Box-Cox λ (MIXTRAN's `lambda=`),
    kept in every replicate; by default λ is estimated, and re-estimated per replicate. `model`
    forces "one-part" or "two-part"; by default the share of zero days chooses (above
    `two_part_zero_share`: two-part; see model_choice)."""
    if any(not 0 < p < 100 for p in percentiles):
        raise GutaxisError(f"usual intake of {component}: percentiles must lie between 0 and 100, not {list(percentiles)}")
    if nsim < MIN_NSIM:
        raise GutaxisError(f"usual intake of {component}: nsim must be at least {MIN_NSIM} pseudo-persons per person, not {nsim}")
    if lam is not None and lam < 0:
        raise GutaxisError(f"usual intake of {component}: λ must be 0 or more, not {lam}")
    prepared = _prepare(days, component=component, covariates=list(covariates), nuisance=list(nuisance),
                        weight=weight, design=design, domains=list(domains))
    if isinstance(prepared, str):
        return _not_estimable(prepared, [], id_dtype=days.schema.get("participant_id", pl.String))
    notes = prepared.notes
    notes.extend(f"domain {d} is not a covariate of the model: its values differ only through the covariates "
                 "(DISTRIB asks that subgroup variables be covariates)" for d in domains if d not in covariates)
    try:
        choice = choose_model(prepared.amount, forced=model, two_part_zero_share=two_part_zero_share)
    except ValueError as error:
        raise GutaxisError(f"usual intake of {component}: {error}") from None
    if choice.model == "two-part":
        from gutaxis.analysis.usual_intake.two_part_estimate import estimate_two_part
        return estimate_two_part(prepared, component=component, choice=choice, nsim=nsim, replicates=replicates,
                                 seed=seed, percentiles=percentiles, cutpoints=cutpoints,
                                 weekend_share=weekend_share, lam=lam)
    reason = _data_reason(prepared)
    if reason:
        return _with_choice(_not_estimable(reason, notes, prepared, percentiles), choice)

    data = RandomInterceptData.build(prepared.person, prepared.design, prepared.person_weight)
    fit = fit_one_part(prepared.amount, data, prepared.names, lam=lam)
    reason = _fit_reason(fit)
    if reason:
        return _with_choice(_not_estimable(reason, notes, prepared, percentiles, fit), choice)

    rng = np.random.default_rng(seed)
    normals = rng.standard_normal((data.recalls.size, nsim))
    reference = _nuisance_reference(fit, prepared.nuisance_names, weekend_share)
    pseudo = _pseudo_persons(fit, prepared, normals, prepared.person_weight, reference)
    groups = _domain_groups(prepared)
    layout = _Layout(tuple(percentiles), tuple(cutpoints))
    estimates = {key: layout.estimate(pseudo, members)
                 for key, (members, status) in groups.items() if status == "estimated"}

    replicate_weights = _replicate_weights(prepared, replicates, rng)
    standard_errors: dict = {}
    if replicate_weights is not None:
        standard_errors, failed = _replicate_errors(prepared, replicate_weights, normals, groups, estimates,
                                                    layout, weekend_share, lam)
        notes += _replicate_notes(replicate_weights, failed, bool(standard_errors), "between-person variance 0")

    transformed = boxcox(replace_zero_days(prepared.amount), fit.lam)
    per_person = pl.DataFrame({
        "participant_id": prepared.participant_ids,
        "usual_intake": predicted_usual_intake(fit, data, transformed, _reference_predictor(fit, prepared), reference),
    })
    return UsualIntakeResult(
        status="estimated",
        distribution=_distribution_frame(component, fit, groups, estimates, standard_errors, layout, prepared),
        per_person=per_person,
        domains=_domain_frame(groups, estimates, standard_errors, layout, prepared),
        shares=_shares_frame(estimates, standard_errors, layout),
        one_day=_one_day_frame(prepared, groups, percentiles),
        fit=fit,
        replicate_method=None if replicate_weights is None else replicate_weights.method,
        notes=notes,
        model=choice.model,
        model_reason=choice.reason,
    )


def _with_choice(result: UsualIntakeResult, choice: ModelChoice) -> UsualIntakeResult:
    result.model, result.model_reason = choice.model, choice.reason
    return result


@dataclass(frozen=True)
class _Layout:
    """One domain's estimates as a vector: the percentiles, the mean, the shares below the cut-points."""

    percentiles: tuple
    cutpoints: tuple

    @property
    def mean_index(self) -> int:
        return len(self.percentiles)

    def estimate(self, pseudo: PseudoPersons, members: np.ndarray) -> np.ndarray:
        quantiles, mean = pseudo.statistics(members, self.percentiles)
        return np.r_[quantiles, mean, pseudo.shares_below(members, self.cutpoints)]


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
    if WEEKEND in nuisance and not (days[WEEKEND].dtype.is_numeric() or days[WEEKEND].dtype == pl.Boolean):
        raise GutaxisError(f"usual intake of {component}: the weekend column must be 0/1 or true/false, "
                           f"not {days[WEEKEND].dtype}")
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
    twice = frame.filter(pl.struct("participant_id", "recall_day").is_duplicated())
    if twice.height:
        first = twice.row(0, named=True)
        raise GutaxisError(f"usual intake of {component}: participant {first['participant_id']} has recall day "
                           f"{first['recall_day']} more than once ({twice.height} rows like it); give one row per "
                           "participant and recall day (the day's total)")
    # a person missing a domain value stays in the model and in the other domains; one missing a
    # covariate, a nuisance value, the weight or a design value cannot be modelled
    required = list(dict.fromkeys([*covariates, *nuisance, *([weight] if weight else []), *(list(design) if design else [])]))
    reasons = [(f"a missing {c}", frame.filter(pl.col(c).is_null())["participant_id"].unique()) for c in required]
    if weight:
        reasons.append((f"{weight} ≤ 0", frame.filter(pl.col(weight) <= 0)["participant_id"].unique()))
    reasons = [(why, ids) for why, ids in reasons if ids.len()]
    if reasons:
        left_out = pl.concat([ids for _, ids in reasons]).unique()
        notes.append(f"{left_out.len()} persons left out: " + ", ".join(f"{ids.len()} with {why}" for why, ids in reasons))
        frame = frame.filter(~pl.col("participant_id").is_in(left_out.implode()))
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
        return fit.message.replace("is 0", "≤ 0", 1) if fit.message else "between-person variance ≤ 0"
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
                                      floor=fit.floor, var_within=fit.var_within, nuisance=reference)
    return PseudoPersons(transformed, person_weight, curve)


def _domain_groups(prepared: _Prepared) -> dict[tuple[str, str], tuple[np.ndarray, str]]:
    """(domain, value) -> (member mask over persons, status); ('all', 'all') first."""
    groups = {("all", "all"): (np.ones(prepared.recalls.size, dtype=bool), "estimated")}
    for domain, values in prepared.domain_values.items():
        for value in sorted({v for v in values.tolist() if v is not None}):
            members = values == value
            count = int(members.sum())
            status = "estimated" if count >= MIN_DOMAIN_PERSONS else (
                f"not estimable: {domain} = {value} has {count} persons (at least {MIN_DOMAIN_PERSONS} needed)")
            groups[(domain, value)] = (members, status)
    return groups


def _replicate_notes(replicate_weights, failed: int, have_errors: bool, degenerate: str) -> list[str]:
    """What the notes say of the replicates: how many could not be fitted (degenerate: the model's way
    of failing) and what the SEs then rest on; persons in strata with one PSU (no BRR variance)."""
    notes = []
    if failed:
        consequence = "SEs from the others" if have_errors else "no SEs"
        notes.append(f"{failed} of {replicate_weights.count} {replicate_weights.method} replicates could not "
                     f"be fitted ({degenerate} or no convergence): {consequence}")
    if replicate_weights.unsplit_persons:
        notes.append(f"{replicate_weights.unsplit_persons} persons are in strata with one PSU: "
                     "they add no variance to the BRR SEs")
    return notes


def _replicate_weights(prepared: _Prepared, replicates: int | None, rng) -> ReplicateWeights | None:
    if replicates == 0:
        return None
    if prepared.strata is not None:
        try:
            return fay_brr(prepared.strata, prepared.psu, replicates)
        except ValueError as error:
            raise GutaxisError(f"usual intake: {error}") from None
    return bootstrap(prepared.recalls.size, replicates, rng)


def _replicate_errors(prepared, replicate_weights, normals, groups, estimates, layout, weekend_share, lam):
    """SEs of each estimated domain's percentiles and mean, refitting the model (λ included) per replicate."""
    collected = {key: [] for key in estimates}
    failed = 0
    for r in range(replicate_weights.count):
        weights = prepared.person_weight * replicate_weights.multipliers[:, r]
        data = RandomInterceptData.build(prepared.person, prepared.design, weights)
        fit = fit_one_part(prepared.amount, data, prepared.names, lam=lam)
        if _fit_reason(fit):
            failed += 1
            continue
        pseudo = _pseudo_persons(fit, prepared, normals, weights,
                                 _nuisance_reference(fit, prepared.nuisance_names, weekend_share))
        for key in estimates:
            collected[key].append(layout.estimate(pseudo, groups[key][0]))
    succeeded = replicate_weights.count - failed
    # BRR's balance needs every replicate; a bootstrap can do without a failed resample
    if (failed and replicate_weights.method == "fay-brr") or succeeded < 2:
        return {}, failed
    errors = {}
    for key, estimate in estimates.items():
        errors[key] = replicate_weights.standard_error(estimate, np.vstack(collected[key]))
    return errors, failed


def _distribution_frame(component, fit, groups, estimates, errors, layout, prepared, *, model: str = MODEL,
                        fit_columns: dict | None = None) -> pl.DataFrame:
    """The distribution rows per domain and percentile; `fit_columns` are the model's λ and variance
    components (default: the one-part fit's), repeated on every row."""
    fit_columns = fit_columns or {"lambda": fit.lam, "var_within": fit.var_within, "var_between": fit.var_between}
    rows = []
    for key, estimate in estimates.items():
        members = groups[key][0]
        se = errors.get(key)
        for k, percentile in enumerate(layout.percentiles):
            rows.append({
                "component_id": component, "domain": key[0], "domain_value": key[1],
                "percentile": float(percentile), "value": float(estimate[k]),
                "se": None if se is None else float(se[k]), "mean": float(estimate[layout.mean_index]), "model": model,
                **fit_columns,
                "n_persons": int(members.sum()), "n_with_repeat": int((prepared.recalls[members] >= 2).sum()),
            })
    return pl.DataFrame(rows, schema=DISTRIBUTION_SCHEMA)


def _domain_frame(groups, estimates, errors, layout, prepared) -> pl.DataFrame:
    rows = []
    for key, (members, status) in groups.items():
        estimate = estimates.get(key)
        se = errors.get(key)
        rows.append({"domain": key[0], "domain_value": key[1], "n_persons": int(members.sum()),
                     "n_with_repeat": int((prepared.recalls[members] >= 2).sum()), "status": status,
                     "mean": None if estimate is None else float(estimate[layout.mean_index]),
                     "mean_se": None if se is None else float(se[layout.mean_index])})
    return pl.DataFrame(rows, schema=DOMAIN_SCHEMA)


def _shares_frame(estimates, errors, layout) -> pl.DataFrame:
    rows = []
    for key, estimate in estimates.items():
        se = errors.get(key)
        for k, cutpoint in enumerate(layout.cutpoints):
            index = layout.mean_index + 1 + k
            rows.append({"domain": key[0], "domain_value": key[1], "cutpoint": float(cutpoint),
                         "share_below": float(estimate[index]), "se": None if se is None else float(se[index])})
    return pl.DataFrame(rows, schema=SHARES_SCHEMA)


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
                   percentiles=PERCENTILES, fit: OnePartFit | None = None, id_dtype=pl.String) -> UsualIntakeResult:
    groups = _domain_groups(prepared) if prepared is not None else {}
    domains = pl.DataFrame([
        {"domain": key[0], "domain_value": key[1], "n_persons": int(members.sum()),
         "n_with_repeat": int((prepared.recalls[members] >= 2).sum()), "status": f"not estimable: {reason}",
         "mean": None, "mean_se": None}
        for key, (members, _) in groups.items()], schema=DOMAIN_SCHEMA)
    return UsualIntakeResult(
        status=f"not estimable: {reason}",
        distribution=pl.DataFrame(schema=DISTRIBUTION_SCHEMA),
        per_person=pl.DataFrame(schema={"participant_id": prepared.participant_ids.dtype if prepared else id_dtype,
                                        "usual_intake": pl.Float64}),
        domains=domains,
        one_day=_one_day_frame(prepared, groups, percentiles) if prepared is not None else pl.DataFrame(schema=ONE_DAY_SCHEMA),
        fit=fit, notes=notes)
