"""Freshdesk's streams read from the sandbox over HTTP, without the engine: a pass resumed from a
mid-pass checkpoint, a ticket trashed in the middle of a read, contacts read by their change
window, Freshdesk's 30-day default and its page cap, and the domain a connection names
(helpdesk ``acme`` at SEED 42, SCALE 25: 50 tickets, 50 contacts)."""
import pytest
import requests

from connectors.base import SyncContext
from connectors.errors import InvalidCredentials
from connectors.freshdesk import FreshdeskConnector, domain_of
from connectors.settings import ConnectorSettings

from .reading import read as read_stream
from .reading import sandbox  # noqa: F401  (the fixture)

KEY = ("sandbox-freshdesk-key", "X")


def freshdesk(sandbox, page_size=20):
    connector = FreshdeskConnector(ConnectorSettings("freshdesk", FreshdeskConnector.sandbox_settings(sandbox)))
    connector.page_size = page_size
    return connector, SyncContext(connection_id="c", connector_type="freshdesk", settings={"domain": "acme"},
                                  credentials={"api_key": KEY[0]}, readers_wanted=False)


def read(connector, ctx, stream="tickets", state=None, mode="full", pages=None):
    return read_stream(connector, ctx, stream, state, mode, pages)


def test_a_pass_resumes_from_its_checkpoint_without_losing_or_repeating_a_ticket(sandbox):
    connector, ctx = freshdesk(sandbox)
    everything, pages = read(connector, ctx)
    assert len(pages) == 3 and sorted(everything) == list(range(1, 51))
    first, [page] = read(connector, ctx, pages=1)
    rest, resumed = read(connector, ctx, state=page.state)
    assert first + rest == everything and resumed[-1].state["cursor"] == pages[-1].state["cursor"]


def test_a_ticket_trashed_during_a_read_hides_no_unread_one(sandbox):
    """The list pages by number; a ticket already read leaving it would shift the next page left.
    The reader asks again from the newest update it handed over, so nothing unread is skipped."""
    connector, ctx = freshdesk(sandbox)
    everything, _ = read(connector, ctx)
    first, [page] = read(connector, ctx, pages=1)
    requests.patch(f"{sandbox}/_sandbox/collections/freshdesk/tickets/{first[0]}", json={"deleted": True},
                   timeout=5).raise_for_status()
    rest, _ = read(connector, ctx, state=page.state)
    assert set(first + rest) == set(everything)
    assert str(first[0]) not in set(connector.list_ids(ctx, "tickets"))
    kept = connector.fetch_records(ctx, connector.spec("tickets"), None, [str(first[0]), str(first[1])])
    assert [external_id for external_id, _ in kept] == [str(first[1])]      # trashed: confirmed gone


def test_contacts_change_window_reads_every_page_of_what_changed(sandbox):
    connector, ctx = freshdesk(sandbox)
    everything, pages = read(connector, ctx, "contacts")
    assert len(everything) == 50 and "cursor" in pages[-1].state
    quiet, _ = read(connector, ctx, "contacts", state=pages[-1].state, mode="incremental")
    assert quiet == []
    for contact in ("7", "31"):
        requests.patch(f"{sandbox}/_sandbox/collections/freshdesk/contacts/{contact}", json={"job_title": "CEO"},
                       timeout=5).raise_for_status()
    changed, _ = read(connector, ctx, "contacts", state={"cursor": "2026-01-01T00:00:00Z"}, mode="incremental")
    assert sorted(changed) == [7, 31]


def test_freshdesks_list_defaults_and_caps_are_its_own(sandbox):
    """Without updated_since Freshdesk lists only tickets created in the last 30 days (the seeded
    ones are older); past page 300 it refuses in its validation shape."""
    recent = requests.get(f"{sandbox}/freshdesk/acme/api/v2/tickets", auth=KEY, timeout=5)
    assert recent.status_code == 200 and recent.json() == []
    assert {"x-ratelimit-total", "x-ratelimit-remaining", "x-ratelimit-used-currentrequest"} <= set(
        k.lower() for k in recent.headers)
    capped = requests.get(f"{sandbox}/freshdesk/acme/api/v2/tickets", params={"page": 301}, auth=KEY, timeout=5)
    assert capped.status_code == 400 and capped.json()["description"] == "Validation failed"
    assert capped.json()["errors"][0]["field"] == "page"


@pytest.mark.parametrize("typed, domain", [("acme", "acme"), ("Acme.freshdesk.com", "acme"),
                                           ("https://acme.freshdesk.com/", "acme"), ("support-eu", "support-eu")])
def test_the_domain_is_the_helpdesks_subdomain(typed, domain):
    assert domain_of({"domain": typed}) == domain


@pytest.mark.parametrize("typed", ["", "acme.zendesk.com", "a/b", "-acme", "acme.freshdesk.com/api"])
def test_what_is_not_a_freshdesk_domain_is_refused(typed):
    with pytest.raises(InvalidCredentials):
        domain_of({"domain": typed})
