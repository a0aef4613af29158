"""Exposure computation: items x composition -> per day, per participant, per food.

Each item's amount of a component is the value the instrument reported for the item if any,
else grams x amount_per_100g / 100 of its linked food (DESIGN: reported > composition).
Daily amounts are sums; participant means are means over days; per_1000kcal is a ratio of
means (NCI's recommendation), not a mean of daily ratios.

Sums are taken in fixed point (10^-9 of the unit, in 64-bit integers per day and participant, 128
per food over a cohort): a parallel float sum adds in a different order from run to run and its
last bits change, which would make re-runs of the same data differ. Integer sums are exact and
order-free; rounding each item to 10^-9 of the unit (a nanogram of a g-component, a microgram of
a mg-component) is far below the precision of any composition value, and exact for grams with
up to 3 decimals times values with up to 4 (amounts with at most 9 decimals). A day would need
4.6 x 10^9 units of a component to overflow 64 bits; such input is refused, not summed wrong.
The item-level sums are one compiled pass (gutaxis.item_sums); polars does the rest.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numba
import numpy as np
import polars as pl

from gutaxis import GutaxisError
from gutaxis.formats import REPORTED_PREFIX
from gutaxis.item_sums import number_codes, recall_runs, run_numbers, runs_are_distinct, sum_days, sum_items

# Items carry no cohort column: the cohort is one constant per run, added when rows are staged.
DAY_KEYS = ("participant_id", "recall_day")
PARTICIPANT_KEYS = ("participant_id",)
SCALE = 10**9  # fixed-point units per unit of the component (and per gram)
# Where a day's amount came from, stored as a small code; the contract view shows the name.
REPORTED, COMPOSITION, MIXED = 1, 2, 3
GRAMS = "__grams"  # the per-food grams column of the chunks' contribution sums (not a component)
SOURCE_CODES = {REPORTED: "reported", COMPOSITION: "composition", MIXED: "mixed"}
# The per-component columns of the wide tables, f"{measure}__{component_id}" (the warehouse stores
# those that cannot be derived: Exposures.stored_day_table, stored_participant_table).
DAY_MEASURES = ("amount", "coverage", "source")
PARTICIPANT_MEASURES = ("mean_daily", "per_1000kcal", "coverage", "low_coverage")


@dataclass(frozen=True)
class Exposures:
    """Exposures of one chunk of participants (all of a small cohort), kept wide (one column set per
    component). stored_day_table and stored_participant_table are what the warehouse stores; the
    long shape of the contract views is built here only for small cohorts and tests (day,
    participant), and the views must equal it row for row."""

    components: tuple[str, ...]
    units: dict[str, str]
    day_wide: pl.DataFrame  # per participant-day: day_grams, amount__c, valued__c, nrep__c, ncomp__c
    participant_wide: pl.DataFrame  # per participant: n_days, grams, mean__c, valued__c
    contrib_fixed: pl.DataFrame  # food_code + the chunk's exact fixed-point sum per component
    unlinked_fixed: pl.DataFrame  # food_code, n_items, grams (fixed point) of codes the composition lacks
    low_coverage_threshold: float
    foods: pl.DataFrame | None = None  # food_code, description (for contributions)
    code_width: int | None = None  # digits of the items' integer food codes (None: the codes are text)
    # components no source could compute (no composition value, not reported): NULL every day
    absent: tuple[str, ...] = ()
    reported: tuple[str, ...] = ()  # components the instrument reports for items (a source per day)

    @property
    def contributions(self) -> pl.DataFrame:
        return food_contributions([self.contrib_fixed], self.foods, self.components, self.code_width)

    @property
    def linkage(self) -> pl.DataFrame:
        return unlinked_codes([self.unlinked_fixed], self.code_width)

    def day_table(self) -> pl.DataFrame:
        """The whole wide day table: participant_id, recall_day, then per component amount__c,
        coverage__c and source__c (a SOURCE_CODES code); absent components as their constants."""
        columns = []
        for c in self.components:
            nrep, ncomp = pl.col(f"nrep__{c}"), pl.col(f"ncomp__{c}")
            columns += [_unfixed(pl.col(f"amount__{c}")).alias(f"amount__{c}"),
                        _share(pl.col(f"valued__{c}"), pl.col("day_grams")).alias(f"coverage__{c}"),
                        _source(nrep, ncomp).alias(f"source__{c}")]
        return self.day_wide.select(*DAY_KEYS, *columns)

    def stored_day_table(self) -> pl.DataFrame:
        """The day table as the warehouse stores it: what cannot be derived. amount__c and coverage__c
        of the computed components, and source__c only of those the instrument reports (the others'
        source is "composition" wherever the amount is not NULL). The contract view
        marts.participant_day_exposure derives the rest and unpivots it (warehouse._measure):
        storing it long would repeat the keys once per component (16 x the rows) for nothing."""
        columns = []
        for c in self._computed:
            columns += [_unfixed(pl.col(f"amount__{c}")).alias(f"amount__{c}"),
                        _share(pl.col(f"valued__{c}"), pl.col("day_grams")).alias(f"coverage__{c}")]
            if c in self.reported:
                columns.append(_source(pl.col(f"nrep__{c}"), pl.col(f"ncomp__{c}")).alias(f"source__{c}"))
        return self.day_wide.select(*DAY_KEYS, *columns)

    @property
    def _computed(self) -> list[str]:
        return [c for c in self.components if c not in self.absent]

    def participant_table(self) -> pl.DataFrame:
        """The whole wide participant table: participant_id, n_days, then per component mean_daily__c,
        per_1000kcal__c, coverage__c and low_coverage__c."""
        energy = pl.col("mean__energy_kcal") if "energy_kcal" in self.components else pl.lit(None, dtype=pl.Float64)
        columns = []
        for c in self.components:
            mean = pl.col(f"mean__{c}")
            coverage = _share(pl.col(f"valued__{c}"), pl.col("grams"))
            columns += [mean.alias(f"mean_daily__{c}"),
                        pl.when(energy > 0).then(1000.0 * mean / energy).alias(f"per_1000kcal__{c}"),
                        coverage.alias(f"coverage__{c}"),
                        (coverage < self.low_coverage_threshold).alias(f"low_coverage__{c}")]
        return self.participant_wide.select(*PARTICIPANT_KEYS, "n_days", *columns)

    def stored_participant_table(self) -> pl.DataFrame:
        """The participant table as the warehouse stores it: n_days, and mean_daily__c and coverage__c
        of the computed components. marts.participant_exposure derives per_1000kcal (from the
        means) and low_coverage (from the coverage and the run's threshold) and unpivots it."""
        columns = []
        for c in self._computed:
            columns += [pl.col(f"mean__{c}").alias(f"mean_daily__{c}"),
                        _share(pl.col(f"valued__{c}"), pl.col("grams")).alias(f"coverage__{c}")]
        return self.participant_wide.select(*PARTICIPANT_KEYS, "n_days", *columns)

    @property
    def day(self) -> pl.DataFrame:
        """The whole long day table, as marts.participant_day_exposure shows it (small cohorts, tests)."""
        return long_table(self.day_table(), DAY_KEYS, DAY_MEASURES, self.components, self.units)

    @property
    def participant(self) -> pl.DataFrame:
        """The whole long participant table, as marts.participant_exposure shows it (small cohorts, tests)."""
        return long_table(self.participant_table(), (*PARTICIPANT_KEYS, "n_days"), PARTICIPANT_MEASURES,
                          self.components, self.units)


def long_table(wide: pl.DataFrame, keys: tuple[str, ...], measures: tuple[str, ...], components: tuple[str, ...],
               units: dict[str, str]) -> pl.DataFrame:
    """One row per key and component from a stored wide table (what the contract views do in SQL)."""
    parts = []
    for c in components:
        part = wide.select(*keys, pl.lit(c).alias("component_id"),
                           *(pl.col(f"{m}__{c}").alias(m) for m in measures), pl.lit(units[c]).alias("unit"))
        if "source" in measures:
            part = part.with_columns(pl.col("source").replace_strict(SOURCE_CODES, default=None, return_dtype=pl.String))
        parts.append(part)
    return pl.concat(parts)


def composition_wide(food_components: pl.DataFrame, components: list[str]) -> pl.DataFrame:
    """food_code + one amount_per_100g column per component (null where the source has no value)."""
    wide = (
        food_components.filter(pl.col("component_id").is_in(components))
        .pivot(on="component_id", index="food_code", values="amount_per_100g", aggregate_function="first")
    )
    missing = [c for c in components if c not in wide.columns]
    return wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in missing).select("food_code", *components)


def _fixed(values: pl.Expr, dtype: pl.DataType = pl.Int128) -> pl.Expr:
    return (values * SCALE).round().cast(dtype)


def _unfixed(values: pl.Expr) -> pl.Expr:
    """Fixed point back to the unit. Rows only, not in an aggregation (see _divided)."""
    return _divided(values.cast(pl.Float64), float(SCALE))


def _divided(values: pl.Expr, divisor: float) -> pl.Expr:
    """values / divisor, the exactly rounded quotient in every row, whatever the number of rows.

    polars divides a column of two or more rows by a constant as a multiplication by its
    reciprocal (the last bit can differ from the quotient) and a one-row column exactly, so results
    would depend on how rows fall into chunks; numpy divides every element.
    """
    return values.map_batches(lambda batch: pl.Series(batch.name, np.divide(batch.to_numpy(), divisor)).fill_nan(None),
                              return_dtype=pl.Float64, is_elementwise=True)


def code_text(codes: pl.Expr, width: int | None) -> pl.Expr:
    """Food codes as the sources print them: integer codes zero-padded to width digits (None: already text)."""
    return codes if width is None else codes.cast(pl.String).str.zfill(width)


def _keyed_like(frame: pl.DataFrame, key_dtype: pl.DataType) -> pl.DataFrame:
    """A composition-side frame with its text food codes as the items' integer codes (if they are)."""
    if frame.schema["food_code"] == key_dtype:
        return frame
    return frame.with_columns(pl.col("food_code").cast(key_dtype, strict=False)).drop_nulls("food_code")


def _food_amounts(by_food: pl.DataFrame, per_g: pl.DataFrame, components: list[str], reported: list[str]) -> pl.DataFrame:
    """food_code, grams and each component's amount eaten of the food (fixed point): reported amounts
    plus composition values times the grams that reported none (all grams if the instrument reports none)."""
    joined = by_food.join(per_g, on="food_code", how="left")
    exprs = []
    for c in components:
        grams = pl.col(f"unreported__{c}") if c in reported else pl.col(GRAMS)
        from_food = _fixed(_unfixed(grams) * pl.col(f"per_g__{c}"))
        if c in reported:
            exprs.append(pl.when(from_food.is_null()).then(pl.col(f"reported__{c}"))
                         .otherwise(pl.col(f"reported__{c}") + from_food).alias(c))
        else:
            exprs.append(from_food.alias(c))
    return joined.select("food_code", GRAMS, *exprs)


def _key_index(frame: pl.DataFrame, keys: tuple[str, ...]) -> tuple[pl.DataFrame, np.ndarray]:
    """The frame's distinct keys (participant_id, and recall_day if in keys; a row each) and each
    row's row among them (int32).

    Every instrument writes a recall's items together, and a participant's days: runs of equal
    keys are cut where a key changes (neighbours compared, no row hashed), and only when a key
    comes in two runs are the runs' keys grouped."""
    days = frame["recall_day"] if "recall_day" in keys else pl.zeros(frame.height, pl.Int32, eager=True)
    position, heads = recall_runs(frame["participant_id"], days)
    run = run_numbers(position)
    runs = frame.select(keys)[heads]
    if runs_are_distinct(runs, keys):
        return runs, run
    distinct = runs.unique(keys, maintain_order=True)
    of_run = runs.join(distinct.with_row_index("key"), on=list(keys), how="left", maintain_order="left")["key"]
    return distinct, of_run.cast(pl.Int32).to_numpy()[run]


def _food_index(items: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """The items' distinct food codes (a frame) and each item's row among them (int32).

    Items whose code could not be trusted have none (null): they share one row, a null code,
    which links to nothing (their reported values still count)."""
    codes = items["food_code"]
    if codes.dtype.is_integer():
        # no code is negative: -1 stands for "none" while the codes are numbered
        number, distinct = number_codes(codes.fill_null(-1).to_numpy() if codes.has_nulls() else codes.to_numpy())
        distinct = pl.DataFrame([pl.Series("food_code", distinct, dtype=codes.dtype)])
        if codes.has_nulls():
            distinct = distinct.with_columns(pl.when(pl.col("food_code") != -1).then(pl.col("food_code")).alias("food_code"))
        return distinct, number
    distinct = items.select(pl.col("food_code").unique(maintain_order=True))
    number = items.select("food_code").join(distinct.with_row_index("food"), on="food_code", how="left",
                                            maintain_order="left", nulls_equal=True)["food"]
    return distinct, number.cast(pl.Int32).to_numpy()


def _int128(words: np.ndarray, name: str) -> pl.Series:
    """item_sums' (high, low) int64 words as the Int128 numbers high x 2^32 + low."""
    shift = pl.Series([1 << 32], dtype=pl.Int128)
    high, low = pl.Series(words[..., 0]).cast(pl.Int128), pl.Series(words[..., 1]).cast(pl.Int128)
    return (high * shift + low).alias(name)


# A day's or participant's sum is taken in int64 when every term's magnitude adds up below this.
SUM_LIMIT = 2.0**62


def _too_big(keys: pl.DataFrame, bound: np.ndarray, what: str) -> None:
    if bound.size and bound.max() >= SUM_LIMIT:
        where = keys.row(int(bound.argmax()), named=True)
        raise GutaxisError(
            f"{what} {', '.join(f'{k} {v}' for k, v in where.items())}: amounts add up beyond {SUM_LIMIT / SCALE:.2g} units "
            "of a component, which no diet reaches; an item's grams or reported value is wrong: fix it in the diary")


def compute_chunk(items: pl.LazyFrame | pl.DataFrame, wide: pl.DataFrame, components: list[str],
                  units: dict[str, str], low_coverage_threshold: float) -> Exposures:
    """Exposures of the participants in `items` (every item of each of them: chunks split by participant).

    Per day, each component's amount is the exact sum of its items' fixed-point amounts, and its
    coverage the grams of the items that have a value; per food, the grams (and reported amounts)
    from which contributions are computed exactly. One pass over the items (gutaxis.item_sums).
    """
    items = items.collect() if isinstance(items, pl.LazyFrame) else items
    # The chunk's food codes, numbered; their per-gram values in that order (NaN: none, or unlinked).
    codes, food = _food_index(items)
    items = omega3_total_from_parts(items, codes, food, wide)
    names = items.columns
    # A component that neither the composition nor the instrument gives any value is NULL with
    # coverage 0 for every day: no need to carry it through the item-level work.
    computable = [c for c in components if wide[c].null_count() < wide.height or f"{REPORTED_PREFIX}{c}" in names]
    reported = [c for c in computable if f"{REPORTED_PREFIX}{c}" in names]
    # per gram (values per 100 g / 100, once per food): an item's amount is one multiplication
    per_g = (_keyed_like(wide, items.schema["food_code"])
             .select("food_code", *(_divided(pl.col(c), 100.0).alias(f"per_g__{c}") for c in computable)))
    code_values = codes.join(per_g, on="food_code", how="left", maintain_order="left")
    days, day = _key_index(items, DAY_KEYS)
    per_g_matrix = np.ascontiguousarray(code_values.select(f"per_g__{c}" for c in computable).to_numpy(), dtype=np.float64)
    reported_matrix = np.ascontiguousarray(
        items.select(pl.col(f"{REPORTED_PREFIX}{c}").fill_null(float("nan")) for c in reported).to_numpy()
        if reported else np.empty((items.height, 0)), dtype=np.float64)
    reported_of = np.array([reported.index(c) if c in reported else -1 for c in computable], dtype=np.int64)
    (amount, valued, n_rep, n_comp, day_grams, day_bound, food_items, food_grams, food_reported,
     food_unreported) = sum_items(day, food, np.ascontiguousarray(items["grams"].to_numpy(), dtype=np.float64),
                                  per_g_matrix.reshape(len(code_values), len(computable)), reported_matrix, reported_of,
                                  days.height, float(SCALE), max(1, min(numba.get_num_threads(), len(computable))))
    _too_big(days, day_bound, "participant-day")

    day_columns = [pl.Series("day_grams", day_grams)]
    for k, c in enumerate(computable):
        day_columns += [pl.Series(f"amount__{c}", amount[k]), pl.Series(f"valued__{c}", valued[k]),
                        pl.Series(f"nrep__{c}", n_rep[k]), pl.Series(f"ncomp__{c}", n_comp[k])]
    day_wide = days.with_columns(day_columns).with_columns(
        pl.when(pl.col(f"nrep__{c}") + pl.col(f"ncomp__{c}") > 0).then(pl.col(f"amount__{c}")).alias(f"amount__{c}")
        for c in computable)
    missing_components = [c for c in components if c not in computable]
    day_wide = day_wide.with_columns(
        column for c in missing_components for column in (
            pl.lit(None, dtype=pl.Int64).alias(f"amount__{c}"), pl.lit(0, dtype=pl.Int64).alias(f"valued__{c}"),
            pl.lit(0, dtype=pl.UInt32).alias(f"nrep__{c}"), pl.lit(0, dtype=pl.UInt32).alias(f"ncomp__{c}")))

    by_food = codes.with_columns(
        pl.Series("n_items", food_items), _int128(food_grams, GRAMS),
        *(_int128(food_reported[:, r], f"reported__{c}") for r, c in enumerate(reported)),
        *(_int128(food_unreported[:, r], f"unreported__{c}") for r, c in enumerate(reported)))
    contrib_fixed = _food_amounts(by_food, per_g, computable, reported).with_columns(
        pl.lit(None, dtype=pl.Int128).alias(c) for c in missing_components)
    # codes the composition lacks (items without a trusted code are listed by the ingest, with why)
    unlinked_fixed = (by_food.filter(pl.col("food_code").is_not_null())
                      .join(per_g.select("food_code"), on="food_code", how="anti")
                      .select("food_code", "n_items", pl.col(GRAMS).alias("grams")))
    participant_wide = _participant_wide(days, (amount, n_rep, n_comp, valued, day_grams, day_bound),
                                         computable, missing_components)
    return Exposures(components=tuple(components), units=units, day_wide=day_wide,
                     participant_wide=participant_wide, contrib_fixed=contrib_fixed,
                     unlinked_fixed=unlinked_fixed, low_coverage_threshold=low_coverage_threshold,
                     absent=tuple(missing_components), reported=tuple(reported))


OMEGA3_TOTAL = "omega3_total"
# The parts an instrument can report as components; DPA (22:5 n-3) has none: it is the rest of the total.
OMEGA3_PARTS = ("omega3_ala", "omega3_epa", "omega3_dha")


def omega3_total_from_parts(items: pl.DataFrame, codes: pl.DataFrame, food: np.ndarray, wide: pl.DataFrame) -> pl.DataFrame:
    """Each item's omega-3 total built from the parts the instrument reported for it, when it reports
    any part but no total (a tabular spec's `reported` map, or an NHANES or ASA24 item that lacks
    one of the four values): the reported parts, plus the composition of the linked food for the
    others (a part not reported for the item, and DPA: the food's total less its ALA, EPA and DHA).

    Taking the composition's total instead would set the food database's values against the
    instrument's own, and the total came out below the ALA reported for the same items. A part the
    composition lacks (an unlinked item) counts 0, as the composition readers count a missing part,
    so the total is never below a reported part. Items that report no part keep no reported total:
    their total comes from the composition, as every other component's.
    """
    reported = [p for p in OMEGA3_PARTS if f"{REPORTED_PREFIX}{p}" in items.columns]
    if not reported or OMEGA3_TOTAL not in wide.columns:
        return items
    per_100g = codes.join(_keyed_like(wide.select("food_code", OMEGA3_TOTAL, *OMEGA3_PARTS), codes.schema["food_code"]),
                          on="food_code", how="left", maintain_order="left")

    def per_g(component: str) -> np.ndarray:  # per gram of each of the chunk's foods, a missing value 0
        return np.divide(per_100g[component].fill_null(0.0).to_numpy(), 100.0)

    rest = per_g(OMEGA3_TOTAL)
    for part in reported:
        rest = rest - per_g(part)
    grams = items["grams"].to_numpy()
    total = np.maximum(rest, 0.0)[food] * grams  # DPA, and the parts not reported as components at all
    any_reported = np.zeros(items.height, dtype=bool)
    for part in reported:
        value = items[f"{REPORTED_PREFIX}{part}"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
        given = ~np.isnan(value)
        any_reported |= given
        total = total + np.where(given, value, per_g(part)[food] * grams)
    built = pl.Series(f"{REPORTED_PREFIX}{OMEGA3_TOTAL}", np.where(any_reported, total, np.nan)).fill_nan(None)
    if built.name in items.columns:  # an instrument's own total, where it gave one, comes first
        built = items[built.name].fill_nan(None).fill_null(built)
    return items.with_columns(built)


def participant_slices(items: pl.DataFrame, max_rows: int) -> Iterator[pl.DataFrame]:
    """The items in parts of about max_rows, every participant's items in one part.

    Items sorted by participant (as diaries usually are) are cut at participant boundaries into
    zero-copy slices; otherwise parts are taken by a hash of the participant id.
    """
    n = items.height
    if n <= max_rows:
        yield items
        return
    pid = items["participant_id"]
    if pid.is_sorted():
        start = 0
        while start < n:
            end = min(start + max_rows, n)
            if end < n:  # back to the first row of the participant at the cut, or past it if it fills the part
                cut = int(pid.search_sorted(pid[end], side="left"))
                end = cut if cut > start else int(pid.search_sorted(pid[end], side="right"))
            yield items.slice(start, end - start)
            start = end
        return
    n_parts = -(-n // max_rows)
    part = items.select((pl.col("participant_id").hash(seed=0) % n_parts).cast(pl.UInt32)).to_series()
    for k in range(n_parts):
        yield items.filter(part == k)


def compute(items: pl.LazyFrame | pl.DataFrame, food_components: pl.DataFrame, foods: pl.DataFrame,
            components: list[str], units: dict[str, str], low_coverage_threshold: float,
            code_width: int | None = None) -> Exposures:
    """Exposures of a whole (small) cohort in one chunk."""
    chunk = compute_chunk(items, composition_wide(food_components, components), components, units, low_coverage_threshold)
    return replace(chunk, foods=foods, code_width=code_width)


def food_grams(parts: list[pl.DataFrame], code_width: int | None = None) -> pl.DataFrame:
    """food_code, grams: the cohort's grams of each food, from the chunks' per-food sums."""
    return (pl.concat(parts).group_by("food_code").agg(pl.col(GRAMS).sum()).select("food_code", _unfixed(pl.col(GRAMS)).alias("grams"))
            .with_columns(code_text(pl.col("food_code"), code_width)))


def unlinked_codes(parts: list[pl.DataFrame], code_width: int | None = None) -> pl.DataFrame:
    """food_code, n_items, grams of the codes the composition lacks, over all chunks."""
    return (pl.concat(parts).group_by("food_code").agg(pl.col("n_items").sum(), pl.col("grams").sum())
            .with_columns(_unfixed(pl.col("grams")))
            .sort("food_code").with_columns(code_text(pl.col("food_code"), code_width)))


def _source(n_reported: pl.Expr, n_composed: pl.Expr) -> pl.Expr:
    """A day's source code (SOURCE_CODES) from its counts of reported and composed items; NULL: neither."""
    return (pl.when((n_reported > 0) & (n_composed > 0)).then(pl.lit(MIXED, dtype=pl.UInt8))
            .when(n_reported > 0).then(pl.lit(REPORTED, dtype=pl.UInt8))
            .when(n_composed > 0).then(pl.lit(COMPOSITION, dtype=pl.UInt8)))


def _share(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    return pl.when(whole > 0).then(part.cast(pl.Float64) / whole.cast(pl.Float64)).otherwise(0.0)


def _participant_wide(days: pl.DataFrame, day_sums: tuple[np.ndarray, ...], computed: list[str],
                      absent: list[str]) -> pl.DataFrame:
    """Per participant: n_days, grams, and per component mean__c and valued__c (absent components:
    constants), from the days' sums (item_sums.sum_items); their bound shows the int64 sums are exact."""
    amount, n_rep, n_comp, valued, day_grams, day_bound = day_sums
    participants, participant = _key_index(days, PARTICIPANT_KEYS)
    n_days, grams, bound, total, counted, with_value = sum_days(
        participant, participants.height, amount, (n_rep + n_comp) > 0, valued, day_grams, day_bound)
    _too_big(participants, bound, "participant")
    columns = [pl.Series("n_days", n_days), pl.Series("grams", grams)]
    for k, c in enumerate(computed):
        # the mean over the days that have a value: the exact integer sum / count, divided in
        # numpy (_divided explains why not in polars)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.divide(np.divide(total[k].astype(np.float64), float(SCALE)), counted[k])
        columns += [pl.Series(f"mean__{c}", mean).fill_nan(None),  # 0 / 0: no day has a value
                    pl.Series(f"valued__{c}", with_value[k])]
    constants = [column for c in absent for column in (pl.lit(None, dtype=pl.Float64).alias(f"mean__{c}"),
                                                        pl.lit(0, dtype=pl.Int64).alias(f"valued__{c}"))]
    return participants.with_columns(columns).with_columns(constants)


def food_contributions(parts: list[pl.DataFrame], foods: pl.DataFrame | None, components: tuple[str, ...] | list[str],
                       code_width: int | None = None) -> pl.DataFrame:
    """marts.food_contributions rows (without cohort) from the chunks' exact per-food sums."""
    contrib_wide = pl.concat(parts).group_by("food_code").agg(pl.col(c).sum() for c in components)
    if foods is None:
        foods = pl.DataFrame(schema={"food_code": pl.String, "description": pl.String})
    foods = _keyed_like(foods.select("food_code", "description"), contrib_wide.schema["food_code"])
    long = contrib_wide.unpivot(index="food_code", on=components, variable_name="component_id", value_name="amount")
    long = long.filter(pl.col("amount") != 0)
    total = pl.col("amount").sum().over("component_id")
    return (
        long.join(foods.select("food_code", "description"), on="food_code", how="left")
        .select(
            "component_id", "food_code", "description",
            _unfixed(pl.col("amount")).alias("amount"),
            pl.when(total != 0).then(pl.col("amount").cast(pl.Float64) / total.cast(pl.Float64)).alias("share"),
        )
        .sort("component_id", "amount", "food_code", descending=[False, True, False])
        .with_columns(code_text(pl.col("food_code"), code_width))
    )
