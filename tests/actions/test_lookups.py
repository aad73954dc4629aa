"""Every non-idempotent write action finds its write at the provider after its process died
while sending it (``connectors.actions.Lookup``), against the sandbox.

Each case starts from the state a dead process leaves (test_reclaim's ``crashed``: the real
plan, the write in flight, the lease run out; killing a real process is test_reclaim's business).
Found: the same write was really made first (through the API, as the connection's account), so
the reclaimed run succeeds with that record and nothing is sent again. Missing: nothing was
written, so the run fails ``action_interrupted`` (a lookup through a search index cannot prove a
miss: ``unknown``). Two records that match leave it ``unknown``: which is ours cannot be told.
"""
import pytest

from tests.actions.helpers import act, connect_oauth, writes
from tests.actions.test_reclaim import crashed, reclaim, row


def _pipedrive(app, api, client, workspace):
    return api.post("/api/v1/connections", json={"connector_type": "pipedrive",
                                                 "api_key": "sandbox-pipedrive-key"}).json["connection"]["id"]


def _teams_channel():
    from sandbox.providers.microsoft import CHANNEL_ID, TEAM_ID

    return f"{TEAM_ID['product']}/{CHANNEL_ID['product/general']}"


def _notion_page():
    from sandbox.providers.notion import nid

    return nid("page", 1)


# (connector type, sandbox provider, action, parameters of the write made, of one never made)
CASES = [
    ("microsoft_365", "microsoft", "post_message",
     lambda: {"channel": _teams_channel(), "text": "Standup moved to 10:00 <today> & later"},
     lambda: {"channel": _teams_channel(), "text": "Never posted"}),
    ("pipedrive", "pipedrive", "create_activity",
     lambda: {"subject": "Renewal call", "type": "call", "deal_id": 3, "due_date": "2026-12-09"},
     lambda: {"subject": "Never scheduled", "type": "call", "deal_id": 3}),
    ("pipedrive", "pipedrive", "add_note",
     lambda: {"content": "<p>Asked for a discount &amp; a call</p>", "deal_id": 3},
     lambda: {"content": "Never noted", "deal_id": 3}),
    ("confluence", "atlassian", "create_page",
     lambda: {"space": "ENG", "title": "Release notes 2.5", "body": "Shipped."},
     lambda: {"space": "ENG", "title": "Never created"}),
    ("jira", "atlassian", "comment",
     lambda: {"issue": "TRIB-1", "body": "Fix is deployed.\n\nOn all regions."},
     lambda: {"issue": "TRIB-1", "body": "Never said"}),
    ("outlook", "microsoft", "create_draft",
     lambda: {"to": ["ana@example.com"], "cc": ["bo@example.com"], "subject": "Friday demo", "body": "Can we <3 at 3pm?"},
     lambda: {"to": ["ana@example.com"], "subject": "Friday demo", "body": "Never drafted"}),
    ("outlook", "microsoft", "send",
     lambda: {"to": ["ana@example.com"], "subject": "Invoice", "body": "Attached is the invoice."},
     lambda: {"to": ["ana@example.com"], "subject": "Invoice", "body": "Never sent"}),
    ("gmail", "google", "create_draft",
     lambda: {"to": ["ana@example.com"], "subject": "Friday demo", "body": "Can we move it\n\nto 3pm?"},
     lambda: {"to": ["ana@example.com"], "subject": "Friday demo", "body": "Never drafted"}),
    ("gmail", "google", "send",
     lambda: {"to": ["ana@example.com", "bo@example.com"], "subject": "Invoice", "body": "Attached."},
     lambda: {"to": ["ana@example.com"], "subject": "Invoice", "body": "Never sent"}),
    ("notion", "notion", "create_page",
     lambda: {"parent_id": _notion_page(), "title": "Launch checklist", "content": "Freeze.\n\nShip."},
     lambda: {"parent_id": _notion_page(), "title": "Never created"}),
    ("notion", "notion", "append_blocks",
     lambda: {"block_id": _notion_page(), "content": "Decision: ship on Friday."},
     lambda: {"block_id": _notion_page(), "content": "Never appended"}),
    ("jira", "atlassian", "create_issue",
     lambda: {"project": "TRIB", "summary": "Search times out", "issue_type": "Bug"},
     lambda: {"project": "TRIB", "summary": "Never filed"}),
]
# A lookup through a search index cannot prove a miss.
SEARCHED = {("jira", "create_issue")}


def connect(app, api, client, workspace, connector_type):
    if connector_type == "pipedrive":
        return _pipedrive(app, api, client, workspace)
    return connect_oauth(app, client, workspace, connector_type)


@pytest.mark.parametrize("connector_type,provider,action,made,never", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_an_interrupted_write_is_found_at_the_provider_or_known_missing(
        app, api, client, workspace, sandbox_server, connector_type, provider, action, made, never):
    connection = connect(app, api, client, workspace, connector_type)
    first = act(api, connection, action, made(), idempotency_key="made")
    assert first.status_code == 201 and first.json["status"] == "succeeded", first.json
    before = len(writes(sandbox_server, provider))

    arrived = crashed(app, connection, action, made(), sending=0, key="crashed-arrived")
    lost = crashed(app, connection, action, never(), sending=0, key="crashed-lost")
    assert sorted(reclaim(app)) == sorted([arrived, lost])

    found = row(app, arrived)
    assert found.status == "succeeded", found.error
    # What the first run made (a Notion page found among its parent's children: its URL by id).
    assert {k: v for k, v in found.result.items() if k not in ("note", "url")} == \
        {k: v for k, v in first.json["result"].items() if k != "url"}
    assert found.result.get("url") == first.json["result"].get("url") or \
        found.result["url"] == "https://www.notion.so/" + found.result["id"].replace("-", "")
    assert "the provider has it (looked up)" in found.result["note"]
    missing = row(app, lost)
    if (connector_type, action) in SEARCHED:
        assert missing.status == "unknown" and "may not show a new record yet" in missing.error["message"]
    else:
        assert missing.status == "failed" and missing.error["code"] == "action_interrupted", missing.error
    assert len(writes(sandbox_server, provider)) == before, "looked up, nothing sent"


def test_two_matching_records_leave_the_run_unknown(app, api, client, workspace, sandbox_server):
    pipedrive = _pipedrive(app, api, client, workspace)
    note = {"content": "Said twice", "deal_id": 4}
    for key in ("one", "two"):
        assert act(api, pipedrive, "add_note", note, idempotency_key=key).json["status"] == "succeeded"
    run_id = crashed(app, pipedrive, "add_note", note, sending=0)
    assert reclaim(app) == [run_id]
    unknown = row(app, run_id)
    assert unknown.status == "unknown" and unknown.error["code"] == "action_outcome_unknown"
    assert "the provider was asked, but 2 records at the provider match it" in unknown.error["message"]
