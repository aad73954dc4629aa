"""Plumbing shared by the emulated providers.

Every provider route goes through :func:`guarded`, which, in this order: counts the request,
applies an injected fault (latency, rate limit, server error, malformed body), authenticates
the credential the provider's way, applies the rate limit (enforced only where configured),
calls the view, and adds the provider's rate-limit headers.
"""
from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask import Response, current_app, make_response, request

from ..faults import RateInfo, RateLimiter

PROVIDERS: dict[str, "Provider"] = {}


def provider_modules() -> list:
    """Every module of this package, imported (their routes and providers register themselves)."""
    import importlib
    import pkgutil

    return [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)
            if not info.name.startswith("_")]


def state():
    """The SandboxState of the current app."""
    return current_app.extensions["sandbox"]


def root_url() -> str:
    """Where this sandbox is reachable: PUBLIC_URL, else the request's own host."""
    return state().public_url or request.host_url.rstrip("/")


def dumps(body) -> str:
    """The JSON text of every sandbox body: compact, provider key order, UTF-8 as is."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    return json_text_response(dumps(body), status, headers)


def json_text_response(text: str | bytes, status: int = 200,
                       headers: dict | None = None) -> Response:
    """A JSON response from text already serialised like dumps() (or its UTF-8 bytes: list
    pages splice cached per-record JSON into their envelope instead of serialising every
    record again)."""
    response = current_app.response_class(text, status=status, mimetype="application/json")
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    for name, value in (headers or {}).items():
        response.headers[name] = str(value)
    return response


def int_arg(name: str, default: int, *, minimum: int | None = None,
            maximum: int | None = None) -> int:
    """A lenient integer query parameter (bad values fall back, out-of-range values clamp)."""
    try:
        value = int(request.args.get(name, default))
    except (TypeError, ValueError):
        value = default
    if minimum is not None:
        value = max(value, minimum)
    if maximum is not None:
        value = min(value, maximum)
    return value


def url_with(**changes) -> str:
    """This request's URL (under root_url) with some query parameters replaced."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in changes]
    args += [(k, str(v)) for k, v in changes.items() if v is not None]
    query = urlencode(args)
    return f"{root_url()}{request.path}" + (f"?{query}" if query else "")


class Window:
    """rows[lo:hi] of a list sorted ascending, read in that order or in reverse, without
    copying it: len() and slicing only (what the paginators need). Sort keys in the sandbox
    end with a unique id, so the reverse is exactly what ``sorted(..., reverse=True)`` gives."""

    __slots__ = ("rows", "lo", "hi", "descending")

    def __init__(self, rows: list, lo: int = 0, hi: int | None = None, descending: bool = False):
        self.rows, self.lo = rows, lo
        self.hi = len(rows) if hi is None else hi
        self.descending = descending

    def __len__(self) -> int:
        return max(0, self.hi - self.lo)

    def __getitem__(self, item):
        if not isinstance(item, slice) or item.step not in (None, 1):
            raise TypeError("a Window only takes slices")
        start, stop, _ = item.indices(len(self))
        if stop <= start:
            return []
        if not self.descending:
            return self.rows[self.lo + start:self.lo + stop]
        return self.rows[self.hi - stop:self.hi - start][::-1]


class Answer(Exception):
    """A provider's (error) answer raised from inside a view, e.g. a 404 from a lookup helper.
    Like any other answer it gets the provider's rate-limit headers: real APIs send them on
    404s and 422s too."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


@dataclass
class Principal:
    """Who is calling: the credential (key for rate limits) and, for OAuth, its grant."""

    key: str
    grant: object | None = None
    extra: dict = field(default_factory=dict)

    @property
    def scope(self) -> list[str]:
        return list(getattr(self.grant, "scope", []) or [])


class Provider:
    """One emulated provider's voice: authentication, errors and rate-limit headers."""

    name = ""
    prefix = ""
    default_limit: tuple[int, int] | None = None     # (requests, window seconds)

    def __init__(self):
        PROVIDERS[self.name] = self

    def authenticate(self, st) -> Principal | None:
        raise NotImplementedError

    def unauthorized(self) -> Response:
        raise NotImplementedError

    def not_found(self) -> Response:
        return json_response({"error": "Not Found"}, 404)

    def rate_limited(self, info: RateInfo, status: int, now: float) -> Response:
        raise NotImplementedError

    def server_error(self, status: int) -> Response:
        if status == 500:
            return json_response({"error": "Internal Server Error"}, 500)
        return gateway_error(status)

    def client_error(self, status: int) -> Response:
        """The provider's own answer to a request it refuses (a ``client_error`` fault)."""
        return json_response({"error": {"code": status, "message": CLIENT_ERROR_MESSAGES[status],
                                        "status": CLIENT_ERROR_STATUS_NAMES[status]}}, status)

    def rate_headers(self, response: Response, info: RateInfo, now: float) -> None:
        """Add this provider's rate-limit headers (none by default, like Google)."""

    def rate_key(self, principal: Principal) -> tuple:
        """Whose rate-limit window a request counts in: its credential's by default."""
        return (principal.key,)

    def default_policy(self, bucket: str | None) -> tuple[int, int] | None:
        return self.default_limit

    def policy(self, st, bucket: str | None) -> tuple[int, int, bool, tuple] | None:
        """(limit, window, enforce, key suffix) for this request, or None for no limiting."""
        per_minute = st.enforced_limits.get(self.name)
        if per_minute:
            return per_minute, 60, True, ("*",)
        default = self.default_policy(bucket)
        if default is None:
            return None
        return default[0], default[1], False, (bucket or "*",)


CLIENT_ERROR_MESSAGES = {400: "Bad request", 403: "Resource not accessible by integration", 404: "Not Found",
                         409: "Conflict", 410: "Gone", 422: "Validation Failed"}
CLIENT_ERROR_STATUS_NAMES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                             409: "ABORTED", 410: "NOT_FOUND", 422: "FAILED_PRECONDITION"}


def gateway_error(status: int) -> Response:
    """What a load balancer in front of any provider answers on 502/503: HTML, not JSON."""
    title = {502: "502 Bad Gateway", 503: "503 Service Unavailable"}.get(status, f"{status} Error")
    body = (f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1>"
            "</center><hr><center>sandbox-edge</center></body></html>")
    return Response(body, status=status, mimetype="text/html")


def malform(response: Response) -> Response:
    """Cut the body so it is no longer valid JSON, and pretend all went well."""
    data = response.get_data()
    cut = data[: max(1, len(data) // 2)]
    try:
        json.loads(cut)
        cut = b'{"truncated'
    except ValueError:
        pass
    broken = Response(cut, status=200, mimetype="application/json")
    for name, value in response.headers.items():
        if name.lower() not in ("content-length", "content-type"):
            broken.headers[name] = value
    broken.headers["Content-Type"] = "application/json; charset=utf-8"
    return broken


def guarded(provider: Provider, kind: str = "api", bucket: str | None = None):
    """Wrap a provider view. kind: "api" (authenticated, rate limited, view gets the Principal),
    "oauth" (token/revoke endpoints: faults apply, no API auth) or "page" (browser pages:
    counted only)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            st = state()
            rule = request.url_rule.rule if request.url_rule else request.path
            fault = None
            with st.lock:
                st.stats.requests[provider.name][f"{request.method} {rule}"] += 1
                if kind == "api" and request.method not in ("GET", "HEAD", "OPTIONS"):
                    st.stats.writes[provider.name].append({
                        "method": request.method, "path": request.path, "query": request.args.to_dict(),
                        "body": request.get_json(silent=True) if request.is_json else request.form.to_dict() or None})
                if kind != "page":
                    fault = st.faults.take(provider.name, request.path, request.method)
                    if fault is not None:
                        st.stats.faults_served[provider.name][fault.kind] += 1
            broken = False
            if fault is not None:
                if fault.kind == "latency":
                    time.sleep(fault.latency_ms / 1000)
                elif fault.kind == "hold":
                    fault.wait()
                elif fault.kind == "rate_limit":
                    with st.lock:
                        st.stats.rate_limited[provider.name] += 1
                        now = st.now()
                        limit, window = provider.default_policy(bucket) or (60, 60)
                        per_minute = st.enforced_limits.get(provider.name)
                        if per_minute:
                            limit, window = per_minute, 60
                    info = RateLimiter.exhausted(limit=limit, window=window, now=now,
                                                 retry_after=fault.retry_after)
                    return provider.rate_limited(info, fault.status or 429, now)
                elif fault.kind == "server_error":
                    return provider.server_error(fault.status or 500)
                elif fault.kind == "client_error":
                    return provider.client_error(fault.status or 422)
                elif fault.kind == "malformed":
                    broken = True

            if kind != "api":
                response = make_response(view(*args, **kwargs))
                return malform(response) if broken else response

            info = None
            with st.lock:
                principal = provider.authenticate(st)
                now = st.now()
                if principal is not None:
                    policy = provider.policy(st, bucket)
                    if policy is not None:
                        limit, window, enforce, suffix = policy
                        info = st.limiter.hit((provider.name, *provider.rate_key(principal)) + suffix,
                                              limit=limit, window=window, now=now, enforce=enforce)
                        if not info.allowed:
                            st.stats.rate_limited[provider.name] += 1
            if principal is None:
                response = provider.unauthorized()
            elif info is not None and not info.allowed:
                return provider.rate_limited(info, 429, now)
            else:
                try:
                    response = make_response(view(principal, *args, **kwargs))
                except Answer as answer:
                    response = answer.response
                if info is not None:
                    provider.rate_headers(response, info, now)
            return malform(response) if broken else response

        return wrapper

    return decorate
