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


# -- the other connectors' actions: plan equals what the provider received, and its answer ----------------

def test_confluence_create_page(app, api, client, workspace, sandbox_server):
    wiki = connect_oauth(app, client, workspace, "confluence")
    done = dry_run_then_run(api, sandbox_server, "atlassian", wiki, "create_page",
                            {"space": "ENG", "title": "Release notes 2.4", "body": "Shipped.\n\nThanks, all <3"})
    assert done["plan"][0]["body"]["body"]["value"] == "<p>Shipped.</p><p>Thanks, all &lt;3</p>"
    assert done["result"]["url"].startswith("https://tributary-sandbox.atlassian.net/wiki/spaces/ENG/pages/")
    again = act(api, wiki, "create_page", {"space": "ENG", "title": "Release notes 2.4"}, idempotency_key="second")
    assert again.status_code == 422 and "A page with this title already exists" in again.json["error"]["message"]
    nowhere = act(api, wiki, "create_page", {"space": "NOPE", "title": "x"}, dry_run=True)
    assert nowhere.status_code == 422 and nowhere.json["error"]["details"]["parameter"] == "space"


def test_notion_create_page_and_append_blocks(app, api, client, workspace, sandbox_server):
    from sandbox.providers.notion import nid

    notion = connect_oauth(app, client, workspace, "notion")
    parent = nid("page", 1)
    made = dry_run_then_run(api, sandbox_server, "notion", notion, "create_page",
                            {"parent_id": parent, "title": "Launch checklist", "content": "Freeze.\n\nShip."})
    assert made["plan"][0]["headers"]["Notion-Version"] == "2025-09-03"
    appended = dry_run_then_run(api, sandbox_server, "notion", notion, "append_blocks",
                                {"block_id": made["result"]["id"], "content": "Decision: ship on Friday."})
    assert len(appended["result"]["block_ids"]) == 1
    row = act(api, notion, "create_page", {"parent_id": nid("page", 2), "title": "x"})
    assert row.status_code == 422 and row.json["error"]["details"]["provider_status"] == 400


def test_pipedrive_activity_note_and_deal_stage(app, api, sandbox_server):
    pipedrive = api.post("/api/v1/connections", json={"connector_type": "pipedrive",
                                                      "api_key": "sandbox-pipedrive-key"}).json["connection"]["id"]
    activity = dry_run_then_run(api, sandbox_server, "pipedrive", pipedrive, "create_activity",
                                {"subject": "Renewal pricing", "type": "call", "deal_id": 3, "due_date": "2026-12-08"})
    assert activity["result"]["id"] > 0 and activity["result"]["deal_id"] == 3
    dry_run_then_run(api, sandbox_server, "pipedrive", pipedrive, "add_note",
                     {"content": "Asked for a discount.", "deal_id": 3})
    staged = dry_run_then_run(api, sandbox_server, "pipedrive", pipedrive, "move_deal_stage",
                              {"deal_id": 3, "stage": "Demo Scheduled"})
    assert staged["plan"][0]["body"] == {"stage_id": 3} and staged["result"]["stage_id"] == 3
    won = dry_run_then_run(api, sandbox_server, "pipedrive", pipedrive, "move_deal_stage", {"deal_id": 3, "stage": "Won"})
    assert won["result"]["status"] == "won"
    missing = act(api, pipedrive, "add_note", {"content": "x", "deal_id": 9999})
    assert missing.status_code == 422 and missing.json["error"]["details"]["provider_message"] == "Deal with id 9999 not found"


def test_gmail_and_outlook_drafts_and_sends(app, api, client, workspace, sandbox_server):
    gmail = connect_oauth(app, client, workspace, "gmail")
    mail = {"to": ["ana@example.com"], "subject": "Friday demo", "body": "Can we move it to 3pm?"}
    draft = dry_run_then_run(api, sandbox_server, "google", gmail, "create_draft", mail)
    assert draft["result"]["id"].startswith("r")
    sent = dry_run_then_run(api, sandbox_server, "google", gmail, "send", mail)
    assert sent["result"]["thread_id"]
    outlook = connect_oauth(app, client, workspace, "outlook")
    drafted = dry_run_then_run(api, sandbox_server, "microsoft", outlook, "create_draft", mail)
    assert drafted["result"]["url"].startswith("https://outlook.office365.com/owa/")
    dry_run_then_run(api, sandbox_server, "microsoft", outlook, "send", {**mail, "cc": ["bo@example.com"]})


def test_teams_post_message(app, api, client, workspace, sandbox_server):
    from sandbox.providers.microsoft import CHANNEL_ID, TEAM_ID

    teams = connect_oauth(app, client, workspace, "microsoft_365")
    channel = f"{TEAM_ID['product']}/{CHANNEL_ID['product/general']}"
    posted = dry_run_then_run(api, sandbox_server, "microsoft", teams, "post_message",
                              {"channel": channel, "text": "Standup moved to 10:00 <today>"})
    assert posted["plan"][0]["body"] == {"body": {"contentType": "text", "content": "Standup moved to 10:00 <today>"}}
    assert posted["result"]["url"].startswith("https://teams.microsoft.com/l/message/")
    gone = act(api, teams, "post_message", {"channel": f"{TEAM_ID['product']}/19:nope@thread.tacv2", "text": "x"})
    assert gone.status_code == 422 and gone.json["error"]["code"] == "provider_not_found"
    assert "Channel 19:nope@thread.tacv2 not found in team" in gone.json["error"]["details"]["provider_message"]


def test_concurrent_retries_post_once(app, api, slack, sandbox_server):
    """Two requests with the same idempotency key at the same moment: the unique key lets one run;
    the other answers its stored outcome (a replay) and nothing is posted twice."""
    import threading

    before, answers, gate = len(writes(sandbox_server, "slack")), [], threading.Barrier(2)

    def once():
        client = app.test_client()
        gate.wait()
        answers.append(client.post(f"/api/v1/connections/{slack}/actions", headers={
            "Authorization": f"Bearer {api.key}"}, json={"action": "post_message", "parameters": {
                "channel": "general", "text": "Once"}, "idempotency_key": "release-42"}))
    threads = [threading.Thread(target=once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 201], [a.json for a in answers]
    assert len({a.json["id"] for a in answers}) == 1 and [a.json["replayed"] for a in answers].count(True) == 1
    assert len(writes(sandbox_server, "slack")) == before + 1
