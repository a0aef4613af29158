"""Dietary Index for Gut Microbiota (DI-GM; Kase BE et al., Nutrients 2024;16:1045).

14 components, each 0 or 1 point, total 0-14:
- beneficial (10): avocado, broccoli, chickpeas, coffee, cranberries, fermented dairy, fibre,
  green tea, soybean, whole grains: 1 point when the intake is above zero and at or above the
  sex-specific median intake of the cohort;
- unfavourable (3): red meat, processed meat, refined grains: 1 point when the intake is zero or
  below the sex-specific median;
- high-fat diet: 1 point when fat gives less than 40 % of energy (a fixed cut, not a median).
The zero rules make a median of 0 (most people eat no avocado on a given day) give the point to
every eater of a beneficial food and to every non-eater of an unfavourable one, as dietaryindex's
DI_GM() does (Zhan JJ et al., dietaryindex R package, R/DI_GM.R).

Medians are of the rows scored: participant-days for the per-day index, participant mean intakes
for the per-participant one (the paper scored the mean of the two NHANES recalls). They are
returned by `thresholds` and kept per run in audit.index_thresholds. A
participant without a recorded sex is scored against the median of everyone of unknown sex when
there are any such rows: with no sex anywhere (a cohort without attributes) that is the
whole-cohort median, recorded as sex 'all'.

Inputs (daily amounts): digm_<food> grams from the FNDDS food classification
(gutaxis.components.digm_foods), fiber g, fg_whole_grains, fg_refined_grains, fg_red_meat and
fg_cured_meat (FPED oz eq), fat_total g and energy_kcal.
"""
from __future__ import annotations

import polars as pl

from gutaxis.components.digm_foods import component_id
from gutaxis.indices.scoring import KEYS, complete_rows, long_scores, sex_of

INDEX_ID = "digm"
NAME = "Dietary Index for Gut Microbiota"
# DI-GM component -> the registry component it scores (fat: fat_total with energy_kcal)
BENEFICIAL = {
    "avocado": component_id("avocado"), "broccoli": component_id("broccoli"),
    "chickpeas": component_id("chickpeas"), "coffee": component_id("coffee"),
    "cranberries": component_id("cranberries"), "fermented_dairy": component_id("fermented_dairy"),
    "fiber": "fiber", "green_tea": component_id("green_tea"), "soybean": component_id("soybean"),
    "whole_grains": "fg_whole_grains",
}
UNFAVOURABLE = {"red_meat": "fg_red_meat", "processed_meat": "fg_cured_meat", "refined_grains": "fg_refined_grains"}
HIGH_FAT = "high_fat_diet"
HIGH_FAT_CUT_PCT = 40.0  # % of energy from fat (Kase et al. 2024)
FAT_KCAL_PER_G = 9.0
REQUIRED = (*BENEFICIAL.values(), *UNFAVOURABLE.values(), "fat_total", "energy_kcal")
COMPONENTS = (*BENEFICIAL, *UNFAVOURABLE, HIGH_FAT)
MAX_SCORES = {c: 1.0 for c in COMPONENTS}
# Scored against sex-specific cohort medians: a group's mean intakes have no such distribution, so no population ratio.
POPULATION_RATIO = False
UNKNOWN_SEX = "all"


def _with_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """participant_id as text and recall_day as Int32 (NULL for a row of participant means)."""
    day = pl.col("recall_day") if "recall_day" in frame.columns else pl.lit(None)
    return frame.with_columns(pl.col("participant_id").cast(pl.String), day.cast(pl.Int32).alias("recall_day"))


def intakes(rows: pl.DataFrame, participants: pl.DataFrame | None) -> pl.DataFrame:
    """keys, sex_group, one column per scored component (daily amount; high_fat_diet: % energy from fat).

    `rows`: participant_id, recall_day (NULL or absent for participant means) and the REQUIRED components as columns (daily amounts).
    `participants`: participant_id, sex (any coding; null or absent = unknown).
    """
    # one group per sex however it is coded (female, F, 2); an unknown coding keeps its own group
    sexes = (participants.select(pl.col("participant_id").cast(pl.String),
                                 sex=pl.coalesce(sex_of(), pl.col("sex").cast(pl.String)))
             if participants is not None and "sex" in participants.columns
             else pl.DataFrame(schema={"participant_id": pl.String, "sex": pl.String}))
    energy = pl.col("energy_kcal").cast(pl.Float64)
    fat_pct = (pl.when(energy > 0).then(FAT_KCAL_PER_G * pl.col("fat_total").cast(pl.Float64) / energy * 100)
               .otherwise(0.0))  # a day without energy has no fat either: not a high-fat day
    return (_with_keys(rows)
            .join(sexes.unique("participant_id"), on="participant_id", how="left")
            .select(*KEYS, sex_group=pl.col("sex").fill_null(UNKNOWN_SEX),
                    **{name: pl.col(cid).cast(pl.Float64) for name, cid in {**BENEFICIAL, **UNFAVOURABLE}.items()},
                    **{HIGH_FAT: fat_pct}))


def thresholds(rows: pl.DataFrame, participants: pl.DataFrame | None) -> pl.DataFrame:
    """index_id, sex, component, kind, median, n: the cohort medians that `score` scores the same rows against
    (high_fat_diet: the fixed 40 % cut), for the record (audit.index_thresholds)."""
    return sex_group_medians(intakes(complete_rows(rows, REQUIRED), participants))


def sex_group_medians(scored: pl.DataFrame) -> pl.DataFrame:
    """`thresholds` from `intakes`' frame."""
    medians = (scored.group_by("sex_group")
               .agg(n=pl.len(), **{c: pl.col(c).median() for c in (*BENEFICIAL, *UNFAVOURABLE)})
               .unpivot(index=["sex_group", "n"], variable_name="component", value_name="median"))
    fixed = scored.group_by("sex_group").agg(n=pl.len()).with_columns(
        component=pl.lit(HIGH_FAT), median=pl.lit(HIGH_FAT_CUT_PCT))
    return (pl.concat([medians.with_columns(kind=pl.lit("median")),
                       fixed.select(medians.columns).with_columns(kind=pl.lit("fixed cut, % of energy"))])
            .select(index_id=pl.lit(INDEX_ID), sex="sex_group", component="component", kind="kind",
                    median=pl.col("median"), n=pl.col("n").cast(pl.Int64))
            .sort("sex", "component"))


def component_scores(scored: pl.DataFrame) -> pl.DataFrame:
    """keys and a 0/1 column per component, scored against the sex-group medians of these rows."""
    medians = sex_group_medians(scored).pivot(on="component", index="sex", values="median")
    joined = scored.join(medians.rename({c: f"{c}__median" for c in medians.columns if c != "sex"}),
                         left_on="sex_group", right_on="sex", how="left")
    points = {}
    for name in BENEFICIAL:
        amount, median = pl.col(name), pl.col(f"{name}__median")
        points[name] = pl.when((amount > 0) & (amount >= median)).then(1.0).otherwise(0.0)
    for name in UNFAVOURABLE:
        amount, median = pl.col(name), pl.col(f"{name}__median")
        points[name] = pl.when((amount == 0) | (amount < median)).then(1.0).otherwise(0.0)
    points[HIGH_FAT] = pl.when(pl.col(HIGH_FAT) < HIGH_FAT_CUT_PCT).then(1.0).otherwise(0.0)
    return joined.select(*KEYS, **points)


def score(rows: pl.DataFrame, participants: pl.DataFrame | None) -> pl.DataFrame:
    """participant_id, recall_day, component, score, max_score: the 14 components and the total for every
    row of `rows` that has all its inputs (see `intakes`; recall_day NULL for a row of participant means).
    A row missing an input is not scored, and does not count towards the medians either."""
    return long_scores(component_scores(intakes(complete_rows(rows, REQUIRED), participants)), MAX_SCORES)
