"""What the run summary tells a researcher: the rows behind a warning, and the sources behind each component."""
from __future__ import annotations

import duckdb
import pytest

from pipelines.cli import main
from tests.conftest import write_spec

DEMO_COLUMNS = {"participant_id": "participant", "recall_day": "day", "food_code": "food_code", "grams": "grams"}


@pytest.mark.slow
def test_a_warned_check_names_its_first_offending_rows_with_the_count(isolated, tmp_path, capsys):
    # Portions above 4 kg and days outside 300-8000 kcal warn; the summary names who, when, what.
    rows = ["participant,day,food_code,grams",
            "10,1,99000001,100", "10,1,99000003,4500",          # a 4.5 kg portion; day at ~2.6 k kcal
            "2,1,99000015,900", "2,1,99000014,900",             # ~11,300 kcal in a day
            "2,2,99000001,4100",                                # another big portion
            *(f"{p},1,99000001,300" for p in range(20, 26))]   # ordinary days
    data = tmp_path / "warned.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    spec = write_spec(tmp_path, "warned", format="tabular", path=str(data), composition="demo", columns=DEMO_COLUMNS)
    assert main(["run", "--cohort", str(spec)]) == 0
    out = capsys.readouterr().out
    portions = out.split("warned diary_items.grams <= 4000 (very large portion) (2 unexpected)")[1].splitlines()[1]
    # in participant, day order (numeric ids as numbers), with the food code and the grams
    assert portions.strip() == "first 2: participant 2 day 2 food 99000001: 4100 g; participant 10 day 1 food 99000003: 4500 g"
    energy = out.split("warned participant_day_exposure.daily energy in [300, 8000] kcal")[1].splitlines()
    assert energy[0].startswith(" (") and "unexpected)" in energy[0]
    assert "participant 2 day 1: " in energy[1] and " kcal" in energy[1] and "food" not in energy[1]
    # the rows are kept with the run, for later
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    kept = conn.execute("SELECT participant_id, recall_day, food_code, \"column\" FROM audit.warned_rows "
                        "WHERE cohort = 'warned' AND suite = 'diary_items' ORDER BY recall_day").fetchall()
    conn.close()
    assert kept == [("10", 1, "99000003", "grams"), ("2", 2, "99000001", "grams")]


def test_warned_rows_are_listed_at_most_five_with_the_full_count():
    from gutaxis.report import CohortReport, format_report

    label = "diary_items.grams <= 4000 (very large portion) (7 unexpected)"
    rep = CohortReport("c", "k", "published", items=10, checks_warned=[label],
                       warned_rows={label: [("p1", 1, "00123", "grams", "4100.0")]})
    text = format_report(rep)
    assert f"warned {label}\n    first 1: participant p1 day 1 food 00123: 4100 g" in text
