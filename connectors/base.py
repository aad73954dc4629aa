"""The connector interface and its catalog metadata.

A connector module declares one ``Connector`` subclass with a ``catalog`` entry. The catalog
the API and console show is built from these modules (see ``connectors.registry``); there is
no second hand-kept list. A connector that only has catalog metadata so far sets
``implemented = False``: the catalog reports it ``coming_soon`` and not connectable.

Capabilities follow the connect method:

* ``oauth_redirect`` connectors describe their endpoints with ``OAuthEndpoints`` and implement
  ``account(session)`` to learn who authorized;
* ``api_key`` connectors implement ``check(api_key)``: one cheap provider call;
* ``handle`` connectors implement ``resolve_handle(handle)``;
* ``webhook`` connectors need nothing: the platform issues the URL and the signing secret.

Besides its connect method, a connector may take a token the user already holds (a GitHub
personal access token, a Slack bot token, an API key) as ``credentials`` at connect: it
declares which one with ``CatalogEntry.token_credential`` and verifies it with
``Connector.verify_token`` (see ``TokenCredential``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

CATEGORIES = ("crm", "calls", "comms", "docs", "support", "social", "devtools", "ai", "custom")
AUTH_METHODS = ("oauth_redirect", "api_key", "webhook", "handle")
OWNERSHIPS = ("workspace", "personal")
DIRECTIONS = ("inbound", "outbound")
AVAILABILITY = ("available", "coming_soon")


@dataclass(frozen=True)
class Stream:
    """One kind of data a connector brings in (``messages``, ``issues``, ``deals``)."""

    name: str
    document_type: str
    description: str = ""
    # What one channel of this stream is (``repository``, ``channel``, ``database``), when the
    # stream can be synced partition by partition.
    channel_kind: str | None = None
    # Streams whose records this stream's records belong to (comments -> issues, pull_requests;
    # activities -> deals). A child document names its parent in ``DocumentData.parent_id`` and
    # may copy some of the parent's fields; when a parent's document changes, the engine asks
    # ``Connector.rederive`` for its children, so a copied title never goes stale.
    parents: tuple[str, ...] = ()


@dataclass(frozen=True)
class RateLimits:
    requests_per_minute: int | None = None
    requests_per_hour: int | None = None


@dataclass(frozen=True)
class OAuthEndpoints:
    """Where a provider's OAuth endpoints live, as paths under the connector's ``base_url``
    (or absolute URLs), plus what to ask for."""

    authorize: str
    token: str
    revoke: str | None = None
    # Where a refresh goes when not to the token endpoint (Figma's /v1/oauth/refresh).
    refresh: str | None = None
    scopes: tuple[str, ...] = ()
    # Extra authorize parameters (Google: access_type=offline, prompt=consent).
    authorize_params: dict = field(default_factory=dict)
    # How the client authenticates at the token endpoint.
    token_auth_method: str = "client_secret_post"
    # How ``scopes`` are joined in the authorize request (Slack wants them comma-separated).
    scope_separator: str = " "
    # How the token and revoke endpoints take their parameters: "form" (RFC 6749) or "json"
    # (Notion's, with HTTP Basic client authentication).
    token_body: str = "form"
    # PKCE (RFC 7636) where the provider takes it; Notion documents none, and its token endpoint
    # validates the JSON body it is sent.
    pkce: bool = True
    # Fields of the token answer kept with the credentials (Salesforce's ``instance_url``: where
    # the org's API is), read by the connector as ``ctx.credentials[...]``.
    keep: tuple[str, ...] = ()
    # How long an access token lives when the token answer does not say (no ``expires_in``:
    # Salesforce's session lasts the org's timeout), so it is refreshed before then.
    lifetime: int | None = None


@dataclass(frozen=True)
class TokenCredential:
    """A credential a user already holds that connects the connector without a redirect.

    ``name`` is its key under ``credentials`` in ``POST /v1/connectors`` (``token``,
    ``api_key``). It is verified with one provider call before anything is stored:
    ``Connector.verify_token``, by default the connect method's own call (``check`` for
    API-key connectors, ``account`` for OAuth ones, whose providers accept such a token where
    they accept an OAuth access token), and stored where that method keeps its credential.
    API-key connectors take ``api_key`` without declaring it.
    """

    name: str
    description: str


@dataclass(frozen=True)
class ConnectSetting:
    """A connection setting the connect form asks for beside the credential, required at connect:
    Freshdesk's helpdesk ``domain`` (its ``check`` reads it), Figma's teams (its ``channels``: Figma
    lists none). A text field in the console, ``settings.<name>`` in ``POST /v1/connectors``."""

    name: str
    label: str
    hint: str = ""
    many: bool = False      # a list: the console's field takes them separated by commas or spaces


@dataclass(frozen=True)
class CatalogEntry:
    type: str
    display_name: str
    category: str
    auth_method: str
    description: str
    docs_url: str
    streams: tuple[Stream, ...] = ()
    ownership: str = "workspace"
    direction: str = "inbound"
    availability: str = "available"
    rate_limits: RateLimits = RateLimits()
    # Default provider URLs; every one is configurable per deployment (self-hosted GitHub
    # Enterprise, Jira Data Center, the provider sandbox).
    base_url: str | None = None
    api_url: str | None = None
    oauth: OAuthEndpoints | None = None
    # Operator settings a handle/API connector needs besides the user's input (the X API's
    # app bearer token), by setting name.
    operator_settings: tuple[str, ...] = ()
    # The connector reads each record's readers at the source: a new connection then defaults
    # to the ``source`` access mode (else ``workspace``).
    permissions: bool = False
    # A token the user already holds that connects it without the connect method's flow (an
    # OAuth connector's personal access token); API-key connectors take their key this way.
    token_credential: TokenCredential | None = None
    # Connection settings this connector reads besides the ones every connection has
    # (``Connector.setting_names``): ``sync_private`` and the like.
    extra_settings: tuple[str, ...] = ()
    # Settings the connect form asks for, required at connect (:class:`ConnectSetting`).
    connect_settings: tuple[ConnectSetting, ...] = ()

    def __post_init__(self):
        assert self.category in CATEGORIES, self.category
        assert self.auth_method in AUTH_METHODS, self.auth_method
        assert self.ownership in OWNERSHIPS, self.ownership
        assert self.direction in DIRECTIONS, self.direction
        assert self.availability in AVAILABILITY, self.availability
        assert self.oauth is None or self.auth_method == "oauth_redirect", self.type
        assert self.token_credential is None or self.auth_method in ("oauth_redirect", "api_key"), self.type

    @property
    def accepted_token(self) -> TokenCredential | None:
        """The token ``credentials`` at connect may carry (``None``: this connector takes none)."""
        if self.token_credential is not None:
            return self.token_credential
        if self.auth_method == "api_key":
            return TokenCredential("api_key", "The provider's API key.")
        return None

    @property
    def default_scope(self) -> str:
        """The connection ``scope`` a new connection gets: ``personal`` for personal connectors."""
        return "personal" if self.ownership == "personal" else "business"


@dataclass(frozen=True)
class Account:
    """The provider account a credential or handle resolves to."""

    external_id: str
    handle: str | None = None
    display_name: str | None = None
    avatar_url: str | None = None
    followers: int | None = None
    # The person who signed in, as the provider names its users, when the account a connection
    # holds is not that person (an Atlassian site, a Slack workspace): their identity link
    # (``provider_user <type>:<identity>``) is what records' readers name. None: ``external_id``.
    identity: str | None = None


@dataclass(frozen=True)
class Channel:
    """One partition of a stream that can be synced on its own (a repository, a Slack channel)."""

    id: str
    name: str
    metadata: dict = field(default_factory=dict)


@dataclass
class Page:
    """A page of records read from a stream, and the state to checkpoint once it is stored.

    The engine writes the page's documents and ``state`` in one transaction, so a run killed
    between pages resumes from the last stored page without losing or repeating records.
    """

    records: list[dict]
    state: dict
    # How many records the stream holds in all, when the provider tells (progress estimates).
    total_estimate: int | None = None
    # No page follows (a reader sets it when it knows): a full read records its end with this
    # page's commit, so a run taken over right after goes straight to deletion detection.
    last: bool = False
    # External ids the provider reported deleted on this page (tombstones: Graph ``@removed``,
    # Drive ``removed``, Calendar ``cancelled``): deleted with the page, in its transaction.
    deleted: list[str] = field(default_factory=list)


@dataclass
class DocumentData:
    """A provider record mapped to a document (``Connector.to_document``)."""

    external_id: str
    title: str
    content: str
    type: str
    url: str | None = None
    author: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    metadata: dict = field(default_factory=dict)
    # The external id of this record's parent in one of its stream's ``parents``.
    parent_id: str | None = None
    # Who may read it at the source (``access.service.Readers``), for connections in the
    # ``source`` access mode; None: the connector could not tell (the record is then hidden).
    readers: object | None = None


@dataclass
class SyncContext:
    """What a connector gets to read a connection's data.

    ``access_token`` returns a valid OAuth token, refreshing it when needed (call it per
    request, not once per run); ``credentials`` holds what the connection stores (an API
    key); ``limiter`` is the connection's rate limiter, handed to the provider client;
    ``cancelled`` tells the connector to stop at the next page boundary.
    """

    connection_id: str
    connector_type: str
    credentials: dict
    settings: dict
    handle: str | None = None
    external_account_id: str | None = None
    access_token: Callable[[], str] | None = None
    limiter: object | None = None
    cancelled: Callable[[], bool] = lambda: False
    # What a connector learned during this run and may reuse in it (a repository's readers are
    # asked for once, not once per stream); a new run starts with an empty one.
    memo: dict = field(default_factory=dict)
    # Whether records' readers are used (the connection is in the ``source`` access mode): when
    # not, a connector may skip the requests that read permissions.
    readers_wanted: bool = True
    # Whether records' content is used: a permissions pass (run mode ``permissions``) stores only
    # who may read what, so a connector skips the requests that read content alone (a file's
    # export or download, a page's blocks) and maps what the listing gave.
    content_wanted: bool = True


class Connector:
    """Base class; subclasses set ``catalog`` and implement the capability for their method."""

    catalog: CatalogEntry
    implemented: bool = True
    # Records asked for per request where the provider lets us choose: its maximum by default;
    # ``<TYPE>_PAGE_SIZE`` lowers it (smaller pages checkpoint more often, cost more requests).
    page_size: int | None = None
    # The provider pushes its records to us (the custom webhook source): nothing to pull on a
    # schedule; a sync run is queued when a delivery arrives.
    push_only: bool = False
    # The operations an agent may execute on a connection (``connectors.actions.Action``).
    actions: tuple = ()

    @classmethod
    def action(cls, name: str):
        """The declared action ``name``, or None."""
        return next((a for a in cls.actions if a.name == name), None)

    @classmethod
    def capabilities(cls) -> list[dict[str, str]]:
        """Per stream: ``stream``, how ``changes`` are read, how ``deletions`` are found, who
        the ``readers`` are, in words (the README's capability table). The kit reads them off a
        connector's declarations; a connector in code says them itself."""
        return []

    @classmethod
    def rate_limits_in_words(cls) -> str:
        return ""

    @classmethod
    def syncs(cls) -> bool:
        """It reads records (some implemented connectors, Gmail so far, only connect)."""
        return cls.implemented and cls.read is not Connector.read

    def __init__(self, settings):
        # ``settings`` is a ``connectors.settings.ConnectorSettings`` for this deployment.
        self.settings = settings
        configured = settings.get("page_size") if settings is not None else None
        if configured and self.page_size:
            self.page_size = max(1, min(int(configured), type(self).page_size))

    # -- one connection's account (``CatalogEntry.connect_settings``) ----------------------------
    # The connection settings this instance was bound to by ``for_connection`` (empty: none).
    connection_settings: dict = {}

    @classmethod
    def normalize_settings(cls, settings: dict) -> dict:
        """The connect settings as the user typed them, checked and put in the form the connector
        reads (Zendesk's ``acme.zendesk.com`` -> ``acme``; a Figma team URL -> its id) before
        anything is stored; a ``ValidationError`` names the field. By default unchanged."""
        return settings

    def for_connection(self, settings: dict | None) -> "Connector":
        """This connector as one connection sees it, its settings kept as ``connection_settings``
        (Figma checks the connection's teams when it says who authorized). A connector whose
        URLs depend on the connection (Zendesk's ``https://{subdomain}.zendesk.com``, its OAuth
        endpoints too) fills them here. The OAuth flow, ``check`` and reconnect use it; a sync
        reads ``ctx.settings`` instead."""
        if not settings:
            return self
        import copy

        bound = copy.copy(self)
        bound.connection_settings = dict(settings)
        return bound

    @classmethod
    def setting_names(cls) -> tuple[str, ...]:
        """The connection settings a connection of this connector honours: the rate limits
        (``requests_per_minute`` / ``requests_per_hour``, read by ``RateLimiter.for_connection``),
        ``channels`` where a stream syncs per channel (read by the sync engine), and the
        connector's own ``extra_settings``."""
        names = ["requests_per_minute", "requests_per_hour"]
        if any(stream.channel_kind for stream in cls.catalog.streams):
            names.append("channels")
        asked = (s.name for s in cls.catalog.connect_settings if s.name not in names)
        return (*names, *cls.catalog.extra_settings, *asked)

    # -- a token the user already holds (``CatalogEntry.accepted_token``) -----------------------
    def verify_token(self, token: str, settings: dict | None = None) -> Account:
        """Verify a token given at connect with one provider call; raise ``InvalidCredentials``
        when the provider refuses it."""
        from .errors import InvalidCredentials, ProviderAuthError

        if self.catalog.auth_method == "api_key":
            return self.check(token, settings)
        try:
            return self.account(token)
        except ProviderAuthError as exc:
            raise InvalidCredentials(f"{self.catalog.display_name} refused this token.",
                                     details={"field": f"credentials.{self.catalog.accepted_token.name}"}) from None

    def stored_credentials(self, token: str) -> dict:
        """What a connection keeps of a verified token: where its connect method keeps its own
        credential (``api_key``, or the ``access_token`` an OAuth sync reads, without expiry or
        refresh token)."""
        if self.catalog.auth_method == "api_key":
            return {"api_key": token}
        return {"access_token": token, "token_type": "bearer", "refresh_token": None,
                "scope": None, "kind": self.catalog.accepted_token.name}

    # -- api_key -------------------------------------------------------------------------
    def check(self, api_key: str, settings: dict | None = None) -> Account:
        """Verify an API key with one cheap provider call; raise ``InvalidCredentials``.
        ``settings``: the connection's (its ``connect_settings``: where its account is)."""
        raise NotImplementedError

    # -- handle --------------------------------------------------------------------------
    def resolve_handle(self, handle: str) -> Account:
        """Resolve a public handle to the provider's account; raise ``HandleNotFound``."""
        raise NotImplementedError

    # -- oauth_redirect --------------------------------------------------------------------
    def account(self, access_token: str) -> Account:
        """Who authorized: one call with the fresh access token."""
        raise NotImplementedError

    def token_account(self, token: dict) -> Account:
        """Who authorized, from the whole token answer (Salesforce names its identity URL and the
        org's instance there); by default ``account`` with the access token."""
        return self.account(token["access_token"])

    # -- syncing ----------------------------------------------------------------------------
    def channels(self, ctx: SyncContext, stream: Stream) -> list[Channel]:
        """The channels of ``stream`` (only for streams with a ``channel_kind``)."""
        return []

    def channel(self, ctx: SyncContext, stream: Stream, channel_id: str) -> Channel | None:
        """One channel named by the connection's settings or a sync request, from the
        provider's own endpoint for it (raise ``ChannelNotFound`` when it is not there), so
        a named channel is synced without listing every channel first. ``None``: this
        connector cannot look one up; the engine then finds it in ``channels()``."""
        return None

    def read(self, ctx: SyncContext, stream: Stream, *, state: dict | None, mode: str,
             channel: str | None = None) -> Iterator[Page]:
        """Yield pages of ``stream``. ``mode`` is ``incremental`` (start from ``state``) or
        ``full`` (read everything; ``state`` then only resumes an interrupted full run)."""
        raise NotImplementedError

    def to_document(self, stream: Stream, record: dict) -> DocumentData:
        raise NotImplementedError

    def list_ids(self, ctx: SyncContext, stream: Stream, channel: str | None = None) -> Iterator[str] | None:
        """Every current external id of ``stream``, where the provider lists ids cheaply (the
        prune pass between full syncs); ``None`` when it cannot."""
        return None

    def fetch_records(self, ctx: SyncContext, stream: Stream, channel: str | None,
                      external_ids: list[str]) -> Iterable[tuple[str, dict]] | None:
        """The current records of these documents' ids that still belong to ``stream`` (and
        ``channel``), as ``(external_id, record)``; an id not answered is gone at the source.

        Deletion detection asks this before it deletes anything a full read (or an id listing)
        did not see: a listing can shift under a read, so "not seen" is never proof of "gone".
        Records answered here are stored (the read had missed them). ``None``: the provider
        cannot fetch by id, and nothing unseen is deleted."""
        return None

    # -- source permissions (connections in the ``source`` access mode) -------------------------
    def channel_readers(self, ctx: SyncContext, stream: Stream, channel: str | None):
        """Who may read everything of this channel (a GitHub repository's collaborators and
        teams, ``Readers.everyone()`` for a public one), where the provider grants access per
        channel; a record's own ``DocumentData.readers`` wins over it. ``None``: not per
        channel (or unknown: records without readers of their own are then hidden)."""
        return None

    def groups(self, ctx: SyncContext) -> dict | None:
        """The provider groups its readers name, ``{group key: {(kind, value), ...}}`` (a GitHub
        team's members as ``("provider_user", "github:<id>")``), refreshed with every run and
        permissions pass; ``None`` when it names none."""
        return None

    def rederive(self, stream: Stream, child: DocumentData, parent: DocumentData | None) -> DocumentData | None:
        """``child`` (a stored document of ``stream``) with what it copies of ``parent``
        brought up to date (``parent`` None: the parent is gone), or ``None`` when nothing it
        copies changed."""
        return None

    # -- provider sandbox -------------------------------------------------------------------
    @classmethod
    def sandbox_settings(cls, sandbox_url: str) -> dict:
        """Settings that point this connector at the provider sandbox (the demo switch)."""
        return {}
