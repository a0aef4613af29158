"""Running a cohort's declared analyses on its analysis frame (one row per participant): population
estimates (`kind: estimates`) and diet-outcome associations (`kind: association`), with the weight of
the smallest subsample each one uses."""
from __future__ import annotations

import math

import polars as pl

from gutaxis import GutaxisError
from gutaxis.analysis.declarations import Analysis, Design
from gutaxis.analysis.estimates import SurveyDesign, estimate, fit_regression
from gutaxis.analysis.outcomes import OXYTOCIN_METHOD_COLUMNS, refuse_pooled_oxytocin

POPULATION_COLUMNS = ("cohort", "analysis_id", "variable", "statistic", "quantile", "subpopulation", "domain",
                      "domain_value", "estimate", "se", "ci_low", "ci_high", "n", "df", "weight", "method",
                      "reliability_flag")
ASSOCIATION_SCHEMA = {
    "cohort": pl.String, "hypothesis_id": pl.String, "exposure": pl.String, "exposure_scale": pl.String,
    "contrast": pl.String, "outcome": pl.String, "model": pl.String, "covariates": pl.String,
    "subpopulation": pl.String, "estimate": pl.Float64, "se": pl.Float64, "ci_low": pl.Float64,
    "ci_high": pl.Float64, "p_value": pl.Float64, "p_trend": pl.Float64, "n": pl.Int64, "df": pl.Int64,
    "weight": pl.String, "method": pl.String, "status": pl.String,
}
POPULATION_SCHEMA = {
    "cohort": pl.String, "analysis_id": pl.String, "variable": pl.String, "statistic": pl.String,
    "quantile": pl.Float64, "subpopulation": pl.String, "domain": pl.String, "domain_value": pl.String,
    "estimate": pl.Float64, "se": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64, "n": pl.Int64,
    "df": pl.Int64, "weight": pl.String, "method": pl.String, "reliability_flag": pl.String,
}
SRS_WEIGHT, SRS_STRATUM, SRS_PSU = "_srs_weight", "_srs_stratum", "_srs_psu"
# NCHS: a mean whose relative standard error is 30 % or more is unreliable (NCHS, NHANES analytic
# guidelines 2011-2014, and "Data Presentation Standards", Parker et al., Vital Health Stat 2(175), 2017).
RSE_UNRELIABLE = 0.30
GROUP_COUNTS = {"quintiles": 5, "tertiles": 3}
OXYTOCIN_LOG = "oxytocin_log"  # linear models on oxytocin use its natural log (skewed, multiplicative errors)


def analysis_frame(participants: pl.DataFrame, exposures: pl.DataFrame, outcomes: pl.DataFrame,
                   outcome_kinds: dict[str, str], indices: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per participant: design and attributes, `<component>_mean_daily` / `_per_1000kcal`, n_days,
    one column per outcome (the mean of its measurements; oxytocin with `oxytocin_method`), and the
    participant's index scores (marts.participant_index rows) as `<index_id>_index` (the total) and
    `<index_id>_<component>_index`."""
    frame = participants
    if exposures.height:
        wide = exposures.pivot(on="component_id", index=["participant_id", "n_days"],
                               values=["mean_daily", "per_1000kcal"], aggregate_function="first")
        wide = wide.rename({c: _exposure_column(c) for c in wide.columns if c not in ("participant_id", "n_days")})
        frame = frame.join(wide, on="participant_id", how="left")
    if indices is not None and indices.height:
        named = indices.with_columns(
            (pl.when(pl.col("component") == "total").then(pl.col("index_id"))
             .otherwise(pl.col("index_id") + "_" + pl.col("component")) + "_index").alias("_variable"))
        wide = named.pivot(on="_variable", index="participant_id", values="score", aggregate_function="first")
        frame = frame.join(wide, on="participant_id", how="left")
    for outcome_id, rows in outcomes.partition_by("outcome_id", as_dict=True).items() if outcomes.height else []:
        outcome_id = outcome_id[0]
        if outcome_id == "oxytocin":
            per = rows.with_columns(pl.concat_str([pl.col(c).fill_null("?") for c in OXYTOCIN_METHOD_COLUMNS],
                                                  separator="/").alias("oxytocin_method"))
            per = per.group_by("participant_id").agg(
                pl.col("value").mean().alias("oxytocin"), pl.col("oxytocin_method").n_unique().alias("_methods"),
                pl.col("oxytocin_method").first())
            # a participant measured by two methods has no single value: never pooled across methods
            per = per.with_columns(
                pl.when(pl.col("_methods") > 1).then(None).otherwise(pl.col("oxytocin")).alias("oxytocin"),
                pl.when(pl.col("_methods") > 1).then(pl.lit("several methods")).otherwise(pl.col("oxytocin_method"))
                .alias("oxytocin_method")).drop("_methods")
        else:
            per = rows.group_by("participant_id").agg(pl.col("value").mean().alias(outcome_id))
            if outcome_kinds.get(outcome_id) == "binary":
                per = per.with_columns(pl.col(outcome_id).cast(pl.Int8))
        frame = frame.join(per, on="participant_id", how="left")
    return frame


def _exposure_column(pivoted: str) -> str:
    measure, _, component = pivoted.partition("_component_id_") if "_component_id_" in pivoted else ("", "", "")
    if component:
        return f"{component}_{measure}"
    for measure in ("mean_daily", "per_1000kcal"):
        if pivoted.startswith(measure + "_"):
            return f"{pivoted[len(measure) + 1:]}_{measure}"
    return pivoted


def survey_design(design: Design | None, weight: str) -> SurveyDesign:
    if design is None:
        return SurveyDesign(SRS_WEIGHT, strata=SRS_STRATUM, psu=SRS_PSU)
    return SurveyDesign(weight, strata=design.strata, psu=design.psu, lonely_psu=design.lonely_psu,
                        cycles=design.cycles)


def with_srs_design(frame: pl.DataFrame) -> pl.DataFrame:
    """Without a declared design, participants are a simple random sample: weight 1, one stratum, each its own PSU."""
    return frame.with_columns(pl.lit(1.0).alias(SRS_WEIGHT), pl.lit(1).alias(SRS_STRATUM),
                              pl.int_range(pl.len()).alias(SRS_PSU))


def choose_weight(frame: pl.DataFrame, design: Design | None, variables: list[str], outcome_ids: set[str]) -> str:
    """The weight of the smallest subsample the variables come from (DESIGN.md `weight: auto`): two-day
    dietary when the exposures are means over two recall days, day-1 dietary for one day, the MEC weight for
    examination outcomes, else the interview weight. A named weight is taken as it is."""
    if design is None:
        return SRS_WEIGHT
    if design.weight != "auto":
        if design.weight not in frame.columns:
            raise GutaxisError(f"design: weight column {design.weight!r} is missing from the participants; map it in a "
                               "participants table or use weight: auto")
        return design.weight
    dietary = any(v.endswith(("_mean_daily", "_per_1000kcal", "_index")) for v in variables)

    def usable(column: str) -> bool:
        return column in frame.columns and frame.filter(pl.col(column) > 0).height > 0

    if dietary:
        two_days = "n_days" in frame.columns and frame.filter(pl.col("n_days") >= 2).height > 0
        for column in (("wt_two_day", "wt_day1") if two_days else ("wt_day1",)):
            if usable(column):
                return column
    elif any(v in outcome_ids for v in variables) and usable("wt_mec"):
        return "wt_mec"
    for column in ("wt_mec", "wt_interview") if dietary else ("wt_interview",):
        if usable(column):
            return column
    raise GutaxisError("design: weight auto found no weight for this analysis (wt_two_day, wt_day1, wt_mec or "
                       "wt_interview > 0); give participants a weight or name one with design: {weight: COLUMN}")


def domain_expr(analysis: Analysis) -> pl.Expr | None:
    return pl.sql_expr(analysis.domain) if analysis.domain else None


def domain_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """`pregnant` unknown counts as not pregnant in domains (RIDEXPRG is asked of women 20-44 only):
    "not pregnant" means pregnancy was not reported, as NCHS reports exclude only known pregnancies."""
    return frame.with_columns(pl.col("pregnant").fill_null(False)) if "pregnant" in frame.columns else frame


def run_estimates(cohort: str, frame: pl.DataFrame, design: Design | None, analysis: Analysis,
                  outcome_kinds: dict[str, str], oxytocin_rows: pl.DataFrame) -> pl.DataFrame:
    """marts.population_estimates rows of one `kind: estimates` analysis."""
    source = f"analysis {analysis.id}"
    data = domain_frame(frame if design is not None else with_srs_design(frame))
    rows = []
    for variable in analysis.variables:
        if variable not in data.columns:
            raise GutaxisError(f"{source}: variable {variable!r} is not in cohort {cohort}'s analysis frame; declare the "
                               "outcome or attribute table that gives it, or remove it from the analysis")
        if variable == "oxytocin":
            refuse_pooled_oxytocin(oxytocin_rows, source, "oxytocin_method" in analysis.by)
        weight = choose_weight(data, design, [variable], set(outcome_kinds))
        sdesign = survey_design(design, weight)
        domain = _within(domain_expr(analysis), weight)
        binary = outcome_kinds.get(variable) == "binary" or _is_binary(data[variable])
        for statistic in analysis.statistics:
            if binary and statistic in ("mean", "proportion"):
                if statistic == "mean" and "proportion" in analysis.statistics:
                    continue
                chosen = "proportion"
            elif binary:
                continue  # quantiles and ratios of a 0/1 variable say nothing a proportion does not
            elif statistic == "proportion":
                continue  # a proportion of a continuous variable is not defined
            else:
                chosen = statistic
            found = estimate(data, sdesign, variable, chosen, by=analysis.by, domain=domain,
                             quantiles=analysis.quantiles, source=source,
                             denominator=analysis.denominator if chosen == "ratio" else None)
            rows.append(found.with_columns(pl.lit(cohort).alias("cohort"), pl.lit(analysis.id).alias("analysis_id"),
                                           pl.lit(_weight_label(weight, design)).alias("weight"),
                                           _mean_flag(chosen)))
    if not rows:
        return pl.DataFrame(schema=POPULATION_SCHEMA)
    return pl.concat(rows, how="diagonal_relaxed").select(
        pl.col(c).cast(t) for c, t in POPULATION_SCHEMA.items())


def _mean_flag(statistic: str) -> pl.Expr:
    if statistic != "mean":
        return pl.col("reliability_flag")
    rse = pl.col("se") / pl.col("estimate").abs()
    return (pl.when(pl.col("n") < 30).then(pl.lit("unreliable: n < 30"))
            .when(rse >= RSE_UNRELIABLE).then(pl.lit("unreliable: relative standard error >= 30%"))
            .when(pl.col("df") < 8).then(pl.lit("review: design df < 8")).otherwise(pl.col("reliability_flag"))
            .alias("reliability_flag"))


def _weight_label(weight: str, design: Design | None) -> str:
    if design is None:
        return "none (simple random sample)"
    return weight if design.cycles == 1 else f"{weight} / {design.cycles} (pooled cycles)"


def _within(domain: pl.Expr | None, weight: str) -> pl.Expr:
    """The domain, within the subsample the weight belongs to (weight > 0): participants outside it (e.g.
    day-1-only participants under the two-day weight) stay in the design and out of the estimate."""
    inside = pl.col(weight).fill_null(0) > 0
    return inside if domain is None else domain.fill_null(False) & inside


def _is_binary(series: pl.Series) -> bool:
    if not series.dtype.is_numeric():
        return False
    values = series.drop_nulls().unique().to_list()
    return bool(values) and all(v in (0, 1) for v in values)


def run_association(cohort: str, frame: pl.DataFrame, design: Design | None, analysis: Analysis,
                    outcome_kinds: dict[str, str], units: dict[str, str]) -> pl.DataFrame:
    """marts.association_estimates rows of one hypothesis: one per exposure group against the lowest (or
    per unit of a continuous exposure), with a p for trend; or one row saying why it cannot be computed."""
    exposure = analysis.exposure
    column = f"{exposure.component}_{exposure.scale}"
    data = domain_frame(frame if design is not None else with_srs_design(frame))
    base = {"cohort": cohort, "hypothesis_id": analysis.id, "exposure": exposure.component,
            "exposure_scale": exposure.scale, "outcome": analysis.outcome, "model": analysis.model}
    missing = _missing(data, column, analysis.outcome, exposure.component, exposure.scale)
    if missing:
        return _rows([{**base, "covariates": ", ".join(analysis.covariates), "status": f"not computable: {missing}"}])
    covariates = [c for c in analysis.covariates if c in data.columns and data[c].null_count() < data.height]
    outcome = analysis.outcome
    if outcome == "oxytocin":  # log scale, and one model per method: methods are never pooled
        data = data.with_columns(pl.when(pl.col("oxytocin") > 0).then(pl.col("oxytocin").log()).alias(OXYTOCIN_LOG))
        outcome = OXYTOCIN_LOG
        subpopulations = sorted(m for m in data["oxytocin_method"].drop_nulls().unique().to_list() if m != "several methods")
    else:
        subpopulations = ["all"]
    weight = choose_weight(data, design, [column, analysis.outcome], set(outcome_kinds))
    sdesign = survey_design(design, weight)
    rows = []
    for subpopulation in subpopulations:
        domain = _within(domain_expr(analysis), weight)
        if subpopulation != "all":
            domain = domain & (pl.col("oxytocin_method") == subpopulation)
        complete = domain & pl.all_horizontal(pl.col(c).is_not_null() for c in (column, outcome, *covariates))
        rows += _fit_groups(data, sdesign, analysis, column, outcome, covariates, complete,
                            {**base, "subpopulation": subpopulation, "covariates": ", ".join(covariates),
                             "weight": _weight_label(weight, design)}, units.get(exposure.component))
    return _rows(rows)


def _missing(data: pl.DataFrame, column: str, outcome: str, component: str, scale: str = "") -> str | None:
    if column not in data.columns or data[column].null_count() == data.height:
        if scale == "index":
            return f"missing {component} (the index is not computable for this cohort: see audit.index_status)"
        return f"missing {component} (the cohort's exposures do not carry it)"
    if outcome not in data.columns or data[outcome].null_count() == data.height:
        return f"missing {outcome} (declare the outcome table that gives it)"
    return None


def _fit_groups(data, sdesign, analysis, column, outcome, covariates, complete, base, unit) -> list[dict]:
    groups = analysis.exposure.groups
    weight = sdesign.weight
    categorical = {c: _reference_level(data, c, complete) for c in covariates if not data[c].dtype.is_numeric()
                   and data[c].dtype != pl.Boolean}
    data = data.with_columns(pl.col(c).cast(pl.Int8) for c in covariates if data[c].dtype == pl.Boolean)
    source = f"hypothesis {analysis.id}"
    if groups == "continuous":
        fitted = fit_regression(data, sdesign, outcome, [column, *covariates], model=analysis.model,
                                categorical=categorical, domain=complete, source=source)
        term = fitted.filter(pl.col("term") == column).row(0, named=True)
        return [_row(base, term, f"per 1 {unit or 'unit'} of {column}", None)]
    if groups == "consumer":
        data = data.with_columns(pl.when(complete).then((pl.col(column) > 0).cast(pl.Int8)).alias("_group"))
        fitted = fit_regression(data, sdesign, outcome, ["_group", *covariates], model=analysis.model,
                                categorical=categorical, domain=complete, source=source)
        term = fitted.filter(pl.col("term") == "_group").row(0, named=True)
        return [_row(base, term, "consumers vs non-consumers", None)]
    k = GROUP_COUNTS[groups]
    label = "Q" if groups == "quintiles" else "T"
    cuts = _weighted_cutpoints(data.filter(complete), column, weight, k)
    group = pl.lit(1)
    for cut in cuts:
        group = group + (pl.col(column) > cut).cast(pl.Int32)
    data = data.with_columns(pl.when(complete).then(group).alias("_group_number"))
    present = sorted(data["_group_number"].drop_nulls().unique().to_list())
    if len(present) < 2:
        return [{**base, "status": f"not computable: {column} has fewer than 2 distinct {groups} in the domain"}]
    data = data.with_columns(pl.format(f"{label}{{}}", pl.col("_group_number")).alias("_group"))
    # the median exposure of each group, as a continuous term, gives the p for trend
    medians = (data.filter(complete).group_by("_group_number")
               .agg(pl.col(column).median().alias("_group_median")))
    data = data.join(medians, on="_group_number", how="left")
    fitted = fit_regression(data, sdesign, outcome, ["_group", *covariates], model=analysis.model,
                            categorical={"_group": f"{label}{present[0]}", **categorical}, domain=complete, source=source)
    trend = fit_regression(data, sdesign, outcome, ["_group_median", *covariates], model=analysis.model,
                           categorical=categorical, domain=complete, source=source)
    p_trend = trend.filter(pl.col("term") == "_group_median")["p_value"][0]
    out = []
    for number in present[1:]:
        term = fitted.filter(pl.col("term") == f"_group_{label}{number}")
        if term.height:
            out.append(_row(base, term.row(0, named=True), f"{label}{number} vs {label}{present[0]}", p_trend))
    return out


def _reference_level(data: pl.DataFrame, column: str, complete: pl.Expr) -> str:
    levels = sorted(data.filter(complete)[column].drop_nulls().cast(pl.String).unique().to_list())
    return levels[0] if levels else ""


def _weighted_cutpoints(frame: pl.DataFrame, column: str, weight: str, k: int) -> list[float]:
    """Cut points at the weighted j/k quantiles (smallest value whose weighted CDF reaches j/k), so that the
    groups are quantiles of the population the weights represent; tied values share a group."""
    ordered = frame.filter(pl.col(weight) > 0).select(column, weight).sort(column)
    if ordered.height == 0:
        return []
    cdf = (ordered[weight].cum_sum() / ordered[weight].sum()).to_list()
    values = ordered[column].to_list()
    cuts, position = [], 0
    for j in range(1, k):
        while position < len(cdf) - 1 and cdf[position] < j / k:
            position += 1
        cuts.append(values[position])
    return sorted(set(cuts))


def _row(base: dict, term: dict, contrast: str, p_trend: float | None) -> dict:
    return {**base, "contrast": contrast, "estimate": term["estimate"], "se": term["se"], "ci_low": term["ci_low"],
            "ci_high": term["ci_high"], "p_value": term["p_value"], "p_trend": p_trend, "n": term["n"],
            "df": term["df"], "method": term["method"], "status": "estimated"}


def _rows(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame([{c: r.get(c) for c in ASSOCIATION_SCHEMA} for r in rows], schema=ASSOCIATION_SCHEMA)


def finite_with_ci(estimates: pl.DataFrame) -> pl.DataFrame:
    """Rows whose estimate is not finite or lies outside its own CI (a blocking check's offenders)."""
    computed = estimates.filter(pl.col("estimate").is_not_null()) if "status" not in estimates.columns else \
        estimates.filter(pl.col("status") == "estimated")
    eps = 1e-9
    bad = ~pl.col("estimate").is_finite() | ~pl.col("se").is_finite() | \
        (pl.col("ci_low").is_not_null() & (pl.col("ci_low") > pl.col("estimate") + eps * (1 + pl.col("estimate").abs()))) | \
        (pl.col("ci_high").is_not_null() & (pl.col("ci_high") < pl.col("estimate") - eps * (1 + pl.col("estimate").abs())))
    return computed.filter(bad.fill_null(True))


def isfinite(value) -> bool:
    return value is not None and math.isfinite(value)
