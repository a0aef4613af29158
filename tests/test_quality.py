import subprocess
import sys

import duckdb
import polars as pl
import pytest

from gutaxis import GutaxisError, quality
from gutaxis.quality import (
    RESULT_SCHEMA,
    between,
    compound_unique,
    day_exposure_suite,
    diary_items_suite,
    food_contributions_suite,
    not_null,
    numbered_unique,
    participant_exposure_suite,
    unexpected_rows,
    validate,
)

COMPONENTS = ["energy_kcal", "fiber"]


def diary_rows(grams: list[float]) -> list[tuple]:
    return [("demo", "p1", 1, seq, "fndds", "11111000", g) for seq, g in enumerate(grams, start=1)]


@pytest.fixture
def conn(tmp_path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    connection.execute("CREATE SCHEMA staging")
    yield connection
    connection.close()


def stage(conn, table: str, columns: str, rows: list[tuple]) -> str:
    conn.execute(f"CREATE TABLE staging.{table} ({columns})")
    conn.executemany(f"INSERT INTO staging.{table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    # GX reads through cursors, which see only committed rows.
    conn.commit()
    return f"staging.{table}"


def stage_diary(conn, rows: list[tuple]) -> str:
    return stage(
        conn,
        "diary_items_ab12",
        "cohort VARCHAR, participant_id VARCHAR, recall_day INTEGER, item_seq INTEGER, "
        "food_source VARCHAR, food_code VARCHAR, grams DOUBLE",
        rows,
    )


def by_check(results: pl.DataFrame) -> dict[str, dict]:
    return {row["check"]: row for row in results.iter_rows(named=True)}


def test_passing_check_passes_and_failing_check_counts_unexpected_rows(conn):
    table = stage_diary(conn, diary_rows([-1, -2.5, -3, 100, 250]))
    results = by_check(
        validate(conn, table, [not_null("grams"), between("grams", 0, 10_000, strict_min=True)], "t")
    )
    assert results["grams not null"]["success"] is True
    assert results["grams not null"]["unexpected_count"] == 0
    failing = results["grams in (0, 10000]"]
    assert failing["success"] is False
    assert failing["unexpected_count"] == 3
    assert failing["element_count"] == 5
    assert "-2.5" in failing["detail"]


def test_results_have_the_documented_schema_one_row_per_check(conn):
    table = stage_diary(conn, diary_rows([100]))
    results = validate(conn, table, diary_items_suite(recall_day_max=2), "diary_items")
    assert results.schema == pl.Schema(RESULT_SCHEMA)
    assert results["check"].to_list() == [check.name for check in diary_items_suite(2)]
    assert set(results["suite"]) == {"diary_items"} and set(results["table_name"]) == {table}
    assert results["success"].all()
    assert results["unexpected_count"].null_count() == 0


def test_without_the_shim_gx_loses_duckdb_results(conn, monkeypatch):
    """Pins why the shim exists; when this fails, GX reads results itself and the shim can go."""
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine

    quality._great_expectations()
    buffered = SqlAlchemyExecutionEngine._execute_query_with_recovery
    monkeypatch.setattr(quality, "_buffer_sql_results", lambda engine_class: None)
    monkeypatch.setattr(
        SqlAlchemyExecutionEngine, "_execute_query_with_recovery", staticmethod(buffered.unbuffered)
    )
    table = stage_diary(conn, diary_rows([-1, 100]))
    row = validate(conn, table, [between("grams", 0, None)], "t").row(0, named=True)
    assert row["success"] is False
    assert row["unexpected_count"] is None
    assert row["detail"].startswith("error:")


def test_gx_import_leaves_scipy_stats_unloaded_until_it_is_used():
    # a fresh interpreter: this one may already hold scipy.stats
    program = (
        "import sys\n"
        "from gutaxis import quality\n"
        "quality._great_expectations()\n"
        "print('scipy.stats._stats_py' in sys.modules)\n"
        "from scipy import stats\n"
        "print(round(float(stats.entropy([0.5, 0.5], [0.25, 0.75])), 6), 'scipy.stats._stats_py' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "False"
    assert out[1] == "0.143841 True"  # 0.5 ln(2) + 0.5 ln(2/3)


def test_shim_is_applied_once(conn):
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine

    quality._great_expectations()
    installed = SqlAlchemyExecutionEngine._execute_query_with_recovery
    quality._great_expectations()
    assert SqlAlchemyExecutionEngine._execute_query_with_recovery is installed
    assert installed.unbuffered is not installed


def test_a_row_query_runs_once_and_its_rows_give_the_count(conn, monkeypatch):
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine

    quality._great_expectations()
    installed = SqlAlchemyExecutionEngine._execute_query_with_recovery
    ran = []

    def recording(connection, query):
        ran.append(str(query))
        return unbuffered(connection, query)

    unbuffered = installed.unbuffered
    monkeypatch.setattr(installed, "unbuffered", recording)
    rows = diary_rows([100, 200, 300]) + [("demo", "p1", 1, 2, "fndds", "22222000", 50.0)] * 2
    table = stage_diary(conn, rows)
    duplicate = validate(conn, table, [numbered_unique(["participant_id", "recall_day"], "item_seq")], "t").row(0, named=True)
    assert duplicate["unexpected_count"] == 3 and duplicate["success"] is False
    assert sum("SEMI JOIN" in sql for sql in ran) == 1  # run once, whether GX counted or fetched first
    assert any("AS unexpected_row_count" in sql and "SEMI JOIN" not in sql for sql in ran)


def test_compound_unique_catches_a_duplicate_key(conn):
    rows = diary_rows([100, 200, 300]) + [("demo", "p1", 1, 2, "fndds", "22222000", 50.0)]
    table = stage_diary(conn, rows)
    results = by_check(validate(conn, table, diary_items_suite(recall_day_max=2), "diary_items"))
    duplicate = results["(participant_id, recall_day, item_seq) unique"]
    assert duplicate["success"] is False
    assert duplicate["unexpected_count"] == 2  # both rows that share the key
    assert duplicate["column"] is None


@pytest.mark.parametrize("numbers, duplicated", [
    ([1, 2, 3], 0),
    ([1, 2, 2, 3], 2),               # caught by the 64-bit mask
    (list(range(1, 71)), 0),         # beyond 64: grouped row by row, distinct
    (list(range(1, 71)) + [70], 2),  # beyond 64, duplicated
    ([0, 1, 2], 0),                  # below 1 (not the rules' numbering, but distinct)
    ([5, 5, 7], 2),
])
def test_numbered_unique_finds_exactly_the_rows_of_repeated_numbers(conn, numbers, duplicated):
    rows = [("p1", 1, n) for n in numbers] + [("p2", 1, n) for n in (1, 2)]
    table = stage(conn, f"numbered_{len(numbers)}_{duplicated}_{numbers[0]}", "participant_id VARCHAR, recall_day INTEGER, item_seq INTEGER", rows)
    check = quality.numbered_unique(["participant_id", "recall_day"], "item_seq")
    result = validate(conn, table, [check], "numbered").row(0, named=True)
    assert result["success"] is (duplicated == 0)
    assert result["unexpected_count"] == duplicated


def test_large_portions_warn_while_structural_rules_pass(conn):
    table = stage_diary(conn, diary_rows([100, 5000]))
    results = validate(conn, table, diary_items_suite(recall_day_max=2), "diary_items")
    failed = results.filter(~pl.col("success"))
    assert failed["check"].to_list() == ["grams <= 4000 (very large portion)"]
    assert failed["severity"].to_list() == ["warn"]
    assert failed["unexpected_count"].to_list() == [1]
    assert results.filter(pl.col("severity") == "block")["success"].all()


def test_recall_day_without_a_maximum_only_needs_to_be_at_least_one(conn):
    rows = [("demo", "p1", day, 1, "fndds", "11111000", 10.0) for day in (0, 1, 9)]
    table = stage_diary(conn, rows)
    results = by_check(validate(conn, table, diary_items_suite(recall_day_max=None), "diary_items"))
    assert results["recall_day >= 1"]["unexpected_count"] == 1


def test_unexpected_rows_catches_shares_not_summing_to_one(conn):
    rows = [
        ("demo", "fiber", "a", "Oats", 3.0, 0.6),
        ("demo", "fiber", "b", "Beans", 2.0, 0.3),  # shares sum to 0.9
        ("demo", "choline", "c", "Egg", 1.0, 1.0),
        ("demo", "inulin_fos", "d", "Leek", 0.0, 0.0),  # no intake: no shares to sum
    ]
    table = stage(
        conn,
        "food_contributions_ab12",
        "cohort VARCHAR, component_id VARCHAR, food_code VARCHAR, description VARCHAR, "
        "amount DOUBLE, share DOUBLE",
        rows,
    )
    results = by_check(validate(conn, table, food_contributions_suite(), "food_contributions"))
    shares = results["shares sum to 1 per component"]
    assert shares["success"] is False
    assert shares["severity"] == "block"
    assert shares["unexpected_count"] == 1
    assert "fiber" in shares["detail"] and "choline" not in shares["detail"]
    assert results["share in [0, 1]"]["success"] is True


DAY_COLUMNS = ("participant_id VARCHAR, recall_day INTEGER, amount__energy_kcal DOUBLE, coverage__energy_kcal DOUBLE, "
               "source__energy_kcal UTINYINT, amount__fiber DOUBLE, coverage__fiber DOUBLE, source__fiber UTINYINT")


def test_day_exposure_suite_warns_on_implausible_energy_and_allows_null_amounts(conn):
    # stored wide: per component amount, coverage, source (1 reported, 2 composition, 3 mixed)
    rows = [
        ("p1", 1, 2100.0, 1.0, 1, None, 0.0, None),
        ("p1", 2, 150.0, 1.0, 2, 12.0, 0.9, 3),
    ]
    table = stage(conn, "participant_day_exposure_ab12", DAY_COLUMNS, rows)
    results = validate(conn, table, day_exposure_suite(COMPONENTS), "day_exposure")
    failed = results.filter(~pl.col("success"))
    assert failed["check"].to_list() == ["daily energy in [300, 8000] kcal"]
    assert failed["severity"].to_list() == ["warn"]
    assert failed["unexpected_count"].to_list() == [1]


def test_day_exposure_suite_blocks_unknown_components_bad_values_and_duplicate_days(conn):
    rows = [
        ("p1", 1, 2000.0, 1.0, 1, -2.0, 1.5, 7),   # fiber: negative, coverage above 1, unknown source
        ("p1", 1, -1.0, -0.5, 2, 3.0, 0.5, 2),     # the same day again; energy negative, coverage below 0
    ]
    table = stage(conn, "participant_day_exposure_cd34", DAY_COLUMNS + ", amount__vitamin_q DOUBLE", [r + (1.0,) for r in rows])
    results = by_check(validate(conn, table, day_exposure_suite(COMPONENTS), "day_exposure"))
    failed = {name for name, r in results.items() if not r["success"] and r["severity"] == "block"}
    assert failed == {
        "(participant_id, recall_day) unique",
        "component_id in registry",
        "amount >= 0",
        "coverage in [0, 1]",
        "source in {reported, composition, mixed}",
    }
    assert results["amount >= 0"]["unexpected_count"] == 2  # one (day, component) pair each
    assert results["coverage in [0, 1]"]["unexpected_count"] == 2
    assert "vitamin_q" in results["component_id in registry"]["detail"]


def test_day_exposure_suite_of_a_table_storing_only_underivable_columns_runs_every_check(conn):
    # no source columns (no component is reported) and no energy (no source computes it)
    columns = "participant_id VARCHAR, recall_day INTEGER, amount__fiber DOUBLE, coverage__fiber DOUBLE"
    table = stage(conn, "participant_day_exposure_ef56", columns, [("p1", 1, 12.0, 0.9), ("p1", 2, -1.0, 0.5)])
    stored = [c.split(" ")[0] for c in columns.split(", ")]
    results = by_check(validate(conn, table, day_exposure_suite(COMPONENTS, stored), "day_exposure"))
    assert len(results) == len(day_exposure_suite(COMPONENTS))  # the same checks, whatever is stored
    assert {name for name, r in results.items() if not r["success"]} == {"amount >= 0"}
    assert results["source in {reported, composition, mixed}"]["unexpected_count"] == 0
    assert results["daily energy in [300, 8000] kcal"]["unexpected_count"] == 0


def test_participant_exposure_suite_passes_clean_rows_and_catches_duplicates(conn):
    rows = [
        ("p1", 2, 2000.0, 1000.0, 1.0, False, 20.0, 10.0, 0.95, False),
        ("p2", 1, 1500.0, 1000.0, 1.0, False, 0.0, 0.0, 0.5, True),
    ]
    columns = ("participant_id VARCHAR, n_days INTEGER, "
               "mean_daily__energy_kcal DOUBLE, per_1000kcal__energy_kcal DOUBLE, coverage__energy_kcal DOUBLE, "
               "low_coverage__energy_kcal BOOLEAN, mean_daily__fiber DOUBLE, per_1000kcal__fiber DOUBLE, "
               "coverage__fiber DOUBLE, low_coverage__fiber BOOLEAN")
    clean = stage(conn, "participant_exposure_ab12", columns, rows)
    assert validate(conn, clean, participant_exposure_suite(COMPONENTS), "pe")["success"].all()

    duplicated = stage(conn, "participant_exposure_cd34", columns, rows + [rows[1]])
    results = by_check(validate(conn, duplicated, participant_exposure_suite(COMPONENTS), "pe"))
    assert results["participant_id unique"]["unexpected_count"] == 2


def test_a_broken_check_fails_with_the_reason_in_detail(conn):
    table = stage_diary(conn, diary_rows([100]))
    checks = [
        not_null("no_such_column"),
        unexpected_rows("broken query", "SELECT * FROM {batch} WHERE no_such_column > 0"),
        compound_unique(["cohort", "participant_id"]),
    ]
    results = by_check(validate(conn, table, checks, "t"))
    for name in ("no_such_column not null", "broken query"):
        assert results[name]["success"] is False
        assert results[name]["unexpected_count"] is None
        assert "no_such_column" in results[name]["detail"]
    assert results["(cohort, participant_id) unique"]["success"] is True


def test_only_committed_rows_are_validated(conn):
    table = stage_diary(conn, diary_rows([100]))
    conn.begin()
    conn.execute(f"INSERT INTO {table} VALUES ('demo', 'p9', 1, 1, 'fndds', '1', -5)")
    row = validate(conn, table, [between("grams", 0, None)], "t").row(0, named=True)
    conn.rollback()
    assert row["success"] is True and row["element_count"] == 1


def test_missing_table_is_a_one_line_error(conn):
    with pytest.raises(GutaxisError, match="staging.nope"):
        validate(conn, "staging.nope", [not_null("grams")], "t")


def test_duplicate_check_names_are_rejected(conn):
    with pytest.raises(ValueError, match="duplicate"):
        validate(conn, "staging.x", [not_null("grams"), not_null("grams")], "t")


def test_validate_leaves_the_pipeline_connection_as_it_was(conn):
    table = stage_diary(conn, diary_rows([100]))
    validate(conn, table, [not_null("grams")], "t")
    assert conn.execute("SELECT current_schema()").fetchall() == [("main",)]
    conn.execute(f"INSERT INTO {table} VALUES ('demo', 'p1', 1, 9, 'fndds', '1', 5)")
    conn.commit()
    assert conn.execute(f"SELECT count(*) FROM {table}").fetchall() == [(2,)]


def test_defining_suites_does_not_import_great_expectations():
    import subprocess
    import sys

    code = (
        "import sys; from gutaxis import quality; quality.diary_items_suite(2); "
        "quality.day_exposure_suite(['fiber']); quality.food_contributions_suite(); "
        "print('great_expectations' in sys.modules)"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "False"


OMEGA3_DAY = ("participant_id VARCHAR, recall_day INTEGER, amount__omega3_ala DOUBLE, amount__omega3_epa DOUBLE, "
              "amount__omega3_total DOUBLE")


def test_omega3_total_below_a_part_blocks_within_rounding(conn):
    rows = [
        ("p1", 1, 1.5, 0.2, 2.0),            # fine
        ("p1", 2, 1.5, 0.2, 1.5 - 1e-9),     # below ALA by rounding only: fine
        ("p2", 1, 1.5, 0.2, 0.9),            # below ALA: the composition's total against reported ALA
        ("p3", 1, 0.1, 0.3, None),           # parts and no total
        ("p4", 1, None, None, None),         # nothing could compute any: fine
    ]
    table = stage(conn, "participant_day_exposure_o3", OMEGA3_DAY, rows)
    stored = [c.split(" ")[0] for c in OMEGA3_DAY.split(", ")]
    results = by_check(validate(conn, table, day_exposure_suite(COMPONENTS, stored), "day_exposure"))
    check = results["amount omega3_total >= each omega-3 part"]
    assert check["severity"] == "block" and check["success"] is False
    assert check["unexpected_count"] == 3  # p2 (ALA), p3 (ALA and EPA)
    assert "p2" in check["detail"] and "p3" in check["detail"] and "p1" not in check["detail"]


def test_omega3_check_of_a_participant_table_passes_consistent_means(conn):
    columns = "participant_id VARCHAR, n_days INTEGER, mean_daily__omega3_dha DOUBLE, mean_daily__omega3_total DOUBLE"
    table = stage(conn, "participant_exposure_o3", columns, [("p1", 2, 0.3, 1.9), ("p2", 1, 0.0, 0.0)])
    stored = [c.split(" ")[0] for c in columns.split(", ")]
    results = by_check(validate(conn, table, participant_exposure_suite(COMPONENTS, stored), "pe"))
    assert results["mean_daily omega3_total >= each omega-3 part"]["success"] is True
