"""A cohort's `cohort.participants` and `cohort.outcomes` rows from the attribute and outcome tables its
spec declares, and the diary's participants with the dietary weights its files carry (staged by the ingest)."""
from __future__ import annotations

from pathlib import Path

import polars as pl

from gutaxis import GutaxisError
from gutaxis.analysis.declarations import AttributeTable, OutcomeTable, resolve_path
from gutaxis.analysis.outcomes import outcome_registry, oxytocin_pg_per_ml, read_nhanes_dpq
from gutaxis.analysis.participants import PARTICIPANT_SCHEMA, read_nhanes_demo
from gutaxis.analysis.xpt import refuse_duplicate_ids

OUTCOME_SCHEMA = {
    "cohort": pl.String, "participant_id": pl.String, "outcome_id": pl.String, "value": pl.Float64,
    "unit": pl.String, "sample_type": pl.String, "assay": pl.String, "extraction": pl.String, "kit": pl.String,
    "lod": pl.Float64, "below_lod": pl.Boolean, "fasting": pl.Boolean, "collected_at": pl.String,
}
_TYPES = {name: dtype for name, dtype in PARTICIPANT_SCHEMA.items()}


def id_text(column: str) -> pl.Expr:
    """Participant ids as the diary readers give them: integral numbers without a decimal part."""
    value = pl.col(column)
    as_number = value.cast(pl.Float64, strict=False)
    integral = as_number.is_not_null() & (as_number == as_number.floor())
    return (pl.when(integral).then(as_number.cast(pl.Int64).cast(pl.String))
            .otherwise(value.cast(pl.String).str.strip_chars())).alias("participant_id")


def read_table_file(path: Path, delimiter: str | None, columns: list[str], fix: str) -> pl.DataFrame:
    """The named columns of a CSV, TSV or Parquet file; a missing one is one line naming the file."""
    if not path.is_file():
        raise GutaxisError(f"{path}: file does not exist; fix the path (relative to the spec's folder)")
    try:
        if path.suffix.lower() == ".parquet":
            present = list(pl.read_parquet_schema(path))
            frame = pl.read_parquet(path, columns=[c for c in columns if c in present])
        else:
            separator = delimiter or ("\t" if path.suffix.lower() in (".tsv", ".tab") else ",")
            present = pl.read_csv(path, separator=separator, n_rows=0, infer_schema=False).columns
            # only the wanted columns are parsed: a diary read for its weights may have 100 M rows
            frame = pl.read_csv(path, separator=separator, infer_schema=False, columns=[c for c in columns if c in present]
                                or present[:1])
    except (pl.exceptions.PolarsError, OSError, UnicodeError) as exc:
        raise GutaxisError(f"{path}: cannot be read as CSV, TSV or Parquet ({str(exc).splitlines()[0]}); {fix}") from None
    missing = [c for c in columns if c not in present]
    if missing:
        raise GutaxisError(f"{path}: column {missing[0]!r} is missing (the file has {', '.join(present[:12])}); {fix}")
    return frame.select(columns)


def read_tabular_attributes(path: Path, table: AttributeTable, cohort: str) -> pl.DataFrame:
    """Any covariate file through its column map: canonical attributes typed, other names kept as text."""
    mapping = table.columns
    raw = read_table_file(path, table.delimiter, list(dict.fromkeys(mapping.values())),
                          "map existing columns under columns: {participant_id: ..., age_years: ...}")
    frame = raw.select(pl.col(column).alias(key) for key, column in mapping.items())
    frame = frame.with_columns(id_text("participant_id"))
    if frame["participant_id"].null_count():
        raise GutaxisError(f"{path}: column {mapping['participant_id']!r} is empty on {frame['participant_id'].null_count():,} "
                           "rows; every row needs a participant id")
    refuse_duplicate_ids(frame, "participant_id", path, "each participant must be on one row of an attribute table")
    typed = []
    for key in frame.columns:
        if key == "participant_id":
            continue
        dtype = _TYPES.get(key, pl.String)
        if dtype == pl.Boolean:
            text = pl.col(key).cast(pl.String).str.to_lowercase()
            expr = (pl.when(text.is_in(["1", "true", "yes", "y"])).then(True)
                    .when(text.is_in(["0", "false", "no", "n"])).then(False))
        elif dtype in (pl.Float64, pl.Int64):
            expr = pl.col(key).cast(pl.Float64, strict=False)
            bad = frame.filter(pl.col(key).is_not_null() & expr.is_null())
            if bad.height:
                raise GutaxisError(f"{path}: column {mapping[key]!r} has {bad.height:,} values that are not numbers (first "
                                   f"{bad[key][0]!r} at participant {bad['participant_id'][0]}); {key} must be numeric")
            expr = expr.cast(dtype) if dtype == pl.Int64 else expr
        else:
            expr = pl.col(key).cast(pl.String)
        typed.append(expr.alias(key))
    return frame.select("participant_id", *typed).with_columns(pl.lit(cohort).alias("cohort"))


def build_participants(cohort: str, base_dir: Path, tables: list[AttributeTable], diary_ids: pl.Series,
                       usable_ids: pl.Series, weights: pl.DataFrame) -> pl.DataFrame:
    """One row per participant of the attribute tables or the diary: attributes, design, dietary weights,
    and has_usable_recall (participants without a usable recall stay: domain estimation needs them)."""
    merged: pl.DataFrame | None = None
    for table in tables:
        path = resolve_path(base_dir, table.path)
        if table.format == "nhanes-demo":
            if not path.is_file():
                raise GutaxisError(f"{path}: file does not exist; fix the participants path (relative to the spec's folder)")
            frame = read_nhanes_demo(path, cohort).drop("wt_day1", "wt_two_day", "has_usable_recall")
        else:
            frame = read_tabular_attributes(path, table, cohort)
        frame = frame.drop("cohort")
        if merged is None:
            merged = frame
            continue
        shared = [c for c in frame.columns if c in merged.columns and c != "participant_id"]
        merged = merged.join(frame, on="participant_id", how="full", coalesce=True, suffix="__next")
        merged = merged.with_columns(pl.coalesce(c, f"{c}__next").alias(c) for c in shared).drop(f"{c}__next" for c in shared)
    ids = pl.DataFrame({"participant_id": diary_ids.cast(pl.String)}).unique()
    frame = ids if merged is None else merged.join(ids, on="participant_id", how="full", coalesce=True)
    if weights.height:
        present = [c for c in ("wt_day1", "wt_two_day") if c in frame.columns]
        frame = frame.drop(present).join(weights, on="participant_id", how="left")
    # a Series, not a Python list: building a list of 3 M ids and a literal from it took seconds
    usable = usable_ids.cast(pl.String).unique().implode()
    frame = frame.with_columns(pl.col("participant_id").is_in(usable).alias("has_usable_recall"),
                               pl.lit(cohort).alias("cohort"))
    for name, dtype in PARTICIPANT_SCHEMA.items():
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype).alias(name))
        elif frame.schema[name] != dtype:
            frame = frame.with_columns(pl.col(name).cast(dtype, strict=False))
    extras = [c for c in frame.columns if c not in PARTICIPANT_SCHEMA]
    return frame.select(*PARTICIPANT_SCHEMA, *sorted(extras)).sort("participant_id")


def build_outcomes(cohort: str, base_dir: Path, tables: list[OutcomeTable]) -> pl.DataFrame:
    """One row per measurement of every declared outcome table, in the registry's unit."""
    parts = [pl.DataFrame(schema=OUTCOME_SCHEMA)]
    registry = {r["outcome_id"]: r for r in outcome_registry().iter_rows(named=True)}
    for table in tables:
        path = resolve_path(base_dir, table.path)
        if not path.is_file():
            raise GutaxisError(f"{path}: file does not exist; fix the outcomes path (relative to the spec's folder)")
        if table.format == "nhanes-dpq":
            scored = read_nhanes_dpq(path)
            for outcome, unit in (("phq9_total", "points"), ("phq9_ge10", None)):
                rows = scored.filter(pl.col("phq9_total").is_not_null()).select(
                    pl.lit(cohort).alias("cohort"), "participant_id", pl.lit(outcome).alias("outcome_id"),
                    pl.col(outcome).cast(pl.Float64).alias("value"), pl.lit(unit, pl.String).alias("unit"))
                parts.append(rows)
        else:
            parts.append(_tabular_outcome(cohort, path, table, registry[table.outcome]))
    frame = pl.concat(parts, how="diagonal_relaxed")
    return frame.select(pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c)
                        for c, t in OUTCOME_SCHEMA.items())


def _tabular_outcome(cohort: str, path: Path, table: OutcomeTable, entry: dict) -> pl.DataFrame:
    mapping = table.columns
    raw = read_table_file(path, table.delimiter, list(dict.fromkeys(mapping.values())),
                          "map existing columns under the outcome's columns: {participant_id: ..., value: ...}")
    frame = raw.select(pl.col(column).alias(key) for key, column in mapping.items()).with_columns(id_text("participant_id"))
    value = pl.col("value").cast(pl.Float64, strict=False)
    bad = frame.filter(pl.col("value").is_not_null() & value.is_null())
    if bad.height:
        raise GutaxisError(f"{path}: column {mapping['value']!r} has {bad.height:,} values that are not numbers (first "
                           f"{bad['value'][0]!r} at participant {bad['participant_id'][0]}); give numbers in {table.unit}")
    source = f"{path}: outcome {table.outcome}"
    if table.outcome == "oxytocin":
        converted, lod = oxytocin_pg_per_ml(value, table.unit, source), oxytocin_pg_per_ml(
            pl.col("lod").cast(pl.Float64, strict=False), table.unit, source)
    elif (table.unit or "") != (entry["unit"] or ""):
        raise GutaxisError(f"{source}: unit {table.unit!r} differs from the registry's {entry['unit']!r} and no "
                           "conversion is known; give the values in the registry's unit")
    else:
        converted, lod = value, pl.col("lod").cast(pl.Float64, strict=False)
    flags = {"below_lod", "fasting"}
    out = frame.with_columns(
        pl.lit(cohort).alias("cohort"), pl.lit(table.outcome).alias("outcome_id"), converted.alias("value"),
        pl.lit(entry["unit"]).alias("unit"),
        *(pl.col(c).cast(pl.String).str.strip_chars().str.to_lowercase().alias(c)
          for c in ("sample_type", "assay", "extraction") if c in frame.columns),
        *((lod.alias("lod"),) if "lod" in frame.columns else ()),
        *(pl.col(c).cast(pl.String).str.to_lowercase().is_in(["1", "true", "yes", "y"]).alias(c)
          for c in flags if c in frame.columns))
    low, high = entry["low"], entry["high"]
    outside = out.filter(pl.col("value").is_not_null() & ((pl.col("value") < low) | (pl.col("value") > high)))
    if outside.height:
        raise GutaxisError(f"{source}: {outside.height:,} values lie outside the registry's range {low:g}-{high:g} "
                           f"{entry['unit'] or ''} (first {outside['value'][0]:g} at participant {outside['participant_id'][0]}); "
                           "check the unit and the column mapped as value")
    return out
