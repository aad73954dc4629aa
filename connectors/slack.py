"""Slack: an app installed with OAuth v2 (a bot token) reads the channels it is in.

Docs: https://docs.slack.dev/apis/web-api/ -- methods: https://docs.slack.dev/reference/methods/conversations.history
(.list, .info, .replies, .members; files.list, files.info, users.list, users.info, auth.test)
OAuth: https://docs.slack.dev/authentication/installing-with-oauth (oauth.v2.access, comma-separated bot scopes)
Rate limits: https://docs.slack.dev/apis/web-api/rate-limits -- per method per workspace per app: Tier 2
(conversations.list, users.list) 20+/min, Tier 3 (history, replies, info, files.list) 50+/min, Tier 4 100+/min;
429 with Retry-After. Since 2025-05-29 a *commercially distributed* non-Marketplace app gets 1 request/min and
15 messages a page on history/replies; a self-hosted Tributary is an internal app, which keeps Tier 3.

Channels: ``conversations.list`` (public and private) kept where ``is_member``: public channels the app is in,
private ones it was added to; a channel named in the settings is looked up with ``conversations.info``.

Streams (messages and files per channel):

* ``messages``: one document per thread: a top-level message with its replies (``conversations.replies``).
  A thread is the unit of conversation: a question and its answer are found together, a reply never loses its
  context, and nothing is copied into N documents. Incremental by ``oldest`` (history lists newest first and
  never moves an old parent when it gets a reply or an edit), so each pass re-reads a lookback window
  (``reply_window_days``, 7; ``CONNECTORS["slack"]`` can change it) before the cursor and hands over only the
  messages newer than the cursor or whose thread marks (reply count, latest reply, edit) changed; replies are
  fetched only for those. Not seen until the next full sync: a reply or edit to a thread older than the
  window, and an edit of a reply. Deletion: history lists current messages only (a deleted message leaves it:
  Slack's ``message_deleted``/``message_changed`` are Events API events, not history entries); a parent
  deleted with replies stays as ``subtype: tombstone`` (its replies remain a document), one without replies
  is gone. The prune pass lists history's ids and confirms each unseen one with ``history`` at that ``ts``.
* ``files``: ``files.list?channel=`` newest first (page numbers), incremental by ``ts_from`` (creation
  time: a renamed old file waits for the full sync); text from ``preview`` (the first lines of a snippet or
  text file), all of it from ``files.info``'s ``content`` where the preview is cut; PDFs and images are
  metadata only. One document per file and channel it is shared in (readers differ per channel). Deletion:
  the listing, confirmed with ``files.info`` (``file_not_found``).
* ``users``: ``users.list`` every run (no change filter; unchanged users write nothing); deactivated users
  (``deleted: true``) are tombstones. It is read first, so a run names authors and finds members' e-mails
  from it; a run that did not read it (one channel, a takeover) asks ``users.info``, once per person.

Readers: a public channel's messages and files, the whole workspace; a private channel's, its members
(``conversations.members``) as ``slack:<user id>`` and their e-mail addresses (``users:read.email``: how
members' accounts match). The directory of users is the whole workspace's.

Errors come as HTTP 200 ``{"ok": false, "error": ...}``: ``invalid_auth``/``token_revoked``/``account_inactive``
-> reconnect; ``not_in_channel``/``channel_not_found`` fail that channel only; ``missing_scope`` says which.

Not synced: direct messages and group DMs (no ``im:``/``mpim:`` scopes), the text of PDFs and other binary
files, reactions. The bot token does not expire (no token rotation) and the Web API is plain REST, so
Slack's SDK would add nothing here: every request goes through the kit's paced client.
"""
import re
from datetime import datetime, timezone
from urllib.parse import urlsplit

from .actions import Action, Lookup, Phrasing, ProviderRequest, schema, string
from .base import CatalogEntry, DocumentData, OAuthEndpoints, RateLimits
from .errors import ChannelNotFound, ProviderAuthError
from .kit import (Channels, FetchById, Incremental, Join, OnError, RestConnector, StreamSpec, WhoAmI, everyone,
                  oauth_bearer, person as kit_person)
from .rest import (BoundedCache, PageNumberPaginator, RestStream, TokenPaginator, fingerprint, read_after_id,
                   resume_of, shorten)

CURSOR = TokenPaginator(("response_metadata", "next_cursor"), "cursor", "limit")
KEPT = (None, "bot_message", "me_message", "file_share", "tombstone")     # not channel joins, topics, pins
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
LINK = re.compile(r"<(#[A-Z0-9]+\|([^>]*)|!(\w+)[^>]*|(https?://[^|>]+)(?:\|([^>]*))?)>")
MAX_MARKS = 2000


def listing(method: str, records: str, params=None, *, tier: bool = True, **more) -> RestStream:
    """A cursor-paged Web API method (its own rate bucket where Slack limits it below Tier 4)."""
    return RestStream(f"/{method}", CURSOR, records_path=(records,), params=params or {},
                      bucket=method if tier else None, stop=lambda body: body.get("has_more") is False, **more)


def ts_key(ts) -> tuple[int, int]:
    whole, _, micro = str(ts or "0").partition(".")
    return int(whole or 0), int((micro or "0").ljust(6, "0")[:6])


def when(ts) -> datetime | None:
    return datetime.fromtimestamp(float(ts), timezone.utc) if ts else None


def name_of(user: dict) -> str | None:
    return (user.get("profile") or {}).get("real_name") or user.get("real_name") or user.get("name")


def people(api) -> BoundedCache:
    """This run's people by user id, ``{"name", "email"}``: filled by the users stream (the first
    of a run), else asked of ``users.info`` once per person."""
    return api.ctx.memo.setdefault("slack.people", BoundedCache(50_000))


def known(user: dict) -> dict:
    return {"name": name_of(user), "email": (user.get("profile") or {}).get("email")}


def person(api, user_id: str) -> dict:
    load = lambda: known((api.get("/users.info", {"user": user_id}) or {}).get("user") or {})  # noqa: E731
    return people(api).get_or_load(user_id, load)


def remember(users: list, api) -> None:
    found = people(api)
    for user in users:
        found[user["id"]] = known(user)


def channel_info(api, channel: str) -> dict:
    return api.remember(("channel", channel), lambda: (api.bucket("conversations.info").get(
        "/conversations.info", {"channel": channel}) or {}).get("channel") or {})


def channel_readers(api, channel: str):
    from access.service import Readers

    if not channel_info(api, channel).get("is_private"):
        return Readers.everyone()
    return Readers.of(*(entry for user_id in api.records(listing("conversations.members", "members", {
        "channel": "{channel}"}, tier=False)) for entry in kit_person("slack", user_id, person(api, user_id)["email"])))


def with_people(records: list, api) -> None:
    """Name the people a thread (or a file) shows: authors and mentions; the channel's name."""
    channel = channel_info(api, api.channel).get("name")
    for record in records:
        thread = [record, *(record.get("_replies") or [])]
        ids = {m["user"] for m in thread if m.get("user")}
        ids |= {u for m in thread for u in MENTION.findall(m.get("text") or "")}
        record["_names"] = {u: person(api, u)["name"] for u in sorted(ids - {"USLACKBOT"})}
        record["_channel_name"], record["_host"] = channel, api.ctx.handle


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


def thread_document(m: dict) -> DocumentData:
    names, replies = m.get("_names") or {}, [r for r in m.get("_replies") or [] if r.get("ts") != m["ts"]]
    lines = ([] if m.get("subtype") == "tombstone" else [line(m, names)]) + ["  ↳ " + line(r, names) for r in replies]
    first = readable(m.get("text"), names) if m.get("subtype") != "tombstone" else "(deleted message)"
    channel = m.get("_channel_name") or m["_channel"]
    stamps = [m["ts"], m.get("latest_reply"), (m.get("edited") or {}).get("ts")]
    return DocumentData(
        external_id=m["ts"], title=f"#{channel}: {shorten(first, 80)}", content="\n".join(lines), type="message",
        author=names.get(m.get("user")) or m.get("username"), created_at=when(m["ts"]),
        updated_at=when(max((s for s in stamps if s and s[0] != "0"), key=ts_key)),
        url=f"https://{m['_host']}/archives/{m['_channel']}/p{m['ts'].replace('.', '')}" if m.get("_host") else None,
        metadata={"channel": m["_channel"], "channel_name": m.get("_channel_name"), "ts": m["ts"],
                  "reply_count": len(replies), "participants": sorted({n for n in names.values() if n})})


def file_document(f: dict) -> DocumentData:
    title = f.get("title") or f.get("name") or f["id"]
    text = f.get("_content") or f.get("plain_text") or f.get("preview")
    name = f.get("name") if f.get("name") != title else None
    return DocumentData(
        external_id=f["id"], title=title, content="\n".join(filter(None, [title, name, text])), type="file",
        author=(f.get("_names") or {}).get(f.get("user")), url=f.get("permalink"), created_at=when(f.get("created")),
        updated_at=when(f.get("edit_timestamp") or f.get("created")),
        metadata={"channel": f["_channel"], "channel_name": f.get("_channel_name"), "name": f.get("name"),
                  "filetype": f.get("filetype"), "mimetype": f.get("mimetype"), "size": f.get("size")})


def user_document(u: dict) -> DocumentData:
    profile = u.get("profile") or {}
    name = name_of(u) or u["id"]
    return DocumentData(
        external_id=u["id"], title=name, type="user", updated_at=when(u.get("updated")),
        content="\n".join(filter(None, [name, f"@{u.get('name')}", profile.get("title"), u.get("tz_label")])),
        metadata={"name": u.get("name"), "title": profile.get("title"), "is_bot": u.get("is_bot", False)})


def mark(m: dict) -> str:
    """What changes on a message history does not move: its thread and edits ("" for neither)."""
    if not (m.get("reply_count") or m.get("edited") or m.get("subtype") == "tombstone"):
        return ""
    return fingerprint([m.get(k) for k in ("text", "edited", "reply_count", "latest_reply", "subtype")])


def slack_error(body):
    """Slack's error in a 200 body: its code (with the scope it ``needed``, when one is missing)."""
    if not (isinstance(body, dict) and body.get("ok") is False):
        return None
    code = str(body.get("error") or "unknown_error")
    return (code, f"{code}: the app needs {body['needed']}") if body.get("needed") else code


CHANNELS = Channels("channel", listing("conversations.list", "channels", {"types": "public_channel,private_channel"}),
                    lookup="/conversations.info?channel={channel}", lookup_path=("channel",),
                    keep=lambda c: c.get("is_member", False), readers=channel_readers)
MESSAGES = StreamSpec(
    "messages", "message", listing("conversations.history", "messages", {"channel": "{channel}"}), thread_document,
    description="Channel messages, one document per thread with its replies", key="ts", ids_per_channel=True,
    channels=CHANNELS, incremental=Incremental.after_id("oldest", "ts"), list_ids=True, complete=with_people,
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
    file_document, description="Files shared in channels, with their text where Slack has it", ids_per_channel=True,
    channels=CHANNELS, incremental=Incremental.newest_first("created", param="ts_from"), list_ids=True,
    complete=with_people, tombstone=lambda f: f.get("mode") == "tombstone",
    joins=(Join("_content", RestStream("/files.info", CURSOR, records_path=("content",), params={"file": "{file}"}),
                args=lambda f: {"file": f["id"]} if f.get("preview_is_truncated") else None, many=False,
                content=True),),
    fetch=FetchById("/files.info", records_path=("file",), params={"file": "{id}"},
                    belongs=lambda f, api: api.channel in (f.get("channels") or []) + (f.get("groups") or [])))
USERS = StreamSpec(
    "users", "user", listing("users.list", "members"), user_document,
    description="Workspace members, to resolve authors",
    readers=everyone, list_ids=True, complete=remember, tombstone=lambda u: u.get("deleted", False),
    fetch=FetchById("/users.info", records_path=("user",), params={"user": "{id}"}))
AUTH = ("not_authed", "invalid_auth", "token_revoked", "token_expired", "account_inactive")


# -- actions (https://docs.slack.dev/reference/methods/chat.postMessage) --------------------------------

def _post_message(params, api) -> list[ProviderRequest]:
    body = {"channel": params["channel"].lstrip("#"), "text": params["text"]}
    if params.get("thread_ts"):
        body["thread_ts"] = params["thread_ts"]
    return [ProviderRequest("POST", "/chat.postMessage", body)]


def _posted(answers, params, api) -> dict:
    answer = answers[-1]
    host = api.ctx.handle or "slack.com"
    return {"id": answer["ts"], "channel": answer["channel"], "ts": answer["ts"],
            "url": f"https://{host}/archives/{answer['channel']}/p{answer['ts'].replace('.', '')}"}


def _channel_id(name: str, api) -> str | None:
    """A channel's id from its name (conversations.list), or the id itself."""
    if re.fullmatch(r"[CGD][A-Z0-9]{6,}", name):
        return name
    cursor = None
    while True:
        page = api.get("/conversations.list", {"types": "public_channel,private_channel", "exclude_archived": "true",
                                               "limit": 200, **({"cursor": cursor} if cursor else {})}) or {}
        found = next((c["id"] for c in page.get("channels") or [] if c.get("name") == name), None)
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if found or not cursor:
            return found


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
                                     # chat:write: the post_message action (connectors.actions)
                                     "chat:write"),
                             token_auth_method="client_secret_basic", scope_separator=","),
        permissions=True)
    streams = (USERS, MESSAGES, FILES)     # users first: a run's authors and readers are then known
    auth = oauth_bearer()
    whoami = WhoAmI("/auth.test", id="team_id", name="team",
                    handle=lambda body: urlsplit(body.get("url") or "").hostname)     # acme.slack.com
    error_code = staticmethod(slack_error)
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
    reply_window_days = 7

    def read(self, ctx, stream, *, state, mode, channel=None):
        spec, api = self.spec(stream), self.api(ctx, channel)
        if spec is not MESSAGES:
            return super().read(ctx, stream, state=state, mode=mode, channel=channel)
        return self._sorted_pages(spec, api, self._threads(spec, api, state or {}, mode))

    def _threads(self, spec, api, state: dict, mode: str):
        """History pages newest first from ``oldest`` = cursor - window; in the window, only messages whose
        ``mark`` changed. State: ``cursor`` (newest ts), ``window`` ({ts: mark} of the window's threads)."""
        lookback = float(self.settings.get("reply_window_days") or self.reply_window_days) * 86400
        resume = resume_of(state, mode) or {}
        since = resume.get("since") if resume else state.get("cursor") if mode == "incremental" else None
        before = dict(state.get("window") or {}) if since is not None else {}
        marks, top = dict(resume.get("window") or {}), resume.get("top")
        fetch, param = self._fetcher(spec, spec.listing, api), spec.incremental.param

        def feed(after, token):
            return fetch(token, {param: f"{float(after) - lookback:.6f}"} if after else None)
        for page in read_after_id(feed, state=state, mode=mode, ident=lambda m: m["ts"]):
            fresh = []
            for m in page.records:
                top, now = top or float(m["ts"]), mark(m)
                if now and float(m["ts"]) >= top - lookback:
                    marks[m["ts"]] = now
                if since is None or ts_key(m["ts"]) > ts_key(since) or before.get(m["ts"], "") != now:
                    fresh.append(m)
            marks = dict(sorted(marks.items(), key=lambda kv: ts_key(kv[0]))[-MAX_MARKS:])
            if "resume" in page.state:
                page.state.update(window=before, resume={**page.state["resume"], "window": marks, "top": top})
            else:       # the pass is done: its marks are the next pass's, its cursor never goes back
                newest = max(filter(None, (page.state.get("cursor"), since)), key=ts_key, default=None)
                page.state.update(window=marks, cursor=newest)
            page.records = fresh
            yield page
