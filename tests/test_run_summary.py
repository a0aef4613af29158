"""What the run summary tells a researcher: the rows behind a warning, and the sources behind each component."""
from __future__ import annotations

from pathlib import Path

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


def _write_ingredients_stand_in(raw: Path) -> None:
    folder = raw / "fndds-ingredients-2017-2018"
    folder.mkdir(parents=True)
    (folder / "FNDDS_ingredients_subset.csv").write_text("Food code,Ingredient code\n11111000,1077\n", encoding="utf-8")


@pytest.fixture
def raw(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("GUTAXIS_RAW_DIR", str(tmp_path / "raw"))
    return tmp_path / "raw"


def test_gutaxis_sources_says_fetched_verified_or_not_and_the_version(raw, capsys):
    _write_ingredients_stand_in(raw)
    assert main(["sources"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(("source", "-"))}
    assert "fetched, unverified" in rows["fndds-ingredients-2017-2018"] and "2017-2018" in rows["fndds-ingredients-2017-2018"]
    assert "not fetched" in rows["sr28"] and "Release 28" in rows["sr28"]
    assert "shipped with the project" in rows["demo"]
    assert ("fndds-ingredients-2017-2018: FNDDS_ingredients_subset.csv is a stand-in for the official "
            "'2017-2018 FNDDS At A Glance - FNDDS Ingredients.xlsx'") in out
    assert "sr28: run `gutaxis fetch sr28`" in out


def test_a_source_is_verified_only_when_every_file_matches_the_official_sha256(raw):
    import gzip
    import hashlib

    from gutaxis.source_status import status
    from gutaxis.specs import SourceSpec

    body = b"official bytes\n"
    spec = SourceSpec(id="toy", format="sr28-ascii", url="https://example.org", version="v1", citation="c",
                      files={"A.txt": hashlib.sha256(body).hexdigest()})
    assert status(spec).state == "not fetched"
    folder = raw / "toy"
    folder.mkdir(parents=True)
    (folder / "A.txt.gz").write_bytes(gzip.compress(body))  # kept compressed: the official bytes inside
    assert status(spec).state == "fetched, verified"
    (folder / "A.txt.gz").unlink()
    (folder / "A.txt").write_bytes(body + b"edited\n")
    changed = status(spec)
    assert changed.state == "fetched, unverified" and "sha256 differs" in changed.notes[0]


def test_the_run_records_and_names_every_source_behind_the_derived_components(isolated, tmp_path):
    import json

    from gutaxis import stages, warehouse
    from gutaxis.report import cohort_report, format_report
    from gutaxis.specs import resolve_cohort

    _write_ingredients_stand_in(isolated / "raw")
    data = tmp_path / "foods.csv"
    data.write_text("participant,day,food_code,grams\n1,1,11111000,100\n", encoding="utf-8")
    spec = resolve_cohort(str(write_spec(tmp_path, "fn", format="tabular", path=str(data),
                                         composition="fndds-2017-2018", columns=DEMO_COLUMNS)))
    with warehouse.open_writer() as conn:
        # what the reference job leaves: FNDDS loaded, and which sources the derivation used
        conn.execute("INSERT INTO audit.source_loads VALUES ('fndds-2017-2018', '2017-2018', 'f', 1, 1, now())")
        conn.executemany("INSERT INTO audit.derivations VALUES (?, ?, 'detail', 'f', now())", [
            ("sr28", "used"), ("fndds-2017-2018", "used"), ("fndds-ingredients-2017-2018", "used"),
            ("fda-fdd-3.1", "used"), ("usda-retention-factors-r6", "not fetched"),
            ("usda-flavonoid-survey-2017-2018", "not fetched"), ("usda-flavonoid-r3.3", "used"),
            ("curated tables", "used")])
        stages.ingest(conn, spec, "run1")
        versions = json.loads(conn.execute("SELECT source_versions FROM audit.runs WHERE run_id = 'run1'").fetchall()[0][0])
        text = format_report(cohort_report(conn, "fn", "run1"))
    assert versions == {"fda-fdd-3.1": "3.1", "fndds-2017-2018": "2017-2018", "fndds-ingredients-2017-2018": "2017-2018",
                        "sr28": "Release 28 (slightly revised, May 2016)", "usda-flavonoid-r3.3": "Release 3.3 (March 2018)"}
    lines = text.splitlines()
    amino = next(line for line in lines if line.strip().startswith("tryptophan, tyrosine <- "))
    assert amino.strip() == ("tryptophan, tyrosine <- sr28, fndds-ingredients-2017-2018, fda-fdd-3.1 "
                             "(missing: usda-retention-factors-r6)")
    flavonoids = next(line for line in lines if line.strip().startswith("flavonoids_total, flavan3ols, anthocyanidins <- "))
    assert "(missing: usda-flavonoid-survey-2017-2018)" in flavonoids and "usda-flavonoid-r3.3" in flavonoids
    stand_in = next(line for line in lines if "is a stand-in" in line)
    assert stand_in.strip().startswith("fndds-ingredients-2017-2018 is a stand-in (FNDDS_ingredients_subset.csv")
    assert stand_in.endswith("`gutaxis fetch fndds-ingredients-2017-2018` gets the full official file")
    fetch = [line.strip() for line in lines if line.strip().startswith("missing ")]
    assert fetch == ["missing usda-retention-factors-r6 (cooking losses of the ingredients): "
                     "`gutaxis fetch usda-retention-factors-r6`",
                     "missing usda-flavonoid-survey-2017-2018 (USDA flavonoid values per FNDDS food, preferred to R3.3): "
                     "`gutaxis fetch usda-flavonoid-survey-2017-2018`"]


def test_the_coverage_line_counts_full_and_empty_components_and_lists_the_partial_ones():
    from gutaxis.report import coverage_line

    line = coverage_line({"energy_kcal": 1.0, "fiber": 1.0, "flavan3ols": 0.82, "fg_fruit": 0.0, "ssb": 0.0,
                          "tyrosine": 0.995, "unknown": None})
    assert line == "2 components 100%; flavan3ols 82%  tyrosine 99.5%; 2 with no value: fg_fruit, ssb"
