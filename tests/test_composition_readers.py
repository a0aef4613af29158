"""Composition readers (SR28 ASCII, FNDDS nutrient values, gutaxis-composition-csv) and gutaxis.composition."""
from __future__ import annotations

import gzip
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from gutaxis import PROJECT_ROOT, GutaxisError
from gutaxis import composition
from gutaxis.formats import composition_csv, fndds, sr28
from gutaxis.specs import SourceSpec

REALDATA = PROJECT_ROOT.parent / "shared" / "realdata"
SR28_DIR = REALDATA / "usda" / "sr28"
FNDDS_DIR = REALDATA / "usda" / "fndds-2017-2018"
FNDDS_CSV = FNDDS_DIR / "FNDDS_2017_2018_nutrient_values.csv"

needs_sr28 = pytest.mark.skipif(not (SR28_DIR / "FOOD_DES.txt").is_file(),
                                reason=f"real SR28 files not found in {SR28_DIR}")
needs_fndds = pytest.mark.skipif(not (FNDDS_DIR / fndds.OFFICIAL_XLSX).is_file() or not FNDDS_CSV.is_file(),
                                 reason=f"real FNDDS 2017-2018 files not found in {FNDDS_DIR}")


def amounts(comp, food_code: str) -> dict[str, float]:
    rows = comp.food_components.filter(pl.col("food_code") == food_code)
    return dict(zip(rows["component_id"], rows["amount_per_100g"]))


def confidences(comp, food_code: str) -> dict[str, float]:
    rows = comp.food_components.filter(pl.col("food_code") == food_code)
    return dict(zip(rows["component_id"], rows["confidence"]))


# --- SR28 -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sr28_real():
    if not (SR28_DIR / "FOOD_DES.txt").is_file():
        pytest.skip(f"real SR28 files not found in {SR28_DIR}")
    return sr28.read(SR28_DIR, "sr28")


@pytest.mark.realdata
@needs_sr28
def test_sr28_pins_published_values_of_atlantic_salmon(sr28_real):
    salmon = amounts(sr28_real, "15076")
    assert salmon["tryptophan"] == pytest.approx(222.0)  # SR stores 0.222 g
    assert salmon["tyrosine"] == pytest.approx(670.0)
    assert salmon["omega3_dha"] == pytest.approx(1.115)
    assert salmon["omega3_epa"] == pytest.approx(0.321)
    assert salmon["energy_kcal"] == pytest.approx(142.0)
    # No 851 for this food: ALA falls back to 18:3 undifferentiated (619), with lower confidence.
    assert salmon["omega3_ala"] == pytest.approx(0.295)
    assert confidences(sr28_real, "15076")["omega3_ala"] == 0.9
    assert salmon["omega3_total"] == pytest.approx(0.295 + 0.321 + 0.287 + 1.115)  # DPA 631 = 0.287


@pytest.mark.realdata
@needs_sr28
def test_sr28_foods_are_five_digit_text_codes_with_group_names(sr28_real):
    foods = sr28_real.foods
    assert foods.height == 8789
    assert foods["food_code"].str.contains(r"^\d{5}$").all()
    butter = foods.filter(pl.col("food_code") == "01001").row(0, named=True)
    assert butter == {"source": "sr28", "food_code": "01001", "description": "Butter, salted",
                      "food_group": "Dairy and Egg Products"}
    components = sr28_real.food_components
    assert components.schema == pl.Schema({"source": pl.String, "food_code": pl.String, "component_id": pl.String,
                                           "amount_per_100g": pl.Float64, "route": pl.String,
                                           "confidence": pl.Float64})
    assert set(components["route"]) == {"analytical"}
    assert components["food_code"].is_in(foods["food_code"].implode()).all()


@pytest.mark.realdata
@needs_sr28
def test_sr28_food_des_decodes_cp1252_curly_quotes():
    names = ("ndb_no", "fdgrp_cd", "long_desc", "shrt_desc", "comname", "manufacname", "survey",
             "ref_desc", "refuse", "sciname")
    kiwi = sr28.read_table(SR28_DIR / "FOOD_DES.txt", names).filter(pl.col("ndb_no") == "09520")
    assert kiwi["sciname"].item() == "Actinidia chinensis \u2018Zesy002\u2019 (Gold3)"


def write_sr(folder: Path, nut_data: list[str], gz: bool = False, food_des: bytes | None = None) -> Path:
    """A tiny SR28-shaped folder: CRLF lines, `~` quotes, Windows-1252."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "FOOD_DES.txt").write_bytes(food_des or (
        b"~01001~^~0100~^~Butter, salted~^~BUTTER,WITH SALT~^^^~Y~^^0^^6.38^4.27^8.79^3.87\r\n"
        b"~1002~^~0100~^~Cheese \x93blue\x94~^~CHEESE~^^^^^0^^^^^\r\n"
        b"~15076~^~1500~^~Fish, salmon~^~SALMON~^^^^^0^^^^^\r\n"
        b"~20000~^~2000~^~Nothing~^~NOTHING~^^^^^0^^^^^"))  # no CRLF on the last line, as in SR28
    (folder / "NUTR_DEF.txt").write_bytes(b"".join(
        f"~{no}~^~{unit}~^~TAG~^~Desc~^~1~^~1~\r\n".encode("cp1252")
        for no, unit in [("208", "kcal"), ("291", "g"), ("421", "mg"), ("501", "g"), ("509", "g"),
                         ("619", "g"), ("621", "g"), ("629", "g"), ("631", "g"), ("851", "g"), ("313", "\u00b5g"),
                         ("307", "mg"), ("606", "g"), ("645", "g"), ("646", "g")]
    ))
    data = "".join(f"{line}^0^^~1~^^^^^^^^^^^11/1976^\r\n" for line in nut_data).encode("cp1252")
    if gz:
        (folder / "NUT_DATA.txt.gz").write_bytes(gzip.compress(data))
    else:
        (folder / "NUT_DATA.txt").write_bytes(data)
    return folder


TINY_NUT_DATA = [
    "~01001~^~208~^717", "~01001~^~851~^0.315", "~01001~^~619~^0.400", "~01001~^~621~^0.010",
    "~01002~^~501~^0.312", "~01002~^~619~^0.200",
    "~15076~^~621~^1.115", "~15076~^~631~^0.287",
    "~20000~^~208~^0",
]


@pytest.mark.parametrize("gz", [False, True], ids=["NUT_DATA.txt", "NUT_DATA.txt.gz"])
def test_sr28_ala_prefers_851_and_omega3_total_counts_missing_parts_as_zero(tmp_path, gz):
    comp = sr28.read(write_sr(tmp_path / "sr", TINY_NUT_DATA, gz=gz), "sr-tiny")
    assert amounts(comp, "01001") == pytest.approx(
        {"energy_kcal": 717.0, "omega3_ala": 0.315, "omega3_dha": 0.010, "omega3_total": 0.325})
    assert confidences(comp, "01001")["omega3_ala"] == 1.0
    assert amounts(comp, "01002") == pytest.approx({"tryptophan": 312.0, "omega3_ala": 0.2, "omega3_total": 0.2})
    assert confidences(comp, "01002") == {"tryptophan": 1.0, "omega3_ala": 0.9, "omega3_total": 0.9}
    assert amounts(comp, "15076") == pytest.approx({"omega3_dha": 1.115, "omega3_total": 1.402})
    assert amounts(comp, "20000") == {"energy_kcal": 0.0}  # a real zero stays; no omega-3 part, no total


def test_sr28_pads_codes_decodes_cp1252_and_names_group_by_code_without_fd_group(tmp_path):
    comp = sr28.read(write_sr(tmp_path / "sr", TINY_NUT_DATA), "sr-tiny")
    cheese = comp.foods.filter(pl.col("food_code") == "01002").row(0, named=True)
    assert cheese["description"] == "Cheese \u201cblue\u201d"
    assert cheese["food_group"] == "0100"


def test_sr28_uses_fd_group_names_when_present(tmp_path):
    folder = write_sr(tmp_path / "sr", TINY_NUT_DATA)
    (folder / "FD_GROUP.txt").write_bytes(b"~0100~^~Dairy and Egg Products~\r\n~1500~^~Finfish~\r\n")
    groups = dict(sr28.read(folder, "sr-tiny").foods.select("food_code", "food_group").iter_rows())
    assert groups == {"01001": "Dairy and Egg Products", "01002": "Dairy and Egg Products",
                      "15076": "Finfish", "20000": "2000"}


def test_sr28_missing_file_is_a_one_line_error(tmp_path):
    folder = write_sr(tmp_path / "sr", TINY_NUT_DATA)
    (folder / "NUT_DATA.txt").unlink()
    with pytest.raises(GutaxisError, match=r"NUT_DATA\.txt not found.*gutaxis fetch sr28") as err:
        sr28.read(folder, "sr-tiny")
    assert "\n" not in str(err.value)


def test_sr28_bytes_outside_cp1252_name_file_and_line(tmp_path):
    bad = b"~01001~^~0100~^~Butter~^~BUTTER~^^^^^0^^^^^\r\n~01002~^~0100~^~Bad \x81 byte~^~X~^^^^^0^^^^^\r\n"
    folder = write_sr(tmp_path / "sr", TINY_NUT_DATA, food_des=bad)
    with pytest.raises(GutaxisError, match=r"FOOD_DES\.txt: line 2: byte 0x81 is not Windows-1252"):
        sr28.read(folder, "sr-tiny")


def test_sr28_non_numeric_value_is_a_one_line_error(tmp_path):
    folder = write_sr(tmp_path / "sr", [*TINY_NUT_DATA, "~01002~^~208~^abc"])
    with pytest.raises(GutaxisError, match=r"NUT_DATA\.txt: food 01002 nutrient 208: Nutr_Val 'abc' is not a number"):
        sr28.read(folder, "sr-tiny")


# --- FNDDS ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fndds_xlsx():
    if not (FNDDS_DIR / fndds.OFFICIAL_XLSX).is_file():
        pytest.skip(f"real FNDDS 2017-2018 files not found in {FNDDS_DIR}")
    return fndds.read(FNDDS_DIR, "fndds-2017-2018")


@pytest.mark.realdata
@needs_fndds
def test_fndds_pins_salmon_raw_values_from_the_official_xlsx(fndds_xlsx):
    salmon = fndds_xlsx.foods.filter(pl.col("food_code") == "26137100").row(0, named=True)
    assert salmon == {"source": "fndds-2017-2018", "food_code": "26137100", "description": "Salmon, raw",
                      "food_group": "Fish"}
    assert amounts(fndds_xlsx, "26137100") == pytest.approx({
        "energy_kcal": 127.0, "fiber": 0.0, "choline": 94.6, "omega3_ala": 0.047, "omega3_epa": 0.182,
        "omega3_dha": 0.333, "omega3_total": 0.047 + 0.182 + 0.047 + 0.333,  # 22:5 n-3 = 0.047
        # the HEI's sodium and fatty acids
        "sodium": 75.0, "saturated_fat": 0.81, "monounsaturated_fat": 1.348, "polyunsaturated_fat": 0.811,
        "fat_total": 4.4,  # the DI-GM's high-fat component
        # the DII's nutrients
        "protein": 20.5, "carbohydrate": 0.0, "cholesterol": 46.0, "alcohol": 0.0, "caffeine": 0.0,
        "vitamin_b12": 4.15, "vitamin_b6": 0.611, "beta_carotene": 0.0, "folic_acid": 0.0, "iron": 0.38,
        "magnesium": 27.0, "niacin": 7.995, "riboflavin": 0.105, "selenium": 31.4, "thiamin": 0.08,
        "vitamin_c": 0.0, "vitamin_d": 10.9, "vitamin_e": 0.4, "zinc": 0.39,
    })
    assert fndds_xlsx.foods.height == 7083
    assert fndds_xlsx.foods["food_code"].str.contains(r"^\d{8}$").all()
    assert set(fndds_xlsx.food_components["confidence"]) == {1.0}


@pytest.mark.realdata
@needs_fndds
def test_fndds_xlsx_and_csv_give_identical_frames(fndds_xlsx):
    from_csv = fndds.read_table(FNDDS_CSV, "fndds-2017-2018")
    assert_frame_equal(fndds_xlsx.foods, from_csv.foods)
    assert_frame_equal(fndds_xlsx.food_components, from_csv.food_components)


FNDDS_HEADER = ["Food code", "Main food description", "WWEIA Category number", "WWEIA Category description",
                "22:6 n-3\n(g)", "Energy (kcal)", "Fiber, total dietary (g)", "Choline, total (mg)", "18:3\n(g)",
                "20:5 n-3\n(g)", "22:5 n-3\n(g)", "Water\n(g)"]
FNDDS_ROWS = [
    [11000000, "Milk, human", 9602, "Human milk", 0.0, 70, 0.0, 16.0, 0.052, 0.0, 0.0, 87.5],
    [26137100, "Salmon, raw", 2202, "Fish", 0.333, 127, 0.0, 94.6, 0.047, 0.182, 0.047, 70.0],
]


def test_fndds_reads_a_titled_xlsx_matching_columns_by_name(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["FNDDS Nutrient Values 2017-2018"])
    sheet.append(FNDDS_HEADER)  # columns in another order than USDA's, newlines in the cells
    for row in FNDDS_ROWS:
        sheet.append(row)
    workbook.save(tmp_path / "My FNDDS Nutrient Values.xlsx")
    comp = fndds.read(tmp_path, "fndds-tiny")
    assert amounts(comp, "26137100") == pytest.approx({
        "energy_kcal": 127.0, "fiber": 0.0, "choline": 94.6, "omega3_ala": 0.047, "omega3_epa": 0.182,
        "omega3_dha": 0.333, "omega3_total": 0.609})
    assert comp.foods["food_group"].to_list() == ["Human milk", "Fish"]


def test_fndds_reads_sodium_and_fatty_acids_when_the_table_has_them(tmp_path):
    header = [*FNDDS_HEADER, "Sodium\n(mg)", "Fatty acids, total saturated (g)",
              "Fatty acids, total monounsaturated (g)", "Fatty acids, total polyunsaturated (g)"]
    lines = [",".join(f'"{h}"' for h in header),
             '26137100,"Salmon, raw",2202,Fish,0.333,127,0,94.6,0.047,0.182,0.047,70,75,0.81,1.348,0.811']
    (tmp_path / "nutrient_values.csv").write_text("\n".join(lines) + "\n")
    values = amounts(fndds.read(tmp_path, "fndds-tiny"), "26137100")
    assert {c: values[c] for c in ("sodium", "saturated_fat", "monounsaturated_fat", "polyunsaturated_fat")} == \
        pytest.approx({"sodium": 75.0, "saturated_fat": 0.81, "monounsaturated_fat": 1.348, "polyunsaturated_fat": 0.811})


def test_fndds_csv_codes_printed_as_floats_become_eight_digit_text(tmp_path):
    header = ",".join(f'"{h}"' for h in FNDDS_HEADER)
    lines = [header, '11000000.0,"Milk, human",9602,Human milk,0,70,0,16,0.052,0,,87.5']
    (tmp_path / "nutrient_values.csv").write_text("\n".join(lines) + "\n")
    comp = fndds.read(tmp_path, "fndds-tiny")
    assert comp.foods["food_code"].to_list() == ["11000000"]
    assert amounts(comp, "11000000")["omega3_total"] == pytest.approx(0.052)  # an empty 22:5 counts 0


def test_fndds_missing_column_is_a_one_line_error(tmp_path):
    header = [h for h in FNDDS_HEADER if not h.startswith("Choline")]
    (tmp_path / "nutrient_values.csv").write_text(",".join(f'"{h}"' for h in header) + "\n")
    with pytest.raises(GutaxisError, match=r"column 'Choline, total \(mg\)' not found; this is not an FNDDS"):
        fndds.read(tmp_path, "fndds-tiny")


def test_fndds_bad_value_names_row_and_column(tmp_path):
    header = ",".join(f'"{h}"' for h in FNDDS_HEADER)
    lines = [header, '11000000,"Milk, human",9602,Human milk,0,70,0,16,0.052,0,0,87.5',
             '26137100,"Salmon, raw",2202,Fish,n/a,127,0,94.6,0.047,0.182,0.047,70']
    (tmp_path / "nutrient_values.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(GutaxisError, match=r"row 3: column '22:6 n-3 \(g\)' is 'n/a', not a number"):
        fndds.read(tmp_path, "fndds-tiny")


def test_fndds_folder_without_the_table_says_how_to_fetch(tmp_path):
    with pytest.raises(GutaxisError, match=r"gutaxis fetch fndds-2017-2018"):
        fndds.read(tmp_path, "fndds-2017-2018")


# --- gutaxis-composition-csv ------------------------------------------------------------------

def write_long_csv(folder: Path, components: str, foods: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "foods.csv").write_text(foods or "food_code,description,food_group\n01001,Butter,Dairy\n90001,Oats,Grains\n")
    (folder / "food_components.csv").write_text(components)
    return folder


def test_composition_csv_reads_codes_as_text_with_default_route_and_confidence(tmp_path):
    folder = write_long_csv(tmp_path, "food_code,component_id,amount_per_100g,route,confidence\n"
                                      "01001,energy_kcal,717,,\n90001,beta_glucan,4.2,literature,0.7\n")
    comp = composition_csv.read(folder, "curated")
    assert comp.foods["food_code"].to_list() == ["01001", "90001"]
    assert comp.food_components.rows() == [
        ("curated", "01001", "energy_kcal", 717.0, "analytical", 1.0),
        ("curated", "90001", "beta_glucan", 4.2, "literature", 0.7),
    ]
    assert comp.food_components.schema["amount_per_100g"] == pl.Float64


def test_composition_csv_route_and_confidence_columns_are_optional(tmp_path):
    folder = write_long_csv(tmp_path, "food_code,component_id,amount_per_100g\n01001,fiber,0\n",
                            foods="food_code,description\n01001,Butter\n")
    comp = composition_csv.read(folder, "demo")
    assert comp.food_components.select("route", "confidence").row(0) == ("analytical", 1.0)
    assert comp.foods["food_group"].to_list() == [None]


def test_composition_csv_unknown_component_names_file_line_and_fix(tmp_path):
    folder = write_long_csv(tmp_path, "food_code,component_id,amount_per_100g\n01001,fiber,0\n01001,vitamin_q,3\n")
    with pytest.raises(GutaxisError) as err:
        composition_csv.read(folder, "curated")
    message = str(err.value)
    assert "food_components.csv: line 3: unknown component_id 'vitamin_q'" in message
    assert "data/reference/components.csv" in message
    assert "\n" not in message


@pytest.mark.parametrize(("row", "expected"), [
    ("99999,fiber,1", r"line 2: food_code '99999' is not in foods.csv"),
    ("01001,fiber,-1", r"line 2: amount_per_100g '-1' is not a number >= 0"),
    ("01001,fiber,lots", r"line 2: amount_per_100g 'lots' is not a number"),
    ("01001,fiber,1,guessed,", r"line 2: route 'guessed' is not one of"),
    ("01001,fiber,1,,1.5", r"line 2: confidence '1.5' is not a number between 0 and 1"),
])
def test_composition_csv_bad_rows_are_one_line_errors(tmp_path, row, expected):
    folder = write_long_csv(tmp_path, f"food_code,component_id,amount_per_100g,route,confidence\n{row}\n")
    with pytest.raises(GutaxisError, match=expected):
        composition_csv.read(folder, "curated")


def test_composition_csv_duplicate_rows_and_missing_columns_are_errors(tmp_path):
    folder = write_long_csv(tmp_path / "dup", "food_code,component_id,amount_per_100g\n01001,fiber,0\n01001,fiber,1\n")
    with pytest.raises(GutaxisError, match=r"line 3: food_code '01001' has component_id 'fiber' more than once"):
        composition_csv.read(folder, "curated")
    folder = write_long_csv(tmp_path / "cols", "food_code,component,amount_per_100g\n01001,fiber,0\n")
    with pytest.raises(GutaxisError, match=r"food_components.csv: missing column 'component_id'"):
        composition_csv.read(folder, "curated")


# --- gutaxis.composition ----------------------------------------------------------------------

def test_source_folder_is_spec_relative_path_or_raw_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("GUTAXIS_RAW_DIR", str(tmp_path / "raw"))
    shipped = SourceSpec(id="demo", format="gutaxis-composition-csv", url="", files={}, version="1",
                         citation="generated", path="../demo/composition")
    assert composition.source_folder(shipped) == composition.SOURCES_DIR / "../demo/composition"
    fetched = SourceSpec(id="sr28", format="sr28-ascii", url="", files={"FOOD_DES.txt": "x"}, version="28",
                         citation="USDA")
    assert composition.source_folder(fetched) == tmp_path / "raw" / "sr28"


def test_load_unfetched_source_says_how_to_fetch(monkeypatch, tmp_path):
    monkeypatch.setenv("GUTAXIS_RAW_DIR", str(tmp_path))
    with pytest.raises(GutaxisError) as err:
        composition.load("sr28")
    assert str(err.value) == "source sr28 is not fetched; run `gutaxis fetch sr28` (or `--from PATH`)"


def test_load_dispatches_on_format(monkeypatch, tmp_path):
    folder = write_long_csv(tmp_path / "tiny", "food_code,component_id,amount_per_100g\n01001,fiber,0\n")
    spec = SourceSpec(id="tiny", format="gutaxis-composition-csv", url="", version="1", citation="test",
                      files={"foods.csv": "", "food_components.csv": ""}, path=str(folder))
    monkeypatch.setattr(composition, "load_source_spec", lambda source_id: spec)
    assert composition.is_available(spec)
    comp = composition.load("tiny")
    assert comp.food_components["source"].to_list() == ["tiny"]
    monkeypatch.setattr(composition, "load_source_spec", lambda source_id: spec.model_copy(update={"format": "xls"}))
    with pytest.raises(GutaxisError, match=r"format 'xls' has no composition reader"):
        composition.load("tiny")


def test_load_shipped_source_with_missing_files_points_at_its_path(monkeypatch, tmp_path):
    spec = SourceSpec(id="tiny", format="gutaxis-composition-csv", url="", version="1", citation="test",
                      files={"foods.csv": "", "food_components.csv": ""}, path=str(tmp_path / "nowhere"))
    monkeypatch.setattr(composition, "load_source_spec", lambda source_id: spec)
    with pytest.raises(GutaxisError, match=r"source tiny: files .* missing in .*nowhere; restore them or fix 'path'"):
        composition.load("tiny")
