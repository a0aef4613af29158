"""Day totals on real data: a one-off nhanes-tot spec over NHANES 2017-18 FPED day-1 totals, end to end."""
from __future__ import annotations

import duckdb
import polars as pl
import pyreadstat
import pytest

from gutaxis.components import component_ids
from gutaxis.components.food_groups import FPED_GROUPS
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
    weights = conn.sql("""SELECT participant_id, wt_day1, wt_two_day, wt_day1_variable FROM cohort.dietary_weights
                          WHERE cohort = 'fped-dr1tot-1718'""").pl()
    assert weights.height == 8704 and set(weights["wt_day1_variable"]) == {"WTDRD1"}
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
