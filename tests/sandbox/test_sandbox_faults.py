"""Injected faults, the enforced rate limit, statistics and reset."""
import json
import threading
import time

import pytest
import requests

from sandbox_testkit import (GITHUB, GMAIL_READONLY, JSON, PIPEDRIVE_KEY, X_BEARER, bearer,
                             github_login, github_token, mint)
from tests.polling import wait_for

USER = "/github/api/user"
DEALS = f"/pipedrive/api/v1/deals?api_token={PIPEDRIVE_KEY}"
TWEETS = "/x/2/users/1234567890/tweets"


def fault(sandbox, **spec):
    response = sandbox.post("/_sandbox/faults", json=spec)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_github_rate_limit_fault_answers_like_github_for_count_requests(sandbox):
    headers = bearer(mint(sandbox, "github")["access_token"])
    fault(sandbox, provider="github", kind="rate_limit", count=2, retry_after=30)
    for _ in range(2):
        limited = sandbox.get(USER, headers=headers)
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "30"
        assert limited.headers["x-ratelimit-remaining"] == "0"
        assert int(limited.headers["x-ratelimit-reset"]) >= int(time.time()) + 29
        assert limited.get_json()["message"].startswith("API rate limit exceeded for user ID")
    assert sandbox.get(USER, headers=headers).status_code == 200


def test_github_rate_limit_fault_can_be_a_403(sandbox):
    headers = bearer(mint(sandbox, "github")["access_token"])
    fault(sandbox, provider="github", kind="rate_limit", status=403)
    limited = sandbox.get(USER, headers=headers)
    assert limited.status_code == 403 and limited.headers["x-ratelimit-remaining"] == "0"
    assert limited.get_json()["status"] == "403"


@pytest.mark.parametrize("provider, url, headers, expected", [
    ("x", TWEETS, X_BEARER, {"title": "Too Many Requests", "detail": "Too Many Requests",
                             "type": "about:blank", "status": 429}),
    ("pipedrive", DEALS, {}, None),
])
def test_rate_limit_fault_bodies_of_x_and_pipedrive(sandbox, provider, url, headers, expected):
    fault(sandbox, provider=provider, kind="rate_limit", retry_after=5)
    limited = sandbox.get(url, headers=headers)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "5"
    if provider == "x":
        assert limited.get_json() == expected
        assert limited.headers["x-rate-limit-remaining"] == "0"
    else:
        body = limited.get_json()
        assert body["success"] is False and body["errorCode"] == 429
        assert limited.headers["x-ratelimit-remaining"] == "0"
        assert limited.headers["x-ratelimit-reset"] == "5"


def test_server_error_fault_statuses(sandbox):
    headers = bearer(mint(sandbox, "github")["access_token"])
    fault(sandbox, provider="github", kind="server_error")
    error = sandbox.get(USER, headers=headers)
    assert error.status_code == 500 and error.get_json()["message"] == "Server Error"
    fault(sandbox, provider="github", kind="server_error", status=502)
    gateway = sandbox.get(USER, headers=headers)
    assert gateway.status_code == 502 and gateway.mimetype == "text/html"
    google = bearer(mint(sandbox, "google", GMAIL_READONLY)["access_token"])
    fault(sandbox, provider="google", kind="server_error", status=503)
    unavailable = sandbox.get("/google/gmail/v1/users/me/profile", headers=google)
    assert unavailable.status_code == 503
    assert unavailable.get_json()["error"]["status"] == "UNAVAILABLE"
    assert sandbox.get(USER, headers=headers).status_code == 200


def test_server_error_fault_hits_the_token_endpoint_too(sandbox):
    tokens = github_login(sandbox)
    fault(sandbox, provider="github", kind="server_error", status=503,
          path_prefix="/github/login/oauth/access_token")
    assert sandbox.get(USER, headers=bearer(tokens["access_token"])).status_code == 200
    failed = sandbox.post("/github/login/oauth/access_token", headers=JSON,
                         data={**GITHUB, "grant_type": "refresh_token",
                               "refresh_token": tokens["refresh_token"]})
    assert failed.status_code == 503
    # The refresh never happened, so the refresh token is still good.
    assert "access_token" in github_token(sandbox, grant_type="refresh_token",
                                          refresh_token=tokens["refresh_token"])


def test_latency_fault_delays_the_next_request_only(sandbox):
    fault(sandbox, provider="pipedrive", kind="latency", latency_ms=300)
    started = time.monotonic()
    slow = sandbox.get(DEALS)
    slow_elapsed = time.monotonic() - started
    started = time.monotonic()
    sandbox.get(DEALS)
    fast_elapsed = time.monotonic() - started
    assert slow.status_code == 200
    assert slow_elapsed >= 0.3 > fast_elapsed


def test_malformed_fault_returns_200_with_invalid_json(sandbox):
    fault(sandbox, provider="x", kind="malformed")
    broken = sandbox.get(TWEETS, headers=X_BEARER)
    assert broken.status_code == 200 and broken.mimetype == "application/json"
    with pytest.raises(ValueError):
        json.loads(broken.get_data())
    assert sandbox.get(TWEETS, headers=X_BEARER).get_json()["meta"]["result_count"] == 10


def test_revoke_tokens_fault_revokes_every_credential_of_the_provider(sandbox):
    tokens = github_login(sandbox)
    other = mint(sandbox, "github")
    revoked = fault(sandbox, provider="github", kind="revoke_tokens")
    assert revoked["revoked"] == 2
    for token in (tokens["access_token"], other["access_token"]):
        assert sandbox.get(USER, headers=bearer(token)).status_code == 401
    assert github_token(sandbox, grant_type="refresh_token",
                        refresh_token=tokens["refresh_token"])["error"] == "bad_refresh_token"
    fault(sandbox, provider="pipedrive", kind="revoke_tokens")
    assert sandbox.get(DEALS).status_code == 401
    fault(sandbox, provider="x", kind="revoke_tokens")
    assert sandbox.get(TWEETS, headers=X_BEARER).status_code == 401


def test_path_prefix_limits_a_fault_and_delete_clears_faults(sandbox):
    fault(sandbox, provider="pipedrive", kind="server_error", path_prefix="/pipedrive/api/v1/leads")
    assert sandbox.get(DEALS).status_code == 200
    assert sandbox.get(f"/pipedrive/api/v1/leads?api_token={PIPEDRIVE_KEY}").status_code == 500
    fault(sandbox, provider="pipedrive", kind="server_error", count=5)
    assert len(sandbox.get("/_sandbox/faults").get_json()["faults"]) == 1
    assert sandbox.delete("/_sandbox/faults").get_json() == {"cleared": 1}
    assert sandbox.get(DEALS).status_code == 200


def test_fault_requests_are_validated(sandbox):
    for spec in ({"provider": "gong", "kind": "latency"}, {"provider": "x", "kind": "meltdown"}):
        assert sandbox.post("/_sandbox/faults", json=spec).status_code == 400
    assert sandbox.post("/_sandbox/faults", json={"provider": "x", "kind": "server_error",
                                                 "status": 418}).status_code == 400
    assert sandbox.post("/_sandbox/faults", json={"provider": "x", "kind": "rate_limit",
                                                 "status": 403}).status_code == 400


def test_enforced_rate_limit_is_a_sliding_minute_per_token(sandbox, sandbox_state):
    config = sandbox.post("/_sandbox/config", json={"rate_limit": {"github": {"per_minute": 3}}})
    assert config.get_json()["rate_limit"] == {"github": {"per_minute": 3}}
    one = bearer(mint(sandbox, "github")["access_token"])
    two = bearer(mint(sandbox, "github")["access_token"])
    remaining = [sandbox.get(USER, headers=one).headers["x-ratelimit-remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    refused = sandbox.get(USER, headers=one)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-limit"] == "3"
    assert sandbox.get(USER, headers=two).status_code == 200     # another token, another window
    sandbox.post("/_sandbox/clock", json={"advance_seconds": 61})
    assert sandbox.get(USER, headers=one).status_code == 200
    assert sandbox_state.stats.rate_limited["github"] == 1
    sandbox.post("/_sandbox/config", json={"rate_limit": {"github": None}})
    assert sandbox.get("/_sandbox/config").get_json()["rate_limit"] == {}


def test_stats_count_requests_per_endpoint_grants_and_429s(sandbox):
    tokens = github_login(sandbox)
    github_token(sandbox, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    github_token(sandbox, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    sandbox.get(DEALS)
    sandbox.get(DEALS)
    fault(sandbox, provider="x", kind="rate_limit")
    sandbox.get(TWEETS, headers=X_BEARER)
    stats = sandbox.get("/_sandbox/stats").get_json()
    assert stats["token_grants"]["github"] == {"authorization_code": 1, "refresh_token": 1}
    assert stats["token_errors"]["github"] == {"bad_refresh_token": 1}
    assert stats["requests"]["pipedrive"] == {
        "total": 2, "endpoints": {"GET /pipedrive/api/v1/deals": 2}}
    assert stats["requests"]["github"]["endpoints"]["POST /github/login/oauth/access_token"] == 3
    assert stats["rate_limited"] == {"x": 1}
    assert stats["faults_served"] == {"x": {"rate_limit": 1}}


def test_reset_restores_the_seeded_state(sandbox):
    lifetimes = sandbox.get("/_sandbox/config").get_json()["access_token_ttl"]   # kit emulations add theirs
    assert {p: lifetimes[p] for p in ("github", "google")} == {"github": 28800, "google": 3599}
    tokens = github_login(sandbox)
    headers = bearer(tokens["access_token"])
    sandbox.post("/github/api/repos/octo-sandbox/tributary-demo/issues", headers=headers,
                json={"title": "temporary"})
    sandbox.post("/_sandbox/pipedrive/keys", json={"api_key": "extra-key"})
    fault(sandbox, provider="github", kind="server_error", count=3)
    sandbox.post("/_sandbox/config", json={"access_token_ttl": 5,
                                         "rate_limit": {"x": {"per_minute": 1}}})
    assert sandbox.post("/_sandbox/reset").get_json() == {"reset": True}

    stats = sandbox.get("/_sandbox/stats").get_json()
    assert stats["requests"] == {} and stats["token_grants"] == {}
    assert sandbox.get(USER, headers=headers).status_code == 401
    assert sandbox.get("/pipedrive/api/v1/deals?api_token=extra-key").status_code == 401
    assert sandbox.get("/_sandbox/faults").get_json() == {"faults": []}
    config = sandbox.get("/_sandbox/config").get_json()
    lifetimes = config["access_token_ttl"]      # kit emulations (Slack's bot tokens) bring their own
    assert {p: lifetimes[p] for p in ("github", "google")} == {"github": 28800, "google": 3599}
    assert lifetimes["slack"] == 10 * 365 * 86400 and config["rate_limit"] == {}
    fresh = bearer(mint(sandbox, "github")["access_token"])
    issues = sandbox.get("/github/api/repos/octo-sandbox/tributary-demo/issues?state=all"
                        "&per_page=100", headers=fresh).get_json()
    assert len(issues) == 25 and "temporary" not in {i["title"] for i in issues}


def test_method_limits_a_fault_to_one_http_method(sandbox):
    fault(sandbox, provider="pipedrive", kind="server_error", method="delete", count=2)
    assert sandbox.get(DEALS).status_code == 200       # a GET passes the DELETE-only fault by
    assert [f["method"] for f in sandbox.get("/_sandbox/faults").get_json()["faults"]] == ["DELETE"]
    assert sandbox.delete(f"/pipedrive/api/v1/deals/3?api_token={PIPEDRIVE_KEY}").status_code == 500
    assert sandbox.get(f"/pipedrive/api/v1/deals/3?api_token={PIPEDRIVE_KEY}").status_code == 200  # not deleted
    for spec in ({"method": "FETCH"}, {"method": 7}):
        answer = sandbox.post("/_sandbox/faults", json={"provider": "x", "kind": "latency", "latency_ms": 5, **spec})
        assert answer.status_code == 400 and "method must be one of GET" in answer.get_json()["error"]


class Held:
    """A request to the live sandbox, sent on its own thread (a hold keeps it waiting)."""

    def __init__(self, server, path):
        self.answer = None
        self.thread = threading.Thread(target=self._send, args=(f"{server.url}{path}",), daemon=True)
        self.thread.start()

    def _send(self, url):
        self.answer = requests.get(url, timeout=30)

    def done(self, timeout=10.0) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()


def pending(server) -> dict[int, dict]:
    return {f["id"]: f for f in requests.get(f"{server.url}/_sandbox/faults", timeout=5).json()["faults"]}


def waiting(server, hold_id) -> int:
    return pending(server).get(hold_id, {}).get("waiting", 0)


def release(server, hold_id, **body):
    return requests.post(f"{server.url}/_sandbox/faults/{hold_id}/release", json=body, timeout=5)


def test_a_hold_keeps_requests_waiting_until_the_test_lets_them_through(sandbox_server):
    """What lets a test stop a sync between two pages without racing a timer: the held request
    waits (here far past any latency a test would use) until released, one at a time or all."""
    server = sandbox_server
    made = requests.post(f"{server.url}/_sandbox/faults", timeout=5, json={
        "provider": "pipedrive", "kind": "hold", "method": "GET", "path_prefix": "/pipedrive/api/v1/deals",
        "count": 3}).json()["fault"]
    assert made["latency_ms"] == 30_000 and made["waiting"] == 0 and made["permits"] == 0

    first = Held(server, DEALS)
    assert wait_for(lambda: waiting(server, made["id"]) == 1, timeout=10)
    assert not first.done(timeout=0.5)                        # still held half a second on
    other = requests.get(f"{server.url}/pipedrive/api/v1/leads?api_token={PIPEDRIVE_KEY}", timeout=5)
    assert other.status_code == 200                            # other paths are not held
    assert release(server, made["id"], requests=1).status_code == 200
    assert first.done() and first.answer.status_code == 200 and first.answer.json()["data"]

    assert release(server, made["id"], requests=1).json()["fault"]["permits"] == 1
    started = time.monotonic()
    assert requests.get(f"{server.url}{DEALS}", timeout=5).status_code == 200   # a permit given ahead
    assert time.monotonic() - started < 5

    last = Held(server, DEALS)      # the hold's last use: it keeps waiting, and listed, once used up
    assert wait_for(lambda: waiting(server, made["id"]) == 1, timeout=10)
    assert pending(server)[made["id"]]["remaining"] == 0
    assert release(server, made["id"]).status_code == 200     # no body: lifted for good
    assert last.done() and last.answer.status_code == 200
    assert made["id"] not in pending(server)
    assert requests.get(f"{server.url}{DEALS}", timeout=5).status_code == 200


@pytest.mark.parametrize("how", ["clear", "reset"])
def test_clearing_the_faults_lets_every_held_request_go(sandbox_server, how):
    server = sandbox_server
    made = requests.post(f"{server.url}/_sandbox/faults", timeout=5, json={
        "provider": "pipedrive", "kind": "hold", "count": 5}).json()["fault"]
    held = [Held(server, DEALS) for _ in range(2)]
    assert wait_for(lambda: waiting(server, made["id"]) == 2, timeout=10)
    if how == "clear":
        assert requests.delete(f"{server.url}/_sandbox/faults", timeout=5).json() == {"cleared": 1}
    else:
        assert requests.post(f"{server.url}/_sandbox/reset", timeout=5).status_code == 200
    assert all(each.done() and each.answer.status_code == 200 for each in held)
    assert pending(server) == {}


def test_a_hold_gives_up_after_its_latency_and_release_is_validated(sandbox_server):
    server = sandbox_server
    made = requests.post(f"{server.url}/_sandbox/faults", timeout=5, json={
        "provider": "pipedrive", "kind": "hold", "latency_ms": 300}).json()["fault"]
    started = time.monotonic()
    assert requests.get(f"{server.url}{DEALS}", timeout=10).status_code == 200    # never released
    assert 0.3 <= time.monotonic() - started < 5
    assert release(server, 999).status_code == 404
    for body in ({"requests": 0}, {"requests": "2"}, {"requests": True}):
        answer = release(server, made["id"], **body)
        assert answer.status_code == 400 and "requests must be a positive integer" in answer.text
