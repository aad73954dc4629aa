"""Linear end to end through the sync engine against the sandbox (the layout of test_slack_sync.py):
connect through the consent page, full (issues with all their comments, projects, cycles), readers of
the private team, a no-change incremental that writes nothing, changes (an edit, a new comment, an
issue deleted into the trash, one gone for good), Linear's RATELIMITED answers waited out, its own
words for a team it does not know, and a revoked token.

The sandbox holds SEED 42, SCALE 25 (tests/conftest.py): teams Engineering (ENG) and Design (DES),
public, and Security (SEC), private to every third person (Ada, Dev, Gustav); 25 issues each.
"""
import pytest
import requests
from sqlalchemy import update

from connections.models import Connection
from core.extensions import db
from core.timeutil import utcnow
from sandbox.providers.linear import lid
from tests.connectors.walk import sandbox
from tests.factories import configure, detached, synced
from tests.oauth_helpers import consent, local_path

from .test_slack_sync import members, stored

ENG, SEC = lid("team", 1), lid("team", 3)


@pytest.fixture
def linear(app, api, client):
    """A Linear connection made through the sandbox's consent page (scopes comma-separated)."""
    started = api.post("/api/v1/connections", json={"connector_type": "linear"}).json
    assert "scope=read" in started["authorize_url"]
    assert client.get(local_path(consent(started["authorize_url"]))).status_code == 200
    connection = api.get(f"/api/v1/connections/{started['connection']['id']}").json
    assert connection["status"] == "connected" and connection["handle"] == "acme-sandbox"
    return started["connection"]["id"]


def expire_token(app, connection_id):
    with app.app_context():
        db.session.execute(update(Connection).where(Connection.id == connection_id).values(token_expires_at=utcnow()))
        db.session.commit()
        db.session.remove()


def edit(server, collection, record_id, **fields):
    return sandbox(server, "PATCH", f"/_sandbox/collections/linear/{collection}/{record_id}", json=fields)


def teams_read(member) -> set[str]:
    listed = member.get("/api/v1/documents?source=linear&limit=500").json["documents"]
    return {d["metadata"]["team"] for d in listed if d["type"] == "issue"}


def test_full_readers_incremental_and_deletions(app, api, linear, workspace, sandbox_server):
    configure(app, linear, channels=[ENG, SEC])
    people = members(app, api, workspace, ("dev@acme-sandbox.example", "bruno@acme-sandbox.example"))
    first = synced(app, api, linear)
    assert first["status"] == "completed", first
    issues = stored(app, linear, type="issue")
    assert len(issues) == 50 and first["records_hidden"] == 0
    assert len(stored(app, linear, type="project")) == 5 and len(stored(app, linear, type="cycle")) == 8
    eng_1 = issues[lid("issue", 1)]
    assert eng_1.title.startswith("ENG-1: ") and eng_1.metadata_["comments"] == 25     # 20 inline, 5 more read after

    # SEC is private: Dev (every third person) reads it, Bruno does not; ENG is everyone's.
    assert teams_read(people["dev@acme-sandbox.example"]) == {"ENG", "SEC"}
    assert teams_read(people["bruno@acme-sandbox.example"]) == {"ENG"}
    projects = {email: [d for d in member.get("/api/v1/documents?source=linear&limit=500").json["documents"]
                        if d["type"] == "project"] for email, member in people.items()}
    assert len(projects["dev@acme-sandbox.example"]) == 5 and len(projects["bruno@acme-sandbox.example"]) == 4

    quiet = synced(app, api, linear, full=False)
    assert (quiet["documents_created"], quiet["documents_updated"], quiet["records_written"]) == (0, 0, 0)

    edit(sandbox_server, "issues", "4", title="Quokka latency budget agreed")          # ENG-2
    sandbox(sandbox_server, "POST", "/_sandbox/collections/linear/comments",
            json={"issue": "7", "body": "Zanzibar rollout verified", "user": 3})        # ENG-3 gets a comment
    sandbox(sandbox_server, "DELETE", "/_sandbox/collections/linear/issues/10")        # ENG-4 into the trash
    later = synced(app, api, linear, full=False)
    assert (later["documents_created"], later["documents_updated"], later["documents_deleted"]) == (0, 2, 1)
    issues = stored(app, linear, type="issue")
    assert issues[lid("issue", 4)].title == "ENG-2: Quokka latency budget agreed"
    assert "Zanzibar rollout verified" in issues[lid("issue", 7)].content
    assert lid("issue", 10) not in issues

    # Gone for good (past the trash's 30 days): the id listing misses it, issue(id:) confirms it.
    sandbox(sandbox_server, "DELETE", "/_sandbox/collections/linear/issues/13")
    sandbox(sandbox_server, "POST", "/_sandbox/clock", json={"advance_seconds": 31 * 86400})
    expire_token(app, linear)       # a month on, the day-long access token is refreshed first
    app.config["PRUNE_INTERVAL_MINUTES"] = 0
    pruned = synced(app, api, linear, full=False)
    assert pruned["status"] == "completed" and pruned["documents_deleted"] == 1
    assert lid("issue", 13) not in stored(app, linear, type="issue") and len(stored(app, linear, type="issue")) == 48


def test_ratelimited_answers_are_waited_out_and_refusals_keep_linears_words(app, api, linear, sandbox_server):
    configure(app, linear, channels=[ENG, lid("team", 9)])
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={
        "provider": "linear", "kind": "rate_limit", "retry_after": 1, "count": 2, "path_prefix": "/linear/graphql"})
    run = synced(app, api, linear)
    assert run["status"] == "completed", run
    assert sandbox(sandbox_server, "GET", "/_sandbox/stats")["rate_limited"]["linear"] == 2
    [failed] = [u for u in run["failed_units"] if u["stream"] == "issues"]
    assert failed["channel"] == lid("team", 9) and failed["error_code"] == "CHANNEL_NOT_FOUND"
    assert failed["error_details"]["provider_message"] == "Could not find referenced Team."
    assert len([d for d in stored(app, linear, type="issue").values() if d.metadata_["team"] == "ENG"]) == 25


def test_a_revoked_token_asks_for_reconnection(app, api, linear, sandbox_server):
    requests.post(f"{sandbox_server.url}/_sandbox/faults", json={"provider": "linear", "kind": "revoke_tokens"},
                  timeout=5).raise_for_status()
    run = synced(app, api, linear)
    assert run["status"] == "failed" and run["error_reason"] == "auth"
    assert "Authentication required" in run["error_message"] or "authenticate" in run["error_message"]
    assert detached(app, Connection, linear).needs_reauth is True
