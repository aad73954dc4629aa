"""Google OAuth 2.0 (authorize, token, revoke), the OpenID userinfo endpoint and the Gmail API
read endpoints, under /google.

Like real Google: a refresh token is issued only with ``access_type=offline``; a refresh
answers a new access token and keeps the refresh token (POST /_sandbox/config
``{"rotate_refresh_tokens": {"google": true}}`` makes it rotate); token errors are HTTP 400
``invalid_grant`` (401 ``invalid_client``).
"""
from __future__ import annotations

import base64
import html
import re
import string
from datetime import datetime, timezone
from email.utils import format_datetime

from flask import Blueprint, Response, request

from .. import oauth
from ..faults import RateInfo
from ..kit import Emulation, control as sandbox_control
from . import Answer, Principal, Provider, guarded, gateway_error, int_arg, json_response, root_url, state

bp = Blueprint("google", __name__, url_prefix="/google")
THEME = {"provider": "google", "title": "Google"}
URLSAFE = string.ascii_letters + string.digits + "-_"
SCOPE = "https://www.googleapis.com/auth/"
GMAIL_READ_SCOPES = {SCOPE + "gmail.readonly", SCOPE + "gmail.modify",
                     SCOPE + "gmail.metadata", "https://mail.google.com/"}
EMAIL_SCOPES = {"email", SCOPE + "userinfo.email"}
PROFILE_SCOPES = {"profile", SCOPE + "userinfo.profile"}


class GoogleDialect(oauth.Dialect):
    provider = "google"
    display_name = "Google"
    sandbox_login = "sandbox.user@example.com"
    scope_separators = " "
    scope_joiner = " "
    token_type = "Bearer"
    requires_response_type = True
    token_requires_redirect_uri = True
    default_grant_type = None
    scope_descriptions = {
        "openid": "Associate you with your personal info on Google",
        "email": "See your primary Google Account email address",
        "profile": "See your personal info, including any personal info you've made publicly "
                   "available",
        SCOPE + "userinfo.email": "See your primary Google Account email address",
        SCOPE + "userinfo.profile": "See your personal info",
        SCOPE + "gmail.readonly": "View your email messages and settings",
        SCOPE + "gmail.modify": "Read, compose, and send emails from your Gmail account",
        SCOPE + "gmail.metadata": "View your email message metadata such as labels and headers",
    }

    def new_code(self) -> str:
        return "4/0A" + oauth.random_token(70, URLSAFE)

    def new_access_token(self) -> str:
        return "ya29.a0" + oauth.random_token(150, URLSAFE)

    def new_refresh_token(self) -> str:
        return "1//0" + oauth.random_token(100, URLSAFE)

    def issues_refresh_token(self, offline: bool) -> bool:
        return offline

    def consent_user(self, st) -> dict:
        user = st.data.google.user
        return {"login": user["email"], "name": user["name"],
                "avatar_url": f"{root_url()}/_sandbox/avatars/g-{user['sub']}.svg"}

    def token_body(self, issued, *, ttl, refresh_ttl) -> dict:
        body = {"access_token": issued.access.value, "expires_in": ttl}
        if issued.refresh is not None and issued.refresh_is_new:
            body["refresh_token"] = issued.refresh.value
        body["scope"] = self.scope_joiner.join(issued.grant.scope)
        body["token_type"] = self.token_type
        return body

    def token_success(self, body: dict) -> Response:
        return json_response(body, headers={"Cache-Control": "no-cache, no-store, max-age=0, "
                                                             "must-revalidate",
                                            "Pragma": "no-cache"})

    def token_error(self, error: oauth.OAuthError):
        status, code, description = {
            "invalid_client": (401, "invalid_client", "Unauthorized"),
            "redirect_uri_mismatch": (400, "redirect_uri_mismatch", "Bad Request"),
            "bad_code": (400, "invalid_grant", "Malformed auth code."),
            "code_reused": (400, "invalid_grant", "Bad Request"),
            "code_expired": (400, "invalid_grant", "Bad Request"),
            "pkce_mismatch": (400, "invalid_grant", "Invalid code verifier."),
            "pkce_missing": (400, "invalid_grant", "Missing code verifier."),
            "bad_refresh_token": (400, "invalid_grant", "Token has been expired or revoked."),
            "unsupported_grant_type": (400, "unsupported_grant_type",
                                       f"Invalid grant_type: {error.detail}"),
        }.get(error.reason, (400, "invalid_request", error.detail or "Bad Request"))
        return json_response({"error": code, "error_description": description}, status), code

    def denied_params(self) -> dict:
        return {"error": "access_denied",
                "error_description": "The user denied access to your application."}


def google_error(code: int, message: str, reason: str, status: str, *, short: str | None = None,
                 location: dict | None = None, **extra) -> Response:
    """Google's JSON error envelope ({"error": {"code", "message", "errors", "status"}})."""
    item = {"message": short or message, "domain": "global", "reason": reason}
    item.update(location or {})
    error = {"code": code, "message": message, "errors": [item], "status": status}
    error.update(extra)
    return json_response({"error": error}, code)


class Google(Provider):
    name = "google"
    prefix = "/google"
    default_limit = None        # Google sends no rate-limit headers

    def authenticate(self, st) -> Principal | None:
        token = oauth.bearer_token()
        grant = st.tokens.access_grant("google", token, st.now())
        return Principal(key=token, grant=grant) if grant else None

    def unauthorized(self) -> Response:
        if request.path.endswith("/oauth2/v3/userinfo"):
            response = json_response({"error": "invalid_request",
                                      "error_description": "Invalid Credentials"}, 401)
        else:
            response = google_error(
                401, "Request had invalid authentication credentials. Expected OAuth 2 access "
                     "token, login cookie or other valid authentication credential. See "
                     "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                "authError", "UNAUTHENTICATED", short="Invalid Credentials",
                location={"location": "Authorization", "locationType": "header"})
        response.headers["WWW-Authenticate"] = ('Bearer realm="https://accounts.google.com/", '
                                                'error="invalid_token"')
        return response

    def not_found(self) -> Response:
        return google_error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")

    def rate_limited(self, info: RateInfo, status: int, now: float) -> Response:
        response = google_error(429, "Resource has been exhausted (e.g. check quota).",
                                "rateLimitExceeded", "RESOURCE_EXHAUSTED")
        response.headers["retry-after"] = str(info.retry_after or info.seconds_to_reset(now))
        return response

    def server_error(self, status: int) -> Response:
        if status == 500:
            return google_error(500, "Internal error encountered.", "backendError", "INTERNAL")
        if status == 503:
            return google_error(503, "The service is currently unavailable.", "backendError",
                                "UNAVAILABLE")
        return gateway_error(status)


DIALECT = GoogleDialect()
PROVIDER = Google()


# -- OAuth -----------------------------------------------------------------------------------

@bp.get("/.well-known/openid-configuration")
@guarded(PROVIDER, kind="page")
def discovery():
    """The discovery document, so an OAuth client can take every endpoint from one URL.
    The sandbox issues no id_token: read the user from the userinfo endpoint."""
    base = root_url() + "/google"
    return json_response({
        "issuer": base, "authorization_endpoint": f"{base}/o/oauth2/v2/auth",
        "token_endpoint": f"{base}/token", "userinfo_endpoint": f"{base}/oauth2/v3/userinfo",
        "revocation_endpoint": f"{base}/revoke", "jwks_uri": f"{base}/oauth2/v3/certs",
        "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["email", "email_verified", "family_name", "given_name", "locale",
                             "name", "picture", "sub"],
        "code_challenge_methods_supported": ["plain", "S256"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
    })


@bp.get("/oauth2/v3/certs")
@guarded(PROVIDER, kind="page")
def certs():
    return json_response({"keys": []})


@bp.get("/o/oauth2/v2/auth")
@guarded(PROVIDER, kind="page")
def authorize():
    """The consent page ("Tributary wants to access your Google Account")."""
    return oauth.render_consent(state(), DIALECT, THEME)


@bp.post("/o/oauth2/v2/auth")
@guarded(PROVIDER, kind="page")
def authorize_decision():
    return oauth.decide(state(), DIALECT, THEME)


@bp.post("/token")
@guarded(PROVIDER, kind="oauth")
def token():
    """Exchange a code or refresh an access token."""
    return oauth.token_endpoint(state(), DIALECT)


@bp.post("/revoke")
@guarded(PROVIDER, kind="oauth")
def revoke():
    """Revoke an access or refresh token (and the whole grant with it)."""
    st = state()
    value = request.values.get("token")
    with st.lock:
        grant = st.tokens.grant_of("google", value)
        live = grant is not None and not grant.revoked and (
            st.tokens.tokens[value].kind == "refresh"
            or st.tokens.access_grant("google", value, st.now()) is not None)
        if live:
            st.tokens.revoke_grant(grant.id)
    if not live:
        return json_response({"error": "invalid_token",
                              "error_description": "Token expired or revoked"}, 400)
    return json_response({})


# -- userinfo --------------------------------------------------------------------------------

@bp.get("/oauth2/v3/userinfo")
@guarded(PROVIDER)
def userinfo(principal):
    """OpenID userinfo: sub always; email and profile claims as the granted scopes allow."""
    user = state().data.google.user
    scopes = set(principal.scope)
    body = {"sub": user["sub"]}
    if scopes & PROFILE_SCOPES:
        body.update(name=user["name"], given_name=user["given_name"],
                    family_name=user["family_name"],
                    picture=f"{root_url()}/_sandbox/avatars/g-{user['sub']}.svg")
    if scopes & EMAIL_SCOPES:
        body.update(email=user["email"], email_verified=True)
    if scopes & PROFILE_SCOPES:
        body["locale"] = user["locale"]
    return json_response(body)


# -- Gmail -----------------------------------------------------------------------------------

def gmail_guard(principal, user_id: str, method: str) -> Response | None:
    email = state().data.google.user["email"]
    if user_id not in ("me", email):
        return google_error(403, f"Delegation denied for {email}", "forbidden",
                            "PERMISSION_DENIED")
    if not set(principal.scope) & GMAIL_READ_SCOPES:
        return google_error(
            403, "Request had insufficient authentication scopes.", "insufficientPermissions",
            "PERMISSION_DENIED", short="Insufficient Permission",
            details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                      "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "domain": "googleapis.com",
                      "metadata": {"service": "gmail.googleapis.com",
                                   "method": f"caribou.api.proto.MailboxService.{method}"}}])
    return None


@bp.get("/gmail/v1/users/<user_id>/profile")
@guarded(PROVIDER)
def gmail_profile(principal, user_id):
    denied = gmail_guard(principal, user_id, "GetProfile")
    if denied:
        return denied
    g = state().data.google
    threads, history_id = g.totals()
    history_id = max(history_id, mailbox().history_id)     # the mailbox changed since the seed
    return json_response({
        "emailAddress": g.user["email"], "messagesTotal": len(g.messages()),
        "threadsTotal": threads, "historyId": str(history_id),
    })


TOKEN_STEP, TOKEN_BASE = 7919, 10_000_000_000_000_000


def _page_token(offset: int) -> str:
    return str(TOKEN_BASE + offset * TOKEN_STEP)


def _page_offset(token: str) -> int | None:
    if not token.isdigit():
        return None
    value = int(token) - TOKEN_BASE
    return value // TOKEN_STEP if value > 0 and value % TOKEN_STEP == 0 else None


def _query_filter(q: str):
    """Gmail search subset: after:/before: (YYYY/MM/DD or epoch seconds, UTC), in:inbox,
    in:sent, is:unread, label:NAME. Other terms are ignored."""
    bounds, labels = {}, set()
    for term in q.split():
        name, _, value = term.partition(":")
        name = name.lower()
        if name in ("after", "before", "newer", "older") and value:
            try:
                ts = int(value) if value.isdigit() else int(datetime.strptime(
                    value.replace("-", "/"), "%Y/%m/%d").replace(tzinfo=timezone.utc).timestamp())
            except ValueError:
                continue
            bounds["after" if name in ("after", "newer") else "before"] = ts
        elif name == "in" and value.lower() in ("inbox", "sent"):
            labels.add(value.upper())
        elif name == "is" and value.lower() == "unread":
            labels.add("UNREAD")
        elif name == "label" and value:
            labels.add(value.upper())
    return bounds, labels


@bp.get("/gmail/v1/users/<user_id>/messages")
@guarded(PROVIDER)
def gmail_list(principal, user_id):
    """Message ids, newest first (maxResults <= 500, pageToken/nextPageToken, q, labelIds)."""
    denied = gmail_guard(principal, user_id, "ListMessages")
    if denied:
        return denied
    g = state().data.google
    max_results = int_arg("maxResults", 100, minimum=1, maximum=500)
    offset = 0
    if request.args.get("pageToken"):
        offset = _page_offset(request.args["pageToken"])
        if offset is None:
            return google_error(400, "Invalid pageToken", "invalidArgument", "INVALID_ARGUMENT")
    bounds, labels = _query_filter(request.args.get("q", ""))
    labels |= set(request.args.getlist("labelIds"))
    items = live_messages(mailbox(), frozenset(labels))
    lo, hi = 0, len(items)
    if bounds:
        lo, hi = g.between(items, bounds.get("after", 0), bounds.get("before", 1 << 62))
    chunk = items[lo + offset:min(hi, lo + offset + max_results)]
    body: dict = {}
    if chunk:
        body["messages"] = [{"id": m["id"], "threadId": m["threadId"]} for m in chunk]
    if offset + max_results < hi - lo:
        body["nextPageToken"] = _page_token(offset + max_results)
    body["resultSizeEstimate"] = hi - lo
    return json_response(body)


def live_messages(box, labels: frozenset) -> list[dict]:
    """The mailbox's live messages carrying every label of ``labels``, newest first: the seeded
    listing while nothing changed, else with what was added, deleted or relabelled since."""
    g = box.g
    seeded = g.with_labels(labels) if labels else g.messages()
    if not (box.added or box.deleted or box.labels_changed):
        return seeded
    items = [m for m in (g.messages() if box.labels_changed else seeded)
             if m["id"] not in box.deleted and labels <= box.labels(m["id"])]
    items += [m for m in box.added.values() if m["id"] not in box.deleted and labels <= box.labels(m["id"])]
    return sorted(items, key=lambda m: -m["ms"])


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@bp.get("/gmail/v1/users/<user_id>/messages/<message_id>")
@guarded(PROVIDER)
def gmail_get(principal, user_id, message_id):
    """One message: format=full (default), metadata (only the metadataHeaders asked for, when
    any are), minimal or raw."""
    denied = gmail_guard(principal, user_id, "GetMessage")
    if denied:
        return denied
    g, box = state().data.google, mailbox()
    fmt = request.args.get("format", "full")
    if message_id in box.added and message_id not in box.deleted and fmt != "raw":     # written since the seed
        wanted = {name.lower() for name in request.args.getlist("metadataHeaders")}
        return json_response(message_resource(box.message(message_id), fmt, wanted if fmt == "metadata" else None))
    meta = g.message_meta(message_id) if message_id not in box.deleted else None
    if meta is None:
        return google_error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
    msg = g.message(meta)
    date = format_datetime(datetime.fromtimestamp(meta["ms"] / 1000, timezone.utc))
    boundary = f"000000000000{meta['id'][:12]}"
    headers = [{"name": "Delivered-To", "value": g.user["email"]},
               {"name": "Date", "value": date}, {"name": "From", "value": msg["from"]},
               {"name": "To", "value": msg["to"]}, {"name": "Subject", "value": msg["subject"]},
               {"name": "Message-ID", "value": f"<{meta['id']}@mail.sandbox.example>"},
               {"name": "MIME-Version", "value": "1.0"},
               {"name": "Content-Type",
                "value": f'multipart/alternative; boundary="{boundary}"'}]
    html_body = "<div dir=\"ltr\">" + "<br><br>".join(
        html.escape(p).replace("\n", "<br>") for p in msg["body"].split("\n\n")) + "</div>"
    body = {"id": meta["id"], "threadId": meta["threadId"], "labelIds": msg["labels"],
            "snippet": html.escape(msg["body"].replace("\n", " ")[:120]),
            "sizeEstimate": len(msg["body"]) * 2 + 900, "historyId": str(meta["historyId"]),
            "internalDate": str(meta["ms"])}
    if fmt == "raw":
        raw = "\r\n".join(f"{h['name']}: {h['value']}" for h in headers[:-1])
        raw += "\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\r\n" + msg["body"]
        body["raw"] = _b64(raw)
    elif fmt in ("full", "metadata"):
        wanted = {name.lower() for name in request.args.getlist("metadataHeaders")}
        if fmt == "metadata" and wanted:        # "only include headers specified"
            headers = [h for h in headers if h["name"].lower() in wanted]
        payload = {"partId": "", "mimeType": "multipart/alternative", "filename": "",
                   "headers": headers, "body": {"size": 0}}
        if fmt == "full":
            payload["parts"] = [
                {"partId": "0", "mimeType": "text/plain", "filename": "",
                 "headers": [{"name": "Content-Type", "value": 'text/plain; charset="UTF-8"'}],
                 "body": {"size": len(msg["body"].encode()), "data": _b64(msg["body"])}},
                {"partId": "1", "mimeType": "text/html", "filename": "",
                 "headers": [{"name": "Content-Type", "value": 'text/html; charset="UTF-8"'}],
                 "body": {"size": len(html_body.encode()), "data": _b64(html_body)}},
            ]
        body["payload"] = payload
    return json_response(body)


# -- Google APIs on the sandbox kit (Drive, Calendar) -----------------------------------------

class GoogleApi(Emulation):
    """A Google API emulated on the sandbox kit (``google_drive.py``, ``google_calendar.py``):
    Google's voice (its error envelope, no rate-limit headers) and this module's OAuth server,
    so one consent page and one token endpoint open every Google API, as at Google. ``scopes``:
    any of them opens the API (else 403 insufficient scopes); ``service`` names it in errors."""

    rate_header_names = ()
    rate_limit_statuses = (429, 403)
    scopes: frozenset = frozenset()
    service = ""

    def authenticate(self, st):
        return PROVIDER.authenticate(st)

    def unauthorized(self) -> Response:
        return PROVIDER.unauthorized()

    def not_found(self) -> Response:
        return PROVIDER.not_found()

    def server_error(self, status: int) -> Response:
        return PROVIDER.server_error(status)

    def error(self, status: int, message: str, code: str | None = None) -> Response:
        return google_error(status, message, code or STATUS_REASONS.get(status, "badRequest"),
                            STATUS_NAMES.get(status, "UNKNOWN"))

    def rate_limited(self, info: RateInfo, status: int, now: float) -> Response:
        """Drive's and Calendar's quota answers: 403 ``userRateLimitExceeded`` (no Retry-After:
        Google asks for exponential backoff) or 429 ``rateLimitExceeded``."""
        if status == 403:
            return google_error(403, "User Rate Limit Exceeded", "userRateLimitExceeded", "PERMISSION_DENIED",
                                location={"domain": "usageLimits"})
        response = google_error(429, "Rate Limit Exceeded", "rateLimitExceeded", "RESOURCE_EXHAUSTED",
                                location={"domain": "usageLimits"})
        response.headers["retry-after"] = str(info.retry_after or info.seconds_to_reset(now))
        return response

    def require_scope(self, principal, method: str) -> None:
        if not set(principal.scope) & self.scopes:
            raise Answer(insufficient_scopes(self.service, method))


STATUS_NAMES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ABORTED",
                410: "NOT_FOUND", 422: "FAILED_PRECONDITION", 429: "RESOURCE_EXHAUSTED"}
STATUS_REASONS = {400: "badRequest", 403: "forbidden", 404: "notFound", 409: "conflict", 410: "deleted",
                  422: "failedPrecondition"}


def insufficient_scopes(service: str, method: str) -> Response:
    """Google's 403 for a token without the API's scope (what a consent that left a box
    unticked gives)."""
    return google_error(
        403, "Request had insufficient authentication scopes.", "insufficientPermissions",
        "PERMISSION_DENIED", short="Insufficient Permission",
        details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                  "domain": "googleapis.com", "metadata": {"service": service, "method": method}}])


DIALECT.scope_descriptions.update({
    SCOPE + "drive.readonly": "See and download all your Google Drive files",
    SCOPE + "calendar.readonly": "See and download any calendar you can access using your Google Calendar",
})


# -- Gmail: threads, history, and the mailbox's changes ----------------------------------------

HISTORY_TYPES = ("messageAdded", "messageDeleted", "labelAdded", "labelRemoved")


class Mailbox:
    """The seeded mailbox and what happened to it since (``/_sandbox/google/messages``): added
    and deleted messages and label changes, each a history record with a new history id, as
    Gmail keeps them. History before ``floor`` has expired: an older ``startHistoryId`` is a
    404, as Gmail answers one it no longer has (``POST /_sandbox/google/history/expire``)."""

    def __init__(self, g):
        self.g = g
        self.added: dict[str, dict] = {}        # id -> a whole message (meta and content)
        self.deleted: set[str] = set()
        self.labels_changed: dict[str, list] = {}   # id -> labels changed since the seed
        self.touched: dict[str, int] = {}       # id -> history id of its last change
        self.history: list[dict] = []
        self.history_id = self.floor = g.totals()[1]
        self.disabled = False
        self._threads: dict | None = None

    def message(self, message_id: str) -> dict | None:
        """Everything about one live message: id, threadId, ms, historyId, from, to, subject,
        body (text), html (or None), labels, attachments."""
        if message_id in self.deleted:
            return None
        if message_id in self.added:
            found = dict(self.added[message_id])
        else:
            meta = self.g.message_meta(message_id)
            if meta is None:
                return None
            found = {**meta, **self.g.message(meta), "html": None, "attachments": []}
        found["labels"] = list(self.labels_changed.get(message_id, found["labels"]))
        found["historyId"] = self.touched.get(message_id, found["historyId"])
        return found

    def labels(self, message_id: str) -> frozenset:
        """A live message's labels, without building the message (list pages filter on them)."""
        if message_id in self.labels_changed:
            return frozenset(self.labels_changed[message_id])
        if message_id in self.added:
            return frozenset(self.added[message_id]["labels"])
        return self.g.labels_of(self.g.message_meta(message_id))

    def threads(self) -> dict[str, list[str]]:
        """Thread id -> its message ids, oldest first; threads with the newest mail first."""
        if self._threads is None:
            by_thread: dict[str, list[str]] = {}
            newest_first = [(a["ms"], a["id"], a["threadId"]) for a in self.added.values()
                            if a["id"] not in self.deleted]
            newest_first.sort(reverse=True)
            for _, message_id, thread_id in newest_first:
                by_thread.setdefault(thread_id, []).append(message_id)
            for meta in self.g.messages():
                if meta["id"] not in self.deleted:
                    by_thread.setdefault(meta["threadId"], []).append(meta["id"])
            self._threads = {t: ids[::-1] for t, ids in by_thread.items()}
        return self._threads

    def record(self, kind: str, message: dict, **more) -> None:
        self.history_id += 1 + len(self.history) % 3        # ids grow with gaps, as Gmail's do
        self.touched[message["id"]] = self.history_id
        brief = {"id": message["id"], "threadId": message["threadId"], "labelIds": list(message["labels"])}
        self.history.append({"id": self.history_id, "kind": kind, "message": brief, **more})
        self._threads = None

    def add(self, spec: dict, now: float) -> dict:
        ms = int(now * 1000)
        message_id = f"{(ms << 20) | (len(self.added) + 1):x}"
        user = self.g.user
        message = {"id": message_id, "threadId": spec.get("thread_id") or message_id, "ms": ms,
                   "historyId": 0, "from": spec.get("from") or "Ada Lovelace <ada@example.com>",
                   "to": spec.get("to") or f"{user['name']} <{user['email']}>",
                   "subject": spec.get("subject") or "(no subject)", "body": spec.get("text") or "",
                   "html": spec.get("html"), "labels": list(spec.get("labels") or ["INBOX", "UNREAD"]),
                   "attachments": [str(name) for name in spec.get("attachments") or []]}
        self.added[message_id] = message
        self.record("messageAdded", message)
        return self.message(message_id)

    def delete(self, message_id: str) -> bool:
        message = self.message(message_id)
        if message is None:
            return False
        self.deleted.add(message_id)
        self.record("messageDeleted", message)
        return True

    def relabel(self, message_id: str, add: list, remove: list) -> dict | None:
        message = self.message(message_id)
        if message is None:
            return None
        labels = [label for label in message["labels"] if label not in remove]
        labels += [label for label in add if label not in labels]
        self.labels_changed[message_id] = labels
        message["labels"] = labels
        if add:
            self.record("labelAdded", message, labelIds=list(add))
        if remove:
            self.record("labelRemoved", message, labelIds=list(remove))
        return self.message(message_id)


def mailbox() -> Mailbox:
    st = state()
    with st.lock:
        if ("google", "mailbox") not in st.collections:
            st.collections[("google", "mailbox")] = Mailbox(st.data.google)
        return st.collections[("google", "mailbox")]


def message_resource(message: dict, fmt: str, wanted: set | None = None) -> dict:
    """A Message resource in ``format`` full, metadata or minimal, from ``Mailbox.message``:
    a text and an HTML part (or the one there is), then the attachments, as Gmail nests them."""
    date = format_datetime(datetime.fromtimestamp(message["ms"] / 1000, timezone.utc))
    body = {"id": message["id"], "threadId": message["threadId"], "labelIds": message["labels"],
            "snippet": html.escape(" ".join((message["body"] or re.sub(r"<[^>]+>", " ", message["html"] or "")).split())[:120]),
            "sizeEstimate": len(message["body"]) * 2 + 900, "historyId": str(message["historyId"]),
            "internalDate": str(message["ms"])}
    if fmt == "minimal":
        return body
    text, markup = message["body"], message["html"]
    leaves = [_part("text/plain", text)] if text or markup is None else []     # an HTML-only mail has no text
    leaves.append(_part("text/html", markup if markup is not None else '<div dir="ltr">' + "<br><br>".join(
        html.escape(p).replace("\n", "<br>") for p in text.split("\n\n")) + "</div>"))
    content = leaves[0] if len(leaves) == 1 else {"mimeType": "multipart/alternative", "filename": "",
                                                  "headers": [], "body": {"size": 0}, "parts": leaves}
    if message["attachments"]:
        files = [{"mimeType": "application/octet-stream", "filename": name,
                  "headers": [{"name": "Content-Disposition", "value": f'attachment; filename="{name}"'}],
                  "body": {"attachmentId": f"ANGjdJ{message['id']}{n}", "size": 2048 + n}}
                 for n, name in enumerate(message["attachments"])]
        content = {"mimeType": "multipart/mixed", "filename": "", "headers": [], "body": {"size": 0},
                   "parts": [content] + files}
    headers = [{"name": "Delivered-To", "value": message["to"]}, {"name": "Date", "value": date},
               {"name": "From", "value": message["from"]}, {"name": "To", "value": message["to"]},
               {"name": "Subject", "value": message["subject"]},
               {"name": "Message-ID", "value": f"<{message['id']}@mail.sandbox.example>"},
               {"name": "MIME-Version", "value": "1.0"}]
    if wanted:
        headers = [h for h in headers if h["name"].lower() in wanted]
    payload = {"partId": "", "mimeType": content["mimeType"], "filename": "", "headers": headers,
               "body": content["body"]}
    if fmt == "full" and content.get("parts"):
        payload["parts"] = _numbered(content["parts"])
    body["payload"] = payload
    return body


def _part(mime: str, text: str) -> dict:
    return {"mimeType": mime, "filename": "", "headers": [{"name": "Content-Type", "value": f'{mime}; charset="UTF-8"'}],
            "body": {"size": len(text.encode()), "data": _b64(text)}}


def _numbered(parts: list, prefix: str = "") -> list:
    out = []
    for n, part in enumerate(parts):
        part_id = f"{prefix}{n}"
        numbered = {"partId": part_id, **{k: v for k, v in part.items() if k != "parts"}}
        if part.get("parts"):
            numbered["parts"] = _numbered(part["parts"], f"{part_id}.")
        out.append(numbered)
    return out


def mail_guard(principal, user_id: str, method: str) -> Response | None:
    """``gmail_guard``, and Gmail's answer for an account without Gmail (a Workspace user whose
    admin turned the service off: ``POST /_sandbox/google/mail_service {"enabled": false}``)."""
    denied = gmail_guard(principal, user_id, method)
    if denied is None and mailbox().disabled:
        return google_error(400, "Mail service not enabled", "failedPrecondition", "FAILED_PRECONDITION")
    return denied


def _thread_messages(box: Mailbox, thread_id: str) -> list[dict]:
    return [m for m in (box.message(i) for i in box.threads().get(thread_id, ())) if m]


def _offset_arg() -> int:
    token = request.args.get("pageToken")
    offset = _page_offset(token) if token else 0
    if offset is None:
        raise Answer(google_error(400, "Invalid pageToken", "invalidArgument", "INVALID_ARGUMENT"))
    return offset


@bp.get("/gmail/v1/users/<user_id>/threads")
@guarded(PROVIDER)
def gmail_threads(principal, user_id):
    """Threads, the newest mail first (maxResults <= 500, pageToken, labelIds,
    includeSpamTrash); each with its snippet and historyId."""
    denied = mail_guard(principal, user_id, "ListThreads")
    if denied:
        return denied
    box, st = mailbox(), state()
    wanted = set(request.args.getlist("labelIds"))
    spam_too = request.args.get("includeSpamTrash") == "true"
    max_results = int_arg("maxResults", 100, minimum=1, maximum=500)
    offset = _offset_arg()
    with st.lock:
        rows, found = [], 0
        for thread_id, message_ids in box.threads().items():
            labels = [box.labels(i) for i in message_ids]
            if (not spam_too and all({"SPAM", "TRASH"} & set(each) for each in labels)) or (
                    wanted and not any(wanted <= each for each in labels)):
                continue
            found += 1
            if offset < found <= offset + max_results:
                messages = _thread_messages(box, thread_id)
                rows.append({"id": thread_id, "snippet": message_resource(messages[-1], "minimal")["snippet"],
                             "historyId": str(max(m["historyId"] for m in messages))})
    body: dict = {}
    if rows:
        body["threads"] = rows
    if offset + max_results < found:
        body["nextPageToken"] = _page_token(offset + max_results)
    body["resultSizeEstimate"] = found
    return json_response(body)


@bp.get("/gmail/v1/users/<user_id>/threads/<thread_id>")
@guarded(PROVIDER)
def gmail_thread(principal, user_id, thread_id):
    """One thread with its messages, oldest first (format full, metadata or minimal)."""
    denied = mail_guard(principal, user_id, "GetThread")
    if denied:
        return denied
    fmt = request.args.get("format", "full")
    wanted = {name.lower() for name in request.args.getlist("metadataHeaders")} if fmt == "metadata" else None
    st = state()
    with st.lock:
        messages = _thread_messages(mailbox(), thread_id)
    if not messages:
        return PROVIDER.not_found()
    return json_response({"id": thread_id, "snippet": message_resource(messages[-1], "minimal")["snippet"],
                          "historyId": str(max(m["historyId"] for m in messages)),
                          "messages": [message_resource(m, fmt, wanted) for m in messages]})


@bp.get("/gmail/v1/users/<user_id>/history")
@guarded(PROVIDER)
def gmail_history(principal, user_id):
    """History records after ``startHistoryId`` (required; one from before the history kept is
    a 404), of the ``historyTypes`` asked for (all by default), ``labelId``, maxResults <= 500."""
    denied = mail_guard(principal, user_id, "ListHistory")
    if denied:
        return denied
    start = request.args.get("startHistoryId", "")
    if not start.isdigit():
        return google_error(400, "Invalid startHistoryId" if start else "Missing startHistoryId",
                            "invalidArgument", "INVALID_ARGUMENT")
    types = request.args.getlist("historyTypes") or list(HISTORY_TYPES)
    label = request.args.get("labelId")
    max_results = int_arg("maxResults", 100, minimum=1, maximum=500)
    offset = _offset_arg()
    box, st = mailbox(), state()
    with st.lock:
        if int(start) < box.floor:
            return PROVIDER.not_found()
        records = [r for r in box.history if r["id"] > int(start) and r["kind"] in types
                   and (label is None or label in r["message"]["labelIds"])]
        current = box.history_id
    chunk = records[offset:offset + max_results]
    body: dict = {}
    if chunk:
        body["history"] = [_history_json(r) for r in chunk]
    if offset + max_results < len(records):
        body["nextPageToken"] = _page_token(offset + max_results)
    body["historyId"] = str(current)
    return json_response(body)


def _history_json(record: dict) -> dict:
    brief = record["message"]
    entry = {"id": str(record["id"]), "messages": [{"id": brief["id"], "threadId": brief["threadId"]}]}
    field = {"messageAdded": "messagesAdded", "messageDeleted": "messagesDeleted", "labelAdded": "labelsAdded",
             "labelRemoved": "labelsRemoved"}[record["kind"]]
    change = {"message": brief}
    if "labelIds" in record:
        change["labelIds"] = record["labelIds"]
    entry[field] = [change]
    return entry


# -- Gmail writes: drafts.create and messages.send (the raw RFC 822 message, base64url) ----------------

COMPOSE_SCOPES = {SCOPE + "gmail.compose", SCOPE + "gmail.modify", "https://mail.google.com/"}
SEND_SCOPES = COMPOSE_SCOPES | {SCOPE + "gmail.send"}


def raw_message(raw, *, sending: bool) -> dict:
    """The message a ``raw`` field holds, as the mailbox keeps one; Gmail's 400s otherwise."""
    from email import message_from_bytes, policy

    if not isinstance(raw, str) or not raw:
        raise Answer(google_error(400, "'raw' RFC822 payload message string or uploading message via /upload/* URL "
                                       "required", "invalidArgument", "INVALID_ARGUMENT"))
    try:
        parsed = message_from_bytes(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)), policy=policy.default)
    except (ValueError, TypeError):
        raise Answer(google_error(400, "Invalid value for ByteString: " + raw[:20], "invalidArgument",
                                  "INVALID_ARGUMENT")) from None
    if sending and not parsed.get("To"):
        raise Answer(google_error(400, "Recipient address required", "invalidArgument", "INVALID_ARGUMENT"))
    part = parsed.get_body(preferencelist=("plain", "html"))
    user = mailbox().g.user
    return {"from": f"{user['name']} <{user['email']}>", "to": str(parsed.get("To") or ""),
            "subject": str(parsed.get("Subject") or ""), "text": part.get_content() if part is not None else ""}


def write_guard(principal, user_id: str, accepted: set, method: str) -> Response | None:
    """Gmail's refusals of a write: another user's mailbox, a token without a scope the method
    accepts, an account without Gmail."""
    email = state().data.google.user["email"]
    if user_id not in ("me", email):
        return google_error(403, f"Delegation denied for {email}", "forbidden", "PERMISSION_DENIED")
    if not set(principal.scope) & accepted:
        return insufficient_scopes("gmail.googleapis.com", f"caribou.api.proto.MailboxService.{method}")
    if mailbox().disabled:
        return google_error(400, "Mail service not enabled", "failedPrecondition", "FAILED_PRECONDITION")
    return None


def _gmail_write(principal, user_id: str, accepted: set, method: str, raw, label: str):
    """Store the ``raw`` message with ``label`` (DRAFT, SENT) after Gmail's checks; the message."""
    denied = write_guard(principal, user_id, accepted, method)
    if denied is not None:
        raise Answer(denied)
    spec = raw_message(raw, sending=label == "SENT")
    box, st = mailbox(), state()
    with st.lock:
        return box.add({**spec, "labels": [label]}, st.now())


@bp.post("/gmail/v1/users/<user_id>/drafts")
@guarded(PROVIDER)
def gmail_create_draft(principal, user_id):
    """https://developers.google.com/workspace/gmail/api/reference/rest/v1/users.drafts/create"""
    payload = request.get_json(silent=True)
    raw = ((payload or {}).get("message") or {}).get("raw") if isinstance(payload, dict) else None
    message = _gmail_write(principal, user_id, COMPOSE_SCOPES, "CreateDraft", raw, "DRAFT")
    return json_response({"id": "r" + message["id"], "message": {"id": message["id"], "threadId": message["threadId"],
                                                                 "labelIds": ["DRAFT"]}})


@bp.post("/gmail/v1/users/<user_id>/messages/send")
@guarded(PROVIDER)
def gmail_send(principal, user_id):
    """https://developers.google.com/workspace/gmail/api/reference/rest/v1/users.messages/send"""
    payload = request.get_json(silent=True)
    raw = payload.get("raw") if isinstance(payload, dict) else None
    message = _gmail_write(principal, user_id, SEND_SCOPES, "SendMessage", raw, "SENT")
    return json_response({"id": message["id"], "threadId": message["threadId"], "labelIds": ["SENT"]})


@bp.get("/gmail/v1/users/<user_id>/drafts")
@guarded(PROVIDER)
def gmail_drafts(principal, user_id):
    """https://developers.google.com/workspace/gmail/api/reference/rest/v1/users.drafts/list: the
    drafts, newest first, each its id and its message's (maxResults <= 500, pageToken)."""
    denied = gmail_guard(principal, user_id, "ListDrafts")
    if denied:
        return denied
    items = live_messages(mailbox(), frozenset({"DRAFT"}))
    max_results = int_arg("maxResults", 100, minimum=1, maximum=500)
    offset = _page_offset(request.args["pageToken"]) if request.args.get("pageToken") else 0
    if offset is None:
        return google_error(400, "Invalid pageToken", "invalidArgument", "INVALID_ARGUMENT")
    chunk = items[offset:offset + max_results]
    body: dict = {}
    if chunk:
        body["drafts"] = [{"id": "r" + m["id"], "message": {"id": m["id"], "threadId": m["threadId"]}} for m in chunk]
    if offset + max_results < len(items):
        body["nextPageToken"] = _page_token(offset + max_results)
    body["resultSizeEstimate"] = len(items)
    return json_response(body)


@bp.get("/gmail/v1/users/<user_id>/drafts/<draft_id>")
@guarded(PROVIDER)
def gmail_draft(principal, user_id, draft_id):
    """https://developers.google.com/workspace/gmail/api/reference/rest/v1/users.drafts/get: the
    draft's id and its message in ``format`` (full by default; minimal, metadata)."""
    denied = gmail_guard(principal, user_id, "GetDraft")
    if denied:
        return denied
    message = mailbox().message(draft_id[1:]) if draft_id.startswith("r") else None
    if message is None or "DRAFT" not in message["labels"]:
        return google_error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
    return json_response({"id": draft_id, "message": message_resource(message, request.args.get("format", "full"))})


# -- control routes: the mailbox changes (tests and the demo) --------------------------------------

@sandbox_control.post("/_sandbox/google/messages")
def add_gmail_message():
    """Deliver a message (``thread_id`` to reply in a thread; ``from``, ``to``, ``subject``,
    ``text``, ``html``, ``attachments`` (file names), ``labels``): a messageAdded record."""
    spec = request.get_json(silent=True) or {}
    box, st = mailbox(), state()
    with st.lock:
        if spec.get("thread_id") and spec["thread_id"] not in box.threads():
            return json_response({"error": "unknown thread_id"}, 404)
        message = box.add(spec, st.now())
    return json_response({"id": message["id"], "threadId": message["threadId"],
                          "historyId": str(message["historyId"])}, 201)


@sandbox_control.delete("/_sandbox/google/messages/<message_id>")
def delete_gmail_message(message_id):
    """Delete a message for good (a messageDeleted record); its thread goes with its last one."""
    box, st = mailbox(), state()
    with st.lock:
        gone = box.delete(message_id)
    return ("", 204) if gone else json_response({"error": "unknown message"}, 404)


@sandbox_control.post("/_sandbox/google/messages/<message_id>/labels")
def relabel_gmail_message(message_id):
    """``{"add": [...], "remove": [...]}``: labelAdded / labelRemoved records (TRASH trashes)."""
    spec = request.get_json(silent=True) or {}
    box, st = mailbox(), state()
    with st.lock:
        message = box.relabel(message_id, list(spec.get("add") or []), list(spec.get("remove") or []))
    if message is None:
        return json_response({"error": "unknown message"}, 404)
    return json_response({"id": message_id, "labelIds": message["labels"]})


@sandbox_control.post("/_sandbox/google/history/expire")
def expire_gmail_history():
    """Forget the history kept so far: a startHistoryId from before now is a 404 (Gmail keeps
    history "typically for at least a week"); the mailbox's current historyId still works."""
    box, st = mailbox(), state()
    with st.lock:
        box.floor = box.history_id
    return json_response({"historyId": str(box.history_id)})


@sandbox_control.post("/_sandbox/google/mail_service")
def switch_gmail_service():
    """``{"enabled": false}``: threads and history answer 400 "Mail service not enabled"."""
    box, st = mailbox(), state()
    with st.lock:
        box.disabled = (request.get_json(silent=True) or {}).get("enabled") is False
    return json_response({"enabled": not box.disabled})
