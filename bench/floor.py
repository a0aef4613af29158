"""The floor: a bare polars join + group-by of the benchmark diary, run alone in its own process.

scan the diary -> join the per-food table (amount per 100 g of every component it has) on food_code
-> amount = grams x per100 / 100 -> sum per participant-day -> mean per participant. No typing,
rules, audit or warehouse: the least work any pipeline computing the same numbers must do. The
per-food table decides the components: the bench gives it every component the pipeline computes
(composition.food_components of the FNDDS foods, extracted before timing), and for reference the
bare six that FNDDS carries. Prints its timings as one JSON line.

    python bench/floor.py DIARY.parquet PER_FOOD.parquet RESULT.parquet
"""
from __future__ import annotations

import time

started = time.monotonic()

import json  # noqa: E402
import sys  # noqa: E402

import polars as pl  # noqa: E402


def participant_means(diary: str, per_food: pl.DataFrame) -> pl.LazyFrame:
    components = [c for c in per_food.columns if c != "food_code"]
    amounts = [(pl.col("grams") * pl.col(c) / 100.0).alias(c) for c in components]
    return (
        pl.scan_parquet(diary)
        .join(per_food.lazy(), on="food_code", how="left")
        .select("participant_id", "recall_day", *amounts)
        .group_by("participant_id", "recall_day").agg(pl.col(components).sum())
        .group_by("participant_id").agg(pl.col(components).mean())
    )


def main(diary: str, per_food_path: str, result_path: str) -> None:
    imported = time.monotonic()
    per_food = pl.read_parquet(per_food_path)
    result = participant_means(diary, per_food).collect()
    computed = time.monotonic()
    result.write_parquet(result_path)
    written = time.monotonic()
    print(json.dumps({"import_s": imported - started, "compute_s": computed - imported,
                      "write_s": written - computed, "participants": result.height,
                      "components": per_food.width - 1}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
