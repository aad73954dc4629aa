"""What Jira and Confluence share: Atlassian's OAuth 2.0 (3LO), the site a connection reads, the
user's time zone for JQL and CQL date literals, their errors and how readers are named.

OAuth (https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/): authorize at
https://auth.atlassian.com/authorize with ``audience=api.atlassian.com`` and ``prompt=consent``,
exchange at https://auth.atlassian.com/oauth/token. Access tokens live an hour; ``offline_access``
brings a refresh token, which rotates (every refresh answers a new one; the old one stops working)
and expires after 90 days unused. Atlassian has no revocation endpoint.

The site: ``GET https://api.atlassian.com/oauth/token/accessible-resources`` lists the sites the
grant covers (``id`` is the cloud id, with ``url`` and ``scopes``). A connection holds the first
site whose scopes are its product's as its account, so paths name it as ``{account}``
(``/ex/jira/{cloudid}/rest/api/3/...``, ``/ex/confluence/{cloudid}/wiki/...``); ``GET
https://api.atlassian.com/me`` (``read:me``) says who signed in, and their account id is the
member's identity link (``jira:<accountId>``, ``confluence:<accountId>``) that readers name.

Dates in JQL and CQL (``updated >= "yyyy-MM-dd HH:mm"``, ``lastmodified >= ...``) have minute
granularity and are read in the user's own time zone (CQL fields: "relative to your configured
time zone"). The cursor is therefore the UTC minute of the newest change read (``utc_minute``) and
the incremental read asks from that minute again (``>=``), converted to the user's zone
(``query_minute``): every record of the boundary minute comes back, and the kit's boundary
fingerprints drop the ones already read while letting one changed within that minute through.

Rate limits (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/, the same page for
Confluence): a points quota per hour (a GET costs 1 point plus 1 per object it returns; OAuth
apps share 65,000 points an hour across their tenants in the global tier) and unpublished
per-second limits per endpoint. A refused request is a 429 with ``Retry-After`` (seconds),
``X-RateLimit-Reset`` (ISO 8601, to the minute), ``X-RateLimit-Limit``/``-Remaining``,
``X-RateLimit-NearLimit`` and ``RateLimit-Reason``; the paced client waits them out and a quota
spent for hours checkpoints the run.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .base import Account, OAuthEndpoints, RateLimits
from .errors import ProviderNotFound, ProviderRefused, ReadersUnknown
from .http import ProviderClient
from .kit import OnError
from .rest import parse_time

# Paced under the per-second burst limits; the hourly points quota answers 429 with Retry-After.
RATE_LIMITS = RateLimits(requests_per_minute=100)
ERRORS = (
    OnError(400, message="{provider} did not accept the request: {said}"),
    OnError(403, message="{provider} does not let this connection read it: {said}"),
    OnError(404, error=ProviderNotFound, message="{provider} has no such item (or hides it): {said}"),
)


def oauth(*scopes: str) -> OAuthEndpoints:
    return OAuthEndpoints(authorize="/authorize", token="/oauth/token", scopes=(*scopes, "read:me", "offline_access"),
                          authorize_params={"audience": "api.atlassian.com", "prompt": "consent"})


def sandbox_settings(sandbox_url: str) -> dict:
    """One Atlassian emulation serves the auth server, api.atlassian.com and both products."""
    return {"base_url": f"{sandbox_url}/atlassian", "api_url": f"{sandbox_url}/atlassian",
            "client_id": "sandbox-atlassian-client", "client_secret": "sandbox-atlassian-secret"}


def site_account(connector, access_token: str, product: str) -> Account:
    """The first site the grant covers for ``product`` ("jira", "confluence"), as the account
    a connection holds, and who signed in (``identity``)."""
    client = ProviderClient(connector.provider_name, connector.settings.api_url, timeout=connector.settings.timeout,
                            headers={"Authorization": f"Bearer {access_token}"})
    sites = client.get_json("/oauth/token/accessible-resources") or []
    site = next((s for s in sites if any(product in scope for scope in s.get("scopes") or ())), None)
    if site is None:
        raise ProviderRefused(f"This Atlassian authorization covers no {connector.provider_name} site; "
                              "choose a site on Atlassian's consent page.", details={"sites": len(sites)})
    me = client.get_json("/me") or {}
    return Account(external_id=site["id"], handle=me.get("email") or site.get("url"), display_name=site.get("name"),
                   avatar_url=site.get("avatarUrl"), identity=me.get("account_id"))


def site_url(api) -> str:
    """The connection's site address (``https://acme.atlassian.net``), for links; once a run."""
    memo = api.ctx.memo
    if "atlassian.site" not in memo:
        sites = api.get("/oauth/token/accessible-resources") or []
        memo["atlassian.site"] = next((s.get("url") for s in sites if s.get("id") == api.ctx.external_account_id), "")
    return memo["atlassian.site"] or ""


def user_zone(api, path: str):
    """The signed-in user's time zone (``timeZone`` at ``path``), once a run; UTC if unknown."""
    memo = api.ctx.memo
    if "atlassian.zone" not in memo:
        name = (api.get(api.fill(path)) or {}).get("timeZone") or "UTC"
        try:
            memo["atlassian.zone"] = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            memo["atlassian.zone"] = timezone.utc
    return memo["atlassian.zone"]


def utc_minute(value) -> str:
    """An Atlassian timestamp (``2024-05-01T12:32:15.123+0200``) as its UTC minute,
    ``2024-05-01T10:32``: the finest time JQL and CQL can filter on (sorts as text)."""
    parsed = parse_time(value)
    return parsed.strftime("%Y-%m-%dT%H:%M") if parsed else ""


def query_minute(cursor: str, zone) -> str:
    """``cursor`` (a UTC minute) as a JQL/CQL literal in the user's zone. Where that wall time
    happens twice (clocks turned back) the provider may read the later one, so the literal is
    taken an hour earlier: reading a few records again is harmless, skipping them is not."""
    utc = datetime.strptime(cursor, "%Y-%m-%dT%H:%M").replace(tzinfo=timezone.utc)
    wall = utc.astimezone(zone).replace(tzinfo=None)
    if wall.replace(tzinfo=zone, fold=0).utcoffset() != wall.replace(tzinfo=zone, fold=1).utcoffset():
        wall = (utc - timedelta(hours=1)).astimezone(zone).replace(tzinfo=None)
    return wall.strftime("%Y-%m-%d %H:%M")


def person(kind: str, account_id) -> tuple[str, str]:
    """An Atlassian account as a reader: what the member's identity link names."""
    return ("provider_user", f"{kind}:{account_id}")


def group(kind: str, connection_id: str, group_id) -> tuple[str, str]:
    """A site group as a reader, scoped to the connection that lists its members."""
    return ("provider_group", f"{kind}:{connection_id}:{group_id}")


def members(users, kind: str) -> set[tuple[str, str]]:
    """Users (Jira's ``UserDetails``, Confluence's ``User``) as reader entries: the account id,
    and the e-mail address where the user's privacy settings show it."""
    found = set()
    for user in users:
        if user.get("accountId"):
            found.add(person(kind, user["accountId"]))
        email = user.get("emailAddress") or user.get("email")
        if email:
            found.add(("email", email.lower()))
    return found


def stored(readers) -> object:
    """Readers as a record field (``_readers``): ``"everyone"``, sorted ``[kind, value]`` pairs, or
    None when unknown. Plain JSON, so a record's fingerprint is the same in every process."""
    if readers is None:
        return None
    return "everyone" if readers.workspace else sorted([kind, value] for kind, value in readers.entries)


def readers_of(record: dict):
    """A record's ``_readers`` back as ``Readers`` (None: unknown, the record is hidden)."""
    from access.service import Readers

    value = record.get("_readers")
    if value is None:
        return None
    return Readers.everyone() if value == "everyone" else Readers.of(*(tuple(pair) for pair in value))


def every(api, listing, **args) -> list:
    """Every record of a small listing (a group's members), page after page."""
    from .rest import read_listing

    pages = read_listing(api.connector._fetcher(None, listing, api, args=args), state=None, mode="full",
                         key=lambda r: str(r.get("accountId") or r.get("id") or r))
    return [record for page in pages for record in page.records]


def remembered(api, name: str, key: str, compute, refused: str):
    """``compute(api, key)`` once a run (a project's or space's readers). A refusal is kept too,
    as ``ReadersUnknown`` worded by ``refused`` (``{key}``, ``{said}``: the provider's words)."""
    memo = api.ctx.memo.setdefault(name, {})
    if key not in memo:
        try:
            memo[key] = compute(api, key)
        except ReadersUnknown as exc:
            memo[key] = exc
        except ProviderRefused as exc:
            said = (exc.details or {}).get("provider_message") or exc.message
            memo[key] = ReadersUnknown(refused.format(key=key, said=said), details={**(exc.details or {}), "channel": key})
    if isinstance(memo[key], ReadersUnknown):
        raise memo[key]
    return memo[key]


def known_or_raise(readers_of):
    """A channel's ``readers`` callback that only says whether they are known: it raises
    ``ReadersUnknown`` when not (the unit says why and the channel's records stay hidden), and
    answers None when they are, because every record carries its own readers (a restricted page,
    a secured issue): a permissions pass then re-reads records instead of regranting the channel
    in bulk, which would expose them."""
    def check(api, channel):
        readers_of(api, channel)
        return None
    return check


def adf(body: str) -> dict:
    """Plain text as an Atlassian Document Format document: a paragraph per paragraph of text
    (Jira v3 takes descriptions and comments only as ADF)."""
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()] or [body]
    return {"type": "doc", "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": p}]} for p in paragraphs]}
