"""Jira end to end through the sync engine against the sandbox's Atlassian emulation (SCALE 25: 25
issues, 9 in TRIB and 8 each in OPS and SEC, and 25 sprints), connected through its consent page.

full -> incremental with no change -> two changes within one minute (JQL's granularity, read in
the user's zone) -> deletion detection (id listing, confirmation by id: a deleted issue goes, one
the search index has not caught up with stays) -> readers from project permissions through
members' listings -> a 429 with Retry-After -> a project Jira does not know, in Jira's words ->
a rotated refresh token, then a revoked grant that needs re-authorization.
"""
import pytest
from sqlalchemy import update

from connections.models import Connection
from core.extensions import db
from core.timeutil import utcnow
from tests.connectors.atlassian_walk import (configure, connect, edit, listed, members, sandbox, start_of_a_minute,
                                             stored, sync)

ISSUES = {"TRIB": 9, "OPS": 8, "SEC": 8}
SECURED = "10008"       # OPS-3: every 19th seeded issue has a security level


@pytest.fixture
def jira(app, client, workspace):
    return connect(app, client, workspace, "jira")


def issue_ids(app, connection_id, project=None) -> set[str]:
    return {i for i, d in stored(app, connection_id, "issue").items() if project in (None, d.metadata_["project"])}


def test_full_incremental_within_one_minute_and_deletion_detection(app, api, jira, sandbox_server):
    configure(app, jira, channels=["OPS"], access_mode="workspace")        # readers: the next test
    first = sync(app, api, jira)
    assert first["status"] == "completed", first
    assert len(issue_ids(app, jira)) == ISSUES["OPS"] and len(stored(app, jira, "sprint")) == 8
    long_one = stored(app, jira, "issue")["10023"]      # 23 comments: more than the 20 search answers inline
    assert long_one.content.count("Comment ") == 23 and "## History" in long_one.content

    quiet = sync(app, api, jira, full=False)
    assert (quiet["documents_created"], quiet["documents_updated"], quiet["records_written"]) == (0, 0, 0)

    start_of_a_minute(sandbox_server)
    edit(sandbox_server, "issues", "2", summary="Latency budget agreed")          # OPS-1, issue 10002
    assert sync(app, api, jira, full=False)["documents_updated"] == 1
    edit(sandbox_server, "issues", "5", summary="Quota alerts tuned")             # OPS-2, the same minute
    sandbox(sandbox_server, "DELETE", "/_sandbox/collections/atlassian/issues/11")         # OPS-4 is gone
    edit(sandbox_server, "issues", "14", unindexed=True)      # OPS-5: live, but not in search yet
    app.config["PRUNE_INTERVAL_MINUTES"] = 0        # the incremental run lists ids too, then confirms
    later = sync(app, api, jira, full=False)
    assert later["records_read"]["issues"] == 1                  # OPS-2, and not OPS-1 again
    assert stored(app, jira, "issue")["10005"].title == "OPS-2: Quota alerts tuned"
    # The id listing misses OPS-4 and OPS-5; asked by id, OPS-4 is gone and OPS-5 is stored as it is now.
    assert (later["documents_updated"], later["documents_deleted"]) == (2, 1)
    assert "10011" not in issue_ids(app, jira) and "10014" in issue_ids(app, jira)


def test_readers_come_from_the_projects_permissions(app, api, client, workspace, jira):
    run = sync(app, api, jira)
    assert run["status"] == "completed"
    unknown = [u for u in run["hidden_units"] if u["error_code"] == "READERS_UNKNOWN"]
    assert {u["channel"] for u in unknown} == {"SEC"}
    assert "You don't have permission to view the permission scheme of this project." in unknown[0]["error_message"]
    # Bob is in OPS's role Developers; Cara in group engineering (matched by her Atlassian
    # e-mail, which Jira shows); Dana in neither; TRIB is every Jira user's.
    # The admin who connected signed in as Ada: her Atlassian account is linked to them (Ada is
    # in OPS's role Administrators).
    people = {"admin": api, **members(app, workspace, client, {"bob": 1, "cara": -2, "dana": 3}, "jira")}
    projects = {name: {d["metadata"]["project"] for d in listed(key, "jira") if d["type"] == "issue"}
                for name, key in people.items()}
    assert projects == {"admin": {"TRIB", "OPS"}, "bob": {"TRIB", "OPS"}, "cara": {"TRIB", "OPS"}, "dana": {"TRIB"}}
    seen = {d["external_id"] for d in listed(people["bob"], "jira") if d["type"] == "issue"}
    assert SECURED not in seen and len(seen) == ISSUES["TRIB"] + ISSUES["OPS"] - 1
    found = people["dana"].post("/api/v1/query", json={"query": "OPS", "sources": ["jira"], "limit": 20}).json
    assert all(r["metadata"]["external_id"] not in issue_ids(app, jira, "OPS") for r in found["results"])


def test_429s_refusals_in_jiras_words_refreshed_and_revoked_tokens(app, api, jira, sandbox_server):
    """One run waits out a 429 (Retry-After), refreshes its expired token (Atlassian rotates the
    refresh token) and fails the unit of a project Jira does not know with Jira's own words;
    once the grant is revoked, the connection needs re-authorization."""
    configure(app, jira, channels=["TRIB", "NOPE"], access_mode="workspace")
    with app.app_context():
        db.session.execute(update(Connection).where(Connection.id == jira).values(token_expires_at=utcnow()))
        db.session.commit()
        db.session.remove()
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={"provider": "atlassian", "kind": "rate_limit",
                                                             "retry_after": 1, "count": 1, "path_prefix": "/atlassian/ex/jira/"})
    run = sync(app, api, jira)
    assert run["status"] == "completed" and len(issue_ids(app, jira, "TRIB")) == ISSUES["TRIB"]
    stats = sandbox(sandbox_server, "GET", "/_sandbox/stats")
    assert stats["rate_limited"]["atlassian"] == 1 and stats["token_grants"]["atlassian"]["refresh_token"] == 1
    assert {(u["channel"], u["error_code"]) for u in run["failed_units"]} == {("NOPE", "CHANNEL_NOT_FOUND")}
    assert run["failed_units"][0]["error_details"]["provider_message"] == "No project could be found with key 'NOPE'."

    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={"provider": "atlassian", "kind": "revoke_tokens"})
    revoked = sync(app, api, jira, full=False)
    assert (revoked["status"], revoked["error_reason"]) == ("failed", "auth")
    assert api.get(f"/api/v1/connections/{jira}").json["needs_reauth"] is True
