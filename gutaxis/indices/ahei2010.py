"""Alternate Healthy Eating Index 2010 (Chiuve SE, Fung TT, Rimm EB, et al. Alternative dietary indices both
strongly predict risk of chronic disease. J Nutr 2012;142:1009-1018; criteria in its Table 1).

11 components, 0-10 points each (total 0-110), linear between the intakes for 0 and for 10:
vegetables 0-5 servings/d (potatoes excluded), whole fruit 0-4 servings/d, whole grains 0-75 g/d
(women) or 0-90 g/d (men), nuts and legumes 0-1 serving/d, long-chain n-3 fats (EPA + DHA) 0-250 mg/d,
PUFA 2-10 % of energy; less is better for sugar-sweetened beverages and fruit juice (1 serving/d
for 0, none for 10), red and processed meat (1.5 servings/d for 0, none for 10), trans fat (4 % of
energy for 0, 0.5 % for 10); sodium scores by the cohort's energy-adjusted (per 2000 kcal)
distribution, highest group 0 and lowest 10; alcohol 10 for 0.5-1.5 drinks/d (women) or 0.5-2.0
(men), 0 at 2.5 (women) or 3.5 (men) and above, 2.5 for non-drinkers (0.125 drinks/d or less),
linear between.

Servings from gutaxis's registry components, as dietaryindex's AHEI_NHANES_FPED() forms them from FPED
(Zhan JJ et al., dietaryindex R package; its validation grid is what tests/test_indices_ahei_amed_dii.py
checks the scoring against): vegetables = dark-green cup eq + the other non-potato vegetables' cup
eq / 0.5; fruit = FPED fruit less juice, cup eq; whole grains g = oz eq / 0.035274; nuts and
legumes = FPED legumes (protein), nuts and seeds, soy, oz eq; red and processed meat = cured meat
/ 1.5 + (red meat + organ meat) / 4 oz eq; sodium's 11 groups are cut at the cohort's 1/11
quantiles, as the package does. Sugar-sweetened beverages (`ssb`, servings of 8 fl oz) and trans
fat are in no FNDDS or NHANES table: a cohort without them gets "not computable: missing ssb,
trans_fat", not an index quietly rebuilt without them.
"""
from __future__ import annotations

import polars as pl

from gutaxis.indices.scoring import KCAL, KEYS, complete_rows, long_scores, sex_of

INDEX_ID = "ahei2010"
NAME = "Alternate Healthy Eating Index 2010"

REQUIRED: tuple[str, ...] = (
    KCAL, "fg_vegetables", "fg_dark_green_veg", "fg_potatoes", "fg_fruit", "fg_fruit_juice", "fg_whole_grains",
    "fg_legumes_protein", "fg_nuts_seeds", "fg_soy", "omega3_epa", "omega3_dha", "polyunsaturated_fat", "ssb",
    "fg_red_meat", "fg_cured_meat", "fg_organ_meat", "trans_fat", "sodium", "fg_alcoholic_drinks")
COMPONENTS = ("vegetables", "fruit", "whole_grains", "nuts_legumes", "long_chain_n3", "pufa", "ssb_fruit_juice",
              "red_processed_meat", "trans_fat", "sodium", "alcohol")
MAX_SCORES = {c: 10.0 for c in COMPONENTS}
# Scored against the cohort's sodium groups: a group's mean intakes have no such distribution, so no population ratio.
POPULATION_RATIO = False
OZ_PER_G = 0.035274
KCAL_PER_G_FAT = 9.0
SODIUM_GROUPS = 11  # scores 0-10
# (intake for 0 points, intake for 10 points)
LINEAR = {"vegetables": (0.0, 5.0), "fruit": (0.0, 4.0), "nuts_legumes": (0.0, 1.0), "long_chain_n3": (0.0, 250.0),
          "pufa": (2.0, 10.0), "ssb_fruit_juice": (1.0, 0.0), "red_processed_meat": (1.5, 0.0), "trans_fat": (4.0, 0.5)}
WHOLE_GRAINS_G = {"female": 75.0, "male": 90.0}
# sex -> (upper end of the best range, drinks/d at and above which 0 points)
ALCOHOL = {"female": (1.5, 2.5), "male": (2.0, 3.5)}
ALCOHOL_BEST_FROM = 0.5
NON_DRINKER = 0.125  # drinks/d at or below: a non-drinker, 2.5 points
NON_DRINKER_POINTS = 2.5
def servings(rows: pl.DataFrame) -> pl.DataFrame:
    """keys and the AHEI intakes in the units the criteria use (servings, g, mg, % of energy, mg per 2000 kcal)."""
    col = lambda name: pl.col(name).cast(pl.Float64)  # noqa: E731
    energy = col(KCAL)
    return rows.select(
        *KEYS,
        vegetables=col("fg_dark_green_veg") + (col("fg_vegetables") - col("fg_dark_green_veg") - col("fg_potatoes")) / 0.5,
        fruit=col("fg_fruit") - col("fg_fruit_juice"),
        whole_grains=col("fg_whole_grains") / OZ_PER_G,
        nuts_legumes=col("fg_legumes_protein") + col("fg_nuts_seeds") + col("fg_soy"),
        long_chain_n3=(col("omega3_epa") + col("omega3_dha")) * 1000,
        pufa=pl.when(energy > 0).then(col("polyunsaturated_fat") * KCAL_PER_G_FAT / energy * 100).otherwise(0.0),
        ssb_fruit_juice=col("ssb") + col("fg_fruit_juice"),
        red_processed_meat=col("fg_cured_meat") / 1.5 + (col("fg_red_meat") + col("fg_organ_meat")) / 4,
        trans_fat=pl.when(energy > 0).then(col("trans_fat") * KCAL_PER_G_FAT / energy * 100).otherwise(0.0),
        sodium=pl.when(energy > 0).then(col("sodium") / (energy / 2000)).otherwise(0.0),
        alcohol=col("fg_alcoholic_drinks"),
    )


def _linear(value: pl.Expr, zero_at: float, ten_at: float) -> pl.Expr:
    share = (value - zero_at) / (ten_at - zero_at)
    return (share.clip(0.0, 1.0) * 10.0)


def score_servings(intakes: pl.DataFrame, sexes: pl.Expr) -> pl.DataFrame:
    """keys and a 0-10 column per component, from `servings`' frame with a `sex` column ('female' | 'male')."""
    scored = {name: _linear(pl.col(name), *bounds) for name, bounds in LINEAR.items()}
    grams = pl.col("whole_grains")
    scored["whole_grains"] = (pl.when(sexes == "female").then(_linear(grams, 0.0, WHOLE_GRAINS_G["female"]))
                              .otherwise(_linear(grams, 0.0, WHOLE_GRAINS_G["male"])))
    scored["alcohol"] = pl.when(sexes == "female").then(_alcohol(pl.col("alcohol"), *ALCOHOL["female"])).otherwise(
        _alcohol(pl.col("alcohol"), *ALCOHOL["male"]))
    cuts = _sodium_cuts(intakes["sodium"])
    above = pl.sum_horizontal([(pl.col("sodium") >= cut).cast(pl.Float64) for cut in cuts]) if cuts else pl.lit(0.0)
    scored["sodium"] = 10.0 - above
    return intakes.select(*KEYS, *(scored[c].alias(c) for c in COMPONENTS))


def _alcohol(drinks: pl.Expr, best_to: float, zero_from: float) -> pl.Expr:
    return (pl.when(drinks <= NON_DRINKER).then(NON_DRINKER_POINTS)
            .when(drinks < ALCOHOL_BEST_FROM).then(drinks * 10.0 / ALCOHOL_BEST_FROM)
            .when(drinks <= best_to).then(10.0)
            .when(drinks < zero_from).then((zero_from - drinks) * 10.0 / (zero_from - best_to))
            .otherwise(0.0))


def _sodium_cuts(sodium: pl.Series) -> list[float]:
    """The 10 inner cut points of 11 equal groups of the cohort's energy-adjusted sodium."""
    values = sodium.drop_nulls()
    if values.len() == 0:
        return []
    return [values.quantile(j / SODIUM_GROUPS, interpolation="linear") for j in range(1, SODIUM_GROUPS)]


def thresholds(rows: pl.DataFrame, participants: pl.DataFrame | None = None) -> pl.DataFrame:
    """index_id, sex, component, kind, median (the cut point), n: the cohort's energy-adjusted sodium cut points
    (mg per 2000 kcal) `score` scores against, for the record (audit.index_thresholds)."""
    intake = servings(complete_rows(rows, REQUIRED).with_columns(pl.col("participant_id").cast(pl.String)))
    cuts = _sodium_cuts(intake["sodium"])
    return pl.DataFrame({"index_id": INDEX_ID, "sex": "all", "component": "sodium",
                         "kind": [f"quantile {j}/{SODIUM_GROUPS}" for j in range(1, len(cuts) + 1)],
                         "median": cuts, "n": intake.height}, schema_overrides={"n": pl.Int64, "median": pl.Float64})


def score(rows: pl.DataFrame, participants: pl.DataFrame | None) -> pl.DataFrame:
    """participant_id, recall_day, component, score, max_score (11 components and the total) for the rows
    with every input and a known sex (whole grains and alcohol are scored by sex)."""
    rows = complete_rows(rows, REQUIRED).with_columns(pl.col("participant_id").cast(pl.String))
    sexes = (participants.select(pl.col("participant_id").cast(pl.String), sex=sex_of()).unique("participant_id")
             if participants is not None and "sex" in participants.columns
             else pl.DataFrame(schema={"participant_id": pl.String, "sex": pl.String}))
    intakes = servings(rows).join(sexes, on="participant_id", how="inner").filter(pl.col("sex").is_not_null())
    return long_scores(score_servings(intakes, pl.col("sex")), MAX_SCORES)
