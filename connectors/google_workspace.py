"""Google Workspace: Drive files and Calendar events, over Google OAuth with offline access.

Drive v3 (https://developers.google.com/workspace/drive/api/reference/rest/v3): files.list
(``q``, ``fields``, pageSize <= 1000); a file's text from files.export (Docs and Slides as
text/plain, Sheets as text/csv: Drive exports a spreadsheet's first sheet; 10 MB at most) or
files.get ``alt=media`` (PDFs, read with pypdf, and text files; 10 MB at most); folders become
each file's ``path`` (one folder listing per run). Incremental by the changes API
(guides/manage-changes: changes.getStartPageToken before a full read, changes.list from the
stored token to ``newStartPageToken``); ``removed: true`` and trashed files are deletions. A full
read confirms what it did not see with files.get before deleting it. Drive has no channels: one
change feed covers the account's corpus (``includeItemsFromAllDrives``); shared drives as
channels of their own (``driveId``) are not supported yet.

Calendar v3 (https://developers.google.com/workspace/calendar/api/v3/reference): each calendar
of calendarList.list is a channel (free/busy-only ones are skipped); events.list with sync tokens
(guides/sync: ``nextSyncToken`` on the last page; 410 Gone: a full resync); cancelled events are
deletions; events.get confirms before a delete.

Quotas (drive/api/guides/limits, calendar/api/guides/quota): Drive 12,000 queries a minute per
user, Calendar 600. Over them Google answers 403 ``userRateLimitExceeded``/``rateLimitExceeded``
(no Retry-After) or 429, in its envelope ``{"error": {"code", "message", "errors": [{"reason",
"domain", "message"}], "status"}}``: backed off and retried (``rate_limit_codes``). OAuth:
https://developers.google.com/identity/protocols/oauth2/web-server (access tokens live 3599 s).

Readers (the ``source`` access mode). A file: its permissions by e-mail (users; a Google group
as a ``provider_group``, not expanded yet: the Directory API needs an admin's consent), plus the
connected account. A ``domain`` or ``anyone`` grant that lets people find the file makes it the
whole workspace's (for ``domain`` only the connected account's own domain); a grant to whoever
has the link gives nobody more: a link is a secret Tributary cannot know who holds. Drive shows
permissions only to those who may share a file: for the others, its owners and the connected
account. An event: its organizer, creator and attendees, the calendar's owner when the calendar
is a person's, and the connected account. In the ``workspace`` mode everything is everyone's.
"""
from __future__ import annotations

import io
import logging
from urllib.parse import quote, unquote

from .base import CatalogEntry, DocumentData, OAuthEndpoints, RateLimits
from .errors import ProviderRefused
from .kit import Channels, FetchById, Incremental, OnError, RestConnector, StreamSpec, WhoAmI, oauth_bearer
from .rest import RestStream, TokenPaginator, parse_time

FOLDER = "application/vnd.google-apps.folder"
EXPORTS = {"application/vnd.google-apps.document": ("text/plain", "document"),
           "application/vnd.google-apps.spreadsheet": ("text/csv", "spreadsheet"),
           "application/vnd.google-apps.presentation": ("text/plain", "presentation")}
MAX_BYTES = 10 * 1024 * 1024
FILE_FIELDS = ("id, name, mimeType, parents, createdTime, modifiedTime, trashed, webViewLink, size, "
               "owners(emailAddress, displayName), permissions(type, role, emailAddress, domain, allowFileDiscovery)")
DRIVE_ALL = {"supportsAllDrives": "true", "includeItemsFromAllDrives": "true"}


def pages(size_param: str) -> TokenPaginator:
    """Google's pagination: ``nextPageToken`` in the body, sent back as ``pageToken``."""
    return TokenPaginator(("nextPageToken",), "pageToken", size_param)


def google_oauth(*scopes: str) -> OAuthEndpoints:
    """Google's OAuth endpoints, asking for a refresh token (``access_type=offline``)."""
    return OAuthEndpoints(authorize="https://accounts.google.com/o/oauth2/v2/auth",
                          token="https://oauth2.googleapis.com/token", revoke="https://oauth2.googleapis.com/revoke",
                          scopes=("openid", "email", "profile", *(f"https://www.googleapis.com/auth/{s}" for s in scopes)),
                          authorize_params={"access_type": "offline", "prompt": "consent"})


def google_sandbox(sandbox_url: str) -> dict:
    """Every Google API and its OAuth server live under the sandbox's /google."""
    google = f"{sandbox_url}/google"
    return {"base_url": google, "api_url": google, "authorize_url": f"{google}/o/oauth2/v2/auth",
            "token_url": f"{google}/token", "revoke_url": f"{google}/revoke",
            "client_id": "sandbox-google-client", "client_secret": "sandbox-google-secret"}


def _file(record: dict) -> dict | None:
    """A change as the file it is about (``_removed`` when it is gone); a shared drive's own
    change is not a file's: None."""
    if "changeType" not in record:
        return record
    if record["changeType"] != "file":
        return None
    return {"id": record["fileId"], "_removed": True} if record.get("removed") else record.get("file")


def with_content(records: list, body, api) -> None:
    """Changes become files; each file gets its text, its folder path and who connected."""
    records[:] = [f for f in map(_file, records) if f is not None]
    for record in records:
        if record.get("_removed") or record.get("mimeType") == FOLDER:
            continue
        record["_me"] = api.ctx.handle
        if not api.ctx.content_wanted:      # a permissions pass: the listing's permissions are all it needs
            continue
        record["_path"] = _path(record, _folders(api))
        try:
            record["_text"] = _text(record, api)
        except ProviderRefused as exc:      # too large to export, or not downloadable: metadata only
            record["_text"], record["_unreadable"] = "", exc.message


def _text(record: dict, api) -> str:
    mime, path = record.get("mimeType", ""), f"/drive/v3/files/{record['id']}"
    if mime in EXPORTS:
        return api.download(f"{path}/export", {"mimeType": EXPORTS[mime][0]}).decode("utf-8-sig", "replace")
    if int(record.get("size") or 0) > MAX_BYTES or not (mime == "application/pdf" or mime.startswith("text/")):
        return ""
    data = api.download(path, {"alt": "media", "supportsAllDrives": "true"})
    return pdf_text(data) if mime == "application/pdf" else data.decode("utf-8", "replace")


def pdf_text(data: bytes) -> str:
    """A PDF's text, page by page, with pypdf (pure Python; a PDF it cannot read has none)."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)     # it warns about every odd object
    try:
        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages).strip()
    except (PyPdfError, ValueError, KeyError):
        return ""


def _folders(api) -> dict:
    """Every folder's name and parent, listed once per run; the root is "My Drive"."""
    memo = api.ctx.memo
    if "gw.folders" not in memo:
        root = api.get("/drive/v3/files/root", {"fields": "id"})["id"]
        found, token = {root: {"name": "My Drive", "parents": []}}, None
        while True:
            body = api.get("/drive/v3/files", {"q": f"mimeType = '{FOLDER}' and trashed = false", "pageSize": 1000,
                                               "fields": "nextPageToken, files(id, name, parents)", **DRIVE_ALL,
                                               **({"pageToken": token} if token else {})})
            found.update({f["id"]: f for f in body.get("files") or []})
            if not (token := body.get("nextPageToken")):
                break
        memo["gw.folders"] = found
    return memo["gw.folders"]


def _path(record: dict, folders: dict) -> str:
    names, parent = [], (record.get("parents") or [None])[0]
    while parent in folders and len(names) < 50:
        names.append(folders[parent]["name"])
        parent = (folders[parent].get("parents") or [None])[0]
    return "/".join(reversed(names))


def file_document(record: dict) -> DocumentData:
    mime, path, name = record.get("mimeType", ""), record.get("_path") or "", record.get("name") or record["id"]
    owners = [o.get("emailAddress") for o in record.get("owners") or [] if o.get("emailAddress")]
    return DocumentData(
        external_id=record["id"], title=name, content=record.get("_text") or f"{name} ({mime}) in {path or 'Drive'}",
        type=EXPORTS.get(mime, (None, "pdf" if mime == "application/pdf" else "file"))[1],
        url=record.get("webViewLink"), author=owners[0] if owners else None,
        created_at=parse_time(record.get("createdTime")), updated_at=parse_time(record.get("modifiedTime")),
        metadata={"path": path, "mime_type": mime, "owners": owners, "size": record.get("size"),
                  **({"content_error": record["_unreadable"]} if record.get("_unreadable") else {})})


def file_readers(record: dict):
    from access.service import Readers

    me = (record.get("_me") or "").lower()
    domain = me.partition("@")[2]
    grants = record.get("permissions")
    if grants is None:          # not shareable by this account: Drive does not show them
        grants = [{"type": "user", "emailAddress": o.get("emailAddress")} for o in record.get("owners") or []]
    entries = {("email", me)}
    for grant in grants:
        kind, email = grant.get("type"), (grant.get("emailAddress") or "").lower()
        if kind == "user":
            entries.add(("email", email))
        elif kind == "group":
            entries.add(("provider_group", f"google:group:{email}"))
        elif grant.get("allowFileDiscovery") and (kind == "anyone" or grant.get("domain", "").lower() == domain):
            return Readers.everyone()
    return Readers.of(*entries)


def with_calendar(records: list, body, api) -> None:
    for record in records:
        record["_calendar"], record["_me"] = unquote(api.channel or ""), api.ctx.handle


def event_document(record: dict) -> DocumentData:
    start, end = record.get("start") or {}, record.get("end") or {}
    when = f"{start.get('dateTime') or start.get('date')} to {end.get('dateTime') or end.get('date')}"
    people = [a.get("email") for a in record.get("attendees") or [] if a.get("email")]
    organizer = (record.get("organizer") or {}).get("email")
    lines = [f"When: {when}", f"Where: {record['location']}" if record.get("location") else "",
             f"Organizer: {organizer}" if organizer else "", f"Attendees: {', '.join(people)}" if people else ""]
    content = "\n".join(line for line in lines if line) + (f"\n\n{record['description']}"
                                                          if record.get("description") else "")
    return DocumentData(
        external_id=record["id"], title=record.get("summary") or "(No title)", content=content, type="calendar_event",
        url=record.get("htmlLink"), author=organizer, created_at=parse_time(record.get("created")),
        updated_at=parse_time(record.get("updated")),
        metadata={"calendar": record.get("_calendar"), "start": start, "end": end, "attendees": people,
                  "recurrence": record.get("recurrence") or [], "status": record.get("status")})


def event_readers(record: dict):
    from access.service import Readers

    people = [(record.get(k) or {}).get("email") for k in ("organizer", "creator")]
    people += [a.get("email") for a in record.get("attendees") or []]
    calendar = record.get("_calendar") or ""
    if "@" in calendar and not calendar.endswith("calendar.google.com"):       # a person's calendar
        people.append(calendar)
    return Readers.of(*(("email", p.lower()) for p in [*people, record.get("_me")]
                        if p and not p.endswith("calendar.google.com")))


CALENDARS = Channels("calendar", RestStream("/calendar/v3/users/me/calendarList", pages("maxResults"),
                                            records_path=("items",), page_size=250, bucket="calendar"),
                     id=lambda c: quote(c["id"], safe="@"), name=lambda c: c.get("summaryOverride") or c.get("summary") or c["id"],
                     lookup="/calendar/v3/calendars/{channel}",
                     keep=lambda c: c.get("accessRole") != "freeBusyReader" and not c.get("deleted"))

FILES = StreamSpec(
    "files", "file", RestStream("/drive/v3/files", pages("pageSize"), records_path=("files",),
                                params={"q": "trashed = false", "fields": f"nextPageToken, files({FILE_FIELDS})",
                                        **DRIVE_ALL}),
    description="Drive files: Docs, Sheets and Slides as text, PDFs' and text files' text, with their folders",
    document=file_document, readers=file_readers, enrich=with_content,
    keep=lambda r: r.get("mimeType") != FOLDER, tombstone=lambda r: bool(r.get("_removed") or r.get("trashed")),
    incremental=Incremental.sync_token(
        "pageToken", ("newStartPageToken",), start="/drive/v3/changes/startPageToken", start_path=("startPageToken",),
        changes=RestStream("/drive/v3/changes", pages("pageSize"), records_path=("changes",), params={
            "fields": f"nextPageToken, newStartPageToken, changes(changeType, removed, fileId, file({FILE_FIELDS}))",
            "includeRemoved": "true", **DRIVE_ALL})),
    list_ids=RestStream("/drive/v3/files", pages("pageSize"), records_path=("files",),
                        params={"q": "trashed = false", "fields": "nextPageToken, files(id, mimeType)", **DRIVE_ALL}),
    fetch=FetchById("/drive/v3/files/{id}", params={"fields": FILE_FIELDS, "supportsAllDrives": "true"}))

EVENTS = StreamSpec(
    "events", "calendar_event", RestStream("/calendar/v3/calendars/{channel}/events", pages("maxResults"),
                                           records_path=("items",), page_size=2500, bucket="calendar"),
    description="Calendar events with their attendees", document=event_document, readers=event_readers,
    channels=CALENDARS, enrich=with_calendar, tombstone=lambda r: r.get("status") == "cancelled",
    incremental=Incremental.sync_token("syncToken", ("nextSyncToken",)), list_ids=True,
    fetch=FetchById("/calendar/v3/calendars/{channel}/events/{id}"))


class GoogleWorkspaceConnector(RestConnector):
    catalog = CatalogEntry(
        type="google_workspace",
        display_name="Google Workspace",
        category="docs",
        auth_method="oauth_redirect",
        description="Drive files (Docs, Sheets, Slides, PDFs as text) and Calendar events from Google Workspace.",
        docs_url="https://developers.google.com/workspace",
        # Drive: 12,000 queries a minute per user; Calendar's own 600 a minute is its bucket.
        rate_limits=RateLimits(requests_per_minute=12000),
        base_url="https://accounts.google.com",
        api_url="https://www.googleapis.com",
        permissions=True,
        oauth=google_oauth("drive.readonly", "calendar.readonly"),
    )
    streams = (FILES, EVENTS)
    auth = oauth_bearer()
    whoami = WhoAmI("/oauth2/v3/userinfo", id="sub", handle="email", name="name")
    buckets = {"calendar": RateLimits(requests_per_minute=600)}
    rate_limit_codes = ("userRateLimitExceeded", "rateLimitExceeded")
    errors = (OnError(403, code="insufficientPermissions",
                      message="Google did not let Tributary read Drive or Calendar ({said}); reconnect and allow "
                              "read access to both."),)
    provider_label = "Google"
    page_size = 1000        # Drive's maximum (Calendar's events take 2500, its calendar list 250)

    @classmethod
    def sandbox_settings(cls, sandbox_url: str) -> dict:
        return google_sandbox(sandbox_url)
