"""Dagster wiring: definitions load, a failing cohort publishes nothing, the sensor adds partitions."""
from __future__ import annotations

import shutil

import dagster as dg
import duckdb
import pytest

from gutaxis import DATA_DIR, quality
from gutaxis.warehouse import unpublished_tables
from pipelines.definitions import defs
from pipelines.runner import run_cohorts
from pipelines.sensors import cohort_spec_sensor
from tests.conftest import write_spec

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _marts(path) -> dict[str, list]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("cohort.diary_items", "marts.participant_day_exposure", "marts.participant_exposure",
                          "marts.food_contributions")}
    finally:
        conn.close()


def test_definitions_load_with_jobs_schedule_sensor_and_blocking_checks():
    repo = defs.get_repository_def()
    assert {j.name for j in repo.get_all_jobs()} >= {"reference_job", "cohort_job"}
    assert {s.name for s in repo.schedule_defs} == {"daily_reference", "daily_cohorts"}
    assert [s.name for s in repo.sensor_defs] == ["cohort_spec_sensor"]
    checks = {c.name: c for c in defs.get_all_asset_check_specs()} if hasattr(defs, "get_all_asset_check_specs") else None
    if checks is not None:
        assert all(c.blocking for c in checks.values())


def test_failing_blocking_check_publishes_nothing_downstream(isolated, monkeypatch):
    reports, errors = run_cohorts(["demo"])
    assert errors == [] and reports[0].outcome == "published"
    before = _marts(isolated / "warehouse.duckdb")
    assert before["cohort.diary_items"], "demo published rows"

    # Make the items suite demand portions of at most 10 g: real demo rows break it.
    strict = [quality.between("grams", 0, 10, strict_min=True, name="grams in (0, 10] (test)")]
    monkeypatch.setattr(quality, "diary_items_suite", lambda recall_day_max: strict)
    instance = dg.DagsterInstance.get()
    result = defs.resolve_job_def("cohort_job").execute_in_process(
        partition_key="demo", instance=instance, run_config=QUIET, raise_on_error=False)
    assert not result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
                    if e.asset_key is not None} if hasattr(result, "get_asset_materialization_events") else set()
    assert "published_cohort" not in materialized
    assert "cohort_exposures" not in materialized
    assert _marts(isolated / "warehouse.duckdb") == before
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    outcome = conn.execute("SELECT outcome FROM audit.runs ORDER BY started DESC LIMIT 1").fetchall()[0][0]
    staging = len(unpublished_tables(conn))
    conn.close()
    assert outcome.startswith("failed: diary_items.grams in (0, 10] (test)")
    assert staging == 0


def test_sensor_adds_a_partition_and_requests_a_run_for_a_new_cohort(tmp_path, monkeypatch):
    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(tmp_path))
    shutil.copy(DATA_DIR / "demo" / "diary.csv", tmp_path / "diary.csv")
    write_spec(tmp_path, "new-study", format="tabular", path="diary.csv", composition="demo",
               columns={"participant_id": "participant", "recall_day": "day", "food_code": "food_code", "grams": "grams"})
    instance = dg.DagsterInstance.ephemeral()
    result = cohort_spec_sensor(dg.build_sensor_context(instance=instance))
    assert [r.partition_key for r in result.run_requests] == ["new-study"]
    assert result.dynamic_partitions_requests[0].partition_keys == ["new-study"]

    # Same files again: nothing to do. A changed data file: a new run, no new partition.
    again = cohort_spec_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor))
    assert again.run_requests == []
    instance.add_dynamic_partitions("cohorts", ["new-study"])
    with open(tmp_path / "diary.csv", "a", encoding="utf-8") as handle:
        handle.write("demo-050,1,99000001,100.0\n")
    changed = cohort_spec_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor))
    assert [r.partition_key for r in changed.run_requests] == ["new-study"]
    assert changed.dynamic_partitions_requests == []


def test_rerun_gives_identical_marts(isolated):
    run_cohorts(["demo"])
    first = _marts(isolated / "warehouse.duckdb")
    run_cohorts(["demo"])
    assert _marts(isolated / "warehouse.duckdb") == first


def test_integer_ids_and_codes_are_shown_as_contract_text(isolated, tmp_path, monkeypatch):
    """A Parquet diary with integer ids and codes is stored as integers; every contract view shows
    text ids and codes zero-padded to the source's width, as for a text diary."""
    import polars as pl

    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(tmp_path))
    demo = pl.read_csv(DATA_DIR / "demo" / "diary.csv", infer_schema=False)
    first_code = int(demo["food_code"][0])
    pl.DataFrame({"pid": pl.Series([501, 501, 502], dtype=pl.Int64), "day": [1, 1, 1],
                  "code": pl.Series([first_code, 1234, first_code], dtype=pl.Int64), "g": [100.0, 50.0, 80.0]}
                 ).write_parquet(tmp_path / "ints.parquet")
    write_spec(tmp_path, "ints", format="tabular", path="ints.parquet", composition="demo",
               columns={"participant_id": "pid", "recall_day": "day", "food_code": "code", "grams": "g"})
    reports, errors = run_cohorts(["ints"])
    assert errors == [] and reports[0].outcome == "published"
    assert (reports[0].participants, reports[0].days, reports[0].items, reports[0].unlinked_items) == (2, 2, 3, 1)
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    try:
        items = conn.execute("SELECT participant_id, food_code FROM cohort.diary_items WHERE cohort = 'ints' ORDER BY ALL").fetchall()
        assert items == [("501", "00001234"), ("501", f"{first_code:08d}"), ("502", f"{first_code:08d}")]
        ids = {view: conn.execute(f"SELECT DISTINCT participant_id FROM {view} WHERE cohort = 'ints' ORDER BY 1").fetchall()
               for view in ("marts.participant_day_exposure", "marts.participant_exposure", "cohort.participants")}
        assert all(rows == [("501",), ("502",)] for rows in ids.values()), ids
        assert conn.execute("SELECT DISTINCT food_code FROM marts.food_contributions WHERE cohort = 'ints'").fetchall() == [
            (f"{first_code:08d}",)]
        assert conn.execute("SELECT food_code, n_items FROM audit.linkage WHERE cohort = 'ints'").fetchall() == [("00001234", 1)]
        # the same food's description comes with its zero-padded code
        assert conn.execute("SELECT count(*) FROM cohort.diary_items i JOIN composition.foods f "
                            "ON f.source = i.food_source AND f.food_code = i.food_code WHERE i.cohort = 'ints'").fetchall() == [(2,)]
    finally:
        conn.close()


def test_a_component_no_source_computes_is_null_with_zero_coverage_in_the_marts(isolated, monkeypatch):
    """A component without any value (whose columns are not stored at all) reads as NULL with
    coverage 0 and low_coverage in the contract views, for every day and participant."""
    import polars as pl

    from gutaxis import stages

    real_wide = stages.composition_wide
    monkeypatch.setattr(stages, "composition_wide", lambda food_components, components: real_wide(
        food_components, components).with_columns(pl.lit(None, dtype=pl.Float64).alias("tryptophan")))
    reports, errors = run_cohorts(["demo"])
    assert errors == [] and reports[0].outcome == "published"
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    try:
        days = conn.execute("SELECT count(*), count(amount), min(coverage), max(coverage), count(source), any_value(unit) "
                            "FROM marts.participant_day_exposure WHERE cohort = 'demo' AND component_id = 'tryptophan'").fetchall()[0]
        people = conn.execute("SELECT count(*), count(mean_daily), count(per_1000kcal), max(coverage), bool_and(low_coverage) "
                              "FROM marts.participant_exposure WHERE cohort = 'demo' AND component_id = 'tryptophan'").fetchall()[0]
        fiber = conn.execute("SELECT count(amount) FROM marts.participant_day_exposure "
                             "WHERE cohort = 'demo' AND component_id = 'fiber'").fetchall()[0][0]
    finally:
        conn.close()
    assert days[0] > 0 and days[1:] == (0, 0.0, 0.0, 0, "mg")
    assert people[0] > 0 and people[1:] == (0, 0, 0.0, True)
    assert fiber == days[0]


def test_a_run_records_the_sha256_of_its_input_whether_it_publishes_or_fails(isolated, tmp_path, monkeypatch):
    import hashlib
    import json

    assert run_cohorts(["demo"])[1] == []
    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(tmp_path))
    (tmp_path / "bad.csv").write_text("participant,day,food_code,grams\np1,1,99000008,12,5\n")  # no row is usable
    write_spec(tmp_path, "bad", format="tabular", path="bad.csv", composition="demo",
               columns={"participant_id": "participant", "recall_day": "day", "food_code": "food_code", "grams": "grams"})
    assert run_cohorts(["bad"])[1] != []
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    try:
        runs = dict(conn.execute("SELECT cohort, input_sha256 FROM audit.runs").fetchall())
    finally:
        conn.close()
    assert json.loads(runs["demo"]) == {"diary.csv": hashlib.sha256((DATA_DIR / "demo" / "diary.csv").read_bytes()).hexdigest()}
    assert json.loads(runs["bad"]) == {"bad.csv": hashlib.sha256((tmp_path / "bad.csv").read_bytes()).hexdigest()}


@pytest.mark.parametrize("threshold", [0, 10**12], ids=["through Parquet", "as Arrow"])
def test_a_big_text_frame_is_staged_the_same_through_parquet_as_directly(tmp_path, monkeypatch, threshold):
    import polars as pl

    from gutaxis import warehouse

    monkeypatch.setattr(warehouse, "PARQUET_HANDOFF_BYTES", threshold)
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    conn.execute("CREATE SCHEMA store")
    frame = pl.DataFrame({"participant_id": ["a", "b", "c"], "recall_day": pl.Series([1, 2, 1], dtype=pl.Int32)})
    table = warehouse.stage_parts(conn, "participants", "demo", "run1", [({"cohort": "demo"}, frame)],
                                  ("cohort", "participant_id", "recall_day"))
    assert conn.execute(f"SELECT * FROM {table} ORDER BY participant_id").fetchall() == [
        ("demo", "a", 1), ("demo", "b", 2), ("demo", "c", 1)]
    assert not list((tmp_path / "w.duckdb.tmp").glob("*.parquet"))  # the hand-off file is gone
    conn.close()


def test_a_table_staged_with_chosen_compression_holds_the_same_rows_in_those_methods(tmp_path):
    import polars as pl

    from gutaxis import warehouse
    from gutaxis.stages import item_compression

    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    conn.execute("CREATE SCHEMA store")
    n = 300_000  # several row groups, so that every segment is written with the chosen method
    items = pl.DataFrame({"participant_id": pl.int_range(n, eager=True) // 30, "recall_day": (pl.int_range(n, eager=True) // 15 % 2 + 1).cast(pl.Int32),
                          "item_seq": (pl.int_range(n, eager=True) % 15 + 1).cast(pl.Int32),
                          "food_code": pl.Series([11111000, 63101000, 91746100] * (n // 3), dtype=pl.Int32),
                          "grams": pl.int_range(n, eager=True).cast(pl.Float64) / 10 + 0.5})
    methods = item_compression(items.schema, n, n // 30)
    assert methods == {"participant_id": "rle", "recall_day": "rle", "item_seq": "bitpacking", "food_code": "uncompressed",
                       "grams": "alp"}
    # items in no runs (one row per recall run) keep DuckDB's own choice for ids and days; text codes too
    assert "participant_id" not in item_compression(items.schema, n, n)
    assert "food_code" not in item_compression(items.with_columns(pl.col("food_code").cast(pl.String)).schema, n, n)
    table = warehouse.stage_parts(conn, "diary_items", "demo", "run1", [({"cohort": "demo"}, items)],
                                  ("cohort", *items.columns), compression=methods)
    stored = dict(conn.execute("SELECT column_name, list(DISTINCT compression) FROM pragma_storage_info(?) "
                               "WHERE segment_type <> 'VALIDITY' GROUP BY ALL", [table.replace('"', "")]).fetchall())
    for column, method in methods.items():
        assert set(stored[column]) - {"Constant"} == {{"rle": "RLE", "bitpacking": "BitPacking", "uncompressed": "Uncompressed",
                                                         "alp": "ALP"}[method]}, column
    back = conn.sql(f"SELECT * EXCLUDE (cohort) FROM {table} ORDER BY participant_id, recall_day, item_seq").pl()
    assert back.equals(items) and conn.execute(f"SELECT DISTINCT cohort FROM {table}").fetchall() == [("demo",)]
    conn.close()


def test_the_schema_is_applied_once_per_ddl_text(tmp_path):
    from gutaxis import warehouse

    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    warehouse.ensure_schema(conn)
    tables = conn.execute("SELECT count(*) FROM duckdb_tables()").fetchall()
    conn.execute("DROP TABLE audit.linkage")
    warehouse.ensure_schema(conn)  # the same text is applied already: nothing runs
    assert conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'linkage'").fetchall() == [(0,)]
    conn.execute("UPDATE store.schema_applied SET ddl_sha256 = 'an older text'")
    warehouse.ensure_schema(conn)
    assert conn.execute("SELECT count(*) FROM duckdb_tables()").fetchall() == tables
    assert conn.execute("SELECT count(*) FROM store.schema_applied").fetchall() == [(1,)]
    conn.close()


def test_cohorts_whose_names_differ_only_by_dash_and_underscore_keep_their_own_staging(tmp_path):
    from gutaxis import warehouse

    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    warehouse.ensure_schema(conn)
    cohorts = ("a-b", "a_b", "x__a_b", "_a", "0a", "a")
    names = {cohort: warehouse.staging_table("diary_items", cohort, "run1") for cohort in cohorts}
    assert len(set(names.values())) == len(cohorts)  # one table name per cohort
    for name in names.values():
        conn.execute(f"CREATE TABLE {name} (x INTEGER)")
    folder = warehouse._temp_folder(conn)
    folder.mkdir(exist_ok=True)
    for name in names.values():  # a killed run's hand-off files, named after its tables
        (folder / f"{name.replace('.', '_').replace(chr(34), '')}.incoming.parquet").write_bytes(b"")
    for cohort in cohorts:
        own = names[cohort].split(".", 1)[1].strip('"')
        assert warehouse.unpublished_tables(conn, cohort) == [own], cohort
    warehouse.drop_staging(conn, "a_b")
    left = {name for (name,) in conn.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'store' "
                                             "AND table_name LIKE 'diary_items%' AND table_name <> 'diary_items'").fetchall()}
    assert left == {names[c].split(".", 1)[1].strip('"') for c in cohorts if c != "a_b"}
    assert sorted(p.name for p in folder.glob("store_*")) == sorted(
        f"{names[c].replace('.', '_').replace(chr(34), '')}.incoming.parquet" for c in cohorts if c != "a_b")
    conn.close()


def test_an_older_warehouse_loses_its_second_copy_of_the_dietary_weights(tmp_path):
    from gutaxis import warehouse

    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    warehouse.ensure_schema(conn)
    # what a warehouse of the previous release held: weights published beside cohort.participants
    conn.execute("CREATE TABLE store.dietary_weights (cohort VARCHAR, participant_id VARCHAR, wt_day1 DOUBLE)")
    conn.execute("CREATE TABLE store.dietary_weights__c__run1 AS SELECT 'p1' AS participant_id, 5.0 AS wt_day1")
    conn.execute("CREATE VIEW cohort.dietary_weights AS SELECT * FROM store.dietary_weights")
    conn.execute("INSERT INTO store.published VALUES ('c', 'dietary_weights', 'dietary_weights__c__run1', 'run1', now())")
    conn.execute("UPDATE store.schema_applied SET ddl_sha256 = 'the previous text'")
    warehouse.ensure_schema(conn)
    assert conn.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'dietary_weights'").fetchall() == [(0,)]
    assert conn.execute("SELECT count(*) FROM store.published WHERE kind = 'dietary_weights'").fetchall() == [(0,)]
    warehouse.drop_staging(conn, "c")  # the cohort's next run drops the now unpublished table
    assert conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'dietary_weights%'").fetchall() == [(0,)]
    conn.close()
