"""Driving a sync run by hand in tests: queue it, claim it as a named worker, execute it in a
thread while the test changes the source under it, and read what it wrote. Shared by
test_durability.py and test_deletion_mid_read.py; ``full_read_with_deletions`` is the walk both
use to show that records deleted at the source during a full read never cost a live one."""
import threading
from dataclasses import dataclass

import requests
from sqlalchemy import select

from core.extensions import db
from knowledge.models import Document
from sync import engine, worker
from sync.engine import namespace_for
from sync.models import SyncRunUnit
from tests.polling import wait_for


def queue(api, connection_id, *, full=True):
    return api.post(f"/api/v1/connections/{connection_id}/sync?full={'true' if full else 'false'}").json["sync_run_id"]


def claim(app, run_id, name):
    with app.app_context():
        claimed = worker.claim(name)
        db.session.remove()
    assert claimed is not None and claimed.run_id == run_id
    return claimed


def execute_in_thread(app, claimed):
    outcome = {}

    def run():
        with app.app_context():
            try:
                outcome["status"] = engine.execute(claimed.run_id, claimed.token)
            finally:
                db.session.remove()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def units(app, run_id):
    """The run's units by stream (one channel a stream; see ``unit_list`` for more)."""
    return {u.stream: u for u in unit_list(app, run_id)}


def unit_list(app, run_id) -> list[SyncRunUnit]:
    with app.app_context():
        try:
            return list(db.session.scalars(select(SyncRunUnit).where(SyncRunUnit.run_id == run_id)))
        finally:
            db.session.expunge_all()
            db.session.remove()


def stored_ids(app, connection_id, namespace):
    with app.app_context():
        try:
            return set(db.session.scalars(select(Document.external_id).where(
                Document.connection_id == connection_id, Document.namespace == namespace)))
        finally:
            db.session.remove()


class Hold:
    """A sandbox ``hold`` fault: the provider's requests (``method``) under ``path_prefix`` wait
    until the test lets them through -- a run stopped between two pages for as long as the test
    needs, where a latency fault only makes a race with the test's own requests likelier to go
    its way. ``count``: how many requests it holds before it lets the rest go unasked."""

    def __init__(self, server, provider: str, path_prefix: str, *, method: str = "GET", count: int = 100_000):
        self.server = server
        self.id = _control(server, "POST", "/_sandbox/faults", json={
            "provider": provider, "kind": "hold", "path_prefix": path_prefix, "method": method,
            "count": count}).json()["fault"]["id"]

    def waiting(self) -> int:
        faults = _control(self.server, "GET", "/_sandbox/faults").json()["faults"]
        return next((f["waiting"] for f in faults if f["id"] == self.id), 0)

    def let_through(self, requests_: int = 1) -> None:
        """``requests_`` more held requests go on (any that wait now, or the next to come)."""
        _control(self.server, "POST", f"/_sandbox/faults/{self.id}/release", json={"requests": requests_})

    def lift(self) -> None:
        _control(self.server, "POST", f"/_sandbox/faults/{self.id}/release")


# -- a full read during which records are deleted at the source ------------------------------------

@dataclass
class MidRead:
    """What ``full_read_with_deletions`` saw: the stream's documents before the second full
    read and after it, the ids deleted at the source during it, and that run's units of the
    stream (``recovered``: live records the listing did not show, confirmed and kept)."""

    before: set
    after: set
    gone: set
    units: list

    def count(self, name: str) -> int:
        return sum(getattr(u, name) for u in self.units)


def full_read_with_deletions(app, api, server, connection_id, stream, delete_some, *, slow, started=5,
                             change_feed=False) -> MidRead:
    """A full sync (queued by the caller), then a second one, slowed by ``slow`` (a sandbox
    fault spec, or a list of them), during which ``delete_some(stored ids)`` deletes records at
    the source -- once the run has read ``started`` records of ``stream``, and while it still
    runs -- and returns their ids. Checks that no live record was lost and that the next full
    sync leaves exactly the records that were not deleted; with ``change_feed`` (a stream whose
    changes the provider lists, deletions included), already the next incremental sync: the
    full read's token covers what changed while it read."""
    connector_type = _connector_type(app, connection_id)
    namespace = namespace_for(connector_type, stream)
    assert worker.drain(app)
    before = stored_ids(app, connection_id, namespace)
    for spec in slow if isinstance(slow, list) else [slow]:
        _control(server, "POST", "/_sandbox/faults", json=spec)
    run_id = queue(api, connection_id)
    thread, outcome = execute_in_thread(app, claim(app, run_id, "w"))
    read = lambda: sum(u.records_read for u in unit_list(app, run_id) if u.stream == stream)  # noqa: E731
    assert wait_for(lambda: read() >= started, timeout=30, interval=0.02), "the read never got under way"
    gone = set(delete_some(sorted(before)))
    assert gone and thread.is_alive(), "the run ended before the deletions: nothing was deleted mid-read"
    thread.join(60)
    assert outcome.get("status") == "completed", outcome
    after = stored_ids(app, connection_id, namespace)
    assert before - gone <= after, f"live records lost: {sorted(before - gone - after)}"
    seen = MidRead(before, after, gone, [u for u in unit_list(app, run_id) if u.stream == stream])

    _control(server, "DELETE", "/_sandbox/faults")
    if change_feed:
        queue(api, connection_id, full=False)
        assert worker.drain(app)
        assert stored_ids(app, connection_id, namespace) == before - gone, "deleted mid-read, kept by the next run"
    queue(api, connection_id)
    assert worker.drain(app)
    assert stored_ids(app, connection_id, namespace) == before - gone
    return seen


def _connector_type(app, connection_id) -> str:
    from connections.models import Connection

    with app.app_context():
        try:
            return db.session.get(Connection, connection_id).connector_type
        finally:
            db.session.remove()


def _control(server, method, path, **kwargs):
    response = requests.request(method, f"{server.url}{path}", timeout=10, **kwargs)
    assert response.status_code < 300, response.text
    return response

