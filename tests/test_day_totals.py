"""Day-totals diaries (nhanes-tot, tabular-totals) and the FPED food-group components."""
from __future__ import annotations

import duckdb
import pandas as pd
import polars as pl
import pyreadstat
import pytest

from gutaxis import GutaxisError
from gutaxis.components import derived, food_groups
from gutaxis.components import component_ids, units
from gutaxis.day_totals import participant_table, read_day_totals, day_table
from gutaxis.report import format_report
from gutaxis.specs import load_cohort_spec
from pipelines.runner import run_cohorts
from tests.conftest import write_spec

# Shaped like NHANES DR1TOT_J: SEQN and weights as doubles, DR1DRSTZ 1 (usable), 2, 5.
DR1TOT = {"SEQN": [93704.0, 93705.0, 93706.0, 93707.0], "WTDRD1": [81714.005497, 7185.560737, 0.0, 30185.3],
          "WTDR2D": [82442.869214, 5640.391078, None, None], "DR1DRSTZ": [1.0, 1.0, 5.0, 2.0],
          "DR1TKCAL": [1230.0, 1202.0, None, 1500.0], "DR1TFIBE": [7.8, 20.5, None, 3.0],
          "DR1TCHL": [273.1, 258.5, None, 100.0], "DR1TP183": [0.836, 1.462, None, 0.5],
          "DR1TP205": [0.016, 0.0, None, 0.0], "DR1TP225": [0.01, 0.006, None, 0.0], "DR1TP226": [0.044, 0.003, None, 0.0]}


def _xpt(path, columns: dict, table_name: str) -> None:
    pyreadstat.write_xport(pd.DataFrame(columns), str(path), table_name=table_name, file_format_version=5)


def _spec(folder, name="tot", **fields):
    return load_cohort_spec(write_spec(folder, name, **fields))


def test_nhanes_tot_xpt_gives_days_of_usable_recalls_with_components_and_weights(tmp_path):
    _xpt(tmp_path / "DR1TOT_J.xpt", DR1TOT, "DR1TOT_J")
    day2 = {k: v[:1] for k, v in DR1TOT.items() if not k.startswith("DR1")} | {
        "DR2DRSTZ": [1.0], "DR2TKCAL": [1770.0], "DR2TFIBE": [12.2], "DR2TCHL": [300.0], "DR2TP183": [1.0],
        "DR2TP205": [0.0], "DR2TP225": [0.0], "DR2TP226": [0.0]}
    _xpt(tmp_path / "DR2TOT_J.xpt", day2, "DR2TOT_J")
    totals = read_day_totals(_spec(tmp_path, format="nhanes-tot", path="DR*TOT_J.xpt"), component_ids())
    assert totals.components == ("energy_kcal", "fiber", "choline", "omega3_ala", "omega3_epa", "omega3_dha", "omega3_total")
    days = totals.days.sort("participant_id", "recall_day")
    assert days.select("participant_id", "recall_day").rows() == [("93704", 1), ("93704", 2), ("93705", 1)]
    assert days["omega3_total"][0] == pytest.approx(0.836 + 0.016 + 0.01 + 0.044)
    excluded = totals.inclusion.filter(~pl.col("included"))
    assert excluded.select("participant_id", "recall_status").sort("participant_id").rows() == [("93706", 5), ("93707", 2)]
    assert totals.quarantine.height == 0
    weights = totals.weights.sort("participant_id")
    assert weights["participant_id"].to_list() == ["93704", "93705", "93706", "93707"]  # every participant, usable or not
    assert weights["wt_day1"].to_list() == DR1TOT["WTDRD1"] and weights["wt_day1_variable"][0] == "WTDRD1"
    participants = participant_table(day_table(totals), totals.components).sort("participant_id")
    assert participants["n_days"].to_list() == [2, 1]
    assert participants["mean_daily__energy_kcal"].to_list() == [(1230.0 + 1770.0) / 2, 1202.0]


def test_nhanes_tot_takes_the_pre_pandemic_pp_weights(tmp_path):
    columns = {k: v for k, v in DR1TOT.items() if k not in ("WTDRD1", "WTDR2D")}
    columns |= {"WTDRD1PP": DR1TOT["WTDRD1"], "WTDR2DPP": DR1TOT["WTDR2D"]}
    _xpt(tmp_path / "P_DR1TOT.xpt", columns, "P_DR1TOT")
    weights = read_day_totals(_spec(tmp_path, format="nhanes-tot", path="P_DR1TOT.xpt"), component_ids()).weights
    assert set(weights["wt_day1_variable"]) == {"WTDRD1PP"} and set(weights["wt_two_day_variable"]) == {"WTDR2DPP"}
    assert weights.sort("participant_id")["wt_two_day"].to_list()[:2] == DR1TOT["WTDR2D"][:2]


def test_fped_day_totals_csv_maps_drxt_columns_to_food_groups(tmp_path):
    (tmp_path / "fped_dr2tot_1718.csv").write_text(
        "SEQN,WTDRD1,WTDR2D,DR2DRSTZ,DR2T_F_TOTAL,DR2T_D_YOGURT,DR2T_G_WHOLE\n"
        "93704,81714.0,82442.8,1,0.99,0.5,1.2\n93705,7185.5,5640.3,4,,,\n")
    totals = read_day_totals(_spec(tmp_path, format="nhanes-tot", path="fped_dr2tot_1718.csv"), component_ids())
    assert totals.components == ("fg_fruit", "fg_whole_grains", "fg_yogurt")
    assert totals.days.rows() == [("93704", 2, 0.99, 1.2, 0.5)]
    assert totals.inclusion.filter(~pl.col("included"))["recall_status"].to_list() == [4]


def test_nhanes_tot_refuses_a_file_named_for_the_other_day(tmp_path):
    _xpt(tmp_path / "DR2TOT_J.xpt", DR1TOT, "DR2TOT_J")
    with pytest.raises(GutaxisError, match=r"DR2TOT_J.xpt: the file name says day 2 but its columns are DR1"):
        read_day_totals(_spec(tmp_path, format="nhanes-tot", path="DR2TOT_J.xpt"), component_ids())


TABULAR = dict(format="tabular-totals", path="days.csv", columns={"participant_id": "id", "recall_day": "day"},
               reported={"energy_kcal": "kcal", "fiber": "fibre"})


def test_tabular_totals_quarantines_repeated_days_negative_and_unparsable_totals(tmp_path):
    (tmp_path / "days.csv").write_text("id,day,kcal,fibre\n"
                                       "a,1,2000,20\n"   # row 1: fine
                                       "a,2,1800,-3\n"   # row 2: negative fibre
                                       "b,1,1500,1O\n"   # row 3: letter O for zero
                                       "c,1,1900,15\n"   # rows 4-5: c day 1 twice
                                       "c,1,1950,16\n"
                                       "d,1,2100,\n")    # row 6: fibre not given: NULL, not 0
    totals = read_day_totals(_spec(tmp_path, **TABULAR), component_ids())
    quarantine = {row["source_row"]: (row["column"], row["reason"]) for row in totals.quarantine.iter_rows(named=True)}
    assert quarantine[2] == ("fibre", "fiber total is negative; a day's total cannot be below 0: fix the value in the file")
    assert quarantine[3][0] == "fibre" and "not a number" in quarantine[3][1]
    assert quarantine[4][1].startswith("participant and recall day repeated in 2 rows (first: days.csv row 4)")
    assert set(quarantine) == {2, 3, 4, 5}
    assert totals.days.rows() == [("a", 1, 2000.0, 20.0), ("d", 1, 2100.0, None)]


def test_tabular_totals_names_a_missing_mapped_column_and_the_fix(tmp_path):
    (tmp_path / "days.csv").write_text("id,day,kcal\na,1,2000\n")
    with pytest.raises(GutaxisError, match=r"days.csv: column 'fibre' is missing.*fix reported.fiber in the cohort spec"):
        read_day_totals(_spec(tmp_path, **TABULAR), component_ids())


def test_tabular_totals_spec_must_map_keys_and_not_item_columns(tmp_path):
    with pytest.raises(GutaxisError, match=r"tabular-totals spec lacks columns mapping for \['recall_day'\]"):
        _spec(tmp_path, **(TABULAR | {"columns": {"participant_id": "id"}}))
    with pytest.raises(GutaxisError, match=r"field 'columns': \['grams'\] belong to item diaries"):
        _spec(tmp_path, **(TABULAR | {"columns": {"participant_id": "id", "recall_day": "day", "grams": "g"}}))


def _published(path) -> dict:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return {view: conn.execute(f"SELECT * FROM {view} WHERE cohort = 'tot' ORDER BY ALL").fetchall()
                for view in ("marts.participant_day_exposure", "marts.participant_exposure", "cohort.participants",
                             "cohort.diary_items", "marts.food_contributions")}
    finally:
        conn.close()


def test_tabular_totals_run_end_to_end_publishes_exposures_directly(isolated, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(tmp_path))
    (tmp_path / "days.csv").write_text("id,day,kcal,fibre\na,1,2000,20\na,2,1800,30\nb,1,1500,10\nb,1,1500,10\n")
    write_spec(tmp_path, "tot", **TABULAR)
    reports, errors = run_cohorts(["tot"])
    assert errors == [] and reports[0].outcome == "published"
    assert (reports[0].participants, reports[0].days, reports[0].items, reports[0].quarantined) == (1, 2, 0, 2)
    assert "no items and no food contributions" in format_report(reports[0])
    published = _published(isolated / "warehouse.duckdb")
    exposure = {(r[1], r[3]): r for r in published["marts.participant_exposure"]}
    # (cohort, participant_id, n_days, component_id, mean_daily, per_1000kcal, unit, coverage, low_coverage)
    assert exposure[("a", "fiber")][2:] == (2, "fiber", 25.0, 1000 * 25.0 / 1900.0, "g", 1.0, False)
    assert exposure[("a", "tryptophan")][2:] == (2, "tryptophan", None, None, "mg", 0.0, True)  # not carried: NULL
    days = {(r[1], r[2], r[3]): r for r in published["marts.participant_day_exposure"]}
    assert days[("a", 2, "fiber")][4:] == (30.0, "g", 1.0, "reported")
    assert days[("a", 2, "choline")][4:] == (None, "mg", 0.0, None)
    assert published["cohort.diary_items"] == [] and published["marts.food_contributions"] == []
    # cohort, participant_id, external_id (the analysis attributes follow, NULL without participants:)
    assert [row[:3] for row in published["cohort.participants"]] == [("tot", "a", None)]
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    try:  # every row of the file accounted for: 2 days published, b's two copies quarantined, checked by a blocking check
        counts = conn.execute("SELECT rows_read, rows_published, rows_quarantined, rows_excluded FROM audit.runs "
                              "WHERE run_id = ?", [reports[0].run_key]).fetchall()
        accounted = conn.execute("""SELECT severity, success FROM audit.validations WHERE run_id = ? AND suite = 'day_totals'
                                    AND "check" LIKE 'rows read = %'""", [reports[0].run_key]).fetchall()
    finally:
        conn.close()
    assert counts == [(4, 2, 2, 0)] and accounted == [("block", True)]

    # a failed run (a mapped column gone) leaves every published table exactly as it was
    (tmp_path / "days.csv").write_text("id,day,kcal\na,1,999\n")
    reports, errors = run_cohorts(["tot"])
    assert reports[0].outcome.startswith("failed") and any("column 'fibre' is missing" in e for e in errors)
    assert _published(isolated / "warehouse.duckdb") == published


def test_fped_groups_are_registered_with_their_equivalent_units():
    registered = units()
    expected = {"fg_fruit": "cup eq", "fg_dark_green_veg": "cup eq", "fg_legumes": "cup eq", "fg_whole_grains": "oz eq",
                "fg_nuts_seeds": "oz eq", "fg_seafood_high_n3": "oz eq", "fg_yogurt": "cup eq", "fg_dairy": "cup eq"}
    assert {k: registered.get(k) for k in expected} == expected
    assert set(food_groups.FPED_GROUPS) == {c for c in component_ids() if c.startswith("fg_")}


def test_fped_food_values_per_100g_become_item_amounts_and_need_no_linkage(monkeypatch):
    table = pl.DataFrame({"food_code": ["11411100", "99999999"], "description": ["Yogurt", "Other"],
                          **{name: [0.0, 0.0] for name in food_groups.FPED_GROUPS.values()}}).with_columns(
        D_YOGURT=pl.Series([0.41, None]), D_TOTAL=pl.Series([0.41, 0.0]))
    values = food_groups.food_values(table, pl.Series(["11411100"]))
    yogurt = values.filter(pl.col("component_id") == "fg_yogurt").row(0, named=True)
    assert (yogurt["food_code"], yogurt["amount_per_100g"], yogurt["route"]) == ("11411100", 0.41, "disaggregated")
    assert values["food_code"].unique().to_list() == ["11411100"]  # codes not asked for are left out
    # derived.derive adds them even when SR28 (the linkage) is not fetched
    monkeypatch.setattr(food_groups, "fetched", lambda: (table, "2 food codes"))
    monkeypatch.setattr(derived.amino_acids, "fndds_amino_acids",
                        lambda codes: (_ for _ in ()).throw(GutaxisError("sr28 not fetched")))
    result = derived.derive(pl.DataFrame({"food_code": ["11411100"], "description": ["Yogurt"]}),
                            pl.DataFrame(schema={"food_code": pl.String, "component_id": pl.String}))
    assert result.food_components.filter(pl.col("component_id") == "fg_yogurt")["amount_per_100g"].to_list() == [0.41]
    assert ("fped-2017-2018", "used", "2 food codes") in result.sources.rows()


def test_item_diaries_keep_the_dietary_weights_their_files_carry(tmp_path):
    from gutaxis import dietary_weights

    iff = {"SEQN": [83732.0, 83732.0, 83733.0], "WTDRD1": [5.4e-79, 5.4e-79, 12000.5], "WTDR2D": [None, None, 11000.0],
           "DR1ILINE": [1.0, 2.0, 1.0], "DR1DRSTZ": [1.0, 1.0, 1.0], "DR1IFDCD": [11111000.0, 11111000.0, 11111000.0],
           "DR1IGRMS": [100.0, 50.0, 80.0]}
    _xpt(tmp_path / "DR1IFF_I.xpt", iff, "DR1IFF_I")
    weights = dietary_weights.of_item_diary(_spec(tmp_path, "iff", format="nhanes-iff", path="DR1IFF_I.xpt"))
    assert weights.sort("participant_id").rows() == [("83732", 0.0, None, "WTDRD1", "WTDR2D"),  # XPT's near-zero is 0
                                                     ("83733", 12000.5, 11000.0, "WTDRD1", "WTDR2D")]
    (tmp_path / "items.csv").write_text("id,day,code,g,w1\np1,1,11111000,100,7.5\np1,1,11111000,20,7.5\np2,1,11111000,5,9\n"
                                        "p3,1,11111000,5,9,extra,fields\n")  # a malformed line: the item reader's to quarantine
    spec = _spec(tmp_path, "items", format="tabular", path="items.csv",
                 columns={"participant_id": "id", "recall_day": "day", "food_code": "code", "grams": "g", "wt_day1": "w1"})
    assert dietary_weights.of_item_diary(spec).rows() == [("p1", 7.5, None, "w1", None), ("p2", 9.0, None, "w1", None)]
    # unmapped: the NHANES names of a re-saved NHANES file are taken
    (tmp_path / "resaved.csv").write_text("SEQN,day,code,g,WTDRD1,WTDR2D\n83732,1,11111000,100,7.5,\n")
    resaved = _spec(tmp_path, "resaved", format="tabular", path="resaved.csv",
                    columns={"participant_id": "SEQN", "recall_day": "day", "food_code": "code", "grams": "g"})
    assert dietary_weights.of_item_diary(resaved).rows() == [("83732", 7.5, None, "WTDRD1", "WTDR2D")]
    # the same weight printed to different precision on different rows (as the 2015-16 women file has it) is one weight
    (tmp_path / "resaved.csv").write_text("SEQN,day,code,g,WTDRD1,WTDR2D\n83732,1,11111000,100,13236.42,\n"
                                          "83732,1,11111000,5,13236.419347,\n83732,2,11111000,5,13236.42,\n")
    assert dietary_weights.of_item_diary(resaved)["wt_day1"].to_list() == [13236.419347]
    (tmp_path / "items.csv").write_text("id,day,code,g,w1\np1,1,11111000,100,7.5\np1,1,11111000,20,8\n")
    with pytest.raises(GutaxisError, match="items.csv: participant p1 has different dietary weights in different rows"):
        dietary_weights.of_item_diary(spec)


def test_tabular_totals_maps_dietary_weights(tmp_path):
    (tmp_path / "days.csv").write_text("id,day,kcal,fibre,w1,w2\na,1,2000,20,10.5,\na,2,1800,30,10.5,\nb,1,1500,10,3,\n")
    spec = _spec(tmp_path, **(TABULAR | {"columns": {"participant_id": "id", "recall_day": "day", "wt_day1": "w1",
                                                     "wt_two_day": "w2"}}))
    weights = read_day_totals(spec, component_ids()).weights
    assert weights.rows() == [("a", 10.5, None, "w1", "w2"), ("b", 3.0, None, "w1", "w2")]


def test_nhanes_tot_reads_the_heis_sodium_and_fatty_acids(tmp_path):
    # made-up values in DR1TOT's units: sodium mg, saturated / mono / polyunsaturated fat g
    columns = DR1TOT | {"DR1TSODI": [1923.0, 2330.0, None, 1500.0], "DR1TSFAT": [14.328, 26.3, None, 10.0],
                        "DR1TMFAT": [13.789, 21.1, None, 10.0], "DR1TPFAT": [11.543, 12.0, None, 10.0]}
    _xpt(tmp_path / "DR1TOT_J.xpt", columns, "DR1TOT_J")
    totals = read_day_totals(_spec(tmp_path, format="nhanes-tot", path="DR1TOT_J.xpt"), component_ids())
    assert {"sodium", "saturated_fat", "monounsaturated_fat", "polyunsaturated_fat"} <= set(totals.components)
    first = totals.days.sort("participant_id").row(0, named=True)
    assert (first["sodium"], first["saturated_fat"], first["monounsaturated_fat"], first["polyunsaturated_fat"]) == \
        pytest.approx((1923.0, 14.328, 13.789, 11.543))


ASA24_TOTALS_HEADER = ("UserName,UserID,RecallNo,RecallAttempt,RecallStatus,KCAL,FIBE,CHOLE,CHOLN,P183,P205,P225,P226,"
                       "F_TOTAL,D_YOGURT,G_WHOLE\n")


def test_asa24_totals_reads_the_instruments_keys_nutrients_and_fped_groups(tmp_path):
    (tmp_path / "Totals.csv").write_text(
        ASA24_TOTALS_HEADER
        + "THR01,u-1,1.0,0.0,2.0,2019.1,23.6,320.1,216.9,1.5,0.0003,0.02,0.12,1.54,0.5,0.7\n"
        + "THR01,u-1,2.0,0.0,2.0,1800,20,300,200,1.0,0.0,0.0,0.1,1.0,0.0,1.0\n"
        + "THR02,u-2,1.0,0.0,5.0,900,5,100,80,0.5,0,0,0,0,0,0\n")  # RecallStatus 5: not complete
    spec = _spec(tmp_path, "asa", format="asa24-totals", path="Totals.csv")
    totals = read_day_totals(spec, component_ids())
    assert set(totals.components) == {"energy_kcal", "fiber", "choline", "cholesterol", "omega3_ala", "omega3_epa",
                                      "omega3_dha", "omega3_total", "fg_fruit", "fg_whole_grains", "fg_yogurt"}
    day1 = totals.days.row(0, named=True)
    assert (day1["participant_id"], day1["recall_day"]) == ("THR01", 1)
    assert day1["choline"] == 216.9 and day1["cholesterol"] == 320.1  # CHOLN; CHOLE is cholesterol, not choline
    assert day1["omega3_total"] == pytest.approx(1.5 + 0.0003 + 0.02 + 0.12)
    assert day1["fg_yogurt"] == 0.5 and day1["fg_whole_grains"] == 0.7
    assert totals.days["recall_day"].to_list() == [1, 2]
    excluded = totals.inclusion.filter(~pl.col("included"))
    assert excluded.select("participant_id", "recall_status").rows() == [("THR02", 5)]
    assert totals.participants.select("participant_id", "external_id").rows() == [("THR01", "u-1")]
    assert totals.weights.height == 0  # ASA24 carries no survey weights
    assert (totals.rows_read, totals.days.height, totals.quarantine.height, totals.excluded_rows) == (3, 2, 0, 1)


def test_asa24_totals_names_a_missing_key_column_and_the_fix(tmp_path):
    (tmp_path / "Totals.csv").write_text("UserName,RecallNo,KCAL\nTHR01,1,2000\n")
    with pytest.raises(GutaxisError, match=r"Totals.csv: column 'RecallStatus' is missing.*ASA24 researcher Totals file"):
        read_day_totals(_spec(tmp_path, "asa", format="asa24-totals", path="Totals.csv"), component_ids())


def test_participants_keep_the_dietary_weights_of_everyone_the_files_name(tmp_path):
    from gutaxis import dietary_weights

    (tmp_path / "days.csv").write_text("id,day,status,kcal,w1,w2\na,1,1,2000,10.5,8\nb,1,2,1500,3,\n")
    spec = _spec(tmp_path, **(TABULAR | {"reported": {"energy_kcal": "kcal"}, "columns": {
        "participant_id": "id", "recall_day": "day", "recall_status": "status", "wt_day1": "w1", "wt_two_day": "w2"}}))
    totals = read_day_totals(spec, component_ids())
    staged = dietary_weights.with_participants(totals.participants, totals.weights, totals.inclusion)
    # b's only recall is excluded by its status: b stays, with its weight, flagged (domain estimation needs b)
    assert staged.rows() == [("tot", "a", None, 10.5, 8.0, True), ("tot", "b", None, 3.0, None, False)]


def test_a_totals_file_without_a_complete_recall_says_so_not_to_change_valid_recall_status(tmp_path):
    (tmp_path / "Totals.csv").write_text(ASA24_TOTALS_HEADER + "THR02,u-2,1.0,0.0,5.0,900,5,100,80,0.5,0,0,0,0,0,0\n")
    with pytest.raises(GutaxisError, match=r"Totals.csv: no recall is usable: all 1 were excluded.*the file holds no "
                                           r"complete recall: check that it is the intended file"):
        read_day_totals(_spec(tmp_path, "asa", format="asa24-totals", path="Totals.csv"), component_ids())


# Shaped like FPED's fped_dr1tot_1718: the same participant-days as DR1TOT above (93707 missing, 93708 added),
# with the same status and weights.
FPED_DR1TOT = ("SEQN,WTDRD1,WTDR2D,DR1DRSTZ,DR1T_F_TOTAL,DR1T_G_WHOLE,DR1T_D_YOGURT\n"
               "93704,81714.005497,82442.869214,1,0.99,1.2,0.5\n"
               "93705,7185.560737,5640.391078,1,0,0.3,0\n"
               "93706,0,,5,,,\n"
               "93708,12000.5,,1,2.5,0,1\n")
JOINED = dict(format="nhanes-tot", path="*[Dd][Rr]1[Tt][Oo][Tt]*")  # DR1TOT_J.xpt and fped_dr1tot_1718.csv


def _nutrient_and_fped_files(folder, fped: str = FPED_DR1TOT) -> None:
    _xpt(folder / "DR1TOT_J.xpt", DR1TOT, "DR1TOT_J")
    (folder / "fped_dr1tot_1718.csv").write_text(fped)


def test_nhanes_tot_joins_nutrient_and_fped_files_into_one_row_per_participant_day(tmp_path):
    _nutrient_and_fped_files(tmp_path)
    totals = read_day_totals(_spec(tmp_path, **JOINED), component_ids())
    assert totals.components == ("energy_kcal", "fiber", "choline", "omega3_ala", "omega3_epa", "omega3_dha", "omega3_total",
                                 "fg_fruit", "fg_whole_grains", "fg_yogurt")
    days = totals.days.select("participant_id", "recall_day", "energy_kcal", "fiber", "fg_fruit", "fg_yogurt").rows()
    assert days == [("93704", 1, 1230.0, 7.8, 0.99, 0.5), ("93705", 1, 1202.0, 20.5, 0.0, 0.0),
                    ("93708", 1, None, None, 2.5, 1.0)]  # 93708: only in the FPED file, its nutrients NULL
    inclusion = totals.inclusion.select("participant_id", "included", "recall_status").rows()
    assert inclusion == [("93704", True, 1), ("93705", True, 1), ("93706", False, 5), ("93707", False, 2), ("93708", True, 1)]
    # 4 + 4 file rows, 3 participant-days in both: 5 read = 3 days + 2 excluded recalls + 0 quarantined
    assert totals.rows_read == 5 and totals.rows_read == totals.days.height + totals.excluded_rows + totals.quarantine.height
    weights = totals.weights.sort("participant_id")
    assert weights["participant_id"].to_list() == ["93704", "93705", "93706", "93707", "93708"]
    assert weights["wt_day1"].to_list() == [*DR1TOT["WTDRD1"], 12000.5]
    assert totals.participants["participant_id"].to_list() == ["93704", "93705", "93708"]


def test_joined_nhanes_tot_quarantines_a_bad_row_against_its_own_file_and_keeps_the_other_files_day(tmp_path):
    _nutrient_and_fped_files(tmp_path, FPED_DR1TOT.replace("93705,7185.560737,5640.391078,1,0,", "93705,7185.560737,5640.391078,1,-1,"))
    totals = read_day_totals(_spec(tmp_path, **JOINED), component_ids())
    assert totals.quarantine.select("source_file", "source_row", "column").rows() == [("fped_dr1tot_1718.csv", 2, "DR1T_F_TOTAL")]
    assert totals.days.filter(pl.col("participant_id") == "93705").select("energy_kcal", "fg_fruit").rows() == [(1202.0, None)]
    assert totals.rows_read == 6 == totals.days.height + totals.excluded_rows + totals.quarantine.height


@pytest.mark.parametrize("fped, message", [
    (FPED_DR1TOT.replace("5640.391078,1,0,", "5640.391078,2,0,"),
     r"^DR1TOT_J.xpt row 2 and fped_dr1tot_1718.csv row 2: participant 93705 day 1 has recall status \(DR1DRSTZ\) 1 "
     r"in one file and 2 in the other; name the DRxTOT file and the fped_drxtot file of the same NHANES cycle"),
    (FPED_DR1TOT.replace("93704,81714.005497,", "93704,81000,"),
     r"^DR1TOT_J.xpt row 1 and fped_dr1tot_1718.csv row 1: participant 93704 has dietary weight wt_day1 81714.005497 "
     r"in one file and 81000.0 in the other; name the DRxTOT"),
    (FPED_DR1TOT.replace("93706,0,,5", "93706,0,1.5,5"), r"participant 93706 has dietary weight wt_two_day None in one file"),
    (FPED_DR1TOT.replace("DR1T_D_YOGURT\n", "DR1T_D_YOGURT,DR1TKCAL\n").replace("0.5\n", "0.5,1230\n").replace("0,0.3,0\n", "0,0.3,0,1300\n"),
     r"^DR1TOT_J.xpt and fped_dr1tot_1718.csv: participant 93705 day 1 has energy_kcal 1202.0 in one and 1300.0 in the other"),
])
def test_joined_nhanes_tot_files_that_disagree_are_refused_in_one_line(tmp_path, fped, message):
    _nutrient_and_fped_files(tmp_path, fped)
    with pytest.raises(GutaxisError, match=message) as raised:
        read_day_totals(_spec(tmp_path, **JOINED), component_ids())
    assert "\n" not in str(raised.value)


def test_joined_nhanes_tot_run_accounts_for_every_row_and_warns_of_days_in_one_file(isolated, tmp_path, capsys):
    _nutrient_and_fped_files(tmp_path)
    reports, errors = run_cohorts([str(write_spec(tmp_path, "tot", **JOINED))])
    assert errors == [] and reports[0].outcome == "published"
    assert (reports[0].participants, reports[0].days, reports[0].excluded_recalls, reports[0].quarantined) == (3, 3, 2, 0)
    summary = format_report(reports[0])
    assert "warned day_totals.every day carries both joined files' components (nutrients and FPED) (1 unexpected)" in summary
    assert "participant 93708 day 1: no nutrients (DRxTOT)" in summary
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    try:
        counts = conn.execute("SELECT rows_read, rows_published, rows_quarantined, rows_excluded FROM audit.runs "
                              "WHERE run_id = ?", [reports[0].run_key]).fetchall()
        accounted = conn.execute("""SELECT success FROM audit.validations WHERE run_id = ? AND suite = 'day_totals'
                                    AND "check" LIKE 'rows read = %'""", [reports[0].run_key]).fetchall()
        day = conn.execute("""SELECT component_id, amount FROM marts.participant_day_exposure WHERE cohort = 'tot'
                              AND participant_id = '93704' AND component_id IN ('energy_kcal', 'fg_yogurt') ORDER BY 1""").fetchall()
    finally:
        conn.close()
    assert counts == [(5, 3, 0, 2)] and accounted == [(True,)]
    assert day == [("energy_kcal", 1230.0), ("fg_yogurt", 0.5)]
