"""Exposure engine: precedence, coverage, null-vs-zero, ratio of means, contributions."""
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from gutaxis import GutaxisError
from gutaxis.exposure import compute

UNITS = {"energy_kcal": "kcal", "fiber": "g", "choline": "mg"}


def _items(rows):
    return pl.DataFrame(rows, schema={"cohort": pl.String, "participant_id": pl.String, "recall_day": pl.Int32,
                                      "item_seq": pl.Int32, "food_source": pl.String, "food_code": pl.String,
                                      "grams": pl.Float64, "reported__energy_kcal": pl.Float64}, orient="row")


FOOD_COMPONENTS = pl.DataFrame({
    "food_code": ["A", "A", "A", "B"],
    "component_id": ["energy_kcal", "fiber", "choline", "energy_kcal"],
    "amount_per_100g": [100.0, 2.0, 0.0, 50.0],
})
FOODS = pl.DataFrame({"food_code": ["A", "B"], "description": ["food a", "food b"]})


def test_reported_value_wins_over_composition_and_days_sum():
    items = _items([
        ("c", "p1", 1, 1, "s", "A", 200.0, 999.0),  # reported energy beats 200 kcal from composition
        ("c", "p1", 1, 2, "s", "B", 100.0, None),   # composition: 50 kcal
    ])
    out = compute(items, FOOD_COMPONENTS, FOODS, list(UNITS), UNITS, 0.8)
    energy = out.day.filter(pl.col("component_id") == "energy_kcal").row(0, named=True)
    assert energy["amount"] == pytest.approx(1049.0)
    assert energy["source"] == "mixed"
    assert energy["coverage"] == pytest.approx(1.0)


def test_no_intake_is_zero_but_no_route_is_null():
    items = _items([("c", "p1", 1, 1, "s", "A", 100.0, None), ("c", "p2", 1, 1, "s", "B", 100.0, None)])
    out = compute(items, FOOD_COMPONENTS, FOODS, list(UNITS), UNITS, 0.8)
    choline = {r["participant_id"]: r for r in out.day.filter(pl.col("component_id") == "choline").iter_rows(named=True)}
    assert choline["p1"]["amount"] == 0.0  # food A has 0 choline: ate none
    assert choline["p2"]["amount"] is None  # food B has no choline value: nothing could compute it
    assert choline["p2"]["coverage"] == 0.0


def test_unlinked_item_lowers_coverage_and_is_listed():
    items = _items([("c", "p1", 1, 1, "s", "A", 300.0, None), ("c", "p1", 1, 2, "s", "ZZZ", 100.0, None)])
    out = compute(items, FOOD_COMPONENTS, FOODS, list(UNITS), UNITS, 0.8)
    fiber = out.participant.filter(pl.col("component_id") == "fiber").row(0, named=True)
    assert fiber["coverage"] == pytest.approx(0.75)
    assert fiber["low_coverage"] is True
    assert out.linkage.to_dicts() == [{"food_code": "ZZZ", "n_items": 1, "grams": 100.0}]


def test_per_1000kcal_is_a_ratio_of_means():
    items = _items([("c", "p1", 1, 1, "s", "A", 100.0, None), ("c", "p1", 2, 1, "s", "A", 300.0, None)])
    out = compute(items, FOOD_COMPONENTS, FOODS, list(UNITS), UNITS, 0.8)
    fiber = out.participant.filter(pl.col("component_id") == "fiber").row(0, named=True)
    assert fiber["n_days"] == 2
    assert fiber["mean_daily"] == pytest.approx(4.0)  # (2 + 6) / 2
    assert fiber["per_1000kcal"] == pytest.approx(1000 * 4.0 / 200.0)


def test_contribution_shares_sum_to_one_per_component():
    items = _items([("c", "p1", 1, 1, "s", "A", 100.0, None), ("c", "p2", 1, 1, "s", "B", 100.0, None)])
    out = compute(items, FOOD_COMPONENTS, FOODS, list(UNITS), UNITS, 0.8)
    energy = out.contributions.filter(pl.col("component_id") == "energy_kcal")
    assert energy["share"].sum() == pytest.approx(1.0)
    assert energy.row(0, named=True) == {"component_id": "energy_kcal", "food_code": "A",
                                               "description": "food a", "amount": 100.0, "share": pytest.approx(2 / 3)}


def _exposure_marts(warehouse, cohort: str) -> dict[str, list]:
    import duckdb

    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} WHERE cohort = ? ORDER BY ALL", [cohort]).fetchall()
                for t in ("marts.participant_day_exposure", "marts.participant_exposure", "marts.food_contributions")}
    finally:
        conn.close()


def test_chunked_exposures_equal_one_chunk(isolated, monkeypatch):
    """Big cohorts are computed a slice of participants at a time: the marts must not change."""
    from pipelines.runner import run_cohorts

    def marts() -> dict:
        return _exposure_marts(isolated / "warehouse.duckdb", "demo")

    assert run_cohorts(["demo"])[1] == []
    whole = marts()
    monkeypatch.setenv("GUTAXIS_CHUNK_ROWS", "100")  # the demo's 461 items in 5 chunks
    assert run_cohorts(["demo"])[1] == []
    assert marts() == whole
    # the same from the staged table (exported in chunks), as when another process ran the ingest
    from gutaxis import handoff
    monkeypatch.setattr(handoff, "take", lambda cohort, run_key: None)
    assert run_cohorts(["demo"])[1] == []
    assert marts() == whole


@pytest.mark.parametrize("ids", [
    [1, 1, 1, 2, 2, 3, 3, 3, 3, 4],        # sorted: cut at participant boundaries
    [3, 1, 2, 1, 3, 4, 2, 3, 1, 3],        # unsorted: parts by hash
    ["a", "b", "b", "b", "b", "b", "c"],   # one participant longer than a part
])
def test_participant_slices_keep_each_participant_whole(ids):
    from gutaxis.exposure import participant_slices

    items = pl.DataFrame({"participant_id": ids, "row": range(len(ids))})
    parts = list(participant_slices(items, 3))
    assert sorted(r for part in parts for r in part["row"]) == list(range(len(ids)))
    owners = {}
    for index, part in enumerate(parts):
        for pid in part["participant_id"].unique():
            assert owners.setdefault(pid, index) == index
    assert len(parts) > 1


def test_component_without_any_source_is_null_with_zero_coverage():
    items = _items([("c", "p1", 1, 1, "s", "A", 100.0, None)])
    components = {**UNITS, "tryptophan": "mg"}  # no composition value and no reported column
    out = compute(items, FOOD_COMPONENTS, FOODS, list(components), components, 0.8)
    day = out.day.filter(pl.col("component_id") == "tryptophan").row(0, named=True)
    assert day["amount"] is None and day["coverage"] == 0.0 and day["source"] is None
    person = out.participant.filter(pl.col("component_id") == "tryptophan").row(0, named=True)
    assert person["mean_daily"] is None and person["low_coverage"] is True
    assert out.contributions.filter(pl.col("component_id") == "tryptophan").height == 0


def test_contributions_count_reported_amounts_and_composition_for_the_rest():
    items = _items([
        ("c", "p1", 1, 1, "s", "A", 200.0, 999.0),  # reported: 999 kcal, not 200
        ("c", "p1", 1, 2, "s", "A", 100.0, None),   # composition: 100 kcal
        ("c", "p1", 1, 3, "s", "B", 100.0, None),   # composition: 50 kcal
    ])
    out = compute(items, FOOD_COMPONENTS, FOODS, list(UNITS), UNITS, 0.8)
    energy = {r["food_code"]: r["amount"] for r in out.contributions.filter(pl.col("component_id") == "energy_kcal").iter_rows(named=True)}
    assert energy == {"A": pytest.approx(1099.0), "B": pytest.approx(50.0)}
    fiber = out.contributions.filter(pl.col("component_id") == "fiber")
    assert fiber.select("food_code", "amount").rows() == [("A", pytest.approx(6.0))]  # 300 g x 2 g/100 g


def test_big_day_sums_stay_exact_and_impossible_ones_are_refused():
    # items of 10 kg of a 10^6 kcal/100 g food: 10^8 kcal each, 10^17 nano-kcal
    huge = FOOD_COMPONENTS.with_columns(pl.when(pl.col("component_id") == "energy_kcal").then(1e6)
                                        .otherwise(pl.col("amount_per_100g")).alias("amount_per_100g"))
    forty = _items([("c", "p1", 1, i, "s", "A", 10_000.0, None) for i in range(1, 41)])
    energy = compute(forty, huge, FOODS, list(UNITS), UNITS, 0.8).day.filter(pl.col("component_id") == "energy_kcal")
    assert energy["amount"].to_list() == [4e9]  # 4e18 nano-kcal: still within 64 bits, exact
    sixty = _items([("c", "p1", 1, i, "s", "A", 10_000.0, None) for i in range(1, 61)])
    with pytest.raises(GutaxisError, match=r"^participant-day participant_id p1, recall_day 1: amounts add up beyond 4.6e\+09"):
        compute(sixty, huge, FOODS, list(UNITS), UNITS, 0.8)


def test_items_handed_over_in_process_give_the_same_marts_as_the_staged_table(isolated, tmp_path, monkeypatch):
    """Integer ids: the exposures take the ingest's frame (gutaxis.handoff), in slices; the result must
    equal the one computed from the staged table, whole or in chunks."""
    from gutaxis import DATA_DIR, handoff
    from pipelines.runner import run_cohorts
    from tests.conftest import write_spec

    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(tmp_path))
    demo = pl.read_csv(DATA_DIR / "demo" / "diary.csv", infer_schema=False).filter(
        pl.col("grams").cast(pl.Float64, strict=False) > 0)
    # shuffled, so that participants are not contiguous and parts are taken by hash
    demo.with_columns(pl.col("participant").str.extract(r"(\d+)$").cast(pl.Int64), pl.col("day").cast(pl.Int32),
                      pl.col("food_code").cast(pl.Int64), pl.col("grams").cast(pl.Float64)
                      ).sample(fraction=1.0, shuffle=True, seed=7).write_parquet(tmp_path / "d.parquet")
    write_spec(tmp_path, "ints", format="tabular", path="d.parquet", composition="demo",
               columns={"participant_id": "participant", "recall_day": "day", "food_code": "food_code", "grams": "grams"})
    taken = []
    real_take = handoff.take
    monkeypatch.setattr(handoff, "take", lambda cohort, run_key: taken.append(cohort) or real_take(cohort, run_key))

    def marts() -> dict:
        return _exposure_marts(isolated / "warehouse.duckdb", "ints")

    assert run_cohorts(["ints"])[1] == []
    whole = marts()
    assert taken == ["ints"] and whole["marts.participant_exposure"]
    monkeypatch.setenv("GUTAXIS_CHUNK_ROWS", "100")
    assert run_cohorts(["ints"])[1] == []  # handed over, in hash parts
    parts = marts()
    for t in whole:
        assert set(parts[t]) ^ set(whole[t]) == set(), (t, sorted(set(parts[t]) ^ set(whole[t]))[:4])
    monkeypatch.setattr(handoff, "take", lambda cohort, run_key: None)
    assert run_cohorts(["ints"])[1] == []  # from the staged table, in exported chunks
    parts = marts()
    for t in whole:
        assert set(parts[t]) ^ set(whole[t]) == set(), (t, sorted(set(parts[t]) ^ set(whole[t]))[:4])


def test_contract_views_show_exactly_what_the_engine_computes(isolated, tmp_path, monkeypatch):
    """The warehouse stores only what cannot be derived (Exposures.stored_*_table); the views derive
    source, per_1000kcal, low_coverage and the components no source computes. Every row of both
    views must equal the engine's own long tables, value for value."""
    import duckdb

    from gutaxis import DATA_DIR
    from pipelines.runner import run_cohorts
    from tests.conftest import write_spec

    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(tmp_path))
    demo = pl.read_csv(DATA_DIR / "demo" / "diary.csv", infer_schema=False).filter(
        pl.col("grams").cast(pl.Float64, strict=False) > 0).with_row_index("row")
    # energy reported for one participant's items and a third of the others': days of each source
    reported = (pl.col("participant") == "demo-001") | (pl.col("row") % 3 == 0)
    demo.with_columns(pl.when(reported).then(pl.lit(123.25)).alias("kcal")).drop("row").write_csv(
        tmp_path / "d.csv")
    write_spec(tmp_path, "rep", format="tabular", path="d.csv", composition="demo", low_coverage_threshold=0.97,
               columns={"participant_id": "participant", "recall_day": "day", "food_code": "food_code", "grams": "grams"},
               reported={"energy_kcal": "kcal"})
    from gutaxis import stages

    real_wide = stages.composition_wide  # tryptophan without any value: a component no source computes
    monkeypatch.setattr(stages, "composition_wide", lambda food_components, components: real_wide(
        food_components, components).with_columns(pl.lit(None, dtype=pl.Float64).alias("tryptophan")))
    assert run_cohorts(["rep"])[1] == []

    conn = duckdb.connect(str(isolated / "warehouse.duckdb"), read_only=True)
    try:
        items_table = conn.execute("SELECT table_name FROM store.published WHERE cohort = 'rep' AND kind = 'diary_items'"
                                   ).fetchall()[0][0]
        items = conn.sql(f'SELECT * FROM store."{items_table}"').pl()
        food_components = conn.sql("SELECT food_code, component_id, amount_per_100g FROM composition.food_components "
                                   "WHERE source = 'demo' AND component_id <> 'tryptophan'").pl()
        foods = conn.sql("SELECT food_code, description FROM composition.foods WHERE source = 'demo'").pl()
        units = dict(conn.execute("SELECT component_id, unit FROM reference.components").fetchall())
        expected = compute(items, food_components, foods, list(units), units, 0.97)
        day = conn.sql("SELECT participant_id, recall_day, component_id, amount, unit, coverage, source "
                       "FROM marts.participant_day_exposure WHERE cohort = 'rep'").pl()
        person = conn.sql("SELECT participant_id, n_days, component_id, mean_daily, per_1000kcal, unit, coverage, low_coverage "
                          "FROM marts.participant_exposure WHERE cohort = 'rep'").pl()
    finally:
        conn.close()
    # both derivations are exercised (the demo source has no FPED food groups, nor the diet-quality
    # indices' nutrients and foods: those are absent too)
    demo_components = set(food_components["component_id"])
    assert set(expected.absent) == {"tryptophan", *(c for c in units if c not in demo_components)}
    assert {c for c in units if c.startswith("fg_")} <= set(expected.absent)
    assert expected.reported == ("energy_kcal",)
    assert set(expected.day["source"].drop_nulls()) == {"reported", "composition", "mixed"}
    assert expected.participant["low_coverage"].any() and not expected.participant["low_coverage"].all()
    for shown, computed in ((day, expected.day), (person, expected.participant)):
        computed = computed.select(shown.columns).with_columns(pl.col("participant_id").cast(pl.String))
        keys = [c for c in ("participant_id", "recall_day", "component_id") if c in shown.columns]
        assert_frame_equal(shown.sort(keys), computed.sort(keys), check_dtypes=False, check_exact=True)


OMEGA3 = ("omega3_ala", "omega3_epa", "omega3_dha", "omega3_total")
OMEGA3_UNITS = {c: "g" for c in OMEGA3}
# Per 100 g: fish F has ALA 0.1, EPA 0.5, DPA 0.2, DHA 1.0 (total 1.8); oil O has ALA 8, total 8.
OMEGA3_FOODS = pl.DataFrame({
    "food_code": ["F"] * 4 + ["O"] * 2,
    "component_id": ["omega3_ala", "omega3_epa", "omega3_dha", "omega3_total", "omega3_ala", "omega3_total"],
    "amount_per_100g": [0.1, 0.5, 1.0, 1.8, 8.0, 8.0],
})


def _omega3_items(rows, parts=("omega3_ala", "omega3_epa", "omega3_dha")):
    schema = {"participant_id": pl.String, "recall_day": pl.Int32, "item_seq": pl.Int32, "food_code": pl.String,
              "grams": pl.Float64, **{f"reported__{p}": pl.Float64 for p in parts}}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _omega3_day(out) -> dict[str, float]:
    return {r["component_id"]: r["amount"] for r in out.day.iter_rows(named=True)}


def test_omega3_total_is_built_from_the_reported_parts_plus_composition_for_the_rest():
    # 100 g of fish with ALA, EPA and DHA reported (from another database than the composition's)
    # and 10 g of oil reporting ALA 1.2 g: the total is those parts plus the composition's DPA (0.2 g)
    items = _omega3_items([("p1", 1, 1, "F", 100.0, 0.3, 0.6, 1.1), ("p1", 1, 2, "O", 10.0, 1.2, 0.0, 0.0)])
    day = _omega3_day(compute(items, OMEGA3_FOODS, FOODS, list(OMEGA3), OMEGA3_UNITS, 0.8))
    assert day["omega3_ala"] == pytest.approx(1.5)
    assert day["omega3_total"] == pytest.approx(0.3 + 0.6 + 0.2 + 1.1 + 1.2)
    assert all(day["omega3_total"] >= day[p] for p in OMEGA3[:3])


def test_omega3_parts_not_reported_come_from_the_composition():
    # only EPA and DHA reported (the README's example spec): ALA and DPA from the fish's composition
    items = _omega3_items([("p1", 1, 1, "F", 200.0, 0.9, 2.5)], parts=("omega3_epa", "omega3_dha"))
    day = _omega3_day(compute(items, OMEGA3_FOODS, FOODS, list(OMEGA3), OMEGA3_UNITS, 0.8))
    assert day["omega3_total"] == pytest.approx(0.2 + 0.9 + 0.4 + 2.5)  # ALA 0.2 + EPA + DPA 0.4 + DHA


def test_omega3_total_of_an_unlinked_item_is_its_reported_parts_and_an_item_reporting_none_uses_composition():
    items = _omega3_items([("p1", 1, 1, "ZZZ", 50.0, 0.4, None, 0.1),      # unlinked: its reported parts only
                           ("p1", 1, 2, "F", 100.0, None, None, None)])    # no part reported: composition 1.8
    day = _omega3_day(compute(items, OMEGA3_FOODS, FOODS, list(OMEGA3), OMEGA3_UNITS, 0.8))
    assert day["omega3_total"] == pytest.approx(0.5 + 1.8)
    assert day["omega3_ala"] == pytest.approx(0.4 + 0.1)
