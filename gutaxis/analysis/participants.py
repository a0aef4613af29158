"""Participants and their survey design from NHANES demographics files (DEMO_x, P_DEMO) into the
columns of `cohort.participants` (DESIGN.md)."""
from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from gutaxis import GutaxisError
from gutaxis.analysis.xpt import read_xpt_columns, refuse_duplicate_ids

PARTICIPANT_SCHEMA = {
    "cohort": pl.String, "participant_id": pl.String, "sex": pl.String, "age_years": pl.Float64,
    "race_ethnicity": pl.String, "income_poverty_ratio": pl.Float64, "pregnant": pl.Boolean,
    "cycle": pl.String, "stratum": pl.Int64, "psu": pl.Int64, "wt_interview": pl.Float64,
    "wt_mec": pl.Float64, "wt_day1": pl.Float64, "wt_two_day": pl.Float64, "has_usable_recall": pl.Boolean,
}
FIX = "give the official NHANES DEMO file (DEMO_J.xpt, P_DEMO.xpt, ...) with its original column names"

# NHANES release cycle by SDDSRVYR (the DEMO codebooks); 66 is the 2017-March 2020 pre-pandemic file.
CYCLE_BY_RELEASE = {1: "1999-2000", 2: "2001-2002", 3: "2003-2004", 4: "2005-2006", 5: "2007-2008",
                    6: "2009-2010", 7: "2011-2012", 8: "2013-2014", 9: "2015-2016", 10: "2017-2018",
                    66: "2017-2020", 12: "2021-2023"}
CYCLE_BY_SUFFIX = {"B": "2001-2002", "C": "2003-2004", "D": "2005-2006", "E": "2007-2008", "F": "2009-2010",
                   "G": "2011-2012", "H": "2013-2014", "I": "2015-2016", "J": "2017-2018", "L": "2021-2023"}
SEX = {1: "male", 2: "female"}
# RIDRETH3 (2011 on, Asian separate) and RIDRETH1 (every cycle), as the codebooks label them.
RACE_ETHNICITY_3 = {1: "Mexican American", 2: "Other Hispanic", 3: "Non-Hispanic White",
                    4: "Non-Hispanic Black", 6: "Non-Hispanic Asian", 7: "Other race, including multi-racial"}
RACE_ETHNICITY_1 = {1: "Mexican American", 2: "Other Hispanic", 3: "Non-Hispanic White",
                    4: "Non-Hispanic Black", 5: "Other race, including multi-racial"}
# RIDEXPRG: 1 positive test or self-report, 2 not pregnant, 3 cannot ascertain (-> unknown).
PREGNANT = {1: True, 2: False}
_PREPANDEMIC_NAME = re.compile(r"^P_", re.IGNORECASE)
_SUFFIX = re.compile(r"_([A-L])\.(xpt|XPT)$")


def read_nhanes_demo(path: Path, cohort: str) -> pl.DataFrame:
    """One DEMO_x / P_DEMO file as `cohort.participants` rows; recall weights and has_usable_recall
    come from the diary and stay null here."""
    path = Path(path)
    prepandemic = bool(_PREPANDEMIC_NAME.match(path.name))
    wt_interview, wt_mec = ("WTINTPRP", "WTMECPRP") if prepandemic else ("WTINT2YR", "WTMEC2YR")
    raw = read_xpt_columns(
        path, ["SEQN", "RIAGENDR", "RIDAGEYR", "INDFMPIR", "RIDEXPRG", "SDMVSTRA", "SDMVPSU", wt_interview, wt_mec],
        ["SDDSRVYR", "RIDRETH3", "RIDRETH1"], FIX + (" (the 2017-March 2020 P_ files carry WTINTPRP/WTMECPRP)"
                                                      if prepandemic else ""))
    race_column = next((c for c in ("RIDRETH3", "RIDRETH1") if c in raw.columns), None)
    if race_column is None:
        raise GutaxisError(f"{path}: column RIDRETH3 (or RIDRETH1) is missing; {FIX}")
    refuse_duplicate_ids(raw, "SEQN", path, "each participant must be on one row: give one cycle's DEMO file per entry")
    _refuse_bad_design(raw, path, wt_interview, wt_mec)
    race_labels = RACE_ETHNICITY_3 if race_column == "RIDRETH3" else RACE_ETHNICITY_1
    frame = raw.select(
        pl.lit(cohort).alias("cohort"),
        pl.col("SEQN").cast(pl.Int64).cast(pl.String).alias("participant_id"),
        _coded("RIAGENDR", SEX, pl.String).alias("sex"),
        pl.col("RIDAGEYR").cast(pl.Float64).alias("age_years"),  # 80 means 80 and over (top-coded)
        _coded(race_column, race_labels, pl.String).alias("race_ethnicity"),
        pl.col("INDFMPIR").cast(pl.Float64).alias("income_poverty_ratio"),  # 5 means 5 and over
        # RIDEXPRG is asked of women of childbearing age only: men are not pregnant; other women
        # without a status stay unknown, so a "not pregnant" domain keeps them (pregnant is not true).
        pl.when(pl.col("RIAGENDR") == 1).then(False)
        .otherwise(_coded("RIDEXPRG", PREGNANT, pl.Boolean)).alias("pregnant"),
        _cycle(raw, path).alias("cycle"),
        pl.col("SDMVSTRA").cast(pl.Int64).alias("stratum"),
        pl.col("SDMVPSU").cast(pl.Int64).alias("psu"),
        pl.col(wt_interview).cast(pl.Float64).alias("wt_interview"),
        pl.col(wt_mec).cast(pl.Float64).alias("wt_mec"),
    )
    return frame.with_columns(pl.lit(None, dtype).alias(name) for name, dtype in PARTICIPANT_SCHEMA.items()
                              if name not in frame.columns).select(list(PARTICIPANT_SCHEMA))


def _coded(column: str, labels: dict, dtype) -> pl.Expr:
    return pl.col(column).cast(pl.Int64).replace_strict(labels, default=None, return_dtype=dtype)


def _cycle(raw: pl.DataFrame, path: Path) -> pl.Expr:
    if "SDDSRVYR" in raw.columns:
        releases = set(raw["SDDSRVYR"].drop_nulls().cast(pl.Int64).to_list())
        unknown = sorted(releases - set(CYCLE_BY_RELEASE))
        if unknown:
            raise GutaxisError(f"{path}: column SDDSRVYR has release {unknown[0]}, which is not a known NHANES cycle "
                               f"(known: {', '.join(map(str, CYCLE_BY_RELEASE))}); {FIX}")
        return pl.col("SDDSRVYR").cast(pl.Int64).replace_strict(CYCLE_BY_RELEASE, default=None, return_dtype=pl.String)
    named = _SUFFIX.search(path.name)
    if _PREPANDEMIC_NAME.match(path.name):
        return pl.lit("2017-2020")
    if named and named.group(1).upper() in CYCLE_BY_SUFFIX:
        return pl.lit(CYCLE_BY_SUFFIX[named.group(1).upper()])
    raise GutaxisError(f"{path}: column SDDSRVYR is missing and the file name does not tell the cycle; {FIX}")


def _refuse_bad_design(raw: pl.DataFrame, path: Path, wt_interview: str, wt_mec: str) -> None:
    """Strata and PSUs must be present on every row; the interview weight must be > 0 and the MEC weight
    >= 0 (0 is NHANES' code for interviewed but not examined)."""
    rules = [(c, pl.col(c).is_null(), "missing") for c in ("SDMVSTRA", "SDMVPSU", wt_interview, wt_mec)]
    rules += [(wt_interview, pl.col(wt_interview) <= 0, "<= 0"), (wt_mec, pl.col(wt_mec) < 0, "< 0")]
    for column, broken, what in rules:
        bad = raw.filter(broken)
        if bad.height:
            raise GutaxisError(f"{path}: column {column} is {what} on {bad.height:,} rows (first SEQN "
                               f"{int(bad['SEQN'][0])}); a survey design needs it on every participant: {FIX}")
