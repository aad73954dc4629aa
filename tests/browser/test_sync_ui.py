"""The sync views in a real browser (Chromium, CSRF on): live progress, cancel, history with its
chart, and channels with schedules. The test plays the worker: it drains the queued runs with the
same app that serves the browser."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.extensions import db
from core.timeutil import utcnow
from sync import worker
from sync.models import SyncRun
from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser

PIPEDRIVE_KEY = "sandbox-pipedrive-key"


@pytest.fixture(autouse=True)
def _quick(page):
    page.set_default_timeout(8000)
    expect.set_options(timeout=8000)


@pytest.fixture
def app_config(app_config):
    # GitHub's sandbox rate limit would make a full sync wait minutes; its repositories are
    # listed before any waiting, so a run that gives up quickly is enough to show them.
    return {**app_config, "SYNC_RATE_LIMIT_MAX_WAIT": 1}


def connect_pipedrive(page):
    page.goto("/connections/new/pipedrive")
    page.get_by_label("API key").fill(PIPEDRIVE_KEY)
    page.get_by_role("button", name="Connect Pipedrive").click()
    expect(page.get_by_text("Pipedrive connected as")).to_be_visible()


def progress_sections(page):
    return page.locator("#connection-detail section.run-progress")


def pretend_running(app, **progress):
    """Stage the queued run as a worker halfway through it, for the progress bar to show."""
    with app.app_context():
        run = db.session.scalar(select(SyncRun).where(SyncRun.status == "pending"))
        run.status, run.started_at = "running", utcnow() - timedelta(seconds=40)
        for key, value in progress.items():
            setattr(run, key, value)
        db.session.commit()
        return run.id


def back_to_pending(app, run_id):
    with app.app_context():
        run = db.session.get(SyncRun, run_id)
        run.status, run.started_at, run.current_stage, run.current_stream = "pending", None, None, None
        run.progress_total, run.progress_processed = None, 0
        db.session.commit()


def test_full_sync_progress_settles_into_the_history(live_app, workspace, page, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, workspace[1])
    connect_pipedrive(page)

    page.get_by_role("button", name="Full sync").click()
    expect(page.get_by_text(re.compile(r"Full sync queued: run run_"))).to_be_visible()
    progress = progress_sections(page)
    expect(progress).to_have_count(1)
    expect(progress).to_have_attribute("hx-trigger", "every 2s")
    expect(progress.get_by_role("heading")).to_contain_text("Sync queued")
    expect(progress).to_contain_text("Queued, waiting for a worker")
    expect(progress.get_by_role("button", name="Cancel")).to_be_visible()
    screenshot("sync_queued")

    # Halfway through (staged): the poll brings the bar, the stage and the time left.
    run_id = pretend_running(live_app, progress_total=200, progress_processed=80,
                             current_stage="fetching_records", current_stream="deals")
    expect(progress).to_contain_text("40%")
    expect(progress).to_contain_text("80 of about 200 records")  # the total is an estimate while it runs
    expect(progress).to_contain_text("Fetching records (deals)")
    expect(progress).to_contain_text(re.compile(r"about 1 min left"))
    expect(progress.locator("progress")).to_have_attribute("value", "80")
    # The Last run card follows the same poll: it tells of this run, with the same numbers.
    card = page.locator("#last-run-card")
    expect(card.get_by_role("heading")).to_have_text("Current run")
    expect(card).to_contain_text("40% · 80 of about 200 records")
    screenshot("sync_running")
    back_to_pending(live_app, run_id)

    # The worker runs it for real; the section stops polling and the page refreshes itself.
    assert worker.drain(live_app) == [run_id]
    expect(page.locator("table.runs .badge-run-completed")).to_be_visible()
    expect(progress_sections(page)).to_have_count(0)
    expect(page.locator('#connection-detail [hx-trigger="every 2s"]')).to_have_count(0)
    expect(page.locator(".run-chart-wide g.run")).to_have_count(1)

    # Expand the run: its per-stream results.
    row = page.locator(f"#run-{run_id}")
    row.locator("summary").click()
    results = row.locator("table.stream-results")
    expect(results).to_be_visible()
    expect(results.locator("tbody tr")).to_have_count(4)  # leads, deals, activities, notes
    expect(results).to_contain_text("deals")
    screenshot("sync_history")

    # On a phone the history scrolls sideways inside its frame; the page itself does not.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot("sync_mobile")


def test_cancel_a_queued_sync_and_a_history_of_several_runs(live_app, workspace, page, sandbox_server, screenshot):
    import requests

    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, workspace[1])
    connect_pipedrive(page)

    # A few real runs for the chart: a full sync, an incremental one, then a failed one.
    page.get_by_role("button", name="Full sync").click()
    expect(progress_sections(page)).to_have_count(1)
    worker.drain(live_app)
    expect(progress_sections(page)).to_have_count(0)
    page.get_by_role("button", name="Sync now").click()
    expect(progress_sections(page)).to_have_count(1)
    worker.drain(live_app)
    expect(progress_sections(page)).to_have_count(0)

    # Cancel a queued run from its progress section.
    page.get_by_role("button", name="Sync now").click()
    progress = progress_sections(page)
    expect(progress).to_have_count(1)
    # A keyboard user on Cancel keeps the focus while the section re-polls around it.
    cancel = progress.get_by_role("button", name="Cancel")
    cancel.focus()
    with page.expect_response(lambda response: "/progress" in response.url):
        pass
    expect(cancel).to_be_focused()
    cancel.press("Enter")
    expect(page.get_by_text(re.compile(r"Sync cancelled: run run_\w+ will not start\."))).to_be_visible()
    expect(progress_sections(page)).to_have_count(0)
    expect(page.locator("table.runs .badge-run-cancelled")).to_be_visible()

    requests.post(f"{sandbox_server.url}/_sandbox/faults", json={"provider": "pipedrive", "kind": "revoke_tokens"},
                  timeout=10).raise_for_status()
    page.get_by_role("button", name="Sync now").click()
    expect(progress_sections(page)).to_have_count(1)
    worker.drain(live_app)
    expect(page.locator("table.runs .badge-run-failed")).to_be_visible()
    expect(page.locator(".run-chart-wide g.run")).to_have_count(4)
    expect(page.locator(".run-chart-wide g.run-failed")).to_have_count(1)
    expect(page.get_by_role("img", name=re.compile(r"Chart of the last 4 runs"))).to_be_visible()
    failed = page.locator("tbody.run-failed")
    failed.locator("summary").click()
    expect(failed.locator(".callout-error")).to_contain_text("Pipedrive refused the credentials")
    page.locator("#run-history").scroll_into_view_if_needed()
    screenshot("sync_history_failed")


def test_github_channels_sync_one_and_schedule_it(live_app, workspace, page, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, workspace[1])
    page.goto("/connections/new/github")
    page.get_by_role("button", name="Continue to GitHub").click()
    page.locator("#authorize").click()
    expect(page.get_by_text("GitHub connected.")).to_be_visible()  # on the new connection's page
    expect(page.locator("#channels")).to_contain_text("channels appear after the first sync")

    page.get_by_role("button", name="Full sync").click()
    expect(progress_sections(page)).to_have_count(1)
    worker.drain(live_app)
    expect(progress_sections(page)).to_have_count(0)
    channel_rows = page.locator("#channels tbody tr")
    expect(channel_rows.first).to_be_visible()
    first = channel_rows.first
    name = first.locator("th").inner_text()

    # A schedule that is not cron: the error sits beside the field, which gets the focus.
    field = first.get_by_label(f"Cron schedule of {name}")
    field.fill("every 4 hours")
    first.get_by_role("button", name="Save").click()
    field = page.locator("#channels tbody tr").first.get_by_label(f"Cron schedule of {name}")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_be_focused()
    expect(page.locator("#channels .field-error").first).to_contain_text("five-field cron expression")
    screenshot("sync_channels_invalid")

    field.fill("0 */4 * * *")
    page.locator("#channels tbody tr").first.get_by_role("button", name="Save").click()
    expect(page.get_by_text(re.compile(r"syncs on “0 \*/4 \* \* \*” \(UTC\); next run in"))).to_be_visible()
    expect(page.locator("#channels tbody tr").first.locator("time").nth(1)).to_be_visible()

    page.locator("#channels tbody tr").first.get_by_role("button", name="Sync this channel").click()
    expect(page.get_by_text(re.compile(rf"Sync of {re.escape(name)} queued: run run_"))).to_be_visible()
    expect(progress_sections(page)).to_contain_text(name)
    page.locator("#channels").scroll_into_view_if_needed()
    screenshot("sync_channels")
