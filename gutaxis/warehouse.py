"""The DuckDB warehouse: schema, one-writer lock, staging, audit tables and atomic publishing."""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import duckdb
import polars as pl
import pyarrow as pa

from gutaxis import DATA_DIR, SQL_DIR, GutaxisError, faults
from gutaxis.components import component_ids, registry
from gutaxis.exposure import DAY_MEASURES, PARTICIPANT_MEASURES, SOURCE_CODES

DEFAULT_WAREHOUSE = DATA_DIR / "warehouse.duckdb"
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Published per-cohort tables and the columns a publish copies from staging (the contract).
COHORT_TABLES = {
    "cohort.diary_items": ("cohort", "participant_id", "recall_day", "item_seq", "food_source", "food_code", "grams"),
    "cohort.participants": ("cohort", "participant_id", "external_id", "sex", "age_years", "race_ethnicity",
                            "income_poverty_ratio", "pregnant", "cycle", "stratum", "psu", "wt_interview", "wt_mec",
                            "wt_day1", "wt_two_day", "has_usable_recall", "extra_attributes"),
    "cohort.outcomes": ("cohort", "participant_id", "outcome_id", "value", "unit", "sample_type", "assay", "extraction",
                        "kit", "lod", "below_lod", "fasting", "collected_at"),
    "marts.population_estimates": ("cohort", "analysis_id", "variable", "statistic", "quantile", "subpopulation", "domain",
                                   "domain_value", "estimate", "se", "ci_low", "ci_high", "n", "df", "weight", "method",
                                   "reliability_flag"),
    "marts.association_estimates": ("cohort", "hypothesis_id", "exposure", "exposure_scale", "contrast", "outcome",
                                    "model", "covariates", "subpopulation", "estimate", "se", "ci_low", "ci_high",
                                    "p_value", "p_trend", "n", "df", "weight", "method", "status"),
    "marts.participant_day_exposure": ("cohort", "participant_id", "recall_day", "component_id", "amount", "unit", "coverage", "source"),
    "marts.participant_exposure": ("cohort", "participant_id", "n_days", "component_id", "mean_daily", "per_1000kcal", "unit", "coverage", "low_coverage"),
    "marts.food_contributions": ("cohort", "component_id", "food_code", "description", "amount", "share"),
    "marts.usual_intake_distribution": ("cohort", "component_id", "domain", "domain_value", "percentile", "value", "se",
                                        "mean", "model", "lambda", "var_within", "var_between", "n_persons",
                                        "n_with_repeat", "unit", "status", "var_between_probability",
                                        "corr_between", "model_reason"),
    "marts.participant_usual_intake": ("cohort", "participant_id", "component_id", "usual_intake", "unit", "method"),
    "marts.participant_day_index": ("cohort", "participant_id", "recall_day", "index_id", "component", "score", "max_score"),
    "marts.participant_index": ("cohort", "participant_id", "index_id", "component", "score", "max_score"),
}


def warehouse_path(path: str | Path | None = None) -> Path:
    return Path(path or os.environ.get("GUTAXIS_WAREHOUSE") or DEFAULT_WAREHOUSE)


def ident(name: str) -> str:
    """Quote an SQL identifier after checking it is a plain name (never trust names from specs or files)."""
    if not IDENTIFIER.match(name):
        raise GutaxisError(f"{name!r} is not a safe SQL identifier; use letters, digits and _")
    return f'"{name}"'


# contract views whose cohort tables are stored wide -> the per-component measures of their columns
WIDE_VIEWS = {"marts.participant_day_exposure": DAY_MEASURES, "marts.participant_exposure": PARTICIPANT_MEASURES}
# contract view -> kind of the store table behind it
PUBLISHED_KINDS = {
    "cohort.diary_items": "diary_items",
    "cohort.participants": "participants",
    "marts.participant_day_exposure": "day_exposure",
    "marts.participant_exposure": "participant_exposure",
    "marts.food_contributions": "food_contributions",
    "cohort.outcomes": "outcomes",
    "marts.population_estimates": "population_estimates",
    "marts.association_estimates": "association_estimates",
    "marts.usual_intake_distribution": "usual_intake_distribution",
    "marts.participant_usual_intake": "participant_usual_intake",
    "marts.participant_day_index": "day_index",
    "marts.participant_index": "participant_index",
}
# Kinds a run stages only when its cohort declares analysis; publishing a run without them publishes none
# (an empty table), so that a spec that drops its outcomes drops its published outcomes too.
ANALYSIS_KINDS = ("outcomes", "population_estimates", "association_estimates", "usual_intake_distribution",
                  "participant_usual_intake")
# Kinds the index step stages (gutaxis.indices.steps); a run published without them publishes none.
INDEX_KINDS = ("day_index", "participant_index")
# The schema files ensure_schema applies, in order.
DDL_FILES = ("ddl.sql", "analysis_ddl.sql", "index_ddl.sql")


def staging_table(kind: str, cohort: str, run_key: str) -> str:
    """Run-scoped table a run stages into, e.g. store."diary_items__demo__1a2b3c4d"; publishing makes it
    the cohort's published table without copying a row."""
    return "store." + ident(f"{kind}__{cohort_in_names(cohort)}__{run_key}")


def cohort_in_names(cohort: str) -> str:
    """The cohort as it is written in table and file names: `_` as `_0`, `-` as `_1`. One name per cohort
    (a-b, a_b and a__b stay apart, where mapping - to _ made the first two one), and never a `__`, the
    separator of kind, cohort and run key."""
    return cohort.replace("_", "_0").replace("-", "_1")


def _of_cohort(cohort: str) -> str:
    """A regular expression matching exactly the cohort's run-scoped names (kind__COHORT__runkey): a kind is
    lowercase words joined by single `_`, a run key letters and digits."""
    return rf"[a-z]+(_[a-z]+)*__{re.escape(cohort_in_names(cohort))}__[a-z0-9]+"


_lock_state = threading.local()


@contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """One writer at a time on a warehouse, across processes; re-entrant within a thread.

    DuckDB refuses a second writing process outright ("could not set lock"); this lock makes the
    second gutaxis process wait instead, and the OS releases it if the holder is killed.
    """
    held: dict = getattr(_lock_state, "held", None) or {}
    _lock_state.held = held
    key = str(Path(path).resolve())
    if held.get(key):
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    lock_path = Path(key + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"gutaxis: another run is writing {path}; waiting for it to finish ...", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        held[key] = 1
        try:
            yield
        finally:
            held.pop(key, None)
            fcntl.flock(handle, fcntl.LOCK_UN)


def work_path(path: Path) -> Path:
    """The writer's own database beside the published one: warehouse.duckdb -> warehouse.work.duckdb."""
    return path.with_name(f"{path.stem}.work{path.suffix}")


_session_state = threading.local()


@contextmanager
def writer_session(path: str | Path | None = None) -> Iterator[None]:
    """Within this block (and thread), open_writer() on this warehouse hands out one connection, opened at
    its first use and closed at the end, instead of opening the work database anew for every step.

    A run of one cohort opens the writer a dozen times or more; each opening of a database with a few
    hundred tables loads its catalog (~0.06 CPU s). Every open_writer block still ends with a
    CHECKPOINT; a block that raises closes the connection (as before: its open transaction is rolled
    back), and the next one opens it again, recovering publishes as a fresh opening does.
    """
    work = work_path(warehouse_path(path)).resolve()
    with writer_lock(warehouse_path(path)):
        sessions: dict = getattr(_session_state, "sessions", None) or {}
        _session_state.sessions = sessions
        if work in sessions:  # nested: the outer block owns the connection
            yield
            return
        sessions[work] = {"pid": os.getpid(), "conn": None, "in_use": False}
        try:
            yield
        finally:
            session = sessions.pop(work)
            if session["conn"] is not None and session["pid"] == os.getpid():
                session["conn"].close()


def _session(work: Path) -> dict | None:
    session = (getattr(_session_state, "sessions", None) or {}).get(work.resolve())
    return session if session is not None and session["pid"] == os.getpid() else None  # never a forked parent's


@contextmanager
def open_writer(path: str | Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Lock the warehouse and open the writer's work database (schema ensured); checkpoint and close on exit
    (inside writer_session(): checkpoint, and keep the connection for the session's next block).

    Analysts never see this file: they read the published snapshot that publish_snapshot() swaps in.
    """
    path = warehouse_path(path)
    with writer_lock(path):
        work = work_path(path)
        session = _session(work)
        if session is not None and session["in_use"]:
            session = None  # a block inside another block gets its own connection, as outside a session
        if session is not None and session["conn"] is not None:
            conn = session["conn"]
        else:
            conn = _open_work(path, work)
            if session is not None:
                session["conn"] = conn
        if session is not None:
            session["in_use"] = True
        kept = False
        try:
            yield conn
            conn.execute("CHECKPOINT")
            kept = session is not None
        except duckdb.Error as exc:
            damaged = _damaged_error(work, path, exc)
            if damaged:
                raise damaged from None
            raise
        finally:
            if session is not None:
                session["in_use"] = False
            if not kept:
                if session is not None:
                    session["conn"] = None
                conn.close()


def _open_work(path: Path, work: Path) -> duckdb.DuckDBPyConnection:
    """Open the work database (copied from the published one when missing), its schema ensured and
    interrupted publishes recovered."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not work.exists() and path.exists():
        shutil.copyfile(path, work)  # a warehouse from before the work file existed, or a lost work file
    # DuckDB's share of the 6 GB budget: the big frames live in polars (a 100 M-item cohort's
    # items, ~2.8 GB, stay in memory until its exposures are computed); DuckDB spills beyond it.
    try:
        conn = duckdb.connect(str(work), config={"memory_limit": os.environ.get("GUTAXIS_DUCKDB_MEMORY", "2GB"),
                                                  "preserve_insertion_order": False})
    except duckdb.Error as exc:
        raise _damaged_error(work, path, exc) or exc
    try:
        ensure_schema(conn)
        recover_publishes(conn)
    except duckdb.Error as exc:
        conn.close()
        raise _damaged_error(work, path, exc) or exc
    except BaseException:
        conn.close()
        raise
    return conn


# What DuckDB says when a database file is cut short (a full disk, a copy stopped halfway) or is not one.
DAMAGE_SIGNS = {"Could not read enough bytes": "truncated", "not a valid DuckDB database file": "not a DuckDB database",
                "Corrupt database file": "corrupt", "checksum": "corrupt (a block's checksum does not match)"}


def _damaged_error(work: Path, published: Path, exc: duckdb.Error) -> GutaxisError | None:
    """A one-line error for a damaged work database, with the fix; None for any other DuckDB error."""
    for sign, what in DAMAGE_SIGNS.items():
        if sign in str(exc):
            return GutaxisError(f"{work}: the work database is {what}; move it aside and run again (the run rebuilds it "
                                f"from the published {published.name}, which is unchanged)")
    return None


def publish_snapshot(conn: duckdb.DuckDBPyConnection) -> Path:
    """Atomically replace the analysts' database with a copy of the (checkpointed) work database.

    Called with the writer lock held, at the end of every step that changes what analysts should
    see (a publish, a failed run's audit, a composition load). Readers that have the old file open
    keep reading it (the rename does not touch the open inode); new connections see the new one.
    A run killed before this point leaves the previous snapshot in place.
    """
    work = _database_file(conn)
    path = snapshot_path(conn)
    conn.execute("CHECKPOINT")  # everything committed is now in the main file; the WAL is empty
    for stale in path.parent.glob(f"{path.name}.tmp-*"):  # left by a run killed mid-copy
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        shutil.copyfile(work, tmp)
        faults.point("snapshot-copy")
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        faults.point("snapshot-fsynced")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def snapshot_path(conn: duckdb.DuckDBPyConnection) -> Path:
    """The analysts' database beside the writer's: warehouse.work.duckdb -> warehouse.duckdb."""
    work = _database_file(conn)
    return work.with_name(work.name.replace(".work", "", 1))


@contextmanager
def open_reader(path: str | Path | None = None, wait_seconds: float = 10.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the published snapshot (DuckDB refuses every write on it)."""
    path = warehouse_path(path)
    if not path.exists():
        raise GutaxisError(f"{path}: no published warehouse yet; run `gutaxis run` first")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            conn = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.IOException:  # only another tool holding the file for writing can cause this
            if time.monotonic() > deadline:
                raise GutaxisError(f"{path}: another program holds this file for writing; close it and retry") from None
            time.sleep(0.2)
    try:
        yield conn
    finally:
        conn.close()


def run_sql_file(conn: duckdb.DuckDBPyConnection, name: str, **params: str) -> None:
    sql = (SQL_DIR / name).read_text(encoding="utf-8")
    conn.execute(sql.format(**params) if params else sql)


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Apply sql/ddl.sql unless this database has that very text applied already: its few hundred
    statements took 0.1 s on every opening of the writer, and a run of one cohort opens it a dozen times."""
    ddl = "\n".join((SQL_DIR / name).read_text(encoding="utf-8") for name in DDL_FILES)
    digest = hashlib.sha256(ddl.encode("utf-8")).hexdigest()
    try:
        applied = conn.execute("SELECT ddl_sha256 FROM store.schema_applied").fetchall()
    except duckdb.CatalogException:  # a new database, or one from before the table existed
        applied = []
    if applied != [(digest,)]:
        conn.execute(ddl)
        conn.execute("DELETE FROM store.schema_applied")
        conn.execute("INSERT INTO store.schema_applied VALUES (?)", [digest])
    if conn.execute("SELECT count(*) FROM duckdb_views() WHERE schema_name = 'marts' AND view_name IN "
                    "('participant_exposure_wide', 'analysis_participant')").fetchall()[0][0] < 2:
        refresh_views(conn)


def _published_views(conn: duckdb.DuckDBPyConnection) -> None:
    """(Re)create each contract view as its empty template UNION ALL every cohort's published table,
    and give the view the template's comments (CREATE OR REPLACE drops them)."""
    published = conn.execute("SELECT kind, cohort, table_name FROM store.published ORDER BY cohort").fetchall()
    units = dict(conn.execute("SELECT component_id, unit FROM reference.components").fetchall())
    for view, kind in PUBLISHED_KINDS.items():
        cols = ", ".join(ident(c) for c in COHORT_TABLES[view])
        selects = [f"SELECT {cols} FROM store.{ident(kind)}"]
        for k, cohort, table in published:
            if k == kind:
                selects += _published_selects(conn, view, cohort, table, units)
        conn.execute(f"CREATE OR REPLACE VIEW {view} AS " + " UNION ALL ".join(selects))
        schema, name = view.split(".")
        comments = conn.execute("SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = 'store' AND table_name = ?",
                                [kind]).fetchall()
        table_comment = conn.execute("SELECT comment FROM duckdb_tables() WHERE schema_name = 'store' AND table_name = ?",
                                     [kind]).fetchall()[0][0]
        conn.execute(f"COMMENT ON VIEW {view} IS " + _sql_string(table_comment))
        for column, comment in comments:
            if comment:
                conn.execute(f"COMMENT ON COLUMN {view}.{ident(column)} IS " + _sql_string(comment))


def _published_selects(conn: duckdb.DuckDBPyConnection, view: str, cohort: str, table: str, units: dict[str, str]) -> list[str]:
    """The SELECTs that show one cohort's published table in the shape of a contract view.

    Exposure tables are stored wide (a column set per component, only what cannot be derived: see
    Exposures.stored_day_table); each registry component becomes one SELECT of the view, deriving
    the rest (_measure), so a filter on component_id reads one column set. Other tables, and
    exposure tables published before they were stored wide, are shown as they are.
    """
    stored = dict(conn.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'store' AND table_name = ? ORDER BY column_index",
        [table]).fetchall())
    template = dict(conn.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'store' AND table_name = ?",
                                 [PUBLISHED_KINDS[view]]).fetchall())
    columns = list(stored)
    wanted = COHORT_TABLES[view]

    item_source = conn.execute("SELECT food_source, code_width FROM store.item_sources WHERE table_name = ?",
                               [table]).fetchall()
    constants = {"cohort": _sql_string(cohort)}
    if item_source:
        constants["food_source"] = _sql_string(item_source[0][0])

    def shown(column: str) -> str:
        """A stored column in the contract's type: the run's constants, integer ids as text, integer
        codes zero-padded to the source's width."""
        if column not in stored:  # a run's constants, or a column added after the table was published
            return constants.get(column, f"CAST(NULL AS {template[column]})")
        if stored[column] == template[column]:
            return ident(column)
        if column == "food_code" and item_source:
            return f"lpad(CAST(food_code AS VARCHAR), {int(item_source[0][1])}, '0')"
        return f"CAST({ident(column)} AS {template[column]})"

    if "component_id" in columns or view not in WIDE_VIEWS:
        return [f"SELECT {', '.join(f'{shown(c)} AS {ident(c)}' for c in wanted)} FROM store.{ident(table)}"]
    settings = conn.execute("SELECT low_coverage_threshold FROM store.exposure_settings WHERE table_name = ?",
                            [table]).fetchall()
    threshold = settings[0][0] if settings else None
    first_measure = WIDE_VIEWS[view][0]
    stored_components = [c.split("__", 1)[1] for c in columns if c.startswith(f"{first_measure}__")]
    # Registry components the table has no columns for had no source in its run: NULL, coverage 0.
    components = [*stored_components, *(c for c in units if c not in stored_components)]
    selects = []
    for component in components:
        fixed = {**constants, "component_id": _sql_string(component), "unit": _sql_string(units.get(component))}
        exprs = []
        for column in wanted:
            if column in fixed:
                exprs.append(f"{fixed[column]} AS {ident(column)}")
            elif column in WIDE_VIEWS[view]:
                exprs.append(f"{_measure(column, component, stored, threshold)} AS {ident(column)}")
            else:
                exprs.append(f"{shown(column)} AS {ident(column)}")
        selects.append(f"SELECT {', '.join(exprs)} FROM store.{ident(table)}")
    return selects


def wide_participant_exposure_select(conn: duckdb.DuckDBPyConnection, table: str, units: dict[str, str],
                                     measures: tuple[str, ...] = ("mean_daily", "per_1000kcal")) -> str | None:
    """A SELECT of one wide participant-exposure store table giving participant_id (text, as the contract
    view shows it), n_days and `<component>_<measure>` for every registry component, each derived as
    marts.participant_exposure derives it (_measure): the view's rows pivoted to one per participant,
    without building the long rows (16 per participant) and pivoting them back. None for a table stored
    long (published before exposures were stored wide)."""
    stored = dict(conn.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'store' "
                               "AND table_name = ? ORDER BY column_index", [table]).fetchall())
    if "component_id" in stored:
        return None
    settings = conn.execute("SELECT low_coverage_threshold FROM store.exposure_settings WHERE table_name = ?",
                            [table]).fetchall()
    threshold = settings[0][0] if settings else None
    participant = ("participant_id" if stored.get("participant_id") == "VARCHAR"
                   else "CAST(participant_id AS VARCHAR)")
    exprs = [f"{participant} AS participant_id", "n_days"]
    exprs += [f"{_measure(m, c, stored, threshold)} AS {ident(f'{c}_{m}')}" for c in units for m in measures]
    return f"SELECT {', '.join(exprs)} FROM store.{ident(table)}"


def _measure(measure: str, component: str, stored: dict[str, str], threshold: float | None) -> str:
    """One component's measure in a contract view: its stored column, or what the stored ones imply
    (Exposures.stored_day_table / stored_participant_table keep only what cannot be derived)."""
    def has(m: str) -> bool:
        return f"{m}__{component}" in stored

    def col(m: str) -> str:
        return ident(f"{m}__{component}")

    if measure == "source":
        if has("source"):  # the instrument reports the component: a code per day
            return f"CASE {col('source')} " + " ".join(f"WHEN {code} THEN {_sql_string(name)}" for code, name in SOURCE_CODES.items()) + " END"
        # otherwise only composition gives it: wherever there is an amount
        return f"CASE WHEN {col('amount')} IS NOT NULL THEN 'composition' END" if has("amount") else "CAST(NULL AS VARCHAR)"
    if has(measure):
        return col(measure)
    if measure == "coverage":
        return "CAST(0 AS DOUBLE)"
    if measure == "per_1000kcal" and has("mean_daily") and "mean_daily__energy_kcal" in stored:
        # the same IEEE operations as Exposures.participant_table: (1000 x mean) / mean energy
        return (f"CASE WHEN mean_daily__energy_kcal > 0 THEN CAST(1000 AS DOUBLE) * {col('mean_daily')} "
                f"/ mean_daily__energy_kcal END")
    if measure == "low_coverage" and threshold is not None:
        coverage = col("coverage") if has("coverage") else "CAST(0 AS DOUBLE)"
        return f"({coverage} < CAST('{float(threshold)!r}' AS DOUBLE))"
    return "CAST(NULL AS BOOLEAN)" if measure == "low_coverage" else "CAST(NULL AS DOUBLE)"


def _sql_string(text: str | None) -> str:
    # COMMENT ON takes no parameters; the texts are the project's own DDL comments
    return "NULL" if text is None else "'" + text.replace("'", "''") + "'"


def refresh_views(conn: duckdb.DuckDBPyConnection) -> None:
    _published_views(conn)
    quoted = ", ".join("'" + c + "'" for c in component_ids())  # registry ids are checked slugs
    run_sql_file(conn, "views.sql", component_ids=quoted)
    _comment_wide_view(conn)
    _analysis_participant_view(conn)


WIDE_KEY_COMMENTS = {
    "cohort": "Cohort name.",
    "participant_id": "Participant id, as in cohort.diary_items.",
    "n_days": "Number of the participant's included recall days (the days each mean is over).",
}


def _comment_wide_view(conn: duckdb.DuckDBPyConnection) -> None:
    """A comment with its unit on every column of marts.participant_exposure_wide (a PIVOT: its
    component columns follow the registry, so the comments are written from it, not in views.sql)."""
    components = {row["component_id"]: row for row in registry().iter_rows(named=True)}
    for column, comment in WIDE_KEY_COMMENTS.items():
        conn.execute(f"COMMENT ON COLUMN marts.participant_exposure_wide.{ident(column)} IS {_sql_string(comment)}")
    for component_id, row in components.items():
        comment = (f"{row['name']}: mean daily intake in {row['unit']}/day over the participant's included recall days "
                   f"(marts.participant_exposure.mean_daily; per 1000 kcal and coverage are there). 0 = none eaten; "
                   f"NULL = no route could compute it.")
        conn.execute(f"COMMENT ON COLUMN marts.participant_exposure_wide.{ident(component_id)} IS {_sql_string(comment)}")



def _analysis_participant_view(conn: duckdb.DuckDBPyConnection) -> None:
    """marts.analysis_participant: a column pair per registry component, a column per registered index (its
    total) and a column per registered outcome."""
    exposure = "".join(
        f", max(mean_daily) FILTER (WHERE component_id = '{c}') AS {ident(c + '_mean_daily')}"
        f", max(per_1000kcal) FILTER (WHERE component_id = '{c}') AS {ident(c + '_per_1000kcal')}"
        for c in component_ids())
    outcome_ids = [o for (o,) in conn.execute("SELECT outcome_id FROM reference.outcomes ORDER BY outcome_id").fetchall()
                   if IDENTIFIER.match(o)]
    outcome = "".join(f", avg(value) FILTER (WHERE outcome_id = '{o}') AS {ident(o)}" for o in outcome_ids if o != "oxytocin")
    if "oxytocin" in outcome_ids:
        method = "concat_ws('/', coalesce(sample_type, '?'), coalesce(assay, '?'), coalesce(extraction, '?'))"
        outcome += (f", CASE WHEN count(DISTINCT {method}) FILTER (WHERE outcome_id = 'oxytocin') = 1 "
                    "THEN avg(value) FILTER (WHERE outcome_id = 'oxytocin') END AS oxytocin"
                    f", CASE WHEN count(DISTINCT {method}) FILTER (WHERE outcome_id = 'oxytocin') > 1 THEN 'several methods' "
                    f"ELSE min({method}) FILTER (WHERE outcome_id = 'oxytocin') END AS oxytocin_method")
    from gutaxis.indices import INDICES

    # each registered index's total on the participant's mean intakes, named as analyses name it (scale: index)
    index = "".join(f", max(score) FILTER (WHERE index_id = '{i}' AND component = 'total') AS {ident(i + '_index')}"
                    for i in INDICES if IDENTIFIER.match(i))
    run_sql_file(conn, "analysis_views.sql", exposure_columns=exposure, outcome_columns=outcome, index_columns=index)


def load_outcome_registry(conn: duckdb.DuckDBPyConnection) -> int:
    """Load reference.outcomes (data/reference/outcomes.csv); unchanged costs no write."""
    from gutaxis.analysis.outcomes import outcome_registry

    outcomes = outcome_registry()
    loaded = conn.sql("SELECT outcome_id, name, unit, kind, low, high FROM reference.outcomes ORDER BY outcome_id").pl()
    if loaded.equals(outcomes.select(loaded.columns).sort("outcome_id")):
        return outcomes.height
    conn.execute("BEGIN")
    conn.execute("DELETE FROM reference.outcomes")
    execute_on_frame(conn, "INSERT INTO reference.outcomes BY NAME SELECT * FROM incoming", outcomes)
    conn.execute("COMMIT")
    refresh_views(conn)
    publish_snapshot(conn)
    return outcomes.height


def load_reference(conn: duckdb.DuckDBPyConnection) -> int:
    """Load the component registry; an unchanged registry costs no write and no snapshot copy."""
    components = registry()
    loaded = conn.sql(f"SELECT {', '.join(components.columns)} FROM reference.components ORDER BY component_id").pl()
    if loaded.equals(components.sort("component_id")):
        return components.height
    conn.execute("BEGIN")
    conn.execute("DELETE FROM reference.components")
    conn.execute("INSERT INTO reference.components BY NAME SELECT * FROM components")
    conn.execute("COMMIT")
    refresh_views(conn)
    publish_snapshot(conn)
    return components.height


def execute_on_frame(conn: duckdb.DuckDBPyConnection, sql: str, frame: pl.DataFrame, params: list | None = None) -> list[tuple]:
    """Run `sql`, in which the frame is the table `incoming`, then forget the frame; its result rows."""
    conn.register("incoming", _arrow(frame))
    try:
        return conn.execute(sql, params or []).fetchall()
    finally:
        conn.unregister("incoming")


def _arrow(frame: pl.DataFrame) -> pa.Table | pl.DataFrame:
    """The frame as an Arrow table without copying its columns.

    polars' own conversion first rechunks columns whose chunks do not line up (a streaming
    collect leaves about a thousand chunks, a column added afterwards has one): for 100 M items
    a 2-second copy of gigabytes. Arrow tables allow columns chunked differently.
    """
    if frame.height == 0 or all(frame[name].n_chunks() == 1 for name in frame.columns):
        return frame
    return pa.Table.from_arrays([pa.chunked_array([chunk.to_arrow() for chunk in frame[name].get_chunks()])
                                 for name in frame.columns], names=frame.columns)


def replace_source(conn: duckdb.DuckDBPyConnection, source_id: str, foods: pl.DataFrame, food_components: pl.DataFrame) -> None:
    """Replace one composition source's rows in one transaction."""
    conn.execute("BEGIN")
    try:
        for table, frame in (("composition.foods", foods), ("composition.food_components", food_components)):
            conn.execute(f"DELETE FROM {table} WHERE source = ?", [source_id])
            execute_on_frame(conn, f"INSERT INTO {table} BY NAME SELECT * FROM incoming", frame)
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise


def record_item_source(conn: duckdb.DuckDBPyConnection, items_table: str, food_source: str, code_width: int) -> None:
    """Note a staged items table's food source and code width (the contract view shows them)."""
    name = items_table.split(".", 1)[1].strip('"')
    conn.execute("DELETE FROM store.item_sources WHERE table_name = ?", [name])
    conn.execute("INSERT INTO store.item_sources VALUES (?, ?, ?)", [name, food_source, code_width])


def record_exposure_settings(conn: duckdb.DuckDBPyConnection, participant_table: str, low_coverage_threshold: float) -> None:
    """Note a staged participant exposure table's low-coverage threshold (the contract view derives low_coverage)."""
    name = participant_table.split(".", 1)[1].strip('"')
    conn.execute("DELETE FROM store.exposure_settings WHERE table_name = ?", [name])
    conn.execute("INSERT INTO store.exposure_settings VALUES (?, ?)", [name, low_coverage_threshold])


def _forget_dropped_table_notes(conn: duckdb.DuckDBPyConnection) -> None:
    for notes in ("store.item_sources", "store.exposure_settings"):
        conn.execute(f"DELETE FROM {notes} WHERE table_name NOT IN "
                     "(SELECT table_name FROM duckdb_tables() WHERE schema_name = 'store')")


def column_names(conn: duckdb.DuckDBPyConnection, qualified: str) -> list[str]:
    schema, name = qualified.split(".", 1)
    return [c for (c,) in conn.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
                                       "ORDER BY column_index", [schema, name.strip('"')]).fetchall()]


def table_exists(conn: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".", 1)
    return bool(conn.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                             [schema, name.strip('"')]).fetchall()[0][0])


def stage_parts(conn: duckdb.DuckDBPyConnection, kind: str, cohort: str, run_key: str,
                parts: Iterable[tuple[dict[str, object], pl.DataFrame]], columns: tuple[str, ...], append: bool = False,
                compression: Mapping[str, str] | None = None) -> str:
    """Stage a table part by part (e.g. one chunk of participants at a time), adding each part's
    constant columns (e.g. the cohort name) in SQL so that the frames never carry them row by row.
    compression: DuckDB compression method per column (e.g. {"grams": "alp"}) for a new table."""
    table = staging_table(kind, cohort, run_key)
    if not append:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    for constants, frame in parts:
        values = {**constants}
        select = ", ".join(f"CAST(? AS {_sql_type(values[c])}) AS {ident(c)}" if c in values else ident(c) for c in columns)
        params = [values[c] for c in columns if c in values]
        exists = table_exists(conn, table)
        if compression and not exists:
            _create_compressed(conn, table, select, frame, params, compression)
            exists = True
        verb = f"INSERT INTO {table} SELECT" if exists else f"CREATE TABLE {table} AS SELECT"
        if frame.estimated_size() <= PARQUET_HANDOFF_BYTES or not holds_text(frame):
            execute_on_frame(conn, f"{verb} {select} FROM incoming", frame, params)  # numbers: no copy
            continue
        # A big frame with text reaches DuckDB through a temporary Parquet file: handing DuckDB the
        # frame itself converts its string columns to Arrow's layout first, a second copy of gigabytes;
        # and once written, the frame is let go before DuckDB loads it (pass it from a generator
        # that holds no other reference, and its memory is free for DuckDB's). Below the threshold
        # the copy is the cheaper way: 6.7 M rows with a text id (155 MB) took 1.0 s as Arrow and
        # 2.5 s through Parquet.
        target = _temp_folder(conn) / f"{table.replace('.', '_').replace(chr(34), '')}.incoming.parquet"
        target.parent.mkdir(exist_ok=True)
        try:
            frame.write_parquet(target, compression="lz4")
            del frame
            quoted = str(target).replace("'", "''")
            conn.execute(f"{verb} {select} FROM read_parquet('{quoted}')", params)
        finally:
            target.unlink(missing_ok=True)
    return table


PARQUET_HANDOFF_BYTES = 500_000_000


def _create_compressed(conn: duckdb.DuckDBPyConnection, table: str, select: str, frame: pl.DataFrame, params: list,
                       compression: Mapping[str, str]) -> None:
    """Create `table` with the columns `select` gives from `frame`, each named in `compression` with
    that method. DuckDB otherwise tries every method on every column segment: for 100 M items that
    analysis was a third of the insert (participant ids in runs: 2.1 s analysed, 0.8 s as RLE)."""
    shape = execute_on_frame(conn, f"DESCRIBE SELECT {select} FROM incoming", frame.head(0), params)
    columns = [f"{ident(name)} {dtype}" + (f" USING COMPRESSION {compression[name]}" if name in compression else "")
               for name, dtype, *_ in shape]
    conn.execute(f"CREATE TABLE {table} ({', '.join(columns)})")


def holds_text(frame: pl.DataFrame) -> bool:
    """Whether a frame has text columns: those reach DuckDB through a Parquet file when big (stage_parts)."""
    return any(dtype == pl.String for dtype in frame.schema.dtypes())


def _sql_type(value: object) -> str:
    if isinstance(value, datetime):
        return "TIMESTAMP"
    if isinstance(value, bool):
        return "BOOLEAN"
    return "VARCHAR" if isinstance(value, str) else "INTEGER" if isinstance(value, int) else "DOUBLE"


def _database_file(conn: duckdb.DuckDBPyConnection) -> Path:
    return Path(conn.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()[0][0])


def _temp_folder(conn: duckdb.DuckDBPyConnection) -> Path:
    work = _database_file(conn)
    return work.with_name(work.name + ".tmp")


@contextmanager
def exported_chunks(conn: duckdb.DuckDBPyConnection, table: str, columns: str, key: str, n_chunks: int) -> Iterator[list[Path]]:
    """The table's columns split by hash(key) into n_chunks temporary Parquet folders beside the work
    database (DuckDB writes them in one streaming pass with bounded memory), removed on exit.

    Every row of one key value lands in the same chunk, so per-key aggregates can be computed a
    chunk at a time.
    """
    folder = _temp_folder(conn) / f"{table.replace('.', '_').replace(chr(34), '')}.chunks"
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(exist_ok=True)
    try:
        quoted = str(folder).replace("'", "''")
        conn.execute(f"COPY (SELECT {columns}, hash({ident(key)}) % {int(n_chunks)} AS chunk FROM {table}) "
                     f"TO '{quoted}' (FORMAT parquet, PARTITION_BY (chunk))")
        yield sorted(p for p in folder.iterdir() if p.is_dir())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def unpublished_tables(conn: duckdb.DuckDBPyConnection, cohort: str | None = None) -> list[str]:
    """store tables that runs staged and no publish adopted (a failed, killed or running run's)."""
    pattern = f"^{_of_cohort(cohort)}$" if cohort else "__.*__"
    rows = conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'store' AND regexp_matches(table_name, ?) "
        "AND table_name NOT IN (SELECT table_name FROM store.published) "
        # a pending publish's previous tables are kept until its snapshot is confirmed or undone
        "AND table_name NOT IN (SELECT previous_table FROM store.pending_publish WHERE previous_table IS NOT NULL) "
        "ORDER BY table_name", [pattern]).fetchall()
    return [name for (name,) in rows]


def drop_staging(conn: duckdb.DuckDBPyConnection, cohort: str) -> list[str]:
    """Drop a cohort's unpublished staging tables (left by failed or killed runs)."""
    dropped = unpublished_tables(conn, cohort)
    for name in dropped:
        conn.execute(f"DROP TABLE IF EXISTS store.{ident(name)}")
    _forget_dropped_table_notes(conn)
    hand_off = re.compile(rf"store_{_of_cohort(cohort)}\..*")
    for leftover in _temp_folder(conn).glob("store_*"):  # a killed run's hand-off files
        if hand_off.fullmatch(leftover.name):
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)
    return dropped


def publish_cohort(conn: duckdb.DuckDBPyConnection, cohort: str, run_key: str) -> dict[str, int]:
    """Make the run's staged tables the cohort's published ones, in one transaction.

    No row is copied: store.published points each (cohort, kind) at the run's table, the contract
    views are rebuilt over the pointers and audit.runs says published. The previous tables stay,
    noted in store.pending_publish, until the analysts' snapshot has the new state
    (finish_publish); if the snapshot fails, revert_publish restores them, so that publishing and
    the snapshot succeed or fail together.
    """
    counts = {}
    conn.execute("BEGIN")
    try:
        conn.execute("DELETE FROM store.pending_publish WHERE cohort = ?", [cohort])
        for view, kind in PUBLISHED_KINDS.items():
            table = staging_table(kind, cohort, run_key)
            if kind in (*ANALYSIS_KINDS, *INDEX_KINDS) and not table_exists(conn, table):
                conn.execute(f"CREATE TABLE {table} AS SELECT * FROM store.{ident(kind)} LIMIT 0")
            counts[view] = conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            old = conn.execute("SELECT table_name, run_id, published_at FROM store.published WHERE cohort = ? AND kind = ?",
                               [cohort, kind]).fetchall()
            conn.execute("INSERT INTO store.pending_publish VALUES (?, ?, ?, ?, ?, ?)",
                         [cohort, run_key, kind, *(old[0] if old else (None, None, None))])
            conn.execute("DELETE FROM store.published WHERE cohort = ? AND kind = ?", [cohort, kind])
            conn.execute("INSERT INTO store.published VALUES (?, ?, ?, ?, ?)",
                         [cohort, kind, table.split(".", 1)[1].strip('"'), run_key, utc_now()])
            faults.point("publish-mid-transaction")
        refresh_views(conn)
        record_run(conn, run_key, cohort=cohort, outcome="published", finished=True)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return counts


def unpublish_cohort(conn: duckdb.DuckDBPyConnection, cohort: str) -> int:
    """Take a cohort out of the published tables in one transaction: its store.published rows and
    tables go, the contract views are rebuilt without it; audit.* keeps its rows. The number of
    tables dropped (0 when it was not published)."""
    conn.execute("BEGIN")
    try:
        tables = [t for (t,) in conn.execute("SELECT table_name FROM store.published WHERE cohort = ?", [cohort]).fetchall()]
        # a publish left between its commit and its snapshot: its previous tables go too
        tables += [t for (t,) in conn.execute("SELECT previous_table FROM store.pending_publish WHERE cohort = ? "
                                              "AND previous_table IS NOT NULL", [cohort]).fetchall()]
        conn.execute("DELETE FROM store.published WHERE cohort = ?", [cohort])
        conn.execute("DELETE FROM store.pending_publish WHERE cohort = ?", [cohort])
        for table in tables:
            conn.execute(f"DROP TABLE IF EXISTS store.{ident(table)}")
        _forget_dropped_table_notes(conn)
        if tables:
            refresh_views(conn)
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    return len(tables)


def finish_publish(conn: duckdb.DuckDBPyConnection, cohort: str, run_key: str) -> None:
    """Once the analysts' snapshot shows the run: drop the tables it replaced and forget the note."""
    conn.execute("BEGIN")
    try:
        previous = conn.execute("SELECT previous_table FROM store.pending_publish WHERE cohort = ? AND run_id = ? "
                                "AND previous_table IS NOT NULL", [cohort, run_key]).fetchall()
        for (table,) in previous:
            conn.execute(f"DROP TABLE IF EXISTS store.{ident(table)}")
        conn.execute("DELETE FROM store.pending_publish WHERE cohort = ? AND run_id = ?", [cohort, run_key])
        _forget_dropped_table_notes(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def revert_publish(conn: duckdb.DuckDBPyConnection, cohort: str, run_key: str, outcome: str) -> bool:
    """Undo a publish whose snapshot did not happen: the previous tables are published again and
    the run gets `outcome`; its own tables become unpublished staging (drop_staging removes them).
    False if the run has no publish to undo."""
    conn.execute("BEGIN")
    try:
        pending = conn.execute("SELECT kind, previous_table, previous_run_id, previous_published_at FROM store.pending_publish "
                               "WHERE cohort = ? AND run_id = ?", [cohort, run_key]).fetchall()
        for kind, table, previous_run, published_at in pending:
            conn.execute("DELETE FROM store.published WHERE cohort = ? AND kind = ?", [cohort, kind])
            if table is not None:
                conn.execute("INSERT INTO store.published VALUES (?, ?, ?, ?, ?)", [cohort, kind, table, previous_run, published_at])
        if pending:
            conn.execute("DELETE FROM store.pending_publish WHERE cohort = ? AND run_id = ?", [cohort, run_key])
            refresh_views(conn)
            conn.execute("UPDATE audit.runs SET outcome = ?, finished = ? WHERE run_id = ?", [outcome[:500], utc_now(), run_key])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return bool(pending)


def recover_publishes(conn: duckdb.DuckDBPyConnection) -> None:
    """Complete or undo publishes that a killed process left between its commit and its snapshot,
    by what the analysts' snapshot shows: they keep seeing what audit.runs names."""
    pending = conn.execute("SELECT DISTINCT cohort, run_id FROM store.pending_publish ORDER BY ALL").fetchall()
    if not pending:
        return
    snapshot = snapshot_path(conn)
    for cohort, run_key in pending:
        if _snapshot_shows(snapshot, cohort, run_key):
            finish_publish(conn, cohort, run_key)
        else:
            revert_publish(conn, cohort, run_key, "killed (while publishing; its snapshot was never written)")
            drop_staging(conn, cohort)


def _snapshot_shows(snapshot: Path, cohort: str, run_key: str) -> bool:
    if not snapshot.exists():
        return False
    try:
        reader = duckdb.connect(str(snapshot), read_only=True)
    except duckdb.Error:
        return False
    try:
        return bool(reader.execute("SELECT count(*) FROM store.published WHERE cohort = ? AND run_id = ?",
                                   [cohort, run_key]).fetchall()[0][0])
    except duckdb.Error:
        return False
    finally:
        reader.close()


def published_run(conn: duckdb.DuckDBPyConnection, cohort: str) -> str | None:
    """The run key whose tables are the cohort's published ones (None: nothing published)."""
    rows = conn.execute("SELECT DISTINCT run_id FROM store.published WHERE cohort = ?", [cohort]).fetchall()
    return rows[0][0] if len(rows) == 1 else None


def append_audit(conn: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, **constants: object) -> None:
    """Append rows to an audit.* table, adding constant columns (run_id, cohort) by name."""
    if table not in {"audit.validations", "audit.quarantine", "audit.inclusion", "audit.linkage", "audit.reach",
                     "audit.unreached_foods", "audit.warned_rows", "audit.index_status",
                     "audit.index_thresholds"}:
        raise ValueError(table)
    if frame.height == 0:
        return
    # the constants are added in SQL: on 6.7 M inclusion rows, text columns built in polars cost seconds
    added = ", ".join(f"CAST(? AS {_sql_type(v)}) AS {ident(k)}" for k, v in constants.items())
    execute_on_frame(conn, f"INSERT INTO {table} BY NAME SELECT *{', ' + added if added else ''} FROM incoming",
                     frame.drop(list(constants), strict=False), list(constants.values()))


def clear_audit(conn: duckdb.DuckDBPyConnection, cohort: str, run_key: str) -> None:
    """Forget a run's row-level audit rows (before re-writing them, so a retried step is idempotent)."""
    for table in ("audit.quarantine", "audit.inclusion", "audit.linkage", "audit.validations", "audit.warned_rows"):
        conn.execute(f"DELETE FROM {table} WHERE cohort = ? AND run_id = ?", [cohort, run_key])


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def record_run(conn: duckdb.DuckDBPyConnection, run_key: str, *, cohort: str, dagster_run_id: str | None = None,
               outcome: str, code_version: str | None = None, input_sha256: dict | None = None,
               source_versions: dict | None = None, finished: bool = False, spec_sha256: str | None = None) -> None:
    """Insert or update the run's row in audit.runs."""
    exists = conn.execute("SELECT count(*) FROM audit.runs WHERE run_id = ?", [run_key]).fetchall()[0][0]
    if not exists:
        conn.execute(
            "INSERT INTO audit.runs (run_id, dagster_run_id, cohort, started, finished, code_version, input_sha256, "
            "source_versions, outcome, spec_sha256) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)",
            [run_key, dagster_run_id, cohort, utc_now(), code_version, json.dumps(input_sha256 or {}, sort_keys=True),
             json.dumps(source_versions or {}, sort_keys=True), outcome, spec_sha256],
        )
    else:
        conn.execute("UPDATE audit.runs SET outcome = ?, finished = CASE WHEN ? THEN ? ELSE finished END WHERE run_id = ?",
                     [outcome, finished, utc_now(), run_key])
        if input_sha256 is not None:
            conn.execute("UPDATE audit.runs SET input_sha256 = ? WHERE run_id = ?",
                         [json.dumps(input_sha256, sort_keys=True), run_key])
