"""Tabular diaries (CSV, TSV, Parquet) read through a cohort spec's `columns` and `reported` maps.

Also home of the small text-file helpers the other diary readers share (delimiter choice, the
all-text scan, the missing-column message), so every reader reports problems the same way.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl

from gutaxis import GutaxisError
from gutaxis.formats import REPORTED_PREFIX
from gutaxis.specs import CohortSpec

PARQUET_SUFFIXES = (".parquet", ".pq")
# A column name a data file is unlikely to use; renamed to source_row once the file's own columns are picked.
ROW_INDEX = "__gutaxis_source_row"
_DELIMITER_ALIASES = {"\\t": "\t", "tab": "\t", "TAB": "\t"}
_SNIFF_CANDIDATES = ("\t", ",", ";", "|")


def text_separator(path: Path, delimiter: str | None) -> str:
    """The spec's delimiter, else one implied by the extension, else the most frequent candidate in the header."""
    if delimiter:
        delimiter = _DELIMITER_ALIASES.get(delimiter, delimiter)
        if len(delimiter) != 1:
            raise GutaxisError(f"{path}: delimiter {delimiter!r} must be a single character; fix 'delimiter' in the cohort spec (e.g. \"\\t\" or \",\")")
        return delimiter
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "\t"
    if suffix == ".csv":
        return ","
    with open(path, "rb") as fh:
        header = fh.readline(65536).decode("utf-8", errors="replace")
    counts = {c: header.count(c) for c in _SNIFF_CANDIDATES}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def scan_text(path: Path, separator: str) -> pl.LazyFrame:
    """Every column as text, plus a 1-based row index; values stay exactly as printed."""
    # utf8-lossy: a stray Windows-1252 byte in a description column we never use must not sink
    # the whole file; identifiers and numbers are ASCII in every instrument we read.
    return pl.scan_csv(path, separator=separator, infer_schema=False, encoding="utf8-lossy",
                       row_index_name=ROW_INDEX, row_index_offset=1)


def case_variants(column: str, available: Iterable[str]) -> list[str]:
    return [c for c in available if c.lower() == column.lower() and c != column]


def missing_column_error(path: Path, column: str, available: Iterable[str], fix: str,
                         alternative: str | None = None) -> GutaxisError:
    available = list(available)
    variants = case_variants(column, available) + (case_variants(alternative, available) if alternative else [])
    named = f"{column!r} (or {alternative!r})" if alternative else repr(column)
    hint = ""
    if variants:
        listed = ", ".join(repr(v) for v in variants)
        hint = f" (the file has {listed}, which differs only by case: column names are matched case-sensitively)"
    header = [c for c in available if c != ROW_INDEX]
    if len(header) == 1:
        # One column whose name holds separators: the file was split on the wrong delimiter.
        found = [repr(c) for c in _SNIFF_CANDIDATES if c in header[0]]
        if found:
            return GutaxisError(f"{path}: column {named} is missing: the header reads as one column, "
                                f"delimited by {found[0]} it seems; set 'delimiter' in the cohort spec")
    return GutaxisError(f"{path}: column {named} is missing{hint}; {fix}")


def base_columns(path: Path) -> list[pl.Expr]:
    return [pl.lit(path.name, dtype=pl.String).alias("source_file"),
            pl.col(ROW_INDEX).cast(pl.Int64).alias("source_row")]


def omega3_total(parts: list[str], *, numeric: bool) -> pl.Expr:
    """ALA + EPA + DPA + DHA for one item; null unless all four are present.

    For text files the sum is returned as text, so the row rules still see the raw value: when
    a part is printed but is not a number, that part's raw text is passed on (and quarantined
    as "reported value is not a number", or read as missing when it is a token like NA).
    """
    name = f"{REPORTED_PREFIX}omega3_total"
    if numeric:
        return _null_propagating_sum([pl.col(p).cast(pl.Float64) for p in parts]).alias(name)
    parsed = [pl.col(p).str.strip_chars().cast(pl.Float64, strict=False) for p in parts]
    unparsed = [pl.col(p).is_not_null() & v.is_null() for p, v in zip(parts, parsed)]
    first_unparsed = pl.coalesce([pl.when(bad).then(pl.col(p)) for p, bad in zip(parts, unparsed)])
    return (pl.when(pl.any_horizontal(unparsed)).then(first_unparsed)
            .otherwise(_null_propagating_sum(parsed).cast(pl.String)).alias(name))


def _null_propagating_sum(values: list[pl.Expr]) -> pl.Expr:
    total = values[0]
    for value in values[1:]:
        total = total + value  # unlike sum_horizontal, `+` keeps null when a part is missing
    return total


def read_file(path: Path, spec: CohortSpec) -> pl.LazyFrame:
    """One CSV/TSV/Parquet file as the raw diary frame; Parquet keeps its native types and is scanned lazily."""
    if path.suffix.lower() in PARQUET_SUFFIXES:
        frame = pl.scan_parquet(path, row_index_name=ROW_INDEX, row_index_offset=1)
    else:
        frame = scan_text(path, text_separator(path, spec.delimiter))
    available = frame.collect_schema().names()
    wanted = dict(spec.columns)
    wanted.update({f"{REPORTED_PREFIX}{cid}": col for cid, col in spec.reported.items()})
    for canonical, column in wanted.items():
        if column not in available:
            key = f"columns.{canonical}" if canonical in spec.columns else f"reported.{canonical.removeprefix(REPORTED_PREFIX)}"
            raise missing_column_error(path, column, available, f"fix {key} in the cohort spec to name a column of the file")
    status = pl.col(spec.columns["recall_status"]) if "recall_status" in spec.columns else pl.lit(None, dtype=pl.String)
    return frame.select(
        *base_columns(path),
        *(pl.col(spec.columns[c]).alias(c) for c in ("participant_id", "recall_day", "food_code", "grams")),
        status.alias("recall_status"),
        pl.lit(None, dtype=pl.Null).alias("external_id"),  # Null dtype: this format has no external id
        *(pl.col(col).alias(f"{REPORTED_PREFIX}{cid}") for cid, col in spec.reported.items()),
    )


def concat_raw(frames: list[pl.LazyFrame]) -> pl.LazyFrame:
    """Files of one cohort stacked in order; a reported column absent from one file is null there."""
    if len(frames) == 1:
        return frames[0]
    return pl.concat(frames, how="diagonal_relaxed")


def read(spec: CohortSpec) -> pl.LazyFrame:
    return concat_raw([read_file(p, spec) for p in spec.data_files()])
