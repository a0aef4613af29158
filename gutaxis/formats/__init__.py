"""Format readers: one module per input format, each turning raw files into canonical frames.

Diary readers (`read(spec) -> pl.LazyFrame`) return the *raw* canonical frame: values as the
file has them (text stays text, numbers stay numbers), with these columns:
  source_file (Utf8, file name), source_row (Int64, 1-based data row in that file),
  participant_id, recall_day, food_code, grams, recall_status (null when the format has none),
  external_id (Utf8 or null; ASA24 UserID), and reported__<component_id> for each value the
  instrument reported for the item. Optional: item_key (the instrument's own item id, e.g. NHANES
  DRxILINE, for duplicate detection), row_problem and row_text (text readers: why a line is
  malformed and the line itself, null on sound rows).
Typing, normalisation and row-level rules happen once, for every format, in gutaxis.diary_rules.

Composition readers (`read(folder: Path, source_id: str) -> Composition`) return the foods and
their component amounts per 100 g in the registry's units.
"""
from __future__ import annotations

from dataclasses import dataclass

import polars as pl

REPORTED_PREFIX = "reported__"
RAW_DIARY_COLUMNS = ("source_file", "source_row", "participant_id", "recall_day", "food_code",
                     "grams", "recall_status", "external_id")


@dataclass(frozen=True)
class Composition:
    foods: pl.DataFrame  # source, food_code, description, food_group (all Utf8)
    # source, food_code, component_id (Utf8), amount_per_100g (Float64), route (Utf8), confidence (Float64)
    food_components: pl.DataFrame
