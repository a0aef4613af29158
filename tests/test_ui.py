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
