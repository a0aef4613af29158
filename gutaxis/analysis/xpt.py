"""Reading a SAS transport (XPT) file of NHANES as polars, the way every analysis reader needs it."""
from __future__ import annotations

from pathlib import Path

import polars as pl
import pyreadstat

from gutaxis import GutaxisError
from gutaxis.formats.nhanes_iff import XPT_ZERO_EPS, _check_not_cut_short, _cut_short


def read_xpt_columns(path: Path, required: list[str], optional: list[str], fix: str) -> pl.DataFrame:
    """The named columns of an XPT file; a missing required column is one line naming the file and it.

    SAS missing values arrive as null, and the ~5.4e-79 that some writers leave for an IBM-float zero
    becomes 0 (no NHANES code, weight or ratio is that small)."""
    path = Path(path)
    try:
        _, meta = pyreadstat.read_xport(str(path), metadataonly=True)
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError) as exc:
        raise GutaxisError(f"{path}: cannot be read as a SAS transport (XPT) file ({exc}); {fix}") from None
    present = list(meta.column_names)
    missing = [c for c in required if c not in present]
    if missing:
        raise GutaxisError(f"{path}: column {missing[0]} is missing (the file has {len(present)} columns: "
                           f"{', '.join(present[:12])}{', ...' if len(present) > 12 else ''}); {fix}")
    # pyreadstat reads a file cut short (an interrupted download) up to its end and says nothing.
    stated_rows = _check_not_cut_short(path, sum(meta.variable_storage_width.values()))
    wanted = required + [c for c in optional if c in present and c not in required]
    data, _ = pyreadstat.read_xport(str(path), usecols=wanted)
    if stated_rows is not None and len(data) != stated_rows:
        raise _cut_short(path, f"{len(data):,} rows where its header states {stated_rows:,}")
    frame = pl.from_pandas(data, nan_to_null=True)
    return frame.with_columns(
        pl.when(pl.col(c).abs() < XPT_ZERO_EPS).then(0.0).otherwise(pl.col(c)).alias(c)
        for c, dtype in frame.schema.items() if dtype.is_float())


def refuse_duplicate_ids(frame: pl.DataFrame, id_column: str, path: Path, fix: str) -> None:
    duplicated = frame.filter(pl.col(id_column).is_duplicated())
    if duplicated.height:
        first = duplicated[id_column][0]
        raise GutaxisError(f"{path}: column {id_column} has duplicate participant ids ({duplicated[id_column].n_unique():,} "
                           f"ids on {duplicated.height:,} rows, first {_show(first)}); {fix}")


def _show(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
