"""Components: the registry of what is measured, and the derivations that give each FNDDS food its values.

Read top to bottom, the engine goes formats -> components -> exposures -> analysis. This package is
the second step: `registry` lists the component ids and units; `linkage` ties FNDDS foods to SR28;
`amino_acids`, `flavonoids`, `curated`, `fermented` and `food_groups` derive each mechanism
component; `processing_state` keeps crosswalks honest about frozen, dried or alkalised foods; and
`derived` puts them together for every FNDDS food.
"""
from gutaxis.components.registry import REGISTRY_PATH, component_ids, registry, units

__all__ = ["REGISTRY_PATH", "component_ids", "registry", "units"]
