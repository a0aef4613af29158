"""`gutaxis run` and `gutaxis cohort check`: the same Dagster jobs the schedule runs, launched in-process."""
from __future__ import annotations

import signal
import uuid

import dagster as dg

from assets.partitions import SPEC_TAG, cohort_partitions
from gutaxis import GutaxisError, interrupts, lake, shard_executors, sharded_run, stages, warehouse
from gutaxis.report import CohortReport, cohort_report
from gutaxis.specs import CohortSpec, cohorts_dir, load_cohort_spec, resolve_cohort, without_synthetic_beside_real


NOT_RUN = ": not run: "  # the error line of a registered spec that cannot be read (the CLI exits 2 for it)


def _specs(names_or_paths: list[str] | None, replace: bool = False) -> tuple[list[tuple[CohortSpec, bool]], list[str]]:
    """(spec, one_off) for each requested cohort, and one line per registered spec that cannot be
    read (default: every registered cohort; a broken one does not stop the others)."""
    if not names_or_paths:
        return _registered_specs()
    out = []
    for item in names_or_paths:
        spec = resolve_cohort(item)
        out.append((spec, spec.spec_path.parent.resolve() != cohorts_dir().resolve()))
    return _without_name_collisions(out, replace), []


def _registered_specs() -> tuple[list[tuple[CohortSpec, bool]], list[str]]:
    specs, broken = [], []
    for spec_path in sorted(cohorts_dir().glob("*.yaml")):
        try:
            specs.append(load_cohort_spec(spec_path))
        except GutaxisError as exc:
            broken.append(f"{spec_path.stem}{NOT_RUN}{exc}")
    return [(spec, False) for spec in without_synthetic_beside_real(specs)], broken


def _without_name_collisions(specs: list[tuple[CohortSpec, bool]], replace: bool) -> list[tuple[CohortSpec, bool]]:
    """Refuse two spec files with one cohort name in one command, and a one-off spec that would
    replace a registered cohort's published rows (unless replace); the same spec twice runs once."""
    by_name: dict[str, CohortSpec] = {}
    kept = []
    for spec, one_off in specs:
        earlier = by_name.get(spec.name)
        if earlier is not None:
            if earlier.spec_path == spec.spec_path:
                continue
            raise GutaxisError(f"{spec.spec_path}: cohort name {spec.name!r} is also the name of {earlier.spec_path}; "
                               "one run publishes one spec per name: rename one of them (field 'name') or run them one at a time")
        by_name[spec.name] = spec
        registered = cohorts_dir() / f"{spec.name}.yaml"
        if one_off and registered.is_file() and not replace:
            raise GutaxisError(f"{spec.spec_path}: cohort name {spec.name!r} is a registered cohort's ({registered}); "
                               "running it would replace that cohort's published rows: rename this spec (field 'name'), "
                               "or give --replace to replace them")
        kept.append((spec, one_off))
    return kept


def _failure_lines(result: dg.ExecuteInProcessResult, cohort: str) -> list[str]:
    lines = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:  # the user-facing reason is the innermost
                error = error.cause
            message = (error.message or "").strip().splitlines()[0] if error and (error.message or "").strip() else "step failed"
            if message.startswith(("dagster.", "gutaxis.")):  # "module.Class: text" -> "text"
                message = message.partition(": ")[2] or message
            lines.append(f"{cohort}: {event.step_key}: {message}")
    return lines


def _instance() -> dg.DagsterInstance:
    """The project's Dagster instance (DAGSTER_HOME/dagster.yaml), without capturing compute logs.

    The capture runs `tail -F` and a watcher interpreter beside every job: child processes that a
    terminal's Ctrl-C also hits (the watcher then prints a traceback of its own) and that cost
    an interpreter start per job. The CLI prints its stage lines itself and Dagster's event log
    keeps them; the UI's own runs still capture (dagster.yaml is unchanged).
    """
    import os

    from dagster._core.instance.ref import InstanceRef

    ref = InstanceRef.from_dir(os.environ["DAGSTER_HOME"], overrides={"compute_logs": {
        "module": "dagster._core.storage.noop_compute_log_manager", "class": "NoOpComputeLogManager"}})
    return dg.DagsterInstance.from_ref(ref)


# Dagster's console logger prints stack traces for failed steps; the CLI prints one line per failure
# itself, and the assets print their stage lines, so keep the console quiet.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def run_cohorts(names_or_paths: list[str] | None, replace: bool = False) -> tuple[list[CohortReport], list[str]]:
    """Run the cohorts one after the other; errors: one line per cohort not published (and per
    registered spec that cannot be read). SIGINT or SIGTERM stops the whole command:
    interrupts.Interrupted, naming the cohorts published before it."""
    from pipelines.definitions import defs

    specs, errors = _specs(names_or_paths, replace)
    instance = _instance()
    reports: list[CohortReport] = []
    with interrupts.watched():
        try:
            # one writer connection for every step of every job of this command (warehouse.writer_session)
            with warehouse.writer_lock(warehouse.warehouse_path()), warehouse.writer_session():
                reference = defs.resolve_job_def("reference_job").execute_in_process(
                    instance=instance, run_config=QUIET, raise_on_error=False)
                interrupts.stop_if_received()
                if not reference.success:
                    return [], _failure_lines(reference, "reference") or ["reference: loading composition sources failed"]
                for spec, one_off in specs:
                    reports.append(_run_cohort(defs, instance, spec, one_off, errors))
                    interrupts.stop_if_received()
        except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError) as exc:
            signum = exc.signum if isinstance(exc, interrupts.Interrupted) else interrupts.received() or signal.SIGINT
            raise interrupts.Interrupted(signum, [r.cohort for r in reports if r.outcome == "published"]) from None
    return reports, errors


def _run_cohort(defs, instance: dg.DagsterInstance, spec: CohortSpec, one_off: bool, errors: list[str]) -> CohortReport:
    instance.add_dynamic_partitions(cohort_partitions.name, [spec.name])
    tags = {SPEC_TAG: str(spec.spec_path)} if one_off else {}
    result = defs.resolve_job_def("cohort_job").execute_in_process(
        partition_key=spec.name, instance=instance, tags=tags, run_config=QUIET, raise_on_error=False)
    key = stages.run_key(result.run_id)
    with warehouse.open_writer() as conn:
        rep = cohort_report(conn, spec.name, key)
    if rep.outcome == "published":
        rep.html_report = _html_report(result, spec.name)
    if rep.outcome != "published" and interrupts.received() is None:
        before = len(errors)
        errors += _failure_lines(result, spec.name)
        errors += [f"{spec.name}: check failed: {c}" for c in rep.checks_failed]
        if len(errors) == before:
            errors.append(f"{spec.name}: not published ({rep.outcome})")
    return rep


def _html_report(result: dg.ExecuteInProcessResult, cohort: str) -> str:
    """Where the run's cohort_report step wrote the HTML report, or why it did not (the data are published
    either way)."""
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION" and event.asset_key == dg.AssetKey("cohort_report"):
            path = event.materialization.metadata.get("path")
            return _shown(path.value) if path is not None else "written"
    failed = [line.split(": ", 2)[-1] for line in _failure_lines(result, cohort) if ": cohort_report: " in line]
    return f"not written: {failed[0]} (`gutaxis report {cohort}` writes it)" if failed else ""


def _shown(path: str) -> str:
    from pathlib import Path

    from gutaxis import PROJECT_ROOT

    return str(Path(path).relative_to(PROJECT_ROOT)) if Path(path).is_relative_to(PROJECT_ROOT) else path


def check_cohort(name_or_path: str) -> CohortReport:
    """Ingest, compute and audit a cohort and its analysis (participants, outcomes, estimates) without
    publishing; staging is dropped afterwards."""
    from gutaxis.analysis import steps as analysis_steps
    from pipelines.definitions import defs

    spec = resolve_cohort(name_or_path)
    key = "check" + uuid.uuid4().hex[:11]
    instance = _instance()
    with warehouse.writer_lock(warehouse.warehouse_path()), warehouse.writer_session():
        defs.resolve_job_def("reference_job").execute_in_process(instance=instance, run_config=QUIET, raise_on_error=False)
        with warehouse.open_writer() as conn:
            try:
                if sharded_run.is_sharded(spec):
                    sharded_run.compute_shards(conn, spec, key, lake.configured(), shard_executors.configured())
                stages.ingest(conn, spec, key)
                results = stages.audit_diary_items(conn, spec, key)
                if stages.blocking_failures(results).height == 0:
                    stages.compute_exposures(conn, spec, key)
                    results = stages.audit_exposures(conn, spec, key)
                # then the analysis steps, as a run takes them, each only after its predecessors' checks passed
                for stage, audit in analysis_steps.STAGES_AND_CHECKS:
                    if stages.blocking_failures(results).height:
                        break
                    stage(conn, spec, key)
                    results = audit(conn, spec, key)
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
