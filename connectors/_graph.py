"""Microsoft Graph v1.0 and the Microsoft identity platform, shared by Microsoft 365 and Outlook.

Sign-in: OAuth 2.0 authorization code flow with PKCE on the ``common`` tenant (any organization's
accounts; Outlook also takes personal Microsoft accounts), ``offline_access`` for refresh tokens,
access tokens of about an hour:
https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow. The identity
platform has no RFC 7009 revocation endpoint: a disconnect drops the tokens (people revoke the
consent at https://myapps.microsoft.com).

Graph's conventions, the same for every stream (https://learn.microsoft.com/en-us/graph/):
collections page with an absolute ``@odata.nextLink`` (``/paging``; its query is our page token);
delta queries end a round with an ``@odata.deltaLink`` whose query is the next round's cursor
(``/delta-query-overview``); errors are ``{"error": {"code", "message", "innerError"}}`` (``/errors``):
401 ``InvalidAuthenticationToken`` means the connection needs a new sign-in; 429 (and SharePoint's
503) carry Retry-After, which the paced client waits out (``/throttling``). No official SDK: the
Graph SDK for Python is async-only (kiota, httpx) and would bypass the paced client; Graph's REST
conventions are few and declared here instead.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from .base import OAuthEndpoints
from .errors import ProviderAuthError
from .kit import Auth, OnError, RestConnector, WhoAmI
from .rest import NextUrlPaginator, RestStream

LOGIN = "https://login.microsoftonline.com/common/oauth2/v2.0"
DELTA = ("@odata.deltaLink",)
SANDBOX_CLIENT = {"client_id": "sandbox-microsoft-client", "client_secret": "sandbox-microsoft-secret"}


def sign_in(*scopes: str) -> OAuthEndpoints:
    """The identity platform's endpoints, asking for ``scopes`` besides sign-in and refresh."""
    return OAuthEndpoints(authorize=f"{LOGIN}/authorize", token=f"{LOGIN}/token",
                          scopes=("openid", "profile", "email", "offline_access", "User.Read", *scopes))


def pages(path: str, *, bucket: str | None = None, page_size: int | None = None, top: bool = True,
          **params) -> RestStream:
    """A Graph collection: records in ``value``, pages by ``@odata.nextLink``; ``$top`` asks a page
    size, or (``top=False``, Outlook's delta) only the ``Prefer: odata.maxpagesize`` header does."""
    return RestStream(path, NextUrlPaginator(("@odata.nextLink",), "$top" if top else None), records_path=("value",),
                      params=params, bucket=bucket, page_size=page_size)


def every(api, path: str, params: dict | None = None, **args):
    """Every record of a Graph collection (small ones: teams, channels, members, permissions);
    ``path``'s placeholders are filled like a listing's, ``args`` adding some."""
    path = api.fill(path, **args)
    body = api.get(path, params)
    while True:
        yield from (body or {}).get("value") or []
        following = (body or {}).get("@odata.nextLink")
        if not following:
            return
        body = api.get(path, dict(parse_qsl(urlsplit(following).query, keep_blank_values=True)))


def next_link(body, asked):
    """A Graph listing's next page (``@odata.nextLink``, a whole URL), for ``actions.Lookup.more``."""
    from .actions import ProviderRequest

    link = (body or {}).get("@odata.nextLink")
    return ProviderRequest("GET", link) if link else None


def graph_errors(consent: str) -> tuple[OnError, ...]:
    """Graph's refusals in words a person can act on, keeping Graph's own (``{said}``)."""
    return (OnError(401, error=ProviderAuthError,
                    message="Microsoft refused the connection's access token ({said}); sign in again to reconnect."),
            OnError(403, message="Microsoft Graph refused the request: {said} " + consent))


class GraphConnector(RestConnector):
    """What every Graph connector shares: the bearer token (with ``Prefer: odata.maxpagesize`` for
    the collections that size pages by it rather than ``$top``), who signed in, Graph's pages."""

    auth = Auth(lambda connector, ctx: {"Authorization": f"Bearer {ctx.access_token()}",
                                        "Prefer": f"odata.maxpagesize={connector.page_size}"})
    whoami = WhoAmI("/me", id="id", handle=lambda user: user.get("mail") or user.get("userPrincipalName"),
                    name="displayName")
    page_size = 50

    @classmethod
    def sandbox_settings(cls, sandbox_url: str) -> dict:
        root = f"{sandbox_url}/microsoft"
        return {"api_url": f"{root}/v1.0", "authorize_url": f"{root}/common/oauth2/v2.0/authorize",
                "token_url": f"{root}/common/oauth2/v2.0/token", **SANDBOX_CLIENT}
