"""The component registry (data/reference/components.csv): ids, units, categories."""
from functools import lru_cache

import polars as pl

from gutaxis import DATA_DIR

REGISTRY_PATH = DATA_DIR / "reference" / "components.csv"


@lru_cache(maxsize=1)
def registry() -> pl.DataFrame:
    return pl.read_csv(REGISTRY_PATH, infer_schema=False)


def component_ids() -> list[str]:
    return registry()["component_id"].to_list()


def units() -> dict[str, str]:
    return dict(zip(registry()["component_id"], registry()["unit"]))
