"""The bench cohort's analysis inputs: a synthetic DEMO-like participants table and a PHQ-like outcome.

Generated beside the diary (cached by rows and seed), so that the analysis steps of `gutaxis run`
(participants, outcomes, estimates, associations, and whatever analysis asset the checkout has)
do the work they do for a survey cohort of that size: attach attributes and a stratified
two-PSU design, score outcomes, fit survey-weighted models per exposure quintile.

Participants are those of the diary plus a few percent without a recall (a DEMO file lists
everyone interviewed; they stay in cohort.participants, flagged, for domain estimation). All
values are SYNTHETIC: shapes like NHANES (15 strata of 2 PSUs, ages 1-80 top-coded, a ratio of
family income to poverty 0-5 with a tenth missing, PHQ-9 asked of adults 18+), numbers made up.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

VERSION = 1  # bump when the generated tables change, so cached files are not reused
EXTRA_WITHOUT_RECALL = 0.04  # share of participants (of the diary's) interviewed but without a recall
STRATA = 15
RACE_ETHNICITY = ("Mexican American", "Other Hispanic", "Non-Hispanic White", "Non-Hispanic Black",
                  "Non-Hispanic Asian", "Other race, including multi-racial")
RACE_SHARES = (0.14, 0.10, 0.34, 0.23, 0.12, 0.07)
PHQ9_MIN_AGE = 18
PHQ9_RESPONSE_RATE = 0.9
PHQ9_CUTOFF = 10

# The bench spec's column map: DEMO-like names where NHANES has them, read by the `tabular` format.
PARTICIPANT_COLUMNS = {
    "participant_id": "SEQN", "sex": "sex", "age_years": "RIDAGEYR", "race_ethnicity": "race_ethnicity",
    "income_poverty_ratio": "INDFMPIR", "pregnant": "pregnant", "cycle": "cycle", "stratum": "SDMVSTRA",
    "psu": "SDMVPSU", "wt_interview": "WTINT2YR", "wt_mec": "WTMEC2YR", "wt_day1": "WTDRD1", "wt_two_day": "WTDR2D",
}


def input_paths(diary: Path) -> tuple[Path, Path]:
    """(participants, PHQ outcome) files cached beside a diary file."""
    stem = diary.name.removesuffix(".parquet").replace("diary-", "", 1)
    return (diary.with_name(f"participants-{stem}-a{VERSION}.parquet"),
            diary.with_name(f"phq-{stem}-a{VERSION}.parquet"))


def diary_days(diary: Path) -> pl.DataFrame:
    """participant_id and its number of recall days, from the diary file."""
    return (pl.scan_parquet(diary).select("participant_id", "recall_day").unique()
            .group_by("participant_id").agg(pl.len().alias("n_days")).collect())


def participants_table(days: pl.DataFrame, seed: int) -> pl.DataFrame:
    """DEMO-like rows for the diary's participants and ~4 % more without a recall."""
    rng = np.random.default_rng(seed + 1)
    diary_ids = days["participant_id"].sort().to_numpy()
    first_extra = int(diary_ids.max()) + 1 if diary_ids.size else 1
    extra = np.arange(first_extra, first_extra + int(round(diary_ids.size * EXTRA_WITHOUT_RECALL)), dtype=np.int64)
    ids = np.concatenate([diary_ids, extra])
    n = ids.size
    n_days = (pl.DataFrame({"participant_id": ids}).join(days, on="participant_id", how="left")["n_days"]
              .fill_null(0).to_numpy())
    female = rng.random(n) < 0.51
    age = np.minimum(rng.integers(1, 86, n), 80)  # RIDAGEYR is top-coded at 80
    pregnant = np.where(female & (age >= 20) & (age <= 44), rng.random(n) < 0.06, False)
    income = np.round(np.minimum(rng.gamma(2.0, 1.2, n), 5.0), 2)
    stratum = rng.integers(0, STRATA, n) + 134  # NHANES 2017-2018 strata are 134-148
    psu = rng.integers(1, 3, n)
    wt_interview = np.round(rng.lognormal(10.0, 0.7, n), 3)
    examined = rng.random(n) < 0.96
    wt_mec = np.where(examined, np.round(wt_interview * rng.uniform(1.0, 1.1, n), 3), 0.0)
    wt_day1 = np.where(n_days >= 1, np.round(wt_interview * rng.uniform(0.9, 1.4, n), 3), np.nan)
    wt_two_day = np.where(n_days >= 2, np.round(wt_interview * rng.uniform(0.9, 1.6, n), 3), np.nan)
    frame = pl.DataFrame({
        "SEQN": ids,
        "sex": np.where(female, "female", "male"),
        "RIDAGEYR": age.astype(np.float64),
        "race_ethnicity": np.array(RACE_ETHNICITY)[rng.choice(len(RACE_ETHNICITY), n, p=RACE_SHARES)],
        "INDFMPIR": income,
        "pregnant": pregnant,
        "cycle": np.full(n, "2017-2018"),
        "SDMVSTRA": stratum.astype(np.int64),
        "SDMVPSU": psu.astype(np.int64),
        "WTINT2YR": wt_interview,
        "WTMEC2YR": wt_mec,
        "WTDRD1": wt_day1,
        "WTDR2D": wt_two_day,
    })
    income_missing = rng.random(n) < 0.1
    return frame.with_columns(
        pl.when(pl.Series(income_missing)).then(None).otherwise(pl.col("INDFMPIR")).alias("INDFMPIR"),
        pl.col("WTDRD1", "WTDR2D").fill_nan(None))


def phq_table(participants: pl.DataFrame, seed: int) -> pl.DataFrame:
    """PHQ-like outcome rows: the total (0-27) and the >= 10 flag, for responding adults 18+ (no total
    for incomplete responses, as the NHANES codebook scores it: those rows are simply absent)."""
    rng = np.random.default_rng(seed + 2)
    adults = participants.filter(pl.col("RIDAGEYR") >= PHQ9_MIN_AGE)
    n = adults.height
    responded = rng.random(n) < PHQ9_RESPONSE_RATE
    # nine items of 0-3 whose common level varies by person: totals skewed to 0-5, ~8 % at 10 or more
    level = rng.gamma(0.9, 0.4, n)
    items = rng.poisson(level[:, None], size=(n, 9)).clip(0, 3)
    total = items.sum(axis=1).astype(np.float64)
    frame = pl.DataFrame({"SEQN": adults["SEQN"], "phq9_total": total,
                          "phq9_ge10": (total >= PHQ9_CUTOFF).astype(np.float64)})
    return frame.filter(pl.Series(responded))


def write_inputs(diary: Path, seed: int) -> tuple[Path, Path]:
    """Generate (or reuse) the participants and PHQ files of a diary; returns their paths."""
    participants_path, phq_path = input_paths(diary)
    if participants_path.exists() and phq_path.exists():
        return participants_path, phq_path
    participants = participants_table(diary_days(diary), seed)
    for path, frame in ((participants_path, participants), (phq_path, phq_table(participants, seed))):
        partial = path.with_suffix(".partial")
        frame.write_parquet(partial)
        partial.rename(path)
    return participants_path, phq_path


def spec_keys(participants_path: Path, phq_path: Path, components: list[str], hypotheses: int | None = None) -> dict:
    """The analysis keys of the bench cohort spec: participants, outcomes, design, descriptive estimates by
    sex, and hypotheses shaped like the project's shipped set (a computed component per 1000 kcal in
    quintiles against phq9_ge10 in adults 20+ not pregnant, adjusted): the first `hypotheses` of them
    (fiber first), or one per computed component when None."""
    outcomes = [{"format": "tabular", "path": str(phq_path), "outcome": "phq9_total", "unit": "points",
                 "columns": {"participant_id": "SEQN", "value": "phq9_total"}},
                {"format": "tabular", "path": str(phq_path), "outcome": "phq9_ge10",  # binary: no unit
                 "columns": {"participant_id": "SEQN", "value": "phq9_ge10"}}]
    covariates = ["age_years", "sex", "race_ethnicity", "income_poverty_ratio", "energy_kcal_mean_daily"]
    exposures = sorted((c for c in components if c != "energy_kcal"), key=lambda c: (c != "fiber", c))
    analyses = [{"id": "bench-phq9-by-sex", "kind": "estimates", "variables": ["phq9_ge10", "phq9_total", "energy_kcal_mean_daily"],
                 "statistics": ["mean", "quantile"], "quantiles": [0.5], "by": ["sex"],
                 "domain": "age_years >= 20"}]
    analyses += [{"id": f"bench-{c.replace('_', '-')}-phq9", "kind": "association",
                  "exposure": {"component": c, "scale": "per_1000kcal", "groups": "quintiles"},
                  "outcome": "phq9_ge10", "model": "logistic", "covariates": covariates,
                  "domain": "age_years >= 20 and not pregnant"}
                 for c in exposures[:hypotheses]]
    return {"participants": [{"format": "tabular", "path": str(participants_path), "columns": PARTICIPANT_COLUMNS}],
            "outcomes": outcomes,
            "design": {"weight": "auto", "strata": "stratum", "psu": "psu", "cycles": 1, "lonely_psu": "adjust"},
            "analyses": analyses}
