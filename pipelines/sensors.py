"""A sensor that notices new or changed cohort specs, data files, and analysis files naming a cohort."""
import json

import dagster as dg

from assets.partitions import cohort_partitions
from gutaxis import GutaxisError
from gutaxis.specs import cohorts_dir, load_cohort_spec
from pipelines.jobs import cohort_job


def cohort_fingerprints() -> dict[str, str]:
    """Cohort name -> fingerprint of its spec and data files (size and mtime; cheap for big files)."""
    prints = {}
    for spec_path in sorted(cohorts_dir().glob("*.yaml")):
        try:
            spec = load_cohort_spec(spec_path)
            files = [spec_path, *spec.data_files()]
        except GutaxisError:
            continue  # an invalid or data-less spec is reported by `gutaxis cohort check`, not run
        prints[spec.name] = ";".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files + analysis_inputs(spec))
    return prints


def analysis_inputs(spec) -> list:
    """The analysis files naming the cohort and its attribute and outcome tables: a new or changed one reruns
    the cohort (its estimates are published with its exposures)."""
    from gutaxis.analysis.declarations import analyses_dir, load_analysis_file, resolve_path

    files = []
    for path in sorted(analyses_dir().glob("*.yaml")):
        try:
            if spec.name in load_analysis_file(path).cohorts:
                files.append(path)
        except GutaxisError:
            files.append(path)  # a broken analysis file is a change too: the run reports it in one line
    for table in (spec.participants or []) + (spec.outcomes or []):
        path = resolve_path(spec.base_dir, str(table.get("path", "")))
        if path.is_file():
            files.append(path)
    return files


@dg.sensor(job=cohort_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def cohort_spec_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    seen = json.loads(context.cursor) if context.cursor else {}
    current = cohort_fingerprints()
    changed = sorted(name for name, fp in current.items() if seen.get(name) != fp)
    known = set(context.instance.get_dynamic_partitions(cohort_partitions.name))
    new = [name for name in changed if name not in known]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=name, run_key=f"{name}:{current[name]}") for name in changed],
        dynamic_partitions_requests=[cohort_partitions.build_add_request(new)] if new else [],
        cursor=json.dumps(current, sort_keys=True),
    )
