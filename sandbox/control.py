"""The sandbox's own control API under /_sandbox (JSON): faults, configuration, statistics,
reset, credentials and clock. Tests and benchmarks drive the sandbox through it.
"""
from __future__ import annotations

import hashlib
import html

from flask import Blueprint, Response, jsonify, request

from . import oauth
from .faults import FaultBook, FaultError, provider_names
from .providers import root_url, state
from .providers.github import DIALECT as GITHUB_DIALECT
from .providers.google import DIALECT as GOOGLE_DIALECT
from .seed import iso_ms
from .state import DEFAULT_PIPEDRIVE_KEY, DEFAULT_X_BEARER

bp = Blueprint("sandbox_control", __name__)
DIALECTS = {"github": GITHUB_DIALECT, "google": GOOGLE_DIALECT}


def dialects() -> dict:
    """The OAuth dialects: GitHub's and Google's, and those of kit emulations."""
    from .kit import emulations

    return {**DIALECTS, **{name: p.dialect for name, p in emulations().items() if p.dialect is not None}}


def bad(message: str, status: int = 400):
    return jsonify({"error": message}), status


def body() -> dict:
    payload = request.get_json(silent=True)
    return payload if isinstance(payload, dict) else {}


@bp.get("/")
@bp.get("/_sandbox")
def index():
    """What this sandbox serves and the demo credentials that open it."""
    st = state()
    root = root_url()
    clients = {p: [{"client_id": c["client_id"], "client_secret": c["client_secret"]}
                   for c in cs] for p, cs in st.clients.items()}
    return jsonify({
        "service": "Tributary provider sandbox", "seed": st.seed, "scale": st.scale,
        "providers": {
            "github": {"web_base": f"{root}/github", "api_base": f"{root}/github/api",
                       "authorize_url": f"{root}/github/login/oauth/authorize",
                       "token_url": f"{root}/github/login/oauth/access_token",
                       "clients": clients.get("github", [])},
            "google": {"authorize_url": f"{root}/google/o/oauth2/v2/auth",
                       "token_url": f"{root}/google/token", "revoke_url": f"{root}/google/revoke",
                       "userinfo_url": f"{root}/google/oauth2/v3/userinfo",
                       "gmail_base": f"{root}/google/gmail/v1", "drive_base": f"{root}/google/drive/v3",
                       "calendar_base": f"{root}/google/calendar/v3",
                       "clients": clients.get("google", [])},
            "pipedrive": {"api_base": f"{root}/pipedrive/api/v1",
                          "api_key": DEFAULT_PIPEDRIVE_KEY},
            "x": {"api_base": f"{root}/x/2", "bearer_token": DEFAULT_X_BEARER,
                  "known_usernames": ["acme", "tributary", "jack", "sandbox_<anything>"]},
        },
        "control": f"{root}/_sandbox",
    })


# -- faults ----------------------------------------------------------------------------------

@bp.post("/_sandbox/faults")
def add_fault():
    """Inject a fault; revoke_tokens acts at once, the others affect the next `count` requests."""
    spec = body()
    st = state()
    try:
        valid = FaultBook.validate(spec)
    except FaultError as exc:
        return bad(str(exc))
    if valid["kind"] == "revoke_tokens":
        revoked = st.revoke_provider_credentials(valid["provider"])
        return jsonify({"provider": valid["provider"], "kind": "revoke_tokens",
                        "revoked": revoked}), 201
    with st.lock:
        fault = st.faults.add(spec)
    return jsonify({"fault": fault.as_dict()}), 201


@bp.post("/_sandbox/faults/<int:fault_id>/release")
def release_hold(fault_id: int):
    """Let a hold's requests go on: {"requests": n} lets n more through (any that wait, or the next),
    an empty body lifts the hold for good (it leaves the pending faults)."""
    spec = request.get_json(silent=True) or {}
    st = state()
    with st.lock:
        hold = st.faults.hold(fault_id)
        if hold is None:
            return bad(f"no hold fault {fault_id}", status=404)
        requests_ = spec.get("requests")
        if requests_ is not None and (isinstance(requests_, bool) or not isinstance(requests_, int)
                                      or requests_ < 1):
            return bad("requests must be a positive integer (or leave it out to lift the hold)")
        if requests_ is None:
            st.faults.lift(fault_id)
        hold.release(requests_)
        return jsonify({"fault": hold.as_dict()})


@bp.get("/_sandbox/faults")
def list_faults():
    st = state()
    with st.lock:
        return jsonify({"faults": st.faults.pending()})


@bp.delete("/_sandbox/faults")
def clear_faults():
    st = state()
    with st.lock:
        return jsonify({"cleared": st.faults.clear()})


# -- configuration ---------------------------------------------------------------------------

def config_view(st) -> dict:
    return {
        "access_token_ttl": st.access_token_ttl, "refresh_token_ttl": st.refresh_token_ttl,
        "rate_limit": {p: {"per_minute": n} for p, n in st.enforced_limits.items()},
        "rotate_refresh_tokens": dict(st.rotate_refresh_tokens),
        "clock_offset": st.clock_offset,
    }


@bp.get("/_sandbox/config")
def get_config():
    st = state()
    with st.lock:
        return jsonify(config_view(st))


@bp.post("/_sandbox/config")
def set_config():
    """Change token lifetimes, enforce per-minute rate limits, switch refresh-token rotation."""
    spec = body()
    st = state()
    with st.lock:
        if "access_token_ttl" in spec:
            ttl = spec["access_token_ttl"]
            valid = (isinstance(ttl, int) and ttl > 0) or (
                isinstance(ttl, dict) and all(isinstance(v, int) and v > 0 for v in ttl.values()))
            if not valid:
                return bad("access_token_ttl must be a positive integer or {provider: seconds}")
            st.access_token_ttl = ttl
        if "refresh_token_ttl" in spec:
            if not isinstance(spec["refresh_token_ttl"], int) or spec["refresh_token_ttl"] <= 0:
                return bad("refresh_token_ttl must be a positive integer")
            st.refresh_token_ttl = spec["refresh_token_ttl"]
        for provider, limit in (spec.get("rate_limit") or {}).items():
            if provider not in provider_names():
                return bad(f"unknown provider {provider!r}")
            if limit is None:
                st.enforced_limits.pop(provider, None)
                continue
            per_minute = limit.get("per_minute") if isinstance(limit, dict) else None
            if not isinstance(per_minute, int) or per_minute < 1:
                return bad("rate_limit needs {provider: {\"per_minute\": N >= 1}} or null")
            st.enforced_limits[provider] = per_minute
        for provider, rotate in (spec.get("rotate_refresh_tokens") or {}).items():
            if provider not in dialects() or not isinstance(rotate, bool):
                return bad("rotate_refresh_tokens takes {github|google: true|false}")
            st.rotate_refresh_tokens[provider] = rotate
        return jsonify(config_view(st))


@bp.post("/_sandbox/clock")
def advance_clock():
    """Move the sandbox clock forward (token expiry, code expiry and rate windows follow)."""
    seconds = body().get("advance_seconds")
    if not isinstance(seconds, (int, float)) or seconds < 0:
        return bad("advance_seconds must be a non-negative number")
    st = state()
    with st.lock:
        st.clock_offset += seconds
        return jsonify({"clock_offset": st.clock_offset, "now": st.now()})


# -- statistics and reset --------------------------------------------------------------------

@bp.get("/_sandbox/stats")
def stats():
    st = state()
    with st.lock:
        return jsonify(st.stats.as_dict())


@bp.post("/_sandbox/reset")
def reset():
    """Back to the freshly seeded state: tokens, keys, faults, limits, counters, writes, clock."""
    state().reset()
    return jsonify({"reset": True})


# -- credentials -----------------------------------------------------------------------------

@bp.post("/_sandbox/pipedrive/keys")
def add_pipedrive_key():
    key = body().get("api_key")
    if not isinstance(key, str) or not key.strip():
        return bad("api_key must be a non-empty string")
    st = state()
    with st.lock:
        st.pipedrive_keys.add(key)
    return jsonify({"api_key": key}), 201


@bp.post("/_sandbox/x/tokens")
def add_x_token():
    token = body().get("bearer_token")
    if not isinstance(token, str) or not token.strip():
        return bad("bearer_token must be a non-empty string")
    st = state()
    with st.lock:
        st.x_bearer_tokens.add(token)
    return jsonify({"bearer_token": token}), 201


@bp.post("/_sandbox/x/posts")
def publish_x_post():
    """Publish a post on an X account's timeline (the X API cannot with an app-only token)."""
    spec = body()
    text = spec.get("text")
    if not isinstance(text, str) or not text.strip():
        return bad("text must be a non-empty string")
    st = state()
    x = st.data.x
    user = (x.by_username(spec["username"]) if isinstance(spec.get("username"), str)
            else x.by_id(str(spec.get("user_id", ""))))
    if user is None:
        return bad("unknown X account: give an existing username or user_id", 404)
    with st.lock:
        tweet_id, created = x.publish(user, text, st.now())
    return jsonify({"id": str(tweet_id), "text": text, "author_id": user["id"],
                    "created_at": iso_ms(created)}), 201


@bp.delete("/_sandbox/x/posts/<int:tweet_id>")
def delete_x_post(tweet_id):
    """Delete a post from its account's timeline (as its author would)."""
    st = state()
    x = st.data.x
    found = x.lookup(tweet_id)
    if found is None or not x.delete(found[0], tweet_id):
        return bad("unknown post", 404)
    return jsonify({"deleted": True, "id": str(tweet_id)})


@bp.post("/_sandbox/github/collaborators")
def set_github_collaborator():
    """Grant (or with ``"permission": null`` remove) a repository's direct collaborator at once,
    whoever owns it: what an accepted invitation, or an organization's admin, would do."""
    from .seed import PERMISSIONS

    spec = body()
    st = state()
    gh = st.data.github
    owner, _, name = str(spec.get("repo", "")).partition("/")
    repo = gh.repo(owner, name)
    if repo is None:
        return bad("unknown repository: give repo as owner/name", 404)
    person = gh.person_by_login(str(spec.get("login", "")))
    if person is None:
        return bad("unknown GitHub login", 404)
    permission = spec.get("permission", "push")
    if permission is not None and permission not in PERMISSIONS:
        return bad(f"permission is one of {', '.join(PERMISSIONS)}, or null to remove")
    with st.lock:
        gh.set_collaborator(repo, person, permission)
    return jsonify({"repo": repo["full_name"], "login": gh.people[person]["login"],
                    "id": gh.people[person]["id"], "permission": permission})


@bp.post("/_sandbox/tokens")
def mint_tokens():
    """Issue a GitHub or Google token pair directly, skipping the consent page (for tests);
    with ``"kind": "personal"``, a GitHub personal access token (``{"token", "scope"}``)."""
    spec = body()
    dialect = dialects().get(spec.get("provider"))
    if dialect is None:
        return bad("provider must be github or google")
    st = state()
    scope = spec.get("scope", [])
    scope = dialect.split_scope(scope) if isinstance(scope, str) else list(scope)
    if spec.get("kind") == "personal":
        if dialect.provider != "github":
            return bad("personal access tokens are GitHub's")
        return jsonify(oauth.mint_personal(st, dialect, scope=scope)), 201
    clients = st.clients.get(dialect.provider) or []
    client_id = spec.get("client_id") or (clients[0]["client_id"] if clients else None)
    if st.client(dialect.provider, client_id) is None:
        return bad(f"unknown client_id {client_id!r}")
    return jsonify(oauth.mint(st, dialect, client_id=client_id, scope=scope,
                              offline=bool(spec.get("offline", True)))), 201


# -- avatars ---------------------------------------------------------------------------------

@bp.get("/_sandbox/avatars/<key>.svg")
def avatar(key):
    """A generated avatar so profile pictures render offline."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    hue = int(digest[:4], 16) % 360
    label = html.escape(key.split("-", 1)[-1][:2].upper())
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
           f'<rect width="96" height="96" fill="hsl({hue},55%,55%)"/>'
           f'<text x="48" y="60" font-family="Helvetica,Arial,sans-serif" font-size="36" '
           f'fill="#fff" text-anchor="middle">{label}</text></svg>')
    return Response(svg, mimetype="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=86400"})
