"""The connector kit: a REST connector as declarations, with code only where the provider is special.

A connector subclasses :class:`RestConnector` and declares, once:

* its catalog entry (without ``streams``: they come from the declarations below);
* ``auth`` -- how each request is authenticated: :func:`oauth_bearer` (the connection's OAuth
  token, refreshed through ``ctx.access_token`` per request), :func:`api_key` (the key the
  connection stores), :func:`basic` (that key as HTTP Basic's username), :func:`app_token` (an
  operator setting, X's app bearer token);
* the defaults every stream shares: ``headers``, ``page_size`` (the provider's maximum; tests
  lower it), ``errors`` (:class:`OnError` rules), ``error_code`` (for providers that answer
  errors with HTTP 200, Slack's ``{"ok": false, "error": ...}``: the code, or ``(code, message)``;
  :func:`error_in_body` declares the common shape),
  ``rate_limit_codes`` (error codes of a 403 that mean "slow down": Google's
  ``userRateLimitExceeded``), ``buckets`` (per-endpoint rate limits, by name), ``whoami``
  (:class:`WhoAmI`: ``check``/``account`` from one endpoint), ``sandbox`` (its emulation's paths),
  ``url_settings`` (connect settings the deployment's URLs name, filled per connection: Zendesk's
  ``{subdomain}``, stored as its DNS label at connect: ``account_setting``), ``account_host``
  (:class:`AccountHost`: the account a connect setting names, Freshdesk's helpdesk, read from what the
  user typed and shown by ``check``), ``channels_checked``
  (the channels a connection names looked up when it connects: Figma's teams);
* ``streams``: one :class:`StreamSpec` per stream. Each is written once and carries everything
  the engine asks for: the listing (a :class:`~connectors.rest.RestStream`: path, records path,
  paginator, params, page size, rate bucket), ``incremental`` (:class:`Incremental`; with
  :class:`Lookback` where old records change in place without moving: Slack's threads), ``key``
  (the primary key), ``list_ids`` (the id listing for deletion detection), ``fetch``
  (:class:`FetchById`: confirm before delete), ``document`` (record -> ``DocumentData``),
  ``readers`` (with ``readers_said``: who, in words, for the README; :func:`stored_readers`,
  :func:`kept_readers` and :func:`same_readers` for readers a hook names), ``joins``
  (:class:`Join`: child records per parent, or the parent per child), ``over`` (:class:`Over`: the
  stream's records are listed per record of another listing), ``removed`` (:class:`Removed`: a
  listing of removals read as tombstones before an incremental),
  ``channels`` (:class:`Channels`), ``tombstone``, ``keep``, ``enrich`` (before the joins), ``complete``
  (after them; :class:`Directory`: a run's people, filled by the stream that lists them, else
  looked up once each), ``ids_per_channel``, ``parents``/``rederive``, ``of_channels`` (a stream
  of the channels themselves), ``every`` (records listed by code).

``RestConnector`` implements ``read``, ``to_document``, ``list_ids``, ``fetch_records``,
``channels``, ``channel``, ``channel_readers``, ``rederive``, ``check`` and ``account`` from them.
``api_root(ctx)`` says where a connection's API is (the ``api_url`` setting; Salesforce's is the
org's instance, kept from its token answer).
A capability not declared is absent, never an error: a stream without ``list_ids`` has no id
listing (``None``: the engine prunes nothing), one without ``fetch`` deletes nothing unconfirmed.

What the kit keeps from ``connectors.rest``: every page's state is checkpointed with the page
(the engine stores both in one transaction); listings are overlap-safe (the readers drop exact
repeats of the previous page and never skip a record on a boundary timestamp); page tokens are
stored as query parameters, never URLs; every request goes through one paced
:class:`~connectors.http.ProviderClient` per rate bucket, holding the connection's limiter.

Placeholders. Paths (and string params) of listings, lookups and fetches may name ``{channel}``
(the unit's channel id), ``{account}`` (the connection's ``external_account_id``), ``{handle}``,
any connection setting, what the connector's ``placeholders()`` gives (another API root of
the deployment's: Pipedrive's ``{v2}``) and what ``RestConnector.channel_args`` reads out of a
channel id (a Teams channel ``<team>/<channel>`` names two path segments); joins and fetches add
the fields their ``args`` return. A placeholder without a value is a ``ValueError`` naming it.

Incremental styles (:class:`Incremental`), each on a reader of ``connectors.rest``:

=================== ==================================================== ===========================
style               the provider                                        examples
=================== ==================================================== ===========================
``since``           filters ``updated >= cursor`` (inclusive), ascending GitHub ``since``, Jira JQL,
                                                                         Confluence CQL, Pipedrive
``newest_first``    sorts newest first (optionally filters by ``param``) Notion search, Slack
                    : stop at the cursor                                 files, GitHub pulls
``window``          filters ``updated >= cursor`` in no promised order:  Freshdesk contacts
                    every page read, next cursor = this pass's start     (``_updated_since``)
``after_id``        ids grow with time, filters ``id > cursor``          X ``since_id``; Slack
                    (:class:`Lookback`: old records change in place)     history ``oldest``
``sync_token``      hands out a token for "what changed since"           Calendar ``syncToken``,
                                                                         Graph delta, Drive changes
``stamped``         filters nothing; stamps each record with its change: Figma files
                    read whole (``every``), handed over from the cursor
(none)              nothing: every run reads the listing                 small listings
=================== ==================================================== ===========================

Records no one listing has (Figma's files, two listings down) are listed by code (``every``) and read
whole each run; with ``stamped`` they are handed over from the cursor by :func:`changed_since`.

Writing a connector (a complete minimal one, for a provider "Acme" with notes in folders)::

    from .base import CatalogEntry, DocumentData, RateLimits
    from .kit import Channels, FetchById, Incremental, OnError, RestConnector, StreamSpec, WhoAmI, api_key
    from .rest import LinkHeaderPaginator, RestStream, TokenPaginator, parse_time
    from .errors import ProviderRefused

    FOLDERS = Channels("folder", RestStream("/folders", TokenPaginator(("next",), "cursor", "limit"),
                                            records_path=("folders",)), lookup="/folders/{channel}")

    def note(record) -> DocumentData:
        return DocumentData(external_id=str(record["id"]), title=record["title"], content=record["body"],
                            type="note", updated_at=parse_time(record["updated_at"]))

    class AcmeConnector(RestConnector):
        catalog = CatalogEntry(type="acme", display_name="Acme", category="docs", auth_method="api_key",
                               description="Notes from Acme.", docs_url="https://acme.example/api",
                               api_url="https://api.acme.example", rate_limits=RateLimits(requests_per_minute=600))
        auth = api_key("Authorization", "Bearer ")
        whoami = WhoAmI("/me", id="id", handle="email", name="name")
        errors = (OnError(403, error=ProviderRefused, message="Acme refused to read this folder: {said}"),)
        buckets = {"export": RateLimits(requests_per_minute=10)}
        page_size = 100
        streams = (
            StreamSpec("notes", "note", RestStream("/folders/{channel}/notes", LinkHeaderPaginator(),
                                                   params={"sort": "updated", "order": "asc"}),
                       document=note, channels=FOLDERS, incremental=Incremental.since("updated_since", "updated_at"),
                       list_ids=RestStream("/folders/{channel}/notes/ids", LinkHeaderPaginator()),
                       fetch=FetchById("/notes", ids_param="ids", records_path=("notes",)),
                       tombstone=lambda r: r.get("deleted", False)),
        )

        @classmethod
        def sandbox_settings(cls, sandbox_url):
            return {"api_url": f"{sandbox_url}/acme"}

Its emulation is a page of ``sandbox/kit.py`` declarations (see that module's docstring), and its
tests follow ``tests/connectors/test_twitter_sync.py``: one end-to-end walk through the engine
against the sandbox (full, incremental with no change, deletion detection, readers, a 429 with
Retry-After, an error body surfaced in the provider's words) plus reader-level tests like
``tests/connectors/test_twitter_streams.py``; ``tests/connectors/test_kit.py`` shows every
declaration against a small emulation.
"""
from __future__ import annotations

import base64
import dataclasses
import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

from .base import Account, CatalogEntry, Channel, Connector, DocumentData, Page, RateLimits, Stream, SyncContext
from .errors import (ChannelNotFound, InvalidCredentials, ProviderAuthError, ProviderError, ProviderNotFound,
                     ProviderRefused, ReadersUnknown)
from .http import ProviderClient
from .ratelimit import RateLimiter
from .rest import (BoundedCache, RestStream, SyncTokenExpired, dig, iso_z, read_after_id, read_listing, read_lookback,
                   read_sync_token, read_updated_desc, read_updated_since, resume_of)


def field_of(spec) -> Callable[[dict], object]:
    """A record field: a dotted path (``"fields.updated"``) or a callable of the record."""
    if callable(spec):
        return spec
    path = tuple(str(spec).split("."))
    return lambda record: dig(record, path)


def _text_of(spec) -> Callable[[dict], str]:
    get = field_of(spec)
    return lambda record: str(get(record))


# -- auth ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Auth:
    """Headers for each request, from the connector (its settings) and the connection (``ctx``);
    asked for per request, so a token refreshed mid-run is used from the next request on."""

    headers: Callable[[Connector, SyncContext], dict]


def oauth_bearer(scheme: str = "Bearer") -> Auth:
    """The connection's OAuth access token (refreshed when needed by ``ctx.access_token``)."""
    return Auth(lambda connector, ctx: {"Authorization": f"{scheme} {ctx.access_token()}"})


def api_key(header: str = "Authorization", prefix: str = "Bearer ", credential: str = "api_key") -> Auth:
    """The key the connection stores (``credentials[credential]``), in ``header``."""
    return Auth(lambda connector, ctx: {header: prefix + str((ctx.credentials or {}).get(credential, ""))})


def basic(credential: str = "api_key", password: str = "X") -> Auth:
    """HTTP Basic with the stored key as the username (Freshdesk: ``<key>:X``)."""
    def headers(connector, ctx):
        pair = f"{(ctx.credentials or {}).get(credential, '')}:{password}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    return Auth(headers)


def app_token(setting: str = "bearer_token", scheme: str = "Bearer") -> Auth:
    """The deployment's own app token (an operator setting), for handle connectors."""
    return Auth(lambda connector, ctx: {"Authorization": f"{scheme} {connector.settings.get(setting)}"})


# -- declarations -------------------------------------------------------------------------------

@dataclass(frozen=True)
class OnError:
    """What one kind of provider error means here, and what a person is told.

    Matches ``status`` (the HTTP status; None: any) and ``code`` (the provider's own error
    code: what ``RestConnector.error_code`` read from a 200 body, or ``provider_code`` as
    ``http.provider_said`` found it in an error body; None: any). ``error`` is the class raised
    (from ``connectors.errors``: ``ProviderRefused``, ``ProviderNotFound``, ``ChannelNotFound``,
    ``ProviderAuthError``, ``ReadersUnknown``, ``ProviderError`` for transient ones) with
    ``message`` formatted with ``{provider}``, ``{said}`` (the provider's own message) and
    ``{channel}``; the details keep everything ``http.provider_said`` kept. ``skip``: answer
    as "no records" instead (a channel the app was removed from)."""

    status: int | None = None
    code: str | None = None
    error: type = ProviderRefused
    message: str | None = None
    skip: bool = False
    said: str | None = None     # a regular expression the provider's own message must match (Figma's
                                # 403 "Invalid token", where its body carries no code)


@dataclass(frozen=True)
class Incremental:
    """How a stream reads only what changed; build it with one of the class methods."""

    style: str
    cursor: object = None                   # the cursor field: dotted path or callable
    param: str | None = None                # the request parameter fed straight from the cursor
    # cursor (None: a full pass) -> parameter value; format(cursor, api) when the value needs
    # the run (the unit's channel, the user's time zone: Jira's JQL, Confluence's CQL).
    format: Callable[..., object] | None = None
    params: dict = field(default_factory=dict)          # more parameters of incremental requests
    token_path: tuple[str, ...] = ()        # sync_token: where a body carries the next token
    changes: RestStream | None = None       # sync_token: a listing of changes of its own
    start: object = None                    # sync_token: GET this (or call it with the Api) for a token
                                            # before a full pass
    start_path: tuple[str, ...] = ()
    expired: tuple[int, ...] = (410,)       # sync_token: statuses of a token too old
    coarse: bool = False                    # newest_first: the cursor field has coarse steps
    full_listing: timedelta | None = None   # since: a full pass reads the plain listing (see since)
    lookback: "Lookback | None" = None       # after_id: old records change in place (see Lookback)

    @classmethod
    def since(cls, param: str, cursor, *, format=None, params=None,
              full_listing: timedelta | None = None) -> "Incremental":
        """The provider filters ``cursor >= value`` (inclusive) and sorts ascending by it: the
        boundary timestamp is read again and its exact repeats dropped (``read_updated_since``).
        The cursor's values must sort in time order as text (one fixed format).

        ``full_listing``: a full pass (and the first pass) reads the stream's listing as declared
        instead -- a keyset on the id, where a record changed mid-read moves nothing -- and the
        next pass starts from when it began, less this margin for clock skew (an RFC 3339 UTC
        cursor, ``iso_z``); ``params`` then apply to incremental passes only (Pipedrive v2)."""
        return cls("since", cursor, param, format, dict(params or {}), full_listing=full_listing)

    @classmethod
    def newest_first(cls, cursor, *, param: str | None = None, format=None, params=None,
                     coarse: bool = False) -> "Incremental":
        """The listing sorts newest first; a pass stops at the first record older than the
        cursor (``read_updated_desc``). ``param``, if the provider has one, also filters by it.
        ``coarse``: the cursor field moves in steps wider than the edits it records (Notion
        rounds ``last_edited_time`` to the minute), so a record edited again within the cursor's
        step looks unchanged: the records on the cursor are handed over again on every pass
        (ingest skips the unchanged by content hash) instead of dropped as seen."""
        return cls("newest_first", cursor, param, format, dict(params or {}), coarse=coarse)

    @classmethod
    def window(cls, param: str, *, margin: timedelta = timedelta(minutes=5), params=None) -> "Incremental":
        """The provider filters ``updated >= value`` but promises no order (Freshdesk's contacts,
        ``_updated_since``): every page of the filtered listing is read, and the next pass starts
        from when this one began, less ``margin`` for clock skew (an RFC 3339 UTC cursor). A full
        pass reads the listing unfiltered."""
        return cls("window", None, param, None, dict(params or {}), full_listing=margin)

    @classmethod
    def stamped(cls, cursor) -> "Incremental":
        """The provider filters by nothing but stamps each record with its last change (Figma's
        files' ``last_modified``): the records (``StreamSpec.every``) are read whole each run and
        handed over from the cursor on by :func:`changed_since`."""
        return cls("stamped", cursor)

    @classmethod
    def after_id(cls, param: str, cursor="id", *, format=None, lookback: "Lookback | None" = None) -> "Incremental":
        """Ids grow with time and the provider filters ``id > cursor`` (``read_after_id``); with
        ``lookback``, ids are times and old records change in place (``read_lookback``): ``format``
        then writes the window's start, seconds."""
        return cls("after_id", cursor, param, format, lookback=lookback)

    @classmethod
    def sync_token(cls, param: str | None, token_path: tuple[str, ...], *, changes: RestStream | None = None,
                   start: str | Callable[["Api"], object] | None = None, start_path: tuple[str, ...] = (),
                   expired: tuple[int, ...] = (410,)) -> "Incremental":
        """The provider hands out a sync token (``read_sync_token``): ``token_path`` in the last
        page's body (a URL there, Graph's deltaLink, is kept as its query when ``param`` is None);
        ``changes`` when changes are listed elsewhere (Drive ``/changes``); ``start``: a path to GET
        a token from before a full pass (Drive ``/changes/startPageToken``), or ``start(api)``
        giving one (Teams channel messages: the first delta round's ``$filter`` from the full
        pass's start time, where the full listing itself ends without a token)."""
        return cls("sync_token", None, param, None, {}, tuple(token_path), changes, start, tuple(start_path),
                   tuple(expired))


@dataclass(frozen=True)
class Lookback:
    """``Incremental.after_id`` for a listing whose old records change in place without moving
    (Slack's threads: a reply or an edit never moves its parent in history): each incremental pass
    re-reads ``days`` before the cursor (the connector setting ``setting`` overrides them) and
    hands over only what is newer or whose ``mark(record)`` changed (``rest.read_lookback``)."""

    mark: Callable[[dict], str]
    days: float = 7
    setting: str | None = None
    keep: int = 2000            # marks kept between passes (the window's newest)


@dataclass(frozen=True)
class FetchById:
    """Records by id, to confirm before deleting what a listing did not show. Without
    ``ids_param``: one request per id at ``path`` (``{id}``; 404/410: gone); with it: a batch
    endpoint taking ``batch`` ids comma-joined in ``ids_param``, where an id not answered is gone.
    ``args(external_id)``: the placeholders of ``path`` where a document's id is not the
    provider's (GitHub's ``owner/name#12`` -> ``{"id": "12"}``; default: the id as ``{id}``).
    ``belongs``: whether an answered record is still this stream's (an issue transferred
    elsewhere is not). ``pattern``: what an id the provider could have looks like (a regular
    expression); another is gone without asking (Pipedrive answers 400 to a malformed id)."""

    path: str
    ids_param: str | None = None
    batch: int = 100
    records_path: tuple[str, ...] = ()
    params: dict = field(default_factory=dict)
    belongs: Callable[[dict, "Api"], bool] | None = None
    args: Callable[[str], dict] | None = None
    pattern: str | None = None


@dataclass(frozen=True)
class Join:
    """Records fetched for each record of a page and attached to it as ``record[into]``.

    ``args(record)`` gives the placeholders of ``listing``'s path and params (None: nothing to
    fetch for this record). ``many``: every page of the listing, as a list (a thread's replies, a
    page's blocks, an issue's comments); else the one object at ``listing.records_path`` (a
    comment's issue). ``cache``: remember that many answers per run (one issue for its many
    comments). ``nested(child)``: the args of a child's own children (Notion's blocks with
    ``has_children``), read the same way into ``child[into]``, at most ``depth`` levels down.
    ``required``: a record whose join found nothing is not this stream's (a page without
    comments has no comments document). A parent gone since (404/410: an issue deleted or
    transferred) joins as None (or ``[]``): its child is still read. ``content``: the join
    reads content alone (a page's blocks, an issue's comments), so a permissions pass, which
    stores readers only (``SyncContext.content_wanted``), skips it (never with ``required``)."""

    into: str
    listing: RestStream
    args: Callable[[dict], dict | None]
    many: bool = True
    cache: int = 0
    nested: Callable[[dict], dict | None] | None = None
    depth: int = 8
    required: bool = False
    content: bool = False

    def __post_init__(self):
        if self.content and self.required:
            raise ValueError(f"join {self.into!r}: a required join decides which records exist; it is not content alone")


@dataclass(frozen=True)
class Removed:
    """Where the provider lists what it removed (HubSpot's ``archived=true``, Notion's trash):
    read before each incremental pass, the records removed since the cursor (``when``: the time
    of their removal, in the cursor's format) are handed over as tombstones. ``what`` names them
    in the README's capability table."""

    listing: RestStream
    when: object
    what: str = "removed records"


@dataclass(frozen=True)
class Over:
    """A stream whose listing is read once per record of another listing (a Jira project's
    boards, each board's sprints): ``args(parent)`` fills the stream listing's placeholders
    (None: this parent has none of the stream's records).
    The parents are listed at the start of a pass and the children are read parent by parent,
    a checkpoint per page (``{"resume": {"parent": <its args>, "inner": <the child listing's
    state>}}``); a pass resumed after its parent went starts over (a full pass reads the same
    records twice rather than skip one). Id listings (``list_ids=True``) and deletion detection
    walk the parents the same way."""

    listing: RestStream
    args: Callable[[dict], dict]


@dataclass(frozen=True)
class Channels:
    """The channels of the streams that name this declaration: listed by ``listing`` (``keep``
    filters), looked up one by one at ``lookup`` (a path with ``{channel}``; 404:
    ``ChannelNotFound``); ``readers(api, channel_id)`` says who may read everything of one
    (asked once per run per channel; a ``ReadersUnknown`` it raises is kept for the run too).
    Each channel's record, as listed or looked up, is kept for the run
    (``RestConnector.channel_record``). ``pattern``: what a channel id looks like (a regular
    expression); another one is refused before any request is made. ``every(api)``: the channels'
    records listed by code where no one listing has them all (Discord's servers' channels and
    threads); ``listing`` then serves a stream of the channels only as its declaration. ``id=None``: a
    lookup's answer names no id (Figma's team, answered with its projects): the channel is the id asked."""

    kind: str
    listing: RestStream
    id: object = "id"
    name: object = "name"
    lookup: str | None = None
    lookup_path: tuple[str, ...] = ()
    keep: Callable[[dict], bool] | None = None
    readers: Callable[["Api", str], object] | None = None
    pattern: str | None = None
    every: Callable[["Api"], list] | None = None    # code that lists them instead of ``listing``
    # The ids a connection names at connect (its ``channels`` setting) may be typed as addresses
    # (Figma's team URLs): ``typed`` matches what was typed (its first group that matched is the
    # id), ``typed_hint`` says where a person finds one; see ``RestConnector.normalize_settings``.
    typed: re.Pattern | None = None
    typed_hint: str = ""


@dataclass(frozen=True)
class AccountHost:
    """The connection's own account at the provider, named by the connect setting ``setting``
    (Freshdesk's helpdesk: ``acme``, ``acme.freshdesk.com`` or its URL, read as the DNS label
    ``acme``), which fills ``{setting}`` in the deployment's API URL. ``check`` shows the account
    as ``<label>.<domain>`` and words the provider's 404 as the ``noun`` it does not have; both
    that and a label that cannot be one are ``InvalidCredentials`` on the setting."""

    setting: str
    domain: str
    noun: str = "account"

    def label(self, settings: dict | None, provider: str) -> str:
        typed = str((settings or {}).get(self.setting) or "").strip()
        match = re.fullmatch(r"(?:https?://)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:%s)?/?"
                             % re.escape(f".{self.domain}"), typed, re.I)
        if not match:
            raise InvalidCredentials(f"settings.{self.setting} is your {self.noun}'s {provider} domain: acme for "
                                     f"acme.{self.domain}.", details={"field": f"settings.{self.setting}"})
        return match[1].lower()

    def normalized(self, settings: dict, provider: str) -> dict:
        """``settings`` with the setting as its label (``RestConnector.account_setting``); one that
        cannot be is ``invalid_setting`` at connect."""
        from core.errors import ValidationError

        try:
            return {**settings, self.setting: self.label(settings, provider)}
        except InvalidCredentials:
            raise ValidationError(f"settings.{self.setting} is your {provider}'s {self.setting}, acme for "
                                  f"acme.{self.domain}: letters, digits and hyphens (at most 63, no hyphen first or "
                                  "last).", code="invalid_setting",
                                  details={"field": f"settings.{self.setting}", "setting": self.setting}) from None


@dataclass(frozen=True)
class WhoAmI:
    """The endpoint that says whose credentials these are: ``check(api_key)`` and
    ``account(access_token)`` come from it."""

    path: str
    record_path: tuple[str, ...] = ()
    id: object = "id"
    handle: object = None
    name: object = None
    avatar: object = None


@dataclass(frozen=True)
class StreamSpec:
    """One stream, declared once (see the module docstring for each field's part)."""

    name: str
    document_type: str
    listing: RestStream
    document: Callable[[dict], DocumentData]
    description: str = ""
    key: object = "id"
    incremental: Incremental | None = None
    channels: Channels | None = None
    # True: the stream's own listing; "read": its own full pass, as ``read`` pages it (a keyset
    # on the update time where the plain listing stops at a page cap: Freshdesk's tickets)
    list_ids: RestStream | bool | str = False
    fetch: FetchById | None = None
    joins: tuple[Join, ...] = ()
    over: Over | None = None                    # the listing is read per record of another one
    removed: Removed | None = None              # tombstones listed before each incremental pass
    # Called with each page's records, the page's body and the Api (X's authors from includes).
    enrich: Callable[[list, object, "Api"], None] | None = None
    keep: Callable[[dict], bool] | None = None      # records of the listing this stream skips
    tombstone: Callable[[dict], bool] | None = None  # records the provider marks deleted
    readers: Callable[[dict], object] | None = None  # a record's own readers
    # Who reads its documents, in words, where the declarations alone say too little (the README's
    # capability table): what the provider exposes and what it does not.
    readers_said: str | None = None
    changes_said: str | None = None         # how changes are read, in words, where code reads them
    # Called with each page's records after their joins, and the Api (what a thread's replies
    # name: their authors).
    complete: Callable[[list, "Api"], None] | None = None
    # The provider's ids are unique only within a channel (Slack's message ``ts``, a Teams
    # message id): external ids are ``<channel>:<key>`` (the kit prefixes ``document``'s id and
    # every id it lists, fetches or reports gone), records carry ``_channel``, and a
    # ``FetchById``'s ``{id}`` is the bare key.
    ids_per_channel: bool = False
    parents: tuple[str, ...] = ()
    rederive: Callable[[DocumentData, DocumentData | None], DocumentData | None] | None = None
    # The records are the channels' own (GitHub's repositories): read with a channel, the one
    # record of its lookup; without, the listing.
    of_channels: bool = False
    # The records listed by code where no one listing has them all (Figma's files, two listings
    # down: a team's projects, then each project's files), read whole each run: one page, or
    # from the cursor on with ``Incremental.stamped``; ``listing`` is then a declaration only
    # (``list_ids="read"``: the keys of that whole read).
    every: Callable[["Api"], list] | None = None

    def catalog_stream(self) -> Stream:
        return Stream(self.name, self.document_type, self.description,
                      channel_kind=self.channels.kind if self.channels else None, parents=self.parents)


# -- the paced client of one run -------------------------------------------------------------------

class _Limiters:
    """The connection's limiter and a rate bucket's, acquired and told together. ``route_headers``:
    the answer's rate-limit headers speak of the bucket's route only (Discord's per-route
    buckets), so only the bucket's limiter reads them; the connection's hears of the answer."""

    def __init__(self, *limiters, route_headers: bool = False):
        self.limiters = limiters
        self.route_headers = route_headers

    def acquire(self):
        for limiter in self.limiters:
            limiter.acquire()

    def observe(self, headers=None, status=None):
        for index, limiter in enumerate(self.limiters):
            routed = self.route_headers and index < len(self.limiters) - 1
            limiter.observe(None if routed else headers, status)

    def penalize(self, retry_after=None):
        for limiter in self.limiters:
            limiter.penalize(retry_after)


class _Nothing:
    """The answer of a request an ``OnError(skip=True)`` rule turned into "no records"."""

    status_code, headers, json_body = 200, {}, None


class Api:
    """What every hook gets: the connection's paced client for this run, in one rate bucket,
    speaking the provider's errors as the connector declared them. ``api.get(path, params)``
    returns a body (``api.download`` a file's bytes); ``api.ctx``, ``api.channel`` and
    ``api.connector`` are there to read."""

    def __init__(self, connector: "RestConnector", ctx: SyncContext, channel: str | None = None,
                 bucket: str | None = None):
        self.connector, self.ctx, self.channel, self.bucket_name = connector, ctx, channel, bucket

    def bucket(self, name: str | None) -> "Api":
        return self if name == self.bucket_name else type(self)(self.connector, self.ctx, self.channel, name)

    def _client(self) -> ProviderClient:
        key = ("kit.client", self.bucket_name)
        client = self.ctx.memo.get(key)
        if client is None:
            connector, ctx = self.connector, self.ctx
            limiter = ctx.limiter
            if self.bucket_name is not None and limiter is not None:
                limits = connector.buckets[self.bucket_name]
                own = RateLimiter(limits.requests_per_minute, limits.requests_per_hour,
                                  max_wait=getattr(limiter, "max_wait", None))
                limiter = _Limiters(limiter, own, route_headers=connector.route_rate_headers)
            client = ProviderClient(connector.provider_name, connector.api_root(ctx),
                                    timeout=connector.settings.timeout, headers=dict(connector.headers),
                                    limiter=limiter, auth=lambda: connector.auth.headers(connector, ctx),
                                    rate_limit_codes=connector.rate_limit_codes)
            ctx.memo[key] = client
        return client

    def args(self, **more) -> dict:
        """The placeholders paths and params may name (see the module docstring)."""
        ctx = self.ctx
        found = {k: v for k, v in (ctx.settings or {}).items() if isinstance(v, (str, int))}
        found.update(self.connector.placeholders())
        found.update({"channel": self.channel, "account": ctx.external_account_id, "handle": ctx.handle,
                      **(self.connector.channel_args(self.channel) if self.channel else {}), **more})
        return {k: v for k, v in found.items() if v is not None}

    def fill(self, template: str, **more) -> str:
        try:
            return template.format(**self.args(**more))
        except KeyError as missing:
            raise ValueError(f"{self.connector.provider_name}: {template} needs {missing} "
                             "(a channel, the connection's account, or a setting)") from None

    def filled(self, params: dict, **more) -> dict:
        return {k: self.fill(v, **more) if isinstance(v, str) and "{" in v else v for k, v in params.items()}

    def request(self, method: str, path: str, *, params=None, json=None, idempotent=None,
                checking_credentials: bool = False, raw: bool = False, skips: bool = True):
        """``ProviderClient.request`` with the connector's ``errors`` and ``error_code`` applied;
        ``raw``: the body is not JSON (a file's bytes: ``response.content``). ``skips=False``: an
        ``OnError(skip=True)`` rule raises instead of answering "no records" (a write must fail
        loudly: an action)."""
        connector = self.connector
        try:
            response = self._client().request(method, path, params=params, json=json, idempotent=idempotent,
                                              checking_credentials=checking_credentials, raw=raw)
        except (ProviderError, ProviderAuthError) as exc:
            said = dict(exc.details or {})
            rule = connector.rule_for(said.get("provider_status"), _error_code(said), said.get("provider_message"))
            if rule is None:
                raise
            if rule.skip and skips:
                return _Nothing()
            raise connector.error_from(rule, said, self.channel, exc.message) from None
        reads_code = type(connector).error_code      # a plain function declared on the class
        code = reads_code(response.json_body) if reads_code and not raw else None
        if code:
            code, message = code if isinstance(code, tuple) else (code, code)
            said = {"provider": connector.provider_name, "provider_status": response.status_code,
                    "provider_code": code, "provider_message": message}
            rule = connector.rule_for(response.status_code, code)
            if rule is not None and rule.skip and skips:
                return _Nothing()
            default = f"{connector.provider_name} refused {method} {urlsplit(path).path}: {message}"
            raise connector.error_from(rule or OnError(), said, self.channel, default)
        return response

    def get(self, path: str, params: dict | None = None):
        return self.request("GET", path, params=params).json_body

    def once(self, key, load: Callable[[], object]):
        """``load()``, once a run (kept in ``ctx.memo`` under ``key``): the people a provider's
        readers are named from, a listing several streams share."""
        memo = self.ctx.memo
        if key not in memo:
            memo[key] = load()
        return memo[key]

    def download(self, path: str, params: dict | None = None) -> bytes:
        """A body that is not JSON (a file's content), as bytes."""
        return self.request("GET", path, params=params, raw=True).content

    def remember(self, name, load: Callable[[], object]):
        """``load()`` once a run per ``name`` (what every record's hook reads: a project's members)."""
        key = ("kit.remember", name)
        if key not in self.ctx.memo:
            self.ctx.memo[key] = load()
        return self.ctx.memo[key]

    def records(self, listing: RestStream, **args) -> list:
        """Every record of ``listing`` (all its pages), its placeholders filled with ``args``."""
        fetch = self.connector._fetcher(None, listing, self, args=args)
        return [r for page in read_listing(fetch, state=None, mode="full", key=_loose_key) for r in page.records]

    def first(self, listing: RestStream, match: Callable[[dict], bool], **args) -> dict | None:
        """The first record of ``listing`` that ``match``es, read no further than its page (a
        channel's id from its name)."""
        pages = read_listing(self.connector._fetcher(None, listing, self, args=args), state=None, mode="full",
                             key=_loose_key)
        return next((r for page in pages for r in page.records if match(r)), None)


def _error_code(said: dict) -> str | None:
    return said.get("provider_code")


# -- the connector ---------------------------------------------------------------------------------

class RestConnector(Connector):
    """A connector built from declarations (see the module docstring). Subclasses set
    ``catalog`` (without streams), ``auth``, ``streams`` and whichever defaults they need."""

    streams: tuple[StreamSpec, ...] = ()
    auth: Auth = Auth(lambda connector, ctx: {})
    headers: dict = {}
    errors: tuple[OnError, ...] = ()
    error_code: Callable[[object], str | None] | None = None
    buckets: dict[str, RateLimits] = {}
    whoami: WhoAmI | None = None
    # Error codes that mean "slow down" on a 403 without a Retry-After (Google's quota errors):
    # backed off and retried like a 429.
    rate_limit_codes: tuple[str, ...] = ()
    # The provider's name in messages (default: the catalog's display name).
    provider_label: str | None = None
    # What ``api()`` builds: ``connectors._graphql.GraphQLApi`` reads paths as query names.
    api_class: type = Api
    # A bucket's answers carry that route's own rate-limit headers (Discord): they pace the bucket,
    # not the whole connection.
    route_rate_headers: bool = False
    # The channels a connection names (its ``channels`` setting) are looked up when it connects and
    # on a check, a refused one named (Figma's teams, which its API cannot list).
    channels_checked: bool = False
    # Connect settings the deployment's URLs name (Zendesk's ``https://{subdomain}.zendesk.com``):
    # filled with the connection's value, as ``normalize_settings`` stored it, in its API root
    # (``api_root``) and, for the OAuth flow and ``check``, in every URL (``for_connection``).
    url_settings: tuple[str, ...] = ()
    # The connection's own account host, named by a connect setting (Freshdesk's helpdesk).
    account_host: AccountHost | None = None
    # A connect setting naming the account, stored as its label at connect (Zendesk's subdomain:
    # ``acme.zendesk.com`` -> ``acme``, as ``url_settings`` then fill it in).
    account_setting: AccountHost | None = None

    @classmethod
    def normalize_settings(cls, settings: dict) -> dict:
        """The account a connect setting names, as its label (``account_setting``), and the channels
        typed as ids or addresses, as ids (``Channels.typed``)."""
        if cls.account_setting is not None:
            settings = cls.account_setting.normalized(settings, cls.catalog.display_name)
        return cls._typed_channels(settings)

    def _in_urls(self, text, settings: dict | None):
        for name in self.url_settings if isinstance(text, str) else ():
            if (settings or {}).get(name):
                text = text.replace("{%s}" % name, str(settings[name]))
        return text

    def for_connection(self, settings):
        bound = super().for_connection(settings)
        if bound is not self and self.url_settings:
            bound.settings = dataclasses.replace(self.settings, values={
                name: self._in_urls(value, settings) for name, value in self.settings.values.items()})
        return bound
    # Settings that point the connector at its emulation, as paths under the sandbox's URL
    # (``{"base_url": "/gitlab", "api_url": "/gitlab/api/v4"}``); an OAuth connector also gets
    # the emulation's client, ``sandbox-<type>-client`` / ``-secret``.
    sandbox: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("streams")
        if declared:
            names = [spec.name for spec in declared]
            assert len(names) == len(set(names)), f"{cls.__name__} declares a stream twice"
            cls.catalog = dataclasses.replace(cls.catalog, streams=tuple(s.catalog_stream() for s in declared))
            for spec in declared:
                for name in (j.listing.bucket for j in spec.joins):
                    assert name is None or name in cls.buckets, f"{cls.__name__}: no bucket {name!r}"
                assert spec.listing.bucket is None or spec.listing.bucket in cls.buckets, \
                    f"{cls.__name__}: no bucket {spec.listing.bucket!r}"

    @property
    def provider_name(self) -> str:
        return self.provider_label or self.catalog.display_name

    @classmethod
    def sandbox_settings(cls, sandbox_url: str) -> dict:
        found = {name: sandbox_url + path for name, path in cls.sandbox.items()}
        if found and cls.catalog.auth_method == "oauth_redirect":
            found = {"client_id": f"sandbox-{cls.catalog.type}-client",
                     "client_secret": f"sandbox-{cls.catalog.type}-secret", **found}
        return found

    @classmethod
    def _typed_channels(cls, settings: dict) -> dict:
        """The channels a connection names (``channels``) typed as ids or addresses, as ids, each
        once (``Channels.typed``); one that is neither is ``invalid_setting`` naming it."""
        from core.errors import ValidationError

        declared = next((s.channels for s in cls.streams if s.channels is not None and s.channels.typed), None)
        if declared is None or not settings.get("channels"):
            return settings
        ids = []
        for given in settings["channels"]:
            match = declared.typed.fullmatch(given.strip())
            if not match:
                raise ValidationError(f"{given!r} is not a {cls.catalog.display_name} {declared.kind} id or "
                                      f"{declared.kind} address: {declared.typed_hint}.", code="invalid_setting",
                                      details={"field": "settings.channels", "setting": "channels", "value": given})
            ids.append(next((group for group in match.groups() if group), match[0]))
        return {**settings, "channels": list(dict.fromkeys(ids))}

    def spec(self, stream: Stream | str) -> StreamSpec:
        name = stream if isinstance(stream, str) else stream.name
        for spec in self.streams:
            if spec.name == name:
                return spec
        raise ValueError(f"{self.provider_name} has no stream {name!r}")

    def api(self, ctx: SyncContext, channel: str | None = None, spec: StreamSpec | None = None) -> Api:
        """The run's paced client for ``channel``; with ``spec``, a stream with channels refuses
        a missing channel (or one not like ``Channels.pattern``) before any request."""
        declared = spec.channels if spec is not None else None
        if declared is not None and (channel is None and not spec.of_channels or channel is not None
                                     and declared.pattern and not re.fullmatch(declared.pattern, channel)):
            raise ValueError(f"The {self.provider_name} {spec.name} stream is read per {declared.kind}: pass a "
                             f"{declared.kind} as its channel (got {channel!r}).")
        return self.api_class(self, ctx, channel)

    def api_root(self, ctx: SyncContext) -> str | None:
        """Where this connection's API is: the ``api_url`` setting, unless the connection holds
        its own (Salesforce's ``instance_url``, kept from its token answer); ``url_settings`` and
        the ``account_host`` filled."""
        root = self._in_urls(self.settings.api_url, ctx.settings)
        if self.account_host is None:
            return root
        host = self.account_host
        return (root or "").replace("{%s}" % host.setting, host.label(ctx.settings, self.provider_name))

    def placeholders(self) -> dict:
        """Placeholders of the deployment's own, for paths besides ``api_url``'s: another API
        root derived from it (Pipedrive's v2 beside v1, GitHub's GraphQL endpoint). A connection
        setting cannot override them."""
        return {}

    # -- errors ----------------------------------------------------------------------------------
    def channel_args(self, channel: str) -> dict:
        """Placeholders a channel id names besides ``{channel}`` (none by default; Microsoft 365
        reads ``{team}`` and ``{team_channel}`` out of a Teams channel ``<team>/<channel>``)."""
        return {}

    def rule_for(self, status, code, message: str | None = None) -> OnError | None:
        for rule in self.errors:
            if (rule.status is None or rule.status == status) and (rule.code is None or rule.code == code) and (
                    rule.said is None or re.search(rule.said, message or "")):
                return rule
        return None

    def error_from(self, rule: OnError, said: dict, channel: str | None, default: str):
        message = default
        if rule.message:
            message = rule.message.format(provider=self.provider_name, channel=channel or "",
                                          said=said.get("provider_message") or said.get("provider_code") or "")
        return rule.error(message, details={"provider": self.provider_name, **said})

    # -- who authorized ----------------------------------------------------------------------------
    def _whoami(self, ctx: SyncContext, checking: bool) -> Account:
        if self.whoami is None:
            raise NotImplementedError(f"{type(self).__name__} declares no whoami")
        who = self.whoami
        body = self.api_class(self, ctx).request("GET", who.path, checking_credentials=checking).json_body
        record = dig(body, who.record_path) if who.record_path else body
        value = lambda spec: field_of(spec)(record) if spec else None  # noqa: E731
        account = Account(external_id=str(value(who.id)), handle=value(who.handle), display_name=value(who.name),
                          avatar_url=value(who.avatar))
        if self.channels_checked:
            self._check_channels(ctx, account)
        return account

    def _check_channels(self, ctx: SyncContext, account: Account) -> None:
        """Each channel the connection names (``connection_settings``), looked up once: one the
        provider refuses is ``invalid_setting`` naming it (the connect or the check fails)."""
        from core.errors import ValidationError

        declared = next(s.channels for s in self.streams if s.channels is not None and s.channels.lookup)
        for channel in self.connection_settings.get("channels") or ():
            try:
                self._looked_up(self.api_class(self, ctx, channel), declared)
            except ProviderRefused as exc:
                said = (exc.details or {}).get("provider_message") or exc.message
                raise ValidationError(f"{self.provider_name} refused {declared.kind} {channel} to "
                                      f"{account.handle or 'this account'} ({said}): check the {declared.kind} id and "
                                      "that the account can read it.", code="invalid_setting",
                                      details={"field": "settings.channels", "setting": "channels", "value": channel}
                                      ) from None

    def check(self, api_key_value: str, settings: dict | None = None) -> Account:
        ctx = self._bare_ctx(credentials={"api_key": api_key_value}, settings=dict(settings or {}))
        host = self.account_host
        if host is None:
            return self._whoami(ctx, True)
        try:
            account = self._whoami(ctx, True)
        except ProviderNotFound:
            raise InvalidCredentials(f"{self.provider_name} has no {host.noun} at "
                                     f"{host.label(settings, self.provider_name)}.{host.domain}.",
                                     details={"field": f"settings.{host.setting}"}) from None
        return dataclasses.replace(account, display_name=f"{host.label(settings, self.provider_name)}.{host.domain}")

    def account(self, access_token: str) -> Account:
        return self._whoami(self._bare_ctx(access_token=lambda: access_token), False)

    def _bare_ctx(self, **values) -> SyncContext:
        """A context for a person waiting on a form: no limiter, interactive retries."""
        return SyncContext(**{"connection_id": "", "connector_type": self.catalog.type, "credentials": {},
                              "settings": {}, **values})

    # -- reading -----------------------------------------------------------------------------------
    def _fetcher(self, spec: StreamSpec | None, listing: RestStream, api: Api, enrich: bool = True,
                 args: dict | None = None):
        """``fetch(token, params)`` of one page of ``listing``, enriched by the stream's hook;
        ``args``: more placeholders (a join's)."""
        size = min(filter(None, (self.page_size, listing.page_size)), default=None)
        path_args = api.args(**(args or {}))
        bound = api.filled(listing.params, **(args or {}))

        def fetch(token, params=None):
            try:
                fetched = listing.fetch(api.bucket(listing.bucket), path_args=path_args, token=token,
                                        params={**bound, **(params or {})}, page_size=size)
            except KeyError as missing:
                raise ValueError(f"{self.provider_name}: {listing.path} needs {missing} "
                                 "(a channel, the connection's account, or a setting)") from None
            if enrich and spec is not None and spec.enrich is not None:
                spec.enrich(fetched.records, fetched.body, api)
            return fetched
        return fetch

    def _pages(self, spec: StreamSpec, api: Api, state, mode, enrich: bool = True) -> Iterator[Page]:
        inc, key = spec.incremental, _text_of(spec.key)
        if spec.every is not None:
            return self._every_pages(spec, api, state, mode)
        if spec.over is not None:
            assert inc is None, f"{spec.name}: a listing read per parent has no incremental style yet"
            return self._over_pages(spec, spec.listing, api, state, mode, enrich=enrich)
        fetch = self._fetcher(spec, spec.listing, api, enrich=enrich)
        if inc is None:
            return read_listing(fetch, state=state, mode=mode, key=key)
        def fed(cursor) -> dict:
            """The incremental parameter, straight from the cursor; ``format`` is also asked with
            None (a full pass), for providers whose parameter is a query (Jira's JQL)."""
            if inc.param is None or (cursor is None and inc.format is None):
                return dict(inc.params)
            return {**inc.params, inc.param: _formatted(inc.format, cursor, api) if inc.format else cursor}
        if inc.style == "since" and inc.full_listing is not None:
            resume = resume_of(state, mode)
            if (resume.get("pass") == "listing") if resume else (mode == "full" or not (state or {}).get("cursor")):
                started = iso_z(datetime.now(timezone.utc) - inc.full_listing)
                return read_listing(fetch, state=state, mode=mode, key=key,
                                    pass_info=lambda: {"pass": "listing", "started": started},
                                    done_state=lambda done: {"cursor": done["started"], "boundary": {}})
        if inc.style == "window":
            resume = resume_of(state, mode)
            since = resume.get("since") if resume else ((state or {}).get("cursor") if mode == "incremental" else None)
            started = iso_z(datetime.now(timezone.utc) - inc.full_listing)
            return read_listing(lambda token: fetch(token, fed(since)), state=state, mode=mode, key=key,
                                pass_info=lambda: {"since": since, "started": started},
                                done_state=lambda done: {"cursor": done["started"]})
        if inc.style == "since":
            return read_updated_since(lambda since, token: fetch(token, fed(since)), state=state, mode=mode, key=key,
                                      updated=_text_of(inc.cursor))
        if inc.style == "newest_first":
            if inc.coarse and state:
                state = {**state, "boundary": {}}       # nothing on the cursor is "seen"
            resume = resume_of(state, mode)
            stop_at = resume.get("stop_at") if resume else ((state or {}).get("cursor") if mode == "incremental" else None)
            return read_updated_desc(lambda token: fetch(token, fed(stop_at)), state=state, mode=mode, key=key,
                                     updated=_text_of(inc.cursor))
        if inc.style == "after_id" and inc.lookback is not None:
            back = inc.lookback
            days = float(self.settings.get(back.setting) or back.days) if back.setting else back.days
            return read_lookback(lambda oldest, token: fetch(token, None if oldest is None else fed(oldest)),
                                 state=state, mode=mode, ident=_text_of(inc.cursor), mark=back.mark,
                                 lookback=days * 86400, keep=back.keep)
        if inc.style == "after_id":
            return read_after_id(lambda since, token: fetch(token, fed(since)), state=state, mode=mode,
                                 ident=_text_of(inc.cursor))
        if inc.style == "sync_token":
            return self._sync_token_pages(spec, inc, api, fetch, state, mode)
        raise ValueError(f"unknown incremental style {inc.style!r}")

    def _every_pages(self, spec: StreamSpec, api: Api, state, mode) -> Iterator[Page]:
        """``spec.every``'s records, read now: one page, or from the cursor on (``Incremental.stamped``)."""
        records, inc = spec.every(api), spec.incremental
        if inc is None:
            return iter([Page(records, {}, last=True)])
        assert inc.style == "stamped", f"{spec.name}: records listed by code are read whole (Incremental.stamped)"
        return changed_since(records, state, mode, key=_text_of(spec.key), updated=_text_of(inc.cursor),
                             page_size=self.page_size)

    def _over_pages(self, spec: StreamSpec, listing: RestStream, api: Api, state, mode, *, enrich: bool):
        """``listing`` per parent of ``spec.over`` (see ``Over``), each parent's pages in turn."""
        parents = [args for args in map(spec.over.args, api.records(spec.over.listing)) if args is not None]
        resume, key = resume_of(state, mode), _text_of(spec.key)
        at, inner = 0, None
        if resume is not None and resume.get("parent") in parents:
            at, inner = parents.index(resume["parent"]), resume.get("inner")
        if not parents:
            yield Page([], {}, last=True)
        for index in range(at, len(parents)):
            fetch = self._fetcher(spec, listing, api, enrich=enrich, args=parents[index])
            for page in read_listing(fetch, state=inner, mode=mode, key=key):
                if page.last and index == len(parents) - 1:
                    yield Page(page.records, {}, last=True)
                elif page.last:
                    yield Page(page.records, {"resume": {"mode": mode, "parent": parents[index + 1], "inner": None}})
                else:
                    yield Page(page.records, {"resume": {"mode": mode, "parent": parents[index], "inner": page.state}})
            inner = None

    def _sync_token_pages(self, spec, inc: Incremental, api: Api, fetch, state, mode):
        changes = self._fetcher(spec, inc.changes, api) if inc.changes else fetch

        def fetch_changes(sync, token):
            # A named sync parameter goes with every page (Calendar's syncToken beside its
            # pageToken; Gmail's startHistoryId is required on each); a token that is a URL's
            # query (Graph's deltaLink) only starts the pass: the next pages' links carry it.
            params = {inc.param: sync} if inc.param else (None if token else dict(sync or {}))
            try:
                return changes(token, params)
            except ProviderError as exc:
                if (exc.details or {}).get("provider_status") in inc.expired:
                    raise SyncTokenExpired() from None
                raise

        def token_of(fetched):
            found = dig(fetched.body, inc.token_path)
            if found and inc.param is None and str(found).startswith(("http://", "https://")):
                return dict(parse_qsl(urlsplit(found).query, keep_blank_values=True))
            return found
        if callable(inc.start):
            start = lambda: inc.start(api)  # noqa: E731
        else:
            start = (lambda: dig(api.get(api.fill(inc.start)), inc.start_path)) if inc.start else None
        return read_sync_token(fetch, fetch_changes, state=state, mode=mode, token_of=token_of, start_token=start)

    def _key(self, spec: StreamSpec, api: Api) -> Callable[[dict], str]:
        """A record's external id (``<channel>:<key>`` where ids are unique per channel only)."""
        key = _text_of(spec.key)
        if not spec.ids_per_channel:
            return key
        return lambda record: f"{api.channel}:{key(record)}"

    def _sorted_out(self, spec: StreamSpec, api: Api, records: list) -> tuple[list, list]:
        """(live records, ids of tombstones): ``keep`` and ``tombstone`` applied, joins added."""
        key, live, gone = self._key(spec, api), [], []
        for record in records:
            if spec.ids_per_channel:
                record["_channel"] = api.channel
            if spec.tombstone is not None and spec.tombstone(record):
                gone.append(key(record))
            elif spec.keep is None or spec.keep(record):
                live.append(record)
        for join in spec.joins:
            if join.content and not api.ctx.content_wanted:
                for record in live:
                    record[join.into] = [] if join.many else None
                continue
            self._join(join, api, live)
        live = [r for r in live if all(r[j.into] for j in spec.joins if j.required)]
        if spec.complete is not None and live:
            spec.complete(live, api)
        return live, gone

    def _join(self, join: Join, api: Api, records: list) -> None:
        cache = api.ctx.memo.setdefault(("kit.join", join.into), BoundedCache(join.cache)) if join.cache else None
        for record in records:
            args = join.args(record)
            if args is None:
                record[join.into] = [] if join.many else None
                continue

            def load(args=args, depth=1):
                try:
                    if not join.many:
                        body = api.bucket(join.listing.bucket).get(api.fill(join.listing.path, **args),
                                                                   api.filled(join.listing.params, **args))
                        return dig(body, join.listing.records_path) if join.listing.records_path else body
                    found = api.records(join.listing, **args)
                except ProviderNotFound:        # the parent is gone since: its child is still read
                    return [] if join.many else None
                for child in found if join.nested is not None and depth < join.depth else ():
                    more = join.nested(child)
                    if more is not None:
                        child[join.into] = load(more, depth + 1)
                return found
            memo = (api.fill(join.listing.path, **args), repr(sorted(args.items())))
            record[join.into] = cache.get_or_load(memo, load) if cache is not None else load()

    def read(self, ctx, stream, *, state, mode, channel=None):
        spec = self.spec(stream)
        api = self.api(ctx, channel, spec)
        if spec.of_channels and channel is not None:
            return self._sorted_pages(spec, api, self._channel_pages(spec, api))
        pages = self._sorted_pages(spec, api, self._pages(spec, api, state, mode))
        if spec.removed is not None and mode == "incremental" and (state or {}).get("cursor") \
                and not state.get("resume"):
            return _chained(self._removed(spec, api, state), pages)
        return pages

    def _removed(self, spec: StreamSpec, api: Api, state: dict) -> Iterator[Page]:
        """Tombstones before an incremental pass: what the provider removed since the cursor."""
        when, key = _text_of(spec.removed.when), self._key(spec, api)
        pages = read_listing(self._fetcher(None, spec.removed.listing, api), state=None, mode="full", key=_loose_key)
        gone = [key(r) for page in pages for r in page.records if when(r) >= state["cursor"]]
        if gone:
            yield Page([], state, deleted=gone)

    def _channel_pages(self, spec: StreamSpec, api: Api) -> Iterator[Page]:
        yield Page([self._looked_up(api, spec.channels)], {}, last=True)

    def _sorted_pages(self, spec, api, pages):
        for page in pages:
            live, gone = self._sorted_out(spec, api, page.records)
            yield Page(live, page.state, total_estimate=page.total_estimate, last=page.last,
                       deleted=list(page.deleted) + gone)

    def to_document(self, stream, record):
        spec = self.spec(stream)
        doc = spec.document(record)
        if spec.ids_per_channel:
            doc.external_id = f"{record['_channel']}:{doc.external_id}"
        if spec.readers is not None and doc.readers is None:
            doc.readers = spec.readers(record)
        return doc

    def rederive(self, stream, child, parent):
        spec = self.spec(stream)
        return spec.rederive(child, parent) if spec.rederive else None

    # -- what it can do, in words (README "Connectors": the capability table) --------------------------
    @classmethod
    def capabilities(cls) -> list[dict[str, str]]:
        """Per stream, read off its declarations: how changes are read, how deletions are found,
        who may read its documents. ``tests/docs/test_readme.py`` renders them, so the README
        cannot claim what the declarations do not do."""
        rows = []
        for spec in cls.streams:
            inc, deletions = spec.incremental, []
            changes = {
                None: "every run reads the whole listing",
                "since": f"changed since the last run's newest (`{inc.param}`)" if inc and inc.param else
                         "changed since the last run's newest",
                "newest_first": "newest first, down to the last run's newest" +
                                (f" (`{inc.param}`)" if inc and inc.param else ""),
                "after_id": f"ids after the last run's newest (`{inc.param}`)" if inc else "",
                "sync_token": "the provider's change token (removals included)",
                "window": f"changed since the last run began (`{inc.param}`), in any order" if inc else "",
                "stamped": "changed since the last run's newest (the whole listing read)",
            }[inc.style if inc else None] if not spec.changes_said else spec.changes_said
            if spec.removed is not None:
                deletions.append(f"{spec.removed.what} listed before each incremental (tombstones)")
            if spec.tombstone is not None:
                deletions.append("tombstones")
            if inc is not None and inc.style == "sync_token":
                deletions.append("the change feed")
            if spec.list_ids:
                deletions.append("an id listing")
            if spec.fetch is not None or cls.fetch_records is not RestConnector.fetch_records:
                deletions.append("a full read's unseen records, each confirmed gone by id")
            if spec.readers_said:
                readers = spec.readers_said
            elif cls.catalog.ownership == "personal":
                readers = "the connection's owner"
            elif spec.readers is not None:
                readers = "per record, as the provider shares it"
            elif spec.channels is not None and spec.channels.readers is not None:
                readers = f"per {spec.channels.kind}, as the provider shares it"
            elif cls.catalog.permissions:
                readers = "the workspace (no per-record sharing at the source)"
            else:
                readers = "the workspace"
            rows.append({"stream": spec.name, "changes": changes,
                         "deletions": ", ".join(deletions) or "not detected (a full sync keeps what it saw)",
                         "readers": readers})
        return rows

    @classmethod
    def rate_limits_in_words(cls) -> str:
        limits = cls.catalog.rate_limits
        said = [f"{n:,}/{unit}" for n, unit in ((limits.requests_per_minute, "min"), (limits.requests_per_hour, "h"))
                if n]
        said += [f"`{name}` {b.requests_per_minute or b.requests_per_hour:,}/{'min' if b.requests_per_minute else 'h'}"
                 for name, b in sorted(cls.buckets.items())]
        return ", ".join(said) or "the provider's headers only"

    # -- deletion detection ---------------------------------------------------------------------------
    def list_ids(self, ctx, stream, channel=None):
        """Every id the stream's id listing shows now; None where it declares none."""
        spec = self.spec(stream)
        if not spec.list_ids:
            return None
        listing = spec.listing if spec.list_ids in (True, "read") else spec.list_ids
        api = self.api(ctx, channel, spec)
        key = self._key(spec, api)
        if spec.of_channels:
            return iter([key(self._looked_up(api, spec.channels))] if channel is not None else
                        [c.id for c in self.channels(ctx, stream)])
        if spec.list_ids == "read":     # the stream's own full pass (a keyset past a listing's page cap)
            pages = self._pages(spec, api, None, "full", enrich=False)
        elif spec.over is not None:
            pages = self._over_pages(spec, listing, api, None, "full", enrich=False)
        else:
            pages = read_listing(self._fetcher(spec, listing, api, enrich=False), state=None, mode="full", key=key)
        return (key(r) for page in pages for r in page.records
                if not (spec.tombstone and spec.tombstone(r)) and (spec.keep is None or spec.keep(r)))

    def fetch_records(self, ctx, stream, channel, external_ids):
        """The records of these ids the provider still has (see ``FetchById``); None where the
        stream declares no fetch."""
        spec = self.spec(stream)
        how = spec.fetch
        if how is None:
            return None
        api = self.api(ctx, channel, spec)
        found = []
        if spec.ids_per_channel:        # ask by the bare key; ids of another channel are not here
            prefix = f"{channel}:"
            external_ids = [i[len(prefix):] for i in external_ids if i.startswith(prefix)]
        if how.pattern is not None:
            external_ids = [i for i in external_ids if re.fullmatch(how.pattern, i)]

        def take(body):
            records = dig(body, how.records_path) if how.records_path else body
            records = [records] if isinstance(records, dict) else list(records or [])
            if spec.enrich is not None:
                spec.enrich(records, body, api)
            found.extend(r for r in records if how.belongs is None or how.belongs(r, api))
        if how.ids_param is None:
            for external_id in external_ids:
                args = (how.args or _as_id)(external_id)
                try:
                    take(api.get(api.fill(how.path, **args), api.filled(how.params, **args)))
                except ProviderNotFound:
                    continue
        else:
            params = api.filled(how.params)
            for start in range(0, len(external_ids), how.batch):
                take(api.get(api.fill(how.path), {**params, how.ids_param: ",".join(external_ids[start:start + how.batch])}))
        live, _ = self._sorted_out(spec, api, found)
        key = self._key(spec, api)
        return [(key(record), record) for record in live]

    # -- channels and who may read them ------------------------------------------------------------
    def channels(self, ctx, stream):
        declared = self.spec(stream).channels
        if declared is None:
            return []
        memo = ("kit.channels", declared.kind)
        if memo not in ctx.memo:
            api, ident, name = self.api(ctx), _text_of(declared.id), _text_of(declared.name)
            if declared.every is not None:
                listed = declared.every(api)
            else:
                pages = read_listing(self._fetcher(None, declared.listing, api), state=None, mode="full", key=ident)
                listed = [r for page in pages for r in page.records]
            listed = [r for r in listed if declared.keep is None or declared.keep(r)]
            for record in listed:
                ctx.memo[("kit.channel", declared.kind, ident(record))] = record
            ctx.memo[memo] = [Channel(ident(r), name(r)) for r in listed]
        return ctx.memo[memo]

    def channel(self, ctx, stream, channel_id):
        spec = self.spec(stream)
        declared = spec.channels
        if declared is None or declared.lookup is None:
            return None
        api = self.api(ctx, channel_id, spec)
        try:
            record = self._looked_up(api, declared)
        except ProviderNotFound as exc:
            raise ChannelNotFound(f"{self.provider_name} has no {declared.kind} {channel_id} that this connection "
                                  "can read.", details={"channel_id": channel_id, **(exc.details or {})}) from None
        if record is None:      # a lookup by query that found nothing (Confluence's spaces?keys=)
            raise ChannelNotFound(f"{self.provider_name} has no {declared.kind} {channel_id} that this connection "
                                  "can read.", details={"channel_id": channel_id})
        ctx.memo[("kit.channel", declared.kind, channel_id)] = record
        ident = channel_id if declared.id is None else _text_of(declared.id)(record)
        return Channel(ident, _text_of(declared.name)(record))

    def _looked_up(self, api: Api, declared: Channels) -> dict:
        body = api.get(api.fill(declared.lookup))
        return dig(body, declared.lookup_path) if declared.lookup_path else body

    def channel_record(self, api: Api, kind: str) -> dict:
        """The provider's record of ``api.channel`` (a channel of this ``kind``), as this run
        listed or looked it up already, else from its lookup (kept for the run)."""
        memo = ("kit.channel", kind, api.channel)
        if memo not in api.ctx.memo:
            declared = next(s.channels for s in self.streams if s.channels is not None and s.channels.kind == kind)
            api.ctx.memo[memo] = self._looked_up(api, declared)
        return api.ctx.memo[memo]

    def channel_readers(self, ctx, stream, channel):
        spec = self.spec(stream)
        declared = spec.channels
        if declared is None or declared.readers is None or not channel:
            return None
        memo = ("kit.readers", declared.kind, channel)
        if memo not in ctx.memo:
            try:
                ctx.memo[memo] = declared.readers(self.api(ctx, channel, spec), channel)
            except ReadersUnknown as exc:
                ctx.memo[memo] = exc        # every stream of the channel is hidden alike, asked once
        if isinstance(ctx.memo[memo], ReadersUnknown):
            raise ctx.memo[memo]
        return ctx.memo[memo]


def _formatted(format, cursor, api):
    """``format(cursor)``, or ``format(cursor, api)`` when it takes two arguments."""
    takes = [p for p in inspect.signature(format).parameters.values()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    return format(cursor, api) if len(takes) >= 2 else format(cursor)
def _chained(*parts: Iterator[Page]) -> Iterator[Page]:
    """One generator of the pages of ``parts`` (the engine may ``close()`` it mid-way)."""
    for part in parts:
        yield from part


def _as_id(external_id: str) -> dict:
    return {"id": external_id}


def _loose_key(record) -> str:
    """A join's records are told apart by their id where they have one (only exact repeats of
    the previous page are dropped, so a shared key never loses a record)."""
    return str(record.get("id", "")) if isinstance(record, dict) else str(record)


def changed_since(records: list, state, mode: str, *, key: Callable[[dict], str], updated: Callable[[dict], str],
                  page_size: int) -> Iterator[Page]:
    """Pages of ``records`` (a listing read whole, sorted by ``updated`` then ``key``: the provider
    filters by nothing, Figma's files) from the cursor on: those changed at or after it (the
    boundary time again, those handed over at that very time dropped), ``page_size`` a page, each
    page's state a resume point (``resume``: where the next page starts and which records on that
    time were handed over), the last one the next pass's cursor and boundary."""
    resume = resume_of(state, mode)
    since = resume.get("from") if resume else ((state or {}).get("cursor") if mode == "incremental" else None)
    if resume:
        boundary = {k: since for k in resume.get("seen") or ()}
    else:
        boundary = (state or {}).get("boundary") or {} if mode == "incremental" else {}
    changed = [r for r in records if (since is None or updated(r) >= since) and boundary.get(key(r)) != updated(r)]
    if not changed:
        yield Page([], {k: v for k, v in (state or {}).items() if k != "resume"}, last=True)
        return
    cursor = (state or {}).get("cursor")
    for start in range(0, len(changed), page_size):
        chunk, top = changed[start:start + page_size], updated(changed[min(start + page_size, len(changed)) - 1])
        if start + page_size >= len(changed):
            boundary = {key(r): top for r in changed if updated(r) == top}
            yield Page(chunk, {"cursor": top, "boundary": boundary}, last=True)
        else:
            seen = sorted(key(r) for r in changed[:start + page_size] if updated(r) == top)
            yield Page(chunk, {**({"cursor": cursor} if cursor else {}), "resume": {"mode": mode, "from": top,
                                                                                    "seen": seen}})


def kept_readers(record) -> object:
    """``readers=``: what a ``complete`` hook kept on the record as ``_readers`` (``(kind, value)``
    pairs); None when it kept none (readers not asked for this run, or nobody found: hidden)."""
    return stored_readers(record) if record.get("_readers") else None


def same_readers(entries: Callable[["Api"], list]) -> Callable[[list, "Api"], None]:
    """``complete=``: every record gets the readers ``entries(api)`` names (a provider's whole staff:
    Intercom's teammates), asked only on a run that wants readers; with ``readers=kept_readers``."""
    def complete(records: list, api: "Api") -> None:
        if api.ctx.readers_wanted:
            found = entries(api)
            for record in records:
                record["_readers"] = found
    return complete


def readers_among(people: "Callable[[Api], list] | RestStream", entries: Callable[[dict], list],
                  sees: Callable[[dict, dict], bool] | None = None) -> Callable[[list, "Api"], None]:
    """``complete=``: a record's readers are the ``entries(person)`` of those of ``people(api)``
    (or every record of a listing, read once a run: a helpdesk's agents) who ``sees(person,
    record)`` -- all of them without ``sees``; asked only on a run that wants readers; with
    ``readers=stored_readers`` (nobody who sees it: hidden). Freshdesk's agents by their ticket
    scope."""
    def complete(records: list, api: "Api") -> None:
        if not api.ctx.readers_wanted:
            return
        if isinstance(people, RestStream):
            staff = api.remember(("kit.people", people.path), lambda: api.records(people))
        else:
            staff = people(api)
        everyone = sorted({entry for p in staff for entry in entries(p)}) if sees is None else None
        for record in records:
            record["_readers"] = everyone if sees is None else sorted(
                {entry for p in staff if sees(p, record) for entry in entries(p)})
    return complete


@dataclass(frozen=True)
class Directory:
    """A run's people by id, each as ``shape(record)`` (a name, an e-mail): filled by the stream
    that lists them (``complete=directory.remember``, read first in a run), else asked of ``path``
    (``{id}`` in it or ``params``) once a run per person (``directory.of(api, id)``; a person the
    provider no longer has, an ``OnError(skip=True)``, is ``shape({})``): Slack's users, named as
    authors and readers."""

    path: str
    shape: Callable[[dict], dict]
    params: dict = field(default_factory=dict)
    record_path: tuple[str, ...] = ()
    size: int = 50_000

    def _known(self, api: "Api") -> BoundedCache:
        return api.ctx.memo.setdefault(("kit.directory", self.path), BoundedCache(self.size))

    def of(self, api: "Api", person_id: str) -> dict:
        def load():
            body = api.get(api.fill(self.path, id=person_id), api.filled(self.params, id=person_id))
            return self.shape((dig(body, self.record_path) if self.record_path else body) or {})
        return self._known(api).get_or_load(person_id, load)

    def remember(self, records: list, api: "Api") -> None:
        self._known(api).update({str(record["id"]): self.shape(record) for record in records})


def error_in_body(flag: str = "ok", code: str = "error", *, said: Callable[[dict, str], str | None] | None = None,
                  unknown: str = "unknown_error") -> Callable[[object], object]:
    """``error_code=`` of a provider that answers errors with HTTP 200 and ``{flag: false, code:
    "<code>"}`` (Slack's ``{"ok": false, "error": "invalid_auth"}``): the code (``unknown`` where
    the body names none), with the message ``said(body, code)`` words where the body says more."""
    def error_code(body):
        if not (isinstance(body, dict) and body.get(flag) is False):
            return None
        found = str(body.get(code) or unknown)
        message = said(body, found) if said else None
        return (found, message) if message else found
    return error_code


def person(kind: str, user_id, email: str | None = None) -> list[tuple[str, str]]:
    """A provider's user as reader entries: ``("provider_user", "<kind>:<id>")`` and, where the
    provider shows it, ``("email", <address>)``."""
    return [("provider_user", f"{kind}:{user_id}")] + ([("email", email.lower())] if email else [])


def stored_readers(record) -> object:
    """``readers``: the entries a hook (``complete``, ``enrich``) put in ``record["_readers"]``;
    None where it put none (the channel's readers, or the access mode, decide)."""
    from access.service import Readers

    return Readers.of(*record["_readers"]) if "_readers" in record else None


def everyone(record) -> object:
    """Readers of a public record (a public account's posts): the whole workspace."""
    from access.service import Readers

    return Readers.everyone()


__all__ = ["AccountHost", "Api", "Auth", "Channels", "Directory", "FetchById", "Incremental", "Join", "Lookback",
           "OnError", "Over", "Removed", "RestConnector", "StreamSpec", "WhoAmI", "api_key", "app_token", "basic",
           "changed_since", "error_in_body", "everyone", "field_of", "kept_readers", "oauth_bearer", "person",
           "readers_among", "same_readers", "stored_readers"]
