"""`gutaxis ui` as a researcher opens and closes it: the sensor leaves unchanged cohorts alone, every
process stops with it, its state stays out of git, and the assets show what a researcher wants."""
from __future__ import annotations

import os

import dagster as dg
import pytest

from pipelines.runner import run_cohorts
from pipelines.sensors import cohort_spec_sensor
from tests.conftest import write_spec

DEMO_COLUMNS = {"participant_id": "participant", "recall_day": "day", "food_code": "food_code", "grams": "grams"}


@pytest.mark.slow
def test_the_sensor_does_not_rerun_a_cohort_unchanged_since_its_publish(isolated, tmp_path, monkeypatch):
    cohorts = tmp_path / "cohorts"
    cohorts.mkdir()
    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(cohorts))
    data = isolated / "raw" / "diary.csv"  # a registered cohort reads under the data folders
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("participant,day,food_code,grams\np1,1,99000001,100\np2,1,99000002,50\n", encoding="utf-8")
    for name in ("kept", "fresh"):
        write_spec(cohorts, name, format="tabular", path=str(data), composition="demo", columns=DEMO_COLUMNS)
    assert run_cohorts(["kept"])[1] == []

    # First tick (a new Dagster home: no cursor): only the never-published cohort runs.
    instance = dg.DagsterInstance.ephemeral()
    first = cohort_spec_sensor(dg.build_sensor_context(instance=instance))
    assert [r.partition_key for r in first.run_requests] == ["fresh"]
    assert sorted(first.dynamic_partitions_requests[0].partition_keys) == ["fresh", "kept"]
    instance.add_dynamic_partitions("cohorts", ["fresh", "kept"])

    # Touched, same bytes: nothing to run. Then a changed spec, then changed data: a run each.
    os.utime(data, ns=(1, 1))
    touched = cohort_spec_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
    assert [r.partition_key for r in touched.run_requests] == ["fresh"]  # fresh still unpublished
    spec = cohorts / "kept.yaml"
    spec.write_text(spec.read_text(encoding="utf-8") + "low_coverage_threshold: 0.5\n", encoding="utf-8")
    respec = cohort_spec_sensor(dg.build_sensor_context(instance=instance, cursor=touched.cursor))
    assert [r.partition_key for r in respec.run_requests] == ["kept"]
    assert run_cohorts(["kept"])[1] == []
    settled = cohort_spec_sensor(dg.build_sensor_context(instance=instance, cursor=None))
    assert [r.partition_key for r in settled.run_requests] == ["fresh"]
    with open(data, "a", encoding="utf-8") as handle:
        handle.write("p3,1,99000003,10\n")
    redata = cohort_spec_sensor(dg.build_sensor_context(instance=instance, cursor=settled.cursor))
    assert sorted(r.partition_key for r in redata.run_requests) == ["fresh", "kept"]


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _untracked() -> set[str]:
    import subprocess

    from gutaxis import PROJECT_ROOT

    done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60)
    return {line for line in done.stdout.splitlines() if line.startswith("??")}


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT"])
def test_stopping_gutaxis_ui_stops_every_process_it_started_and_leaves_git_clean(isolated, tmp_path, stop):
    import signal
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    from gutaxis import PROJECT_ROOT
    from pipelines.ui import alive, started_by

    before = _untracked()
    (tmp_path / "cohorts").mkdir()
    port = _free_port()
    env = {**os.environ, "GUTAXIS_COHORTS_DIR": str(tmp_path / "cohorts")}  # the daemon has nothing to run
    gutaxis = Path(sys.executable).parent / "gutaxis"
    log = open(tmp_path / "ui.log", "w+")
    ui = subprocess.Popen([str(gutaxis), "ui", "--host", "127.0.0.1", "--port", str(port)], cwd=PROJECT_ROOT, env=env,
                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, up = time.monotonic() + 240, False
        while time.monotonic() < deadline and ui.poll() is None and not up:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as response:
                    up = response.status == 200
            except OSError:
                time.sleep(1)
        assert up, "the web UI did not answer: " + (tmp_path / "ui.log").read_text()[-2000:]
        time.sleep(5)  # let the daemon and code servers come up too
        started = started_by(ui.pid)
        assert len(started) >= 4, started  # gutaxis, dagster dev, webserver, daemon (+ code servers)
        ui.send_signal(getattr(signal, stop))
        code = ui.wait(120)
    finally:
        if ui.poll() is None:
            os.killpg(ui.pid, signal.SIGKILL)
    assert code == 128 + getattr(signal, stop)
    assert alive(started) == set(), (tmp_path / "ui.log").read_text()[-2000:]
    assert alive(started_by(ui.pid)) == set()  # nothing left in its session either
    assert _untracked() == before  # UI state (.nux/, history, logs) is ignored by git or kept outside


@pytest.mark.parametrize("path", [".nux/nux.yaml", ".telemetry/id.yaml", ".logs_queue/run.log", "logs/event.log",
                                  "history/runs.db", "schedules/schedules.db", "storage/runs.db", ".dagster/runs.db"])
def test_dagster_ui_state_in_the_project_root_is_ignored_by_git(path):
    import subprocess

    from gutaxis import PROJECT_ROOT

    done = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=PROJECT_ROOT, timeout=30)
    assert done.returncode == 0, f"{path} would show in git status"


@pytest.mark.slow
def test_the_published_asset_shows_counts_coverage_and_a_markdown_summary(isolated):
    assert run_cohorts(["demo"])[1] == []
    event = dg.DagsterInstance.get().get_latest_materialization_event(dg.AssetKey("published_cohort"))
    metadata = {key: getattr(value, "value", value) for key, value in event.asset_materialization.metadata.items()}
    assert metadata["participants"] == 24 and metadata["recall days"] == 48
    assert metadata["quarantined rows"] == 2 and "unlinked items" in metadata
    assert 0 < metadata["coverage fiber"] <= 1 and "coverage tryptophan" in metadata
    summary = event.asset_materialization.metadata["summary"]
    assert isinstance(summary, dg.MarkdownMetadataValue)
    assert "| participants | recall days |" in summary.value and "| 24 | 48 |" in summary.value
    assert "cohort demo: published" in summary.value and "| fiber |" in summary.value
