"""The sync views of a connection through the Flask test client: live progress, cancel, run
history with its chart, and channels with their schedules. Runs execute for real: the worker
drains them against the provider sandbox over HTTP."""
import re
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from connections.models import Connection
from core.extensions import db
from core.timeutil import utcnow
from sync import engine, worker
from sync.models import Channel, SyncRun, SyncRunUnit
from tests.console.conftest import connection_id_from, text_of
from tests.oauth_helpers import consent, local_path

PIPEDRIVE_KEY = "sandbox-pipedrive-key"
HTMX = {"HX-Request": "true"}


# -- helpers -----------------------------------------------------------------------------------

def connect_pipedrive(client):
    response = client.post("/connections/new/pipedrive", data={"api_key": PIPEDRIVE_KEY})
    assert response.status_code == 303, text_of(response)
    return connection_id_from(response.headers["Location"])


def connect_github(app, client):
    started = client.post("/connections/new/github", data={"name": "Engineering"})
    assert started.status_code == 303
    back = client.get(local_path(consent(started.headers["Location"])))
    assert back.status_code == 302 and "connected=github" in back.headers["Location"]
    with app.app_context():
        return db.session.scalar(select(Connection.id).where(Connection.connector_type == "github"))


def queue_sync(client, connection_id, mode="full"):
    response = client.post(f"/connections/{connection_id}/sync", data={"mode": mode})
    assert response.status_code == 303, text_of(response)
    return latest_run(client.application, connection_id).id


def latest_run(app, connection_id) -> SyncRun:
    with app.app_context():
        run = db.session.scalars(select(SyncRun).where(SyncRun.connection_id == connection_id)
                                 .order_by(SyncRun.created_at.desc(), SyncRun.id.desc())).first()
        db.session.expunge_all()
        return run


def get_run(app, run_id) -> SyncRun:
    with app.app_context():
        run = db.session.get(SyncRun, run_id)
        db.session.expunge_all()
        return run


def progress_url(connection_id, run_id):
    return f"/connections/{connection_id}/runs/{run_id}/progress"


def detail(client, connection_id) -> str:
    response = client.get(f"/connections/{connection_id}")
    assert response.status_code == 200
    return text_of(response)


def section(page, element_id) -> str:
    """The HTML of the <section> or <tr> with this id, up to its closing tag (neither nests here)."""
    match = re.search(rf'<(section|tr)[^>]*id="{re.escape(element_id)}".*?</\1>', page, re.S)
    assert match, f"no #{element_id}"
    return match.group(0)


def run_rows(page, run_id) -> str:
    """The history rows of one run: from its <tbody> to the next run's (or the end of the history)."""
    start = page.index(f'id="run-{run_id}"')
    ends = [i for i in (page.find('<tbody class="run ', start), page.find("</section>", start)) if i != -1]
    return page[start:min(ends)]


def revoke_pipedrive_key(sandbox_server):
    response = requests.post(f"{sandbox_server.url}/_sandbox/faults",
                             json={"provider": "pipedrive", "kind": "revoke_tokens"}, timeout=10)
    assert response.status_code in (200, 201), response.text


def make_run(app, connection_id, *, status="completed", records=0, seconds=2.0, ago_minutes=0, **fields):
    """A finished run straight in the database (history and chart tests need many of them)."""
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        finished = utcnow() - timedelta(minutes=ago_minutes)
        run = SyncRun(workspace_id=connection.workspace_id, connection_id=connection_id, status=status,
                      triggered_by="schedule", mode="incremental", created_at=finished - timedelta(seconds=seconds),
                      started_at=finished - timedelta(seconds=seconds), finished_at=finished,
                      records_written=records, **fields)
        db.session.add(run)
        db.session.commit()
        return run.id


# -- live progress -------------------------------------------------------------------------------

def test_a_queued_run_shows_a_progress_section_that_polls(app, client, admin):
    connection_id = connect_pipedrive(client)
    run_id = queue_sync(client, connection_id)
    progress = section(detail(client, connection_id), f"run-progress-{run_id}")
    assert f'hx-get="{progress_url(connection_id, run_id)}"' in progress
    assert 'hx-trigger="every 2s"' in progress and 'hx-swap="outerHTML"' in progress
    assert "Sync queued" in progress and "Queued, waiting for a worker" in progress
    # No total yet: an indeterminate bar (a <progress> without value).
    assert re.search(r"<progress [^>]*aria-label=\"Records synced, total not known yet\"", progress)
    assert not re.search(r"<progress [^>]*value=", progress)
    assert ">Cancel<" in progress

    response = client.get(progress_url(connection_id, run_id), headers=HTMX)
    fragment = text_of(response)
    assert response.status_code == 200 and "<html" not in fragment
    assert "HX-Request" in response.headers["Vary"]
    assert fragment.strip().startswith("<section") and 'hx-trigger="every 2s"' in fragment
    assert "0 records so far" in fragment


def test_progress_stops_polling_with_286_and_final_numbers_once_the_run_is_drained(app, client, admin):
    connection_id = connect_pipedrive(client)
    run_id = queue_sync(client, connection_id)
    assert worker.drain(app) == [run_id]

    response = client.get(progress_url(connection_id, run_id), headers=HTMX)
    fragment = text_of(response)
    assert response.status_code == 286
    assert "hx-trigger" not in fragment and "hx-get" not in fragment
    run = get_run(app, run_id)
    assert run.status == "completed" and run.records_written > 0
    assert "Sync completed" in fragment and "100%" in fragment
    assert f"{run.progress_processed} of {run.progress_processed} records" in fragment
    assert f"{run.records_written:,} written in" in fragment
    assert 'value="{0}" max="{0}"'.format(run.progress_processed) in fragment
    assert ">Cancel<" not in fragment
    # The refreshed page has no progress section left: the history carries the run now.
    page = detail(client, connection_id)
    assert "run-progress-" not in page and f'id="run-{run_id}"' in page


def test_progress_of_a_running_run_shows_percentage_stage_stream_and_time_left(app, client, admin):
    connection_id = connect_pipedrive(client)
    run_id = queue_sync(client, connection_id)
    with app.app_context():
        run = db.session.get(SyncRun, run_id)
        run.status, run.started_at = "running", utcnow() - timedelta(seconds=60)
        run.current_stage, run.current_stream = "fetching_records", "deals"
        run.progress_total, run.progress_processed, run.progress_failing = 200, 50, 2
        db.session.commit()
    fragment = text_of(client.get(progress_url(connection_id, run_id), headers=HTMX))
    assert "Syncing" in fragment and 'hx-trigger="every 2s"' in fragment
    assert '<progress id="run-bar-{}" value="50" max="200"'.format(run_id) in fragment
    assert "25%" in fragment and "50 of 200 records" in fragment
    assert "Fetching records" in fragment and "(deals)" in fragment
    # 50 of 200 in 60 s: about 180 s to go.
    assert "about 3 min left" in fragment
    assert "2 could not be read" in fragment


def test_progress_of_a_run_of_another_connection_is_not_found(app, client, admin):
    first = connect_pipedrive(client)
    run_id = queue_sync(client, first)
    second = client.post("/connections/new/webhook", data={"name": "Hook"})
    assert second.status_code == 201
    with app.app_context():
        other = db.session.scalar(select(Connection.id).where(Connection.id != first))
    assert client.get(progress_url(other, run_id), headers=HTMX).status_code == 404
    assert client.get(progress_url(first, "run_nope"), headers=HTMX).status_code == 404


def test_progress_without_htmx_goes_to_the_connection_page(app, client, admin):
    connection_id = connect_pipedrive(client)
    run_id = queue_sync(client, connection_id)
    response = client.get(progress_url(connection_id, run_id))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/connections/{connection_id}")


# -- cancel ----------------------------------------------------------------------------------------

def test_cancel_a_queued_run(app, client, admin):
    connection_id = connect_pipedrive(client)
    run_id = queue_sync(client, connection_id)
    response = client.post(f"/connections/{connection_id}/runs/{run_id}/cancel", headers=HTMX)
    body = text_of(response)
    assert response.status_code == 200 and 'id="connection-detail"' in body
    assert f"Sync cancelled: run {run_id} will not start." in body
    assert get_run(app, run_id).status == "cancelled"
    assert "run-progress-" not in body and "badge-run-cancelled" in body
    assert worker.drain(app) == []  # nothing left to run


def test_cancel_without_javascript_redirects_back_with_a_message(app, client, admin):
    connection_id = connect_pipedrive(client)
    run_id = queue_sync(client, connection_id)
    response = client.post(f"/connections/{connection_id}/runs/{run_id}/cancel")
    assert response.status_code == 303
    assert "Sync cancelled" in detail(client, connection_id)


def test_cancel_a_running_run_says_cancelling_until_it_stops_at_a_page_boundary(app, client, admin):
    connection_id = connect_pipedrive(client)
    run_id = queue_sync(client, connection_id)
    with app.app_context():
        assert worker.claim("test-worker").run_id == run_id
        db.session.remove()
    body = text_of(client.post(f"/connections/{connection_id}/runs/{run_id}/cancel", headers=HTMX))
    assert f"Cancelling run {run_id}: it stops at its next page boundary." in body
    progress = section(body, f"run-progress-{run_id}")
    assert "Cancelling…" in progress and "Stopping at the next page boundary" in progress
    assert ">Cancel<" not in progress and 'hx-trigger="every 2s"' in progress
    assert get_run(app, run_id).status == "running"

    with app.app_context():
        assert engine.execute(run_id) == "cancelled"
        db.session.remove()
    response = client.get(progress_url(connection_id, run_id), headers=HTMX)
    assert response.status_code == 286 and "Sync cancelled" in text_of(response)


def test_cancelling_a_finished_run_shows_a_clear_error(app, client, admin):
    connection_id = connect_pipedrive(client)
    run_id = queue_sync(client, connection_id)
    worker.drain(app)
    response = client.post(f"/connections/{connection_id}/runs/{run_id}/cancel", headers=HTMX)
    body = text_of(response)
    assert response.status_code == 409
    assert re.search(r'class="flash flash-error" role="alert"[^>]*>This sync already ended \(completed\)\.', body)
    assert "run_not_active" in body
    assert get_run(app, run_id).status == "completed"


def test_a_member_sees_progress_but_cannot_cancel(app, client, admin, member_client):
    connection_id = connect_pipedrive(client)
    run_id = queue_sync(client, connection_id)
    progress = section(detail(member_client, connection_id), f"run-progress-{run_id}")
    assert "Sync queued" in progress and ">Cancel<" not in progress
    response = member_client.post(f"/connections/{connection_id}/runs/{run_id}/cancel", headers=HTMX)
    assert response.status_code == 403 and "Only a workspace admin can cancel a sync." in text_of(response)
    assert get_run(app, run_id).status == "pending"


# -- run history ------------------------------------------------------------------------------------

def test_history_shows_per_stream_results_of_a_drained_full_sync(app, client, admin):
    connection_id = connect_pipedrive(client)
    run_id = queue_sync(client, connection_id)
    worker.drain(app)
    run = get_run(app, run_id)
    row = run_rows(detail(client, connection_id), run_id)
    assert "badge-run-completed" in row and "<details>" in row
    assert "4 streams" in row and f"{run.documents_created:,} created" in row
    streams = re.findall(r'<tr class="stream-completed">\s*<th scope="row">([^<]+)</th>', row)
    assert sorted(streams) == ["activities", "deals", "leads", "notes"]
    with app.app_context():
        results = {u.stream: u for u in db.session.scalars(select(SyncRunUnit).where(SyncRunUnit.run_id == run_id))}
        db.session.remove()
    for name, result in results.items():
        cells = re.search(rf'<th scope="row">{name}</th>(.*?)</tr>', row, re.S).group(1)
        numbers = re.findall(r'<td class="num">([\d,]+)</td>', cells)
        assert numbers == [f"{getattr(result, k):,}" for k in ("created", "updated", "unchanged", "deleted")], name


def test_history_shows_a_failed_run_with_its_error(app, client, admin, sandbox_server):
    connection_id = connect_pipedrive(client)
    queue_sync(client, connection_id)
    worker.drain(app)
    revoke_pipedrive_key(sandbox_server)
    failed_id = queue_sync(client, connection_id, mode="incremental")
    worker.drain(app)
    failed = get_run(app, failed_id)
    assert failed.status == "failed" and failed.error_reason == "auth"

    page = detail(client, connection_id)
    row = run_rows(page, failed_id)
    assert "badge-run-failed" in row
    assert '<span class="chip chip-error"' in row and ">credentials refused</span>" in row  # error_reason auth
    assert failed.error_message in row  # in the summary line and in the callout
    assert "Error: credentials refused" in row
    assert re.search(r'<g class="run run-failed"', page)


def chart_svg(page, variant="wide"):
    return re.search(rf"<svg class=\"run-chart-svg run-chart-{variant}\".*?</svg>", page, re.S).group(0)


def chart_runs(svg):
    """Per run drawn: (status, read bar's height, written bar's height, its centre x)."""
    found = []
    for group in re.findall(r'<g class="run run-[a-z_]+".*?</g>\s*</g>', svg, re.S):
        status = re.search(r'class="run run-([a-z_]+)"', group).group(1)
        read = float(re.search(r'class="bar bar-read"[^>]* height="([\d.]+)"', group).group(1))
        written = float(re.search(r'class="bar bar-written"[^>]* height="([\d.]+)"', group).group(1))
        x = float(re.search(r'class="outcome outcome-[a-z_]+" transform="translate\(([\d.]+)', group).group(1))
        found.append((status, read, written, x))
    return found


def test_chart_draws_read_beside_written_per_run_with_tooltips_and_a_summary(app, client, admin):
    connection_id = connect_pipedrive(client)
    for minutes, (read, written, status) in enumerate([(10, 10, "completed"), (0, 0, "failed"),
                                                       (1830, 0, "completed")]):
        make_run(app, connection_id, records=written, progress_processed=read, status=status,
                 seconds=3 + minutes, ago_minutes=30 - minutes)
    page = detail(client, connection_id)
    svg = chart_svg(page)
    assert 'role="img"' in svg and "<script" not in svg
    label = re.search(r'aria-label="([^"]+)"', svg).group(1)
    assert "last 3 runs" in label and "2 completed, 1 failed" in label
    assert "read per run range from 0 to 1,830 and written from 0 to 10" in label
    drawn = chart_runs(svg)
    assert [status for status, *_ in drawn] == ["completed", "failed", "completed"]
    # The full sync that re-read 1,830 unchanged records: a full read bar beside a written bar of 0.
    status, read_h, written_h, _ = drawn[2]
    assert read_h > 100 and written_h == 0
    assert drawn[0][1] > 0 and drawn[0][1] == drawn[0][2]  # read 10, wrote 10: equal bars
    assert len(re.findall(r"<circle cx=", svg)) == 3 and "<polyline" in svg
    assert "1,830 read · 0 written" in svg and "· failed ·" in svg
    assert "Records read" in page and "Records written" in page and "Duration" in page  # the legend
    # The axis: 2,000 at the top, 1,000 in the middle, 0.
    assert re.search(r'text-anchor="end">2,000</text>', svg) and re.search(r'text-anchor="end">1,000</text>', svg)
    # The table says it too.
    row = run_rows(page, latest_run(app, connection_id).id)
    assert '<td data-label="Read" class="num">1,830</td>' in row


def test_every_outcome_is_marked_in_the_chart_and_its_legend(app, client, admin):
    connection_id = connect_pipedrive(client)
    for minutes, status in enumerate(["completed", "failed", "cancelled", "skipped_locked"]):
        make_run(app, connection_id, status=status, records=minutes, progress_processed=minutes,
                 ago_minutes=30 - minutes)
    page = detail(client, connection_id)
    svg = chart_svg(page)
    for status in ("completed", "failed", "cancelled", "skipped_locked"):
        assert len(re.findall(rf'<g class="outcome outcome-{status}"', svg)) == 1, status
        assert f'<g class="outcome outcome-{status}"' in page.split("<svg class=\"run-chart-svg")[0]  # legend
    legend = page.split("<svg class=\"run-chart-svg")[0]
    for words in ("Completed", "Failed", "Cancelled", "Skipped (another run was in progress)"):
        assert words in legend


def test_one_run_sits_at_the_latest_end_of_the_axis(app, client, admin):
    connection_id = connect_pipedrive(client)
    make_run(app, connection_id, records=5, progress_processed=5)
    svg = chart_svg(detail(client, connection_id))
    [(status, read_h, written_h, x)] = chart_runs(svg)
    width = float(re.search(r'viewBox="0 0 ([\d.]+)', svg).group(1))
    assert x > 0.85 * width  # at the right, where the latest run always is, not alone in the middle
    assert "no earlier runs" in svg and "latest " in svg and "oldest" not in svg
    assert 'aria-label="Chart of the last run (completed): 5 records read, 5 written' in svg


def test_chart_shows_the_latest_twenty_runs(app, client, admin):
    connection_id = connect_pipedrive(client)
    for index in range(23):
        make_run(app, connection_id, records=index, ago_minutes=100 - index)
    page = detail(client, connection_id)
    assert len(chart_runs(chart_svg(page))) == 20
    assert "last 20 runs" in page and "no earlier runs" not in chart_svg(page)
    assert page.count('<tr class="run-row">') == 23
    # The phone's drawing: the latest eight, in a viewBox about the size it is shown at.
    compact = chart_svg(page, "compact")
    assert len(chart_runs(compact)) == 8 and 'viewBox="0 0 360 200"' in compact
    assert "last 8 runs" in compact and "the latest read 0 and wrote 22" in compact


def test_a_connection_without_runs_has_no_chart(app, client, admin):
    connection_id = connect_pipedrive(client)
    page = detail(client, connection_id)
    assert "No runs yet." in page and "run-chart" not in page


# -- channels ----------------------------------------------------------------------------------------

@pytest.fixture
def github(app, client, admin):
    """A GitHub connection whose first full sync has run (its repositories are known).

    Its settings choose two repositories to sync (the spec's settings.channels), so the sync
    is quick; every repository is still listed as a channel."""
    connection_id = connect_github(app, client)
    page = detail(client, connection_id)
    assert "channels appear after the first sync" in section(page, "channels")
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        connection.settings = {"channels": ["octo-sandbox/atlas-etl", "octo-sandbox/umber-ml"]}
        db.session.commit()
    queue_sync(client, connection_id)
    worker.drain(app)
    return connection_id


def channels(app, connection_id) -> list[Channel]:
    with app.app_context():
        rows = list(db.session.scalars(select(Channel).where(Channel.connection_id == connection_id)
                                       .order_by(Channel.name)))
        db.session.expunge_all()
        return rows


def test_pipedrive_has_no_channels_section(app, client, admin):
    connection_id = connect_pipedrive(client)
    assert 'id="channels"' not in detail(client, connection_id)


def test_github_channels_are_listed_after_a_sync(app, client, github):
    known = channels(app, github)
    assert len(known) > 1
    table = section(detail(client, github), "channels")
    assert "Repository" in table
    for channel in known:
        assert f'<th scope="row" class="channel-name">{channel.name}</th>' in table
    assert table.count(">Sync this channel<") == len(known)
    assert "0 */4 * * *" in table and "every 4 hours" in table


def test_sync_this_channel_queues_a_run_of_that_channel(app, client, github):
    channel = channels(app, github)[0]
    response = client.post(f"/connections/{github}/channels/{channel.id}/sync", headers=HTMX)
    body = text_of(response)
    run = latest_run(app, github)
    assert response.status_code == 200
    assert run.status == "pending" and run.channel == channel.external_id and run.triggered_by == "manual"
    assert f"Sync of {channel.name} queued: run {run.id}." in body
    assert channel.external_id in section(body, f"run-progress-{run.id}")


def test_set_pause_and_clear_a_channel_schedule(app, client, github):
    channel = channels(app, github)[0]
    url = f"/connections/{github}/channels/{channel.id}/schedule"

    body = text_of(client.post(url, data={"schedule": " 0  */4 * * * ", "enabled": "on"}, headers=HTMX))
    saved = channels(app, github)[0]
    assert saved.schedule == "0 */4 * * *" and saved.schedule_enabled is True
    assert f"{channel.name} syncs on “0 */4 * * *” (UTC); next run in" in body
    row = section(body, f"channel-{channel.id}")
    assert 'value="0 */4 * * *"' in row and re.search(r"<time datetime=\"[^\"]+T\d\d:00:00Z\"", row)

    body = text_of(client.post(url, data={"schedule": "0 */4 * * *"}, headers=HTMX))
    assert channels(app, github)[0].schedule_enabled is False
    assert "saved, paused" in body and "paused" in section(body, f"channel-{channel.id}")

    body = text_of(client.post(url, data={"schedule": "", "enabled": "on"}, headers=HTMX))
    assert channels(app, github)[0].schedule is None
    assert f"Schedule of {channel.name} cleared." in body
    assert "not scheduled" in section(body, f"channel-{channel.id}")


def test_an_invalid_schedule_is_shown_beside_its_field(app, client, github):
    channel = channels(app, github)[0]
    response = client.post(f"/connections/{github}/channels/{channel.id}/schedule",
                           data={"schedule": "every 4 hours", "enabled": "on"}, headers=HTMX)
    body = text_of(response)
    assert response.status_code == 422
    row = section(body, f"channel-{channel.id}")
    assert 'aria-invalid="true"' in row and 'value="every 4 hours"' in row
    assert re.search(r'class="field-error" role="alert">schedule is a five-field cron expression', row)
    assert 'class="flash flash-error"' not in body  # shown once, beside the field
    assert channels(app, github)[0].schedule is None

    response = client.post(f"/connections/{github}/channels/{channel.id}/schedule",
                           data={"schedule": "61 * * * *", "enabled": "on"}, headers=HTMX)
    assert response.status_code == 422 and "not a valid cron expression" in text_of(response)


def test_a_member_sees_channels_without_the_forms(app, client, github, member_client):
    channel = channels(app, github)[0]
    client.post(f"/connections/{github}/channels/{channel.id}/schedule", data={"schedule": "0 3 * * *", "enabled": "on"})
    table = section(detail(member_client, github), "channels")
    assert channel.name in table and "<code>0 3 * * *</code>" in table
    assert "Sync this channel" not in table and "<form" not in table
    response = member_client.post(f"/connections/{github}/channels/{channel.id}/schedule",
                                  data={"schedule": "", "enabled": "on"}, headers=HTMX)
    assert response.status_code == 403
    assert channels(app, github)[0].schedule == "0 3 * * *"


def test_a_channel_of_another_connection_is_not_found(app, client, github):
    channel = channels(app, github)[0]
    pipedrive = connect_pipedrive(client)
    response = client.post(f"/connections/{pipedrive}/channels/{channel.id}/sync", headers=HTMX)
    assert response.status_code == 404


def test_the_last_run_card_tells_of_the_run_under_way_as_its_progress_card_does(app, client, admin):
    """While a run syncs and another waits behind it, the card shows the running one (not the
    queued one as "not yet"), with the same progress as the live card."""
    from sqlalchemy import update

    connection_id = connect_pipedrive(client)
    running = queue_sync(client, connection_id)
    with app.app_context():
        assert worker.claim("console-test").run_id == running
        db.session.execute(update(SyncRun).where(SyncRun.id == running).values(
            progress_processed=120, progress_total=400, progress_estimated=True, current_stage="fetching_records"))
        db.session.commit()
        db.session.remove()
    queued = queue_sync(client, connection_id, mode="incremental")
    assert queued != running
    page = detail(client, connection_id)
    card = re.search(r'<section aria-labelledby="last-run-heading".*?</section>', page, re.S).group(0)
    assert "Current run" in card and "badge-run-running" in card and "queued" not in card
    assert "30% · 120 of about 400 records" in card
    live = section(page, f"run-progress-{running}")
    assert "30%" in live and "120 of" in live and "about" in live and "400 records" in live


@pytest.mark.parametrize("kind, heading", [("repository", "Channels · repositories"), ("channel", "Channels")])
def test_the_channels_heading_names_their_kind_once(app, kind, heading):
    """GitHub's read "Channels · repositories"; Slack's channels are channels, not "Channels · channels"."""
    import re

    from flask import render_template

    with app.test_request_context():
        html = render_template("connections/_channels.html", c=None, channels=[], channel_kind=kind, next_runs={},
                               schedule_form=None, can_manage=False)
    found = re.search(r'<h2 id="channels-heading"[^>]*>(.*?)</h2>', html, re.S)
    assert " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split()) == heading


def test_a_run_read_per_channel_names_its_units_as_the_api_counts_them(app, client, api, github):
    """'125 streams total' beside '5 stream results' was confusing: the console says how many
    streams, how many channels and how many stream × channel units, and the units are the API's
    streams_total."""
    run = latest_run(app, github)
    api_run = api.get(f"/api/v1/connections/{github}/runs?limit=1").json["runs"][0]
    assert api_run["id"] == run.id
    with app.app_context():
        units = db.session.execute(select(SyncRunUnit.stream, SyncRunUnit.channel)
                                   .where(SyncRunUnit.run_id == run.id)).all()
        db.session.remove()
    streams, repositories = len({s for s, _ in units}), len({c for _, c in units if c})
    assert repositories == 2 and api_run["streams_total"] == len(units) > streams
    label = f"{streams} streams × 2 channels ({len(units)} units)"
    page = detail(client, github)
    card = re.search(r'<section aria-labelledby="last-run-heading".*?</section>', page, re.S).group(0)
    assert label in " ".join(re.sub(r"<[^>]+>", " ", card).split())
    assert label in " ".join(re.sub(r"<[^>]+>", " ", run_rows(page, run.id)).split())
