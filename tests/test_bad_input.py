"""The bad-input corpus through every reader (engine level) and a representative subset through the CLI."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
import yaml

from gutaxis import DATA_DIR, PROJECT_ROOT, GutaxisError
from gutaxis.diaries import read_diary
from gutaxis.specs import add_cohort, load_cohort_spec, resolve_cohort
from pipelines.cli import main
from tests.bad_input_corpus import LAYOUTS, Case, Kept, Refused, cases
from tests.conftest import _isolate

CORPUS = list(cases())


def _read(case: Case, folder, monkeypatch):
    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(folder / "cohorts"))
    monkeypatch.setenv("GUTAXIS_RAW_DIR", str(folder / "raw"))
    return read_diary(load_cohort_spec(case.write(folder)), 8)


def test_spec_file_that_does_not_exist_is_named():
    with pytest.raises(GutaxisError, match=r"^no/such/spec\.yaml: spec file does not exist "
                                           r"\(looked for /.*/no/such/spec\.yaml\); give an existing path"):
        resolve_cohort("no/such/spec.yaml")


@pytest.mark.parametrize("name", ["x; DROP TABLE marts.participant_exposure; --", "my study"])
def test_cohort_name_that_is_no_slug_is_refused_before_any_lookup(name):
    with pytest.raises(GutaxisError, match=r"is not a cohort name \(lower-case letters, digits, _ and -\) nor a spec file"):
        resolve_cohort(name)


def test_a_cohort_name_too_long_for_a_file_is_refused_before_any_lookup(tmp_path, monkeypatch):
    # a 230-character name was an internal error (the file system's limit on a file name)
    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(tmp_path))
    with pytest.raises(GutaxisError, match=r"is 230 characters long; use at most 64"):
        resolve_cohort("a" * 230)
    with pytest.raises(GutaxisError, match=r"is 300 characters long; use at most 64"):
        add_cohort("b" * 300, "tabular", DATA_DIR / "demo" / "diary.csv", "demo", [])


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.id)
def test_corpus_case_through_the_engine(case: Case, tmp_path, monkeypatch):
    if isinstance(case.expect, Refused):
        with pytest.raises(GutaxisError) as err:
            _read(case, tmp_path, monkeypatch)
        message = str(err.value)
        assert "\n" not in message
        for part in case.expect.parts:
            assert part in message, f"{part!r} not in {message!r}"
        return
    diary = _read(case, tmp_path, monkeypatch)
    # every data row of the file is an item, a quarantined row or a row of an excluded recall
    assert diary.rows_unaccounted() == 0, (diary.rows_read, diary.items.height, diary.quarantine.height, diary.excluded_rows)
    got = diary.quarantine.select("source_row", "column", "reason").rows()
    assert got == list(case.expect.quarantined)
    assert diary.items.height == case.expect.items
    if case.expect.values is not None:
        assert diary.quarantine["value"].to_list() == list(case.expect.values)
    if case.expect.check:
        case.expect.check(diary)


# --- through the CLI --------------------------------------------------------------------------------

GUTAXIS = Path(sys.executable).parent / "gutaxis"
BY_ID = {case.id: case for case in CORPUS}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """One isolated warehouse, raw folder and Dagster storage for this module's CLI runs (each run replaces the last)."""
    root = tmp_path_factory.mktemp("cli")
    with pytest.MonkeyPatch.context() as patch:
        _isolate(root, patch.setenv)
        yield root


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("gutaxis: stage ")]
    assert len(lines) == 1, stderr
    return lines[0]


def _quarantine(isolated: Path) -> list[tuple]:
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    try:
        return conn.execute(
            'SELECT source_file, source_row, "column", reason FROM audit.quarantine WHERE run_id = '
            "(SELECT run_id FROM audit.runs WHERE cohort = 'corpus' ORDER BY started DESC LIMIT 1) "
            "ORDER BY source_file, source_row").fetchall()
    finally:
        conn.close()


def _expected_quarantine(*cases: Case) -> list[tuple]:
    rows = [(name, row, column, reason) for case in cases for name in case.files
            for row, column, reason in case.expect.quarantined]
    return sorted(rows)


def test_every_csv_case_with_a_result_in_one_cli_run(home, tmp_path, capsys):
    # Tabular files have no item key, so the csv cases can share one cohort: one file per case.
    kept = [c for c in CORPUS if c.flavour == "csv" and isinstance(c.expect, Kept) and c.spec["path"] == "d.csv"
            and c.spec["columns"] == LAYOUTS["csv"].spec["columns"]]
    files = {f"{c.name}.csv": c.files["d.csv"] for c in kept}
    combined = Case("all", "csv", files, {**LAYOUTS["csv"].spec, "path": "*.csv"}, Kept(0))
    assert main(["run", "--cohort", str(combined.write(tmp_path / "case"))]) == 0
    out, err = capsys.readouterr()
    assert all(line.startswith("gutaxis: stage ") for line in err.splitlines()), err
    items = sum(c.expect.items for c in kept)
    quarantined = _expected_quarantine(*(replace(c, files={f"{c.name}.csv": b""}) for c in kept))
    assert f"items {items}" in out and f"quarantined rows {len(quarantined)}" in out
    assert "cohort corpus: published" in out
    assert _quarantine(home) == quarantined
    # every line-end convention and encoding case among them: each row published, quarantined or excluded
    rows_read, published, quarantined_rows, excluded = _accounting(home)
    assert (published, quarantined_rows) == (items, len(quarantined))
    assert rows_read == published + quarantined_rows + excluded


def _run_count(isolated: Path) -> int:
    if not (isolated / "warehouse.duckdb").exists():
        return 0
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    try:
        return conn.execute("SELECT count(*) FROM audit.runs").fetchall()[0][0]
    finally:
        conn.close()


def _accounting(isolated: Path) -> tuple:
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    try:
        return conn.execute("SELECT rows_read, rows_published, rows_quarantined, rows_excluded FROM audit.runs "
                            "WHERE cohort = 'corpus' ORDER BY started DESC LIMIT 1").fetchall()[0]
    finally:
        conn.close()


@pytest.mark.parametrize("case_id", ["duplicate-item[nhanes-xpt]", "participant-id-latin1[asa24]",
                                     "mixed-line-ends-with-a-bad-row[nhanes-txt]", "cr-line-ends-with-a-bad-row[asa24]"])
def test_quarantining_case_publishes_through_the_cli(case_id, home, tmp_path, capsys):
    case = BY_ID[case_id]
    assert main(["run", "--cohort", str(case.write(tmp_path / "case"))]) == 0
    out = capsys.readouterr().out
    assert f"items {case.expect.items}" in out and f"quarantined rows {len(case.expect.quarantined)}" in out
    assert _quarantine(home) == _expected_quarantine(case)
    rows_read, published, quarantined_rows, excluded = _accounting(home)
    assert rows_read == published + quarantined_rows + excluded == published + len(case.expect.quarantined) + excluded


@pytest.mark.parametrize(("case_id", "exit_code", "parts"), [
    # Bad data files fail the cohort's ingest step: exit 1, the step's one line.
    ("grams-boolean[parquet]", 1, ("corpus: cohort_diary_items:", "d.parquet", "column 'g' (columns.grams) has type Boolean")),
    ("data-file-missing[spec]", 1, ("corpus.yaml", "path 'nothere.csv' matches no file", "fix 'path'")),
    ("decimal-comma-locale[csv]", 1, ("d.csv", "no row is usable", "write numbers with a dot decimal")),
    # Spec problems stop the command before anything runs: exit 2.
    ("registered-path-outside-data[spec]", 2, ("points outside the project's data folder", "external_path: true")),
    ("name-with-spaces[spec]", 2, ("field 'name'", "'my study'", "must match [a-z0-9_-]+")),
    ("unknown-composition[spec]", 2, ("corpus.yaml", "field 'composition': unknown source 'fndds-2019'")),
    # The spec check finds these before a run is recorded (issue 12, item 14).
    ("delimiter-two-characters[spec]", 2, ("corpus.yaml", "field 'delimiter'", "must be a single character")),
    ("valid-recall-status-empty[spec]", 2, ("corpus.yaml", "field 'valid_recall_status'", "would exclude every recall")),
    ("name-230-characters[spec]", 2, ("corpus.yaml", "field 'name'", "is 230 characters long")),
    # Data problems of the input files: exit 1, one line
    ("every-code-unreadable[csv]", 1, ("d.csv", "no food code is usable", "check that columns.food_code")),
    ("utf16-le-text[tsv]", 1, ("d.tsv", "UTF-16", "save it as UTF-8")),
    ("nul-bytes-at-the-end[asa24]", 1, ("Items.csv", "NUL bytes")),
    ("csv-quote-in-an-unused-column[csv]", 1, ("d.csv", "in column 'note'", "fix the quoting")),
])
def test_refused_case_exits_with_one_line_through_the_cli(case_id, exit_code, parts, home, tmp_path, monkeypatch, capsys):
    case = BY_ID[case_id]
    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(tmp_path / "case" / "cohorts"))
    spec = case.write(tmp_path / "case")
    runs_before = _run_count(home)
    assert main(["run", "--cohort", "corpus" if case.registered else str(spec)]) == exit_code
    if exit_code == 2:  # refused by the spec check, before a run is recorded
        assert _run_count(home) == runs_before
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("gutaxis: ")
    for part in parts:
        assert part in line, f"{part!r} not in {line!r}"


def _subprocess(isolated: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GUTAXIS_WAREHOUSE": str(isolated / "warehouse.duckdb"), "GUTAXIS_RAW_DIR": str(isolated / "raw"),
           "GUTAXIS_DAGSTER_DIR": str(isolated / "dagster")}
    return subprocess.run([str(GUTAXIS), *args], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)


@pytest.mark.parametrize(("case_id", "exit_code", "parts"), [
    ("wrong-delimiter[csv]", 1, ("d.csv", "delimited by ';' it seems", 'delimiter: ";"')),
    ("name-with-sql[spec]", 2, ("'x; DROP TABLE marts.participant_exposure; --'", "must match [a-z0-9_-]+")),
    ("delimiter-two-characters[spec]", 2, ("field 'delimiter'", "';;'", "must be a single character")),
])
def test_the_command_prints_one_line_and_no_traceback(case_id, exit_code, parts, home, tmp_path):
    case = BY_ID[case_id]
    done = _subprocess(home, "run", "--cohort", str(case.write(tmp_path / "case")))
    assert done.returncode == exit_code, done.stderr
    line = _one_line(done.stderr)
    for part in parts:
        assert part in line, f"{part!r} not in {line!r}"


def test_cohort_add_records_a_path_outside_data_explicitly(tmp_path, monkeypatch):
    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(tmp_path / "cohorts"))
    monkeypatch.setenv("GUTAXIS_RAW_DIR", str(tmp_path / "raw"))
    outside = tmp_path / "elsewhere" / "d.csv"
    outside.parent.mkdir()
    outside.write_bytes(BY_ID["bom[csv]"].files["d.csv"])
    mapping = [f"{k}={v}" for k, v in LAYOUTS["csv"].spec["columns"].items()]
    written = yaml.safe_load(add_cohort("away", "tabular", outside, "demo", mapping).read_text())
    assert written["external_path"] is True
    assert resolve_cohort("away").data_files() == [outside]
    inside = yaml.safe_load(add_cohort("home", "tabular", DATA_DIR / "demo" / "diary.csv", "demo", mapping).read_text())
    assert "external_path" not in inside


# --- the run command's own failures (issue 12: name collisions, vanished files, a damaged work
# database, a closed output pipe, a broken registered spec) -------------------------------------

REGISTERED = BY_ID["registered-path-outside-data-explicit[spec]"]  # registered, 3 items
ONE_OFF = BY_ID["duplicate-item[csv]"]                              # a one-off spec of the same name, other rows


def _published_items(isolated: Path) -> list[tuple]:
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    try:
        return conn.execute("SELECT * FROM cohort.diary_items ORDER BY ALL").fetchall()
    finally:
        conn.close()


def test_one_off_spec_named_like_a_registered_cohort_is_refused_unless_replace(home, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(tmp_path / "registered" / "cohorts"))
    REGISTERED.write(tmp_path / "registered")
    assert main(["run", "--cohort", "corpus"]) == 0
    before = _published_items(home)
    spec = ONE_OFF.write(tmp_path / "one-off")
    capsys.readouterr()
    assert main(["run", "--cohort", str(spec)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"gutaxis: error: {spec}: cohort name 'corpus' is a registered cohort's") and "--replace" in line
    assert _published_items(home) == before
    # --replace says so on purpose; the same spec given twice runs once
    assert main(["run", "--cohort", str(spec), "--cohort", str(spec), "--replace"]) == 0
    assert capsys.readouterr().out.count("cohort corpus: published") == 1
    assert len(_published_items(home)) == ONE_OFF.expect.items


@pytest.mark.parametrize("replace", [[], ["--replace"]])
def test_two_spec_files_with_one_name_in_one_run_are_refused(replace, home, tmp_path, capsys):
    first, second = ONE_OFF.write(tmp_path / "a"), BY_ID["bom[csv]"].write(tmp_path / "b")
    before = _published_items(home)
    assert main(["run", "--cohort", str(first), "--cohort", str(second), *replace]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"{second}: cohort name 'corpus' is also the name of {first}" in line
    assert _published_items(home) == before


def test_a_broken_registered_spec_is_reported_and_the_others_run(home, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "registered"
    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(folder / "cohorts"))
    REGISTERED.write(folder)
    broken = folder / "cohorts" / "broken.yaml"
    broken.write_text(yaml.safe_dump({**REGISTERED.spec, "name": "broken", "path": "../files/d.csv",
                                      "composition": "fndds-2019"}), encoding="utf-8")
    assert main(["run"]) == 2
    out, err = capsys.readouterr()
    line = _one_line(err)
    assert line.startswith(f"gutaxis: broken: not run: {broken}: ") and "'fndds-2019'" in line, line
    assert "cohort corpus: published" in out


@pytest.mark.parametrize("when", ["before-read", "mid-read"])
def test_a_data_file_deleted_mid_run_is_named(when, home, tmp_path, monkeypatch, capsys):
    from gutaxis import diaries, stages

    spec = BY_ID["bom[csv]"].write(tmp_path / "case")
    before = _published_items(home)
    if when == "before-read":  # after the run listed and began hashing the files
        real_read = stages.read_diary

        def read_diary(spec, *args, **kwargs):
            for path in spec.data_files():
                path.unlink()
            return real_read(spec, *args, **kwargs)
        monkeypatch.setattr(stages, "read_diary", read_diary)
    else:  # opened (lazily) by the reader, gone before its rows are read
        real_open = diaries.open_checked

        def open_checked(reader, path, spec, rows):
            frame = real_open(reader, path, spec, rows)
            path.unlink()
            return frame
        monkeypatch.setattr(diaries, "open_checked", open_checked)
    assert main(["run", "--cohort", str(spec)]) == 1
    line = _one_line(capsys.readouterr().err)
    assert line == (f"gutaxis: corpus: cohort_diary_items: {spec.parent / 'd.csv'}: the data file disappeared while the run "
                    "read it (deleted or moved?); put it back, or fix the spec's 'path', and run again")
    assert _published_items(home) == before


def test_a_truncated_work_database_is_named_and_published_data_kept(tmp_path, monkeypatch, capsys):
    root = _isolate(tmp_path / "home", monkeypatch.setenv)
    spec = BY_ID["bom[csv]"].write(tmp_path / "case")
    assert main(["run", "--cohort", str(spec)]) == 0
    before = _published_items(root)
    work = root / "warehouse.work.duckdb"
    os.truncate(work, work.stat().st_size // 3)  # a copy or a write that a full disk cut short
    capsys.readouterr()
    assert main(["run", "--cohort", str(spec)]) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.endswith(f"{work}: the work database is truncated; move it aside and run again (the run rebuilds it "
                         "from the published warehouse.duckdb, which is unchanged)"), line
    assert _published_items(root) == before
    work.rename(work.with_name("damaged.duckdb"))  # the advice works
    assert main(["run", "--cohort", str(spec)]) == 0
    assert _published_items(root) == before


def test_a_closed_output_pipe_is_one_line_and_the_run_finishes(home, tmp_path):
    """`gutaxis run | head`: the reader is gone before the summary is written."""
    spec = BY_ID["bom[csv]"].write(tmp_path / "case")
    env = {**os.environ, "GUTAXIS_WAREHOUSE": str(home / "warehouse.duckdb"), "GUTAXIS_RAW_DIR": str(home / "raw"),
           "GUTAXIS_DAGSTER_DIR": str(home / "dagster")}
    proc = subprocess.Popen([str(GUTAXIS), "run", "--cohort", str(spec)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=PROJECT_ROOT)
    proc.stdout.close()
    try:
        stderr = proc.stderr.read()
        assert proc.wait(timeout=300) == 141, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
    line = _one_line(stderr)
    assert line.startswith("gutaxis: output closed before the summary was complete (broken pipe); the run itself finished")
    assert len(_published_items(home)) == BY_ID["bom[csv]"].expect.items
