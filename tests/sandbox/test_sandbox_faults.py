"""Injected faults, the enforced rate limit, statistics and reset."""
import json
import time

import pytest

from sandbox_testkit import (GITHUB, GMAIL_READONLY, JSON, PIPEDRIVE_KEY, X_BEARER, bearer,
                             github_login, github_token, mint)

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
