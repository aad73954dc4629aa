"""Microsoft 365: Teams channel messages with their replies, and OneDrive and SharePoint document
libraries' files as text, through Microsoft Graph v1.0 as the signed-in user (``connectors/_graph.py``:
sign-in, paging, errors). Docs: https://learn.microsoft.com/en-us/graph/api/resources/teams-api-overview,
https://learn.microsoft.com/en-us/graph/api/resources/onedrive; endpoints under
https://learn.microsoft.com/en-us/graph/api/<page> as named below.

``channel_messages`` (channel ``<team id>/<channel id>``: ``GET /me/joinedTeams``, ``/teams/{id}/channels``;
one document per thread: a root message with its replies). Full: ``GET .../messages?$expand=replies``
(channel-list-messages: every root, up to 1,000 replies each, ``$top`` at most 50). Incremental:
``GET .../messages/delta?$expand=replies`` (chatmessage-delta). Delta only reaches eight months back, so
it cannot be the full read; and its one filter, ``lastModifiedDateTime gt``, starts the first round
after a full read from that read's start; later rounds follow ``@odata.deltaLink``. Graph says the
filter returns "reply chains created or changed"; where a new reply does not surface its root in a
delta round, the nightly full read brings it. Deletion: Teams deletes softly (``deletedDateTime``
set): such a root in any read is a tombstone; a root a full read missed is asked for by id
(``GET .../messages/{id}``: 404 or deleted) before it goes. Readers: a standard channel's team members
(``GET /teams/{id}/members``), a private or shared channel's own (``.../channels/{id}/members``), as
``microsoft_365:<user id>`` and e-mail; a team that will not list them hides the channel (fail closed).

``files`` (channel: a drive: the user's OneDrive ``GET /me/drive``, and each document library of the
SharePoint sites ``GET /sites?search=*`` finds, ``GET /sites/{id}/drives``). Full and incremental:
``GET /drives/{id}/root/delta`` (driveitem-delta: its ``token`` of ``@odata.deltaLink`` is the cursor;
a 410 starts a full round). Deleted items carry the ``deleted`` facet (tombstones); a file a full read
missed is asked for by id (404: gone; a deleted folder's files go that way). Text: files up to 10 MB
that are text (text/*, JSON, XML) or Word, Excel and PowerPoint (Office Open XML, read with the
standard library: ``connectors/_text.py``), via ``GET .../items/{id}/content``; other files (PDF,
legacy Office, images) are their name, path, type and size. Readers (``GET .../items/{id}/permissions``,
one request per file): users of ``grantedToV2``/``grantedToIdentitiesV2`` as ``microsoft_365:<id>`` and
e-mail; Entra groups as their members (``GET /groups/{id}/transitiveMembers``, once per run); a sharing
link for the organization or anyone: the whole workspace; SharePoint site groups are not listed by Graph
v1.0 and grant nobody. Permissions that cannot be read hide the file (fail closed).

Rate limits: Teams allows 4 requests a second per team or channel (bucket ``teams``; GET channel
message: 20 per second per app and tenant); SharePoint meters resource units per app and tenant (from
1,250 a minute; a request costs 1 or 2): 600 requests a minute per connection stays inside it.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .actions import Action, Lookup, Phrasing, ProviderRequest, same_words, schema, string
from ._graph import DELTA, GraphConnector, every, graph_errors, next_link, pages, sign_in
from ._text import OFFICE_TYPES, html_text, office_text
from .base import CatalogEntry, Channel, DocumentData, RateLimits
from .errors import ChannelNotFound, ProviderNotFound, ProviderRefused, ReadersUnknown
from .kit import Channels, FetchById, Incremental, StreamSpec
from .rest import iso_z, parse_time, shorten

CHANNEL = "/teams/{team}/channels/{team_channel}"
EXPAND = {"$expand": "replies"}
MAX_BYTES = 10 * 1024 * 1024
TEXT_TYPES = ("application/json", "application/xml", "application/x-yaml")


def readers_of(entries) -> object:
    from access.service import Readers

    return Readers.everyone() if entries == "everyone" else Readers.of(*entries) if entries is not None else None


def person(user: dict | None) -> list[tuple[str, str]]:
    found = [("provider_user", f"microsoft_365:{user['id']}")] if (user or {}).get("id") else []
    email = (user or {}).get("email") or (user or {}).get("mail")
    return found + ([("email", email.lower())] if email else [])


# -- Teams ---------------------------------------------------------------------------------------------

def body_text(message: dict) -> str:
    body = message.get("body") or {}
    return html_text(body.get("content")) if body.get("contentType") == "html" else (body.get("content") or "")


def thread(message: dict) -> DocumentData:
    replies = [r for r in message.get("replies") or [] if not r.get("deletedDateTime")]
    author = lambda m: (((m.get("from") or {}).get("user") or {}).get("displayName"))  # noqa: E731
    text = body_text(message)
    changed = max([message.get("lastModifiedDateTime") or ""] + [r.get("lastModifiedDateTime") or "" for r in replies])
    where = message.get("channelIdentity") or {}
    return DocumentData(
        external_id=message["id"], title=message.get("subject") or shorten(text, 80) or f"Message {message['id']}",
        content="\n\n".join([text] + [f"{author(r) or 'Someone'}: {body_text(r)}" for r in replies]), type="message",
        url=message.get("webUrl"), author=author(message), created_at=parse_time(message.get("createdDateTime")),
        updated_at=parse_time(changed), metadata={"team_id": where.get("teamId"), "channel_id": where.get("channelId"),
                                                  "reply_count": len(replies), "importance": message.get("importance")})


def channel_readers(api, channel: str):
    """A channel's members: the team's for a standard channel, its own for a private or shared one."""
    try:
        kind = api.get(api.fill(CHANNEL)).get("membershipType")
        listed = every(api, "/teams/{team}/members" if kind == "standard" else CHANNEL + "/members")
        return readers_of([entry for member in listed for entry in person({**member, "id": member.get("userId")})])
    except ProviderRefused as exc:
        raise ReadersUnknown(f"Microsoft Graph would not list the members of Teams channel {channel} "
                             f"({(exc.details or {}).get('provider_message') or exc.message}); its messages are hidden "
                             "from every member until it does.", details={**(exc.details or {}), "channel": channel}
                             ) from None


def since_now(api) -> dict:
    """The first delta round after a full read: what changed from that read's start (a few minutes'
    margin for clocks that disagree; a message seen twice is stored once)."""
    return {"$filter": f"lastModifiedDateTime gt {iso_z(datetime.now(timezone.utc) - timedelta(minutes=5))}"}


MESSAGES = StreamSpec(
    "channel_messages", "message", pages(CHANNEL + "/messages", bucket="teams", page_size=50, **EXPAND),
    description="Teams channel messages with their replies, one document per thread", document=thread,
    channels=Channels("channel", pages("/me/joinedTeams"), readers=channel_readers),
    incremental=Incremental.sync_token(None, DELTA, start=since_now, changes=pages(
        CHANNEL + "/messages/delta", bucket="teams", page_size=50, **EXPAND)),
    tombstone=lambda m: bool(m.get("deletedDateTime")), keep=lambda m: m.get("messageType") == "message",
    fetch=FetchById(CHANNEL + "/messages/{id}", params=EXPAND))


# -- OneDrive and SharePoint ------------------------------------------------------------------------------

def file_text(api, item: dict) -> str | None:
    mime = (item.get("file") or {}).get("mimeType") or ""
    kind = OFFICE_TYPES.get(mime) or ("text" if mime.startswith("text/") or mime in TEXT_TYPES else None)
    if kind is None or (item.get("size") or 0) > MAX_BYTES:
        return None
    try:
        data = api.download(api.fill("/drives/{channel}/items/{item}/content", item=item["id"]))
    except ProviderRefused:         # gone since it was listed, or not ours to read
        return None
    return data.decode("utf-8", "replace") if kind == "text" else office_text(data, kind)


def file_readers(api, item: dict):
    """``[(kind, value)]``, ``"everyone"``, or None where Graph will not say (see the docstring)."""
    try:
        permissions = list(every(api, "/drives/{channel}/items/{item}/permissions", item=item["id"]))
    except ProviderRefused:
        return None
    found = set()
    for permission in permissions:
        if ((permission.get("link") or {}).get("scope")) in ("organization", "anonymous"):
            return "everyone"
        for granted in [permission.get("grantedToV2")] + list(permission.get("grantedToIdentitiesV2") or []):
            found.update(person((granted or {}).get("user")))
            if ((granted or {}).get("group") or {}).get("id"):
                found.update(group_members(api, granted["group"]["id"]))
    return sorted(found)


def group_members(api, group_id: str) -> list:
    """An Entra group's members, once per run; a group Graph will not list grants nobody."""
    memo = ("microsoft_365.group", group_id)
    if memo not in api.ctx.memo:
        try:
            listed = every(api, "/groups/{group}/transitiveMembers", group=group_id)
            api.ctx.memo[memo] = [entry for user in listed for entry in person(user)]
        except ProviderRefused:
            api.ctx.memo[memo] = []
    return api.ctx.memo[memo]


def with_text_and_readers(items: list, body, api) -> None:
    for item in items:
        if "file" in item and "deleted" not in item:
            item["_text"] = file_text(api, item) if api.ctx.content_wanted else None
            item["_readers"] = file_readers(api, item) if api.ctx.readers_wanted else None


def file_document(item: dict) -> DocumentData:
    where = ((item.get("parentReference") or {}).get("path") or "").partition("root:")[2] or "/"
    mime, text = (item.get("file") or {}).get("mimeType"), item.get("_text")
    return DocumentData(
        external_id=item["id"], title=item.get("name") or item["id"], type="file", url=item.get("webUrl"),
        content=text if text else f"{item.get('name')} ({mime}, {item.get('size')} bytes) in {where}",
        author=(((item.get("createdBy") or {}).get("user")) or {}).get("displayName"),
        created_at=parse_time(item.get("createdDateTime")), updated_at=parse_time(item.get("lastModifiedDateTime")),
        metadata={"path": where, "mime_type": mime, "size": item.get("size"), "text_extracted": bool(text),
                  "drive_id": (item.get("parentReference") or {}).get("driveId")})


FILES = StreamSpec(
    "files", "file", pages("/drives/{channel}/root/delta"), document=file_document,
    description="OneDrive and SharePoint document library files, as text where they have it",
    channels=Channels("drive", pages("/me/drives"), lookup="/drives/{channel}"),
    incremental=Incremental.sync_token(None, DELTA), enrich=with_text_and_readers,
    tombstone=lambda item: "deleted" in item, keep=lambda item: "file" in item,
    fetch=FetchById("/drives/{channel}/items/{id}"), readers=lambda item: readers_of(item.get("_readers")))


# -- actions (https://learn.microsoft.com/en-us/graph/api/channel-post-messages) ------------------------------

def _post_message(params, api):
    team, _, channel = params["channel"].partition("/")
    return [ProviderRequest("POST", f"/teams/{team}/channels/{channel}/messages",
                            {"body": {"contentType": "text", "content": params["text"]}})]


# An interrupted post_message: a root message of the channel changed since the run began (the
# channel's delta filtered by lastModifiedDateTime, every page: the plain listing takes no filter
# and orders by last change), by the person who connected, created since, saying the text (by its
# words: Teams keeps it as HTML).
FIND_MESSAGE = Lookup(
    lambda write, params, api, since: ProviderRequest("GET", write.path + "/delta", params={
        "$filter": f"lastModifiedDateTime gt {since.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}",
        "$top": 50}),
    lambda write, params: {"body.content": same_words(write.body["body"]["content"]), "deletedDateTime": None},
    records=("value",), mine="from.user.id", whoami=("/me", "id"), made="createdDateTime", more=next_link)


ACTIONS = (
    Action("post_message", "Post a message in a Teams channel, as the person who connected.",
           schema(("channel", "text"), channel=string("The channel, <team id>/<channel id> (as the channels setting "
                                                      "names it).", pattern=r"^[\w-]+/(?!\.\.?$)[\w.:@-]+$"),
                  text=string("The message (plain text).", maxLength=28000)),
           "ChannelMessage.Send", _post_message,
           lambda answers, params, api: {"id": answers[-1]["id"], "url": answers[-1].get("webUrl")},
           external=True, channel="channel", find=FIND_MESSAGE,
           phrasings=(Phrasing(r"(?:send|post)(?: an?)? message (?:to|in) (?:teams channel )?(?P<channel>[\w.:@-]+/[\w.:@-]+)"
                               r"(?: about| saying|:)\s*(?P<text>.+)",
                               "Post a message to team-1/channel-2 saying standup moved to 10:00"),)),
)


class Microsoft365Connector(GraphConnector):
    catalog = CatalogEntry(
        type="microsoft_365", display_name="Microsoft 365", category="docs", auth_method="oauth_redirect",
        description="Teams channel conversations, and OneDrive and SharePoint files as text, from Microsoft 365.",
        docs_url="https://learn.microsoft.com/en-us/graph/overview",
        rate_limits=RateLimits(requests_per_minute=600), base_url="https://login.microsoftonline.com",
        api_url="https://graph.microsoft.com/v1.0", permissions=True,
        # Every scope past Team.ReadBasic.All and Channel.ReadBasic.All needs a tenant administrator's consent.
        oauth=sign_in("Team.ReadBasic.All", "Channel.ReadBasic.All", "TeamMember.Read.All", "ChannelMember.Read.All",
                      "ChannelMessage.Read.All", "Files.Read.All", "Sites.Read.All", "GroupMember.Read.All",
                      "ChannelMessage.Send"))     # the post_message action
    streams = (MESSAGES, FILES)
    actions = ACTIONS
    buckets = {"teams": RateLimits(requests_per_minute=240)}
    errors = graph_errors("(ChannelMessage.Read.All, TeamMember.Read.All, ChannelMember.Read.All, Files.Read.All, "
                          "Sites.Read.All and GroupMember.Read.All need a tenant administrator's consent.)")

    def channel_args(self, channel: str) -> dict:
        team, _, team_channel = channel.partition("/")
        return {"team": team, "team_channel": team_channel} if team_channel else {}

    def channels(self, ctx, stream):
        """Teams channels are listed per joined team, drives per site: two levels each."""
        memo, api = ("microsoft_365.channels", self.spec(stream).name), self.api(ctx)
        if memo not in ctx.memo:
            if self.spec(stream) is MESSAGES:
                ctx.memo[memo] = [Channel(f"{team['id']}/{ch['id']}", f"{team['displayName']} / {ch['displayName']}",
                                          {"membership": ch.get("membershipType")})
                                  for team in every(api, "/me/joinedTeams")
                                  for ch in every(api, "/teams/{team}/channels", team=team["id"])]
            else:
                mine = api.get("/me/drive")
                owner = ((mine.get("owner") or {}).get("user") or {}).get("displayName")
                ctx.memo[memo] = [Channel(mine["id"], f"OneDrive of {owner}" if owner else "OneDrive")] + [
                    Channel(d["id"], f"{site.get('displayName')} / {d.get('name')}")
                    for site in every(api, "/sites", {"search": "*"})
                    for d in every(api, "/sites/{site}/drives", site=site["id"])]
        return ctx.memo[memo]

    def channel(self, ctx, stream, channel_id):
        """A drive by its id, a Teams channel as ``<team id>/<channel id>`` (an id of the other kind
        is not asked for: a sync job of one channel names one kind)."""
        teams = self.spec(stream) is MESSAGES
        if teams != ("/" in channel_id):
            raise ChannelNotFound(f"{channel_id!r} is not a {'Teams channel' if teams else 'drive'} id.",
                                  details={"channel_id": channel_id})
        if not teams:
            return super().channel(ctx, stream, channel_id)
        api = self.api(ctx, channel_id)
        try:
            found = api.get(api.fill(CHANNEL))
        except ProviderNotFound as exc:
            raise ChannelNotFound(f"Microsoft 365 has no Teams channel {channel_id} that this connection can read.",
                                  details={"channel_id": channel_id, **(exc.details or {})}) from None
        return Channel(channel_id, found.get("displayName") or channel_id, {"membership": found.get("membershipType")})
