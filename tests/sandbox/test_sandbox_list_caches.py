"""List pages are served from views and rendered records kept between requests (so a page
costs O(page), not O(N)): they must answer exactly what a fresh computation would, before and
after writes, in both directions, with every filter."""
from datetime import datetime, timezone

import pytest

from sandbox import create_app, get_state
from sandbox_testkit import GMAIL_READONLY, PIPEDRIVE_KEY, X_BEARER, bearer, link_next, mint

PD = {"x-api-token": PIPEDRIVE_KEY}
REPO = "octo-sandbox/tributary-demo"


@pytest.fixture
def big_app():
    return create_app({"SEED": 7, "SCALE": 300})


@pytest.fixture
def big(big_app):
    return big_app.test_client()


def walk_pipedrive(client, path, **params):
    items, start = [], 0
    while True:
        body = client.get(path, query_string={**params, "start": start, "limit": 37},
                          headers=PD).get_json()
        items += body["data"] or []
        pagination = body["additional_data"]["pagination"]
        if not pagination["more_items_in_collection"]:
            return items
        start = pagination["next_start"]


def walk_github(client, url, headers):
    items = []
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        items += response.get_json()
        url = link_next(response)
    return items


def stamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()


# -- Pipedrive -------------------------------------------------------------------------------

def test_pipedrive_descending_sorts_are_the_reverse_of_ascending(big):
    for path, field, extra in (("/pipedrive/api/v1/deals", "id", {"status": "all_not_deleted"}),
                               ("/pipedrive/api/v1/deals", "update_time", {"status": "won"}),
                               ("/pipedrive/api/v1/leads", "add_time", {"archived_status": "all"}),
                               ("/pipedrive/api/v1/leads", "update_time",
                                {"archived_status": "not_archived"})):
        up = walk_pipedrive(big, path, sort=f"{field} ASC", **extra)
        down = walk_pipedrive(big, path, sort=f"{field} DESC", **extra)
        assert [r["id"] for r in down] == [r["id"] for r in reversed(up)]
        assert [r[field] for r in up] == sorted(r[field] for r in up)


def test_pipedrive_status_filters_partition_the_deals(big):
    every = walk_pipedrive(big, "/pipedrive/api/v1/deals", status="all_not_deleted")
    assert [d["id"] for d in every] == list(range(1, 301))
    for status in ("open", "won", "lost"):
        some = walk_pipedrive(big, "/pipedrive/api/v1/deals", status=status)
        assert [d["id"] for d in some] == [d["id"] for d in every if d["status"] == status]
    assert walk_pipedrive(big, "/pipedrive/api/v1/deals", status="deleted") == []


def test_pipedrive_recents_since_matches_a_filter_of_every_deal(big):
    every = walk_pipedrive(big, "/pipedrive/api/v1/deals", status="all_not_deleted")
    for since in ("2024-01-01 00:00:00", "2024-11-03 10:00:00", "2025-05-20 00:00:00",
                  "2026-01-01 00:00:00"):
        changes = walk_pipedrive(big, "/pipedrive/api/v1/recents", items="deal",
                                 since_timestamp=since)
        expected = sorted((stamp(d["update_time"]), d["id"]) for d in every
                          if stamp(d["update_time"]) >= stamp(since))
        assert [(stamp(c["data"]["update_time"]), c["id"]) for c in changes] == expected


def test_pipedrive_writes_show_up_in_cached_pages_views_and_embedding_records(big_app, big):
    st = get_state(big_app)
    activities = walk_pipedrive(big, "/pipedrive/api/v1/activities", user_id=0)
    target = activities[0]["deal_id"]
    walk_pipedrive(big, "/pipedrive/api/v1/deals", status="won", sort="update_time DESC")
    walk_pipedrive(big, "/pipedrive/api/v1/recents", items="deal,activity",
                   since_timestamp="2024-01-01 00:00:00")

    st.clock_offset = 400 * 86400.0       # now: later than any seeded update
    response = big.put(f"/pipedrive/api/v1/deals/{target}", json={"title": "Renamed deal",
                                                                   "status": "won"}, headers=PD)
    assert response.status_code == 200

    page = big.get("/pipedrive/api/v1/deals", query_string={"start": target - 1, "limit": 1},
                   headers=PD).get_json()
    assert page["data"][0]["title"] == "Renamed deal"
    won = walk_pipedrive(big, "/pipedrive/api/v1/deals", status="won", sort="update_time DESC")
    assert won[0]["id"] == target
    recents = walk_pipedrive(big, "/pipedrive/api/v1/recents", items="deal,activity",
                             since_timestamp="2024-01-01 00:00:00")
    assert (recents[-1]["item"], recents[-1]["id"]) == ("deal", target)
    again = walk_pipedrive(big, "/pipedrive/api/v1/activities", user_id=0)
    assert [a["deal_title"] for a in again if a["deal_id"] == target] == \
        ["Renamed deal"] * sum(1 for a in activities if a["deal_id"] == target)

    big.put(f"/pipedrive/api/v1/activities/{activities[0]['id']}", json={"done": True},
            headers=PD)
    done = walk_pipedrive(big, "/pipedrive/api/v1/activities", user_id=0, done="1")
    assert activities[0]["id"] in [a["id"] for a in done]


def test_pipedrive_a_second_walk_renders_no_record_again(big_app, big, monkeypatch):
    walk_pipedrive(big, "/pipedrive/api/v1/deals", status="all_not_deleted")
    pd = get_state(big_app).data.pipedrive
    calls = []
    original = type(pd).deal
    monkeypatch.setattr(type(pd), "deal", lambda self, key: calls.append(key) or original(self, key))
    second = walk_pipedrive(big, "/pipedrive/api/v1/deals", status="all_not_deleted")
    assert len(second) == 300 and calls == []


# -- GitHub ----------------------------------------------------------------------------------

def test_github_since_and_directions_match_a_filter_of_every_issue(sandbox):
    headers = bearer(mint(sandbox, "github", "repo")["access_token"])
    base = f"/github/api/repos/{REPO}/issues?state=all&per_page=7"
    every = walk_github(sandbox, base + "&sort=created&direction=asc", headers)
    for since in ("2024-03-01T00:00:00Z", "2025-01-15T08:30:00Z", "2026-01-01T00:00:00Z"):
        cut = datetime.fromisoformat(since.replace("Z", "+00:00"))
        expected = sorted((i for i in every
                           if datetime.fromisoformat(i["updated_at"].replace("Z", "+00:00")) >= cut),
                          key=lambda i: (i["updated_at"], i["number"]))
        for direction in ("asc", "desc"):
            got = walk_github(sandbox, f"{base}&sort=updated&direction={direction}&since={since}",
                              headers)
            want = expected if direction == "asc" else expected[::-1]
            assert [i["number"] for i in got] == [i["number"] for i in want]
        created = walk_github(sandbox, f"{base}&sort=created&direction=desc&since={since}", headers)
        assert [i["number"] for i in created] == sorted((i["number"] for i in expected),
                                                        key=lambda n: -n)


def test_github_writes_reach_cached_listings(sandbox):
    headers = bearer(mint(sandbox, "github", "repo")["access_token"])
    listing = f"/github/api/repos/{REPO}/issues?state=all&sort=updated&direction=desc&per_page=5"
    comments = f"/github/api/repos/{REPO}/issues/comments?sort=updated&direction=desc&per_page=5"
    sandbox.get(listing, headers=headers)
    sandbox.get(comments, headers=headers)
    created = sandbox.post(f"/github/api/repos/{REPO}/issues", json={"title": "Fresh"},
                           headers=headers).get_json()
    assert sandbox.get(listing, headers=headers).get_json()[0]["number"] == created["number"]
    sandbox.post("/_sandbox/clock", json={"advance_seconds": 10})
    sandbox.patch(f"/github/api/repos/{REPO}/issues/3", json={"state": "closed"}, headers=headers)
    assert sandbox.get(listing, headers=headers).get_json()[0]["number"] == 3
    sandbox.post("/_sandbox/clock", json={"advance_seconds": 10})
    comment = sandbox.post(f"/github/api/repos/{REPO}/issues/4/comments", json={"body": "hi"},
                           headers=headers).get_json()
    assert sandbox.get(comments, headers=headers).get_json()[0]["id"] == comment["id"]
    closed = walk_github(sandbox, f"/github/api/repos/{REPO}/issues?state=closed&per_page=100",
                         headers)
    assert 3 in [i["number"] for i in closed]


# -- X and Gmail -----------------------------------------------------------------------------

def test_x_since_and_until_windows_match_a_filter_and_see_published_posts(big):
    headers = X_BEARER
    url = "/x/2/users/1234567890/tweets"

    def walk(**params):
        ids, token = [], None
        while True:
            query = {"max_results": 100, **params, **({"pagination_token": token} if token else {})}
            body = big.get(url, query_string=query, headers=headers).get_json()
            ids += [int(t["id"]) for t in body.get("data", [])]
            token = body["meta"].get("next_token")
            if not token:
                return ids

    every = walk()
    assert every == sorted(every, reverse=True) and len(every) == 300
    since, until = every[200], every[20]
    assert walk(since_id=since) == [i for i in every if i > since]
    assert walk(until_id=until) == [i for i in every if i < until]
    assert walk(since_id=since, until_id=until) == [i for i in every if since < i < until]
    assert walk(since_id=until, until_id=since) == []
    big.post("/_sandbox/x/posts", json={"user_id": "1234567890", "text": "Brand new"})
    newer = walk(since_id=every[0])
    assert len(newer) == 1 and newer[0] > every[0]
    big.post("/_sandbox/x/posts", json={"user_id": "1234567890", "text": "Newer still"})
    newest = walk(since_id=every[0])
    assert len(newest) == 2 and newest[1] == newer[0] and newest[0] > newer[0]
    assert walk()[2:] == every


def test_gmail_date_and_label_filters_match_a_filter_of_the_mailbox(big_app, big):
    headers = bearer(mint(big, "google", GMAIL_READONLY)["access_token"])
    g = get_state(big_app).data.google
    mailbox = g.messages()

    def walk(**params):
        ids, token = [], None
        while True:
            query = {"maxResults": 40, **params, **({"pageToken": token} if token else {})}
            body = big.get("/google/gmail/v1/users/me/messages", query_string=query,
                           headers=headers).get_json()
            ids += [m["id"] for m in body.get("messages", [])]
            token = body.get("nextPageToken")
            if not token:
                return ids, body["resultSizeEstimate"]

    after, before = 1_720_000_000, 1_735_000_000
    ids, estimate = walk(q=f"after:{after} before:{before}")
    expected = [m["id"] for m in mailbox if after <= m["ms"] // 1000 < before]
    assert ids == expected and estimate == len(expected) > 0
    ids, _ = walk(q=f"is:unread after:{after}")
    assert ids == [m["id"] for m in mailbox if m["ms"] // 1000 >= after
                   and "UNREAD" in g.message(m)["labels"]]
    one = big.get(f"/google/gmail/v1/users/me/messages/{mailbox[17]['id']}",
                  headers=headers).get_json()
    assert one["id"] == mailbox[17]["id"]
