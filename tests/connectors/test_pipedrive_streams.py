"""Pipedrive streams read from the provider sandbox over HTTP: API v2 cursor pages for deals and
activities (by id in full, by update time incrementally), v1 start/limit pages of leads newest
first, documents, list_ids, fetch_records, deletions mid-read and a 5xx."""
from itertools import islice

import pytest
import requests

from connectors.base import SyncContext
from connectors.registry import get_connector

KEY = "sandbox-pipedrive-key"
SCALE = 25
STREAMS = ["deals", "activities", "leads"]


@pytest.fixture
def sandbox(app, sandbox_server):
    return sandbox_server.url


@pytest.fixture
def pipedrive(app):
    with app.app_context():
        connector = get_connector(app.config, "pipedrive")
    connector.page_size = 7         # leads' offset pages then overlap by one (a fifth of a page)
    return connector


@pytest.fixture
def sync_ctx():
    return SyncContext(connection_id="conn_test", connector_type="pipedrive", credentials={"api_key": KEY},
                       settings={})


def stream(connector, name):
    return next(s for s in connector.catalog.streams if s.name == name)


def read(connector, ctx, name, *, state=None, mode="full", pages=None):
    reader = connector.read(ctx, stream(connector, name), state=state, mode=mode)
    got = list(islice(reader, pages)) if pages else list(reader)
    reader.close()
    return [r for p in got for r in p.records], [p.state for p in got]


def ids(records):
    return [str(r["id"]) for r in records]


def get(sandbox, path, version="v1", **params):
    response = requests.get(f"{sandbox}/pipedrive/api/{version}{path}", params={"limit": 500, **params},
                            headers={"x-api-token": KEY}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def delete(sandbox, path):
    response = requests.delete(f"{sandbox}/pipedrive/api/v1{path}", headers={"x-api-token": KEY}, timeout=5)
    assert response.status_code == 200, response.text


def put(sandbox, path, body):
    response = requests.put(f"{sandbox}/pipedrive/api/v1{path}", json=body, headers={"x-api-token": KEY}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def seeded(sandbox, name):
    params = {"activities": {"user_id": 0}}.get(name, {})
    return {str(r["id"]) for r in get(sandbox, f"/{name}", **params)["data"] or []}


def requests_to(sandbox, endpoint):
    body = requests.get(f"{sandbox}/_sandbox/stats", timeout=5).json()["requests"]
    return body.get("pipedrive", {}).get("endpoints", {}).get(endpoint, 0)


@pytest.mark.parametrize("name", STREAMS)
def test_a_full_read_walks_every_page_without_duplicates_or_gaps(pipedrive, sync_ctx, sandbox, name):
    records, states = read(pipedrive, sync_ctx, name)
    assert len(states) > 2
    assert len(ids(records)) == len(set(ids(records))) == SCALE
    assert set(ids(records)) == seeded(sandbox, name)
    assert "resume" not in states[-1] and states[-1]["cursor"]


def test_activities_are_everyones_not_only_the_key_owners(pipedrive, sync_ctx, sandbox):
    mine = {str(a["id"]) for a in get(sandbox, "/activities")["data"] or []}
    records, _ = read(pipedrive, sync_ctx, "activities")
    assert len(mine) < len(records) == SCALE


@pytest.mark.parametrize("name", STREAMS)
def test_the_checkpoint_after_page_two_resumes_at_page_three(pipedrive, sync_ctx, name):
    everything, _ = read(pipedrive, sync_ctx, name)
    first, states = read(pipedrive, sync_ctx, name, pages=2)       # killed here
    rest, _ = read(pipedrive, sync_ctx, name, state=states[-1], mode="full")
    assert not set(ids(first)) & set(ids(rest)), "the resumed run repeated records"
    assert sorted(ids(first) + ids(rest)) == sorted(ids(everything))


def test_a_lead_deleted_mid_read_does_not_hide_an_unread_one(pipedrive, sync_ctx):
    """Leads' offset pages overlap: when the listing shifts left by one, nothing is skipped."""
    everything, _ = read(pipedrive, sync_ctx, "leads")
    leads = pipedrive.spec("leads")
    fetch = pipedrive._fetcher(leads, leads.listing, pipedrive.api(sync_ctx))

    def shifted(token):
        fetched = fetch(token)
        if token:       # a lead was deleted after the first page: every later page starts one on
            fetched.records = [r for r in fetch({"start": int(token["start"]) + 1}).records]
        return fetched

    from connectors.rest import read_listing
    pages = list(read_listing(shifted, state=None, mode="full", key=lambda r: str(r["id"])))
    seen = {str(r["id"]) for p in pages for r in p.records}
    assert seen == {str(r["id"]) for r in everything}


@pytest.mark.parametrize("name, path", [("deals", "/deals"), ("activities", "/activities")])
def test_records_deleted_at_the_source_mid_read_hide_no_live_one(pipedrive, sync_ctx, sandbox, name, path):
    """v2 cursor pages are a keyset on the id: deleting records already read (far more than any
    overlap would absorb) shifts nothing, and every record still there is read."""
    reader = pipedrive.read(sync_ctx, stream(pipedrive, name), state=None, mode="full")
    first = next(reader)
    for record in first.records[:6]:
        delete(sandbox, f"{path}/{record['id']}")
    rest = [r for page in reader for r in page.records]
    assert set(ids(first.records)) | set(ids(rest)) == {str(i) for i in range(1, SCALE + 1)}
    remaining = {str(r["id"]) for r in get(sandbox, path, "v2")["data"]}
    assert len(remaining) == SCALE - 6 and remaining <= set(ids(rest)) | set(ids(first.records))


@pytest.mark.parametrize("name, path", [("deals", "/deals"), ("activities", "/activities"), ("leads", "/leads")])
def test_fetch_records_answers_what_is_still_there(pipedrive, sync_ctx, sandbox, name, path):
    everything, _ = read(pipedrive, sync_ctx, name)
    chosen = ids(everything)[:4]
    delete(sandbox, f"{path}/{chosen[0]}")
    answered = pipedrive.fetch_records(sync_ctx, stream(pipedrive, name), None, chosen + ["999999"])
    assert sorted(external_id for external_id, _ in answered) == sorted(chosen[1:])
    # what comes back is a record like the listing's, names added: its document is the same
    by_id = {str(r["id"]): r for r in everything}
    for external_id, record in answered:
        assert pipedrive.to_document(stream(pipedrive, name), record) == \
            pipedrive.to_document(stream(pipedrive, name), by_id[external_id])


@pytest.mark.parametrize("name, path, change", [
    ("deals", "/deals/3", {"title": "Renamed deal", "status": "won"}),
    ("activities", "/activities/4", {"subject": "Rescheduled call", "done": True}),
])
def test_an_incremental_read_returns_only_what_changed(pipedrive, sync_ctx, sandbox, name, path, change):
    _, states = read(pipedrive, sync_ctx, name)
    requests.post(f"{sandbox}/_sandbox/clock", json={"advance_seconds": 600}, timeout=5)
    put(sandbox, path, change)
    before = requests_to(sandbox, f"GET /pipedrive/api/v2/{name}")
    changed, new_states = read(pipedrive, sync_ctx, name, state=states[-1], mode="incremental")
    assert requests_to(sandbox, f"GET /pipedrive/api/v2/{name}") > before
    assert ids(changed) == [path.rsplit("/", 1)[1]]
    field = "title" if name == "deals" else "subject"
    assert changed[0][field] == change[field]
    again, _ = read(pipedrive, sync_ctx, name, state=new_states[-1], mode="incremental")
    assert again == []


def test_an_incremental_read_from_a_past_cursor_reads_page_by_page(pipedrive, sync_ctx, sandbox):
    cursor = "2025-01-01T00:00:00Z"
    records, states = read(pipedrive, sync_ctx, "deals", state={"cursor": cursor}, mode="incremental")
    expected = {str(d["id"]) for d in get(sandbox, "/deals", "v2")["data"] if d["update_time"] >= cursor}
    assert len(states) > 1 and len(ids(records)) == len(set(ids(records)))
    assert set(ids(records)) == expected
    assert states[-1]["cursor"] == max(d["update_time"] for d in records)


def test_a_v1_era_checkpoint_goes_on_from_where_it_was(pipedrive, sync_ctx, sandbox):
    """A cursor written before the move to API v2 (``/recents``' ``YYYY-MM-DD HH:MM:SS``) is read
    as the same instant."""
    old, new = read(pipedrive, sync_ctx, "deals", state={"cursor": "2025-01-01 00:00:00"}, mode="incremental"), \
        read(pipedrive, sync_ctx, "deals", state={"cursor": "2025-01-01T00:00:00Z"}, mode="incremental")
    assert ids(old[0]) == ids(new[0]) and old[0]


def test_leads_read_incrementally_stop_at_the_cursor(pipedrive, sync_ctx, sandbox):
    everything, states = read(pipedrive, sync_ctx, "leads")
    again, _ = read(pipedrive, sync_ctx, "leads", state=states[-1], mode="incremental")
    assert again == []
    newest_first = sorted(everything, key=lambda lead: lead["update_time"], reverse=True)
    cursor = newest_first[5]["update_time"]
    before = requests_to(sandbox, "GET /pipedrive/api/v1/leads")
    newer, _ = read(pipedrive, sync_ctx, "leads", state={"cursor": cursor}, mode="incremental")
    assert {r["id"] for r in newer} == {r["id"] for r in everything if r["update_time"] >= cursor}
    assert requests_to(sandbox, "GET /pipedrive/api/v1/leads") - before < len(states)


def test_deal_documents(pipedrive, sync_ctx, sandbox):
    records, _ = read(pipedrive, sync_ctx, "deals")
    deal = next(d for d in records if d["id"] == 1)
    doc = pipedrive.to_document(stream(pipedrive, "deals"), deal)
    v1 = get(sandbox, "/deals/1")["data"]       # the names v1 embeds are the ones looked up
    stages = {s["id"]: s["name"] for s in get(sandbox, "/stages")["data"]}
    assert doc.external_id == "1" and doc.type == "deal" and doc.title == deal["title"]
    assert doc.url == "https://acme-sandbox.pipedrive.com/deal/1"
    assert doc.author == v1["owner_name"]
    assert f"Stage: {stages[deal['stage_id']]}" in doc.content and v1["person_name"] in doc.content
    assert f"Value: {deal['value']:,} {deal['currency']}" in doc.content and v1["org_name"] in doc.content
    assert doc.metadata["value"] == deal["value"] and doc.metadata["currency"] == deal["currency"]
    assert doc.metadata["stage"] == stages[deal["stage_id"]] and doc.metadata["status"] == deal["status"]
    assert doc.created_at.isoformat().startswith(deal["add_time"].removesuffix("Z"))


def test_activity_and_lead_documents(pipedrive, sync_ctx, sandbox):
    activities, _ = read(pipedrive, sync_ctx, "activities")
    activity = activities[0]
    doc = pipedrive.to_document(stream(pipedrive, "activities"), activity)
    v1 = next(a for a in get(sandbox, "/activities", user_id=0)["data"] if a["id"] == activity["id"])
    assert doc.title == activity["subject"] and doc.type == "activity" and doc.author == v1["owner_name"]
    assert doc.url == f"https://acme-sandbox.pipedrive.com/deal/{activity['deal_id']}"
    assert f"Deal: {v1['deal_title']}" in doc.content and v1["person_name"] in doc.content
    assert doc.content.startswith(f"{v1['type_name']}: {activity['subject']}")
    assert doc.parent_id == str(activity["deal_id"]) and doc.metadata["deal_title"] == v1["deal_title"]
    assert doc.metadata["done"] == activity["done"] and doc.metadata["due_date"] == activity["due_date"]

    leads, _ = read(pipedrive, sync_ctx, "leads")
    lead = next(item for item in leads if item["value"])
    users = {u["id"]: u["name"] for u in get(sandbox, "/users")["data"]}
    ldoc = pipedrive.to_document(stream(pipedrive, "leads"), lead)
    assert ldoc.external_id == lead["id"] and ldoc.type == "lead" and ldoc.title == lead["title"]
    assert ldoc.url == f"https://acme-sandbox.pipedrive.com/leads/inbox/{lead['id']}"
    assert ldoc.author == users[lead["owner_id"]]
    assert ldoc.metadata["value"] == lead["value"]["amount"] and lead["source_name"] in ldoc.content


def test_list_ids_lists_every_current_record(pipedrive, sync_ctx, sandbox):
    for name in STREAMS:
        listed = list(pipedrive.list_ids(sync_ctx, stream(pipedrive, name)))
        assert len(listed) == len(set(listed)) == SCALE and set(listed) == seeded(sandbox, name)


def test_one_server_error_mid_read_is_survived(pipedrive, sync_ctx, sandbox):
    fault = {"provider": "pipedrive", "kind": "server_error", "status": 500, "count": 1,
             "path_prefix": "/pipedrive/api/v2/deals"}
    assert requests.post(f"{sandbox}/_sandbox/faults", json=fault, timeout=5).status_code == 201
    records, _ = read(pipedrive, sync_ctx, "deals")
    assert len(set(ids(records))) == SCALE
    served = requests.get(f"{sandbox}/_sandbox/stats", timeout=5).json()["faults_served"]
    assert served["pipedrive"]["server_error"] == 1


def test_the_operator_can_lower_the_page_size_but_not_raise_it(app):
    """``<TYPE>_PAGE_SIZE`` (TRIBUTARY_PIPEDRIVE_PAGE_SIZE): smaller pages checkpoint more often;
    the provider's maximum still bounds it."""
    app.config["PIPEDRIVE_PAGE_SIZE"] = 50
    with app.app_context():
        assert get_connector(app.config, "pipedrive").page_size == 50
    app.config["PIPEDRIVE_PAGE_SIZE"] = 5000
    with app.app_context():
        assert get_connector(app.config, "pipedrive").page_size == 500
