"""Healthy Eating Index 2020 (Shams-White MM, Pannucci TE, Lerman JL, et al. Healthy Eating Index-2020:
Review and Update Process to Reflect the Dietary Guidelines for Americans, 2020-2025. J Acad Nutr Diet
2023;123:1280-1288).

For ages 2 and older HEI-2020 keeps the components and scoring standards of HEI-2015. For toddlers
(12 through 23 months) it scores the same 13 components against the HEI-Toddlers-2020 standards of the
same paper. A participant's age comes from the participants' `age_years` (NHANES RIDAGEYR 1 = 12-23
months); without an age the standards for ages 2 and older apply, and infants under 12 months are not
scored (no HEI standard covers them).
"""
from __future__ import annotations

import polars as pl

from gutaxis.indices import hei2015
from gutaxis.indices.hei2015 import AGES_2_AND_OLDER, MAX_SCORES, REQUIRED, Standards
from gutaxis.indices.scoring import long_scores

INDEX_ID = "hei2020"
NAME = "Healthy Eating Index 2020"
__all__ = ["INDEX_ID", "NAME", "REQUIRED", "MAX_SCORES", "TODDLERS", "score"]

# HEI-Toddlers-2020 (Shams-White et al. 2023, the toddler scoring standards table).
TODDLERS = Standards(
    adequacy={"total_vegetables": 0.9, "greens_and_beans": 0.1, "total_fruit": 0.7, "whole_fruit": 0.3,
              "whole_grains": 1.5, "dairy": 2.0, "total_protein_foods": 2.0, "seafood_plant_proteins": 0.5},
    fatty_acids=(0.9, 1.5), refined_grains=(1.5, 3.4), sodium=(1.1, 1.7), added_sugars=(0.0, 13.8),
    saturated_fats=(12.2, 18.2),
)


def score(days: pl.DataFrame, participants: pl.DataFrame | None = None) -> pl.DataFrame:
    """HEI-2020 per row of `days`: toddler standards for participants aged 1 (12-23 months), the
    standards for ages 2 and older for the others; infants (age < 1) are not scored."""
    ages = _ages(days, participants)
    toddlers = ages.filter((pl.col("age_years") >= 1) & (pl.col("age_years") < 2)).drop("age_years")
    older = ages.filter(pl.col("age_years").is_null() | (pl.col("age_years") >= 2)).drop("age_years")
    wide = pl.concat([hei2015.wide_scores(older, AGES_2_AND_OLDER), hei2015.wide_scores(toddlers, TODDLERS)])
    return long_scores(wide, MAX_SCORES)


def _ages(days: pl.DataFrame, participants: pl.DataFrame | None) -> pl.DataFrame:
    days = days.with_columns(pl.col("participant_id").cast(pl.String))
    if participants is None or "age_years" not in participants.columns:
        return days.with_columns(pl.lit(None, pl.Float64).alias("age_years"))
    ages = participants.select(pl.col("participant_id").cast(pl.String), pl.col("age_years").cast(pl.Float64))
    return days.join(ages.unique("participant_id"), on="participant_id", how="left")

