"""The cohort's HTML report, written after every publish from the published warehouse (read-only)."""
import dagster as dg

from assets.partitions import cohort_partitions, log_stage, partition_key
from assets.publish import published_cohort
from assets.resources import WarehouseResource
from assets.results import failure
from gutaxis import GutaxisError
from gutaxis.analysis.report_html import write_report


@dg.asset(partitions_def=cohort_partitions, group_name="cohort", deps=[published_cohort],
          description="data/reports/COHORT.html: one self-contained page (inclusion flow, coverage, one-day and usual "
                      "intake per component, food sources, estimates, forest plot, provenance), from what was published.")
def cohort_report(context: dg.AssetExecutionContext, warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    log_stage(context, "report")
    cohort = partition_key(context)
    try:
        # the publish is done: a report that cannot be written fails this step only, never the run's data
        written = write_report(cohort, None, warehouse_db.path or None)
    except GutaxisError as exc:
        raise failure(exc) from None
    path = str(written.path.resolve())
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(path),
                                          "url": dg.MetadataValue.url(written.path.resolve().as_uri()),
                                          "plots": written.plots, "size (bytes)": written.size_bytes})
