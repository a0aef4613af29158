"""gutaxis engine: food composition + diet diaries -> per-participant exposures (no Dagster here)."""
import os
from pathlib import Path

__version__ = "0.1.0"

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
SQL_DIR = PROJECT_ROOT / "sql"


class GutaxisError(Exception):
    """A user-facing problem: its message is one line naming the file, row or column and the fix."""


def raw_dir() -> Path:
    """Where fetched official files live: data/raw/, or $GUTAXIS_RAW_DIR (tests, shared caches)."""
    return Path(os.environ.get("GUTAXIS_RAW_DIR") or DATA_DIR / "raw")
