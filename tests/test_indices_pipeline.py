"""Indices wired into the cohort run: a small day-totals cohort publishes marts.participant_day_index and
marts.participant_index (totals = sums of components), the population-ratio rows, `scale: index` in
analyses, and a cohort lacking an input is reported not computable, with no rows."""
from __future__ import annotations

import duckdb
import polars as pl
import pytest

from gutaxis import GutaxisError
from gutaxis.analysis.declarations import check_declarations
from gutaxis.indices import INDICES, hei2015
from pipelines.runner import run_cohorts
from tests.conftest import write_spec

# three participants, two recall days each: every HEI input as a column of the day totals
DAYS = [
    # id, day, kcal, veg, legumes, dark green, fruit, citrus/melons/berries, other fruit, whole grains, dairy,
    # meat/poultry/seafood, eggs, nuts, soy, legumes as protein, seafood hi, seafood lo, refined grains,
    # sodium, sfa, mufa, pufa, added sugars
    (1, 1, 2000, 2.0, 0.2, 0.4, 1.5, 0.5, 0.8, 2.0, 2.5, 5.0, 0.5, 1.0, 0.0, 0.8, 1.0, 0.5, 3.0, 2600, 18, 30, 20, 8),
    (1, 2, 1800, 1.0, 0.0, 0.1, 0.5, 0.0, 0.2, 0.5, 1.0, 4.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 5.0, 3500, 25, 25, 12, 18),
    (2, 1, 2500, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 7.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 9.0, 5000, 40, 30, 15, 30),
    (2, 2, 2200, 0.8, 0.1, 0.1, 0.4, 0.1, 0.1, 0.3, 1.2, 6.0, 0.5, 0.2, 0.0, 0.4, 0.0, 0.5, 7.0, 4200, 35, 28, 14, 22),
    (3, 1, 1500, 2.5, 0.5, 1.0, 2.0, 1.0, 1.0, 3.0, 2.0, 2.0, 0.0, 2.0, 1.0, 2.0, 2.0, 0.0, 1.0, 1500, 10, 25, 18, 4),
    (3, 2, 1600, 2.0, 0.3, 0.6, 1.8, 0.8, 0.9, 2.5, 1.5, 2.5, 0.5, 1.5, 0.5, 1.2, 1.0, 0.5, 1.5, 1700, 12, 24, 16, 5),
]
COLUMNS = ["id", "day", "kcal", "veg", "leg", "dkgr", "fruit", "citmlb", "fother", "wg", "dairy", "mps", "eggs",
           "nuts", "soy", "legprot", "seahi", "sealo", "rg", "sodium", "sfa", "mufa", "pufa", "addsug"]
REPORTED = {"energy_kcal": "kcal", "fg_vegetables": "veg", "fg_legumes": "leg", "fg_dark_green_veg": "dkgr",
            "fg_fruit": "fruit", "fg_citrus_melons_berries": "citmlb", "fg_other_fruit": "fother",
            "fg_whole_grains": "wg", "fg_dairy": "dairy", "fg_meat_poultry_seafood": "mps", "fg_eggs": "eggs",
            "fg_nuts_seeds": "nuts", "fg_soy": "soy", "fg_legumes_protein": "legprot", "fg_seafood_high_n3": "seahi",
            "fg_seafood_low_n3": "sealo", "fg_refined_grains": "rg", "sodium": "sodium", "saturated_fat": "sfa",
            "monounsaturated_fat": "mufa", "polyunsaturated_fat": "pufa", "fg_added_sugars": "addsug"}


def _spec(folder, name: str, reported: dict, **extra):
    pl.DataFrame(DAYS, schema=COLUMNS, orient="row").write_csv(folder / f"{name}.csv")
    return write_spec(folder, name, format="tabular-totals", path=f"{name}.csv",
                      columns={"participant_id": "id", "recall_day": "day"}, reported=reported, **extra)


def test_a_day_totals_cohort_publishes_index_tables_with_totals_the_sums_of_components(isolated, tmp_path):
    full = _spec(tmp_path, "hei-days", REPORTED,
                 analyses=[{"id": "hei-mean", "kind": "estimates", "variables": ["hei2015_index", "hei2015_sodium_index"]}])
    lacking = _spec(tmp_path, "no-sodium", {k: v for k, v in REPORTED.items() if k != "sodium"})
    reports, errors = run_cohorts([str(full), str(lacking)])
    assert errors == [] and [r.outcome for r in reports] == ["published", "published"]
    assert "index hei2015: computed for 3 participants (6 participant-days" in "\n".join(reports[0].indices)
    # the other indices (DI-GM, AHEI-2010, aMED, DII) need inputs this fixture lacks in both cohorts
    assert [line for line in reports[1].indices if line.startswith("index hei")] == [
        "index hei2015: not computable: missing sodium", "index hei2020: not computable: missing sodium"]
    with duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True) as conn:
        # the HEIs' rows (the DII scores these days too, on the few parameters they carry: its own tests)
        days = conn.sql("SELECT * FROM marts.participant_day_index WHERE cohort = 'hei-days' "
                        "AND index_id IN ('hei2015', 'hei2020')").pl()
        people = conn.sql("SELECT * FROM marts.participant_index WHERE cohort = 'hei-days' "
                          "AND index_id IN ('hei2015', 'hei2020')").pl()
        none = conn.sql("SELECT count(*) FROM marts.participant_index WHERE cohort = 'no-sodium' AND index_id LIKE 'hei%'").fetchall()
        estimates = conn.sql("SELECT analysis_id, variable, statistic, domain, estimate, se, weight "
                             "FROM marts.population_estimates WHERE cohort = 'hei-days'").pl()
        wide = conn.sql("SELECT participant_id, hei2015_index, hei2020_index FROM marts.analysis_participant "
                        "WHERE cohort = 'hei-days' ORDER BY participant_id").pl()
        comments = conn.sql("SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = 'marts' "
                            "AND table_name = 'participant_index'").fetchall()
    assert none == [(0,)]
    # analysts' one row per participant carries each index's total
    totals = people.filter((pl.col("index_id") == "hei2015") & (pl.col("component") == "total")).sort("participant_id")
    assert wide["hei2015_index"].to_list() == pytest.approx(totals["score"].to_list())
    assert days.height == 2 * 6 * 14 and people.height == 2 * 3 * 14
    assert all(comment for _, comment in comments)
    for table, keys in ((days, ["participant_id", "recall_day", "index_id"]), (people, ["participant_id", "index_id"])):
        sums = table.group_by(keys).agg(
            pl.col("score").filter(pl.col("component") == "total").first().alias("total"),
            pl.col("score").filter(pl.col("component") != "total").sum().alias("parts"))
        assert (sums["total"] - sums["parts"]).abs().max() <= 1e-9
        assert ((table["score"] >= 0) & (table["score"] <= table["max_score"])).all()
    # the published scores are the engine's: day 1 of participant 1 recomputed here
    frame = pl.DataFrame([DAYS[0]], schema=COLUMNS, orient="row").select(
        pl.col("id").cast(pl.String).alias("participant_id"), pl.col("day").cast(pl.Int32).alias("recall_day"),
        *(pl.col(v).cast(pl.Float64).alias(k) for k, v in REPORTED.items()))
    expected = INDICES["hei2015"].day_scores(frame)
    published = days.filter((pl.col("participant_id") == "1") & (pl.col("recall_day") == 1)
                            & (pl.col("index_id") == "hei2015")).sort("component")
    assert published["score"].to_list() == pytest.approx(expected.sort("component")["score"].to_list(), abs=1e-12)
    # the population ratio: the index scored on the cohort's mean intakes (no design: weight 1 each)
    ratio = estimates.filter(pl.col("analysis_id") == "index-hei2015")
    assert set(ratio["variable"]) == {"hei2015", *(f"hei2015_{c}" for c in hei2015.MAX_SCORES)}
    assert set(ratio["statistic"]) == {"ratio"}
    means = pl.DataFrame(DAYS, schema=COLUMNS, orient="row").select(
        *(pl.col(v).cast(pl.Float64).mean().alias(k) for k, v in REPORTED.items())).with_columns(
        pl.lit("all").alias("participant_id"), pl.lit(None, pl.Int32).alias("recall_day"))
    total = INDICES["hei2015"].score(means, None).filter(pl.col("component") == "total")["score"][0]
    assert ratio.filter(pl.col("variable") == "hei2015")["estimate"][0] == pytest.approx(total, abs=1e-9)
    # scale index: the participants' index scores as analysis variables
    mean_score = people.filter((pl.col("index_id") == "hei2015") & (pl.col("component") == "total"))["score"].mean()
    analysed = estimates.filter((pl.col("analysis_id") == "hei-mean") & (pl.col("variable") == "hei2015_index"))
    assert analysed["estimate"][0] == pytest.approx(mean_score)


def test_scale_index_names_an_index_or_one_of_its_components(tmp_path):
    base = {"id": "h", "kind": "association", "outcome": "phq9_ge10", "model": "logistic"}
    check_declarations({"analyses": [{**base, "exposure": {"component": "hei2015", "scale": "index"}}]}, tmp_path)
    check_declarations({"analyses": [{**base, "exposure": {"component": "hei2020_sodium", "scale": "index"}},
                                     {"id": "e", "kind": "estimates", "variables": ["hei2015_index"]}]}, tmp_path)
    with pytest.raises(GutaxisError, match="scale index needs an index id"):
        check_declarations({"analyses": [{**base, "exposure": {"component": "fiber", "scale": "index"}}]}, tmp_path)
    with pytest.raises(GutaxisError, match="unknown variable 'hei2016_index'"):
        check_declarations({"analyses": [{"id": "e", "kind": "estimates", "variables": ["hei2016_index"]}]}, tmp_path)


def test_a_source_loaded_by_older_reader_code_is_loaded_again(isolated, tmp_path, monkeypatch):
    """A checkout whose readers read more (FNDDS' sodium and fatty acids for the HEI) reloads a source that
    an older checkout loaded; unchanged code and files leave it as it is."""
    from gutaxis import stages, warehouse

    reader = tmp_path / "reader.py"
    reader.write_text("# the reader as it was\n")
    monkeypatch.setattr(stages, "READER_CODE", (reader,))
    with warehouse.open_writer() as conn:
        assert stages.load_source(conn, "demo")["status"] == "loaded"
        assert stages.load_source(conn, "demo")["status"] == "up to date"
        reader.write_text("# the reader, now reading sodium\n")
        assert stages.load_source(conn, "demo")["status"] == "loaded"


def test_nhanes_nutrient_and_fped_day_totals_joined_give_the_hei_neither_file_gives_alone(isolated, tmp_path):
    """NHANES prints a day's energy, sodium and fats in DR1TOT and its food groups in fped_dr1tot: joined
    (one nhanes-tot cohort naming both), the HEI scores each day as from one file of every input."""
    import pandas as pd
    import pyreadstat

    from gutaxis.components.food_groups import FPED_GROUPS
    from gutaxis.formats.nhanes_iff import REPORTED_SUFFIXES

    day1 = pl.DataFrame(DAYS, schema=COLUMNS, orient="row").filter(pl.col("day") == 1)
    keys = [pl.col("id").cast(pl.Float64).alias("SEQN"), pl.lit(1.0).alias("DR1DRSTZ"), pl.lit(5000.5).alias("WTDRD1")]
    nutrients = day1.select(*keys, *(pl.col(v).cast(pl.Float64).alias(f"DR1T{REPORTED_SUFFIXES[k]}")
                                     for k, v in REPORTED.items() if not k.startswith("fg_")))
    pyreadstat.write_xport(pd.DataFrame(nutrients.to_dict(as_series=False)), str(tmp_path / "DR1TOT_J.xpt"),
                           table_name="DR1TOT_J", file_format_version=5)
    day1.select(*keys, *(pl.col(v).cast(pl.Float64).alias(f"DR1T_{FPED_GROUPS[k]}")
                         for k, v in REPORTED.items() if k.startswith("fg_"))).write_csv(tmp_path / "fped_dr1tot_1718.csv")
    joined = write_spec(tmp_path, "joined", format="nhanes-tot", path="*[Dd][Rr]1[Tt][Oo][Tt]*")
    alone = write_spec(tmp_path, "nutrients-alone", format="nhanes-tot", path="DR1TOT_J.xpt")
    reports, errors = run_cohorts([str(joined), str(alone)])
    assert errors == [] and [r.outcome for r in reports] == ["published", "published"]
    assert "index hei2015: computed for 3 participants (3 participant-days" in "\n".join(reports[0].indices)
    assert any(line.startswith("index hei2015: not computable: missing fg_") for line in reports[1].indices)
    with duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True) as conn:
        published = conn.sql("SELECT participant_id, component, score FROM marts.participant_day_index "
                             "WHERE cohort = 'joined' AND index_id = 'hei2015'").pl()
    frame = day1.select(pl.col("id").cast(pl.String).alias("participant_id"), pl.col("day").cast(pl.Int32).alias("recall_day"),
                        *(pl.col(v).cast(pl.Float64).alias(k) for k, v in REPORTED.items()))
    expected = INDICES["hei2015"].day_scores(frame).select("participant_id", "component", "score")
    compared = expected.join(published, on=["participant_id", "component"], how="full", suffix="_published")
    assert compared.height == expected.height == 3 * 14
    assert (compared["score"] - compared["score_published"]).abs().max() <= 1e-9


def test_a_cohort_scores_only_the_indices_its_spec_lists_and_an_unknown_one_is_refused(isolated, tmp_path):
    only_hei = _spec(tmp_path, "only-hei", REPORTED, indices=["hei2015"])
    none = _spec(tmp_path, "no-index", REPORTED, indices=[])
    reports, errors = run_cohorts([str(only_hei), str(none)])
    assert errors == [] and [r.outcome for r in reports] == ["published", "published"]
    left_out = "not computed: the cohort spec's `indices` leaves it out"
    assert "index hei2015: computed for 3 participants (6 participant-days" in "\n".join(reports[0].indices)
    assert f"index dii: {left_out}" in reports[0].indices and f"index hei2020: {left_out}" in reports[0].indices
    assert all(line.endswith(left_out) for line in reports[1].indices) and len(reports[1].indices) == len(INDICES)
    with duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True) as conn:
        scored = conn.sql("SELECT cohort, list(DISTINCT index_id) FROM marts.participant_index GROUP BY cohort").fetchall()
    assert scored == [("only-hei", ["hei2015"])]
    with pytest.raises(GutaxisError, match=r"indices: 'heii' not a registered index; give some of .*hei2015"):
        from gutaxis.specs import load_cohort_spec

        load_cohort_spec(_spec(tmp_path, "typo", REPORTED, indices=["heii"]))
