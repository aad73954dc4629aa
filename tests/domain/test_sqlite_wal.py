"""WAL checkpoints run in a background thread, not inside the committing request (core/sqlite_wal.py)."""
import os
import sqlite3
import time

import pytest
from sqlalchemy import create_engine, make_url, text

from core import sqlite_wal
from tests.polling import wait_for


def _engine(path):
    engine = create_engine(f"sqlite:///{path}")
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _wal(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    return engine


def test_a_large_commit_is_checkpointed_by_the_thread_not_the_committer(tmp_path):
    path = tmp_path / "wal.db"
    engine = _engine(path)
    checkpointer = sqlite_wal.install(engine)
    assert checkpointer is not None and checkpointer.path == str(path)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == sqlite_wal.BACKSTOP_PAGES
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB)"))
    assert wait_for(lambda: checkpointer.checkpoints >= 1)
    before = checkpointer.checkpoints
    size_before = os.path.getsize(path)

    # ~3 MB (~750 pages of 4 KiB), far below the backstop at which a commit would checkpoint by
    # itself: the pages reach the database file only through the thread.
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO blobs (body) VALUES (:b)"), [{"b": os.urandom(3000)} for _ in range(1000)])
    assert wait_for(lambda: checkpointer.checkpoints > before)
    assert wait_for(lambda: os.path.getsize(path) >= size_before + 2_900_000), "the pages reached the database file"
    engine.dispose()


def test_reads_alone_do_not_wake_the_checkpointer(tmp_path):
    engine = _engine(tmp_path / "reads.db")
    checkpointer = sqlite_wal.install(engine)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1")).scalar()
    time.sleep(0.1)
    assert checkpointer.checkpoints == 0 and checkpointer._thread is None
    engine.dispose()


def test_the_thread_ends_when_idle_and_restarts_with_the_next_write(tmp_path):
    path = tmp_path / "idle.db"
    engine = _engine(path)
    checkpointer = sqlite_wal.install(engine)
    checkpointer.idle_exit = 0.2
    checkpointer.min_interval = 0.01
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    assert wait_for(lambda: checkpointer.checkpoints >= 1)
    assert wait_for(lambda: checkpointer._thread is None), "the idle thread ended"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    assert wait_for(lambda: checkpointer.checkpoints >= 2)
    engine.dispose()


def test_a_failed_checkpoint_is_skipped_not_raised(tmp_path):
    checkpointer = sqlite_wal.WalCheckpointer(str(tmp_path / "x.db"))
    connection = sqlite3.connect(":memory:")
    connection.close()  # any call on it raises sqlite3.ProgrammingError, a sqlite3.Error
    assert checkpointer.checkpoint(connection) is None
    assert checkpointer.checkpoints == 0


@pytest.mark.parametrize("url, expected", [
    ("sqlite://", None), ("sqlite:///:memory:", None), ("sqlite:///file:mem?mode=memory&uri=true", None),
    ("sqlite:////tmp/x.db", "/tmp/x.db"),
])
def test_database_file(url, expected):
    assert sqlite_wal.database_file(make_url(url)) == expected


def test_the_app_installs_it_on_sqlite(app):
    from core.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            assert "wal_checkpointer" not in app.extensions
            return
        assert isinstance(app.extensions["wal_checkpointer"], sqlite_wal.WalCheckpointer)
        assert db.session.execute(text("PRAGMA wal_autocheckpoint")).scalar() == sqlite_wal.BACKSTOP_PAGES
