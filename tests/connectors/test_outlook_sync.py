"""Outlook end to end through the sync engine against the sandbox's Graph emulation: a member
connects their own mailbox (a personal connection), a full sync of every folder (child folders
too) waits out a 429, only its owner reads the mail, a quiet incremental writes nothing, delta
queries bring a new mail, an edited one and a deletion (``@removed``), a full sync keeps every
live mail, an expired token is refreshed, and a revoked grant turns the connection to needs_reauth.
"""
from datetime import timedelta

from connections.models import Connection
from core.extensions import db
from core.timeutil import utcnow
from sandbox.kit import Collection, Seeded
from sandbox.providers import microsoft as ms
from sync.models import Channel
from tests.connectors.test_microsoft_365_sync import connect, fault, member_api
from tests.connectors.test_twitter_sync import sandbox, stored, sync

SCALE = 25
MAIL = Collection("microsoft", "mail", Seeded(ms.mail_fields), 42, SCALE).rows


def test_a_mailbox_syncs_by_folder_for_its_owner_only(app, api, client, workspace, sandbox_server):
    connection = connect(api, client, "outlook", owner_user_id=workspace[1].id)
    assert api.get(f"/api/v1/connections/{connection}").json["scope"] == "personal"
    fault(sandbox_server, kind="rate_limit", retry_after=1, path_prefix="/microsoft/v1.0/me/mailFolders/")
    first = sync(app, api, connection)
    assert first["status"] == "completed" and first["documents_created"] == SCALE
    assert sandbox(sandbox_server, "GET", "/_sandbox/stats")["rate_limited"]["microsoft"] == 1
    with app.app_context():
        folders = set(db.session.scalars(db.select(Channel.name).where(Channel.connection_id == connection)))
        db.session.remove()
    # Projects is a child of Inbox; Drafts and Sent Items hold what the API writes (empty until then).
    assert folders == {"Inbox", "Archive", "Projects", "Drafts", "Sent Items"}

    owner = api.get("/api/v1/documents?source=outlook&limit=100").json["documents"]
    assert len(owner) == SCALE
    mail = api.get(f"/api/v1/documents/{next(d['id'] for d in owner if d['external_id'] == '1')}").json
    assert mail["content"].startswith(f"From: {ms.PEOPLE[MAIL['1']['from']]['mail']}\nTo: ada@contoso.example")
    assert "<p>" not in mail["content"] and "— regards" in mail["content"]      # HTML read as text
    bruno = member_api(app, client, workspace, "bruno@contoso.example")
    assert bruno.get("/api/v1/documents?source=outlook&limit=100").json["documents"] == []

    quiet = sync(app, api, connection, full=False)
    assert (quiet["documents_created"], quiet["documents_updated"], quiet["records_written"]) == (0, 0, 0)

    base = "/_sandbox/collections/microsoft/mail"
    new = sandbox(sandbox_server, "POST", base, json={"folder": "projects", "from": 2, "subject": "Okapi launch",
                                                       "html": "<p>The okapi ships on Monday.</p>"})
    sandbox(sandbox_server, "PATCH", f"{base}/2", json={"subject": "Re: renamed thread"})
    sandbox(sandbox_server, "DELETE", f"{base}/3")
    later = sync(app, api, connection, full=False)
    assert (later["documents_created"], later["documents_updated"], later["documents_deleted"]) == (1, 1, 1)
    found = api.post("/api/v1/query", json={"query": "okapi Monday", "sources": ["outlook"]}).json
    assert found["results"][0]["metadata"]["external_id"] == new["id"]

    full = sync(app, api, connection)
    assert (full["status"], full["documents_created"], full["documents_deleted"]) == ("completed", 0, 0)
    assert stored(app, connection) == (set(MAIL) | {new["id"]}) - {"3"}

    with app.app_context():     # the hour is up: the next run refreshes the token (offline_access) first
        db.session.get(Connection, connection).token_expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
        db.session.remove()
    assert sync(app, api, connection, full=False)["status"] == "completed"
    assert sandbox(sandbox_server, "GET", "/_sandbox/stats")["token_grants"]["microsoft"]["refresh_token"] == 1
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={"provider": "microsoft", "kind": "revoke_tokens"})
    refused = sync(app, api, connection, full=False)
    assert (refused["status"], refused["error_reason"]) == ("failed", "auth")
    assert api.get(f"/api/v1/connections/{connection}").json["health"] == "needs_reauth"
