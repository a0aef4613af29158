"""What a researcher writes in pandas for the same numbers: merge the items with the per-food table,
sum per participant-day, mean per participant. Run alone in its own process by the bench, against
`gutaxis run` on the same diary and per-food table. Prints its timings as one JSON line.

    python bench/pandas_script.py DIARY.parquet PER_FOOD.parquet RESULT.parquet
"""
from __future__ import annotations

import time

started = time.monotonic()

import json  # noqa: E402
import sys  # noqa: E402

import pandas as pd  # noqa: E402


def participant_means(items: pd.DataFrame, per_food: pd.DataFrame) -> pd.DataFrame:
    components = [c for c in per_food.columns if c != "food_code"]
    merged = items.merge(per_food, on="food_code", how="left")
    for component in components:
        merged[component] = merged["grams"] * merged[component] / 100
    daily = merged.groupby(["participant_id", "recall_day"])[components].sum()
    return daily.groupby("participant_id")[components].mean().reset_index()


def main(diary: str, per_food_path: str, result_path: str) -> None:
    imported = time.monotonic()
    items = pd.read_parquet(diary)
    per_food = pd.read_parquet(per_food_path)
    result = participant_means(items, per_food)
    computed = time.monotonic()
    result.to_parquet(result_path, index=False)
    written = time.monotonic()
    print(json.dumps({"import_s": imported - started, "compute_s": computed - imported,
                      "write_s": written - computed, "participants": len(result),
                      "components": per_food.shape[1] - 1}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
