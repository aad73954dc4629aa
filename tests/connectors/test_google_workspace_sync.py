"""Google Workspace end to end through the sync engine against the sandbox: Drive and Calendar on
the sandbox kit, connected through Google's consent page.

One walk: full (Docs exported, PDFs read, folders as paths, three readable calendars as
channels; readers from Drive permissions and event attendees, checked through a member's query)
-> an incremental with no change, past a 429 with Retry-After -> changes picked up (Drive's
changes API, Calendar's sync tokens: added, edited, trashed, removed, cancelled) -> an expired
sync token (410) read again in full -> deletion detection that confirms by id. Then a consent
without Drive: Calendar's 403 userRateLimitExceeded waited out, Drive's refusal in Google's
words, and a revoked grant: needs_reauth.
"""
import pytest
from sqlalchemy import select

from connectors.base import SyncContext
from connectors.google_workspace import GoogleWorkspaceConnector
from connectors.settings import ConnectorSettings
from core.extensions import db
from knowledge.models import Document
from sandbox.providers.google_drive import DOC, PDF, file_id
from tests.connectors.test_twitter_sync import sandbox, sync
from tests.factories import Api, add_member, make_api_key
from tests.oauth_helpers import consent, local_path

SCALE = 25                      # files, and events over the calendars (tests/conftest.py's sandbox)
DRIVE = "https://www.googleapis.com/auth/drive.readonly"


@pytest.fixture
def google(app, api, client):
    """A Google Workspace connection, authorized on the sandbox's consent page."""
    started = api.post("/api/v1/connections", json={"connector_type": "google_workspace"}).json
    assert client.get(local_path(consent(started["authorize_url"]))).status_code == 200
    return started["connection"]["id"]


def documents(app, connection_id) -> dict[str, Document]:
    with app.app_context():
        try:
            found = db.session.scalars(select(Document).where(Document.connection_id == connection_id)).all()
            db.session.expunge_all()
            return {d.external_id: d for d in found}
        finally:
            db.session.remove()


def collection(server, where, record_id="", method="POST", **fields):
    """Add (or with a record id, PATCH or DELETE) a record of a kit emulation's collection."""
    return sandbox(server, method, f"/_sandbox/collections/{where}" + (f"/{record_id}" if record_id else ""),
                   json=fields)


def shared_with_bea(app, client, workspace, server) -> Api:
    """Bea, a member, and Zanzibar files and events some of which she may read; her query key."""
    with app.app_context():
        bea = add_member(db.session.merge(workspace[0]), email="bea@example.com")
        as_bea = Api(client, make_api_key(db.session.merge(workspace[0]), bea, scopes=["query"]))
    bea_reads = [{"type": "user", "email": "bea@example.com", "role": "reader"}]
    shared = {
        "to bea": bea_reads,
        "public on the web": [{"type": "anyone", "role": "reader", "discoverable": True}],
        "by link only": [{"type": "anyone", "role": "reader", "discoverable": False},
                         {"type": "domain", "domain": "example.com", "role": "reader", "discoverable": False}],
        "to a group": [{"type": "group", "email": "engineering@example.com", "role": "reader"}],
    }
    for title, grants in shared.items():
        collection(server, "google_drive/files", name=f"Zanzibar {title}", mimeType=DOC,
                   text=f"Zanzibar notes shared {title}", shared=grants)
    # Owned by a colleague who let the connected account read it: Drive hides its permissions.
    collection(server, "google_drive/files", name="Zanzibar theirs", mimeType=DOC, text="Zanzibar theirs",
               owner="cara@example.com", role="reader", shared=bea_reads)
    for title, people in (("with bea", ["bea@example.com"]), ("without bea", ["dan@example.com"])):
        collection(server, "google_calendar/events", calendar="sandbox.user@example.com",
                   summary=f"Zanzibar meeting {title}", organizer="sandbox.user@example.com", attendees=people,
                   start=1750000000)
    return as_bea


def test_drive_and_calendar_walk(app, api, google, client, workspace, sandbox_server):
    app.config["GOOGLE_WORKSPACE_PAGE_SIZE"] = 10
    as_bea = shared_with_bea(app, client, workspace, sandbox_server)      # 5 files and 2 events more
    first = sync(app, api, google)
    assert first["status"] == "completed" and first["documents_created"] == 2 * SCALE + 7
    assert first["records_hidden"] == 0
    stored = documents(app, google)
    files = {i: d for i, d in stored.items() if d.namespace == "google_workspace_files"}
    events = {i: d for i, d in stored.items() if d.namespace == "google_workspace_events"}
    assert (len(files), len(events)) == (SCALE + 5, SCALE + 2)
    assert {d.channel for d in events.values()} == {"sandbox.user@example.com", "c_sbxteam@group.calendar.google.com",
                                                     "en.usa%23holiday@group.v.calendar.google.com"}  # not free/busy
    doc = next(d for d in files.values() if d.metadata_["mime_type"] == DOC)
    assert doc.type == "document" and doc.content.startswith(doc.title) and "\ufeff" not in doc.content
    pdf = next(d for d in files.values() if d.metadata_["mime_type"] == PDF)
    assert pdf.content.startswith("Agreement between")                    # the PDF's own text, through pypdf
    assert {d.metadata_["path"] for d in files.values()} >= {"My Drive/Projects/Launch", "My Drive"}
    found = as_bea.post("/api/v1/query", json={"query": "Zanzibar", "sources": ["google_workspace"], "limit": 20}).json
    assert sorted({r["metadata"]["title"] for r in found["results"]}) == [
        "Zanzibar meeting with bea", "Zanzibar public on the web", "Zanzibar to bea"]

    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={
        "provider": "google_drive", "kind": "rate_limit", "retry_after": 1, "count": 1,
        "path_prefix": "/google/drive/v3/changes"})
    quiet = sync(app, api, google, full=False)
    assert (quiet["documents_created"], quiet["documents_updated"], quiet["records_written"]) == (0, 0, 0)
    assert sandbox(sandbox_server, "GET", "/_sandbox/stats")["rate_limited"] == {"google_drive": 1}

    added = collection(sandbox_server, "google_drive/files", name="Zanzibar plan", mimeType=DOC,
                       text="Zanzibar plan\n\nShip it.", parent=file_id("folders", 3))
    trashed, removed = sorted(files)[:2]
    collection(sandbox_server, "google_drive/files", int(trashed[5:]), "PATCH", trashed=True)
    collection(sandbox_server, "google_drive/files", int(removed[5:]), "DELETE")
    renamed, cancelled = sorted(e for e, d in events.items() if d.channel == "sandbox.user@example.com")[:2]
    collection(sandbox_server, "google_calendar/events", int(renamed[3:]), "PATCH", summary="Zanzibar offsite")
    collection(sandbox_server, "google_calendar/events", int(cancelled[3:]), "PATCH", status="cancelled")
    later = sync(app, api, google, full=False)
    assert (later["documents_created"], later["documents_updated"], later["documents_deleted"]) == (1, 1, 3)
    now = documents(app, google)
    new = now[file_id("files", added["id"])]
    assert (new.content, new.metadata_["path"]) == ("Zanzibar plan\n\nShip it.", "My Drive/Finance")
    assert now[renamed].title == "Zanzibar offsite" and not {trashed, removed, cancelled} & set(now)

    sandbox(sandbox_server, "POST", "/_sandbox/google_calendar/sync_tokens/expire")
    collection(sandbox_server, "google_calendar/events", int(renamed[3:]), "PATCH", summary="Zanzibar retreat")
    expired = sync(app, api, google, full=False)         # 410 fullSyncRequired: each calendar read again
    assert expired["status"] == "completed" and (expired["documents_updated"], expired["documents_deleted"]) == (1, 0)

    gone = sorted(i for i in now if i.startswith("1SbxF") and i != new.external_id)[-1]
    collection(sandbox_server, "google_drive/files", int(gone[5:]), "DELETE")
    full = sync(app, api, google)
    assert (full["documents_created"], full["documents_deleted"]) == (0, 1) and gone not in documents(app, google)
    # What a full read did not see is fetched by id first: a live file is answered, a gone one not.
    token = sandbox(sandbox_server, "POST", "/_sandbox/tokens", json={"provider": "google", "scope": DRIVE})
    connector = GoogleWorkspaceConnector(ConnectorSettings("google_workspace", {"api_url": f"{sandbox_server.url}/google"}))
    ctx = SyncContext(connection_id=google, connector_type="google_workspace", credentials={}, settings={},
                      handle="sandbox.user@example.com", access_token=lambda: token["access_token"])
    stream = connector.catalog.streams[0]
    assert [i for i, _ in connector.fetch_records(ctx, stream, None, [new.external_id, gone])] == [new.external_id]


def test_quota_refusal_and_revoked_grant(app, api, client, sandbox_server):
    """A consent without Drive (Google lets people untick it): Calendar's 403 userRateLimitExceeded
    (no header: the reason says it) is backed off and retried, Drive's 403 is shown in Google's
    words. Then the grant is revoked: the connection needs re-authorization."""
    app.config["GOOGLE_WORKSPACE_SCOPES"] = "openid email https://www.googleapis.com/auth/calendar.readonly"
    started = api.post("/api/v1/connections", json={"connector_type": "google_workspace"}).json
    assert client.get(local_path(consent(started["authorize_url"]))).status_code == 200
    connection = started["connection"]["id"]
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={
        "provider": "google_calendar", "kind": "rate_limit", "status": 403, "count": 2,
        "path_prefix": "/google/calendar/v3/calendars"})
    run = sync(app, api, connection)
    [unit] = run["failed_units"]
    assert (unit["stream"], unit["error_code"]) == ("files", "provider_refused")
    assert "Request had insufficient authentication scopes." in unit["error_message"]
    assert unit["error_details"]["provider_code"] == "insufficientPermissions"
    assert run["documents_created"] == SCALE                           # every event still came in
    assert sandbox(sandbox_server, "GET", "/_sandbox/stats")["rate_limited"] == {"google_calendar": 2}

    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={"provider": "google", "kind": "revoke_tokens"})
    refused = sync(app, api, connection, full=False)
    assert refused["status"] == "failed"
    assert api.get(f"/api/v1/connections/{connection}").json["health"] == "needs_reauth"


def _drive_requests(server) -> dict[str, int]:
    stats = sandbox(server, "GET", "/_sandbox/stats")["requests"]
    return dict(stats.get("google_drive", {}).get("endpoints", {}))


def test_a_permissions_pass_regrants_without_reading_content_and_leaves_changes_to_the_next_read(
        app, api, google, client, workspace, sandbox_server):
    """The hourly permissions pass stores who may read what and nothing else: Drive's exports and
    downloads are not requested, no document is rewritten or embedded again, and an edit it
    passed over is the next incremental read's (the pass does not move the cursor)."""
    from tests.access.test_connectors import drain

    as_bea = shared_with_bea(app, client, workspace, sandbox_server)
    assert sync(app, api, google)["status"] == "completed"
    before = documents(app, google)
    private = next(d for d in before.values() if d.title == "Zanzibar to a group")
    finds = lambda: {r["metadata"]["title"] for r in as_bea.post(  # noqa: E731
        "/api/v1/query", json={"query": "Zanzibar", "sources": ["google_workspace"], "limit": 20}).json["results"]}
    assert private.title not in finds()
    number = int(private.external_id[5:])
    collection(sandbox_server, "google_drive/files", number, "PATCH", text="Zanzibar notes, second draft",
               shared=[{"type": "user", "email": "bea@example.com", "role": "reader"}])
    read = _drive_requests(sandbox_server)

    run_id = drain(app, google, "permissions")
    after = documents(app, google)
    assert private.title in finds()                          # Bea reads it now ...
    assert after[private.external_id].content == private.content    # ... as it was: content is not the pass's
    assert {i: d.content_hash for i, d in after.items()} == {i: d.content_hash for i, d in before.items()}
    made = {route: n - read.get(route, 0) for route, n in _drive_requests(sandbox_server).items()
            if n != read.get(route, 0)}
    # the listing (with each file's permissions) and nothing per file: no export, no download
    assert set(made) == {"GET /google/drive/v3/files", "GET /google/drive/v3/changes/startPageToken"}, made
    run = api.get(f"/api/v1/connections/{google}/runs").json["runs"]
    assert next(r for r in run if r["id"] == run_id)["records_written"] == 0

    later = sync(app, api, google, full=False)                # the edit is the incremental's
    assert later["documents_updated"] == 1
    assert documents(app, google)[private.external_id].content == "Zanzibar notes, second draft"
