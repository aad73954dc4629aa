"""Records deleted at the source while a full read is under way, for each wave-1 connector and its
pagination: no live record is lost (a record the listing did not show is confirmed by id before
it is deleted), and the next full sync leaves exactly what is still there.

Each test connects through the sandbox's consent page, syncs in full, then syncs in full again
with the provider slowed (a latency fault) and, once the read has stored its first page, deletes
records at the source: some the read has passed (they stay until the next read) and some ahead
of it (this read does not see them: confirmed gone, deleted now). ``full_read_with_deletions``
(tests/sync/runs.py) holds the walk; each test says what its listing does with the deletions.
Pages are small and the sandbox's scale is the suite's (25), so each test takes a few seconds.
"""
import dataclasses

import pytest

from tests.connectors.walk import sandbox
from tests.factories import configure
from tests.oauth_helpers import consent, local_path
from tests.sync.runs import MidRead, full_read_with_deletions, queue


def consented(api, client, connector_type: str, **fields) -> str:
    """A connection made through the provider's consent page in the sandbox."""
    started = api.post("/api/v1/connections", json={"connector_type": connector_type, **fields}).json
    assert client.get(local_path(consent(started["authorize_url"]))).status_code in (200, 302)
    return started["connection"]["id"]


def only(monkeypatch, connector, *names, page_size: int):
    """Sync only these streams of ``connector``, ``page_size`` records a page."""
    streams = tuple(s for s in connector.catalog.streams if s.name in names)
    monkeypatch.setattr(connector, "catalog", dataclasses.replace(connector.catalog, streams=streams))
    monkeypatch.setattr(connector, "page_size", page_size)


def slowed(provider: str, path_prefix: str | None = None, latency_ms: int = 100) -> dict:
    return {"provider": provider, "kind": "latency", "latency_ms": latency_ms, "count": 10_000,
            **({"path_prefix": path_prefix} if path_prefix else {})}


def seeded(provider: str, collection: str) -> dict[str, dict]:
    """A kit emulation's seeded records as the suite's sandbox holds them (SEED 42, SCALE 25)."""
    from sandbox.kit import Collection, emulations

    return Collection(provider, collection, emulations()[provider].collections[collection], 42, 25).rows


def delete_records(server, where: str, ids) -> None:
    """Delete records of a kit emulation's collection (``<provider>/<collection>``)."""
    for record_id in ids:
        sandbox(server, "DELETE", f"/_sandbox/collections/{where}/{record_id}")


def passed_and_ahead(seen: MidRead, passed: set, ahead: set) -> None:
    """What a listing that never shifts shows: the records it had passed were stored before
    they went (the next read drops them), those ahead of it were not seen and, confirmed gone,
    deleted by this read; nothing had to be recovered."""
    assert seen.after == seen.before - ahead and passed <= seen.after
    assert seen.count("deleted") == len(ahead) and seen.count("recovered") == 0


# -- Slack: conversations.history, newest first, cursor pages; ids unique per channel ------------

def test_slack_messages_cursor_pages(app, api, client, sandbox_server, monkeypatch):
    from connectors.slack import SlackConnector

    only(monkeypatch, SlackConnector, "messages", page_size=5)
    slack = consented(api, client, "slack")
    configure(app, slack, channels=["C0GENERAL1"])
    for n in range(15):        # #general holds 5 of the seeded 25: 20 messages, 4 pages
        sandbox(sandbox_server, "POST", "/_sandbox/collections/slack/messages",
                json={"channel": "C0GENERAL1", "user": 1 + n % 4, "text": f"Standup note {n}", "kind": "user"})
    queue(api, slack)

    def record_id(external_id):         # C0GENERAL1:<created>.<collection id>
        return int(external_id.rpartition(".")[2])

    plan = {}

    def delete_some(stored):
        newest_first = sorted(stored, key=lambda i: tuple(map(int, i.split(":")[1].split("."))), reverse=True)
        plan["passed"], plan["ahead"] = set(newest_first[:3]), set(newest_first[-3:])
        delete_records(sandbox_server, "slack/messages", map(record_id, plan["passed"] | plan["ahead"]))
        return plan["passed"] | plan["ahead"]

    seen = full_read_with_deletions(app, api, sandbox_server, slack, "messages", delete_some,
                                    slow=slowed("slack", "/slack/api/conversations.history"))
    passed_and_ahead(seen, plan["passed"], plan["ahead"])



def test_slack_files_page_numbers(app, api, client, sandbox_server, monkeypatch):
    """files.list pages by number, newest first: deleting files the read has passed shifts the
    pages, and the read misses as many live files, which it finds again by id at its end."""
    from connectors.slack import SlackConnector

    only(monkeypatch, SlackConnector, "files", page_size=4)
    slack = consented(api, client, "slack")
    configure(app, slack, channels=["C0GENERAL1"])
    for n in range(12):        # #general holds 5 of the seeded 25: 17 files, 5 pages
        sandbox(sandbox_server, "POST", "/_sandbox/collections/slack/files",
                json={"channel": "C0GENERAL1", "user": 1 + n % 4, "kind": "txt", "topic": "launch", "lines": 3})
    queue(api, slack)
    plan, files = {}, seeded("slack", "files")

    def record_id(external_id):         # C0GENERAL1:F000000017
        return int(external_id.rpartition(":F")[2])

    def delete_some(stored):            # newest first: the files added above, then the seeded ones
        newest_first = sorted(stored, key=lambda i: (str(record_id(i)) not in files, record_id(i)), reverse=True)
        plan["passed"], plan["ahead"] = set(newest_first[:2]), set(newest_first[-2:])
        delete_records(sandbox_server, "slack/files", map(record_id, plan["passed"] | plan["ahead"]))
        return plan["passed"] | plan["ahead"]

    seen = full_read_with_deletions(app, api, sandbox_server, slack, "files", delete_some, started=4,
                                    slow=slowed("slack", "/slack/api/files.list"))
    assert seen.after == seen.before - plan["ahead"] and plan["passed"] <= seen.after
    assert seen.count("recovered") == len(plan["passed"])       # shifted out of view, confirmed live
    assert seen.count("deleted") == len(plan["ahead"])

# -- Notion: POST /v1/search, newest edit first, start_cursor pages ---------------------------------

def test_notion_pages_search_cursor(app, api, client, sandbox_server, monkeypatch):
    from connectors.notion import NotionConnector

    only(monkeypatch, NotionConnector, "pages", page_size=5)      # search lists pages and rows: 50, 10 pages
    notion = consented(api, client, "notion")
    configure(app, notion, requests_per_minute=0)   # Notion's 3 a second would make this a minute's walk
    queue(api, notion)

    def record_id(external_id):         # a Notion-style UUID ending in the record's number
        return int(external_id.rpartition("-")[2], 16)

    plan, pages = {}, seeded("notion", "pages")

    def delete_some(stored):        # search sorts by last_edited_time (to the second inside), newest first
        newest_first = sorted(stored, key=lambda i: (pages[str(record_id(i))]["updated"], record_id(i)), reverse=True)
        plan["passed"], plan["ahead"] = set(newest_first[:2]), set(newest_first[-3:])
        delete_records(sandbox_server, "notion/pages", map(record_id, plan["passed"] | plan["ahead"]))
        return plan["passed"] | plan["ahead"]

    seen = full_read_with_deletions(app, api, sandbox_server, notion, "pages", delete_some,
                                    slow=slowed("notion", "/notion/v1/search"))
    passed_and_ahead(seen, plan["passed"], plan["ahead"])


# -- Google Drive: files.list by id, pageToken pages (the changes API's start token taken first) ---

def test_google_drive_files_page_tokens(app, api, client, sandbox_server, monkeypatch):
    from connectors.google_workspace import GoogleWorkspaceConnector

    only(monkeypatch, GoogleWorkspaceConnector, "files", page_size=5)
    google = consented(api, client, "google_workspace")
    queue(api, google)

    def record_id(external_id):         # 1SbxF000017: file 17
        return int(external_id[5:])

    plan = {}

    def delete_some(stored):            # listed in id order (folders first)
        plan["passed"], plan["ahead"] = set(stored[:2]), set(stored[-3:])
        delete_records(sandbox_server, "google_drive/files", map(record_id, plan["passed"] | plan["ahead"]))
        return plan["passed"] | plan["ahead"]

    seen = full_read_with_deletions(app, api, sandbox_server, google, "files", delete_some,
                                    slow=slowed("google_drive", "/google/drive/v3/files", latency_ms=50),
                                    change_feed=True)
    passed_and_ahead(seen, plan["passed"], plan["ahead"])


# -- Google Calendar: a calendar's events by id, pageToken pages, nextSyncToken at the end ---------

def test_google_calendar_events_per_calendar(app, api, client, sandbox_server, monkeypatch):
    from connectors.google_workspace import GoogleWorkspaceConnector

    only(monkeypatch, GoogleWorkspaceConnector, "events", page_size=4)
    google = consented(api, client, "google_workspace")
    me = "sandbox.user@example.com"
    configure(app, google, channels=[me])
    for n in range(12):
        sandbox(sandbox_server, "POST", "/_sandbox/collections/google_calendar/events",
                json={"calendar": me, "summary": f"Planning {n}", "organizer": me, "attendees": [], "start": 1750000000})
    queue(api, google)

    def record_id(external_id):         # evt000017: event 17
        return int(external_id[3:])

    plan = {}

    def delete_some(stored):            # listed in id order
        by_id = sorted(stored, key=record_id)
        plan["passed"], plan["ahead"] = set(by_id[:2]), set(by_id[-3:])
        delete_records(sandbox_server, "google_calendar/events", map(record_id, plan["passed"] | plan["ahead"]))
        return plan["passed"] | plan["ahead"]

    seen = full_read_with_deletions(app, api, sandbox_server, google, "events", delete_some,
                                    slow=slowed("google_calendar", "/google/calendar/v3/calendars"), started=4,
                                    change_feed=True)
    passed_and_ahead(seen, plan["passed"], plan["ahead"])


# -- Gmail: threads newest first, pageToken pages that are offsets ----------------------------------

def test_gmail_threads_offset_page_tokens(app, api, client, workspace, sandbox_server, monkeypatch):
    """Gmail's page tokens here stand for offsets (the emulation's; Gmail documents them as
    opaque): deleting threads the read has passed shifts the listing, and the read misses as many
    live threads, which it finds again by id at its end."""
    from connectors.gmail import GmailConnector
    from tests.connectors.test_gmail_sync import threads

    monkeypatch.setattr(GmailConnector, "page_size", 3)
    ws, user = workspace
    with client.session_transaction() as session:
        session["user_id"], session["workspace_id"] = user.id, ws.id
    gmail = consented(api, client, "gmail", owner_user_id=user.id)
    queue(api, gmail)
    plan, mailbox = {}, threads(sandbox_server)        # thread -> its messages, newest thread first

    def delete_some(stored):
        newest_first = list(mailbox)
        assert set(newest_first) == set(stored)
        plan["passed"], plan["ahead"] = set(newest_first[:2]), set(newest_first[-2:])
        for thread in plan["passed"] | plan["ahead"]:
            for message_id in mailbox[thread]:
                sandbox(sandbox_server, "DELETE", f"/_sandbox/google/messages/{message_id}")
        return plan["passed"] | plan["ahead"]

    seen = full_read_with_deletions(app, api, sandbox_server, gmail, "threads", delete_some, started=3,
                                    slow=slowed("google", "/google/gmail/v1/users/me/threads"), change_feed=True)
    assert seen.after == seen.before - plan["ahead"] and plan["passed"] <= seen.after
    assert seen.count("recovered") == len(plan["passed"])       # hidden by the shift, confirmed live
    assert seen.count("deleted") == len(plan["ahead"])


# -- Microsoft 365 and Outlook: Graph collections, @odata.nextLink pages ----------------------------

def test_onedrive_files_delta_round_next_links(app, api, client, sandbox_server, monkeypatch):
    """A full delta round of the Documents library: oldest change first, by keyset."""
    from connectors.microsoft_365 import Microsoft365Connector
    from sandbox.providers import microsoft as ms

    only(monkeypatch, Microsoft365Connector, "files", page_size=3)       # 16 files (and 3 folders)
    connection = consented(api, client, "microsoft_365")
    configure(app, connection, channels=[ms.DRIVE_ID["product-docs"]])
    queue(api, connection)
    plan, files = {}, seeded("microsoft", "drive_items")

    def delete_some(stored):
        oldest_change_first = sorted(stored, key=lambda i: (files[i]["updated"], int(i)))
        plan["passed"], plan["ahead"] = set(oldest_change_first[:2]), set(oldest_change_first[-3:])
        delete_records(sandbox_server, "microsoft/drive_items", plan["passed"] | plan["ahead"])
        return plan["passed"] | plan["ahead"]

    seen = full_read_with_deletions(app, api, sandbox_server, connection, "files", delete_some, started=3,
                                    slow=slowed("microsoft", f"/microsoft/v1.0/drives/{ms.DRIVE_ID['product-docs']}/root/delta"),
                                    change_feed=True)
    passed_and_ahead(seen, plan["passed"], plan["ahead"])


def test_teams_channel_messages_next_links(app, api, client, sandbox_server, monkeypatch):
    """A channel's root messages, newest first, by keyset (ids unique per channel in Teams)."""
    from connectors.microsoft_365 import Microsoft365Connector
    from sandbox.providers import microsoft as ms

    only(monkeypatch, Microsoft365Connector, "channel_messages", page_size=2)   # 9 messages
    connection = consented(api, client, "microsoft_365")
    configure(app, connection, channels=[f"{ms.TEAM_ID['product']}/{ms.CHANNEL_ID['product/launch']}"])
    queue(api, connection)
    plan, messages = {}, seeded("microsoft", "channel_messages")

    def delete_some(stored):
        newest_first = sorted(stored, key=lambda i: (messages[i]["created"], int(i)), reverse=True)
        plan["passed"], plan["ahead"] = set(newest_first[:2]), set(newest_first[-2:])
        delete_records(sandbox_server, "microsoft/channel_messages", plan["passed"] | plan["ahead"])
        return plan["passed"] | plan["ahead"]

    seen = full_read_with_deletions(app, api, sandbox_server, connection, "channel_messages", delete_some, started=2,
                                    slow=slowed("microsoft", "/microsoft/v1.0/teams/"))
    passed_and_ahead(seen, plan["passed"], plan["ahead"])


def test_outlook_messages_delta_round_per_folder(app, api, client, workspace, sandbox_server, monkeypatch):
    """A personal mailbox's folder, a full delta round (page size by ``Prefer: odata.maxpagesize``)."""
    from connectors.outlook import OutlookConnector
    from sandbox.providers import microsoft as ms

    monkeypatch.setattr(OutlookConnector, "page_size", 2)
    connection = consented(api, client, "outlook", owner_user_id=workspace[1].id)
    configure(app, connection, channels=[ms.FOLDER_ID["projects"]])      # 9 messages
    queue(api, connection)
    plan, mail = {}, seeded("microsoft", "mail")

    def delete_some(stored):
        oldest_change_first = sorted(stored, key=lambda i: (mail[i]["updated"], int(i)))
        plan["passed"], plan["ahead"] = set(oldest_change_first[:2]), set(oldest_change_first[-2:])
        delete_records(sandbox_server, "microsoft/mail", plan["passed"] | plan["ahead"])
        return plan["passed"] | plan["ahead"]

    seen = full_read_with_deletions(app, api, sandbox_server, connection, "messages", delete_some, started=2,
                                    slow=slowed("microsoft", "/microsoft/v1.0/me/mailFolders/"), change_feed=True)
    passed_and_ahead(seen, plan["passed"], plan["ahead"])


# -- Jira and Confluence: JQL and CQL searches, read as keysets on the update minute -----------------

def atlassian_site(app, client, workspace, monkeypatch, connector, stream: str, space_or_project: str,
                   page_size: int) -> str:
    """A Jira or Confluence connection (the consent page, signed in as the sandbox's Ada) that
    syncs one stream of one project or space, workspace-wide (readers are not this test's)."""
    from tests.connectors.atlassian_walk import configure as configure_site, connect

    only(monkeypatch, connector, stream, page_size=page_size)
    connection = connect(app, client, workspace, connector.catalog.type)
    configure_site(app, connection, channels=[space_or_project], access_mode="workspace")
    return connection


def test_jira_issues_jql_next_page_tokens(app, api, client, workspace, sandbox_server, monkeypatch):
    """Jira's /search/jql pages with nextPageToken (a keyset: the old /search's startAt offsets are
    gone), and the reader asks again from the newest minute it stored after each page. Issues
    deleted ahead of the read would shift an offset listing and hide live ones: here none is
    skipped, and none lost."""
    from connectors.jira import JiraConnector

    jira = atlassian_site(app, client, workspace, monkeypatch, JiraConnector, "issues", "OPS", page_size=2)
    queue(api, jira)
    plan, issues = {}, seeded("atlassian", "issues")

    def record_id(external_id):         # issue 10011 is record 11
        return int(external_id) - 10000

    def delete_some(stored):            # ORDER BY updated ASC
        oldest_change_first = sorted(stored, key=lambda i: (issues[str(record_id(i))]["updated"], int(i)))
        plan["passed"], plan["ahead"] = set(oldest_change_first[:2]), set(oldest_change_first[-3:])
        delete_records(sandbox_server, "atlassian/issues", map(record_id, plan["passed"] | plan["ahead"]))
        return plan["passed"] | plan["ahead"]

    seen = full_read_with_deletions(app, api, sandbox_server, jira, "issues", delete_some, started=2,
                                    slow=slowed("atlassian", "/atlassian/ex/jira/"))
    passed_and_ahead(seen, plan["passed"], plan["ahead"])


def test_confluence_pages_cql_next_links(app, api, client, workspace, sandbox_server, monkeypatch):
    """CQL search pages by the ``_links.next`` cursor; the reader asks again from the newest
    minute it stored after each page."""
    from connectors.confluence import ConfluenceConnector

    confluence = atlassian_site(app, client, workspace, monkeypatch, ConfluenceConnector, "pages", "ENG", page_size=3)
    queue(api, confluence)
    plan, pages = {}, seeded("atlassian", "pages")

    def record_id(external_id):         # page 100017 is record 17
        return int(external_id) - 100000

    def delete_some(stored):            # ORDER BY lastmodified ASC
        oldest_change_first = sorted(stored, key=lambda i: (pages[str(record_id(i))]["updated"], int(i)))
        plan["passed"], plan["ahead"] = set(oldest_change_first[:2]), set(oldest_change_first[-3:])
        delete_records(sandbox_server, "atlassian/pages", map(record_id, plan["passed"] | plan["ahead"]))
        return plan["passed"] | plan["ahead"]

    seen = full_read_with_deletions(app, api, sandbox_server, confluence, "pages", delete_some, started=3,
                                    slow=slowed("atlassian", "/atlassian/ex/confluence/"))
    passed_and_ahead(seen, plan["passed"], plan["ahead"])
