"""The sync-jobs API (/api/sync*) against real runs: the workers execute them against the
provider sandbox over HTTP (Pipedrive by API key, GitHub through its OAuth consent page)."""
import threading
import time
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select, update

from core.extensions import db
from core.timeutil import utcnow
from knowledge.models import Document
from sync import engine, worker
from sync.models import Channel, SyncRun
from tests.factories import Api, make_api_key, make_workspace
from tests.oauth_helpers import consent, local_path

PIPEDRIVE_KEY = "sandbox-pipedrive-key"
REPO = "octo-sandbox/tributary-demo"
MISSING_CHANNEL = "chn_doesnotexist0000"
MISSING_JOB = "run_doesnotexist0000"


class JobsApi(Api):
    def put(self, path, json=None, **kw):
        return self.client.put(path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)


@pytest.fixture
def jobs(api):
    return JobsApi(api.client, api.key)


def connect_pipedrive(api) -> str:
    response = api.post("/api/v1/connections", json={"connector_type": "pipedrive", "api_key": PIPEDRIVE_KEY})
    assert response.status_code == 201, response.json
    return response.json["connection"]["id"]


def connect_github(app, client, key) -> tuple[str, dict[str, str]]:
    """A connected GitHub whose repositories are known channels: a whole-connection job listed
    them, cancelled (through the API) after it was claimed and before it executed, so it stops
    right after its first listing. Returns the connection id and {provider id: our id}."""
    headers = {"Authorization": f"Bearer {key}"}
    started = client.post("/api/v1/connections", json={"connector_type": "github"}, headers=headers).json
    assert client.get(local_path(consent(started["authorize_url"]))).status_code == 200
    connection_id = started["connection"]["id"]
    job_id = client.post("/api/sync", json={"channel_id": connection_id}, headers=headers).json["job_id"]
    with app.app_context():
        assert worker.claim("test-worker").run_id == job_id
        db.session.remove()
    cancelled = client.post("/api/sync/cancel", json={"job_id": job_id}, headers=headers)
    assert cancelled.status_code == 200, cancelled.json
    with app.app_context():
        assert engine.execute(job_id) == "cancelled"
        channels = {c.external_id: c.id for c in db.session.scalars(
            select(Channel).where(Channel.connection_id == connection_id))}
        db.session.remove()
    assert REPO in channels
    return connection_id, channels


@pytest.fixture
def pipedrive(api):
    return connect_pipedrive(api)


@pytest.fixture
def github(app, client, api):
    return connect_github(app, client, api.key)


def start(api, channel_id, *, force=False, expect=202):
    response = api.post("/api/sync", json={"channel_id": channel_id, "force": force})
    assert response.status_code == expect, response.json
    return response.json


def status(api, channel_id, job_id=None, expect=200):
    query = {"channel_id": channel_id, **({"job_id": job_id} if job_id else {})}
    response = api.get("/api/sync/status", query_string=query)
    assert response.status_code == expect, response.json
    return response.json


def history(api, channel_id, **query):
    response = api.get("/api/sync/history", query_string={"channel_id": channel_id, **query})
    assert response.status_code == 200, response.json
    return response.json["history"]


def error_of(response, status_code, code):
    assert response.status_code == status_code, response.json
    assert response.json["error"]["code"] == code, response.json
    return response.json["error"]


def sandbox(sandbox_server, method, path, **kwargs):
    response = requests.request(method, f"{sandbox_server.url}{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


def parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def run_row(app, job_id) -> SyncRun:
    with app.app_context():
        run = db.session.get(SyncRun, job_id)
        db.session.expunge(run)
        db.session.remove()
        return run


# -- a completed job -----------------------------------------------------------------------

def test_a_completed_job_reports_progress_counts_and_duration(app, api, pipedrive):
    started = start(api, pipedrive, force=True)
    assert started["status"] == "started" and started["job_id"].startswith("run_")
    assert started["channel_id"] == pipedrive and started["estimated_messages"] is None
    assert parse(started["started_at"]) <= utcnow()

    queued = status(api, pipedrive)
    assert queued["job_id"] == started["job_id"] and queued["status"] == "queued"
    assert queued["current_stage"] == "queued" and queued["started_at"] is None and queued["error"] is None
    assert queued["progress"] == {"total_messages": None, "processed_messages": 0, "failing_messages": 0,
                                  "percentage": None, "total_is_estimate": True}

    assert worker.drain(app) == [started["job_id"]]
    done = status(api, pipedrive, started["job_id"])
    processed = done["progress"]["processed_messages"]
    assert done["status"] == "completed" and done["error"] is None and processed > 0
    assert done["progress"] == {"total_messages": processed, "processed_messages": processed,
                                "failing_messages": 0, "percentage": 100, "total_is_estimate": False}
    assert done["current_stage"] == "finalizing" and done["estimated_completion"] is None
    assert status(api, pipedrive) == done  # the latest job is this one

    [entry] = history(api, pipedrive)
    run = run_row(app, started["job_id"])
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(Document)
                                   .where(Document.connection_id == pipedrive))
    assert entry == {
        "job_id": started["job_id"], "channel_id": pipedrive, "status": "completed",
        "started_at": done["started_at"], "completed_at": entry["completed_at"],
        "duration_seconds": round((run.finished_at - run.started_at).total_seconds()),
        "messages_synced": processed,
        "facts_extracted": run.records_written, "entities_created": run.documents_created, "error": None}
    # A first full sync creates (and so writes) one document per record it read.
    assert entry["facts_extracted"] == entry["entities_created"] == stored == processed
    assert parse(entry["started_at"]) <= parse(entry["completed_at"])
    # The same run, seen through the connections API.
    assert api.get(f"/api/v1/connections/{pipedrive}/runs").json["runs"][0]["id"] == started["job_id"]

    again = start(api, pipedrive)
    assert again["estimated_messages"] == processed
    assert worker.drain(app) == [again["job_id"]]
    newest_first = history(api, pipedrive)
    assert [e["job_id"] for e in newest_first] == [again["job_id"], started["job_id"]]
    assert newest_first[0]["facts_extracted"] == 0  # nothing changed: nothing written
    assert [e["job_id"] for e in history(api, pipedrive, limit=1)] == [again["job_id"]]
    assert len(history(api, pipedrive, limit=500)) == 2  # capped at 100, not refused


def test_a_channel_job_by_the_providers_id_and_by_ours(app, api, github):
    connection_id, channels = github
    repo = channels[REPO]
    started = start(api, REPO)  # the provider's channel id
    assert started["channel_id"] == repo and started["estimated_messages"] is None
    assert worker.drain(app) == [started["job_id"]]
    done = status(api, repo)
    assert done["job_id"] == started["job_id"] and done["status"] == "completed"
    assert done["progress"]["processed_messages"] > 0
    assert status(api, REPO) == done
    run = api.get(f"/api/v1/connections/{connection_id}/runs?limit=1").json["runs"][0]
    assert run["id"] == started["job_id"] and run["channel"] == REPO

    forced = start(api, repo, force=True)
    assert forced["estimated_messages"] == done["progress"]["processed_messages"]
    assert worker.drain(app) == [forced["job_id"]]
    assert [e["job_id"] for e in history(api, repo)] == [forced["job_id"], started["job_id"]]
    # The connection's own jobs are the whole-connection ones (the listing that was cancelled).
    [listing] = history(api, connection_id)
    assert listing["status"] == "cancelled" and listing["channel_id"] == connection_id
    # Other repositories were not synced by these channel jobs.
    other = next(chn for ext, chn in channels.items() if ext != REPO)
    error_of(api.get("/api/sync/status", query_string={"channel_id": other}), 404, "not_found")
    assert history(api, other) == []


# -- failed jobs -----------------------------------------------------------------------------

def test_a_revoked_key_fails_the_job_with_auth_error(app, api, pipedrive, sandbox_server):
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={"provider": "pipedrive", "kind": "revoke_tokens"})
    job = start(api, pipedrive)["job_id"]
    assert worker.drain(app) == [job]
    failed = status(api, pipedrive, job)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "AUTH_ERROR" and failed["error"]["message"]
    # what Pipedrive itself answered is kept beside the spec's two details
    assert failed["error"]["details"] == {"retry_after": None, "failing_message_id": None, "provider": "Pipedrive",
                                          "provider_status": 401, "provider_message": "unauthorized access"}
    [entry] = history(api, pipedrive)
    assert entry["status"] == "failed" and entry["error"] == failed["error"]
    assert entry["completed_at"] is not None and entry["duration_seconds"] is not None


def test_a_rate_limit_storm_fails_the_job_with_rate_limit_and_retry_after(app, api, pipedrive, sandbox_server):
    # The provider asks for 60 s; the run may wait 2 s in all: it checkpoints out as rate limited.
    app.config["SYNC_RATE_LIMIT_MAX_WAIT"] = 2
    sandbox(sandbox_server, "POST", "/_sandbox/faults",
            json={"provider": "pipedrive", "kind": "rate_limit", "count": 5, "retry_after": 60})
    job = start(api, pipedrive)["job_id"]
    began = time.monotonic()
    assert worker.drain(app) == [job]
    assert time.monotonic() - began < 30  # it did not sit out the 60 s
    failed = status(api, pipedrive, job)
    assert failed["status"] == "failed" and failed["error"]["code"] == "RATE_LIMIT"
    assert 50 <= failed["error"]["details"]["retry_after"] <= 60
    assert failed["error"]["details"]["failing_message_id"] is None
    assert history(api, pipedrive)[0]["error"] == failed["error"]
    health = api.get(f"/api/v1/connections/{pipedrive}").json["health"]
    assert health == "rate_limited"


def test_disconnecting_cancels_the_queued_job(app, api, pipedrive):
    job = start(api, pipedrive)["job_id"]
    api.delete(f"/api/v1/connections/{pipedrive}")
    assert worker.drain(app) == []
    body = status(api, pipedrive, job)
    assert body["status"] == "cancelled" and body["job_id"] == job


def test_a_job_whose_worker_keeps_dying_fails_with_internal_error(app, api, pipedrive):
    job = start(api, pipedrive)["job_id"]
    with app.app_context():
        assert worker.claim("doomed-worker").run_id == job
        for _ in range(app.config["SYNC_MAX_ATTEMPTS"]):  # each worker dies before getting anywhere
            db.session.execute(update(SyncRun).where(SyncRun.id == job).values(
                status="running", heartbeat_at=utcnow() - timedelta(hours=1)))
            db.session.commit()
            worker.recover_stale()
        db.session.remove()
    failed = status(api, pipedrive, job)
    assert failed["status"] == "failed" and failed["error"]["code"] == "INTERNAL_ERROR"


# -- cancelling ------------------------------------------------------------------------------

def test_cancel_a_queued_job(app, api, pipedrive):
    job = start(api, pipedrive)["job_id"]
    response = api.post("/api/sync/cancel", json={"job_id": job})
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "cancelled" and body["job_id"] == job and parse(body["cancelled_at"]) <= utcnow()
    assert worker.drain(app) == []
    cancelled = status(api, pipedrive, job)
    assert cancelled["status"] == "cancelled" and cancelled["started_at"] is None
    assert cancelled["current_stage"] is None and cancelled["error"] is None
    [entry] = history(api, pipedrive)
    assert entry["status"] == "cancelled" and entry["duration_seconds"] is None and entry["completed_at"]
    error = error_of(api.post("/api/sync/cancel", json={"job_id": job}), 409, "run_not_active")
    assert error["details"] == {"status": "cancelled"}


def test_cancel_a_running_job_before_it_executes(app, api, pipedrive):
    first = start(api, pipedrive, force=True)["job_id"]
    second = start(api, pipedrive)["job_id"]
    with app.app_context():
        assert worker.claim("w1").run_id == first
        assert worker.claim("w2") is None  # one running run per connection: the second is skipped
        db.session.remove()
    running = status(api, pipedrive, first)
    assert running["status"] == "running" and running["started_at"] is not None
    skipped = status(api, pipedrive, second)
    assert skipped["status"] == "cancelled" and skipped["error"] is None  # skipped_locked reads cancelled
    error_of(api.post("/api/sync/cancel", json={"job_id": second}), 409, "run_not_active")

    cancelled = api.post("/api/sync/cancel", json={"job_id": first})
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert status(api, pipedrive, first)["status"] == "running"  # until its next page boundary
    again = api.post("/api/sync/cancel", json={"job_id": first})
    assert again.status_code == 200 and again.json["cancelled_at"] == cancelled.json["cancelled_at"]
    with app.app_context():
        assert engine.execute(first) == "cancelled"
        db.session.remove()
    stopped = status(api, pipedrive, first)
    assert stopped["status"] == "cancelled" and stopped["progress"]["processed_messages"] > 0  # one page stored
    error_of(api.post("/api/sync/cancel", json={"job_id": first}), 409, "run_not_active")


def test_cancel_a_job_while_it_runs(app, api, pipedrive, sandbox_server):
    """A worker thread runs the job; the activities page is slow, and the job is cancelled then."""
    sandbox(sandbox_server, "POST", "/_sandbox/faults",
            json={"provider": "pipedrive", "kind": "latency", "latency_ms": 3000,
                  "path_prefix": "/pipedrive/api/v2/activities"})
    job = start(api, pipedrive, force=True)["job_id"]
    runner = threading.Thread(target=worker.drain, args=(app,))
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while sandbox(sandbox_server, "GET", "/_sandbox/faults")["faults"]:  # the slow request is in flight
            assert time.monotonic() < deadline, "the job never reached the slow page"
            time.sleep(0.05)
        running = status(api, pipedrive, job)
        assert running["status"] == "running" and running["current_stage"] == "fetching_records"
        assert running["progress"]["processed_messages"] > 0 and running["started_at"] is not None
        # Pipedrive gives no totals: the streams finished so far stand in for the one being read
        assert running["progress"]["total_is_estimate"] is True and 0 < running["progress"]["percentage"] < 100
        assert api.post("/api/sync/cancel", json={"job_id": job}).status_code == 200
    finally:
        runner.join(30)
    stopped = status(api, pipedrive, job)
    assert stopped["status"] == "cancelled" and stopped["error"] is None
    assert stopped["progress"]["processed_messages"] >= running["progress"]["processed_messages"]


# -- schedules -------------------------------------------------------------------------------

def test_schedules_round_trip(app, jobs, github):
    _, channels = github
    repo = channels[REPO]
    assert jobs.get("/api/sync/schedules").json == {"schedules": []}

    before = utcnow()
    response = jobs.put("/api/sync/schedules", json={"channel_id": REPO, "schedule": "0 */4 * * *"})
    assert response.status_code == 200, response.json
    entry = response.json
    assert entry["channel_id"] == repo and entry["schedule"] == "0 */4 * * *" and entry["enabled"] is True
    assert entry["last_sync"] is None  # listed, never synced
    next_sync = parse(entry["next_sync"])
    assert before < next_sync <= before + timedelta(hours=4)
    assert next_sync.hour % 4 == 0 and (next_sync.minute, next_sync.second) == (0, 0)
    assert jobs.get("/api/sync/schedules").json == {"schedules": [entry]}

    job = start(jobs, repo)["job_id"]
    assert worker.drain(app) == [job]
    [after_sync] = jobs.get("/api/sync/schedules").json["schedules"]
    assert after_sync["last_sync"] is not None and parse(after_sync["last_sync"]) >= before
    assert parse(after_sync["last_sync"]) <= parse(history(jobs, repo)[0]["completed_at"])

    paused = jobs.put("/api/sync/schedules", json={"channel_id": repo, "schedule": "30 6 * * 1", "enabled": False})
    assert paused.json["enabled"] is False and paused.json["next_sync"] is None
    assert jobs.get("/api/sync/schedules").json["schedules"] == [paused.json]
    cleared = jobs.put("/api/sync/schedules", json={"channel_id": repo, "schedule": None})
    assert cleared.status_code == 200
    assert cleared.json == {"channel_id": repo, "schedule": None, "enabled": False, "next_sync": None,
                            "last_sync": after_sync["last_sync"]}
    assert jobs.get("/api/sync/schedules").json == {"schedules": []}


@pytest.mark.parametrize("body,code,field", [
    ({"schedule": "0 */4 * * *"}, "missing_field", "channel_id"),
    ({"channel_id": 42, "schedule": "0 */4 * * *"}, "invalid_field", "channel_id"),
    ({"channel_id": REPO}, "missing_field", "schedule"),
    ({"channel_id": REPO, "schedule": "every four hours"}, "invalid_schedule", "schedule"),
    ({"channel_id": REPO, "schedule": "61 * * * *"}, "invalid_schedule", "schedule"),
    ({"channel_id": REPO, "schedule": "0 */4 * *"}, "invalid_schedule", "schedule"),
    ({"channel_id": REPO, "schedule": 4}, "invalid_schedule", "schedule"),
    ({"channel_id": REPO, "schedule": "0 */4 * * *", "enabled": "yes"}, "invalid_field", "enabled"),
])
def test_invalid_schedules_are_refused(jobs, github, body, code, field):
    error = error_of(jobs.put("/api/sync/schedules", json=body), 422, code)
    assert error["details"] == {"field": field}
    assert jobs.get("/api/sync/schedules").json == {"schedules": []}


def test_only_channels_have_schedules(jobs, pipedrive):
    error = error_of(jobs.put("/api/sync/schedules", json={"channel_id": pipedrive, "schedule": "0 * * * *"}),
                     404, "CHANNEL_NOT_FOUND")
    assert error["details"] == {"channel_id": pipedrive}
    error_of(jobs.put("/api/sync/schedules", json={"channel_id": MISSING_CHANNEL, "schedule": None}),
             404, "CHANNEL_NOT_FOUND")


# -- request errors --------------------------------------------------------------------------

def test_unknown_channels_are_channel_not_found(api):
    for response in (api.post("/api/sync", json={"channel_id": MISSING_CHANNEL}),
                     api.post("/api/sync", json={"channel_id": "conn_doesnotexist00"}),
                     api.post("/api/sync", json={"channel_id": "C12345"}),
                     api.get("/api/sync/status", query_string={"channel_id": MISSING_CHANNEL}),
                     api.get("/api/sync/status", query_string={"channel_id": MISSING_CHANNEL, "job_id": MISSING_JOB}),
                     api.get("/api/sync/history", query_string={"channel_id": MISSING_CHANNEL, "limit": "x"})):
        error = error_of(response, 404, "CHANNEL_NOT_FOUND")
        assert error["message"] == "Channel not found." and "channel_id" in error["details"]


def test_job_lookups(app, api, github, pipedrive):
    connection_id, channels = github
    repo = channels[REPO]
    error = error_of(api.get("/api/sync/status", query_string={"channel_id": repo}), 404, "not_found")
    assert error["details"] == {"channel_id": repo}  # no job yet
    job = start(api, pipedrive)["job_id"]
    missing = error_of(api.get("/api/sync/status", query_string={"channel_id": repo, "job_id": MISSING_JOB}),
                       404, "not_found")
    elsewhere = error_of(api.get("/api/sync/status", query_string={"channel_id": repo, "job_id": job}),
                         404, "not_found")  # a job, but of another channel
    assert missing["message"] == elsewhere["message"] == "Sync job not found."
    whole = history(api, connection_id)[0]["job_id"]
    error_of(api.get("/api/sync/status", query_string={"channel_id": repo, "job_id": whole}), 404, "not_found")
    assert status(api, connection_id, whole)["status"] == "cancelled"


@pytest.mark.parametrize("query,code,parameter", [
    ({}, "missing_parameter", "channel_id"),
    ({"channel_id": "  "}, "missing_parameter", "channel_id"),
])
def test_channel_id_is_required(api, query, code, parameter):
    for path in ("/api/sync/status", "/api/sync/history"):
        error = error_of(api.get(path, query_string=query), 422, code)
        assert error["details"] == {"parameter": parameter}


@pytest.mark.parametrize("limit", ["0", "-1", "ten", "1.5"])
def test_history_limit_must_be_a_positive_whole_number(api, pipedrive, limit):
    error_of(api.get("/api/sync/history", query_string={"channel_id": pipedrive, "limit": limit}),
             422, "invalid_limit")


@pytest.mark.parametrize("path", ["/api/sync", "/api/sync/cancel"])
def test_bodies_are_checked(api, path):
    field = "channel_id" if path == "/api/sync" else "job_id"
    error_of(api.post(path, data="{not json", headers={"Content-Type": "application/json"}), 422, "invalid_json")
    error_of(api.post(path, json=[field]), 422, "invalid_body")
    for body in ({}, {field: None}, {field: "  "}):
        assert error_of(api.post(path, json=body), 422, "missing_field")["details"] == {"field": field}
    assert error_of(api.post(path, json={field: 42}), 422, "invalid_field")["details"] == {"field": field}


def test_force_must_be_a_boolean(api, pipedrive):
    error = error_of(api.post("/api/sync", json={"channel_id": pipedrive, "force": "yes"}), 422, "invalid_field")
    assert error["details"] == {"field": "force"}


def test_cancel_an_unknown_job(api):
    error = error_of(api.post("/api/sync/cancel", json={"job_id": MISSING_JOB}), 404, "not_found")
    assert error["details"] == {"job_id": MISSING_JOB}


def test_a_finished_job_cannot_be_cancelled(app, api, pipedrive):
    job = start(api, pipedrive)["job_id"]
    worker.drain(app)
    error = error_of(api.post("/api/sync/cancel", json={"job_id": job}), 409, "run_not_active")
    assert error["details"] == {"status": "completed"}


def test_connections_that_cannot_sync_are_refused(app, api, client, pipedrive):
    pending = api.post("/api/v1/connections", json={"connector_type": "github"}).json["connection"]["id"]
    error_of(api.post("/api/sync", json={"channel_id": pending}), 409, "connection_pending")
    api.delete(f"/api/v1/connections/{pipedrive}")
    error_of(api.post("/api/sync", json={"channel_id": pipedrive}), 409, "connection_disconnected")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SyncRun)) == 0


# -- tenants and scopes ----------------------------------------------------------------------

@pytest.fixture
def globex(app, client):
    """A second workspace with its own admin key."""
    with app.app_context():
        workspace, admin = make_workspace("Globex")
        return JobsApi(client, make_api_key(workspace, admin))


def test_another_workspaces_ids_are_the_same_404_as_missing(app, api, client, globex, github, pipedrive):
    connection_id, channels = github
    repo = channels[REPO]
    # Globex connects the same GitHub account (before Acme queues anything).
    _, their_channels = connect_github(app, client, globex.key)
    assert their_channels[REPO] != repo
    job = start(api, repo)["job_id"]
    scheduled = JobsApi(client, api.key).put("/api/sync/schedules", json={"channel_id": repo, "schedule": "0 * * * *"})
    assert scheduled.status_code == 200

    def same_404(call, foreign, missing, code):
        theirs, nothing = call(foreign), call(missing)
        assert theirs.status_code == nothing.status_code == 404
        assert theirs.json["error"]["code"] == nothing.json["error"]["code"] == code
        assert theirs.json["error"]["message"] == nothing.json["error"]["message"]

    for foreign in (repo, connection_id, pipedrive):
        same_404(lambda ref: globex.post("/api/sync", json={"channel_id": ref}), foreign, MISSING_CHANNEL,
                 "CHANNEL_NOT_FOUND")
        same_404(lambda ref: globex.get("/api/sync/status", query_string={"channel_id": ref}), foreign,
                 MISSING_CHANNEL, "CHANNEL_NOT_FOUND")
        same_404(lambda ref: globex.get("/api/sync/history", query_string={"channel_id": ref}), foreign,
                 MISSING_CHANNEL, "CHANNEL_NOT_FOUND")
        same_404(lambda ref: globex.put("/api/sync/schedules", json={"channel_id": ref, "schedule": None}),
                 foreign, MISSING_CHANNEL, "CHANNEL_NOT_FOUND")
    same_404(lambda ref: globex.post("/api/sync/cancel", json={"job_id": ref}), job, MISSING_JOB, "not_found")
    assert globex.get("/api/sync/schedules").json == {"schedules": []}

    # For Globex, the provider's id names its own channel.
    assert start(globex, REPO)["channel_id"] == their_channels[REPO]
    same_404(lambda ref: globex.get("/api/sync/status", query_string={"channel_id": REPO, "job_id": ref}),
             job, MISSING_JOB, "not_found")
    # ... and nothing of Acme's changed.
    assert status(api, repo)["job_id"] == job and status(api, repo)["status"] == "queued"
    assert [s["channel_id"] for s in api.get("/api/sync/schedules").json["schedules"]] == [repo]


ENDPOINTS = [("post", "/api/sync", {"channel_id": MISSING_CHANNEL}),
             ("get", "/api/sync/status?channel_id=x", None),
             ("get", "/api/sync/history?channel_id=x", None),
             ("post", "/api/sync/cancel", {"job_id": MISSING_JOB}),
             ("get", "/api/sync/schedules", None),
             ("put", "/api/sync/schedules", {"channel_id": MISSING_CHANNEL, "schedule": None})]


@pytest.mark.parametrize("method,path,body", ENDPOINTS)
def test_every_endpoint_needs_the_sync_scope(app, client, workspace, method, path, body):
    with app.app_context():
        ws, user = workspace
        narrow = JobsApi(client, make_api_key(db.session.merge(ws), db.session.merge(user),
                                              scopes=["connections:read", "connections:write"]))
        syncer = JobsApi(client, make_api_key(db.session.merge(ws), db.session.merge(user), scopes=["sync"]))
    kwargs = {"json": body} if body is not None else {}
    error = error_of(getattr(narrow, method)(path, **kwargs), 403, "insufficient_scope")
    assert error["details"]["required_scope"] == "sync"
    assert getattr(syncer, method)(path, **kwargs).status_code in (200, 404)  # through to the lookup
    assert getattr(client, method)(path, **kwargs).json["error"]["code"] == "missing_api_key"
    anonymous = getattr(client, method)(path, headers={"Authorization": "Bearer trb_nope"}, **kwargs)
    assert anonymous.status_code == 401 and anonymous.json["error"]["code"] == "invalid_api_key"
