"""Gmail end to end through the sync engine against the sandbox: a member connects their own
mailbox on Google's consent page, and each thread becomes one document.

One walk: full (only the owner reads the mailbox) -> an incremental with no change, past a 429
with Retry-After -> the history API, 3 records a page: a new thread, a reply (HTML only, with an
attachment), a thread deleted and one trashed -> history Gmail no longer keeps (404): read in
full again -> deletion detection that confirms by id. Then Gmail's refusal in its words and a
revoked grant: needs_reauth.
"""
import pytest
import requests

from core.extensions import db
from tests.connectors.test_google_workspace_sync import documents
from tests.connectors.test_twitter_sync import sandbox, sync
from tests.factories import Api, add_member, make_api_key
from tests.oauth_helpers import consent, local_path

GMAIL = "https://www.googleapis.com/auth/gmail.readonly"


@pytest.fixture
def gmail(app, api, client, workspace):
    """The admin's own mailbox, connected from their browser session."""
    ws, user = workspace
    started = api.post("/api/v1/connections", json={"connector_type": "gmail", "owner_user_id": user.id}).json
    with client.session_transaction() as session:
        session["user_id"], session["workspace_id"] = user.id, ws.id
    assert client.get(local_path(consent(started["authorize_url"]))).status_code == 200
    return started["connection"]["id"]


def threads(server) -> dict[str, list[str]]:
    """The mailbox's threads as Gmail lists them: id -> message ids."""
    token = sandbox(server, "POST", "/_sandbox/tokens", json={"provider": "google", "scope": GMAIL})["access_token"]
    get = lambda path, **params: requests.get(f"{server.url}/google/gmail/v1/users/me/{path}", params=params,  # noqa: E731
                                              headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
    return {t["id"]: [m["id"] for m in get(f"threads/{t['id']}")["messages"]]
            for t in get("threads", maxResults=500)["threads"]}


def test_threads_walk(app, api, gmail, client, workspace, sandbox_server):
    app.config["GMAIL_PAGE_SIZE"] = 3       # threads and history records 3 a page: startHistoryId on each
    mailbox = threads(sandbox_server)
    sandbox(sandbox_server, "POST", "/_sandbox/google/messages", json={"subject": "Zanzibar", "text": "Private"})
    first = sync(app, api, gmail)
    assert first["status"] == "completed" and first["documents_created"] == len(mailbox) + 1 > 5
    stored = documents(app, gmail)
    longest = max(mailbox, key=lambda t: len(mailbox[t]))
    thread = stored[longest]
    assert thread.type == "email_thread" and thread.metadata_["message_count"] == len(mailbox[longest]) > 1
    assert thread.content.count("From: ") == len(mailbox[longest]) and "Subject: " in thread.content
    assert "INBOX" in thread.metadata_["labels"] or "SENT" in thread.metadata_["labels"]
    with app.app_context():
        bea = add_member(db.session.merge(workspace[0]), email="bea@example.com")
        as_bea = Api(client, make_api_key(db.session.merge(workspace[0]), bea, scopes=["query"]))
    ask = {"query": "Zanzibar", "sources": ["gmail"], "limit": 5}
    assert [r["metadata"]["title"] for r in api.post("/api/v1/query", json=ask).json["results"]] == ["Zanzibar"]
    assert as_bea.post("/api/v1/query", json=ask).json["results"] == []        # a personal mailbox: its owner's

    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={"provider": "google", "kind": "rate_limit",
                                                             "retry_after": 1, "count": 1,
                                                             "path_prefix": "/google/gmail/v1/users/me/history"})
    quiet = sync(app, api, gmail, full=False)
    assert (quiet["documents_created"], quiet["documents_updated"], quiet["records_written"]) == (0, 0, 0)
    assert sandbox(sandbox_server, "GET", "/_sandbox/stats")["rate_limited"] == {"google": 1}

    replied, deleted, trashed = [t for t in mailbox if t != longest][:3]
    new = sandbox(sandbox_server, "POST", "/_sandbox/google/messages", json={"subject": "Hello", "text": "Hello"})
    sandbox(sandbox_server, "POST", "/_sandbox/google/messages", json={
        "thread_id": replied, "html": "<div><p>See the <b>report</b></p><style>p{}</style></div>",
        "attachments": ["report.pdf"]})
    for message_id in mailbox[deleted]:
        sandbox(sandbox_server, "DELETE", f"/_sandbox/google/messages/{message_id}")
    for message_id in mailbox[trashed]:
        sandbox(sandbox_server, "POST", f"/_sandbox/google/messages/{message_id}/labels", json={"add": ["TRASH"]})
    later = sync(app, api, gmail, full=False)
    assert (later["documents_created"], later["documents_updated"], later["documents_deleted"]) == (1, 1, 2)
    now = documents(app, gmail)
    assert now[new["threadId"]].title == "Hello" and not {deleted, trashed} & set(now)
    assert now[replied].content.endswith("See the report\n\nAttachments: report.pdf")
    assert now[replied].metadata_["attachments"] == ["report.pdf"]

    sandbox(sandbox_server, "POST", "/_sandbox/google/messages", json={"subject": "After the gap", "text": "Hi"})
    sandbox(sandbox_server, "POST", "/_sandbox/google/history/expire")
    resynced = sync(app, api, gmail, full=False)      # startHistoryId too old: 404, a full read instead
    assert resynced["status"] == "completed" and resynced["documents_created"] == 1
    quiet = sync(app, api, gmail, full=False)         # and the new historyId works
    assert (quiet["status"], quiet["records_written"]) == ("completed", 0)

    before = set(documents(app, gmail))
    gone = next(t for t in mailbox if t not in (longest, replied, deleted, trashed))
    for message_id in mailbox[gone]:
        sandbox(sandbox_server, "DELETE", f"/_sandbox/google/messages/{message_id}")
    full = sync(app, api, gmail)                    # not listed, then confirmed gone by threads.get
    assert (full["documents_created"], full["documents_deleted"]) == (0, 1)
    assert set(documents(app, gmail)) == before - {gone}


def test_a_refusal_in_gmails_words_and_a_revoked_grant(app, api, gmail, sandbox_server):
    sandbox(sandbox_server, "POST", "/_sandbox/google/mail_service", json={"enabled": False})
    refused = sync(app, api, gmail)
    [unit] = refused["failed_units"]
    assert unit["error_message"] == "Gmail refused to read this mailbox: Mail service not enabled"
    assert (unit["error_code"], unit["error_details"]["provider_code"]) == ("provider_refused", "failedPrecondition")

    sandbox(sandbox_server, "POST", "/_sandbox/google/mail_service", json={"enabled": True})
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={"provider": "google", "kind": "revoke_tokens"})
    assert sync(app, api, gmail, full=False)["status"] == "failed"
    assert api.get(f"/api/v1/connections/{gmail}").json["health"] == "needs_reauth"
