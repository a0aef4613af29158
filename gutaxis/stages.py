"""The per-cohort steps of a run (ingest, exposures, audit, publish), shared by Dagster and notebooks.

Every step takes an open warehouse connection and a run key; staged tables are committed so that
Great Expectations (through a cursor) and the next step see them.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import duckdb
import polars as pl

from gutaxis import PROJECT_ROOT, GutaxisError, __version__, faults
from gutaxis import composition as composition_sources
from gutaxis import day_totals, dietary_weights, handoff, interrupts, nhanes_tot_join, quality, source_status, warehouse
from gutaxis.components import component_ids, units
from gutaxis.diaries import read_diary
from gutaxis.exposure import (Exposures, compute_chunk, composition_wide, food_contributions, food_grams,
                              participant_slices, unlinked_codes)
from gutaxis.formats import REPORTED_PREFIX
from gutaxis.specs import CohortSpec, SourceSpec, load_source_spec

T = TypeVar("T")
R = TypeVar("R")
NOT_IN_SOURCE = "not in the composition source"  # audit.linkage.reason of a code the source lacks
# recall_day upper bound per format (None: only >= 1)
RECALL_DAY_MAX = {"nhanes-iff": 2, "asa24-items": None, "tabular": None, "nhanes-tot": 2, "asa24-totals": None,
                  "tabular-totals": None}


def run_key(dagster_run_id: str) -> str:
    """Short, SQL-safe key of a Dagster run; staging tables and audit rows carry it."""
    return dagster_run_id.replace("-", "")[:16]


def code_width(source: SourceSpec) -> int:
    """SR codes are 5 digits, FNDDS (and the demo) 8."""
    return 5 if source.format == "sr28-ascii" else 8


def sha256_files(paths: list[Path]) -> dict[str, str]:
    digests = {}
    for path in paths:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digests[path.name] = digest.hexdigest()
    return digests


def spec_sha256(spec: CohortSpec) -> str:
    """The spec file's sha256, folded with the analysis files naming the cohort and its attribute and
    outcome tables: their estimates are published with the exposures, so a change to any of them is a
    change to the cohort (the sensor compares this with the published run's)."""
    from gutaxis.analysis.declarations import analysis_inputs

    digest = hashlib.sha256(spec.spec_path.read_bytes())
    for path in analysis_inputs(spec):
        digest.update(f"\0{path.name}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def code_version() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                                text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+{commit}" if commit else __version__


def load_source(conn: duckdb.DuckDBPyConnection, source_id: str) -> dict:
    """Load a fetched composition source into composition.* unless the same files are already there."""
    spec = load_source_spec(source_id)
    if not composition_sources.is_available(spec):
        return {"source": source_id, "status": "not fetched"}
    folder = composition_sources.source_folder(spec)
    files = sorted(p for p in folder.iterdir() if p.is_file())
    # the readers' code and the registry count too: a reader that reads a new component (the HEI's sodium
    # and fatty acids) must reload a source that an older checkout loaded without it
    code = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in READER_CODE if p.is_file()}
    fingerprint = hashlib.sha256(json.dumps([sha256_files(files), code], sort_keys=True).encode()).hexdigest()
    loaded = conn.execute("SELECT fingerprint FROM audit.source_loads WHERE source = ?", [source_id]).fetchall()
    if loaded and loaded[0][0] == fingerprint:
        return {"source": source_id, "status": "up to date"}
    comp = composition_sources.load(source_id)
    warehouse.replace_source(conn, source_id, comp.foods.with_columns(pl.lit(source_id).alias("source")),
                             comp.food_components.with_columns(pl.lit(source_id).alias("source")))
    conn.execute("DELETE FROM audit.source_loads WHERE source = ?", [source_id])
    conn.execute("INSERT INTO audit.source_loads VALUES (?, ?, ?, ?, ?, ?)",
                 [source_id, spec.version, fingerprint, comp.foods.height, comp.food_components.height, warehouse.utc_now()])
    warehouse.publish_snapshot(conn)
    return {"source": source_id, "status": "loaded", "foods": comp.foods.height, "values": comp.food_components.height}


# The code that turns a source's files into composition rows: the format readers and the registry.
READER_CODE = (*sorted((PROJECT_ROOT / "gutaxis" / "formats").glob("*.py")),
               PROJECT_ROOT / "gutaxis" / "components" / "registry.py", PROJECT_ROOT / "data" / "reference" / "components.csv")


# The engine modules whose code decides derived values: a change to one re-derives (an upgraded
# checkout must not keep the values, or miss the audit tables, of the code it replaced).
# Every module of the components package, plus the source loading it reads from: a change to any of
# them re-derives the FNDDS foods' values.
DERIVATION_CODE = (*sorted((PROJECT_ROOT / "gutaxis" / "components").glob("*.py")),
                   PROJECT_ROOT / "gutaxis" / "composition.py", PROJECT_ROOT / "gutaxis" / "reference_tables.py")


def _derivation_fingerprint(conn: duckdb.DuckDBPyConnection) -> str:
    """Changes when a loaded source, a fetched input file, a reference table or the derivation code changes."""
    from gutaxis import DATA_DIR, raw_dir

    loads = conn.execute("SELECT source, fingerprint FROM audit.source_loads ORDER BY source").fetchall()
    files = sorted(p for folder in (raw_dir(), DATA_DIR / "reference") if folder.is_dir() for p in folder.rglob("*") if p.is_file())
    stats = [(str(p.relative_to(p.parents[1])), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    code = [hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None for p in DERIVATION_CODE]
    return hashlib.sha256(json.dumps([loads, stats, __version__, code]).encode()).hexdigest()


def load_derived(conn: duckdb.DuckDBPyConnection) -> dict:
    """Derive the FNDDS foods' missing components (gutaxis.components.derived) and store them with their routes."""
    from gutaxis.components import derived

    source = derived.FNDDS_SOURCE
    if not conn.execute("SELECT count(*) FROM audit.source_loads WHERE source = ?", [source]).fetchall()[0][0]:
        return {"status": f"{source} not loaded; nothing to derive"}
    fingerprint = _derivation_fingerprint(conn)
    done = conn.execute("SELECT count(*) FROM audit.derivations WHERE fingerprint = ?", [fingerprint]).fetchall()[0][0]
    if done:
        return {"status": "up to date", **yogurt_crosscheck_summary(conn)}
    foods = conn.sql("SELECT food_code, description FROM composition.foods WHERE source = $1", params=[source]).pl()
    analytical = conn.sql("SELECT food_code, component_id FROM composition.food_components WHERE source = $1 AND route = 'analytical'",
                          params=[source]).pl()
    result = derived.derive(foods, analytical)
    rows = result.food_components.with_columns(pl.lit(source).alias("source"))
    now = warehouse.utc_now()
    conn.execute("BEGIN")
    try:
        conn.execute("DELETE FROM composition.food_components WHERE source = ? AND route <> 'analytical'", [source])
        warehouse.execute_on_frame(conn, "INSERT INTO composition.food_components BY NAME SELECT * FROM incoming", rows)
        conn.execute("DELETE FROM audit.derivations")
        conn.executemany("INSERT INTO audit.derivations VALUES (?, ?, ?, ?, ?)",
                         [(*r, fingerprint, now) for r in result.sources.rows()])
        conn.execute("DELETE FROM audit.withheld_values")
        if result.withheld.height:
            withheld = result.withheld.with_columns(pl.lit(source).alias("source"), pl.lit(now).alias("derived_at"))
            warehouse.execute_on_frame(conn, "INSERT INTO audit.withheld_values BY NAME SELECT * FROM incoming", withheld)
        if result.protein_agreement.height:
            conn.execute("DELETE FROM audit.protein_agreement")
            agreement = result.protein_agreement.with_columns(pl.lit(now).alias("derived_at"))
            warehouse.execute_on_frame(conn, "INSERT INTO audit.protein_agreement BY NAME SELECT * FROM incoming", agreement)
        # the cross-check describes the values just stored: without FPED there is none, not an old one
        conn.execute("DELETE FROM audit.yogurt_crosscheck")
        if result.yogurt_crosscheck is not None and result.yogurt_crosscheck.height:
            warehouse.execute_on_frame(conn, "INSERT INTO audit.yogurt_crosscheck BY NAME SELECT * FROM incoming",
                                       result.yogurt_crosscheck.with_columns(pl.lit(now).alias("derived_at")))
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    warehouse.publish_snapshot(conn)
    counts = dict(rows.group_by("component_id").len().rows())
    missing = [r[0] for r in result.sources.rows() if r[1] in ("not fetched", "not available")]
    return {"status": "derived", "values": rows.height, "not fetched": ", ".join(missing) or "none",
            "values withheld": result.withheld.height, **{f"foods with {k}": v for k, v in sorted(counts.items())},
            **yogurt_crosscheck_summary(conn)}


def yogurt_crosscheck_summary(conn: duckdb.DuckDBPyConnection) -> dict:
    """The stored FPED yogurt cross-check in a few numbers (asset metadata), or why there is none."""
    n, agree, from_fped, independent, fped_only = conn.execute("""
        SELECT count(*) FILTER (WHERE agree IS NOT NULL), count(*) FILTER (WHERE agree),
               count(*) FILTER (WHERE yogurt_from = 'fped'),
               round(avg(agree::INT) FILTER (WHERE yogurt_from <> 'fped'), 4),
               count(*) FILTER (WHERE fermented_g = 0 AND fped_yogurt_g > 0)
        FROM audit.yogurt_crosscheck""").fetchall()[0]
    if not n:
        return {"yogurt cross-check": "not run: FPED not fetched (gutaxis fetch fped-2017-2018 --from PATH)"}
    return {"yogurt cross-check": f"{agree} of {n} foods agree with FPED D_YOGURT within 15 g/100 g (audit.yogurt_crosscheck)",
            "yogurt cross-check share agree (not from FPED)": float(independent) if independent is not None else 0.0,
            "mixed dishes with yogurt grams from FPED": int(from_fped),
            "foods with FPED yogurt counted 0 (cooked, frozen)": int(fped_only)}


def _require_source_loaded(conn: duckdb.DuckDBPyConnection, spec: CohortSpec) -> str:
    rows = conn.execute("SELECT version FROM audit.source_loads WHERE source = ?", [spec.composition]).fetchall()
    if not rows:
        raise GutaxisError(f"{spec.spec_path}: composition source {spec.composition!r} is not loaded; "
                           f"run `gutaxis fetch {spec.composition}` (or `--from PATH`) and run again")
    return rows[0][0]


def ingest(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str, dagster_run_id: str | None = None) -> dict:
    """Read, type and rule-check the diary; stage items and participants; log quarantine and inclusion."""
    if day_totals.is_day_totals(spec):
        return _ingest_day_totals(conn, spec, run_key, dagster_run_id)
    from gutaxis import sharded_run

    if sharded_run.is_sharded(spec):
        return sharded_run.ingest(conn, spec, run_key, dagster_run_id)
    source_spec = load_source_spec(spec.composition)
    files = start_run(conn, spec, run_key, dagster_run_id)
    width = code_width(source_spec)
    with _files_kept(files), ThreadPoolExecutor(max_workers=1, thread_name_prefix="gutaxis-sha256") as pool:
        # The input files are hashed while they are read (hashlib releases the GIL): 0.3 s alone
        # for the 100 M-row bench diary (328 MB, cached), up to 2 s when it comes from disk.
        hashing = pool.submit(sha256_files, files)
        try:
            diary = read_diary(spec, width)
        finally:  # recorded for a run that fails on its input too
            if hashing.exception() is None:
                warehouse.record_run(conn, run_key, cohort=spec.name, outcome="running", input_sha256=hashing.result())
        hashing.result()  # a file that cannot be hashed fails the run as it did before the read
    n_items = diary.items.height
    # The run's constants (cohort, food source, code width) are not stored on every item: the
    # contract view adds them from store.item_sources and store.published.
    constants = ("cohort", "food_source")
    item_columns = (*(c for c in warehouse.COHORT_TABLES["cohort.diary_items"] if c not in constants),
                    *(c for c in diary.items.columns if c.startswith(REPORTED_PREFIX)))
    items = diary.items
    items_schema = items.schema
    diary = replace(diary, items=items.clear())  # staging (and the exposures) are the items' holders
    warehouse.clear_audit(conn, spec.name, run_key)
    if not warehouse.holds_text(items):
        # Numbers only: DuckDB reads the frame in place, and the exposures step takes it. They need
        # no item numbers (0.4 GB freed once staged); the frame is built from its columns because
        # DataFrame.drop would rechunk the rest (a copy of 2.4 GB at 100 M items).
        handoff.put(spec.name, run_key, pl.DataFrame([items[c] for c in items.columns if c != "item_seq"]))
    holder = [items]
    del items
    items_table = warehouse.stage_parts(conn, "diary_items", spec.name, run_key, _handing_over({}, holder), item_columns,
                                        compression=item_compression(items_schema, n_items, diary.item_runs))
    warehouse.record_item_source(conn, items_table, spec.composition, width)
    # the diary gives ids and dietary weights; gutaxis.analysis.steps.stage_participants adds attributes and design
    weights = dietary_weights.of_item_diary(spec)
    weights_read = _stage_participants(conn, spec, run_key,
                                       dietary_weights.with_participants(diary.participants, weights, diary.inclusion), weights)
    faults.point("ingest")
    warehouse.append_audit(conn, "audit.quarantine", diary.quarantine, run_id=run_key, cohort=spec.name)
    warehouse.append_audit(conn, "audit.inclusion", diary.inclusion, run_id=run_key, cohort=spec.name)
    # items kept without a code the file printed unreadably: unlinked, with why (the exposures step
    # adds the codes the composition lacks)
    warehouse.append_audit(conn, "audit.linkage", diary.untrusted_codes, food_source=spec.composition,
                           run_id=run_key, cohort=spec.name)
    _record_row_counts(conn, run_key, diary.rows_read, n_items, diary.quarantine.height, diary.excluded_rows)
    excluded = diary.inclusion.filter(~pl.col("included")).height
    return {"items": n_items, "participants": diary.participants.height,
            "quarantined": diary.quarantine.height, "excluded_recalls": excluded, "rows_read": diary.rows_read,
            "dietary weights": weights_read}


def _record_row_counts(conn: duckdb.DuckDBPyConnection, run_key: str, read: int, published: int, quarantined: int,
                       excluded: int) -> None:
    """The run's row accounting in audit.runs (items, or days of a day-totals file, as rows published);
    checked against the stored tables by quality.rows_accounted, a blocking check of the audit."""
    conn.execute("UPDATE audit.runs SET rows_read = ?, rows_published = ?, rows_quarantined = ?, rows_excluded = ? "
                 "WHERE run_id = ?", [read, published, quarantined, excluded, run_key])


def start_run(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str, dagster_run_id: str | None) -> list[Path]:
    """The start of an item diary's ingest: the source is loaded, leftovers of killed or failed runs
    are dropped, and the run is recorded as running; returns the data files."""
    _require_source_loaded(conn, spec)
    files = spec.data_files()
    warehouse.drop_staging(conn, spec.name)  # leftovers of killed or failed runs
    # We hold the writer lock, so an unfinished run of this cohort is a run that was killed.
    conn.execute("UPDATE audit.runs SET outcome = 'killed (found unfinished by run ' || ? || ')', finished = ? "
                 "WHERE cohort = ? AND finished IS NULL AND run_id <> ?", [run_key, warehouse.utc_now(), spec.name, run_key])
    warehouse.record_run(conn, run_key, cohort=spec.name, dagster_run_id=dagster_run_id, outcome="running",
                         code_version=code_version(), source_versions=source_status.sources_used(conn, spec.composition),
                         spec_sha256=spec_sha256(spec))
    handoff.drop(spec.name)
    return files


def composition_of(conn: duckdb.DuckDBPyConnection, spec: CohortSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The cohort's composition source: (food_code, component_id, amount_per_100g) and (food_code, description)."""
    food_components = conn.sql(
        "SELECT food_code, component_id, amount_per_100g FROM composition.food_components WHERE source = $1",
        params=[spec.composition]).pl()
    foods = conn.sql("SELECT food_code, description FROM composition.foods WHERE source = $1", params=[spec.composition]).pl()
    return food_components, foods


@contextmanager
def _files_kept(files: list[Path]) -> Iterator[None]:
    """A data file that vanishes while the run reads it (deleted, moved, an unmounted share) is named
    as such, whatever the reader or hasher made of the missing bytes."""
    try:
        yield
    except Exception:
        gone = [path for path in files if not path.exists()]
        if not gone:
            raise
        raise GutaxisError(f"{gone[0]}: the data file disappeared while the run read it (deleted or moved?); "
                           "put it back, or fix the spec's 'path', and run again") from None


def _stage_participants(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str, participants: pl.DataFrame,
                        weights: pl.DataFrame) -> str:
    """Stage the diary's participants with their dietary weights; says which file variable each weight came from."""
    warehouse.stage_parts(conn, "participants", spec.name, run_key, [({}, participants)], tuple(participants.columns))
    found = [f"{w} from {weights[f'{w}_variable'][0]}" for w in dietary_weights.WEIGHTS
             if weights.height and weights[f"{w}_variable"][0] is not None]
    return ", ".join(found) or "none"


def _ingest_day_totals(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str, dagster_run_id: str | None) -> dict:
    """Ingest of a day-totals cohort: its rows are the days. Stages the wide day table (the exposures
    as the file gives them), no items (an empty items table, so that publishing replaces the
    cohort's old items too), the participants and the dietary weights; logs quarantine and inclusion.
    No composition is used, so none needs to be loaded."""
    files = spec.data_files()
    warehouse.drop_staging(conn, spec.name)
    conn.execute("UPDATE audit.runs SET outcome = 'killed (found unfinished by run ' || ? || ')', finished = ? "
                 "WHERE cohort = ? AND finished IS NULL AND run_id <> ?", [run_key, warehouse.utc_now(), spec.name, run_key])
    warehouse.record_run(conn, run_key, cohort=spec.name, dagster_run_id=dagster_run_id, outcome="running",
                         code_version=code_version(), source_versions={})
    handoff.drop(spec.name)
    try:
        totals = day_totals.read_day_totals(spec, component_ids())
    finally:
        warehouse.record_run(conn, run_key, cohort=spec.name, outcome="running", input_sha256=sha256_files(files))
    warehouse.clear_audit(conn, spec.name, run_key)
    item_columns = tuple(c for c in warehouse.COHORT_TABLES["cohort.diary_items"] if c not in ("cohort", "food_source"))
    no_items = pl.DataFrame(schema={"participant_id": pl.String, "recall_day": pl.Int32, "item_seq": pl.Int32,
                                    "food_code": pl.Int64, "grams": pl.Float64})
    items_table = warehouse.stage_parts(conn, "diary_items", spec.name, run_key, [({}, no_items)], item_columns)
    warehouse.record_item_source(conn, items_table, spec.composition, code_width(load_source_spec(spec.composition)))
    warehouse.stage_parts(conn, "day_exposure", spec.name, run_key, [({}, day_totals.day_table(totals))],
                          tuple(day_totals.day_table(totals).columns))
    # ids and dietary weights, as for item diaries; gutaxis.analysis.steps.stage_participants adds attributes and design
    weights_read = _stage_participants(conn, spec, run_key, dietary_weights.with_participants(
        totals.participants, totals.weights, totals.inclusion), totals.weights)
    faults.point("ingest")
    warehouse.append_audit(conn, "audit.quarantine", totals.quarantine, run_id=run_key, cohort=spec.name)
    warehouse.append_audit(conn, "audit.inclusion", totals.inclusion, run_id=run_key, cohort=spec.name)
    _record_row_counts(conn, run_key, totals.rows_read, totals.days.height, totals.quarantine.height, totals.excluded_rows)
    return {"items": 0, "days": totals.days.height, "rows_read": totals.rows_read, "participants": totals.participants.height,
            "quarantined": totals.quarantine.height,
            "excluded_recalls": totals.inclusion.filter(~pl.col("included")).height,
            "components": ", ".join(totals.components), "dietary weights": weights_read}


def _day_totals_exposures(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str) -> dict:
    """Exposures of a day-totals cohort: the participant means from the staged day table; no food
    contributions (there are no items) and no linkage."""
    day_t = warehouse.staging_table("day_exposure", spec.name, run_key)
    days = conn.sql(f"SELECT * FROM {day_t}").pl()
    components = [c.split("__", 1)[1] for c in days.columns if c.startswith("amount__")]
    participants = day_totals.participant_table(days, components)
    warehouse.stage_parts(conn, "participant_exposure", spec.name, run_key, [({}, participants)], tuple(participants.columns))
    warehouse.record_exposure_settings(conn, warehouse.staging_table("participant_exposure", spec.name, run_key),
                                       spec.low_coverage_threshold)
    no_contributions = pl.DataFrame(schema={"component_id": pl.String, "food_code": pl.String, "description": pl.String,
                                            "amount": pl.Float64, "share": pl.Float64})
    warehouse.stage_parts(conn, "food_contributions", spec.name, run_key, [({"cohort": spec.name}, no_contributions)],
                          warehouse.COHORT_TABLES["marts.food_contributions"])
    faults.point("exposures")
    conn.execute("DELETE FROM audit.linkage WHERE cohort = ? AND run_id = ?", [spec.name, run_key])
    return {"days": days.height, "chunks": 1, "unlinked_codes": 0, "unlinked_items": 0,
            "food contributions": "none (day totals have no items)"}


def item_compression(schema: pl.Schema, n_items: int, item_runs: int) -> dict[str, str]:
    """DuckDB compression for the staged items' number columns, chosen rather than analysed (see
    warehouse._create_compressed). Measured on 100 M items: ids and days in runs as RLE 0.8 s
    instead of 2.1 s; 8-digit food codes gain nothing from bit packing (0.42 GB either way) and
    store 0.7 s faster without it; grams as ALP, which is what the analysis picks."""
    methods = {"item_seq": "bitpacking", "grams": "alp"}
    if schema["food_code"].is_integer():
        methods["food_code"] = "uncompressed"
    if item_runs and n_items >= 4 * item_runs:  # items come grouped by recall, as instruments write them
        methods.update((key, "rle") for key in ("participant_id", "recall_day") if schema[key].is_integer())
    return methods


def chunk_rows() -> int:
    """Items per exposure chunk; big cohorts are computed a slice of participants at a time so that
    memory stays bounded (GUTAXIS_CHUNK_ROWS overrides, e.g. to test chunking on small data).
    At 100 M items and 16 components, 4 M-item chunks peaked 0.3 GB lower than 8 M but took 30 %
    longer in the exposures step (more, smaller staging appends run one at a time)."""
    return int(os.environ.get("GUTAXIS_CHUNK_ROWS") or 8_000_000)


def _handing_over(constants: dict, holder: list[pl.DataFrame]):
    """Yield the one frame in holder, keeping no reference, so that the consumer can free it."""
    yield constants, holder.pop()


def _one_ahead(compute: Callable[[T], R], inputs: Iterator[T]) -> Iterator[R]:
    """compute(x) for each input, the next one in a worker thread while the caller uses this one's
    result: the exposures of a chunk are computed while DuckDB stages the previous chunk's (both
    engines release the GIL), one extra chunk's results in memory."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gutaxis-exposures") as pool:
        pending: Future | None = None
        for item in inputs:
            submitted = pool.submit(compute, item)
            del item
            if pending is not None:
                yield pending.result()
            pending = submitted
        if pending is not None:
            yield pending.result()


@contextmanager
def _participant_chunks(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str) -> Iterator[Iterator[pl.LazyFrame]]:
    """The run's items, a slice of participants at a time: the ingest's frame if this process ran
    the ingest (gutaxis.handoff), else the staged table, exported in participant chunks."""
    items = handoff.take(spec.name, run_key)
    if items is not None:
        yield (chunk.lazy() for chunk in participant_slices(items, chunk_rows()))
        return
    items_table = warehouse.staging_table("diary_items", spec.name, run_key)
    n_items = conn.execute(f"SELECT count(*) FROM {items_table}").fetchall()[0][0]
    n_chunks = max(1, -(-n_items // chunk_rows()))
    with warehouse.exported_chunks(conn, items_table, "* EXCLUDE (item_seq)", "participant_id", n_chunks) as folders:
        yield (pl.scan_parquet(folder / "*.parquet") for folder in folders)


def compute_exposures(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str) -> dict:
    """Link staged items to the composition and stage the three exposure tables, chunk by chunk."""
    if day_totals.is_day_totals(spec):
        return _day_totals_exposures(conn, spec, run_key)
    from gutaxis import sharded_run

    if sharded_run.is_sharded(spec):
        return sharded_run.compute_exposures(conn, spec, run_key)
    food_components, foods = composition_of(conn, spec)
    components = component_ids()
    wide = composition_wide(food_components, components)
    contrib_parts, unlinked_parts, days, n_chunks = [], [], 0, 0

    def computed(items: pl.LazyFrame) -> tuple[Exposures, pl.DataFrame, pl.DataFrame]:
        result = compute_chunk(items, wide, components, units(), spec.low_coverage_threshold)
        return result, result.stored_day_table(), result.stored_participant_table()

    with _participant_chunks(conn, spec, run_key) as chunks:
        for chunk, (result, day_table, participant_table) in enumerate(_one_ahead(computed, chunks)):
            n_chunks += 1
            # only what cannot be derived is stored (Exposures.stored_*_table); the views add the rest
            for kind, table in (("day_exposure", day_table), ("participant_exposure", participant_table)):
                warehouse.stage_parts(conn, kind, spec.name, run_key, [({}, table)], tuple(table.columns), append=chunk > 0)
            del day_table, participant_table, table
            contrib_parts.append(result.contrib_fixed)
            unlinked_parts.append(result.unlinked_fixed)
            days += result.day_wide.height
            del result
    linkage = finish_exposures(conn, spec, run_key, contrib_parts, unlinked_parts, food_components, foods)
    return {"days": days, "chunks": n_chunks, "unlinked_codes": linkage.height,
            "unlinked_items": int(linkage["n_items"].sum()) if linkage.height else 0}


def finish_exposures(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str, contrib_parts: list[pl.DataFrame],
                     unlinked_parts: list[pl.DataFrame], food_components: pl.DataFrame, foods: pl.DataFrame) -> pl.DataFrame:
    """After the day and participant tables are staged: settings, the cohort's food contributions and
    reach from the chunks' exact per-food sums, and the unlinked codes (returned)."""
    components = component_ids()
    warehouse.record_exposure_settings(conn, warehouse.staging_table("participant_exposure", spec.name, run_key),
                                       spec.low_coverage_threshold)
    width = code_width(load_source_spec(spec.composition))
    contributions = food_contributions(contrib_parts, foods, components, width)
    warehouse.stage_parts(conn, "food_contributions", spec.name, run_key, [({"cohort": spec.name}, contributions)],
                          warehouse.COHORT_TABLES["marts.food_contributions"])
    faults.point("exposures")
    linkage = unlinked_codes(unlinked_parts, width)
    grams_by_food = food_grams(contrib_parts, width)
    _record_reach(conn, spec, run_key, grams_by_food, food_components, foods)
    conn.execute("DELETE FROM audit.linkage WHERE cohort = ? AND run_id = ? AND reason = ?", [spec.name, run_key, NOT_IN_SOURCE])
    warehouse.append_audit(conn, "audit.linkage", linkage, food_source=spec.composition,
                           run_id=run_key, cohort=spec.name, reason=NOT_IN_SOURCE)
    return linkage


def _record_reach(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str, grams: pl.DataFrame,
                  food_components: pl.DataFrame, foods: pl.DataFrame) -> None:
    """Share of the cohort's grams each component's composition values reach, and the top foods they miss."""
    from gutaxis.components.curated import reach_report

    summary, unreached = reach_report(grams, food_components, foods, top=10)
    for table in ("audit.reach", "audit.unreached_foods"):
        conn.execute(f"DELETE FROM {table} WHERE cohort = ? AND run_id = ?", [spec.name, run_key])
    warehouse.append_audit(conn, "audit.reach", summary.select("component_id", "grams_total", "share_with_value"),
                           run_id=run_key, cohort=spec.name)
    warehouse.append_audit(conn, "audit.unreached_foods", unreached, run_id=run_key, cohort=spec.name)


def _validate(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str, kind: str, suite: list, name: str) -> pl.DataFrame:
    table = warehouse.staging_table(kind, spec.name, run_key)
    results = quality.validate(conn, table, suite, name)
    conn.execute("DELETE FROM audit.validations WHERE run_id = ? AND suite = ?", [run_key, name])
    warehouse.append_audit(conn, "audit.validations", results, run_id=run_key, cohort=spec.name,
                           validated_at=warehouse.utc_now())
    _record_warned_rows(conn, spec, run_key, table, suite, name, results)
    return results


WARNED_ROWS_SHOWN = 5  # first offending rows of a warned check kept in audit.warned_rows (the run summary prints them)


def _record_warned_rows(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str, table: str, suite: list,
                        name: str, results: pl.DataFrame) -> None:
    """Keep the first rows that broke each warned check, so that the summary can name them."""
    conn.execute("DELETE FROM audit.warned_rows WHERE run_id = ? AND suite = ?", [run_key, name])
    warned = set(results.filter((pl.col("severity") == "warn") & ~pl.col("success"))["check"])
    width = code_width(load_source_spec(spec.composition))
    for check in suite:
        if check.name in warned:
            rows = quality.offending_rows(conn, table, check, WARNED_ROWS_SHOWN, width)
            warehouse.append_audit(conn, "audit.warned_rows", rows, run_id=run_key, cohort=spec.name, suite=name,
                                   check=check.name)


def audit_diary_items(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str) -> pl.DataFrame:
    if day_totals.is_day_totals(spec):  # the staged input is the day table itself
        suite = [*quality.day_totals_suite(RECALL_DAY_MAX[spec.format]), quality.rows_accounted(run_key)]
        if spec.format == "nhanes-tot":  # nutrient and FPED files joined: flag the days one of them lacks
            stored = [c.split("__", 1)[1] for c in warehouse.column_names(conn, warehouse.staging_table(
                "day_exposure", spec.name, run_key)) if c.startswith("amount__")]
            fped = [c for c in stored if nhanes_tot_join.is_fped_component(c)]
            nutrients = [c for c in stored if not nhanes_tot_join.is_fped_component(c)]
            if fped and nutrients:
                suite.append(quality.joined_days_carry_both_files(nutrients, fped))
        return _validate(conn, spec, run_key, "day_exposure", suite, "day_totals")
    suite = [*quality.diary_items_suite(RECALL_DAY_MAX[spec.format]), quality.rows_accounted(run_key)]
    return _validate(conn, spec, run_key, "diary_items", suite, "diary_items")


def audit_exposures(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str) -> pl.DataFrame:
    ids = component_ids()

    def stored(kind: str) -> list[str]:  # the wide tables store only what cannot be derived
        return warehouse.column_names(conn, warehouse.staging_table(kind, spec.name, run_key))

    return pl.concat([
        _validate(conn, spec, run_key, "day_exposure", quality.day_exposure_suite(ids, stored("day_exposure")),
                  "participant_day_exposure"),
        _validate(conn, spec, run_key, "participant_exposure",
                  quality.participant_exposure_suite(ids, stored("participant_exposure")), "participant_exposure"),
        _validate(conn, spec, run_key, "food_contributions", quality.food_contributions_suite(), "food_contributions"),
    ], how="diagonal_relaxed")


def blocking_failures(results: pl.DataFrame) -> pl.DataFrame:
    return results.filter((pl.col("severity") == "block") & ~pl.col("success"))


def publish(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str) -> dict:
    """Publish the run and swap in the analysts' snapshot: both happen, or neither (see
    warehouse.publish_cohort); a process killed in between is sorted out by the next writer."""
    counts = warehouse.publish_cohort(conn, spec.name, run_key)
    try:
        faults.point("publish-committed")
        warehouse.publish_snapshot(conn)
    except BaseException as exc:
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"snapshot not written: {type(exc).__name__}: {exc}"
        with interrupts.deferred():
            warehouse.revert_publish(conn, spec.name, run_key, f"failed: {reason}")
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            snapshot = warehouse.snapshot_path(conn)
            raise GutaxisError(f"{snapshot.parent}: no space left on the disk for the analysts' snapshot (a copy of "
                               f"{_megabytes(warehouse.work_path(snapshot))} MB); free space and run again") from None
        raise
    try:
        with interrupts.deferred():
            faults.point("publish-finish")
            warehouse.finish_publish(conn, spec.name, run_key)
    except Exception:  # noqa: BLE001 - published already; the next writer drops the replaced tables (recover_publishes)
        pass
    from gutaxis import sharded_run

    if sharded_run.is_sharded(spec):
        try:
            sharded_run.prune(spec, run_key)
        except Exception:  # noqa: BLE001 - published already; the next publish prunes what this one left
            pass
    return counts


def _megabytes(path: Path) -> int:
    return -(-path.stat().st_size // 1_000_000) if path.exists() else 0


def fail(conn: duckdb.DuckDBPyConnection, spec_name: str, run_key: str, reason: str, snapshot: bool = True) -> None:
    """Record a failed run and drop its staging; published rows are untouched.

    A publish of the run that its snapshot has not confirmed is undone first. A run whose publish
    completed stays published (a signal that lands afterwards does not make audit.runs lie).
    snapshot=False (an interrupt: stop quickly) leaves the analysts' copy as it was.
    """
    warehouse.revert_publish(conn, spec_name, run_key, f"failed: {reason}"[:500])
    if warehouse.published_run(conn, spec_name) == run_key:
        return
    warehouse.drop_staging(conn, spec_name)
    handoff.drop(spec_name)
    exists = conn.execute("SELECT count(*) FROM audit.runs WHERE run_id = ?", [run_key]).fetchall()[0][0]
    if exists:
        warehouse.record_run(conn, run_key, cohort=spec_name, outcome=f"failed: {reason}"[:500], finished=True)
    else:
        conn.execute("INSERT INTO audit.runs (run_id, cohort, started, finished, code_version, outcome) VALUES (?, ?, ?, ?, ?, ?)",
                     [run_key, spec_name, warehouse.utc_now(), warehouse.utc_now(), code_version(), f"failed: {reason}"[:500]])
    if snapshot:
        try:
            warehouse.publish_snapshot(conn)
        except OSError:  # e.g. the disk is still full: analysts keep the previous copy, which lacks only this audit
            pass
