"""SQLite WAL checkpoints off the request path.

In WAL mode a commit appends pages to the ``-wal`` file, and a *checkpoint* copies them back into
the database file. By default SQLite runs one inside the commit that takes the log past 1,000
pages (``wal_autocheckpoint``), on the committing connection: a 5,000-operation pipeline request
writes more than that, so every such request waited 45-75 ms for a checkpoint of its own pages
(``bench/pipeline_sync.py``), about a sixth of its time.

Here the app's connections raise that threshold to ``BACKSTOP_PAGES`` (a bound on the log's
growth should this thread fall behind or die), and a checkpointer thread per database runs a
``PASSIVE`` checkpoint soon after a connection that wrote is returned to the pool: on the other
core, while the request's answer goes out. A passive checkpoint never waits for readers or
writers (it copies what no reader still needs and stops), so it cannot stall the app; what it
leaves, the next one copies. At most one runs every ``MIN_INTERVAL`` seconds, so a burst of small
commits shares one. The thread starts with the first write and ends after ``IDLE_EXIT`` seconds
without one (tests make many short-lived apps).

Several processes on one database (gunicorn workers, ``flask worker``) each run their own; two
checkpoints at once are harmless (one finds the other busy and leaves it the work).
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time

log = logging.getLogger(__name__)

BACKSTOP_PAGES = 10_000  # 40 MB of log at 4 KiB pages before a commit checkpoints by itself
MIN_INTERVAL = 0.5       # seconds between two checkpoints
IDLE_EXIT = 20.0         # seconds without a write before the thread ends (the next write restarts it)


class WalCheckpointer:
    """Checkpoints one SQLite database file's WAL in a background thread."""

    def __init__(self, path: str, *, min_interval: float = MIN_INTERVAL, idle_exit: float = IDLE_EXIT):
        self.path = path
        self.min_interval = min_interval
        self.idle_exit = idle_exit
        self.checkpoints = 0  # completed checkpoint calls (tests and curiosity)
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def poke(self) -> None:
        """Something was committed: checkpoint soon. Cheap; safe from any thread."""
        self._wanted.set()
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
                    self._thread.start()

    def checkpoint(self, connection: sqlite3.Connection) -> tuple[int, int, int] | None:
        """One passive checkpoint: SQLite's (busy, frames in the log, frames checkpointed)."""
        try:
            row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # another process is checkpointing, or the file is gone
            log.debug("WAL checkpoint of %s skipped: %s", self.path, exc)
            return None
        self.checkpoints += 1
        return tuple(row) if row else None

    def _run(self) -> None:
        connection = None
        try:
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            while True:
                if not self._wanted.wait(self.idle_exit):
                    with self._lock:  # no write for a while: end, unless one arrives right now
                        if not self._wanted.is_set():
                            self._thread = None
                            return
                    continue
                self._wanted.clear()
                self.checkpoint(connection)
                time.sleep(self.min_interval)  # writes meanwhile set the event: one checkpoint for all
        except Exception:  # noqa: BLE001 - never take the process down; the backstop still bounds the log
            log.warning("WAL checkpointer for %s stopped", self.path, exc_info=True)
        finally:
            if connection is not None:
                connection.close()
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None


def database_file(url) -> str | None:
    """The file of a SQLite URL, or None for an in-memory database (no WAL there)."""
    database = url.database
    if not database or database == ":memory:" or url.query.get("mode") == "memory" or "mode=memory" in database:
        return None
    return database.removeprefix("file:").split("?", 1)[0] if database.startswith("file:") else database


def install(engine) -> WalCheckpointer | None:
    """Set the app's connections to leave checkpoints to a ``WalCheckpointer`` and return it.

    Call before the engine's first connection (or dispose it after): the pragma is set on
    connect."""
    from sqlalchemy import event

    path = database_file(engine.url)
    if path is None:
        return None
    checkpointer = WalCheckpointer(path)

    @event.listens_for(engine, "connect")
    def _backstop(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
        cursor.close()

    @event.listens_for(engine, "commit")
    def _wrote(connection):
        # Before the commit itself; the checkpointer is poked once the connection is returned.
        connection.info["wal_wrote"] = True

    @event.listens_for(engine.pool, "checkin")
    def _returned(_dbapi_connection, record):
        if record is not None and record.info.pop("wal_wrote", False):
            checkpointer.poke()

    return checkpointer
