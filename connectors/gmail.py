"""Gmail: a personal connector; each member connects their own mailbox over Google OAuth.

One document per thread (https://developers.google.com/workspace/gmail/api/reference/rest):
threads.list (maxResults <= 500; spam and trash left out, as Gmail lists them; drafts are listed, a
draft being a message labelled DRAFT, so one made by the create_draft action comes back with the next
sync, as a sent one does with SENT) and threads.get
``format=full`` for each: every message's From, To, Cc, Date and Subject, its text (the
text/plain part, else the text/html part made text), its labels and its attachments' names.

Incremental by the history API (guides/sync, "Partial synchronization"): the profile's
``historyId`` is taken before a full read; users.history.list from it (``startHistoryId`` on
every page, messageAdded/messageDeleted/labelAdded/labelRemoved) names the threads to read again
and ends with the mailbox's new ``historyId``. A thread whose every message is gone (404) or in
Trash or Spam is deleted. A ``startHistoryId`` Gmail no longer keeps ("typically valid for at
least a week") is a 404: a full resync, as the guide says. A full read confirms what it did not
see with threads.get before deleting it.

Quota (reference/quota): 15,000 units a minute per user; threads.list and threads.get cost 10,
history.list 2. Over it: 429, or 403 ``userRateLimitExceeded``/``rateLimitExceeded``: backed off.
Readers: the mailbox's owner only (the engine gives a personal connection's documents to it).
"""
from __future__ import annotations

import base64
import re
from datetime import datetime, timezone
from email.utils import getaddresses
from html.parser import HTMLParser

from .actions import MAIL_PARAMETERS, Action, Lookup, Phrasing, ProviderRequest, mime_message
from .base import CatalogEntry, DocumentData, RateLimits
from .errors import ProviderNotFound
from .google_workspace import google_oauth, google_sandbox, pages
from .kit import FetchById, Incremental, OnError, RestConnector, StreamSpec, WhoAmI, oauth_bearer
from .rest import RestStream

HISTORY_TYPES = ["messageAdded", "messageDeleted", "labelAdded", "labelRemoved"]
HEADERS = ("From", "To", "Cc", "Date", "Subject")


class _Text(HTMLParser):
    """HTML to plain text: block elements end lines, scripts and styles are dropped."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.skipping = [], 0

    def handle_starttag(self, tag, attrs):
        self.skipping += tag in ("script", "style")
        if tag in self.BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag):
        self.skipping -= tag in ("script", "style") and self.skipping > 0
        if tag in self.BLOCKS:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.out.append(data)


def html_to_text(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    lines = (" ".join(line.split()) for line in "".join(parser.out).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _decoded(data: str) -> str:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8", "replace")


def _parts(part: dict):
    yield part
    for child in part.get("parts") or []:
        yield from _parts(child)


def message_text(message: dict) -> tuple[dict, str, list[str]]:
    """(headers by lower-cased name, plain text, attachments' names) of a ``format=full`` message."""
    payload = message.get("payload") or {}
    headers = {h["name"].lower(): h["value"] for h in payload.get("headers") or []}
    plain = markup = None
    attachments = []
    for part in _parts(payload):
        if part.get("filename"):
            attachments.append(part["filename"])
        elif (data := (part.get("body") or {}).get("data")) is not None:
            if part.get("mimeType") == "text/plain" and plain is None:
                plain = _decoded(data)
            elif part.get("mimeType") == "text/html" and markup is None:
                markup = _decoded(data)
    return headers, (plain if plain is not None else html_to_text(markup or "")).strip(), attachments


def with_threads(records: list, body, api) -> None:
    """Every record becomes a whole thread: history records name the threads to read again, a
    listed thread is read with threads.get; one gone is marked ``_gone``."""
    ids = []
    for record in records:
        if "historyId" in record:                   # a thread (listed, or already whole)
            ids.append(record if record.get("messages") else record["id"])
        else:                                       # a history record
            ids += [m["threadId"] for m in record.get("messages") or [] if m.get("threadId")]
    seen, threads = set(), []
    for item in ids:
        thread_id = item["id"] if isinstance(item, dict) else item
        if thread_id in seen:
            continue
        seen.add(thread_id)
        try:
            threads.append(item if isinstance(item, dict) else
                           api.get(f"/gmail/v1/users/me/threads/{thread_id}", {"format": "full"}))
        except ProviderNotFound:
            threads.append({"id": thread_id, "_gone": True})
    records[:] = threads


def _gone(thread: dict) -> bool:
    messages = thread.get("messages") or []
    return thread.get("_gone", False) or not messages or all(
        {"TRASH", "SPAM"} & set(m.get("labelIds") or []) for m in messages)


def thread_document(thread: dict) -> DocumentData:
    messages = [(m, *message_text(m)) for m in thread["messages"]]
    texts, attachments, people = [], [], {}
    for _, headers, text, files in messages:
        texts.append("\n".join(f"{name}: {headers[name.lower()]}" for name in HEADERS if headers.get(name.lower()))
                     + f"\n\n{text}" + (f"\n\nAttachments: {', '.join(files)}" if files else ""))
        attachments += files
        for name, address in getaddresses([headers.get(k, "") for k in ("from", "to", "cc")]):
            if address:
                people.setdefault(address.lower(), name or address)
    first, last = messages[0], messages[-1]
    stamp = lambda m: datetime.fromtimestamp(int(m.get("internalDate") or 0) / 1000, timezone.utc)  # noqa: E731
    return DocumentData(
        external_id=thread["id"], title=first[1].get("subject") or "(no subject)", type="email_thread",
        content="\n\n---\n\n".join(texts), url=f"https://mail.google.com/mail/u/0/#all/{thread['id']}",
        author=first[1].get("from"), created_at=stamp(first[0]), updated_at=stamp(last[0]),
        metadata={"labels": sorted({label for m, *_ in messages for label in m.get("labelIds") or []}),
                  "participants": sorted(people), "message_count": len(messages), "attachments": attachments,
                  "history_id": thread.get("historyId")})


THREADS = StreamSpec(
    "threads", "email_thread",
    RestStream("/gmail/v1/users/me/threads", pages("maxResults"), records_path=("threads",)),
    description="Mail, one document per thread", document=thread_document, enrich=with_threads, tombstone=_gone,
    incremental=Incremental.sync_token(
        "startHistoryId", ("historyId",), start="/gmail/v1/users/me/profile", start_path=("historyId",),
        expired=(404,), changes=RestStream("/gmail/v1/users/me/history", pages("maxResults"),
                                           records_path=("history",), params={"historyTypes": HISTORY_TYPES})),
    list_ids=True, fetch=FetchById("/gmail/v1/users/me/threads/{id}", params={"format": "full"}))


# -- actions (https://developers.google.com/workspace/gmail/api/reference/rest/v1/users.drafts/create,
# users.messages/send): the message as RFC 5322, base64url, in ``raw`` ---------------------------------------

MAIL_RE = (r"(?:an? )?e-?mail to (?P<to>[^\s,]+@[^\s,]+(?:\s*,\s*[^\s,]+@[^\s,]+)*)"
           r" (?:with )?subject (?P<subject>.+?) (?:saying|with body|body:?)\s*(?P<body>.+)")


def _draft(params, api):
    return [ProviderRequest("POST", "/gmail/v1/users/me/drafts", {"message": {"raw": mime_message(params)}})]


def _send(params, api):
    return [ProviderRequest("POST", "/gmail/v1/users/me/messages/send", {"raw": mime_message(params)})]


def _mail(params: dict) -> tuple:
    """What identifies a mail: its recipients, subject and words."""
    return sorted(a.lower() for a in params["to"]), params["subject"], " ".join(params["body"].split())


def _mail_of(payload) -> tuple:
    """A message's ``payload`` (format=full) as :func:`_mail` sees a mail: its To header's
    addresses, its Subject, the words of its text/plain part."""
    payload = payload if isinstance(payload, dict) else {}
    headers = {h.get("name", "").lower(): h.get("value", "") for h in payload.get("headers") or []}
    text = next((part for part in [payload, *(payload.get("parts") or [])] if part.get("mimeType") == "text/plain"
                 and (part.get("body") or {}).get("data")), None)
    body = base64.urlsafe_b64decode(text["body"]["data"] + "==").decode("utf-8", "replace") if text else ""
    return (sorted(address.lower() for _, address in getaddresses([headers.get("to", "")]) if address),
            headers.get("subject", ""), " ".join(body.split()))


def _written(listing: str, message: str, **query) -> Lookup:
    """An interrupted draft or send: among the mailbox's drafts (or its sent mail), newest first,
    each read in full, the one made since the run began with the write's recipients, subject and
    words (``message``: where the message is in what was read). The mailbox is the connection's
    owner's: all in it is theirs. Listings by label, not searches (``q``), so a miss is a miss."""
    at = f"{message}." if message else ""
    return Lookup(
        lambda write, params, api, since: ProviderRequest("GET", listing, params={"maxResults": 50, **query}),
        lambda write, params: {at + "payload": lambda payload: _mail_of(payload) == _mail(params)},
        records=(listing.rsplit("/", 1)[1],), made=at + "internalDate",
        each=lambda record: ProviderRequest("GET", f"{listing}/{record['id']}", params={"format": "full"}))


ACTIONS = (
    Action("create_draft", "Save a draft in the mailbox (nothing is sent).", MAIL_PARAMETERS,
           "https://www.googleapis.com/auth/gmail.compose", _draft,
           lambda answers, params, api: {"id": answers[-1]["id"], "message_id": (answers[-1].get("message") or {}).get("id"),
                                         "thread_id": (answers[-1].get("message") or {}).get("threadId")},
           find=_written("/gmail/v1/users/me/drafts", "message"),
           phrasings=(Phrasing(r"(?:draft|write a draft of) " + MAIL_RE,
                               "Draft an email to ana@example.com subject Friday demo saying Can we move it to 3pm?"),)),
    Action("send", "Send an e-mail from the mailbox.", MAIL_PARAMETERS,
           "https://www.googleapis.com/auth/gmail.compose", _send,
           lambda answers, params, api: {"id": answers[-1]["id"], "thread_id": answers[-1].get("threadId")},
           external=True, find=_written("/gmail/v1/users/me/messages", "", labelIds="SENT"),
           phrasings=(Phrasing(r"send " + MAIL_RE,
                               "Send an email to ana@example.com subject Invoice saying Attached is the invoice."),)),
)


class GmailConnector(RestConnector):
    catalog = CatalogEntry(
        type="gmail",
        display_name="Gmail",
        category="comms",
        auth_method="oauth_redirect",
        ownership="personal",
        description="Your mailbox: threads and messages, connected by each member for themselves.",
        docs_url="https://developers.google.com/gmail/api",
        # 15,000 quota units a minute per user; a thread read (threads.get) costs 10.
        rate_limits=RateLimits(requests_per_minute=1500),
        base_url="https://accounts.google.com",
        api_url="https://gmail.googleapis.com",
        # gmail.compose: the create_draft and send actions (drafts.create, messages.send).
        oauth=google_oauth("gmail.readonly", "gmail.compose"),
    )
    streams = (THREADS,)
    actions = ACTIONS
    auth = oauth_bearer()
    whoami = WhoAmI("/gmail/v1/users/me/profile", id="emailAddress", handle="emailAddress", name="emailAddress")
    rate_limit_codes = ("userRateLimitExceeded", "rateLimitExceeded")
    errors = (OnError(403, code="insufficientPermissions",
                      message="Gmail did not let Tributary read this mailbox ({said}); reconnect and allow reading "
                              "your mail."),
              OnError(400, code="failedPrecondition", message="Gmail refused to read this mailbox: {said}"))
    page_size = 500         # threads.list and history.list take at most 500

    @classmethod
    def sandbox_settings(cls, sandbox_url: str) -> dict:
        return google_sandbox(sandbox_url)
