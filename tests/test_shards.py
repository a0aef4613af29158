"""Participant shards (gutaxis.shards, gutaxis.sharded_run, docs/scale.md): the shard of a participant,
the `shards` spec key, and sharded runs on one machine, on a Dask LocalCluster and on an S3 lake
(moto's server on 127.0.0.1), whose published marts equal the unsharded run's bit for bit."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from gutaxis import DATA_DIR, GutaxisError, shard_executors, shards
from gutaxis.diaries import read_diary, read_split_shard, split_diary, split_shard_folder
from gutaxis.diary_rules import canonicalize, row_shard
from gutaxis.specs import load_cohort_spec
from tests.conftest import write_spec

CONTRACT = ("cohort.diary_items", "cohort.participants", "marts.participant_day_exposure", "marts.participant_exposure",
            "marts.food_contributions", "audit.quarantine")
DEMO_COLUMNS = {"participant_id": "participant", "recall_day": "day", "food_code": "food_code", "grams": "grams"}


def _fnv1a_reference(text: str) -> int:
    h = 0xCBF29CE484222325
    for byte in text.encode():
        h = ((h ^ byte) * 0x100000001B3) % 2**64
    return h


def test_a_participants_shard_is_fnv1a_of_its_id_text_the_same_for_integer_and_text_ids():
    ids = ["", "a", "foobar", "demo-001", "Zoë 7", "83736"]
    hashes = shards.fnv1a_64(pl.Series(ids)).to_list()
    # published FNV-1a 64 test vectors, then a plain-Python reference for the rest
    assert hashes[:3] == [0xCBF29CE484222325, 0xAF63DC4C8601EC8C, 0x85944171F73967E8]
    assert hashes == [_fnv1a_reference(t) for t in ids]
    as_text = shards.shard_of(pl.Series(["83736", "12", None]), 7).to_list()
    as_int = shards.shard_of(pl.Series([83736, 12, None], dtype=pl.Int64), 7).to_list()
    assert as_text == as_int == [_fnv1a_reference("83736") % 7, _fnv1a_reference("12") % 7, 0]


def test_integer_ids_hash_as_their_decimal_text_without_making_it():
    values = [0, 1, -1, 9, 10, 83736, -83736, 2**63 - 1, -2**63, None, 99999999999]
    as_int = shards.shard_of(pl.Series(values, dtype=pl.Int64), 2**31).to_list()
    as_text = shards.shard_of(pl.Series(values, dtype=pl.Int64).cast(pl.String), 2**31).to_list()
    assert as_int == as_text
    assert as_int[5] == _fnv1a_reference("83736") % 2**31 and as_int[8] == _fnv1a_reference(str(-2**63)) % 2**31


def _raw(rows: list[tuple]) -> pl.LazyFrame:
    return pl.DataFrame(rows, schema=["participant_id", "recall_day", "food_code", "grams"], orient="row").with_columns(
        pl.lit("d.csv").alias("source_file"), pl.int_range(1, len(rows) + 1).alias("source_row")).lazy()


def test_shards_partition_the_rows_by_the_canonical_id_so_each_recall_is_judged_whole():
    rows = [(" 12", "1", "11111111", "10"), ("12.0", "1", "11111111", "20"), ("13", "1", "11111111", "-5"),
            ("", "1", "11111111", "5"), ("14", "2", "bad", "7"), *((str(p), "1", "11111111", "1") for p in range(20, 60))]
    whole = canonicalize(_raw(rows), cohort="c", format="tabular", code_width=8, valid_recall_status=None)
    keyed = _raw(rows).with_columns(row_shard(_raw(rows).collect_schema(), 3).alias("s"))
    parts = [canonicalize(keyed.filter(pl.col("s") == i).drop("s"), cohort="c", format="tabular", code_width=8,
                          valid_recall_status=None) for i in range(3)]
    for name in ("items", "quarantine", "inclusion", "participants"):
        stacked = pl.concat([getattr(p, name) for p in parts]).sort(pl.all())
        assert stacked.equals(getattr(whole, name).sort(pl.all())), name
    assert all(p.items.height for p in parts)  # 45 participants: every shard has some
    # " 12" and "12.0" are participant 12: one recall, numbered 1..2 in one shard
    twelve = pl.concat([p.items for p in parts]).filter(pl.col("participant_id") == "12")
    assert twelve["item_seq"].to_list() == [1, 2]
    assert sum(p.quarantine.height for p in parts) == whole.quarantine.height == 2  # no id; negative grams


def test_the_split_pass_gives_each_shard_its_own_rows_in_file_order_and_every_shard_a_folder(tmp_path):
    """Two CSV files, one participant across both and printed two ways, a bad row, and more shards than
    participants: the shards' canonical diaries are, together, exactly the whole diary's."""
    (tmp_path / "a.csv").write_text("participant,day,food_code,grams\n 12,1,11111111,10\n13,1,11111111,-5\n"
                                    "14,2,bad,7\n,1,11111111,5\n")
    (tmp_path / "b.csv").write_text("participant,day,food_code,grams\n12.0,1,11111111,20\n15,1,11111111,1\n"
                                    "16,1,11111111,2\n")
    spec = load_cohort_spec(write_spec(tmp_path, "c", format="tabular", path="*.csv", composition="demo",
                                       columns=DEMO_COLUMNS))
    whole = read_diary(spec, 8, require_usable=False)
    rows_read = split_diary(spec, 7, tmp_path / "split")
    assert rows_read == whole.rows_read == 7
    parts = [read_split_shard(spec, 8, tmp_path / "split" / split_shard_folder(i), rows_read) for i in range(7)]
    for name in ("items", "quarantine", "inclusion", "participants", "untrusted_codes"):
        stacked = pl.concat([getattr(p, name) for p in parts])
        assert stacked.sort(pl.all()).equals(getattr(whole, name).sort(pl.all())), name
    assert sum(p.items.height == 0 for p in parts) >= 2  # 5 participants in 7 shards: empty shards are read too
    twelve = next(p.items for p in parts if "12" in p.items["participant_id"].to_list())
    assert twelve.filter(pl.col("participant_id") == "12")["grams"].to_list() == [10.0, 20.0]  # a.csv, then b.csv
    assert set(pl.concat([p.quarantine for p in parts])["source_file"]) == {"a.csv"}


def test_shards_key_is_a_count_or_auto_and_auto_follows_the_input_rows(tmp_path, monkeypatch):
    from gutaxis.specs import load_cohort_spec

    monkeypatch.setenv("GUTAXIS_COHORTS_DIR", str(tmp_path))
    pl.DataFrame({"p": list(range(1000)), "d": [1] * 1000, "c": [11111111] * 1000, "g": [1.0] * 1000}).write_parquet(tmp_path / "x.parquet")
    columns = {"participant_id": "p", "recall_day": "d", "food_code": "c", "grams": "g"}
    spec = load_cohort_spec(write_spec(tmp_path, "auto", format="tabular", path="x.parquet", composition="demo", columns=columns,
                                       shards="auto"))
    monkeypatch.setattr(shards, "ROWS_PER_SHARD", 300)
    assert shards.shard_count(spec) == 4  # ceil(1000 / 300)
    monkeypatch.setattr(shards, "ROWS_PER_SHARD", 5000)
    assert shards.shard_count(spec) == 1
    with pytest.raises(GutaxisError, match=r"shards: 0 is not a shard count; give a whole number from 1 to 4096, or auto"):
        load_cohort_spec(write_spec(tmp_path, "zero", format="tabular", path="x.parquet", composition="demo", columns=columns,
                                    shards=0))


def test_an_unknown_executor_is_refused_in_one_line():
    with pytest.raises(GutaxisError, match="unknown executor 'spark'; use in-process, processes"):
        shard_executors.map_shards(len, [[1]], "spark")
    assert shard_executors.dask_address("dask:tcp://127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    assert shard_executors.dask_address("processes:2") is None


def test_the_lake_is_configured_in_one_place_and_bad_options_are_refused_in_one_line(tmp_path, monkeypatch):
    from gutaxis import lake

    monkeypatch.delenv("GUTAXIS_LAKE", raising=False)
    monkeypatch.delenv("GUTAXIS_LAKE_OPTIONS", raising=False)
    assert lake.configured().url == lake.default_url()
    monkeypatch.setenv("GUTAXIS_LAKE", "s3://bucket/lake")
    monkeypatch.setenv("GUTAXIS_LAKE_OPTIONS", '{"endpoint_url": "http://127.0.0.1:9"}')
    configured = lake.configured()
    assert (configured.url, configured.options, configured.is_local) == ("s3://bucket/lake", {"endpoint_url": "http://127.0.0.1:9"}, False)
    assert configured.run_prefix("study", "abc") == "s3://bucket/lake/study/runs/abc"
    monkeypatch.setenv("GUTAXIS_LAKE_OPTIONS", "endpoint=http://x")
    with pytest.raises(GutaxisError, match=r"^GUTAXIS_LAKE_OPTIONS: not JSON .*; give fsspec storage options as a JSON object"):
        lake.configured()


# ---- runs of the pipeline -------------------------------------------------------------------

@contextlib.contextmanager
def _environment(**values: str | None):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update({k: v for k, v in values.items() if v is not None})
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _cohort(root: Path, shards_: int | str, diary: pl.DataFrame | None = None) -> None:
    (root / "cohorts").mkdir(parents=True, exist_ok=True)
    if diary is None:
        shutil.copy(DATA_DIR / "demo" / "diary.csv", root / "cohorts" / "diary.csv")
    else:
        diary.write_csv(root / "cohorts" / "diary.csv")
    write_spec(root / "cohorts", "study", format="tabular", path="diary.csv", composition="demo", columns=DEMO_COLUMNS,
               shards=shards_)


def _run(root: Path, lake: str | None = None, **env: str | None):
    """gutaxis run of cohort `study` in root (its own warehouse, Dagster storage, lake)."""
    from pipelines.runner import run_cohorts

    (root / "dagster").mkdir(parents=True, exist_ok=True)
    with _environment(GUTAXIS_WAREHOUSE=str(root / "warehouse.duckdb"), GUTAXIS_RAW_DIR=str(root / "raw"),
                      GUTAXIS_DAGSTER_DIR=str(root / "dagster"), GUTAXIS_COHORTS_DIR=str(root / "cohorts"),
                      DAGSTER_HOME=str(Path(__file__).resolve().parents[1]), GUTAXIS_LAKE=lake or str(root / "lake"), **env):
        return run_cohorts(["study"])


def _published(root: Path) -> dict[str, list]:
    conn = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        last = ("(SELECT run_id FROM audit.runs WHERE cohort = 'study' AND outcome = 'published' "
                "ORDER BY finished DESC LIMIT 1)")
        return {t: conn.execute(f"SELECT * EXCLUDE (run_id) FROM {t} WHERE run_id = {last} ORDER BY ALL" if t.startswith("audit.")
                                else f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in CONTRACT}
    finally:
        conn.close()


def _outcome(root: Path) -> list[tuple]:
    conn = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return conn.execute("SELECT outcome FROM audit.runs WHERE cohort = 'study' ORDER BY started").fetchall()
    finally:
        conn.close()


def _plan(lake_root: Path) -> dict:
    plans = sorted((lake_root / "study" / "runs").glob("*/run.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(plans[-1].read_text())


@pytest.fixture(scope="module")
def unsharded(tmp_path_factory) -> dict[str, list]:
    """The published contract tables of the demo diary run whole (shards: 1), in this process."""
    root = tmp_path_factory.mktemp("unsharded")
    _cohort(root, 1)
    reports, errors = _run(root, GUTAXIS_SHARD_EXECUTOR=None)
    assert errors == [] and reports[0].outcome == "published"
    assert not (root / "lake").exists()  # one shard: the lake is not used
    return _published(root)


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["in-process", "processes:2"])
def test_a_sharded_run_publishes_the_unsharded_runs_marts_bit_for_bit_and_reuses_unchanged_shards(tmp_path, unsharded, executor):
    _cohort(tmp_path, 4)
    reports, errors = _run(tmp_path, GUTAXIS_SHARD_EXECUTOR=executor)
    assert errors == [] and reports[0].outcome == "published"
    assert _published(tmp_path) == unsharded
    first = _plan(tmp_path / "lake")
    assert first["n_shards"] == 4 and [s["reused"] for s in first["shards"]] == [""] * 4
    if executor.startswith("processes"):
        assert os.getpid() not in {int(s["worker"].rsplit(":", 1)[1]) for s in first["shards"]}
    # the same input again: every shard is reused from the first run's folder, nothing recomputed
    reports, errors = _run(tmp_path, GUTAXIS_SHARD_EXECUTOR=executor)
    assert errors == [] and _published(tmp_path) == unsharded
    second = _plan(tmp_path / "lake")
    assert [s["reused"] for s in second["shards"]] == ["unchanged input files"] * 4
    assert {s["folder"] for s in second["shards"]} == {s["folder"] for s in first["shards"]}
    # after the publish the lake keeps the runs the published run names: the first (its shards) and its own,
    # without the split input (a copy of the diary), which the first run removed once its shards were done
    assert len(list((tmp_path / "lake" / "study" / "runs").iterdir())) == 2
    assert not list((tmp_path / "lake").rglob("split"))


@pytest.mark.slow
def test_a_shard_failing_its_audit_publishes_nothing_and_the_next_run_recomputes_only_that_shard(tmp_path, unsharded, monkeypatch):
    """A shard whose exposures break a blocking GX check (here: a computation made to give one
    participant a negative amount) fails the run; the other shards' outputs stay in the lake and
    the next run reuses them."""
    from gutaxis import exposure

    _cohort(tmp_path, 4)
    real = exposure.compute_chunk
    bad_participant = "demo-007"
    bad_shard = shards.shard_of(pl.Series([bad_participant]), 4)[0]

    def negative_for_one(items, *args, **kwargs):
        result = real(items, *args, **kwargs)
        column = next(c for c in result.day_wide.columns if c.startswith("amount__") and result.day_wide[c].null_count() == 0)
        day = result.day_wide.with_columns(
            pl.when(pl.col("participant_id") == bad_participant).then(-pl.col(column)).otherwise(pl.col(column)).alias(column))
        return dataclasses.replace(result, day_wide=day)

    monkeypatch.setattr(exposure, "compute_chunk", negative_for_one)
    reports, errors = _run(tmp_path, GUTAXIS_SHARD_EXECUTOR="in-process")
    assert reports[0].outcome != "published"
    assert len(errors) == 1 and f"shard {bad_shard} of 4: day_exposure.amount >= 0: " in errors[0], errors
    assert not (tmp_path / "warehouse.duckdb").exists() or _published(tmp_path)["marts.participant_exposure"] == []
    folders = sorted((tmp_path / "lake" / "study" / "runs").glob("*/shard-*"))
    complete = [f for f in folders if (f / "manifest.json").exists()]
    assert len(folders) == 4 and len(complete) == 3 and (folders[bad_shard] / "audit-failed.json").exists()
    # a split the killed run left behind (here: put back by hand) goes with the next publish
    (folders[0].parent / "split" / "shard=0").mkdir(parents=True)

    monkeypatch.setattr(exposure, "compute_chunk", real)
    reports, errors = _run(tmp_path, GUTAXIS_SHARD_EXECUTOR="in-process")
    assert errors == [] and reports[0].outcome == "published"
    assert _published(tmp_path) == unsharded
    plan = _plan(tmp_path / "lake")
    assert [bool(s["reused"]) for s in plan["shards"]] == [i != bad_shard for i in range(4)]
    assert not list((tmp_path / "lake").rglob("split"))


# ---- a Dask cluster and an S3 lake on loopback -------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_lake():
    """moto's S3 server on 127.0.0.1 with a bucket; (lake URL, options JSON); stopped afterwards."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    try:
        with _environment(**credentials):
            import s3fs

            endpoint = f"http://127.0.0.1:{port}"
            s3fs.S3FileSystem(endpoint_url=endpoint).mkdir("gutaxis-lake")
            yield endpoint, credentials
    finally:
        server.stop()


@pytest.fixture(scope="module")
def dask_cluster(s3_lake):
    """A LocalCluster of 2 worker processes on 127.0.0.1. allowed-failures 0: a task whose worker
    dies fails at once (the Dagster retry policy then reruns the step) instead of Dask rescheduling it."""
    import dask
    from distributed import Client, LocalCluster

    _, credentials = s3_lake
    with _environment(**credentials, PYTHONPATH=str(Path(__file__).resolve().parents[1])), \
            dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, scheduler_port=0, silence_logs=50, death_timeout=60)
        try:
            with Client(cluster, set_as_default=False) as client:
                client.wait_for_workers(2, timeout=120)
            yield cluster
        finally:
            cluster.close(timeout=60)


def _worker_pids(cluster) -> set[int]:
    from distributed import Client

    with Client(cluster, set_as_default=False) as client:
        return set(client.run(os.getpid).values())


def _s3_plan(endpoint: str, prefix: str) -> dict:
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)
    plans = fs.glob(f"{prefix}/study/runs/*/run.json")
    newest = max(plans, key=lambda p: fs.info(p)["LastModified"])
    return json.loads(fs.cat(newest))


@pytest.mark.slow
def test_a_dask_cluster_of_two_workers_runs_four_shards_into_an_s3_lake_bit_for_bit(tmp_path, unsharded, s3_lake, dask_cluster):
    endpoint, credentials = s3_lake
    pids = _worker_pids(dask_cluster)
    _cohort(tmp_path, 4)
    lake = "s3://gutaxis-lake/two-workers"
    reports, errors = _run(tmp_path, lake=lake, GUTAXIS_LAKE_OPTIONS=json.dumps({"endpoint_url": endpoint}),
                           GUTAXIS_SHARD_EXECUTOR=f"dask:{dask_cluster.scheduler_address}", **credentials)
    assert errors == [] and reports[0].outcome == "published"
    assert _published(tmp_path) == unsharded
    plan = _s3_plan(endpoint, "gutaxis-lake/two-workers")
    assert all(s["folder"].startswith(lake) and not s["reused"] for s in plan["shards"])
    workers = {int(s["worker"].rsplit(":", 1)[1]) for s in plan["shards"]}
    assert workers == pids and len(pids) == 2  # both workers did shard work, and only they
    assert not (tmp_path / "lake").exists()  # nothing went to the local default


@pytest.mark.slow
def test_a_worker_killed_mid_run_fails_the_step_which_is_retried_with_the_same_result(tmp_path, unsharded, s3_lake, dask_cluster):
    import dagster as dg

    from pipelines.runner import _instance

    endpoint, credentials = s3_lake
    _cohort(tmp_path, 4)
    marker = tmp_path / "killed-once"
    env = dict(GUTAXIS_LAKE_OPTIONS=json.dumps({"endpoint_url": endpoint}),
               GUTAXIS_SHARD_EXECUTOR=f"dask:{dask_cluster.scheduler_address}", **credentials)
    # the worker that starts shard 2 is SIGKILLed there, once (the marker file says it happened)
    from distributed import Client

    with Client(dask_cluster, set_as_default=False) as client:
        # a lambda travels by value: the workers set their own environment (a bound method of
        # os.environ would be pickled with a copy of the caller's)
        client.run(lambda fault: os.environ.__setitem__("GUTAXIS_INJECT_FAULT", fault), f"shard-2:kill-once:{marker}")
    try:
        reports, errors = _run(tmp_path, lake="s3://gutaxis-lake/killed", **env)
    finally:
        with Client(dask_cluster, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=120)
            client.run(lambda: os.environ.pop("GUTAXIS_INJECT_FAULT", None))
    assert marker.exists()  # a worker really was killed at shard 2
    assert errors == [] and reports[0].outcome == "published"
    assert _published(tmp_path) == unsharded
    with _environment(GUTAXIS_DAGSTER_DIR=str(tmp_path / "dagster"), DAGSTER_HOME=str(Path(__file__).resolve().parents[1])):
        instance = _instance()
        run = next(r for r in instance.get_runs() if r.job_name == "cohort_job")
        retried = [e.step_key for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)]
    assert retried == ["cohort_shards"]
    plan = _s3_plan(endpoint, "gutaxis-lake/killed")
    assert plan["shards"][2]["reused"] == ""  # recomputed by the retry
