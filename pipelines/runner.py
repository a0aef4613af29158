"""`gutaxis run` and `gutaxis cohort check`: the same Dagster jobs the schedule runs, launched in-process."""
from __future__ import annotations

import uuid

import dagster as dg

from assets.partitions import SPEC_TAG, cohort_partitions
from gutaxis import GutaxisError, stages, warehouse
from gutaxis.report import CohortReport, cohort_report
from gutaxis.specs import CohortSpec, cohorts_dir, registered_cohorts, resolve_cohort


def _specs(names_or_paths: list[str] | None) -> list[tuple[CohortSpec, bool]]:
    """(spec, one_off) for each requested cohort; default every registered cohort."""
    if not names_or_paths:
        return [(spec, False) for spec in registered_cohorts()]
    out = []
    for item in names_or_paths:
        spec = resolve_cohort(item)
        out.append((spec, spec.spec_path.parent.resolve() != cohorts_dir().resolve()))
    return out


def _failure_lines(result: dg.ExecuteInProcessResult, cohort: str) -> list[str]:
    lines = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:  # the user-facing reason is the innermost
                error = error.cause
            message = (error.message or "").strip().splitlines()[0] if error else "step failed"
            message = message.split(": ", 1)[1] if message.startswith(("dagster.", "gutaxis.")) else message
            lines.append(f"{cohort}: {event.step_key}: {message}")
    return lines


# Dagster's console logger prints stack traces for failed steps; the CLI prints one line per failure
# itself, and the assets print their stage lines, so keep the console quiet.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def run_cohorts(names_or_paths: list[str] | None) -> tuple[list[CohortReport], list[str]]:
    from pipelines.definitions import defs

    specs = _specs(names_or_paths)
    instance = dg.DagsterInstance.get()
    reports, errors = [], []
    with warehouse.writer_lock(warehouse.warehouse_path()):
        reference = defs.resolve_job_def("reference_job").execute_in_process(instance=instance, run_config=QUIET, raise_on_error=False)
        if not reference.success:
            return [], _failure_lines(reference, "reference") or ["reference: loading composition sources failed"]
        for spec, one_off in specs:
            instance.add_dynamic_partitions(cohort_partitions.name, [spec.name])
            tags = {SPEC_TAG: str(spec.spec_path)} if one_off else {}
            result = defs.resolve_job_def("cohort_job").execute_in_process(
                partition_key=spec.name, instance=instance, tags=tags, run_config=QUIET, raise_on_error=False)
            key = stages.run_key(result.run_id)
            with warehouse.open_writer() as conn:
                rep = cohort_report(conn, spec.name, key)
            reports.append(rep)
            if rep.outcome != "published":
                errors += _failure_lines(result, spec.name)
                errors += [f"{spec.name}: check failed: {c}" for c in rep.checks_failed]
                if not errors or not errors[-1].startswith(spec.name):
                    errors.append(f"{spec.name}: not published ({rep.outcome})")
    return reports, errors


def check_cohort(name_or_path: str) -> CohortReport:
    """Ingest, compute and audit a cohort without publishing; staging is dropped afterwards."""
    from pipelines.definitions import defs

    spec = resolve_cohort(name_or_path)
    key = "check" + uuid.uuid4().hex[:11]
    instance = dg.DagsterInstance.get()
    with warehouse.writer_lock(warehouse.warehouse_path()):
        defs.resolve_job_def("reference_job").execute_in_process(instance=instance, run_config=QUIET, raise_on_error=False)
        with warehouse.open_writer() as conn:
            try:
                stages.ingest(conn, spec, key)
                results = stages.audit_diary_items(conn, spec, key)
                if stages.blocking_failures(results).height == 0:
                    stages.compute_exposures(conn, spec, key)
                    stages.audit_exposures(conn, spec, key)
                rep = cohort_report(conn, spec.name, key, staged=True)
                warehouse.record_run(conn, key, cohort=spec.name, outcome="checked (not published)", finished=True)
                rep.outcome = "checked (not published)"
                warehouse.drop_staging(conn, spec.name)
                warehouse.publish_snapshot(conn)
            except GutaxisError as exc:
                stages.fail(conn, spec.name, key, str(exc))
                raise
            finally:
                warehouse.drop_staging(conn, spec.name)
    return rep
