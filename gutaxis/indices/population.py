"""The population ratio method for a group's index score (NCI; Freedman LS, Guenther PM, Krebs-Smith SM,
Kott PS. A population's mean Healthy Eating Index-2005 scores are best estimated by the score of the
population ratio when one 24-hour recall is available. J Nutr 2008;138:1725-1729).

A group's score is the index scored on the group's (survey-weighted) mean intakes: each density is the
ratio of the mean component intake to the mean energy, not the mean of the participants' densities or
scores. The score is a function S(m) of the vector of weighted means m; its standard error comes from
Taylor linearisation (the delta method): with g the gradient of S at m, the participant's linearised
value u_i = g . (y_i - m) has weighted mean 0 in the group, and the design-based SE of that mean (svy,
with the cohort's strata, PSUs and weight) is the SE of S. The score is piecewise linear, so g is exact
away from the standards' kinks and is taken by central differences.
"""
from __future__ import annotations

import polars as pl


from gutaxis.analysis.estimates import ALPHA, SurveyDesign, estimate_means
from gutaxis.indices import IndexDefinition

STATISTIC = "ratio"
METHOD = "NCI population ratio method: the index scored on the weighted mean intakes; SE by linearisation, {variance}"
_U = "_linearised"
_STEP = 1e-6


def group_scores(index: IndexDefinition, means: pl.DataFrame) -> dict[str, float]:
    """component (and total) -> score of the index on the weighted mean intakes in `means` (one row)."""
    return _scores_of_rows(index, means)[0]


def _scores_of_rows(index: IndexDefinition, means: pl.DataFrame) -> list[dict[str, float]]:
    """Per row of `means` (each a vector of mean intakes), component (and total) -> score, scored in one
    call of the index: the indices this method applies to score each row on its own (fixed standards),
    and a call per perturbed vector (two per input for the gradient) cost more than the scoring."""
    inputs = [c for c in means.columns if c not in ("participant_id", "recall_day")]
    rows = means.select(pl.int_range(pl.len()).cast(pl.String).alias("participant_id"),
                        pl.lit(None, pl.Int32).alias("recall_day"), *inputs)
    scored = index.score(rows, None)
    found: list[dict[str, float]] = [{} for _ in range(means.height)]
    for row, component, score in scored.select("participant_id", "component", "score").iter_rows():
        found[int(row)][component] = score
    return found


def _weighted_means(frame: pl.DataFrame, weight: str, columns: tuple[str, ...]) -> pl.DataFrame:
    w = pl.col(weight)
    return frame.select(*((pl.col(c) * w).sum() / w.sum() for c in columns))


def _linearised(index: IndexDefinition, frame: pl.DataFrame, weight: str, required: tuple[str, ...],
                members: pl.Expr) -> tuple[dict[str, float], list[pl.Expr]]:
    """The scores on the weighted means of the `members` of `frame`, and per score the expression of its
    linearised values (0 outside the members)."""
    means = _weighted_means(frame.filter(members), weight, required)
    steps = {k: _STEP * max(abs(means[k][0]), 1.0) for k in required}
    # the published scores from the means alone (polars' kernels may round a one-row column's arithmetic
    # differently in the last bit); the gradient's perturbed vectors, each input's mean moved up by its
    # step and down by it, scored in one call
    scores = group_scores(index, means)
    scored = _scores_of_rows(index, pl.concat([means.with_columns(pl.col(k) + sign * steps[k])
                                               for k in required for sign in (1, -1)]))
    gradients = {c: {} for c in scores}
    for i, k in enumerate(required):
        up, down = scored[2 * i], scored[2 * i + 1]
        for c in scores:
            gradients[c][k] = (up[c] - down[c]) / (2 * steps[k])
    linearised = [pl.when(members).then(pl.sum_horizontal([(pl.col(k) - means[k][0]) * g
                                                           for k, g in gradients[c].items()]))
                  .otherwise(0.0).alias(f"{_U}{c}") for c in scores]
    return scores, linearised


def population_scores(index: IndexDefinition, frame: pl.DataFrame, design: SurveyDesign, domain: pl.Expr,
                      by: list[str], weight_label: str, inputs: tuple[str, ...] | None = None) -> list[dict]:
    """marts.population_estimates rows (without cohort and analysis_id) of the index by the population
    ratio method: for the whole domain, and per level of each `by` column.

    frame: one row per participant with the design columns, the `by` columns and the participant's mean
    intakes of the index's required components (NULL for a participant without a scored day); domain:
    the rows that belong (those outside stay in the design for the variance); inputs: the components
    scored (default the index's required ones; the DII's are the parameters the cohort has)."""
    inputs = index.required if inputs is None else inputs
    complete = pl.all_horizontal(pl.col(c).is_not_null() for c in inputs)
    inside = domain & complete & (pl.col(design.weight).fill_null(0) > 0)
    levels: list[tuple[str, str, pl.Expr]] = [("all", "all", inside)]
    for column in by:
        for value in sorted(frame.filter(inside)[column].drop_nulls().unique().to_list()):
            levels.append((column, str(value), inside & (pl.col(column) == value)))
    from scipy.stats import t as student_t  # on first use: scipy.stats costs every run's start

    rows = []
    filled = frame.with_columns(pl.col(c).fill_null(0.0) for c in inputs)
    for domain_name, domain_value, members in levels:
        if not filled.select(members.any()).item():
            continue
        scores, linearised = _linearised(index, filled, design.weight, inputs, members)
        data = filled.with_columns(linearised)
        spreads = estimate_means(data, design, [f"{_U}{c}" for c in scores], domain=members)
        for (component, score), row in zip(scores.items(), spreads.iter_rows(named=True)):
            # svy gives no interval for a mean of exactly 0: the t-based half-width on the design df instead
            half = float(student_t.ppf(1 - ALPHA / 2, row["df"]) * row["se"]) if row["df"] and row["se"] is not None \
                else None
            variable = index.index_id if component == "total" else f"{index.index_id}_{component}"
            rows.append({"variable": variable, "statistic": STATISTIC, "quantile": None, "subpopulation": "all",
                         "domain": domain_name, "domain_value": domain_value, "estimate": score, "se": row["se"],
                         "ci_low": score - half if half is not None else None,
                         "ci_high": score + half if half is not None else None,
                         "n": row["n"], "df": row["df"], "weight": weight_label,
                         "method": METHOD.format(variance=row["method"]), "reliability_flag": None})
    return rows
