"""The catalog picker in a real browser: every tile that cannot be connected is visibly disabled
and says why, in agreement with the catalog API."""
import pytest
from playwright.sync_api import expect

from connectors import registry
from tests.browser.helpers import at_both_widths, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _quick(page):
    page.set_default_timeout(8000)
    expect.set_options(timeout=8000)


def tile(page, connector_type):
    return page.locator(f'[data-catalog-tile][data-type="{connector_type}"]')


@pytest.mark.parametrize("sandbox", [True, False], ids=["demo", "no_oauth_apps"])
def test_every_tile_that_cannot_connect_is_disabled_with_its_reason(live_app, workspace, page, screenshot, sandbox):
    if not sandbox:  # no OAuth app configured: GitHub and Gmail are available but not connectable here
        live_app.config["SANDBOX_URL"] = None
    with live_app.app_context():
        entries = registry.catalog(live_app.config)
    sign_in(page, workspace[1])
    page.goto("/connections/new")

    blocked = [e for e in entries if not e["connectable"]]
    assert any(e["not_connectable_reason"]["code"] == "coming_soon" for e in blocked)
    not_built = {cls.catalog.type for cls in registry.connector_classes().values() if not cls.implemented}
    # with the demo every built connector connects; without OAuth apps the OAuth ones cannot too
    assert ({e["type"] for e in blocked} == not_built) if sandbox else ({e["type"] for e in blocked} > not_built)
    for entry in entries:
        card = tile(page, entry["type"])
        expect(card).to_have_count(1)
        if entry["connectable"]:
            expect(card.get_by_role("button", name=f"Connect {entry['display_name']}")).to_be_enabled()
            expect(card).not_to_have_class("tile tile-unavailable")
            continue
        # A disabled control (never a link), the tile greyed, and the reason in words.
        expect(card).to_have_class("tile tile-unavailable")
        expect(card.locator("a")).to_have_count(0)
        button = card.locator("button")
        expect(button).to_be_disabled()
        reason = entry["not_connectable_reason"]
        expect(button).to_have_text("Coming soon" if reason["code"] == "coming_soon" else "Not available here")
        expect(card.locator(".tile-reason")).to_have_text(reason["message"] + ".")
    if not sandbox:
        expect(tile(page, "github").locator(".tile-reason")).to_contain_text("TRIBUTARY_GITHUB_CLIENT_ID")
    else:
        expect(tile(page, "github").get_by_role("button", name="Connect GitHub")).to_be_visible()
    tile(page, "slack").scroll_into_view_if_needed()
    at_both_widths(page, screenshot, f"catalog_{'demo' if sandbox else 'no_oauth_apps'}")
