"""A connection's runs in a real browser: every status, trigger, mode and error reason the sync
engine stores reads as words (the API keeps the codes), and on a phone the run table is a stack of
runs whose essential values sit inside the screen, not in a sideways scroll."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from core.extensions import db
from core.timeutil import utcnow
from sync.models import SyncRunUnit
from tests.browser.conftest import SCREENSHOTS
from tests.browser.helpers import DESKTOP, PHONE, at_both_widths, sign_in
from tests.factories import make_api_key, make_connection, make_run

pytestmark = pytest.mark.browser

# Ids are codes a person may copy (conn_…, run_…); anything else shaped like a_code is a leak.
IDS = re.compile(r"\b(conn|run|ws|usr|user|key)_[a-z0-9]+\b")
CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


@pytest.fixture(autouse=True)
def _quick(page):
    page.set_default_timeout(8000)
    expect.set_options(timeout=8000)


def runs_of_every_kind(workspace_id):
    """A rate-limited connection with a run of every status the engine stores, each trigger, each
    mode, and failures of each reason (on the run and on one of its streams)."""
    connection = make_connection(workspace_id, name="Sales Pipedrive", status="rate_limited",
                                 last_synced_at=utcnow())
    now = utcnow()

    def run(minutes_ago, status, **fields):
        end = now - timedelta(minutes=minutes_ago)
        started = None if status in ("pending", "skipped_locked") else end - timedelta(seconds=40)
        return make_run(connection, status=status, created_at=end - timedelta(minutes=1), started_at=started,
                        finished_at=None if status in ("pending", "running") else end, streams_total=4,
                        **fields)

    run(300, "completed", triggered_by="connect", mode="full", progress_processed=1830, records_written=1830)
    for minutes, reason in zip((260, 250, 240, 230, 220), ("auth", "rate_limit", "transient", "config", "unknown")):
        failed = run(minutes, "failed", triggered_by="manual", error_reason=reason, error_message="The provider refused the request.",
                     streams_failed=1, progress_processed=12)
        db.session.add(SyncRunUnit(run_id=failed.id, stream="activity_types", status="failed", error_reason=reason,
                                   error_message="the provider said no"))
    run(200, "cancelled", triggered_by="api", mode="permissions")
    run(180, "skipped_locked", triggered_by="schedule")
    running = run(2, "running", triggered_by="schedule", current_stage="fetching_records", progress_processed=40)
    db.session.add_all([SyncRunUnit(run_id=running.id, stream="deals", status="completed", position=0),
                        SyncRunUnit(run_id=running.id, stream="activity_types", status="pending", position=1)])
    run(1, "pending", triggered_by="manual")
    db.session.commit()
    return connection.id


def visible_codes(page) -> list[str]:
    """Words shaped like stored codes in what the page shows (its <details> opened)."""
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    return CODE.findall(IDS.sub("", page.locator("main").inner_text()))


def test_every_status_trigger_mode_and_reason_reads_as_words(live_app, workspace, page, screenshot):
    with live_app.app_context():
        connection_id = runs_of_every_kind(workspace[0].id)
        key = make_api_key(db.session.merge(workspace[0]), db.session.merge(workspace[1]))
    sign_in(page, workspace[1])
    page.goto(f"/connections/{connection_id}")

    badges = page.locator("table.runs tr.run-row .badge-run")
    expect(badges).to_have_count(10)
    expect(page.locator("table.runs .badge-run-skipped_locked")).to_have_text("Run status: skipped")
    expect(page.locator("table.runs .badge-run-skipped_locked")).to_have_attribute(
        "title", "Skipped: another run was in progress")
    expect(page.locator("table.runs .badge-run-pending")).to_have_text("Run status: queued")
    expect(page.locator("#connection-detail .detail-badges")).to_contain_text("rate limited")
    skipped = page.locator("table.runs tbody.run-skipped_locked tr.run-row")
    expect(skipped).to_contain_text("scheduled")
    expect(page.locator("table.runs tbody.run-cancelled tr.run-row")).to_contain_text("permissions only")
    reasons = page.locator("table.runs tr.run-row .chip-error")
    expect(reasons).to_have_text(["unexpected error", "setting refused", "provider error", "rate limited",
                                  "credentials refused"])
    assert visible_codes(page) == []
    page.locator("#run-history").scroll_into_view_if_needed()
    at_both_widths(page, screenshot, "run_table_words")

    # The API keeps its codes.
    response = page.request.get(f"/api/v1/connections/{connection_id}/runs",
                                headers={"Authorization": f"Bearer {key}"})
    assert response.ok, response.text()
    assert "skipped_locked" in {r["status"] for r in response.json()["runs"]}


def test_on_a_phone_each_run_fits_the_screen(live_app, workspace, page, screenshot):
    with live_app.app_context():
        connection_id = runs_of_every_kind(workspace[0].id)
    sign_in(page, workspace[1])
    page.set_viewport_size(PHONE)
    page.goto(f"/connections/{connection_id}")

    wrap = page.locator("#run-history .table-wrap")
    wrap.scroll_into_view_if_needed()
    assert wrap.evaluate("el => el.scrollWidth - el.clientWidth") <= 1  # nothing sits in a sideways scroll
    row = page.locator("table.runs tbody.run-failed tr.run-row").first
    for label in ("Status", "Started", "Read", "Written", "Duration", "Error"):
        cell = row.locator(f"td[data-label='{label}']")
        expect(cell).to_be_visible()
        box = cell.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (label, box)
    expect(row.locator("td[data-label='Read']")).to_contain_text("12")
    expect(row.locator("td[data-label='Error']")).to_contain_text("unexpected error")
    # A run's streams, opened, scroll inside their own box (if at all), never the page.
    page.locator("table.runs tbody.run-failed").first.locator("summary").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(SCREENSHOTS / "run_table_phone_screen.png"))
    page.set_viewport_size(DESKTOP)
    # On a desktop it stays one table row per run, every column in its place.
    expect(page.locator("table.runs > thead")).to_be_visible()
    expect(page.locator("table.runs tbody.run-failed").first.locator("td[data-label='Units']")).to_be_visible()
