"""The one HTTP client every provider request goes through.

It sets timeouts and a user agent, paces requests through the connection's rate limiter,
retries what is worth retrying, and turns provider answers into our errors:

- every attempt goes through ``limiter.acquire()`` (which may raise ``RateLimitBudgetExceeded``)
  and ``limiter.observe()`` (which learns from the rate-limit headers);
- 429 (and GitHub's 403 rate-limit form, and a 403 whose error code the connector names in
  ``rate_limit_codes``: Google's ``userRateLimitExceeded``) is retried after the Retry-After
  (seconds or an HTTP date) or the rate-limit reset, else an exponential backoff; with a limiter the wait happens
  in the limiter (``penalize``), so every request of the connection holds back and the wait is
  charged to the run's budget. Once the attempts are spent: ``ProviderRateLimited`` with
  ``retry_after``;
- 5xx, connection errors and timeouts are retried with exponential backoff and full jitter
  (idempotent methods only: a POST that reached the provider must not be repeated; a connect
  timeout never reached it, so it is retried for every method). Then: ``ProviderError``;
- 401 is ``ProviderAuthError`` (``InvalidCredentials`` while checking a key the user just typed),
  404/410 ``ProviderNotFound``, other 4xx ``ProviderRefused``: never retried. Every error keeps
  what the provider said (its message, error list, documentation link, request id: see
  ``provider_said``), redacted of secrets, so a run can show the provider's own words;
- a 200 whose body is not JSON is retried once for idempotent methods (a body cut in transit is
  a transient fault and re-reading is harmless; a second broken body means the provider really
  answers that, so asking again is pointless), never for writes (the provider said 200: the write
  happened, repeating it could duplicate it). Then: ``ProviderError``.

Log lines name the provider, method and path only: query strings may carry an ``api_token``.
"""
from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass, field, replace
from typing import Callable
from urllib.parse import urlsplit

import requests

from core.logs import redact

from .errors import (InvalidCredentials, ProviderAuthError, ProviderError, ProviderNotFound, ProviderRateLimited,
                     ProviderRefused)
from .ratelimit import parse_rate_headers, parse_retry_after

log = logging.getLogger(__name__)

USER_AGENT = "Tributary/0.1 (+self-hosted connector console)"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
JITTERS = ("full", "equal", "none")


@dataclass(frozen=True)
class RetryPolicy:
    """How a request is retried.

    ``max_attempts`` counts the first try. The n-th retry waits ``min(max_delay,
    base_delay * 2**(n-1))``, randomized by ``jitter``: ``full`` (uniform in [0, that]), ``equal``
    (half fixed, half random) or ``none``. A Retry-After (or rate-limit reset) replaces the
    backoff; without a limiter, one longer than ``max_retry_after`` is not waited for: the
    error is raised at once with its ``retry_after`` (with a limiter, the limiter's budget
    decides). ``sleep`` and ``rng`` are injectable for tests.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: str = "full"
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    rng: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self):
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.jitter not in JITTERS:
            raise ValueError(f"jitter must be one of {', '.join(JITTERS)}")

    @classmethod
    def interactive(cls, **changes) -> "RetryPolicy":
        """For a person waiting on the answer (checking a key, resolving a handle): one quick
        retry, and no long Retry-After waits."""
        return cls(**{"max_attempts": 2, "base_delay": 0.25, "max_delay": 1.0,
                      "max_retry_after": 2.0, **changes})

    def backoff(self, retry: int) -> float:
        """The wait before the ``retry``-th retry (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, retry - 1)))
        if self.jitter == "full":
            return self.rng() * ceiling
        if self.jitter == "equal":
            return ceiling / 2 + self.rng() * ceiling / 2
        return ceiling


class ProviderClient:
    def __init__(self, provider: str, base_url: str, *, timeout: float = 15.0,
                 headers: dict | None = None, params: dict | None = None,
                 session: requests.Session | None = None, auth=None, limiter=None,
                 retry: RetryPolicy | None = None, rate_limit_codes: tuple[str, ...] = ()):
        """``auth``: a callable returning headers for each request (an OAuth token refreshed
        mid-run is picked up). ``limiter``: the connection's ``RateLimiter``, or None.
        ``retry``: the ``RetryPolicy``; by default ``RetryPolicy()`` when there is a limiter (a
        sync run) and ``RetryPolicy.interactive()`` when there is none (someone is waiting).
        ``rate_limit_codes``: the provider's error codes (as ``provider_said`` reads them) that
        mean "slow down" on a 403 without a Retry-After (Google's quota errors)."""
        self.provider = provider
        self.rate_limit_codes = frozenset(rate_limit_codes)
        self.auth = auth
        self.limiter = limiter
        self.retry = retry or (RetryPolicy() if limiter is not None else RetryPolicy.interactive())
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        if headers:
            self.session.headers.update(headers)
        self.default_params = params or {}

    def get_json(self, path: str, *, params: dict | None = None, checking_credentials: bool = False):
        response = self.request("GET", path, params=params, checking_credentials=checking_credentials)
        return response.json_body

    def request(self, method: str, path: str, *, params: dict | None = None, json=None,
                checking_credentials: bool = False, idempotent: bool | None = None, raw: bool = False):
        """Send a request (with retries); returns the ``requests.Response`` with ``json_body``.

        ``idempotent=True`` marks a POST that only reads (a GraphQL query), so it is retried
        like a GET; by default only idempotent HTTP methods are. ``raw=True``: a success's body
        is not JSON (a download); ``json_body`` is then None and ``content`` holds it."""
        method = method.upper()
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"
        where = urlsplit(url).path          # for logs: never the query string
        policy = self.retry
        if checking_credentials:            # a person is waiting on the form
            policy = replace(policy, max_attempts=min(policy.max_attempts, 2),
                             max_delay=min(policy.max_delay, 1.0),
                             max_retry_after=min(policy.max_retry_after, 2.0))
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        retried_malformed = False
        for attempt in range(1, policy.max_attempts + 1):
            last = attempt == policy.max_attempts
            if self.limiter is not None:
                self.limiter.acquire()
            try:
                response = self.session.request(
                    method, url, params={**self.default_params, **(params or {})}, json=json,
                    timeout=self.timeout, headers=self.auth() if self.auth else None)
            except requests.RequestException as exc:
                if self.limiter is not None:
                    self.limiter.observe(None, None)
                error = ProviderError(f"{self.provider} could not be reached ({type(exc).__name__}).",
                                      details={"provider": self.provider})
                retryable = idempotent or isinstance(exc, requests.ConnectTimeout)
                self._log_failure(method, where, type(exc).__name__, attempt, policy,
                                  retrying=retryable and not last)
                if not retryable or last:
                    raise error from None
                policy.sleep(policy.backoff(attempt))
                continue

            status = response.status_code
            if self.limiter is not None:
                self.limiter.observe(response.headers, status)
            if status == 401:
                said = provider_said(response)
                if checking_credentials:
                    raise InvalidCredentials(f"{self.provider} did not accept this key: it is wrong, "
                                             "expired or revoked.", details=said)
                raise ProviderAuthError(_message(f"{self.provider} refused the credentials ({status})", said),
                                        details={"provider": self.provider, **said})
            if _rate_limited(response, self.rate_limit_codes):
                wait = _rate_limit_wait(response)
                error = ProviderRateLimited(f"{self.provider} rate limit reached.", retry_after=wait)
                delay = wait if wait is not None else policy.backoff(attempt)
                too_long = self.limiter is None and delay > policy.max_retry_after
                self._log_failure(method, where, status, attempt, policy,
                                  retrying=not (last or too_long), delay=delay)
                if self.limiter is not None:
                    # The whole connection holds back; the next acquire() waits, on the budget.
                    self.limiter.penalize(delay)
                if last or too_long:
                    raise error
                if self.limiter is None:
                    policy.sleep(delay)
                continue
            if status >= 500:
                said = provider_said(response)
                error = ProviderError(_message(f"{self.provider} answered {status}", said),
                                      details={"provider": self.provider, **said})
                wait = parse_retry_after(response.headers.get("retry-after"))
                delay = max(policy.backoff(attempt), wait or 0.0)
                give_up = last or not idempotent or delay > max(policy.max_retry_after, policy.max_delay)
                self._log_failure(method, where, status, attempt, policy, retrying=not give_up,
                                  delay=delay)
                if give_up:
                    raise error
                policy.sleep(delay)
                continue
            if status >= 400:
                said = provider_said(response)
                kind = ProviderNotFound if status in (404, 410) else ProviderRefused
                raise kind(_message(f"{self.provider} refused {method} {where} ({status})", said),
                           details={"provider": self.provider, **said})
            if raw:
                response.json_body = None
                return response
            try:
                response.json_body = response.json() if response.content else None
            except ValueError:
                error = ProviderError(f"{self.provider} answered with a body that is not valid JSON.",
                                      details={"provider": self.provider})
                give_up = last or not idempotent or retried_malformed
                self._log_failure(method, where, "malformed body", attempt, policy,
                                  retrying=not give_up)
                if give_up:
                    raise error from None
                retried_malformed = True
                policy.sleep(policy.backoff(attempt))
                continue
            return response
        raise AssertionError("unreachable")     # pragma: no cover

    def _log_failure(self, method, where, what, attempt, policy, *, retrying, delay=None):
        if retrying:
            log.warning("%s %s %s: %s (attempt %d of %d), retrying%s", self.provider, method, where,
                        what, attempt, policy.max_attempts,
                        f" in {delay:.1f}s" if delay is not None else "")
        else:
            log.warning("%s %s %s: %s (attempt %d of %d), giving up", self.provider, method, where,
                        what, attempt, policy.max_attempts)


# What an error keeps of the provider's body: enough to act on, never a whole page.
MAX_MESSAGE = 500
MAX_ERRORS = 10
MAX_ERROR_TEXT = 300


def provider_said(response) -> dict:
    """What the provider's error answer says, in one shape for every provider.

    ``provider_status`` always; where the body has them, ``provider_code`` (see ``_code_of``),
    ``provider_message`` (GitHub and X ``message``/``detail``, Pipedrive ``error``, Google
    ``error.message``, OAuth ``error_description``, Jira's ``errorMessages``, Confluence's
    ``message`` or its v2 ``errors[0].detail``), ``provider_errors`` (GitHub's ``errors[]``,
    Google's ``error.errors``, X's ``errors``, Jira's messages and field errors, Salesforce's list of
    ``{"message", "errorCode"}``; at most ten),
    ``documentation_url`` and the request id header. Every text is cut short and passed
    through ``core.logs.redact``, and keys that look like secrets are dropped
    (``audit.service.scrub``).
    """
    from audit.service import scrub

    said: dict = {"provider_status": response.status_code}
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    if isinstance(body, list) and body and isinstance(body[0], dict) and "errorCode" in body[0]:
        body = {"message": body[0].get("message"), "code": body[0]["errorCode"], "errors": body}    # Salesforce
    if isinstance(body, dict):
        error = body.get("error")
        message = errors = None
        if isinstance(error, dict):                       # Google: {"error": {"message", "errors"}}
            message, errors = error.get("message"), error.get("errors") or error.get("details")
        elif isinstance(error, str):                      # Pipedrive, OAuth token endpoints, Zendesk
            message = body.get("error_description") or body.get("description") or error
        message = message or body.get("message") or body.get("detail") or body.get("title")
        if not message and isinstance(body.get("description"), str):
            message = body["description"]                 # Freshdesk: {"description", "errors": [...]}
        if not message and isinstance(body.get("err"), str):
            message = body["err"]                         # Figma: {"status", "err"}
        errors = errors if errors is not None else body.get("errors")
        listed = _atlassian_errors(body)
        if listed:                                        # Jira: {"errorMessages": [...], "errors": {...}}
            message, errors = message or "; ".join(listed), listed
        elif not message and isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]                             # Confluence v2: {"errors": [{"title", "detail"}]}
            message = first.get("detail") or first.get("title") or first.get("message")
        if isinstance(message, str) and message.strip():
            said["provider_message"] = _clip(message, MAX_MESSAGE)
        code = _code_of(body, error, errors)
        if code:
            said["provider_code"] = code
        if isinstance(errors, list) and errors:
            said["provider_errors"] = [scrub(e) if isinstance(e, dict) else _clip(str(e), MAX_ERROR_TEXT)
                                       for e in errors[:MAX_ERRORS]]
            said["provider_errors"] = [_clipped(e) for e in said["provider_errors"]]
        link = body.get("documentation_url") or (body.get("type") if str(body.get("type", "")).startswith("http") else None)
        if isinstance(link, str) and link.startswith(("https://", "http://")):
            said["documentation_url"] = _clip(link, MAX_ERROR_TEXT)
    request_id = response.headers.get("x-github-request-id") or response.headers.get("x-request-id")
    if request_id:
        said["request_id"] = _clip(request_id, 100)
    secrets = _request_secrets(getattr(response, "request", None))
    return _masked(said, secrets) if secrets else said


_SECRET_NAME = re.compile(r"(?i)auth|token|key|secret|password|signature|session|cookie")


def _request_secrets(request) -> list[str]:
    """The credentials the refused request carried -- the values of its headers and query
    parameters whose names say secret (``Authorization``'s without its scheme word) -- longest
    first. A provider that quotes one back ("invalid token abc...") must not put it on the run."""
    if request is None:
        return []
    from urllib.parse import parse_qsl, urlsplit

    found = set()
    for name, value in list((getattr(request, "headers", None) or {}).items()) + parse_qsl(
            urlsplit(getattr(request, "url", "") or "").query):
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str) and _SECRET_NAME.search(name):
            for part in (value, *value.split(" ", 1)[1:]):  # "Bearer abc": abc alone too
                if len(part.strip()) >= 6:
                    found.add(part.strip())
    return sorted(found, key=len, reverse=True)


def _masked(value, secrets: list[str]):
    """``value`` (text, or lists and dicts of it) with every occurrence of ``secrets`` masked."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "[redacted]")
        return value
    if isinstance(value, list):
        return [_masked(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _masked(v, secrets) for k, v in value.items()}
    return value


def _atlassian_errors(body: dict) -> list[str]:
    """Jira's error collection as lines: its ``errorMessages``, then each field's ``errors``."""
    messages, fields = body.get("errorMessages"), body.get("errors")
    listed = [str(m) for m in messages if m] if isinstance(messages, list) else []
    if isinstance(fields, dict) and (listed or "errorMessages" in body):
        listed += [f"{name}: {text}" for name, text in fields.items()]
    return listed


_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,79}$")


def _code_of(body: dict, error, errors) -> str | None:
    """The provider's own error code, where it gives one (what ``connectors.kit.OnError`` rules
    match): Google's first ``errors[].reason``, a GraphQL error's ``extensions.code`` (Linear),
    Graph's ``error.code``, Notion's ``code``, an OAuth or Slack ``error`` that is an identifier
    (not a sentence), HubSpot's ``category``, else the first of ``errors[]``'s own ``code``
    (Intercom's error list, Freshdesk's validation errors)."""
    first = errors[0] if isinstance(errors, list) and errors else None
    extensions = first.get("extensions") if isinstance(first, dict) else None
    for value in ((first or {}).get("reason") if isinstance(first, dict) else None,
                  extensions.get("code") if isinstance(extensions, dict) else None,     # GraphQL (Linear)
                  error.get("code") if isinstance(error, dict) else error, body.get("code"), body.get("category"),
                  first.get("code") if isinstance(first, dict) else None):
        if isinstance(value, str) and _CODE.match(value):
            return value
    return None


def _clip(text: str, limit: int) -> str:
    text = redact(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clipped(value):
    """A provider error entry with every string in it clipped (entries are small dicts)."""
    if isinstance(value, dict):
        return {k: _clipped(v) for k, v in list(value.items())[:20]}
    if isinstance(value, list):
        return [_clipped(v) for v in value[:MAX_ERRORS]]
    return _clip(value, MAX_ERROR_TEXT) if isinstance(value, str) else value


def _message(head: str, said: dict) -> str:
    """``head``, with the provider's own message when it gave one."""
    message = said.get("provider_message")
    return f"{head}: {message}" if message else f"{head}."


def _rate_limited(response, codes: frozenset = frozenset()) -> bool:
    """429, GitHub's 403 with Retry-After or ``x-ratelimit-remaining: 0``, or a 403 or 400 whose
    error code is one of ``codes`` (Google's quota errors carry no header: the reason says it;
    Linear's RATELIMITED comes as a 400)."""
    if response.status_code == 429:
        return True
    if response.status_code not in (400, 403):
        return False
    if response.status_code == 403 and (response.headers.get("retry-after")
                                        or response.headers.get("x-ratelimit-remaining") == "0"):
        return True
    # Linear says a spent budget with HTTP 400 and ``extensions.code: RATELIMITED``.
    return bool(codes) and provider_said(response).get("provider_code") in codes


def _rate_limit_wait(response) -> float | None:
    """Seconds until the provider takes requests again: Retry-After, else the rate-limit reset
    when the window is spent, else unknown."""
    wait = parse_retry_after(response.headers.get("retry-after"))
    if wait is not None:
        return wait
    info = parse_rate_headers(response.headers)
    if info is not None and info.remaining == 0 and info.reset_in is not None:
        return info.reset_in
    return None


def _retry_after(response) -> float | None:
    """The response's Retry-After in seconds (kept for callers of the old helper)."""
    return parse_retry_after(response.headers.get("retry-after"))
