"""A sensor that notices new or changed cohort specs, data files, and analysis files naming a cohort."""
import json

import dagster as dg

from assets.partitions import cohort_partitions
from gutaxis import GutaxisError
from gutaxis.cohorts import synthetic_to_retire
from gutaxis.analysis.declarations import analysis_inputs
from gutaxis.freshness import unchanged_since_publish
from gutaxis.specs import CohortSpec, cohorts_dir, load_cohort_spec
from pipelines.jobs import cohort_job


def _registered() -> dict[str, tuple[CohortSpec, str]]:
    """Cohort name -> (spec, fingerprint of its spec and data files: size and mtime, cheap for big files)."""
    found = {}
    retired = synthetic_to_retire()
    for spec_path in sorted(cohorts_dir().glob("*.yaml")):
        try:
            spec = load_cohort_spec(spec_path)
            if spec.name in retired:
                continue  # the synthetic demo beside real cohorts: see specs.without_synthetic_beside_real
            files = [spec_path, *spec.data_files()]
        except GutaxisError:
            continue  # an invalid or data-less spec is reported by `gutaxis cohort check`, not run
        found[spec.name] = (spec, ";".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files + analysis_inputs(spec)))
    return found


@dg.sensor(job=cohort_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def cohort_spec_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    seen = json.loads(context.cursor) if context.cursor else {}
    registered = _registered()
    current = {name: fingerprint for name, (_, fingerprint) in registered.items()}
    # A fingerprint differs on the first tick (no cursor: a new Dagster home, or `gutaxis ui` opened
    # for the first time) and whenever a file is touched; only a spec or data file whose content
    # differs from what the cohort's published run read is worth a run (the sha256 comparison
    # reads the files, so it is made only for cohorts whose fingerprint moved).
    moved = sorted(name for name, fingerprint in current.items() if seen.get(name) != fingerprint)
    changed = [name for name in moved if not unchanged_since_publish(registered[name][0])]
    skipped = [name for name in moved if name not in changed]
    if skipped:
        context.log.info(f"unchanged since their last publish, not run again: {', '.join(skipped)}")
    known = set(context.instance.get_dynamic_partitions(cohort_partitions.name))
    new = [name for name in moved if name not in known]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=name, run_key=f"{name}:{current[name]}") for name in changed],
        dynamic_partitions_requests=[cohort_partitions.build_add_request(new)] if new else [],
        cursor=json.dumps(current, sort_keys=True),
    )
