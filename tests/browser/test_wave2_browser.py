"""Issue #18's walk through the console for the wave-2 connectors: each connected through the demo's
consent page (Discord: its bot token), its first sync's progress on its own page, then found by a search narrowed to it."""
import pytest

from tests.browser.waves import connect_sync_and_search

pytestmark = pytest.mark.browser

WAVE2 = ("linear", "gitlab", "discord")
KEYS = {"discord": "sandbox-discord-bot-token"}     # the sandbox bot's token (no secret)


def test_each_wave2_connector_connects_syncs_and_is_searched_by_source(live_app, workspace, page, screenshot):
    connect_sync_and_search(live_app, workspace, page, screenshot, WAVE2, "wave2", KEYS)
