"""What a day-totals reader gives: one raw row per participant-day and where each value came from."""
from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

# Raw columns of a day-totals frame besides reported__<component_id> and weight__<name>:
# source_file, source_row, participant_id, recall_day, recall_status, optional row_problem, row_text.
WEIGHT_PREFIX = "weight__"
WEIGHTS = ("wt_day1", "wt_two_day")


@dataclass(frozen=True)
class TotalsFile:
    frame: pl.LazyFrame
    # the data rows the file holds, counted apart from the parser (gutaxis.formats.tabular.Records):
    # what the run's row accounting checks the days published, quarantined and excluded against
    rows: int
    # reported__<component_id> -> the file's column(s) it came from, for messages and audit rows
    origins: dict[str, str] = field(default_factory=dict)
    # wt_day1 / wt_two_day -> the file's variable (WTDRD1 or the 2017-March 2020 WTDRD1PP, ...)
    weight_variables: dict[str, str] = field(default_factory=dict)
