"""Great Expectations suites for staged and computed tables, run as SQL inside DuckDB."""
from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import duckdb
import polars as pl

from gutaxis import GutaxisError
from gutaxis.exposure import SOURCE_CODES

Severity = Literal["block", "warn"]

RESULT_SCHEMA = {
    "suite": pl.Utf8,
    "table_name": pl.Utf8,
    "check": pl.Utf8,
    "column": pl.Utf8,
    "severity": pl.Utf8,
    "success": pl.Boolean,
    "unexpected_count": pl.Int64,
    "element_count": pl.Int64,
    "detail": pl.Utf8,
}
DETAIL_MAX_CHARS = 240
EXAMPLES_SHOWN = 5


@dataclass(frozen=True)
class Check:
    """One named expectation with the severity its failure carries."""

    name: str
    severity: Severity
    # Takes the great_expectations module, so defining suites never pays GX's import cost.
    expectation: Callable[[Any], Any]
    column: str | None = None
    # SQL selecting the offending rows from {batch}: a warned check names its first rows in the
    # run summary (participant, day, food code, value), not only their count.
    rows: str | None = None


def not_null(column: str, *, severity: Severity = "block", name: str | None = None) -> Check:
    return Check(
        name or f"{column} not null",
        severity,
        lambda gx: gx.expectations.ExpectColumnValuesToNotBeNull(column=column),
        column,
        f'SELECT * FROM {{batch}} WHERE "{column}" IS NULL',
    )


def unique(column: str, *, severity: Severity = "block", name: str | None = None) -> Check:
    return Check(
        name or f"{column} unique",
        severity,
        lambda gx: gx.expectations.ExpectColumnValuesToBeUnique(column=column),
        column,
    )


def compound_unique(
    columns: Sequence[str], *, severity: Severity = "block", name: str | None = None
) -> Check:
    # GX's ExpectCompoundColumnsToBeUnique makes two grouping passes and a join (~2-4x the time of
    # one GROUP BY on 10 M rows); this query groups once and returns each row of a duplicated key
    # (the same unexpected_count), expanding only the few duplicated groups.
    column_list = list(columns)
    keys = ", ".join(f'"{c}"' for c in column_list)
    sql = (f"SELECT {keys} FROM (SELECT {keys}, count(*) AS n FROM {{batch}} GROUP BY {keys} HAVING count(*) > 1) "
           "AS duplicated, range(duplicated.n)")
    return unexpected_rows(name or f"({', '.join(column_list)}) unique", sql, severity=severity)


def numbered_unique(group: Sequence[str], number: str, *, severity: Severity = "block") -> Check:
    """(group..., number) unique, for a number counting rows within each group (items 1..n of a day).

    The same unexpected rows as compound_unique, in a quarter of its time on 100 M items: a
    GROUP BY of every row key builds one group per row. Here each group first ORs a 64-bit mask
    of its numbers 1-64; when the mask has as many bits as the group has rows, the numbers are
    distinct. Only groups that fail that (or number beyond 64, or below 1) are grouped row by row.
    """
    keys = ", ".join(f'"{c}"' for c in group)
    num = f'"{number}"'
    flagged = (f"SELECT {keys} FROM {{batch}} GROUP BY {keys} HAVING max({num}) > 64 OR min({num}) < 1 "
               f"OR bit_count(bit_or(CASE WHEN {num} BETWEEN 1 AND 64 THEN CAST(1 AS UBIGINT) << CAST({num} - 1 AS UBIGINT) END)) "
               "<> count(*)")
    sql = (f"SELECT {keys}, {num} FROM (SELECT {keys}, {num}, count(*) AS n FROM {{batch}} "
           f"SEMI JOIN ({flagged}) AS flagged USING ({keys}) GROUP BY {keys}, {num} HAVING count(*) > 1) "
           "AS duplicated, range(duplicated.n)")
    return unexpected_rows(f"({', '.join([*group, number])}) unique", sql, severity=severity)


def between(
    column: str,
    min_value: float | None,
    max_value: float | None,
    *,
    strict_min: bool = False,
    strict_max: bool = False,
    severity: Severity = "block",
    name: str | None = None,
) -> Check:
    """Values within the bounds (None: unbounded on that side); NULLs are not counted."""
    if min_value is None and max_value is None:
        raise ValueError(f"between({column!r}) needs a min_value or a max_value")
    if max_value is None:
        default_name = f"{column} {'>' if strict_min else '>='} {min_value}"
    elif min_value is None:
        default_name = f"{column} {'<' if strict_max else '<='} {max_value}"
    else:
        default_name = (
            f"{column} in {'(' if strict_min else '['}{min_value}, {max_value}{')' if strict_max else ']'}"
        )
    outside = []  # the rows GX counts as unexpected (NULLs are not)
    if min_value is not None:
        outside.append(f'"{column}" {"<=" if strict_min else "<"} {min_value!r}')
    if max_value is not None:
        outside.append(f'"{column}" {">=" if strict_max else ">"} {max_value!r}')
    return Check(
        name or default_name,
        severity,
        lambda gx: gx.expectations.ExpectColumnValuesToBeBetween(
            column=column,
            min_value=min_value,
            max_value=max_value,
            strict_min=strict_min,
            strict_max=strict_max,
        ),
        column,
        f"SELECT * FROM {{batch}} WHERE {' OR '.join(outside)}",
    )


def in_set(
    column: str, values: Sequence[Any], *, severity: Severity = "block", name: str | None = None
) -> Check:
    """Values among `values`; NULLs are not counted (add not_null for that)."""
    value_set = list(values)
    return Check(
        name or f"{column} in {{{', '.join(map(str, value_set))}}}",
        severity,
        lambda gx: gx.expectations.ExpectColumnValuesToBeInSet(column=column, value_set=value_set),
        column,
    )


def unexpected_rows(name: str, sql: str, *, severity: Severity = "block") -> Check:
    """A group-level rule: `sql` selects the offending rows from `{batch}` (other braces doubled).

    Select groups or a few columns, not millions of item rows: with results buffered (see
    `_buffer_sql_results`) GX reads every row the query returns to show 200 of them — a
    10 M-row selection took ~45 s and ~3.7 GB; use a column check for row-level rules.
    """
    return Check(
        name,
        severity,
        lambda gx: gx.expectations.UnexpectedRowsExpectation(unexpected_rows_query=sql),
        rows=sql,
    )


def diary_items_suite(recall_day_max: int | None) -> list[Check]:
    return [
        # food_code may be NULL: an item whose code could not be trusted is kept unlinked (audit.linkage says why)
        *(not_null(column) for column in ("participant_id", "recall_day", "item_seq", "grams")),
        numbered_unique(["participant_id", "recall_day"], "item_seq"),  # one table per cohort and run
        between("grams", 0, 10_000, strict_min=True),
        # Real portions this large exist (a day's water, a big soup): worth a look, not a block.
        between("grams", None, 4_000, severity="warn", name="grams <= 4000 (very large portion)"),
        between("recall_day", 1, recall_day_max),
    ]


ROWS_ACCOUNTED = "rows read = published + quarantined + excluded"
JOINED_DAYS = "every day carries both joined files' components (nutrients and FPED)"


def rows_accounted(run_key: str) -> Check:
    """Blocking: the data rows the run's files hold (audit.runs.rows_read) are each an item of the
    staged table, a row of audit.quarantine or a row of an excluded recall, none lost or made up.

    The staged items and the quarantine are counted where they were stored, not taken from the
    ingest's own tally; an audit.runs row without counts fails too.
    """
    if not re.fullmatch(r"[A-Za-z0-9_]+", run_key):
        raise ValueError(f"run key {run_key!r} is not a plain name")
    sql = ("SELECT runs.rows_read, items.n AS rows_published, quarantined.n AS rows_quarantined, runs.rows_excluded "
           "FROM audit.runs AS runs, (SELECT count(*) AS n FROM {batch}) AS items, "
           f"(SELECT count(*) AS n FROM audit.quarantine WHERE run_id = '{run_key}') AS quarantined "
           f"WHERE runs.run_id = '{run_key}' AND (runs.rows_read IS NULL OR runs.rows_excluded IS NULL "
           "OR runs.rows_read <> items.n + quarantined.n + runs.rows_excluded)")
    return unexpected_rows(ROWS_ACCOUNTED, sql)


def day_totals_suite(recall_day_max: int | None) -> list[Check]:
    """Structural checks of a day-totals cohort's staged input (its wide day table, see
    gutaxis.day_totals): one row per participant-day, keys present, recall day in range."""
    return [
        *(not_null(column) for column in ("participant_id", "recall_day")),
        compound_unique(["participant_id", "recall_day"]),
        between("recall_day", 1, recall_day_max),
    ]


def joined_days_carry_both_files(nutrient_components: Sequence[str], fped_components: Sequence[str]) -> Check:
    """Warning, for an nhanes-tot cohort whose nutrient (DRxTOT) and FPED (fped_drxtot) files were
    joined (gutaxis.nhanes_tot_join): the days that carry none of one file's components, on the
    recall days both files give. Such a day was in one file only (or its row in the other was
    quarantined): kept, its other components NULL, so the HEI does not score it."""
    def none_of(components: Sequence[str]) -> str:
        return " AND ".join(f'"amount__{c}" IS NULL' for c in components)

    def any_of(components: Sequence[str]) -> str:
        return " OR ".join(f'"amount__{c}" IS NOT NULL' for c in components)

    sql = (f"SELECT participant_id, recall_day, CASE WHEN {none_of(fped_components)} THEN 'no FPED food groups (fped_drxtot)' "
           "ELSE 'no nutrients (DRxTOT)' END AS lacking FROM {batch} "
           f"WHERE (({none_of(nutrient_components)}) OR ({none_of(fped_components)})) AND recall_day IN ("
           "SELECT recall_day FROM {batch} GROUP BY recall_day "
           f"HAVING bool_or({any_of(nutrient_components)}) AND bool_or({any_of(fped_components)}))")
    return unexpected_rows(JOINED_DAYS, sql, severity="warn")


def components_between(measure: str, keys: Sequence[str], min_value: float | None, max_value: float | None, *,
                       severity: Severity = "block", name: str | None = None, stored: bool = True) -> Check:
    """Every component's `measure` column of a wide exposure table (`{measure}__{component_id}`)
    within the bounds (None: unbounded); NULLs are not counted. stored=False: the table has no
    such column (only derivable values, see Exposures.stored_day_table), so nothing can be out.

    One scan for all components: rows are pre-selected by their least and greatest value, and only
    those are unpivoted, so each offending (row, component) is one unexpected row, as it would be
    in the long contract view.
    """
    columns = f"COLUMNS('^{measure}__')"
    outside_any, outside = [], []
    if min_value is not None:
        outside_any.append(f"least(*{columns}) < {min_value}")
        outside.append(f"value < {min_value}")
    if max_value is not None:
        outside_any.append(f"greatest(*{columns}) > {max_value}")
        outside.append(f"value > {max_value}")
    if not outside:
        raise ValueError(f"components_between({measure!r}) needs a min_value or a max_value")
    key_list = ", ".join(f'"{k}"' for k in keys)
    sql = (f"SELECT {key_list}, replace(component_id, '{measure}__', '') AS component_id, value FROM "
           f"(UNPIVOT (SELECT {key_list}, {columns} FROM {{batch}} WHERE {' OR '.join(outside_any)}) "
           f"ON {columns} INTO NAME component_id VALUE value) WHERE {' OR '.join(outside)}")
    if not stored:
        sql = f"SELECT {key_list}, NULL AS component_id, NULL AS value FROM {{batch}} WHERE false"
    bounds = f"[{'' if min_value is None else min_value}, {'' if max_value is None else max_value}]"
    return unexpected_rows(name or f"{measure} in {bounds} for every component", sql, severity=severity)


def components_in_registry(measure: str, component_ids: Sequence[str], stored: bool = True) -> Check:
    """The wide table's component columns (`{measure}__{component_id}`) name registry components
    (stored=False: the table has none, no source computed any)."""
    known = ", ".join("'" + c.replace("'", "''") + "'" for c in component_ids)
    component = f"replace(component_id, '{measure}__', '')"
    sql = (f"SELECT {component} AS component_id FROM (UNPIVOT (SELECT coalesce(CAST(COLUMNS('^{measure}__') AS VARCHAR), '') "
           f"FROM {{batch}} LIMIT 1) ON COLUMNS(*) INTO NAME component_id VALUE value) WHERE {component} NOT IN ({known})")
    if not stored:
        sql = "SELECT NULL AS component_id FROM {batch} WHERE false"
    return unexpected_rows("component_id in registry", sql)


# The exposure tables are audited as they are stored: wide, one column set per component, only the
# columns that cannot be derived (Exposures.stored_day_table); the contract views derive the rest.
def _stores(columns: Sequence[str] | None) -> Callable[[str], bool]:
    """Whether a wide table with these columns (None: any) stores a column of this name or prefix."""
    return lambda name: columns is None or any(c == name or c.startswith(f"{name}__") for c in columns)


OMEGA3_TOTAL_TOLERANCE = 1e-6  # g: items are summed in units of 1e-9, a million items' rounding


def omega3_total_at_least_its_parts(measure: str, keys: Sequence[str], columns: Sequence[str] | None) -> Check:
    """Blocking: the omega-3 total of every row (day or participant) is at least each of its parts
    (ALA, EPA, DHA) within rounding; a part with a value and no total fails too. The total is the
    sum of the parts and DPA, so a total below a part means values of different sources were mixed
    (gutaxis.exposure.omega3_total_from_parts). columns: the table's (None: unknown, nothing checked)."""
    from gutaxis.exposure import OMEGA3_PARTS, OMEGA3_TOTAL

    columns = columns or ()
    total = f"{measure}__{OMEGA3_TOTAL}"
    key_list = ", ".join(f'"{k}"' for k in keys)
    parts = [p for p in OMEGA3_PARTS if f"{measure}__{p}" in columns]
    if total not in columns or not parts:
        sql = f"SELECT {key_list} FROM {{batch}} WHERE false"
    else:
        sql = " UNION ALL ".join(
            f"SELECT {key_list}, '{part}' AS part, {total} AS total, {measure}__{part} AS part_amount FROM {{batch}} "
            f"WHERE coalesce({total}, 0) < {measure}__{part} - {OMEGA3_TOTAL_TOLERANCE}"
            for part in parts)
    return unexpected_rows(f"{measure} omega3_total >= each omega-3 part", sql)


def day_exposure_suite(component_ids: Sequence[str], columns: Sequence[str] | None = None) -> list[Check]:
    """Checks of a stored wide day table; columns: the table's (its derivable columns are not stored)."""
    keys = ("participant_id", "recall_day")
    stores = _stores(columns)
    energy = ("SELECT participant_id, recall_day, amount__energy_kcal FROM {batch} "
              "WHERE amount__energy_kcal < 300 OR amount__energy_kcal > 8000")
    return [
        *(not_null(column) for column in keys),
        compound_unique(keys),
        components_in_registry("amount", component_ids, stored=stores("amount")),
        # NULL amount means no route could compute it, so only the sign is checked.
        components_between("amount", keys, 0, None, name="amount >= 0", stored=stores("amount")),
        components_between("coverage", keys, 0, 1, name="coverage in [0, 1]", stored=stores("coverage")),
        components_between("source", keys, min(SOURCE_CODES), max(SOURCE_CODES),
                           name="source in {" + ", ".join(SOURCE_CODES.values()) + "}", stored=stores("source")),
        omega3_total_at_least_its_parts("amount", keys, columns),
        unexpected_rows(
            "daily energy in [300, 8000] kcal",
            energy if stores("amount__energy_kcal") else "SELECT participant_id, recall_day FROM {batch} WHERE false",
            severity="warn",
        ),
    ]


def participant_exposure_suite(component_ids: Sequence[str], columns: Sequence[str] | None = None) -> list[Check]:
    """Checks of a stored wide participant table; columns: the table's."""
    keys = ("participant_id",)
    stores = _stores(columns)
    return [
        not_null("participant_id"),
        unique("participant_id"),
        components_in_registry("mean_daily", component_ids, stored=stores("mean_daily")),
        between("n_days", 1, None),
        components_between("mean_daily", keys, 0, None, name="mean_daily >= 0", stored=stores("mean_daily")),
        components_between("coverage", keys, 0, 1, name="coverage in [0, 1]", stored=stores("coverage")),
        omega3_total_at_least_its_parts("mean_daily", keys, columns),
    ]


def food_contributions_suite() -> list[Check]:
    return [
        between("share", 0, 1),
        unexpected_rows(
            "shares sum to 1 per component",
            "SELECT cohort, component_id, sum(share) AS share_total FROM {batch} "
            "GROUP BY cohort, component_id "
            "HAVING sum(amount) > 0 AND abs(coalesce(sum(share), 0) - 1) > 1e-6",
        ),
    ]


# GX 1.24 counts a row query's rows with a second query around it (QueryRowCount), besides fetching
# them (QueryTable, which reads the buffered result); this is the counting query's text.
_ROW_COUNT_QUERY = re.compile(
    r"SELECT COUNT\(\*\) as unexpected_row_count FROM \((?P<query>.*)\) AS substituted_batch_subquery", re.DOTALL)
# Results of the running validate()'s text queries, to answer the same query or its count again
# (cleared when validate() starts and ends); results of more rows are not kept.
_fetched: dict[str, Any] = {}
REUSED_ROWS_MAX = 100_000


def _buffer_sql_results(engine_class: Any) -> None:
    """Make GX's SQL engine fetch each result before its connection closes (idempotent).

    GX 1.24 returns the cursor result from inside `with engine.connect()`, so it is read after
    the connection went back to the pool; the pool's rollback discards DuckDB's pending result and
    every metric comes back empty (IndexError, unexpected_count None). Buffering inside the
    connection context fixes it. Upstream: great_expectations issue #10738; a native DuckDB
    engine is proposed in PR #12084 — drop this when GX reads results before closing.

    A buffered result also answers the same query again: GX runs each row query twice, once for
    its rows and once inside SELECT COUNT(*), which for the uniqueness check of 100 M items is a
    second 2-second GROUP BY. Within one validate(), the query runs once and the count is the
    number of its rows (taken as a one-row SELECT of that number), whichever GX asks first.
    """
    execute = engine_class._execute_query_with_recovery
    if getattr(execute, "buffers_results", False):
        return
    from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa

    def execute_buffered(connection: Any, query: Any) -> Any:
        text = query.text if isinstance(query, sa.TextClause) else None
        counted = _ROW_COUNT_QUERY.fullmatch(text) if text is not None else None
        rows_query = counted["query"] if counted else text
        frozen = _fetched.get(rows_query) if rows_query is not None else None
        if frozen is None:
            result = execute_buffered.unbuffered(connection, sa.text(rows_query) if counted else query)
            if not result.returns_rows:
                return result
            frozen = result.freeze()
            if rows_query is not None and len(frozen.data) <= REUSED_ROWS_MAX:
                _fetched[rows_query] = frozen
        if counted:
            count = f"SELECT CAST({len(frozen.data)} AS BIGINT) AS unexpected_row_count"
            return execute_buffered.unbuffered(connection, sa.text(count)).freeze()()
        return frozen()

    execute_buffered.buffers_results = True
    execute_buffered.unbuffered = execute
    engine_class._execute_query_with_recovery = staticmethod(execute_buffered)


def _load_on_first_use(name: str) -> None:
    """Put in sys.modules a module whose code runs when one of its attributes is first read."""
    # importlib.util.LazyLoader. The module is also bound on its parent package: `from parent import
    # name` through the import machinery would read the module's __spec__, and that loads it.
    if name in sys.modules:
        return
    parent, _, child = name.rpartition(".")
    if parent:
        importlib.import_module(parent)
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    if parent:
        setattr(sys.modules[parent], child, module)


def _great_expectations() -> Any:
    """GX, imported on first use (~2 s of Python). Importing it in a thread during the ingest was
    measured at 100 M rows to save no wall time and cost ~10 CPU seconds: the ingest keeps both
    cores busy, and the two threads fight over the GIL."""
    # GX imports scipy.stats at import time only for its distribution expectations (KL divergence,
    # KS tests), which no suite here uses: 0.7 s of every run, so its loading waits for a first use.
    _load_on_first_use("scipy.stats")
    import great_expectations as gx
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine

    _buffer_sql_results(SqlAlchemyExecutionEngine)
    return gx


def validate(
    conn: duckdb.DuckDBPyConnection, table: str, expectations: list[Check], suite_name: str
) -> pl.DataFrame:
    """Run `expectations` on `table` (e.g. `store."diary_items__demo__ab12"`) through `conn`'s database.

    GX reads through cursors of `conn`, which see only committed rows: commit before calling.
    Returns one row per check (see RESULT_SCHEMA).
    """
    names = [check.name for check in expectations]
    if len(set(names)) != len(names):
        raise ValueError(f"suite {suite_name!r} has duplicate check names: {names}")
    if not expectations:
        return pl.DataFrame(schema=RESULT_SCHEMA)

    gx = _great_expectations()
    import duckdb_engine
    from great_expectations.data_context.types.base import ProgressBarsConfig

    schema, _, table_name = table.rpartition(".")
    cursors: list[duckdb.DuckDBPyConnection] = []

    def open_cursor() -> duckdb_engine.ConnectionWrapper:
        cursor = conn.cursor()
        if schema:
            # The schema goes in the connection, not the asset: GX 1.24 deprecates the asset's
            # schema_name, and its column lookup (SQLAlchemy 2.1 reflection queries
            # pg_catalog.pg_collation, which DuckDB lacks) falls back to an unqualified
            # `SELECT * FROM <table>` that only the search path can resolve.
            cursor.execute(f"SET search_path = '{schema},main'")
        cursors.append(cursor)
        return duckdb_engine.ConnectionWrapper(cursor)

    _fetched.clear()  # results are reused within this validation only (see _buffer_sql_results)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasource = context.data_sources.add_sql(
        "pipeline", connection_string="duckdb:///:memory:", kwargs={"creator": open_cursor}
    )
    try:
        try:
            asset = datasource.add_table_asset(table, table_name=table_name)
        except Exception as error:
            raise GutaxisError(f"cannot audit {table}: {_first_line(error)}") from error
        batch = asset.add_batch_definition_whole_table("whole table").get_batch()

        built = []
        for index, check in enumerate(expectations):
            expectation = check.expectation(gx)
            expectation.meta = {"gutaxis_check": index}
            built.append(expectation)
        # GX honours one result format per run, not the expectation's own. Row queries fetch
        # their sample (up to 200 rows) in any format, and only COMPLETE returns it to say which
        # groups failed; COMPLETE on a column check would fetch every unexpected value instead.
        is_row_query = [isinstance(e, gx.expectations.UnexpectedRowsExpectation) for e in built]
        row_queries = [e for e, row_query in zip(built, is_row_query) if row_query]
        column_checks = [e for e, row_query in zip(built, is_row_query) if not row_query]
        results = []
        for group, result_format in ((column_checks, "SUMMARY"), (row_queries, "COMPLETE")):
            if group:
                suite = gx.ExpectationSuite(name=suite_name, expectations=group)
                results += batch.validate(suite, result_format=result_format).results
    finally:
        _fetched.clear()
        for cursor in cursors:
            cursor.close()

    by_index = {result.expectation_config.meta["gutaxis_check"]: result for result in results}
    rows = [
        _result_row(suite_name, table, check, by_index[index])
        for index, check in enumerate(expectations)
    ]
    return pl.DataFrame(rows, schema=RESULT_SCHEMA, orient="row")


# Columns that locate a row of a diary or exposure table (the rest of an offending row is its value).
ROW_KEYS = ("participant_id", "recall_day", "item_seq", "food_code")
OFFENDING_SCHEMA = {"participant_id": pl.Utf8, "recall_day": pl.Int64, "food_code": pl.Utf8, "column": pl.Utf8,
                    "value": pl.Utf8}


def offending_rows(conn: duckdb.DuckDBPyConnection, table: str, check: Check, limit: int,
                   code_width: int | None = None) -> pl.DataFrame:
    """The first `limit` rows that break `check` on `table` (in participant, day, item order): their
    participant, day, food code (codes stored as numbers zero-padded to code_width) and the value
    that broke the rule (the check's column, else the row query's last column that is no key)."""
    if check.rows is None:
        return pl.DataFrame(schema=OFFENDING_SCHEMA)
    query = f"SELECT * FROM ({check.rows.format(batch=table)}) AS offending"
    columns = [d[0] for d in conn.execute(f"{query} LIMIT 0").description]
    values = [c for c in columns if c not in ROW_KEYS]
    value = check.column if check.column in columns else (values[-1] if values else None)
    order = ", ".join(f'"{k}"' for k in ROW_KEYS if k in columns) or "ALL"

    def text(column: str) -> str:
        return f'CAST("{column}" AS VARCHAR)' if column in columns else "CAST(NULL AS VARCHAR)"

    code = text("food_code")
    if "food_code" in columns and code_width:
        code = f"CASE WHEN typeof(food_code) LIKE '%INT%' THEN lpad({code}, {int(code_width)}, '0') ELSE {code} END"
    day = 'CAST("recall_day" AS BIGINT)' if "recall_day" in columns else "CAST(NULL AS BIGINT)"
    found = conn.execute(
        f"SELECT {text('participant_id')}, {day}, {code}, ?, {text(value) if value else 'CAST(NULL AS VARCHAR)'} "
        f"FROM ({query}) ORDER BY {order} LIMIT {int(limit)}", [value]).fetchall()
    return pl.DataFrame(found, schema=OFFENDING_SCHEMA, orient="row")


def _result_row(suite_name: str, table: str, check: Check, result: Any) -> tuple:
    outcome = result.result or {}
    errors = _exception_messages(result.exception_info)
    if "observed_value" in outcome:
        unexpected, elements = outcome["observed_value"], None
    else:
        unexpected, elements = outcome.get("unexpected_count"), outcome.get("element_count")
    if errors:
        detail = "error: " + "; ".join(dict.fromkeys(errors))
    elif result.success:
        detail = None
    elif "observed_value" in outcome:
        examples = (outcome.get("details") or {}).get("unexpected_rows") or []
        detail = f"{unexpected} rows, e.g. {_compact(examples)}"
    else:
        examples = [value for value in outcome.get("partial_unexpected_list") or [] if value is not None]
        detail = f"{unexpected} of {elements} rows" + (f", e.g. {_compact(examples)}" if examples else "")
    return (
        suite_name,
        table,
        check.name,
        check.column,
        check.severity,
        bool(result.success) and not errors,
        None if unexpected is None else int(unexpected),
        None if elements is None else int(elements),
        None if detail is None else detail[:DETAIL_MAX_CHARS],
    )


def _exception_messages(exception_info: Any) -> list[str]:
    """GX nests exception info per metric when several metrics failed; flatten either shape."""
    if not exception_info:
        return []
    if "raised_exception" in exception_info:
        infos = [exception_info]
    else:
        infos = [info for info in exception_info.values() if isinstance(info, dict)]
    return [_first_line(info.get("exception_message")) for info in infos if info.get("raised_exception")]


def _first_line(message: Any) -> str:
    return str(message).strip().splitlines()[0] if str(message).strip() else type(message).__name__


def _compact(values: list) -> str:
    shown = ", ".join(_show(value) for value in values[:EXAMPLES_SHOWN])
    return f"[{shown}{', ...' if len(values) > EXAMPLES_SHOWN else ''}]"


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={item}" for key, item in value.items()) + "}"
    return str(value)
