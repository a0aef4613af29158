"""The benchmark's parts: a floor that computes the pipeline's components, the per-food table it is given,
the researcher's pandas script, the synthetic participants and PHQ outcome, and which stages are analysis."""
from __future__ import annotations

import json
import sys

import duckdb
import polars as pl
import pytest

from gutaxis import PROJECT_ROOT
from gutaxis.specs import load_cohort_spec

sys.path.insert(0, str(PROJECT_ROOT / "bench"))

import analysis_inputs  # noqa: E402
import floor  # noqa: E402
import pandas_script  # noqa: E402
import run_bench  # noqa: E402


def _diary(path) -> pl.DataFrame:
    items = pl.DataFrame({
        "participant_id": [1, 1, 1, 2, 2, 3],
        "recall_day": pl.Series([1, 1, 2, 1, 2, 1], dtype=pl.Int32),
        "food_code": [11111111, 22222222, 11111111, 33333333, 22222222, 33333333],
        "grams": [100.0, 50.0, 200.0, 10.0, 20.0, 30.0],
    })
    items.write_parquet(path)
    return items


PER_FOOD = pl.DataFrame({  # three components; food 33333333 lacks tryptophan (the pipeline: no value, coverage drops)
    "food_code": [11111111, 22222222, 33333333],
    "energy_kcal": [100.0, 400.0, 50.0],
    "tryptophan": [12.5, 3.0, None],
    "flavan3ols": [0.0, 1.25, 7.0],
})
EXPECTED = {  # per participant: mean over days of the day sums of grams x per100 / 100
    1: {"energy_kcal": (100 + 200 + 200) / 2, "tryptophan": (12.5 + 1.5 + 25.0) / 2, "flavan3ols": (0.625 + 0.0) / 2},
    2: {"energy_kcal": (5 + 80) / 2, "tryptophan": (0.0 + 0.6) / 2, "flavan3ols": (0.7 + 0.25) / 2},
    3: {"energy_kcal": 15.0, "tryptophan": 0.0, "flavan3ols": 2.1},
}


def _as_dict(frame: pl.DataFrame) -> dict:
    return {row.pop("participant_id"): row for row in frame.sort("participant_id").iter_rows(named=True)}


def test_the_floor_computes_every_component_of_the_per_food_table(tmp_path):
    _diary(tmp_path / "diary.parquet")
    result = _as_dict(floor.participant_means(str(tmp_path / "diary.parquet"), PER_FOOD).collect())
    assert set(result) == {1, 2, 3}
    for participant, expected in EXPECTED.items():
        assert result[participant] == pytest.approx(expected)


def test_the_pandas_script_gives_the_floors_numbers(tmp_path):
    items = _diary(tmp_path / "diary.parquet")
    result = _as_dict(pl.from_pandas(pandas_script.participant_means(items.to_pandas(), PER_FOOD.to_pandas())))
    assert set(result) == {1, 2, 3}
    for participant, expected in EXPECTED.items():
        assert result[participant] == pytest.approx(expected)


def test_the_per_food_table_holds_every_fndds_component_of_the_warehouse(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("CREATE SCHEMA composition")
        conn.execute("CREATE TABLE composition.food_components (source VARCHAR, food_code VARCHAR, component_id "
                     "VARCHAR, amount_per_100g DOUBLE, route VARCHAR)")
        conn.execute("INSERT INTO composition.food_components VALUES "
                     "('fndds-2017-2018', '11111111', 'energy_kcal', 100, 'analytical'), "
                     "('fndds-2017-2018', '11111111', 'tryptophan', 12.5, 'disaggregated'), "
                     "('fndds-2017-2018', '22222222', 'flavan3ols', 1.25, 'matched'), "
                     "('fndds-2017-2018', '22222222', 'resistant_starch', NULL, 'literature'), "
                     "('sr28', '01001', 'choline', 18.8, 'analytical')")
    table = run_bench.per_food_table(warehouse)
    assert table.columns == ["food_code", "energy_kcal", "flavan3ols", "tryptophan"]
    assert table.schema["food_code"] == pl.Int64
    assert table.row(0) == (11111111, 100.0, None, 12.5) and table.row(1) == (22222222, None, 1.25, None)


def test_analysis_stages_are_those_after_the_exposures_audit_except_publish():
    stages = ["startup", "ingest", "audit-items", "exposures", "audit-exposures", "participants", "audit-participants",
              "outcomes", "estimates", "usual-intake", "publish", "diet-index", "report + exit"]
    assert run_bench.analysis_stage_names(stages) == {"participants", "audit-participants", "outcomes", "estimates",
                                                      "usual-intake", "diet-index"}
    assert run_bench.analysis_stage_names(["startup", "ingest", "exposures"]) == set()  # failed before the audit


def test_compare_means_allows_the_fixed_point_rounding_and_nothing_more():
    reference = pl.DataFrame({"participant_id": [1, 2], "fiber": [10.0, 0.00001], "choline": [None, 3.0]})
    close = pl.DataFrame({"participant_id": [1, 2], "fiber": [10.0 + 5e-9, 0.00001 + 5e-8], "choline": [None, 3.0]})
    assert run_bench.compare_means(reference, close, 2, ["fiber", "choline"])["ok"]
    off = close.with_columns(pl.Series("fiber", [10.0001, 0.00001]))
    assert not run_bench.compare_means(reference, off, 2, ["fiber", "choline"])["ok"]
    null = close.with_columns(pl.Series("choline", [None, None], dtype=pl.Float64))
    assert not run_bench.compare_means(reference, null, 2, ["fiber", "choline"])["ok"]


def test_synthetic_participants_cover_the_diary_with_a_design_and_phq_only_for_adults(tmp_path):
    days = pl.DataFrame({"participant_id": [101, 102, 103, 104] * 25 + [5000], "n_days": [2, 2, 1, 2] * 25 + [1]})
    days = days.unique("participant_id")
    participants = analysis_inputs.participants_table(days, seed=7)
    ids = set(participants["SEQN"].to_list())
    assert set(days["participant_id"].to_list()) <= ids and len(ids) == participants.height
    without_recall = participants.filter(~pl.col("SEQN").is_in(days["participant_id"].to_list()))
    assert without_recall["WTDRD1"].null_count() == without_recall.height  # no recall, no dietary weight
    one_day = participants.filter(pl.col("SEQN") == 103)
    assert one_day["WTDRD1"][0] > 0 and one_day["WTDR2D"][0] is None
    assert participants["WTINT2YR"].min() > 0
    assert participants.select(pl.col("SDMVSTRA", "SDMVPSU").null_count()).row(0) == (0, 0)
    phq = analysis_inputs.phq_table(participants, seed=7)
    adults = set(participants.filter(pl.col("RIDAGEYR") >= 18)["SEQN"].to_list())
    assert set(phq["SEQN"].to_list()) <= adults
    assert phq["phq9_total"].is_between(0, 27).all()
    assert (phq["phq9_ge10"] == (phq["phq9_total"] >= 10).cast(pl.Float64)).all()


def test_the_bench_spec_declares_participants_outcomes_a_design_and_one_hypothesis_per_component(tmp_path):
    participants, phq = tmp_path / "p.parquet", tmp_path / "phq.parquet"
    keys = analysis_inputs.spec_keys(participants, phq, ["energy_kcal", "fiber", "tryptophan"])
    spec_path = tmp_path / "bench.yaml"
    spec_path.write_text(json.dumps({"name": "bench", "format": "tabular", "path": "diary.parquet",
                                     "composition": "fndds-2017-2018", "columns": {
                                         c: c for c in ("participant_id", "recall_day", "food_code", "grams")},
                                     **keys}))
    spec = load_cohort_spec(spec_path)  # the declarations are checked when the spec loads
    hypotheses = [a for a in spec.analyses if a["kind"] == "association"]
    assert sorted(a["exposure"]["component"] for a in hypotheses) == ["fiber", "tryptophan"]
    assert {o["outcome"] for o in spec.outcomes} == {"phq9_total", "phq9_ge10"}
    assert spec.design["strata"] == "stratum"
    one = analysis_inputs.spec_keys(participants, phq, ["energy_kcal", "tryptophan", "fiber"], hypotheses=1)
    assert [a["exposure"]["component"] for a in one["analyses"] if a["kind"] == "association"] == ["fiber"]


def test_modes_parse_in_order_and_refuse_unknown_names():
    import argparse

    parser = argparse.ArgumentParser()
    assert run_bench.parse_modes("fndds,all", False, parser) == [False, True]
    assert run_bench.parse_modes(None, True, parser) == [True]
    with pytest.raises(SystemExit):
        run_bench.parse_modes("everything", False, parser)
