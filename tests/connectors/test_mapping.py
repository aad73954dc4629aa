"""A stream's document declared with ``connectors.mapping.Doc``: what each declaration writes."""
from datetime import datetime, timezone

from connectors.mapping import Doc, each, first, said, word

TICKET = Doc("ticket", first("subject", otherwise="Ticket {id}"),
             content=("description", lambda r: [f"> {c['body']}" for c in r.get("comments") or []],
                      said("Channel", "via.channel")),
             facts=(("Status", word("status", {2: "open"})), ("Priority", "priority"),
                    lambda r: [f"Tag: {t}" for t in r.get("tags") or []]),
             url="links.html", author="requester.name",
             metadata=("status", "tags[]", ("requester", "requester.id"), ("labels", each("labels", "name")),
                       lambda r: {k: r[k] for k in ("extra",) if k in r}))


def test_a_declared_document_writes_lines_facts_and_metadata_as_declared():
    doc = TICKET({"id": 7, "subject": "Refund", "description": "Charged twice.", "comments": [{"body": "On it"}],
                  "via": {"channel": "email"}, "status": 2, "priority": 0, "tags": ["vip"],
                  "links": {"html": "https://help.example/7"}, "requester": {"id": 3, "name": "Lena"},
                  "labels": [{"name": "billing"}], "extra": True,
                  "created_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-02T10:00:00+02:00"})
    assert (doc.external_id, doc.title, doc.type, doc.url, doc.author) == (
        "7", "Refund", "ticket", "https://help.example/7", "Lena")
    # lines one by one, then a blank line and the facts; a 0 is a value, a code without a word stays
    assert doc.content == "Charged twice.\n> On it\nChannel: email\n\nStatus: open\nPriority: 0\nTag: vip"
    assert doc.metadata == {"status": 2, "tags": ["vip"], "requester": 3, "labels": ["billing"], "extra": True}
    assert doc.created_at == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
    assert doc.updated_at == datetime(2024, 5, 2, 8, tzinfo=timezone.utc)


def test_what_a_record_lacks_is_left_out_not_written_empty():
    doc = TICKET({"id": 8, "subject": "", "status": 9, "priority": ""})
    assert doc.title == "Ticket 8"                  # the first field with a value, else the fallback
    assert doc.content == "Status: 9"               # no text: the facts alone, no blank line before them
    assert doc.metadata == {"status": 9, "tags": [], "requester": None, "labels": []}
    assert word("status", {2: "open"}, strict=True)({"status": 9}) is None      # strict: no word, none said
    assert (doc.url, doc.author, doc.created_at) == (None, None, None)
