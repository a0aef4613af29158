"""FNDDS -> SR28 linkage (FNDDS Ingredients, FDA-FDD + crosswalk), retention factors, amino acids, their sources."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from functools import partial
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from gutaxis import PROJECT_ROOT, GutaxisError
from gutaxis.components import amino_acids as aa
from gutaxis import fetch as fetch_module
from gutaxis.components import linkage
from gutaxis.fetch import fetch
from gutaxis.formats import fda_fdd, fndds_ingredients, retention_factors
from gutaxis.specs import SourceSpec, load_source_spec

REALDATA = PROJECT_ROOT.parent / "shared" / "realdata"
SSB_CSV = REALDATA / "usda" / "fndds-2017-2018" / "FNDDS_ingredients_2017_2018_SSB_subset.csv"
FDD_XLSX = REALDATA / "fda-fdd" / fda_fdd.OFFICIAL_XLSX
SR28_DIR = REALDATA / "usda" / "sr28"
FNDDS_CSV = REALDATA / "usda" / "fndds-2017-2018" / "FNDDS_2017_2018_nutrient_values.csv"
WOMEN_IFF = REALDATA / "nhanes" / "2015-2016" / "IFF_day1_day2_women40s.tsv"

HEADER = ["Food code", "Main food description", "WWEIA Category number", "WWEIA Category description", "Seq num",
          "Ingredient code", "Ingredient description", "Ingredient weight (g)", "Retention code", "Moisture change (%)"]
# (food code, ingredient code, grams, retention code, moisture change %), codes printed as the subset CSV does.
RECIPES = [
    # A: butter + sub-recipe B, losing 20 % of its weight in cooking.
    ("11111111.0", "1001.0", 10.0, 0.0, -20.0), ("11111111.0", "22222222.0", 90.0, 0.0, -20.0),
    # B: milk + water.
    ("22222222.0", "1077.0", 50.0, 0.0, 0.0), ("22222222.0", "14411.0", 50.0, 0.0, 0.0),
    # C: A again, one level deeper.
    ("33333333.0", "11111111.0", 100.0, 0.0, 0.0),
    # D: an SR code SR28 does not have.
    ("44444444.0", "99999.0", 20.0, 0.0, 0.0), ("44444444.0", "1077.0", 80.0, 0.0, 0.0),
    # E: an FNDDS food code without a recipe.
    ("55555555.0", "55550000.0", 50.0, 0.0, 0.0), ("55555555.0", "1077.0", 50.0, 0.0, 0.0),
    # F and G contain each other.
    ("66666666.0", "77777777.0", 50.0, 0.0, 0.0), ("66666666.0", "1077.0", 50.0, 0.0, 0.0),
    ("77777777.0", "66666666.0", 100.0, 0.0, 0.0),
    # H: heated milk, with a retention code.
    ("12345678.0", "1077.0", 100.0, 2151.0, 0.0),
]
SR_CODES = ["01001", "01077", "14411"]
SR_VALUES = pl.DataFrame(
    [("01001", "tryptophan", 12.0), ("01077", "tryptophan", 40.0), ("14411", "tryptophan", 0.0),
     ("01077", "choline", 14.3), ("01001", "protein", 0.85), ("01077", "protein", 3.15), ("14411", "protein", 0.0)],
    schema=["sr_code", "component_id", "amount_per_100g"], orient="row")


def write_ingredients_csv(path: Path, rows=RECIPES) -> Path:
    lines = [",".join(HEADER)]
    for food, ingredient, grams, retention, moisture in rows:
        lines.append(f'{food},"Food {food[:8]}",1004.0,Test,1.0,{ingredient},"Ingredient {ingredient}",{grams},'
                     f"{retention},{moisture}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def recipes(tmp_path_factory) -> pl.DataFrame:
    return fndds_ingredients.read(write_ingredients_csv(tmp_path_factory.mktemp("fndds") / "ingredients.csv"))


@pytest.fixture(scope="module")
def profile(recipes) -> linkage.Profile:
    return linkage.fndds_profile(recipes, SR_CODES)


def grams(profile: pl.DataFrame, food_code: str) -> dict[str, float]:
    rows = profile.filter(pl.col("food_code") == food_code)
    return {sr: round(g, 6) for sr, g in zip(rows["sr_code"], rows["grams_per_100g"])}


# --- FNDDS Ingredients reader ---------------------------------------------------------------

def test_ingredients_csv_codes_printed_as_floats_become_fndds_and_sr_text(recipes):
    a = recipes.filter(pl.col("food_code") == "11111111")
    assert a["ingredient_code"].to_list() == ["01001", "22222222"]
    assert a["ingredient_kind"].to_list() == ["sr", "fndds"]
    assert recipes.filter(pl.col("food_code") == "12345678")["retention_code"].to_list() == [2151]
    assert a["retention_code"].null_count() == 2  # code 0 means none
    assert a["moisture_change_pct"].to_list() == [-20.0, -20.0]


def test_official_ingredients_xlsx_with_title_row_reads_like_the_csv(tmp_path, recipes):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["2017-2018 FNDDS At A Glance - FNDDS Ingredients"])
    sheet.append(HEADER)
    for food, ingredient, grams_, retention, moisture in RECIPES:
        sheet.append([int(float(food)), f"Food {food[:8]}", 1004, "Test", 1, int(float(ingredient)),
                      f"Ingredient {ingredient}", grams_, int(retention), moisture])
    path = tmp_path / fndds_ingredients.OFFICIAL_XLSX
    book.save(path)
    assert fndds_ingredients.ingredients_file(tmp_path) == path
    assert fndds_ingredients.read(path).equals(recipes)


def test_ingredients_bad_code_names_the_row(tmp_path):
    path = write_ingredients_csv(tmp_path / "ingredients.csv", [("11111111", "butter", 10.0, 0.0, 0.0)])
    with pytest.raises(GutaxisError, match=r"row 2: 'Ingredient code' is 'butter', not a food or SR code"):
        fndds_ingredients.read(path)


# --- FNDDS route ----------------------------------------------------------------------------

def test_recursive_recipe_expands_to_sr_grams_per_100g_after_moisture_change(profile):
    # A weighs 100 g raw and 80 g cooked: butter 10/80, B 90/80 of which half milk, half water.
    assert grams(profile.profile, "11111111") == {"01001": 12.5, "01077": 56.25, "14411": 56.25}
    assert grams(profile.profile, "33333333") == grams(profile.profile, "11111111")  # two levels down
    assert grams(profile.profile, "22222222") == {"01077": 50.0, "14411": 50.0}
    assert set(profile.profile["route"]) == {"fndds-ingredients"}


def test_missing_ingredients_are_reported_with_their_weight_not_dropped(profile):
    unresolved = {(r["food_code"], r["ingredient_code"]): r for r in profile.unresolved.iter_rows(named=True)}
    assert unresolved[("44444444", "99999")]["reason"] == "SR code not in SR28"
    assert unresolved[("44444444", "99999")]["grams_per_100g"] == 20.0
    assert unresolved[("55555555", "55550000")]["reason"] == "FNDDS food code without a recipe in the ingredients file"
    assert grams(profile.profile, "44444444") == {"01077": 80.0}


def test_a_recipe_cycle_stops_and_is_reported(profile):
    cycle = profile.unresolved.filter(pl.col("reason").str.starts_with("recipe cycle"))
    assert sorted(zip(cycle["food_code"], cycle["ingredient_code"])) == [("66666666", "66666666"),
                                                                          ("77777777", "77777777")]
    assert grams(profile.profile, "66666666") == {"01077": 50.0}


# --- deriving values from SR ----------------------------------------------------------------

def test_derived_amount_sums_sr_values_over_the_profile(profile):
    derived = linkage.derive_from_sr(profile.profile, SR_VALUES, components=["tryptophan"],
                                     unresolved=profile.unresolved)
    values = dict(zip(derived["food_code"], derived["amount_per_100g"]))
    assert values["11111111"] == pytest.approx(12.5 * 12 / 100 + 56.25 * 40 / 100)
    assert set(derived["route"]) == {"disaggregated"}


def test_confidence_falls_with_the_weight_share_that_reached_sr_values(profile):
    derived = linkage.derive_from_sr(profile.profile, SR_VALUES, components=["tryptophan"],
                                     unresolved=profile.unresolved, detail=True)
    rows = {r["food_code"]: r for r in derived.iter_rows(named=True)}
    assert rows["22222222"]["confidence"] == 0.9 and rows["22222222"]["coverage"] == 1.0
    assert rows["44444444"]["coverage"] == 0.8 and rows["44444444"]["confidence"] == pytest.approx(0.9 * 0.8)
    assert rows["44444444"]["amount_per_100g"] == 32.0  # the missing 20 g count as nothing
    assert rows["55555555"]["coverage"] == 0.5
    strict = linkage.derive_from_sr(profile.profile, SR_VALUES, components=["tryptophan"],
                                    unresolved=profile.unresolved, min_coverage=0.6)
    assert "55555555" not in strict["food_code"].to_list()  # too little weight reached SR: no value


def test_retention_factor_applies_by_retention_code_and_nutrient_number(tmp_path, profile):
    path = tmp_path / retention_factors.OFFICIAL_FILE
    path.write_bytes(
        b"2151^~0100~^~MILK,HEATED~^~421~^~Choline, total~^85^~09/2007~\r\n"
        b"2151^~0100~^~MILK,HEATED~^~401~^~Vitamin C~^75^~09/1975~\r\n"
        b"5005^~1400~^~ALC BEV,STIRRED~^~301~^~Calcium, Ca~^^~09/1975~\r\n")
    retention = retention_factors.read(path)
    assert retention.select("retention_code", "nutr_no", "retention_factor").rows() == [(2151, "421", 0.85),
                                                                                        (2151, "401", 0.75)]
    derived = linkage.derive_from_sr(profile.profile.filter(pl.col("food_code") == "12345678"), SR_VALUES, retention,
                                     components=["choline", "tryptophan"])
    values = dict(zip(derived["component_id"], derived["amount_per_100g"]))
    assert values == {"choline": pytest.approx(14.3 * 0.85), "tryptophan": 40.0}  # no factor: fully retained


def test_retention_file_in_another_layout_is_refused_with_the_line(tmp_path):
    path = tmp_path / retention_factors.OFFICIAL_FILE
    path.write_bytes(b"2151^~MILK,HEATED~^~421~^~CHOLN~^~Choline, total~^85\r\n")
    with pytest.raises(GutaxisError, match=r"line 1: .*do not fit the Release 6 layout"):
        retention_factors.read(path)


# --- FDA-FDD route and the crosswalk --------------------------------------------------------

CROSSWALK = pl.DataFrame(
    [("Cheese, test", "01009", 1.0, True), ("Flour, test", "20081", 1.0, False), ("Water, tap", "14411", 1.0, True),
     ("Mystery powder", None, None, True), ("Coffee beans/grounds/instant powder", "14214", 1.0, True),
     ("Coffee beans/grounds/instant powder [brewed]", "14209", None, True)],
    schema={"basic_ingredient": pl.String, "sr_code": pl.String, "score": pl.Float64, "reviewed": pl.Boolean},
    orient="row")
FDD_ROWS = pl.DataFrame(
    [("90000001", "Test pizza", "Cheese, test", 30.0), ("90000001", "Test pizza", "Flour, test", 50.0),
     ("90000001", "Test pizza", "Water, tap", 20.0),
     ("90000002", "Test mix", "Cheese, test", 60.0), ("90000002", "Test mix", "Mystery powder", 30.0),
     ("90000002", "Test mix", "Unknown spice", 10.0),
     ("90000003", "Coffee, brewed", "Coffee beans/grounds/instant powder", 6.0),
     ("90000003", "Coffee, brewed", "Water, tap", 94.0),
     ("90000004", "Coffee, instant powder", "Coffee beans/grounds/instant powder", 100.0)],
    schema=["food_code", "description", "basic_ingredient", "ingredient_percent"], orient="row")


def test_crosswalk_entries_link_fdd_ingredients_and_carry_their_review():
    result = linkage.fdd_profile(FDD_ROWS, CROSSWALK)
    pizza = result.profile.filter(pl.col("food_code") == "90000001")
    assert dict(zip(pizza["sr_code"], pizza["grams_per_100g"])) == {"01009": 30.0, "20081": 50.0, "14411": 20.0}
    assert dict(zip(pizza["sr_code"], pizza["confidence"])) == {"01009": 1.0, "20081": 0.5, "14411": 1.0}
    reasons = dict(zip(result.unresolved["ingredient_description"], result.unresolved["reason"]))
    assert reasons == {"Mystery powder": "no SR28 food matches this basic ingredient (crosswalk)",
                       "Unknown spice": "basic ingredient not in the crosswalk"}


def test_fdd_confidence_is_route_times_link_times_coverage():
    result = linkage.fdd_profile(FDD_ROWS, CROSSWALK)
    values = pl.DataFrame({"sr_code": ["01009", "20081", "14411"], "component_id": "protein",
                           "amount_per_100g": [25.0, 10.0, 0.0]})
    derived = linkage.derive_from_sr(result.profile, values, unresolved=result.unresolved, detail=True)
    rows = {r["food_code"]: r for r in derived.iter_rows(named=True)}
    assert rows["90000001"]["confidence"] == pytest.approx(0.7 * (30 + 0.5 * 50 + 20) / 100)
    assert rows["90000002"]["coverage"] == 0.6 and rows["90000002"]["confidence"] == pytest.approx(0.7 * 0.6)


def test_brewed_coffee_is_the_drink_not_the_grounds_but_powder_stays_powder():
    result = linkage.fdd_profile(FDD_ROWS, CROSSWALK)
    assert grams(result.profile, "90000003") == {"14209": 100.0}
    assert grams(result.profile, "90000004") == {"14214": 100.0}


def test_reviewed_crosswalk_file_reads_and_is_complete_for_the_fdd(tmp_path):
    crosswalk = linkage.read_crosswalk()
    assert crosswalk.height >= 986 and crosswalk["basic_ingredient"].is_unique().all()
    assert crosswalk.filter(pl.col("sr_code").is_not_null())["sr_code"].str.contains(r"^\d{5}$").all()
    chicken = crosswalk.filter(pl.col("basic_ingredient") == "Chicken, lean and fat, cooked").row(0, named=True)
    assert chicken["sr_code"] == "05009" and chicken["reviewed"]
    bad = tmp_path / "crosswalk.csv"
    bad.write_text("basic_ingredient,sr_code,sr_description,score,reviewed,note\nA,01001,x,1,maybe,\n")
    with pytest.raises(GutaxisError, match="'reviewed' must be true or false"):
        linkage.read_crosswalk(bad)


def test_a_food_on_both_routes_keeps_the_more_complete_one(recipes):
    fdd = pl.DataFrame([("22222222", "B", "Water, tap", 100.0), ("55555555", "E", "Water, tap", 100.0)],
                       schema=["food_code", "description", "basic_ingredient", "ingredient_percent"], orient="row")
    both = linkage.ingredient_profile(fndds_ingredients=recipes, fdd=fdd, crosswalk=CROSSWALK, sr_codes=SR_CODES)
    routes = dict(both.profile.select("food_code", "route").unique().iter_rows())
    assert routes["22222222"] == "fndds-ingredients"  # complete: the FNDDS recipe wins
    assert routes["55555555"] == "fda-fdd"            # half its recipe is missing: FDD is more complete
    assert both.unresolved.filter(pl.col("food_code") == "55555555").is_empty()


def test_suggest_crosswalk_prefers_the_food_with_the_same_head_word():
    sr = pl.DataFrame({"sr_code": ["01009", "05009", "15076"],
                       "description": ["Cheese, cheddar", "Chicken, broilers or fryers, meat and skin, cooked, roasted",
                                       "Fish, salmon, Atlantic, wild, raw"]})
    suggested = linkage.suggest_crosswalk(["Chicken, lean and fat, cooked"], sr, limit=2)
    assert suggested["sr_code"].to_list()[0] == "05009"


# --- amino acids ----------------------------------------------------------------------------

def write_sr(folder: Path) -> Path:
    folder.mkdir()
    foods = [("01009", "0100", "Cheese, cheddar"), ("01040", "0100", "Cheese, swiss"),
             ("01999", "0100", "Cheese, no amino acids"), ("19335", "1900", "Sugars, granulated")]
    (folder / "FOOD_DES.txt").write_bytes("".join(f"~{c}~^~{g}~^~{d}~^~X~\r\n" for c, g, d in foods).encode("cp1252"))
    data = [("01009", "203", 24.0), ("01009", "501", 0.3), ("01009", "509", 1.2), ("01040", "203", 27.0),
            ("01040", "501", 0.4), ("01040", "509", 1.4), ("01999", "203", 20.0), ("19335", "203", 0.0)]
    (folder / "NUT_DATA.txt").write_bytes("".join(f"~{c}~^~{n}~^{v}^1^^~1~\r\n" for c, n, v in data).encode())
    return folder


def test_sr_amino_acids_in_mg_with_assumed_zeros_and_protein_imputation(tmp_path):
    sr = aa.sr_values(write_sr(tmp_path / "sr"))
    rows = {(r["sr_code"], r["component_id"]): r for r in sr.iter_rows(named=True)}
    assert rows[("01009", "tryptophan")]["amount_per_100g"] == 300.0  # g -> mg
    assert rows[("19335", "tryptophan")]["amount_per_100g"] == 0.0   # no protein: assumed zero
    assert rows[("19335", "tryptophan")]["basis"] == "assumed zero"
    # The group's median mg per g protein: (300/24 + 400/27) / 2 = 13.657..., times 20 g.
    assert rows[("01999", "tryptophan")]["amount_per_100g"] == pytest.approx(20 * (300 / 24 + 400 / 27) / 2, abs=1e-3)
    assert rows[("01999", "tryptophan")]["confidence"] == aa.IMPUTED_CONFIDENCE
    assert rows[("01009", "protein")]["amount_per_100g"] == 24.0
    assert ("01999", "tryptophan") not in {(r["sr_code"], r["component_id"])
                                          for r in aa.sr_values(tmp_path / "sr", impute=False).iter_rows(named=True)}


def test_protein_agreement_and_its_summary():
    derived = pl.DataFrame({"food_code": ["1", "2", "3", "4"], "component_id": "protein",
                            "amount_per_100g": [10.5, 8.0, 0.2, 5.0], "via": ["fda-fdd"] * 4})
    fndds = pl.DataFrame({"food_code": ["1", "2", "3", "4"], "protein_g": [10.0, 10.0, 0.1, 0.0]})
    agreement = aa.protein_agreement(derived, fndds)
    assert agreement["pct_diff"].to_list() == [5.0, -20.0, 100.0, None]
    summary = aa.agreement_summary(agreement).row(0, named=True)
    assert summary == {"via": "fda-fdd", "n_foods": 2, "median_abs_pct_diff": 12.5, "share_within_10pct": 0.5,
                       "median_pct_diff": -7.5, "n_low_protein": 2}


def test_anchoring_rescales_amino_acids_to_the_food_protein():
    derived = pl.DataFrame({"food_code": ["1", "1", "2", "2"], "component_id": ["protein", "tryptophan"] * 2,
                            "amount_per_100g": [8.0, 100.0, 40.0, 400.0], "confidence": 0.7})
    fndds = pl.DataFrame({"food_code": ["1", "2"], "protein_g": [10.0, 8.0]})
    anchored = aa.anchor_to_protein(derived, fndds)
    trp = {r["food_code"]: r for r in anchored.filter(pl.col("component_id") == "tryptophan").iter_rows(named=True)}
    assert trp["1"]["amount_per_100g"] == 125.0 and trp["1"]["confidence"] == 0.7
    assert trp["2"]["amount_per_100g"] == 80.0 and trp["2"]["confidence"] == 0.35  # 5-fold apart: doubtful
    assert anchored["anchored"].all()


# --- sources and fetch ----------------------------------------------------------------------

def test_the_three_source_specs_load_with_official_urls():
    for source_id in ("fndds-ingredients-2017-2018", "fda-fdd-3.1", "usda-retention-factors-r6"):
        spec = load_source_spec(source_id)
        assert spec.url.startswith("https://") and spec.citation
    assert load_source_spec("fndds-ingredients-2017-2018").files == {fndds_ingredients.OFFICIAL_XLSX: None}


STAND_IN_SPEC = SourceSpec(id="tiny", format="fndds-ingredients-xlsx", url="http://127.0.0.1:9/none.xlsx",
                           version="1", citation="test", files={"Official.xlsx": None},
                           alternate_files={"Official.xlsx": ["*subset*.csv"]})


def test_null_sha256_installs_unverified_and_records_the_computed_sha256(monkeypatch, tmp_path):
    monkeypatch.setattr(fetch_module, "load_source_spec", lambda source_id: STAND_IN_SPEC)
    (tmp_path / "Official.xlsx").write_bytes(b"official bytes")
    said = []
    paths = fetch("tiny", from_path=tmp_path / "Official.xlsx", raw_dir=tmp_path / "raw", log=said.append)
    assert paths == [tmp_path / "raw" / "tiny" / "Official.xlsx"]
    digest = hashlib.sha256(b"official bytes").hexdigest()
    assert (tmp_path / "raw" / "tiny" / "SHA256SUMS").read_text() == f"{digest}  Official.xlsx\n"
    assert len(said) == 1 and "Official.xlsx: unverified" in said[0] and digest in said[0]


def test_a_documented_stand_in_keeps_its_name_and_replaces_the_official_file(monkeypatch, tmp_path):
    monkeypatch.setattr(fetch_module, "load_source_spec", lambda source_id: STAND_IN_SPEC)
    raw = tmp_path / "raw"
    (tmp_path / "Official.xlsx").write_bytes(b"official")
    fetch("tiny", from_path=tmp_path / "Official.xlsx", raw_dir=raw, log=lambda _: None)
    (tmp_path / "SSB_subset.csv").write_bytes(b"a,b\n")
    said = []
    paths = fetch("tiny", from_path=tmp_path / "SSB_subset.csv", raw_dir=raw, log=said.append)
    assert paths == [raw / "tiny" / "SSB_subset.csv"]
    assert sorted(p.name for p in (raw / "tiny").iterdir()) == ["SHA256SUMS", "SSB_subset.csv"]
    assert "stand-in for the official 'Official.xlsx'" in said[0]
    assert (raw / "tiny" / "SHA256SUMS").read_text().endswith("  SSB_subset.csv\n")
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "other_subset.csv").write_bytes(b"c\n")
    assert [p.name for p in fetch("tiny", from_path=folder, raw_dir=raw, log=lambda _: None)] == ["other_subset.csv"]


def test_a_web_page_instead_of_the_file_says_to_download_it_by_hand(monkeypatch, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "fdd.html").write_text("<html>download page</html>")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        spec = STAND_IN_SPEC.model_copy(update={"url": f"http://127.0.0.1:{server.server_address[1]}/fdd.html"})
        monkeypatch.setattr(fetch_module, "load_source_spec", lambda source_id: spec)
        with pytest.raises(GutaxisError, match=r"a web page, not the data file; download Official\.xlsx from it"):
            fetch("tiny", raw_dir=tmp_path / "raw")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert [p.name for p in (tmp_path / "raw").iterdir()] == []


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


# --- real data ------------------------------------------------------------------------------

needs_realdata = pytest.mark.skipif(
    not all(p.is_file() for p in (SSB_CSV, FDD_XLSX, FNDDS_CSV, SR28_DIR / "NUT_DATA.txt.gz")),
    reason=f"real FNDDS / FDD / SR28 files not found in {REALDATA}")


@pytest.fixture(scope="module")
def sr() -> pl.DataFrame:
    return aa.sr_values(SR28_DIR)


@pytest.fixture(scope="module")
def fndds_protein() -> pl.DataFrame:
    return aa.fndds_protein(FNDDS_CSV)


@pytest.fixture(scope="module")
def fdd_derived(sr, fndds_protein):
    profile = linkage.ingredient_profile(fdd=fda_fdd.read(FDD_XLSX), sr_codes=sr["sr_code"].unique())
    return aa.derive(profile, sr)


@pytest.mark.realdata
@needs_realdata
def test_realdata_ssb_subset_profiles_sum_to_the_cooked_recipe_weight(sr):
    recipes = fndds_ingredients.read(SSB_CSV)
    assert recipes.height == 1038 and recipes["food_code"].n_unique() == 445
    profile = linkage.fndds_profile(recipes, sr["sr_code"].unique())
    complete = profile.profile.join(profile.unresolved, on="food_code", how="anti")
    totals = complete.group_by("food_code").agg(pl.col("grams_per_100g").sum()).join(
        recipes.group_by("food_code").agg(pl.col("moisture_change_pct").first()), on="food_code")
    expected = 100 / (1 + totals["moisture_change_pct"] / 100)
    assert ((totals["grams_per_100g"] - expected).abs() < 1e-6).all()
    assert totals.filter(pl.col("food_code") == "92613510")["grams_per_100g"][0] == pytest.approx(100 / 0.92)
    # Sub-recipes outside the subset (Milk, NFS; Orange juice, 100%, NFS) are reported, not dropped.
    assert set(profile.unresolved["reason"]) == {"FNDDS food code without a recipe in the ingredients file"}
    assert "11100000" in profile.unresolved["ingredient_code"].to_list()


@pytest.mark.realdata
@needs_realdata
def test_realdata_ssb_recipes_reproduce_fndds_protein(sr, fndds_protein):
    profile = linkage.fndds_profile(fndds_ingredients.read(SSB_CSV), sr["sr_code"].unique())
    derived = linkage.derive_from_sr(profile.profile, sr, components=["protein"], unresolved=profile.unresolved,
                                     detail=True, min_coverage=0.95)
    summary = aa.agreement_summary(aa.protein_agreement(derived, fndds_protein)).row(0, named=True)
    assert summary["n_foods"] >= 80
    assert summary["median_abs_pct_diff"] < 3 and summary["share_within_10pct"] > 0.9


@pytest.mark.realdata
@needs_realdata
def test_realdata_fdd_fallback_reaches_nearly_every_fndds_food(fdd_derived, fndds_protein):
    trp = fdd_derived.filter(pl.col("component_id") == "tryptophan").join(fndds_protein, on="food_code", how="semi")
    share = trp.height / fndds_protein.height
    assert share > 0.98, f"{share:.3f} of FNDDS 2017-2018 foods have tryptophan through FDA-FDD"
    summary = aa.agreement_summary(aa.protein_agreement(fdd_derived, fndds_protein)).row(0, named=True)
    assert summary["n_foods"] > 6000
    assert summary["median_abs_pct_diff"] < 10 and summary["share_within_10pct"] > 0.5
    assert abs(summary["median_pct_diff"]) < 5  # no overall bias


@pytest.mark.realdata
@needs_realdata
def test_realdata_spot_values_equal_the_main_ingredient(fdd_derived):
    trp = dict(fdd_derived.filter(pl.col("component_id") == "tryptophan").select("food_code", "amount_per_100g").rows())
    assert trp["11111000"] == pytest.approx(40.0)            # Milk, whole = SR 01077, 40 mg
    assert trp["24122130"] == pytest.approx(0.9925 * 305.0)  # Chicken breast, roasted: 99.25 % SR 05009 + salt


@pytest.mark.realdata
@needs_realdata
@pytest.mark.skipif(not WOMEN_IFF.is_file(), reason=f"{WOMEN_IFF} not found")
def test_realdata_nhanes_women_tryptophan_intake_is_plausible(fdd_derived, fndds_protein):
    anchored = aa.anchor_to_protein(fdd_derived, fndds_protein)
    values = anchored.filter(pl.col("component_id") == "tryptophan").select("food_code", trp="amount_per_100g")
    items = (
        pl.read_csv(WOMEN_IFF, separator="\t", columns=["SEQN", "Day", "DRSTZ", "FoodCode", "FoodAmt"],
                    infer_schema_length=10000)
        .filter(pl.col("DRSTZ") == 1)
        .with_columns(food_code=pl.col("FoodCode").cast(pl.Int64).cast(pl.String))
        .join(values, on="food_code", how="left")
    )
    assert items.filter(pl.col("trp").is_null())["FoodAmt"].sum() / items["FoodAmt"].sum() < 0.01
    daily = items.group_by("SEQN", "Day").agg(trp=(pl.col("FoodAmt") * pl.col("trp") / 100).sum())
    mean_daily = daily.group_by("SEQN").agg(pl.col("trp").mean())["trp"].mean()
    assert 750 < mean_daily < 1100, mean_daily  # adults' usual intake ~826 mg/day (Lieberman et al. 2016)


@pytest.mark.realdata
@needs_realdata
def test_realdata_fetch_and_amino_acids_from_the_fetched_sources(monkeypatch, tmp_path):
    raw = tmp_path / "raw"
    monkeypatch.setenv("GUTAXIS_RAW_DIR", str(raw))
    said = []
    fetch("sr28", from_path=SR28_DIR, raw_dir=raw)
    fetch("fndds-2017-2018", from_path=FNDDS_CSV.parent / "2017-2018 FNDDS At A Glance - FNDDS Nutrient Values.xlsx",
          raw_dir=raw)
    assert fetch("fda-fdd-3.1", from_path=FDD_XLSX, raw_dir=raw, log=said.append) == [raw / "fda-fdd-3.1" / FDD_XLSX.name]
    assert said == []  # the official file: verified by its sha256
    assert fetch("fndds-ingredients-2017-2018", from_path=SSB_CSV, raw_dir=raw, log=said.append) == [
        raw / "fndds-ingredients-2017-2018" / SSB_CSV.name]
    assert "unverified, a stand-in" in said[0]
    result = aa.fndds_amino_acids()
    status = dict(result.sources.select("source", "status").rows())
    assert status == {"sr28": "used", "fndds-2017-2018": "used", "fndds-ingredients-2017-2018": "used",
                      "fda-fdd-3.1": "used", "usda-retention-factors-r6": "not fetched"}
    trp = result.derived.filter(pl.col("component_id") == "tryptophan")
    assert set(trp["via"]) == {"fndds-ingredients", "fda-fdd"}
    assert trp.filter(pl.col("food_code") == "11320000")["via"][0] == "fndds-ingredients"  # soy milk, in the subset
    assert result.food_components.columns == ["source", "food_code", "component_id", "amount_per_100g", "route",
                                              "confidence"]
    assert set(result.food_components["component_id"]) == {"tryptophan", "tyrosine"}
    assert result.food_components["confidence"].is_between(0, 1).all()
