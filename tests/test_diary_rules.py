"""Row rules, recall inclusion and canonical types, the same for every diary format."""
from __future__ import annotations

import polars as pl
import pytest

from gutaxis.diaries import read_diary
from gutaxis.diary_rules import (INCLUSION_SCHEMA, ITEMS_SCHEMA, PARTICIPANTS_SCHEMA, QUARANTINE_SCHEMA,
                                 SCIENTIFIC_CODE, canonicalize)
from gutaxis.specs import load_cohort_spec
from tests.conftest import write_spec

COLUMNS = {"participant_id": "pid", "recall_day": "day", "food_code": "code", "grams": "g"}
HEADER = "pid,day,code,g,kcal\n"


def from_csv(tmp_path, body: str, *, status: list[int] | None = None, code_width: int = 8, header: str = HEADER):
    """A tabular cohort from CSV text (data rows are numbered from 1 after the header)."""
    (tmp_path / "d.csv").write_text(header + body)
    columns = dict(COLUMNS)
    extra = {}
    if status is not None:
        columns["recall_status"] = "status"
        extra["valid_recall_status"] = status
    spec = write_spec(tmp_path, "c", format="tabular", path="d.csv", columns=columns,
                      reported={"energy_kcal": "kcal"}, **extra)
    return read_diary(load_cohort_spec(spec), code_width, require_usable=False)


def quarantined(result) -> list[tuple]:
    return result.quarantine.select("source_row", "column", "value", "reason").rows()


def canonical(raw: dict, *, format: str = "tabular", status: list[int] | None = None, code_width: int = 8):
    n = len(raw["participant_id"])
    frame = pl.LazyFrame({"source_file": ["f"] * n, "source_row": list(range(1, n + 1)), **raw})
    return canonicalize(frame, cohort="c", format=format, code_width=code_width, valid_recall_status=status)


@pytest.mark.parametrize(("grams", "reason"), [
    ("abc", "grams is not a number"),
    ("-5", "grams must be > 0"),
    ("0", "grams must be > 0"),
    ("20000", "grams above 10000 g (absurd for one item)"),
    ("NaN", "grams is not a finite number (NaN or infinite)"),
    ("inf", "grams is not a finite number (NaN or infinite)"),
    ("", "grams is missing"),
])
def test_bad_grams_are_quarantined_with_their_raw_value(tmp_path, grams, reason):
    result = from_csv(tmp_path, f"1,1,11111000,50,1\n1,1,11111000,{grams},2\n")
    value = grams or None
    assert quarantined(result) == [(2, "grams", value, reason)]
    assert result.items.height == 1 and result.items["grams"].to_list() == [50.0]


def test_grams_printed_as_float_with_blanks_are_accepted(tmp_path):
    result = from_csv(tmp_path, "1,1.0,11111000, 1.0 ,1\n")
    assert result.items["grams"].to_list() == [1.0] and result.quarantine.height == 0


@pytest.mark.parametrize(("row", "column", "value", "reason"), [
    (",1,11111000,5,1", "participant_id", None, "participant_id is missing"),
    ("NA,1,11111000,5,1", "participant_id", "NA", "participant_id is missing"),
    ("1,0,11111000,5,1", "recall_day", "0", "recall_day out of range 1-366"),
    ("1,367,11111000,5,1", "recall_day", "367", "recall_day out of range 1-366"),
    ("1,1.5,11111000,5,1", "recall_day", "1.5", "recall_day is not a whole number"),
    ("1,x,11111000,5,1", "recall_day", "x", "recall_day is not a number"),
    ("1,,11111000,5,1", "recall_day", None, "recall_day is missing"),
    ("1,1,11111000,5,lots", "reported__energy_kcal", "lots", "reported value is not a number"),
    ("1,1,11111000,5,-3", "reported__energy_kcal", "-3", "reported value is negative"),
])
def test_row_rules_name_column_raw_value_and_reason(tmp_path, row, column, value, reason):
    result = from_csv(tmp_path, row + "\n")
    assert quarantined(result) == [(1, column, value, reason)]
    assert result.items.height == 0


@pytest.mark.parametrize(("code", "reason"), [
    ("abc", "food_code is missing or not a number"),
    ("", "food_code is missing or not a number"),
    ("123456789", "food_code longer than 8 digits"),
    ("9.24105155E+07", SCIENTIFIC_CODE),  # 92410515.5: no whole number
    ("1.5e+00", SCIENTIFIC_CODE),
])
def test_an_item_whose_code_cannot_be_trusted_is_kept_unlinked_with_the_reason(tmp_path, code, reason):
    result = from_csv(tmp_path, f"1,1,11111000,5,10\n1,1,{code},7,20\n")
    assert result.quarantine.height == 0
    # kept: its grams and reported energy count; no code, so it links to nothing
    assert result.items.select("food_code", "grams", "reported__energy_kcal").rows() == [(11111000, 5.0, 10.0), (None, 7.0, 20.0)]
    assert result.untrusted_codes.rows() == [(code or None, reason, 1, 7.0)]
    assert result.rows_unaccounted() == 0


@pytest.mark.parametrize(("code", "expected"), [
    ("2e+07", 20000000),           # R's print of 20000000
    ("2E+07", 20000000),
    ("9.241051E+07", 92410510),    # denotes a whole 8-digit number: that code
    ("9.2410515e+07", 92410515),
    ("1.1e+04", 11000),
])
def test_a_code_in_scientific_notation_that_denotes_a_whole_code_is_that_code(tmp_path, code, expected):
    result = from_csv(tmp_path, f"1,1,{code},5,10\n")
    assert result.items["food_code"].to_list() == [expected]
    assert result.untrusted_codes.height == 0 and result.quarantine.height == 0


def test_sr_codes_in_scientific_notation_fit_five_digits(tmp_path):
    result = from_csv(tmp_path, "1,1,1.001e+03,5,1\n1,1,1.2345e+05,5,1\n", code_width=5)
    assert result.items["food_code"].to_list() == [1001, None]
    assert result.untrusted_codes["reason"].to_list() == ["food_code longer than 5 digits"]


def test_a_row_breaking_several_rules_is_quarantined_once_with_the_first(tmp_path):
    result = from_csv(tmp_path, "1,9999,abc,-1,x\n")
    assert quarantined(result) == [(1, "recall_day", "9999", "recall_day out of range 1-366")]


def test_nhanes_recall_day_is_1_or_2():
    result = canonical({"participant_id": ["1", "1"], "recall_day": [2, 3], "food_code": ["11111000"] * 2,
                        "grams": ["5", "5"]}, format="nhanes-iff")
    assert quarantined(result) == [(2, "recall_day", "3", "recall_day out of range 1-2")]


def test_food_codes_are_numbers_without_float_suffix(tmp_path):
    # the warehouse shows them zero-padded to the source's width (tests/test_pipeline.py)
    fndds = from_csv(tmp_path, "1,1,51180010.0,5,1\n")
    assert fndds.items["food_code"].to_list() == [51180010]
    sr = canonical({"participant_id": ["1"] * 3, "recall_day": ["1"] * 3,
                    "food_code": ["1001", " 2047.000 ", "11233.0"], "grams": ["5"] * 3}, code_width=5)
    assert sr.items["food_code"].to_list() == [1001, 2047, 11233]


def test_integers_printed_as_floats_in_ids_and_days(tmp_path):
    result = from_csv(tmp_path, "83736.0,2.0,11111000,5,1\n")
    assert result.items.select("participant_id", "recall_day").rows() == [("83736", 2)]


def test_reported_missing_tokens_and_nan_mean_not_reported(tmp_path):
    result = from_csv(tmp_path, "1,1,11111000,5,NA\n1,1,11111000,5,\n1,1,11111000,5,NaN\n1,1,11111000,5,7\n")
    assert result.quarantine.height == 0
    assert result.items["reported__energy_kcal"].to_list() == [None, None, None, 7.0]


def test_recall_with_unusable_status_is_excluded_and_counted_not_quarantined(tmp_path):
    header = "pid,day,code,g,kcal,status\n"
    body = ("1,1,11111000,5,1,1\n1,1,11111000,5,1,1\n"
            "2,1,11111000,5,1,2\n2,1,abc,-5,1,2\n")  # bad rows of an excluded recall are not judged
    result = from_csv(tmp_path, body, status=[1], header=header)
    assert result.items["participant_id"].unique().to_list() == ["1"]
    assert result.quarantine.height == 0
    assert result.inclusion.drop("cohort").rows() == [
        ("1", 1, 1, True, 2, None),
        ("2", 1, 2, False, 2, "recall status 2 is not usable (valid: 1)"),
    ]
    assert result.participants["participant_id"].to_list() == ["1", "2"]


def test_recall_with_missing_status_is_excluded(tmp_path):
    result = from_csv(tmp_path, "1,1,11111000,5,1,\n", status=[1], header="pid,day,code,g,kcal,status\n")
    assert result.items.height == 0
    assert result.inclusion["reason"].to_list() == ["recall status missing or not a whole number (valid: 1)"]


def test_recall_mixing_statuses_is_excluded_whole():
    result = canonical({"participant_id": ["1", "1", "1"], "recall_day": [1, 1, 2], "food_code": ["11111000"] * 3,
                        "grams": [5.0, 5.0, 5.0], "recall_status": [1, 4, 1]}, status=[1])
    assert result.items.select("participant_id", "recall_day").rows() == [("1", 2)]
    assert result.inclusion.select("recall_day", "recall_status", "included").rows() == [(1, 4, False), (2, 1, True)]


def test_recall_whose_every_item_is_quarantined_is_not_included(tmp_path):
    result = from_csv(tmp_path, "1,1,11111000,-1,1\n1,2,11111000,5,1\n")
    assert result.inclusion.select("recall_day", "included", "n_items", "reason").rows() == [
        (1, False, 1, "every item of this recall was quarantined"), (2, True, 1, None)]


def test_item_seq_numbers_kept_items_in_row_order_even_when_recalls_interleave():
    result = canonical({"participant_id": ["a", "b", "a", "a", "b"], "recall_day": [1, 1, 1, 1, 1],
                        "food_code": ["1", "2", "3", "4", "5"], "grams": [1.0, 1.0, -1.0, 1.0, 1.0]})
    assert result.items.select("participant_id", "item_seq", "food_code").rows() == [
        ("a", 1, 1), ("b", 1, 2), ("a", 2, 4), ("b", 2, 5)]


def test_item_seq_for_contiguous_recalls():
    result = canonical({"participant_id": ["a", "a", "a", "b", "b"], "recall_day": [1, 1, 2, 1, 1],
                        "food_code": ["1"] * 5, "grams": [1.0] * 5})
    assert result.items["item_seq"].to_list() == [1, 2, 1, 1, 2]


def test_native_numeric_columns_are_typed_without_text(tmp_path):
    result = canonical({"participant_id": pl.Series([83736, 83736], dtype=pl.Int64),
                        "recall_day": pl.Series([1, 2], dtype=pl.Int8),
                        "food_code": [51180010.0, 1001.0], "grams": [5.0, float("nan")],
                        "reported__fiber": [float("nan"), 1.0]})
    assert result.items.select("participant_id", "recall_day", "food_code", "reported__fiber").rows() == [
        (83736, 1, 51180010, None)]
    assert quarantined(result) == [(2, "grams", "NaN", "grams is not a finite number (NaN or infinite)")]


def test_uint64_ids_beyond_int64_are_kept_as_text_and_such_codes_kept_unlinked():
    big = 2**63 + 5
    result = canonical({"participant_id": pl.Series([big, 7], dtype=pl.UInt64), "recall_day": [1, 1],
                        "food_code": pl.Series([11111000, big], dtype=pl.UInt64), "grams": [5.0, 6.0]})
    assert result.items.select("participant_id", "food_code").rows() == [(str(big), 11111000), ("7", None)]
    assert result.untrusted_codes.rows() == [(str(big), "food_code is missing or not a number", 1, 6.0)]


def test_output_frames_have_the_canonical_schemas(tmp_path):
    result = from_csv(tmp_path, "1,1,11111000,5,1,u\n1,1,x,5,1,u\n", header="pid,day,code,g,kcal,status\n", status=[1])
    assert dict(result.items.schema) == {**ITEMS_SCHEMA, "reported__energy_kcal": pl.Float64}
    assert dict(result.quarantine.schema) == QUARANTINE_SCHEMA
    assert dict(result.inclusion.schema) == INCLUSION_SCHEMA
    assert dict(result.participants.schema) == PARTICIPANTS_SCHEMA
    assert result.items.height == 0 and result.inclusion["included"].to_list() == [False]


def test_empty_outcomes_keep_schemas():
    result = canonical({"participant_id": [None], "recall_day": ["1"], "food_code": ["1"], "grams": ["1"]})
    assert result.items.height == 0 and result.inclusion.height == 0 and result.participants.height == 0
    assert result.items["item_seq"].dtype == pl.Int32
    assert dict(result.inclusion.schema) == INCLUSION_SCHEMA


def test_external_id_is_one_per_participant():
    result = canonical({"participant_id": ["a", "a", "b"], "recall_day": [1, 2, 1], "food_code": ["1"] * 3,
                        "grams": [1.0] * 3, "external_id": [None, "ua", None]})
    assert result.participants.drop("cohort").rows() == [("a", "ua"), ("b", None)]


def test_quarantine_names_the_source_file_of_each_row(tmp_path):
    (tmp_path / "a.csv").write_text(HEADER + "1,1,11111000,5,1\n")
    (tmp_path / "b.csv").write_text(HEADER + "2,1,11111000,0,1\n")
    spec = write_spec(tmp_path, "c", format="tabular", path="*.csv", columns=COLUMNS)
    result = read_diary(load_cohort_spec(spec), 8)
    assert result.quarantine.select("source_file", "source_row", "reason").rows() == [("b.csv", 1, "grams must be > 0")]
    assert result.items["participant_id"].to_list() == ["1"]
