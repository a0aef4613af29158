"""Diary readers: real NHANES / ASA24 / tabular files, XPT written at test time, and one-line errors."""
from __future__ import annotations

import pandas as pd
import polars as pl
import pyreadstat
import pytest
from polars.testing import assert_frame_equal

from gutaxis import GutaxisError
from gutaxis.diaries import read_diary
from gutaxis.formats import RAW_DIARY_COLUMNS, nhanes_iff
from gutaxis.specs import load_cohort_spec
from tests.conftest import write_spec

NHANES_SAMPLE = ("nhanes", "2015-2016", "DR1IFF_I_sample30.tsv")
WOMEN40S = ("nhanes", "2015-2016", "IFF_day1_day2_women40s.tsv")
ASA24_ITEMS = ("asa24", "dietaryindex-example", "Items.csv")
OMEGA3 = ["DR1IP183", "DR1IP205", "DR1IP225", "DR1IP226"]


def diary(folder, name="c", code_width=8, **fields):
    return read_diary(load_cohort_spec(write_spec(folder, name, **fields)), code_width)


def nhanes_sample(realdata) -> pl.DataFrame:
    return pl.read_csv(realdata.joinpath(*NHANES_SAMPLE), separator="\t", infer_schema=False)


def write_xpt(frame: pl.DataFrame, path) -> None:
    """Numeric SEQN/DR1* columns as SAS transport, the way NHANES publishes them."""
    columns = [c for c in frame.columns if c == "SEQN" or c.startswith("DR1")]
    numeric = frame.select(pl.col(columns).cast(pl.Float64, strict=False))
    pyreadstat.write_xport(pd.DataFrame({c: numeric[c].to_numpy() for c in columns}), str(path), table_name="DR1IFF", file_format_version=5)


# --- real files -------------------------------------------------------------------------------

@pytest.mark.realdata
def test_nhanes_sample_text_reads_510_items_of_30_participants_on_day_1(realdata, tmp_path):
    result = diary(tmp_path, format="nhanes-iff", path=str(realdata.joinpath(*NHANES_SAMPLE)))
    sample = nhanes_sample(realdata)
    assert result.items.height == 510
    assert result.participants.height == 30
    assert result.quarantine.height == 0
    assert result.items["recall_day"].unique().to_list() == [1]
    assert result.inclusion.height == 30 and result.inclusion["included"].all()
    assert result.inclusion["recall_status"].unique().to_list() == [1]
    # codes are kept as numbers (the warehouse shows them zero-padded)
    assert result.items["food_code"].cast(pl.String).str.zfill(8).to_list() == sample["DR1IFDCD"].to_list()
    assert result.items["participant_id"].to_list() == sample["SEQN"].to_list()
    assert result.items["reported__energy_kcal"].to_list() == sample["DR1IKCAL"].cast(pl.Float64).to_list()
    assert result.items["reported__choline"].to_list() == sample["DR1ICHL"].cast(pl.Float64).to_list()


@pytest.mark.realdata
def test_nhanes_item_seq_ranks_dr1iline_within_participant(realdata, tmp_path):
    result = diary(tmp_path, format="nhanes-iff", path=str(realdata.joinpath(*NHANES_SAMPLE)))
    # DR1ILINE has gaps (1..12, 14..); item_seq is its rank, 1..n.
    expected = nhanes_sample(realdata).select(
        pl.col("DR1ILINE").cast(pl.Int64).rank("ordinal").over("SEQN").cast(pl.Int32)).to_series()
    assert result.items["item_seq"].to_list() == expected.to_list()


@pytest.mark.realdata
def test_nhanes_omega3_total_is_ala_epa_dpa_dha(realdata, tmp_path):
    result = diary(tmp_path, format="nhanes-iff", path=str(realdata.joinpath(*NHANES_SAMPLE)))
    expected = nhanes_sample(realdata).select(pl.sum_horizontal(pl.col(OMEGA3).cast(pl.Float64))).to_series()
    got = result.items["reported__omega3_total"]
    assert (got - expected).abs().max() < 1e-12


@pytest.mark.realdata
def test_nhanes_xpt_written_from_the_sample_reads_like_the_text(realdata, tmp_path):
    xpt = tmp_path / "DR1IFF_I.XPT"
    write_xpt(nhanes_sample(realdata), xpt)
    from_text = diary(tmp_path, "text", format="nhanes-iff", path=str(realdata.joinpath(*NHANES_SAMPLE)))
    from_xpt = diary(tmp_path, "xpt", format="nhanes-iff", path=xpt.name)
    assert_frame_equal(from_xpt.items, from_text.items, check_exact=False, rel_tol=1e-12)
    assert_frame_equal(from_xpt.inclusion.drop("cohort"), from_text.inclusion.drop("cohort"))
    assert from_xpt.quarantine.height == 0


@pytest.mark.realdata
def test_asa24_items_read_383_items_in_21_recalls_keeping_username_and_userid(realdata, tmp_path):
    path = realdata.joinpath(*ASA24_ITEMS)
    result = diary(tmp_path, format="asa24-items", path=str(path))
    source = pl.read_csv(path, infer_schema=False)
    assert result.items.height == 383
    assert result.quarantine.height == 0
    assert result.inclusion.height == 21 and result.inclusion["included"].all()
    assert result.inclusion["recall_status"].unique().to_list() == [2]
    assert result.items["recall_day"].unique().to_list() == [1]  # RecallNo printed as 1.0
    assert (result.items["food_code"] < 10**8).all()  # 8 digits at most (a few SR codes among them)
    assert 51180010 in result.items["food_code"].to_list()
    pairs = source.select(participant_id="UserName", external_id="UserID").unique().sort("participant_id")
    assert_frame_equal(result.participants.drop("cohort"), pairs)


@pytest.mark.realdata
def test_asa24_choline_is_choln_not_cholesterol(realdata, tmp_path):
    path = realdata.joinpath(*ASA24_ITEMS)
    result = diary(tmp_path, format="asa24-items", path=str(path))
    source = pl.read_csv(path, infer_schema=False).select(pl.col("CHOLN", "CHOLE").cast(pl.Float64))
    choline = result.items["reported__choline"]
    assert choline.sum() == pytest.approx(source["CHOLN"].sum())
    assert choline.sum() != pytest.approx(source["CHOLE"].sum())


@pytest.mark.realdata
def test_women40s_tabular_uses_day_not_day_of_week(realdata, tmp_path):
    result = diary(tmp_path, format="tabular", path=str(realdata.joinpath(*WOMEN40S)), delimiter="\t",
                   columns={"participant_id": "SEQN", "recall_day": "Day", "food_code": "FoodCode", "grams": "FoodAmt"},
                   reported={"energy_kcal": "KCAL", "fiber": "FIBE", "choline": "CHL"})
    assert result.items.height == 4542
    assert sorted(result.items["recall_day"].unique().to_list()) == [1, 2]
    assert result.participants.height == 151
    assert result.inclusion.height == 302 and result.inclusion["recall_status"].is_null().all()
    assert result.quarantine.height == 0
    assert result.items.select(pl.col("^reported__.*$")).columns == [
        "reported__energy_kcal", "reported__fiber", "reported__choline"]


@pytest.mark.realdata
def test_tabular_column_differing_only_by_case_is_named_in_the_error(realdata, tmp_path):
    with pytest.raises(GutaxisError) as err:
        diary(tmp_path, format="tabular", path=str(realdata.joinpath(*WOMEN40S)),
              columns={"participant_id": "SEQN", "recall_day": "day", "food_code": "FoodCode", "grams": "FoodAmt"})
    message = str(err.value)
    assert "\n" not in message
    assert "IFF_day1_day2_women40s.tsv" in message and "'day'" in message
    assert "'DAY'" in message and "'Day'" in message and "columns.recall_day" in message


# --- formats and files built here -------------------------------------------------------------

NHANES_TEXT = (
    "SEQN,DR1ILINE,DR1DRSTZ,DR1IFDCD,DR1IGRMS,DR1IKCAL,DR1IP183,DR1IP205,DR1IP225,DR1IP226\n"
    "100,2,1,11111000,244,100,0.1,0.01,0.001,0.02\n"
    "100,1,1,51180010.0,30,80,0.2,0,0,0\n"
    "101,1,2,11111000,100,50,0.1,0,0,0\n"
)


def test_nhanes_text_items_follow_dr1iline_and_status_2_recalls_are_excluded(tmp_path):
    (tmp_path / "DR1IFF_X.txt").write_text(NHANES_TEXT)  # .txt: comma found by sniffing
    result = diary(tmp_path, format="nhanes-iff", path="DR1IFF_X.txt")
    assert result.items.select("participant_id", "item_seq", "food_code").rows() == [
        ("100", 1, 51180010), ("100", 2, 11111000)]
    assert result.quarantine.height == 0
    excluded = result.inclusion.filter(~pl.col("included"))
    assert excluded.select("participant_id", "recall_status", "n_items").rows() == [("101", 2, 1)]
    assert result.items["reported__omega3_total"].to_list() == pytest.approx([0.2, 0.131])


def test_nhanes_day_2_file_gives_recall_day_2(tmp_path):
    (tmp_path / "DR2IFF_X.csv").write_text(NHANES_TEXT.replace("DR1", "DR2"))
    result = diary(tmp_path, format="nhanes-iff", path="DR2IFF_X.csv")
    assert result.items["recall_day"].unique().to_list() == [2]


def test_nhanes_day_1_and_day_2_files_stack_through_a_glob(tmp_path):
    (tmp_path / "DR1IFF_X.csv").write_text(NHANES_TEXT)
    (tmp_path / "DR2IFF_X.csv").write_text(NHANES_TEXT.replace("DR1", "DR2"))
    result = diary(tmp_path, format="nhanes-iff", path="DR?IFF_X.csv")
    assert result.items.select("participant_id", "recall_day").unique().sort("recall_day").rows() == [("100", 1), ("100", 2)]


def test_nhanes_without_omega3_dpa_reports_no_total(tmp_path):
    (tmp_path / "DR1IFF_X.csv").write_text(NHANES_TEXT.replace("DR1IP225", "OTHER"))
    result = diary(tmp_path, format="nhanes-iff", path="DR1IFF_X.csv")
    assert "reported__omega3_total" not in result.items.columns
    assert "reported__omega3_dha" in result.items.columns


def test_nhanes_omega3_total_is_null_when_a_part_is_missing(tmp_path):
    (tmp_path / "DR1IFF_X.csv").write_text(NHANES_TEXT.replace("0.2,0,0,0", "0.2,0,NA,0"))
    result = diary(tmp_path, format="nhanes-iff", path="DR1IFF_X.csv")
    assert result.items["reported__omega3_total"].to_list()[0] is None
    assert result.quarantine.height == 0


def test_xpt_zero_read_back_as_tiny_number_becomes_zero(tmp_path):
    frame = pl.DataFrame({"SEQN": [1.0], "DR1ILINE": [1.0], "DR1DRSTZ": [1.0], "DR1IFDCD": [11111000.0],
                          "DR1IGRMS": [10.0], "DR1IKCAL": [5.397605346934028e-79]})
    pyreadstat.write_xport(pd.DataFrame(frame.to_dict(as_series=False)), str(tmp_path / "DR1IFF_Z.XPT"), table_name="DR1IFF")
    raw = nhanes_iff.read_file(tmp_path / "DR1IFF_Z.XPT", load_cohort_spec(write_spec(tmp_path, "z", format="nhanes-iff", path="x")))
    assert raw.collect()["reported__energy_kcal"].to_list() == [0.0]


@pytest.mark.parametrize("version", [5, 8])
def test_xpt_cut_short_is_refused_naming_the_file(tmp_path, version):
    n = 10
    frame = pl.DataFrame({"SEQN": [float(1 + i // 2) for i in range(n)], "DR1ILINE": [float(1 + i % 2) for i in range(n)],
                          "DR1DRSTZ": [1.0] * n, "DR1IFDCD": [11111000.0] * n, "DR1IGRMS": [10.0 * (i + 1) for i in range(n)],
                          "DR1IKCAL": [1.0] * n})
    whole = tmp_path / "whole.XPT"  # rows of 48 bytes: a cut at a record's end falls inside a row, or at a row's end
    pyreadstat.write_xport(pd.DataFrame(frame.to_dict(as_series=False)), str(whole), table_name="DR1IFF",
                           file_format_version=version)
    assert diary(tmp_path, format="nhanes-iff", path="whole.XPT").items.height == n
    data = whole.read_bytes()
    cuts = [len(data) - 80, len(data) - 37]  # inside a row at a record boundary; inside a record
    if version == 8:
        cuts.append(len(data) - 240)  # 5 whole rows of 10 (240 bytes): only v8's stated count shows it
    for cut in cuts:
        (tmp_path / "DR1IFF_Z.XPT").write_bytes(data[:cut])
        with pytest.raises(GutaxisError, match=r"DR1IFF_Z\.XPT: the file is cut short .*; download or copy it again") as err:
            diary(tmp_path, format="nhanes-iff", path="DR1IFF_Z.XPT")
        assert "\n" not in str(err.value)


def test_readers_return_the_raw_frame_contract(tmp_path):
    (tmp_path / "DR1IFF_X.csv").write_text(NHANES_TEXT)
    spec = load_cohort_spec(write_spec(tmp_path, "c", format="nhanes-iff", path="DR1IFF_X.csv"))
    raw = nhanes_iff.read(spec).collect()
    assert raw.columns[:len(RAW_DIARY_COLUMNS)] == list(RAW_DIARY_COLUMNS)
    assert raw["source_row"].dtype == pl.Int64
    assert raw["source_row"].to_list() == [2, 1, 3]  # file rows, ordered by SEQN, DR1ILINE
    assert raw["grams"].dtype == pl.String  # text stays text until diary_rules


def test_nhanes_file_lacking_grams_names_file_column_and_fix(tmp_path):
    (tmp_path / "DR1IFF_X.csv").write_text(NHANES_TEXT.replace("DR1IGRMS", "GRAMS"))
    with pytest.raises(GutaxisError, match=r"DR1IFF_X\.csv: column 'DR1IGRMS' is missing \(closest columns in the file: 'GRAMS'\); give the official NHANES") as err:
        diary(tmp_path, format="nhanes-iff", path="DR1IFF_X.csv")
    assert "\n" not in str(err.value)


def test_header_name_with_spaces_around_it_is_pointed_out(tmp_path):
    (tmp_path / "DR1IFF_X.csv").write_text(NHANES_TEXT.replace("SEQN,", "SEQN ,", 1))
    with pytest.raises(GutaxisError, match=r"DR1IFF_X\.csv: column 'SEQN' is missing \(the file has 'SEQN ': spaces "
                                           r"around a name are part of it; remove them from the header\)"):
        diary(tmp_path, format="nhanes-iff", path="DR1IFF_X.csv")


def test_nhanes_file_name_and_column_prefix_must_agree(tmp_path):
    (tmp_path / "DR2IFF_X.csv").write_text(NHANES_TEXT)
    with pytest.raises(GutaxisError, match=r"file name says day 2 but its columns are DR1\* \(DR1IFDCD\)"):
        diary(tmp_path, format="nhanes-iff", path="DR2IFF_X.csv")


def test_nhanes_file_without_food_codes_is_not_an_iff(tmp_path):
    (tmp_path / "foods.csv").write_text("SEQN,FoodCode\n1,2\n")
    with pytest.raises(GutaxisError, match=r"column 'DR1IFDCD' \(or 'DR2IFDCD'\) is missing"):
        diary(tmp_path, format="nhanes-iff", path="foods.csv")


ASA24_TEXT = (
    "UserName,UserID,RecallNo,RecallStatus,FoodCode,FoodAmt,KCAL,CHOLE,CHOLN,P183,P205,P225,P226\n"
    "A1,u-1,1.0,2.0,51180010.0,34.5,91.08,99,5.0,0.1,0.0,0.0,0.0\n"
    "A1,u-1,2.0,5.0,2047.0,1.0,0,0,0,0,0,0,0\n"
)


def test_asa24_codes_printed_as_floats_and_status_other_than_2(tmp_path):
    (tmp_path / "Items.csv").write_text(ASA24_TEXT)
    result = diary(tmp_path, format="asa24-items", path="Items.csv")
    assert result.items.select("participant_id", "recall_day", "food_code", "reported__choline").rows() == [
        ("A1", 1, 51180010, 5.0)]
    assert result.inclusion.select("recall_day", "recall_status", "included").rows() == [(1, 2, True), (2, 5, False)]
    assert result.participants.rows() == [("c", "A1", "u-1")]


def test_asa24_file_whose_every_recall_is_excluded_is_one_line_error(tmp_path):
    (tmp_path / "Items.csv").write_text(ASA24_TEXT.replace("A1,u-1,1.0,2.0", "A1,u-1,1.0,5.0"))
    with pytest.raises(GutaxisError, match=r"Items\.csv: no recall is usable: all 2 were excluded, 2 of them with "
                                           r"'recall status 5 is not usable \(valid: 2\)' \(first: participant A1, day 1\); "
                                           r"the file holds no complete recall") as err:
        diary(tmp_path, format="asa24-items", path="Items.csv")
    assert "\n" not in str(err.value)


def test_tabular_status_codes_the_spec_does_not_accept_point_to_valid_recall_status(tmp_path):
    (tmp_path / "d.csv").write_text("pid,day,code,g,status\n1,1,11111000,10,2\n1,2,11111000,20,2\n")
    spec = write_spec(tmp_path, "c", format="tabular", path="d.csv", columns={**TABULAR_MAP, "recall_status": "status"})
    with pytest.raises(GutaxisError, match=r"d\.csv: no recall is usable: all 2 were excluded.*"
                                           r"set valid_recall_status in .*c\.yaml"):
        read_diary(load_cohort_spec(spec), 8)


def test_recalls_excluded_outnumbering_quarantined_rows_name_the_status_and_both_counts(tmp_path):
    body = "pid,day,code,g,status\n1,1,11111000,abc,1\n" + "".join(f"{p},1,11111000,5,2\n" for p in range(2, 12))
    (tmp_path / "d.csv").write_text(body)
    spec = write_spec(tmp_path, "c", format="tabular", path="d.csv", columns={**TABULAR_MAP, "recall_status": "status"})
    with pytest.raises(GutaxisError, match=r"d\.csv: no recall is usable: all 10 were excluded, 10 of them with "
                                           r"'recall status 2 is not usable \(valid: 1\)' .* \(1 rows were also "
                                           r"quarantined\); if this file marks"):
        read_diary(load_cohort_spec(spec), 8)


def test_asa24_file_lacking_foodamt_names_it(tmp_path):
    (tmp_path / "Items.csv").write_text(ASA24_TEXT.replace("FoodAmt", "Amount"))
    with pytest.raises(GutaxisError, match=r"Items\.csv: column 'FoodAmt' is missing; give the ASA24"):
        diary(tmp_path, format="asa24-items", path="Items.csv")


TABULAR_MAP = {"participant_id": "pid", "recall_day": "day", "food_code": "code", "grams": "g"}


def test_parquet_keeps_native_types_integer_ids_and_codes(tmp_path):
    pl.DataFrame({"pid": [7, 7, 8], "day": pl.Series([1, 1, 2], dtype=pl.Int8), "code": [1001, 11233, 1001],
                  "g": [10.0, 20.0, 30.0], "kcal": [1.5, None, float("nan")], "other": ["x", "y", "z"]}
                 ).write_parquet(tmp_path / "d.parquet")
    spec = load_cohort_spec(write_spec(tmp_path, "c", format="tabular", path="d.parquet", columns=TABULAR_MAP,
                                       reported={"energy_kcal": "kcal"}))
    from gutaxis.formats import tabular
    raw = tabular.read(spec)
    assert raw.collect_schema()["participant_id"] == pl.Int64  # no text round trip
    result = read_diary(spec, 5)
    assert result.items.select("participant_id", "recall_day", "item_seq", "food_code", "reported__energy_kcal").rows() == [
        (7, 1, 1, 1001, 1.5), (7, 1, 2, 11233, None), (8, 2, 1, 1001, None)]
    assert result.participants["participant_id"].to_list() == ["7", "8"]  # the contract's text ids


def test_tabular_csv_and_tsv_chosen_by_extension(tmp_path):
    (tmp_path / "a.tsv").write_text("pid\tday\tcode\tg\n1\t1\t11111000\t5\n")
    (tmp_path / "b.csv").write_text("pid,day,code,g\n2,1,11111000,6\n")
    result = diary(tmp_path, format="tabular", path="[ab].?sv", columns=TABULAR_MAP)
    assert result.items.select("participant_id", "grams").rows() == [("1", 5.0), ("2", 6.0)]


def test_empty_and_header_only_files_have_no_data_rows(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("pid,day,code,g\n")
    for name in ("empty.csv", "header.csv"):
        with pytest.raises(GutaxisError, match=rf"{name}: has no data rows; "):
            diary(tmp_path, format="tabular", path=name, columns=TABULAR_MAP)


def test_damaged_parquet_is_one_line_error_naming_the_file(tmp_path):
    (tmp_path / "d.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(GutaxisError, match=r"d\.parquet: cannot be read as tabular") as err:
        diary(tmp_path, format="tabular", path="d.parquet", columns=TABULAR_MAP)
    assert "\n" not in str(err.value)


def test_glob_of_files_typing_a_column_differently_reads_it_as_text(tmp_path):
    pl.DataFrame({"pid": ["a", "b"], "day": [1, 1], "code": [11111000, 11111000], "g": [5.0, 6.0]},
                 schema_overrides={"pid": pl.Categorical}).write_parquet(tmp_path / "d1.parquet")
    pl.DataFrame({"pid": [3], "day": [1], "code": [11111000], "g": [7]}).write_parquet(tmp_path / "d2.parquet")
    result = diary(tmp_path, format="tabular", path="d*.parquet", columns=TABULAR_MAP)
    assert result.items.select("participant_id", "grams").rows() == [("a", 5.0), ("b", 6.0), ("3", 7.0)]


def test_glob_mixing_uint64_and_int32_ids_or_integer_and_float_ids_reads_them_as_text(tmp_path):
    big = 2**63 + 5
    pl.DataFrame({"pid": [1], "day": [1], "code": [11111000], "g": [5.0]},
                 schema_overrides={"pid": pl.Int32}).write_parquet(tmp_path / "u1.parquet")
    pl.DataFrame({"pid": [big], "day": [1], "code": [11111000], "g": [6.0]},
                 schema_overrides={"pid": pl.UInt64}).write_parquet(tmp_path / "u2.parquet")
    result = diary(tmp_path, format="tabular", path="u*.parquet", columns=TABULAR_MAP)
    assert result.items["participant_id"].to_list() == ["1", str(big)]
    pl.DataFrame({"pid": [2**53 + 1], "day": [1], "code": [11111000], "g": [5.0]}).write_parquet(tmp_path / "f1.parquet")
    pl.DataFrame({"pid": [7.0], "day": [1], "code": [11111000], "g": [6.0]}).write_parquet(tmp_path / "f2.parquet")
    result = diary(tmp_path, format="tabular", path="f*.parquet", columns=TABULAR_MAP)
    assert result.items["participant_id"].to_list() == [str(2**53 + 1), "7"]  # not rounded through Float64


def test_ragged_line_deep_in_a_csv_is_quarantined_with_its_field_count(tmp_path):
    rows = "".join(f"{i},1,11111000,5\n" for i in range(5000))
    (tmp_path / "good.csv").write_text("pid,day,code,g\n" + rows)
    (tmp_path / "ragged.csv").write_text("pid,day,code,g\n" + rows + "1,1,11111000,5,9,9\n")
    result = diary(tmp_path, format="tabular", path="*.csv", columns=TABULAR_MAP)
    assert result.quarantine.select("source_file", "source_row", "column", "value", "reason").rows() == [
        ("ragged.csv", 5001, "(row)", "1,1,11111000,5,9,9", "row has 6 fields, header has 4")]
    assert result.items.height == 10_000


@pytest.mark.parametrize("extra_column", ["", ",note"])  # with an unused column, a parser reading the used ones skips it
def test_ragged_line_in_a_csv_whose_quoting_spans_lines_names_the_file_and_row(tmp_path, extra_column):
    # A quoted line break: lines are not rows, so records are counted by a CSV reader.
    fill = ",x" if extra_column else ""
    rows = "".join(f"{i},1,11111000,5{fill}\n" for i in range(5000))
    (tmp_path / "ragged.csv").write_text(f'pid,day,code,g{extra_column}\n1,1,"11111\n000",5{fill}\n' + rows
                                         + f"1,1,11111000,5{fill},9\n")
    width = 5 if extra_column else 4
    with pytest.raises(GutaxisError, match=rf"ragged\.csv: row 5002 has {width + 1} fields, more than the header's {width} "
                                           r"\(a stray delimiter or an unquoted value\?\); fix that row") as err:
        diary(tmp_path, format="tabular", path="*.csv", columns=TABULAR_MAP)
    assert "\n" not in str(err.value)


def test_empty_fields_beyond_the_header_are_accepted_when_quoting_spans_lines(tmp_path):
    (tmp_path / "d.csv").write_text('pid,day,code,g,note\n1,1,11111000,5,"a\nb",\n2,1,11111000,5,y,\n')
    assert diary(tmp_path, format="tabular", path="d.csv", columns=TABULAR_MAP).items.height == 2


def test_bad_delimiter_in_spec_is_reported(tmp_path):
    (tmp_path / "a.txt").write_text("pid;day;code;g\n1;1;11111000;5\n")
    with pytest.raises(GutaxisError, match="delimiter ';;' must be a single character"):
        diary(tmp_path, format="tabular", path="a.txt", delimiter=";;", columns=TABULAR_MAP)
    assert diary(tmp_path, format="tabular", path="a.txt", columns=TABULAR_MAP).items.height == 1  # sniffed


def test_file_split_on_the_wrong_delimiter_suggests_the_delimiter(tmp_path):
    (tmp_path / "d.csv").write_text("pid\tday\tcode\tg\n1\t1\t11111000\t5\n")
    with pytest.raises(GutaxisError, match=r"d\.csv: column 'pid' is missing: the header reads as one column, "
                                           r"delimited by '\\t' it seems; set 'delimiter'"):
        diary(tmp_path, format="tabular", path="d.csv", columns=TABULAR_MAP)
    assert diary(tmp_path, format="tabular", path="d.csv", delimiter="\t", columns=TABULAR_MAP).items.height == 1
