"""One asset per composition source spec (data/sources/*.yaml)."""
import dagster as dg

from assets.reference import reference_components
from assets.resources import WarehouseResource
from gutaxis import stages
from gutaxis.composition import READERS
from gutaxis.specs import source_specs


def composition_asset_key(source_id: str) -> dg.AssetKey:
    return dg.AssetKey(f"composition_{source_id.replace('-', '_').replace('.', '_')}")


def _composition_asset(source_id: str, description: str) -> dg.AssetsDefinition:
    @dg.asset(key=composition_asset_key(source_id), group_name="composition", deps=[reference_components],
              description=description or f"Composition source {source_id}.")
    def _load(warehouse_db: WarehouseResource) -> dg.MaterializeResult:
        with warehouse_db.writer() as conn:
            outcome = stages.load_source(conn, source_id)
        return dg.MaterializeResult(metadata={k: v for k, v in outcome.items() if v is not None})

    return _load


# Only sources that are food-composition tables become assets here; recipe, crosswalk and
# classification sources (FNDDS ingredients, FDD, flavonoids, FPED) feed the derived values.
composition_assets = [_composition_asset(spec.id, spec.description) for spec in source_specs() if spec.format in READERS]


@dg.asset(group_name="composition", deps=composition_assets,
          description="FNDDS foods' components that the FNDDS table lacks (amino acids, flavonoids, prebiotics, "
                      "fermented foods), derived through SR28 ingredients and curated tables; missing sources reported. "
                      "Metadata: the FPED D_YOGURT cross-check of fermented foods (audit.yogurt_crosscheck).")
def composition_fndds_derived(warehouse_db: WarehouseResource) -> dg.MaterializeResult:
    with warehouse_db.writer() as conn:
        outcome = stages.load_derived(conn)
    return dg.MaterializeResult(metadata=outcome)
