"""Provider read APIs: shapes, pagination walks, incremental filters and determinism."""
import json
from datetime import datetime, timezone

from sandbox import create_app
from sandbox_testkit import GMAIL_READONLY, PIPEDRIVE_KEY, X_BEARER, bearer, link_next, mint

REPO = "octo-sandbox/tributary-demo"


def walk_github(sandbox, url, headers):
    """Follow Link rel="next" to the end; returns every item and the number of pages."""
    items, pages = [], 0
    while url:
        response = sandbox.get(url, headers=headers)
        assert response.status_code == 200
        items += response.get_json()
        pages += 1
        url = link_next(response)
    return items, pages


def gh_headers(sandbox):
    return bearer(mint(sandbox, "github", "repo")["access_token"])


# -- GitHub ----------------------------------------------------------------------------------

def test_github_issues_walk_by_link_has_no_gaps_or_duplicates_and_includes_pulls(sandbox):
    headers = gh_headers(sandbox)
    issues, pages = walk_github(
        sandbox, f"/github/api/repos/{REPO}/issues?state=all&sort=updated&direction=asc"
                "&per_page=10", headers)
    numbers = [i["number"] for i in issues]
    assert pages == 3
    assert sorted(numbers) == list(range(1, 26))
    updated = [i["updated_at"] for i in issues]
    assert updated == sorted(updated)
    pulls_in_issues = {i["number"] for i in issues if "pull_request" in i}
    pulls, _ = walk_github(sandbox, f"/github/api/repos/{REPO}/pulls?state=all&per_page=100",
                           headers)
    assert pulls_in_issues and {p["number"] for p in pulls} == pulls_in_issues
    assert all(p["html_url"].endswith(f"/pull/{p['number']}") for p in pulls)


def test_github_link_header_and_rate_limit_headers(sandbox):
    headers = gh_headers(sandbox)
    first = sandbox.get(f"/github/api/repos/{REPO}/issues?state=all&per_page=10", headers=headers)
    link = first.headers["Link"]
    assert 'rel="next"' in link and 'rel="last"' in link and 'rel="prev"' not in link
    assert "page=3" in link
    middle = sandbox.get(f"/github/api/repos/{REPO}/issues?state=all&per_page=10&page=2",
                        headers=headers)
    assert all(f'rel="{rel}"' in middle.headers["Link"] for rel in ("prev", "next", "last",
                                                                    "first"))
    assert middle.headers["x-ratelimit-limit"] == "5000"
    assert middle.headers["x-ratelimit-remaining"] == "4998"
    assert middle.headers["x-ratelimit-used"] == "2"
    assert middle.headers["x-ratelimit-resource"] == "core"
    assert int(middle.headers["x-ratelimit-reset"]) > 0
    single = sandbox.get(f"/github/api/repos/{REPO}/issues?state=all&per_page=100", headers=headers)
    assert "Link" not in single.headers


def test_github_since_keeps_exactly_the_issues_updated_at_or_after_it(sandbox):
    headers = gh_headers(sandbox)
    everything, _ = walk_github(sandbox, f"/github/api/repos/{REPO}/issues?state=all&per_page=100",
                                headers)
    stamps = sorted(i["updated_at"] for i in everything)
    since = stamps[len(stamps) // 2]
    recent, _ = walk_github(sandbox, f"/github/api/repos/{REPO}/issues?state=all&per_page=5"
                                    f"&since={since}", headers)
    expected = {i["number"] for i in everything if i["updated_at"] >= since}
    assert {i["number"] for i in recent} == expected
    assert 0 < len(expected) < len(everything)


def test_github_repo_comments_since_and_issue_comments(sandbox):
    headers = gh_headers(sandbox)
    comments, _ = walk_github(sandbox, f"/github/api/repos/{REPO}/issues/comments?per_page=7",
                              headers)
    ids = [c["id"] for c in comments]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) > 0
    since = sorted(c["updated_at"] for c in comments)[len(comments) // 2]
    later, _ = walk_github(sandbox, f"/github/api/repos/{REPO}/issues/comments?since={since}",
                           headers)
    assert {c["id"] for c in later} == {c["id"] for c in comments if c["updated_at"] >= since}
    number = int(comments[0]["issue_url"].rsplit("/", 1)[1])
    one = sandbox.get(f"/github/api/repos/{REPO}/issues/{number}/comments", headers=headers)
    assert comments[0]["id"] in {c["id"] for c in one.get_json()}
    assert all(c["issue_url"].endswith(f"/issues/{number}") for c in one.get_json())


def test_github_repos_pages_and_unknown_repo(sandbox):
    headers = gh_headers(sandbox)
    repos, pages = walk_github(sandbox, "/github/api/user/repos?per_page=10", headers)
    names = [r["full_name"] for r in repos]
    # the user's 25 (SCALE) and its organization's 3 (the endpoint lists organization_member too)
    assert pages == 3 and len(names) == 28 == len(set(names))
    assert names == sorted(names, key=str.lower)
    assert repos[0]["owner"]["login"] == "octo-sandbox"
    assert {r["full_name"] for r in repos if r["owner"]["type"] == "Organization"} == {
        "tributary-labs/platform", "tributary-labs/vault", "tributary-labs/handbook"}
    missing = sandbox.get("/github/api/repos/octo-sandbox/no-such-repo/issues", headers=headers)
    assert missing.status_code == 404 and missing.get_json()["message"] == "Not Found"


def test_github_created_issue_and_comment_show_up_in_incremental_reads(sandbox):
    headers = gh_headers(sandbox)
    created = sandbox.post(f"/github/api/repos/{REPO}/issues", headers=headers,
                          json={"title": "Sandbox write", "body": "hello", "labels": ["bug"]})
    assert created.status_code == 201
    issue = created.get_json()
    assert issue["number"] == 26 and issue["labels"][0]["name"] == "bug"
    since = issue["created_at"]
    fresh = sandbox.get(f"/github/api/repos/{REPO}/issues?state=all&since={since}", headers=headers)
    assert [i["number"] for i in fresh.get_json()] == [26]
    sandbox.post("/_sandbox/clock", json={"advance_seconds": 120})
    commented = sandbox.post(f"/github/api/repos/{REPO}/issues/3/comments", headers=headers,
                            json={"body": "a new comment"})
    assert commented.status_code == 201
    later = commented.get_json()["created_at"]
    bumped = sandbox.get(f"/github/api/repos/{REPO}/issues?state=all&since={later}",
                        headers=headers).get_json()
    assert [i["number"] for i in bumped] == [3] and bumped[0]["updated_at"] == later
    closed = sandbox.patch(f"/github/api/repos/{REPO}/issues/26", headers=headers,
                          json={"state": "closed"})
    assert closed.get_json()["state"] == "closed" and closed.get_json()["closed_at"]


def test_same_seed_gives_identical_pages_and_another_seed_does_not():
    def pages(seed):
        sandbox = create_app({"SEED": seed, "SCALE": 25}).test_client()
        headers = gh_headers(sandbox)
        gh, _ = walk_github(sandbox, f"/github/api/repos/{REPO}/issues?state=all&per_page=10",
                            headers)
        pd = sandbox.get(f"/pipedrive/api/v1/deals?api_token={PIPEDRIVE_KEY}&limit=500").get_json()
        tweets = sandbox.get("/x/2/users/1234567890/tweets?max_results=100&tweet.fields=created_at",
                            headers=X_BEARER).get_json()
        gmail = sandbox.get("/google/gmail/v1/users/me/messages", headers=bearer(
            mint(sandbox, "google", GMAIL_READONLY)["access_token"])).get_json()
        return json.dumps([gh, pd, tweets, gmail], sort_keys=True)

    assert pages(7) == pages(7)
    assert pages(7) != pages(8)


# -- Pipedrive -------------------------------------------------------------------------------

def test_pipedrive_deals_walk_by_next_start(sandbox):
    ids, start, calls = [], 0, 0
    while True:
        body = sandbox.get("/pipedrive/api/v1/deals",
                          query_string={"api_token": PIPEDRIVE_KEY, "start": start,
                                        "limit": 10}).get_json()
        calls += 1
        assert body["success"] is True
        ids += [d["id"] for d in body["data"]]
        pagination = body["additional_data"]["pagination"]
        assert pagination["start"] == start and pagination["limit"] == 10
        if not pagination["more_items_in_collection"]:
            assert "next_start" not in pagination
            break
        start = pagination["next_start"]
    assert calls == 3 and ids == list(range(1, 26))
    deal = body["data"][0]
    assert {"title", "value", "currency", "status", "add_time", "update_time"} <= deal.keys()
    assert deal["person_id"]["value"] and deal["org_id"]["name"]
    assert str(deal["user_id"]["id"]) in body["related_objects"]["user"]


def test_pipedrive_empty_page_has_null_data_and_auth_by_header(sandbox):
    beyond = sandbox.get("/pipedrive/api/v1/deals", query_string={"start": 500},
                        headers={"x-api-token": PIPEDRIVE_KEY})
    assert beyond.status_code == 200
    assert beyond.get_json()["data"] is None
    assert beyond.headers["x-ratelimit-limit"] == "80"
    assert int(beyond.headers["x-ratelimit-reset"]) <= 2


def test_pipedrive_bad_key_and_registered_key(sandbox):
    bad = sandbox.get("/pipedrive/api/v1/users/me", query_string={"api_token": "nope"})
    assert bad.status_code == 401
    assert bad.get_json() == {"success": False, "error": "unauthorized access", "errorCode": 401,
                              "error_info": "Please check developers.pipedrive.com for more "
                                            "information about Pipedrive API."}
    assert sandbox.post("/_sandbox/pipedrive/keys", json={"api_key": "nope"}).status_code == 201
    me = sandbox.get("/pipedrive/api/v1/users/me", query_string={"api_token": "nope"}).get_json()
    assert me["data"]["company_domain"] == "acme-sandbox" and me["data"]["is_you"] is True


def test_pipedrive_recents_since_timestamp(sandbox):
    all_rows = sandbox.get("/pipedrive/api/v1/recents", query_string={
        "api_token": PIPEDRIVE_KEY, "since_timestamp": "2000-01-01 00:00:00",
        "limit": 500}).get_json()["data"]
    assert {r["item"] for r in all_rows} == {"deal", "activity", "lead"}
    assert len(all_rows) == 75
    since = sorted(r["data"]["update_time"].replace("T", " ")[:19] for r in all_rows)[40]
    deals = sandbox.get("/pipedrive/api/v1/recents", query_string={
        "api_token": PIPEDRIVE_KEY, "since_timestamp": since, "items": "deal",
        "limit": 500}).get_json()
    expected = {r["id"] for r in all_rows if r["item"] == "deal"
                and r["data"]["update_time"] >= since}
    assert {r["id"] for r in deals["data"]} == expected and expected
    assert deals["additional_data"]["since_timestamp"] == since
    bad = sandbox.get("/pipedrive/api/v1/recents", query_string={
        "api_token": PIPEDRIVE_KEY, "since_timestamp": "yesterday"})
    assert bad.status_code == 400 and bad.get_json()["success"] is False


def test_pipedrive_activities_default_to_the_key_owner(sandbox):
    mine = sandbox.get("/pipedrive/api/v1/activities",
                      query_string={"api_token": PIPEDRIVE_KEY}).get_json()["data"] or []
    everyone = sandbox.get("/pipedrive/api/v1/activities",
                          query_string={"api_token": PIPEDRIVE_KEY, "user_id": 0}).get_json()
    me = sandbox.get("/pipedrive/api/v1/users/me",
                    query_string={"api_token": PIPEDRIVE_KEY}).get_json()["data"]
    assert len(everyone["data"]) == 25
    assert 0 < len(mine) < 25 and all(a["user_id"] == me["id"] for a in mine)


def test_pipedrive_leads_paginate(sandbox):
    first = sandbox.get("/pipedrive/api/v1/leads",
                       query_string={"api_token": PIPEDRIVE_KEY, "limit": 20}).get_json()
    rest = sandbox.get("/pipedrive/api/v1/leads", query_string={
        "api_token": PIPEDRIVE_KEY, "limit": 20,
        "start": first["additional_data"]["pagination"]["next_start"]}).get_json()
    ids = [lead["id"] for lead in first["data"] + rest["data"]]
    assert len(ids) == 25 == len(set(ids))
    assert rest["additional_data"]["pagination"]["more_items_in_collection"] is False


# -- X ---------------------------------------------------------------------------------------

def test_x_user_lookup_known_unknown_invalid_and_sandbox_handles(sandbox):
    acme = sandbox.get("/x/2/users/by/username/acme",
                      query_string={"user.fields": "profile_image_url,public_metrics"},
                      headers=X_BEARER).get_json()["data"]
    assert acme["id"] == "1234567890" and acme["username"] == "acme"
    assert "followers_count" in acme["public_metrics"] and acme["profile_image_url"]
    assert "description" not in acme
    missing = sandbox.get("/x/2/users/by/username/nobody_here", headers=X_BEARER)
    assert missing.status_code == 200
    assert missing.get_json() == {"errors": [{
        "value": "nobody_here", "detail": "Could not find user with username: [nobody_here].",
        "title": "Not Found Error", "resource_type": "user", "parameter": "username",
        "resource_id": "nobody_here",
        "type": "https://api.twitter.com/2/problems/resource-not-found"}]}
    invalid = sandbox.get("/x/2/users/by/username/not-valid!", headers=X_BEARER)
    assert invalid.status_code == 400 and invalid.get_json()["title"] == "Invalid Request"
    a = sandbox.get("/x/2/users/by/username/sandbox_alice", headers=X_BEARER).get_json()["data"]
    b = sandbox.get("/x/2/users/by/username/sandbox_bob", headers=X_BEARER).get_json()["data"]
    assert a["id"] != b["id"]
    by_id = sandbox.get(f"/x/2/users/{a['id']}", headers=X_BEARER).get_json()["data"]
    assert by_id == a


def test_x_tweets_walk_by_next_token_and_since_id(sandbox):
    ids, token, pages = [], None, 0
    while True:
        params = {"max_results": 10}
        if token:
            params["pagination_token"] = token
        body = sandbox.get("/x/2/users/1234567890/tweets", query_string=params,
                          headers=X_BEARER).get_json()
        pages += 1
        ids += [t["id"] for t in body["data"]]
        assert body["meta"]["result_count"] == len(body["data"])
        assert body["meta"]["newest_id"] == body["data"][0]["id"]
        token = body["meta"].get("next_token")
        if not token:
            break
    assert pages == 3 and len(ids) == 25 == len(set(ids))
    assert [int(i) for i in ids] == sorted((int(i) for i in ids), reverse=True)
    since = ids[5]
    newer = sandbox.get("/x/2/users/1234567890/tweets",
                       query_string={"since_id": since, "max_results": 100},
                       headers=X_BEARER).get_json()
    assert [t["id"] for t in newer["data"]] == ids[:5]
    none = sandbox.get("/x/2/users/1234567890/tweets", query_string={"since_id": ids[0]},
                      headers=X_BEARER).get_json()
    assert none == {"meta": {"result_count": 0}}


def test_x_max_results_bounds_and_401(sandbox):
    low = sandbox.get("/x/2/users/1234567890/tweets?max_results=4", headers=X_BEARER)
    assert low.status_code == 400
    assert low.get_json()["errors"][0]["message"] == \
        "The `max_results` query parameter value [4] is not between 5 and 100"
    denied = sandbox.get("/x/2/users/1234567890/tweets", headers=bearer("wrong"))
    assert denied.status_code == 401
    assert denied.get_json() == {"title": "Unauthorized", "type": "about:blank", "status": 401,
                                 "detail": "Unauthorized"}


# -- Google ----------------------------------------------------------------------------------

def test_gmail_walk_by_page_token_and_profile(sandbox):
    headers = bearer(mint(sandbox, "google", f"email {GMAIL_READONLY}")["access_token"])
    ids, token = [], None
    while True:
        params = {"maxResults": 10}
        if token:
            params["pageToken"] = token
        body = sandbox.get("/google/gmail/v1/users/me/messages", query_string=params,
                          headers=headers).get_json()
        ids += [m["id"] for m in body["messages"]]
        token = body.get("nextPageToken")
        if not token:
            break
    profile = sandbox.get("/google/gmail/v1/users/me/profile", headers=headers).get_json()
    assert len(ids) == len(set(ids)) == profile["messagesTotal"] == 25
    message = sandbox.get(f"/google/gmail/v1/users/me/messages/{ids[0]}",
                          headers=headers).get_json()
    names = {h["name"] for h in message["payload"]["headers"]}
    assert {"From", "To", "Subject", "Date"} <= names
    assert message["payload"]["parts"][0]["mimeType"] == "text/plain"
    cutoff = int(message["internalDate"]) // 1000
    recent = sandbox.get("/google/gmail/v1/users/me/messages",
                        query_string={"q": f"after:{cutoff}"}, headers=headers).get_json()
    assert [m["id"] for m in recent["messages"]] == [ids[0]]
    userinfo = sandbox.get("/google/oauth2/v3/userinfo", headers=headers).get_json()
    assert userinfo["email"] == profile["emailAddress"] and "name" not in userinfo


def test_gmail_needs_a_gmail_scope(sandbox):
    headers = bearer(mint(sandbox, "google", "openid email")["access_token"])
    denied = sandbox.get("/google/gmail/v1/users/me/messages", headers=headers)
    assert denied.status_code == 403
    assert denied.get_json()["error"]["errors"][0]["reason"] == "insufficientPermissions"


def test_seeded_timestamps_are_fixed_in_the_past(sandbox):
    headers = gh_headers(sandbox)
    issues = sandbox.get(f"/github/api/repos/{REPO}/issues?state=all&per_page=100",
                        headers=headers).get_json()
    latest = max(datetime.fromisoformat(i["updated_at"].replace("Z", "+00:00")) for i in issues)
    assert latest <= datetime(2025, 6, 30, tzinfo=timezone.utc)


def test_a_post_published_after_its_timeline_was_read_can_be_looked_up_and_deleted(sandbox):
    bearer = {"Authorization": "Bearer sandbox-x-bearer"}
    assert sandbox.get("/x/2/users/1234567890/tweets", headers=bearer).status_code == 200
    published = sandbox.post("/_sandbox/x/posts", json={"username": "acme", "text": "Fresh news"}).get_json()
    found = sandbox.get(f"/x/2/tweets?ids={published['id']}", headers=bearer).get_json()
    assert [p["id"] for p in found["data"]] == [published["id"]]
    assert sandbox.delete(f"/_sandbox/x/posts/{published['id']}").status_code == 200
    gone = sandbox.get(f"/x/2/tweets?ids={published['id']}", headers=bearer).get_json()
    assert "data" not in gone and gone["errors"][0]["value"] == published["id"]
