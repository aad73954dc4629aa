"""Figma end to end through the sync engine against the sandbox (the layout of test_gitlab_sync.py):
connect through the consent page with a team named in the connection's channels (Figma lists no
teams: asked at connect), full (files with their pages and frames, comment threads, the library's components), a
no-change incremental that writes nothing, changes (an edited file, a new reply, a deleted file and
component), a 429 storm waited out, Figma's words for a team the user is not in, and a revoked token
(Figma's 403 "Invalid token").

The sandbox holds SEED 42, SCALE 25: team 1200000000000000001 ("Acme Design") with 5 files in two
projects, 15 comments (10 threads) and 25 components.
"""
import pytest

from connections.models import Connection
from tests.connectors.walk import sandbox
from tests.factories import configure, detached, synced
from tests.oauth_helpers import consent, local_path

from .test_slack_sync import stored

TEAM = "1200000000000000001"


@pytest.fixture
def figma(app, api, client):
    unnamed = api.post("/v1/connectors", json={"connector_type": "figma"})
    assert unnamed.status_code == 422 and unnamed.json["error"]["details"]["field"] == "settings.channels"
    started = api.post("/v1/connectors", json={"connector_type": "figma", "settings": {"channels": [TEAM]}}).json
    assert "scope=current_user%3Aread+file_metadata%3Aread" in started["oauth_url"]
    assert client.get(local_path(consent(started["oauth_url"]))).status_code == 200
    connection = api.get(f"/api/v1/connections/{started['connector_id']}").json
    assert connection["status"] == "connected" and connection["handle"] == "ada@acme-sandbox.example"
    configure(app, started["connector_id"], channels=[TEAM], requests_per_minute=0)   # Tier 1's pace, not the test's
    return started["connector_id"]


def test_full_incremental_changes_and_deletion(app, api, figma, sandbox_server):
    first = synced(app, api, figma)
    assert first["status"] == "completed", first
    files, threads = stored(app, figma, type="design_file"), stored(app, figma, type="comment")
    assert len(files) == 5 and len(threads) == 10 and len(stored(app, figma, type="component")) == 25
    assert "Project: Marketing site" in files["Fk000001AcmeDesign"].content
    assert "Cover: " in files["Fk000001AcmeDesign"].content            # pages and their frames (depth 2)
    assert any(d.metadata_["replies"] for d in threads.values())

    quiet = synced(app, api, figma, full=False)
    assert (quiet["documents_created"], quiet["documents_updated"], quiet["documents_deleted"]) == (0, 0, 0)
    gets = sandbox(sandbox_server, "GET", "/_sandbox/stats")["requests"]["figma"]["endpoints"]

    sandbox(sandbox_server, "PATCH", "/_sandbox/collections/figma/files/2", json={"name": "Mobile app - Quokka flow"})
    sandbox(sandbox_server, "POST", "/_sandbox/collections/figma/comments",
            json={"file": "1", "message": "Zanzibar palette approved", "user": 1, "reply_to": "1"})
    sandbox(sandbox_server, "DELETE", "/_sandbox/collections/figma/files/3")
    sandbox(sandbox_server, "DELETE", "/_sandbox/collections/figma/components/7")
    app.config["PRUNE_INTERVAL_MINUTES"] = 0
    later = synced(app, api, figma, full=False)
    assert later["status"] == "completed", later
    # the file, its two threads (their titles name it) and the thread with the new reply
    assert (later["documents_created"], later["documents_updated"]) == (0, 4)
    files = stored(app, figma, type="design_file")
    assert files["Fk000002AcmeDesign"].title == "Mobile app - Quokka flow" and "Fk000003AcmeDesign" not in files
    assert "Zanzibar palette approved" in stored(app, figma, type="comment")["800001"].content
    assert "c00000007" not in stored(app, figma, type="component")
    # only the edited file was read again (Figma's costliest call): one GET of a file in that run
    after = sandbox(sandbox_server, "GET", "/_sandbox/stats")["requests"]["figma"]["endpoints"]
    assert after.get("GET /figma/api/v1/files/<key>", 0) - gets.get("GET /figma/api/v1/files/<key>", 0) == 1


@pytest.mark.slow           # three Retry-After waits of a second, and their backoff
def test_a_429_storm_is_waited_out_and_an_unknown_team_keeps_figmas_words(app, api, figma, sandbox_server):
    configure(app, figma, channels=[TEAM, "99"], requests_per_minute=0)
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={
        "provider": "figma", "kind": "rate_limit", "retry_after": 1, "count": 3,
        "path_prefix": "/figma/api/v1/projects"})
    run = synced(app, api, figma)
    assert sandbox(sandbox_server, "GET", "/_sandbox/stats")["rate_limited"]["figma"] == 3
    assert len(stored(app, figma, type="design_file")) == 5
    failed = {(u["stream"], u["channel"]): u for u in run["failed_units"]}
    assert {channel for _, channel in failed} == {"99"}
    assert failed[("files", "99")]["error_code"] == "CHANNEL_NOT_FOUND"
    assert failed[("files", "99")]["error_message"] == "Figma has no team 99 that this connection can read."
    assert failed[("files", "99")]["error_details"]["provider_message"] == "Forbidden"


def test_an_expiring_token_is_refreshed_at_figmas_refresh_endpoint(app, api, figma, sandbox_server):
    from datetime import timedelta

    from core.extensions import db
    from core.timeutil import utcnow

    with app.app_context():
        db.session.get(Connection, figma).token_expires_at = utcnow() + timedelta(seconds=30)
        db.session.commit()
        db.session.remove()
    run = synced(app, api, figma)
    assert run["status"] == "completed", run
    endpoints = sandbox(sandbox_server, "GET", "/_sandbox/stats")["requests"]["figma"]["endpoints"]
    assert endpoints.get("POST /figma/api/v1/oauth/refresh") == 1
    assert endpoints.get("POST /figma/api/v1/oauth/token") == 1          # the authorization code's, at connect


def test_a_revoked_token_asks_for_reconnection(app, api, figma, sandbox_server):
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={"provider": "figma", "kind": "revoke_tokens"})
    run = synced(app, api, figma)
    assert run["status"] == "failed" and run["error_reason"] == "auth", run
    assert "Invalid token" in run["error_message"]
    assert detached(app, Connection, figma).needs_reauth is True


def test_team_addresses_are_read_as_ids_and_each_team_is_checked_with_figma(app, api, client, sandbox_server):
    """Figma cannot list a user's teams: the ids asked at connect are checked, the one it refuses named."""
    garbled = api.post("/v1/connectors", json={"connector_type": "figma", "settings": {"channels": ["Acme Design"]}})
    assert garbled.status_code == 422 and garbled.json["error"]["code"] == "invalid_setting"
    assert garbled.json["error"]["details"] == {"field": "settings.channels", "setting": "channels",
                                                "value": "Acme Design"}
    assert "figma.com/files/team/<id>" in garbled.json["error"]["message"]

    pasted = [f"https://www.figma.com/files/team/{TEAM}/Acme-Design?fuid=1", f"figma.com/files/987/team/{TEAM}", "99"]
    started = api.post("/v1/connectors", json={"connector_type": "figma", "settings": {"channels": pasted}}).json
    assert api.get(f"/v1/connectors/{started['connector_id']}").json["settings"]["channels"] == [TEAM, "99"]
    answer = client.get(local_path(consent(started["oauth_url"])))
    assert answer.status_code == 400 and "invalid_setting" in answer.text
    assert "Figma refused team 99 to ada@acme-sandbox.example (Forbidden)" in answer.text
    assert api.get(f"/api/v1/connections/{started['connector_id']}").status_code == 404      # nothing was kept
    endpoints = sandbox(sandbox_server, "GET", "/_sandbox/stats")["requests"]["figma"]["endpoints"]
    assert endpoints["GET /figma/api/v1/teams/<team_id>/projects"] == 2


def test_a_check_names_a_team_the_user_can_no_longer_read(app, api, figma):
    assert api.post(f"/api/v1/connections/{figma}/check").json["ok"] is True
    configure(app, figma, channels=[TEAM, "4242"], requests_per_minute=0)
    checked = api.post(f"/api/v1/connections/{figma}/check").json
    assert checked["ok"] is False and checked["error"]["code"] == "invalid_setting"
    assert checked["error"]["message"].startswith("Figma refused team 4242 to ada@acme-sandbox.example")
    assert checked["connection"]["needs_reauth"] is False          # the token is fine: a team is not
