"""Helpers the USDA/FDA table readers share: a workbook's header sheet, a CSV copy, columns by header.

USDA workbooks (FNDDS "At A Glance" tables, FPED, the survey flavonoid values) put title rows
above the header, and re-saved copies add sheets; so the table is the first sheet whose first
rows hold the header cell, read from that row on. CSV copies of the same tables have one header
row. Both return the table and the 1-based sheet/file row number of its first data row, for
error messages that name the row.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import polars as pl

from gutaxis import GutaxisError


def header_sheet(path: Path, is_header_cell: Callable[[str], bool], *, rows: int, fetch_hint: str, header: str,
                 give: str, header_row_ok: Callable[[tuple], bool] | None = None,
                 infer: bool = False) -> tuple[pl.DataFrame, int]:
    """The first sheet with a header cell in the first column of its first `rows` rows, from that row on.

    is_header_cell gets each non-empty first-column cell (as text); the first that matches is the
    header row, unless header_row_ok (given the row's cells) turns it down, when the next sheet is
    tried. Values are text unless infer (polars' default type inference). Errors name the file:
    missing (`run {fetch_hint}`), unreadable, or no sheet with the {header} header (`give {give}`).
    """
    if not path.is_file():
        raise GutaxisError(f"{path}: not found; run `{fetch_hint}`")
    import fastexcel

    try:
        sheets = fastexcel.read_excel(path).sheet_names
    except Exception as exc:  # calamine's own error types
        raise GutaxisError(f"{path}: cannot read the workbook ({type(exc).__name__}); fetch it again") from None
    for sheet in sheets:
        top = pl.read_excel(path, sheet_name=sheet, has_header=False, read_options={"n_rows": rows},
                            drop_empty_rows=False, infer_schema_length=0)
        if top.width == 0:
            continue
        index = next((i for i, cell in enumerate(top.to_series(0).cast(pl.String)) if cell and is_header_cell(cell)),
                     None)
        if index is not None and (header_row_ok is None or header_row_ok(top.row(index))):
            typing = {} if infer else {"infer_schema_length": 0}
            table = pl.read_excel(path, sheet_name=sheet, read_options={"header_row": index}, drop_empty_rows=True,
                                  **typing)
            return table, index + 2
    raise GutaxisError(f"{path}: no sheet has a {header} header in its first {rows} rows; give {give}")


def read_csv_table(path: Path, *, infer: bool) -> tuple[pl.DataFrame, int]:
    """A CSV copy of a table (one header row), and its first data row (2); values are text unless infer."""
    try:
        table = pl.read_csv(path, infer_schema_length=None) if infer else pl.read_csv(path, infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        first = str(exc).splitlines()[0]
        raise GutaxisError(f"{path}: cannot read as CSV ({first}); save it as UTF-8 CSV with one header row") from None
    return table, 2


def pick_columns(raw: pl.DataFrame, path: Path, columns: dict[str, str], *, optional: Iterable[str],
                 not_this: str) -> pl.DataFrame:
    """raw's columns renamed by `columns` (header -> name; headers matched whitespace-normalised, case-insensitively).

    An optional name whose header is absent becomes a null column; a missing required one fails
    with `{path}: column 'Header' not found; {not_this}`.
    """
    optional = set(optional)
    by_key = {" ".join(str(c).split()).casefold(): c for c in raw.columns}
    missing = [h for h, name in columns.items() if name not in optional and h.casefold() not in by_key]
    if missing:
        raise GutaxisError(f"{path}: column {missing[0]!r} not found; {not_this}")
    return raw.select(
        pl.col(by_key[h.casefold()]).alias(name) if h.casefold() in by_key else pl.lit(None).alias(name)
        for h, name in columns.items()
    )
