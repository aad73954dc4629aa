"""The generic authorization server, as GitHub and Google speak it."""
from urllib.parse import parse_qs

from sandbox_testkit import (CALLBACK, GITHUB, GMAIL_READONLY, GOOGLE, JSON, authorize, bearer,
                             github_login, github_token, google_token, pkce_pair)

BAD_CREDENTIALS = {"message": "Bad credentials",
                   "documentation_url": "https://docs.github.com/rest", "status": "401"}


# -- consent page ----------------------------------------------------------------------------

def test_github_consent_page_shows_app_scopes_user_and_both_buttons(sandbox):
    page = sandbox.get("/github/login/oauth/authorize", query_string={
        "client_id": GITHUB["client_id"], "redirect_uri": CALLBACK, "scope": "repo read:user",
        "state": "abc"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Authorize Tributary" in html
    assert "octo-sandbox" in html
    assert 'data-scope="repo"' in html and 'data-scope="read:user"' in html
    assert 'id="authorize"' in html and ">Authorize</button>" in html
    assert 'id="deny"' in html and ">Cancel</button>" in html
    assert 'method="post"' in html


def test_google_consent_page_is_google_styled(sandbox):
    page = sandbox.get("/google/o/oauth2/v2/auth", query_string={
        "client_id": GOOGLE["client_id"], "redirect_uri": CALLBACK, "response_type": "code",
        "scope": f"email {GMAIL_READONLY}"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Tributary wants to access your Google Account" in html
    assert "sandbox.user@example.com" in html
    assert "View your email messages and settings" in html


def test_unknown_client_or_missing_redirect_uri_is_an_error_page_not_a_redirect(sandbox):
    unknown = sandbox.get("/github/login/oauth/authorize",
                         query_string={"client_id": "nope", "redirect_uri": CALLBACK})
    missing = sandbox.get("/google/o/oauth2/v2/auth",
                         query_string={"client_id": GOOGLE["client_id"], "response_type": "code"})
    for page in (unknown, missing):
        assert page.status_code == 400
        assert "Location" not in page.headers
        assert page.mimetype == "text/html"
    assert "invalid_client" in unknown.get_data(as_text=True)


def test_cancel_redirects_back_with_access_denied_and_state(sandbox):
    params = authorize(sandbox, "github", decision="deny", state="keep-me")
    assert params["error"] == "access_denied"
    assert params["error_description"]
    assert params["state"] == "keep-me"
    assert "code" not in params
    google = authorize(sandbox, "google", decision="deny", state="g-state")
    assert google["error"] == "access_denied" and google["state"] == "g-state"


# -- code exchange ---------------------------------------------------------------------------

def test_github_flow_with_pkce_issues_expiring_tokens_that_open_the_api(sandbox, sandbox_state):
    params = authorize(sandbox, "github", challenge=pkce_pair()[1], state="s1")
    assert params["state"] == "s1" and len(params["code"]) == 20
    tokens = github_token(sandbox, code=params["code"], redirect_uri=CALLBACK,
                          code_verifier=pkce_pair()[0])
    assert tokens["access_token"].startswith("ghu_")
    assert tokens["refresh_token"].startswith("ghr_")
    assert tokens["expires_in"] == 28800
    assert tokens["refresh_token_expires_in"] == 15811200
    assert tokens["token_type"] == "bearer"
    assert tokens["scope"] == "repo,read:user"
    user = sandbox.get("/github/api/user", headers=bearer(tokens["access_token"]))
    assert user.status_code == 200 and user.get_json()["login"] == "octo-sandbox"
    assert sandbox_state.stats.token_grants["github"]["authorization_code"] == 1


def test_github_token_endpoint_answers_form_encoded_unless_json_is_asked(sandbox):
    code = authorize(sandbox, "github")["code"]
    response = sandbox.post("/github/login/oauth/access_token",
                           data={**GITHUB, "code": code, "redirect_uri": CALLBACK})
    assert response.status_code == 200
    assert response.mimetype == "application/x-www-form-urlencoded"
    body = parse_qs(response.get_data(as_text=True))
    assert body["access_token"][0].startswith("ghu_")
    assert body["token_type"] == ["bearer"]


def test_wrong_or_missing_pkce_verifier_is_refused(sandbox):
    verifier, challenge = pkce_pair()
    code = authorize(sandbox, "github", challenge=challenge)["code"]
    wrong = github_token(sandbox, code=code, redirect_uri=CALLBACK, code_verifier="y" * 50)
    assert wrong["error"] == "bad_verification_code"
    assert "access_token" not in wrong
    missing = github_token(sandbox, code=code, redirect_uri=CALLBACK)
    assert missing["error"] == "bad_verification_code"
    # A failed verification does not burn the code: the right verifier still works.
    assert "access_token" in github_token(sandbox, code=code, redirect_uri=CALLBACK,
                                          code_verifier=verifier)

    g_code = authorize(sandbox, "google", challenge=challenge)["code"]
    g_wrong = google_token(sandbox, grant_type="authorization_code", code=g_code,
                           redirect_uri=CALLBACK, code_verifier="z" * 50)
    assert g_wrong.status_code == 400
    assert g_wrong.get_json() == {"error": "invalid_grant",
                                  "error_description": "Invalid code verifier."}


def test_plain_pkce_method_is_supported(sandbox):
    code = authorize(sandbox, "google", challenge="plain-verifier-" + "a" * 40, method=None)["code"]
    ok = google_token(sandbox, grant_type="authorization_code", code=code, redirect_uri=CALLBACK,
                      code_verifier="plain-verifier-" + "a" * 40)
    assert ok.status_code == 200 and ok.get_json()["access_token"].startswith("ya29.")


def test_replayed_code_is_refused_and_revokes_what_it_issued(sandbox):
    code = authorize(sandbox, "github")["code"]
    first = github_token(sandbox, code=code, redirect_uri=CALLBACK)
    assert sandbox.get("/github/api/user", headers=bearer(first["access_token"])).status_code == 200
    replay = github_token(sandbox, code=code, redirect_uri=CALLBACK)
    assert replay["error"] == "bad_verification_code"
    revoked = sandbox.get("/github/api/user", headers=bearer(first["access_token"]))
    assert revoked.status_code == 401 and revoked.get_json() == BAD_CREDENTIALS
    refresh = github_token(sandbox, grant_type="refresh_token",
                           refresh_token=first["refresh_token"])
    assert refresh["error"] == "bad_refresh_token"


def test_google_replayed_code_is_invalid_grant_and_revokes(sandbox):
    code = authorize(sandbox, "google")["code"]
    first = google_token(sandbox, grant_type="authorization_code", code=code,
                         redirect_uri=CALLBACK).get_json()
    replay = google_token(sandbox, grant_type="authorization_code", code=code,
                          redirect_uri=CALLBACK)
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    profile = sandbox.get("/google/gmail/v1/users/me/profile",
                          headers=bearer(first["access_token"]))
    assert profile.status_code == 401


def test_redirect_uri_must_match_the_one_given_at_authorize(sandbox):
    code = authorize(sandbox, "github")["code"]
    mismatch = github_token(sandbox, code=code, redirect_uri="http://127.0.0.1:5000/elsewhere")
    assert mismatch["error"] == "redirect_uri_mismatch"
    assert mismatch["error_uri"].startswith("https://docs.github.com/")
    g_code = authorize(sandbox, "google")["code"]
    g_mismatch = google_token(sandbox, grant_type="authorization_code", code=g_code,
                              redirect_uri="http://127.0.0.1:5000/elsewhere")
    assert g_mismatch.status_code == 400
    assert g_mismatch.get_json()["error"] == "redirect_uri_mismatch"


def test_code_expires_after_ten_minutes(sandbox):
    code = authorize(sandbox, "github")["code"]
    sandbox.post("/_sandbox/clock", json={"advance_seconds": 601})
    assert github_token(sandbox, code=code, redirect_uri=CALLBACK)["error"] == \
        "bad_verification_code"


def test_client_authentication_by_basic_or_body_and_wrong_secret(sandbox):
    code = authorize(sandbox, "github")["code"]
    basic = sandbox.post("/github/login/oauth/access_token", headers=JSON,
                        data={"code": code, "redirect_uri": CALLBACK},
                        auth=(GITHUB["client_id"], GITHUB["client_secret"]))
    assert basic.get_json()["access_token"].startswith("ghu_")
    wrong = github_token(sandbox, client_secret="wrong", code="whatever")
    assert wrong["error"] == "incorrect_client_credentials"
    g_wrong = sandbox.post("/google/token", data={**GOOGLE, "client_secret": "wrong",
                                                 "grant_type": "refresh_token",
                                                 "refresh_token": "1//0x"})
    assert g_wrong.status_code == 401 and g_wrong.get_json()["error"] == "invalid_client"


def test_google_issues_a_refresh_token_only_for_offline_access(sandbox):
    online = authorize(sandbox, "google", offline=False)["code"]
    body = google_token(sandbox, grant_type="authorization_code", code=online,
                        redirect_uri=CALLBACK).get_json()
    assert body["token_type"] == "Bearer" and "refresh_token" not in body
    offline = authorize(sandbox, "google", offline=True)["code"]
    body = google_token(sandbox, grant_type="authorization_code", code=offline,
                        redirect_uri=CALLBACK).get_json()
    assert body["refresh_token"].startswith("1//")
    assert body["scope"] == f"openid email profile {GMAIL_READONLY}"


# -- refresh ---------------------------------------------------------------------------------

def test_github_refresh_rotates_both_tokens_and_retires_the_old_ones(sandbox, sandbox_state):
    first = github_login(sandbox)
    second = github_token(sandbox, grant_type="refresh_token",
                          refresh_token=first["refresh_token"])
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["refresh_token_expires_in"] == 15811200
    reused = github_token(sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused == {"error": "bad_refresh_token",
                      "error_description": "The refresh token passed is incorrect or expired.",
                      "error_uri": reused["error_uri"]}
    assert sandbox.get("/github/api/user", headers=bearer(first["access_token"])).status_code == 401
    assert sandbox.get("/github/api/user",
                       headers=bearer(second["access_token"])).status_code == 200
    assert sandbox_state.stats.token_grants["github"]["refresh_token"] == 1


def test_google_refresh_keeps_the_refresh_token_unless_rotation_is_switched_on(sandbox):
    code = authorize(sandbox, "google")["code"]
    first = google_token(sandbox, grant_type="authorization_code", code=code,
                         redirect_uri=CALLBACK).get_json()
    refreshed = google_token(sandbox, grant_type="refresh_token",
                             refresh_token=first["refresh_token"]).get_json()
    assert "refresh_token" not in refreshed and refreshed["access_token"] != first["access_token"]
    again = google_token(sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert again.status_code == 200

    sandbox.post("/_sandbox/config", json={"rotate_refresh_tokens": {"google": True}})
    rotated = google_token(sandbox, grant_type="refresh_token",
                           refresh_token=first["refresh_token"]).get_json()
    assert rotated["refresh_token"] != first["refresh_token"]
    stale = google_token(sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert stale.status_code == 400
    assert stale.get_json() == {"error": "invalid_grant",
                                "error_description": "Token has been expired or revoked."}


def test_expired_access_token_gets_the_providers_401_and_refresh_still_works(sandbox):
    sandbox.post("/_sandbox/config", json={"access_token_ttl": 60})
    tokens = github_login(sandbox)
    assert tokens["expires_in"] == 60
    sandbox.post("/_sandbox/clock", json={"advance_seconds": 61})
    expired = sandbox.get("/github/api/user", headers=bearer(tokens["access_token"]))
    assert expired.status_code == 401 and expired.get_json() == BAD_CREDENTIALS
    fresh = github_token(sandbox, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert sandbox.get("/github/api/user", headers=bearer(fresh["access_token"])).status_code == 200


# -- revocation ------------------------------------------------------------------------------

def test_github_delete_grant_revokes_the_users_tokens(sandbox):
    tokens = github_login(sandbox)
    wrong_auth = sandbox.delete(f"/github/api/applications/{GITHUB['client_id']}/grant",
                               json={"access_token": tokens["access_token"]},
                               auth=(GITHUB["client_id"], "wrong"))
    assert wrong_auth.status_code == 404
    deleted = sandbox.delete(f"/github/api/applications/{GITHUB['client_id']}/grant",
                            json={"access_token": tokens["access_token"]},
                            auth=(GITHUB["client_id"], GITHUB["client_secret"]))
    assert deleted.status_code == 204
    after = sandbox.get("/github/api/user", headers=bearer(tokens["access_token"]))
    assert after.status_code == 401 and after.get_json() == BAD_CREDENTIALS
    assert github_token(sandbox, grant_type="refresh_token",
                        refresh_token=tokens["refresh_token"])["error"] == "bad_refresh_token"


def test_google_revoke_then_gmail_answers_googles_401(sandbox):
    code = authorize(sandbox, "google")["code"]
    tokens = google_token(sandbox, grant_type="authorization_code", code=code,
                          redirect_uri=CALLBACK).get_json()
    revoked = sandbox.post("/google/revoke", query_string={"token": tokens["refresh_token"]})
    assert revoked.status_code == 200
    gone = sandbox.get("/google/gmail/v1/users/me/messages", headers=bearer(tokens["access_token"]))
    assert gone.status_code == 401
    error = gone.get_json()["error"]
    assert error["status"] == "UNAUTHENTICATED" and error["errors"][0]["reason"] == "authError"
    assert 'error="invalid_token"' in gone.headers["WWW-Authenticate"]
    again = sandbox.post("/google/revoke", data={"token": tokens["refresh_token"]})
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_token"
