"""How the fidelity suite talks to each emulated provider: where its API lives on the sandbox,
its credentials, its pagination, its rate-limit headers, and the description a case is held to.

A :class:`Case` is one line of the endpoint table in test_provider_responses.py.
"""
from __future__ import annotations

import fnmatch
import importlib
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import requests

from . import descriptions
from .validation import Allow

PIPEDRIVE_KEY = "sandbox-pipedrive-key"
GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"
GOOGLE_READONLY = " ".join(f"https://www.googleapis.com/auth/{api}.readonly" for api in ("gmail", "drive", "calendar"))
SLACK_SCOPES = ("channels:read,channels:history,groups:read,groups:history,files:read,users:read,users:read.email,"
                "chat:write")
HUBSPOT_SCOPES = "oauth crm.objects.contacts.read crm.objects.companies.read crm.objects.deals.read tickets"
FRESHDESK_BASIC = "Basic c2FuZGJveC1mcmVzaGRlc2sta2V5Olg="      # sandbox-freshdesk-key:X
ATLASSIAN_SITE = "7c1e8a52-4f3b-4d5e-9a61-2b0c8d7e6f10"     # sandbox/providers/atlassian.py's SITE_ID


@dataclass(frozen=True)
class Wire:
    """How the suite speaks to one emulated provider.

    ``base``: where its API lives on the sandbox. ``credentials``: ``("header", {...})`` sent
    as is, or ``("oauth", scope)`` minted through ``POST /_sandbox/tokens`` as a bearer token.
    ``pagination``: the provider's style, a key of PAGINATION. ``rate_headers``: the rate-limit
    headers it documents (integers). ``path_args``: values for the path's placeholders.
    ``issuer``: the sandbox provider that serves it, when not its own name (Atlassian's emulation
    serves Jira and Confluence: it mints their tokens and takes their faults).
    (Graph is served by the ``microsoft`` emulation, beside the identity platform.)
    """

    base: str
    credentials: tuple
    pagination: str
    rate_headers: tuple[str, ...] = ()
    path_args: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    issuer: str | None = None


def kit_wire(name: str, pagination: str, rate_headers: tuple[str, ...], *, api: str = "",
             scope: str = "", **extra) -> Wire:
    """The Wire of a sandbox-kit emulation (sandbox/kit.py): where it lives and how to get in
    are read off its declaration (its prefix, plus ``api`` where the API sits under it; its
    first key as a bearer token or, for an OAuth emulation, a token minted with ``scope``).
    What the provider documents stays written here, not taken from the emulation under test:
    the pagination style and the rate-limit headers. An emulation that overrides
    ``credential()`` (another header) needs a Wire written out."""
    from sandbox.kit import emulations

    importlib.import_module(f"sandbox.providers.{name}")      # registers it
    emulation = emulations()[name]
    credentials = ("oauth", scope) if emulation.dialect is not None else \
        ("header", {"Authorization": f"Bearer {emulation.keys[0]}"})
    return Wire(emulation.prefix + api, credentials, pagination, rate_headers, **extra)


def graph_ids() -> dict:
    """The ids Graph paths name, from the emulation's seeded tenant (SEED 42, SCALE 25)."""
    from sandbox.kit import Collection, Seeded
    from sandbox.providers import microsoft as ms

    message = Collection("microsoft", "channel_messages", Seeded(ms.message_fields), 42, 25).by_update()[0]
    item = next(r for r in Collection("microsoft", "drive_items", Seeded(ms.file_fields), 42, 25).by_update()
                if r["drive"] == "onedrive")
    mail = Collection("microsoft", "mail", Seeded(ms.mail_fields), 42, 25).by_update()[0]
    team = message["channel"].split("/")[0]
    return {"team_id": ms.TEAM_ID[team], "channel_id": ms.CHANNEL_ID[message["channel"]], "message_id": message["id"],
            "group_id": ms.TEAM_ID[team], "drive_id": ms.DRIVE_ID["onedrive"], "item_id": item["id"],
            "site_id": ms.SITE_ID, "folder_id": ms.FOLDER_ID["inbox"], "mail_id": mail["id"]}


# Rate-limit headers as each provider documents them (all integers):
# docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api,
# developers.pipedrive.com/docs/api/v1 ("Rate limiting"), docs.x.com/x-api/fundamentals/rate-limits.
# Google sends none.
# A new emulated provider is one entry here (kit_wire for a kit emulation), and its cases in
# test_provider_responses.py.
WIRES = {
    "github": Wire("/github/api", ("oauth", "repo read:user read:discussion read:org"), "link",
                   ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-used"),
                   {"owner": "octo-sandbox", "repo": "tributary-demo", "issue_number": 1,
                    "client_id": "sandbox-github-client", "org": "tributary-labs", "team_slug": "core"},
                   {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}),
    "pipedrive": Wire("/pipedrive/api", ("header", {"x-api-token": PIPEDRIVE_KEY}), "pipedrive",
                      ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"), {"id": 1}),
    "x": kit_wire("x", "x-next-token", ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"),
                  path_args={"username": "acme", "id": "1234567890"}),
    "google": Wire("/google", ("oauth", f"openid email profile {GOOGLE_READONLY} "
                                        "https://www.googleapis.com/auth/gmail.compose"), "google",
                   path_args={"userId": "me"}),
    # Slack documents no rate-limit headers (docs.slack.dev/apis/web-api/rate-limits: a 429 with
    # Retry-After); Web API methods live under /api.
    "slack": Wire("/slack/api", ("oauth", SLACK_SCOPES), "slack"),
    # Notion sends no rate-limit headers (developers.notion.com/reference/request-limits: 429 and
    # Retry-After only); every request names its API version.
    "notion": Wire("/notion", ("oauth", ""), "notion", (),
                   {"page_id": "00000001-0000-4000-8000-000000000001",
                    "data_source_id": "00000003-0000-4000-8000-000000000001",
                    "block_id": "00000001-0000-4000-8000-000000000001"},
                   {"Notion-Version": "2025-09-03"}),
    # developer.atlassian.com/cloud/jira/platform/rate-limiting: X-RateLimit-Limit/-Remaining
    # (integers; X-RateLimit-Reset is an ISO 8601 time). One sandbox site, its cloud id in the base.
    "jira": Wire(f"/atlassian/ex/jira/{ATLASSIAN_SITE}", ("oauth", "read:jira-work read:jira-user read:me"), "jira",
                 ("x-ratelimit-limit", "x-ratelimit-remaining"),
                 {"projectIdOrKey": "OPS", "issueIdOrKey": "OPS-1", "id": "10002", "boardId": 2, "sprintId": 2},
                 issuer="atlassian"),
    "confluence": Wire(f"/atlassian/ex/confluence/{ATLASSIAN_SITE}", ("oauth", "search:confluence read:me"), "confluence",
                       ("x-ratelimit-limit", "x-ratelimit-remaining"), {"id": "100001"}, issuer="atlassian"),
    # docs.gitlab.com/user/gitlab_com/#rate-limits-on-gitlabcom: RateLimit-Limit/-Remaining/-Reset
    # (epoch seconds) and -Observed, integers; lists page with a Link header.
    "gitlab": kit_wire("gitlab", "link", ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset",
                                          "ratelimit-observed"), api="/api/v4", scope="read_api read_user",
                       path_args={"id": 1, "merge_request_iid": 1, "issue_iid": 1}),
    # discord.com/developers/docs/topics/rate-limits: X-RateLimit-Limit/-Remaining are integers
    # (-Reset and -Reset-After carry milliseconds); a bot authenticates with "Bot <token>".
    "discord": Wire("/discord/api/v10", ("header", {"Authorization": "Bot sandbox-discord-bot-token"}), "link",
                    ("x-ratelimit-limit", "x-ratelimit-remaining"),
                    {"guild_id": "1100000000000000001", "channel_id": "1100000000000000101",
                     "thread_id": "1100000000000000203"}),
    # HubSpot's X-HubSpot-RateLimit-* headers are not on its search answers (checked apart, in
    # test_provider_responses.py); the CRM listings page with paging.next.after.
    "hubspot": kit_wire("hubspot", "hubspot", (), scope=HUBSPOT_SCOPES),
    # Salesforce: the org's API under its instance (the token answer's instance_url); its one limit
    # header, Sforce-Limit-Info: api-usage=n/m, is no integer (checked in test_provider_responses.py).
    "salesforce": kit_wire("salesforce", "salesforce", (), scope="api refresh_token id",
                           path_args={"org": "00D5g00000SANDBXAAA", "user": "0055g0000000000AAA"}),
    # support.freshdesk.com/support/solutions/articles/225439: X-RateLimit-Total/-Remaining and
    # -Used-CurrentRequest (integers); a helpdesk's API under its own domain, the key as a Basic
    # username; lists page with a Link header.
    "freshdesk": Wire("/freshdesk/acme/api/v2", ("header", {"Authorization": FRESHDESK_BASIC}), "link",
                      ("x-ratelimit-total", "x-ratelimit-remaining", "x-ratelimit-used-currentrequest"), {"id": 1}),
    # developers.intercom.com/docs/references/rest-api/errors/rate-limiting: X-RateLimit-Limit,
    # -Remaining, -Reset (epoch seconds); search pages by pages.next.starting_after in the body
    # (a POST: the suite's cases read first pages), lists by page number.
    "intercom": kit_wire("intercom", "intercom", ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"),
                         api="/api", path_args={"id": 1}, headers={"Intercom-Version": "2.11"}),
    # developers.figma.com/docs/rest-api/rate-limits: no rate-limit headers before a 429 (then
    # Retry-After, X-Figma-Plan-Tier, X-Figma-Rate-Limit-Type); components page by meta.cursor.after.
    "figma": kit_wire("figma", "figma", (), api="/api", scope="current_user:read file_content:read",
                      path_args={"team_id": "1200000000000000001", "project_id": "3001",
                                 "file_key": "Fk000001AcmeDesign", "key": "c00000001"}),
    # Graph sends no rate-limit headers (only Retry-After on 429/503); Outlook's delta sizes its
    # pages by Prefer: odata.maxpagesize.
    "graph": Wire("/microsoft/v1.0", ("oauth", "openid offline_access User.Read ChannelMessage.Read.All "
                                                "ChannelMessage.Send Mail.ReadWrite Mail.Send "
                                                "Files.Read.All Sites.Read.All Mail.Read"), "graph",
                  path_args=graph_ids(), headers={"Prefer": "odata.maxpagesize=3"}, issuer="microsoft"),
}
LINK_PART = re.compile(r'^<(?P<url>[^>]+)>;\s*rel="(?P<rel>[a-z]+)"$')


@dataclass(frozen=True)
class Case:
    """One request to the sandbox and the published description its answer must conform to.

    ``path`` is the provider's documented path with ``{placeholders}`` (for GitHub, exactly the
    OpenAPI path template), filled from the Wire's and the case's ``path_args``. ``schema`` is
    what descriptions.schema() reads: for GitHub, None means the operation's own response for
    ``status``, a name means components/schemas; Pipedrive ``"v1:Model"``, ``"v2:Model"``,
    ``"v1-deprecated:Model"``; X a model name; Google a discovery method id; Slack a method
    name; Graph an entity (``driveItem[]`` a page of them); Notion, Jira and Confluence None
    (their descriptions know ``"METHOD path"``) or a model name. ``page``: follow the
    provider's own pagination to that page first.
    ``links``: the rel values the Link header must carry (``()``: no Link header; None: any).
    ``extras``: undocumented fields the real provider sends too (patterns, ``*`` for indexes).
    """

    provider: str
    method: str
    path: str
    params: dict = field(default_factory=dict)
    schema: str | None = None
    status: int = 200
    json: dict | None = None
    page: int = 1
    auth: bool = True
    fault: dict | None = None
    path_args: dict = field(default_factory=dict)
    allow: tuple[Allow, ...] = ()
    extras: tuple[str, ...] = ()
    links: tuple[str, ...] | None = None

    @property
    def id(self) -> str:
        extra = [f"{k}={v}" for k, v in self.params.items()] + [f"{k}={v}" for k, v in self.path_args.items()]
        extra += [f"{k}={v}" for k, v in (self.json or {}).items()]      # POST listings differ by body
        if self.page > 1:
            extra.append(f"page {self.page}")
        if not self.auth:
            extra.append("no credentials")
        if self.fault:
            extra.append(f"fault {self.fault['kind']}")
        return f"{self.provider} {self.method} {self.path} -> {self.status}" + (
            f" [{', '.join(extra)}]" if extra else "")

    # -- the description --------------------------------------------------------------------
    def description(self) -> tuple[dict | None, dict]:
        """(body schema or None for no body, {header: schema} the description names)."""
        if self.provider == "github" and self.schema is None:
            return descriptions.github_response(self.method, self.path, self.status)
        if self.provider == "figma":
            return descriptions.figma_schema(self.schema or f"{self.method} {self.path}", self.status), {}
        return descriptions.schema(self.provider, self.schema or f"{self.method} {self.path}",
                                   status=self.status), {}

    def undocumented_allowed(self, path: str) -> bool:
        from .conform import PROTOCOL_EXTRAS        # OData annotations on every Graph body

        return any(fnmatch.fnmatchcase(path, pattern)
                   for pattern in self.extras + PROTOCOL_EXTRAS.get(self.provider, ()))


class Client:
    """Requests to one provider of a live sandbox, with that provider's credentials."""

    def __init__(self, sandbox_url: str, provider: str):
        self.root, self.provider, self.wire = sandbox_url, provider, WIRES[provider]
        self.base = sandbox_url + self.wire.base
        self.headers = {**self._credentials(), **self.wire.headers}

    def _credentials(self) -> dict:
        kind, value = self.wire.credentials
        if kind == "header":
            return dict(value)
        minted = requests.post(f"{self.root}/_sandbox/tokens",
                               json={"provider": self.wire.issuer or self.provider, "scope": value}, timeout=5)
        minted.raise_for_status()
        return {"Authorization": f"Bearer {minted.json()['access_token']}"}

    def path_args(self, case: Case) -> dict:
        args = {**self.wire.path_args, **case.path_args}
        if "{message_id}" in case.path and "message_id" not in args:
            listed = self.request("GET", "/gmail/v1/users/me/messages", {"maxResults": 1}).json()
            args["message_id"] = listed["messages"][0]["id"]
        if "{thread_id}" in case.path and "thread_id" not in args:
            listed = self.request("GET", "/gmail/v1/users/me/threads", {"maxResults": 1}).json()
            args["thread_id"] = listed["threads"][0]["id"]
        return args

    def request(self, method: str, path: str, params: dict | None = None, *, json=None,
                auth: bool = True) -> requests.Response:
        url = path if path.startswith("http") else self.base + path
        return requests.request(method, url, params=params, json=json, timeout=10,
                                headers=self.headers if auth else {})

    def fault(self, spec: dict, path: str) -> None:
        body = {"provider": self.wire.issuer or self.provider, "path_prefix": urlsplit(self.base + path).path, **spec}
        requests.post(f"{self.root}/_sandbox/faults", json=body, timeout=5).raise_for_status()

    def next_page(self, response: requests.Response, path: str, params: dict) -> tuple[str, dict] | None:
        """(path or absolute URL, parameters) of the page after ``response``, the provider's
        way; None at the end."""
        return PAGINATION[self.wire.pagination](response, path, params)

    def send(self, case: Case) -> requests.Response:
        """The case's request, after walking to its page and injecting its fault."""
        path = case.path.format(**self.path_args(case))
        params = dict(case.params)
        for _ in range(case.page - 1):
            previous = self.request(case.method, path, params, auth=case.auth)
            assert previous.status_code == 200, previous.text
            following = self.next_page(previous, path, params)
            assert following is not None, f"{case.id}: there is no page {case.page}"
            path, params = following
        if case.fault:
            self.fault(case.fault, path)
        return self.request(case.method, path, params, json=case.json, auth=case.auth)


# -- pagination styles: (response, path, params) -> (path or URL, params) of the next page, or None

def _query_of(url: str) -> tuple[str, dict]:
    parts = urlsplit(url)
    return parts._replace(query="").geturl(), dict(parse_qsl(parts.query))


def _github(response, path, params):
    link = links(response).get("next")
    return _query_of(link) if link else None


def _pipedrive(response, path, params):
    body = response.json()
    pagination = (body.get("additional_data") or {}).get("pagination") or {}
    if "next_start" in pagination:          # v1 offsets
        return (path, {**params, "start": pagination["next_start"]}) \
            if pagination.get("more_items_in_collection") else None
    cursor = (body.get("additional_data") or {}).get("next_cursor")    # v2 cursors
    return (path, {**params, "cursor": cursor}) if cursor else None


def _token(body_path: tuple[str, ...], parameter: str):
    """A next-page token found at ``body_path`` sent back as ``parameter``."""
    def follow(response, path, params):
        value = response.json()
        for step in body_path:
            value = (value or {}).get(step)
        return (path, {**params, parameter: value}) if value else None
    return follow


def _next_url(body_path: tuple[str, ...]):
    """A next-page URL in the body (absolute, or relative to the sandbox's provider base)."""
    def follow(response, path, params):
        value = response.json()
        for step in body_path:
            value = (value or {}).get(step)
        return _query_of(value) if value else None
    return follow


def _confluence(response, path, params):
    """v2 answers ``/wiki/api/v2/...?cursor=``; v1 ``/rest/api/...`` under ``_links.context``."""
    body = response.json()
    link = (body.get("_links") or {}).get("next")
    if not link:
        return None
    if not link.startswith(("http", "/wiki/")):
        link = (body["_links"].get("context") or "/wiki") + link
    return _query_of(link)


PAGINATION = {
    "link": _github,                                              # GitHub's Link header
    "pipedrive": _pipedrive,                                      # v1 next_start, v2 next_cursor
    "x-next-token": _token(("meta", "next_token"), "pagination_token"),
    "google": _token(("nextPageToken",), "pageToken"),            # every Google API
    "slack": _token(("response_metadata", "next_cursor"), "cursor"),
    "notion": _token(("next_cursor",), "start_cursor"),           # GET endpoints (search is a POST body)
    "jira": _token(("nextPageToken",), "nextPageToken"),          # /rest/api/3/search/jql
    "graph": _next_url(("@odata.nextLink",)),                     # absolute URL with $skiptoken
    "confluence": _confluence,                                    # _links.next, relative to the site
    "hubspot": _token(("paging", "next", "after"), "after"),      # CRM listings (search takes it in its body)
    "salesforce": _next_url(("nextRecordsUrl",)),                 # queryMore: /services/data/vXX.X/query/<locator>
    "intercom": _next_url(("pages", "next")),                     # GET /articles: the next page's URL
    "figma": _token(("meta", "cursor", "after"), "after"),        # a team's components
}


def links(response: requests.Response) -> dict[str, str]:
    """GitHub's Link header as {rel: url}; AssertionError when it is malformed (RFC 8288)."""
    header = response.headers.get("Link")
    if not header:
        return {}
    found = {}
    for part in header.split(","):
        match = LINK_PART.match(part.strip())
        assert match, f"malformed Link header part {part!r}"
        assert match["rel"] not in found, f"Link header names rel={match['rel']} twice"
        assert urlsplit(match["url"]).scheme in ("http", "https"), \
            f"Link URL {match['url']!r} is not absolute"
        found[match["rel"]] = match["url"]
    return found


def header_problems(case: Case, response: requests.Response, header_schemas: dict) -> list[str]:
    """The documented headers: rate limits, Link, Location, Content-Type."""
    found = []
    if case.auth or case.provider == "github":      # GitHub counts unauthenticated calls per IP
        for name in WIRES[case.provider].rate_headers:
            value = response.headers.get(name)
            if value is None or not value.isdigit():
                found.append(f"header {name}: {value!r} is not an integer")
    if case.provider == "github":
        rels = links(response)
        if rels and "link" not in header_schemas:
            found.append("a Link header on a response whose description has none")
        if case.links is not None and set(rels) != set(case.links):
            found.append(f"Link rels {sorted(rels)}, expected {sorted(case.links)}")
        if "location" in header_schemas and response.status_code == 201:
            if response.headers.get("Location") != response.json().get("url"):
                found.append(f"Location {response.headers.get('Location')!r} is not the new resource's url")
    content_type = response.headers.get("Content-Type", "")
    if response.status_code != 204 and not content_type.startswith("application/json"):
        found.append(f"Content-Type {content_type!r} is not JSON")
    return found
