"""The descriptions of the wave-1 providers work: a body written after each provider's own
documented example conforms (conform.validate() answers []), and the same body with one
mistake a connector or an emulation could make does not (the check can fail).

The bodies follow the examples on each endpoint's reference page (api.slack.com/methods,
developers.notion.com/reference, learn.microsoft.com/graph/api, developer.atlassian.com,
developers.google.com), adjusted where the pinned description is newer than the page's example
(Notion's 2025-09-03 pages and blocks carry in_trash, is_archived, is_locked and public_url;
its search answers "page_or_data_source"). No sandbox is needed: these are plain bodies.
"""
from __future__ import annotations

import copy

import pytest

from .conform import validate
from .descriptions import MissingDescription, schema

USER = "ee5f0f84-409a-440f-983a-a5315961c6e4"
PAGE = "59833787-2cf9-4fdf-8782-e53db20768a5"


# -- Slack -------------------------------------------------------------------------------------

def slack_channel(cid, name, *, private=False):
    return {"id": cid, "name": name, "is_channel": not private, "is_group": private, "is_im": False,
            "is_mpim": False, "is_private": private, "created": 1449252889, "is_archived": False,
            "is_general": name == "general", "unlinked": 0, "name_normalized": name,
            "is_shared": False, "is_org_shared": False, "is_pending_ext_shared": False,
            "pending_shared": [], "context_team_id": "T012AB3C4", "updated": 1678229664302,
            "creator": "U012A3CDE", "is_ext_shared": False,
            "shared_team_ids": ["T012AB3C4"], "pending_connected_team_ids": [],
            "is_member": True,
            "topic": {"value": "Company-wide announcements and work-based matters", "creator": "",
                      "last_set": 0},
            "purpose": {"value": "This channel is for team-wide communication and announcements.",
                        "creator": "", "last_set": 0},
            "previous_names": [], "num_members": 4}


SLACK_CONVERSATIONS_LIST = {
    "ok": True,
    "channels": [slack_channel("C012AB3CD", "general"), slack_channel("C061EG9T2", "random"),
                 slack_channel("G0AKFJBEU", "product-secrets", private=True)],
    "response_metadata": {"next_cursor": "dGVhbTpDMDYxRkE1UEI="},
}

SLACK_CONVERSATIONS_HISTORY = {
    "ok": True,
    "messages": [
        {"type": "message", "user": "U012AB3CDE",
         "text": "I find you punny and would like to smell your nose letter",
         "ts": "1512085950.000216", "client_msg_id": "5f2a0ad8-3b53-4e24-a3b4-3d0b1fa6cb6e",
         "team": "T012AB3C4", "thread_ts": "1512085950.000216", "reply_count": 1,
         "reply_users_count": 1, "latest_reply": "1512104434.000490", "reply_users": ["U061F7AUR"],
         "is_locked": False, "subscribed": False,
         "blocks": [{"type": "rich_text", "block_id": "Xa1", "elements": [
             {"type": "rich_text_section", "elements": [
                 {"type": "text", "text": "I find you punny and would like to smell your nose letter"}]}]}]},
        {"type": "message", "subtype": "channel_join", "user": "U061F7AUR",
         "text": "<@U061F7AUR> has joined the channel", "ts": "1512104434.000490"},
        {"type": "message", "user": "U061F7AUR", "text": "What, you want to smell my shoes better?",
         "ts": "1512104434.000490", "edited": {"user": "U061F7AUR", "ts": "1512104440.000000"},
         "reactions": [{"name": "laughing", "users": ["U012AB3CDE"], "count": 1}],
         "files": [{"id": "F0S43PZDF", "created": 1531763342, "timestamp": 1531763342,
                    "name": "tedair.gif", "title": "tedair.gif", "mimetype": "image/gif",
                    "filetype": "gif", "user": "U061F7AUR", "size": 137531, "mode": "hosted",
                    "is_external": False, "is_public": True, "public_url_shared": False,
                    "url_private": "https://files.slack.com/files-pri/T0NH6-F0S43PZDF/tedair.gif",
                    "permalink": "https://example.slack.com/files/U061F7AUR/F0S43PZDF/tedair.gif"}]},
    ],
    "has_more": True,
    "pin_count": 0,
    "response_metadata": {"next_cursor": "bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz"},
}


# -- Notion (API version 2025-09-03, @notionhq/client 5.x) -------------------------------------

def notion_user(uid=USER):
    return {"object": "user", "id": uid}


def rich_text(content):
    return {"type": "text", "text": {"content": content, "link": None},
            "annotations": {"bold": False, "italic": False, "strikethrough": False,
                            "underline": False, "code": False, "color": "default"},
            "plain_text": content, "href": None}


def notion_block(bid, kind, content, **extra):
    return {"object": "block", "id": bid, "parent": {"type": "page_id", "page_id": PAGE},
            "created_time": "2022-03-01T19:05:00.000Z", "last_edited_time": "2022-07-06T19:41:00.000Z",
            "created_by": notion_user(), "last_edited_by": notion_user(), "has_children": False,
            "archived": False, "in_trash": False, "type": kind,
            kind: {"rich_text": [rich_text(content)], "color": "default", **extra}}


NOTION_PAGE = {
    "object": "page", "id": PAGE, "created_time": "2022-03-01T19:05:00.000Z",
    "last_edited_time": "2022-07-06T20:25:00.000Z", "created_by": notion_user(),
    "last_edited_by": notion_user(), "cover": None, "icon": {"type": "emoji", "emoji": "🥬"},
    "parent": {"type": "data_source_id", "data_source_id": "d9824bdc-8445-4327-be8b-5b47500af6ce",
               "database_id": "668d797c-76fa-4934-9b05-ad288df2d136"},
    "archived": False, "in_trash": False, "is_archived": False, "is_locked": False,
    "properties": {"Name": {"id": "title", "type": "title", "title": [rich_text("Tuscan kale")]}},
    "url": "https://www.notion.so/Tuscan-kale-598337872cf94fdf8782e53db20768a5", "public_url": None,
}

NOTION_SEARCH = {"object": "list", "results": [NOTION_PAGE], "next_cursor": None, "has_more": False,
                 "type": "page_or_data_source", "page_or_data_source": {}}

NOTION_BLOCK_CHILDREN = {
    "object": "list",
    "results": [
        notion_block("c02fc1d3-db8b-45c5-a222-27595b15aea7", "heading_2", "Lacinato kale",
                     is_toggleable=False),
        notion_block("acc7eb06-05cd-4603-a384-5e1e4f1f4e72", "paragraph",
                     "Lacinato kale is a variety of kale with a long tradition in Italian cuisine.",
                     icon=None),
        notion_block("2a6a4e3b-c4a4-4e5f-9c19-8d2b4e0a9f11", "to_do", "Buy seeds", checked=True),
    ],
    "next_cursor": None, "has_more": False, "type": "block", "block": {},
}


# -- Microsoft Graph v1.0 -----------------------------------------------------------------------

def address(name, email):
    return {"emailAddress": {"name": name, "address": email}}


GRAPH_MESSAGE = {
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('bb8775a4')/messages/$entity",
    "@odata.etag": 'W/"CQAAABYAAAC4ofQHEIqCSbQPot83AFcbAAAw+kz0"',
    "id": "AAMkAGI1AAAoZCfHAAA=", "createdDateTime": "2017-08-30T07:06:33Z",
    "lastModifiedDateTime": "2017-08-30T07:06:36Z", "changeKey": "CQAAABYAAAC4ofQHEIqCSbQPot83AFcbAAAw+kz0",
    "categories": [], "receivedDateTime": "2017-08-30T07:06:34Z", "sentDateTime": "2017-08-30T07:06:33Z",
    "hasAttachments": False, "internetMessageId": "<MWHPR130MB1501@MWHPR130MB1501.namprd13.prod.outlook.com>",
    "subject": "Get set up with your new Office 365", "bodyPreview": "Welcome to Office 365.",
    "importance": "normal", "parentFolderId": "AAMkAGI1AAAAAAEMAAA=",
    "conversationId": "AAQkAGI1ABA9p9_t9Jz7Q5nzWgHnZZBc=", "conversationIndex": "AdPaCh0d",
    "isDeliveryReceiptRequested": False, "isReadReceiptRequested": False, "isRead": False,
    "isDraft": False, "webLink": "https://outlook.office365.com/owa/?ItemID=AAMkAGI1AAAoZCfHAAA%3D",
    "inferenceClassification": "focused",
    "body": {"contentType": "html", "content": "<html><body>Welcome</body></html>"},
    "sender": address("Microsoft 365", "o365@contoso.com"),
    "from": address("Microsoft 365", "o365@contoso.com"),
    "toRecipients": [address("Adele Vance", "AdeleV@contoso.onmicrosoft.com")],
    "ccRecipients": [], "bccRecipients": [], "replyTo": [], "flag": {"flagStatus": "notFlagged"},
}

GRAPH_DRIVE_DELTA = {      # a middle page, then the last one (with the link for the next round)
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(driveItem)",
    "value": [
        {"id": "0123456789abc", "name": "folder2", "folder": {"childCount": 1},
         "parentReference": {"driveId": "b!a1b2", "driveType": "business", "id": "01ROOT",
                             "path": "/drive/root:"},
         "lastModifiedDateTime": "2024-05-01T10:00:00Z", "eTag": '"{0123},2"'},
        {"@odata.type": "#microsoft.graph.driveItem", "id": "123010204abac", "name": "file.txt",
         "size": 42, "file": {"mimeType": "text/plain", "hashes": {"quickXorHash": "AAAAAAAAAAAAAAA="}},
         "parentReference": {"driveId": "b!a1b2", "id": "0123456789abc", "path": "/drive/root:/folder2"},
         "createdBy": {"user": {"id": "efee1b77", "displayName": "Megan Bowen"}},
         "@microsoft.graph.downloadUrl": "https://contoso.sharepoint.com/download.aspx?UniqueId=1230",
         "lastModifiedDateTime": "2024-05-01T10:00:00Z", "webUrl": "https://contoso.sharepoint.com/file.txt"},
        {"id": "2353010204ddgg", "name": "file5.txt", "deleted": {"state": "deleted"}},
    ],
    "@odata.nextLink": "https://graph.microsoft.com/v1.0/me/drive/root/delta?token=1230919asd190410jlka",
}
GRAPH_DRIVE_DELTA_LAST = {
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(driveItem)",
    "value": [],
    "@odata.deltaLink": "https://graph.microsoft.com/v1.0/me/drive/root/delta?token=1230919asd190410jlkb",
}


# -- Jira Cloud (REST v3) and Confluence Cloud ---------------------------------------------------

JIRA_SEARCH = {
    "issues": [{
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": "10002", "key": "ED-1", "self": "https://your-domain.atlassian.net/rest/api/3/issue/10002",
        "fields": {"summary": "Main order flow broken", "updated": "2024-05-02T10:31:57.512+0000",
                   "status": {"name": "In Progress", "id": "3"},
                   "project": {"id": "10000", "key": "ED", "name": "Edison"}},
    }],
    "nextPageToken": "CAEaAggD",
    "isLast": False,
}

CONFLUENCE_CONTENT_SEARCH = {      # GET /wiki/rest/api/content/search?cql=lastmodified>=...
    "results": [{
        "id": "393217", "type": "page", "status": "current", "title": "Team home",
        "space": {"id": 98305, "key": "ENG", "name": "Engineering", "type": "global", "status": "current",
                  "_links": {"webui": "/spaces/ENG",
                             "self": "https://your-domain.atlassian.net/wiki/rest/api/space/ENG"},
                  "_expandable": {"homepage": "/rest/api/content/393217"}},
        "version": {"number": 7, "when": "2024-05-02T10:31:57.512Z", "minorEdit": False,
                    "by": {"type": "known", "accountId": "5b10a2844c20165700ede21g",
                           "displayName": "Mia Krystof"}},
        "body": {"storage": {"value": "<h1>Welcome</h1><p>Our team page.</p>", "representation": "storage"}},
        "_expandable": {"children": "/rest/api/content/393217/child",
                        "history": "/rest/api/content/393217/history"},
        "_links": {"webui": "/spaces/ENG/pages/393217/Team+home",
                   "self": "https://your-domain.atlassian.net/wiki/rest/api/content/393217"},
    }],
    "start": 0, "limit": 25, "size": 1,
    "_links": {"base": "https://your-domain.atlassian.net/wiki", "context": "/wiki",
               "next": "/rest/api/content/search?cql=lastmodified%3E%3D%222024-05-01%22&cursor=raNDoMsTRiNg",
               "self": "https://your-domain.atlassian.net/wiki/rest/api/content/search"},
}

CONFLUENCE_V2_PAGES = {
    "results": [{"id": "393217", "status": "current", "title": "Team home", "spaceId": "98305",
                 "parentId": None, "parentType": None, "position": 0, "authorId": "5b10a2844c20165700ede21g",
                 "ownerId": "5b10a2844c20165700ede21g", "createdAt": "2024-05-01T09:00:00.000Z",
                 "version": {"createdAt": "2024-05-02T10:31:57.512Z", "message": "", "number": 7,
                             "minorEdit": False, "authorId": "5b10a2844c20165700ede21g"},
                 "body": {"storage": {"representation": "storage", "value": "<p>Our team page.</p>"}},
                 "_links": {"webui": "/spaces/ENG/pages/393217/Team+home",
                            "editui": "/pages/resumedraft.action?draftId=393217", "tinyui": "/x/AQAG"}}],
    "_links": {"next": "/wiki/api/v2/pages?cursor=eyJpZCI6IjM5MzIxNyJ9",
               "base": "https://your-domain.atlassian.net/wiki"},
}


# -- Google Drive v3 and Calendar v3 ----------------------------------------------------------

DRIVE_FILE = {"kind": "drive#file", "id": "1x8bWxj3h6F0aQ", "name": "Roadmap 2024",
              "mimeType": "application/vnd.google-apps.document", "parents": ["0AFolder"],
              "modifiedTime": "2024-05-01T10:00:00.000Z", "createdTime": "2024-04-01T10:00:00.000Z",
              "trashed": False, "version": "42",
              "webViewLink": "https://docs.google.com/document/d/1x8bWxj3h6F0aQ/edit",
              "owners": [{"kind": "drive#user", "displayName": "Alice", "emailAddress": "alice@example.com",
                          "permissionId": "0123", "me": True}],
              "permissions": [{"kind": "drive#permission", "id": "anyoneWithLink", "type": "anyone",
                               "role": "reader", "allowFileDiscovery": False}]}

DRIVE_FILES_LIST = {"kind": "drive#fileList", "incompleteSearch": False,
                    "nextPageToken": "~!!~AI9FV7R2", "files": [DRIVE_FILE]}

DRIVE_CHANGES_LIST = {
    "kind": "drive#changeList", "newStartPageToken": "4142",
    "changes": [
        {"kind": "drive#change", "changeType": "file", "type": "file", "time": "2024-05-01T10:00:01.000Z",
         "removed": False, "fileId": DRIVE_FILE["id"], "file": DRIVE_FILE},
        {"kind": "drive#change", "changeType": "file", "type": "file", "time": "2024-05-01T11:00:00.000Z",
         "removed": True, "fileId": "1DeletedFileId"},
    ],
}

CALENDAR_EVENTS = {
    "kind": "calendar#events", "etag": '"p33c9ps6tnfuhg0o"', "summary": "alice@example.com",
    "description": "", "updated": "2024-05-01T10:00:00.123Z", "timeZone": "Europe/Paris",
    "accessRole": "owner", "defaultReminders": [{"method": "popup", "minutes": 10}],
    "nextSyncToken": "CPDAlvWDx70CEPDAlvWDx70CGAU=",
    "items": [
        {"kind": "calendar#event", "etag": '"3181161784712000"', "id": "4ju6ip6a4hdd8m2qnpg5g1l4pc",
         "status": "confirmed", "htmlLink": "https://www.google.com/calendar/event?eid=NGp1Nmlw",
         "created": "2024-04-30T09:00:00.000Z", "updated": "2024-04-30T09:30:00.000Z",
         "summary": "Roadmap review", "description": "Agenda in the doc.",
         "creator": {"email": "alice@example.com", "self": True},
         "organizer": {"email": "alice@example.com", "self": True},
         "start": {"dateTime": "2024-05-02T10:00:00+02:00", "timeZone": "Europe/Paris"},
         "end": {"dateTime": "2024-05-02T11:00:00+02:00", "timeZone": "Europe/Paris"},
         "iCalUID": "4ju6ip6a4hdd8m2qnpg5g1l4pc@google.com", "sequence": 0,
         "attendees": [{"email": "bob@example.com", "responseStatus": "accepted"}],
         "reminders": {"useDefault": True}, "eventType": "default"},
        {"kind": "calendar#event", "etag": '"3181161784712001"', "id": "7cbh8rpc10lrc0ckih9tafss99",
         "status": "cancelled"},        # a deleted event, as an incremental (syncToken) read returns it
    ],
}


# (provider, description, body, one mistake: (JSON pointer, wrong value), the problem it causes)
EXAMPLES = [
    ("slack", "conversations.list", SLACK_CONVERSATIONS_LIST,
     ("/channels/0/is_private", "no"), "at /channels/*/is_private"),
    ("slack", "conversations.history", SLACK_CONVERSATIONS_HISTORY,
     ("/messages/0/thread_timestamp", "1512085950.000216"),
     "undocumented field /messages/*/thread_timestamp"),
    ("notion", "POST /v1/search", NOTION_SEARCH,
     ("/results/0/object", "database"), "at /results/*"),
    ("notion", "GET /v1/blocks/{block_id}/children", NOTION_BLOCK_CHILDREN,
     ("/next_cursor", 17), "at /next_cursor"),
    ("graph", "message", GRAPH_MESSAGE, ("/importance", "urgent"), "at /importance"),
    ("graph", "driveItem[]", GRAPH_DRIVE_DELTA, ("/value/1/size", "42"), "at /value/*/size"),
    ("graph", "driveItem[]", GRAPH_DRIVE_DELTA_LAST, ("/@odata.deltaLink", "token=1230919asd190410jlkb"),
     "at /@odata.deltaLink"),
    ("jira", "GET /rest/api/3/search/jql", JIRA_SEARCH, ("/issues/0/self", "issue 10002"),
     "at /issues/*/self"),
    ("confluence", "GET /wiki/rest/api/content/search", CONFLUENCE_CONTENT_SEARCH,
     ("/results/0/version/number", "7"), "at /results/*/version/number"),
    ("confluence", "GET /wiki/api/v2/pages", CONFLUENCE_V2_PAGES,
     ("/results/0/status", "live"), "at /results/*/status"),
    ("google", "drive.files.list", DRIVE_FILES_LIST, ("/files/0/modifiedTime", "May 1st"),
     "at /files/*/modifiedTime"),
    ("google", "drive.changes.list", DRIVE_CHANGES_LIST, ("/changes/1/removed", "true"),
     "at /changes/*/removed"),
    ("google", "calendar.events.list", CALENDAR_EVENTS, ("/items/0/sequence", "0"), "at /items/*/sequence"),
]


def _ids():
    return [f"{provider} {name}" + (" (last page)" if body is GRAPH_DRIVE_DELTA_LAST else "")
            for provider, name, body, _, _ in EXAMPLES]


@pytest.mark.parametrize("provider, name, body, mistake, expected", EXAMPLES, ids=_ids())
def test_a_body_like_the_documented_example_conforms_and_one_mistake_does_not(
        provider, name, body, mistake, expected):
    assert validate(provider, name, body) == []
    broken = copy.deepcopy(body)
    *parents, last = [int(p) if p.isdigit() else p for p in mistake[0].strip("/").split("/")]
    target = broken
    for step in parents:
        target = target[step]
    target[last] = mistake[1]
    found = validate(provider, name, broken)
    assert found and all(expected in line for line in found), found


def test_names_resolve_the_way_the_readme_says():
    """Endpoints by template or by a concrete path, types by name; unknown ones are an error
    that names the file, never an empty schema that would pass anything."""
    assert schema("slack", "conversations.history") == schema("slack", "ConversationsHistoryResponse")
    assert schema("notion", "GET /v1/blocks/{block_id}/children") == \
        schema("notion", f"GET /v1/blocks/{PAGE}/children") == schema("notion", "ListBlockChildrenResponse")
    assert schema("jira", "GET /rest/api/3/issue/ED-1") == schema("jira", "Issue")
    assert schema("jira", "GET /rest/agile/1.0/board/7/sprint") == schema("jira", "agile:GetAllSprints")
    assert schema("confluence", "GET /wiki/api/v2/pages/393217") == schema("confluence", "v2:Page")
    assert schema("graph", "driveItem") == schema("graph", "DriveItem")
    assert schema("google", "drive:File")["definitions"]["File"]["properties"]["mimeType"]
    assert schema("google", "directory.members.list") == schema("google", "directory:Members")
    for provider, name in (("slack", "conversations.nothing"), ("notion", "GET /v1/nowhere"),
                           ("jira", "GET /rest/api/3/nowhere"), ("confluence", "Content"),
                           ("graph", "noSuchEntity"), ("google", "drive.files.nothing"),
                           ("bitbucket", "repositories")):
        with pytest.raises(MissingDescription):
            schema(provider, name)


def test_extras_and_protocol_annotations():
    """A field the real provider sends but its description omits is allowed only where named;
    Graph's OData annotations are protocol, allowed everywhere."""
    body = copy.deepcopy(SLACK_CONVERSATIONS_HISTORY)
    body["messages"][0]["assistant_thread"] = {}
    assert validate("slack", "conversations.history", body) == [
        "undocumented field /messages/*/assistant_thread"]
    assert validate("slack", "conversations.history", body, extras=("/messages/*/assistant_thread",)) == []
    removed = {"value": [{"@odata.type": "#microsoft.graph.message", "id": "AAMkAD=",
                          "@removed": {"reason": "deleted"}}],
               "@odata.deltaLink": "https://graph.microsoft.com/v1.0/me/messages/delta?$deltatoken=x"}
    assert validate("graph", "message[]", removed) == []


def test_the_pagination_styles_follow_the_documented_examples():
    """harness.PAGINATION, ready for the emulations to come, reads each provider's next page
    off its documented answer (and sees the end where there is none)."""
    import json

    import requests

    from .harness import PAGINATION

    def answer(body):
        response = requests.Response()
        response.status_code, response._content = 200, json.dumps(body).encode()
        return response

    def follow(style, body, path="/list", params=None):
        return PAGINATION[style](answer(body), path, params or {"limit": 2})

    assert follow("slack", SLACK_CONVERSATIONS_LIST) == (
        "/list", {"limit": 2, "cursor": "dGVhbTpDMDYxRkE1UEI="})
    assert follow("notion", {**NOTION_BLOCK_CHILDREN, "has_more": True, "next_cursor": "c02fc1d3"}) == \
        ("/list", {"limit": 2, "start_cursor": "c02fc1d3"})
    assert follow("notion", NOTION_BLOCK_CHILDREN) is None
    assert follow("graph", GRAPH_DRIVE_DELTA) == (
        "https://graph.microsoft.com/v1.0/me/drive/root/delta", {"token": "1230919asd190410jlka"})
    assert follow("graph", GRAPH_DRIVE_DELTA_LAST) is None        # the deltaLink is for the next round
    assert follow("jira", JIRA_SEARCH) == ("/list", {"limit": 2, "nextPageToken": "CAEaAggD"})
    assert follow("jira", {**JIRA_SEARCH, "isLast": True, "nextPageToken": None}) is None
    assert follow("confluence", CONFLUENCE_CONTENT_SEARCH) == (
        "/wiki/rest/api/content/search", {"cql": 'lastmodified>="2024-05-01"', "cursor": "raNDoMsTRiNg"})
    assert follow("confluence", CONFLUENCE_V2_PAGES) == (
        "/wiki/api/v2/pages", {"cursor": "eyJpZCI6IjM5MzIxNyJ9"})
    assert follow("google", DRIVE_FILES_LIST) == ("/list", {"limit": 2, "pageToken": "~!!~AI9FV7R2"})
    assert follow("google", DRIVE_CHANGES_LIST) is None           # newStartPageToken: caught up
