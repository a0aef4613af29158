"""Day-totals diaries (nhanes-tot, asa24-totals, tabular-totals): files of one row per participant-day whose
values are already the day's totals, read, judged and turned into the exposure tables directly.

There are no items, so no composition is linked and no food contributions exist; a component
the file does not carry is NULL (no route computed it), never 0. Row rules as for item diaries:
a row that cannot be used is quarantined with its reason (audit.quarantine), a recall whose
status marks it unusable is excluded and counted (audit.inclusion), and a file with nothing
usable is refused with one line.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

from gutaxis import dietary_weights, nhanes_tot_join
from gutaxis.diaries import FILE_ERRORS, INSTRUMENT_VALID_STATUS, nothing_included, nothing_usable, open_checked, unreadable
from gutaxis.diary_rules import DEFAULT_RECALL_DAY_MAX, INCLUSION_SCHEMA, PARTICIPANTS_SCHEMA, QUARANTINE_SCHEMA, ROW, _identifier, _number, _small_int
from gutaxis.exposure import REPORTED
from gutaxis.formats import REPORTED_PREFIX, asa24_totals, nhanes_tot, tabular_totals
from gutaxis.formats.tabular import concat_raw
from gutaxis.specs import CohortSpec

READERS = {"nhanes-tot": nhanes_tot.read_file, "asa24-totals": asa24_totals.read_file,
           "tabular-totals": tabular_totals.read_file}
TOTALS_FORMATS = tuple(READERS)
# The instrument's codes of a usable recall, as for its item files (NHANES DRxDRSTZ 1, ASA24 RecallStatus 2)
VALID_STATUS = {"nhanes-tot": INSTRUMENT_VALID_STATUS["nhanes-iff"], "asa24-totals": INSTRUMENT_VALID_STATUS["asa24-items"]}
RECALL_DAY_MAX = {"nhanes-tot": 2, "asa24-totals": DEFAULT_RECALL_DAY_MAX, "tabular-totals": DEFAULT_RECALL_DAY_MAX}
DAY_KEYS = ["participant_id", "recall_day"]
WEIGHTS_SCHEMA = dietary_weights.SCHEMA


@dataclass(frozen=True)
class DayTotals:
    days: pl.DataFrame          # participant_id (String), recall_day (Int32), <component_id> (Float64) per carried component
    components: tuple[str, ...]  # the components the file(s) carry, registry order
    quarantine: pl.DataFrame    # QUARANTINE_SCHEMA
    inclusion: pl.DataFrame     # INCLUSION_SCHEMA (n_items NULL: a totals row has no items)
    participants: pl.DataFrame  # PARTICIPANTS_SCHEMA: those with an included day
    weights: pl.DataFrame       # dietary_weights.SCHEMA: every participant the files give a dietary weight for
    rows_read: int = 0          # data rows the files hold (their readers' count): each a day, quarantined or excluded

    @property
    def excluded_rows(self) -> int:
        """Rows of recalls their status excludes (one row per recall day)."""
        return self.inclusion.filter(~pl.col("included")).height


def is_day_totals(spec: CohortSpec) -> bool:
    return spec.format in TOTALS_FORMATS


def valid_recall_status(spec: CohortSpec) -> list[int] | None:
    if spec.format in VALID_STATUS:
        return VALID_STATUS[spec.format]
    return list(spec.valid_recall_status) if "recall_status" in spec.columns else None


def read_day_totals(spec: CohortSpec, component_order: list[str]) -> DayTotals:
    """Every file the spec names, stacked and judged; refused when no day is usable. An nhanes-tot
    cohort naming both NHANES nutrient and FPED totals files gets their days joined (gutaxis.nhanes_tot_join)."""
    files = spec.data_files()
    opened = [open_checked(READERS[spec.format], path, spec, "per-day rows") for path in files]
    kinds = nhanes_tot_join.kinds_to_join(spec.format, opened)
    if kinds is None:
        result = _read_judged(spec, files, opened, component_order)[0]
    else:
        judged, raws = {}, {}
        for kind in (nhanes_tot_join.NUTRIENTS, nhanes_tot_join.FPED):
            chosen = [i for i, k in enumerate(kinds) if k == kind]
            judged[kind], raws[kind] = _read_judged(spec, [files[i] for i in chosen], [opened[i] for i in chosen],
                                                    component_order)
        nhanes_tot_join.check_agreement(raws[nhanes_tot_join.NUTRIENTS], raws[nhanes_tot_join.FPED])
        result = nhanes_tot_join.join(
            judged[nhanes_tot_join.NUTRIENTS], judged[nhanes_tot_join.FPED],
            [f for f, k in zip(files, kinds) if k == nhanes_tot_join.NUTRIENTS],
            [f for f, k in zip(files, kinds) if k == nhanes_tot_join.FPED], component_order)
    if result.days.height == 0:
        by_status = result.inclusion.filter(~pl.col("included"))
        if result.quarantine.height and result.quarantine.height >= by_status.height:
            raise nothing_usable(files, result.quarantine)
        raise nothing_included(spec, files, by_status)
    return result


def _read_judged(spec: CohortSpec, files: list, opened: list, component_order: list[str]) -> tuple[DayTotals, pl.DataFrame]:
    """The files stacked and judged, with their stacked raw rows."""
    try:
        raw = concat_raw([t.frame for t in opened]).collect()
    except FILE_ERRORS as exc:
        for path, totals in zip(files, opened):  # lazy scans fail only when read: name the file
            try:
                totals.frame.collect()
            except FILE_ERRORS as file_exc:
                raise unreadable(path, spec.format, file_exc) from None
        raise unreadable(files[0], spec.format, exc) from None
    origins = {k: v for t in opened for k, v in t.origins.items()}
    result = judge(raw, origins, cohort=spec.name, valid_status=valid_recall_status(spec),
                   day_max=RECALL_DAY_MAX[spec.format], component_order=component_order,
                   weight_variables={k: v for t in opened for k, v in t.weight_variables.items()})
    return replace(result, rows_read=sum(t.rows for t in opened)), raw


def judge(raw: pl.DataFrame, origins: dict[str, str], *, cohort: str, valid_status: list[int] | None,
          day_max: int | None, component_order: list[str], weight_variables: dict[str, str] | None = None) -> DayTotals:
    """Type the raw day rows, quarantine the bad ones, exclude unusable recalls; the rest are the days."""
    schema = raw.schema
    reported = [c for c in raw.columns if c.startswith(REPORTED_PREFIX)]
    parsed = [_identifier("participant_id", schema["participant_id"]).alias("__pid")]
    day_value, day_given = _number("recall_day", schema["recall_day"])
    parsed += [_small_int(day_value).alias("__day"), day_given.alias("__day_given")]
    status_value, _ = _number("recall_status", schema["recall_status"])
    parsed.append(_small_int(status_value).alias("__status"))
    for column in reported:
        value, given = _number(column, schema[column])
        parsed += [value.alias(f"__{column}"), given.alias(f"__{column}_given")]
    rows = raw.with_columns(parsed)

    # (column named in audit.quarantine, reason, failed, raw value); the first a row breaks is recorded
    day_range = f"from 1 to {day_max}" if day_max else "of at least 1"
    rules: list[tuple[str, str, pl.Expr, pl.Expr]] = []
    if "row_problem" in rows.columns:
        rules.append((ROW, "", pl.col("row_problem").is_not_null(), pl.col("row_text")))
    rules.append(("participant_id", "participant_id is missing", pl.col("__pid").is_null(), pl.col("participant_id").cast(pl.String)))
    bad_day = pl.col("__day").is_null() | (pl.col("__day") < 1) | ((pl.col("__day") > day_max) if day_max else pl.lit(False))
    rules.append(("recall_day", f"recall_day is not a whole number {day_range}", bad_day, pl.col("recall_day").cast(pl.String)))
    for column in reported:
        value, given = pl.col(f"__{column}"), pl.col(f"__{column}_given")
        name = origins.get(column, column.removeprefix(REPORTED_PREFIX))
        component = column.removeprefix(REPORTED_PREFIX)
        rules.append((name, f"{component} total is not a number; write numbers with a dot decimal",
                      given & (value.is_null() | ~value.is_finite()), pl.col(column).cast(pl.String)))
        rules.append((name, f"{component} total is negative; a day's total cannot be below 0: fix the value in the file",
                      value < 0, pl.col(column).cast(pl.String)))
    failed_index = pl.lit(None, dtype=pl.Int32)
    for index in reversed(range(len(rules))):
        failed_index = pl.when(rules[index][2].fill_null(False)).then(pl.lit(index, dtype=pl.Int32)).otherwise(failed_index)
    rows = rows.with_columns(failed_index.alias("__rule"))
    bad = rows.filter(pl.col("__rule").is_not_null())
    quarantine_parts = []
    for index, (column, reason, _, value) in enumerate(rules):
        hit = bad.filter(pl.col("__rule") == index)
        if hit.height:
            quarantine_parts.append(hit.select(
                pl.lit(cohort).alias("cohort"), "source_file", "source_row", pl.lit(column).alias("column"),
                value.alias("value"), (pl.col("row_problem") if column == ROW else pl.lit(reason)).alias("reason")))
    good = rows.filter(pl.col("__rule").is_null())

    # A participant-day given twice: which row is right cannot be told, so every copy is quarantined.
    repeated = good.group_by("__pid", "__day").agg(pl.len().alias("__n"), pl.col("source_row").min().alias("__first"),
                                                   pl.col("source_file").first().alias("__first_file")).filter(pl.col("__n") > 1)
    if repeated.height:
        copies = good.join(repeated, on=["__pid", "__day"], how="inner")
        quarantine_parts.append(copies.select(
            pl.lit(cohort).alias("cohort"), "source_file", "source_row", pl.lit(ROW).alias("column"),
            pl.concat_str(pl.lit("participant "), "__pid", pl.lit(" day "), pl.col("__day").cast(pl.String)).alias("value"),
            pl.format("participant and recall day repeated in {} rows (first: {} row {}); keep one row per participant-day",
                      "__n", "__first_file", "__first").alias("reason")))
        good = good.join(repeated, on=["__pid", "__day"], how="anti")
    quarantine = (pl.concat(quarantine_parts, how="vertical_relaxed").cast(QUARANTINE_SCHEMA).sort("source_file", "source_row")
                  if quarantine_parts else pl.DataFrame(schema=QUARANTINE_SCHEMA))

    status_ok = (pl.col("__status").is_in(valid_status).fill_null(False) if valid_status is not None else pl.lit(True))
    valid_text = f"valid: {', '.join(str(s) for s in valid_status or [])}"
    good = good.with_columns(status_ok.alias("__ok"))
    inclusion = good.sort("__pid", "__day").select(
        pl.lit(cohort).alias("cohort"), pl.col("__pid").alias("participant_id"), pl.col("__day").alias("recall_day"),
        (pl.col("__status") if valid_status is not None else pl.lit(None)).cast(pl.Int32).alias("recall_status"),
        pl.col("__ok").alias("included"), pl.lit(None, dtype=pl.Int64).alias("n_items"),
        pl.when(~pl.col("__ok") & pl.col("__status").is_null()).then(pl.lit(f"recall status missing or not a whole number ({valid_text})"))
        .when(~pl.col("__ok")).then(pl.concat_str(pl.lit("recall status "), pl.col("__status").cast(pl.String),
                                                  pl.lit(f" is not usable ({valid_text})"))).alias("reason"),
    ).cast(INCLUSION_SCHEMA)

    carried = [c.removeprefix(REPORTED_PREFIX) for c in reported]
    components = tuple(c for c in component_order if c in carried)
    days = good.filter("__ok").sort("__pid", "__day").select(
        pl.col("__pid").alias("participant_id"), pl.col("__day").cast(pl.Int32).alias("recall_day"),
        *(pl.col(f"__{REPORTED_PREFIX}{c}").alias(c) for c in components))
    external = (good.filter("__ok").group_by("__pid").agg(_identifier("external_id", schema["external_id"]).drop_nulls().first()
                                                         .alias("external_id"))
                if "external_id" in raw.columns else None)
    participants = days.select(pl.lit(cohort).alias("cohort"), "participant_id").unique("participant_id", maintain_order=True)
    participants = (participants.join(external.rename({"__pid": "participant_id"}), on="participant_id", how="left",
                                       maintain_order="left")
                    if external is not None else participants.with_columns(pl.lit(None, dtype=pl.String).alias("external_id")))
    weights = dietary_weights.table(rows.filter(pl.col("__pid").is_not_null()), weight_variables or {})
    return DayTotals(days, components, quarantine, inclusion, participants.cast(PARTICIPANTS_SCHEMA), weights)


def day_table(totals: DayTotals) -> pl.DataFrame:
    """The stored wide day table (as Exposures.stored_day_table): amount__c, coverage__c (1 where the
    file gives the day's value, else 0) and source__c (reported where there is a value)."""
    columns = []
    for c in totals.components:
        given = pl.col(c).is_not_null()
        columns += [pl.col(c).alias(f"amount__{c}"), given.cast(pl.Float64).alias(f"coverage__{c}"),
                    pl.when(given).then(pl.lit(REPORTED, dtype=pl.UInt8)).alias(f"source__{c}")]
    return totals.days.select(*DAY_KEYS, *columns)


def participant_table(days: pl.DataFrame, components: list[str] | tuple[str, ...]) -> pl.DataFrame:
    """The stored wide participant table from a stored day table: n_days, and per component the mean
    over the days with a value (mean_daily__c) and the share of days with one (coverage__c)."""
    ordered = days.sort(DAY_KEYS)
    return ordered.group_by("participant_id", maintain_order=True).agg(
        pl.len().cast(pl.Int32).alias("n_days"),
        *(expr for c in components for expr in (
            pl.col(f"amount__{c}").mean().alias(f"mean_daily__{c}"),
            (pl.col(f"amount__{c}").is_not_null().sum() / pl.len()).cast(pl.Float64).alias(f"coverage__{c}"))),
    )
