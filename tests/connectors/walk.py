"""What the end-to-end walks through the sync engine share (tests/connectors/test_*_sync.py):
run a sync as the API queues it, and drive the provider sandbox's control routes."""
import requests

from sync import worker
from sync.models import SyncRun
from tests.factories import detached


def sync(app, api, connection_id, *, full=True) -> dict:
    """Queue a run, let a worker execute it, and return it as the API shows it plus its counts."""
    run_id = api.post(f"/api/v1/connections/{connection_id}/sync?full={str(full).lower()}").json["sync_run_id"]
    assert worker.drain(app) == [run_id]
    shown = next(r for r in api.get(f"/api/v1/connections/{connection_id}/runs").json["runs"] if r["id"] == run_id)
    row = detached(app, SyncRun, run_id)
    return {**shown, **{f"documents_{n}": getattr(row, f"documents_{n}") for n in ("created", "updated", "deleted")}}


def sandbox(server, method, path, **kwargs):
    """A control request to the sandbox (``/_sandbox/...``); its JSON answer."""
    response = requests.request(method, f"{server.url}{path}", timeout=5, **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def resumed_pass(read) -> tuple[list, list, list]:
    """A full pass read once whole, then again stopped after its first page and resumed from that
    page's checkpoint: the two must hand over the same records, none lost or repeated.
    ``read(state=None, mode="full", pages=None)`` returns ``(keys, pages)``; returns the whole
    pass's keys and pages and the resumed pass's pages."""
    everything, pages = read()
    first, [page] = read(pages=1)
    assert "resume" in page.state
    rest, resumed = read(page.state, "full")
    assert first + rest == everything
    return everything, pages, resumed
def own_sandbox(scale: int):
    """A module-scoped fixture: a sandbox of the test module's own at a small ``scale`` (walks
    through the engine stay within seconds), seed 42."""
    import pytest

    @pytest.fixture(scope="module")
    def server():
        from sandbox import create_app as create_sandbox
        from tests.conftest import LiveServer

        live = LiveServer(create_sandbox({"SEED": 42, "SCALE": scale}))
        yield live
        live.stop()
    return server


def reset(server) -> None:
    requests.post(f"{server.url}/_sandbox/reset", timeout=5).raise_for_status()


def connect_oauth(app, api, client, connector_type: str, *, expect: str = "", settings=None,
                  asked: dict | None = None) -> str:
    """A connection made as the console makes it (the consent page, then the callback), its
    authorize URL holding ``expect``; ``settings`` then stored (by default: unpaced, so a walk's
    requests are not held to the provider's rate). ``asked``: the connect settings the connector
    asks for (Zendesk's subdomain), sent at connect (``POST /v1/connectors``) and kept."""
    from connections.models import Connection
    from core.extensions import db
    from tests.oauth_helpers import consent, local_path

    if asked is None:
        started = api.post("/api/v1/connections", json={"connector_type": connector_type}).json
        url, connection_id = started["authorize_url"], started["connection"]["id"]
    else:
        started = api.post("/v1/connectors", json={"connector_type": connector_type, "settings": asked}).json
        url, connection_id = started["oauth_url"], started["connector_id"]
    assert expect in url, url
    assert client.get(local_path(consent(url))).status_code == 200
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        kept = {k: v for k, v in (connection.settings or {}).items() if k in (asked or {})}
        connection.settings = {**kept, **({"requests_per_minute": 0} if settings is None else settings)}
        db.session.commit()
        db.session.remove()
    return connection_id


def documents(app, connection_id) -> dict:
    """(type, external id) -> the connection's stored Document (detached)."""
    from sqlalchemy import select

    from core.extensions import db
    from knowledge.models import Document

    with app.app_context():
        try:
            found = {(d.type, d.external_id): d for d in db.session.scalars(
                select(Document).where(Document.connection_id == connection_id))}
            db.session.expunge_all()
            return found
        finally:
            db.session.remove()


def change(server, provider: str, method: str, kind: str, record_id=None, **fields):
    """Add (POST), edit (PATCH) or delete (DELETE) a record of a kit emulation's collection."""
    path = f"/_sandbox/collections/{provider}/{kind}" + (f"/{record_id}" if record_id else "")
    return sandbox(server, method, path, json=fields or None)


def counted(docs: dict, kinds) -> dict:
    return {kind: sum(1 for t, _ in docs if t == kind) for kind in kinds}


def to_source_mode(app, api, connection_id) -> dict:
    """Switch the connection to the ``source`` access mode and run the full read that queues."""
    from sync import worker

    assert api.patch(f"/api/v1/connections/{connection_id}", json={"access_mode": "source"}).status_code == 200
    [run_id] = worker.drain(app)
    return next(r for r in api.get(f"/api/v1/connections/{connection_id}/runs").json["runs"] if r["id"] == run_id)


def revoked_run(app, api, server, provider: str, connection_id) -> dict:
    """A sync after the provider revoked every token: failed for auth, the connection needing a
    reconnect; the run, for its provider's words."""
    sandbox(server, "POST", "/_sandbox/faults", json={"provider": provider, "kind": "revoke_tokens"})
    run = sync(app, api, connection_id)
    assert (run["status"], run["error_reason"]) == ("failed", "auth")
    assert api.get(f"/api/v1/connections/{connection_id}").json["health"] == "needs_reauth"
    return run


def changes_of(provider: str):
    """``change`` for one provider: ``record(server, method, kind, record_id=None, **fields)``."""
    def record(server, method, kind, record_id=None, **fields):
        return change(server, provider, method, kind, record_id, **fields)
    return record
