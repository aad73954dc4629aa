"""What an action writes comes back with the next incremental sync, and is searchable: for every
connector whose action creates something its streams read (Teams, Gmail, Outlook, Pipedrive; Slack,
GitHub and Jira are in test_actions_sandbox.py, Notion in test_notion_synced_back.py). Each test
syncs first, executes the action through the API against the sandbox, runs one incremental sync
and finds the written text with a query.

The sandbox holds SEED 42, SCALE 25 (tests/conftest.py).
"""
from tests.actions.helpers import connect_oauth, dry_run_then_run
from tests.connectors.atlassian_walk import stored, sync


def found(api, text: str, source: str) -> list[dict]:
    """The query's results for ``text`` in ``source`` (each with its document's metadata)."""
    answer = api.post("/api/v1/query", json={"query": text, "sources": [source], "limit": 5})
    assert answer.status_code == 200, answer.json
    return answer.json["results"]


def test_teams_post_message_is_synced_back_and_searchable(app, api, client, workspace, sandbox_server):
    from sandbox.providers.microsoft import CHANNEL_ID, TEAM_ID

    teams = connect_oauth(app, client, workspace, "microsoft_365")
    assert sync(app, api, teams)["status"] == "completed"
    channel = f"{TEAM_ID['product']}/{CHANNEL_ID['product/general']}"
    posted = dry_run_then_run(api, sandbox_server, "microsoft", teams, "post_message",
                              {"channel": channel, "text": "Quokka rollout finished at noon"})
    later = sync(app, api, teams, full=False)
    assert (later["status"], later["documents_created"]) == ("completed", 1), later
    (document,) = [d for d in stored(app, teams).values() if "Quokka rollout finished at noon" in d.content]
    assert posted["result"]["id"] in document.external_id
    assert found(api, "quokka rollout", "microsoft_365")[0]["metadata"]["external_id"] == document.external_id


def test_gmail_draft_and_sent_message_are_synced_back_and_searchable(app, api, client, workspace, sandbox_server):
    gmail = connect_oauth(app, client, workspace, "gmail")
    assert sync(app, api, gmail)["status"] == "completed"
    draft = dry_run_then_run(api, sandbox_server, "google", gmail, "create_draft",
                             {"to": ["ana@example.com"], "subject": "Narwhal offsite", "body": "Draft agenda: narwhals."})
    later = sync(app, api, gmail, full=False)
    assert (later["status"], later["documents_created"]) == ("completed", 1), later
    thread = stored(app, gmail)[draft["result"]["thread_id"]]
    assert thread.title == "Narwhal offsite" and "DRAFT" in thread.metadata_["labels"]
    assert "Draft agenda: narwhals." in thread.content and "To: ana@example.com" in thread.content
    assert found(api, "narwhal agenda", "gmail")[0]["metadata"]["external_id"] == thread.external_id

    sent = dry_run_then_run(api, sandbox_server, "google", gmail, "send",
                            {"to": ["bo@example.com"], "subject": "Pelican invoice", "body": "Pelican invoice paid."})
    again = sync(app, api, gmail, full=False)
    assert (again["status"], again["documents_created"]) == ("completed", 1), again
    mail = stored(app, gmail)[sent["result"]["thread_id"]]
    assert "SENT" in mail.metadata_["labels"] and "Pelican invoice paid." in mail.content
    assert found(api, "pelican invoice", "gmail")[0]["metadata"]["external_id"] == mail.external_id


def test_outlook_draft_and_sent_mail_are_synced_back_and_searchable(app, api, client, workspace, sandbox_server):
    outlook = connect_oauth(app, client, workspace, "outlook")
    assert sync(app, api, outlook)["status"] == "completed"
    draft = dry_run_then_run(api, sandbox_server, "microsoft", outlook, "create_draft",
                             {"to": ["ana@example.com"], "subject": "Walrus review", "body": "Walrus notes attached."})
    later = sync(app, api, outlook, full=False)
    assert (later["status"], later["documents_created"]) == ("completed", 1), later
    mail = stored(app, outlook)[draft["result"]["id"]]
    assert mail.title == "Walrus review" and "Walrus notes attached." in mail.content
    assert "To: ana@example.com" in mail.content
    assert found(api, "walrus notes", "outlook")[0]["metadata"]["external_id"] == mail.external_id

    dry_run_then_run(api, sandbox_server, "microsoft", outlook, "send",
                     {"to": ["bo@example.com"], "cc": ["cy@example.com"], "subject": "Heron budget",
                      "body": "Heron budget approved."})
    again = sync(app, api, outlook, full=False)
    assert (again["status"], again["documents_created"]) == ("completed", 1), again
    (sent,) = [d for d in stored(app, outlook).values() if d.title == "Heron budget"]
    assert "Cc: cy@example.com" in sent.content and "Heron budget approved." in sent.content
    assert found(api, "heron budget", "outlook")[0]["metadata"]["external_id"] == sent.external_id


def test_pipedrive_activity_and_note_are_synced_back_and_searchable(app, api, sandbox_server):
    pipedrive = api.post("/api/v1/connections", json={"connector_type": "pipedrive",
                                                      "api_key": "sandbox-pipedrive-key"}).json["connection"]["id"]
    assert sync(app, api, pipedrive)["status"] == "completed"
    activity = dry_run_then_run(api, sandbox_server, "pipedrive", pipedrive, "create_activity",
                                {"subject": "Albatross renewal call", "type": "call", "deal_id": 3,
                                 "due_date": "2026-12-08", "note": "Bring the albatross pricing."})
    note = dry_run_then_run(api, sandbox_server, "pipedrive", pipedrive, "add_note",
                            {"content": "<p>Customer asked for an <b>ibex</b> discount.</p>", "deal_id": 3})
    later = sync(app, api, pipedrive, full=False)
    assert later["status"] == "completed" and later["documents_created"] == 2, later
    made = stored(app, pipedrive, "activity")[str(activity["result"]["id"])]
    assert made.title.startswith("Albatross renewal call") and "Bring the albatross pricing." in made.content
    written = stored(app, pipedrive, "note")[str(note["result"]["id"])]
    assert "Customer asked for an ibex discount." in written.content and "<b>" not in written.content
    assert found(api, "albatross renewal", "pipedrive")[0]["metadata"]["external_id"] == made.external_id
    assert found(api, "ibex discount", "pipedrive")[0]["metadata"]["external_id"] == written.external_id
    quiet = sync(app, api, pipedrive, full=False)
    assert (quiet["documents_created"], quiet["documents_updated"]) == (0, 0)
