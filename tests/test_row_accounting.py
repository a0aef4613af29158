"""Row accounting: every data row a run reads is published, quarantined or excluded, checked and recorded."""
from __future__ import annotations

import duckdb
from gutaxis import quality, stages, warehouse
from gutaxis.specs import load_cohort_spec
from pipelines.runner import run_cohorts
from tests.conftest import write_spec

COLUMNS = {"participant_id": "pid", "recall_day": "day", "food_code": "code", "grams": "g", "recall_status": "status"}
HEADER = "pid,day,code,g,status"
# Participant 101: two items, one with bad grams (quarantined); 102: a recall its status excludes.
ROWS = ["101,1,99000001,100,1", "101,1,99000002,-5,1", "102,1,99000003,30,4", "102,1,99000004,20,4", "103,2,99000005,50,1"]


def _spec(folder, line_end: str = "\n", name: str = "acct"):
    (folder / "d.csv").write_bytes((line_end.join([HEADER, *ROWS]) + line_end).encode())
    return write_spec(folder, name, format="tabular", path="d.csv", composition="demo", columns=COLUMNS)


def _runs(path) -> list[tuple]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return conn.execute("SELECT outcome, rows_read, rows_published, rows_quarantined, rows_excluded FROM audit.runs "
                            "WHERE cohort = 'acct' ORDER BY started").fetchall()
    finally:
        conn.close()


def test_a_published_run_records_rows_read_and_where_each_went(isolated, tmp_path):
    # CR line ends (an old spreadsheet's CSV): the other conventions are in the bad-input corpus
    reports, errors = run_cohorts([str(_spec(tmp_path, "\r"))])
    assert errors == [] and reports[0].outcome == "published"
    assert _runs(isolated / "warehouse.duckdb") == [("published", 5, 2, 1, 2)]


def test_rows_lost_after_the_ingest_fail_the_blocking_check(isolated, tmp_path):
    spec = load_cohort_spec(_spec(tmp_path))
    with warehouse.open_writer() as conn:
        stages.load_source(conn, "demo")
        stages.ingest(conn, spec, "acct1")
        assert stages.blocking_failures(stages.audit_diary_items(conn, spec, "acct1")).height == 0
        # a row that vanished between the read and the audit (a staging bug, a row the reader merged)
        conn.execute(f"DELETE FROM {warehouse.staging_table('diary_items', 'acct', 'acct1')} WHERE grams = 100")
        failed = stages.blocking_failures(stages.audit_diary_items(conn, spec, "acct1"))
    assert failed["check"].to_list() == [quality.ROWS_ACCOUNTED]
    assert "rows_read=5" in failed["detail"][0] and "rows_published=1" in failed["detail"][0]


def test_a_run_without_recorded_counts_fails_the_check(isolated, tmp_path):
    spec = load_cohort_spec(_spec(tmp_path))
    with warehouse.open_writer() as conn:
        stages.load_source(conn, "demo")
        stages.ingest(conn, spec, "acct2")
        conn.execute("UPDATE audit.runs SET rows_read = NULL WHERE run_id = 'acct2'")
        failed = stages.blocking_failures(stages.audit_diary_items(conn, spec, "acct2"))
    assert failed["check"].to_list() == [quality.ROWS_ACCOUNTED]
