"""A cohort's usual intake (the NCI method, gutaxis.analysis.usual_intake) from its recall days: per
component and scale, the rows of marts.usual_intake_distribution and marts.participant_usual_intake,
and a row that says why wherever no model could be fitted (never a traceback)."""
from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from gutaxis import GutaxisError
from gutaxis.analysis.declarations import Design, UsualIntake

DISTRIBUTION_SCHEMA = {
    "component_id": pl.String, "unit": pl.String, "domain": pl.String, "domain_value": pl.String,
    "percentile": pl.Float64, "value": pl.Float64, "se": pl.Float64, "mean": pl.Float64, "model": pl.String,
    "lambda": pl.Float64, "var_within": pl.Float64, "var_between": pl.Float64, "n_persons": pl.Int64,
    "n_with_repeat": pl.Int64, "status": pl.String, "var_between_probability": pl.Float64, "corr_between": pl.Float64,
    "model_reason": pl.String,
}
PER_PERSON_SCHEMA = {"participant_id": pl.String, "component_id": pl.String, "usual_intake": pl.Float64,
                     "unit": pl.String, "method": pl.String}
ENERGY = "energy_kcal"
# Day-level weights first: NCI's NHANES analyses weight usual-intake distributions by the day-1 dietary weight.
AUTO_WEIGHTS = ("wt_day1", "wt_two_day", "wt_mec", "wt_interview")


@dataclass
class UsualTables:
    distribution: pl.DataFrame
    per_person: pl.DataFrame


def scale_unit(unit: str, scale: str) -> str:
    return unit if scale == "amount" else f"{unit} per 1000 kcal"


def usual_weight(participants: pl.DataFrame, design: Design | None) -> str | None:
    """The weight the distributions use: none without a design; a named one; else the first of AUTO_WEIGHTS
    that some participant has above 0."""
    if design is None:
        return None
    if design.weight != "auto":
        return design.weight
    for column in AUTO_WEIGHTS:
        if column in participants.columns and participants.filter(pl.col(column).cast(pl.Float64) > 0).height:
            return column
    raise GutaxisError("usual_intake: the design has no weight above 0 in wt_day1, wt_two_day, wt_mec or wt_interview; "
                       "give the participants a weight or name one with design: {weight: COLUMN}")


def refuse_missing_attributes(participants: pl.DataFrame, declared: UsualIntake, where) -> None:
    for role, names in (("covariate", declared.covariates), ("domain", declared.domains)):
        for name in names:
            if name not in participants.columns or participants[name].null_count() == participants.height:
                raise GutaxisError(f"{where}: usual_intake {role} {name!r} is not among the participants' attributes; "
                                   f"map it in a participants table (columns: {{{name}: YOUR_COLUMN}}) or remove it")


def usual_intake_tables(days: pl.DataFrame, participants: pl.DataFrame, declared: UsualIntake, design: Design | None,
                        units: dict[str, str], where) -> UsualTables:
    """`days`: participant_id, recall_day, component_id, amount, energy (the day's energy_kcal);
    `participants`: one row per participant with the covariates, domains and design columns."""
    from gutaxis.analysis import usual_intake  # the NCI engine (scipy.optimize) only for cohorts that declare it

    refuse_missing_attributes(participants, declared, where)
    weight = usual_weight(participants, design)
    strata_psu = (design.strata, design.psu) if design is not None else None
    person_columns = list(dict.fromkeys(["participant_id", *declared.covariates, *declared.domains,
                                         *([weight] if weight else []), *(strata_psu or ())]))
    persons = participants.select(person_columns).with_columns(
        [pl.col(d).cast(pl.String) for d in declared.domains])
    computed = sorted(days.filter(pl.col("amount").is_not_null())["component_id"].unique().to_list())
    distributions, per_person = [pl.DataFrame(schema=DISTRIBUTION_SCHEMA)], [pl.DataFrame(schema=PER_PERSON_SCHEMA)]
    for component in declared.component_list(computed):
        for scale in declared.scales:
            if component == ENERGY and scale == "per_1000kcal":
                continue  # energy per 1000 kcal of itself is 1000 on every day
            unit = scale_unit(units.get(component, ""), scale)
            if component not in computed:
                distributions.append(_not_estimable(component, unit, "no source computed it in this run", None))
                continue
            component_days = days.filter((pl.col("component_id") == component) & pl.col("amount").is_not_null())
            if scale == "per_1000kcal":
                component_days = component_days.filter(pl.col("energy") > 0).with_columns(
                    (pl.col("amount") * 1000 / pl.col("energy")).alias("amount"))
            frame = component_days.select("participant_id", "recall_day", "amount").join(
                persons, on="participant_id", how="inner")
            result = usual_intake.estimate_usual_intake(
                frame, component=component, covariates=declared.covariates, nuisance=declared.nuisance, weight=weight,
                design=strata_psu, domains=declared.domains, nsim=declared.nsim, replicates=declared.replicates,
                seed=declared.seed)
            distributions.append(_distribution_rows(component, unit, result))
            if result.estimated and scale == "amount":
                method = (f"NCI {result.distribution['model'][0]} model, predicted usual intake given the person's "
                          f"recalls (INDIVINT); covariates: {', '.join(declared.covariates) or 'none'}")
                per_person.append(result.per_person.with_columns(
                    pl.col("participant_id").cast(pl.String), pl.lit(component).alias("component_id"),
                    pl.lit(unit).alias("unit"), pl.lit(method).alias("method")).select(list(PER_PERSON_SCHEMA)))
    return UsualTables(pl.concat(distributions, how="vertical_relaxed"), pl.concat(per_person, how="vertical_relaxed"))


def _distribution_rows(component: str, unit: str, result) -> pl.DataFrame:
    """The engine's distribution with unit and status; a domain it could not estimate, or the whole
    component, as one row each with the reason."""
    if not result.estimated:
        return _not_estimable(component, unit, result.status.removeprefix("not estimable: "), result.domains)
    rows = result.distribution.with_columns(pl.lit(unit).alias("unit"), pl.lit("estimated").alias("status"),
                                            pl.lit(result.model_reason or None, pl.String).alias("model_reason"))
    missing = result.domains.filter(pl.col("status") != "estimated")
    if missing.height:
        rows = pl.concat([rows.select(list(DISTRIBUTION_SCHEMA)), pl.DataFrame({
            "component_id": component, "unit": unit, "domain": missing["domain"], "domain_value": missing["domain_value"],
            "model": "none", "n_persons": missing["n_persons"], "n_with_repeat": missing["n_with_repeat"],
            "status": missing["status"]}).with_columns(
            [pl.lit(None, dtype).alias(c) for c, dtype in DISTRIBUTION_SCHEMA.items()
             if c not in {"component_id", "unit", "domain", "domain_value", "model", "n_persons", "n_with_repeat", "status"}]
        ).select(list(DISTRIBUTION_SCHEMA))], how="vertical_relaxed")
    return rows.select(list(DISTRIBUTION_SCHEMA)).cast(DISTRIBUTION_SCHEMA)


def _not_estimable(component: str, unit: str, reason: str, domains: pl.DataFrame | None) -> pl.DataFrame:
    whole = domains.filter(pl.col("domain") == "all") if domains is not None and domains.height else None
    n_persons = int(whole["n_persons"][0]) if whole is not None and whole.height else None
    n_repeat = int(whole["n_with_repeat"][0]) if whole is not None and whole.height else None
    row = {c: None for c in DISTRIBUTION_SCHEMA} | {
        "component_id": component, "unit": unit, "domain": "all", "domain_value": "all", "model": "none",
        "n_persons": n_persons, "n_with_repeat": n_repeat, "status": f"not estimable: {reason}"}
    return pl.DataFrame([row], schema=DISTRIBUTION_SCHEMA)


def model_summary(distribution: pl.DataFrame) -> list[str]:
    """Per model, the components that got it; per reason, the ones that got none. A component named bare
    got it on every scale it was modelled on, else its units say which."""
    whole = distribution.filter(pl.col("domain") == "all").unique(["component_id", "unit"], keep="first",
                                                                    maintain_order=True)
    scales = {c: len(g) for (c,), g in whole.group_by("component_id")}

    def named(rows: pl.DataFrame) -> str:
        units: dict[str, list[str]] = {}
        for component, unit in rows.select("component_id", "unit").rows():
            units.setdefault(component, []).append(unit)
        return ", ".join(c if len(u) == scales[c] else f"{c} ({', '.join(u)})" for c, u in units.items())

    lines = []
    for model in ("one-part", "two-part"):
        chosen = whole.filter((pl.col("status") == "estimated") & (pl.col("model") == model))
        if chosen.height:
            lines.append(f"{model}: {named(chosen)}")
    # one line per reason: a cohort too small for any model says it once, not once per component
    for (reason,), group in whole.filter(pl.col("status") != "estimated").group_by("status", maintain_order=True):
        lines.append(f"no model ({reason.removeprefix('not estimable: ')}): {named(group)}")
    return lines
