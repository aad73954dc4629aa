"""Issue #18's walk through the console for the CRM and support connectors of wave 2 (HubSpot, Salesforce, Zendesk):
each connected through the demo's consent page, its first sync's progress on its page, then a
search narrowed to its source (the walk of tests/browser/waves.py)."""
import pytest

from tests.browser.waves import connect_sync_and_search

pytestmark = pytest.mark.browser

WAVE2B = ("hubspot", "salesforce", "zendesk")


def test_each_connector_connects_syncs_and_is_searched_by_source(live_app, workspace, page, screenshot):
    connect_sync_and_search(live_app, workspace, page, screenshot, WAVE2B, "wave2b",
                            fields={"zendesk": {"Zendesk subdomain": "acme-sandbox.zendesk.com"}})
