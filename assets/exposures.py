"""A cohort's exposures computed from its staged items; GX audit as a blocking check."""
import dagster as dg

from assets.diaries import cohort_diary_items
from assets.partitions import cohort_partitions, cohort_spec, log_stage, partition_key, run_key
from assets.resources import WarehouseResource
from assets.results import audited, recorded_failure
from gutaxis import stages


@dg.asset(partitions_def=cohort_partitions, group_name="cohort", deps=[cohort_diary_items],
          description="Staged per-day, per-participant and per-food exposures of one cohort.")
def cohort_exposures(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    log_stage(context, "exposures")
    with warehouse_db.writer() as conn, recorded_failure(conn, partition_key(context), run_key(context)):
        summary = stages.compute_exposures(conn, cohort_spec(context), run_key(context))
    return dg.MaterializeResult(metadata=summary)


@dg.asset_check(asset=cohort_exposures, blocking=True, description="GX suites on the staged exposures.")
def exposures_valid(context: dg.AssetCheckExecutionContext, warehouse_db: WarehouseResource) -> dg.AssetCheckResult:
    log_stage(context, "audit-exposures")
    return audited(context, warehouse_db, stages.audit_exposures)
