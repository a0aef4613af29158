"""Publishing: a cohort's staged rows replace its published rows in one transaction."""
import dagster as dg

from assets.analysis import analysis_assets
from assets.diaries import cohort_diary_items
from assets.exposures import cohort_exposures
from assets.indices import cohort_indices
from assets.partitions import cohort_partitions, cohort_spec, log_stage, partition_key, run_key
from assets.resources import WarehouseResource
from assets.results import recorded_failure
from gutaxis import report, stages


@dg.asset(partitions_def=cohort_partitions, group_name="cohort", deps=[cohort_diary_items, cohort_exposures, *analysis_assets, cohort_indices],
          description="The cohort's rows in cohort.* and marts.* (exposures, participants, outcomes, indices, estimates), replaced "
                      "atomically once every blocking check passed.")
def published_cohort(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    log_stage(context, "publish")
    with warehouse_db.writer() as conn, recorded_failure(conn, partition_key(context), run_key(context)):
        counts = stages.publish(conn, cohort_spec(context), run_key(context))
        rep = report.cohort_report(conn, partition_key(context), run_key(context))
    # what a researcher looks for in the UI: the counts, coverage per component (numbers, so that
    # the UI plots them across runs) and the summary `gutaxis run` prints, as markdown
    metadata = {**report.headline(rep), **{f"coverage {c}": v for c, v in rep.coverage.items() if v is not None},
                "rows": dg.MetadataValue.json({k.split(".")[-1]: v for k, v in counts.items()}),
                "summary": dg.MetadataValue.md(report.format_markdown(rep))}
    return dg.MaterializeResult(metadata=metadata)
