"""Jobs: composition sources first (unpartitioned), then one run per cohort partition."""
import dagster as dg

from assets.analysis import analysis_assets
from assets.composition import composition_assets, composition_fndds_derived
from assets.diaries import cohort_diary_items
from assets.exposures import cohort_exposures
from assets.indices import cohort_indices
from assets.publish import published_cohort
from assets.reference import reference_components
from assets.report import cohort_report
from assets.shards import cohort_shards

# In-process: every step of a run shares the one-writer lock of its process.
reference_job = dg.define_asset_job(
    "reference_job", selection=dg.AssetSelection.assets(reference_components, *composition_assets, composition_fndds_derived),
    executor_def=dg.in_process_executor,
    description="Load the component registry and every fetched composition source.")

cohort_job = dg.define_asset_job(
    "cohort_job", selection=dg.AssetSelection.assets(cohort_shards, cohort_diary_items, cohort_exposures, *analysis_assets,
                                                     cohort_indices, published_cohort, cohort_report),
    executor_def=dg.in_process_executor,
    description="Ingest, compute, audit and publish one cohort (partition = cohort name), then write its HTML report.")
