"""The per-connection rate limiter, on a fake clock (no test here sleeps for real)."""
from __future__ import annotations

import threading
from email.utils import formatdate

import pytest

from connectors.base import RateLimits
from connectors.errors import ProviderRateLimited, RateLimitBudgetExceeded
from connectors.ratelimit import RateHeaders, RateLimiter, parse_rate_headers, parse_retry_after
from core.errors import ValidationError

EPOCH = 1_700_000_000.0


class FakeTime:
    """A monotonic clock, its sleep and a wall clock that move only when someone sleeps.

    Each thread sleeps until the time it computed (its last clock reading + the delay), as a
    real sleep would; the shared clock never goes backwards."""

    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()
        self._local = threading.local()

    def clock(self) -> float:
        with self._lock:
            self._local.read = self.now
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            start = getattr(self._local, "read", self.now)
            self.now = max(self.now, start + seconds)

    def wall(self) -> float:
        return EPOCH + self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def limiter(self, *args, **kwargs) -> RateLimiter:
        kwargs.setdefault("margin", 0.0)
        return RateLimiter(*args, clock=self.clock, sleep=self.sleep, wall_clock=self.wall, **kwargs)


def most_in_any_window(times, window: float) -> int:
    """The largest number of ``times`` inside any half-open window (t - window, t]."""
    times = sorted(times)
    best = 0
    for index, end in enumerate(times):
        inside = [t for t in times[: index + 1] if t > end - window]
        best = max(best, len(inside))
    return best


def send(limiter: RateLimiter, fake: FakeTime, count: int, *, latency: float = 0.0,
         headers=None) -> list[float]:
    """Make ``count`` sequential requests the way ProviderClient does: acquire, send, observe."""
    sent = []
    for _ in range(count):
        limiter.acquire()
        sent.append(fake.clock())
        fake.advance(latency)
        limiter.observe(headers or {}, 200)
    return sent


# -- pacing --------------------------------------------------------------------------------

def test_bursts_the_window_then_waits_a_full_window_never_more_than_n_per_minute():
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=5)
    sent = send(limiter, fake, 12)
    # N at once, the next N one window later: the floor a sliding window allows.
    assert sent == [0.0] * 5 + [60.0] * 5 + [120.0] * 2
    assert most_in_any_window(sent, 60) == 5
    assert limiter.waited == pytest.approx(120.0)


def test_a_token_bucket_would_trip_the_window_but_the_limiter_does_not():
    """Why not a token bucket: capacity N refilled at N/min lets 2N-1 through in a minute."""
    capacity, rate, tokens, t, bucket_sends = 5, 5 / 60, 5.0, 0.0, []
    while len(bucket_sends) < 10:
        if tokens >= 1:
            tokens -= 1
            bucket_sends.append(t)
        else:
            wait = (1 - tokens) / rate
            t += wait
            tokens = min(capacity, tokens + wait * rate)
    assert most_in_any_window(bucket_sends, 60) > 5

    fake = FakeTime()
    assert most_in_any_window(send(fake.limiter(requests_per_minute=5), fake, 10), 60) == 5


def test_the_window_counts_from_the_answer_not_the_send():
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=2)
    sent = send(limiter, fake, 3, latency=3.0)
    # The first request may have reached the provider as late as its answer (t=3), so the
    # third waits until 3 + 60, not 0 + 60.
    assert sent == [0.0, 3.0, 63.0]


def test_the_margin_is_added_to_every_window():
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=1, margin=0.05)
    assert send(limiter, fake, 2) == [0.0, pytest.approx(60.05)]


def test_hour_limit_and_minute_limit_together():
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=2, requests_per_hour=3, max_wait=None)
    assert send(limiter, fake, 5) == [0.0, 0.0, 60.0, 3600.0, 3600.0 + 0.0]
    fake2 = FakeTime()
    sent = send(fake2.limiter(requests_per_minute=2, requests_per_hour=3, max_wait=None), fake2, 7)
    assert most_in_any_window(sent, 60) <= 2 and most_in_any_window(sent, 3600) <= 3


def test_no_limits_never_waits():
    fake = FakeTime()
    limiter = fake.limiter()
    assert send(limiter, fake, 50) == [0.0] * 50
    assert fake.sleeps == []


# -- the wait budget -----------------------------------------------------------------------

def test_a_wait_beyond_max_wait_raises_budget_exceeded_without_waiting():
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=1, max_wait=100)
    send(limiter, fake, 2)                       # the second waited 60 s: 40 s of budget left
    assert limiter.remaining_wait == pytest.approx(40.0)
    sleeps_before = list(fake.sleeps)
    with pytest.raises(RateLimitBudgetExceeded) as caught:
        limiter.acquire()
    assert isinstance(caught.value, ProviderRateLimited)
    assert caught.value.retry_after == 60
    assert caught.value.code == "provider_rate_limited"
    assert fake.sleeps == sleeps_before and fake.now == 60.0
    # Nothing was reserved: with a bigger budget the very next request goes at 120.
    limiter.max_wait = None
    assert limiter.acquire() == 120.0


def test_threads_waiting_at_the_same_time_spend_the_budget_once():
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=2, max_wait=60)
    limiter.acquire(), limiter.acquire()
    limiter.observe({}, 200), limiter.observe({}, 200)
    # Two requests held up together for the same 60 s spend 60 s of budget, not 120.
    results = []
    threads = [threading.Thread(target=lambda: results.append(limiter.acquire())) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [60.0, 60.0]
    assert limiter.waited == pytest.approx(60.0)


# -- provider headers ----------------------------------------------------------------------

def test_github_epoch_reset_with_nothing_remaining_pauses_until_the_reset():
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=80, requests_per_hour=5000)
    limiter.acquire()
    info = limiter.observe({"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0",
                            "X-RateLimit-Reset": str(int(EPOCH + 30)), "X-RateLimit-Resource": "core"}, 200)
    assert info.limit == 5000 and info.remaining == 0 and info.reset_in == pytest.approx(30)
    assert limiter.acquire() == pytest.approx(30.0)
    assert fake.sleeps == [pytest.approx(30.0)]


def test_pipedrive_reset_is_seconds_from_now():
    fake = FakeTime()
    fake.advance(500)
    limiter = fake.limiter(requests_per_minute=1200)
    limiter.acquire()
    limiter.observe({"x-ratelimit-limit": "80", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "2"}, 200)
    assert limiter.acquire() == pytest.approx(502.0)


def test_x_rate_limit_headers_are_read_too():
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=20)
    limiter.acquire()
    limiter.observe({"x-rate-limit-limit": "300", "x-rate-limit-remaining": "0",
                     "x-rate-limit-reset": str(int(EPOCH + 45))}, 200)
    assert limiter.acquire() == pytest.approx(45.0)


def test_linears_complexity_budget_pauses_until_it_pays_for_another_query_like_the_last():
    """Linear: requests and complexity buckets, resets in epoch milliseconds. 100 points left of
    3,600 and the last query cost 300: the bucket (full in 3,500 s, refilling at a constant rate)
    holds 300 again in 200 s. A query that still fits, or the requests budget alone, does not pause."""
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=80)
    linear = {"x-ratelimit-requests-limit": "5000", "x-ratelimit-requests-remaining": "4000",
              "x-ratelimit-requests-reset": str(int((EPOCH + 600) * 1000)), "x-ratelimit-complexity-limit": "3600",
              "x-ratelimit-complexity-remaining": "100",
              "x-ratelimit-complexity-reset": str(int((EPOCH + 3500) * 1000))}
    limiter.acquire()
    limiter.observe({**linear, "x-complexity": "50"}, 200)
    assert limiter.acquire() == pytest.approx(0.0, abs=0.1)
    limiter.observe({**linear, "x-complexity": "300"}, 200)
    assert limiter.acquire() == pytest.approx(200.0, abs=0.1)
    assert parse_rate_headers({**linear, "x-ratelimit-requests-remaining": "0"}, wall_now=EPOCH).reset_in \
        == pytest.approx(600.0)


def test_gitlabs_ratelimit_headers_are_read_too():
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=2000)
    limiter.acquire()
    limiter.observe({"RateLimit-Limit": "2000", "RateLimit-Remaining": "0", "RateLimit-Observed": "2000",
                     "RateLimit-Reset": str(int(EPOCH + 30))}, 200)
    assert limiter.acquire() == pytest.approx(30.0)
def test_hubspots_rolling_window_headers_pause_a_whole_interval():
    """HubSpot tells Max/Remaining of a rolling 10-second window and no reset: a spent window is
    waited out whole (its share of a minute already used elsewhere, our own log does not know)."""
    assert parse_rate_headers({"X-HubSpot-RateLimit-Max": "110", "X-HubSpot-RateLimit-Remaining": "37",
                               "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}) == \
        RateHeaders(limit=110, remaining=37, reset_in=10.0)
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=600)
    limiter.acquire()
    limiter.observe({"X-HubSpot-RateLimit-Max": "110", "X-HubSpot-RateLimit-Remaining": "0",
                     "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, 200)
    assert limiter.acquire() == pytest.approx(10.0)


def test_salesforce_usage_stops_a_run_before_the_orgs_allowance_is_spent():
    """Sforce-Limit-Info says the org's use of its rolling daily allowance: what is left above a
    tenth kept for the org's others is the run's; at none, the next request would wait an hour,
    beyond any run's budget: the run stops (checkpointed) instead."""
    assert parse_rate_headers({"Sforce-Limit-Info": "api-usage=100/1000"}) == \
        RateHeaders(limit=1000, remaining=800, reset_in=3600.0)
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=600, max_wait=900)
    limiter.acquire()
    limiter.observe({"Sforce-Limit-Info": "api-usage=899/1000"}, 200)
    limiter.acquire()                                   # 1 left above the reserve
    limiter.observe({"Sforce-Limit-Info": "api-usage=900/1000"}, 200)
    with pytest.raises(RateLimitBudgetExceeded) as caught:
        limiter.acquire()
    assert caught.value.retry_after == 3600 and fake.sleeps == []


def test_remaining_above_zero_does_not_pause():
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=100)
    send(limiter, fake, 3, headers={"x-ratelimit-limit": "100", "x-ratelimit-remaining": "7",
                                    "x-ratelimit-reset": str(int(EPOCH + 50))})
    assert fake.sleeps == []


def test_a_spent_daily_quota_is_budget_exhausted_at_once():
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=60, max_wait=900)
    limiter.acquire()
    limiter.observe({"x-ratelimit-limit": "10000", "x-ratelimit-remaining": "0",
                     "x-ratelimit-reset": str(int(EPOCH + 20 * 3600))}, 200)
    with pytest.raises(RateLimitBudgetExceeded) as caught:
        limiter.acquire()
    assert caught.value.retry_after == 20 * 3600
    assert fake.sleeps == []


def test_own_log_covering_the_window_skips_the_headers_rounded_reset():
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=3)
    # The provider counts the same three requests and rounds its reset up to a whole second.
    for remaining in ("2", "1", "0"):
        limiter.acquire()
        fake.advance(0.25)
        limiter.observe({"x-ratelimit-limit": "3", "x-ratelimit-remaining": remaining,
                         "x-ratelimit-reset": "61"}, 200)
    assert limiter.acquire() == pytest.approx(60.25)    # our own log, not 0.75 + 61


def test_header_pause_when_the_provider_counts_requests_we_did_not_make():
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=3)
    limiter.acquire()
    # A fresh limiter, but the token was used elsewhere this minute: the window is full.
    limiter.observe({"x-ratelimit-limit": "3", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "41"}, 200)
    assert limiter.acquire() == pytest.approx(41.0)


def test_a_refused_answer_always_pauses_until_the_reset():
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=1)
    limiter.acquire()
    limiter.observe({"x-ratelimit-limit": "1", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "90"}, 429)
    assert limiter.acquire() == pytest.approx(90.0)


def test_penalize_holds_every_request_back():
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=600)
    limiter.acquire()
    limiter.observe({}, 429)
    limiter.penalize(7)
    assert limiter.acquire() == pytest.approx(7.0)
    limiter.observe({}, 429)
    limiter.penalize(None)
    assert limiter.acquire() == pytest.approx(8.0)
    assert limiter.snapshot()["pauses"] == 2


def test_header_parsing_edge_cases():
    assert parse_rate_headers({}) is None
    assert parse_rate_headers({"Content-Type": "application/json"}) is None
    ms = parse_rate_headers({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int((EPOCH + 10) * 1000))},
                            wall_now=EPOCH)
    assert ms.reset_in == pytest.approx(10) and ms.limit is None
    assert parse_rate_headers({"x-ratelimit-reset": str(int(EPOCH - 5))}, wall_now=EPOCH).reset_in == 0.0
    assert parse_rate_headers({"x-ratelimit-remaining": "nope"}).remaining is None
    atlassian = parse_rate_headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2001-09-09T01:48Z"},
                                   wall_now=1_000_000_080 - 120)    # ISO 8601 to the minute (Atlassian)
    assert atlassian.reset_in == pytest.approx(120)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(formatdate(EPOCH + 90, usegmt=True), wall_now=EPOCH) == pytest.approx(90)
    assert parse_retry_after(formatdate(EPOCH - 90, usegmt=True), wall_now=EPOCH) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


# -- per connection ------------------------------------------------------------------------

def test_for_connection_takes_catalog_defaults_overridden_by_settings():
    github = RateLimits(requests_per_minute=80, requests_per_hour=5000)
    default = RateLimiter.for_connection(github, {})
    assert (default.requests_per_minute, default.requests_per_hour) == (80, 5000)
    custom = RateLimiter.for_connection(github, {"requests_per_minute": 30, "requests_per_hour": "1000"},
                                        max_wait=60)
    assert (custom.requests_per_minute, custom.requests_per_hour, custom.max_wait) == (30, 1000, 60)
    unlimited = RateLimiter.for_connection(github, {"requests_per_hour": 0, "requests_per_minute": None})
    assert (unlimited.requests_per_minute, unlimited.requests_per_hour) == (80, None)
    from_dict = RateLimiter.for_connection({"requests_per_minute": 10}, None)
    assert (from_dict.requests_per_minute, from_dict.requests_per_hour) == (10, None)
    assert RateLimiter.for_connection(None, None).windows == ()
    for bad in ("lots", -1, 2.5, True):
        with pytest.raises(ValidationError):
            RateLimiter.for_connection(github, {"requests_per_minute": bad})


# -- threads -------------------------------------------------------------------------------

def test_many_threads_never_exceed_either_limit():
    fake = FakeTime()
    limiter = fake.limiter(requests_per_minute=7, requests_per_hour=30, max_wait=None)
    start = threading.Barrier(6)
    slots, errors, lock = [], [], threading.Lock()

    def worker():
        start.wait()
        try:
            for _ in range(8):
                slot = limiter.acquire()
                with lock:
                    slots.append(slot)
                fake.advance(0.01)           # the answer takes a moment
                limiter.observe({}, 200)
        except Exception as exc:             # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors and len(slots) == 48
    assert most_in_any_window(slots, 60) <= 7
    assert most_in_any_window(slots, 3600) <= 30
    assert limiter.requests == 48
    # 48 requests at 30 an hour need a second hour: the limiter did not over-throttle either.
    assert 3600 <= max(slots) <= 3600 + 3 * 60 + 1
