"""What the Jira and Confluence walks share: connecting through the sandbox's Atlassian consent
page, running a sync through the engine, driving the emulation's records, and members who read."""
import time

import requests
from sqlalchemy import select

from access import service as access
from core.extensions import db
from knowledge.models import Document
from sandbox.providers.atlassian import ACCOUNTS, PEOPLE
from connections.models import Connection
from sync import worker
from sync.models import SyncRun, SyncRunUnit
from tests.factories import Api, add_member, detached, make_api_key, user_actor_for
from tests.oauth_helpers import consent, local_path


def connect(app, client, workspace, connector_type: str) -> str:
    """A connection made the console's way by the workspace's admin: start, consent at Atlassian
    (signed in as the sandbox's Ada), the callback in the admin's session."""
    from connections import service

    with app.app_context(), app.test_request_context():
        ws, admin = (db.session.merge(x) for x in workspace)
        started = service.connect(user_actor_for(ws, admin), {"connector_type": connector_type})
        ids = ws.id, admin.id
        db.session.remove()
    with client.session_transaction() as session:
        session["workspace_id"], session["user_id"] = ids
    client.get(local_path(consent(started["authorize_url"])))
    with app.app_context():
        connection = db.session.get(Connection, started["connection"]["id"])
        assert connection.status == "connected", connection.last_error
        db.session.remove()
    return started["connection"]["id"]


def sync(app, api, connection_id, *, full=True) -> dict:
    """Queue a run, let a worker execute it, and return it as the API shows it plus its counts."""
    run_id = api.post(f"/api/v1/connections/{connection_id}/sync?full={'true' if full else 'false'}").json["sync_run_id"]
    assert worker.drain(app) == [run_id]
    shown = next(r for r in api.get(f"/api/v1/connections/{connection_id}/runs").json["runs"] if r["id"] == run_id)
    row = detached(app, SyncRun, run_id)
    with app.app_context():
        read = {}
        for unit in db.session.scalars(select(SyncRunUnit).where(SyncRunUnit.run_id == run_id)):
            read[unit.stream] = read.get(unit.stream, 0) + unit.records_read
        db.session.remove()
    return {**shown, "records_read": read,
            **{f"documents_{n}": getattr(row, f"documents_{n}") for n in ("created", "updated", "deleted")}}


def configure(app, connection_id, *, channels: list[str] | None = None, access_mode: str | None = None) -> None:
    """The channels a connection syncs (as its settings name them) and its access mode, set in
    place (through the API, a new access mode queues a full sync of its own)."""
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        if channels is not None:
            connection.settings = {"channels": channels}
        connection.access_mode = access_mode or connection.access_mode
        db.session.commit()
        db.session.remove()


def sandbox(server, method, path, **kwargs):
    response = requests.request(method, f"{server.url}{path}", timeout=5, **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def edit(server, collection: str, record_id: str, **fields):
    return sandbox(server, "PATCH", f"/_sandbox/collections/atlassian/{collection}/{record_id}", json=fields)


def start_of_a_minute(server) -> None:
    """Move the sandbox clock to two seconds past the next minute, so the edits that follow share
    one minute: the granularity of JQL and CQL dates, where a boundary could skip a change."""
    sandbox(server, "POST", "/_sandbox/clock", json={"advance_seconds": 62 - time.time() % 60})


def stored(app, connection_id, type_=None) -> dict[str, Document]:
    with app.app_context():
        try:
            query = select(Document).where(Document.connection_id == connection_id)
            if type_:
                query = query.where(Document.type == type_)
            return {d.external_id: d for d in db.session.scalars(query)}
        finally:
            db.session.remove()


def members(app, workspace, client, people: dict[str, int], kind: str) -> dict[str, Api]:
    """A member per name, with a query key, who is sandbox person ``people[name]``: linked to that
    Atlassian account (``<kind>:<accountId>``) as their own sign-in would link it; a negative
    index instead gives the member that person's e-mail address, and no link."""
    keys = {}
    with app.app_context():
        ws, _ = (db.session.merge(x) for x in workspace)
        for name, index in people.items():
            email = PEOPLE[abs(index)][1] if index < 0 else f"{name}@acme.example"
            user = add_member(ws, email=email)
            if index >= 0:
                access.link_identity(ws.id, user.id, "provider_user", f"{kind}:{ACCOUNTS[index]}",
                                     verified_via="oauth:test")
            keys[name] = make_api_key(ws, user, scopes=["query", "connections:read"], name=name)
        db.session.commit()
        db.session.remove()
    return {name: Api(client, key) for name, key in keys.items()}


def listed(api, source: str) -> list[dict]:
    return api.get(f"/api/v1/documents?source={source}&limit=500").json["documents"]
