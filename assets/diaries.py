"""A cohort's diary: read, typed, rule-checked and staged; GX audit as a blocking check."""
import dagster as dg

from assets.composition import composition_assets, composition_fndds_derived
from assets.partitions import cohort_partitions, cohort_spec, log_stage, partition_key, run_key
from assets.resources import WarehouseResource
from assets.results import audited, recorded_failure
from assets.shards import cohort_shards
from gutaxis import stages


@dg.asset(partitions_def=cohort_partitions, group_name="cohort", deps=[*composition_assets, composition_fndds_derived, cohort_shards],
          description="Staged diary items of one cohort (store.diary_items__COHORT__RUN until published).")
def cohort_diary_items(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    log_stage(context, "ingest")
    with warehouse_db.writer() as conn, recorded_failure(conn, partition_key(context), run_key(context)):
        summary = stages.ingest(conn, cohort_spec(context), run_key(context), context.run.run_id)
    return dg.MaterializeResult(metadata=summary)


@dg.asset_check(asset=cohort_diary_items, blocking=True, description="GX suite on the staged items.")
def diary_items_valid(context: dg.AssetCheckExecutionContext, warehouse_db: WarehouseResource) -> dg.AssetCheckResult:
    log_stage(context, "audit-items")
    return audited(context, warehouse_db, stages.audit_diary_items)
