"""Honest progress: a run's expected total is estimated before anything is read and moves with
what is known, and a running run never reads 100 %."""
import time

import requests

from connections.models import Connection
from connectors.github import GitHubConnector
from connectors.pipedrive import PipedriveConnector
from core.extensions import db
from sync import worker
from sync.engine import _progress_total
from sync.models import SyncRun, SyncRunUnit
from sync.service import progress
from tests.factories import detached
from tests.oauth_helpers import consent, local_path
from tests.sync.runs import claim, execute_in_thread, queue, unit_list


def unit(stream, channel="", status="pending", read=0, estimate=None):
    return SyncRunUnit(stream=stream, channel=channel, status=status, records_read=read, estimate=estimate)


def test_estimates_cover_every_unit_before_it_is_read():
    run = SyncRun(status="running", progress_processed=0)
    _progress_total(run, [unit("leads", estimate=25), unit("deals", estimate=300), unit("activities", estimate=75)])
    assert run.progress_total == 400 and run.progress_estimated is True


def test_units_without_an_estimate_count_as_the_mean_of_finished_units_of_their_stream():
    run = SyncRun(status="running", progress_processed=0)
    units = [unit("issues", "a/1", "completed", read=40), unit("issues", "a/2", "completed", read=60),
             unit("issues", "a/3", "running", read=10), unit("issues", "a/4"), unit("comments", "a/1")]
    _progress_total(run, units)
    # issues: 40 + 60 + max(50, 10) + 50; comments: nothing of its stream finished, so the mean
    # of every finished unit (50)
    assert run.progress_total == 40 + 60 + 50 + 50 + 50


def test_nothing_known_is_an_unknown_total_not_a_zero():
    run = SyncRun(status="running", progress_processed=0)
    _progress_total(run, [unit("leads", status="running", read=0), unit("deals")])
    assert run.progress_total is None


def test_a_unit_reading_past_its_estimate_raises_the_total():
    run = SyncRun(status="running", progress_processed=150)
    _progress_total(run, [unit("deals", status="running", read=150, estimate=100), unit("leads", estimate=50)])
    assert run.progress_total == 200


def test_a_running_run_never_reads_100_and_a_finished_one_is_exact():
    run = SyncRun(status="running", progress_processed=400, progress_total=400, progress_estimated=True)
    assert progress(run)["percentage"] == 99 and progress(run)["estimated"] is True
    units = [unit("leads", status="completed", read=150), unit("deals", status="completed", read=250)]
    run.status = "completed"
    _progress_total(run, units)
    run.progress_estimated = False
    assert progress(run) | {"estimated_completion": None} == progress(run)
    assert (progress(run)["percentage"], progress(run)["total"], progress(run)["estimated"]) == (100, 400, False)


def test_a_full_sync_knows_its_size_from_its_first_page(app, api, sandbox_server, monkeypatch):
    """The second full sync of a connection expects what the first one read, per stream, before
    it reads anything: from its first page on, the total is that (marked as an estimate), and the
    percentage is what was read of it, not a bar stuck near 100 % that grows with the read."""
    monkeypatch.setattr(PipedriveConnector, "page_size", 5)
    pipedrive = api.post("/api/v1/connections", json={"connector_type": "pipedrive",
                                                      "api_key": "sandbox-pipedrive-key"}).json["connection"]["id"]
    first = queue(api, pipedrive)
    assert worker.drain(app) == [first]
    expected = detached(app, SyncRun, first).progress_processed
    assert expected == 75  # the suite's sandbox: 25 leads, deals and activities
    requests.post(f"{sandbox_server.url}/_sandbox/faults", json={
        "provider": "pipedrive", "kind": "latency", "latency_ms": 60, "count": 1000}, timeout=5).raise_for_status()
    run_id = queue(api, pipedrive)
    thread, outcome = execute_in_thread(app, claim(app, run_id, "w"))
    seen = []
    while thread.is_alive():
        run = detached(app, SyncRun, run_id)
        if run.status == "running" and run.progress_processed:
            shown = progress(run)
            seen.append((shown["processed"], shown["total"], shown["estimated"], shown["percentage"]))
        time.sleep(0.03)
    thread.join(10)
    requests.delete(f"{sandbox_server.url}/_sandbox/faults", timeout=5)
    assert outcome["status"] == "completed"
    assert seen and seen[0][0] <= 10 and len({processed for processed, *_ in seen}) >= 5, seen
    for processed, total, estimated, percentage in seen:
        # an estimate until every unit is read (then exact, for the moment before the run ends)
        assert total == expected and (estimated or processed == total), seen
        assert abs(percentage - round(100 * processed / expected)) <= 1, seen


def test_a_first_github_full_sync_sizes_each_unit_from_githubs_first_answer(app, api, client, monkeypatch):
    """No earlier run and nothing stored: each unit's size is what GitHub's first answer tells
    (the Link header's last page for REST listings, ``totalCount`` for GraphQL discussions), so
    the total is known as soon as a unit starts instead of growing with what was read."""
    monkeypatch.setattr(GitHubConnector, "page_size", 4)
    started = api.post("/api/v1/connections", json={"connector_type": "github"}).json
    assert client.get(local_path(consent(started["authorize_url"]))).status_code == 200
    github = started["connection"]["id"]
    with app.app_context():
        db.session.get(Connection, github).settings = {"channels": ["octo-sandbox/atlas-etl"]}
        db.session.commit()
        db.session.remove()
    run_id = queue(api, github)
    assert worker.drain(app) == [run_id]
    sized = {u.stream: u for u in unit_list(app, run_id) if u.records_read > 4}    # more than one page
    assert {"issues", "pull_requests", "comments"} <= set(sized), sized
    for name, u in sized.items():
        assert u.estimate_source == "provider", (name, u.estimate_source)
        # every page but the last full, the last counted as half a page (issues: GitHub's
        # issues listing also holds the pull requests, which the stream skips)
        slack = 2 + (sized["pull_requests"].records_read if name == "issues" else 0)
        assert u.records_read - 2 <= u.estimate <= u.records_read + slack, (name, u.estimate, u.records_read)


def test_a_link_header_tells_the_listing_size():
    from connectors.rest import LinkHeaderPaginator

    class Answer:
        def __init__(self, link="", **headers):
            self.headers = {"Link": link, **headers}

    links = LinkHeaderPaginator(total_header="X-Total")
    page = lambda n: f"<https://api.example/items?per_page=10&page={n}>"  # noqa: E731
    ten = list(range(10))
    assert links.total(Answer(f'{page(2)}; rel="next", {page(7)}; rel="last"'), None, {}, ten) == 65
    assert links.total(Answer(f'{page(2)}; rel="next", {page(7)}; rel="last"', **{"X-Total": "61"}), None, {}, ten) == 61
    assert links.total(Answer(), None, {}, [1, 2, 3]) == 3           # the only page
    assert links.total(Answer(f'{page(2)}; rel="next"'), None, {}, ten) is None     # no last link: unknown
