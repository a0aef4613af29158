"""Usual intake wired into the cohort run: the spec key, the staged and published tables, the blocking
checks, the run summary's one-part / two-part / no-model lines, regression calibration (scale: usual)
and its refusal, and the report's usual-intake strips."""
from __future__ import annotations

import contextlib
import io
import os

import duckdb
import numpy as np
import polars as pl
import pytest

from gutaxis import DATA_DIR, GutaxisError
from gutaxis.analysis.declarations import Design, UsualIntake, check_declarations
from gutaxis.analysis.usual_tables import model_summary, usual_intake_tables
from gutaxis.specs import load_cohort_spec
from pipelines.cli import main
from tests.conftest import _isolate, write_spec

DEMO_FOODS = DATA_DIR / "demo" / "composition" / "foods.csv"
COLUMNS = {"participant_id": "participant", "recall_day": "day", "food_code": "food_code", "grams": "grams"}
PARTICIPANT_COLUMNS = {"participant_id": "participant", "sex": "sex", "age_years": "age"}


def _diary(n_persons: int, second_recall_share: float, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Recall days of demo foods: each person eats oatmeal (fibre) every day, around a person-level mean,
    and blueberries on 60 % of days (anthocyanidins: episodic); a share of the persons has a second recall."""
    rng = np.random.default_rng(seed)
    rows = []
    people = []
    for p in range(n_persons):
        pid = f"p{p:04d}"
        sex = "female" if p % 2 else "male"
        age = int(rng.integers(20, 80))
        people.append((pid, sex, age))
        person_effect = rng.normal(0, 0.35)
        days = 2 if rng.random() < second_recall_share else 1
        for day in range(1, days + 1):
            rows.append((pid, day, "99000005", round(float(np.exp(5.2 + person_effect + rng.normal(0, 0.45))), 1)))
            rows.append((pid, day, "99000018", round(float(np.exp(5.0 + rng.normal(0, 0.3))), 1)))   # rice: energy
            if rng.random() < 0.6:
                rows.append((pid, day, "99000012", round(float(rng.uniform(40, 160)), 1)))            # blueberries
    diary = pl.DataFrame(rows, schema=["participant", "day", "food_code", "grams"], orient="row")
    participants = pl.DataFrame(people, schema=["participant", "sex", "age"], orient="row")
    return diary, participants


def _spec(folder, name: str, n_persons: int = 160, second_recall_share: float = 0.8, seed: int = 3, **extra):
    diary, participants = _diary(n_persons, second_recall_share, seed)
    diary.write_csv(folder / f"{name}.csv")
    participants.write_csv(folder / f"{name}-participants.csv")
    return write_spec(folder, name, format="tabular", path=str(folder / f"{name}.csv"), composition="demo", columns=COLUMNS,
                      participants=[{"format": "tabular", "path": str(folder / f"{name}-participants.csv"),
                                     "columns": PARTICIPANT_COLUMNS}], **extra)


# --- the spec key and the engine's rows (fast) ----------------------------------------------------

def test_usual_intake_spec_key_is_validated_in_one_line(tmp_path):
    with pytest.raises(GutaxisError, match=r"field 'usual_intake.components'.*unknown component 'fibre'"):
        check_declarations({"usual_intake": {"components": ["fibre"]}}, tmp_path / "s.yaml")
    with pytest.raises(GutaxisError, match=r"field 'usual_intake.nsim': nsim 40: at least 100 pseudo-persons"):
        check_declarations({"usual_intake": {"nsim": 40}}, tmp_path / "s.yaml")
    with pytest.raises(GutaxisError, match=r"usual-intake covariates and domains are participant attributes"):
        check_declarations({"usual_intake": {"covariates": ["fiber_mean_daily"]}}, tmp_path / "s.yaml")
    declared = check_declarations({"usual_intake": {"components": "all", "covariates": ["age_years", "sex"]}}, "s")
    assert declared.usual_intake.nsim == 100 and declared.usual_intake.scales == ["amount", "per_1000kcal"]


def test_a_usual_scale_hypothesis_needs_its_covariates_in_the_usual_intake_model(tmp_path):
    hypothesis = {"id": "fibre-ot", "kind": "association", "outcome": "oxytocin", "model": "linear",
                  "exposure": {"component": "fiber", "scale": "usual", "groups": "continuous"},
                  "covariates": ["age_years", "sex"]}
    with pytest.raises(GutaxisError, match=r"adjusts for sex, which the usual-intake model does not: regression "
                                           r"calibration needs the outcome model's covariates"):
        check_declarations({"analyses": [hypothesis], "usual_intake": {"covariates": ["age_years"]}}, tmp_path / "s.yaml")
    with pytest.raises(GutaxisError, match=r"uses scale: usual, but the cohort declares no usual_intake"):
        check_declarations({"analyses": [hypothesis]}, tmp_path / "s.yaml")
    assert check_declarations({"analyses": [hypothesis], "usual_intake": {"covariates": ["age_years", "sex"]}}, "s")


def _days_and_people(n_persons=200, share=0.9, seed=5):
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_persons):
        effect = rng.normal(0, 0.4)
        for day in (1, 2) if rng.random() < share else (1,):
            fiber = float(np.exp(2.8 + effect + rng.normal(0, 0.5)))
            rows += [(f"{p}", day, "fiber", fiber, 2000.0), (f"{p}", day, "energy_kcal", 2000.0, 2000.0),
                     (f"{p}", day, "anthocyanidins", 0.0, 2000.0)]
    days = pl.DataFrame(rows, schema=["participant_id", "recall_day", "component_id", "amount", "energy"], orient="row")
    people = pl.DataFrame({"participant_id": [f"{p}" for p in range(n_persons)],
                           "age_years": rng.integers(20, 80, n_persons).astype(float),
                           "sex": ["female" if p % 2 else "male" for p in range(n_persons)],
                           "site": ["a"] * (n_persons - 3) + ["b"] * 3})
    return days, people


def test_each_component_gets_a_model_or_a_row_saying_why():
    days, people = _days_and_people()
    declared = UsualIntake(components=["fiber", "anthocyanidins", "inulin_fos"], covariates=["age_years"],
                           domains=["site"], nsim=100, replicates=4)
    tables = usual_intake_tables(days, people, declared, None, {"fiber": "g", "anthocyanidins": "mg", "inulin_fos": "g"}, "s")
    dist = tables.distribution
    fiber = dist.filter((pl.col("component_id") == "fiber") & (pl.col("unit") == "g") & (pl.col("domain") == "all"))
    assert fiber["status"].unique().to_list() == ["estimated"] and fiber.height == 9
    assert fiber.sort("percentile")["value"].diff().drop_nulls().min() > 0
    assert fiber["var_between"][0] > 0 and fiber["n_with_repeat"][0] >= 50
    # a 3-person domain, an all-zero component, a component no source computed: each a row with its reason
    small = dist.filter((pl.col("domain") == "site") & (pl.col("domain_value") == "b") & (pl.col("unit") == "g"))
    assert small["status"][0].startswith("not estimable: site = b has 3 persons")
    zero = dist.filter(pl.col("component_id") == "anthocyanidins")["status"].unique().to_list()
    assert len(zero) == 1 and "are 0" in zero[0]
    assert dist.filter(pl.col("component_id") == "inulin_fos")["status"].to_list() == [
        "not estimable: no source computed it in this run"] * 2
    # the density has its own rows; per-person predictions only on the amount scale
    assert set(dist.filter(pl.col("component_id") == "fiber")["unit"]) == {"g", "g per 1000 kcal"}
    assert tables.per_person["component_id"].unique().to_list() == ["fiber"]
    assert tables.per_person.height == 200 and (tables.per_person["usual_intake"] > 0).all()
    lines = model_summary(dist)
    assert lines == ["one-part: fiber", "no model (all 380 recall days are 0): anthocyanidins",
                     "no model (no source computed it in this run): inulin_fos"]
    # a scale that got no model while the other did is named with its unit
    mixed = dist.with_columns(pl.when((pl.col("component_id") == "fiber") & (pl.col("unit") == "g per 1000 kcal"))
                              .then(pl.lit("not estimable: x")).otherwise(pl.col("status")).alias("status"))
    assert model_summary(mixed)[0] == "one-part: fiber (g)" and "no model (x): fiber (g per 1000 kcal)" in model_summary(mixed)


def test_a_cohort_with_one_recall_per_person_is_not_estimable_not_a_crash():
    days, people = _days_and_people(share=0.0)
    tables = usual_intake_tables(days, people, UsualIntake(components=["fiber"], scales=["amount"], replicates=0),
                                 None, {"fiber": "g"}, "s")
    row = tables.distribution.row(0, named=True)
    assert tables.distribution.height == 1 and row["model"] == "none" and row["value"] is None
    assert row["status"].startswith("not estimable: only 0 of 200 persons have 2 or more recalls")


def test_a_covariate_the_participants_lack_is_refused_in_one_line():
    days, people = _days_and_people(n_persons=60)
    with pytest.raises(GutaxisError, match=r"s.yaml: usual_intake covariate 'bmi' is not among the participants"):
        usual_intake_tables(days, people, UsualIntake(covariates=["bmi"]), None, {}, "s.yaml")


def test_with_a_design_the_weight_is_day_one_and_the_ses_come_from_brr():
    days, people = _days_and_people(n_persons=240)
    people = people.with_columns(stratum=pl.Series([p // 8 % 8 for p in range(240)]),
                                 psu=pl.Series([p % 2 + 1 for p in range(240)]), wt_day1=pl.lit(1000.0))
    tables = usual_intake_tables(days, people, UsualIntake(components=["fiber"], scales=["amount"], nsim=100, replicates=16),
                                 Design(), {"fiber": "g"}, "s")
    fiber = tables.distribution.filter(pl.col("domain") == "all")
    assert fiber["status"].unique().to_list() == ["estimated"] and (fiber["se"] > 0).all()


# --- the run (slow) -------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_run_publishes_usual_intake_and_says_which_model_each_component_got(isolated, tmp_path, capsys):
    spec = _spec(tmp_path, "usual", usual_intake={"components": ["fiber", "anthocyanidins", "omega3_dha"],
                                                  "covariates": ["age_years", "sex"], "nsim": 100, "replicates": 4,
                                                  "domains": ["sex"]})
    assert main(["run", "--cohort", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "  usual intake one-part: fiber" in out.splitlines()
    lines = out.splitlines()
    assert "  usual intake two-part: anthocyanidins" in lines  # blueberries on 60 % of days: episodic
    assert "  usual intake no model (all 294 recall days are 0): omega3_dha" in lines
    with duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True) as conn:
        dist = conn.sql("SELECT * FROM marts.usual_intake_distribution WHERE cohort = 'usual'").pl()
        people = conn.sql("SELECT * FROM marts.participant_usual_intake WHERE cohort = 'usual'").pl()
        checks = conn.execute("SELECT \"check\", success FROM audit.validations WHERE cohort = 'usual' "
                              "AND suite = 'usual_intake'").fetchall()
        comments = conn.execute("SELECT count(*) FILTER (WHERE comment IS NULL OR comment = '') FROM duckdb_columns() "
                                "WHERE schema_name = 'marts' AND table_name IN ('usual_intake_distribution', "
                                "'participant_usual_intake')").fetchall()[0][0]
    fiber = dist.filter((pl.col("component_id") == "fiber") & (pl.col("unit") == "g") & (pl.col("domain") == "all"))
    assert fiber.height == 9 and fiber["model"][0] == "one-part" and fiber["n_with_repeat"][0] >= 50
    assert set(dist.filter(pl.col("component_id") == "fiber")["domain_value"]) == {"all", "female", "male"}
    assert people.filter(pl.col("component_id") == "fiber").height == 160
    assert len(checks) == 4 and all(ok for _, ok in checks)
    berries = dist.filter((pl.col("component_id") == "anthocyanidins") & (pl.col("domain") == "all") & (pl.col("unit") == "mg"))
    assert berries["model"][0] == "two-part" and berries["model_reason"][0].startswith("episodic: ")
    assert berries["var_between_probability"][0] is not None
    assert comments == 0


@pytest.mark.slow
def test_a_usual_scale_hypothesis_is_fitted_on_the_predictions_and_the_report_draws_usual_intake(isolated, tmp_path):
    diary, participants = _diary(160, 0.8, 4)
    rng = np.random.default_rng(9)
    oxytocin = participants.select(pl.col("participant"), pl.Series("ot", rng.lognormal(1.5, 0.4, 160)),
                                   pl.lit("plasma").alias("matrix"), pl.lit("eia").alias("method"),
                                   pl.lit("none").alias("extraction"))
    diary.write_csv(tmp_path / "d.csv")
    participants.write_csv(tmp_path / "p.csv")
    oxytocin.write_csv(tmp_path / "o.csv")
    spec = write_spec(tmp_path, "calibrated", format="tabular", path=str(tmp_path / "d.csv"), composition="demo",
                      columns=COLUMNS, participants=[{"format": "tabular", "path": str(tmp_path / "p.csv"),
                                                      "columns": PARTICIPANT_COLUMNS}],
                      outcomes=[{"format": "tabular", "path": str(tmp_path / "o.csv"), "outcome": "oxytocin",
                                 "unit": "pg/mL", "columns": {"participant_id": "participant", "value": "ot",
                                                              "sample_type": "matrix", "assay": "method",
                                                              "extraction": "extraction"}}],
                      usual_intake={"components": ["fiber"], "covariates": ["age_years", "sex"], "nsim": 100,
                                    "replicates": 0},
                      analyses=[{"id": "fiber-usual-ot", "kind": "association", "outcome": "oxytocin", "model": "linear",
                                 "exposure": {"component": "fiber", "scale": "usual", "groups": "continuous"},
                                 "covariates": ["age_years", "sex"]}])
    assert main(["run", "--cohort", str(spec)]) == 0
    with duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True) as conn:
        rows = conn.sql("SELECT * FROM marts.association_estimates WHERE cohort = 'calibrated'").pl()
    assert rows["status"].to_list() == ["estimated"] and rows["exposure_scale"][0] == "usual"
    assert rows["n"][0] == 160 and rows["weight"][0].startswith("none")
    html = (isolated / "reports" / "calibrated.html").read_text(encoding="utf-8")
    fiber_plot = html.split('data-plot="dist-fiber"')[1].split("</svg>")[0]
    assert "usual intake not estimated" not in fiber_plot and "#0072b2" in fiber_plot
    assert "usual intake not estimated: not among the components" in html.split('data-plot="dist-tryptophan"')[1]


@pytest.mark.slow
def test_an_analysis_file_on_the_usual_scale_with_an_extra_covariate_fails_the_run_in_one_line(isolated, tmp_path,
                                                                                               monkeypatch, capsys):
    analyses = tmp_path / "analyses"
    analyses.mkdir()
    (analyses / "fiber-usual.yaml").write_text(
        "id: fiber-usual\nkind: association\ncohorts: [refused]\noutcome: oxytocin\nmodel: linear\n"
        "exposure: {component: fiber, scale: usual, groups: continuous}\ncovariates: [age_years, sex]\n", encoding="utf-8")
    monkeypatch.setenv("GUTAXIS_ANALYSES_DIR", str(analyses))
    spec = _spec(tmp_path, "refused", usual_intake={"components": ["fiber"], "covariates": ["age_years"],
                                                    "nsim": 100, "replicates": 0})
    assert main(["run", "--cohort", str(spec)]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("gutaxis: stage ")]
    assert len(err) == 1 and "adjusts for sex, which the usual-intake model does not" in err[0]


# --- real data ------------------------------------------------------------------------------------

@pytest.mark.realdata
def test_nhanes_women_usual_energy_and_fibre_are_narrower_than_one_day_and_drawn_in_the_report(realdata, isolated,
                                                                                                 tmp_path):
    """NHANES 2015-16 women in their 40s (both recall days, DEMO_I design): energy and fibre as the file
    reports them, one-part models with BRR SEs from the design, the report's usual strips."""
    folder = realdata / "nhanes" / "2015-2016"
    from gutaxis.fetch import fetch

    fetch("fndds-2017-2018", realdata / "usda" / "fndds-2017-2018" /
          "2017-2018 FNDDS At A Glance - FNDDS Nutrient Values.xlsx", log=lambda *a: None)
    spec = write_spec(
        tmp_path, "women-usual", format="tabular", path=str(folder / "IFF_day1_day2_women40s.tsv"), delimiter="\t",
        columns={"participant_id": "SEQN", "recall_day": "Day", "food_code": "FoodCode", "grams": "FoodAmt"},
        reported={"energy_kcal": "KCAL", "fiber": "FIBE"},
        participants=[{"format": "nhanes-demo", "path": str(folder / "DEMO_I.XPT")}],
        design={"weight": "auto", "strata": "stratum", "psu": "psu", "cycles": 1, "lonely_psu": "adjust"},
        usual_intake={"components": ["energy_kcal", "fiber"], "covariates": ["age_years"], "nsim": 100})
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["run", "--cohort", str(spec)]) == 0
    assert "  usual intake one-part: energy_kcal, fiber" in printed.getvalue().splitlines()
    with duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True) as conn:
        dist = conn.sql("SELECT * FROM marts.usual_intake_distribution WHERE cohort = 'women-usual' AND domain = 'all'").pl()
        one_day = conn.sql("SELECT component_id, quantile_cont(amount, 0.05) p5, quantile_cont(amount, 0.95) p95 "
                           "FROM marts.participant_day_exposure WHERE cohort = 'women-usual' AND recall_day = 1 "
                           "AND component_id IN ('energy_kcal', 'fiber') GROUP BY ALL").pl()
    for component, p5, p95 in one_day.rows():
        usual = dist.filter((pl.col("component_id") == component) & (pl.col("unit") != "g per 1000 kcal"))
        assert usual["status"].unique().to_list() == ["estimated"]
        values = dict(usual.select("percentile", "value").rows())
        assert p5 < values[5] < values[95] < p95, (component, p5, p95, values)  # day-to-day variation removed
        assert (usual["se"] > 0).all()  # Fay BRR from the design's strata and PSUs
    html = (isolated / "reports" / "women-usual.html").read_text(encoding="utf-8")
    for component in ("energy_kcal", "fiber"):
        plot = html.split(f'data-plot="dist-{component}"')[1].split("</svg>")[0]
        assert "usual intake not estimated" not in plot
