"""Helpers for the provider sandbox tests: walk the OAuth flows the way a browser and a
connector would, and read pagination links."""
from __future__ import annotations

import base64
import hashlib
import html
import re
from urllib.parse import parse_qs, urlsplit

GITHUB = {"client_id": "sandbox-github-client", "client_secret": "sandbox-github-secret"}
GOOGLE = {"client_id": "sandbox-google-client", "client_secret": "sandbox-google-secret"}
CALLBACK = "http://127.0.0.1:5000/oauth/callback"
PIPEDRIVE_KEY = "sandbox-pipedrive-key"
X_BEARER = {"Authorization": "Bearer sandbox-x-bearer"}
GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"
JSON = {"Accept": "application/json"}


def pkce_pair(verifier: str = "x" * 43 + "-sandbox-verifier") -> tuple[str, str]:
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hidden_fields(page: str) -> dict:
    pairs = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    return {name: html.unescape(value) for name, value in pairs}


def authorize(client, provider: str, *, decision: str = "allow", scope: str | None = None,
              challenge: str | None = None, method: str | None = "S256",
              redirect_uri: str = CALLBACK, state: str = "st-123", offline: bool = True) -> dict:
    """Open the consent page, press a button, and return the redirect's query parameters."""
    if provider == "github":
        path = "/github/login/oauth/authorize"
        params = {"client_id": GITHUB["client_id"], "scope": scope or "repo read:user"}
    else:
        path = "/google/o/oauth2/v2/auth"
        params = {"client_id": GOOGLE["client_id"], "response_type": "code",
                  "scope": scope or f"openid email profile {GMAIL_READONLY}",
                  "access_type": "offline" if offline else "online"}
    params.update(redirect_uri=redirect_uri, state=state)
    if challenge:
        params["code_challenge"] = challenge
        if method:
            params["code_challenge_method"] = method
    page = client.get(path, query_string=params)
    assert page.status_code == 200, page.get_data(as_text=True)
    form = hidden_fields(page.get_data(as_text=True))
    form["decision"] = decision
    answer = client.post(path, data=form)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(redirect_uri)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def github_token(client, **form):
    """POST the GitHub token endpoint asking for JSON; GitHub answers errors with HTTP 200."""
    body = {**GITHUB, **form}
    response = client.post("/github/login/oauth/access_token", data=body, headers=JSON)
    assert response.status_code == 200
    return response.get_json()


def google_token(client, **form):
    return client.post("/google/token", data={**GOOGLE, **form})


def github_login(client) -> dict:
    """A full GitHub flow with PKCE; returns the token response."""
    verifier, challenge = pkce_pair()
    code = authorize(client, "github", challenge=challenge)["code"]
    tokens = github_token(client, code=code, redirect_uri=CALLBACK, code_verifier=verifier)
    assert "access_token" in tokens, tokens
    return tokens


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def mint(client, provider: str, scope: str = "") -> dict:
    response = client.post("/_sandbox/tokens", json={"provider": provider, "scope": scope})
    assert response.status_code == 201
    return response.get_json()


def link_next(response) -> str | None:
    match = re.search(r'<([^>]+)>; rel="next"', response.headers.get("Link", ""))
    return match.group(1) if match else None
