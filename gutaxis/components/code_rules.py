"""Foods classified by a table of rules on their code or description (the fermented-food and DI-GM
food lists): each food goes to the first rule that takes it, in a fixed precedence, so a specific
rule always wins over a broad one whatever the rows' order in the file."""
from __future__ import annotations

import polars as pl


def match_rules(foods: pl.DataFrame, rules: pl.DataFrame) -> tuple[list[tuple[dict, pl.DataFrame]], pl.DataFrame]:
    """(rule, the foods it takes) for every rule that takes some, and the foods no rule takes.

    foods: food_code (text) and description. rules: code (an 8-digit code, a prefix ending in `*`, or
    null for a description rule), description_pattern (a regular expression, for description rules)
    and rule_order. Precedence: exact codes, then prefixes (longest first, then rule_order), then
    description patterns (rule_order)."""
    exact = rules.filter(pl.col("code").str.contains(r"^\d{8}$"))
    prefixes = (rules.filter(pl.col("code").str.ends_with("*"))
                .with_columns(prefix=pl.col("code").str.strip_suffix("*"))
                .sort(pl.col("prefix").str.len_chars(), "rule_order", descending=[True, False]))
    patterns = rules.filter(pl.col("code").is_null()).sort("rule_order")
    remaining, taken = foods, []
    for rule in [*exact.iter_rows(named=True), *prefixes.iter_rows(named=True), *patterns.iter_rows(named=True)]:
        if rule["code"] and not rule["code"].endswith("*"):
            hit = remaining.filter(pl.col("food_code") == rule["code"])
        elif rule["code"]:
            hit = remaining.filter(pl.col("food_code").str.starts_with(rule["code"][:-1]))
        else:
            hit = remaining.filter(pl.col("description").str.contains(rule["description_pattern"]).fill_null(False))
        if hit.height == 0:
            continue
        remaining = remaining.join(hit.select("food_code"), on="food_code", how="anti")
        taken.append((rule, hit))
    return taken, remaining
