"""Shared arithmetic of density-based diet-quality indices: intake densities, the linear scoring
rules of the HEI family, the participant's mean intakes, and the long output shape.

An index module's `score(days, participants)` takes one row per participant-day (or per participant,
recall_day null) with a column per registry component amount, and gives one row per
(participant_id, recall_day, component) with score and max_score; `component = 'total'` holds the sum.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import polars as pl

KEYS = ("participant_id", "recall_day")
SCORE_SCHEMA = {"participant_id": pl.String, "recall_day": pl.Int32, "component": pl.String,
                "score": pl.Float64, "max_score": pl.Float64}
TOTAL = "total"
KCAL = "energy_kcal"


def per_1000kcal(amount: pl.Expr, kcal: pl.Expr = pl.col(KCAL)) -> pl.Expr:
    """Intake density per 1000 kcal (NULL when energy is 0: scored by the index's zero-energy rule)."""
    return pl.when(kcal > 0).then(amount / (kcal / 1000))


def adequacy(density: pl.Expr, standard: float, points: float) -> pl.Expr:
    """Points in proportion to the density up to the standard for the maximum; 0 for none."""
    return pl.when(density <= 0).then(0.0).otherwise(pl.min_horizontal(points * (density / standard), pl.lit(points)))


def moderation(value: pl.Expr, best: float, worst: float, points: float) -> pl.Expr:
    """Full points at or below `best`, none at or above `worst`, linear in between."""
    return (pl.when(value <= best).then(points)
            .when(value >= worst).then(0.0)
            .otherwise(points - points * (value - best) / (worst - best)))


def ratio_score(numerator: pl.Expr, denominator: pl.Expr, low: float, high: float, points: float) -> pl.Expr:
    """Points for a ratio that should be high (the HEI fatty-acid ratio): none at or below `low`, full at or
    above `high`; with no denominator, full points when there is a numerator and none when both are 0
    (the NCI macro's rules)."""
    ratio = numerator / denominator
    return (pl.when((denominator == 0) & (numerator == 0)).then(0.0)
            .when(denominator == 0).then(points)
            .when(ratio >= high).then(points)
            .when(ratio <= low).then(0.0)
            .otherwise(points * (ratio - low) / (high - low)))


def participant_means(days: pl.DataFrame) -> pl.DataFrame:
    """One row per participant: the mean of each component over the participant's days, recall_day NULL
    (the "simple HEI score" is scored on these means, a ratio of mean intakes)."""
    components = [c for c in days.columns if c not in KEYS]
    return (days.group_by("participant_id", maintain_order=True)
            .agg(pl.col(components).mean())
            .with_columns(pl.lit(None, pl.Int32).alias("recall_day"))
            .select("participant_id", "recall_day", *components))


def complete_rows(days: pl.DataFrame, required: tuple[str, ...]) -> pl.DataFrame:
    """The rows on which every required component has a value (a row missing one is not scored: a NULL
    means no source could compute it, and scoring it as 0 would give a wrong number)."""
    return days.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in required))


def long_scores(wide: pl.DataFrame, max_scores: Mapping[str, float]) -> pl.DataFrame:
    """Component score columns (named as in max_scores) to long rows, plus the total as their sum; ordered
    by participant_id, recall_day (nulls last) and component.

    Built row by row from the wide rows sorted by their keys (each row's components in name order), not
    by unpivoting and sorting the long rows: a cohort's long table has a row per component and
    participant-day (18 M for the DII's 26 parameters over 667 k days), and sorting those on their text
    keys took most of the index step."""
    components = list(max_scores)
    if not wide.height:
        return pl.DataFrame(schema=SCORE_SCHEMA)
    maxima = {**max_scores, TOTAL: float(sum(max_scores.values()))}
    names = sorted(maxima)
    ordered = (wide.select(pl.col("participant_id").cast(pl.String), pl.col("recall_day").cast(pl.Int32),
                           *components, pl.sum_horizontal(components).alias(TOTAL))
               .sort("participant_id", "recall_day", nulls_last=True))
    repeated = np.repeat(np.arange(ordered.height, dtype=np.int64), len(names))
    which = np.tile(np.arange(len(names), dtype=np.int64), ordered.height)
    return pl.DataFrame([
        ordered["participant_id"].gather(repeated),
        ordered["recall_day"].gather(repeated),
        pl.Series("component", names, dtype=pl.String).gather(which),
        _row_major(ordered.select(pl.col(names).cast(pl.Float64))).alias("score"),
        pl.Series("max_score", [maxima[n] for n in names], dtype=pl.Float64).gather(which),
    ])


def _row_major(frame: pl.DataFrame) -> pl.Series:
    """The frame's values row after row (row 0's columns, then row 1's, ...), NULLs kept as NULL: through
    numpy, as concat_list + explode took ten times as long."""
    values = pl.Series(frame.to_numpy(order="c").ravel(), dtype=pl.Float64)
    if not any(frame[c].null_count() for c in frame.columns):
        return values
    nulls = pl.Series(frame.select(pl.all().is_null()).to_numpy(order="c").ravel())
    return pl.select(pl.when(nulls).then(None).otherwise(values)).to_series()


FEMALE = ("female", "f", "2", "woman", "women")
MALE = ("male", "m", "1", "man", "men")


def sex_of(column: str = "sex") -> pl.Expr:
    """'female', 'male' or NULL from the participants' sex however it is coded (female/male, F/M, NHANES 2/1)."""
    text = pl.col(column).cast(pl.String).str.strip_chars().str.to_lowercase().str.replace(r"\.0+$", "")
    return pl.when(text.is_in(FEMALE)).then(pl.lit("female")).when(text.is_in(MALE)).then(pl.lit("male"))
