"""Records deleted at the source while a full read is under way, for each wave-1 and wave-2 connector and its
pagination: no live record is lost (a record the listing did not show is confirmed by id before
it is deleted), and the next full sync leaves exactly what is still there.

Each test connects through the sandbox's consent page, syncs in full, then syncs in full again
with the provider slowed (a latency fault) and, once the read has stored its first page, deletes
records at the source: some the read has passed (stored before they went: the next read drops
them) and some ahead of it (not seen: confirmed gone and deleted by this read). Where a listing
shifts when a record it has passed goes (offsets, page numbers), the read misses as many live
records and finds them again by id at its end (``recovered``); a keyset listing recovers none.
Where the provider lists changes, deletions included (a sync token), already the next
incremental run drops what went mid-read. ``full_read_with_deletions`` (tests/sync/runs.py)
holds the walk. Pages are small and the sandbox's scale is the suite's (25): a few seconds each.
"""
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
import requests

from tests.connectors.walk import sandbox
from tests.factories import configure
from tests.oauth_helpers import consent, local_path
from tests.sync.runs import MidRead, full_read_with_deletions, queue

SCALE = 25      # the suite's sandbox (tests/conftest.py): SEED 42


def consented(api, client, connector_type: str, settings: dict | None = None, **fields) -> str:
    """A connection made through the provider's consent page in the sandbox; ``settings``: the
    connect settings it asks for (Zendesk's subdomain), sent through ``POST /v1/connectors``."""
    if settings is not None:
        started = api.post("/v1/connectors", json={"connector_type": connector_type, "settings": settings}).json
        assert client.get(local_path(consent(started["oauth_url"]))).status_code in (200, 302)
        return started["connector_id"]
    started = api.post("/api/v1/connections", json={"connector_type": connector_type, **fields}).json
    assert client.get(local_path(consent(started["authorize_url"]))).status_code in (200, 302)
    return started["connection"]["id"]


def only(monkeypatch, connector, *names, page_size: int):
    """Sync only these streams of ``connector``, ``page_size`` records a page."""
    streams = tuple(s for s in connector.catalog.streams if s.name in names)
    monkeypatch.setattr(connector, "catalog", dataclasses.replace(connector.catalog, streams=streams))
    monkeypatch.setattr(connector, "page_size", page_size)


def slowed(provider: str, path_prefix: str, latency_ms: int = 150) -> dict:
    """A latency fault on the listing, for the rest of the run."""
    return {"provider": provider, "kind": "latency", "latency_ms": latency_ms, "count": 10_000,
            "path_prefix": path_prefix}


def seeded(provider: str, collection: str) -> dict[str, dict]:
    """A kit emulation's seeded records as the suite's sandbox holds them."""
    from sandbox.kit import Collection, emulations

    return Collection(provider, collection, emulations()[provider].collections[collection], 42, SCALE).rows


def add_records(server, where: str, count: int, fields: Callable[[int], dict]) -> None:
    for n in range(count):
        sandbox(server, "POST", f"/_sandbox/collections/{where}", json=fields(n))


@dataclass
class Deletions:
    """``delete_some`` for ``full_read_with_deletions``: the read's first ``passed`` stored
    records and its last ``ahead`` (``order``: a stored id's place in the read) go from the
    emulation's collection ``where`` (``<provider>/<collection>``, ``record_id``: the
    collection's id of a stored id), or through ``remove(stored id)``. ``trash``: the fields
    that trash a record at the source; the last record ahead is trashed instead (the listing
    leaves it out, a read by id still answers it, marked)."""

    server: object
    where: str
    order: Callable[[str], object]
    record_id: Callable[[str], object] = str
    passed_count: int = 2
    ahead_count: int = 3
    trash: dict | None = None
    remove: Callable[[str], None] | None = None
    passed: set = field(default_factory=set)
    ahead: set = field(default_factory=set)

    def __call__(self, stored) -> set:
        ordered = sorted(stored, key=self.order)
        self.passed, self.ahead = set(ordered[:self.passed_count]), set(ordered[-self.ahead_count:])
        # those ahead first: the read must not reach them before they go
        for external_id in ordered[-self.ahead_count:] + ordered[:self.passed_count]:
            path = f"/_sandbox/collections/{self.where}/{self.record_id(external_id)}"
            if self.remove is not None:
                self.remove(external_id)
            elif self.trash and external_id == ordered[-1]:
                sandbox(self.server, "PATCH", path, json=self.trash)
            else:
                sandbox(self.server, "DELETE", path)
        return self.passed | self.ahead

    def check(self, seen: MidRead, *, shifts: bool = False) -> None:
        """The records the read had passed were stored before they went, those ahead of it
        were not seen and, confirmed gone, deleted by this read. ``shifts``: the listing moves
        up by as many records as it had passed and went, hiding as many live ones, which the
        read finds again by id; a keyset listing recovers none."""
        assert seen.after == seen.before - self.ahead and self.passed <= seen.after
        assert seen.count("deleted") == len(self.ahead)
        assert seen.count("recovered") == (len(self.passed) if shifts else 0)


# -- Slack: conversations.history (cursor pages) and files.list (page numbers), newest first -----

def slack_channel(api, client, app, monkeypatch, stream: str, page_size: int) -> str:
    from connectors.slack import SlackConnector

    only(monkeypatch, SlackConnector, stream, page_size=page_size)
    slack = consented(api, client, "slack")
    configure(app, slack, channels=["C0GENERAL1"])      # 5 of the seeded 25 messages, and of the files
    return slack


def test_slack_messages_cursor_pages(app, api, client, sandbox_server, monkeypatch):
    """History pages by an opaque cursor, newest first; a message's ts is unique in its channel
    only (``C0GENERAL1:<ts>``; the sandbox's ts is ``<created>.<collection id>``)."""
    slack = slack_channel(api, client, app, monkeypatch, "messages", page_size=5)
    add_records(sandbox_server, "slack/messages", 15, lambda n: {
        "channel": "C0GENERAL1", "user": 1 + n % 4, "text": f"Standup note {n}", "kind": "user"})     # 4 pages
    queue(api, slack)
    ts = lambda external_id: tuple(map(int, external_id.partition(":")[2].split(".")))  # noqa: E731
    deletions = Deletions(sandbox_server, "slack/messages", order=lambda i: tuple(-n for n in ts(i)),
                          record_id=lambda i: ts(i)[1])
    seen = full_read_with_deletions(app, api, sandbox_server, slack, "messages", deletions,
                                    slow=slowed("slack", "/slack/api/conversations.history"))
    deletions.check(seen)


def test_slack_files_page_numbers(app, api, client, sandbox_server, monkeypatch):
    slack = slack_channel(api, client, app, monkeypatch, "files", page_size=4)
    add_records(sandbox_server, "slack/files", 12, lambda n: {
        "channel": "C0GENERAL1", "user": 1 + n % 4, "kind": "txt", "topic": "launch", "lines": 3})  # 5 pages
    queue(api, slack)
    number = lambda external_id: int(external_id.rpartition(":F")[2])  # noqa: E731   C0GENERAL1:F000000017
    # newest first: the files added above (created now), then the seeded ones (created in id order)
    deletions = Deletions(sandbox_server, "slack/files", order=lambda i: -number(i), record_id=number, ahead_count=2)
    seen = full_read_with_deletions(app, api, sandbox_server, slack, "files", deletions, started=4,
                                    slow=slowed("slack", "/slack/api/files.list"))
    deletions.check(seen, shifts=True)


# -- Notion: POST /v1/search, newest edit first, start_cursor pages ---------------------------------

@pytest.mark.slow       # 3-6 s: every page's blocks are read, in three runs
def test_notion_pages_search_cursor(app, api, client, sandbox_server, monkeypatch):
    """Search lists pages and database rows (50; the pages stream keeps the 25 pages). A trashed
    page leaves search; read by id it says ``in_trash``."""
    from connectors.notion import NotionConnector

    only(monkeypatch, NotionConnector, "pages", page_size=5)
    notion = consented(api, client, "notion")
    configure(app, notion, requests_per_minute=0)   # Notion's 3 a second would make this a minute's walk
    queue(api, notion)
    pages = seeded("notion", "pages")
    number = lambda external_id: int(external_id.rpartition("-")[2], 16)  # noqa: E731   a UUID ending in it
    # newest last_edited_time first (the sandbox sorts by the second under Notion's minute)
    deletions = Deletions(sandbox_server, "notion/pages", record_id=number, trash={"in_trash": True},
                          order=lambda i: (-pages[str(number(i))]["updated"], -number(i)))
    seen = full_read_with_deletions(app, api, sandbox_server, notion, "pages", deletions,
                                    slow=slowed("notion", "/notion/v1/search"))
    deletions.check(seen)


def test_notion_database_entries_query_cursor(app, api, client, sandbox_server, monkeypatch):
    """The Roadmap data source's 13 rows, queried newest edit first, ``start_cursor`` pages (a
    keyset: nothing shifts). A trashed row leaves the query; read by id it says ``in_trash``."""
    from connectors.notion import NotionConnector
    from sandbox.providers.notion import nid

    only(monkeypatch, NotionConnector, "database_entries", page_size=3)
    notion = consented(api, client, "notion")
    source = nid("data_source", 1)
    configure(app, notion, channels=[source], requests_per_minute=0)
    queue(api, notion)
    rows = seeded("notion", "pages")
    number = lambda external_id: int(external_id.rpartition("-")[2], 16)  # noqa: E731   a UUID ending in it
    deletions = Deletions(sandbox_server, "notion/pages", record_id=number, trash={"in_trash": True},
                          order=lambda i: (-rows[str(number(i))]["updated"], -number(i)))
    seen = full_read_with_deletions(app, api, sandbox_server, notion, "database_entries", deletions, started=3,
                                    slow=slowed("notion", f"/notion/v1/data_sources/{source}/query"))
    assert len(seen.before) == sum(r.get("source") == "1" for r in rows.values())
    deletions.check(seen)


# -- Google Workspace and Gmail: page tokens; the change feeds' tokens -------------------------------

def test_google_drive_files_page_tokens(app, api, client, sandbox_server, monkeypatch):
    """files.list by id (folders first), pageToken pages; Drive's changes token is taken before
    the listing. A trashed file leaves the listing; files.get answers it ``trashed``."""
    from connectors.google_workspace import GoogleWorkspaceConnector

    only(monkeypatch, GoogleWorkspaceConnector, "files", page_size=5)
    google = consented(api, client, "google_workspace")
    queue(api, google)
    deletions = Deletions(sandbox_server, "google_drive/files", order=str, record_id=lambda i: int(i[5:]),
                          trash={"trashed": True})       # 1SbxF000017 is file 17
    seen = full_read_with_deletions(app, api, sandbox_server, google, "files", deletions, change_feed=True,
                                    slow=slowed("google_drive", "/google/drive/v3/files", latency_ms=30))
    deletions.check(seen)


def test_google_calendar_events_per_calendar(app, api, client, sandbox_server, monkeypatch):
    """A calendar's events by id, pageToken pages; nextSyncToken on the last page."""
    from connectors.google_workspace import GoogleWorkspaceConnector

    only(monkeypatch, GoogleWorkspaceConnector, "events", page_size=4)
    google = consented(api, client, "google_workspace")
    me = "sandbox.user@example.com"
    configure(app, google, channels=[me])
    add_records(sandbox_server, "google_calendar/events", 12, lambda n: {
        "calendar": me, "summary": f"Planning {n}", "organizer": me, "attendees": [], "start": 1750000000})
    queue(api, google)
    number = lambda external_id: int(external_id[3:])  # noqa: E731   evt000017 is event 17
    deletions = Deletions(sandbox_server, "google_calendar/events", order=number, record_id=number)
    seen = full_read_with_deletions(app, api, sandbox_server, google, "events", deletions, started=4, change_feed=True,
                                    slow=slowed("google_calendar", "/google/calendar/v3/calendars"))
    deletions.check(seen)


def test_gmail_threads_offset_page_tokens(app, api, client, workspace, sandbox_server, monkeypatch):
    """Threads newest first; the emulation's page tokens stand for offsets (Gmail documents them
    as opaque), so threads deleted behind the read shift the listing."""
    from connectors.gmail import GmailConnector
    from tests.connectors.test_gmail_sync import threads

    monkeypatch.setattr(GmailConnector, "page_size", 3)
    ws, user = workspace
    with client.session_transaction() as session:
        session["user_id"], session["workspace_id"] = user.id, ws.id
    gmail = consented(api, client, "gmail", owner_user_id=user.id)
    queue(api, gmail)
    mailbox = threads(sandbox_server)        # thread -> its messages, newest thread first
    newest_first = list(mailbox)

    def remove(thread):
        for message_id in mailbox[thread]:
            sandbox(sandbox_server, "DELETE", f"/_sandbox/google/messages/{message_id}")
    deletions = Deletions(sandbox_server, "", order=newest_first.index, remove=remove, ahead_count=2)
    seen = full_read_with_deletions(app, api, sandbox_server, gmail, "threads", deletions, started=3, change_feed=True,
                                    slow=slowed("google", "/google/gmail/v1/users/me/threads"))
    assert set(newest_first) == seen.before
    deletions.check(seen, shifts=True)


# -- Microsoft 365 and Outlook: Graph collections, @odata.nextLink pages ----------------------------

@pytest.mark.slow       # 2-7 s: every file's content and permissions are read, in four runs
def test_onedrive_files_delta_round_next_links(app, api, client, sandbox_server, monkeypatch):
    """A full delta round of the Documents library (16 files after 3 folders), oldest change
    first by keyset; the next round's token covers the round from its first page."""
    from connectors.microsoft_365 import Microsoft365Connector
    from sandbox.providers import microsoft as ms

    only(monkeypatch, Microsoft365Connector, "files", page_size=3)
    connection = consented(api, client, "microsoft_365")
    drive = ms.DRIVE_ID["product-docs"]
    configure(app, connection, channels=[drive])
    queue(api, connection)
    files = seeded("microsoft", "drive_items")
    deletions = Deletions(sandbox_server, "microsoft/drive_items", order=lambda i: (files[i]["updated"], int(i)))
    listing = f"/microsoft/v1.0/drives/{drive}/root/delta"
    seen = full_read_with_deletions(app, api, sandbox_server, connection, "files", deletions, started=3,
                                    change_feed=True, slow=slowed("microsoft", listing))
    deletions.check(seen)


def test_teams_channel_messages_next_links(app, api, client, sandbox_server, monkeypatch):
    """A channel's root messages (9 in Launch plans), newest first by keyset. A message deleted for
    good leaves no trace in Graph's delta: full reads alone find it gone (no change feed here)."""
    from connectors.microsoft_365 import Microsoft365Connector
    from sandbox.providers import microsoft as ms

    only(monkeypatch, Microsoft365Connector, "channel_messages", page_size=2)
    connection = consented(api, client, "microsoft_365")
    configure(app, connection, channels=[f"{ms.TEAM_ID['product']}/{ms.CHANNEL_ID['product/launch']}"])
    queue(api, connection)
    messages = seeded("microsoft", "channel_messages")
    deletions = Deletions(sandbox_server, "microsoft/channel_messages", ahead_count=2,
                          order=lambda i: (-messages[i]["created"], -int(i)))
    seen = full_read_with_deletions(app, api, sandbox_server, connection, "channel_messages", deletions, started=2,
                                    slow=slowed("microsoft", "/microsoft/v1.0/teams/"))
    deletions.check(seen)


def test_outlook_messages_delta_round_per_folder(app, api, client, workspace, sandbox_server, monkeypatch):
    """A personal mailbox's Projects folder (9 messages), a full delta round sized by
    ``Prefer: odata.maxpagesize``, oldest change first."""
    from connectors.outlook import OutlookConnector
    from sandbox.providers import microsoft as ms

    monkeypatch.setattr(OutlookConnector, "page_size", 2)
    connection = consented(api, client, "outlook", owner_user_id=workspace[1].id)
    configure(app, connection, channels=[ms.FOLDER_ID["projects"]])
    queue(api, connection)
    mail = seeded("microsoft", "mail")
    deletions = Deletions(sandbox_server, "microsoft/mail", order=lambda i: (mail[i]["updated"], int(i)), ahead_count=2)
    seen = full_read_with_deletions(app, api, sandbox_server, connection, "messages", deletions, started=2,
                                    change_feed=True, slow=slowed("microsoft", "/microsoft/v1.0/me/mailFolders/"))
    deletions.check(seen)


# -- Jira and Confluence: JQL and CQL searches, read as keysets on the update minute -----------------

def atlassian_site(app, client, workspace, monkeypatch, connector, stream: str, space_or_project: str,
                   page_size: int) -> str:
    """A Jira or Confluence connection (the consent page, signed in as the sandbox's Ada) that
    syncs one stream of one project or space, workspace-wide (readers are not these tests')."""
    from tests.connectors.atlassian_walk import configure as configure_site, connect

    only(monkeypatch, connector, stream, page_size=page_size)
    connection = connect(app, client, workspace, connector.catalog.type)
    configure_site(app, connection, channels=[space_or_project], access_mode="workspace")
    return connection


def test_jira_issues_jql_next_page_tokens(app, api, client, workspace, sandbox_server, monkeypatch):
    """OPS's 8 issues. Jira's /search/jql pages with nextPageToken, a keyset (the startAt offsets
    of the old /search are gone), and the reader asks again from the newest minute it stored
    after each page (``updated >= ... ORDER BY updated ASC``): issues deleted behind or ahead of
    the read shift nothing, so no live issue is skipped (``recovered`` would count it)."""
    from connectors.jira import JiraConnector

    jira = atlassian_site(app, client, workspace, monkeypatch, JiraConnector, "issues", "OPS", page_size=2)
    queue(api, jira)
    issues = seeded("atlassian", "issues")
    number = lambda external_id: int(external_id) - 10000  # noqa: E731   issue 10011 is record 11
    deletions = Deletions(sandbox_server, "atlassian/issues", record_id=number,
                          order=lambda i: (issues[str(number(i))]["updated"], int(i)))
    seen = full_read_with_deletions(app, api, sandbox_server, jira, "issues", deletions, started=2,
                                    slow=slowed("atlassian", "/atlassian/ex/jira/"))
    deletions.check(seen)


def test_jira_sprints_start_at_offsets_per_board(app, api, client, workspace, sandbox_server, monkeypatch):
    """OPS's board's 8 sprints, ``startAt``/``maxResults`` pages (Jira's agile API has no other):
    when sprints the read has passed go, the listing shifts left and hides as many live ones,
    which the read finds again by ``GET /sprint/{id}`` at its end (``recovered``)."""
    from connectors.jira import JiraConnector
    from sandbox.providers.atlassian import SITE_ID

    jira = atlassian_site(app, client, workspace, monkeypatch, JiraConnector, "sprints", "OPS", page_size=2)
    queue(api, jira)
    deletions = Deletions(sandbox_server, "atlassian/sprints", order=int)
    # OPS's board's pages, slow enough that the next one is asked for after all five deletions
    listing = f"/atlassian/ex/jira/{SITE_ID}/rest/agile/1.0/board/2/sprint"
    seen = full_read_with_deletions(app, api, sandbox_server, jira, "sprints", deletions, started=2,
                                    slow=slowed("atlassian", listing, latency_ms=600))
    assert len(seen.before) == 8
    deletions.check(seen, shifts=True)


def test_confluence_pages_cql_next_links(app, api, client, workspace, sandbox_server, monkeypatch):
    """ENG's 13 pages. CQL search pages by the ``_links.next`` cursor, read again from the newest
    minute stored after each page. A trashed page leaves CQL; read by id its status says so."""
    from connectors.confluence import ConfluenceConnector

    confluence = atlassian_site(app, client, workspace, monkeypatch, ConfluenceConnector, "pages", "ENG", page_size=3)
    queue(api, confluence)
    pages = seeded("atlassian", "pages")
    number = lambda external_id: int(external_id) - 100000  # noqa: E731   page 100017 is record 17
    deletions = Deletions(sandbox_server, "atlassian/pages", record_id=number, trash={"status": "trashed"},
                          order=lambda i: (pages[str(number(i))]["updated"], int(i)))
    seen = full_read_with_deletions(app, api, sandbox_server, confluence, "pages", deletions, started=3,
                                    slow=slowed("atlassian", "/atlassian/ex/confluence/"))
    deletions.check(seen)


def test_confluence_comments_cql_next_links(app, api, client, workspace, sandbox_server, monkeypatch):
    """ENG's footer comments, by the CQL search's ``_links.next`` cursor (a keyset on the last
    change), read again from the newest minute stored after each page; those ahead of the read
    are confirmed gone by ``GET /wiki/api/v2/footer-comments/{id}`` (404)."""
    from connectors.confluence import ConfluenceConnector
    from sandbox.providers.atlassian import SITE_ID

    confluence = atlassian_site(app, client, workspace, monkeypatch, ConfluenceConnector, "comments", "ENG",
                                page_size=2)
    queue(api, confluence)
    token = sandbox(sandbox_server, "POST", "/_sandbox/tokens", json={"provider": "atlassian", "scope": "search:confluence"})
    cql = urlencode({"cql": 'type = comment AND space = "ENG" ORDER BY lastmodified ASC', "limit": 200})
    order = listed_order(sandbox_server, f"/atlassian/ex/confluence/{SITE_ID}/wiki/rest/api/content/search?{cql}",
                         headers={"Authorization": f"Bearer {token['access_token']}"},
                         ids=lambda body: [r["id"] for r in body["results"] if r["extensions"]["location"] == "footer"])
    number = lambda external_id: int(external_id) - 200000  # noqa: E731   comment 200007 is record 7
    deletions = Deletions(sandbox_server, "atlassian/comments", record_id=number, order=order.get)
    seen = full_read_with_deletions(app, api, sandbox_server, confluence, "comments", deletions, started=2,
                                    slow=slowed("atlassian", "/atlassian/ex/confluence/"))
    assert seen.before == set(order) and len(order) >= 8
    deletions.check(seen)


# -- Wave 2: Linear (GraphQL, Relay cursors), GitLab (updated_after), Discord (after=<snowflake>) ------

def listed_order(server, path: str, *, json=None, headers=None, ids) -> dict[str, int]:
    """A stored id -> its place in the provider's own listing (``ids`` reads them off the answer)."""
    method = "POST" if json is not None else "GET"
    answer = requests.request(method, f"{server.url}{path}", json=json, headers=headers, timeout=10).json()
    return {external_id: place for place, external_id in enumerate(ids(answer))}


def test_linear_issues_relay_cursor_newest_first(app, api, client, sandbox_server, monkeypatch):
    """ENG's 25 issues, newest change first (``orderBy: updatedAt``), Relay cursors that name the
    last record handed out: nothing shifts. An issue deleted goes to Linear's trash: read by id it
    says ``trashed``, so those ahead of the read are confirmed gone."""
    from connectors.linear import QUERIES, LinearConnector
    from sandbox.providers.linear import lid, number_of

    only(monkeypatch, LinearConnector, "issues", page_size=5)
    linear = consented(api, client, "linear")
    team = lid("team", 1)
    configure(app, linear, channels=[team])
    queue(api, linear)
    token = sandbox(sandbox_server, "POST", "/_sandbox/tokens", json={"provider": "linear", "scope": "read"})
    order = listed_order(sandbox_server, "/linear/graphql", headers={"Authorization": f"Bearer {token['access_token']}"},
                         json={"query": QUERIES["Issues"], "variables": {"team": team, "first": 250, "filter": {}}},
                         ids=lambda body: [n["id"] for n in body["data"]["team"]["issues"]["nodes"]])
    deletions = Deletions(sandbox_server, "linear/issues", order=order.get, record_id=lambda i: number_of("issue", i))
    seen = full_read_with_deletions(app, api, sandbox_server, linear, "issues", deletions,
                                    slow=slowed("linear", "/linear/graphql"))
    deletions.check(seen)


def test_gitlab_issues_updated_after_keyset(app, api, client, sandbox_server, monkeypatch):
    """acme/api's 25 issues, oldest change first; offset pages with a Link header, but the reader
    asks again from the newest ``updated_at`` it stored after each page (``updated_after``):
    issues deleted behind it shift nothing; those ahead are confirmed gone by a 404."""
    from connectors.gitlab import GitLabConnector

    only(monkeypatch, GitLabConnector, "issues", page_size=5)
    gitlab = consented(api, client, "gitlab")
    configure(app, gitlab, channels=["1"])
    queue(api, gitlab)
    token = sandbox(sandbox_server, "POST", "/_sandbox/tokens", json={"provider": "gitlab", "scope": "read_api"})
    order = listed_order(sandbox_server, "/gitlab/api/v4/projects/1/issues?order_by=updated_at&sort=asc&per_page=100",
                         headers={"Authorization": f"Bearer {token['access_token']}"},
                         ids=lambda body: [f"1:{issue['iid']}" for issue in body])
    iid = lambda external_id: int(external_id.partition(":")[2])  # noqa: E731   1:<iid>; acme/api's #n is record 3n-2
    deletions = Deletions(sandbox_server, "gitlab/issues", order=order.get, record_id=lambda i: 3 * iid(i) - 2)
    seen = full_read_with_deletions(app, api, sandbox_server, gitlab, "issues", deletions,
                                    slow=slowed("gitlab", "/gitlab/api/v4/projects/1/issues", latency_ms=40))
    deletions.check(seen)


def test_discord_messages_after_snowflake(app, api, client, sandbox_server, monkeypatch):
    """#general's 24 messages (and a member join), read oldest first by ``after=<the newest id
    read>``: messages deleted behind the read shift nothing; those ahead are confirmed gone by
    ``GET .../messages/{id}`` (404 Unknown Message)."""
    from connectors.discord import DiscordConnector

    only(monkeypatch, DiscordConnector, "messages", page_size=5)
    discord = api.post("/api/v1/connections", json={"connector_type": "discord",
                                                    "api_key": "sandbox-discord-bot-token"}).json["connection"]["id"]
    configure(app, discord, channels=["1100000000000000101"])
    queue(api, discord)
    # A snowflake's low 22 bits are the sandbox's record number.
    deletions = Deletions(sandbox_server, "discord/messages", order=int, record_id=lambda i: int(i) & 0x3FFFFF)
    seen = full_read_with_deletions(app, api, sandbox_server, discord, "messages", deletions,
                                    slow=slowed("discord", "/discord/api/v10/channels/"))
    deletions.check(seen)
# -- HubSpot, Salesforce, Zendesk: keysets on the last change; Zendesk's export reports deletions ----

def test_hubspot_contacts_search_re_anchored(app, api, client, sandbox_server, monkeypatch):
    """The 25 contacts by hs_lastmodifieddate ascending, 5 a search page, each page asked again
    from the newest change stored: a keyset. An archived contact answers 404 by id; the next
    incremental lists the archived since its cursor."""
    from connectors.hubspot import HubSpotConnector

    only(monkeypatch, HubSpotConnector, "contacts", page_size=5)
    hubspot = consented(api, client, "hubspot")
    configure(app, hubspot, requests_per_minute=0)
    queue(api, hubspot)
    contacts = seeded("hubspot", "contacts")
    deletions = Deletions(sandbox_server, "hubspot/contacts", order=lambda i: (contacts[i]["updated"], int(i)))
    seen = full_read_with_deletions(app, api, sandbox_server, hubspot, "contacts", deletions, change_feed=True,
                                    slow=slowed("hubspot", "/hubspot/crm/v3/objects/contacts/search"))
    deletions.check(seen)


def test_salesforce_contacts_soql_query_more(app, api, client, sandbox_server, monkeypatch):
    """The 25 contacts by SystemModstamp, 5 a batch joined by queryMore (the batch size lowered
    for the test); a stopped read queries again from its cursor. A deleted contact is not
    answered by ``WHERE Id IN (...)``; getDeleted lists it for the next incremental."""
    from connectors.salesforce import SalesforceConnector
    from sandbox.providers import salesforce as emulation
    from sandbox.providers.salesforce import number_of

    monkeypatch.setattr(emulation, "MIN_BATCH", 1)
    only(monkeypatch, SalesforceConnector, "contacts", page_size=5)
    salesforce = consented(api, client, "salesforce")
    queue(api, salesforce)
    contacts = seeded("salesforce", "Contact")
    deletions = Deletions(sandbox_server, "salesforce/Contact", record_id=number_of,
                          order=lambda i: (contacts[number_of(i)]["updated"], i))
    seen = full_read_with_deletions(app, api, sandbox_server, salesforce, "contacts", deletions, change_feed=True,
                                    slow=slowed("salesforce", "/salesforce/services/data/v62.0/query"))
    deletions.check(seen)


def test_zendesk_tickets_cursor_export(app, api, client, sandbox_server, monkeypatch):
    """The 25 tickets by the export's cursor (last change, id), 5 a page. A deleted ticket moves
    to the export's end as ``status: "deleted"``: the same read deletes those it had passed
    too, and those ahead of it never show up live."""
    from connectors.zendesk import ZendeskConnector

    only(monkeypatch, ZendeskConnector, "tickets", page_size=5)
    zendesk = consented(api, client, "zendesk", settings={"subdomain": "acme-sandbox"})
    queue(api, zendesk)
    tickets = seeded("zendesk", "tickets")
    deletions = Deletions(sandbox_server, "zendesk/tickets", order=lambda i: (tickets[i]["updated"], int(i)))

    def delete_some(stored):            # and a minute on: the export holds back the last minute's changes
        gone = deletions(stored)
        sandbox(sandbox_server, "POST", "/_sandbox/clock", json={"advance_seconds": 61})
        return gone
    seen = full_read_with_deletions(app, api, sandbox_server, zendesk, "tickets", delete_some, change_feed=True,
                                    slow=slowed("zendesk", "/zendesk/acme-sandbox/api/v2/incremental/tickets/cursor.json"))
    assert seen.after == seen.before - deletions.passed - deletions.ahead
