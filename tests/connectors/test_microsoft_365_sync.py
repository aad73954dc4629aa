"""Microsoft 365 end to end through the sync engine against the sandbox's Graph emulation: connect
through the identity platform's consent page, a full sync that waits out a 429 and a 503 with
Retry-After, readers per document seen through members' own keys, a quiet incremental, Teams and
file changes picked up by delta queries (soft-deleted messages and deleted files as tombstones), a
message deleted for good found by a full sync of its channel and confirmed by id, Graph's own
words in a refusal, and a revoked grant turning the connection to needs_reauth. One walk, so the
connection and its first sync are paid for once.
"""
from core.extensions import db
from knowledge.models import Document
from sandbox.kit import Collection, Seeded
from sandbox.providers import microsoft as ms
from sync import worker
from sync.models import SyncRun
from tests.connectors.test_twitter_sync import sandbox, sync
from tests.factories import Api, add_member, detached, make_api_key
from tests.oauth_helpers import consent, local_path

SCALE = 25      # tests/conftest.py: SEED 42, SCALE 25 (threads and files alike)
MESSAGES = Collection("microsoft", "channel_messages", Seeded(ms.message_fields), 42, SCALE).rows
FILES = Collection("microsoft", "drive_items", Seeded(ms.file_fields), 42, SCALE).rows


def connect(api, client, connector_type: str, **fields) -> str:
    """Connect through the sandbox's consent page, as a person would (Outlook: ``owner_user_id``)."""
    started = api.post("/api/v1/connections", json={"connector_type": connector_type, **fields}).json
    assert "/microsoft/common/oauth2/v2.0/authorize" in started["authorize_url"]
    assert client.get(local_path(consent(started["authorize_url"]))).status_code in (200, 302)
    connection = api.get(f"/api/v1/connections/{started['connection']['id']}").json
    assert (connection["status"], connection["handle"]) == ("connected", "ada@contoso.example")
    return started["connection"]["id"]


def member_api(app, client, workspace, email: str) -> Api:
    with app.app_context():
        ws = db.session.merge(workspace[0])
        key = make_api_key(ws, add_member(ws, email=email), scopes=["query", "connections:read"], name=email)
        db.session.remove()
    return Api(client, key)


def listed(member: Api) -> set[tuple[str, str]]:
    """(stream, external id) of every document the member may read (thread and file ids may meet)."""
    return {(d["namespace"].removeprefix("microsoft_365_"), d["external_id"])
            for d in member.get("/api/v1/documents?source=microsoft_365&limit=500").json["documents"]}


def stored(app, connection_id) -> set[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(db.select(Document.namespace, Document.external_id)
                                  .where(Document.connection_id == connection_id)).all()
        db.session.remove()
    return {(namespace.removeprefix("microsoft_365_"), external_id) for namespace, external_id in rows}


def threads(where) -> set[tuple[str, str]]:
    return {("channel_messages", i) for i, m in MESSAGES.items() if where(m)}


def files(where) -> set[tuple[str, str]]:
    return {("files", i) for i, f in FILES.items() if where(f)}


def fault(server, **spec):
    sandbox(server, "POST", "/_sandbox/faults", json={"provider": "microsoft", **spec})


def test_teams_threads_and_files_sync_incrementally_with_their_readers(app, api, client, workspace, sandbox_server):
    connection = connect(api, client, "microsoft_365")
    fault(sandbox_server, kind="rate_limit", retry_after=1, path_prefix="/microsoft/v1.0/teams/")
    fault(sandbox_server, kind="rate_limit", status=503, retry_after=1, path_prefix="/microsoft/v1.0/drives/")
    first = sync(app, api, connection)
    assert first["status"] == "completed" and first["documents_created"] == 2 * SCALE
    assert sandbox(sandbox_server, "GET", "/_sandbox/stats")["rate_limited"]["microsoft"] == 2

    # Readers (the source access mode is Microsoft 365's default): Chiara is in the Product team but
    # not its private channel; files are read by their drive's team, whom they were shared with, or
    # anyone in the organization through a link.
    chiara = member_api(app, client, workspace, "chiara@contoso.example")
    assert listed(chiara) == threads(lambda m: m["channel"] == "product/general") | files(
        lambda f: f["drive"] == "product-docs" or f["sharing"] == "organization")
    elena = member_api(app, client, workspace, "elena@contoso.example")     # Sales; a person files are shared with
    assert listed(elena) == threads(lambda m: m["channel"] == "sales/general") | files(
        lambda f: f["drive"] == "onedrive" and f["sharing"] in ("person", "team", "organization")
        or f["drive"] == "product-docs" and f["sharing"] in ("person", "organization"))

    quiet = sync(app, api, connection, full=False)
    assert (quiet["status"], quiet["documents_created"], quiet["documents_updated"], quiet["records_written"]) == \
        ("completed", 0, 0, 0)

    thread, gone_thread = [i for i, m in MESSAGES.items() if m["channel"] == "product/general"][:2]
    library = {i: f["name"] for i, f in FILES.items() if f["drive"] == "product-docs"}
    edited_file, gone_file = (next(i for i, name in library.items() if name.endswith(ext)) for ext in (".docx", ".txt"))
    base = "/_sandbox/collections/microsoft"
    reply = {"author": 1, "html": "<p>Zanzibar rollout moves to <b>Thursday</b></p>", "after": 30}
    sandbox(sandbox_server, "PATCH", f"{base}/channel_messages/{thread}",
            json={"replies": MESSAGES[thread]["replies"] + [reply]})
    sandbox(sandbox_server, "PATCH", f"{base}/channel_messages/{gone_thread}", json={"deleted": True})  # soft
    new = sandbox(sandbox_server, "POST", f"{base}/channel_messages", json={
        "channel": "product/general", "author": 2, "subject": None, "html": "<p>Quarter closed</p>", "deleted": False,
        "replies": []})
    sandbox(sandbox_server, "PATCH", f"{base}/drive_items/{edited_file}", json={"text": "Quokka budget, second draft"})
    sandbox(sandbox_server, "DELETE", f"{base}/drive_items/{gone_file}")
    fault(sandbox_server, kind="client_error", status=403, path_prefix=f"/microsoft/v1.0/teams/{ms.TEAM_ID['sales']}"
          f"/channels/{ms.CHANNEL_ID['sales/general']}/messages")          # Graph refuses one channel this time
    later = sync(app, api, connection, full=False)
    assert (later["documents_created"], later["documents_updated"], later["documents_deleted"]) == (1, 2, 2)
    [unit] = later["failed_units"]                                          # in Graph's own words
    assert (unit["error_reason"], unit["error_code"]) == ("config", "provider_refused")
    assert (unit["error_details"]["provider_code"], unit["error_details"]["provider_message"]) == \
        ("accessDenied", "Access denied. Check credentials and try again.")
    assert unit["error_message"].startswith("Microsoft Graph refused the request: Access denied.")
    found = chiara.post("/api/v1/query", json={"query": "Zanzibar Thursday", "sources": ["microsoft_365"]}).json
    assert found["results"][0]["metadata"]["external_id"] == thread
    found = chiara.post("/api/v1/query", json={"query": "Quokka budget", "sources": ["microsoft_365"]}).json
    assert found["results"][0]["metadata"]["external_id"] == edited_file      # a Word file's own text

    # A message deleted for good leaves no tombstone: a full sync of its channel misses it, asks
    # Graph for it by id (404) and only then deletes it; everything still there stays.
    purged = next(i for i, m in MESSAGES.items() if m["channel"] == "product/launch")
    sandbox(sandbox_server, "DELETE", f"{base}/channel_messages/{purged}")
    launch = f"{ms.TEAM_ID['product']}/{ms.CHANNEL_ID['product/launch']}"
    job = api.post("/api/sync", json={"channel_id": launch, "force": True}).json
    assert worker.drain(app) == [job["job_id"]]
    done = detached(app, SyncRun, job["job_id"])
    assert (done.status, done.documents_created, done.documents_deleted) == ("completed", 0, 1)
    assert stored(app, connection) == (threads(lambda m: True) | files(lambda f: True) | {
        ("channel_messages", new["id"])}) - {("channel_messages", gone_thread), ("files", gone_file),
                                             ("channel_messages", purged)}

    # A revoked grant means signing in again.
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={"provider": "microsoft", "kind": "revoke_tokens"})
    refused = sync(app, api, connection, full=False)
    assert (refused["status"], refused["error_reason"]) == ("failed", "auth")
    assert api.get(f"/api/v1/connections/{connection}").json["health"] == "needs_reauth"
