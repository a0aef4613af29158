"""Participant shards: which shard a participant is in, how many shards a cohort gets, and the work
of one shard (its participants' rows read, rule-checked, their exposures computed and audited),
written to the lake as Parquet. No Dagster here: a shard task is a plain picklable value and
`run_shard` a plain function, so any executor (this process, a process pool, a Dask cluster) runs it.

A participant's shard is FNV-1a (64 bit) of the UTF-8 text of its canonical id, modulo the shard
count: the same on every machine, Python version and run (Python's hash() is salted per process,
polars' hash changes between versions). Integer ids are hashed as their decimal text, so 12 in a
Parquet file and "12" in a CSV go to the same shard.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute.cast

from gutaxis import PROJECT_ROOT, GutaxisError, faults
from gutaxis.lake import MANIFEST, Lake

MAX_SHARDS = 4096
# `shards: auto`: one shard per this many input rows (items), at least 1. A 25 M-item shard's worker
# peaked at ~5.5 GB with FNDDS' 39 components (docs/scale.md "Measured"): an 8 GB, 2-core slot.
ROWS_PER_SHARD = 25_000_000
FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
# what a shard writes, each a Parquet file in its folder (manifest.json last)
TABLES = ("items", "participants", "quarantine", "inclusion", "untrusted", "day_exposure", "participant_exposure",
          "contrib", "unlinked")


@numba.njit(cache=True, nogil=True)
def _fnv1a(offsets: np.ndarray, data: np.ndarray, out: np.ndarray) -> None:
    for i in range(out.shape[0]):
        h = FNV_OFFSET
        for j in range(offsets[i], offsets[i + 1]):
            h = (h ^ np.uint64(data[j])) * FNV_PRIME
        out[i] = h


@numba.njit(cache=True, nogil=True)
def _fnv1a_decimal(values: np.ndarray, out: np.ndarray) -> None:
    """FNV-1a of each integer's decimal text ("-" then digits), without making the text."""
    digits = np.empty(20, dtype=np.uint8)
    for i in range(values.shape[0]):
        value = values[i]
        h = FNV_OFFSET
        if value < 0:
            h = (h ^ np.uint64(45)) * FNV_PRIME  # "-"
        magnitude = np.uint64(-(value + 1)) + np.uint64(1) if value < 0 else np.uint64(value)  # int64 min too
        n = 0
        while True:
            digits[n] = np.uint8(48 + magnitude % np.uint64(10))
            magnitude //= np.uint64(10)
            n += 1
            if magnitude == 0:
                break
        for j in range(n - 1, -1, -1):
            h = (h ^ np.uint64(digits[j])) * FNV_PRIME
        out[i] = h


def fnv1a_64(texts: pl.Series) -> pl.Series:
    """FNV-1a 64 of each string's UTF-8 bytes (null: null)."""
    array = pa.compute.cast(texts.cast(pl.String).to_arrow(), pa.large_string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    out = np.zeros(len(array), dtype=np.uint64)
    if len(array):
        _, offsets_buffer, data_buffer = array.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[array.offset:array.offset + len(array) + 1]
        data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, dtype=np.uint8)
        _fnv1a(offsets, data, out)
    return pl.Series(texts.name, out).set(texts.is_null(), None) if texts.null_count() else pl.Series(texts.name, out)


def shard_of(ids: pl.Series, n_shards: int) -> pl.Series:
    """Each id's shard in 0..n_shards-1; an id that is null (a row the rules will quarantine) is in shard 0.
    Int64 ids are hashed as their decimal text without making it (a third of the split pass's time)."""
    if ids.dtype == pl.Int64:
        hashed = np.zeros(len(ids), dtype=np.uint64)
        if len(ids):
            _fnv1a_decimal(ids.fill_null(0).to_numpy(), hashed)
        hashes = pl.Series(ids.name, hashed)
        hashes = hashes.set(ids.is_null(), None) if ids.null_count() else hashes
    else:
        hashes = fnv1a_64(ids if ids.dtype == pl.String else ids.cast(pl.String))
    return (hashes % n_shards).fill_null(0).cast(pl.UInt32).alias("shard")


def estimated_rows(files: list[Path]) -> int:
    """Data rows of the input: a Parquet file's from its metadata, a text file's from its size and
    the mean length of its first 64 KB of lines (good to a few percent for diaries)."""
    from gutaxis.formats.tabular import parquet_rows

    total = 0
    for path in files:
        if path.suffix.lower() == ".parquet":
            total += parquet_rows(path)
            continue
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
        lines = max(1, head.count(b"\n"))
        total += math.ceil(size / max(1, len(head) / lines))
    return total


def shard_count(spec) -> int:
    """The spec's `shards`: a number as given; auto: one shard per ROWS_PER_SHARD input rows."""
    if spec.shards != "auto":
        return int(spec.shards)
    return max(1, min(MAX_SHARDS, math.ceil(estimated_rows(spec.data_files()) / ROWS_PER_SHARD)))


def code_digest() -> str:
    """Changes when the engine's code (or the polars / numba that run it) changes: shard outputs of other code are stale."""
    digest = hashlib.sha256(f"polars {pl.__version__} numba {numba.__version__}".encode())
    for path in sorted((PROJECT_ROOT / "gutaxis").rglob("*.py")):
        digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def frame_digest(*frames: pl.DataFrame) -> str:
    """A digest of frames' schemas and rows, in order (stable for one polars version, which code_digest covers)."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(str(frame.schema).encode())
        digest.update(frame.height.to_bytes(8, "little"))
        if frame.height and frame.width:
            digest.update(frame.hash_rows(seed=0).to_numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ShardTask:
    """Everything a worker needs for one shard; the spec file and data files must be readable at
    the same paths on the worker (a shared filesystem), the lake at its URL."""

    cohort: str
    spec_path: str
    shard: int
    n_shards: int
    run_key: str
    lake: Lake
    composition: str  # the run's composition table in the lake (food_code, component_id, amount_per_100g)
    base_key: str  # spec, composition, code and shard count: outputs with another base_key are stale
    input_sha256: dict  # the data files' sha256: with the same base_key, outputs are reused unread
    split: str = ""  # the split pass's folder in the lake (this shard's raw rows are under split/shard=I)
    rows_read: int = 0  # the data rows of the cohort's files, counted by the split pass

    @property
    def folder_name(self) -> str:
        return f"shard-{self.shard:05d}-of-{self.n_shards:05d}"

    @property
    def prefix(self) -> str:
        return self.lake.path(self.cohort, "runs", self.run_key, self.folder_name)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def find_reusable(task: ShardTask, rows_digest: str | None = None) -> tuple[str, dict] | None:
    """An earlier complete output of this shard (folder, manifest) made from the same spec, composition,
    code and shard count, and from the same input files (or, given rows_digest, the same rows of this
    shard after the rules); None when there is none: the shard is missing or stale."""
    lake = task.lake
    runs = lake.cohort_runs(task.cohort)
    for run in reversed(lake.listdir(runs)):  # run keys are random: any match will do
        folder = f"{runs}/{run}/{task.folder_name}"
        manifest = lake.read_json(f"{folder}/{MANIFEST}")
        if not manifest or manifest.get("base_key") != task.base_key:
            continue
        if rows_digest is None and manifest.get("input_sha256") == task.input_sha256:
            return folder, manifest
        if rows_digest is not None and manifest.get("rows_digest") == rows_digest:
            return folder, manifest
    return None


def run_shard(task: ShardTask) -> dict:
    """Compute one shard (or find its up-to-date output) and return its manifest, with where it is,
    which worker did the work and whether it was reused. A shard whose blocking audit fails writes
    its audit results but no manifest: it is never reused, and the caller fails the run."""
    started = time.perf_counter()
    found = find_reusable(task)
    if found is None:
        faults.point(f"shard-{task.shard}")
        result = _compute(task)
    else:
        result = {**found[1], "folder": found[0], "reused": "unchanged input files"}
    return {**result, "worker": worker_name(), "seconds": round(time.perf_counter() - started, 3),
            "shard": task.shard}


def _compute(task: ShardTask) -> dict:
    from gutaxis import stages
    from gutaxis.components import component_ids, units
    from gutaxis.diaries import read_split_shard, split_shard_folder
    from gutaxis.exposure import compute_chunk, composition_wide, participant_slices
    from gutaxis.specs import load_cohort_spec, load_source_spec

    spec = load_cohort_spec(Path(task.spec_path))
    width = stages.code_width(load_source_spec(spec.composition))
    if not task.split:
        raise GutaxisError(f"{task.spec_path}: shard {task.shard} of {task.n_shards} has no split input; shards run "
                           "through the cohort_shards step (gutaxis.sharded_run.compute_shards), which splits the files first")
    with task.lake.local_folder(f"{task.split}/{split_shard_folder(task.shard)}") as rows:
        diary = read_split_shard(spec, width, rows, task.rows_read)
    untrusted = diary.untrusted_codes
    rows_digest = frame_digest(diary.items, diary.quarantine, diary.inclusion, diary.participants, untrusted)
    found = find_reusable(task, rows_digest)
    counts = {"items": diary.items.height, "items_without_code": diary.items["food_code"].null_count(),
              "item_runs": diary.item_runs, "excluded_rows": diary.excluded_rows, "rows_read": diary.rows_read,
              "participants": diary.participants.height, "quarantined": diary.quarantine.height}
    if found is not None:  # the files changed, but not this shard's rows
        return {**found[1], **counts, "input_sha256": task.input_sha256, "folder": found[0],
                "reused": "unchanged rows"}
    lake = task.lake
    outputs = {"items": diary.items, "participants": diary.participants, "quarantine": diary.quarantine,
               "inclusion": diary.inclusion, "untrusted": untrusted}
    components = component_ids()
    wide = composition_wide(lake.read_parquet(task.composition), components)
    items = diary.items
    days, parts = 0, {"day_exposure": [], "participant_exposure": [], "contrib": [], "unlinked": []}
    if items.height:
        for chunk in participant_slices(pl.DataFrame([items[c] for c in items.columns if c != "item_seq"]),
                                        stages.chunk_rows()):
            result = compute_chunk(chunk, wide, components, units(), spec.low_coverage_threshold)
            parts["day_exposure"].append(result.stored_day_table())
            parts["participant_exposure"].append(result.stored_participant_table())
            parts["contrib"].append(result.contrib_fixed)
            parts["unlinked"].append(result.unlinked_fixed)
            days += result.day_wide.height
    exposures = {kind: pl.concat(frames) for kind, frames in parts.items() if frames}
    audit = _audit(spec, items, exposures, components)
    blocking = [r for r in audit if r["severity"] == "block" and not r["success"]]
    for name, frame in {**outputs, **exposures}.items():
        lake.write_parquet(frame, f"{task.prefix}/{name}.parquet")
    manifest = {"base_key": task.base_key, "input_sha256": task.input_sha256, "rows_digest": rows_digest,
                "n_shards": task.n_shards, "run_key": task.run_key, "days": days, **counts,
                "tables": sorted([*outputs, *exposures]), "audit": audit, "computed_by": worker_name()}
    if blocking:
        lake.write_json(manifest, f"{task.prefix}/audit-failed.json")
        return {**manifest, "folder": task.prefix, "reused": "", "audit_failures": blocking}
    lake.write_json(manifest, f"{task.prefix}/{MANIFEST}")  # last: the shard is complete
    return {**manifest, "folder": task.prefix, "reused": ""}


def _audit(spec, items: pl.DataFrame, exposures: dict[str, pl.DataFrame], components: list[str]) -> list[dict]:
    """The per-shard GX suites (items, day and participant exposures) in a DuckDB of the worker's own;
    what only the whole cohort can show (rows accounted, contribution shares) is checked centrally."""
    import duckdb

    from gutaxis import quality
    from gutaxis.stages import RECALL_DAY_MAX

    conn = duckdb.connect()
    try:
        conn.execute("CREATE SCHEMA shard")
        suites = [("diary_items", "shard.diary_items", items, quality.diary_items_suite(RECALL_DAY_MAX[spec.format]))]
        for kind, suite in (("day_exposure", quality.day_exposure_suite), ("participant_exposure", quality.participant_exposure_suite)):
            if kind in exposures:
                suites.append((kind, f"shard.{kind}", exposures[kind], suite(components, exposures[kind].columns)))
        rows = []
        for name, table, frame, suite in suites:
            conn.register("incoming", frame.to_arrow())
            conn.execute(f"CREATE TABLE {table} AS SELECT * FROM incoming")
            conn.unregister("incoming")
            results = quality.validate(conn, table, suite, name)
            rows += [{"suite": name, "check": r["check"], "severity": r["severity"], "success": bool(r["success"]),
                      "unexpected_count": r["unexpected_count"], "detail": r["detail"]}
                     for r in results.iter_rows(named=True)]
        return rows
    finally:
        conn.close()


def describe_failures(results: list[dict]) -> str:
    """One line for the shards whose blocking audit failed: shard, suite, check, count."""
    parts = []
    for result in results:
        for failure in result.get("audit_failures", []):
            parts.append(f"shard {result['shard']} of {result['n_shards']}: {failure['suite']}.{failure['check']}: "
                         f"{failure['unexpected_count']} unexpected")
    return "; ".join(parts)


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str)
