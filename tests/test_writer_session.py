"""One writer connection per command (warehouse.writer_session): opened once, checkpointed after every
block, closed and reopened after a block that fails, never shared with a nested block."""
from __future__ import annotations

import duckdb
import pytest

from gutaxis import warehouse


@pytest.fixture
def connects(monkeypatch) -> list[str]:
    """The work databases opened for writing, in order."""
    opened: list[str] = []
    real_connect = duckdb.connect

    def counting_connect(database=":memory:", *args, **kwargs):
        if not kwargs.get("read_only") and str(database).endswith(".work.duckdb"):
            opened.append(str(database))
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(warehouse.duckdb, "connect", counting_connect)
    return opened


def test_blocks_of_a_session_share_one_connection_and_each_is_checkpointed(tmp_path, connects):
    path = tmp_path / "w.duckdb"
    with warehouse.writer_session(path):
        with warehouse.open_writer(path) as conn:
            conn.execute("CREATE TABLE store.t AS SELECT 1 AS x")
            first = conn
        wal = tmp_path / "w.work.duckdb.wal"
        assert not wal.exists() or wal.stat().st_size == 0  # checkpointed at the end of the block
        with warehouse.open_writer(path) as conn:
            assert conn is first
            assert conn.execute("SELECT x FROM store.t").fetchall() == [(1,)]
    assert len(connects) == 1
    with pytest.raises(duckdb.ConnectionException):  # closed at the end of the session
        first.execute("SELECT 1")
    with warehouse.open_writer(path) as conn:  # outside a session: a connection per block, as before
        pass
    with warehouse.open_writer(path) as conn:
        pass
    assert len(connects) == 3


def test_a_failed_block_rolls_back_its_transaction_and_the_next_block_reopens(tmp_path, connects):
    path = tmp_path / "w.duckdb"
    with warehouse.writer_session(path):
        with warehouse.open_writer(path) as conn:
            conn.execute("CREATE TABLE store.t (x INTEGER)")
        with pytest.raises(RuntimeError):
            with warehouse.open_writer(path) as conn:
                conn.execute("BEGIN")
                conn.execute("INSERT INTO store.t VALUES (1)")
                raise RuntimeError("a step failed mid-transaction")
        with warehouse.open_writer(path) as conn:
            assert conn.execute("SELECT count(*) FROM store.t").fetchall() == [(0,)]
            conn.execute("INSERT INTO store.t VALUES (2)")
        with warehouse.open_writer(path) as again:
            assert again is conn
    assert len(connects) == 2  # the failed block's connection was closed, its successor opened once
    reopened = duckdb.connect(str(tmp_path / "w.work.duckdb"), read_only=True)
    assert reopened.execute("SELECT x FROM store.t").fetchall() == [(2,)]
    reopened.close()


def test_a_block_inside_a_block_gets_its_own_connection(tmp_path, connects):
    path = tmp_path / "w.duckdb"
    with warehouse.writer_session(path):
        with warehouse.open_writer(path) as outer:
            outer.execute("CREATE TABLE store.t AS SELECT 1 AS x")
            with warehouse.open_writer(path) as inner:
                assert inner is not outer
                assert inner.execute("SELECT x FROM store.t").fetchall() == [(1,)]
            assert outer.execute("SELECT x FROM store.t").fetchall() == [(1,)]  # the inner close left it open
        with warehouse.open_writer(path) as conn:
            assert conn is outer
    assert len(connects) == 2


def test_a_cohort_run_opens_the_work_database_once(isolated, connects):
    from pipelines.runner import run_cohorts

    reports, errors = run_cohorts(["demo"])
    assert errors == [] and [r.outcome for r in reports] == ["published"]
    assert connects == [str(isolated / "warehouse.work.duckdb")]
