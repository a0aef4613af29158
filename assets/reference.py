"""The component registry, loaded into reference.components."""
import dagster as dg

from assets.resources import WarehouseResource
from gutaxis import warehouse


@dg.asset(group_name="reference", description="Component registry (data/reference/components.csv).")
def reference_components(warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    with warehouse_db.writer() as conn:
        count = warehouse.load_reference(conn)
    return dg.MaterializeResult(metadata={"components": count})
