"""Healthy Eating Index 2015 (Krebs-Smith SM, Pannucci TE, Subar AF, et al. Update of the Healthy Eating
Index: HEI-2015. J Acad Nutr Diet 2018;118:1591-1602; scoring standards in its Table 1, applied as NCI's
HEI-2015 scoring macro, hei2015.score.macro.sas, version 1.0, 2017, applies them).

Nine adequacy components score in proportion to their density per 1000 kcal up to the standard for the
maximum; four moderation components score full points at or below one standard and none at or above
another, linearly between. Legumes count in all four vegetable and protein components (FPED V_LEGUMES as
vegetables, PF_LEGUMES as protein foods), as the 2015 index counts them. A day with no energy scores 0
on every component (the macro's rule).
"""
from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from gutaxis.indices.scoring import (KCAL, adequacy, complete_rows, long_scores, moderation, per_1000kcal,
                                     ratio_score)

INDEX_ID = "hei2015"
NAME = "Healthy Eating Index 2015"

# component -> the registry components summed into its intake
INTAKES: dict[str, tuple[str, ...]] = {
    "total_vegetables": ("fg_vegetables", "fg_legumes"),
    "greens_and_beans": ("fg_dark_green_veg", "fg_legumes"),
    "total_fruit": ("fg_fruit",),
    # FPED's F_CITMLB + F_OTHER, as the NCI macro takes it: F_TOTAL - F_JUICE differs by up to 0.03 cup eq. in
    # NHANES' day totals, which FPED rounds column by column to 2 decimals
    "whole_fruit": ("fg_citrus_melons_berries", "fg_other_fruit"),
    "whole_grains": ("fg_whole_grains",),
    "dairy": ("fg_dairy",),
    "total_protein_foods": ("fg_meat_poultry_seafood", "fg_eggs", "fg_nuts_seeds", "fg_soy", "fg_legumes_protein"),
    "seafood_plant_proteins": ("fg_seafood_high_n3", "fg_seafood_low_n3", "fg_nuts_seeds", "fg_soy",
                               "fg_legumes_protein"),
    "refined_grains": ("fg_refined_grains",),
}
REQUIRED: tuple[str, ...] = tuple(dict.fromkeys((
    KCAL, *(c for parts in INTAKES.values() for c in parts), "monounsaturated_fat",
    "polyunsaturated_fat", "saturated_fat", "sodium", "fg_added_sugars")))

ADEQUACY = ("total_vegetables", "greens_and_beans", "total_fruit", "whole_fruit", "whole_grains", "dairy",
            "total_protein_foods", "seafood_plant_proteins")
MAX_SCORES: dict[str, float] = {
    "total_vegetables": 5.0, "greens_and_beans": 5.0, "total_fruit": 5.0, "whole_fruit": 5.0,
    "whole_grains": 10.0, "dairy": 10.0, "total_protein_foods": 5.0, "seafood_plant_proteins": 5.0,
    "fatty_acids": 10.0, "refined_grains": 10.0, "sodium": 10.0, "added_sugars": 10.0, "saturated_fats": 10.0,
}
KCAL_PER_G_FAT = 9.0
# 1 tsp eq. of added sugars is 4 g (FPED), at 4 kcal/g: 16 kcal (the NCI macro's factor).
KCAL_PER_TSP_ADDED_SUGARS = 16.0


@dataclass(frozen=True)
class Standards:
    """The scoring standards of one HEI version and age group."""
    adequacy: dict[str, float]        # density per 1000 kcal for the maximum score
    fatty_acids: tuple[float, float]  # (MUFA + PUFA) / SFA: 0 points at or below, maximum at or above
    refined_grains: tuple[float, float]  # oz eq. / 1000 kcal: maximum at or below, 0 at or above
    sodium: tuple[float, float]       # g / 1000 kcal
    added_sugars: tuple[float, float]  # % of energy
    saturated_fats: tuple[float, float]  # % of energy


# Krebs-Smith et al. 2018, Table 1 (ages 2 and older); HEI-2020 keeps them for ages 2 and older.
AGES_2_AND_OLDER = Standards(
    adequacy={"total_vegetables": 1.1, "greens_and_beans": 0.2, "total_fruit": 0.8, "whole_fruit": 0.4,
              "whole_grains": 1.5, "dairy": 1.3, "total_protein_foods": 2.5, "seafood_plant_proteins": 0.8},
    fatty_acids=(1.2, 2.5), refined_grains=(1.8, 4.3), sodium=(1.1, 2.0), added_sugars=(6.5, 26.0),
    saturated_fats=(8.0, 16.0),
)


def intake(component: str) -> pl.Expr:
    return pl.sum_horizontal(INTAKES[component])


def component_scores(standards: Standards) -> list[pl.Expr]:
    """One expression per component (named as in MAX_SCORES) under the given standards."""
    kcal = pl.col(KCAL)
    scores = [adequacy(per_1000kcal(intake(c)), standards.adequacy[c], MAX_SCORES[c]).alias(c) for c in ADEQUACY]
    scores += [
        ratio_score(pl.col("monounsaturated_fat") + pl.col("polyunsaturated_fat"), pl.col("saturated_fat"),
                    *standards.fatty_acids, MAX_SCORES["fatty_acids"]).alias("fatty_acids"),
        moderation(per_1000kcal(intake("refined_grains")), *standards.refined_grains,
                   MAX_SCORES["refined_grains"]).alias("refined_grains"),
        moderation(pl.when(kcal > 0).then(pl.col("sodium") / kcal), *standards.sodium,
                   MAX_SCORES["sodium"]).alias("sodium"),
        moderation(pl.when(kcal > 0).then(100 * pl.col("fg_added_sugars") * KCAL_PER_TSP_ADDED_SUGARS / kcal),
                   *standards.added_sugars, MAX_SCORES["added_sugars"]).alias("added_sugars"),
        moderation(pl.when(kcal > 0).then(100 * pl.col("saturated_fat") * KCAL_PER_G_FAT / kcal),
                   *standards.saturated_fats, MAX_SCORES["saturated_fats"]).alias("saturated_fats"),
    ]
    # no energy: every component 0, as the NCI macro scores such a day
    return [pl.when(kcal == 0).then(0.0).otherwise(s).alias(s.meta.output_name()) for s in scores]


def wide_scores(days: pl.DataFrame, standards: Standards = AGES_2_AND_OLDER) -> pl.DataFrame:
    """participant_id, recall_day and a score column per component, for the rows with every input."""
    return complete_rows(days, REQUIRED).select("participant_id", "recall_day", *component_scores(standards))


def score(days: pl.DataFrame, participants: pl.DataFrame | None = None) -> pl.DataFrame:
    """HEI-2015 per row of `days` (participant-days, or participants' means with recall_day NULL).
    Participants known to be under 2 years old are left out: the index is defined from age 2."""
    days = _from_age_two(days, participants)
    return long_scores(wide_scores(days), MAX_SCORES)


def _from_age_two(days: pl.DataFrame, participants: pl.DataFrame | None) -> pl.DataFrame:
    if participants is None or "age_years" not in participants.columns:
        return days
    young = participants.filter(pl.col("age_years") < 2)["participant_id"].cast(pl.String)
    return days.filter(~pl.col("participant_id").cast(pl.String).is_in(young.implode()))
