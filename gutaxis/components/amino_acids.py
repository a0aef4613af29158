"""Tryptophan and tyrosine for FNDDS foods, from SR28 amino acids through the ingredient linkage, checked on protein.

FNDDS carries no amino acids. Each FNDDS food's SR28 ingredients (gutaxis.components.linkage) give its
tryptophan (SR nutrient 501) and tyrosine (509); protein (203) goes through the same linkage and
is compared with the food's own FNDDS protein: how well they agree says how far to trust the
route for that food (moisture, missing ingredients, crosswalk choices all show up there).

SR28 leaves amino acids out of about 3,700 of its 8,789 foods. Two rules fill the gaps, each
value marked by a confidence that `linkage.derive_from_sr` carries into the food's confidence:
- assumed zero (confidence 1): an SR food with 0 g protein has 0 mg of each amino acid (water,
  sugar, oils, salt), as SR itself records for many such foods;
- imputed from protein (IMPUTED_CONFIDENCE): an SR food with protein but no amino acid values
  (most fruit juices, some fruits, cheeses and meats) gets protein x the median mg-per-g-protein
  ratio of the SR foods of its food group that have both (the overall median where its group has
  none), the way food composition tables borrow values from similar foods.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from gutaxis import GutaxisError
from gutaxis import composition as composition_sources
from gutaxis.components import linkage
from gutaxis.formats import fda_fdd, fndds, fndds_ingredients, retention_factors, sr28
from gutaxis.specs import load_source_spec

AMINO_ACIDS = {"501": "tryptophan", "509": "tyrosine"}
PROTEIN_NUTRIENT = "203"
PROTEIN = "protein"  # an internal id for the check, not a registry component
PROTEIN_COLUMN = "Protein (g)"
# Percent differences on foods with almost no protein (drinks, sweets) say little: the summary
# leaves out foods below this FNDDS protein (g/100 g) and counts them apart.
PROTEIN_FLOOR_G = 1.0
AGREEMENT_WITHIN_PCT = 10.0
IMPUTED_CONFIDENCE = 0.7
ANCHOR_MAX_RATIO = 3.0

SR_SOURCE = "sr28"
FNDDS_SOURCE = "fndds-2017-2018"
INGREDIENTS_SOURCE = "fndds-ingredients-2017-2018"
FDD_SOURCE = "fda-fdd-3.1"
RETENTION_SOURCE = "usda-retention-factors-r6"


def sr_values(sr_folder: Path, impute: bool = True) -> pl.DataFrame:
    """sr_code, component_id (tryptophan, tyrosine in mg; protein in g), amount_per_100g, confidence, basis.

    basis: 'analytical' (SR's value), 'assumed zero' or 'imputed from protein' (see the module
    docstring); impute=False leaves the gaps of protein-bearing foods open.
    """
    folder = Path(sr_folder)
    groups = sr28.read_table(sr28._find(folder, "FOOD_DES.txt"), sr28.FOOD_DES_COLUMNS).select(
        sr_code=pl.col("ndb_no").str.strip_chars().str.zfill(5), fdgrp_cd="fdgrp_cd")
    data = (
        sr28.read_table(sr28._find(folder, "NUT_DATA.txt"), sr28.NUT_DATA_COLUMNS)
        .filter(pl.col("nutr_no").is_in([*AMINO_ACIDS, PROTEIN_NUTRIENT]))
        .select(sr_code=pl.col("ndb_no").str.strip_chars().str.zfill(5), nutr_no="nutr_no",
                value=pl.col("nutr_val").cast(pl.Float64, strict=False))
        .drop_nulls("value")
    )
    protein = data.filter(pl.col("nutr_no") == PROTEIN_NUTRIENT).select("sr_code", protein="value")
    # SR stores amino acids in g/100 g; the registry's unit is mg.
    amino = data.filter(pl.col("nutr_no") != PROTEIN_NUTRIENT).select(
        "sr_code", component_id=pl.col("nutr_no").replace_strict(AMINO_ACIDS),
        amount_per_100g=(pl.col("value") * 1000).round(6), confidence=pl.lit(1.0), basis=pl.lit("analytical"))
    missing = (
        protein.join(pl.DataFrame({"component_id": list(AMINO_ACIDS.values())}), how="cross")
        .join(amino, on=["sr_code", "component_id"], how="anti")
    )
    assumed_zero = missing.filter(pl.col("protein") == 0).select(
        "sr_code", "component_id", amount_per_100g=pl.lit(0.0), confidence=pl.lit(1.0), basis=pl.lit("assumed zero"))
    parts = [amino, assumed_zero]
    if impute:
        parts.append(_imputed(missing.filter(pl.col("protein") > 0), amino, protein, groups))
    return pl.concat([
        *parts,
        protein.select("sr_code", component_id=pl.lit(PROTEIN), amount_per_100g="protein", confidence=pl.lit(1.0),
                       basis=pl.lit("analytical")),
    ]).sort("sr_code", "component_id")


def _imputed(missing: pl.DataFrame, amino: pl.DataFrame, protein: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    """Protein x the median amino-acid-per-gram-protein ratio of the food's SR food group."""
    ratios = (
        amino.join(protein.filter(pl.col("protein") > 0), on="sr_code")
        .join(groups, on="sr_code", how="left")
        .with_columns(ratio=pl.col("amount_per_100g") / pl.col("protein"))
    )
    by_group = ratios.group_by("fdgrp_cd", "component_id").agg(group_ratio=pl.col("ratio").median())
    overall = ratios.group_by("component_id").agg(overall_ratio=pl.col("ratio").median())
    return (
        missing.join(groups, on="sr_code", how="left")
        .join(by_group, on=["fdgrp_cd", "component_id"], how="left")
        .join(overall, on="component_id", how="left")
        .select("sr_code", "component_id",
                amount_per_100g=(pl.col("protein") * pl.coalesce("group_ratio", "overall_ratio")).round(3),
                confidence=pl.lit(IMPUTED_CONFIDENCE), basis=pl.lit("imputed from protein"))
    )


def fndds_protein(path: Path) -> pl.DataFrame:
    """food_code, protein_g from an FNDDS Nutrient Values table (official xlsx or its CSV)."""
    path = Path(path)
    table, _ = fndds._read_xlsx(path) if path.suffix.lower() == ".xlsx" else fndds._read_csv(path)
    by_key = {fndds._normalise(c).casefold(): c for c in table.columns}
    for column in (fndds.CODE_COLUMN, PROTEIN_COLUMN):
        if column.casefold() not in by_key:
            raise GutaxisError(f"{path}: column {column!r} not found; give the FNDDS Nutrient Values table")
    return table.select(
        food_code=pl.col(by_key[fndds.CODE_COLUMN.casefold()]).cast(pl.String).str.strip_chars()
        .str.replace(r"\.0+$", "").str.zfill(8),
        protein_g=pl.col(by_key[PROTEIN_COLUMN.casefold()]).cast(pl.Float64, strict=False),
    )


def derive(profile: linkage.Profile, sr: pl.DataFrame, retention: pl.DataFrame | None = None) -> pl.DataFrame:
    """Tryptophan, tyrosine (mg/100 g) and protein (g/100 g) per food, with via, coverage and confidence.

    The route is chosen per food on tryptophan (the more confident), and tyrosine and protein are
    taken from the same route, so the protein check speaks for the amino acid values.
    """
    per_route = linkage.derive_from_sr(profile.profile, sr, retention, [*AMINO_ACIDS.values(), PROTEIN],
                                       unresolved=profile.unresolved, detail=True, best_only=False)
    chosen = (
        per_route.filter(pl.col("component_id") == "tryptophan")
        .with_columns(rank=pl.col("via").replace_strict({r: i for i, r in enumerate(linkage.ROUTE_ORDER)},
                                                        return_dtype=pl.Int32))
        .sort("food_code", "confidence", "rank", descending=[False, True, False])
        .unique("food_code", keep="first", maintain_order=True)
        .select("food_code", "via")
    )
    return per_route.join(chosen, on=["food_code", "via"], how="semi").sort("food_code", "component_id")


def anchor_to_protein(derived: pl.DataFrame, fndds_protein: pl.DataFrame,
                      max_ratio: float = ANCHOR_MAX_RATIO) -> pl.DataFrame:
    """Amino acids rescaled to the food's own FNDDS protein: the route then only gives the protein's make-up.

    Each food's values are multiplied by FNDDS protein / the route's protein. That removes what
    the linkage gets wrong about amounts (moisture lost in cooking, which FDD percents ignore;
    diluted or missing ingredients) and keeps what it gets right about the kind of protein: mg of
    tryptophan per g protein varies far less between foods than g protein per 100 g does. Where
    the two proteins differ more than max_ratio-fold the linkage is doubtful (a wrong crosswalk,
    an odd FDD recipe): the value is still anchored, its confidence halved. Foods without FNDDS
    protein or without route protein are left as they are (anchored false).
    """
    factors = (
        derived.filter(pl.col("component_id") == PROTEIN)
        .select("food_code", route_protein="amount_per_100g")
        .join(fndds_protein.select("food_code", "protein_g").drop_nulls(), on="food_code", how="inner")
        .filter(pl.col("route_protein") > 0)
        .select("food_code", factor=pl.col("protein_g") / pl.col("route_protein"))
    )
    doubtful = ~pl.col("factor").is_between(1 / max_ratio, max_ratio)
    return (
        derived.join(factors, on="food_code", how="left")
        .with_columns(
            amount_per_100g=(pl.col("amount_per_100g") * pl.col("factor").fill_null(1.0)).round(6),
            confidence=pl.when(doubtful.fill_null(False)).then((pl.col("confidence") / 2).round(4))
            .otherwise(pl.col("confidence")),
            anchored=pl.col("factor").is_not_null(),
        )
        .drop("factor")
    )


def food_components(derived: pl.DataFrame, source_id: str = FNDDS_SOURCE) -> pl.DataFrame:
    """The amino acid rows in the composition.food_components shape (protein left out: not a component)."""
    return derived.filter(pl.col("component_id").is_in(list(AMINO_ACIDS.values()))).select(
        source=pl.lit(source_id), food_code="food_code", component_id="component_id",
        amount_per_100g="amount_per_100g", route="route", confidence="confidence")


def protein_agreement(derived_protein: pl.DataFrame, fndds_protein: pl.DataFrame) -> pl.DataFrame:
    """Per food: the route's protein against the food's own FNDDS protein.

    derived_protein: food_code, amount_per_100g (g) and, when present, via and coverage (the
    protein rows of `derive`). fndds_protein: food_code, protein_g. Columns: food_code, via,
    coverage, derived_protein_g, fndds_protein_g, diff_g, pct_diff (100 x (derived - fndds) /
    fndds; null when FNDDS protein is 0), abs_pct_diff.
    """
    rows = derived_protein
    if "component_id" in rows.columns:
        rows = rows.filter(pl.col("component_id") == PROTEIN)
    for optional, dtype in (("via", pl.String), ("coverage", pl.Float64)):
        if optional not in rows.columns:
            rows = rows.with_columns(pl.lit(None, dtype).alias(optional))
    pct = pl.when(pl.col("fndds_protein_g") > 0).then(
        100 * (pl.col("derived_protein_g") - pl.col("fndds_protein_g")) / pl.col("fndds_protein_g"))
    return (
        rows.select("food_code", "via", "coverage", derived_protein_g="amount_per_100g")
        .join(fndds_protein.select("food_code", fndds_protein_g="protein_g"), on="food_code", how="inner")
        .with_columns(diff_g=(pl.col("derived_protein_g") - pl.col("fndds_protein_g")).round(6), pct_diff=pct.round(4))
        .with_columns(abs_pct_diff=pl.col("pct_diff").abs())
        .sort("food_code")
    )


def agreement_summary(agreement: pl.DataFrame) -> pl.DataFrame:
    """Per linkage route and overall: foods compared, median |% difference|, share within 10 %.

    Only foods with at least PROTEIN_FLOOR_G g protein per 100 g are summarised; n_low_protein
    counts the others.
    """
    def summarise(frame: pl.DataFrame) -> pl.DataFrame:
        checked = pl.col("fndds_protein_g") >= PROTEIN_FLOOR_G
        return frame.select(
            n_foods=checked.sum(),
            median_abs_pct_diff=pl.col("abs_pct_diff").filter(checked).median().round(2),
            share_within_10pct=(pl.col("abs_pct_diff") <= AGREEMENT_WITHIN_PCT).filter(checked).mean().round(4),
            median_pct_diff=pl.col("pct_diff").filter(checked).median().round(2),
            n_low_protein=(~checked).sum(),
        )
    overall = summarise(agreement).with_columns(via=pl.lit("all"))
    if agreement.is_empty():
        return overall.select("via", pl.exclude("via"))
    by_route = pl.concat([summarise(group).with_columns(via=pl.lit(key[0]))
                          for key, group in agreement.group_by("via", maintain_order=True)])
    return pl.concat([by_route.sort("via"), overall]).select("via", pl.exclude("via"))


@dataclass(frozen=True)
class AminoAcids:
    derived: pl.DataFrame          # `derive` (+ anchored): food_code, component_id, amount_per_100g, route, confidence, via, ...
    food_components: pl.DataFrame  # composition.food_components rows (tryptophan, tyrosine)
    agreement: pl.DataFrame        # `protein_agreement` of the route, before anchoring (empty without FNDDS nutrient values)
    summary: pl.DataFrame          # `agreement_summary`
    unresolved: pl.DataFrame       # linkage.UNRESOLVED_SCHEMA
    sources: pl.DataFrame          # source, status ('used' | 'not fetched'), detail
    profile: pl.DataFrame          # linkage profile the values came through (reused for the other components)


def fndds_amino_acids(food_codes: list[str] | None = None, anchor: bool = True) -> AminoAcids:
    """Tryptophan and tyrosine for FNDDS 2017-2018 foods from whatever linkage sources are fetched.

    Needs sr28 and one of fndds-ingredients-2017-2018 or fda-fdd-3.1; uses the retention factors
    and the FNDDS nutrient values (protein check, the food list, and with anchor=True the protein
    the amino acids are anchored to, see `anchor_to_protein`) when fetched. Every source's status
    is in `sources`: an absent one is reported, never silently skipped.
    """
    status, files = [], {}
    finders = {
        SR_SOURCE: lambda folder: sr28._find(folder, "NUT_DATA.txt", required=False),
        FNDDS_SOURCE: lambda folder: _optional(fndds.nutrient_values_file, folder),
        INGREDIENTS_SOURCE: fndds_ingredients.ingredients_file,
        FDD_SOURCE: fda_fdd.fdd_file,
        RETENTION_SOURCE: retention_factors.retention_file,
    }
    for source_id, find in finders.items():
        folder = composition_sources.source_folder(load_source_spec(source_id))
        found = find(folder) if folder.is_dir() else None
        files[source_id] = found
        status.append((source_id, "used" if found else "not fetched",
                       str(found) if found else f"run `gutaxis fetch {source_id}` (or --from PATH)"))
    sources = pl.DataFrame(status, schema=["source", "status", "detail"], orient="row")
    if files[SR_SOURCE] is None:
        raise GutaxisError(f"amino acids need SR28: run `gutaxis fetch {SR_SOURCE}` (or --from PATH)")
    if files[INGREDIENTS_SOURCE] is None and files[FDD_SOURCE] is None:
        raise GutaxisError(f"amino acids need a linkage of FNDDS foods to SR28: run `gutaxis fetch {INGREDIENTS_SOURCE}` "
                           f"or `gutaxis fetch {FDD_SOURCE}` (or --from PATH)")
    protein = fndds_protein(files[FNDDS_SOURCE]) if files[FNDDS_SOURCE] else None
    if food_codes is None and protein is not None:
        food_codes = protein["food_code"].to_list()
    sr = sr_values(files[SR_SOURCE].parent)
    profile = linkage.ingredient_profile(
        fndds_ingredients=fndds_ingredients.read(files[INGREDIENTS_SOURCE]) if files[INGREDIENTS_SOURCE] else None,
        fdd=fda_fdd.read(files[FDD_SOURCE]) if files[FDD_SOURCE] else None,
        sr_codes=sr["sr_code"].unique(), food_codes=food_codes,
    )
    retention = retention_factors.read(files[RETENTION_SOURCE]) if files[RETENTION_SOURCE] else None
    derived = derive(profile, sr, retention)
    agreement = protein_agreement(derived, protein) if protein is not None else protein_agreement(
        derived.clear(), pl.DataFrame(schema={"food_code": pl.String, "protein_g": pl.Float64}))
    if anchor and protein is not None:
        derived = anchor_to_protein(derived, protein)
    else:
        derived = derived.with_columns(anchored=pl.lit(False))
    return AminoAcids(derived, food_components(derived), agreement, agreement_summary(agreement),
                      profile.unresolved, sources, profile.profile)


def _optional(find, folder: Path) -> Path | None:
    try:
        return find(folder)
    except GutaxisError:
        return None
