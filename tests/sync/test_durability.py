"""What a run guarantees when workers die, pause or race, and when the source changes under it:
run fencing, resumable full runs, counts across takeovers, deletions confirmed at the source,
and child documents re-derived when their parent changes. Real HTTP to the provider sandbox,
on the suite's database (SQLite, and PostgreSQL in CI's second pass)."""
import threading
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select, update

from audit.models import AuditEvent
from connectors.pipedrive import PipedriveConnector
from core.extensions import db
from core.timeutil import utcnow
from knowledge.models import Document
from sync import engine, worker
from sync.models import SyncRun, SyncRunUnit
from tests.factories import detached
from tests.polling import wait_for
from tests.sync.runs import Hold, claim, execute_in_thread, full_read_with_deletions, queue, stored_ids, units

KEY = "sandbox-pipedrive-key"
SCALE = 25  # the suite's sandbox: 25 records a stream


@pytest.fixture
def pipedrive(api):
    return api.post("/api/v1/connections", json={"connector_type": "pipedrive", "api_key": KEY}).json["connection"]["id"]


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of 5, so each stream of the sandbox takes 5 pages (leads overlap by 1)."""
    monkeypatch.setattr(PipedriveConnector, "page_size", 5)


def sandbox(server, method, path, **kwargs):
    response = requests.request(method, f"{server.url}{path}", timeout=10, **kwargs)
    assert response.status_code < 300, response.text
    return response


def pipedrive_api(server, method, path, version="v1", **kwargs):
    return sandbox(server, method, f"/pipedrive/api/{version}{path}", headers={"x-api-token": KEY}, **kwargs)


def requests_to(server, endpoint):
    stats = requests.get(f"{server.url}/_sandbox/stats", timeout=5).json()["requests"]
    return stats.get("pipedrive", {}).get("endpoints", {}).get(endpoint, 0)


def take_over(app, run_id, name):
    """What happens when a worker falls silent: its heartbeat goes stale, the sweep puts the run
    back, another worker claims it."""
    with app.app_context():
        db.session.execute(update(SyncRun).where(SyncRun.id == run_id)
                           .values(heartbeat_at=utcnow() - timedelta(minutes=10)))
        db.session.commit()
        worker.recover_stale()
        db.session.remove()
    return claim(app, run_id, name)


def run_row(app, run_id):
    return detached(app, SyncRun, run_id)


def completions(app, connection_id):
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == "sync.completed", AuditEvent.target_id == connection_id))
        finally:
            db.session.remove()


def source_ids(server, name):
    version, params = ("v1", {"sort": "update_time DESC"}) if name == "leads" else ("v2", {})
    body = pipedrive_api(server, "GET", f"/{name}", version, params={"limit": 500, **params}).json()
    return {str(r["id"]) for r in body["data"] or []}


# -- fencing and resuming ---------------------------------------------------------------------------

def test_a_stale_claim_writes_nothing(app, api, pipedrive):
    run_id = queue(api, pipedrive)
    first = claim(app, run_id, "paused-worker")
    take_over(app, run_id, "next-worker")
    with app.app_context():
        assert engine.execute(run_id, first.token) == "lost"
        assert db.session.scalar(select(func.count()).select_from(SyncRunUnit)) == 0
        assert db.session.scalar(select(func.count()).select_from(Document)) == 0
        run = db.session.get(SyncRun, run_id)
        assert run.status == "running" and run.worker_id == "next-worker"
        db.session.remove()


def test_a_taken_over_full_run_keeps_its_finished_units_and_its_counts(app, api, pipedrive, small_pages,
                                                                       sandbox_server):
    deals = Hold(sandbox_server, "pipedrive", "/pipedrive/api/v2/deals")
    deals.let_through(2)        # two pages of deals, then the worker waits on the third
    run_id = queue(api, pipedrive)
    first = claim(app, run_id, "first")
    thread, outcome = execute_in_thread(app, first)
    assert wait_for(lambda: (u := units(app, run_id)) and u["leads"].status == "completed"
                    and u["deals"].records_read >= 10 and deals.waiting() == 1, timeout=60, interval=0.05)
    take_over(app, run_id, "second")
    deals.lift()
    thread.join(30)
    assert outcome["status"] == "lost"
    leads_requests = requests_to(sandbox_server, "GET /pipedrive/api/v1/leads")
    sandbox(sandbox_server, "DELETE", "/_sandbox/faults")

    with app.app_context():
        assert engine.execute(run_id) == "completed"
        db.session.remove()
    assert requests_to(sandbox_server, "GET /pipedrive/api/v1/leads") == leads_requests  # not read again
    run, by_stream = run_row(app, run_id), units(app, run_id)
    # deals resumed from their checkpoint: each of its 25 records read (and counted) once
    assert by_stream["deals"].records_read == SCALE and by_stream["leads"].records_read == SCALE
    assert {u.status for u in by_stream.values()} == {"completed"}
    assert by_stream["deals"].created == by_stream["deals"].records_read == SCALE
    assert sum(u.created for u in by_stream.values()) == run.documents_created == 3 * SCALE
    assert run.progress_processed == sum(u.records_read for u in by_stream.values()) == 3 * SCALE
    assert run.attempts == 2 and completions(app, pipedrive) == 1
    assert len(stored_ids(app, pipedrive, "pipedrive_deals")) == SCALE


def test_a_paused_worker_that_wakes_after_a_takeover_writes_nothing(app, api, pipedrive, small_pages,
                                                                    sandbox_server):
    # The first worker's first deals page is held until the run has changed hands and finished.
    page = Hold(sandbox_server, "pipedrive", "/pipedrive/api/v2/deals", count=1)
    run_id = queue(api, pipedrive)
    first = claim(app, run_id, "paused")
    thread, outcome = execute_in_thread(app, first)
    # Take over only once the worker waits on that page: before it, its own writes (the deals
    # unit starting) refresh the heartbeat, and a loaded machine can land one between the
    # staling and the sweep, leaving nothing to take over.
    assert wait_for(lambda: page.waiting() == 1, timeout=30, interval=0.02)
    assert units(app, run_id)["leads"].status == "completed"
    take_over(app, run_id, "fresh")
    with app.app_context():
        assert engine.execute(run_id) == "completed"
        db.session.remove()
    finished = run_row(app, run_id)
    counts = {name: (u.records_read, u.created, u.unchanged) for name, u in units(app, run_id).items()}

    assert thread.is_alive()
    page.lift()
    thread.join(30)  # the paused worker's page arrives: its commit finds the claim gone
    assert outcome["status"] == "lost"
    after = run_row(app, run_id)
    assert (after.status, after.finished_at, after.progress_processed, after.documents_unchanged) == \
        (finished.status, finished.finished_at, finished.progress_processed, finished.documents_unchanged)
    assert {name: (u.records_read, u.created, u.unchanged) for name, u in units(app, run_id).items()} == counts
    assert completions(app, pipedrive) == 1


def test_a_paused_worker_that_wakes_while_the_new_holder_runs_writes_nothing(app, api, pipedrive, small_pages,
                                                                           sandbox_server):
    """The run is still running, under the new worker's claim, when the paused one wakes: only
    the claim token tells them apart, and the stale worker's page must not land."""
    page = Hold(sandbox_server, "pipedrive", "/pipedrive/api/v2/deals", count=1)
    run_id = queue(api, pipedrive)
    first = claim(app, run_id, "paused")
    thread, outcome = execute_in_thread(app, first)
    assert wait_for(lambda: page.waiting() == 1, timeout=30, interval=0.02)
    fresh = take_over(app, run_id, "fresh")  # holds the running run; writes nothing before the wake
    page.lift()
    thread.join(30)  # the paused worker's deals page arrives while the run runs under "fresh"
    assert outcome["status"] == "lost"
    assert units(app, run_id)["deals"].records_read == 0
    assert stored_ids(app, pipedrive, "pipedrive_deals") == set()
    held = run_row(app, run_id)
    assert (held.status, held.worker_id, held.claim_token) == ("running", "fresh", fresh.token)

    with app.app_context():
        assert engine.execute(run_id, fresh.token) == "completed"
        db.session.remove()
    by_stream = units(app, run_id)
    assert by_stream["deals"].records_read == by_stream["deals"].created == SCALE
    assert run_row(app, run_id).documents_created == 3 * SCALE and completions(app, pipedrive) == 1


# -- deletion detection ------------------------------------------------------------------------------

def full_read_losing_three_of_its_first_page(app, api, pipedrive, sandbox_server, stream: str) -> tuple[str, list]:
    """A full read of a v1 offset stream (leads, notes) with the first page's three newest records
    deleted at the source once it has stored that page and before it lists the next (held by
    the sandbox meanwhile), so the listing shifts by three. (The run's id, the first page's records.)"""
    first_page = pipedrive_api(sandbox_server, "GET", f"/{stream}",
                               params={"sort": "update_time DESC", "limit": 5}).json()["data"]
    listing = Hold(sandbox_server, "pipedrive", f"/pipedrive/api/v1/{stream}")
    listing.let_through(1)      # the first page
    run_id = queue(api, pipedrive)
    thread, outcome = execute_in_thread(app, claim(app, run_id, "w"))
    # the first page stored, the second asked for (read ahead) and held
    assert wait_for(lambda: (u := units(app, run_id)) and u[stream].records_read >= 5 and listing.waiting() == 1,
                    timeout=30, interval=0.02)
    assert units(app, run_id)[stream].records_read == 5
    for record in first_page[:3]:
        pipedrive_api(sandbox_server, "DELETE", f"/{stream}/{record['id']}")
    listing.lift()
    thread.join(60)
    assert outcome["status"] == "completed"
    return run_id, first_page


def test_records_deleted_at_the_source_mid_read_never_cost_a_live_one(app, api, pipedrive, small_pages,
                                                                     sandbox_server):
    """Leads are read by v1 offset pages (overlapping by one here): deleting three leads already
    read shifts the listing by three, so the read misses two live leads. Before, the end of the
    read deleted them; now they are confirmed at the source and kept (read again by id)."""
    with app.app_context():
        worker.drain(app)
    queue(api, pipedrive)
    assert worker.drain(app)
    assert stored_ids(app, pipedrive, "pipedrive_leads") == source_ids(sandbox_server, "leads")

    run_id, first_page = full_read_losing_three_of_its_first_page(app, api, pipedrive, sandbox_server, "leads")

    leads = units(app, run_id)["leads"]
    assert leads.recovered == 2  # the live leads the shifted listing hid, confirmed and kept
    source = source_ids(sandbox_server, "leads")
    assert len(source) == SCALE - 3
    # no live lead lost; the three deleted ones were read before they went: the next read drops them
    assert stored_ids(app, pipedrive, "pipedrive_leads") - source == {lead["id"] for lead in first_page[:3]}
    assert source <= stored_ids(app, pipedrive, "pipedrive_leads")
    sandbox(sandbox_server, "DELETE", "/_sandbox/faults")
    queue(api, pipedrive)
    worker.drain(app)
    assert stored_ids(app, pipedrive, "pipedrive_leads") == source


def test_notes_deleted_at_the_source_mid_read_never_cost_a_live_one(app, api, pipedrive, small_pages,
                                                                    sandbox_server):
    """Notes are read as leads are (v1 offset pages, newest change first, overlapping by one here):
    three deleted after the first page shift the listing, the two live notes it hides are
    confirmed by id and kept, and no live note is lost."""
    for number in range(SCALE):  # the sandbox seeds none: the API writes them, as an action would
        sandbox(sandbox_server, "POST", "/_sandbox/clock", json={"advance_seconds": 1})
        made = pipedrive_api(sandbox_server, "POST", "/notes",
                             json={"content": f"<p>Call summary {number}</p>", "deal_id": 1 + number % 5})
        assert made.status_code == 201, made.text
    notes = lambda: {str(n["id"]) for n in pipedrive_api(  # noqa: E731
        sandbox_server, "GET", "/notes", params={"limit": 500}).json()["data"] or []}
    queue(api, pipedrive)
    assert worker.drain(app)
    assert stored_ids(app, pipedrive, "pipedrive_notes") == notes()

    run_id, first_page = full_read_losing_three_of_its_first_page(app, api, pipedrive, sandbox_server, "notes")

    assert units(app, run_id)["notes"].recovered == 2  # hidden by the shifted listing, confirmed, kept
    source = notes()
    assert len(source) == SCALE - 3
    assert source <= stored_ids(app, pipedrive, "pipedrive_notes")
    assert stored_ids(app, pipedrive, "pipedrive_notes") - source == {str(n["id"]) for n in first_page[:3]}
    sandbox(sandbox_server, "DELETE", "/_sandbox/faults")
    queue(api, pipedrive)
    worker.drain(app)
    assert stored_ids(app, pipedrive, "pipedrive_notes") == source


def test_deals_deleted_mid_read_go_and_nothing_is_missed(app, api, pipedrive, small_pages, sandbox_server):
    """Deals are read by API v2's id keyset: deletions shift nothing, nothing needs recovering."""
    queue(api, pipedrive)
    worker.drain(app)
    listing = Hold(sandbox_server, "pipedrive", "/pipedrive/api/v2/deals")
    listing.let_through(1)
    run_id = queue(api, pipedrive)
    thread, outcome = execute_in_thread(app, claim(app, run_id, "w"))
    assert wait_for(lambda: (u := units(app, run_id)) and u["deals"].records_read >= 5 and listing.waiting() == 1,
                    timeout=30, interval=0.02)
    for deal_id in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12):     # five read, seven ahead of the read
        pipedrive_api(sandbox_server, "DELETE", f"/deals/{deal_id}")
    listing.lift()
    thread.join(60)
    assert outcome["status"] == "completed"
    deals = units(app, run_id)["deals"]
    source, stored = source_ids(sandbox_server, "deals"), stored_ids(app, pipedrive, "pipedrive_deals")
    assert source == {str(i) for i in range(13, SCALE + 1)} and source <= stored
    assert deals.recovered == 0  # nothing shifted: nothing was missed
    # deals read before they were deleted stay until the next read; the others went now
    assert deals.deleted + len(stored - source) == 12 and deals.deleted > 0
    sandbox(sandbox_server, "DELETE", "/_sandbox/faults")
    queue(api, pipedrive)
    worker.drain(app)
    assert stored_ids(app, pipedrive, "pipedrive_deals") == source


def test_the_prune_pass_confirms_before_it_deletes(app, api, pipedrive, sandbox_server):
    queue(api, pipedrive)
    worker.drain(app)
    pipedrive_api(sandbox_server, "DELETE", "/activities/7")
    app.config["PRUNE_INTERVAL_MINUTES"] = 0
    run_id = queue(api, pipedrive, full=False)
    assert worker.drain(app) == [run_id]
    assert "7" not in stored_ids(app, pipedrive, "pipedrive_activities")
    assert units(app, run_id)["activities"].deleted == 1


def test_nothing_unseen_is_deleted_when_the_source_cannot_confirm(app, api, pipedrive, monkeypatch):
    from connectors.base import DocumentData
    from knowledge import ingest

    queue(api, pipedrive)
    worker.drain(app)
    with app.app_context():
        from connections.models import Connection

        ws = db.session.get(Connection, pipedrive).workspace_id
        ingest.upsert(ingest.Scope(workspace_id=ws, origin_id=pipedrive, namespace="pipedrive_deals",
                                   source="pipedrive", connection_id=pipedrive),
                      [DocumentData(external_id="999999", title="Unconfirmed", content="?", type="deal")])
        db.session.commit()
        db.session.remove()
    monkeypatch.setattr(PipedriveConnector, "fetch_records", lambda self, *args: None)
    run_id = queue(api, pipedrive)
    assert worker.drain(app) == [run_id]
    assert "999999" in stored_ids(app, pipedrive, "pipedrive_deals")
    deals = units(app, run_id)["deals"]
    assert deals.unconfirmed == 1 and deals.deleted == 0


# -- children re-derived from their parent ---------------------------------------------------------

def test_a_renamed_deal_renames_it_in_its_activities(app, api, pipedrive, sandbox_server):
    # A note on the deal too (the sandbox seeds none): it copies the deal's title as well.
    created = pipedrive_api(sandbox_server, "POST", "/notes", json={"content": "<p>Budget approved</p>", "deal_id": 3})
    assert created.status_code in (200, 201), created.text
    queue(api, pipedrive)
    worker.drain(app)
    with app.app_context():
        children = db.session.scalars(select(Document).where(
            Document.connection_id == pipedrive, Document.namespace == "pipedrive_activities",
            Document.parent_id == "3")).all()
        assert children, "the sandbox seeds activities of deal 3"
        old_title = db.session.scalar(select(Document.title).where(Document.namespace == "pipedrive_deals",
                                                                   Document.external_id == "3"))
        db.session.remove()
    sandbox(sandbox_server, "POST", "/_sandbox/clock", json={"advance_seconds": 600})
    pipedrive_api(sandbox_server, "PUT", "/deals/3", json={"title": "Renewal of the Atlas contract"})
    run_id = queue(api, pipedrive, full=False)
    assert worker.drain(app) == [run_id]
    with app.app_context():
        for child in db.session.scalars(select(Document).where(
                Document.namespace == "pipedrive_activities", Document.parent_id == "3")):
            assert "Deal: Renewal of the Atlas contract" in child.content
            assert f"Deal: {old_title}" not in child.content
            assert child.metadata_["deal_title"] == "Renewal of the Atlas contract"
        notes = db.session.scalars(select(Document).where(Document.namespace == "pipedrive_notes",
                                                          Document.parent_id == "3")).all()
        assert len(notes) == 1
        assert notes[0].title == "Note on Renewal of the Atlas contract"
        assert notes[0].content.startswith("Deal: Renewal of the Atlas contract\n")
        assert f"Deal: {old_title}" not in notes[0].content and "Budget approved" in notes[0].content
        db.session.remove()
    # only the deal was read again: the activities and the note were re-derived, not re-fetched
    assert units(app, run_id)["activities"].records_read == 0
    assert units(app, run_id)["notes"].records_read == 0


# -- every paginator style: a full read with deletions at the source never loses a live record ---

def test_link_header_pages_github_comments_deleted_mid_read(app, api, client, sandbox_server, monkeypatch):
    from dataclasses import replace

    from connectors.github import GitHubConnector
    from tests.oauth_helpers import consent, local_path

    monkeypatch.setattr(GitHubConnector, "page_size", 5)
    streams = tuple(s for s in GitHubConnector.catalog.streams if s.name == "comments")
    monkeypatch.setattr(GitHubConnector, "catalog", replace(GitHubConnector.catalog, streams=streams))
    started = api.post("/api/v1/connections", json={"connector_type": "github"}).json
    client.get(local_path(consent(started["authorize_url"])))
    github = started["connection"]["id"]
    repo = "octo-sandbox/atlas-etl"
    with app.app_context():
        from connections import oauth
        from connections.models import Connection

        db.session.get(Connection, github).settings = {"channels": [repo]}
        db.session.commit()
        token = oauth.access_token(github)
        db.session.remove()
    queue(api, github)

    def delete_some(stored):
        # the oldest comments: read first (comments are read by update time, oldest first)
        ids = sorted(external_id.rpartition("-")[2] for external_id in stored)[:8]
        for comment_id in ids:
            requests.delete(f"{sandbox_server.url}/github/api/repos/{repo}/issues/comments/{comment_id}",
                            headers={"Authorization": f"Bearer {token}"}, timeout=10).raise_for_status()
        return [f"{repo}#issuecomment-{i}" for i in ids]

    full_read_with_deletions(app, api, sandbox_server, github, "comments", delete_some, slow={
        "provider": "github", "kind": "latency", "latency_ms": 100, "count": 1000,
        "path_prefix": f"/github/api/repos/{repo}/issues/comments"})


def test_token_pages_x_posts_deleted_mid_read(app, api, sandbox_server, monkeypatch):
    from connectors.twitter import TwitterConnector

    monkeypatch.setattr(TwitterConnector, "page_size", 5)
    connected = api.post("/api/v1/connections", json={"connector_type": "twitter", "account_handle": "acme",
                                                      "external_account_id": "1234567890"}).json
    x = connected["connection"]["id"]
    queue(api, x)

    def delete_some(stored):
        newest = sorted(stored, key=int)[-8:]  # the timeline is newest first: these were read first
        for post_id in newest:
            sandbox(sandbox_server, "DELETE", f"/_sandbox/x/posts/{post_id}")
        return newest

    full_read_with_deletions(app, api, sandbox_server, x, "posts", delete_some,
                             slow={"provider": "x", "kind": "latency", "latency_ms": 100, "count": 1000})


def test_a_connection_disconnected_during_its_run_reads_no_further_page(app, api, pipedrive, small_pages,
                                                                        sandbox_server):
    """Disconnecting drops the credentials and stops the data: a queued run is cancelled at once,
    the running one at its next page boundary (it held the key it started with)."""
    leads = Hold(sandbox_server, "pipedrive", "/pipedrive/api/v1/leads")
    leads.let_through(1)
    run_id = queue(api, pipedrive)
    thread, outcome = execute_in_thread(app, claim(app, run_id, "w"))
    assert wait_for(lambda: (u := units(app, run_id)) and sum(x.records_read for x in u.values()) >= 5
                    and leads.waiting() == 1, timeout=30, interval=0.02)
    queued = queue(api, pipedrive, full=False)
    assert api.delete(f"/api/v1/connections/{pipedrive}").status_code == 200
    read_then = sum(u.records_read for u in units(app, run_id).values())
    assert thread.is_alive()
    leads.lift()
    thread.join(60)
    assert not thread.is_alive() and outcome["status"] == "cancelled", outcome
    # at most the page under way when the disconnect came is stored after it
    assert sum(u.records_read for u in units(app, run_id).values()) - read_then <= 10
    with app.app_context():
        assert db.session.get(SyncRun, queued).status == "cancelled"
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "connection.disconnected",
                                                            AuditEvent.target_id == pipedrive)).one()
        assert event.details["runs_cancelled"] == 2
        db.session.remove()
