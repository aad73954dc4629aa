"""Slack end to end through the sync engine against the sandbox (the layout of
test_twitter_sync.py): connect through the consent page, full, readers of a private channel, a
no-change incremental that writes nothing, changes (a new message, a reply to a recent thread and
to an old one, a deleted message), a 429 waited out, Slack's own error words, and a revoked
token. The reply window and tombstones in detail: test_slack_streams.py.

The sandbox holds SEED 42, SCALE 25 (tests/conftest.py): the app is in #general, #random and the
private #leadership (every third user is a member); #engineering is public without it.
"""
import dataclasses

import pytest
import requests
from sqlalchemy import select

from connections.models import Connection
from core.extensions import db
from knowledge.models import Document
from tests.factories import Api, add_member, configure, detached, make_api_key, synced
from tests.oauth_helpers import consent, local_path

READ = ("C0GENERAL1", "G0LEADERS1")      # of the three the app is in: a public and the private one
SCOPES = "channels:read,channels:history,groups:read,groups:history,files:read,users:read,users:read.email"


@pytest.fixture
def slack(app, api, client):
    """A Slack connection made through the sandbox's consent page (bot scopes comma-separated)."""
    started = api.post("/api/v1/connections", json={"connector_type": "slack"}).json
    assert "scope=channels%3Aread%2Cchannels%3Ahistory" in started["authorize_url"]
    assert client.get(local_path(consent(started["authorize_url"]))).status_code == 200
    connection = api.get(f"/api/v1/connections/{started['connection']['id']}").json
    assert (connection["access_mode"], connection["handle"]) == ("source", "acme-sandbox.slack.com")
    return started["connection"]["id"]


class Sandbox:
    """The emulated Slack, as the tests drive and read it (over HTTP)."""

    def __init__(self, server):
        self.url = server.url
        minted = self.call("POST", "/_sandbox/tokens", json={"provider": "slack", "scope": SCOPES})
        self.headers = {"Authorization": f"Bearer {minted['access_token']}"}

    def call(self, method, path, **kwargs):
        response = requests.request(method, f"{self.url}{path}", timeout=5, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def web(self, name, **params):
        return requests.get(f"{self.url}/slack/api/{name}", params=params, headers=self.headers, timeout=5).json()

    def history(self, channel) -> list[dict]:
        return self.web("conversations.history", channel=channel, limit=999)["messages"]

    def threads(self) -> set[str]:
        """What should be stored: every thread (not a channel event) of the channels the app reads."""
        return {f"{c}:{m['ts']}" for c in READ for m in self.history(c) if m.get("subtype") != "channel_join"}

    def records(self, name, record_id=None, **fields):
        path = f"/_sandbox/collections/slack/{name}" + (f"/{record_id}" if record_id else "")
        return self.call("PATCH" if record_id and fields else "DELETE" if record_id else "POST", path,
                         json=fields or None)


def stored(app, connection_id, **where) -> dict[str, Document]:
    with app.app_context():
        try:
            query = select(Document).where(Document.connection_id == connection_id,
                                           *(getattr(Document, k) == v for k, v in where.items()))
            return {d.external_id: d for d in db.session.scalars(query)}
        finally:
            db.session.remove()


def message_id(ts: str) -> str:
    return str(int(ts.split(".")[1]))      # the sandbox's ts: <created>.<collection id>


def members(app, api, workspace, emails) -> dict[str, Api]:
    """Members of the workspace with these e-mail addresses, each with an API key of their own."""
    with app.app_context():
        ws = db.session.merge(workspace[0])
        keys = {email: make_api_key(ws, add_member(ws, email=email), scopes=["query", "connections:read"])
                for email in emails}
        db.session.remove()
    return {email: Api(api.client, key) for email, key in keys.items()}


def channels_read(member: Api) -> set[str]:
    listed = member.get("/api/v1/documents?source=slack&limit=500").json["documents"]
    return {d["external_id"].split(":")[0] for d in listed if ":" in d["external_id"]}


def only(monkeypatch, *names):
    """Sync only these streams (what a test is about, at a fraction of the units)."""
    from connectors.slack import SlackConnector

    streams = tuple(s for s in SlackConnector.catalog.streams if s.name in names)
    monkeypatch.setattr(SlackConnector, "catalog", dataclasses.replace(SlackConnector.catalog, streams=streams))


def test_full_incremental_threads_readers_and_deletion_detection(app, api, slack, workspace, sandbox_server,
                                                                 monkeypatch):
    only(monkeypatch, "users", "messages")      # files: the next test, and test_slack_streams.py
    emulated = Sandbox(sandbox_server)
    # Priya is in #leadership (every third user), Chiara is not; each signs in to Tributary with
    # the e-mail address Slack knows her by.
    insider, outsider = (emulated.web("users.info", user=f"U00000000{n}")["user"]["profile"]["email"] for n in (3, 1))
    people = members(app, api, workspace, (insider, outsider))
    configure(app, slack, channels=list(READ))
    threads = emulated.threads()
    first = synced(app, api, slack)
    assert first["status"] == "completed" and first["records_hidden"] == 0
    assert first["documents_created"] == len(threads) + 25
    assert set(stored(app, slack, type="message")) == threads

    # A private channel's threads are its members'; a public channel's, everyone's.
    assert channels_read(people[insider]) == set(READ)
    assert channels_read(people[outsider]) == {"C0GENERAL1"}
    secret = next(iter(stored(app, slack, channel="G0LEADERS1", type="message").values()))
    phrase = secret.title.split(": ", 1)[1]
    for email, found in ((insider, True), (outsider, False)):
        answer = people[email].post("/api/v1/query", json={"query": f'"{phrase}"', "sources": ["slack"]}).json
        assert (secret.external_id in {r["metadata"]["external_id"] for r in answer["results"]}) is found

    quiet = synced(app, api, slack, full=False)
    assert (quiet["documents_created"], quiet["documents_updated"], quiet["records_written"]) == (0, 0, 0)

    leadership, general = emulated.history("G0LEADERS1"), emulated.history("C0GENERAL1")
    recent = leadership[0]                      # the newest thread there: inside the reply window
    old = next(m for m in general[1:] if m.get("reply_count"))      # a thread long before the newest message
    emulated.records("replies", parent=message_id(recent["ts"]), user=3, text="Zanzibar budget approved")
    emulated.records("replies", parent=message_id(old["ts"]), user=2, text="Quokka follow-up, months later")
    gone = next(m for m in general if not m.get("reply_count") and m.get("subtype") != "channel_join")
    emulated.records("messages", message_id(gone["ts"]))
    posted = emulated.records("messages", channel="C0GENERAL1", user=2, text="Shipped the Slack connector", kind="user")
    app.config["PRUNE_INTERVAL_MINUTES"] = 0            # the incremental run also lists ids, then confirms
    later = synced(app, api, slack, full=False)
    assert (later["documents_created"], later["documents_updated"], later["documents_deleted"]) == (1, 1, 1)
    docs = stored(app, slack, type="message")
    assert "Zanzibar budget approved" in docs[f"G0LEADERS1:{recent['ts']}"].content
    assert f"C0GENERAL1:{posted['created']}.{int(posted['id']):06d}" in docs
    assert f"C0GENERAL1:{gone['ts']}" not in docs
    # A reply to a thread older than the window waits for the next full sync (the documented limit).
    assert "Quokka" not in docs[f"C0GENERAL1:{old['ts']}"].content

    assert set(docs) == emulated.threads()             # nothing live deleted, nothing gone kept


def test_a_429_is_waited_out_and_refusals_keep_slacks_words(app, api, client, sandbox_server, monkeypatch):
    """Messages and files of three channels, without the users stream (authors from users.info),
    installed without groups:history."""
    only(monkeypatch, "messages", "files")
    app.config["CONNECTORS"] = {"slack": {"scopes": SCOPES.replace("groups:history,", "")}}
    started = api.post("/api/v1/connections", json={"connector_type": "slack"}).json
    assert client.get(local_path(consent(started["authorize_url"]))).status_code == 200
    connection_id = started["connection"]["id"]
    configure(app, connection_id, channels=["C0GENERAL1", "G0LEADERS1", "C0ENGINEER"])
    requests.post(f"{sandbox_server.url}/_sandbox/faults", timeout=5, json={
        "provider": "slack", "kind": "rate_limit", "retry_after": 1, "count": 1,
        "path_prefix": "/slack/api/conversations.history"}).raise_for_status()
    run = synced(app, api, connection_id)
    assert run["status"] == "completed"
    assert requests.get(f"{sandbox_server.url}/_sandbox/stats", timeout=5).json()["rate_limited"]["slack"] == 1
    failed = {(u["stream"], u["channel"]): u for u in run["failed_units"]}
    assert set(failed) == {("messages", "G0LEADERS1"), ("messages", "C0ENGINEER")}
    scope = failed[("messages", "G0LEADERS1")]
    assert (scope["error_code"], scope["error_details"]["provider_code"]) == ("provider_refused", "missing_scope")
    assert "missing_scope: the app needs groups:history" in scope["error_message"]
    outside = failed[("messages", "C0ENGINEER")]
    assert outside["error_code"] == "CHANNEL_NOT_FOUND" and "(not_in_channel)" in outside["error_message"]
    files = stored(app, connection_id, type="file")                 # the rest of the run went on
    emulated = Sandbox(sandbox_server)
    assert len(files) == sum(emulated.web("files.list", channel=c)["paging"]["total"] for c in READ)
    assert {d.channel for d in files.values()} == set(READ) and all(d.author for d in files.values())
    assert stored(app, connection_id, channel="C0GENERAL1", type="message")


def test_a_revoked_token_asks_for_reconnection(app, api, slack, sandbox_server):
    requests.post(f"{sandbox_server.url}/_sandbox/faults", json={"provider": "slack", "kind": "revoke_tokens"},
                  timeout=5).raise_for_status()
    run = synced(app, api, slack)
    assert run["status"] == "failed" and run["error_reason"] == "auth"
    assert "token_revoked" in run["error_message"]
    connection = detached(app, Connection, slack)
    assert connection.needs_reauth is True
