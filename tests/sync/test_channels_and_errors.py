"""GitHub against the sandbox: channels named in the settings are synced as written, and what
the provider says when it refuses is kept and classified by meaning."""
import pytest
import requests
from sqlalchemy import func, select

from connections.models import Connection
from connectors.github import GitHubConnector
from core.extensions import db
from knowledge.models import Document
from sync import worker
from sync.models import Channel, SyncRunUnit
from tests.oauth_helpers import consent, local_path

REPO = "octo-sandbox/atlas-etl"
COMMUNITY = "octo-community/awesome-connectors"  # public, readable, not in /user/repos
MISSING = "octo-sandbox/no-such-repository"


@pytest.fixture
def github(app, api, client):
    started = api.post("/api/v1/connections", json={"connector_type": "github"}).json
    assert client.get(local_path(consent(started["authorize_url"]))).status_code == 200
    return started["connection"]["id"]


def configure(app, connection_id, **settings):
    with app.app_context():
        db.session.get(Connection, connection_id).settings = settings
        db.session.commit()
        db.session.remove()


def fault(server, **spec):
    response = requests.post(f"{server.url}/_sandbox/faults", json={"provider": "github", **spec}, timeout=5)
    assert response.status_code == 201, response.text


def requests_to(server, endpoint):
    stats = requests.get(f"{server.url}/_sandbox/stats", timeout=5).json()["requests"]
    return stats.get("github", {}).get("endpoints", {}).get(endpoint, 0)


def sync(api, app, connection_id, *, full=True):
    run_id = api.post(f"/api/v1/connections/{connection_id}/sync?full={'true' if full else 'false'}").json["sync_run_id"]
    assert worker.drain(app) == [run_id]
    return next(r for r in api.get(f"/api/v1/connections/{connection_id}/runs").json["runs"] if r["id"] == run_id)


def channels_synced(app, connection_id):
    with app.app_context():
        try:
            return set(db.session.scalars(select(Document.channel).where(Document.connection_id == connection_id)))
        finally:
            db.session.remove()


@pytest.fixture
def few_streams(monkeypatch):
    """Repositories and issues only: what these tests are about, at a fraction of the requests."""
    streams = tuple(s for s in GitHubConnector.catalog.streams if s.name in ("repositories", "issues"))
    from dataclasses import replace

    monkeypatch.setattr(GitHubConnector, "catalog", replace(GitHubConnector.catalog, streams=streams))


def test_named_channels_are_synced_as_written_without_listing_the_account(app, api, github, sandbox_server,
                                                                          few_streams):
    configure(app, github, channels=[COMMUNITY, REPO, MISSING])
    # the account's listing is down: a run that names its channels does not need it
    fault(sandbox_server, kind="server_error", status=502, count=50, path_prefix="/github/api/user/repos")
    run = sync(api, app, github)
    assert run["status"] == "completed", run
    assert requests_to(sandbox_server, "GET /github/api/user/repos") == 0
    assert channels_synced(app, github) == {COMMUNITY, REPO}

    # the missing repository fails its own units, named, with the provider's words; the run goes on
    assert run["streams_total"] == 6 and run["streams_failed"] == 2
    failed = run["failed_units"]
    assert {(u["stream"], u["channel"], u["error_reason"], u["error_code"]) for u in failed} == {
        ("repositories", MISSING, "config", "CHANNEL_NOT_FOUND"), ("issues", MISSING, "config", "CHANNEL_NOT_FOUND")}
    assert failed[0]["error_details"]["provider_status"] == 404
    assert failed[0]["error_details"]["provider_message"] == "Not Found"
    connection = api.get(f"/api/v1/connections/{github}").json
    assert connection["health"] == "degraded" and connection["status"] == "connected"
    assert MISSING in connection["last_error"] and "CHANNEL_NOT_FOUND" in connection["last_error"]
    with app.app_context():
        assert {c.external_id for c in db.session.scalars(select(Channel).where(Channel.connection_id == github))} \
            == {COMMUNITY, REPO}
        db.session.remove()


def test_a_sync_job_of_a_channel_that_is_gone_fails_as_channel_not_found(app, api, github, sandbox_server,
                                                                         few_streams):
    configure(app, github, channels=[REPO])
    sync(api, app, github)
    with app.app_context():
        channel = db.session.scalar(select(Channel).where(Channel.external_id == REPO))
        channel.external_id = MISSING  # as if the repository had been deleted or renamed since
        db.session.commit()
        channel_id = channel.id
        db.session.remove()
    job = api.post("/api/sync", json={"channel_id": channel_id}).json["job_id"]
    assert worker.drain(app) == [job]
    status = api.get(f"/api/sync/status?channel_id={channel_id}&job_id={job}").json
    assert status["status"] == "failed"
    assert status["error"]["code"] == "CHANNEL_NOT_FOUND"
    assert status["error"]["details"]["provider_status"] == 404


def test_a_refused_request_keeps_what_the_provider_said(app, api, github, sandbox_server, few_streams):
    configure(app, github, channels=[REPO])
    fault(sandbox_server, kind="client_error", status=422, count=1,
          path_prefix=f"/github/api/repos/{REPO}/issues")
    run = sync(api, app, github)
    assert run["status"] == "completed" and run["streams_failed"] == 1
    [unit] = run["failed_units"]
    assert (unit["stream"], unit["error_reason"], unit["error_code"]) == ("issues", "config", "provider_refused")
    assert "Validation Failed" in unit["error_message"]
    details = unit["error_details"]
    assert details["provider_status"] == 422 and details["provider_message"] == "Validation Failed"
    assert details["provider_errors"] == [{"resource": "Search", "field": "q", "code": "invalid"}]
    assert details["documentation_url"].startswith("https://docs.github.com")
    assert api.get(f"/api/v1/connections/{github}").json["health"] == "degraded"


@pytest.mark.parametrize("spec, reason", [
    ({"kind": "client_error", "status": 403}, "config"),
    ({"kind": "server_error", "status": 500, "count": 10}, "transient"),
])
def test_failures_are_bucketed_by_meaning(app, api, github, sandbox_server, few_streams, spec, reason):
    configure(app, github, channels=[REPO])
    fault(sandbox_server, path_prefix=f"/github/api/repos/{REPO}/issues", **{"count": 1, **spec})
    run = sync(api, app, github)
    assert [u["error_reason"] for u in run["failed_units"]] == [reason]


def test_a_rate_limit_answer_stops_the_run_as_rate_limit(app, api, github, sandbox_server, few_streams):
    app.config["SYNC_RATE_LIMIT_MAX_WAIT"] = 1
    configure(app, github, channels=[REPO])
    fault(sandbox_server, kind="rate_limit", status=403, retry_after=120, count=20,
          path_prefix=f"/github/api/repos/{REPO}/issues")
    run = sync(api, app, github)
    assert run["status"] == "failed" and run["error_reason"] == "rate_limit"


def test_a_refused_token_stops_the_run_as_auth(app, api, github, sandbox_server, few_streams):
    configure(app, github, channels=[REPO])
    requests.post(f"{sandbox_server.url}/_sandbox/faults", json={"provider": "github", "kind": "revoke_tokens"},
                  timeout=5)
    run = sync(api, app, github)
    assert run["status"] == "failed" and run["error_reason"] == "auth"
    assert run["error_details"]["provider_message"] == "Bad credentials"
    assert api.get(f"/api/v1/connections/{github}").json["health"] == "needs_reauth"


def test_a_renamed_issue_renames_it_in_its_comments(app, api, github, sandbox_server, monkeypatch):
    from dataclasses import replace

    streams = tuple(s for s in GitHubConnector.catalog.streams if s.name in ("issues", "pull_requests", "comments"))
    monkeypatch.setattr(GitHubConnector, "catalog", replace(GitHubConnector.catalog, streams=streams))
    configure(app, github, channels=[REPO])
    sync(api, app, github)
    with app.app_context():
        commented = db.session.scalar(select(Document.parent_id).where(
            Document.namespace == "github_comments", Document.parent_id.like(f"{REPO}#%"))
            .group_by(Document.parent_id).order_by(func.count().desc()).limit(1))
        is_pull = db.session.scalar(select(func.count()).select_from(Document).where(
            Document.namespace == "github_pull_requests", Document.external_id == commented))
        db.session.remove()
    number = int(commented.rpartition("#")[2])
    requests.post(f"{sandbox_server.url}/_sandbox/clock", json={"advance_seconds": 600}, timeout=5)
    with app.app_context():
        from connections import oauth

        token = oauth.access_token(github)
        db.session.remove()
    renamed = requests.patch(f"{sandbox_server.url}/github/api/repos/{REPO}/issues/{number}",
                             json={"title": "Sync stalls on the second page"},
                             headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert renamed.status_code == 200, renamed.text
    run_id = api.post(f"/api/v1/connections/{github}/sync?full=false").json["sync_run_id"]
    assert worker.drain(app) == [run_id]
    with app.app_context():
        comments = db.session.scalars(select(Document).where(Document.namespace == "github_comments",
                                                             Document.parent_id == commented)).all()
        assert comments and all(c.title == f"Comment on #{number}: Sync stalls on the second page"
                                and c.metadata_["issue_title"] == "Sync stalls on the second page"
                                for c in comments), (is_pull, [c.title for c in comments])
        comments_read = db.session.scalar(select(SyncRunUnit.records_read).where(
            SyncRunUnit.run_id == run_id, SyncRunUnit.stream == "comments"))
        db.session.remove()
    assert comments_read == 0  # re-derived from the issue, not read again
