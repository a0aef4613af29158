"""Day totals on real data: a one-off nhanes-tot spec over NHANES 2017-18 FPED day-1 totals, end to end."""
from __future__ import annotations

import duckdb
import polars as pl
import pyreadstat
import pytest

from gutaxis.components import component_ids
from gutaxis.components.food_groups import FPED_GROUPS
from gutaxis.formats import asa24_totals
from pipelines.runner import run_cohorts
from tests.conftest import write_spec

pytestmark = pytest.mark.realdata
FPED_TOTALS = ("nhanes", "2017-2018", "fped_dr1tot_1718.sas7bdat")


@pytest.fixture(scope="module")
def published(realdata, isolated_session, tmp_path_factory):
    spec = write_spec(tmp_path_factory.mktemp("specs"), "fped-dr1tot-1718", format="nhanes-tot",
                      path=str(realdata.joinpath(*FPED_TOTALS)))
    reports, errors = run_cohorts([str(spec)])
    assert errors == []
    conn = duckdb.connect(str(isolated_session / "warehouse.duckdb"), read_only=True)
    yield reports[0], conn
    conn.close()


@pytest.fixture(scope="module")
def fped_file(realdata) -> pl.DataFrame:
    data, _ = pyreadstat.read_sas7bdat(str(realdata.joinpath(*FPED_TOTALS)))
    return pl.from_pandas(data, nan_to_null=True).with_columns(pl.col("SEQN").cast(pl.Int64).cast(pl.String))


def test_every_participant_gets_the_files_own_values_exactly(published, fped_file):
    report, conn = published
    assert report.outcome == "published" and report.items == 0 and report.day_totals
    usable = fped_file.filter(pl.col("DR1DRSTZ") == 1)
    assert usable.height == 7484 and report.participants == 7484 and report.days == 7484
    assert report.excluded_recalls == 8704 - 7484  # DR1DRSTZ 2, 4, 5: excluded and counted
    ours = conn.sql("""SELECT participant_id, component_id, n_days, mean_daily FROM marts.participant_exposure
                       WHERE cohort = 'fped-dr1tot-1718'""").pl()
    assert set(ours["component_id"]) == set(component_ids()) and set(ours["n_days"]) == {1}
    for component, name in FPED_GROUPS.items():
        merged = usable.select(pl.col("SEQN").alias("participant_id"), pl.col(f"DR1T_{name}").alias("file")).join(
            ours.filter(pl.col("component_id") == component), on="participant_id", how="left")
        assert merged.height == 7484
        assert (merged["mean_daily"] == merged["file"]).all(), component  # the file's own value, not a sum of ours


def test_components_the_file_lacks_are_null_and_there_are_no_items_or_contributions(published):
    _, conn = published
    nutrients = conn.sql("""SELECT count(*) FILTER (WHERE mean_daily IS NOT NULL), count(*) FROM marts.participant_exposure
                            WHERE cohort = 'fped-dr1tot-1718' AND component_id IN ('energy_kcal', 'fiber', 'tryptophan')""").fetchall()
    assert nutrients == [(0, 3 * 7484)]
    sources = conn.sql("""SELECT DISTINCT source FROM marts.participant_day_exposure
                          WHERE cohort = 'fped-dr1tot-1718' AND component_id = 'fg_yogurt'""").fetchall()
    assert sources == [("reported",)]
    for table in ("cohort.diary_items", "marts.food_contributions"):
        assert conn.sql(f"SELECT count(*) FROM {table} WHERE cohort = 'fped-dr1tot-1718'").fetchall() == [(0,)]


def test_dietary_weights_are_kept_for_every_participant_of_the_file(published, fped_file):
    _, conn = published
    weights = conn.sql("""SELECT participant_id, wt_day1, wt_two_day, has_usable_recall FROM cohort.participants
                          WHERE cohort = 'fped-dr1tot-1718'""").pl()
    # every participant of the file, usable recall or not (flagged), in cohort.participants only
    assert weights.height == 8704 and weights["has_usable_recall"].sum() == 7484
    merged = fped_file.select(pl.col("SEQN").alias("participant_id"), "WTDRD1", "WTDR2D").join(weights, on="participant_id")
    assert (merged["wt_day1"] == merged["WTDRD1"]).all()
    assert merged.filter(pl.col("WTDR2D").is_not_null()).select((pl.col("wt_two_day") == pl.col("WTDR2D")).all()).item()


def test_the_fped_file_alone_is_reported_not_computable_for_the_hei(published):
    report, conn = published
    assert "index hei2015: not computable: missing energy_kcal, monounsaturated_fat, polyunsaturated_fat, " \
           "saturated_fat, sodium" in report.indices
    assert conn.sql("SELECT count(*) FROM marts.participant_index WHERE cohort = 'fped-dr1tot-1718'").fetchall() == [(0,)]


def test_gx_audits_ran_on_the_day_totals(published):
    _, conn = published
    suites = dict(conn.sql("""SELECT suite, bool_and(success OR severity = 'warn') FROM audit.validations v
                              JOIN audit.runs r USING (run_id) WHERE r.cohort = 'fped-dr1tot-1718' GROUP BY suite""").fetchall())
    # the analysis checks (analysis_*) run on every cohort too; they pass on an empty outcome table; and the
    # index checks (indices), on no rows here: the FPED file alone lacks the HEI's energy, sodium and fats
    assert {k: v for k, v in suites.items() if not k.startswith("analysis_")} == {
        "day_totals": True, "participant_day_exposure": True, "participant_exposure": True, "food_contributions": True,
        "indices": True}
    assert all(suites.values()), suites


ASA24_EXAMPLE = ("asa24", "dietaryindex-example")
# The Totals columns the registry takes (gutaxis.formats.asa24_totals), and the component each becomes
# the columns the first version of the format read; every other registry column the reader maps (sodium, fats,
# the DII's nutrients ...) is compared with the items too, as found in both files
ASA24_TOTALS_COLUMNS = {"KCAL": "energy_kcal", "FIBE": "fiber", "CHOLN": "choline", "P183": "omega3_ala",
                        "P205": "omega3_epa", "P226": "omega3_dha", **{name: cid for cid, name in FPED_GROUPS.items()}}


def test_asa24_totals_of_the_real_recalls_equal_the_sums_of_their_items(realdata, isolated, tmp_path):
    folder = realdata.joinpath(*ASA24_EXAMPLE)
    spec = write_spec(tmp_path, "asa24-totals-example", format="asa24-totals", path=str(folder / "Totals.csv"))
    reports, errors = run_cohorts([str(spec)])
    assert errors == [] and reports[0].outcome == "published" and reports[0].items == 0
    # 42 rows: the 21 real recall-1 totals and 21 synthetic RecallNo 2 rows (../shared/realdata/README.md); both are read
    assert (reports[0].participants, reports[0].days, reports[0].quarantined, reports[0].excluded_recalls) == (21, 42, 0, 0)
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    try:
        ours = conn.sql("""SELECT p.external_id AS UserID, d.component_id, d.amount FROM marts.participant_day_exposure d
                           JOIN cohort.participants p USING (cohort, participant_id)
                           WHERE d.cohort = 'asa24-totals-example' AND d.recall_day = 1""").pl()
        carried = conn.sql("""SELECT DISTINCT component_id FROM marts.participant_day_exposure
                              WHERE cohort = 'asa24-totals-example' AND amount IS NOT NULL""").pl()["component_id"]
    finally:
        conn.close()
    totals_header = pl.read_csv(folder / "Totals.csv", n_rows=0).columns
    mapped = {column: cid for cid, column in asa24_totals.REPORTED.items() if column in totals_header}
    assert set(ASA24_TOTALS_COLUMNS) <= set(mapped)
    assert set(carried) == {*mapped.values(), "omega3_total"}  # everything else NULL
    items = pl.read_csv(folder / "Items.csv", infer_schema_length=None)
    columns = {column: cid for column, cid in mapped.items() if column in items.columns}
    assert set(ASA24_TOTALS_COLUMNS) <= set(columns)
    sums = (items.group_by("UserID").agg(pl.col(c).cast(pl.Float64).sum() for c in columns)
            .unpivot(index="UserID", variable_name="column", value_name="item_sum")
            .with_columns(pl.col("column").replace_strict(columns).alias("component_id")))
    compared = sums.join(ours, on=["UserID", "component_id"], how="left")
    assert compared.height == 21 * len(columns) and compared["amount"].null_count() == 0
    # the Totals are rounded to 6 decimals (../shared/realdata/README.md)
    relative = (pl.col("amount") - pl.col("item_sum")).abs() / pl.max_horizontal(pl.lit(1.0), pl.col("item_sum").abs())
    worst = compared.with_columns(relative.alias("difference")).sort("difference", descending=True).row(0, named=True)
    assert worst["difference"] < 1e-5, worst
