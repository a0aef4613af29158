"""The first hour with `gutaxis`: cohort add (paths, --map, help), messages that name what the user
typed, `gutaxis sql`, and the cohort lifecycle (list, remove, the synthetic demo beside real cohorts)."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from gutaxis import DATA_DIR
from gutaxis.formats.tabular import missing_column_error
from gutaxis.specs import add_cohort, load_cohort_spec, registered_cohorts, resolve_cohort
from pipelines.cli import main
from tests.conftest import write_spec

DEMO_DIARY = DATA_DIR / "demo" / "diary.csv"
DEMO_COLUMNS = {"participant_id": "participant", "recall_day": "day", "food_code": "food_code", "grams": "grams"}
DEMO_MAP = [f"--map={k}={v}" for k, v in DEMO_COLUMNS.items()]


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("gutaxis: stage ")]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def cohorts(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cohorts"
    folder.mkdir()
    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(folder))
    return folder


# 15. paths as typed ---------------------------------------------------------------------------------

def test_cohort_add_keeps_a_path_reached_through_a_symlink(tmp_path, monkeypatch):
    # a fresh clone beside ../shared, which is a symlink to the data's real home
    real = tmp_path / "disks" / "team" / "shared-data"
    real.mkdir(parents=True)
    (real / "diary.csv").write_bytes(DEMO_DIARY.read_bytes())
    clone = tmp_path / "clone"
    (clone / "data" / "cohorts").mkdir(parents=True)
    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(clone / "data" / "cohorts"))
    monkeypatch.setenv("GUTAXIS_RAW_DIR", str(clone / "data" / "raw"))
    (tmp_path / "shared").symlink_to(real, target_is_directory=True)
    monkeypatch.chdir(clone)
    written = yaml.safe_load(add_cohort("linked", "tabular", "../shared/diary.csv", "demo",
                                        [f"{k}={v}" for k, v in DEMO_COLUMNS.items()]).read_text())
    assert written["path"] == str(tmp_path / "shared" / "diary.csv")  # absolute, the link kept, no ../..
    assert written["external_path"] is True
    assert resolve_cohort("linked").data_files() == [tmp_path / "shared" / "diary.csv"]


def test_cohort_add_stores_a_path_under_data_relative_to_the_spec_without_following_links(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "cohorts").mkdir(parents=True)
    big_disk = tmp_path / "big-disk"
    big_disk.mkdir()
    (big_disk / "diary.csv").write_bytes(DEMO_DIARY.read_bytes())
    (data / "raw").symlink_to(big_disk, target_is_directory=True)  # data/raw moved to a bigger disk
    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(data / "cohorts"))
    monkeypatch.setenv("GUTAXIS_RAW_DIR", str(data / "raw"))
    monkeypatch.chdir(tmp_path)
    written = yaml.safe_load(add_cohort("home", "tabular", "data/raw/diary.csv", "demo",
                                        [f"{k}={v}" for k, v in DEMO_COLUMNS.items()]).read_text())
    assert written["path"] == "../raw/diary.csv"
    assert "external_path" not in written
    assert resolve_cohort("home").data_files() == [data / "raw" / "diary.csv"]


# 16. messages name what the user typed ------------------------------------------------------------------

def test_a_wrong_map_key_says_did_you_mean_and_lists_the_valid_ids(isolated, cohorts, capsys):
    code = main(["cohort", "add", "x", "--format", "tabular", "--path", str(DEMO_DIARY), "--composition", "demo",
                 *DEMO_MAP, "--map", "fibre=FIBE"])
    assert code == 2
    line = _one_line(capsys.readouterr().err)
    assert "--map fibre: unknown component id; did you mean fiber?" in line
    assert "omega3_dha" in line and "participant_id" in line
    assert ".tmp" not in line and "reported" not in line
    assert not list(cohorts.iterdir())  # nothing left behind


def test_cohort_add_errors_name_the_command_not_a_temporary_file(isolated, cohorts, capsys):
    assert main(["cohort", "add", "x", "--format", "tabular", "--path", "no/such/diary.csv", "--composition", "demo",
                 *DEMO_MAP]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("gutaxis: error: cohort add x: ") and ".tmp" not in line
    assert str(Path.cwd() / "no" / "such" / "diary.csv") in line  # the absolute path that was tried


def test_a_path_that_matches_nothing_prints_the_absolute_path_tried(tmp_path):
    spec = load_cohort_spec(write_spec(tmp_path, "s", format="tabular", path="sub/nothere.csv", composition="demo",
                                       columns=DEMO_COLUMNS))
    with pytest.raises(Exception) as info:
        spec.data_files()
    assert f"looked for {tmp_path / 'sub' / 'nothere.csv'}" in str(info.value)


def test_a_spec_file_that_does_not_exist_prints_the_absolute_path_tried(isolated, capsys):
    assert main(["cohort", "check", "no/such/spec.yaml"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"looked for {Path.cwd() / 'no' / 'such' / 'spec.yaml'}" in line


def test_a_missing_column_names_the_closest_columns_not_only_case_variants():
    header = ["SEQN", "DAYNO", "FoodCode", "FoodAmount", "KCAL"]
    message = str(missing_column_error(Path("f.csv"), "FoodAmt", header, "fix columns.grams"))
    assert "closest columns in the file: 'FoodAmount'" in message
    message = str(missing_column_error(Path("f.csv"), "participant_id", ["participant", "day", "grams"], "fix it"))
    assert "'participant'" in message
    # a case variant keeps its own, sharper hint
    assert "differs only by case" in str(missing_column_error(Path("f.csv"), "seqn", header, "fix it"))


def test_a_data_error_exits_with_the_same_code_from_check_and_from_run(isolated, tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("participant,day,food_code,FoodAmount\np1,1,99000001,100\n", encoding="utf-8")
    spec = write_spec(tmp_path, "d", format="tabular", path=str(data), composition="demo",
                      columns={**DEMO_COLUMNS, "grams": "FoodAmt"})
    check = main(["cohort", "check", str(spec)])
    check_err = capsys.readouterr().err
    run = main(["run", "--cohort", str(spec)])
    run_err = capsys.readouterr().err
    assert check == run == 1
    for err in (check_err, run_err):
        assert "column 'FoodAmt' is missing (closest columns in the file: 'FoodAmount')" in _one_line(err)


# 17. help ---------------------------------------------------------------------------------------------

def test_cohort_add_help_shows_defaults_tabular_options_and_map_keys(capsys):
    with pytest.raises(SystemExit) as done:
        main(["cohort", "add", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps to the terminal's width
    for part in ("default fndds-2017-2018", "--delimiter", "--valid-recall-status", "recall_status", "(default 1)",
                 "participant_id, recall_day, food_code, grams", "fiber", "omega3_dha", "fermented_foods"):
        assert part in text, part


def test_ui_help_says_what_it_starts(capsys):
    with pytest.raises(SystemExit):
        main(["ui", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "web UI" in text and "daemon" in text and "schedule" in text and "sensor" in text


def test_cohort_add_writes_the_tabular_options(isolated, cohorts, tmp_path):
    tsv = tmp_path / "d.txt"
    tsv.write_text(DEMO_DIARY.read_text().replace(",", "\t"), encoding="utf-8")
    assert main(["cohort", "add", "t", "--format", "tabular", "--path", str(tsv), "--composition", "demo", *DEMO_MAP,
                 "--map", "recall_status=day", "--delimiter", "tab", "--valid-recall-status", "1,2"]) == 0
    spec = resolve_cohort("t")
    assert spec.delimiter == "\t" and spec.valid_recall_status == [1, 2] and spec.columns["recall_status"] == "day"
    assert main(["cohort", "add", "n", "--format", "nhanes-iff", "--path", str(tsv), "--delimiter", ";"]) == 2


# 18. gutaxis sql --------------------------------------------------------------------------------------------

LONG = "a description longer than any column width a table printer would like to show in full, kept whole"


@pytest.fixture
def warehouse_file(isolated) -> Path:
    path = isolated / "warehouse.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute(f"CREATE TABLE foods AS SELECT 1 AS code, '{LONG}' AS description, 2.5 AS grams, "
                 "[1, 2] AS parts, {'a': 1, 'b': 'x'} AS detail")
    conn.execute("CREATE VIEW food_names AS SELECT description FROM foods")  # the marts are views
    conn.close()
    return path


def test_sql_prints_a_readable_table_with_full_text(warehouse_file, capsys):
    assert main(["sql", "SELECT code, description, grams FROM foods"]) == 0
    out = capsys.readouterr().out
    assert LONG in out
    assert "i32" not in out and "str" not in out and "f64" not in out and "shape:" not in out


def test_sql_keeps_duckdbs_error_and_hint_without_the_read_only_note(warehouse_file, capsys):
    assert main(["sql", "SELECT * FROM food"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "Table with name food does not exist" in line and 'Did you mean "foods"' in line
    assert "read-only" not in line
    assert main(["sql", "DELETE FROM foods"]) == 2
    assert "read-only" in _one_line(capsys.readouterr().err)
    assert main(["sql", "DELETE FROM food_names"]) == 2  # a view: DuckDB says "Binder Error", not read-only
    assert "read-only" in _one_line(capsys.readouterr().err)
    assert main(["sql", "SELEC 1"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "syntax error" in line and "read-only" not in line


def test_sql_csv_handles_nested_columns(warehouse_file, capsys):
    assert main(["sql", "SELECT code, parts, detail FROM foods", "--csv"]) == 0
    frame = pl.read_csv(capsys.readouterr().out.encode())
    assert json.loads(frame["parts"][0]) == [1, 2] and json.loads(frame["detail"][0]) == {"a": 1, "b": "x"}


@pytest.mark.parametrize("suffix", ["parquet", "csv", "json"])
def test_sql_out_exports_every_row(warehouse_file, tmp_path, capsys, suffix):
    target = tmp_path / f"export.{suffix}"
    assert main(["sql", "SELECT range AS n, 'x' AS t FROM range(120)", "--out", str(target)]) == 0
    reader = {"parquet": pl.read_parquet, "csv": pl.read_csv, "json": pl.read_json}[suffix]
    assert reader(target)["n"].to_list() == list(range(120))
    assert "wrote 120 rows" in capsys.readouterr().out
    assert main(["sql", "SELECT 1", "--out", str(tmp_path / "x.xlsx")]) == 2


# 19. lifecycle ---------------------------------------------------------------------------------------------

def _synthetic_demo(folder: Path) -> None:
    """The bundled demo spec, registered in a test's own cohorts folder."""
    spec = yaml.safe_load((DATA_DIR / "cohorts" / "demo.yaml").read_text())
    assert spec["synthetic"] is True
    for table in spec.get("participants", []) + spec.get("outcomes", []):  # attribute and outcome files, from here
        table["path"] = str((DATA_DIR / "cohorts" / table["path"]).resolve())
    write_spec(folder, "demo", **{**{k: v for k, v in spec.items() if k != "name"}, "path": str(DEMO_DIARY)})


def _cohorts_in(isolated: Path, table: str = "marts.participant_exposure") -> list[str]:
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    try:
        return [c for (c,) in conn.execute(f"SELECT DISTINCT cohort FROM {table} ORDER BY 1").fetchall()]
    finally:
        conn.close()


def _list(capsys) -> dict[str, list[str]]:
    capsys.readouterr()
    assert main(["cohort", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["COHORT", "KIND", "FORMAT"] and "PARTICIPANTS" in lines[0] and "PUBLISHED" in lines[0]
    return {line.split()[0]: line.split() for line in lines[1:]}


def test_the_synthetic_demo_runs_alone_and_leaves_once_a_real_cohort_is_registered(isolated, cohorts, tmp_path, capsys):
    _synthetic_demo(cohorts)
    assert [s.name for s in registered_cohorts()] == ["demo"]
    assert main(["run"]) == 0
    listed = _list(capsys)
    assert listed["demo"][1:3] == ["synthetic", "tabular"] and "published" in listed["demo"] and "24" in listed["demo"]

    # a one-off run that publishes shows in the list, with its format
    one_off = write_spec(tmp_path, "trial", format="tabular", path=str(DEMO_DIARY), composition="demo", columns=DEMO_COLUMNS)
    assert main(["run", "--cohort", str(one_off)]) == 0
    listed = _list(capsys)
    assert listed["trial"][1:3] == ["one-off", "tabular"] and "published" in listed["trial"] and "24" in listed["trial"]

    # registering a real cohort takes the demo out of the runs and of the marts; its audit trail stays
    copy = tmp_path / "study.csv"
    copy.write_bytes(DEMO_DIARY.read_bytes())
    assert main(["cohort", "add", "study", "--format", "tabular", "--path", str(copy), "--composition", "demo", *DEMO_MAP]) == 0
    assert "removed the synthetic cohort demo" in capsys.readouterr().out
    assert [s.name for s in registered_cohorts()] == ["study"]
    assert _cohorts_in(isolated) == ["trial"]
    assert main(["run"]) == 0
    assert _cohorts_in(isolated) == ["study", "trial"]
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    demo_runs = [o for (o,) in conn.execute("SELECT outcome FROM audit.runs WHERE cohort = 'demo' ORDER BY started").fetchall()]
    conn.close()
    assert demo_runs[0] == "published" and demo_runs[-1].startswith("removed: synthetic demo")


def test_cohort_remove_unpublishes_and_unregisters_keeping_the_audit_trail(isolated, cohorts, tmp_path, capsys):
    copy = tmp_path / "study.csv"
    copy.write_bytes(DEMO_DIARY.read_bytes())
    assert main(["cohort", "add", "study", "--format", "tabular", "--path", str(copy), "--composition", "demo", *DEMO_MAP]) == 0
    one_off = write_spec(tmp_path, "trial", format="tabular", path=str(DEMO_DIARY), composition="demo", columns=DEMO_COLUMNS)
    assert main(["run", "--cohort", "study", "--cohort", str(one_off)]) == 0
    assert _cohorts_in(isolated) == ["study", "trial"]
    capsys.readouterr()

    assert main(["cohort", "remove", "study"]) == 0
    assert "unregistered" in capsys.readouterr().out
    assert not (cohorts / "study.yaml").exists()
    assert main(["cohort", "remove", "trial"]) == 0  # a one-off: unpublished, nothing to unregister
    for table in ("marts.participant_exposure", "marts.participant_day_exposure", "cohort.diary_items",
                  "cohort.participants", "marts.food_contributions"):
        assert _cohorts_in(isolated, table) == [], table
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    runs = dict(conn.execute("SELECT cohort, count(*) FROM audit.runs GROUP BY cohort").fetchall())
    quarantined = conn.execute("SELECT count(*) FROM audit.quarantine WHERE cohort = 'study'").fetchall()[0][0]
    leftovers = conn.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'store' AND "
                             "regexp_matches(table_name, '__(study|trial)__')").fetchall()[0][0]
    conn.close()
    assert runs == {"study": 2, "trial": 2} and quarantined == 2 and leftovers == 0
    assert "study" not in _list(capsys) and "trial" not in _list(capsys)
    assert main(["cohort", "remove", "study"]) == 2  # gone: neither registered nor published
    assert "neither registered nor published" in capsys.readouterr().err


def test_the_sensor_and_the_schedule_leave_the_synthetic_demo_out_beside_a_real_cohort(cohorts):
    import dagster as dg

    _synthetic_demo(cohorts)
    with dg.instance_for_test() as instance:
        _sensor_and_schedule(instance, cohorts)


def _sensor_and_schedule(instance, cohorts: Path) -> None:
    import dagster as dg

    from pipelines.schedules import daily_cohorts
    from pipelines.sensors import cohort_spec_sensor

    instance.add_dynamic_partitions("cohorts", ["demo", "study"])
    alone = cohort_spec_sensor(dg.build_sensor_context(instance=instance))
    assert [r.partition_key for r in alone.run_requests] == ["demo"]  # alone, the demo runs
    write_spec(cohorts, "study", format="tabular", path=str(DEMO_DIARY), composition="demo", columns=DEMO_COLUMNS,
               external_path=True)
    beside = cohort_spec_sensor(dg.build_sensor_context(instance=instance))
    assert [r.partition_key for r in beside.run_requests] == ["study"]
    scheduled = daily_cohorts(dg.build_schedule_context(instance=instance))
    assert [r.partition_key for r in scheduled] == ["study"]


def test_cohort_list_names_an_invalid_spec_and_why(isolated, cohorts, capsys):
    (cohorts / "broken.yaml").write_text("name: broken\nformat: excel\npath: x.csv\n", encoding="utf-8")
    listed = _list(capsys)
    assert listed["broken"][1:3] == ["invalid", "-"]
    assert main(["cohort", "list"]) == 0
    out = capsys.readouterr().out
    assert "broken: " in out and "field 'format'" in out
