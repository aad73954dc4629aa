"""The console in a real browser (Chromium), with CSRF on, against the provider sandbox."""
import re

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from connections.models import Connection
from core.extensions import db
from core.timeutil import utcnow
from sync.models import SyncRun
from sync import worker
from tests.browser.helpers import PHONE, at_both_widths, sign_in
from tests.factories import make_connection, make_run

pytestmark = pytest.mark.browser

PIPEDRIVE_KEY = "sandbox-pipedrive-key"


@pytest.fixture(autouse=True)
def _quick(page):
    page.set_default_timeout(8000)
    expect.set_options(timeout=8000)


def inventory_rows(page):
    return page.locator("#inventory tbody tr")


def finish_the_run(app, *, records, status=None):
    """Play the sync engine's part: the queued run (the only run, or the one of this status) completes."""
    with app.app_context():
        run = db.session.scalar(select(SyncRun).where(SyncRun.status == status) if status else select(SyncRun))
        now = utcnow()
        run.status, run.started_at, run.finished_at = "completed", now - timedelta(seconds=30), now
        run.streams_total, run.records_written = 3, records
        db.session.get(Connection, run.connection_id).last_synced_at = now
        db.session.commit()


def test_first_run_setup_lands_on_the_empty_connections_page(live_app, page, screenshot):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    page.get_by_label("Workspace name").fill("Acme")
    page.get_by_label("Your name").fill("Ada Admin")
    page.get_by_label("E-mail").fill("ada@example.com")
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_role("button", name="Create workspace").click()
    expect(page).to_have_url(re.compile(r"/connections$"))
    expect(page.get_by_role("heading", name="No connections yet")).to_be_visible()
    expect(page.get_by_text("Acme is ready")).to_be_visible()
    expect(page.get_by_role("button", name="Connect your first source")).to_be_visible()
    screenshot("empty_state")


def test_connect_github_through_the_sandbox_consent_page(live_app, workspace, page, screenshot):
    sign_in(page, workspace[1])

    # Deny first: the message explains it and no row appears.
    page.get_by_role("button", name="Connect your first source").click()
    page.get_by_role("button", name="Connect GitHub").click()
    page.get_by_role("button", name="Continue to GitHub").click()
    page.locator("#deny").click()
    expect(page).to_have_url(re.compile(r"/connections"))
    expect(page.get_by_text("The authorization was declined at the provider")).to_be_visible()
    expect(page.get_by_role("heading", name="No connections yet")).to_be_visible()
    # The page's script drops the one-time result from the URL (after load: wait for it).
    expect(page).not_to_have_url(re.compile(r"connection_error"))
    screenshot("github_denied")

    # Then authorize.
    page.get_by_role("button", name="Connect your first source").click()
    page.get_by_role("button", name="Connect GitHub").click()
    page.get_by_label("Name (optional)").fill("Engineering GitHub")
    page.get_by_role("button", name="Continue to GitHub").click()
    page.locator("#authorize").click()
    # Back on the new connection's own page.
    expect(page).to_have_url(re.compile(r"/connections/conn_[a-z0-9]+$"))
    expect(page.get_by_text("GitHub connected.")).to_be_visible()
    expect(page.get_by_role("heading", name="Engineering GitHub")).to_be_visible()
    expect(page.get_by_text("Access token")).to_be_visible()
    expect(page.get_by_text(re.compile(r"expires in \d+ h"))).to_be_visible()
    screenshot("github_detail")

    page.get_by_role("link", name="Connections", exact=True).first.click()
    expect(inventory_rows(page)).to_have_count(1)
    row = inventory_rows(page).first
    expect(row).to_contain_text("Engineering GitHub")
    expect(row.locator(".badge-status-connected")).to_have_text("Status: connected")
    expect(row.locator(".badge-health-healthy")).to_be_visible()
    screenshot("github_connected")


def test_after_an_oauth_connect_the_first_sync_shows_on_the_new_connections_page(
        live_app, workspace, page, screenshot):
    live_app.config["SYNC_ON_CONNECT"] = True
    sign_in(page, workspace[1])
    page.goto("/connections/new/github")
    page.get_by_role("button", name="Continue to GitHub").click()
    page.locator("#authorize").click()

    expect(page).to_have_url(re.compile(r"/connections/conn_[a-z0-9]+$"))
    expect(page.get_by_text("GitHub connected.")).to_be_visible()
    # The first (full) sync, queued by the callback, is on the page with its live progress.
    progress = page.locator("section.run-progress")
    expect(progress).to_have_count(1)
    expect(progress.get_by_role("heading")).to_contain_text("Sync queued")
    expect(progress).to_contain_text("full · on connect")
    # Nothing on the page says it has not started: no "Use Sync now" while the first sync is queued.
    expect(page.locator("#last-run-heading")).to_have_text("First sync")
    expect(page.locator("#last-run-card")).not_to_contain_text("not run yet")
    channels = page.locator("#channels")
    expect(channels).to_contain_text("the sync queued (its progress is shown above) lists them")
    expect(channels).not_to_contain_text("Sync now")
    expect(page.locator("main")).not_to_contain_text("Use Sync now")
    at_both_widths(page, screenshot, "oauth_landing_first_sync")

    # A worker runs it: the same page settles into the finished run, repositories listed, without a reload.
    assert len(worker.drain(live_app)) == 1
    expect(page.locator("table.runs .badge-run-completed")).to_be_visible(timeout=15000)
    expect(page.locator("section.run-progress")).to_have_count(0)
    expect(page.locator("#last-run-heading")).to_have_text("Last run")
    expect(page.locator("#channels table.channels tbody tr").first).to_be_visible()
    # The private repository whose readers GitHub would not list hides records in every stream:
    # one line says so for all of them, and on a phone the card stays inside the screen.
    last_run = page.locator("#last-run-card")
    expect(last_run.get_by_text(re.compile(r"would not list who may read \S+/vault"))).to_have_count(1)
    expect(last_run.locator("dt", has_text=re.compile(r"repositories, issues, .*/vault"))).to_have_count(1)
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    at_both_widths(page, screenshot, "oauth_landing_first_sync_done")


def test_connecting_github_again_lands_on_the_existing_connection(live_app, workspace, page, screenshot):
    sign_in(page, workspace[1])
    for _ in range(2):
        page.goto("/connections/new/github")
        page.get_by_role("button", name="Continue to GitHub").click()
        page.locator("#authorize").click()
        expect(page).to_have_url(re.compile(r"/connections"))
    # The second authorization is the same GitHub account: its connection, not a new row.
    expect(page).to_have_url(re.compile(r"/connections/conn_\w+$"))
    expect(page.get_by_text("GitHub was already connected as GitHub (octo-sandbox)")).to_be_visible()
    expect(page.locator("#connection-detail .badge-status-connected")).to_be_visible()
    screenshot("github_already_connected")
    page.goto("/connections")
    expect(inventory_rows(page)).to_have_count(1)


def test_connect_pipedrive_with_a_bad_key_then_the_right_one(live_app, workspace, page, screenshot):
    sign_in(page, workspace[1])
    page.goto("/connections/new")
    # The filter narrows the tiles as you type.
    page.get_by_label("Filter connectors by name").fill("pipe")
    expect(page.locator("[data-catalog-tile]:visible")).to_have_count(1)
    expect(page.locator("#catalog-count")).to_contain_text("1 of")
    page.get_by_role("button", name="Connect Pipedrive").click()

    page.get_by_label("API key").fill("not-a-real-key")
    page.get_by_role("button", name="Connect Pipedrive").click()
    key_field = page.get_by_label("API key")
    expect(key_field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#api_key-error")).to_contain_text("did not accept this key")

    key_field.fill(PIPEDRIVE_KEY)
    page.get_by_role("button", name="Connect Pipedrive").click()
    expect(page).to_have_url(re.compile(r"/connections/conn_"))
    expect(page.get_by_text("Pipedrive connected as")).to_be_visible()

    # Sync now goes through htmx (CSRF in the header) and flashes the run id in place.
    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_text(re.compile(r"Sync queued: run run_"))).to_be_visible()
    expect(page.get_by_text("Pipedrive connected as")).to_have_count(0)
    expect(page.locator("table.runs tbody tr")).to_have_count(1)
    # The queued run makes the badges poll; when the run finishes they settle (286) and the
    # page refreshes its run history by itself.
    expect(page.locator('#connection-detail .badges[hx-trigger="every 2s"]')).to_have_count(1)
    finish_the_run(live_app, records=42)
    expect(page.locator("table.runs .badge-run-completed")).to_be_visible()
    expect(page.locator('#connection-detail .badges[hx-trigger="every 2s"]')).to_have_count(0)
    expect(page.locator("#connection-detail")).to_contain_text("Records written")
    screenshot("pipedrive_detail")

    page.get_by_role("link", name="Connections", exact=True).first.click()
    expect(inventory_rows(page)).to_have_count(1)
    screenshot("pipedrive_connected")


def test_disconnect_and_reconnect(live_app, workspace, page, screenshot):
    sign_in(page, workspace[1])
    page.goto("/connections/new/pipedrive")
    page.get_by_label("API key").fill(PIPEDRIVE_KEY)
    page.get_by_role("button", name="Connect Pipedrive").click()
    expect(page.get_by_text("Pipedrive connected as")).to_be_visible()

    # Disconnect asks first (hx-confirm); dismissing keeps it connected.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Disconnect").click()
    expect(page.locator("#connection-detail .badge-status-connected")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_text("Disconnected. Its sync history is kept")).to_be_visible()
    expect(page.locator("#connection-detail .badge-health-disconnected")).to_be_visible()

    page.get_by_role("button", name="Reconnect").click()
    page.get_by_label("New API key").fill(PIPEDRIVE_KEY)
    page.get_by_role("button", name="Reconnect").click()
    expect(page.get_by_text("is reconnected")).to_be_visible()
    expect(page.locator("#connection-detail .badge-status-connected")).to_be_visible()

    # Track an X handle too: look it up, confirm the account, track it.
    page.goto("/connections/new/twitter")
    page.get_by_label("Handle").fill("@acme")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_text("Acme Corp")).to_be_visible()
    page.get_by_role("button", name="Track @acme").click()
    expect(page.get_by_text("Now tracking @acme")).to_be_visible()

    page.goto("/connections")
    expect(inventory_rows(page)).to_have_count(2)
    screenshot("reconnected")


def test_rotate_a_webhook_signing_secret(live_app, workspace, page, screenshot):
    sign_in(page, workspace[1])
    page.goto("/connections/new/webhook")
    page.get_by_label("Name").fill("Billing events")
    page.get_by_role("button", name="Create the webhook").click()
    first = page.locator("#signing-secret").input_value()
    page.get_by_role("button", name=re.compile("I have saved the secret")).click()

    expect(page.get_by_label("Signing secret")).to_have_value("86400")   # the default grace
    screenshot("webhook_rotate_form")
    page.get_by_label("Signing secret").select_option(label="Keep the current secret 1 hour")
    page.get_by_role("button", name="Rotate secret").click()
    expect(page.get_by_role("heading", name="New signing secret for Billing events")).to_be_visible()
    expect(page.locator("#rotation-grace")).to_contain_text("The previous secret keeps working until")
    expect(page.locator("#rotation-grace")).to_contain_text(re.compile(r"\(in (60 min|1 h)\)"))
    second = page.locator("#signing-secret").input_value()
    assert second.startswith("whsec_") and second != first
    screenshot("webhook_secret_rotated")

    page.get_by_role("button", name=re.compile("I have saved the secret")).click()
    expect(page.locator("#connection-detail .badge-status-connected")).to_be_visible()
    assert second not in page.content()


def test_sync_now_waits_while_a_sync_is_under_way_and_the_last_run_is_one_that_ran(
        live_app, workspace, page, screenshot):
    """Pressing Sync now during the first sync queued a run that was skipped when a worker took it;
    the Last run card then told of that skipped run (did not start, 0 streams), not of the sync
    that ran."""
    with live_app.app_context():
        connection = make_connection(workspace[0].id, name="Sales Pipedrive", last_synced_at=utcnow())
        now = utcnow()
        make_run(connection, status="completed", triggered_by="connect", mode="full", streams_total=4,
                 records_written=75, created_at=now - timedelta(minutes=5), started_at=now - timedelta(minutes=5),
                 finished_at=now - timedelta(minutes=4))
        make_run(connection, status="skipped_locked", triggered_by="manual", created_at=now - timedelta(minutes=4),
                 finished_at=now - timedelta(minutes=4), error_message="Another sync of this connection was already running.")
        make_run(connection, status="pending", triggered_by="manual", created_at=now)
        connection_id = connection.id
    sign_in(page, workspace[1])
    page.goto(f"/connections/{connection_id}")

    last_run = page.locator("#last-run-card")
    expect(last_run.locator(".badge-run-completed")).to_be_visible()
    expect(last_run).to_contain_text("75")
    toolbar = page.locator("#connection-detail .toolbar")
    for name in ("Sync now", "Full sync"):
        expect(toolbar.get_by_role("button", name=name)).to_be_disabled()
        expect(toolbar.get_by_role("button", name=name)).to_have_accessible_description(
            "A sync is queued: the next can start when it ends.")
    at_both_widths(page, screenshot, "sync_now_waits")

    # The queued run ends: the page refreshes itself and Sync now is offered again.
    finish_the_run(live_app, records=3, status="pending")
    expect(toolbar.get_by_role("button", name="Sync now")).to_be_enabled(timeout=15000)
    expect(page.locator("#sync-busy")).to_have_count(0)
