"""Alternate Mediterranean diet score (aMED; Fung TT, McCullough ML, Newby PK, et al. Diet-quality scores and
plasma concentrations of markers of inflammation and endothelial dysfunction. Am J Clin Nutr 2005;82:163-173),
adapted from Trichopoulou's Mediterranean diet scale.

9 components, 0 or 1 point, total 0-9: vegetables (potatoes excluded), legumes, fruit, nuts, whole
grains, fish and the ratio of monounsaturated to saturated fat earn the point at or above the
cohort median (not sex-specific), and above zero; red and processed meat earns it below the median
or at zero; alcohol earns it within a fixed range of grams per day. The zero rules are
dietaryindex's (MED(): a median of 0 gives the point to every eater of a good food), which
tests/test_indices_ahei_amed_dii.py checks against its validation grid.

Alcohol: Fung et al. give 1 point for 5-15 g/d in the Nurses' Health Study women (the range used
here for women); for men gutaxis uses 10-25 g/d, the range dietaryindex applies to everyone, so a
cohort of men scores as the package does. A participant of unknown sex is scored with the men's
range only if the whole cohort has no sex recorded: otherwise the row is not scored.

Servings from FPED components as dietaryindex's MED_NHANES_FPED() forms them (vegetables = dark-green
cup eq + other non-potato vegetables / 0.5; legumes = FPED legumes (protein) + soy; fish = seafood
high + low in n-3; red and processed meat = cured / 1.5 + (red + organ) / 4, oz eq); units do not
matter for a median split as long as every row uses the same ones.
"""
from __future__ import annotations

import polars as pl

from gutaxis.indices.scoring import KCAL, KEYS, complete_rows, long_scores, sex_of

INDEX_ID = "amed"
NAME = "Alternate Mediterranean diet score"

REQUIRED: tuple[str, ...] = (
    KCAL, "fg_vegetables", "fg_dark_green_veg", "fg_potatoes", "fg_legumes_protein", "fg_soy", "fg_fruit",
    "fg_nuts_seeds", "fg_whole_grains", "fg_seafood_high_n3", "fg_seafood_low_n3", "monounsaturated_fat",
    "saturated_fat", "fg_red_meat", "fg_cured_meat", "fg_organ_meat", "alcohol")
GOOD = ("vegetables", "legumes", "fruit", "nuts", "whole_grains", "fish", "mufa_sfa_ratio")
BAD = ("red_processed_meat",)
COMPONENTS = (*GOOD, *BAD, "alcohol")
MAX_SCORES = {c: 1.0 for c in COMPONENTS}
# Scored against cohort medians: a group's mean intakes have no such distribution, so no population ratio.
POPULATION_RATIO = False
ALCOHOL_G = {"female": (5.0, 15.0), "male": (10.0, 25.0)}


def intakes(rows: pl.DataFrame) -> pl.DataFrame:
    col = lambda name: pl.col(name).cast(pl.Float64)  # noqa: E731
    saturated = col("saturated_fat")
    return rows.select(
        *KEYS,
        vegetables=col("fg_dark_green_veg") + (col("fg_vegetables") - col("fg_dark_green_veg") - col("fg_potatoes")) / 0.5,
        legumes=col("fg_legumes_protein") + col("fg_soy"),
        fruit=col("fg_fruit"),
        nuts=col("fg_nuts_seeds"),
        whole_grains=col("fg_whole_grains"),
        fish=col("fg_seafood_high_n3") + col("fg_seafood_low_n3"),
        # no saturated fat at all: the ratio is as favourable as it gets, not undefined
        mufa_sfa_ratio=pl.when(saturated > 0).then(col("monounsaturated_fat") / saturated)
        .when(col("monounsaturated_fat") > 0).then(float("inf")).otherwise(0.0),
        red_processed_meat=col("fg_cured_meat") / 1.5 + (col("fg_red_meat") + col("fg_organ_meat")) / 4,
        alcohol=col("alcohol"),
    )


def medians(intake: pl.DataFrame) -> dict[str, float]:
    """The cohort median of each median-scored component (for the record and for `score_intakes`)."""
    return intake.select(pl.col(c).median() for c in (*GOOD, *BAD)).row(0, named=True)


def thresholds(rows: pl.DataFrame, participants: pl.DataFrame | None = None) -> pl.DataFrame:
    """index_id, sex ('all': the medians are the whole cohort's), component, kind, median, n: the medians
    `score` scores the same rows against, for the record (audit.index_thresholds)."""
    intake = intakes(complete_rows(rows, REQUIRED))
    cut = medians(intake)
    return pl.DataFrame({"index_id": INDEX_ID, "sex": "all", "component": list(cut), "kind": "median",
                         "median": [float(v) if v is not None else None for v in cut.values()],
                         "n": intake.height}, schema_overrides={"n": pl.Int64, "median": pl.Float64})


def score_intakes(intake: pl.DataFrame) -> pl.DataFrame:
    """keys and a 0/1 column per component, from `intakes`' frame with alcohol_low and alcohol_high (g/d) per row."""
    cut = medians(intake)
    points = {c: pl.when((pl.col(c) > 0) & (pl.col(c) >= cut[c])).then(1.0).otherwise(0.0) for c in GOOD}
    points.update({c: pl.when((pl.col(c) == 0) | (pl.col(c) < cut[c])).then(1.0).otherwise(0.0) for c in BAD})
    drinks = pl.col("alcohol")
    points["alcohol"] = pl.when((drinks >= pl.col("alcohol_low")) & (drinks <= pl.col("alcohol_high"))).then(1.0).otherwise(0.0)
    return intake.select(*KEYS, *(points[c].alias(c) for c in COMPONENTS))


def score(rows: pl.DataFrame, participants: pl.DataFrame | None) -> pl.DataFrame:
    """participant_id, recall_day, component, score, max_score (9 components and the total)."""
    rows = complete_rows(rows, REQUIRED).with_columns(pl.col("participant_id").cast(pl.String))
    sexes = (participants.select(pl.col("participant_id").cast(pl.String), sex=sex_of()).unique("participant_id")
             if participants is not None and "sex" in participants.columns
             else pl.DataFrame(schema={"participant_id": pl.String, "sex": pl.String}))
    intake = intakes(rows).join(sexes, on="participant_id", how="left")
    if intake["sex"].null_count() < intake.height:  # some sexes known: a row without one cannot be scored
        intake = intake.filter(pl.col("sex").is_not_null())
    female, male = ALCOHOL_G["female"], ALCOHOL_G["male"]
    is_female = pl.col("sex") == "female"
    intake = intake.with_columns(alcohol_low=pl.when(is_female).then(female[0]).otherwise(male[0]),
                                 alcohol_high=pl.when(is_female).then(female[1]).otherwise(male[1]))
    return long_scores(score_intakes(intake), MAX_SCORES)
