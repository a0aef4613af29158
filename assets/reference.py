"""The component registry, loaded into reference.components."""
import dagster as dg

from assets.resources import WarehouseResource
from gutaxis import warehouse


@dg.asset(group_name="reference", description="Component and outcome registries (data/reference/components.csv, outcomes.csv).")
def reference_components(warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    with warehouse_db.writer() as conn:
        count = warehouse.load_reference(conn)
        outcomes = warehouse.load_outcome_registry(conn)
    return dg.MaterializeResult(metadata={"components": count, "outcomes": outcomes})
