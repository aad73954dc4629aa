"""Every action against the provider sandbox, through the API: the dry run's plan is exactly what
the sandbox then receives, the answer says what the provider created, and what was created comes
back with the next incremental sync (Slack, GitHub, Jira). Provider refusals surface in the
provider's words.

The sandbox holds SEED 42, SCALE 25 (tests/conftest.py).
"""
import pytest

from tests.actions.helpers import act, connect_oauth, dry_run_then_run, writes
from tests.connectors.atlassian_walk import configure, stored, sync


@pytest.fixture
def slack(app, client, workspace):
    return connect_oauth(app, client, workspace, "slack")


@pytest.fixture
def github(app, client, workspace):
    return connect_oauth(app, client, workspace, "github")


@pytest.fixture
def jira(app, client, workspace):
    return connect_oauth(app, client, workspace, "jira")


def test_slack_post_message_is_planned_sent_and_synced_back(app, api, slack, sandbox_server):
    configure(app, slack, channels=["C0GENERAL1"], access_mode="workspace")
    assert sync(app, api, slack)["status"] == "completed"
    done = dry_run_then_run(api, sandbox_server, "slack", slack, "post_message",
                            {"channel": "#general", "text": "Deployment complete: v2.4.1 is live."})
    assert done["result"]["channel"] == "C0GENERAL1" and done["result"]["url"].startswith(
        "https://acme-sandbox.slack.com/archives/C0GENERAL1/p")
    assert done["plan"][0]["headers"]["Authorization"] == "[redacted]"
    assert "xoxb-" not in str(done)
    later = sync(app, api, slack, full=False)
    assert later["documents_created"] == 1
    posted = stored(app, slack, "message")[f"C0GENERAL1:{done['result']['ts']}"]
    assert "Deployment complete: v2.4.1 is live." in posted.content

    reply = dry_run_then_run(api, sandbox_server, "slack", slack, "post_message",
                             {"channel": "C0GENERAL1", "text": "Rollback plan is in the doc.",
                              "thread_ts": done["result"]["ts"]})
    assert reply["result"]["ts"] != done["result"]["ts"]
    assert sync(app, api, slack, full=False)["documents_updated"] == 1
    assert "Rollback plan is in the doc." in stored(app, slack, "message")[f"C0GENERAL1:{done['result']['ts']}"].content


def test_slack_refusals_in_slacks_words(app, api, slack, sandbox_server):
    outside = act(api, slack, "post_message", {"channel": "engineering", "text": "hello"})
    assert outside.status_code == 422 and outside.json["error"]["details"]["action_run_id"].startswith("act_")
    assert outside.json["error"]["details"]["provider_code"] == "not_in_channel"
    assert "engineering" in outside.json["error"]["message"]
    missing = act(api, slack, "post_message", {"channel": "nowhere", "text": "hello"})
    assert missing.json["error"]["code"] == "CHANNEL_NOT_FOUND"
    assert missing.json["error"]["details"]["provider_code"] == "channel_not_found"
    thread = act(api, slack, "post_message", {"channel": "general", "text": "hi", "thread_ts": "1.000001"})
    assert thread.json["error"]["details"]["provider_code"] == "thread_not_found"


def test_github_actions_planned_sent_and_synced_back(app, api, github, sandbox_server):
    repo = sandbox_repo(app, github)
    configure(app, github, channels=[repo], access_mode="workspace")
    assert sync(app, api, github)["status"] == "completed"
    created = dry_run_then_run(api, sandbox_server, "github", github, "create_issue",
                               {"repository": repo, "title": "Login fails on Safari", "body": "Since 2.4.", "labels": ["bug"]})
    number = created["result"]["number"]
    assert created["result"]["url"].endswith(f"/{repo}/issues/{number}")
    commented = dry_run_then_run(api, sandbox_server, "github", github, "comment",
                                 {"repository": repo, "number": number, "body": "Reproduced on 17.2."})
    assert "#issuecomment-" in commented["result"]["url"]
    labelled = dry_run_then_run(api, sandbox_server, "github", github, "add_labels",
                                {"repository": repo, "number": number, "labels": ["security", "needs-triage"]})
    assert set(labelled["result"]["labels"]) == {"bug", "security", "needs-triage"}
    later = sync(app, api, github, full=False)
    assert later["status"] == "completed"
    issue = stored(app, github, "issue")[f"{repo}#{number}"]
    assert issue.title.endswith("Login fails on Safari") and issue.metadata_["labels"] and "Since 2.4." in issue.content
    comment = stored(app, github, "comment")[f"{repo}#issuecomment-{commented['result']['id']}"]
    assert "Reproduced on 17.2." in comment.content
    # close_issue is destructive: by default it waits for approval (tests/actions/test_control.py);
    # the admin's policy lets it run at once here.
    api.put(f"/api/v1/connections/{github}/actions/policy", json={"approval_required": []})
    closed = dry_run_then_run(api, sandbox_server, "github", github, "close_issue",
                              {"repository": repo, "number": number, "reason": "not_planned"})
    assert closed["result"]["state"] == "closed"
    assert writes(sandbox_server, "github")[-1]["body"] == {"state": "closed", "state_reason": "not_planned"}


def test_github_refusals_in_githubs_words(app, api, github):
    repo = sandbox_repo(app, github)
    gone = act(api, github, "comment", {"repository": repo, "number": 99999, "body": "hello"})
    assert gone.status_code == 422 and gone.json["error"]["code"] == "provider_not_found"
    assert gone.json["error"]["details"]["provider_status"] == 404
    nowhere = act(api, github, "create_issue", {"repository": "nobody/nothing", "title": "x"})
    assert nowhere.json["error"]["details"]["provider_message"] == "Not Found"


def test_jira_actions_planned_sent_and_synced_back(app, api, jira, sandbox_server):
    configure(app, jira, channels=["TRIB"], access_mode="workspace")
    assert sync(app, api, jira)["status"] == "completed"
    before = set(stored(app, jira, "issue"))
    created = dry_run_then_run(api, sandbox_server, "atlassian", jira, "create_issue",
                               {"project": "TRIB", "summary": "Search times out on big workspaces",
                                "description": "Seen at 50k documents.", "issue_type": "Bug"})
    key = created["result"]["key"]
    assert key.startswith("TRIB-") and created["result"]["url"] == f"https://tributary-sandbox.atlassian.net/browse/{key}"
    dry_run_then_run(api, sandbox_server, "atlassian", jira, "comment", {"issue": key, "body": "Fix is deployed."})
    moved = dry_run_then_run(api, sandbox_server, "atlassian", jira, "transition", {"issue": key, "transition": "Done"})
    assert moved["plan"][0]["body"] == {"transition": {"id": "31"}}
    later = sync(app, api, jira, full=False)
    assert later["documents_created"] == 1
    (new_id,) = set(stored(app, jira, "issue")) - before
    issue = stored(app, jira, "issue")[new_id]
    assert issue.title == f"{key}: Search times out on big workspaces"
    assert "Fix is deployed." in issue.content and "Done" in issue.content


def test_jira_refusals_in_jiras_words(app, api, jira):
    bad = act(api, jira, "create_issue", {"project": "NOPE", "summary": "x"})
    assert bad.status_code == 422 and "valid project is required" in bad.json["error"]["message"]
    unknown = act(api, jira, "transition", {"issue": "TRIB-1", "transition": "Teleported"}, dry_run=True)
    assert unknown.status_code == 422 and unknown.json["error"]["details"]["parameter"] == "transition"


def sandbox_repo(app, connection_id) -> str:
    """A repository the sandbox's GitHub account can write to (the first one it lists)."""
    from tests.actions.helpers import first_repository

    return first_repository(app, connection_id)
