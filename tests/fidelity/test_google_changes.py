"""Google's change feeds with changes in them, held to the discovery documents: what a CASE of
test_provider_responses.py cannot show, because the sandbox must change first (a Drive file
trashed and one removed, a cancelled Calendar event in a sync page, Gmail history of every type
and a thread with an HTML-only reply and an attachment)."""
from __future__ import annotations

import requests

from .conform import validate
from .harness import Client


def test_change_feeds_with_changes_in_them_conform(sandbox_url):
    google = Client(sandbox_url, "google")

    def control(method, path, **body):
        response = requests.request(method, f"{sandbox_url}/_sandbox/{path}", json=body, timeout=5)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    start = google.request("GET", "/drive/v3/changes/startPageToken").json()["startPageToken"]
    events = google.request("GET", "/calendar/v3/calendars/sandbox.user@example.com/events").json()
    history = google.request("GET", "/gmail/v1/users/me/profile").json()["historyId"]
    thread = google.request("GET", "/gmail/v1/users/me/threads", {"maxResults": 1}).json()["threads"][0]["id"]

    control("PATCH", "collections/google_drive/files/1", trashed=True)
    control("DELETE", "collections/google_drive/files/2")
    control("PATCH", f"collections/google_calendar/events/{int(events['items'][0]['id'][3:])}", status="cancelled")
    reply = control("POST", "google/messages", thread_id=thread, html="<p>Hi</p>", attachments=["a.pdf"])
    control("POST", f"google/messages/{reply['id']}/labels", add=["STARRED"], remove=["UNREAD"])
    control("DELETE", f"google/messages/{reply['id']}")

    changes = google.request("GET", "/drive/v3/changes", {"pageToken": start, "fields": "*"}).json()
    assert [(c["fileId"], c["removed"]) for c in changes["changes"]] == [("1SbxF000001", False), ("1SbxF000002", True)]
    assert changes["changes"][0]["file"]["trashed"] is True
    assert validate("google", "drive.changes.list", changes) == []
    synced = google.request("GET", "/calendar/v3/calendars/sandbox.user@example.com/events",
                            {"syncToken": events["nextSyncToken"]}).json()
    assert [e["status"] for e in synced["items"]] == ["cancelled"]
    assert validate("google", "calendar.events.list", synced) == []
    records = google.request("GET", "/gmail/v1/users/me/history", {"startHistoryId": history}).json()
    assert [next(k for k in r if k not in ("id", "messages")) for r in records["history"]] == [
        "messagesAdded", "labelsAdded", "labelsRemoved", "messagesDeleted"]
    assert validate("google", "gmail.users.history.list", records) == []

    control("POST", "google/messages", thread_id=thread, html="<p>Hi</p>", attachments=["a.pdf"])
    whole = google.request("GET", f"/gmail/v1/users/me/threads/{thread}", {"format": "full"}).json()
    assert whole["messages"][-1]["payload"]["parts"][1]["filename"] == "a.pdf"
    assert validate("google", "gmail.users.threads.get", whole) == []
