"""Notion records as text, from bodies @notionhq/client 5.26.0 describes (each validated first):
a block tree as markdown-like structure, a database row's properties, a page's discussions, and
who may read what in the source access mode. No sandbox: the records are what the joins attach.
"""
from connectors.notion import NotionConnector, blocks_text, comments_document, entry_document, published
from tests.fidelity.conform import validate

PAGE = "59833787-2cf9-4fdf-8782-e53db20768a5"
USER = {"object": "user", "id": "ee5f0f84-409a-440f-983a-a5315961c6e4"}
STAMP = "2025-03-01T10:07:00.000Z"


def rich(text):
    return [{"type": "text", "text": {"content": text, "link": None}, "plain_text": text, "href": None,
             "annotations": {"bold": False, "italic": False, "strikethrough": False, "underline": False,
                             "code": False, "color": "default"}}]


def block(n, kind, body, children=()):
    found = {"object": "block", "id": f"{n:08x}-0000-4000-8000-000000000000", "type": kind, kind: body,
             "parent": {"type": "page_id", "page_id": PAGE}, "created_time": STAMP, "last_edited_time": STAMP,
             "created_by": USER, "last_edited_by": USER, "has_children": bool(children), "in_trash": False,
             "archived": False}
    return found, list(children)


def listing(blocks):
    body = {"object": "list", "results": [b for b, _ in blocks], "next_cursor": None, "has_more": False,
            "type": "block", "block": {}}
    assert validate("notion", "GET /v1/blocks/{block_id}/children", body) == []
    for found, children in blocks:          # what the kit's nested join attaches
        found["_blocks"] = listing(children)
    return body["results"]


def text(kind, words, **more):
    return {"rich_text": rich(words), "color": "default", **more}


def test_a_block_tree_reads_as_structured_text():
    tree = listing([
        block(1, "heading_1", text("heading_1", "Launch", is_toggleable=False)),
        block(2, "paragraph", text("paragraph", "Everything we ship in May.", icon=None)),
        block(3, "heading_2", text("heading_2", "Steps", is_toggleable=False)),
        block(4, "numbered_list_item", text("numbered_list_item", "Freeze"), [
            block(5, "bulleted_list_item", text("bulleted_list_item", "no merges after Friday"))]),
        block(6, "numbered_list_item", text("numbered_list_item", "Ship")),
        block(7, "to_do", text("to_do", "Write the notes", checked=True)),
        block(8, "code", {"rich_text": rich("make release"), "caption": [], "language": "shell"}),
        block(9, "table", {"has_column_header": True, "has_row_header": False, "table_width": 2}, [
            block(10, "table_row", {"cells": [rich("Region"), rich("Date")]}),
            block(11, "table_row", {"cells": [rich("EU"), rich("May 2")]})]),
        block(12, "toggle", text("toggle", "Risks"), [block(13, "quote", text("quote", "Rollback takes an hour"))]),
        block(14, "divider", {}),
        block(15, "child_page", {"title": "Retrospective"}),
    ])
    assert "\n".join(blocks_text(tree)) == """# Launch
Everything we ship in May.

## Steps
1. Freeze
  - no merges after Friday
2. Ship
- [x] Write the notes
```shell
make release
```
| Region | Date |
| --- | --- |
| EU | May 2 |
Risks
  > Rollback takes an hour
---
Page: Retrospective"""


def test_a_database_row_reads_as_its_properties_then_its_body():
    row = {"object": "page", "id": PAGE, "created_time": STAMP, "last_edited_time": STAMP, "created_by": USER,
           "last_edited_by": USER, "cover": None, "icon": None, "in_trash": False, "archived": False,
           "is_archived": False, "is_locked": False, "url": "https://www.notion.so/x", "public_url": None,
           "parent": {"type": "data_source_id", "data_source_id": PAGE, "database_id": PAGE}, "properties": {
               "Name": {"id": "title", "type": "title", "title": rich("Pricing page")},
               "Status": {"id": "s", "type": "status", "status": {"id": "1", "name": "In progress", "color": "blue"}},
               "Team": {"id": "t", "type": "select", "select": None},
               "Tags": {"id": "g", "type": "multi_select", "multi_select": [
                   {"id": "a", "name": "web", "color": "red"}, {"id": "b", "name": "copy", "color": "gray"}]},
               "Due": {"id": "d", "type": "date", "date": {"start": "2025-05-01", "end": "2025-05-09",
                                                           "time_zone": None}},
               "Owner": {"id": "o", "type": "people", "people": [{**USER, "name": "Ada Okafor"}]},
               "Done": {"id": "c", "type": "checkbox", "checkbox": False},
               "Points": {"id": "p", "type": "formula", "formula": {"type": "number", "number": 8}},
               "Ticket": {"id": "u", "type": "unique_id", "unique_id": {"prefix": "WEB", "number": 42}},
               "Linked": {"id": "r", "type": "relation", "relation": [{"id": PAGE}]}}}
    assert validate("notion", "PageObjectResponse", row,
                    extras=("/properties/Owner/people/*/name",)) == []  # the name the people hook adds
    row["_blocks"] = listing([block(1, "paragraph", text("paragraph", "Launch copy first.", icon=None))])
    doc = entry_document(row)
    assert (doc.title, doc.type) == ("Pricing page", "database_entry")
    assert doc.content == ("Status: In progress\nTags: web, copy\nDue: 2025-05-01 to 2025-05-09\nOwner: Ada Okafor\n"
                           "Done: No\nPoints: 8\nTicket: WEB-42\n\nLaunch copy first.")


def test_a_pages_discussions_and_who_reads_it():
    def comment(n, discussion, who, words):
        return {"object": "comment", "id": f"{n:08x}-0000-4000-8000-000000000000", "discussion_id": discussion,
                "parent": {"type": "page_id", "page_id": PAGE}, "created_time": STAMP,
                "last_edited_time": f"2025-03-0{n}T10:00:00.000Z", "created_by": USER, "rich_text": rich(words),
                "display_name": {"type": "user", "resolved_name": who}}
    said = [comment(1, "d1", "Ada", "Is May realistic?"), comment(2, "d2", "Bo", "Typo in step 2"),
            comment(3, "d1", "Cy", "Yes, if we freeze on Friday.")]
    body = {"object": "list", "results": said, "next_cursor": None, "has_more": False, "type": "comment",
            "comment": {}}
    assert validate("notion", "GET /v1/comments", body) == []
    page = {"object": "page", "id": PAGE, "properties": {"title": {"id": "title", "type": "title",
                                                                    "title": rich("Launch")}},
            "public_url": None, "_comments": said}
    doc = comments_document(page)
    assert (doc.title, doc.type, doc.author) == ("Comments on Launch", "comment", "Ada")
    assert doc.content == "Ada: Is May realistic?\nCy: Yes, if we freeze on Friday.\n\n---\n\nBo: Typo in step 2"
    assert doc.updated_at.day == 3
    assert published(page) is None          # who it is shared with, the API does not say: hidden
    assert published({**page, "public_url": "https://acme.notion.site/Launch"}).workspace
    assert not NotionConnector.catalog.permissions      # so a new connection is workspace-wide
