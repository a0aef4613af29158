"""Raw diary frames (any format) -> typed canonical items, quarantined rows, recall inclusion, participants.

The one place where diary values are typed and judged, so every format obeys the same rules:

* Row rules. A row breaking a rule goes to `quarantine` (one quarantine row per failing row,
  naming the first rule it breaks, in the order of `_rules`) and not to `items`. Rules on the
  recall key (participant_id, recall_day) apply to every row; rules on the item (grams,
  reported values) only to rows whose recall status is usable: an unusable recall is
  dropped whole and counted in `inclusion`, not quarantined.
* Recall inclusion. A recall (participant, day) is excluded when any of its rows has a recall
  status outside `valid_recall_status` (None: the format has no status, all are usable), or
  when every one of its rows was quarantined. Statuses are per recall in every instrument; in
  a file that mixes them within a recall, the recall is excluded whole.
* Missing-value tokens in text ("", NA, N/A, NULL, "."), surrounding blanks and integers
  printed as floats (`1.0`, `51180010.0`) are read as what they mean. A reported NaN means
  "not reported" (null: the exposure falls back to composition); NaN grams is a bad row.
* item_seq numbers a recall's items 1..n in the order of the raw frame (file order, then row
  order; the NHANES reader orders by DRxILINE).
* Rows a reader found malformed (optional `row_problem`, e.g. "row has 3 fields, header has 4",
  with the row's text in `row_text`) are quarantined before any value is read, as column "(row)".
* Text that was not UTF-8 (the reader's lossy decoding left U+FFFD in it) is never read as a
  value: such an id is quarantined, and such a number fails to parse with a reason that says so.
* Numbers written with a comma (`1,234.5`, `12,5`) are quarantined, not guessed at: a comma is
  a thousands separator in one locale and the decimal mark in another. The reason names the fix.
* Food codes: a code that cannot be trusted (missing, not a number, longer than the source's
  digits, or scientific notation that is not a whole number) does not make the row bad: the item
  is kept *unlinked*, its food_code null, so its grams and reported values still count; the code
  as printed and the reason are in `untrusted_codes` (audit.linkage). Scientific notation that
  denotes a whole number (R prints 20000000 as `2e+07`) is that code.
* Duplicates: when the format has an item key (optional `item_key`: NHANES DRxILINE, ASA24
  RecallAttempt/CodeNum), a row repeating an earlier row's participant, day and item key is
  quarantined and the first is kept. The same food eaten twice in a day is two items with two
  keys; formats without a key (tabular) have no duplicates.

Input columns (see gutaxis.formats): source_file, source_row, participant_id, recall_day,
food_code, grams, recall_status, external_id, reported__*; optional: row_problem, row_text
(Utf8, null on sound rows) and item_key. Columns that are already numeric (Parquet, XPT) are
used as they are, never printed to text and parsed back. The input is read once, by polars'
streaming engine, with no per-row Python and no window over the whole input (except the
duplicate check, for formats with an item key, whose files are small).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from gutaxis.formats import REPORTED_PREFIX
from gutaxis.item_sums import recall_runs, runs_are_distinct

MISSING_TOKENS = ["", "NA", "N/A", "NULL", "."]
GRAMS_MAX = 10_000.0
RECALL_DAY_MAX = {"nhanes-iff": 2}
DEFAULT_RECALL_DAY_MAX = 366
ROW = "(row)"  # quarantine.column of a rule on the whole row
NOT_UTF8 = "\ufffd"  # what the readers' lossy UTF-8 decoding makes of bytes that are not UTF-8
COMMA_FIX = "write numbers with a dot decimal and no thousands separator"
_KEY = ["__participant_id", "__recall_day"]

# participant_id is Int64 when the file's column is integer-typed (Parquet, a typed frame), else
# String; food_code is the code's number (the warehouse shows it zero-padded to the source's width).
# Big cohorts are mostly integers: text ids and codes for 100 M items cost gigabytes and minutes.
ITEMS_SCHEMA = {"participant_id": pl.String, "recall_day": pl.Int32, "item_seq": pl.Int32,
                "food_code": pl.Int32, "grams": pl.Float64}  # then reported__<component_id>: Float64
QUARANTINE_SCHEMA = {"cohort": pl.String, "source_file": pl.String, "source_row": pl.Int64,
                     "column": pl.String, "value": pl.String, "reason": pl.String}
INCLUSION_SCHEMA = {"cohort": pl.String, "participant_id": pl.String, "recall_day": pl.Int32,
                    "recall_status": pl.Int32, "included": pl.Boolean, "n_items": pl.Int64,
                    "reason": pl.String}
PARTICIPANTS_SCHEMA = {"cohort": pl.String, "participant_id": pl.String, "external_id": pl.String}
UNTRUSTED_SCHEMA = {"food_code": pl.String, "reason": pl.String, "n_items": pl.Int64, "grams": pl.Float64}


@dataclass(frozen=True)
class CanonicalDiary:
    items: pl.DataFrame         # ITEMS_SCHEMA + reported__* (Float64)
    quarantine: pl.DataFrame    # QUARANTINE_SCHEMA
    # INCLUSION_SCHEMA; one row per recall; n_items = the recall's rows in the file(s), kept or not
    inclusion: pl.DataFrame
    participants: pl.DataFrame  # PARTICIPANTS_SCHEMA; one row per participant
    item_runs: int = 0          # maximal blocks of consecutive items of one recall (= recalls when grouped)
    # UNTRUSTED_SCHEMA: items kept without a food code (null), by the code as the file printed it
    untrusted_codes: pl.DataFrame | None = None
    # Row accounting: every raw row is an item, a quarantined row, or a row of a recall its status
    # excludes (excluded_rows). rows_read is the data rows the files hold, as their readers counted
    # them apart from the parser (None: not counted, e.g. a frame built in a test).
    excluded_rows: int = 0
    rows_read: int | None = None

    def rows_unaccounted(self) -> int | None:
        """rows read - (items + quarantined + excluded): 0 when no row was lost or made up."""
        if self.rows_read is None:
            return None
        return self.rows_read - (self.items.height + self.quarantine.height + self.excluded_rows)


@dataclass(frozen=True)
class _Rule:
    column: str      # the canonical column the quarantine row names
    reason: str | pl.Expr  # an expression when the reason depends on the row
    failed: pl.Expr  # true where the row breaks the rule
    value: pl.Expr | None = None  # the quarantine value; default: the column's raw value


def _text(column: str) -> pl.Expr:
    text = pl.col(column).cast(pl.String).str.strip_chars()
    return pl.when(text.is_in(MISSING_TOKENS)).then(None).otherwise(text)


def _number(column: str, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """(the value as Float64, whether the file gave any value); a given value that is null is not a number."""
    if dtype.is_numeric():
        return pl.col(column).cast(pl.Float64), pl.col(column).is_not_null()
    text = _text(column)
    return text.cast(pl.Float64, strict=False), text.is_not_null()


def _whole(value: pl.Expr) -> pl.Expr:
    return value.is_finite() & (value == value.floor())


def _identifier(column: str, dtype: pl.DataType, keep_integer: bool = False) -> pl.Expr:
    """Ids as text (integers kept as Int64 when keep_integer); an integer that a float column or a
    float printer turned into `83736.0` loses the `.0`."""
    if dtype.is_integer():  # UInt64 and Int128 ids can pass Int64's range: kept as text
        return pl.col(column).cast(pl.Int64 if keep_integer and dtype not in (pl.UInt64, pl.Int128) else pl.String)
    if dtype.is_float():
        value = pl.col(column)
        return (pl.when(_whole(value) & (value.abs() < 2.0**53)).then(value.cast(pl.Int64).cast(pl.String))
                .when(value.is_finite()).then(value.cast(pl.String)))
    return _text(column).str.replace(r"^(\d+)\.0*$", "${1}")


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))


def _name(column: str) -> str:
    return "reported value" if column.startswith(REPORTED_PREFIX) else column


def _not_utf8(column: str) -> str:
    return f"{_name(column)} has bytes that are not UTF-8 (Latin-1 or Windows-1252?); save the file as UTF-8"


def _id_not_utf8(column: str, schema: pl.Schema) -> _Rule | None:
    """An id with bytes that were not UTF-8 would be a mangled id: quarantined (numbers fail to parse anyway)."""
    if not _is_text(schema[column]):
        return None
    return _Rule(column, _not_utf8(column), pl.col(column).cast(pl.String).str.contains(NOT_UTF8, literal=True).fill_null(False))


SCIENTIFIC_CODE = ("food_code is in scientific notation that is not a whole number of the source's digits (a "
                   "spreadsheet's display hides digits); format the column as whole numbers and save the file again")
# Scientific notation that can denote a food code exactly: at most 15 significant digits (a double
# holds them exactly, so the parsed number is whole only when the notation denotes a whole number).
_SCIENTIFIC = r"^[0-9]+(?:\.[0-9]*)?[eE]\+?[0-9]{1,2}$"


def _unparsed(column: str, schema: pl.Schema, reason: str, scientific: str | None = None) -> str | pl.Expr:
    """The reason a given value is not a number, naming the fix when the text shows why.

    Worked out only for quarantined rows (see `_row_reason`), so it costs the clean rows nothing.
    `1,234.5` and `12,5` are not guessed at: a comma is a thousands separator in one locale and
    the decimal mark in another.
    """
    if not _is_text(schema[column]):
        return reason
    text = _text(column)
    otherwise = pl.lit(reason)
    if scientific is not None:  # a reason of its own for numbers printed as 9.241051E+07
        in_scientific_notation = text.str.contains(r"^[0-9]+(?:\.[0-9]*)?[eE][+-]?[0-9]+$")
        otherwise = pl.when(in_scientific_notation).then(pl.lit(scientific)).otherwise(otherwise)
    return (pl.when(text.str.contains(NOT_UTF8, literal=True)).then(pl.lit(_not_utf8(column)))
            .when(text.str.contains(r"^[+-]?[0-9]*[.,]?[0-9]+(?:[.,][0-9]+)*$") & text.str.contains(",", literal=True))
            .then(pl.lit(f"{_name(column)} has a thousands separator or a decimal comma; {COMMA_FIX}"))
            .otherwise(otherwise))


def _food_code(column: str, dtype: pl.DataType) -> pl.Expr:
    """The code's number (Int64): digits only, a printed `.0` ignored; null when not a code."""
    value = pl.col(column)
    if dtype.is_integer():
        return pl.when(value >= 0).then(value.cast(pl.Int64, strict=False))  # UInt64 past Int64: not a code
    if dtype.is_float():
        return pl.when(_whole(value) & (value >= 0) & (value < 2.0**53)).then(value.cast(pl.Int64, strict=False))
    text = _text(column).str.replace(r"\.0*$", "")
    # R prints 20000000 as 2e+07: a notation that denotes a whole number is that number.
    mantissa_digits = text.str.extract(r"^([0-9]+(?:\.[0-9]*)?)[eE]", 1).str.replace(".", "", literal=True)
    scientific = text.cast(pl.Float64, strict=False)
    exact = (text.str.contains(_SCIENTIFIC) & (mantissa_digits.str.strip_chars_start("0").str.len_chars() <= 15)
             & _whole(scientific) & (scientific < 1e15))
    return (pl.when(text.str.contains(r"^\d{1,18}$")).then(text.cast(pl.Int64, strict=False))
            .when(exact).then(scientific.cast(pl.Int64, strict=False)))


def _small_int(value: pl.Expr) -> pl.Expr:
    return pl.when(_whole(value) & value.abs().le(2**31 - 1)).then(value.cast(pl.Int32, strict=False))


def _parse(schema: pl.Schema, reported: list[str], code_width: int) -> list[pl.Expr]:
    day, day_given = _number("recall_day", schema["recall_day"])
    grams, grams_given = _number("grams", schema["grams"])
    status, _ = _number("recall_status", schema["recall_status"])
    exprs = [
        _identifier("participant_id", schema["participant_id"], keep_integer=True).alias("__participant_id"),
        day.alias("__day_value"), day_given.alias("__day_given"),
        _small_int(day).alias("__recall_day"),
        _food_code("food_code", schema["food_code"]).alias("__food_code"),
        grams.alias("__grams"), grams_given.alias("__grams_given"),
        _small_int(status).alias("__recall_status"),
        _identifier("external_id", schema["external_id"]).alias("__external_id"),
    ]
    if _has("item_key", schema):
        exprs.append(_identifier("item_key", schema["item_key"]).alias("__item_key"))
    for column in reported:
        value, given = _number(column, schema[column])
        exprs += [value.alias(f"__{column}"), given.alias(f"__{column}_given")]
    return exprs


def _has(column: str, schema: pl.Schema) -> bool:
    """Whether the raw frame carries an optional column (a Null-typed one is "none")."""
    return column in schema and schema[column] != pl.Null


def _rules(schema: pl.Schema, reported: list[str], code_width: int, day_max: int) -> tuple[list[_Rule], list[_Rule]]:
    """(rules on the recall key, rules on the item), each in the order they are tried; None entries are dropped."""
    day = pl.col("__day_value")
    grams = pl.col("__grams")
    key = [
        _Rule(ROW, pl.col("row_problem"), pl.col("row_problem").is_not_null(), pl.col("row_text"))
        if _has("row_problem", schema) else None,
        _id_not_utf8("participant_id", schema),
        _Rule("participant_id", "participant_id is missing", pl.col("__participant_id").is_null()),
        _Rule("recall_day", "recall_day is missing", ~pl.col("__day_given")),
        _Rule("recall_day", _unparsed("recall_day", schema, "recall_day is not a number"), day.is_null() | day.is_nan()),
        _Rule("recall_day", f"recall_day out of range 1-{day_max}", (day < 1) | (day > day_max)),
        _Rule("recall_day", "recall_day is not a whole number", pl.col("__recall_day").is_null()),
    ]
    item = [
        _Rule("grams", "grams is missing", ~pl.col("__grams_given")),
        _Rule("grams", _unparsed("grams", schema, "grams is not a number"), grams.is_null()),
        _Rule("grams", "grams is not a finite number (NaN or infinite)", ~grams.is_finite()),
        _Rule("grams", "grams must be > 0", grams <= 0),
        _Rule("grams", f"grams above {GRAMS_MAX:.0f} g (absurd for one item)", grams > GRAMS_MAX),
    ]
    for column in reported:
        value = pl.col(f"__{column}")
        item += [
            _Rule(column, _unparsed(column, schema, "reported value is not a number"),
                  pl.col(f"__{column}_given") & value.is_null()),
            _Rule(column, "reported value is not a finite number", value.is_infinite()),
            _Rule(column, "reported value is negative", value < 0),
        ]
    if _has("item_key", schema):
        # Last: a repeat that is bad anyway is quarantined for what is wrong with it.
        item.append(_Rule("item_key", "duplicate item: an earlier row has the same participant, recall day and "
                          "item number (the first is kept); remove the repeated row",
                          pl.col("__duplicate"),
                          pl.format("{} (first: {} row {})", pl.col("__item_key"), "__first_file", "__first_row")))
    return [r for r in key if r is not None], [r for r in item if r is not None]


def _code_problem(schema: pl.Schema, code_width: int) -> pl.Expr:
    """Why an item's food code cannot be trusted (null: it can). Such an item is kept, unlinked:
    its grams and reported values count, and the reason goes to audit.linkage (`untrusted_codes`).
    Worked out only for the items that have such a code."""
    unparsed = _unparsed("food_code", schema, "food_code is missing or not a number", scientific=SCIENTIFIC_CODE)
    return (pl.when(pl.col("__food_code").is_null())
            .then(pl.lit(unparsed) if isinstance(unparsed, str) else unparsed)
            .otherwise(pl.lit(f"food_code longer than {code_width} digits")))


def _duplicates() -> list[pl.Expr]:
    """Whether a row repeats an earlier row's (participant, day, item key), and where that first row is.

    A window over the whole input, so only for formats with an item key (NHANES, ASA24: files of
    at most a few hundred thousand rows). Rows whose recall key broke a rule are set apart.
    """
    group = [*_KEY, "__item_key", "__key_ok"]
    return [
        (pl.col("__item_key").is_not_null() & pl.col("__key_ok") & ~pl.struct(group).is_first_distinct()).alias("__duplicate"),
        pl.col("source_file").first().over(group).cast(pl.String).alias("__first_file"),
        pl.col("source_row").first().over(group).alias("__first_row"),
    ]


def _first_failed(rules: list[_Rule], first_code: int) -> pl.Expr:
    """Code of the first rule the row breaks (first_code, first_code + 1, ...), 0 when it breaks none."""
    chain = pl.when(rules[0].failed).then(pl.lit(first_code, dtype=pl.UInt8))
    for code, rule in enumerate(rules[1:], start=first_code + 1):
        chain = chain.when(rule.failed).then(pl.lit(code, dtype=pl.UInt8))
    return chain.otherwise(pl.lit(0, dtype=pl.UInt8))


def _raw_value(rules: list[_Rule]) -> pl.Expr:
    """The raw value of the column named by the row's rule (or the rule's own value), as text; null on rows that break no rule."""
    values: dict[str, tuple[pl.Expr, list[int]]] = {}
    for code, rule in enumerate(rules, start=1):
        key = rule.column if rule.value is None else f"{rule.column}#{code}"
        value = pl.col(rule.column).cast(pl.String) if rule.value is None else rule.value.cast(pl.String)
        values.setdefault(key, (value, []))[1].append(code)
    chain = None
    for value, codes in values.values():
        cond = pl.col("__rule").is_in(codes)
        chain = pl.when(cond).then(value) if chain is None else chain.when(cond).then(value)
    return chain


def _row_reason(rules: list[_Rule]) -> pl.Expr:
    """The reason of rules whose reason depends on the row; null for the others (their reason is fixed)."""
    chain = None
    for code, rule in enumerate(rules, start=1):
        if isinstance(rule.reason, pl.Expr):
            cond = pl.col("__rule") == code
            chain = pl.when(cond).then(rule.reason) if chain is None else chain.when(cond).then(rule.reason)
    return pl.lit(None, dtype=pl.String) if chain is None else chain.cast(pl.String)


def row_shard(schema: pl.Schema, n_shards: int) -> pl.Expr:
    """Each raw row's participant shard (gutaxis.shards) in 0..n_shards-1, from its id parsed as
    canonicalize parses it (the canonical id, as stored): the split pass of a sharded run keys rows by
    it, so each recall is judged whole in one shard; a row without a readable id goes to shard 0."""
    from gutaxis.shards import shard_of

    ids = _identifier("participant_id", schema["participant_id"], keep_integer=True)
    return ids.map_batches(lambda s: shard_of(s, n_shards), return_dtype=pl.UInt32, is_elementwise=True)


def canonicalize(raw: pl.LazyFrame, *, cohort: str, format: str, code_width: int,
                 valid_recall_status: list[int] | None) -> CanonicalDiary:
    """Type, normalise and judge a raw diary frame in one pass over the input (see the module docstring)."""
    schema = raw.collect_schema()
    for optional in ("recall_status", "external_id"):
        if optional not in schema:
            raw = raw.with_columns(pl.lit(None, dtype=pl.Null).alias(optional))
    schema = raw.collect_schema()
    reported = [c for c in schema.names() if c.startswith(REPORTED_PREFIX)]
    key_rules, item_rules = _rules(schema, reported, code_width, RECALL_DAY_MAX.get(format, DEFAULT_RECALL_DAY_MAX))
    all_rules = key_rules + item_rules
    # Carried along with every item only when the input has them (a Null column is "none").
    has_status = valid_recall_status is not None
    has_external = schema["external_id"] != pl.Null

    status_ok = pl.col("__recall_status").is_in(valid_recall_status).fill_null(False) if has_status else pl.lit(True)
    key_ok = pl.col("__key_ok")
    parsed = raw.with_columns(_parse(schema, reported, code_width))
    parsed = (parsed
              .with_columns(__key_rule=_first_failed(key_rules, 1))
              .with_columns(__key_ok=pl.col("__key_rule") == 0))
    if _has("item_key", schema):
        parsed = parsed.with_columns(_duplicates())
    classified = (
        parsed
        .with_columns(__item_rule=_first_failed(item_rules, 1 + len(key_rules)),
                      __status_ok=status_ok)
        # Rows of a recall excluded by its status are counted in inclusion, not judged item by item.
        .with_columns(__rule=pl.when(~key_ok).then("__key_rule")
                      .when(~pl.col("__status_ok")).then(pl.lit(0, dtype=pl.UInt8))
                      .otherwise("__item_rule"),
                      __usable=key_ok & pl.col("__status_ok") & (pl.col("__item_rule") == 0))
    )
    trusted_code = pl.col("__food_code") < 10**code_width
    items_plan = classified.filter("__usable").select(
        # trusted codes have at most code_width (<= 9) digits: 32 bits, half the memory of 100 M codes;
        # an item whose code cannot be trusted is kept with none (unlinked, see _code_problem)
        *_KEY, pl.when(trusted_code).then(pl.col("__food_code")).cast(pl.Int32).alias("__food_code"), "__grams", *(pl.col(f"__{c}").fill_nan(None).alias(c) for c in reported),
        *(["__recall_status"] if has_status else []), *(["__external_id"] if has_external else []))
    # Every row that is not an item: quarantined rows and rows of unusable recalls (usually few).
    rest_plan = classified.filter(~pl.col("__usable")).select(
        "source_file", "source_row", "__rule", _raw_value(all_rules).alias("__value"),
        _row_reason(all_rules).alias("__reason"), "__key_ok",
        *_KEY, "__recall_status", "__status_ok", "__external_id")
    # Items whose code cannot be trusted, by raw value and reason (usually none or few).
    untrusted_plan = (classified.filter(pl.col("__usable") & ~trusted_code.fill_null(False))
                      .group_by(pl.col("food_code").cast(pl.String).alias("food_code"),
                                _code_problem(schema, code_width).alias("reason"))
                      .agg(pl.len().cast(pl.Int64).alias("n_items"), pl.col("__grams").sum().alias("grams")))
    # One collect: the plans share the scan and the parsing. Recall statistics are derived
    # afterwards from runs of rows, not by a group-by of the whole input, which would hold
    # back the streaming engine (measured: ~50 % more peak memory).
    found, rest, untrusted = pl.collect_all([items_plan, rest_plan, untrusted_plan], engine="streaming")

    positions, runs, one_run_each = _runs(found, has_status, has_external)
    recalls = _recalls(runs, rest, has_status, one_run_each)
    usable_rows = found.height
    found = _drop_excluded_recalls(found, recalls)
    # rows of recalls their status excludes: judged by no item rule, and usable rows of a recall
    # whose other rows carry an unusable status
    excluded_rows = rest.filter(pl.col("__rule") == 0).height + usable_rows - found.height
    if found.height != runs["__n"].sum():  # a recall mixing statuses lost its rows: count again
        positions, runs, one_run_each = _runs(found, has_status, has_external)
    cohort_col = pl.lit(cohort, dtype=pl.String).alias("cohort")
    # cohort and food_source are one value per run: the warehouse adds them when staging, so that
    # 100 M items do not carry two constant string columns in memory.
    items = found.select(
        pl.col("__participant_id").alias("participant_id"),
        pl.col("__recall_day").alias("recall_day"),
        _item_seq(found, positions, one_run_each).alias("item_seq"),
        pl.col("__food_code").alias("food_code"),
        pl.col("__grams").alias("grams"),
        *reported,
    )
    codes = list(range(1, len(all_rules) + 1))
    quarantine = rest.filter(pl.col("__rule") > 0).select(
        cohort_col,
        pl.col("source_file").cast(pl.String),
        pl.col("source_row").cast(pl.Int64),
        pl.col("__rule").replace_strict(codes, [r.column for r in all_rules], return_dtype=pl.String).alias("column"),
        pl.col("__value").cast(pl.String).alias("value"),
        pl.coalesce("__reason", pl.col("__rule").replace_strict(
            codes, [r.reason if isinstance(r.reason, str) else "" for r in all_rules], return_dtype=pl.String)).alias("reason"),
    ).sort("source_file", "source_row", maintain_order=True)
    if has_external:
        people = recalls.group_by("__participant_id").agg(pl.col("external_id").drop_nulls().first())
    else:  # nothing to aggregate: the distinct ids (a third of the time at 6.7 M recalls)
        people = recalls.select(pl.col("__participant_id").unique(), pl.lit(None, dtype=pl.String).alias("external_id"))
    participants = (people.sort("__participant_id")
                    .select(cohort_col, pl.col("__participant_id").cast(pl.String).alias("participant_id"),
                            pl.col("external_id").cast(pl.String)))
    return CanonicalDiary(items=items, quarantine=quarantine,
                          inclusion=_inclusion(recalls, cohort_col, valid_recall_status),
                          participants=participants, item_runs=runs.height, excluded_rows=excluded_rows,
                          untrusted_codes=untrusted.select(UNTRUSTED_SCHEMA.keys()).sort("grams", "food_code", descending=[True, False],
                                                                                          nulls_last=True))


def _runs(found: pl.DataFrame, has_status: bool, has_external: bool) -> tuple[np.ndarray, pl.DataFrame, bool]:
    """Maximal blocks of consecutive items of one recall: each item's position in its block
    (item_sums.recall_runs), the blocks (key, first row, length, and status, external id), and
    whether every recall's rows are one block."""
    positions, heads = recall_runs(found["__participant_id"], found["__recall_day"])
    columns = [*_KEY, *(["__recall_status"] if has_status else []), *(["__external_id"] if has_external else [])]
    heads = pl.Series(heads, dtype=pl.Int64)
    runs = found.select(pl.col(columns).gather(heads)).with_columns(__row=heads)
    runs = runs.with_columns(__n=pl.col("__row").shift(-1, fill_value=found.height) - pl.col("__row"))
    return positions, runs, runs_are_distinct(runs, _KEY)


def _recalls(runs: pl.DataFrame, rest: pl.DataFrame, has_status: bool, one_run_each: bool) -> pl.DataFrame:
    """Per recall: recall_status, status_ok, n_items (rows with a usable key), n_usable, external_id."""
    status = pl.col("__recall_status") if has_status else pl.lit(None, dtype=pl.Int32)
    external = pl.col("__external_id") if "__external_id" in runs.columns else pl.lit(None, dtype=pl.String)
    if one_run_each:  # the runs are the recalls: nothing to group
        from_items = runs.select(*_KEY, pl.col("__n").alias("n_usable"), status.alias("items_status"),
                                 external.alias("items_external_id"))
    else:
        from_items = runs.group_by(_KEY).agg(
            pl.col("__n").sum().alias("n_usable"), status.first().alias("items_status"),
            external.drop_nulls().first().alias("items_external_id"))
    from_rest = rest.filter("__key_ok").group_by(_KEY).agg(
        # The status that excludes the recall if any, else the recall's own status.
        pl.coalesce(pl.col("__recall_status").filter(~pl.col("__status_ok")).first(),
                    pl.col("__recall_status").first()).alias("rest_status"),
        pl.col("__status_ok").all().alias("rest_status_ok"),
        pl.len().alias("n_rest"),
        pl.col("__external_id").drop_nulls().first().cast(pl.String).alias("rest_external_id"),
    )
    if from_rest.height:
        both = from_items.join(from_rest, on=_KEY, how="full", coalesce=True)
    else:  # every row is an item (the usual case): a join with nothing still hashed 6.7 M keys (0.3 s)
        both = from_items.with_columns(pl.lit(None, dtype=dtype).alias(name)
                                       for name, dtype in from_rest.schema.items() if name not in _KEY)
    return both.select(
        *_KEY,
        pl.when(pl.col("rest_status_ok").fill_null(True)).then(pl.coalesce("items_status", "rest_status"))
        .otherwise("rest_status").cast(pl.Int32).alias("recall_status"),
        pl.col("rest_status_ok").fill_null(True).alias("status_ok"),
        (pl.col("n_usable").fill_null(0) + pl.col("n_rest").fill_null(0)).cast(pl.Int64).alias("n_items"),
        pl.col("n_usable").fill_null(0).cast(pl.Int64).alias("n_usable"),
        pl.coalesce("items_external_id", "rest_external_id").alias("external_id"),
    )


def _drop_excluded_recalls(found: pl.DataFrame, recalls: pl.DataFrame) -> pl.DataFrame:
    """Usable rows of a recall that another of its rows marks unusable (mixed statuses: rare)."""
    mixed = recalls.filter(~pl.col("status_ok") & (pl.col("n_usable") > 0)).select(_KEY)
    if mixed.height == 0:
        return found
    return found.join(mixed, on=_KEY, how="anti", maintain_order="left")


def _item_seq(found: pl.DataFrame, positions: np.ndarray, one_run_each: bool) -> pl.Series:
    """1..n within participant-day, in row order (positions: in runs, item_sums.recall_runs)."""
    if one_run_each:  # a row's number is its position in its run: no hashing of every row's key
        return pl.Series("item_seq", positions)
    return found.select(pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over(_KEY).alias("item_seq")).to_series()


EVERY_ITEM_QUARANTINED = "every item of this recall was quarantined"


def _inclusion(recalls: pl.DataFrame, cohort_col: pl.Expr, valid_recall_status: list[int] | None) -> pl.DataFrame:
    """One row per recall of the rows whose participant and day are usable."""
    valid = f"valid: {', '.join(str(s) for s in valid_recall_status or [])}"
    reason = (
        pl.when(~pl.col("status_ok") & pl.col("recall_status").is_null())
        .then(pl.lit(f"recall status missing or not a whole number ({valid})"))
        .when(~pl.col("status_ok"))
        .then(pl.concat_str(pl.lit("recall status "), pl.col("recall_status").cast(pl.String),
                            pl.lit(f" is not usable ({valid})")))
        .when(pl.col("n_usable") == 0).then(pl.lit(EVERY_ITEM_QUARANTINED))
    )
    status = pl.col("recall_status") if valid_recall_status is not None else pl.lit(None, dtype=pl.Int32)
    # sorted on the ids' own type (numbers numerically), then shown as text
    return recalls.sort(_KEY).select(
        cohort_col,
        pl.col("__participant_id").cast(pl.String).alias("participant_id"),
        pl.col("__recall_day").alias("recall_day"),
        status.cast(pl.Int32).alias("recall_status"),
        (pl.col("status_ok") & (pl.col("n_usable") > 0)).alias("included"),
        pl.col("n_items").cast(pl.Int64),
        reason.alias("reason"),
    )
