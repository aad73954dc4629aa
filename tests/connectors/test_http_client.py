"""ProviderClient's retries, backoff and rate limiting against the real provider sandbox over HTTP.

Waits are recorded, not slept (an injected ``sleep``), except where a test says it sleeps for
real. The sandbox's faults are counted in requests, not time, so a recorded wait rides them out
just as well; where the sandbox's clock matters (its enforced sliding window), the fake sleep
moves the sandbox clock by the same amount (``POST /_sandbox/clock``).
"""
from __future__ import annotations

import logging
import math
import time
import uuid

import pytest
import requests

from connectors.errors import (InvalidCredentials, ProviderAuthError, ProviderError, ProviderRateLimited,
                               RateLimitBudgetExceeded)
from connectors.http import ProviderClient, RetryPolicy
from connectors.ratelimit import RateLimiter

PIPEDRIVE_KEY = "sandbox-pipedrive-key"
REPO = "/repos/octo-sandbox/tributary-demo"


@pytest.fixture
def sandbox(sandbox_server):
    url = sandbox_server.url
    requests.post(f"{url}/_sandbox/reset", timeout=5).raise_for_status()
    return Sandbox(url)


class Sandbox:
    def __init__(self, url):
        self.url = url

    def fault(self, **spec):
        response = requests.post(f"{self.url}/_sandbox/faults", json=spec, timeout=5)
        assert response.status_code == 201, response.text

    def config(self, **spec):
        requests.post(f"{self.url}/_sandbox/config", json=spec, timeout=5).raise_for_status()

    def advance(self, seconds):
        requests.post(f"{self.url}/_sandbox/clock", json={"advance_seconds": seconds}, timeout=5).raise_for_status()

    def stats(self):
        return requests.get(f"{self.url}/_sandbox/stats", timeout=5).json()

    def requests_to(self, provider):
        return self.stats()["requests"].get(provider, {}).get("total", 0)

    def rate_limited(self, provider):
        return self.stats()["rate_limited"].get(provider, 0)

    def github_token(self):
        response = requests.post(f"{self.url}/_sandbox/tokens", json={"provider": "github", "scope": "repo read:user"},
                                 timeout=5)
        assert response.status_code == 201, response.text
        return response.json()["access_token"]

    def pipedrive_key(self):
        """A key of this test's own: the sandbox's rate windows are per credential, so a request
        another test's leftover thread makes with the demo key cannot use up this test's window."""
        key = f"{PIPEDRIVE_KEY}-{uuid.uuid4().hex[:12]}"
        response = requests.post(f"{self.url}/_sandbox/pipedrive/keys", json={"api_key": key}, timeout=5)
        assert response.status_code == 201, response.text
        return key

    def pipedrive(self, **kwargs):
        kwargs.setdefault("timeout", 5)
        return ProviderClient("Pipedrive", f"{self.url}/pipedrive/api/v1", params={"api_token": self.pipedrive_key()},
                              **kwargs)

    def github(self, **kwargs):
        kwargs.setdefault("timeout", 5)
        token = self.github_token()
        return ProviderClient("GitHub", f"{self.url}/github/api",
                              auth=lambda: {"Authorization": f"Bearer {token}"}, **kwargs)

    def client(self, provider, **kwargs):
        return self.github(**kwargs) if provider == "github" else self.pipedrive(**kwargs)


PATHS = {"github": "/user", "pipedrive": "/users/me"}


class Recorder:
    """A sleep that only records."""

    def __init__(self):
        self.waits = []

    def __call__(self, seconds):
        self.waits.append(seconds)


def policy(sleep, **changes):
    # rng = 1.0: full jitter at its ceiling, so the backoff is exact (0.5, 1, 2, 4, ...).
    return RetryPolicy(sleep=sleep, rng=lambda: 1.0, **changes)


class SandboxTime:
    """A fake monotonic clock for the limiter whose sleep also moves the sandbox's clock, so both
    sides of the sliding window agree without waiting for real. The wall clock follows, for
    epoch reset headers."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        self.sandbox.advance(seconds)

    def wall(self):
        return time.time() + self.now

    def limiter(self, *args, **kwargs):
        return RateLimiter(*args, clock=self.clock, sleep=self.sleep, wall_clock=self.wall, **kwargs)


# -- 429 -----------------------------------------------------------------------------------

@pytest.mark.parametrize("provider", ["pipedrive", "github"])
def test_a_429_storm_with_retry_after_is_ridden_out(sandbox, provider):
    sleep = Recorder()
    client = sandbox.client(provider, retry=policy(sleep))
    sandbox.fault(provider=provider, kind="rate_limit", count=3, retry_after=4)
    body = client.get_json(PATHS[provider])
    assert body                                          # the real answer, after the storm
    assert sleep.waits == [4.0, 4.0, 4.0]                # Retry-After honoured, not the backoff
    assert sandbox.rate_limited(provider) == 3
    assert sandbox.requests_to(provider) == 4


def test_githubs_403_rate_limit_form_is_retried(sandbox):
    sleep = Recorder()
    client = sandbox.github(retry=policy(sleep))
    sandbox.fault(provider="github", kind="rate_limit", status=403, count=2, retry_after=3)
    assert client.get_json("/user")["login"]
    assert sleep.waits == [3.0, 3.0]
    assert sandbox.requests_to("github") == 3


def test_a_429_storm_with_a_limiter_waits_in_the_limiter_on_the_run_budget(sandbox):
    fake = SandboxTime(sandbox)
    limiter = fake.limiter(requests_per_minute=600)
    client_sleep = Recorder()
    client = sandbox.pipedrive(limiter=limiter, retry=policy(client_sleep))
    sandbox.fault(provider="pipedrive", kind="rate_limit", count=2, retry_after=5)
    assert client.get_json("/users/me")["success"] is True
    assert client_sleep.waits == []                      # the limiter held the connection back
    assert fake.sleeps == [pytest.approx(5.0), pytest.approx(5.0)]
    assert limiter.waited == pytest.approx(10.0) and limiter.pauses >= 2


def test_a_429_storm_is_ridden_out_in_real_time(sandbox):
    """No injected sleep: the client really waits the 1 s Retry-After."""
    client = sandbox.pipedrive(retry=RetryPolicy())
    sandbox.fault(provider="pipedrive", kind="rate_limit", count=1, retry_after=1)
    started = time.monotonic()
    assert client.get_json("/users/me")["success"] is True
    assert 1.0 <= time.monotonic() - started < 3.0
    assert sandbox.rate_limited("pipedrive") == 1


def test_429_after_every_attempt_raises_provider_rate_limited_with_retry_after(sandbox):
    sleep = Recorder()
    client = sandbox.pipedrive(retry=policy(sleep, max_attempts=3))
    sandbox.fault(provider="pipedrive", kind="rate_limit", count=10, retry_after=2)
    with pytest.raises(ProviderRateLimited) as caught:
        client.get_json("/users/me")
    assert caught.value.retry_after == 2.0
    assert not isinstance(caught.value, RateLimitBudgetExceeded)
    assert sleep.waits == [2.0, 2.0]
    assert sandbox.requests_to("pipedrive") == 3


def test_a_long_retry_after_without_a_limiter_is_reported_not_waited(sandbox):
    sleep = Recorder()
    client = sandbox.pipedrive(retry=policy(sleep))          # max_retry_after 60
    sandbox.fault(provider="pipedrive", kind="rate_limit", count=5, retry_after=120)
    with pytest.raises(ProviderRateLimited) as caught:
        client.get_json("/users/me")
    assert caught.value.retry_after == 120.0
    assert sleep.waits == [] and sandbox.requests_to("pipedrive") == 1


# -- the run's budget ----------------------------------------------------------------------

def test_budget_exceeded_when_retry_after_is_beyond_the_runs_wait_budget(sandbox):
    fake = SandboxTime(sandbox)
    limiter = fake.limiter(requests_per_minute=80, max_wait=30)
    client = sandbox.github(limiter=limiter, retry=policy(Recorder()))
    sandbox.fault(provider="github", kind="rate_limit", count=1, retry_after=120)
    with pytest.raises(RateLimitBudgetExceeded) as caught:
        client.get_json("/user")
    assert 120 <= caught.value.retry_after <= 121         # Retry-After, or the reset rounded up
    assert fake.sleeps == []                             # gave up without waiting
    assert sandbox.requests_to("github") == 1


def test_a_spent_quota_with_a_reset_far_away_ends_the_run(sandbox):
    """GitHub's 5000/hour quota spent: 403, remaining 0, reset up to an hour away."""
    fake = SandboxTime(sandbox)
    limiter = fake.limiter(requests_per_minute=80, requests_per_hour=5000, max_wait=600)
    client = sandbox.github(limiter=limiter, retry=policy(Recorder()))
    sandbox.fault(provider="github", kind="rate_limit", status=403, count=1, retry_after=3000)
    with pytest.raises(RateLimitBudgetExceeded) as caught:
        client.get_json("/user")
    assert 2990 <= caught.value.retry_after <= 3001
    assert fake.sleeps == []


# -- 5xx, network, latency -----------------------------------------------------------------

@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried_with_exponential_backoff_then_succeeds(sandbox, status):
    sleep = Recorder()
    client = sandbox.pipedrive(retry=policy(sleep))
    sandbox.fault(provider="pipedrive", kind="server_error", status=status, count=2)
    assert client.get_json("/users/me")["success"] is True
    assert sleep.waits == [0.5, 1.0]
    assert sandbox.requests_to("pipedrive") == 3


def test_5xx_forever_is_a_provider_error_after_max_attempts(sandbox):
    sleep = Recorder()
    client = sandbox.github(retry=policy(sleep, max_delay=3.0))
    sandbox.fault(provider="github", kind="server_error", status=502, count=50)
    with pytest.raises(ProviderError) as caught:
        client.get_json("/user")
    assert caught.value.details["provider_status"] == 502
    assert sleep.waits == [0.5, 1.0, 2.0, 3.0]           # doubled, capped at max_delay
    assert sandbox.requests_to("github") == 5


def test_full_jitter_draws_below_the_exponential_ceiling(sandbox):
    sleep = Recorder()
    draws = iter([0.5, 0.25, 0.1, 0.9])
    client = sandbox.pipedrive(retry=RetryPolicy(sleep=sleep, rng=lambda: next(draws)))
    sandbox.fault(provider="pipedrive", kind="server_error", count=4)
    assert client.get_json("/users/me")["success"] is True
    assert sleep.waits == pytest.approx([0.25, 0.25, 0.2, 3.6])


def test_a_failed_post_is_not_repeated(sandbox):
    sleep = Recorder()
    client = sandbox.github(retry=policy(sleep))
    sandbox.fault(provider="github", kind="server_error", status=500, count=3)
    with pytest.raises(ProviderError):
        client.request("POST", f"{REPO}/issues", json={"title": "only once"})
    assert sleep.waits == []
    assert sandbox.requests_to("github") == 1


def test_latency_beyond_the_timeout_is_retried(sandbox):
    sleep = Recorder()
    client = sandbox.pipedrive(retry=policy(sleep), timeout=0.2)
    sandbox.fault(provider="pipedrive", kind="latency", latency_ms=600, count=1)
    assert client.get_json("/users/me")["success"] is True
    assert sleep.waits == [0.5]                          # one timeout, one backoff
    assert sandbox.requests_to("pipedrive") == 2


def test_latency_within_the_timeout_is_just_slow(sandbox):
    sleep = Recorder()
    client = sandbox.pipedrive(retry=policy(sleep), timeout=5)
    sandbox.fault(provider="pipedrive", kind="latency", latency_ms=300, count=1)
    started = time.monotonic()
    assert client.get_json("/users/me")["success"] is True
    assert time.monotonic() - started >= 0.3
    assert sleep.waits == [] and sandbox.requests_to("pipedrive") == 1


def test_an_unreachable_provider_is_a_provider_error_after_the_attempts():
    sleep = Recorder()
    client = ProviderClient("Pipedrive", "http://127.0.0.1:9/api/v1", timeout=2,
                            retry=policy(sleep, max_attempts=3))
    with pytest.raises(ProviderError) as caught:
        client.get_json("/users/me")
    assert "could not be reached" in caught.value.message
    assert sleep.waits == [0.5, 1.0]


# -- bodies and client errors --------------------------------------------------------------

def test_a_malformed_body_is_retried_once_then_succeeds(sandbox):
    sleep = Recorder()
    client = sandbox.pipedrive(retry=policy(sleep))
    sandbox.fault(provider="pipedrive", kind="malformed", count=1)
    assert client.get_json("/users/me")["success"] is True
    assert sandbox.requests_to("pipedrive") == 2


def test_a_body_malformed_twice_is_a_provider_error_without_more_retries(sandbox):
    client = sandbox.pipedrive(retry=policy(Recorder()))
    sandbox.fault(provider="pipedrive", kind="malformed", count=5)
    with pytest.raises(ProviderError) as caught:
        client.get_json("/users/me")
    assert "not valid JSON" in caught.value.message
    assert sandbox.requests_to("pipedrive") == 2         # one retry, not five attempts


def test_a_malformed_answer_to_a_write_is_not_repeated(sandbox):
    client = sandbox.github(retry=policy(Recorder()))
    sandbox.fault(provider="github", kind="malformed", count=1)
    with pytest.raises(ProviderError):
        client.request("POST", f"{REPO}/issues", json={"title": "created once"})
    endpoints = sandbox.stats()["requests"]["github"]["endpoints"]
    assert endpoints["POST /github/api/repos/<owner>/<repo>/issues"] == 1


def test_4xx_is_never_retried(sandbox):
    sleep = Recorder()
    client = sandbox.github(retry=policy(sleep))
    with pytest.raises(ProviderError) as caught:
        client.get_json(f"{REPO}/issues/99999")
    assert caught.value.details["provider_status"] == 404
    assert sleep.waits == [] and sandbox.requests_to("github") == 1


def test_401_is_an_auth_error_or_invalid_credentials_when_checking(sandbox):
    sleep = Recorder()
    client = ProviderClient("Pipedrive", f"{sandbox.url}/pipedrive/api/v1", params={"api_token": "wrong"},
                            retry=policy(sleep), timeout=5)
    with pytest.raises(ProviderAuthError):
        client.get_json("/users/me")
    with pytest.raises(InvalidCredentials):
        client.get_json("/users/me", checking_credentials=True)
    assert sleep.waits == [] and sandbox.requests_to("pipedrive") == 2


def test_checking_credentials_does_not_keep_a_person_waiting(sandbox):
    sleep = Recorder()
    client = sandbox.pipedrive(retry=policy(sleep))
    sandbox.fault(provider="pipedrive", kind="rate_limit", count=1, retry_after=7)
    with pytest.raises(ProviderRateLimited) as caught:
        client.get_json("/users/me", checking_credentials=True)
    assert caught.value.retry_after == 7.0 and sleep.waits == []
    sandbox.fault(provider="pipedrive", kind="server_error", count=5)
    with pytest.raises(ProviderError):
        client.get_json("/users/me", checking_credentials=True)
    assert sleep.waits == [0.5]                          # two attempts at most


def test_without_a_limiter_the_default_policy_is_the_interactive_one(sandbox):
    assert sandbox.pipedrive().retry.max_attempts == 2
    assert sandbox.pipedrive(limiter=RateLimiter(60)).retry == RetryPolicy()


def test_logs_never_show_the_query_string(sandbox, caplog):
    client = sandbox.pipedrive(retry=policy(Recorder()))
    sandbox.fault(provider="pipedrive", kind="server_error", count=10)
    with caplog.at_level(logging.WARNING, logger="connectors.http"), pytest.raises(ProviderError) as caught:
        client.get_json("/deals", params={"start": 0})
    # Our client's lines only: the in-process sandbox's own access log (werkzeug, from its server
    # thread, sometimes finishing an earlier test's delayed request) is not the client's output.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name == "connectors.http")
    assert "/pipedrive/api/v1/deals" in ours and "giving up" in ours
    assert PIPEDRIVE_KEY not in ours and "api_token" not in ours and "?" not in ours
    assert PIPEDRIVE_KEY not in str(caught.value.to_dict())


# -- the enforced limit: paced, zero 429s --------------------------------------------------

@pytest.mark.parametrize("provider", ["github", "pipedrive"])
def test_the_sandbox_really_refuses_beyond_its_limit(sandbox, provider):
    """The control for the next test: without the limiter, request N+1 in a minute is a 429."""
    sandbox.config(rate_limit={provider: {"per_minute": 5}})
    client = sandbox.client(provider, retry=policy(Recorder(), max_attempts=1))
    for _ in range(5):
        client.get_json(PATHS[provider])
    with pytest.raises(ProviderRateLimited):
        client.get_json(PATHS[provider])
    assert sandbox.rate_limited(provider) == 1


@pytest.mark.parametrize("provider", ["github", "pipedrive"])
def test_declared_limit_equal_to_the_enforced_one_paces_at_the_floor_with_zero_429s(sandbox, provider):
    per_minute, count = 5, 16
    sandbox.config(rate_limit={provider: {"per_minute": per_minute}})
    fake = SandboxTime(sandbox)
    limiter = fake.limiter(requests_per_minute=per_minute, max_wait=None)
    client = sandbox.client(provider, limiter=limiter, retry=policy(Recorder(), max_attempts=1))
    for _ in range(count):
        client.get_json(PATHS[provider])                 # max_attempts=1: any 429 would raise
    assert sandbox.rate_limited(provider) == 0
    assert sandbox.requests_to(provider) == count
    floor = math.floor((count - 1) / per_minute) * 60    # N at once, then N per window: 180 s
    assert floor <= fake.now <= 1.05 * floor


@pytest.mark.parametrize("provider", ["github", "pipedrive"])
def test_a_fresh_limiter_in_a_busy_minute_follows_the_headers_with_zero_429s(sandbox, provider):
    sandbox.config(rate_limit={provider: {"per_minute": 5}})
    elsewhere = sandbox.client(provider, retry=policy(Recorder(), max_attempts=1))
    for _ in range(3):
        elsewhere.get_json(PATHS[provider])
    fake = SandboxTime(sandbox)
    limiter = fake.limiter(requests_per_minute=5, max_wait=None)
    elsewhere.limiter = limiter                         # the same credential, a new run's limiter
    elsewhere.retry = policy(Recorder(), max_attempts=1)
    for _ in range(8):
        elsewhere.get_json(PATHS[provider])
    assert sandbox.rate_limited(provider) == 0
    assert sandbox.requests_to(provider) == 11
    assert limiter.pauses >= 1                          # the provider's headers told it to wait


def test_a_limit_declared_too_high_is_saved_by_the_providers_headers(sandbox):
    sandbox.config(rate_limit={"pipedrive": {"per_minute": 3}})
    fake = SandboxTime(sandbox)
    limiter = fake.limiter(requests_per_minute=10, max_wait=None)
    client = sandbox.pipedrive(limiter=limiter, retry=policy(Recorder(), max_attempts=1))
    for _ in range(7):
        assert client.get_json("/users/me")["success"] is True
    assert sandbox.rate_limited("pipedrive") == 0
    # Pipedrive's reset is seconds from now: paused twice, about a window each time.
    assert limiter.pauses == 2
    assert 120 <= fake.now <= 125


def test_what_the_provider_said_never_carries_the_credentials_it_was_sent():
    """A provider that quotes the refused credential back ("token ... is revoked") must not put it
    on the run, the stream result or the sync-jobs error: the request's own secret headers and
    query parameters are masked wherever they appear in the kept message and errors."""
    import json

    import requests as http

    from connectors.http import provider_said

    request = http.Request("GET", "https://api.example.com/v1/deals?api_token=pd-secret-999&start=0",
                           headers={"Authorization": "Bearer ghp_s3cretT0ken", "X-Api-Key": "k-abcdef-12"}).prepare()
    response = http.Response()
    response.status_code, response.request = 401, request
    response._content = json.dumps({
        "message": "Bad credentials: token ghp_s3cretT0ken is revoked (Bearer ghp_s3cretT0ken)",
        "errors": [{"message": "api_token pd-secret-999 unknown", "key": "k-abcdef-12"}, "k-abcdef-12 expired"],
    }).encode()
    said = json.dumps(provider_said(response))
    for secret in ("ghp_s3cretT0ken", "pd-secret-999", "k-abcdef-12"):
        assert secret not in said
    assert said.count("[redacted]") >= 4
    assert "Bad credentials: token [redacted] is revoked" in said  # the provider's words are kept
