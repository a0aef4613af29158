"""Processing state in the crosswalks: frozen fruit to frozen SR foods, cocoa drinks to alkalised cocoa,
and no crosswalk row linking two states unless a reviewed exception says why."""
from __future__ import annotations

import polars as pl
import pytest

from gutaxis import GutaxisError
from gutaxis.components import flavonoids, linkage
from gutaxis.components import processing_state as ps


@pytest.mark.parametrize("left, right, expected", [
    ("Blueberries, raw/frozen", "Blueberries, raw", set()),                  # FDD's alternatives: raw is one
    ("Blueberries, frozen, unsweetened", "Blueberries, raw", {"frozen"}),
    ("Cocoa, dry powder, unsweetened", "Cocoa, dry powder, unsweetened, processed with alkali", {"alkalised"}),
    ("Juice, apple", "Apples, raw, with skin", {"juice"}),
    ("Cranberries, dried, sweetened", "Cranberries, raw", {"dried"}),
    ("Cherries, sour, dry, sweetened", "Cherries, tart, dried, sweetened", set()),
    ("Peaches, canned/cooked (peaches only)", "Peaches, canned, juice pack, solids and liquids", set()),  # packing
    ("Juice, orange, chilled", "Orange juice, canned, unsweetened", set()),  # juice is sold canned
    ("Juice, apple, concentrate", "Apple juice, frozen concentrate, unsweetened, undiluted", set()),
    ("Fish, cod, cooked", "Fish, cod, Atlantic, cooked, dry heat", set()),    # dry heat is cooking, not drying
    ("Spinach, canned", "Spinach, cooked, boiled, drained", {"canned"}),
])
def test_state_words_and_their_mismatches(left, right, expected):
    assert ps.mismatched_states(left, right) == expected


def _scan() -> pl.DataFrame:
    r33 = flavonoids.load_crosswalk().filter(pl.col("reviewed") == "yes")
    fdd = linkage.read_crosswalk().filter(pl.col("sr_code").is_not_null())
    return pl.concat([
        ps.state_mismatches(r33, "r33_description").select(
            crosswalk=pl.lit("flavonoid_r33_sr28"), description="r33_description", sr_code="sr_code", state="state"),
        ps.state_mismatches(fdd, "basic_ingredient").select(
            crosswalk=pl.lit("fdd_ingredient_sr28"), description="basic_ingredient", sr_code="sr_code", state="state"),
    ])


def test_crosswalk_rows_in_different_states_are_each_a_reviewed_exception():
    found = _scan()
    allowed = ps.load_exceptions()
    key = ["crosswalk", "description", "sr_code", "state"]
    unexplained = found.join(allowed.select(key), on=key, how="anti")
    assert unexplained.is_empty(), "state mismatches without a reviewed exception:\n" + "\n".join(
        f"{r['crosswalk']}: {r['description']!r} -> {r['sr_code']} ({r['state']})" for r in unexplained.iter_rows(named=True))
    stale = allowed.join(found.select(key), on=key, how="anti")
    assert stale.is_empty(), f"exceptions that no longer match a crosswalk row: {stale.rows()}"
    assert allowed["reason"].str.len_chars().min() >= 20  # each says why


def test_the_named_state_errors_are_no_longer_exceptions():
    allowed = ps.load_exceptions()
    # frozen blueberries and cocoa are fixed through the state rules, not excused
    assert allowed.filter(pl.col("description").str.contains(r"^(Blueberries, raw/frozen|Cocoa)")).is_empty()
    assert set(allowed["crosswalk"]) <= {"flavonoid_r33_sr28", "fdd_ingredient_sr28"}


STATE_CROSSWALK = pl.DataFrame(
    [("Blueberries, raw/frozen", "09050", True), ("Blueberries, raw/frozen [frozen]", "09054", True),
     ("Cocoa, dry powder, unsweetened", "19165", True),
     ("Cocoa, dry powder, unsweetened [alkalised]", "19166", True), ("Milk, 1% fat, fluid", "01082", True)],
    schema={"basic_ingredient": pl.String, "sr_code": pl.String, "reviewed": pl.Boolean}, orient="row")
STATE_FDD = pl.DataFrame(
    [("63203600", "Blueberries, frozen", "Blueberries, raw/frozen", 100.0),
     ("63203010", "Blueberries, raw", "Blueberries, raw/frozen", 100.0),
     ("53440000", "Pie, yogurt, frozen", "Blueberries, raw/frozen", 10.0),
     ("11514100", "Hot chocolate / cocoa, dry mix, made with water", "Cocoa, dry powder, unsweetened", 5.0),
     ("11513100", "Chocolate milk, made from dry mix with whole milk", "Cocoa, dry powder, unsweetened", 1.0),
     ("11513500", "Chocolate milk, made from syrup with whole milk", "Cocoa, dry powder, unsweetened", 1.0),
     ("53104100", "Cake, chocolate", "Cocoa, dry powder, unsweetened", 4.0)],
    schema=["food_code", "description", "basic_ingredient", "ingredient_percent"], orient="row")


def test_fdd_ingredients_take_the_state_their_food_names():
    profile = linkage.fdd_profile(STATE_FDD, STATE_CROSSWALK, state_rules=linkage.read_state_rules()).profile
    linked = dict(profile.select("food_code", "sr_code").iter_rows())
    assert linked == {"63203600": "09054", "63203010": "09050", "53440000": "09050",   # frozen fruit, not a frozen pie
                      "11514100": "19166", "11513100": "19166",                      # cocoa drinks: alkalised
                      "11513500": "19165", "53104100": "19165"}                      # syrup, baking: natural


def test_a_state_rule_without_its_crosswalk_entry_is_a_one_line_error():
    crosswalk = STATE_CROSSWALK.filter(pl.col("basic_ingredient") != "Cocoa, dry powder, unsweetened [alkalised]")
    with pytest.raises(GutaxisError, match=r"no row for 'Cocoa, dry powder, unsweetened \[alkalised\]'.*add it"):
        linkage.fdd_profile(STATE_FDD, crosswalk)


def test_bad_state_rules_are_refused_with_their_line(tmp_path):
    path = tmp_path / "state.csv"
    path.write_text("basic_ingredient,state,food_pattern,except_pattern,rationale,citation\n"
                    '"Blueberries, raw/frozen",frozen,"(?i)frozen(",,why,cite\n', encoding="utf-8")
    with pytest.raises(GutaxisError, match="line 2: food_pattern .* is not a regular expression"):
        linkage.read_state_rules(path)


# (FNDDS food, FDA-FDD basic ingredient) -> the SR28 food in the state the food is in
REAL_PAIRS = [
    ("63203600", "Blueberries, raw/frozen", "09054"),          # Blueberries, frozen -> frozen, unsweetened
    ("63203550", "Blueberries, raw/frozen", "09054"),          # Blueberries, frozen, sweetened
    ("63223610", "Strawberries, raw/frozen", "09318"),         # Strawberries, frozen
    ("63219610", "Raspberries, raw/frozen", "09518"),          # Raspberries, frozen
    ("63200110", "Blueberries, raw/frozen", "09054"),          # Berries, frozen
    ("63311080", "Raspberries, raw/frozen", "09518"),          # Fruit cocktail or mix, frozen
    ("63203010", "Blueberries, raw/frozen", "09050"),          # Blueberries, raw -> raw
    ("53366000", "Strawberries, raw/frozen", "09316"),         # Pie, yogurt, frozen: the pie is frozen, not the fruit
    ("11514100", "Cocoa, dry powder, unsweetened", "19166"),   # Hot chocolate, dry mix -> alkalised
    ("11512010", "Cocoa, dry powder, unsweetened", "19166"),   # Hot chocolate, ready to drink
    ("11511100", "Cocoa, dry powder, unsweetened", "19166"),   # Chocolate milk, ready to drink
    ("11513100", "Cocoa, dry powder, unsweetened", "19166"),   # Chocolate milk from dry mix
    ("11830160", "Cocoa, dry powder, unsweetened", "19166"),   # Chocolate beverage powder
    ("75205022", "Beans, green/snap, cooked", "11061"),        # Green beans, frozen, cooked -> frozen, boiled
    ("75205012", "Beans, green/snap, cooked", "11061"),        # Beans, string, green, cooked, from frozen (older name)
    ("75204963", "Beans, green/snap, cooked", "11053"),        # Beans, string, cooked, from fresh -> fresh, boiled
    ("75214012", "Cauliflower, cooked", "11138"),              # Cauliflower, frozen, cooked
    ("75224022", "Peas, green, cooked", "11313"),              # Green peas, frozen, cooked
    ("11513500", "Cocoa, dry powder, unsweetened", "19165"),   # Chocolate milk from syrup: natural cocoa
    ("11830150", "Cocoa, dry powder, unsweetened", "19165"),   # Cocoa powder, not reconstituted: natural
]


@pytest.mark.realdata
def test_real_fdd_foods_link_their_ingredients_in_the_state_the_food_is_in(realdata):
    from gutaxis.formats import fda_fdd

    fdd = fda_fdd.read(realdata / "fda-fdd" / "FDA_FDD_All_Records_v_3.1.xlsx")
    codes = sorted({code for code, _, _ in REAL_PAIRS})
    rows = linkage.in_processing_state(fdd.filter(pl.col("food_code").is_in(codes)), linkage.read_crosswalk(),
                                       linkage.read_state_rules())
    crosswalk = dict(linkage.read_crosswalk().select("basic_ingredient", "sr_code").iter_rows())
    profile = linkage.fdd_profile(fdd, linkage.read_crosswalk(), food_codes=codes).profile
    for code, ingredient, expected in REAL_PAIRS:
        entries = rows.filter((pl.col("food_code") == code) & pl.col("basic_ingredient").str.starts_with(ingredient))
        assert entries.height == 1, (code, ingredient)
        assert crosswalk[entries["basic_ingredient"][0]] == expected, (code, entries["description"][0], expected)
        assert expected in set(profile.filter(pl.col("food_code") == code)["sr_code"]), (code, expected)


def test_frozen_fruit_cooked_in_a_dish_loses_anthocyanidins_like_raw_fruit():
    """A frozen SR ingredient is uncooked: cooked with moist heat in the recipe, retention applies once."""
    sr = pl.DataFrame({"sr_code": ["09054", "11060"], "sr_description": [
        "Blueberries, frozen, unsweetened", "Beans, snap, green, frozen, cooked, boiled, drained without salt"]})
    profile = pl.DataFrame({"food_code": ["1", "2"], "sr_code": ["09054", "11060"], "grams_per_100g": [100.0, 100.0],
                            "retention_code": [2151, 2151]})
    foods = pl.DataFrame({"food_code": ["1", "2"], "description": ["Blueberry soup", "Green bean soup"]})
    moist = flavonoids.moist_heat_mask(profile, food_descriptions=foods, sr_descriptions=sr).to_list()
    assert moist == [True, False]  # frozen berries stewed: reduced; beans SR already boiled: not twice
