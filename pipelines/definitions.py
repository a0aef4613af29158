"""The Dagster code location: `dagster dev -m pipelines.definitions` (what `gutaxis ui` runs)."""
import dagster as dg

from assets.analysis import analysis_assets, analysis_checks
from assets.composition import composition_assets, composition_fndds_derived
from assets.diaries import cohort_diary_items, diary_items_valid
from assets.exposures import cohort_exposures, exposures_valid
from assets.indices import cohort_indices, indices_valid
from assets.publish import published_cohort
from assets.reference import reference_components
from assets.report import cohort_report
from assets.resources import ShardsResource, WarehouseResource
from assets.shards import cohort_shards
from pipelines.jobs import cohort_job, reference_job
from pipelines.schedules import daily_cohorts, daily_reference
from pipelines.sensors import cohort_spec_sensor

defs = dg.Definitions(
    assets=[reference_components, *composition_assets, composition_fndds_derived, cohort_shards, cohort_diary_items,
            cohort_exposures, *analysis_assets, cohort_indices, published_cohort, cohort_report],
    asset_checks=[diary_items_valid, exposures_valid, *analysis_checks, indices_valid],
    jobs=[reference_job, cohort_job],
    schedules=[daily_reference, daily_cohorts],
    sensors=[cohort_spec_sensor],
    resources={"warehouse_db": WarehouseResource(), "shards": ShardsResource()},
)
