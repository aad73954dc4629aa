"""The sandbox kit's declarations for records by id (or by other fields), their children and Link
pages (offset or keyset), on a small emulation ("kitpages": tickets with replies, a key sent as HTTP
Basic's username)."""
import base64

import pytest

from sandbox.kit import Emulation, Seeded, link_keyset, link_pages, touched
from sandbox.providers import json_response


class KitPages(Emulation):
    name, prefix = "kitpages", "/kitpages"
    keys, key_scheme = ("kitpages-key",), "basic"
    collections = {"tickets": Seeded(lambda rnd, i: {"subject": f"Ticket {i}"}, lambda scale: 5),
                   "replies": Seeded(lambda rnd, i: {"ticket": str(1 + i % 2)}, lambda scale: 4)}

    def not_found(self):
        return json_response({"missing": True}, 404)


KIT = KitPages()


def ticket_json(r):
    return {"id": r["id"], "updated": touched(r, KIT.children("replies", "ticket").get(r["id"], []))}


KIT.show("/tickets/<record_id>", "tickets", ticket_json)


@KIT.get("/tickets")
def tickets(principal):
    rows = [ticket_json(r) for r in sorted(KIT.collection("tickets").rows.values(), key=lambda r: int(r["id"]))]
    return link_pages(rows, 2, 3, first_last=True)[0]


@KIT.get("/counted")
def counted(principal):
    return link_pages(list(range(5)), 2, 3, counts=True)[0]


@KIT.get("/keyset")
def keyset(principal):
    return link_keyset([{"id": n} for n in (2, 3, 5, 8, 13)], "id_after", 2, 3)


@KIT.get("/by-subject/<subject>")
def by_subject(principal, subject):
    return json_response(KIT.find("tickets", lambda r: r["subject"] == subject))


@KIT.get("/refusing")
def refusing(principal):
    return link_pages(list(range(10)), 2, 3, max_page=4, refuse=lambda name, limit: KIT.fail(400, f"{name} {limit}"))[0]


@pytest.fixture(scope="module")
def client():
    from sandbox import create_app as create_sandbox

    app = create_sandbox({"SEED": 7, "SCALE": 10})
    app.register_blueprint(KIT.bp)
    return app.test_client()


def get(client, path, key="kitpages-key"):
    auth = base64.b64encode(f"{key}:X".encode()).decode()
    return client.get(f"/kitpages{path}", headers={"Authorization": f"Basic {auth}"})


def test_a_record_by_id_its_providers_404_and_the_key_as_basic_username(client):
    assert get(client, "/tickets/3").json["id"] == "3"
    missing = get(client, "/tickets/99")
    assert (missing.status_code, missing.json) == (404, {"missing": True})
    assert get(client, "/tickets/3", key="wrong").status_code == 401


def test_a_reply_moves_its_tickets_update_time_and_only_its_own(client):
    before = {t: get(client, f"/tickets/{t}").json["updated"] for t in ("1", "2")}
    client.patch("/_sandbox/collections/kitpages/replies/1", json={"ticket": "1"})       # edited now: newer
    assert get(client, "/tickets/1").json["updated"] > before["1"]
    assert get(client, "/tickets/2").json["updated"] == before["2"]


def test_link_pages_say_next_first_and_last_clamp_or_refuse_a_size_and_stop_at_a_cap(client):
    page = get(client, "/tickets?per_page=2&page=2")
    assert [t["id"] for t in page.json] == ["3", "4"]
    links = page.headers["Link"]
    assert 'page=3>; rel="next"' in links and 'page=1>; rel="first"' in links and 'page=3>; rel="last"' in links
    assert len(get(client, "/tickets?per_page=50").json) == 3                             # clamped to 3
    assert get(client, "/refusing?per_page=4").json["error"]["message"] == "per_page 3"
    assert get(client, "/refusing?page=5").json["error"]["message"] == "page 4"
    assert "Link" not in get(client, "/refusing?page=4").headers                         # the cap: no next


def test_counted_pages_say_where_they_are_and_keyset_pages_name_the_next_key(client):
    last = get(client, "/counted?per_page=2&page=3").headers
    assert (last["X-Page"], last["X-Per-Page"], last["X-Next-Page"], last["X-Total"], last["X-Total-Pages"]) == \
        ("3", "2", "", "5", "3")
    assert get(client, "/counted?per_page=2").headers["X-Next-Page"] == "2"
    first = get(client, "/keyset")
    assert [r["id"] for r in first.json] == [2, 3] and 'id_after=3>; rel="next"' in first.headers["Link"]
    rest = get(client, "/keyset?id_after=3&per_page=9")              # clamped to 3: the last page
    assert [r["id"] for r in rest.json] == [5, 8, 13] and "Link" not in rest.headers


def test_a_record_found_by_other_fields_or_the_providers_404(client):
    assert get(client, "/by-subject/Ticket 2").json["id"] == "3"
    assert get(client, "/by-subject/nothing").status_code == 404
