"""The floor: a bare polars join + group-by of the benchmark diary, run alone in its own process.

scan the diary -> join the composition (per 100 g) on food_code -> amount = grams x per100 / 100
-> sum per participant-day -> mean per participant. No typing, rules, audit or warehouse: the
least work any pipeline computing the same numbers must do. Prints its timings as one JSON line.

    python bench/floor.py DIARY.parquet COMPOSITION.parquet RESULT.parquet
"""
from __future__ import annotations

import time

started = time.monotonic()

import json  # noqa: E402
import sys  # noqa: E402

import polars as pl  # noqa: E402

COMPONENTS = ("energy_kcal", "fiber", "choline", "omega3_ala", "omega3_epa", "omega3_dha")


def participant_means(diary: str, composition: pl.DataFrame) -> pl.LazyFrame:
    amounts = [(pl.col("grams") * pl.col(c) / 100.0).alias(c) for c in COMPONENTS]
    return (
        pl.scan_parquet(diary)
        .join(composition.lazy(), on="food_code", how="left")
        .select("participant_id", "recall_day", *amounts)
        .group_by("participant_id", "recall_day").agg(pl.col(COMPONENTS).sum())
        .group_by("participant_id").agg(pl.col(COMPONENTS).mean())
    )


def main(diary: str, composition_path: str, result_path: str) -> None:
    imported = time.monotonic()
    composition = pl.read_parquet(composition_path).select("food_code", *COMPONENTS)
    result = participant_means(diary, composition).collect()
    computed = time.monotonic()
    result.write_parquet(result_path)
    written = time.monotonic()
    print(json.dumps({"import_s": imported - started, "compute_s": computed - imported,
                      "write_s": written - computed, "participants": result.height}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
