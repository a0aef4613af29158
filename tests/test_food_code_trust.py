"""Food codes as files print them: scientific notation that denotes a code is that code; an untrusted code keeps its item, unlinked."""
from __future__ import annotations

import duckdb

from pipelines.runner import run_cohorts
from tests.conftest import write_spec

COLUMNS = {"participant_id": "pid", "recall_day": "day", "food_code": "code", "grams": "g"}


def test_an_untrusted_code_keeps_its_items_reported_values_and_says_why(isolated, tmp_path):
    # R writes 99000001 as 9.9000001e+07; "9.90000015e+07" denotes no whole code; "" is no code at all.
    (tmp_path / "d.csv").write_text("pid,day,code,g,kcal\n"
                                    "1,1,9.9000001e+07,100,60\n"
                                    "1,1,9.90000015e+07,50,200\n"
                                    "1,1,,10,40\n"
                                    "2,1,99000002,80,30\n")
    spec = write_spec(tmp_path, "trust", format="tabular", path="d.csv", composition="demo", columns=COLUMNS,
                      reported={"energy_kcal": "kcal"})
    reports, errors = run_cohorts([str(spec)])
    assert errors == [] and reports[0].outcome == "published"
    assert reports[0].quarantined == 0 and reports[0].unlinked_items == 2
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    try:
        items = conn.execute("SELECT participant_id, food_code, grams FROM cohort.diary_items WHERE cohort = 'trust' "
                             "ORDER BY participant_id, item_seq").fetchall()
        energy = conn.execute("SELECT participant_id, mean_daily, coverage FROM marts.participant_exposure "
                              "WHERE cohort = 'trust' AND component_id = 'energy_kcal' ORDER BY 1").fetchall()
        linkage = conn.execute("SELECT food_code, reason, n_items, grams FROM audit.linkage WHERE cohort = 'trust' "
                               "ORDER BY grams DESC").fetchall()
        contributions = conn.execute("SELECT food_code, amount FROM marts.food_contributions WHERE cohort = 'trust' "
                                     "AND component_id = 'energy_kcal' ORDER BY amount DESC").fetchall()
    finally:
        conn.close()
    assert items == [("1", "99000001", 100.0), ("1", None, 50.0), ("1", None, 10.0), ("2", "99000002", 80.0)]
    # the reported energy of every item counts, the unlinked ones' too (60 + 200 + 40)
    assert energy == [("1", 300.0, 1.0), ("2", 30.0, 1.0)]
    assert [row[1].split(" (")[0] for row in linkage] == [
        "food_code is in scientific notation that is not a whole number of the source's digits",
        "food_code is missing or not a number"]
    assert [(row[0], row[2], row[3]) for row in linkage] == [("9.90000015e+07", 1, 50.0), (None, 1, 10.0)]
    assert contributions == [(None, 240.0), ("99000001", 60.0), ("99000002", 30.0)]
