"""Survey-design estimates with `svy` (Taylor linearisation, strata with PSUs nested in them, sampled
with replacement): means, proportions, ratios, quantiles and survey-weighted regressions, each with its
SE, 95 % CI, n and design degrees of freedom. No variance formula is written here: svy computes them,
and tests/test_survey_estimates.py pins svy against R `survey` on NHANES 2017-2018."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import polars as pl

if TYPE_CHECKING:
    import svy

from gutaxis import GutaxisError

# R survey's options(survey.lonely.psu = ...) -> svy's singleton rule (svy's design documentation):
# "adjust" centres a lonely PSU's contribution on the grand mean instead of its stratum mean.
LONELY_PSU_RULES = {"adjust": "center", "average": "scale", "remove": "skip"}
ALPHA = 0.05
# IRLS stops when the change falls below this. At svy's default (1e-8) the NHANES logistic fit's yogurt
# coefficient was 6.9e-7 (relative) from where R's glm converges, and R's default (a deviance change of
# 1e-8) leaves its SEs ~1e-6 from their converged values: both are run to 1e-12.
REGRESSION_TOLERANCE = 1e-12
# svy's "higher" rule: the smallest value whose weighted CDF reaches p, R svyquantile's qrule = "math";
# the interval is Woodruff's (R interval.type = "mean"), with t on the design df.
QUANTILE_RULE = "higher"
# Regression coefficients are tested (t) and given CIs on the design df of the model's rows, PSUs minus
# strata, not on R svyglm's default df.residual (design df - coefficients + 1), which leaves 2 df to a
# fully adjusted NHANES model (15 - 14 + 1): the NCHS analytic guidelines (Johnson et al., Vital Health
# Stat 2(161), 2013) take the design df for such tests, as SUDAAN and Stata's svy do; the subtraction
# belongs to multi-parameter Wald F tests (Korn & Graubard, Analysis of Health Surveys, 1999, 5.2).
MODEL_DF = "t on design df (PSUs - strata of the model's rows)"
METHOD = "Taylor linearisation, PSUs nested in strata, with replacement (svy {version}); lonely PSU: {rule}"
_IN_DOMAIN = "_gutaxis_in_domain"
ESTIMATE_SCHEMA = {
    "variable": pl.String, "statistic": pl.String, "quantile": pl.Float64, "subpopulation": pl.String,
    "domain": pl.String, "domain_value": pl.String, "estimate": pl.Float64, "se": pl.Float64,
    "ci_low": pl.Float64, "ci_high": pl.Float64, "n": pl.Int64, "df": pl.Int64, "weight": pl.String,
    "method": pl.String, "reliability_flag": pl.String,
}
ASSOCIATION_SCHEMA = {
    "outcome": pl.String, "model": pl.String, "term": pl.String, "subpopulation": pl.String,
    "estimate": pl.Float64, "se": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
    "p_value": pl.Float64, "n": pl.Int64, "df": pl.Int64, "weight": pl.String, "method": pl.String,
}


@dataclass(frozen=True)
class SurveyDesign:
    """Which columns carry the design. `cycles` pooled NHANES cycles divide the weight (NCHS analytic
    guidelines); `lonely_psu` names R survey's rule for strata with one PSU."""
    weight: str
    strata: str = "stratum"
    psu: str = "psu"
    lonely_psu: str = "adjust"
    cycles: int = 1

    def __post_init__(self):
        if self.lonely_psu not in LONELY_PSU_RULES:
            raise GutaxisError(f"design: lonely_psu {self.lonely_psu!r} is not known; use one of "
                               f"{', '.join(LONELY_PSU_RULES)} (R survey's survey.lonely.psu names)")
        if not isinstance(self.cycles, int) or self.cycles < 1:
            raise GutaxisError(f"design: cycles must be a whole number >= 1 (got {self.cycles!r})")


def lonely_strata(frame: pl.DataFrame, design: SurveyDesign) -> list:
    """Strata with a single PSU among the rows of the design (weight > 0)."""
    # the three design columns only: filtering the whole analysis frame copied every column of it
    in_design = frame.select(design.strata, design.psu, design.weight).filter(pl.col(design.weight).fill_null(0) > 0)
    counts = in_design.group_by(design.strata).agg(pl.col(design.psu).n_unique().alias("psus"))
    return sorted(counts.filter(pl.col("psus") < 2)[design.strata].to_list())


def survey_sample(frame: pl.DataFrame, design: SurveyDesign, domain: pl.Expr | None = None,
                  source: str = "analysis", columns: Sequence[str] | None = None) -> svy.Sample:
    """The frame bound to its design, with a 0/1 domain column; every row stays in the design.

    A null weight is 0: the participant is outside the subsample the weight belongs to (NHANES gives
    interview-only participants MEC weight 0 and no dietary weight), kept so that its PSU still counts.
    columns: the analysed columns; the sample then holds only them and the design's (svy describes every
    column of its frame when it is built: with all exposures, attributes and text ids of a large cohort,
    that took as long as the fit itself)."""
    import svy  # imported on first use: a second of every run's start for cohorts without analyses

    for role, column in (("weight", design.weight), ("strata", design.strata), ("psu", design.psu)):
        if column not in frame.columns:
            raise GutaxisError(f"{source}: the design's {role} column {column} is missing; "
                               "declare it in the spec's design or give participants that carry it")
    for column in (design.strata, design.psu):
        if frame[column].null_count():
            raise GutaxisError(f"{source}: column {column} is missing on {frame[column].null_count():,} rows; "
                               "every participant needs a stratum and a PSU")
    weight = pl.col(design.weight).cast(pl.Float64)
    bad = frame.filter(weight.is_not_null() & ~(weight.is_finite() & (weight >= 0)))
    if bad.height:
        raise GutaxisError(f"{source}: column {design.weight} has {bad.height:,} negative or non-finite weights "
                           f"(first {bad[design.weight][0]!r}); survey weights must be >= 0")
    prepared = frame.with_columns(
        (weight.fill_null(0.0) / design.cycles).alias(design.weight),
        (domain.fill_null(False) if domain is not None else pl.lit(True)).cast(pl.Int8).alias(_IN_DOMAIN))
    if columns is not None:
        prepared = prepared.select(list(dict.fromkeys([design.strata, design.psu, design.weight, _IN_DOMAIN, *columns])))
    if prepared.filter((pl.col(_IN_DOMAIN) == 1) & (pl.col(design.weight) > 0)).height == 0:
        raise GutaxisError(f"{source}: no participant of the domain has a {design.weight} > 0; "
                           "check the domain and that the weight is the one of the subsample analysed")
    rule = LONELY_PSU_RULES[design.lonely_psu]
    return svy.Sample(prepared, svy.Design(stratum=design.strata, psu=design.psu, wgt=design.weight,
                                           singleton=rule))


def refuse_unweighted_members(frame: pl.DataFrame, design: SurveyDesign, domain: pl.Expr | None,
                              columns: Sequence[str], source: str) -> None:
    """A domain member with every analysed value but no positive weight would silently leave the
    estimate: the weight is not the one of the subsample that measured the values (or the domain is too
    wide). Refused in one line."""
    members = frame.filter((domain.fill_null(False) if domain is not None else pl.lit(True))
                           & pl.all_horizontal(pl.col(c).is_not_null() for c in columns)
                           & ~(pl.col(design.weight).fill_null(0) > 0))
    if members.height:
        first = f" (first participant {members['participant_id'][0]})" if "participant_id" in members.columns else ""
        raise GutaxisError(
            f"{source}: {members.height:,} participants of the domain have {', '.join(columns)} but no "
            f"{design.weight} > 0{first}; use the weight of the subsample that measured them (day-1 or two-day "
            "dietary for recalls, MEC for examination outcomes) or restrict the domain to that subsample")


def _where():
    import svy

    return svy.col(_IN_DOMAIN) == 1


def method_label(frame: pl.DataFrame, design: SurveyDesign) -> str:
    import svy

    lonely = lonely_strata(frame, design)
    rule = design.lonely_psu + (f" (strata {', '.join(map(str, lonely))})" if lonely else " (none lonely)")
    return METHOD.format(version=svy.__version__, rule=rule)


def estimate(frame: pl.DataFrame, design: SurveyDesign, variable: str, statistic: str, *,
             by: Sequence[str] = (), domain: pl.Expr | None = None, subpopulation: str = "all",
             quantiles: Sequence[float] = (0.5,), denominator: str | None = None,
             source: str = "analysis") -> pl.DataFrame:
    """One statistic (mean | proportion | ratio | quantile) of `variable`, overall or per domain of `by`,
    within `domain`: rows with a null variable leave the estimate but stay in the design."""
    columns = [variable, *by] + ([denominator] if denominator else [])
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise GutaxisError(f"{source}: column {missing[0]} is not in the analysis frame; name a known outcome, "
                           "component or participant attribute")
    data = frame.with_columns(pl.col(c).cast(pl.String) for c in by)
    if statistic in ("mean", "proportion"):
        data = data.with_columns(pl.col(variable).cast(pl.Float64))
    sample = survey_sample(data, design, domain, source, columns)
    refuse_unweighted_members(data, design, domain, columns, source)
    by_arg = list(by) or None
    common = dict(by=by_arg, where=_where(), drop_nulls=True, alpha=ALPHA)
    if statistic == "mean":
        results = [sample.estimation.mean(variable, **common)]
    elif statistic == "proportion":
        _refuse_non_binary(data, variable, source)
        results = [sample.estimation.prop(variable, ci_method="korn-graubard", **common)]
    elif statistic == "ratio":
        if denominator is None:
            raise GutaxisError(f"{source}: a ratio of {variable} needs a denominator")
        results = [sample.estimation.ratio(variable, denominator, **common)]
    elif statistic == "quantile":
        found = sample.estimation.quantile(variable, p=list(quantiles), q_method=QUANTILE_RULE, **common)
        results = list(found)
    else:
        raise GutaxisError(f"{source}: statistic {statistic!r} is not known; use mean, proportion, ratio or quantile")
    method = method_label(data, design)
    rows = []
    for result in results:
        table = result.to_polars()
        if statistic == "proportion":
            table = _share_of_ones(table, list(by))
        for row in table.iter_rows(named=True):
            rows.append({
                "variable": variable if denominator is None else f"{variable}/{denominator}",
                "statistic": statistic, "quantile": row.get("prob") if statistic == "quantile" else None,
                "subpopulation": subpopulation, "domain": " x ".join(by) if by else "all",
                "domain_value": " x ".join(str(row[c]) for c in by) if by else "all",
                "estimate": row["est"], "se": row["se"], "ci_low": row["lci"], "ci_high": row["uci"],
                "n": row["n"], "df": row["df"], "weight": design.weight, "method": method,
                "reliability_flag": (nchs_proportion_flag(row["est"], row["se"], row["n"], row["df"],
                                                          row["lci"], row["uci"])
                                     if statistic == "proportion" else None)})
    return pl.DataFrame(rows, schema=ESTIMATE_SCHEMA)


def estimate_means(frame: pl.DataFrame, design: SurveyDesign, variables: Sequence[str], *,
                   domain: pl.Expr | None = None, subpopulation: str = "all", source: str = "analysis") -> pl.DataFrame:
    """The overall mean of each of `variables` within `domain`, one row each, as `estimate(..., "mean")`
    gives it for one: the design is bound once and svy estimates the variables in one call (each on its
    own non-null rows), where a call per variable rebuilt the sample and its design (the population
    ratio method asks for one mean per index component and domain: 81 for the DII of one cohort)."""
    variables = list(variables)
    missing = [c for c in variables if c not in frame.columns]
    if missing:
        raise GutaxisError(f"{source}: column {missing[0]} is not in the analysis frame; name a known outcome, "
                           "component or participant attribute")
    data = frame.with_columns(pl.col(variables).cast(pl.Float64))
    sample = survey_sample(data, design, domain, source, variables)
    for variable in variables:  # the same refusal as one estimate() per variable
        refuse_unweighted_members(data, design, domain, [variable], source)
    results = sample.estimation.mean(variables, where=_where(), drop_nulls=True, alpha=ALPHA)
    method = method_label(data, design)
    rows = []
    for variable, result in zip(variables, results if isinstance(results, list) else [results]):
        for row in result.to_polars().iter_rows(named=True):
            rows.append({"variable": variable, "statistic": "mean", "quantile": None, "subpopulation": subpopulation,
                         "domain": "all", "domain_value": "all", "estimate": row["est"], "se": row["se"],
                         "ci_low": row["lci"], "ci_high": row["uci"], "n": row["n"], "df": row["df"],
                         "weight": design.weight, "method": method, "reliability_flag": None})
    return pl.DataFrame(rows, schema=ESTIMATE_SCHEMA)


def _share_of_ones(table: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """The level-1 row of svy's proportion table per domain. svy lists only the levels it sees, so where
    no participant has a 1 the share is taken from the level-0 row: 1 - p, same SE, the interval mirrored
    (Clopper-Pearson-type intervals are symmetric under the complement)."""
    level = table.columns[len(by)]
    ones = table.filter(pl.col(level).cast(pl.Float64) == 1.0)
    zeros = table.filter(pl.col(level).cast(pl.Float64) == 0.0)
    if by:
        zeros = zeros.join(ones.select(by), on=by, how="anti")
    elif ones.height:
        zeros = zeros.clear()
    mirrored = zeros.with_columns((1 - pl.col("est")).alias("est"), (1 - pl.col("uci")).alias("lci"),
                                  (1 - pl.col("lci")).alias("uci"))
    return pl.concat([ones, mirrored]).sort(by) if by else pl.concat([ones, mirrored])


def _refuse_non_binary(frame: pl.DataFrame, variable: str, source: str) -> None:
    values = frame[variable].drop_nulls().unique().to_list()
    if any(v not in (0.0, 1.0) for v in values):
        raise GutaxisError(f"{source}: a proportion needs a 0/1 variable; {variable} has values such as "
                           f"{sorted(v for v in values if v not in (0.0, 1.0))[:3]}: use statistic mean")


def fit_regression(frame: pl.DataFrame, design: SurveyDesign, outcome: str, predictors: Sequence[str], *,
                   model: str, categorical: dict[str, str] | None = None, domain: pl.Expr | None = None,
                   subpopulation: str = "all", source: str = "analysis") -> pl.DataFrame:
    """Survey-weighted logistic (estimates are log odds ratios) or linear regression of `outcome` on
    `predictors` within `domain`; `categorical` maps a predictor to its reference level."""
    import svy

    families = {"logistic": "binomial", "linear": "gaussian"}
    if model not in families:
        raise GutaxisError(f"{source}: model {model!r} is not known; use logistic or linear")
    categorical = categorical or {}
    missing = [c for c in (outcome, *predictors) if c not in frame.columns]
    if missing:
        raise GutaxisError(f"{source}: column {missing[0]} is not in the analysis frame; name a known outcome, "
                           "component or participant attribute")
    data = frame.with_columns(pl.col(outcome).cast(pl.Float64),
                              *(pl.col(c).cast(pl.String) for c in categorical))
    if model == "logistic":
        _refuse_non_binary(data, outcome, source)
    sample = survey_sample(data, design, domain, source, [outcome, *predictors])
    refuse_unweighted_members(data, design, domain, [outcome, *predictors], source)
    terms = [svy.Cat(c, ref=categorical[c]) if c in categorical else c for c in predictors]
    fitted = sample.glm.fit(outcome, x=terms, family=families[model], where=_where(), alpha=ALPHA,
                           tol=REGRESSION_TOLERANCE)
    table = fitted.to_polars()
    used = _rows_used(data, design, outcome, predictors, domain)
    df = design_df(used, design)
    label = f"{method_label(data, design)}; {MODEL_DF}"
    return pl.DataFrame([{
        "outcome": outcome, "model": model, "term": row["term"], "subpopulation": subpopulation,
        "estimate": row["estimate"], "se": row["std_err"], **_t_inference(row["estimate"], row["std_err"], df),
        "n": used.height, "df": df, "weight": design.weight, "method": label,
    } for row in table.iter_rows(named=True)], schema=ASSOCIATION_SCHEMA)


def design_df(rows: pl.DataFrame, design: SurveyDesign) -> int:
    """PSUs minus strata among the rows an estimate uses (R survey's degf() of its domain)."""
    return rows.select(pl.struct(design.strata, design.psu).n_unique()).item() - rows[design.strata].n_unique()


def _t_inference(estimate: float, se: float, df: int) -> dict:
    """95 % CI and two-sided p of a coefficient from t on `df` (see MODEL_DF)."""
    from scipy import stats

    if df < 1 or not (se > 0):
        return {"ci_low": None, "ci_high": None, "p_value": None}
    half = stats.t.ppf(1 - ALPHA / 2, df) * se
    return {"ci_low": estimate - half, "ci_high": estimate + half,
            "p_value": float(2 * stats.t.sf(abs(estimate / se), df))}


def _rows_used(frame, design, outcome, predictors, domain) -> pl.DataFrame:
    """The strata and PSUs of the rows a fit uses: only those columns (the analysis frame holds every
    participant's exposures, and a filter of it copied them all)."""
    inside = pl.col(design.weight).fill_null(0) > 0
    if domain is not None:
        inside = inside & domain.fill_null(False)
    inside = pl.all_horizontal(inside, *(pl.col(c).is_not_null() for c in (outcome, *predictors)))
    return frame.select(design.strata, design.psu, inside.alias("_used")).filter(pl.col("_used")).drop("_used")


def nchs_proportion_flag(p: float, se: float, n: int, df: int, ci_low: float, ci_high: float) -> str | None:
    """NCHS Data Presentation Standards for Proportions (Parker et al., Vital Health Stat 2(175), 2017),
    on a Korn-Graubard interval: None when the proportion may be shown, else why it is suppressed or
    needs a footnote or review.

    Suppress when the effective sample size p(1-p)/SE^2 (at most n; n itself at p = 0 or 1) is below 30,
    when the CI is 0.30 wide or wider, or when it is wider than 0.05 and than 130 % of p. Shown
    proportions are footnoted when the complement's relative width exceeds 130 %, and reviewed when the
    design df is below 8 or p is 0 or 1."""
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (p, ci_low, ci_high)):
        return "suppress: no confidence interval"
    boundary = p <= 0.0 or p >= 1.0
    effective_n = n if boundary or se <= 0 else min(n, p * (1 - p) / se ** 2)
    width = 0.0 if boundary else ci_high - ci_low
    if effective_n < 30:
        return "suppress: effective sample size < 30"
    if width > 0.05:
        if width >= 0.30:
            return "suppress: CI width >= 0.30"
        if width / p > 1.30:
            return "suppress: relative CI width > 130%"
    flags = []
    if width > 0.05 and width / (1 - p) > 1.30:
        flags.append("footnote: complement's relative CI width > 130%")
    if df < 8:
        flags.append("review: design df < 8")
    if boundary:
        flags.append("review: proportion of 0 or 1")
    return "; ".join(flags) or None
