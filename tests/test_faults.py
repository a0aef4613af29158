"""Killed runs, concurrent runs and analysts during a run: published data stays whole."""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from gutaxis import DATA_DIR, PROJECT_ROOT
from gutaxis.warehouse import unpublished_tables
from pipelines.cli import main
from tests.conftest import _isolate, write_spec

pytestmark = pytest.mark.slow
GUTAXIS = Path(sys.executable).parent / "gutaxis"
COLUMNS = {"participant_id": "participant", "recall_day": "day", "food_code": "food_code", "grams": "grams"}
MARTS = ("cohort.diary_items", "marts.participant_day_exposure", "marts.participant_exposure", "marts.food_contributions")


def _env(root: Path, **extra: str) -> dict:
    return {**os.environ, "GUTAXIS_WAREHOUSE": str(root / "warehouse.duckdb"), "GUTAXIS_RAW_DIR": str(root / "raw"),
            "GUTAXIS_DAGSTER_DIR": str(root / "dagster"), "DAGSTER_HOME": str(PROJECT_ROOT), **extra}


def _diary(path: Path, rows: int, seed: int) -> Path:
    """A demo-coded diary big enough that each stage takes a moment."""
    rng = random.Random(seed)
    lines = ["participant,day,food_code,grams"]
    lines += [f"p{i // 30:05d},{1 + (i // 15) % 2},{99000001 + rng.randrange(20)},{rng.uniform(5, 400):.1f}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _spec(root: Path, rows: int = 60_000, seed: int = 1) -> Path:
    data = _diary(root / f"diary-{seed}.csv", rows, seed)
    return write_spec(root, "faulty", format="tabular", path=str(data), composition="demo", columns=COLUMNS)


def _snapshot(root: Path) -> dict:
    conn = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} WHERE cohort = 'faulty' ORDER BY ALL").fetchall() for t in MARTS}
    finally:
        conn.close()


def _run(root: Path, spec: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(GUTAXIS), "run", "--cohort", str(spec)], capture_output=True, text=True,
                          env=_env(root, **env), cwd=PROJECT_ROOT, timeout=300)


def _kill_at_stage(root: Path, spec: Path, stage: str) -> str:
    """Start a run, SIGKILL it as soon as it announces `stage`; return what it printed."""
    proc = subprocess.Popen([str(GUTAXIS), "run", "--cohort", str(spec)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True, env=_env(root), cwd=PROJECT_ROOT, start_new_session=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if f"stage {stage}:" in line:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert any(f"stage {stage}:" in line for line in seen), "".join(seen)
    return "".join(seen)


@pytest.fixture(scope="module")
def clean_roots(tmp_path_factory):
    """Warehouses after one clean run of data A, and of data B."""
    root_a = tmp_path_factory.mktemp("clean_a")
    assert _run(root_a, _spec(root_a, seed=1)).returncode == 0
    root_b = tmp_path_factory.mktemp("clean_b")
    assert _run(root_b, _spec(root_b, seed=2)).returncode == 0
    return root_a, root_b


@pytest.fixture(scope="module")
def clean(clean_roots):
    """Published state after one clean run of data A, and the published state a clean run of data B gives."""
    return _snapshot(clean_roots[0]), _snapshot(clean_roots[1])


@pytest.mark.parametrize("stage", ["ingest", "audit-items", "exposures", "audit-exposures", "publish"])
def test_run_killed_at_a_stage_leaves_previous_data_and_next_run_completes(tmp_path, clean, stage):
    state_a, state_b = clean
    assert _run(tmp_path, _spec(tmp_path, seed=1)).returncode == 0
    spec_b = _spec(tmp_path, seed=2)
    _kill_at_stage(tmp_path, spec_b, stage)
    after_kill = _snapshot(tmp_path)
    # The publish stage may have committed and swapped before the signal landed; never anything in between.
    assert after_kill == state_a or (stage == "publish" and after_kill == state_b)
    done = _run(tmp_path, spec_b)
    assert done.returncode == 0, done.stderr
    assert _snapshot(tmp_path) == state_b
    assert not list(tmp_path.glob("warehouse.duckdb.tmp-*"))
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    staging = len(unpublished_tables(conn))
    outcomes = [r[0] for r in conn.execute("SELECT outcome FROM audit.runs ORDER BY started").fetchall()]
    conn.close()
    assert staging == 0
    assert outcomes[0] == "published" and outcomes[-1] == "published"
    # a run killed after it registered is marked by the next run; none stays "running"
    assert all(o == "published" or o.startswith("killed") for o in outcomes), outcomes


@pytest.mark.parametrize("fault", ["publish-mid-transaction:kill", "publish-mid-transaction:raise", "snapshot-copy:kill"])
def test_fault_inside_publish_is_all_or_nothing(tmp_path, clean, fault):
    state_a, state_b = clean
    assert _run(tmp_path, _spec(tmp_path, seed=1)).returncode == 0
    spec_b = _spec(tmp_path, seed=2)
    failed = _run(tmp_path, spec_b, GUTAXIS_INJECT_FAULT=fault)
    assert failed.returncode != 0
    assert "Traceback" not in failed.stderr
    assert _snapshot(tmp_path) == state_a
    assert _run(tmp_path, spec_b).returncode == 0
    assert _snapshot(tmp_path) == state_b


def _audit_runs_name_what_analysts_see(root: Path) -> None:
    """In the analysts' snapshot, each cohort's published tables are those of its latest run that
    audit.runs calls published, and no published table belongs to a run called anything else."""
    conn = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        pointers = conn.execute("SELECT DISTINCT cohort, run_id FROM store.published ORDER BY ALL").fetchall()
        latest = dict(conn.execute("SELECT cohort, arg_max(run_id, finished) FROM audit.runs WHERE outcome = 'published' "
                                   "GROUP BY cohort").fetchall())
        outcomes = dict(conn.execute("SELECT run_id, outcome FROM audit.runs").fetchall())
        # the snapshot is copied before its publish forgets its note: only a published run's may remain
        pending = {r for (r,) in conn.execute("SELECT DISTINCT run_id FROM store.pending_publish").fetchall()}
    finally:
        conn.close()
    assert pointers and len({c for c, _ in pointers}) == len(pointers), pointers
    for cohort, run_id in pointers:
        assert outcomes.get(run_id) == "published", (cohort, run_id, outcomes)
        assert latest[cohort] == run_id, (cohort, run_id, latest)
    assert pending <= {r for _, r in pointers}, pending


def _other_cohort(root: Path) -> Path:
    data = _diary(root / "other.csv", 300, seed=3)
    return write_spec(root, "other", format="tabular", path=str(data), composition="demo", columns=COLUMNS)


def _run_here(root: Path, spec: Path, monkeypatch, capsys, **env: str) -> tuple[int, str]:
    """A run in this process (no interpreter start nor Dagster import: several seconds less)."""
    with monkeypatch.context() as patch:
        _isolate(root, patch.setenv)
        for key, value in env.items():
            patch.setenv(key, value)
        code = main(["run", "--cohort", str(spec)])
    return code, capsys.readouterr().err


# Between the publish's commit in the work database and the analysts' snapshot (and just after
# it): raised (a bug, a full disk) or killed. Before the rename the run must fail with nothing of
# it visible; from the rename on it is published. Either way audit.runs agrees with the snapshot,
# also after another cohort's run (which used to copy a failed publish into the snapshot).
@pytest.mark.parametrize(("fault", "published"), [
    ("publish-committed:raise", False), ("snapshot-copy:enospc", False), ("snapshot-fsynced:raise", False),
    ("publish-finish:raise", True), ("publish-committed:kill", False), ("publish-finish:kill", True),
])
def test_publish_and_snapshot_succeed_or_fail_together(tmp_path, clean, clean_roots, fault, published, monkeypatch, capsys):
    state_a, state_b = clean
    shutil.copytree(clean_roots[0], tmp_path, dirs_exist_ok=True)
    spec_b = _spec(tmp_path, seed=2)
    if fault.endswith(":kill"):  # SIGKILL must not hit the test process: a CLI subprocess
        faulted = _run(tmp_path, spec_b, GUTAXIS_INJECT_FAULT=fault)
        code, stderr = faulted.returncode, faulted.stderr
        assert code == -signal.SIGKILL
    else:
        code, stderr = _run_here(tmp_path, spec_b, monkeypatch, capsys, GUTAXIS_INJECT_FAULT=fault)
        assert code == (0 if published else 1), stderr
        if fault.endswith(":enospc"):  # a full disk is named as such, with the fix
            assert f"faulty: published_cohort: {tmp_path}: no space left on the disk for the analysts' snapshot" in stderr
        _audit_runs_name_what_analysts_see(tmp_path)
    assert "Traceback" not in stderr
    expected = state_b if published else state_a
    assert _snapshot(tmp_path) == expected
    code, stderr = _run_here(tmp_path, _other_cohort(tmp_path), monkeypatch, capsys)
    assert code == 0, stderr
    assert _snapshot(tmp_path) == expected
    _audit_runs_name_what_analysts_see(tmp_path)
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    outcome = conn.execute("SELECT outcome FROM audit.runs WHERE cohort = 'faulty' ORDER BY started DESC LIMIT 1").fetchall()[0][0]
    leftovers = unpublished_tables(conn)
    conn.close()
    assert (outcome == "published") == published, outcome
    assert leftovers == []


INTERRUPTED = "gutaxis: interrupted; published data is unchanged"


# A terminal's Ctrl-C signals the whole foreground process group; a service manager's SIGTERM the
# process. Either stops the whole command, not only the step it hit (Dagster's own handling let
# the run go on to the next cohort), with one line and 128 + the signal's number.
@pytest.mark.parametrize(("signum", "stage"), [(signal.SIGINT, "ingest"), (signal.SIGTERM, "audit-items"),
                                               (signal.SIGINT, "exposures"), (signal.SIGTERM, "publish")])
def test_interrupt_stops_the_whole_command_and_leaves_nothing_running(tmp_path, clean, clean_roots, signum, stage):
    state_a, state_b = clean
    shutil.copytree(clean_roots[0], tmp_path, dirs_exist_ok=True)
    args = [str(GUTAXIS), "run", "--cohort", str(_spec(tmp_path, seed=2)), "--cohort", str(_other_cohort(tmp_path))]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=_env(tmp_path),
                            cwd=PROJECT_ROOT, start_new_session=True)
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if f"stage {stage}:" in line:
                os.killpg(proc.pid, signum) if signum == signal.SIGINT else proc.send_signal(signum)
                break
        seen.append(proc.stderr.read())
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    stderr = "".join(seen)
    assert proc.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("gutaxis: stage ")]
    assert len(lines) == 1 and lines[0].startswith(INTERRUPTED), stderr
    assert "cohort other" not in stderr  # the next cohort never started
    with pytest.raises(ProcessLookupError):  # nothing of the command is left running
        os.killpg(proc.pid, 0)
    # A signal that lands after the publish's snapshot is in may leave it published: the line says so.
    published = lines[0] != INTERRUPTED
    assert not published or (stage == "publish" and lines[0].endswith(": faulty")), lines[0]
    assert _snapshot(tmp_path) == (state_b if published else state_a)


def test_two_runs_at_once_both_finish_one_waiting(tmp_path, clean):
    _, state_b = clean
    spec = _spec(tmp_path, seed=2)
    # The first run stalls in ingest while holding the writer lock; the second starts meanwhile:
    # it must wait, not fail on DuckDB's file lock, however slowly a loaded machine starts Python.
    first = subprocess.Popen([str(GUTAXIS), "run", "--cohort", str(spec)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, env=_env(tmp_path, GUTAXIS_INJECT_FAULT="ingest:sleep"), cwd=PROJECT_ROOT)
    first_err = []
    for line in first.stderr:
        first_err.append(line)
        if "stage ingest:" in line:
            break
    second = subprocess.run([str(GUTAXIS), "run", "--cohort", str(spec)], capture_output=True, text=True,
                            env=_env(tmp_path), cwd=PROJECT_ROOT, timeout=300)
    first_err.append(first.stderr.read())
    assert first.wait(timeout=300) == 0, "".join(first_err)
    assert second.returncode == 0, second.stderr
    errors = "".join(first_err) + second.stderr
    assert "could not set lock" not in errors.lower()
    assert "waiting for it to finish" in second.stderr
    assert _snapshot(tmp_path) == state_b


def test_analyst_can_query_while_a_run_writes(tmp_path, clean):
    state_a, _ = clean
    assert _run(tmp_path, _spec(tmp_path, seed=1)).returncode == 0
    spec_b = _spec(tmp_path, seed=2)
    proc = subprocess.Popen([str(GUTAXIS), "run", "--cohort", str(spec_b)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True, env=_env(tmp_path), cwd=PROJECT_ROOT)
    answers = []
    for line in proc.stderr:
        if "stage " in line and "publish" not in line:
            # The writer holds its work database open right now; the analysts' file stays readable.
            conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
            answers.append(conn.execute("SELECT count(*) FROM cohort.diary_items WHERE cohort = 'faulty'").fetchall()[0][0])
            conn.close()
    assert proc.wait(timeout=300) == 0
    assert len(answers) >= 3 and set(answers) == {len(state_a["cohort.diary_items"])}


def test_sql_command_is_read_only(tmp_path, clean):
    assert _run(tmp_path, _spec(tmp_path, seed=1)).returncode == 0
    env = _env(tmp_path)
    read = subprocess.run([str(GUTAXIS), "sql", "SELECT count(*) AS n FROM cohort.diary_items", "--csv"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert read.returncode == 0 and read.stdout.splitlines()[1] == str(len(clean[0]["cohort.diary_items"]))
    write = subprocess.run([str(GUTAXIS), "sql", "DELETE FROM cohort.diary_items"], capture_output=True, text=True, env=env, timeout=120)
    assert write.returncode == 2 and "read-only" in write.stderr and "Traceback" not in write.stderr
    assert _snapshot(tmp_path) == clean[0]


def test_soak_repeated_runs_with_injected_failures_keep_clean_marts(tmp_path, clean):
    """Bounded: 6 runs of the same data, most with a fault; published marts always equal a clean run's."""
    state_a, _ = clean
    spec = _spec(tmp_path, seed=1)
    assert _run(tmp_path, spec).returncode == 0
    faults = ["ingest:kill", "exposures:raise", "publish-mid-transaction:kill", "", "snapshot-copy:raise", "ingest:raise"]
    deadline = time.monotonic() + 240
    for fault in faults:
        if time.monotonic() > deadline:
            break
        done = _run(tmp_path, spec, **({"GUTAXIS_INJECT_FAULT": fault} if fault else {}))
        assert (done.returncode == 0) == (fault == ""), (fault, done.stderr[-500:])
        assert _snapshot(tmp_path) == state_a, fault
    assert _run(tmp_path, spec).returncode == 0
    assert _snapshot(tmp_path) == state_a
