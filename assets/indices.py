"""A cohort's diet-quality indices (HEI-2015, HEI-2020, ...), staged after its participants (for their ages)
and outcomes, and published with its exposures (assets/publish.py), with a blocking check."""
import dagster as dg

from assets.analysis import cohort_outcomes, cohort_participants, step
from assets.partitions import cohort_partitions, log_stage
from assets.resources import WarehouseResource
from assets.results import audited
from gutaxis.indices import steps


# after the outcomes too: the cohort's steps run as one chain, so a failed step stops those after it
@dg.asset(partitions_def=cohort_partitions, group_name="analysis", deps=[cohort_participants, cohort_outcomes],
          description="marts.participant_day_index and marts.participant_index rows: every registered index the "
                      "cohort's components allow, per participant-day and on each participant's mean intakes; the "
                      "others recorded as not computable with the components they lack (audit.index_status).")
def cohort_indices(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    return step(context, warehouse_db, "indices", steps.stage_indices)


@dg.asset_check(asset=cohort_indices, blocking=True,
                description="Each component score within 0..max; each total equal to the sum of its components.")
def indices_valid(context: dg.AssetCheckExecutionContext, warehouse_db: WarehouseResource) -> dg.AssetCheckResult:
    log_stage(context, "audit-indices")
    return audited(context, warehouse_db, steps.check_indices)
