"""A running action whose process died is reclaimed, and never posted twice.

Three runs are killed for real: a separate process executes the action against the sandbox, which
holds the write (a latency fault) while the test SIGKILLs the process; the run is left
``running`` with its progress (the write on its way). Once its lease is out, the workers' sweep
(``actions.service.reclaim_stale``) asks GitHub whether the issue arrived, Slack or Teams whether
the message did (they did: the run succeeds with it, nothing sent again, and a retry with the same
key replays that). Every other lookup is tested from the state a dead process leaves
(test_lookups.py).

The other cases start from the state a dead process leaves (a stale lease and its progress, made
with the real plan): nothing written yet (the plan resumes, once); an idempotent write in flight
(sent again: it sets a state); an issue that never arrived (failed: nothing written, the key
burnt, so a retry posts nothing); a write that cannot be looked up (``unknown`` with a note, and
a retry replays that without sending); a run whose lease is still good is left alone; and a
process that finds its run reclaimed under it stops sending.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta

import pytest
import requests

from actions import service
from actions.models import ActionRun
from audit.models import AuditEvent
from connections.models import Connection
from connectors import actions as kit
from core.extensions import db
from core.timeutil import utcnow
from tests.actions.helpers import act, connect_oauth, first_repository, writes
from tests.polling import wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

KILLED = textwrap.dedent("""
    import json, sys
    from app import create_app
    from actions import service
    from core.actor import Actor
    app = create_app()
    connection_id, user_id, workspace_id, action, parameters, key = sys.argv[1:7]
    with app.app_context(), app.test_request_context():
        actor = Actor(type="user", id=user_id, label="ada", workspace_id=workspace_id, user_id=user_id, role="admin")
        service.execute(actor, connection_id, service.Routed(action, json.loads(parameters)), idempotency_key=key)
    """)


def execute_in_a_process(workspace, database_url, fernet_keys, sandbox_url, tmp_path, connection_id, action,
                         parameters, key):
    """``execute`` in a process of its own (the same database and sandbox), as the workspace's
    admin, to be killed."""
    import json

    workspace_id, user_id = workspace[0].id, workspace[1].id
    env = {**os.environ, "TRIBUTARY_DATABASE_URL": database_url, "TRIBUTARY_FERNET_KEYS": ",".join(fernet_keys),
           "TRIBUTARY_SECRET_KEY": "test-secret", "TRIBUTARY_SANDBOX_URL": sandbox_url,
           "TRIBUTARY_INSTANCE_PATH": str(tmp_path / "killed"), "TRIBUTARY_AUTO_MIGRATE": "false",
           "TRIBUTARY_SCHEDULER_ENABLED": "false", "TRIBUTARY_EMBEDDED_WORKERS": "0",
           "TRIBUTARY_ACTION_LEASE_SECONDS": "1"}
    log = open(tmp_path / "killed.log", "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen([sys.executable, "-c", KILLED, connection_id, user_id, workspace_id, action,
                                json.dumps(parameters), key], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    process.log = log
    return process


def run_of(app, connection_id, key) -> ActionRun | None:
    with app.app_context():
        try:
            run = db.session.scalar(db.select(ActionRun).where(ActionRun.connection_id == connection_id,
                                                               ActionRun.idempotency_key == key))
            if run is not None:
                db.session.expunge(run)
            return run
        finally:
            db.session.remove()


def kill_while_sending(app, process, connection_id, key, arrived) -> ActionRun:
    """Wait until the process records that its write is on its way and the sandbox has it (held
    by the latency fault: ``arrived()``), then SIGKILL the process."""
    try:
        sending = wait_for(lambda: (r := run_of(app, connection_id, key)) is not None and r.progress
                           and r.progress.get("sending") == 0 and r, timeout=30, interval=0.05)
        assert sending, open(process.log.name).read()
        assert wait_for(arrived, timeout=10, interval=0.02), "the write reached the sandbox"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.log.close()
    run = run_of(app, connection_id, key)
    assert run.status == "running" and run.finished_at is None, "a killed process leaves its run running"
    return run


def hold_writes(server, provider, path_prefix, seconds):
    requests.post(f"{server.url}/_sandbox/faults", json={"provider": provider, "kind": "latency", "count": 1,
                                                         "latency_ms": int(seconds * 1000), "path_prefix": path_prefix},
                  timeout=5).raise_for_status()


def reclaim(app) -> list[str]:
    with app.app_context():
        try:
            return service.reclaim_stale()
        finally:
            db.session.remove()


@pytest.fixture
def github(app, client, workspace):
    connection = connect_oauth(app, client, workspace, "github")
    return connection, first_repository(app, connection)


def test_a_killed_create_issue_is_looked_up_at_github_and_not_posted_again(
        app, api, workspace, github, database_url, fernet_keys, sandbox_server, tmp_path):
    connection, repo = github
    issue = {"repository": repo, "title": "Kill -9 during the write", "body": "Seen once."}
    before = len(writes(sandbox_server, "github"))
    hold_writes(sandbox_server, "github", f"/github/api/repos/{repo}/issues", 2)
    process = execute_in_a_process(workspace, database_url, fernet_keys, sandbox_server.url, tmp_path, connection,
                                   "create_issue", issue, "killed-1")
    run = kill_while_sending(app, process, connection, "killed-1",
                             lambda: len(writes(sandbox_server, "github")) == before + 1)
    assert run.progress == {"answers": [], "sending": 0}
    # GitHub goes on with the request its client gave up on: the issue is made after the latency.
    assert wait_for(lambda: any(i["title"] == issue["title"] for i in requests.get(
        f"{sandbox_server.url}/github/api/repos/{repo}/issues", params={"state": "all"}, headers=bearer(app, connection),
        timeout=5).json()),
        timeout=10, interval=0.1)
    time.sleep(max(0.0, (run.lease_until - utcnow()).total_seconds()) + 0.1)

    assert reclaim(app) == [run.id]
    done = run_of(app, connection, "killed-1")
    assert done.status == "succeeded" and done.result["url"].endswith(f"/{repo}/issues/{done.result['number']}")
    assert "the provider has it (looked up)" in done.result["note"]
    assert len(writes(sandbox_server, "github")) == before + 1, "posted once"
    retried = act(api, connection, "create_issue", issue, idempotency_key="killed-1")
    assert (retried.status_code, retried.json["status"], retried.json["replayed"]) == (200, "succeeded", True)
    assert len(writes(sandbox_server, "github")) == before + 1
    assert reclaim(app) == []
    assert audited(app, run.id) == ["action.planned", "action.reclaimed", "action.executed"]


def test_a_killed_slack_message_is_looked_up_in_its_channel(
        app, api, client, workspace, database_url, fernet_keys, sandbox_server, tmp_path):
    slack = connect_oauth(app, client, workspace, "slack")
    before = len(writes(sandbox_server, "slack"))
    hold_writes(sandbox_server, "slack", "/slack/api/chat.postMessage", 1)
    message = {"channel": "#general", "text": "Posted while the process died"}
    process = execute_in_a_process(workspace, database_url, fernet_keys, sandbox_server.url, tmp_path, slack,
                                   "post_message", message, "killed-2")
    run = kill_while_sending(app, process, slack, "killed-2", lambda: len(writes(sandbox_server, "slack")) == before + 1)
    time.sleep(max(0.0, (run.lease_until - utcnow()).total_seconds()) + 1.2)   # Slack posts it after the latency

    assert reclaim(app) == [run.id]
    done = run_of(app, slack, "killed-2")
    assert done.status == "succeeded" and done.result["channel"] == "C0GENERAL1", done.error
    assert done.result["url"] == f"https://acme-sandbox.slack.com/archives/C0GENERAL1/p{done.result['ts'].replace('.', '')}"
    assert len(writes(sandbox_server, "slack")) == before + 1, "posted once"


def test_a_killed_teams_message_is_looked_up_in_its_channel(
        app, api, client, workspace, database_url, fernet_keys, sandbox_server, tmp_path):
    from sandbox.providers.microsoft import CHANNEL_ID, TEAM_ID

    teams = connect_oauth(app, client, workspace, "microsoft_365")
    channel = f"{TEAM_ID['product']}/{CHANNEL_ID['product/general']}"
    before = len(writes(sandbox_server, "microsoft"))
    hold_writes(sandbox_server, "microsoft", f"/microsoft/v1.0/teams/{TEAM_ID['product']}/channels", 1)
    message = {"channel": channel, "text": "Posted while the process died"}
    process = execute_in_a_process(workspace, database_url, fernet_keys, sandbox_server.url, tmp_path, teams,
                                   "post_message", message, "killed-3")
    run = kill_while_sending(app, process, teams, "killed-3",
                             lambda: len(writes(sandbox_server, "microsoft")) == before + 1)
    time.sleep(max(0.0, (run.lease_until - utcnow()).total_seconds()) + 1.2)   # Teams posts it after the latency

    assert reclaim(app) == [run.id]
    done = run_of(app, teams, "killed-3")
    assert done.status == "succeeded" and "the provider has it (looked up)" in done.result["note"], done.error
    assert f"groupId={TEAM_ID['product']}" in done.result["url"]
    retried = act(api, teams, "post_message", message, idempotency_key="killed-3")
    assert (retried.status_code, retried.json["status"], retried.json["replayed"]) == (200, "succeeded", True)
    assert len(writes(sandbox_server, "microsoft")) == before + 1, "posted once"


# -- the state a dead process leaves, made with the real plan ---------------------------------------------------

def crashed(app, connection_id, action_name, params, *, sending, answers=(), lease_ago=5, key=None) -> str:
    """A run as a process that died leaves it: running, its plan, its progress, a lease run out."""
    with app.app_context(), app.test_request_context():
        connection = db.session.get(Connection, connection_id)
        action = service._action(connection, action_name)
        params = action.validate(params)
        requests_, api = service._planned(connection, action, params)
        plan = [{**r.as_dict(), **view} for r, view in zip(requests_, kit.shown(requests_, api))]
        run = ActionRun(workspace_id=connection.workspace_id, connection_id=connection.id, action=action.name,
                        parameters=params, plan=plan, status="running", idempotency_key=key or f"crashed-{sending}",
                        fingerprint=service.fingerprint(action.name, params), requested_by_type="system",
                        requested_by_label="test", progress={"answers": list(answers), "sending": sending},
                        lease_until=utcnow() - timedelta(seconds=lease_ago))
        db.session.add(run)
        db.session.commit()
        try:
            return run.id
        finally:
            db.session.remove()


def row(app, run_id) -> ActionRun:
    with app.app_context():
        found = db.session.get(ActionRun, run_id)
        db.session.expunge(found)
        db.session.remove()
    return found


def test_nothing_written_yet_resumes_once_and_a_good_lease_is_left_alone(app, api, github, sandbox_server):
    connection, repo = github
    params = {"repository": repo, "title": "Resumed after a crash"}
    before = len(writes(sandbox_server, "github"))
    alive = crashed(app, connection, "create_issue", {**params, "title": "Still running"}, sending=0, lease_ago=-60,
                    key="alive")
    dead = crashed(app, connection, "create_issue", params, sending=None)   # died before sending anything
    assert reclaim(app) == [dead]
    resumed = row(app, dead)
    assert resumed.status == "succeeded" and resumed.result["number"] > 0
    assert "no write of it had reached the provider" in resumed.result["note"]
    assert len(writes(sandbox_server, "github")) == before + 1
    assert row(app, alive).status == "running", "a run whose lease is good is not taken"
    assert reclaim(app) == []


def test_an_idempotent_write_in_flight_is_sent_again(app, api, sandbox_server):
    pipedrive = api.post("/api/v1/connections", json={"connector_type": "pipedrive",
                                                      "api_key": "sandbox-pipedrive-key"}).json["connection"]["id"]
    run_id = crashed(app, pipedrive, "move_deal_stage", {"deal_id": 4, "stage": "Won"}, sending=0)
    before = len(writes(sandbox_server, "pipedrive"))
    with app.app_context():          # the sync workers' sweep reclaims actions too
        from sync import worker

        worker.reclaim_actions()
        db.session.remove()
    done = row(app, run_id)
    assert done.status == "succeeded" and done.result["status"] == "won"
    assert "sets a state, so sending it again changes nothing" in done.result["note"]
    assert writes(sandbox_server, "pipedrive")[before:] == [
        {"method": "PUT", "path": "/pipedrive/api/v1/deals/4", "query": {}, "body": {"status": "won"}}]


def _lost_issue(app, client, workspace):
    connection = connect_oauth(app, client, workspace, "github")
    return connection, "github", "create_issue", {"repository": first_repository(app, connection),
                                                  "title": "Lost on the way"}


def _maybe_transitioned(app, client, workspace):
    """A Jira transition declares no lookup (connectors/jira.py says why)."""
    return connect_oauth(app, client, workspace, "jira"), "atlassian", "transition", {"issue": "TRIB-1",
                                                                                      "transition": "Done"}


@pytest.mark.parametrize("make,status,code,said,retried_status", [
    (_lost_issue, "failed", "action_interrupted", ["has no trace of it: nothing was written"], 409),
    (_maybe_transitioned, "unknown", "action_outcome_unknown",
     ["/transitions was on its way", "transition cannot be looked up at the provider",
      "Look in the provider before running it again"], 200)], ids=["never-arrived", "cannot-be-looked-up"])
def test_a_reclaimed_write_not_found_is_never_sent_again_and_its_retry_replays_that(
        app, api, client, workspace, sandbox_server, make, status, code, said, retried_status):
    """An issue that never arrived fails (nothing written, the key spent); a write that cannot be
    looked up is unknown, with what to check. Either way nothing is sent, then or on a retry."""
    connection, provider, action, params = make(app, client, workspace)
    run_id = crashed(app, connection, action, params, sending=0, key="lost")
    before = len(writes(sandbox_server, provider))
    assert reclaim(app) == [run_id]
    ended = row(app, run_id)
    assert ended.status == status and ended.error["code"] == code
    assert all(part in ended.error["message"] for part in said), ended.error["message"]
    assert len(writes(sandbox_server, provider)) == before, "looked up, not sent"
    retried = act(api, connection, action, params, idempotency_key="lost")
    assert retried.status_code == retried_status and len(writes(sandbox_server, provider)) == before
    if status == "failed":
        assert retried.json["error"]["code"] == code and retried.json["error"]["details"]["replayed"] is True
    else:
        assert retried.json["status"] == status and retried.json["replayed"] is True
        shown = api.get(f"/api/v1/connections/{connection}/actions/runs?status={status}").json["runs"]
        assert [r["id"] for r in shown] == [run_id]


def test_a_process_whose_run_was_reclaimed_stops_sending(app, api, github, sandbox_server):
    """The original process was only paused (its lease ran out and the sweep took the run): before
    its next request it finds the run is no longer its own and sends nothing."""
    connection, repo = github
    run_id = crashed(app, connection, "create_issue", {"repository": repo, "title": "Paused"}, sending=None)
    with app.app_context():
        db.session.execute(db.update(ActionRun).where(ActionRun.id == run_id).values(status="unknown"))
        db.session.commit()
        before = len(writes(sandbox_server, "github"))
        with pytest.raises(service.LeaseLost):
            service._progress(run_id)(0, [])
        db.session.remove()
    assert len(writes(sandbox_server, "github")) == before and row(app, run_id).status == "unknown"


def bearer(app, connection_id) -> dict:
    with app.app_context():
        token = db.session.get(Connection, connection_id).credentials["access_token"]
        db.session.remove()
    return {"Authorization": f"Bearer {token}"}


def audited(app, run_id) -> list[str]:
    with app.app_context():
        try:
            return [e.action for e in db.session.scalars(db.select(AuditEvent).where(
                AuditEvent.target_id == run_id).order_by(AuditEvent.id))]
        finally:
            db.session.remove()
