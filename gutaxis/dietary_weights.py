"""The dietary survey weights that a cohort's diary files carry, one row per participant.

NHANES prints the day-1 and two-day dietary weights (WTDRD1, WTDR2D; WTDRD1PP, WTDR2DPP in the
2017-March 2020 pre-pandemic files) on every row of its individual-foods and totals files; a
tabular spec may map them (`columns: {wt_day1: ..., wt_two_day: ...}`); one that maps none gives
the columns it has under the NHANES names (an NHANES file re-saved as text). They are read once,
with the diary, and kept in cohort.participants (wt_day1, wt_two_day) for every participant of
the files, with a usable recall or not: a design-based estimate needs them all (`with_participants`).
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis import GutaxisError
from gutaxis.diary_rules import _identifier
from gutaxis.formats.nhanes_iff import is_xpt, read_sas
from gutaxis.formats.tabular import PARQUET_SUFFIXES, ROW_INDEX, ROW_PROBLEM, TextFile, checked_rows, open_text
from gutaxis.formats.totals import WEIGHT_PREFIX, WEIGHTS
from gutaxis.specs import CohortSpec

# canonical weight -> the NHANES variables, in order of preference (plain, then pre-pandemic PP)
NHANES_WEIGHT_VARIABLES = {"wt_day1": ("WTDRD1", "WTDRD1PP"), "wt_two_day": ("WTDR2D", "WTDR2DPP")}
# weights of one participant that differ by less than this (relative) are the same weight, rounded
WEIGHT_ROUNDING = 1e-6
SCHEMA = {"participant_id": pl.String, "wt_day1": pl.Float64, "wt_two_day": pl.Float64,
          "wt_day1_variable": pl.String, "wt_two_day_variable": pl.String}


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMA)


def nhanes_weight_columns(columns: list[str]) -> dict[str, str]:
    """wt_day1 / wt_two_day -> the file's NHANES weight variable, for those it has."""
    found = {}
    for canonical, variables in NHANES_WEIGHT_VARIABLES.items():
        present = [v for v in variables if v in columns]
        if present:
            found[canonical] = present[0]
    return found


def of_item_diary(spec: CohortSpec) -> pl.DataFrame:
    """The weights an item diary's files carry (nhanes-iff: the NHANES variables; tabular: mapped ones)."""
    if spec.format not in ("nhanes-iff", "tabular"):
        return empty()
    parts, variables = [], {}
    for path in spec.data_files():
        frame, columns = _scan(path, spec)
        if spec.format == "nhanes-iff":
            id_column, weights = "SEQN", nhanes_weight_columns(columns)
        else:
            id_column = spec.columns["participant_id"]
            weights = {w: spec.columns[w] for w in WEIGHTS if w in spec.columns} or nhanes_weight_columns(columns)
            missing = [c for c in weights.values() if c not in columns]
            if missing:
                raise GutaxisError(f"{path}: column {missing[0]!r} is missing; fix columns.wt_day1 / wt_two_day in the cohort spec")
        if not weights or id_column not in columns:
            continue
        variables.update(weights)
        if isinstance(frame, TextFile):
            # malformed lines are the item reader's to quarantine and count; their weights are not read
            frame = checked_rows(frame, [id_column, *weights.values()]).frame
            if ROW_PROBLEM in frame.collect_schema().names():
                frame = frame.filter(pl.col(ROW_PROBLEM).is_null())
        parts.append(frame.select(pl.lit(path.name).alias("source_file"), pl.col(ROW_INDEX).cast(pl.Int64).alias("source_row"),
                                  pl.col(id_column).alias("participant_id"),
                                  *(pl.col(c).alias(f"{WEIGHT_PREFIX}{w}") for w, c in weights.items())).collect())
    if not parts:
        return empty()
    rows = pl.concat(parts, how="diagonal_relaxed")
    rows = rows.with_columns(_identifier("participant_id", rows.schema["participant_id"]).alias("__pid"))
    return table(rows.filter(pl.col("__pid").is_not_null()), variables)


def _scan(path: Path, spec: CohortSpec) -> tuple[pl.LazyFrame | TextFile, list[str]]:
    if is_xpt(path):
        frame, columns, _ = read_sas(path, lambda names: ["SEQN", *(v for vs in NHANES_WEIGHT_VARIABLES.values() for v in vs)])
        return frame, columns
    if path.suffix.lower() in PARQUET_SUFFIXES:
        frame = pl.scan_parquet(path, row_index_name=ROW_INDEX, row_index_offset=1, glob=False)
        return frame, frame.collect_schema().names()
    text = open_text(path, spec.delimiter)
    return text, text.columns


def table(rows: pl.DataFrame, variables: dict[str, str]) -> pl.DataFrame:
    """One row per participant (rows: __pid, source_file, source_row, weight__<w>); a participant
    whose rows give different weights is refused rather than one weight picked."""
    present = [w for w in WEIGHTS if f"{WEIGHT_PREFIX}{w}" in rows.columns]
    if not present:
        return empty()
    values = rows.select("__pid", "source_file", "source_row",
                         *(_weight(rows, f"{WEIGHT_PREFIX}{w}").alias(w) for w in present))
    unreadable = values.filter(pl.any_horizontal(pl.col(w).is_null() & rows[f"{WEIGHT_PREFIX}{w}"].is_not_null()
                                                 for w in present))
    if unreadable.height:
        row = unreadable.row(0, named=True)
        raise GutaxisError(f"{row['source_file']}: row {row['source_row']}: a dietary weight is not a number; "
                           "fix the value (weights are numbers, a dot decimal)")
    # Rows of one participant may print a weight to different precision (the 2015-16 women file has
    # 13236.419347 on day-1 rows and 13236.42 on day-2 rows): values within rounding are one weight,
    # the most precise kept; weights that really differ are refused.
    precision = {w: f"__digits_{w}" for w in present}
    values = values.with_columns(
        pl.when(pl.col(w).is_null()).then(-1).otherwise(
            pl.col(w).cast(pl.String).str.split(".").list.get(1, null_on_oob=True).str.len_chars().fill_null(0)
        ).alias(precision[w]) for w in present)
    disagreeing = values.group_by("__pid").agg(
        *((pl.col(w).max() - pl.col(w).min() > WEIGHT_ROUNDING * pl.col(w).abs().max()).alias(w) for w in present)
    ).filter(pl.any_horizontal(pl.col(w).fill_null(False) for w in present))
    if disagreeing.height:
        pid = disagreeing["__pid"][0]
        where = values.filter(pl.col("__pid") == pid).row(0, named=True)
        raise GutaxisError(f"{where['source_file']}: participant {pid} has different dietary weights in different rows; "
                           "give each participant's weights once (NHANES prints the same WTDRD1/WTDR2D on every row)")
    out = values.group_by("__pid", maintain_order=True).agg(
        *(pl.col(w).sort_by(precision[w], descending=True, maintain_order=True).first() for w in present))
    return out.select(
        pl.col("__pid").alias("participant_id"),
        *((pl.col(w) if w in present else pl.lit(None, dtype=pl.Float64)).alias(w) for w in WEIGHTS),
        *(pl.lit(variables.get(w), dtype=pl.String).alias(f"{w}_variable") for w in WEIGHTS),
    ).cast(SCHEMA)


def _weight(rows: pl.DataFrame, column: str) -> pl.Expr:
    if rows.schema[column].is_numeric():
        return pl.col(column).cast(pl.Float64)
    text = pl.col(column).cast(pl.String).str.strip_chars()
    return pl.when(text.is_in(["", "NA", "."])).then(None).otherwise(text).cast(pl.Float64, strict=False)


def with_participants(participants: pl.DataFrame, weights: pl.DataFrame, inclusion: pl.DataFrame) -> pl.DataFrame:
    """The staged participants of a diary: its participants (cohort, participant_id, external_id) and
    those the files give only a dietary weight for, each with wt_day1, wt_two_day and has_usable_recall
    (an included recall in `inclusion`, audit.inclusion's rows)."""
    cohort = participants["cohort"][0] if participants.height else (inclusion["cohort"][0] if inclusion.height else None)
    usable = inclusion.filter(pl.col("included"))["participant_id"].unique()
    merged = participants.drop("cohort").join(weights.select("participant_id", *WEIGHTS), on="participant_id", how="full",
                                              coalesce=True, maintain_order="left_right")
    return merged.select(
        pl.lit(cohort, dtype=pl.String).alias("cohort"), "participant_id", "external_id", *WEIGHTS,
        pl.col("participant_id").is_in(usable.implode()).alias("has_usable_recall"),
    ).sort("participant_id")
