"""USDA Food Patterns (FPED) food groups as components: which FPED columns, and their values per food.

FPED gives, per FNDDS food code, the cup-, ounce- or teaspoon-equivalents of each of 37 Food
Patterns components in 100 g of the food (Bowman et al., FPED 2017-2018 Methodology and User
Guide, USDA ARS 2020). An item's amount is then grams x value / 100 like any composition value,
and NHANES publishes the same components summed per recall day (`fped_dr1tot_*`: `DR1T_F_TOTAL`
...), which gutaxis.formats.nhanes_tot reads. The groups kept are those that serve the mechanism
tables (see the README's component table for why each one); the others (e.g. cured meat, oils)
are left out of the registry.
"""
from __future__ import annotations

import polars as pl

from gutaxis.formats import fped

SOURCE = "fped-2017-2018"
# component id -> FPED component short name (per-food table column; day totals DRxT_<name>)
FPED_GROUPS = {
    "fg_fruit": "F_TOTAL", "fg_fruit_juice": "F_JUICE", "fg_citrus_melons_berries": "F_CITMLB", "fg_other_fruit": "F_OTHER", "fg_vegetables": "V_TOTAL", "fg_dark_green_veg": "V_DRKGR",
    "fg_other_veg": "V_OTHER", "fg_potatoes": "V_STARCHY_POTATO", "fg_legumes": "V_LEGUMES",
    "fg_whole_grains": "G_WHOLE", "fg_refined_grains": "G_REFINED", "fg_poultry": "PF_POULT",
    "fg_organ_meat": "PF_ORGAN", "fg_eggs": "PF_EGGS", "fg_seafood_high_n3": "PF_SEAFD_HI",
    "fg_seafood_low_n3": "PF_SEAFD_LOW", "fg_meat_poultry_seafood": "PF_MPS_TOTAL", "fg_legumes_protein": "PF_LEGUMES", "fg_soy": "PF_SOY", "fg_nuts_seeds": "PF_NUTSDS", "fg_dairy": "D_TOTAL",
    "fg_yogurt": "D_YOGURT", "fg_cheese": "D_CHEESE", "fg_added_sugars": "ADD_SUGARS", "fg_alcoholic_drinks": "A_DRINKS",
    "fg_red_meat": "PF_MEAT", "fg_cured_meat": "PF_CUREDMEAT",
}
# FPED publishes its own per-food values (its recipe disaggregation): one confidence for all.
ROUTE = "disaggregated"
CONFIDENCE = 1.0


def food_values(fped_table: pl.DataFrame, food_codes: pl.Series) -> pl.DataFrame:
    """food_code, component_id, amount_per_100g, route, confidence for the given FNDDS codes that
    the FPED table (gutaxis.formats.fped.read) holds; a code FPED lacks gets no value (NULL), not 0."""
    known = fped_table.filter(pl.col("food_code").is_in(food_codes.implode()))
    return (known.select("food_code", *(pl.col(name).alias(cid) for cid, name in FPED_GROUPS.items()))
            .unpivot(index="food_code", variable_name="component_id", value_name="amount_per_100g")
            .drop_nulls("amount_per_100g")
            .with_columns(route=pl.lit(ROUTE), confidence=pl.lit(CONFIDENCE))
            .sort("food_code", "component_id"))


def fetched() -> tuple[pl.DataFrame | None, str]:
    """The FPED per-food table if `gutaxis fetch fped-2017-2018` put it in data/raw, else None; and a
    one-line status for audit.derivations."""
    from gutaxis import composition
    from gutaxis.specs import load_source_spec

    spec = load_source_spec(SOURCE)
    if not composition.is_available(spec):
        return None, f"{SOURCE} not fetched: no FPED food groups (fg_*); run `gutaxis fetch {SOURCE} --from FPED_1718.xls`"
    table = fped.read(composition.source_folder(spec) / next(iter(spec.files)))
    return table, f"{table.height} food codes with FPED food-group equivalents"
