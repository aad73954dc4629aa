"""A generic OAuth 2.0 authorization server shared by the OAuth providers (GitHub, Google).

The flow is one (RFC 6749 authorization code + RFC 7636 PKCE + refresh); each provider plugs
in a :class:`Dialect` that speaks its own wire format: token prefixes, the shape of a token
response, and, above all, the exact error bodies (GitHub answers token errors with HTTP 200,
Google with 400/401).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import secrets
import string
from dataclasses import asdict, dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Response, g, redirect, render_template, request

CODE_TTL = 600          # seconds an authorization code stays exchangeable
ALPHANUM = string.ascii_letters + string.digits


def random_token(length: int, alphabet: str = ALPHANUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


class OAuthError(Exception):
    """A refused token request; ``reason`` is provider-neutral, the Dialect words it.

    Reasons: invalid_client, invalid_request, unsupported_grant_type, bad_code, code_reused,
    code_expired, redirect_uri_mismatch, pkce_mismatch, pkce_missing, bad_refresh_token.
    """

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class AuthorizePageError(Exception):
    """An authorize request that cannot be redirected back (unknown client, bad redirect_uri)."""

    def __init__(self, title: str, message: str, status: int = 400):
        super().__init__(title)
        self.title = title
        self.message = message
        self.status = status


# -- storage ---------------------------------------------------------------------------------

@dataclass
class Grant:
    id: int
    provider: str
    client_id: str
    user: str
    scope: list[str]
    revoked: bool = False
    # The account the grant was made at, for a provider whose accounts each have their own URLs
    # (a Zendesk subdomain): its tokens answer and refresh there only. None: at any.
    tenant: str | None = None


@dataclass
class Code:
    value: str
    provider: str
    client_id: str
    redirect_uri: str
    scope: list[str]
    challenge: str | None
    method: str | None
    offline: bool
    expires_at: float
    used: bool = False
    grant_id: int | None = None
    tenant: str | None = None       # the account it was issued at (exchanged there only)


@dataclass
class Token:
    value: str
    kind: str                   # "access" | "refresh"
    provider: str
    grant_id: int
    expires_at: float
    revoked: bool = False
    pair: str | None = None     # refresh token -> the access token issued with it


@dataclass
class Issued:
    grant: Grant
    access: Token
    refresh: Token | None
    refresh_is_new: bool = True
    extra: dict = field(default_factory=dict)


class TokenStore:
    """Codes, grants and tokens of every OAuth provider. Callers hold the state lock."""

    def __init__(self):
        self.codes: dict[str, Code] = {}
        self.grants: dict[int, Grant] = {}
        self.tokens: dict[str, Token] = {}
        self._grant_ids = itertools.count(1)

    # issuing
    def create_code(self, dialect: "Dialect", *, client_id, redirect_uri, scope, challenge,
                    method, offline, now, tenant: str | None = None) -> Code:
        code = Code(value=dialect.new_code(), provider=dialect.provider, client_id=client_id,
                    redirect_uri=redirect_uri, scope=scope, challenge=challenge, method=method,
                    offline=offline, expires_at=now + CODE_TTL, tenant=tenant)
        self.codes[code.value] = code
        return code

    def new_grant(self, provider: str, client_id: str, user: str, scope: list[str],
                  tenant: str | None = None) -> Grant:
        grant = Grant(id=next(self._grant_ids), provider=provider, client_id=client_id,
                      user=user, scope=list(scope), tenant=tenant)
        self.grants[grant.id] = grant
        return grant

    def issue(self, dialect: "Dialect", grant: Grant, *, now, ttl, refresh_ttl,
              with_refresh: bool) -> Issued:
        access = Token(value=dialect.new_access_token(), kind="access", provider=grant.provider,
                       grant_id=grant.id, expires_at=now + ttl)
        self.tokens[access.value] = access
        refresh = None
        if with_refresh:
            refresh = Token(value=dialect.new_refresh_token(), kind="refresh",
                            provider=grant.provider, grant_id=grant.id,
                            expires_at=now + refresh_ttl, pair=access.value)
            self.tokens[refresh.value] = refresh
        return Issued(grant=grant, access=access, refresh=refresh)

    # exchanging
    def exchange_code(self, dialect: "Dialect", *, client_id, code, redirect_uri, verifier, now,
                      ttl, refresh_ttl, tenant: str | None = None) -> Issued:
        found = self.codes.get(code or "")
        if (found is None or found.provider != dialect.provider or found.client_id != client_id
                or found.tenant != tenant):
            raise OAuthError("bad_code")
        if found.used:
            # RFC 6749 section 4.1.2: a replayed code should revoke what it issued.
            if found.grant_id is not None:
                self.revoke_grant(found.grant_id)
            raise OAuthError("code_reused")
        if now > found.expires_at:
            raise OAuthError("code_expired")
        if redirect_uri is None and dialect.token_requires_redirect_uri:
            raise OAuthError("invalid_request", "Missing parameter: redirect_uri")
        if redirect_uri is not None and redirect_uri != found.redirect_uri:
            raise OAuthError("redirect_uri_mismatch")
        if found.challenge:
            if not verifier:
                raise OAuthError("pkce_missing")
            if not pkce_matches(found.challenge, found.method, verifier):
                raise OAuthError("pkce_mismatch")
        found.used = True
        grant = self.new_grant(dialect.provider, client_id, dialect.sandbox_login, found.scope, tenant)
        found.grant_id = grant.id
        return self.issue(dialect, grant, now=now, ttl=ttl, refresh_ttl=refresh_ttl,
                          with_refresh=dialect.issues_refresh_token(found.offline))

    def refresh(self, dialect: "Dialect", *, client_id, refresh_token, now, ttl, refresh_ttl,
                rotate: bool, tenant: str | None = None) -> Issued:
        token = self.tokens.get(refresh_token or "")
        if (token is None or token.kind != "refresh" or token.provider != dialect.provider
                or token.revoked or now > token.expires_at):
            raise OAuthError("bad_refresh_token")
        grant = self.grants[token.grant_id]
        if grant.revoked or grant.client_id != client_id or grant.tenant not in (None, tenant):
            raise OAuthError("bad_refresh_token")
        if not rotate:
            issued = self.issue(dialect, grant, now=now, ttl=ttl, refresh_ttl=refresh_ttl,
                                with_refresh=False)
            issued.refresh = token
            issued.refresh_is_new = False
            return issued
        # Rotation: the used refresh token and the access token issued with it stop working.
        token.revoked = True
        paired = self.tokens.get(token.pair or "")
        if paired is not None:
            paired.revoked = True
        return self.issue(dialect, grant, now=now, ttl=ttl, refresh_ttl=refresh_ttl,
                          with_refresh=True)

    # reading
    def access_grant(self, provider: str, value: str | None, now: float,
                     tenant: str | None = None) -> Grant | None:
        """The live grant behind an access token, or None if unknown, expired, revoked or made
        at another account than ``tenant`` (one made at none answers at any)."""
        token = self.tokens.get(value or "")
        if token is None or token.kind != "access" or token.provider != provider:
            return None
        if token.revoked or now > token.expires_at:
            return None
        grant = self.grants[token.grant_id]
        return None if grant.revoked or grant.tenant not in (None, tenant) else grant

    def grant_of(self, provider: str, value: str | None) -> Grant | None:
        token = self.tokens.get(value or "")
        if token is None or token.provider != provider:
            return None
        return self.grants[token.grant_id]

    # revoking
    def revoke_grant(self, grant_id: int) -> None:
        grant = self.grants.get(grant_id)
        if grant is None:
            return
        grant.revoked = True
        for token in self.tokens.values():
            if token.grant_id == grant_id:
                token.revoked = True

    def revoke_token(self, provider: str, value: str | None) -> bool:
        """Revoke the grant a live token belongs to (with all its tokens)."""
        token = self.tokens.get(value or "")
        if token is None or token.provider != provider or token.revoked:
            return False
        grant = self.grants[token.grant_id]
        if grant.revoked:
            return False
        self.revoke_grant(grant.id)
        return True

    def revoke_provider(self, provider: str) -> int:
        count = 0
        for grant in self.grants.values():
            if grant.provider == provider and not grant.revoked:
                self.revoke_grant(grant.id)
                count += 1
        return count

    # persisting (sandbox/persistence.py): plain JSON-able data
    def export(self) -> dict:
        return {"codes": [asdict(c) for c in self.codes.values()],
                "grants": [asdict(g) for g in self.grants.values()],
                "tokens": [asdict(t) for t in self.tokens.values()]}

    def load(self, data: dict) -> None:
        self.codes = {c["value"]: Code(**c) for c in data.get("codes", [])}
        self.grants = {g["id"]: Grant(**g) for g in data.get("grants", [])}
        self.tokens = {t["value"]: Token(**t) for t in data.get("tokens", [])}
        self._grant_ids = itertools.count(max(self.grants, default=0) + 1)


def pkce_matches(challenge: str, method: str | None, verifier: str) -> bool:
    if (method or "plain") == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    else:
        expected = verifier
    return hmac.compare_digest(expected, challenge)


# -- the provider's voice --------------------------------------------------------------------

class Dialect:
    """How one provider words the OAuth flow. Subclasses set the class attributes."""

    provider = ""
    display_name = ""
    sandbox_login = ""              # the signed-in sandbox user
    scope_separators = " "
    scope_joiner = " "
    token_type = "bearer"
    requires_response_type = False
    token_requires_redirect_uri = False
    default_grant_type: str | None = None
    json_body = False                   # the token endpoint takes JSON, not a form (Notion)
    scope_descriptions: dict[str, str] = {}

    def new_code(self) -> str:
        return secrets.token_hex(10)

    def new_access_token(self) -> str:
        raise NotImplementedError

    def new_personal_token(self) -> str:
        """A personal access token, for providers that issue them (GitHub's ``ghp_``)."""
        raise NotImplementedError

    def new_refresh_token(self) -> str:
        raise NotImplementedError

    def issues_refresh_token(self, offline: bool) -> bool:
        return True

    def asked_lifetimes(self, form) -> tuple[int | None, int | None]:
        """``(access, refresh)`` token lifetimes in seconds a token request asks for, where the
        provider lets it (Zendesk's ``expires_in`` / ``refresh_token_expires_in``); ``None``: the
        sandbox's. A value the provider refuses raises ``OAuthError``."""
        return None, None

    def split_scope(self, raw: str | None) -> list[str]:
        raw = raw or ""
        for sep in self.scope_separators:
            raw = raw.replace(sep, " ")
        return [s for s in raw.split(" ") if s]

    def consent_user(self, state) -> dict:
        raise NotImplementedError

    def token_body(self, issued: Issued, *, ttl: int, refresh_ttl: int) -> dict:
        raise NotImplementedError

    def token_success(self, body: dict) -> Response:
        raise NotImplementedError

    def token_error(self, error: OAuthError) -> tuple[Response, str]:
        """The provider's answer to a refused token request, and its error code (for stats)."""
        raise NotImplementedError

    def denied_params(self) -> dict:
        return {"error": "access_denied",
                "error_description": "The user has denied your application access."}


# -- the endpoints, shared -------------------------------------------------------------------

def _client_credentials(form=None) -> tuple[str | None, str | None]:
    auth = request.authorization
    if auth is not None and auth.type == "basic" and auth.username:
        return auth.username, auth.password
    form = request.values if form is None else form
    return form.get("client_id"), form.get("client_secret")


def token_request(dialect: Dialect) -> dict:
    """A token (or revoke) request's parameters: the form RFC 6749 prescribes, or the JSON body
    of a dialect whose endpoint takes JSON (Notion's); a dialect's other format is refused."""
    if dialect.json_body:
        if not request.is_json or not isinstance(request.get_json(silent=True), dict):
            raise OAuthError("invalid_request", "The request body must be a JSON object.")
        return request.get_json()
    return request.values


def validate_authorize(state, dialect: Dialect, params) -> dict:
    """Check an authorize request (GET query or consent POST form); raise AuthorizePageError."""
    client = state.client(dialect.provider, params.get("client_id"))
    if client is None:
        raise AuthorizePageError(
            "Unknown application",
            f"The client_id {params.get('client_id')!r} is not registered with this "
            f"{dialect.display_name} sandbox (error: invalid_client).")
    redirect_uri = params.get("redirect_uri")
    registered = client.get("redirect_uris") or []
    if not redirect_uri:
        if registered and not dialect.requires_response_type:
            redirect_uri = registered[0]        # GitHub falls back to the registered callback
        else:
            raise AuthorizePageError(
                "Missing redirect_uri",
                "The request has no redirect_uri, so the sandbox cannot send the user back "
                "(error: invalid_request).")
    if registered and not any(redirect_uri == uri or redirect_uri.startswith(uri.rstrip("/") + "/")
                              for uri in registered):
        raise AuthorizePageError(
            "Redirect URI mismatch",
            f"The redirect_uri {redirect_uri!r} is not registered for this application "
            "(error: redirect_uri_mismatch).")
    if urlsplit(redirect_uri).scheme not in ("http", "https"):
        raise AuthorizePageError("Invalid redirect_uri", "The redirect_uri must be an http(s) "
                                 "URL (error: invalid_request).")
    response_type = params.get("response_type")
    if dialect.requires_response_type and response_type != "code":
        raise AuthorizePageError(
            "Invalid request",
            f"Required parameter is missing or unsupported: response_type={response_type!r} "
            "(error: unsupported_response_type).")
    challenge = params.get("code_challenge") or None
    method = params.get("code_challenge_method") or None
    if challenge:
        method = method or "plain"
        if method not in ("S256", "plain"):
            raise AuthorizePageError(
                "Invalid request",
                f"code_challenge_method {method!r} is not supported (error: invalid_request).")
    return {
        "client": client,
        "client_id": client["client_id"],
        "redirect_uri": redirect_uri,
        "scope": dialect.split_scope(params.get("scope")),
        "raw_scope": params.get("scope") or "",
        "state": params.get("state"),
        "code_challenge": challenge,
        "code_challenge_method": method if challenge else None,
        "access_type": params.get("access_type") or "online",
        "response_type": response_type or "",
    }


def render_consent(state, dialect: Dialect, theme: dict):
    """GET authorize: the consent page, or a 400 error page that does not redirect."""
    try:
        req = validate_authorize(state, dialect, request.args)
    except AuthorizePageError as exc:
        return render_template("oauth_error.html", theme=theme, error=exc), exc.status
    hidden = {
        "client_id": req["client_id"],
        "redirect_uri": req["redirect_uri"],
        "scope": req["raw_scope"],
        "state": req["state"] or "",
        "code_challenge": req["code_challenge"] or "",
        "code_challenge_method": req["code_challenge_method"] or "",
        "access_type": req["access_type"],
        "response_type": req["response_type"],
    }
    scopes = [(s, dialect.scope_descriptions.get(s, s)) for s in req["scope"]]
    app_name = req["client"].get("name") or req["client_id"]
    return render_template("consent.html", theme=theme, app_name=app_name,
                           client_id=req["client_id"], scopes=scopes, hidden=hidden,
                           user=dialect.consent_user(state), redirect_host=urlsplit(
                               req["redirect_uri"]).netloc)


def decide(state, dialect: Dialect, theme: dict):
    """POST authorize (the consent form): redirect back with a code, or with access_denied."""
    try:
        req = validate_authorize(state, dialect, request.form)
    except AuthorizePageError as exc:
        return render_template("oauth_error.html", theme=theme, error=exc), exc.status
    if request.form.get("decision") != "allow":
        params = dict(dialect.denied_params())
    else:
        with state.lock:
            code = state.tokens.create_code(
                dialect, client_id=req["client_id"], redirect_uri=req["redirect_uri"],
                scope=req["scope"], challenge=req["code_challenge"],
                method=req["code_challenge_method"], offline=req["access_type"] == "offline",
                now=state.now(), tenant=g.get("tenant"))
        params = {"code": code.value}
    if req["state"] is not None and req["state"] != "":
        params["state"] = req["state"]
    return redirect(add_query(req["redirect_uri"], params), code=302)


def token_endpoint(state, dialect: Dialect) -> Response:
    """POST token: authorization_code and refresh_token grants, client secret in body or Basic."""
    try:
        with state.lock:
            form = token_request(dialect)
            client_id, secret = _client_credentials(form)
            client = state.client(dialect.provider, client_id)
            if client is None or not hmac.compare_digest(str(client["client_secret"]),
                                                         str(secret or "")):
                raise OAuthError("invalid_client")
            grant_type = form.get("grant_type") or dialect.default_grant_type
            now = state.now()
            # The account whose token endpoint this is (a Zendesk subdomain), None for most.
            tenant = g.get("tenant")
            asked_ttl, asked_refresh_ttl = dialect.asked_lifetimes(form)
            ttl = asked_ttl or state.token_ttl(dialect.provider)
            refresh_ttl = asked_refresh_ttl or state.refresh_token_ttl
            if grant_type == "authorization_code":
                if not form.get("code"):
                    raise OAuthError("invalid_request", "Missing required parameter: code")
                issued = state.tokens.exchange_code(
                    dialect, client_id=client_id, code=form.get("code"),
                    redirect_uri=form.get("redirect_uri"), verifier=form.get("code_verifier"),
                    now=now, ttl=ttl, refresh_ttl=refresh_ttl, tenant=tenant)
            elif grant_type == "refresh_token":
                issued = state.tokens.refresh(
                    dialect, client_id=client_id, refresh_token=form.get("refresh_token"),
                    now=now, ttl=ttl, refresh_ttl=refresh_ttl,
                    rotate=state.rotate_refresh_tokens.get(dialect.provider, True), tenant=tenant)
            elif not grant_type:
                raise OAuthError("invalid_request", "Missing required parameter: grant_type")
            else:
                raise OAuthError("unsupported_grant_type", grant_type)
            state.stats.token_grants[dialect.provider][grant_type] += 1
            body = dialect.token_body(issued, ttl=ttl, refresh_ttl=refresh_ttl)
    except OAuthError as exc:
        response, code = dialect.token_error(exc)
        with state.lock:
            state.stats.token_errors[dialect.provider][code] += 1
        return response
    return dialect.token_success(body)


def mint(state, dialect: Dialect, *, client_id: str, scope: list[str],
         offline: bool = True) -> dict:
    """Issue a token pair without the browser dance (POST /_sandbox/tokens)."""
    with state.lock:
        now = state.now()
        ttl = state.token_ttl(dialect.provider)
        grant = state.tokens.new_grant(dialect.provider, client_id, dialect.sandbox_login, scope)
        issued = state.tokens.issue(dialect, grant, now=now, ttl=ttl,
                                    refresh_ttl=state.refresh_token_ttl,
                                    with_refresh=dialect.issues_refresh_token(offline))
        state.stats.token_grants[dialect.provider]["sandbox_mint"] += 1
        return dialect.token_body(issued, ttl=ttl, refresh_ttl=state.refresh_token_ttl)


PERSONAL_TOKEN_TTL = 10 * 365 * 86400  # "no expiration", as a PAT can be made


def mint_personal(state, dialect: Dialect, *, scope: list[str]) -> dict:
    """Issue a personal access token (POST /_sandbox/tokens with ``kind: personal``): made by
    the user in the provider's settings, not through an app, so no client, no refresh token,
    and it does not expire. The API accepts it like an OAuth access token."""
    with state.lock:
        now = state.now()
        grant = state.tokens.new_grant(dialect.provider, "personal-access-token", dialect.sandbox_login, scope)
        token = Token(value=dialect.new_personal_token(), kind="access", provider=dialect.provider,
                      grant_id=grant.id, expires_at=now + PERSONAL_TOKEN_TTL)
        state.tokens.tokens[token.value] = token
        state.stats.token_grants[dialect.provider]["personal_access_token"] += 1
        return {"token": token.value, "scope": dialect.scope_joiner.join(scope)}


def add_query(url: str, params: dict) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer|token <value>`` header."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return None
