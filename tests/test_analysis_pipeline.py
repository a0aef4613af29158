"""The analysis wired into the cohort run: spec keys, cohort.participants / cohort.outcomes, the estimates
tables, weight choice, refusals in one line, the sensor, and publishing all-or-nothing."""
from __future__ import annotations

import shutil

import dagster as dg
import duckdb
import polars as pl
import pytest

from gutaxis import DATA_DIR, GutaxisError
from gutaxis.analysis.analyses import analysis_frame, choose_weight, run_association, run_estimates
from gutaxis.analysis.cohort_tables import build_outcomes, build_participants
from gutaxis.analysis.declarations import Analysis, AttributeTable, Design, OutcomeTable, check_declarations
from gutaxis.specs import load_cohort_spec
from pipelines.runner import run_cohorts
from pipelines.sensors import cohort_spec_sensor
from tests.conftest import write_spec

ESTIMATED = ("marts.population_estimates", "marts.association_estimates", "cohort.outcomes", "cohort.participants",
             "marts.participant_exposure")


# --- spec keys ---------------------------------------------------------------------------------

def _hypothesis(**changes) -> dict:
    base = {"id": "h", "kind": "association", "exposure": {"component": "tryptophan"}, "outcome": "phq9_ge10",
            "model": "logistic"}
    return {**base, **changes}


@pytest.mark.parametrize("analysis,message", [
    (_hypothesis(exposure={"component": "tryptofan"}), "unknown component 'tryptofan'"),
    (_hypothesis(outcome="phq8"), "unknown outcome 'phq8'"),
    (_hypothesis(colour="red"), "colour"),
    (_hypothesis(covariates=["fg_yoghurt"]), "unknown variable 'fg_yoghurt'"),
    (_hypothesis(domain="age_years >>= 20"), "not a valid SQL condition"),
])
def test_a_bad_hypothesis_is_one_line_naming_the_field(tmp_path, analysis, message):
    with pytest.raises(GutaxisError, match=message) as caught:
        check_declarations({"analyses": [analysis]}, tmp_path / "spec.yaml")
    assert "\n" not in str(caught.value) and "field 'analyses.0" in str(caught.value)


def test_spec_check_refuses_a_bad_design_key_and_a_tabular_outcome_without_registry_id(tmp_path):
    base = dict(format="tabular", path="diary.csv", composition="demo",
                columns={"participant_id": "p", "recall_day": "d", "food_code": "f", "grams": "g"})
    spec = write_spec(tmp_path, "bad-design", **base, design={"weight": "auto", "stratum": "SDMVSTRA"})
    with pytest.raises(GutaxisError, match=r"field 'design.stratum'"):
        load_cohort_spec(spec)
    spec = write_spec(tmp_path, "bad-outcome", **base, outcomes=[{"format": "tabular", "path": "o.csv", "outcome": "cortisol",
                                                                  "unit": "nmol/L", "columns": {"participant_id": "p", "value": "v"}}])
    with pytest.raises(GutaxisError, match="unknown outcome 'cortisol'"):
        load_cohort_spec(spec)


def test_a_tabular_binary_outcome_needs_no_unit_and_a_scored_one_does(tmp_path):
    (tmp_path / "phq.csv").write_text("id,ge10,total\n1,1,12\n2,0,3\n")
    binary = check_declarations({"outcomes": [{"format": "tabular", "path": "phq.csv", "outcome": "phq9_ge10",
                                               "columns": {"participant_id": "id", "value": "ge10"}}]},
                                tmp_path / "spec.yaml").outcomes
    outcomes = build_outcomes("c", tmp_path, binary)
    assert outcomes["value"].to_list() == [1.0, 0.0] and outcomes["outcome_id"].to_list() == ["phq9_ge10"] * 2
    with pytest.raises(GutaxisError, match="a tabular outcome needs outcome: .* and unit:"):
        check_declarations({"outcomes": [{"format": "tabular", "path": "phq.csv", "outcome": "phq9_total",
                                          "columns": {"participant_id": "id", "value": "total"}}]}, tmp_path / "spec.yaml")


def test_the_shipped_hypothesis_set_loads_and_covers_the_mechanism_components():
    from gutaxis.analysis.declarations import analysis_files, load_analysis_file

    analyses = [load_analysis_file(p) for p in analysis_files()]
    against_phq9 = {a.exposure.component for a in analyses if a.kind == "association" and a.outcome == "phq9_ge10"}
    assert {"tryptophan", "tyrosine", "choline", "inulin_fos", "resistant_starch", "beta_glucan", "flavonoids_total",
            "omega3_total", "fg_yogurt", "fg_whole_grains", "fg_legumes", "fg_nuts_seeds", "fg_seafood_high_n3",
            "fg_fruit", "fg_dark_green_veg"} <= against_phq9
    assert all(a.domain == "age_years >= 20 and not pregnant" and a.exposure.scale == "per_1000kcal"
               and a.exposure.groups == "quintiles" for a in analyses if a.outcome == "phq9_ge10")
    assert any(a.outcome == "oxytocin" for a in analyses)


# --- participants and outcomes -----------------------------------------------------------------

def test_participants_without_a_usable_recall_stay_flagged_and_diary_weights_join(tmp_path):
    (tmp_path / "cov.csv").write_text("id,age,sex,bmi\n1,30,female,22.5\n2,41,male,27\n3,55,female,31\n")
    table = AttributeTable(format="tabular", path="cov.csv", columns={"participant_id": "id", "age_years": "age",
                                                                      "sex": "sex", "bmi": "bmi"})
    weights = pl.DataFrame({"participant_id": ["1", "2"], "wt_day1": [100.0, 200.0], "wt_two_day": [150.0, 0.0]})
    frame = build_participants("c", tmp_path, [table], pl.Series(["1", "2"]), pl.Series(["1"]), weights)
    assert frame["participant_id"].to_list() == ["1", "2", "3"]
    assert frame["has_usable_recall"].to_list() == [True, False, False]
    assert frame["age_years"].to_list() == [30.0, 41.0, 55.0] and frame["bmi"].to_list() == ["22.5", "27", "31"]
    assert frame["wt_two_day"].to_list() == [150.0, 0.0, None]


def test_duplicate_participant_ids_in_an_attribute_table_are_one_line(tmp_path):
    (tmp_path / "cov.csv").write_text("id,age\n1,30\n1,31\n")
    table = AttributeTable(format="tabular", path="cov.csv", columns={"participant_id": "id", "age_years": "age"})
    with pytest.raises(GutaxisError, match="cov.csv: column participant_id has duplicate participant ids"):
        build_participants("c", tmp_path, [table], pl.Series(["1"]), pl.Series(["1"]), pl.DataFrame())


def _oxytocin_table(tmp_path, unit: str, rows: str) -> OutcomeTable:
    (tmp_path / "ot.csv").write_text("id,ot,matrix,method,spe\n" + rows)
    return OutcomeTable(format="tabular", path="ot.csv", outcome="oxytocin", unit=unit,
                        columns={"participant_id": "id", "value": "ot", "sample_type": "matrix", "assay": "method",
                                 "extraction": "spe"})


def test_oxytocin_in_pmol_per_litre_is_stored_in_pg_per_ml_and_an_unknown_unit_is_refused(tmp_path):
    outcomes = build_outcomes("c", tmp_path, [_oxytocin_table(tmp_path, "pmol/L", "1,10,Plasma,RIA,solid-phase\n")])
    assert outcomes["value"].to_list() == [pytest.approx(10.07)] and outcomes["unit"].to_list() == ["pg/mL"]
    assert outcomes["sample_type"].to_list() == ["plasma"]
    with pytest.raises(GutaxisError, match="oxytocin unit 'ug/dL' is not known"):
        build_outcomes("c", tmp_path, [_oxytocin_table(tmp_path, "ug/dL", "1,10,plasma,ria,spe\n")])


# --- estimates ---------------------------------------------------------------------------------

def _frame(n: int = 60) -> pl.DataFrame:
    ids = [str(i) for i in range(n)]
    participants = pl.DataFrame({
        "participant_id": ids, "sex": ["female" if i % 2 else "male" for i in range(n)],
        "age_years": [20.0 + i for i in range(n)], "pregnant": [None] * n, "stratum": [1 + i % 3 for i in range(n)],
        "psu": [1 + (i // 3) % 2 for i in range(n)], "wt_interview": [1000.0 + i for i in range(n)],
        "wt_mec": [900.0 + i for i in range(n)], "wt_day1": [800.0 + i for i in range(n)],
        "wt_two_day": [0.0 if i % 5 == 0 else 700.0 + i for i in range(n)]}, schema_overrides={"pregnant": pl.Boolean})
    exposures = pl.DataFrame({"participant_id": ids, "n_days": [1 if i % 5 == 0 else 2 for i in range(n)],
                              "component_id": ["tryptophan"] * n, "mean_daily": [500.0 + 13 * (i % 7) for i in range(n)],
                              "per_1000kcal": [300.0 + 7 * ((i * 3) % 11) for i in range(n)]})
    outcomes = pl.DataFrame({"participant_id": ids * 2, "outcome_id": ["phq9_ge10"] * n + ["oxytocin"] * n,
                             "value": [float(i % 4 == 0) for i in range(n)] + [5.0 + (i % 9) for i in range(n)],
                             "sample_type": [None] * n + ["plasma" if i < n // 2 else "saliva" for i in range(n)],
                             "assay": [None] * n + ["ria" if i < n // 2 else "eia" for i in range(n)],
                             "extraction": [None] * n + ["spe" if i < n // 2 else "none" for i in range(n)]})
    kinds = {"phq9_ge10": "binary", "oxytocin": "continuous"}
    return analysis_frame(participants, exposures, outcomes, kinds), outcomes.filter(pl.col("outcome_id") == "oxytocin")


def test_weight_auto_takes_the_smallest_subsample():
    frame, _ = _frame()
    design = Design()
    assert choose_weight(frame, design, ["tryptophan_per_1000kcal"], {"phq9_ge10"}) == "wt_two_day"
    assert choose_weight(frame.with_columns(pl.lit(1).alias("n_days")), design, ["tryptophan_mean_daily"], set()) == "wt_day1"
    assert choose_weight(frame, design, ["phq9_ge10"], {"phq9_ge10"}) == "wt_mec"
    assert choose_weight(frame, design, ["age_years"], set()) == "wt_interview"
    assert choose_weight(frame, Design(weight="wt_mec"), ["tryptophan_mean_daily"], set()) == "wt_mec"


def test_two_day_estimate_records_its_weight_and_keeps_day1_only_participants_out_of_the_estimate():
    frame, oxytocin = _frame()
    analysis = Analysis(id="a", kind="estimates", variables=["tryptophan_per_1000kcal", "phq9_ge10"],
                        statistics=["mean", "proportion"])
    rows = run_estimates("c", frame, Design(), analysis, {"phq9_ge10": "binary"}, oxytocin)
    tryptophan = rows.filter(pl.col("variable") == "tryptophan_per_1000kcal").row(0, named=True)
    assert tryptophan["weight"] == "wt_two_day" and tryptophan["n"] == 48  # 12 of 60 have no day 2
    phq = rows.filter(pl.col("variable") == "phq9_ge10").row(0, named=True)
    assert phq["statistic"] == "proportion" and phq["weight"] == "wt_mec" and phq["n"] == 60
    assert rows.height == 2


def test_low_coverage_exposures_stay_out_of_that_components_estimates_and_are_counted():
    frame, oxytocin = _frame()
    n = frame.height
    # participants 1, 2 and 3: tryptophan covers too little of what they ate; 3 also lacks energy coverage
    ids = [str(i) for i in range(n)]
    exposures = pl.DataFrame({
        "participant_id": ids * 2, "n_days": [2] * (2 * n), "component_id": ["tryptophan"] * n + ["energy_kcal"] * n,
        "mean_daily": [500.0 + 13 * (i % 7) for i in range(n)] + [2000.0] * n,
        "per_1000kcal": [300.0 + 7 * ((i * 3) % 11) for i in range(n)] + [None] * n,
        "low_coverage": [i in (1, 2) for i in range(n)] + [i in (3,) for i in range(n)]})
    participants = frame.select("participant_id", "sex", "age_years", "pregnant", "stratum", "psu", "wt_interview",
                                "wt_mec", "wt_day1", "wt_two_day")
    flagged = analysis_frame(participants, exposures, oxytocin.clear(), {})
    assert flagged.filter(pl.col("tryptophan_mean_daily").is_null())["participant_id"].to_list() == ["1", "2"]
    # per 1000 kcal also needs energy: participant 3's ratio is left out too
    assert flagged.filter(pl.col("tryptophan_per_1000kcal").is_null())["participant_id"].to_list() == ["1", "2", "3"]
    analysis = Analysis(id="a", kind="estimates", variables=["tryptophan_mean_daily", "age_years"], statistics=["mean"],
                        by=["sex"])
    rows = run_estimates("c", flagged, Design(weight="wt_day1"), analysis, {}, oxytocin.clear())
    tryptophan = {r["domain_value"]: r for r in rows.filter(pl.col("variable") == "tryptophan_mean_daily").iter_rows(named=True)}
    assert tryptophan["female"]["n"] == 29 and tryptophan["female"]["method"].endswith("; low coverage excluded: 1")
    assert tryptophan["male"]["n"] == 29 and tryptophan["male"]["method"].endswith("; low coverage excluded: 1")
    age = rows.filter(pl.col("variable") == "age_years")
    assert age["n"].to_list() == [30, 30] and not age["method"].str.contains("low coverage").any()  # not an exposure
    flagged = flagged.with_columns((pl.col("age_years") > 50).cast(pl.Int8).alias("older"))
    hypothesis = Analysis(id="h", kind="association", outcome="phq9_ge10", model="logistic",
                          exposure={"component": "tryptophan", "scale": "per_1000kcal", "groups": "continuous"})
    association = run_association("c", flagged.with_columns(pl.col("older").alias("phq9_ge10")), Design(weight="wt_day1"),
                                  hypothesis, {"phq9_ge10": "binary"}, {"tryptophan": "mg"}).row(0, named=True)
    assert association["n"] == n - 3 and association["method"].endswith("; low coverage excluded: 3")


def test_oxytocin_of_two_methods_is_refused_unless_stratified_by_method():
    frame, oxytocin = _frame()
    pooled = Analysis(id="ot", kind="estimates", variables=["oxytocin"])
    with pytest.raises(GutaxisError, match="oxytocin values come from 2 methods.*Szeto"):
        run_estimates("c", frame, Design(), pooled, {}, oxytocin)
    by_method = Analysis(id="ot", kind="estimates", variables=["oxytocin"], by=["oxytocin_method"])
    rows = run_estimates("c", frame, Design(), by_method, {}, oxytocin)
    assert sorted(rows["domain_value"]) == ["plasma/ria/spe", "saliva/eia/none"]


def test_association_by_quintiles_against_the_lowest_with_p_trend_and_one_model_per_oxytocin_method():
    frame, _ = _frame(150)
    hypothesis = Analysis(id="h", kind="association", exposure={"component": "tryptophan", "groups": "tertiles"},
                          outcome="oxytocin", model="linear", covariates=["age_years", "sex", "income_poverty_ratio"])
    rows = run_association("c", frame, None, hypothesis, {}, {"tryptophan": "mg"})
    assert set(rows["subpopulation"]) == {"plasma/ria/spe", "saliva/eia/none"}
    assert set(rows["contrast"]) == {"T2 vs T1", "T3 vs T1"}
    assert rows["covariates"].unique().to_list() == ["age_years, sex"]  # the cohort has no income ratio
    assert rows["p_trend"].null_count() == 0 and rows["status"].unique().to_list() == ["estimated"]


def test_a_hypothesis_whose_component_the_cohort_lacks_is_reported_not_computable():
    frame, _ = _frame()
    hypothesis = Analysis(id="yog", kind="association", exposure={"component": "fg_yogurt"}, outcome="phq9_ge10",
                          model="logistic")
    rows = run_association("c", frame, Design(), hypothesis, {"phq9_ge10": "binary"}, {})
    assert rows.height == 1 and rows["status"][0].startswith("not computable: missing fg_yogurt")


# --- the run: publish, refuse, sensor ----------------------------------------------------------

def _published(path) -> dict:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in ESTIMATED}
    finally:
        conn.close()


def test_demo_publishes_estimates_and_bad_analysis_input_changes_nothing(isolated, tmp_path):
    reports, errors = run_cohorts(["demo"])
    assert errors == [] and reports[0].outcome == "published"
    assert any(line.startswith("hypothesis oxytocin-tryptophan") for line in reports[0].estimated)
    before = _published(isolated / "warehouse.duckdb")
    assert before["marts.population_estimates"] and before["marts.association_estimates"]
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    row = conn.execute("SELECT count(*), count(oxytocin), count(DISTINCT oxytocin_method) "
                       "FROM marts.analysis_participant WHERE cohort = 'demo'").fetchall()[0]
    conn.close()
    assert row == (24, 24, 2)

    # one-off copies of the demo spec, each with one bad input
    shutil.copytree(DATA_DIR / "demo", tmp_path / "demo")
    spec = load_cohort_spec(DATA_DIR / "cohorts" / "demo.yaml").model_dump(exclude_none=True, exclude={"spec_path"})
    spec["path"] = "demo/diary.csv"
    for table in spec["participants"] + spec["outcomes"]:
        table["path"] = table["path"].replace("../demo/", "demo/")
    participants = (tmp_path / "demo" / "participants.csv").read_text().splitlines()
    cases = {
        "duplicate ids": ("participants.csv", "\n".join(participants + [participants[1]]) + "\n", {},
                          "duplicate participant ids"),
        "unknown unit": (None, None, {"outcomes_unit": "nmol/dL"}, "oxytocin unit 'nmol/dL' is not known"),
        "missing design column": (None, None, {"design": {"strata": "centre", "psu": "site"}},
                                  "design strata column 'centre' is not in the participants"),
        "weight of 0": ("participants.csv", "participant,sex,age,site,unit,wt\n" + "".join(
            f"demo-{p:03d},female,{30 + p},{1 + p % 2},{1 + p % 3},{0 if p == 5 else 100 + p}\n" for p in range(1, 25)),
            {"design": {"weight": "wt_interview", "strata": "stratum", "psu": "psu"},
             "participants": [{"format": "tabular", "path": "demo/participants.csv",
                               "columns": {"participant_id": "participant", "sex": "sex", "age_years": "age",
                                           "stratum": "site", "psu": "unit", "wt_interview": "wt"}}]},
            "check failed: analysis_participants.design weight present and > 0 (1 unexpected)"),
        "mixed assays": (None, None, {"analyses": [{"id": "pooled", "kind": "estimates", "variables": ["oxytocin"]}]},
                         "oxytocin values come from 2 methods"),
    }
    for name, (file, text, change, message) in cases.items():
        case = tmp_path / name.replace(" ", "-")
        shutil.copytree(tmp_path / "demo", case / "demo")
        if file:
            (case / "demo" / file).write_text(text)
        body = {**spec}
        if "outcomes_unit" in change:
            body["outcomes"] = [{**body["outcomes"][1], "unit": change["outcomes_unit"]}]
        for key in ("design", "participants", "analyses"):
            if key in change:
                body[key] = change[key]
        path = write_spec(case, "demo", **{k: v for k, v in body.items() if k != "name"})
        reports, errors = run_cohorts([str(path)], replace=True)
        assert reports[0].outcome.startswith("failed"), name
        # bad input is one line; a failed blocking check is reported as the run reports every failed check
        assert (len(errors) == 1 and message in errors[0]) or (message in errors[-1] and "check failed" in message), \
            (name, errors)
        assert _published(isolated / "warehouse.duckdb") == before, name


def test_cohort_check_runs_and_audits_the_analysis_and_publishes_nothing(isolated, tmp_path):
    from gutaxis.report import format_report
    from pipelines.runner import check_cohort

    report = check_cohort("demo")
    assert report.outcome == "checked (not published)" and report.checks_failed == []
    assert any(line.startswith("hypothesis oxytocin-tryptophan") for line in report.estimated)
    assert "hypothesis oxytocin-tryptophan" in format_report(report)
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    try:
        suites = {suite for (suite,) in conn.execute(
            "SELECT DISTINCT suite FROM audit.validations WHERE run_id = ?", [report.run_key]).fetchall()}
        assert {"analysis_participants", "analysis_outcomes", "analysis_estimates"} <= suites
        assert all(conn.execute(f"SELECT count(*) FROM {t} WHERE cohort = 'demo'").fetchall() == [(0,)] for t in ESTIMATED)
    finally:
        conn.close()

    # a failed analysis check fails the check, as it would fail the run
    shutil.copytree(DATA_DIR / "demo", tmp_path / "demo")
    spec = load_cohort_spec(DATA_DIR / "cohorts" / "demo.yaml").model_dump(exclude_none=True, exclude={"spec_path"})
    (tmp_path / "demo" / "participants.csv").write_text("participant,site,unit,wt\n" + "".join(
        f"demo-{p:03d},{1 + p % 2},{1 + p % 3},{0 if p == 5 else 100 + p}\n" for p in range(1, 25)))
    body = {**spec, "path": "demo/diary.csv", "design": {"weight": "wt_interview", "strata": "stratum", "psu": "psu"},
            "participants": [{"format": "tabular", "path": "demo/participants.csv", "columns": {
                "participant_id": "participant", "stratum": "site", "psu": "unit", "wt_interview": "wt"}}],
            "outcomes": [{**table, "path": table["path"].replace("../demo/", "demo/")} for table in spec["outcomes"]]}
    path = write_spec(tmp_path, "demo", **{k: v for k, v in body.items() if k != "name"})
    failed = check_cohort(str(path))
    assert failed.checks_failed == ["analysis_participants.design weight present and > 0 (1 unexpected)"]
    assert failed.estimated == []  # the estimates wait for the participants' check, as in a run


def test_a_new_or_changed_analysis_file_naming_a_cohort_triggers_its_run(isolated, tmp_path, monkeypatch):
    monkeypatch.setenv("GUTAXIS_ANALYSES_DIR", str(tmp_path))
    instance = dg.DagsterInstance.ephemeral()
    first = cohort_spec_sensor(dg.build_sensor_context(instance=instance))
    assert [r.partition_key for r in first.run_requests] == ["demo"]
    quiet = cohort_spec_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
    assert quiet.run_requests == []
    (tmp_path / "demo-fiber.yaml").write_text(
        "id: demo-fiber\nkind: estimates\ncohorts: [demo]\nvariables: [fiber_mean_daily]\n")
    changed = cohort_spec_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
    assert [r.partition_key for r in changed.run_requests] == ["demo"]
    (tmp_path / "other.yaml").write_text("id: other\nkind: estimates\ncohorts: [elsewhere]\nvariables: [fiber_mean_daily]\n")
    unrelated = cohort_spec_sensor(dg.build_sensor_context(instance=instance, cursor=changed.cursor))
    assert unrelated.run_requests == []


def test_every_column_of_the_analysis_tables_and_views_has_a_comment(isolated):
    from gutaxis import warehouse

    with warehouse.open_writer() as conn:
        warehouse.load_outcome_registry(conn)
        warehouse.refresh_views(conn)
        for table in ("store.participants", "store.outcomes", "store.population_estimates", "store.association_estimates",
                      "reference.outcomes"):
            schema, name = table.split(".")
            uncommented = conn.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
                                       "AND comment IS NULL", [schema, name]).fetchall()
            assert uncommented == [], table
        for view in ("cohort.outcomes", "marts.population_estimates", "marts.association_estimates"):
            schema, name = view.split(".")
            assert conn.execute("SELECT count(*) FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
                                "AND comment IS NULL", [schema, name]).fetchall()[0][0] == 0, view
        assert conn.execute("SELECT comment FROM duckdb_views() WHERE schema_name = 'marts' "
                            "AND view_name = 'analysis_participant'").fetchall()[0][0].startswith("One row per participant")
        columns = {c for (c,) in conn.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = 'marts' "
                                               "AND table_name = 'analysis_participant'").fetchall()}
        assert {"stratum", "wt_two_day", "tryptophan_mean_daily", "tryptophan_per_1000kcal", "phq9_ge10", "oxytocin",
                "oxytocin_method", "has_usable_recall"} <= columns


def test_cli_refuses_a_hypothesis_naming_an_unknown_component_with_exit_2(isolated, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from gutaxis import PROJECT_ROOT

    spec = write_spec(tmp_path, "bad-hypothesis", format="tabular", path=str(DATA_DIR / "demo" / "diary.csv"),
                      composition="demo", columns={"participant_id": "participant", "recall_day": "day",
                                                   "food_code": "food_code", "grams": "grams"},
                      analyses=[{"id": "h", "kind": "association", "exposure": {"component": "kombucha"},
                                 "outcome": "phq9_ge10", "model": "logistic"}])
    env = {**os.environ, "GUTAXIS_WAREHOUSE": str(isolated / "warehouse.duckdb")}
    done = subprocess.run([str(Path(sys.executable).parent / "gutaxis"), "run", "--cohort", str(spec)], capture_output=True,
                          text=True, env=env, cwd=PROJECT_ROOT, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown component 'kombucha'" in lines[0]


def test_checks_catch_non_finite_estimates_cis_that_miss_them_and_an_unrecorded_lonely_psu():
    from gutaxis.analysis.analyses import finite_with_ci
    from gutaxis.analysis.steps import unrecorded_lonely_psu

    rows = pl.DataFrame({"estimate": [1.0, float("nan"), 2.0, 3.0], "se": [0.1, 0.1, 0.1, 0.1],
                         "ci_low": [0.8, 0.0, 2.5, None], "ci_high": [1.2, 1.0, 3.0, None]})
    assert finite_with_ci(rows)["estimate"].to_list()[1:] == [2.0] and finite_with_ci(rows).height == 2
    participants = pl.DataFrame({"stratum": [1, 1, 2, 2], "psu": [1, 2, 1, 1], "wt_mec": [1.0, 2.0, 3.0, 4.0]})
    recorded = "Taylor linearisation ... (svy 0.35.0); lonely PSU: adjust (strata 2)"
    estimates = pl.DataFrame({"weight": ["wt_mec", "wt_mec"], "method": [recorded, "Taylor linearisation"]})
    assert unrecorded_lonely_psu(estimates, participants, Design()) == 1
    assert unrecorded_lonely_psu(estimates.head(1), participants, Design()) == 0
    two_psus = participants.with_columns(pl.Series("psu", [1, 2, 1, 2]))
    assert unrecorded_lonely_psu(estimates, two_psus, Design()) == 0


def test_not_pregnant_domain_keeps_women_of_unknown_status_and_more_cycles_than_declared_is_refused(tmp_path):
    from types import SimpleNamespace

    from gutaxis.analysis.analyses import domain_frame
    from gutaxis.analysis.declarations import AnalysisDeclarations
    from gutaxis.analysis.steps import _refuse_missing_design_columns

    frame = pl.DataFrame({"age_years": [25.0, 30, 50], "pregnant": [None, True, False]},
                         schema_overrides={"pregnant": pl.Boolean})
    kept = domain_frame(frame).filter(pl.sql_expr("age_years >= 20 and not pregnant"))
    assert kept["age_years"].to_list() == [25.0, 50.0]
    participants = pl.DataFrame({"participant_id": ["1", "2"], "cycle": ["2015-2016", "2017-2018"],
                                 "stratum": [1, 2], "psu": [1, 1]})
    spec = SimpleNamespace(spec_path=tmp_path / "pooled.yaml")
    with pytest.raises(GutaxisError, match="2 survey cycles but the design says cycles: 1"):
        _refuse_missing_design_columns(participants, AnalysisDeclarations(design={"cycles": 1}), spec)
    _refuse_missing_design_columns(participants, AnalysisDeclarations(design={"cycles": 2}), spec)


def test_a_mapped_column_the_attribute_file_lacks_is_one_line_naming_it(tmp_path):
    (tmp_path / "cov.csv").write_text("id,age\n1,30\n")
    table = AttributeTable(format="tabular", path="cov.csv", columns={"participant_id": "id", "stratum": "SDMVSTRA"})
    with pytest.raises(GutaxisError, match=r"cov.csv: column 'SDMVSTRA' is missing \(the file has id, age\)"):
        build_participants("c", tmp_path, [table], pl.Series(["1"]), pl.Series(["1"]), pl.DataFrame())


def test_the_analysis_frame_reads_exposures_wide_as_the_long_view_shows_them(isolated):
    from gutaxis import warehouse
    from gutaxis.components import units

    reports, errors = run_cohorts(["demo"])
    assert errors == [] and reports[0].outcome == "published"
    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    table = conn.execute("SELECT table_name FROM store.published WHERE cohort = 'demo' AND kind = 'participant_exposure'"
                         ).fetchall()[0][0]
    wide = conn.sql(warehouse.wide_participant_exposure_select(conn, table, units())).pl()
    long = conn.sql("SELECT participant_id, n_days, component_id, mean_daily, per_1000kcal FROM ("
                    + " UNION ALL ".join(warehouse._published_selects(conn, "marts.participant_exposure", "demo", table,
                                                                      units())) + ")").pl()
    conn.close()
    participants = long.select("participant_id").unique()
    from_long = analysis_frame(participants, long, pl.DataFrame(), {})
    from_wide = analysis_frame(participants, wide, pl.DataFrame(), {})
    assert long["mean_daily"].null_count() < long.height and long["per_1000kcal"].null_count() < long.height
    assert sorted(from_wide.columns) == sorted(from_long.columns)
    assert from_wide.select(sorted(from_wide.columns)).sort("participant_id").equals(
        from_long.select(sorted(from_long.columns)).sort("participant_id"))


def test_weighted_cutpoints_are_the_smallest_values_whose_weighted_cdf_reaches_j_over_k():
    import numpy as np

    from gutaxis.analysis.analyses import _weighted_cutpoints

    rng = np.random.default_rng(3)
    frame = pl.DataFrame({"x": np.round(rng.lognormal(0, 1, 5000), 1), "w": rng.uniform(0, 3, 5000)})
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) % 7 == 0).then(0.0).otherwise(pl.col("w")).alias("w"))
    ordered = frame.filter(pl.col("w") > 0).sort("x")
    cdf = (ordered["w"].cum_sum() / ordered["w"].sum()).to_list()
    for k in (3, 5):
        expected = set()
        for j in range(1, k):  # the definition, row by row
            expected.add(next((v for v, c in zip(ordered["x"], cdf) if c >= j / k), ordered["x"][-1]))
        assert _weighted_cutpoints(frame, "x", "w", k) == sorted(expected)
    assert _weighted_cutpoints(frame.with_columns(pl.lit(0.0).alias("w")), "x", "w", 5) == []
