"""Zendesk's accounts in the sandbox: each subdomain's OAuth grants answer and refresh there only,
that binding survives a restart with a state file, Zendesk's refresh tokens (a new pair per
refresh, lifetimes when asked), and rate limits counted per subdomain, whichever token asks."""
from __future__ import annotations

from sandbox_testkit import CALLBACK, bearer, hidden_fields, mint

from sandbox import create_app

ZENDESK = {"client_id": "sandbox-zendesk-client", "client_secret": "sandbox-zendesk-secret"}


def code_at(client, subdomain: str) -> str:
    """The consent page at ``https://<subdomain>.zendesk.com/oauth/authorizations/new``, allowed."""
    path = f"/zendesk/{subdomain}/oauth/authorizations/new"
    page = client.get(path, query_string={"client_id": ZENDESK["client_id"], "response_type": "code",
                                          "redirect_uri": CALLBACK, "scope": "read", "state": "st"})
    assert page.status_code == 200, page.get_data(as_text=True)
    answer = client.post(path, data={**hidden_fields(page.get_data(as_text=True)), "decision": "allow"})
    assert answer.status_code == 302
    return answer.headers["Location"].split("code=")[1].split("&")[0]


def token_at(client, subdomain: str, **form):
    return client.post(f"/zendesk/{subdomain}/oauth/tokens", data={**ZENDESK, **form})


def connected_at(client, subdomain: str, **asked) -> dict:
    answer = token_at(client, subdomain, grant_type="authorization_code", code=code_at(client, subdomain),
                      redirect_uri=CALLBACK, **asked)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def me(client, subdomain: str, token: str) -> int:
    return client.get(f"/zendesk/{subdomain}/api/v2/users/me.json", headers=bearer(token)).status_code


def test_a_grant_answers_and_refreshes_at_its_own_subdomain_only(sandbox):
    globex = connected_at(sandbox, "globex")
    assert set(globex) == {"access_token", "token_type", "scope", "refresh_token", "expires_in",
                           "refresh_token_expires_in"}
    assert (me(sandbox, "globex", globex["access_token"]), me(sandbox, "acme-sandbox", globex["access_token"])) == (
        200, 401)
    elsewhere = token_at(sandbox, "acme-sandbox", grant_type="refresh_token", refresh_token=globex["refresh_token"])
    assert elsewhere.status_code == 400 and elsewhere.get_json()["error"] == "invalid_grant"
    # A code is exchanged where it was issued.
    stray = token_at(sandbox, "acme-sandbox", grant_type="authorization_code", code=code_at(sandbox, "globex"),
                     redirect_uri=CALLBACK)
    assert stray.status_code == 400 and stray.get_json()["error"] == "invalid_grant"
    # A minted token (/_sandbox/tokens) stands for no account in particular: it answers at any.
    minted = mint(sandbox, "zendesk", "read")["access_token"]
    assert me(sandbox, "globex", minted) == me(sandbox, "acme-sandbox", minted) == 200


def test_a_refresh_returns_a_new_pair_and_invalidates_the_old_one(sandbox):
    first = connected_at(sandbox, "globex")
    refreshed = token_at(sandbox, "globex", grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert refreshed.status_code == 200, refreshed.get_json()
    second = refreshed.get_json()
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert (me(sandbox, "globex", second["access_token"]), me(sandbox, "globex", first["access_token"])) == (200, 401)
    assert me(sandbox, "acme-sandbox", second["access_token"]) == 401      # still globex's
    again = token_at(sandbox, "globex", grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"


def test_lifetimes_asked_with_the_token_are_said_and_enforced(sandbox):
    asked = connected_at(sandbox, "globex", expires_in="600", refresh_token_expires_in="604800")
    assert (asked["expires_in"], asked["refresh_token_expires_in"]) == (600, 604800)
    sandbox.post("/_sandbox/clock", json={"advance_seconds": 601})
    assert me(sandbox, "globex", asked["access_token"]) == 401
    refreshed = token_at(sandbox, "globex", grant_type="refresh_token", refresh_token=asked["refresh_token"],
                         expires_in="900", refresh_token_expires_in="604800")
    assert refreshed.status_code == 200 and refreshed.get_json()["expires_in"] == 900
    assert me(sandbox, "globex", refreshed.get_json()["access_token"]) == 200
    sandbox.post("/_sandbox/clock", json={"advance_seconds": 604801})      # the refresh token's week is over
    late = token_at(sandbox, "globex", grant_type="refresh_token", refresh_token=refreshed.get_json()["refresh_token"])
    assert late.status_code == 400 and late.get_json()["error"] == "invalid_grant"
    for wrong in ({"expires_in": "300"}, {"expires_in": "172800"}, {"expires_in": "soon"},
                  {"refresh_token_expires_in": "86400"}, {"expires_in": "7200", "refresh_token_expires_in": "3600"}):
        refused = token_at(sandbox, "globex", grant_type="authorization_code", code=code_at(sandbox, "globex"),
                           redirect_uri=CALLBACK, **wrong)
        assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_request", wrong


def test_the_binding_to_a_subdomain_survives_a_restart(tmp_path):
    path = tmp_path / "sandbox-state.json"
    before = create_app({"SEED": 42, "SCALE": 5, "STATE_FILE": str(path)}).test_client()
    globex = connected_at(before, "globex")
    after = create_app({"SEED": 42, "SCALE": 5, "STATE_FILE": str(path)}).test_client()
    assert me(after, "globex", globex["access_token"]) == 200
    assert me(after, "acme-sandbox", globex["access_token"]) == 401
    elsewhere = token_at(after, "acme-sandbox", grant_type="refresh_token", refresh_token=globex["refresh_token"])
    assert elsewhere.status_code == 400
    refreshed = token_at(after, "globex", grant_type="refresh_token", refresh_token=globex["refresh_token"])
    assert refreshed.status_code == 200
    assert me(after, "acme-sandbox", refreshed.get_json()["access_token"]) == 401


def test_rate_limits_are_counted_per_subdomain_whichever_token_asks(sandbox):
    sandbox.post("/_sandbox/config", json={"rate_limit": {"zendesk": {"per_minute": 2}}})
    minted = mint(sandbox, "zendesk", "read")["access_token"]      # good at every subdomain
    acme = connected_at(sandbox, "acme-sandbox")["access_token"]
    assert [me(sandbox, "acme-sandbox", token) for token in (minted, acme, minted)] == [200, 200, 429]
    # Another account's window is its own: the same token is not held back there.
    answers = [sandbox.get("/zendesk/globex/api/v2/users/me.json", headers=bearer(minted)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["x-rate-limit-remaining"] for a in answers[:2]] == ["1", "0"]


def test_without_asking_a_token_lives_as_zendesk_s_defaults_say(sandbox):
    """Zendesk's lifetimes for an OAuth client created since 2026 (its announcement: access 30
    minutes, refresh 30 days): said in the answer and enforced."""
    first = connected_at(sandbox, "globex")
    assert (first["expires_in"], first["refresh_token_expires_in"]) == (1800, 30 * 86400)
    sandbox.post("/_sandbox/clock", json={"advance_seconds": 1801})
    assert me(sandbox, "globex", first["access_token"]) == 401
    second = token_at(sandbox, "globex", grant_type="refresh_token", refresh_token=first["refresh_token"]).get_json()
    assert me(sandbox, "globex", second["access_token"]) == 200
    sandbox.post("/_sandbox/clock", json={"advance_seconds": 30 * 86400 + 1})
    late = token_at(sandbox, "globex", grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert late.status_code == 400 and late.get_json()["error"] == "invalid_grant"
