"""Factories (``make_*``) and small helpers shared by the tests."""
import pytest

from accounts import service as accounts
from accounts.models import Membership, User, Workspace
from core.actor import Actor
from core.extensions import db
from werkzeug.security import generate_password_hash

PASSWORD = "correct horse battery"


def make_workspace(name="Acme", *, email=None, role="admin"):
    """A workspace with one member; returns (workspace, user)."""
    workspace = Workspace(name=name)
    user = User(email=email or f"{name.lower().replace(' ', '')}-{role}@example.com", name=f"{name} {role}",
                password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"))
    db.session.add_all([workspace, user])
    db.session.flush()
    db.session.add(Membership(workspace_id=workspace.id, user_id=user.id, role=role))
    db.session.commit()
    return workspace, user


def add_member(workspace, *, email, role="member"):
    user = User(email=email, name=email.split("@")[0],
                password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"))
    db.session.add(user)
    db.session.flush()
    db.session.add(Membership(workspace_id=workspace.id, user_id=user.id, role=role))
    db.session.commit()
    return user


def user_actor_for(workspace, user, role="admin"):
    return Actor(type="user", id=user.id, label=user.email, workspace_id=workspace.id, user_id=user.id, role=role)


def make_api_key(workspace, user, scopes=("admin",), name="test key"):
    _key, clear = accounts.create_api_key(user_actor_for(workspace, user), name=name, scopes=list(scopes))
    return clear


class Api:
    """A test client that sends a bearer key and JSON."""

    def __init__(self, client, key):
        self.client, self.key = client, key

    def _headers(self, headers=None):
        return {"Authorization": f"Bearer {self.key}", **(headers or {})}

    def get(self, path, **kw):
        return self.client.get(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, path, **kw):
        return self.client.delete(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path, json=None, **kw):
        return self.client.post(path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def patch(self, path, json=None, **kw):
        return self.client.patch(path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def put(self, path, json=None, **kw):
        return self.client.put(path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)


@pytest.fixture
def workspace(app):
    """(workspace, admin user) in the app's database."""
    with app.app_context():
        ws, user = make_workspace("Acme")
        db.session.refresh(ws)
        db.session.refresh(user)
        db.session.expunge_all()  # detached but loaded: usable in any later app context
        return ws, user


@pytest.fixture
def api(app, client, workspace):
    """An Api client with an admin-scoped key for the ``workspace`` fixture."""
    with app.app_context():
        ws, user = workspace
        return Api(client, make_api_key(db.session.merge(ws), db.session.merge(user)))


def make_connection(workspace_id, *, connector_type="pipedrive", name=None, status="connected", **fields):
    """A connection row as the connect flows leave it (no provider call): for pages and filters."""
    from connections.models import Connection
    from core.timeutil import utcnow

    connection = Connection(workspace_id=workspace_id, connector_type=connector_type,
                            name=name or connector_type.capitalize(), status=status, settings={},
                            connected_at=fields.pop("connected_at", utcnow()), **fields)
    db.session.add(connection)
    db.session.commit()
    return connection


def make_run(connection, *, status="completed", mode="incremental", triggered_by="schedule", **fields):
    """A sync run of ``connection`` with the counters given (the engine's part, played)."""
    from sync.models import SyncRun

    run = SyncRun(workspace_id=connection.workspace_id, connection_id=connection.id, status=status, mode=mode,
                  triggered_by=triggered_by, **fields)
    db.session.add(run)
    db.session.commit()
    return run


def detached(app, model, key):
    """A row as it is in the database now, read in a context of its own and detached (its
    loaded attributes stay readable after the context ends)."""
    with app.app_context():
        try:
            return db.session.get(model, key)
        finally:
            db.session.expunge_all()
            db.session.remove()


def configure(app, connection_id, **settings):
    """Replace a connection's settings (``channels=[...]``), as the console's form stores them."""
    from connections.models import Connection

    with app.app_context():
        db.session.get(Connection, connection_id).settings = settings
        db.session.commit()
        db.session.remove()


def synced(app, api, connection_id, *, full=True) -> dict:
    """Queue a run through the API, let a worker execute it, and return it as the API shows it
    plus its document counts (created, updated, deleted)."""
    from sync import worker
    from sync.models import SyncRun

    run_id = api.post(f"/api/v1/connections/{connection_id}/sync?full={'true' if full else 'false'}").json["sync_run_id"]
    assert worker.drain(app) == [run_id]
    shown = next(r for r in api.get(f"/api/v1/connections/{connection_id}/runs").json["runs"] if r["id"] == run_id)
    row = detached(app, SyncRun, run_id)
    return {**shown, **{f"documents_{n}": getattr(row, f"documents_{n}") for n in ("created", "updated", "deleted")}}
