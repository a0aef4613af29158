"""The `gutaxis` command as users meet it: the demo runs, bad input gets one line, published data survives."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from gutaxis import DATA_DIR, PROJECT_ROOT
from gutaxis.components import component_ids
from gutaxis.warehouse import unpublished_tables
from pipelines.cli import main
from tests.conftest import write_spec

GUTAXIS = Path(sys.executable).parent / "gutaxis"
DEMO_COLUMNS = {"participant_id": "participant", "recall_day": "day", "food_code": "food_code", "grams": "grams"}


def _cli(isolated: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GUTAXIS_WAREHOUSE": str(isolated / "warehouse.duckdb"), "GUTAXIS_RAW_DIR": str(isolated / "raw"),
           "GUTAXIS_DAGSTER_DIR": str(isolated / "dagster")}
    return subprocess.run([str(GUTAXIS), *args], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)


def _one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("gutaxis: stage ")]
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr
    return lines[0]


def _published(isolated: Path) -> list:
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    try:
        return conn.execute("SELECT * FROM marts.participant_exposure ORDER BY ALL").fetchall()
    finally:
        conn.close()


def test_demo_run_from_the_command_line(isolated):
    done = _cli(isolated, "run")
    assert done.returncode == 0, done.stderr
    assert "cohort demo: published" in done.stdout
    assert "participants 24  recall days 48" in done.stdout
    assert "quarantined: grams is not a number x1; grams must be > 0 x1" in done.stdout
    assert "checks:" in done.stdout and "0 failed" in done.stdout
    assert len(_published(isolated)) == 24 * len(component_ids())  # a row per participant and registry component


def test_missing_spec_file_is_one_line_naming_it(isolated):
    done = _cli(isolated, "run", "--cohort", "no/such/spec.yaml")
    assert done.returncode == 2
    line = _one_line_error(done.stderr)
    assert "no/such/spec.yaml" in line and "does not exist" in line


def test_unknown_format_is_one_line(isolated, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["cohort", "add", "x", "--format", "excel-magic", "--path", "f.csv"])
    assert exit_info.value.code == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "excel-magic" in line and "asa24-items" in line


def test_unregistered_name_is_one_line(isolated, capsys):
    assert main(["run", "--cohort", "nobody"]) == 2
    assert "nobody" in _one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize("content, expected", [
    ("participant,day,food_code\np1,1,99000001\n", "grams"),       # a required column is missing
    ("", "no data rows"),                                          # an empty file
    ("participant,day,food_code,grams\n", "no data rows"),         # a header only
])
def test_bad_file_fails_the_run_in_one_line_and_keeps_published_data(isolated, tmp_path, capsys, content, expected):
    assert main(["run"]) == 0
    before = _published(isolated)
    bad = tmp_path / "bad.csv"
    bad.write_text(content, encoding="utf-8")
    spec = write_spec(tmp_path, "demo", format="tabular", path=str(bad), composition="demo", columns=DEMO_COLUMNS)
    capsys.readouterr()
    # the spec is named like the registered demo cohort: --replace asks to replace its rows
    assert main(["run", "--cohort", str(spec), "--replace"]) == 1
    err = capsys.readouterr().err
    line = _one_line_error(err)
    assert "bad.csv" in line and expected in line
    assert _published(isolated) == before


def test_bad_rows_are_quarantined_and_counted(isolated, tmp_path, capsys):
    data = tmp_path / "rows.csv"
    data.write_text("participant,day,food_code,grams\np1,1,99000001,100\np1,1,99000002,-5\np1,1,99000003,lots\n"
                    "p1,1,99000004,12000\n,1,99000005,10\np1,0,99000006,10\np1,1,99999999,50\n", encoding="utf-8")
    spec = write_spec(tmp_path, "rows", format="tabular", path=str(data), composition="demo", columns=DEMO_COLUMNS)
    assert main(["run", "--cohort", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "items 2" in out and "quarantined rows 5" in out and "unlinked items 1" in out
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    rows = conn.execute("SELECT source_row, \"column\", reason FROM audit.quarantine WHERE cohort = 'rows' ORDER BY source_row").fetchall()
    conn.close()
    assert [(r[0], r[1]) for r in rows] == [(2, "grams"), (3, "grams"), (4, "grams"), (5, "participant_id"), (6, "recall_day")]


def test_cohort_add_list_and_check(isolated, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(tmp_path / "cohorts"))
    args = ["cohort", "add", "study-x", "--format", "tabular", "--path", str(DATA_DIR / "demo" / "diary.csv"),
            "--composition", "demo"] + [f"--map={k}={v}" for k, v in DEMO_COLUMNS.items()]
    assert main(args) == 0
    assert (tmp_path / "cohorts" / "study-x.yaml").is_file()
    assert main(args) == 2  # already registered
    capsys.readouterr()
    assert main(["cohort", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split()[:3] == ["COHORT", "KIND", "FORMAT"]
    assert any(line.split()[:4] == ["study-x", "registered", "tabular", "-"] for line in listed[1:])
    assert main(["cohort", "check", "study-x"]) == 0
    out = capsys.readouterr().out
    assert "checked (not published)" in out and "participants 24" in out
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    published = conn.execute("SELECT count(*) FROM cohort.diary_items WHERE cohort = 'study-x'").fetchall()[0][0]
    staging = len(unpublished_tables(conn))
    conn.close()
    assert published == 0 and staging == 0


def test_summary_warns_when_most_items_are_unlinked():
    from gutaxis.report import CohortReport, format_report

    mostly = format_report(CohortReport("c", "k", "published", items=10, unlinked_items=6))
    assert "warning: 60% of the items have a food code the composition source lacks" in mostly
    few = format_report(CohortReport("c", "k", "published", items=10, unlinked_items=5))
    assert "warning" not in few
