"""GitLab end to end through the sync engine against the sandbox (the layout of test_slack_sync.py):
connect through the consent page, full (projects, merge requests and issues with their notes),
readers from visibility, membership and confidentiality, a no-change incremental that writes
nothing, changes (an edit, a new note, a deleted issue confirmed by id), a 429 storm waited out,
GitLab's own words for a project it does not know, and a revoked token.

The sandbox holds SEED 42, SCALE 25: acme/api (1, public), acme/web (2, internal) and acme/vault
(3, private: Ada, Dev, Gustav); 25 issues and 25 merge requests each; every seventh issue
confidential (Reporter and up, its author and assignees).
"""
import pytest

from connections.models import Connection
from tests.connectors.walk import sandbox
from tests.factories import configure, detached, synced
from tests.oauth_helpers import consent, local_path

from .test_slack_sync import members, stored


@pytest.fixture
def gitlab(app, api, client):
    started = api.post("/api/v1/connections", json={"connector_type": "gitlab"}).json
    assert "scope=read_api+read_user" in started["authorize_url"]
    assert client.get(local_path(consent(started["authorize_url"]))).status_code == 200
    connection = api.get(f"/api/v1/connections/{started['connection']['id']}").json
    assert connection["status"] == "connected" and connection["handle"] == "ada"
    return started["connection"]["id"]


def listed(member, kind):
    return [d for d in member.get("/api/v1/documents?source=gitlab&limit=500").json["documents"] if d["type"] == kind]


def test_full_readers_incremental_and_deletion(app, api, gitlab, workspace, sandbox_server):
    configure(app, gitlab, channels=["1", "3"])
    people = members(app, api, workspace, ("dev@acme-sandbox.example", "chiara@acme-sandbox.example"))
    first = synced(app, api, gitlab)
    assert first["status"] == "completed", first
    issues, merges = stored(app, gitlab, type="issue"), stored(app, gitlab, type="merge_request")
    assert len(issues) == len(merges) == 50 and len(stored(app, gitlab, type="project")) == 2
    assert issues["1:1"].title.startswith("acme/api#1: ") and "LGTM" in "".join(d.content for d in merges.values())
    assert not any("changed the description" in d.content for d in [*issues.values(), *merges.values()])

    # Dev is in acme/vault and a Reporter-or-more member of acme/api; Chiara is in neither: she reads
    # acme/api (public) but not its confidential issues, and nothing of acme/vault.
    confidential = {i for i, d in issues.items() if d.metadata_["confidential"] and i.startswith("1:")}
    assert confidential
    dev = {d["external_id"] for d in listed(people["dev@acme-sandbox.example"], "issue")}
    chiara = {d["external_id"] for d in listed(people["chiara@acme-sandbox.example"], "issue")}
    assert {i.split(":")[0] for i in dev} == {"1", "3"} and confidential <= dev
    assert chiara == {i for i in issues if i.startswith("1:")} - confidential

    quiet = synced(app, api, gitlab, full=False)
    assert (quiet["documents_created"], quiet["documents_updated"], quiet["records_written"]) == (0, 0, 0)

    sandbox(sandbox_server, "PATCH", "/_sandbox/collections/gitlab/issues/4", json={"title": "Quokka budget agreed"})
    sandbox(sandbox_server, "POST", "/_sandbox/collections/gitlab/notes",
            json={"on": "merge_requests", "parent": "7", "body": "Zanzibar review done", "author": 3, "system": False})
    sandbox(sandbox_server, "DELETE", "/_sandbox/collections/gitlab/issues/10")        # acme/api #4
    app.config["PRUNE_INTERVAL_MINUTES"] = 0
    later = synced(app, api, gitlab, full=False)
    assert (later["documents_created"], later["documents_updated"], later["documents_deleted"]) == (0, 2, 1)
    assert stored(app, gitlab, type="issue")["1:2"].title == "acme/api#2: Quokka budget agreed"
    assert "Zanzibar review done" in stored(app, gitlab, type="merge_request")["1:3"].content
    assert "1:4" not in stored(app, gitlab, type="issue")


@pytest.mark.slow           # three Retry-After waits of a second, and their backoff
def test_a_429_storm_is_waited_out_and_refusals_keep_gitlabs_words(app, api, gitlab, sandbox_server):
    configure(app, gitlab, channels=["1", "99"])
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={
        "provider": "gitlab", "kind": "rate_limit", "retry_after": 1, "count": 3, "path_prefix": "/gitlab/api/v4/projects/1/"})
    run = synced(app, api, gitlab)
    assert run["status"] == "completed", run
    assert sandbox(sandbox_server, "GET", "/_sandbox/stats")["rate_limited"]["gitlab"] == 3
    failed = {(u["stream"], u["channel"]): u for u in run["failed_units"]}
    assert set(failed) == {("issues", "99"), ("merge_requests", "99"), ("projects", "99")}
    assert failed[("issues", "99")]["error_code"] == "CHANNEL_NOT_FOUND"
    assert failed[("issues", "99")]["error_details"]["provider_message"] == "404 Project Not Found"
    assert len(stored(app, gitlab, type="issue")) == 25


def test_a_revoked_token_asks_for_reconnection(app, api, gitlab, sandbox_server):
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={"provider": "gitlab", "kind": "revoke_tokens"})
    run = synced(app, api, gitlab)
    assert run["status"] == "failed" and run["error_reason"] == "auth"
    assert "Token was revoked" in run["error_message"]
    assert detached(app, Connection, gitlab).needs_reauth is True
