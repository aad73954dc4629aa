"""Slack: an app installed with OAuth v2 (a bot token, which does not expire) reads the channels it is in.

Docs: https://docs.slack.dev/apis/web-api/ -- methods: https://docs.slack.dev/reference/methods/conversations.history
(.list, .info, .replies, .members; files.list, files.info, users.list, users.info, auth.test); OAuth (oauth.v2.access,
comma-separated bot scopes): https://docs.slack.dev/authentication/installing-with-oauth
Rate limits (https://docs.slack.dev/apis/web-api/rate-limits), per method per workspace per app: Tier 2
(conversations.list, users.list) 20+/min, Tier 3 (history, replies, info, files.list) 50+/min, Tier 4 100+/min; 429
with Retry-After. Since 2025-05-29 a commercially distributed non-Marketplace app gets 1 request/min and 15 messages
a page on history/replies; a self-hosted Tributary is an internal app and keeps Tier 3.
Errors: HTTP 200 ``{"ok": false, "error": ...}``: ``invalid_auth``/``token_revoked``/``account_inactive`` -> reconnect;
``not_in_channel``/``channel_not_found`` fail that channel only; ``missing_scope`` says which (``needed``).

Channels: ``conversations.list`` (public and private) where ``is_member`` (public ones the app is in, private ones
it was added to); one named in the settings is looked up with ``conversations.info``.

* ``messages``: one document per thread, a top-level message with its replies (``conversations.replies``): a question
  and its answer are found together, nothing is copied into N documents. History lists newest first and never moves
  an old parent on a reply or an edit, so an incremental pass re-reads ``reply_window_days`` (7; ``CONNECTORS
  ["slack"]``) before the cursor (``oldest``) and hands over only newer messages and those whose reply count, latest
  reply or edit changed (``kit.Lookback``); replies are fetched only for those. A reply or edit older than the
  window, and an edit of a reply, wait for the full sync. Deletion: history lists current messages only
  (``message_deleted``/``message_changed`` are Events API events); a parent deleted with replies stays as ``subtype:
  tombstone`` (its replies remain a document), one without is gone: the id listing, each unseen ts confirmed with
  ``history`` at that ts.
* ``files``: ``files.list?channel=`` newest first (page numbers), incremental by ``ts_from`` (creation: a renamed old
  file waits for the full sync); text from ``preview`` (a snippet's or text file's first lines), all of it from
  ``files.info``'s ``content`` where the preview is cut; PDFs and images are metadata only. One document per file and
  channel (readers differ per channel). Deletion: the listing, confirmed with ``files.info`` (``file_not_found``).
* ``users``: ``users.list`` every run (unchanged users write nothing), read first so a run names authors and members'
  e-mails from it (a run without it asks ``users.info`` once per person); deactivated users (``deleted``) are
  tombstones.

Readers: a public channel's messages and files, the whole workspace; a private channel's, its members
(``conversations.members``) as ``slack:<user id>`` and their e-mails (``users:read.email``: how accounts match). The
directory of users: the whole workspace. Not synced: DMs and group DMs (no ``im:``/``mpim:`` scopes), the text of
PDFs and other binary files, reactions. The Web API is plain REST: Slack's SDK would add nothing to the kit's client.
"""
import re
from datetime import datetime, timezone
from urllib.parse import urlsplit

from .actions import Action, Lookup, Phrasing, ProviderRequest, schema, string
from .base import CatalogEntry, OAuthEndpoints, RateLimits
from .errors import ChannelNotFound, ProviderAuthError
from .kit import (Channels, Directory, FetchById, Incremental, Join, Lookback, OnError, RestConnector, StreamSpec,
                  WhoAmI, error_in_body, everyone, oauth_bearer, person)
from .mapping import Doc, first
from .rest import PageNumberPaginator, RestStream, TokenPaginator, dig, fingerprint, shorten

CURSOR = TokenPaginator(("response_metadata", "next_cursor"), "cursor", "limit")
KEPT = (None, "bot_message", "me_message", "file_share", "tombstone")     # not channel joins, topics, pins
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
LINK = re.compile(r"<(#[A-Z0-9]+\|([^>]*)|!(\w+)[^>]*|(https?://[^|>]+)(?:\|([^>]*))?)>")
AUTH = ("not_authed", "invalid_auth", "token_revoked", "token_expired", "account_inactive")


def listing(method: str, records: str, params=None, *, tier: bool = True, **more) -> RestStream:
    """A cursor-paged Web API method (its own rate bucket where Slack limits it below Tier 4)."""
    return RestStream(f"/{method}", CURSOR, records_path=(records,), params=params or {},
                      bucket=method if tier else None, stop=lambda body: body.get("has_more") is False, **more)


def when(ts) -> datetime | None:
    return datetime.fromtimestamp(float(ts), timezone.utc) if ts else None


def archive_url(host: str, channel: str, ts: str) -> str:
    return f"https://{host}/archives/{channel}/p{ts.replace('.', '')}"


name_of = first("profile.real_name", "real_name", "name")


# -- people and readers --------------------------------------------------------------------------

PEOPLE = Directory("/users.info", lambda user: {"name": name_of(user), "email": dig(user, ("profile", "email"))},
                   {"user": "{id}"}, ("user",))      # filled by the users stream, the first of a run


def channel_info(api, channel: str) -> dict:
    return api.remember(("channel", channel), lambda: (api.bucket("conversations.info").get(
        "/conversations.info", {"channel": channel}) or {}).get("channel") or {})


def channel_readers(api, channel: str):
    from access.service import Readers

    if not channel_info(api, channel).get("is_private"):
        return Readers.everyone()
    members = api.records(listing("conversations.members", "members", {"channel": "{channel}"}, tier=False))
    return Readers.of(*(entry for user_id in members
                        for entry in person("slack", user_id, PEOPLE.of(api, user_id)["email"])))


def with_people(records: list, api) -> None:
    """Name the people a thread (or a file) shows: authors and mentions; the channel's name."""
    channel = channel_info(api, api.channel).get("name")
    for record in records:
        thread = [record, *(record.get("_replies") or [])]
        ids = {m["user"] for m in thread if m.get("user")}
        ids |= {u for m in thread for u in MENTION.findall(m.get("text") or "")}
        record["_names"] = {u: PEOPLE.of(api, u)["name"] for u in sorted(ids - {"USLACKBOT"})}
        record["_channel_name"], record["_host"] = channel, api.ctx.handle


# -- documents -----------------------------------------------------------------------------------

def readable(text: str, names: dict) -> str:
    """Slack's mrkdwn references as a person reads them: @name, #channel, link labels."""
    text = MENTION.sub(lambda m: "@" + (names.get(m.group(1)) or m.group(1)), text or "")
    return LINK.sub(lambda m: "#" + m.group(2) if m.group(2) is not None else "@" + m.group(3) if m.group(3)
                    else f"{m.group(5)} ({m.group(4)})" if m.group(5) else m.group(4), text)


def line(message: dict, names: dict) -> str:
    who = names.get(message.get("user")) or (message.get("bot_profile") or {}).get("name") or message.get("username") \
        or message.get("user") or "someone"
    shared = ", ".join(f.get("name") or f.get("title") or f.get("id", "") for f in message.get("files") or [])
    return f"{who} ({when(message['ts']):%Y-%m-%d %H:%M}): {readable(message.get('text'), names)}" + (
        f" [files: {shared}]" if shared else "")


def replies(m: dict) -> list:
    return [r for r in m.get("_replies") or [] if r.get("ts") != m["ts"]]


def thread_lines(m: dict) -> list[str]:
    names = m.get("_names") or {}
    return ([] if m.get("subtype") == "tombstone" else [line(m, names)]) + ["  ↳ " + line(r, names) for r in replies(m)]


def thread_title(m: dict) -> str:
    said = "(deleted message)" if m.get("subtype") == "tombstone" else readable(m.get("text"), m.get("_names") or {})
    return f"#{m.get('_channel_name') or m['_channel']}: {shorten(said, 80)}"


def last_change(m: dict) -> str:
    stamps = [m["ts"], m.get("latest_reply"), (m.get("edited") or {}).get("ts")]
    return max((s for s in stamps if s and s[0] != "0"), key=float)


def author(record: dict) -> str | None:
    return (record.get("_names") or {}).get(record.get("user"))


def mark(m: dict) -> str:
    """What changes on a message history does not move: its thread and edits ("" for neither)."""
    if not (m.get("reply_count") or m.get("edited") or m.get("subtype") == "tombstone"):
        return ""
    return fingerprint([m.get(k) for k in ("text", "edited", "reply_count", "latest_reply", "subtype")])


file_title = first("title", "name", "id")
user_name = first(name_of, "id")
CHANNEL = (("channel", "_channel"), ("channel_name", "_channel_name"))
THREAD = Doc("message", thread_title, content=(thread_lines,), id="ts", author=lambda m: author(m) or m.get("username"),
             created="ts", updated=last_change, time=when,
             url=lambda m: archive_url(m["_host"], m["_channel"], m["ts"]) if m.get("_host") else None,
             metadata=(*CHANNEL, "ts", ("reply_count", lambda m: len(replies(m))),
                       ("participants", lambda m: sorted({n for n in (m.get("_names") or {}).values() if n}))))
FILE = Doc("file", file_title, url="permalink", author=author, created="created",
           content=(file_title, lambda f: f.get("name") if f.get("name") != file_title(f) else None,
                    first("_content", "plain_text", "preview")),
           updated=first("edit_timestamp", "created"), time=when,
           metadata=(*CHANNEL, "name", "filetype", "mimetype", "size"))
USER = Doc("user", user_name, content=(user_name, lambda u: f"@{u.get('name')}", "profile.title", "tz_label"),
           created=None, updated="updated", time=when,
           metadata=("name", ("title", "profile.title"), ("is_bot", lambda u: u.get("is_bot", False))))


CHANNELS = Channels("channel", listing("conversations.list", "channels", {"types": "public_channel,private_channel"}),
                    lookup="/conversations.info?channel={channel}", lookup_path=("channel",),
                    keep=lambda c: c.get("is_member", False), readers=channel_readers)
MESSAGES = StreamSpec(
    "messages", "message", listing("conversations.history", "messages", {"channel": "{channel}"}), THREAD,
    description="Channel messages, one document per thread with its replies", key="ts", ids_per_channel=True,
    channels=CHANNELS, list_ids=True, complete=with_people,
    incremental=Incremental.after_id("oldest", "ts", format=lambda oldest: f"{oldest:.6f}",
                                     lookback=Lookback(mark, setting="reply_window_days")),
    keep=lambda m: m.get("subtype") in KEPT and m.get("thread_ts", m["ts"]) == m["ts"],
    tombstone=lambda m: m.get("subtype") == "tombstone" and not m.get("reply_count"),
    joins=(Join("_replies", listing("conversations.replies", "messages", {"channel": "{channel}", "ts": "{ts}"}),
                args=lambda m: {"ts": m["ts"]} if m.get("reply_count") else None, content=True),),
    fetch=FetchById("/conversations.history", records_path=("messages",), params={
        "channel": "{channel}", "oldest": "{id}", "latest": "{id}", "inclusive": "true", "limit": 1}))
FILES = StreamSpec(
    "files", "file", RestStream("/files.list", PageNumberPaginator(page_size_param="count",
                                                                   total_pages=("paging", "pages")),
                                records_path=("files",), params={"channel": "{channel}"}, bucket="files.list"),
    FILE, description="Files shared in channels, with their text where Slack has it", ids_per_channel=True,
    channels=CHANNELS, incremental=Incremental.newest_first("created", param="ts_from"), list_ids=True,
    complete=with_people, tombstone=lambda f: f.get("mode") == "tombstone",
    joins=(Join("_content", RestStream("/files.info", CURSOR, records_path=("content",), params={"file": "{file}"}),
                args=lambda f: {"file": f["id"]} if f.get("preview_is_truncated") else None, many=False,
                content=True),),
    fetch=FetchById("/files.info", records_path=("file",), params={"file": "{id}"},
                    belongs=lambda f, api: api.channel in (f.get("channels") or []) + (f.get("groups") or [])))
USERS = StreamSpec(
    "users", "user", listing("users.list", "members"), USER, description="Workspace members, to resolve authors",
    readers=everyone, list_ids=True, complete=PEOPLE.remember, tombstone=lambda u: u.get("deleted", False),
    fetch=FetchById("/users.info", records_path=("user",), params={"user": "{id}"}))


# -- actions (https://docs.slack.dev/reference/methods/chat.postMessage) --------------------------------

OPEN_CHANNELS = listing("conversations.list", "channels", {"types": "public_channel,private_channel",
                                                           "exclude_archived": "true"}, tier=False)


def _post_message(params, api) -> list[ProviderRequest]:
    body = {"channel": params["channel"].lstrip("#"), "text": params["text"]}
    if params.get("thread_ts"):
        body["thread_ts"] = params["thread_ts"]
    return [ProviderRequest("POST", "/chat.postMessage", body)]


def _posted(answers, params, api) -> dict:
    channel, ts = answers[-1]["channel"], answers[-1]["ts"]
    return {"id": ts, "channel": channel, "ts": ts, "url": archive_url(api.ctx.handle or "slack.com", channel, ts)}


def _channel_id(name: str, api) -> str | None:
    """A channel's id from its name (conversations.list, read up to the page naming it), or the id itself."""
    if re.fullmatch(r"[CGD][A-Z0-9]{6,}", name):
        return name
    return (api.first(OPEN_CHANNELS, lambda c: c.get("name") == name) or {}).get("id")


def _history(write, params, api, since) -> ProviderRequest | None:
    """What the app's interrupted message would be among: the channel's messages (or the
    thread's replies) since the run began."""
    channel = _channel_id(write.body["channel"], api)
    if channel is None:
        return None
    oldest = f"{since.timestamp():.6f}"
    if write.body.get("thread_ts"):
        return ProviderRequest("GET", "/conversations.replies", params={
            "channel": channel, "ts": write.body["thread_ts"], "oldest": oldest, "limit": 200})
    return ProviderRequest("GET", "/conversations.history", params={"channel": channel, "oldest": oldest, "limit": 200})


# An interrupted post_message: a message by the app since the run began, in its channel (or
# thread, the parent aside), with its text.
FIND_MESSAGE = Lookup(
    _history, lambda write, params: {"text": write.body["text"], "ts": lambda ts: ts != write.body.get("thread_ts")},
    records=("messages",), mine="user", whoami=("/auth.test", "user_id"),
    answer=lambda message, listing: {"ok": True, "channel": listing.params["channel"], "ts": message["ts"]})
ACTIONS = (
    Action("post_message", "Post a message in a channel the app is in (or reply in a thread), as the app.",
           schema(("channel", "text"),
                  channel=string("The channel: its id (C0123ABCD) or its name (#general).",
                                 pattern=r"^#?[A-Za-z0-9][\w.-]{0,79}$"),
                  text=string("The message (Slack mrkdwn).", maxLength=40000),
                  thread_ts=string("Reply in this thread: the parent message's ts.", pattern=r"^\d+\.\d+$")),
           "chat:write", _post_message, _posted, external=True, channel="channel", find=FIND_MESSAGE,
           phrasings=(Phrasing(r"(?:send|post)(?: an?)? (?:message|note) (?:to|in) (?P<channel>#?[\w.-]+)"
                               r"(?: about| saying|:)\s*(?P<text>.+)",
                               "Send message to #general about deployment complete"),
                      Phrasing(r"(?:tell|notify) (?P<channel>#[\w.-]+)(?: that|:)?\s+(?P<text>.+)",
                               "Tell #random that lunch is here"),
                      Phrasing(r"(?:reply|answer) (?:to|in) thread (?P<thread_ts>\d+\.\d+) in (?P<channel>#?[\w.-]+)"
                               r"(?: saying|:)\s*(?P<text>.+)",
                               "Reply to thread 1700000000.000100 in #general saying thanks, merged"))),
)


class SlackConnector(RestConnector):
    catalog = CatalogEntry(
        type="slack", display_name="Slack", category="comms", auth_method="oauth_redirect",
        description="Messages with their threads, shared files and members from the Slack channels your app is in.",
        docs_url="https://docs.slack.dev/apis/web-api/",
        # Slack limits per method (buckets below); Tier 4, the highest a read here uses, caps the connection.
        rate_limits=RateLimits(requests_per_minute=100), base_url="https://slack.com", api_url="https://slack.com/api",
        oauth=OAuthEndpoints(authorize="/oauth/v2/authorize", token="/api/oauth.v2.access", revoke="/api/auth.revoke",
                             scopes=("channels:read", "channels:history", "groups:read", "groups:history", "files:read",
                                     "users:read", "users:read.email",
                                     "chat:write"),     # the post_message action (connectors.actions)
                             token_auth_method="client_secret_basic", scope_separator=","),
        permissions=True)
    streams = (USERS, MESSAGES, FILES)     # users first: a run's authors and readers are then known
    auth = oauth_bearer()
    whoami = WhoAmI("/auth.test", id="team_id", name="team",
                    handle=lambda body: urlsplit(body.get("url") or "").hostname)     # acme.slack.com
    # Errors come as HTTP 200 bodies; a missing scope names the one it ``needed``.
    error_code = error_in_body(said=lambda body, code: body.get("needed") and f"{code}: the app needs {body['needed']}")
    errors = (*(OnError(code=code, error=ProviderAuthError, message="Slack no longer accepts the app's token ({said}); "
                        "reconnect Slack.") for code in AUTH),
              OnError(code="not_in_channel", error=ChannelNotFound, message="The Slack app is not in channel {channel} "
                      "({said}): invite it there, or take the channel off this connection."),
              OnError(code="channel_not_found", error=ChannelNotFound,
                      message="Slack has no channel {channel} the app can see ({said})."),
              OnError(code="missing_scope", message="Slack refused: the app was installed without a scope this needs "
                      "({said}); reconnect to grant it."),
              *(OnError(code=code, skip=True) for code in ("user_not_found", "file_not_found", "thread_not_found")))
    actions = ACTIONS
    buckets = {name: RateLimits(requests_per_minute=rate) for name, rate in (
        ("conversations.list", 20), ("users.list", 20), ("conversations.history", 50), ("conversations.replies", 50),
        ("conversations.info", 50), ("files.list", 50))}
    page_size = 200         # what Slack recommends per page of its cursor-paged methods
    sandbox = {"base_url": "/slack", "api_url": "/slack/api"}
