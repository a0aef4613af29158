"""Compiled passes over items: numbering of codes and runs, and the fixed-point sums."""
import numpy as np
import polars as pl

from gutaxis.item_sums import number_codes, recall_runs, sum_items


def test_codes_are_numbered_in_order_of_first_appearance_across_table_growth():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 90_000_000, size=5_000).astype(np.int32)[rng.integers(0, 5_000, size=40_000)]
    number, distinct = number_codes(codes)
    first_seen = pl.Series(codes).unique(maintain_order=True).to_numpy()
    assert distinct.tolist() == first_seen.tolist()  # thousands of codes: the table grew several times
    assert (distinct[number] == codes).all()


def test_runs_are_cut_where_participant_or_day_changes():
    ids = pl.Series(["a", "a", "a", "b", "b", "a"])
    days = pl.Series([1, 1, 2, 2, 2, 2], dtype=pl.Int32)
    position, heads = recall_runs(ids, days)
    assert position.tolist() == [1, 2, 1, 1, 2, 1]  # "a" day 2 comes back: a new run
    assert heads.tolist() == [0, 2, 3, 5]
    same = recall_runs(pl.Series([7, 7, 7, 8, 8, 7], dtype=pl.Int64), days)
    assert same[0].tolist() == position.tolist()
    assert recall_runs(pl.Series([], dtype=pl.String), pl.Series([], dtype=pl.Int32))[1].tolist() == []


def test_runs_read_chunk_by_chunk_continue_across_chunk_boundaries():
    rng = np.random.default_rng(5)
    ids = np.repeat(rng.integers(0, 4, size=400), rng.integers(1, 6, size=400))
    days = (rng.random(ids.size) < 0.2).astype(np.int32) + 1
    whole = recall_runs(pl.Series(ids), pl.Series(days))
    inside = np.flatnonzero((ids[1:] == ids[:-1]) & (days[1:] == days[:-1])) + 1  # items that extend a run
    cuts = [0, 1, inside[3], inside[3] + 1, inside[40], inside[41], ids.size]  # runs cut by chunk borders
    id_chunks = pl.concat([pl.Series(ids[a:b]) for a, b in zip(cuts, cuts[1:])], rechunk=False)
    day_chunks = pl.concat([pl.Series(days[a:b]) for a, b in zip(cuts, cuts[1:])], rechunk=False)
    assert id_chunks.n_chunks() == len(cuts) - 1
    for id_column, day_column in ((id_chunks, day_chunks), (id_chunks, pl.Series(days)),  # chunks that line up or not
                                  (id_chunks.cast(pl.String), day_chunks)):
        position, heads = recall_runs(id_column, day_column)
        assert position.tolist() == whole[0].tolist() and heads.tolist() == whole[1].tolist()


def test_sums_take_reported_amounts_first_and_count_grams_with_a_value():
    day = np.array([0, 0, 1], dtype=np.int32)
    food = np.array([0, 1, 0], dtype=np.int32)
    grams = np.array([100.0, 50.0, 200.0])
    per_g = np.array([[1.5, 0.1], [np.nan, 0.2]])  # food 1 lacks component 0
    reported = np.array([[np.nan], [np.nan], [7.0]])  # component 1 is reported on item 2
    amount, valued, n_rep, n_comp, day_grams, bound, food_items, food_grams, food_reported, food_unreported = sum_items(
        day, food, grams, per_g, reported, np.array([-1, 0], dtype=np.int64), 2, 1e9, 2)
    assert (amount[0] == [150 * 10**9, 300 * 10**9]).all()  # component 0: day 0, day 1
    assert (amount[1] == [20 * 10**9, 7 * 10**9]).all()  # day 1: reported 7, not 200 x 0.1
    assert (valued[0] == [100 * 10**9, 200 * 10**9]).all()  # food 1's 50 g have no value
    assert (n_rep[1] == [0, 1]).all() and (n_comp[1] == [2, 0]).all()
    assert day_grams.tolist() == [150 * 10**9, 200 * 10**9]
    assert food_items.tolist() == [2, 1]
    assert ((food_grams[:, 0] << 32) + food_grams[:, 1]).tolist() == [300 * 10**9, 50 * 10**9]
    assert ((food_reported[:, 0, 0] << 32) + food_reported[:, 0, 1]).tolist() == [7 * 10**9, 0]
    assert ((food_unreported[:, 0, 0] << 32) + food_unreported[:, 0, 1]).tolist() == [100 * 10**9, 50 * 10**9]
    assert bound[0] >= 170 * 10**9
