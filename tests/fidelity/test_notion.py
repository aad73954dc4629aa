"""Notion's answers the endpoint table cannot reach, held to @notionhq/client 5.26.0: the OAuth
token answer (through the consent page, JSON and HTTP Basic as Notion takes them), the second
page of a POST listing (its cursor rides in the body), and the error envelope, whose codes the
SDK lists in ``APIErrorCode`` (build/src/errors.d.ts; the SDK declares no body type for it).
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from tests.oauth_helpers import consent

from .conform import validate
from .harness import Client

CLIENT = ("sandbox-notion-client", "sandbox-notion-secret")
ERRORS = Path(__file__).parent / "node_modules" / "@notionhq" / "client" / "build" / "src" / "errors.d.ts"
# Documented on developers.notion.com/reference/status-codes although the SDK's enum lacks it.
UNLISTED = {"missing_version"}


def api_error_codes() -> set[str]:
    enum = re.search(r"enum APIErrorCode \{(.*?)\}", ERRORS.read_text(), re.S).group(1)
    return set(re.findall(r'= "([a-z_]+)"', enum))


def test_the_token_answer_after_consent(sandbox_url):
    base = f"{sandbox_url}/notion/v1/oauth"
    back = consent(f"{base}/authorize?client_id={CLIENT[0]}&response_type=code&owner=user"
                   "&redirect_uri=http://127.0.0.1/cb&state=s1")
    code = parse_qs(urlsplit(back).query)["code"][0]
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1/cb"}
    assert requests.post(f"{base}/token", auth=CLIENT, data=exchange, timeout=5).status_code == 400  # JSON only
    answer = requests.post(f"{base}/token", auth=CLIENT, json=exchange, timeout=5)
    assert answer.status_code == 200 and "expires_in" not in answer.json()
    assert validate("notion", "POST /v1/oauth/token", answer.json()) == []
    revoked = requests.post(f"{base}/revoke", auth=CLIENT, json={"token": answer.json()["access_token"]}, timeout=5)
    assert validate("notion", "POST /v1/oauth/revoke", revoked.json()) == []
    client = Client(sandbox_url, "notion")
    client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    assert client.request("GET", "/v1/users/me").status_code == 401


def test_a_search_walks_its_pages_by_the_cursor_in_the_body(sandbox_url):
    client, seen, cursor = Client(sandbox_url, "notion"), [], None
    for _ in range(3):
        body = client.request("POST", "/v1/search", json={"filter": {"property": "object", "value": "page"},
                                                          "page_size": 20, "start_cursor": cursor}).json()
        assert validate("notion", "POST /v1/search", body) == []
        seen += [r["id"] for r in body["results"]]
        cursor = body["next_cursor"]
    assert cursor is None and len(seen) == len(set(seen)) == 50          # 2 x SCALE pages, none twice


def test_errors_are_notions_envelope_with_its_codes(sandbox_url):
    client, codes = Client(sandbox_url, "notion"), api_error_codes()
    assert {"unauthorized", "object_not_found", "validation_error", "rate_limited"} <= codes
    answers = {
        "unauthorized": client.request("GET", "/v1/users/me", auth=False),
        "object_not_found": client.request("GET", "/v1/pages/00000001-0000-4000-8000-0000000fffff"),
        "validation_error": client.request("POST", "/v1/search", json={"filter": {"property": "object",
                                                                                  "value": "database"}}),
        "rate_limited": client.fault({"kind": "rate_limit", "retry_after": 7}, "/v1/search")
        or client.request("POST", "/v1/search", json={}),
        "missing_version": requests.get(f"{sandbox_url}/notion/v1/users/me", timeout=5,
                                        headers={"Authorization": client.headers["Authorization"]}),
    }
    for code, answer in answers.items():
        body = answer.json()
        assert (body["object"], body["status"], body["code"]) == ("error", answer.status_code, code)
        assert body["message"] and (code in codes or code in UNLISTED)
    assert answers["rate_limited"].headers["Retry-After"] == "7"
    assert "shared with your integration" in answers["object_not_found"].json()["message"]
