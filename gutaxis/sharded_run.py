"""A sharded cohort's run, central side: plan the shards, run them on the configured executor, then
stage their outputs in the warehouse so that the cohort-level audit and the publish are those of
an unsharded run (docs/scale.md).

1. compute_shards (the `cohort_shards` step): the run's composition table goes to the lake; unless
   every shard is up to date, one split pass writes each shard's raw rows to the lake; one task
   per shard runs `gutaxis.shards.run_shard` wherever the executor says; run.json lists every
   shard's folder (its own or an earlier run's that is still up to date). A shard whose audit
   fails fails the run: nothing is staged or published.
2. ingest and compute_exposures (the existing steps): the shards' Parquet is staged shard by
   shard (peak memory: one shard), the per-food sums are added up exactly as chunks' are.
3. The cohort's GX suites and the publish run as for any cohort; after the publish, the lake keeps
   only the folders the published run names (prune).
"""
from __future__ import annotations

import dataclasses
import hashlib
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl

from gutaxis import GutaxisError, day_totals, dietary_weights, faults, lake as lakes, shard_executors, shards, warehouse
from gutaxis.diaries import refuse_unusable, split_diary
from gutaxis.diary_rules import UNTRUSTED_SCHEMA
from gutaxis.formats import REPORTED_PREFIX
from gutaxis.specs import CohortSpec, load_source_spec

RUN_PLAN = "run.json"


def is_sharded(spec: CohortSpec) -> bool:
    """Item diaries with more than one shard; day-totals cohorts (a row per participant-day) run whole."""
    return spec.shards != 1 and not day_totals.is_day_totals(spec) and shards.shard_count(spec) > 1


def _composition_digest(food_components: pl.DataFrame) -> str:
    ordered = food_components.sort("food_code", "component_id")
    return hashlib.sha256(ordered.write_csv(float_precision=None).encode()).hexdigest()


def compute_shards(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str, lake: lakes.Lake,
                   executor: str) -> dict:
    """Run every shard of the cohort (reusing up-to-date ones) and write the run's plan; returns
    metadata: shards computed and reused, the workers that did them, seconds."""
    from gutaxis import stages

    n_shards = shards.shard_count(spec)
    stages._require_source_loaded(conn, spec)
    files = spec.data_files()
    input_sha256 = stages.sha256_files(files)
    food_components, _ = stages.composition_of(conn, spec)
    prefix = lake.run_prefix(spec.name, run_key)
    composition = f"{prefix}/composition.parquet"
    lake.write_parquet(food_components, composition)
    spec_digest = stages.spec_sha256(spec)
    base_key = hashlib.sha256(shards.canonical_json(
        [spec_digest, _composition_digest(food_components), shards.code_digest(), n_shards]).encode()).hexdigest()
    tasks = [shards.ShardTask(cohort=spec.name, spec_path=str(spec.spec_path), shard=i, n_shards=n_shards, run_key=run_key,
                              lake=lake, composition=composition, base_key=base_key, input_sha256=input_sha256)
             for i in range(n_shards)]
    split_seconds = 0.0
    split = f"{prefix}/split"
    try:
        if any(shards.find_reusable(task) is None for task in tasks):
            # one pass over the files writes each shard's raw rows apart, so that a shard reads only its
            # own rows: N shards scanning (and a CSV's N parses of) the whole input would cost N passes
            started = time.perf_counter()
            rows_read = _split(spec, n_shards, lake, split)
            split_seconds = time.perf_counter() - started
            tasks = [dataclasses.replace(task, split=split, rows_read=rows_read) for task in tasks]
        results = shard_executors.map_shards(shards.run_shard, tasks, executor)
    finally:
        lake.remove(split)  # a copy of the input: a retry splits again
    failed = shards.describe_failures(results)
    if failed:
        raise GutaxisError(f"{spec.spec_path}: audit of the cohort's shards failed: {failed}; nothing was published "
                           f"(the other shards' outputs are kept in {lake.cohort_runs(spec.name)} and reused by the next run)")
    rows_read = {r["rows_read"] for r in results}
    if len(rows_read) != 1:  # every shard counts the same files: they changed while the shards read them
        raise GutaxisError(f"{files[0]}: the data files changed while the shards read them (rows counted: "
                           f"{sorted(rows_read)}); run again")
    plan = {"n_shards": n_shards, "input_sha256": input_sha256, "rows_read": rows_read.pop(), "executor": executor,
            "shards": [{k: r[k] for k in ("shard", "folder", "worker", "reused", "seconds", "items", "item_runs",
                                          "items_without_code", "excluded_rows", "tables")} for r in results]}
    lake.write_json(plan, f"{prefix}/{RUN_PLAN}")
    reused = sum(1 for r in results if r["reused"])
    return {"shards": n_shards, "computed": n_shards - reused, "reused": reused,
            "workers": ", ".join(sorted({r["worker"] for r in results if not r["reused"]})) or "none",
            "lake": prefix, "executor": executor, "split seconds": round(split_seconds, 3),
            "shard seconds": round(sum(r["seconds"] for r in results), 3)}


def _split(spec: CohortSpec, n_shards: int, lake: lakes.Lake, split: str) -> int:
    """The split pass into the lake's split folder (written in place in a local lake, else written
    locally and uploaded); returns the rows read."""
    if lake.is_local:
        return split_diary(spec, n_shards, Path(split))
    with tempfile.TemporaryDirectory(prefix="gutaxis-split-") as temporary:
        rows_read = split_diary(spec, n_shards, Path(temporary))
        lake.put_folder(Path(temporary), split)
    return rows_read


def plan_of(spec: CohortSpec, run_key: str, lake: lakes.Lake | None = None) -> tuple[lakes.Lake, dict]:
    lake = lake or lakes.configured()
    plan = lake.read_json(f"{lake.run_prefix(spec.name, run_key)}/{RUN_PLAN}")
    if plan is None:
        raise GutaxisError(f"{spec.spec_path}: run {run_key} has no shard outputs in {lake.run_prefix(spec.name, run_key)}; "
                           "a sharded cohort runs through `gutaxis run` (or the cohort_job), whose cohort_shards step "
                           "computes them first")
    return lake, plan


def _read(lake: lakes.Lake, shard: dict, table: str) -> pl.DataFrame | None:
    return lake.read_parquet(f"{shard['folder']}/{table}.parquet") if table in shard["tables"] else None


def _stacked(lake: lakes.Lake, plan: dict, table: str) -> pl.DataFrame:
    return pl.concat([frame for s in plan["shards"] if (frame := _read(lake, s, table)) is not None], how="vertical")


def ingest(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str, dagster_run_id: str | None = None) -> dict:
    """Stage the shards' items, participants, quarantine and inclusion as stages.ingest stages a whole
    diary's, one shard in memory at a time (a recall's inclusion row alone is ~5 bytes an item)."""
    from gutaxis import stages

    lake, plan = plan_of(spec, run_key)
    files = stages.start_run(conn, spec, run_key, dagster_run_id)
    warehouse.record_run(conn, run_key, cohort=spec.name, outcome="running", input_sha256=plan["input_sha256"])
    n_items = sum(s["items"] for s in plan["shards"])
    without_code = sum(s["items_without_code"] for s in plan["shards"])
    if n_items == 0 or without_code == n_items:  # nothing usable: the whole cohort's reasons make the message
        refuse_unusable(spec, files, n_items, without_code, _stacked(lake, plan, "quarantine"),
                        _stacked(lake, plan, "inclusion"), _untrusted(_stacked(lake, plan, "untrusted")))
    warehouse.clear_audit(conn, spec.name, run_key)
    item_runs = sum(s["item_runs"] for s in plan["shards"])
    items_table, counts = None, {"participants": 0, "quarantined": 0, "excluded_recalls": 0}
    shard_participants, recalls = [], []
    for shard in plan["shards"]:
        items = _read(lake, shard, "items")
        if items is not None and items.height:
            columns = (*(c for c in warehouse.COHORT_TABLES["cohort.diary_items"] if c not in ("cohort", "food_source")),
                       *(c for c in items.columns if c.startswith(REPORTED_PREFIX)))
            items_table = warehouse.stage_parts(conn, "diary_items", spec.name, run_key, [({}, items)], columns,
                                                append=items_table is not None,
                                                compression=stages.item_compression(items.schema, n_items, item_runs))
        del items
        participants = _read(lake, shard, "participants")
        if participants is not None:
            shard_participants.append(participants)
            counts["participants"] += participants.height
        quarantine, inclusion = _read(lake, shard, "quarantine"), _read(lake, shard, "inclusion")
        recalls.append(inclusion.select("cohort", "participant_id", "included"))
        warehouse.append_audit(conn, "audit.quarantine", quarantine, run_id=run_key, cohort=spec.name)
        warehouse.append_audit(conn, "audit.inclusion", inclusion, run_id=run_key, cohort=spec.name)
        counts["quarantined"] += quarantine.height
        counts["excluded_recalls"] += inclusion.filter(~pl.col("included")).height
    warehouse.record_item_source(conn, items_table, spec.composition, stages.code_width(load_source_spec(spec.composition)))
    # the diary gives ids and dietary weights, staged once over every shard as the unsharded ingest stages
    # them (participants the files give only a weight for, has_usable_recall from every shard's recalls);
    # gutaxis.analysis.steps.stage_participants adds attributes and design
    weights = dietary_weights.of_item_diary(spec)
    diary_participants = (pl.concat(shard_participants, how="vertical_relaxed") if shard_participants else
                          pl.DataFrame(schema={"cohort": pl.String, "participant_id": pl.String, "external_id": pl.String}))
    stages._stage_participants(conn, spec, run_key, dietary_weights.with_participants(
        diary_participants, weights, pl.concat(recalls, how="vertical_relaxed")), weights)
    faults.point("ingest")
    # codes the file printed unreadably, summed over the shards (a row per code and reason: small)
    warehouse.append_audit(conn, "audit.linkage", _untrusted(_stacked(lake, plan, "untrusted")),
                           food_source=spec.composition, run_id=run_key, cohort=spec.name)
    excluded_rows = sum(s["excluded_rows"] for s in plan["shards"])
    conn.execute("UPDATE audit.runs SET rows_read = ?, rows_published = ?, rows_quarantined = ?, rows_excluded = ? "
                 "WHERE run_id = ?", [plan["rows_read"], n_items, counts["quarantined"], excluded_rows, run_key])
    return {"items": n_items, **counts, "rows_read": plan["rows_read"], "shards": plan["n_shards"]}


def _untrusted(stacked: pl.DataFrame) -> pl.DataFrame:
    return (stacked.group_by("food_code", "reason").agg(pl.col("n_items").sum(), pl.col("grams").sum())
            .select(UNTRUSTED_SCHEMA.keys()).sort("grams", "food_code", descending=[True, False], nulls_last=True))


def _folded(total: pl.DataFrame | None, part: pl.DataFrame | None) -> pl.DataFrame | None:
    """Per-food sums of the shards so far plus this shard's: every column but food_code is a sum
    (exact: fixed-point integers), so the running total stays one row per food, whatever N."""
    if part is None:
        return total
    if total is None:
        return part
    return pl.concat([total, part]).group_by("food_code", maintain_order=True).agg(pl.all().sum())


def compute_exposures(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str) -> dict:
    """Stage the shards' day and participant tables, then the cohort's contributions and linkage."""
    from gutaxis import stages

    lake, plan = plan_of(spec, run_key)
    days = 0
    for kind in ("day_exposure", "participant_exposure"):
        staged = False
        for shard in plan["shards"]:
            table = _read(lake, shard, kind)
            if table is None:
                continue
            warehouse.stage_parts(conn, kind, spec.name, run_key, [({}, table)], tuple(table.columns), append=staged)
            staged = True
            days += table.height if kind == "day_exposure" else 0
            del table
    food_components, foods = stages.composition_of(conn, spec)
    contributions, unlinked = None, None
    for shard in plan["shards"]:
        contributions = _folded(contributions, _read(lake, shard, "contrib"))
        unlinked = _folded(unlinked, _read(lake, shard, "unlinked"))
    linkage = stages.finish_exposures(conn, spec, run_key, [contributions], [unlinked], food_components, foods)
    return {"days": days, "chunks": plan["n_shards"], "unlinked_codes": linkage.height,
            "unlinked_items": int(linkage["n_items"].sum()) if linkage.height else 0}


def prune(spec: CohortSpec, run_key: str, lake: lakes.Lake | None = None) -> list[str]:
    """After a publish: remove the cohort's run folders that the published run does not name (older
    runs, failed runs' shards now superseded), and any split input left in those it keeps; returns
    the removed run keys."""
    lake = lake or lakes.configured()
    plan = lake.read_json(f"{lake.run_prefix(spec.name, run_key)}/{RUN_PLAN}")
    if plan is None:
        return []
    runs = lake.cohort_runs(spec.name)
    kept = {run_key, *(s["folder"].rstrip("/").split("/")[-2] for s in plan["shards"])}
    removed = [run for run in lake.listdir(runs) if run not in kept]
    for run in removed:
        lake.remove(f"{runs}/{run}")
    for run in kept:  # a split a killed run left behind, in a run folder kept for its shards
        lake.remove(f"{runs}/{run}/split")
    return removed
