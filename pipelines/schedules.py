"""Daily: refresh composition sources, then re-run every cohort partition."""
import dagster as dg

from assets.partitions import cohort_partitions
from gutaxis.cohorts import synthetic_to_retire
from pipelines.jobs import cohort_job, reference_job


@dg.schedule(job=reference_job, cron_schedule="0 2 * * *", execution_timezone="UTC")
def daily_reference(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest()


@dg.schedule(job=cohort_job, cron_schedule="30 2 * * *", execution_timezone="UTC")
def daily_cohorts(context: dg.ScheduleEvaluationContext):
    # Partitions are added by the cohort sensor when a spec appears; the schedule re-runs them all.
    retired = set(synthetic_to_retire())  # the synthetic demo beside real cohorts: see specs.without_synthetic_beside_real
    keys = [key for key in context.instance.get_dynamic_partitions(cohort_partitions.name) if key not in retired]
    if not keys:
        return dg.SkipReason("no cohort partitions yet (the cohort sensor adds them)")
    return [dg.RunRequest(partition_key=key) for key in keys]
