"""A sharded cohort's shards, run on the configured executor before its ingest (gutaxis.sharded_run)."""
import dagster as dg

from assets.composition import composition_assets, composition_fndds_derived
from assets.partitions import cohort_partitions, cohort_spec, log_stage, partition_key, run_key
from assets.resources import ShardsResource, WarehouseResource
from assets.results import failure
from gutaxis import GutaxisError, interrupts, lake, sharded_run, stages

# A lost worker, a lost scheduler connection or a killed pool process fails the step; the retry
# recomputes only the shards that have no complete output yet. Bad input is not retried.
SHARD_RETRIES = dg.RetryPolicy(max_retries=2, delay=1)


@dg.asset(partitions_def=cohort_partitions, group_name="cohort", deps=[*composition_assets, composition_fndds_derived],
          retry_policy=SHARD_RETRIES,
          description="Participant shards of a sharded cohort (spec key shards), computed where the shards resource "
                      "says and written to the lake (GUTAXIS_LAKE); nothing to do for a cohort of one shard.")
def cohort_shards(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource,
                  shards: ShardsResource) -> dg.MaterializeResult:
    key = run_key(context)
    try:
        spec = cohort_spec(context)
        sharded = sharded_run.is_sharded(spec)  # `auto` looks at the data files
    except GutaxisError as exc:  # bad input is not retried; recorded as the ingest records it
        with warehouse_db.writer() as conn:
            stages.fail(conn, partition_key(context), key, str(exc))
        raise failure(exc) from None
    if not sharded:
        return dg.MaterializeResult(metadata={"shards": 1})
    log_stage(context, "shards")
    with warehouse_db.writer() as conn:
        try:
            summary = sharded_run.compute_shards(conn, spec, key, lake.configured(), shards.resolved())
        except GutaxisError as exc:
            stages.fail(conn, partition_key(context), key, str(exc))
            raise failure(exc) from None
        except Exception as exc:
            # retried by the policy while attempts remain; the last failure is recorded as any step's
            if context.retry_number >= SHARD_RETRIES.max_retries:
                first = str(exc).splitlines()[0] if str(exc) else ""
                stages.fail(conn, partition_key(context), key, f"internal error: {type(exc).__name__}: {first}")
            raise
        except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError):
            with interrupts.deferred():  # as assets.results.recorded_failure: recorded, no snapshot copy
                stages.fail(conn, partition_key(context), key, "interrupted", snapshot=False)
            raise
    if context.retry_number:
        summary["attempt"] = context.retry_number + 1
    return dg.MaterializeResult(metadata=summary)
