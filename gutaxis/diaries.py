"""A cohort's diary files, read in the spec's format and turned into canonical items (data-flow steps 1-2)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import polars as pl
import pyreadstat

from gutaxis import GutaxisError
from gutaxis.diary_rules import EVERY_ITEM_QUARANTINED, ROW, CanonicalDiary, canonicalize, row_shard
from gutaxis.formats import asa24_items, nhanes_iff, tabular
from gutaxis.specs import CohortSpec

Reader = Callable[[Path, CohortSpec], tabular.Records]
T = TypeVar("T")
READERS: dict[str, Reader] = {"nhanes-iff": nhanes_iff.open_file, "asa24-items": asa24_items.open_file,
                              "tabular": tabular.open_file}
SPLIT_KEY = "shard"  # the split pass's partition folders: shard=I
# The codes each instrument uses for a complete, usable recall (NHANES DRxDRSTZ, ASA24 RecallStatus).
INSTRUMENT_VALID_STATUS = {"nhanes-iff": [1], "asa24-items": [2]}
FILE_ERRORS = (pl.exceptions.PolarsError, OSError, UnicodeError, ValueError,
               pyreadstat.ReadstatError, pyreadstat.PyreadstatError)
# what each format's file is, for the message when one cannot be read
_WHAT = {"nhanes-iff": "NHANES DR1IFF/DR2IFF file (.XPT or delimited text)",
         "asa24-items": "ASA24 Items CSV file", "tabular": "CSV, TSV or Parquet file",
         "nhanes-tot": "NHANES DR1TOT/DR2TOT (XPT) or FPED fped_dr1tot (SAS7BDAT or CSV) file",
         "asa24-totals": "ASA24 Totals CSV file", "tabular-totals": "CSV, TSV or Parquet file"}


def valid_recall_status(spec: CohortSpec) -> list[int] | None:
    """Usable recall-status codes, or None when the cohort's files carry no status."""
    if spec.format in INSTRUMENT_VALID_STATUS:
        return INSTRUMENT_VALID_STATUS[spec.format]
    return list(spec.valid_recall_status) if "recall_status" in spec.columns else None


def read_diary(spec: CohortSpec, code_width: int, *, require_usable: bool = True) -> CanonicalDiary:
    """Every file the spec names, stacked, then typed and judged by gutaxis.diary_rules.

    When every row is quarantined the input is refused (a GutaxisError naming the file, the
    commonest reason and its first row): a locale's decimal commas or a column mapped wrong,
    not a few bad rows, and publishing an empty cohort with success would hide it.
    require_usable=False returns the verdicts anyway (tests of single rows).
    """
    files, opened, raw = _raw_diary(spec)
    diary = _judged(spec, code_width, raw, files, [records.frame for records in opened])
    diary = replace(diary, rows_read=sum(records.rows for records in opened))
    if require_usable:
        refuse_unusable(spec, files, diary.items.height, diary.items["food_code"].null_count(), diary.quarantine,
                        diary.inclusion, diary.untrusted_codes)
    return diary


def split_diary(spec: CohortSpec, n_shards: int, folder: Path) -> int:
    """The split pass of a sharded run (docs/scale.md): one streaming read of the cohort's files,
    each raw row written unchanged, in file order, to folder/shard=I/ (Parquet) of its participant's
    shard, so that each shard then reads its own rows instead of every shard scanning the whole
    input. Every shard gets a folder (an empty file when no row falls in it). Returns the rows read."""
    files, opened, raw = _raw_diary(spec)
    schema = raw.collect_schema()
    keyed = raw.with_columns(row_shard(schema, n_shards).alias(SPLIT_KEY))
    sink = pl.PartitionBy(folder, key=SPLIT_KEY, include_key=False, approximate_bytes_per_file=None)
    _collecting(spec, files, [records.frame for records in opened],
                # lz4: the split is read once and removed, and writes at half zstd's CPU for twice the bytes
                lambda: keyed.sink_parquet(sink, mkdir=True, engine="streaming", statistics=False, compression="lz4"))
    empty = pl.DataFrame(schema=schema)
    for shard in range(n_shards):
        rows = folder / split_shard_folder(shard)
        if not rows.exists():
            rows.mkdir(parents=True)
            empty.write_parquet(rows / "00000000.parquet")
    return sum(records.rows for records in opened)


def split_shard_folder(shard: int) -> str:
    """The folder, under the split's, that holds one shard's rows (the partitioned sink's name for it)."""
    return f"{SPLIT_KEY}={shard}"


def read_split_shard(spec: CohortSpec, code_width: int, folder: Path, rows_read: int) -> CanonicalDiary:
    """One shard's rows from the split pass (split_diary's folder/shard=I), judged as read_diary
    judges the whole diary: a shard holds whole recalls in file order, so its items, quarantine and
    inclusion are exactly its participants' part of the whole diary's. Verdicts are returned even
    when nothing is usable: the cohort judges that over every shard (refuse_unusable)."""
    raw = pl.scan_parquet(folder / "*.parquet", hive_partitioning=False)
    diary = _judged(spec, code_width, raw, [folder], [raw])
    return replace(diary, rows_read=rows_read)


def _raw_diary(spec: CohortSpec) -> tuple[list[Path], list[tabular.Records], pl.LazyFrame]:
    """The spec's files opened by its format's reader (each refused in one line if unreadable), and
    their rows stacked in file order: the raw frame diary_rules judges."""
    files = spec.data_files()
    reader = READERS[spec.format]
    opened = [open_checked(reader, path, spec, "diary rows") for path in files]
    return files, opened, tabular.concat_raw([records.frame for records in opened])


def _judged(spec: CohortSpec, code_width: int, raw: pl.LazyFrame, files: list[Path],
            frames: list[pl.LazyFrame]) -> CanonicalDiary:
    return _collecting(spec, files, frames, lambda: canonicalize(
        raw, cohort=spec.name, format=spec.format, code_width=code_width, valid_recall_status=valid_recall_status(spec)))


def _collecting(spec: CohortSpec, files: list[Path], frames: list[pl.LazyFrame], collect: Callable[[], T]) -> T:
    """collect() of a plan over the files' lazy scans, with a file that fails only when its rows are read
    (e.g. a ragged line deep in a CSV) found and refused in one line."""
    try:
        return collect()
    except pl.exceptions.PolarsError as exc:
        for path, frame in zip(files, frames):
            try:
                frame.collect()
            except FILE_ERRORS as file_exc:
                raise unreadable(path, spec.format, file_exc) from None
        raise exc


def refuse_unusable(spec: CohortSpec, files: list[Path], n_items: int, n_items_without_code: int,
                    quarantine: pl.DataFrame, inclusion: pl.DataFrame, untrusted_codes: pl.DataFrame) -> None:
    """Refuse a diary of which nothing is usable (see read_diary), from its counts and audit frames."""
    if n_items == 0:
        # Named after whichever kept more rows out: bad rows, or recalls their status excludes.
        by_status = inclusion.filter(~pl.col("included") & (pl.col("reason") != EVERY_ITEM_QUARANTINED))
        if quarantine.height and quarantine.height >= by_status["n_items"].sum():
            also = f" ({by_status.height} recalls were also excluded by their status)" if by_status.height else ""
            raise nothing_usable(files, quarantine, also)
        also = f" ({quarantine.height} rows were also quarantined)" if quarantine.height else ""
        raise nothing_included(spec, files, by_status, also)
    if n_items_without_code == n_items:
        raise no_code_usable(spec, files, untrusted_codes)


def no_code_usable(spec: CohortSpec, files: list[Path], untrusted: pl.DataFrame) -> GutaxisError:
    """Every kept item's food code unreadable: a column mapped wrong or a file's codes mangled, not a few bad codes."""
    where = files[0] if len(files) == 1 else spec.spec_path
    top = untrusted.group_by("reason").agg(pl.col("n_items").sum(), pl.col("food_code").first()).sort(
        ["n_items", "reason"], descending=[True, False]).row(0, named=True)
    fix = ("check that columns.food_code names the food-code column" if spec.format == "tabular"
           else "check that it is the intended file")
    example = "" if top["food_code"] is None else f", e.g. {top['food_code']!r}"
    return GutaxisError(f"{where}: no food code is usable: all {untrusted['n_items'].sum()} items' codes could not be "
                        f"read, {top['n_items']} of them with '{top['reason']}'{example}; {fix}")


def nothing_usable(files: list[Path], quarantine: pl.DataFrame, also: str = "") -> GutaxisError:
    """Every row quarantined: a systematic problem (a locale's decimal commas, a wrong column), not bad rows."""
    reason, count, first = _commonest_reason(quarantine)
    where = next(path for path in files if path.name == first["source_file"])
    column = "" if first["column"] == ROW else f", column {first['column']}"
    return GutaxisError(f"{where}: no row is usable: all {quarantine.height} were quarantined, {count} of them with "
                        f"'{reason}' (first at row {first['source_row']}{column}){also}; fix the file and run again")


def nothing_included(spec: CohortSpec, files: list[Path], inclusion: pl.DataFrame, also: str = "") -> GutaxisError:
    """Every recall excluded by its status (inclusion: those recalls): the wrong file, or a status
    code the spec does not accept."""
    where = files[0] if len(files) == 1 else spec.spec_path
    if not inclusion.height:
        return GutaxisError(f"{where}: no item is usable; fix the file and run again")
    reason, count, first = _commonest_reason(inclusion)
    if "recall_status" not in spec.columns:  # an instrument's own status codes (NHANES, ASA24), items or totals
        fix = "the file holds no complete recall: check that it is the intended file"
    else:
        fix = f"if this file marks its complete recalls with another code, set valid_recall_status in {spec.spec_path}"
    return GutaxisError(f"{where}: no recall is usable: all {inclusion.height} were excluded, {count} of them with "
                        f"'{reason}' (first: participant {first['participant_id']}, day {first['recall_day']}){also}; {fix}")


def _commonest_reason(rows: pl.DataFrame) -> tuple[str, int, dict]:
    """The reason most rows give (ties: alphabetical), how many give it, and the first such row."""
    reason, count = rows.group_by("reason").len().sort(["len", "reason"], descending=[True, False]).row(0)
    return reason, count, rows.filter(pl.col("reason") == reason).row(0, named=True)


def open_checked(reader: Callable[[Path, CohortSpec], T], path: Path, spec: CohortSpec, rows: str) -> T:
    """reader(path, spec) (a frame and more), with a file that cannot be read, or holds no data row,
    refused in one line; rows: what a data row of the format is, for that message."""
    try:
        opened = reader(path, spec)
        empty = opened.frame.head(1).collect().height == 0
    except pl.exceptions.NoDataError:
        empty = True
    except GutaxisError:
        raise
    except FILE_ERRORS as exc:
        raise unreadable(path, spec.format, exc) from None
    if empty:
        raise GutaxisError(f"{path}: has no data rows; give the file with its {rows} "
                           "(a header alone is not enough) or leave it out of the cohort's path")
    return opened


def unreadable(path: Path, format: str, exc: BaseException) -> GutaxisError:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    detail = lines[0][:200] if lines else type(exc).__name__
    return GutaxisError(f"{path}: cannot be read as {format} ({detail}); check that it is an undamaged "
                        f"{_WHAT[format]} (delimiter, quoting, encoding) or fix 'format'/'path' in the cohort spec")
