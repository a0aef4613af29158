"""Outcomes: NHANES PHQ-9 scoring (DPQ_x), the outcome registry, oxytocin units and the rule that
oxytocin measured by different methods is never pooled."""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis import DATA_DIR, GutaxisError
from gutaxis.analysis.xpt import read_xpt_columns, refuse_duplicate_ids

PHQ9_ITEMS = [f"DPQ0{i}0" for i in range(1, 10)]
# DPQ codebook: 0-3 answers, 7 refused, 9 don't know (both missing), null not asked.
PHQ9_ANSWERS = (0.0, 1.0, 2.0, 3.0)
PHQ9_NONRESPONSE = (7.0, 9.0)
PHQ9_CUTOFF = 10  # moderate or worse depressive symptoms (Kroenke et al., J Gen Intern Med 2001;16:606)
OUTCOME_REGISTRY = DATA_DIR / "reference" / "outcomes.csv"
FIX = "give the official NHANES DPQ file (DPQ_J.xpt, P_DPQ.xpt, ...) with its original column names"

# Oxytocin (C43H66N12O12S2) has a molar mass of 1007.19 g/mol (PubChem CID 439302), so
# 1 pmol/L = 1007.19 pg/L = 1.007 pg/mL. ng/L is pg/mL.
OXYTOCIN_PG_PER_ML = {"pg/mL": 1.0, "ng/L": 1.0, "pmol/L": 1.007, "pM": 1.007}
# Unextracted immunoassays read plasma oxytocin 100+ times higher than extracted ones or RIA, and the
# two do not correlate (Szeto et al., Psychosom Med 2011;73:393): sample type, assay platform and
# extraction together make one method, and values of different methods are never pooled.
OXYTOCIN_METHOD_COLUMNS = ("sample_type", "assay", "extraction")


def read_nhanes_dpq(path: Path) -> pl.DataFrame:
    """Score a DPQ_x file: participant_id, phq9_items_answered, phq9_total (complete responses only), phq9_ge10."""
    path = Path(path)
    raw = read_xpt_columns(path, ["SEQN", *PHQ9_ITEMS], [], FIX)
    refuse_duplicate_ids(raw, "SEQN", path, "each participant must be on one row: give one cycle's DPQ file per entry")
    return score_phq9(raw, path)


def score_phq9(items: pl.DataFrame, path: Path | str) -> pl.DataFrame:
    """PHQ-9 from the nine DPQ items: 7 and 9 are missing; the total (0-27) only when all nine are answered,
    as the NHANES DPQ codebook scores it (no imputation of skipped items); phq9_ge10 = total >= 10."""
    items = items.with_columns(pl.col(PHQ9_ITEMS).cast(pl.Float64))  # XPT gives floats, other readers integers
    for item in PHQ9_ITEMS:
        out_of_range = items.filter(pl.col(item).is_not_null()
                                    & ~pl.col(item).is_in(PHQ9_ANSWERS + PHQ9_NONRESPONSE))
        if out_of_range.height:
            raise GutaxisError(
                f"{path}: column {item} has {out_of_range.height:,} values outside 0-3, 7, 9 (first "
                f"{out_of_range[item][0]!r} at SEQN {int(out_of_range['SEQN'][0])}); {FIX}")
    answered = items.select(
        pl.col("SEQN").cast(pl.Int64).cast(pl.String).alias("participant_id"),
        *(pl.when(pl.col(c).is_in(PHQ9_ANSWERS)).then(pl.col(c)).alias(c) for c in PHQ9_ITEMS))
    n_answered = pl.sum_horizontal(pl.col(c).is_not_null().cast(pl.Int32) for c in PHQ9_ITEMS)
    total = pl.when(n_answered == len(PHQ9_ITEMS)).then(pl.sum_horizontal(PHQ9_ITEMS).cast(pl.Int32))
    return answered.select(
        "participant_id", n_answered.alias("phq9_items_answered"), total.alias("phq9_total"),
        (total >= PHQ9_CUTOFF).alias("phq9_ge10"))


def outcome_registry(path: Path = OUTCOME_REGISTRY) -> pl.DataFrame:
    """`reference.outcomes`: outcome_id, name, unit, kind (continuous | binary | score), low, high."""
    table = pl.read_csv(path, schema_overrides={"low": pl.Float64, "high": pl.Float64})
    return table.rename({"id": "outcome_id"})


def oxytocin_pg_per_ml(values: pl.Expr, unit: str, source: str) -> pl.Expr:
    """Oxytocin in pg/mL from a value in `unit`; an unknown unit is one line naming the source and the fix."""
    if unit not in OXYTOCIN_PG_PER_ML:
        raise GutaxisError(f"{source}: oxytocin unit {unit!r} is not known; give one of "
                           f"{', '.join(OXYTOCIN_PG_PER_ML)} in the outcome's unit")
    return values * OXYTOCIN_PG_PER_ML[unit]


def oxytocin_methods(outcomes: pl.DataFrame) -> list[tuple]:
    """The distinct oxytocin methods (sample type, assay, extraction) present, in a stable order."""
    missing = [c for c in OXYTOCIN_METHOD_COLUMNS if c not in outcomes.columns]
    if missing:
        raise GutaxisError(f"oxytocin outcomes: column {missing[0]} is missing; map it in the outcome's columns "
                           "(an oxytocin value means nothing without its sample type, assay and extraction)")
    methods = outcomes.select(OXYTOCIN_METHOD_COLUMNS).unique().sort(OXYTOCIN_METHOD_COLUMNS, nulls_last=True)
    return [tuple(row) for row in methods.iter_rows()]


def refuse_pooled_oxytocin(outcomes: pl.DataFrame, analysis: str, stratified_by_method: bool) -> None:
    """An oxytocin analysis over values of more than one method is refused unless stratified by method."""
    methods = oxytocin_methods(outcomes)
    if len(methods) > 1 and not stratified_by_method:
        shown = "; ".join("/".join("?" if v is None else str(v) for v in m) for m in methods)
        raise GutaxisError(
            f"{analysis}: oxytocin values come from {len(methods)} methods ({shown}); values of different sample "
            "types, assays or extractions disagree by more than 100-fold (Szeto et al., Psychosom Med 2011) and are "
            "never pooled: stratify the analysis by method (by: [oxytocin_method]) or restrict its domain to one method")
