"""Compiled passes over every item (numba): per-day and per-food sums of the items' fixed-point
amounts, and the numbering of items, recalls and food codes that they need.

A column-at-a-time engine reads and writes every item once per component and per step
(multiply, scale, round, cast, sum): at 100 M items and 16 components that was ~25 s. One loop
over the items that keeps a day's and a food's accumulators in cache does the same arithmetic
in a fraction of it. The arithmetic is the one gutaxis.exposure documents, operation for
operation (grams x per-gram value, times SCALE, rounded half to even), so results do not depend
on which engine summed them.
"""
from __future__ import annotations

import numba
import numpy as np
import polars as pl

LOW_BITS = (1 << 32) - 1


@numba.njit(cache=True, nogil=True, parallel=True)
def sum_items(day, food, grams, per_g, reported, reported_of, n_days, scale, n_blocks):  # pragma: no cover - compiled
    """Sums over items i of (day[i], food[i], grams[i]) for each component c (columns of per_g).

    per_g: per food row, the composition's amount per gram (NaN: no value). reported: per item,
    the instrument's amounts (NaN: none), column reported_of[c] for component c (-1: not reported).
    An item's amount of c is its reported amount if any, else grams x per_g; rint(amount x scale)
    is added to its day. Returns, per day: amount, valued grams, reported and composed item counts
    (per component, as [component, day] so that a component's days are one column), grams, and a
    bound (the sum of every |term|, as a float) that shows whether an int64 sum could have
    overflowed; per food: items, grams, and per reported component the reported amounts and the
    grams of items that reported none, each int64 sum as (high, low) words (value = high x 2^32 +
    low) because a cohort's sums over a food can pass 2^63.

    The components are shared out among n_blocks threads, each reading every item: a thread owns
    its components' rows, so no two threads add to the same number.
    """
    n_items = day.shape[0]
    n_foods, n_components = per_g.shape
    n_reported = reported.shape[1]
    # An item adds to the same day of several components' rows. Rows whose length in bytes is a
    # multiple of 4 KB share cache sets, and those adds evict one another: twice the time for a
    # chunk of 524,288 days. Rows padded to an odd number of 64-byte lines do not collide.
    row = (n_days + 15) // 16 * 16 + 8
    amount = np.zeros((n_components, row), np.int64)[:, :n_days]
    valued = np.zeros((n_components, row), np.int64)[:, :n_days]
    n_rep = np.zeros((n_components, row), np.uint32)[:, :n_days]
    n_comp = np.zeros((n_components, row), np.uint32)[:, :n_days]
    day_grams = np.zeros(n_days, np.int64)
    block_bound = np.zeros((n_blocks, row), np.float64)[:, :n_days]
    food_items = np.zeros(n_foods, np.int64)
    food_grams = np.zeros((n_foods, 2), np.int64)
    food_reported = np.zeros((n_foods, n_reported, 2), np.int64)
    food_unreported = np.zeros((n_foods, n_reported, 2), np.int64)
    for block in numba.prange(n_blocks):
        for i in range(n_items):
            d = day[i]
            f = food[i]
            g = grams[i]
            g_scaled = np.rint(g * scale)
            g_fx = np.int64(g_scaled)
            bound = 0.0
            if block == 0:  # the item's own sums: one thread
                bound = abs(g_scaled)
                day_grams[d] += g_fx
                food_items[f] += 1
                food_grams[f, 0] += g_fx >> 32
                food_grams[f, 1] += g_fx & LOW_BITS
            for c in range(block, n_components, n_blocks):
                r = reported_of[c]
                if r >= 0:
                    value = reported[i, r]
                    if not np.isnan(value):
                        x = np.rint(value * scale)
                        x_fx = np.int64(x)
                        amount[c, d] += x_fx
                        valued[c, d] += g_fx
                        n_rep[c, d] += 1
                        food_reported[f, r, 0] += x_fx >> 32
                        food_reported[f, r, 1] += x_fx & LOW_BITS
                        bound += abs(x)
                        continue
                    food_unreported[f, r, 0] += g_fx >> 32
                    food_unreported[f, r, 1] += g_fx & LOW_BITS
                v = per_g[f, c]
                if not np.isnan(v):
                    x = np.rint(g * v * scale)
                    amount[c, d] += np.int64(x)
                    valued[c, d] += g_fx
                    n_comp[c, d] += 1
                    bound += abs(x)
            block_bound[block, d] += bound
    day_bound = np.zeros(n_days, np.float64)
    for block in range(n_blocks):
        day_bound += block_bound[block]
    return (amount, valued, n_rep, n_comp, day_grams, day_bound,
            food_items, food_grams, food_reported, food_unreported)


@numba.njit(cache=True, nogil=True)
def _positions_into(group, day, position, start, continues):  # pragma: no cover - compiled
    """Write into position[start:] each item's position in its run of neighbours with the same
    (group, day); continues: the first item extends the run that ends at position[start - 1]."""
    for i in range(group.shape[0]):
        if i == 0:
            position[start] = position[start - 1] + 1 if continues else 1
        elif group[i] != group[i - 1] or day[i] != day[i - 1]:
            position[start + i] = 1
        else:
            position[start + i] = position[start + i - 1] + 1


@numba.njit(cache=True, nogil=True)
def _run_heads(position):  # pragma: no cover - compiled
    n_runs = 0
    for i in range(position.shape[0]):
        if position[i] == 1:
            n_runs += 1
    heads = np.empty(n_runs, np.int64)
    k = 0
    for i in range(position.shape[0]):
        if position[i] == 1:
            heads[k] = i
            k += 1
    return heads


@numba.njit(cache=True, nogil=True)
def run_numbers(position):  # pragma: no cover - compiled
    """Each item's run, numbered from 0 in order (position: from recall_runs)."""
    number = np.empty(position.shape[0], np.int32)
    run = -1
    for i in range(position.shape[0]):
        if position[i] == 1:
            run += 1
        number[i] = run
    return number


def runs_are_distinct(runs: pl.DataFrame, keys) -> bool:
    """Whether no key comes in two of these runs (a polars frame: the keys of each run's first row).
    Sorted files show it by a comparison of neighbours; others need a hash of the runs' keys."""
    later = None  # lexicographically greater than the previous row
    for key in reversed(keys):
        column = pl.col(key)
        greater = column > column.shift()
        later = greater if later is None else greater | ((column == column.shift()) & later)
    return bool(runs.select(later.slice(1).all()).item()) or runs.select(pl.struct(keys).is_unique().all()).item() is not False


def recall_runs(participant_ids: pl.Series, recall_days: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Runs of neighbouring items with the same participant id (polars, of any type) and recall day
    (no nulls): each item's position in its run (1, 2, ...; int32) and the position of each run's
    first item (int64). Read chunk by chunk where the two columns' chunks line up, as a streaming
    collect leaves them: one array of each would be a copy of 1.2 GB at 100 M items (0.9 s)."""
    if not participant_ids.dtype.is_integer() or participant_ids.has_nulls():
        # Neighbouring ids are equal exactly when their run ids are: numbers stand in for any id type.
        participant_ids = participant_ids.rle_id()
    id_chunks, day_chunks = participant_ids.get_chunks(), recall_days.get_chunks()
    if [len(c) for c in id_chunks] != [len(c) for c in day_chunks]:
        id_chunks, day_chunks = [participant_ids.rechunk()], [recall_days.rechunk()]
    position = np.empty(len(participant_ids), np.int32)
    start, last = 0, None
    for id_chunk, day_chunk in zip(id_chunks, day_chunks):
        ids, days = id_chunk.to_numpy(), day_chunk.to_numpy()
        if not len(ids):
            continue
        _positions_into(ids, days, position, start, last == (ids[0], days[0]))
        start, last = start + len(ids), (ids[-1], days[-1])
    return position, _run_heads(position)


FIBONACCI = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio: spreads neighbouring codes apart


@numba.njit(cache=True, nogil=True)
def number_codes(codes):  # pragma: no cover - compiled
    """Each integer code's number among the distinct codes, in order of first appearance (int32),
    and those codes (an open-addressing hash table, grown as it fills)."""
    n = codes.shape[0]
    bits = 10
    slots = np.full(1 << bits, -1, np.int64)
    distinct = np.empty(max(n, 1), codes.dtype)
    number = np.empty(n, np.int32)
    count = 0
    for i in range(n):
        code = codes[i]
        h = (np.uint64(code) * FIBONACCI) >> np.uint64(64 - bits)
        while True:
            s = slots[h]
            if s == -1:
                slots[h] = count
                distinct[count] = code
                number[i] = count
                count += 1
                break
            if distinct[s] == code:
                number[i] = s
                break
            h = (h + np.uint64(1)) & np.uint64((1 << bits) - 1)
        if 2 * count > (1 << bits):  # keep the table at most half full
            bits += 1
            slots = np.full(1 << bits, -1, np.int64)
            for k in range(count):
                h = (np.uint64(distinct[k]) * FIBONACCI) >> np.uint64(64 - bits)
                while slots[h] != -1:
                    h = (h + np.uint64(1)) & np.uint64((1 << bits) - 1)
                slots[h] = k
    return number, distinct[:count]


@numba.njit(cache=True, nogil=True, parallel=True)
def sum_days(participant, n_participants, amount, has_amount, valued, day_grams, day_bound):  # pragma: no cover - compiled
    """Per participant (participant[d]: day d's): days, grams, bound, and per component (rows of
    amount, as sum_items returns them) the sum of the days' amounts, the days that have one
    (has_amount), and the grams with a value.

    A component at a time, its days in order: a component's rows are each read front to back
    (one pass over all components for each day jumped between rows millions of bytes apart:
    3x slower at 16 components), and each thread adds only to its components' rows."""
    n_components, n_days = amount.shape
    n = np.zeros(n_participants, np.int32)
    grams = np.zeros(n_participants, np.int64)
    bound = np.zeros(n_participants, np.float64)
    for d in range(n_days):
        p = participant[d]
        n[p] += 1
        grams[p] += day_grams[d]
        bound[p] += day_bound[d]
    total = np.zeros((n_components, n_participants), np.int64)
    counted = np.zeros((n_components, n_participants), np.int64)
    with_value = np.zeros((n_components, n_participants), np.int64)
    for c in numba.prange(n_components):
        for d in range(n_days):
            p = participant[d]
            if has_amount[c, d]:
                total[c, p] += amount[c, d]
                counted[c, p] += 1
            with_value[c, p] += valued[c, d]
    return n, grams, bound, total, counted, with_value
