"""Loading the curated reference tables in data/reference/ (CSV, read as text)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from gutaxis import GutaxisError


def read_reference(path: Path, columns: Sequence[str], what: str) -> pl.DataFrame:
    """The table at path, all text, once it is there and has every column in `columns`.

    `what` names the table in the not-found message (`{path}: {what} not found; restore it from the repository`).
    """
    path = Path(path)
    if not path.is_file():
        raise GutaxisError(f"{path}: {what} not found; restore it from the repository")
    table = pl.read_csv(path, infer_schema=False)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise GutaxisError(f"{path}: column {missing[0]!r} missing; expected {list(columns)}")
    return table
