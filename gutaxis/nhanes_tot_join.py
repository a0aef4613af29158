"""NHANES nutrient totals (DR1TOT_x / DR2TOT_x) and FPED food-group totals (fped_dr1tot_* / fped_dr2tot_*)
of the same participant-days, joined into one day row each.

NHANES publishes a participant-day's nutrients and its food-pattern equivalents in two files; the
HEI needs both. An `nhanes-tot` cohort that names both kinds of file gets, per (participant_id,
recall_day), one day carrying the columns of both. Each kind is read and judged on its own (its bad
rows quarantined against its own file and row, its repeated days quarantined), then the two are
joined. The status (DRxDRSTZ) and the dietary weights both files print must agree, and so must a
component both carry: otherwise the files are not of one release of one cycle, and the run is
refused in one line. A day that only one file gives is kept with the other file's components NULL;
the day-totals audit warns with their count (gutaxis.quality.joined_days_carry_both_files).
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis import GutaxisError, dietary_weights
from gutaxis.components.food_groups import FPED_GROUPS
from gutaxis.diary_rules import INCLUSION_SCHEMA, PARTICIPANTS_SCHEMA, QUARANTINE_SCHEMA, _identifier, _number, _small_int
from gutaxis.formats import REPORTED_PREFIX
from gutaxis.formats.tabular import ROW_PROBLEM
from gutaxis.formats.totals import WEIGHT_PREFIX, WEIGHTS, TotalsFile

NUTRIENTS, FPED = "nutrients", "fped"
KEYS = ["participant_id", "recall_day"]
# two files' values of one day within this (relative) are the same value, printed to different precision
AGREEMENT = dietary_weights.WEIGHT_ROUNDING
FIX = ("name the DRxTOT file and the fped_drxtot file of the same NHANES cycle and release "
       "(or give the cohort one of them)")


def is_fped_component(component: str) -> bool:
    return component in FPED_GROUPS


def file_kind(totals: TotalsFile) -> str:
    """fped when the file carries FPED food groups (DRxT_F_TOTAL ...), else nutrients (DRxTKCAL ...)."""
    carried = [name.removeprefix(REPORTED_PREFIX) for name in totals.origins]
    return FPED if any(is_fped_component(c) for c in carried) else NUTRIENTS


def kinds_to_join(format_name: str, opened: list[TotalsFile]) -> list[str] | None:
    """Each file's kind when an nhanes-tot cohort names both kinds (they are then joined), else None."""
    if format_name != "nhanes-tot":
        return None
    kinds = [file_kind(totals) for totals in opened]
    return kinds if set(kinds) == {NUTRIENTS, FPED} else None


def _names(files: list[Path]) -> str:
    return " + ".join(path.name for path in files)


def _key_rows(raw: pl.DataFrame) -> pl.DataFrame:
    """The raw rows' keys, status and weights as values (rows the reader found malformed left out:
    they are quarantined, not compared)."""
    if ROW_PROBLEM in raw.columns:
        raw = raw.filter(pl.col(ROW_PROBLEM).is_null())
    schema = raw.schema
    status, _ = _number("recall_status", schema["recall_status"])
    day, _ = _number("recall_day", schema["recall_day"])
    weights = [w for w in WEIGHTS if f"{WEIGHT_PREFIX}{w}" in raw.columns]
    return raw.select(
        "source_file", "source_row", _identifier("participant_id", schema["participant_id"]).alias("__pid"),
        _small_int(day).alias("__day"), _small_int(status).alias("__status"),
        *(dietary_weights._weight(raw, f"{WEIGHT_PREFIX}{w}").alias(w) for w in weights),
    ).filter(pl.col("__pid").is_not_null())


def _differ(left: pl.Expr, right: pl.Expr) -> pl.Expr:
    """Null-safe: one given and the other not, or apart by more than the printing precision."""
    apart = (left - right).abs() > AGREEMENT * pl.max_horizontal(left.abs(), right.abs(), pl.lit(1.0))
    return (left.is_null() != right.is_null()) | apart.fill_null(False)


def check_agreement(nutrients: pl.DataFrame, fped: pl.DataFrame) -> None:
    """Refuse files whose status (per participant-day) or dietary weights (per participant) disagree."""
    left, right = _key_rows(nutrients), _key_rows(fped)
    pairs = left.join(right, on=["__pid", "__day"], how="inner", suffix="_fped")
    bad = pairs.filter(pl.col("__status").ne_missing(pl.col("__status_fped")))
    if bad.height:
        row = bad.row(0, named=True)
        raise GutaxisError(
            f"{row['source_file']} row {row['source_row']} and {row['source_file_fped']} row {row['source_row_fped']}: "
            f"participant {row['__pid']} day {row['__day']} has recall status (DR{row['__day']}DRSTZ) {row['__status']} "
            f"in one file and {row['__status_fped']} in the other; {FIX}")
    shared = [w for w in WEIGHTS if w in left.columns and w in right.columns]
    per_person = left.unique("__pid", keep="first", maintain_order=True).join(
        right.unique("__pid", keep="first", maintain_order=True), on="__pid", how="inner", suffix="_fped")
    for weight in shared:
        bad = per_person.filter(_differ(pl.col(weight), pl.col(f"{weight}_fped")))
        if bad.height:
            row = bad.row(0, named=True)
            raise GutaxisError(
                f"{row['source_file']} row {row['source_row']} and {row['source_file_fped']} row {row['source_row_fped']}: "
                f"participant {row['__pid']} has dietary weight {weight} {row[weight]} in one file and "
                f"{row[f'{weight}_fped']} in the other; {FIX}")


def _joined_days(nutrients, fped, nutrient_files: list[Path], fped_files: list[Path],
                 component_order: list[str]) -> tuple[pl.DataFrame, tuple[str, ...]]:
    both = [c for c in nutrients.components if c in fped.components]
    days = nutrients.days.join(fped.days, on=KEYS, how="full", coalesce=True, suffix="__fped")
    for component in both:  # none in NHANES' own files; a re-saved file might carry one twice
        bad = days.filter(_differ(pl.col(component), pl.col(f"{component}__fped"))
                          & pl.col(component).is_not_null() & pl.col(f"{component}__fped").is_not_null())
        if bad.height:
            row = bad.row(0, named=True)
            raise GutaxisError(
                f"{_names(nutrient_files)} and {_names(fped_files)}: participant {row['participant_id']} day "
                f"{row['recall_day']} has {component} {row[component]} in one and {row[f'{component}__fped']} "
                f"in the other; {FIX}")
        days = days.with_columns(pl.coalesce(component, f"{component}__fped").alias(component)).drop(f"{component}__fped")
    carried = set(nutrients.components) | set(fped.components)
    components = tuple(c for c in component_order if c in carried)
    return days.select(*KEYS, *components).sort(KEYS), components


def join(nutrients, fped, nutrient_files: list[Path], fped_files: list[Path], component_order: list[str]):
    """One DayTotals of two judged ones (gutaxis.day_totals.DayTotals; the statuses and weights
    already checked to agree): days full-joined per participant-day, quarantines stacked, one
    inclusion row per participant-day. rows_read counts a participant-day both files give once,
    so that rows read = days published + rows quarantined + recalls excluded still holds."""
    days, components = _joined_days(nutrients, fped, nutrient_files, fped_files, component_order)
    in_both = nutrients.inclusion.join(fped.inclusion.select(KEYS), on=KEYS, how="semi").height
    inclusion = pl.concat([nutrients.inclusion, fped.inclusion.join(nutrients.inclusion.select(KEYS), on=KEYS, how="anti")])
    quarantine = pl.concat([nutrients.quarantine, fped.quarantine]).sort("source_file", "source_row")
    participants = (pl.concat([nutrients.participants, fped.participants]).unique("participant_id", keep="first")
                    .sort("participant_id"))
    weights = (pl.concat([nutrients.weights, fped.weights]).group_by("participant_id", maintain_order=True)
               .agg(pl.all().drop_nulls().first()).sort("participant_id"))
    return type(nutrients)(
        days=days, components=components, quarantine=quarantine.cast(QUARANTINE_SCHEMA),
        inclusion=inclusion.sort(KEYS).cast(INCLUSION_SCHEMA), participants=participants.cast(PARTICIPANTS_SCHEMA),
        weights=weights.cast(dietary_weights.SCHEMA), rows_read=nutrients.rows_read + fped.rows_read - in_both)
