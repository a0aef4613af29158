"""Dietary Inflammatory Index (DII; Shivappa N, Steck SE, Hurley TG, Hussey JR, Hebert JR. Designing and
developing a literature-derived, population-based dietary inflammatory index. Public Health Nutr
2014;17:1689-1696).

For each of the 45 food parameters the paper gives an overall inflammatory effect score (from the
literature review) and a global daily mean and SD (from 11 populations). A parameter's score is
effect x (2 * Phi(z) - 1) with z = (intake - global mean) / global SD: the z-score turned into a
centred percentile (-1..1), so each parameter lies within +-|effect|; the DII is their sum. Positive
is pro-inflammatory. data/reference/dii_parameters.csv holds the table, the registry component
each parameter reads (flavan-3-ols and anthocyanidins are gutaxis's flavonoid subclasses), the unit
factor, and why the parameters without a component are left out.

The DII is computed from the parameters a cohort has, as its authors intend: the published rows
carry one component per parameter used, so `count(DISTINCT component) - 1` of an index_id 'dii' is
the number of its 45 parameters that cohort had (`parameters_used` says which before scoring). Only a
cohort with none of them is "not computable". Per-parameter scores are negative for
anti-inflammatory intakes: `MIN_SCORES` gives each component's lower bound (-|effect|).
"""
from __future__ import annotations

import math
from pathlib import Path

import polars as pl
from scipy import special

from gutaxis import DATA_DIR, GutaxisError
from gutaxis.indices.scoring import KEYS, SCORE_SCHEMA, long_scores
from gutaxis.reference_tables import read_reference

INDEX_ID = "dii"
NAME = "Dietary Inflammatory Index"
PARAMETERS_PATH = DATA_DIR / "reference" / "dii_parameters.csv"
COLUMNS = ("parameter", "unit", "inflammatory_effect_score", "global_mean", "global_sd", "component_id", "factor", "note")
N_PARAMETERS = 45


def load_parameters(path: Path = PARAMETERS_PATH) -> pl.DataFrame:
    """The paper's table with the component each parameter reads (null: not scored) and the unit factor."""
    path = Path(path)
    table = read_reference(path, COLUMNS, "DII parameter table").with_row_index("line", offset=2)
    numbers = table.with_columns(pl.col(c).cast(pl.Float64, strict=False) for c in
                                 ("inflammatory_effect_score", "global_mean", "global_sd", "factor"))
    bad = numbers.filter(pl.any_horizontal(pl.col(c).is_null() for c in
                                           ("inflammatory_effect_score", "global_mean", "global_sd"))
                         | (pl.col("global_sd") <= 0)
                         | (pl.col("component_id").is_not_null() & pl.col("factor").is_null()))
    if bad.height:
        row = bad.row(0, named=True)
        raise GutaxisError(f"{path}: line {row['line']}: parameter {row['parameter']!r} needs a numeric effect score, "
                           "global mean, a positive global SD and, when it names a component, a factor; fix the table")
    return numbers


PARAMETERS = load_parameters()
_SCORED = PARAMETERS.filter(pl.col("component_id").is_not_null())
REQUIRED: tuple[str, ...] = ()  # any parameter will do: see `not_computable`
OPTIONAL: tuple[str, ...] = tuple(_SCORED["component_id"])
MAX_SCORES: dict[str, float] = {r["parameter"]: abs(r["inflammatory_effect_score"]) for r in _SCORED.iter_rows(named=True)}
MIN_SCORES: dict[str, float] = {name: -bound for name, bound in MAX_SCORES.items()}


def parameters_used(available) -> list[str]:
    """The DII parameters a cohort with these components can score, in the table's order."""
    have = set(available)
    return [r["parameter"] for r in _SCORED.iter_rows(named=True) if r["component_id"] in have]


def not_computable(available) -> str | None:
    if parameters_used(available):
        return None
    return "not computable: missing every DII parameter (" + ", ".join(OPTIONAL) + ")"


def _centred_percentile(z: pl.Expr) -> pl.Expr:
    """2 * Phi(z) - 1, which is erf(z / sqrt 2) (vectorised: a cohort has millions of parameter-days)."""
    return z.map_batches(lambda s: pl.Series(special.erf(s.cast(pl.Float64).to_numpy(allow_copy=True) / math.sqrt(2)),
                                             dtype=pl.Float64).fill_nan(None), return_dtype=pl.Float64)


def parameter_scores(rows: pl.DataFrame, parameters: pl.DataFrame = _SCORED) -> pl.DataFrame:
    """keys and one column per parameter whose component `rows` has (rows missing a value: that cell null)."""
    scored = {}
    for p in parameters.iter_rows(named=True):
        if p["component_id"] not in rows.columns:
            continue
        intake = pl.col(p["component_id"]).cast(pl.Float64) * p["factor"]
        z = (intake - p["global_mean"]) / p["global_sd"]
        scored[p["parameter"]] = _centred_percentile(z) * p["inflammatory_effect_score"]
    frame = rows.with_columns(pl.col("participant_id").cast(pl.String),
                              (pl.col("recall_day") if "recall_day" in rows.columns else pl.lit(None)).cast(pl.Int32)
                              .alias("recall_day"))
    return frame.select(*KEYS, **scored)


def score(rows: pl.DataFrame, participants: pl.DataFrame | None = None) -> pl.DataFrame:
    """participant_id, recall_day, component (a DII parameter, or 'total'), score, max_score: every parameter
    the rows carry; a row missing one of them is not scored (its DII would not be comparable)."""
    wide = parameter_scores(rows)
    used = [c for c in wide.columns if c not in KEYS]
    if not used:
        return pl.DataFrame(schema=SCORE_SCHEMA)
    wide = wide.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in used))
    return long_scores(wide, {c: MAX_SCORES[c] for c in used})
