"""A connection's run history in a real browser: the chart plots what each run read beside what it
wrote, marks every outcome, keeps its axis honest with one run; and each connect method gets the
actions that fit it (a webhook source only receives pushes)."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from core.timeutil import utcnow
from tests.browser.helpers import DESKTOP, PHONE, at_both_widths, sign_in
from tests.factories import make_connection, make_run

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _quick(page):
    page.set_default_timeout(8000)
    expect.set_options(timeout=8000)


def finished(connection, minutes_ago, seconds, *, status="completed", read=0, written=0, mode="incremental"):
    end = utcnow() - timedelta(minutes=minutes_ago)
    start = end - timedelta(seconds=seconds) if seconds is not None else None
    return make_run(connection, status=status, mode=mode, created_at=(start or end) - timedelta(seconds=1),
                    started_at=start, finished_at=end, progress_processed=read, records_written=written,
                    streams_total=3)


def test_the_chart_plots_read_beside_written_and_marks_every_outcome(live_app, workspace, page, screenshot):
    with live_app.app_context():
        connection = make_connection(workspace[0].id, name="Sales Pipedrive", last_synced_at=utcnow())
        finished(connection, 300, 41, read=1830, written=1830, mode="full")
        finished(connection, 240, 2, read=12, written=12)
        finished(connection, 180, None, status="cancelled")
        finished(connection, 120, 6, status="failed", read=300)
        finished(connection, 60, 0.2, status="skipped_locked")
        finished(connection, 1, 38, read=1830, written=0, mode="full")  # re-read, nothing changed
        connection_id = connection.id
    sign_in(page, workspace[1])
    page.goto(f"/connections/{connection_id}")

    chart = page.get_by_role("img", name="Chart of the last 6 runs, oldest first")
    expect(chart).to_be_visible()
    runs = page.locator(".run-chart-wide g.run")
    expect(runs).to_have_count(6)
    latest = runs.nth(5)
    expect(latest).to_have_attribute("data-read", "1830")
    expect(latest).to_have_attribute("data-written", "0")
    read_bar = latest.locator("rect.bar-read").bounding_box()
    assert read_bar["height"] > 40  # 1,830 read shows as 1,830, not as the 0 it wrote
    assert latest.locator("rect.bar-written").bounding_box()["height"] == 0
    for status in ("completed", "failed", "cancelled", "skipped_locked"):
        expect(page.locator(f".run-chart-wide .outcome-{status}")).to_have_count(3 if status == "completed" else 1)
    legend = page.locator(".run-chart-legend")
    for words in ("Records read", "Records written", "Completed", "Failed", "Cancelled", "Skipped"):
        expect(legend).to_contain_text(words)
    # The table carries the same two numbers.
    expect(page.locator("table.runs thead")).to_contain_text("Read")
    expect(page.locator("table.runs tbody.run").first.locator("td.num").nth(3)).to_have_text("1,830")
    page.locator("#run-history").scroll_into_view_if_needed()
    at_both_widths(page, screenshot, "run_chart_outcomes")

    # On a phone: the compact drawing, whose labels are drawn at a readable size.
    page.set_viewport_size(PHONE)
    expect(page.locator(".run-chart-wide")).to_be_hidden()
    compact = page.get_by_role("img", name="Chart of the last 6 runs, oldest first")
    expect(compact).to_be_visible()
    assert compact.locator("text.chart-label").first.bounding_box()["height"] >= 10
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_one_run_is_drawn_at_the_latest_end_not_alone_in_the_middle(live_app, workspace, page, screenshot):
    with live_app.app_context():
        connection = make_connection(workspace[0].id, name="New Pipedrive", last_synced_at=utcnow())
        finished(connection, 1, 12, read=1830, written=1830, mode="full")
        connection_id = connection.id
    sign_in(page, workspace[1])
    page.goto(f"/connections/{connection_id}")
    svg = page.locator(".run-chart-wide")
    box, mark = svg.bounding_box(), svg.locator(".outcome-completed").bounding_box()
    assert mark["x"] > box["x"] + 0.8 * box["width"]
    expect(svg).to_contain_text("no earlier runs")
    expect(svg).not_to_contain_text("oldest")
    page.locator("#run-history").scroll_into_view_if_needed()
    at_both_widths(page, screenshot, "run_chart_one_run")


def test_each_connect_method_offers_the_actions_that_fit_it(live_app, workspace, page, screenshot):
    with live_app.app_context():
        hook = make_connection(workspace[0].id, connector_type="webhook", name="Billing events",
                               credentials={"signing_secret": "whsec_test"})
        pipedrive = make_connection(workspace[0].id, name="Sales Pipedrive")
        ids = hook.id, pipedrive.id
    sign_in(page, workspace[1])

    page.goto(f"/connections/{ids[0]}")
    toolbar = page.locator("#connection-detail .toolbar")
    expect(toolbar.get_by_role("button", name="Sync now")).to_have_count(0)
    expect(toolbar.get_by_role("button", name="Full sync")).to_have_count(0)
    expect(toolbar.get_by_role("button", name="Disconnect")).to_be_visible()
    note = page.locator("#connection-detail .push-note")
    expect(note).to_contain_text("receives pushes")
    expect(note).to_contain_text(f"/webhooks/{ids[0]}")
    expect(page.locator("#last-run-heading + *")).not_to_contain_text("Sync now")
    at_both_widths(page, screenshot, "webhook_actions")

    page.goto(f"/connections/{ids[1]}")
    expect(toolbar.get_by_role("button", name="Sync now")).to_be_visible()
    expect(toolbar.get_by_role("button", name="Full sync")).to_be_visible()
    expect(page.locator("#connection-detail .push-note")).to_have_count(0)


def test_the_duration_axis_label_fits_beside_the_chart(live_app, workspace, page, screenshot):
    """A run of 100 s topped the axis at "1 min 40 s", cut off at the card's edge (on a phone
    only "1 min" showed): the axis rounds to minutes past a minute and says "2 min"."""
    with live_app.app_context():
        connection = make_connection(workspace[0].id, name="Engineering GitHub", last_synced_at=utcnow())
        finished(connection, 30, 12, read=40, written=40)
        finished(connection, 1, 100, read=2062, written=2062, mode="full")
        connection_id = connection.id
    sign_in(page, workspace[1])
    page.goto(f"/connections/{connection_id}")
    for size, svg in ((DESKTOP, ".run-chart-wide"), (PHONE, ".run-chart-compact")):
        page.set_viewport_size(size)
        label = page.locator(f"{svg} text.chart-label-line").first
        expect(label).to_have_text("2 min")
        card = page.locator("figure.run-chart").bounding_box()
        box = label.bounding_box()
        assert box["x"] + box["width"] <= card["x"] + card["width"], (size, box, card)
    page.locator("#run-history").scroll_into_view_if_needed()
    at_both_widths(page, screenshot, "run_chart_duration_axis")
