"""Per-connection rate limiting for provider requests.

One :class:`RateLimiter` per connection (``RateLimiter.for_connection``) is handed to the
connection's :class:`~connectors.http.ProviderClient`, which calls ``acquire()`` before every
attempt and ``observe()`` after it.

Why a sliding log and not a plain token bucket
---------------------------------------------
Providers (and the sandbox) count requests in a *sliding* window: at most N in any 60 s. A
token bucket of capacity N refilled at N/60 per second lets through N at once and then one
more every 60/N s, so 2N - 1 in the first minute: 429s. A bucket of capacity 1 (even spacing)
never trips the window but wastes the burst the window allows: a 2N-request sync takes
2 minutes instead of 1. The limiter therefore keeps the times of the last N requests per window
(per minute and per hour) and lets request k go when request k - N is ``window`` seconds old:
it never exceeds N in any window and reaches the floor the limit allows (N at once, the next N
one window later, ...).

Which time is "the time of a request"? The provider stamps a request when it *arrives*, some
time between our send and our receipt of the answer. The log first holds the send time and,
when ``observe()`` reports the answer, moves the oldest unanswered entry to the receipt time.
The k-th answer cannot come before k requests arrived, so the log's times are never earlier
than the provider's: pacing on them never trips the provider's window (with one request in
flight at a time, as a sync run makes them, this is exact; with several threads it holds as
long as an answer takes less than a window, which the client's timeout ensures).
A ``margin`` (50 ms) absorbs clock granularity.

Provider headers refine it: GitHub / Pipedrive ``x-ratelimit-limit/remaining/reset``, X
``x-rate-limit-*`` and Linear's requests and complexity budgets (``_linear``). When ``remaining`` reaches 0 and our own log does not already account for
the provider's whole window (another client shares the token, the provider's limit is lower than
declared, a fresh limiter in a busy minute), the limiter pauses until the reset. ``reset`` is
epoch seconds for GitHub and X, seconds-from-now for Pipedrive and an ISO 8601 time for Atlassian
(``2026-03-26T16:00Z``); values of at least 1e9 are read as epoch seconds, smaller ones as a
delay. HubSpot says ``X-HubSpot-RateLimit-Max``/``-Remaining`` of a rolling window
(``-Interval-Milliseconds``): its whole length stands for the reset. After a 429 the client calls ``penalize`` with the Retry-After.

Waiting is budgeted: ``max_wait`` is how many seconds this limiter (one run) may spend waiting in
all. A wait that would go beyond it, including a reset hours away (a spent daily quota), raises
:class:`~connectors.errors.RateLimitBudgetExceeded` instead, so the run can checkpoint and end.
"""
from __future__ import annotations

import bisect
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from core.errors import ValidationError

from .errors import RateLimitBudgetExceeded

MINUTE = 60.0
HOUR = 3600.0
# Rate-limit reset headers at least this large are Unix times (GitHub, X); smaller ones are a
# number of seconds from now (Pipedrive). 1e9 seconds is 2001-09-09: no window is that long.
EPOCH_THRESHOLD = 1e9
DEFAULT_MAX_WAIT = 900.0
DEFAULT_MARGIN = 0.05
SETTING_NAMES = ("requests_per_minute", "requests_per_hour")


@dataclass(frozen=True)
class RateHeaders:
    """What a response's rate-limit headers say (any field may be unknown)."""

    limit: int | None
    remaining: int | None
    reset_in: float | None      # seconds from now until the window frees a slot


def _lowered(headers) -> dict:
    if not headers:
        return {}
    return {str(name).lower(): value for name, value in headers.items()}


def _number(value) -> float | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def parse_rate_headers(headers, *, wall_now: float | None = None) -> RateHeaders | None:
    """Read ``x-ratelimit-*`` (GitHub, Pipedrive, Freshdesk's ``-total``), ``x-rate-limit-*`` (X) or
    ``ratelimit-*`` (GitLab) headers, or Linear's two budgets (see ``_linear``). ``None`` when the
    response has none (Google)."""
    h = _lowered(headers)
    if "x-ratelimit-requests-remaining" in h or "x-ratelimit-complexity-remaining" in h:
        return _linear(h, wall_now)
    if "x-hubspot-ratelimit-remaining" in h:
        return _hubspot_headers(h)
    if "sforce-limit-info" in h:
        return _salesforce_usage(h["sforce-limit-info"])
    for prefix in ("x-ratelimit-", "x-rate-limit-", "ratelimit-"):     # the last: GitLab's (the IETF draft's)
        if any(prefix + part in h for part in ("limit", "remaining", "reset")):
            break
    else:
        return None
    return _window(h, prefix, wall_now)


def _linear(h: dict, wall_now: float | None) -> RateHeaders | None:
    """Linear's leaky buckets: requests (``x-ratelimit-requests-*``) and complexity points
    (``x-ratelimit-complexity-*``; ``x-complexity`` is what the last query cost; resets are when
    a bucket is full again, in epoch milliseconds). When the complexity left would not pay for
    another query like the last one, it says "nothing remaining" until the bucket, refilling at
    its constant rate, holds that much again; otherwise the requests budget speaks."""
    requests = _window(h, "x-ratelimit-requests-", wall_now)
    points = _window(h, "x-ratelimit-complexity-", wall_now)
    cost = _number(h.get("x-complexity"))
    if points.remaining is not None and cost and points.remaining < cost and points.reset_in is not None:
        missing = points.limit - points.remaining if points.limit else None
        wait = points.reset_in * (cost - points.remaining) / missing if missing else points.reset_in
        return RateHeaders(limit=None, remaining=0, reset_in=min(points.reset_in, wait))
    return requests


def _window(h: dict, prefix: str, wall_now: float | None) -> RateHeaders:
    """One budget's ``<prefix>limit``, ``remaining`` and ``reset``."""
    limit = _number(h.get(prefix + "limit") or h.get(prefix + "total"))     # Freshdesk: X-RateLimit-Total
    remaining = _number(h.get(prefix + "remaining"))
    reset = _number(h.get(prefix + "reset"))
    if reset is None and h.get(prefix + "reset"):
        reset = _iso_time(h[prefix + "reset"])      # Atlassian: "2026-03-26T16:00Z"
    reset_in = None
    if reset is not None:
        if reset >= EPOCH_THRESHOLD * 1000:         # epoch milliseconds (some APIs)
            reset /= 1000
        if reset >= EPOCH_THRESHOLD:
            now = time.time() if wall_now is None else wall_now
            reset_in = max(0.0, reset - now)
        else:
            reset_in = max(0.0, reset)
    return RateHeaders(limit=int(limit) if limit is not None else None,
                       remaining=int(remaining) if remaining is not None else None,
                       reset_in=reset_in)


def _hubspot_headers(h: dict) -> RateHeaders:
    """HubSpot's ``X-HubSpot-RateLimit-Max``/``-Remaining`` over a rolling
    ``-Interval-Milliseconds`` window (10 s): no reset time, so a spent window is waited out whole."""
    limit, remaining = _number(h.get("x-hubspot-ratelimit-max")), _number(h.get("x-hubspot-ratelimit-remaining"))
    interval = _number(h.get("x-hubspot-ratelimit-interval-milliseconds"))
    return RateHeaders(limit=int(limit) if limit is not None else None,
                       remaining=int(remaining) if remaining is not None else None,
                       reset_in=interval / 1000 if interval is not None else None)


# Salesforce: the share of an org's daily API allowance a run leaves to everyone else in the org
# (its people and other integrations): a run stops (checkpointed) once the org has used the rest.
SALESFORCE_RESERVE = 0.1
# The allowance is a rolling 24 hours, and nothing says when its use falls: a stopped run is
# tried again after an hour.
SALESFORCE_RETRY = 3600.0


def _salesforce_usage(value) -> RateHeaders | None:
    """``Sforce-Limit-Info: api-usage=18/15000``: the org's requests in the last 24 hours of its
    allowance. ``remaining`` is what is left above the reserve, so the run stops before the
    allowance is spent (a spent one refuses every integration in the org)."""
    found = re.search(r"api-usage=(\d+)/(\d+)", str(value))
    if not found:
        return None
    used, allowance = int(found.group(1)), int(found.group(2))
    reserve = math.ceil(allowance * SALESFORCE_RESERVE)
    return RateHeaders(limit=allowance, remaining=max(0, allowance - reserve - used), reset_in=SALESFORCE_RETRY)


def _iso_time(value) -> float | None:
    """An ISO 8601 time (UTC unless it says otherwise) as epoch seconds."""
    try:
        when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def parse_retry_after(value, *, wall_now: float | None = None) -> float | None:
    """A Retry-After value, seconds or an HTTP date, as seconds from now (``None`` if absent or
    unreadable)."""
    if value is None or str(value).strip() == "":
        return None
    seconds = _number(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(str(value).strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:     # an HTTP date is always GMT
        when = when.replace(tzinfo=timezone.utc)
    now = time.time() if wall_now is None else wall_now
    return max(0.0, when.timestamp() - now)


def parse_limit(value, name: str = "limit") -> int | None:
    """A requests-per-window setting: a whole number >= 0 (0 or ``None``: no limit)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError(f"{name} must be a whole number of requests (0 for no limit).",
                              details={"field": name})
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit():
            raise ValidationError(f"{name} must be a whole number of requests (0 for no limit).",
                                  details={"field": name})
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < 0:
        raise ValidationError(f"{name} must be a whole number of requests (0 for no limit).",
                              details={"field": name})
    return value or None


class RateLimiter:
    """A thread-safe sliding-log limiter for one connection (see the module docstring)."""

    def __init__(self, requests_per_minute: int | None = None, requests_per_hour: int | None = None,
                 *, max_wait: float | None = DEFAULT_MAX_WAIT, clock=time.monotonic,
                 sleep=time.sleep, wall_clock=time.time, margin: float = DEFAULT_MARGIN):
        """``max_wait``: seconds this limiter may wait in all (the run's wait budget; ``None``:
        unlimited). ``clock``/``sleep``: a monotonic clock and its sleep (tests pass fakes).
        ``wall_clock``: Unix time, to read epoch reset headers. ``margin``: seconds added to
        every window."""
        self.requests_per_minute = parse_limit(requests_per_minute, "requests_per_minute")
        self.requests_per_hour = parse_limit(requests_per_hour, "requests_per_hour")
        self.windows: tuple[tuple[float, int], ...] = tuple(
            (window, limit) for window, limit in ((MINUTE, self.requests_per_minute),
                                                  (HOUR, self.requests_per_hour)) if limit)
        self.max_wait = max_wait
        self.margin = margin
        self._clock = clock
        self._sleep = sleep
        self._wall = wall_clock
        self._lock = threading.Lock()
        self._stamps: list[float] = []          # sorted times of recent requests (see above)
        self._unanswered: deque[float] = deque()  # their send times, oldest first, until observed
        self._paused_until = -math.inf
        self._blocked_until = -math.inf         # how far waiting has been charged to the budget
        self._generation = 0                    # bumps on every pause and every observed answer
        self.waited = 0.0                       # seconds charged to the budget so far
        self.requests = 0                       # requests let through
        self.pauses = 0                         # pauses from headers and penalties

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def for_connection(cls, catalog_rate_limits=None, settings: dict | None = None, **kwargs):
        """The limiter of one connection: the catalog's defaults (``CatalogEntry.rate_limits``,
        or a dict), overridden by the connection's settings ``requests_per_minute`` /
        ``requests_per_hour`` (``0``: no limit; absent or ``None``: the catalog's).
        ``kwargs`` go to the constructor (``max_wait``, ...)."""
        limits = {}
        for name in SETTING_NAMES:
            if isinstance(catalog_rate_limits, dict):
                limits[name] = catalog_rate_limits.get(name)
            else:
                limits[name] = getattr(catalog_rate_limits, name, None)
        for name in SETTING_NAMES:
            value = (settings or {}).get(name)
            if value is not None and value != "":
                limits[name] = parse_limit(value, name) or 0
        return cls(limits["requests_per_minute"] or None, limits["requests_per_hour"] or None,
                   **kwargs)

    @property
    def remaining_wait(self) -> float | None:
        """Seconds of waiting left in the budget (``None``: unlimited)."""
        if self.max_wait is None:
            return None
        return max(0.0, self.max_wait - self.waited)

    # -- the three calls the client makes --------------------------------------------------
    def acquire(self) -> float:
        """Block until a request may be sent; return the (clock) time it was allowed at.

        Raises ``RateLimitBudgetExceeded`` (nothing is reserved) when the wait would go beyond
        the budget."""
        while True:
            with self._lock:
                now = self._clock()
                self._prune(now)
                slot = self._earliest(now)
                self._charge(now, slot)
                bisect.insort(self._stamps, slot)
                self._unanswered.append(slot)
                generation = self._generation
            self._sleep_until(slot)
            with self._lock:
                if generation == self._generation or self._still_fits(slot):
                    self.requests += 1
                    return slot
                # A pause or an answer arrived while we slept and the slot no longer fits.
                self._forget(slot)

    def observe(self, headers=None, status: int | None = None) -> RateHeaders | None:
        """Learn from an answer (call it after every attempt, with ``None`` headers when the
        request failed without one). Returns what the rate-limit headers said."""
        with self._lock:
            now = self._clock()
            self._answered(now)
            info = parse_rate_headers(headers, wall_now=self._wall()) if headers else None
            if info is not None and info.remaining is not None and info.remaining <= 0 \
                    and info.reset_in is not None:
                refused = status in (403, 429)
                if refused or not self._log_accounts_for(info.limit, now):
                    self._pause_until(now + info.reset_in)
            return info

    def penalize(self, retry_after: float | None = None) -> None:
        """The provider refused a request (429): send nothing for ``retry_after`` seconds
        (1 s when it did not say)."""
        delay = 1.0 if retry_after is None else max(0.0, float(retry_after))
        with self._lock:
            self._pause_until(self._clock() + delay)

    def snapshot(self) -> dict:
        """Counters for logs and run statistics."""
        with self._lock:
            now = self._clock()
            return {"requests_per_minute": self.requests_per_minute,
                    "requests_per_hour": self.requests_per_hour,
                    "requests": self.requests, "waited": round(self.waited, 3),
                    "pauses": self.pauses, "paused_for": round(max(0.0, self._paused_until - now), 3),
                    "remaining_wait": self.remaining_wait}

    # -- internals (hold the lock) ----------------------------------------------------------
    def _prune(self, now: float) -> None:
        longest = max((window for window, _ in self.windows), default=MINUTE)
        cutoff = now - longest - self.margin
        del self._stamps[:bisect.bisect_right(self._stamps, cutoff)]
        while self._unanswered and self._unanswered[0] <= cutoff:
            self._unanswered.popleft()

    def _earliest(self, now: float) -> float:
        slot = max(now, self._paused_until)
        if self._stamps:
            slot = max(slot, self._stamps[-1])     # first come, first served
        for window, limit in self.windows:
            if len(self._stamps) >= limit:
                slot = max(slot, self._stamps[-limit] + window + self.margin)
        return slot

    def _still_fits(self, slot: float) -> bool:
        if slot < self._paused_until:
            return False
        for window, limit in self.windows:
            low = bisect.bisect_right(self._stamps, slot - window - self.margin)
            high = bisect.bisect_right(self._stamps, slot)
            if high - low - 1 >= limit:           # the others in this slot's window
                return False
        return True

    def _charge(self, now: float, slot: float) -> None:
        if slot <= now:
            return
        # Only time not already waited for by another thread counts: the budget measures how
        # long the connection is held up, not the sum over threads.
        extra = max(0.0, slot - max(now, self._blocked_until))
        if self.max_wait is not None and self.waited + extra > self.max_wait + 1e-9:
            wait = slot - now
            raise RateLimitBudgetExceeded(
                f"Waiting {wait:.0f}s for the provider's rate limit would exceed this run's "
                f"wait budget ({self.remaining_wait:.0f}s left).", retry_after=math.ceil(wait))
        self.waited += extra
        self._blocked_until = max(self._blocked_until, slot)

    def _sleep_until(self, slot: float) -> None:
        while True:
            delay = slot - self._clock()
            if delay <= 0:
                return
            before = self._clock()
            self._sleep(delay)
            if self._clock() <= before:     # a sleep that does not move this clock (tests)
                return

    def _forget(self, slot: float) -> None:
        index = bisect.bisect_left(self._stamps, slot)
        if index < len(self._stamps) and self._stamps[index] == slot:
            del self._stamps[index]
        try:
            self._unanswered.remove(slot)
        except ValueError:
            pass

    def _answered(self, now: float) -> None:
        """An answer came: the oldest unanswered request arrived by now at the latest."""
        if not self._unanswered or self._unanswered[0] > now:
            return
        sent = self._unanswered.popleft()
        index = bisect.bisect_left(self._stamps, sent)
        if index < len(self._stamps) and self._stamps[index] == sent:
            del self._stamps[index]
        bisect.insort(self._stamps, max(sent, now))
        self._generation += 1

    def _log_accounts_for(self, limit: int | None, now: float) -> bool:
        """Whether our own log already holds the provider's full window of ``limit`` (then its
        reset adds nothing, and our log frees the slot without the header's rounding)."""
        for window, own_limit in self.windows:
            if limit is not None and own_limit == limit:
                low = bisect.bisect_right(self._stamps, now - window - self.margin)
                high = bisect.bisect_right(self._stamps, now)
                if high - low >= limit:
                    return True
        return False

    def _pause_until(self, until: float) -> None:
        if until > self._paused_until:
            self._paused_until = until
            self._generation += 1
            self.pauses += 1
