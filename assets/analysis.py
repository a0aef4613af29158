"""A cohort's analysis: participants, outcomes, population estimates and associations, staged after its
exposures and published with them (assets/publish.py), each with a blocking check."""
import dagster as dg

from assets.exposures import cohort_exposures
from assets.partitions import cohort_partitions, cohort_spec, log_stage, partition_key, run_key
from assets.resources import WarehouseResource
from assets.results import audited, recorded_failure
from gutaxis.analysis import steps


def step(context, warehouse_db: WarehouseResource, stage: str, step) -> dg.MaterializeResult:
    log_stage(context, stage)
    with warehouse_db.writer() as conn, recorded_failure(conn, partition_key(context), run_key(context)):
        summary = step(conn, cohort_spec(context), run_key(context))
    return dg.MaterializeResult(metadata=summary)


@dg.asset(partitions_def=cohort_partitions, group_name="analysis", deps=[cohort_exposures],
          description="cohort.participants rows: attributes and survey design from the declared tables, dietary "
                      "weights from the diary files, has_usable_recall (participants without one are kept).")
def cohort_participants(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    return step(context, warehouse_db, "participants", steps.stage_participants)


@dg.asset(partitions_def=cohort_partitions, group_name="analysis", deps=[cohort_participants],
          description="cohort.outcomes rows: PHQ-9 from NHANES DPQ, registered tabular outcomes (oxytocin in pg/mL).")
def cohort_outcomes(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    return step(context, warehouse_db, "outcomes", steps.stage_outcomes)


@dg.asset(partitions_def=cohort_partitions, group_name="analysis",
          deps=[cohort_participants, cohort_outcomes, dg.AssetKey("cohort_indices")],
          description="marts.population_estimates and marts.association_estimates of the cohort's analyses "
                      "(svy, Taylor linearisation; the weight of the smallest subsample used), and the indices' "
                      "population-ratio scores.")
def cohort_estimates(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    return step(context, warehouse_db, "estimates", steps.stage_estimates)


@dg.asset_check(asset=cohort_participants, blocking=True,
                description="Where a design is declared: strata, PSUs and the weight present, weights > 0.")
def participants_valid(context: dg.AssetCheckExecutionContext, warehouse_db: WarehouseResource) -> dg.AssetCheckResult:
    log_stage(context, "audit-participants")
    return audited(context, warehouse_db, steps.check_participants)


@dg.asset_check(asset=cohort_outcomes, blocking=True, description="PHQ-9 within 0-27; outcomes within their registry range.")
def outcomes_valid(context: dg.AssetCheckExecutionContext, warehouse_db: WarehouseResource) -> dg.AssetCheckResult:
    log_stage(context, "audit-outcomes")
    return audited(context, warehouse_db, steps.check_outcomes)


@dg.asset_check(asset=cohort_estimates, blocking=True,
                description="Estimates finite, CI containing them; lonely-PSU rule recorded where a stratum has one PSU.")
def estimates_valid(context: dg.AssetCheckExecutionContext, warehouse_db: WarehouseResource) -> dg.AssetCheckResult:
    log_stage(context, "audit-estimates")
    return audited(context, warehouse_db, steps.check_estimates)


analysis_assets = [cohort_participants, cohort_outcomes, cohort_estimates]
analysis_checks = [participants_valid, outcomes_valid, estimates_valid]
