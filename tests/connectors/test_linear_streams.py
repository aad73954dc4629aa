"""Linear's issues read from the sandbox over HTTP, without the engine: a pass resumed from a mid-pass
checkpoint, an issue deleted in the middle of a read, and the complexity budget pacing the reader
(Engineering at SEED 42, SCALE 25: 25 issues)."""
import time
from itertools import islice

import pytest
import requests

from connectors.base import SyncContext
from connectors.linear import LinearConnector
from connectors.ratelimit import RateLimiter
from connectors.settings import ConnectorSettings
from sandbox.providers.linear import lid
from tests.connectors.walk import resumed_pass

ENG = lid("team", 1)


@pytest.fixture
def sandbox(sandbox_server):
    requests.post(f"{sandbox_server.url}/_sandbox/reset", timeout=5).raise_for_status()
    return sandbox_server.url


def linear(sandbox, limiter=None):
    token = requests.post(f"{sandbox}/_sandbox/tokens", json={"provider": "linear", "scope": "read"},
                          timeout=5).json()["access_token"]
    connector = LinearConnector(ConnectorSettings("linear", LinearConnector.sandbox_settings(sandbox)))
    connector.page_size = 10
    ctx = SyncContext(connection_id="c", connector_type="linear", credentials={}, settings={},
                      access_token=lambda: token, limiter=limiter)
    return connector, ctx


def read(connector, ctx, state=None, mode="full", pages=None):
    reader = connector.read(ctx, connector.catalog.streams[0], state=state, mode=mode, channel=ENG)
    got = list(islice(reader, pages)) if pages else list(reader)
    reader.close()
    return [r["identifier"] for p in got for r in p.records], got


def test_a_pass_resumes_from_its_checkpoint_without_losing_or_repeating_an_issue(sandbox):
    connector, ctx = linear(sandbox)
    everything, pages, resumed = resumed_pass(lambda state=None, mode="full", pages=None:
                                              read(connector, ctx, state, mode, pages))
    assert len(pages) == 3 and len(everything) == len(set(everything)) == 25
    assert resumed[-1].state == pages[-1].state


def test_an_issue_deleted_during_a_read_is_a_tombstone_and_skips_nothing(sandbox):
    connector, ctx = linear(sandbox)
    everything, _ = read(connector, ctx)
    first, [page] = read(connector, ctx, pages=1)
    unread = everything[len(first) + 2]
    number = str(3 * (int(unread.split("-")[1]) - 1) + 1)        # ENG-n is seeded issue 3(n-1)+1
    requests.delete(f"{sandbox}/_sandbox/collections/linear/issues/{number}", timeout=5).raise_for_status()
    rest, pages = read(connector, ctx, page.state, "full")
    assert first + rest == [i for i in everything if i != unread]      # the keyset cursor shifts nothing
    later, pages = read(connector, ctx, pages[-1].state, "incremental")
    assert later == [] and [d for p in pages for d in p.deleted] == [lid("issue", number)]    # in the trash


def test_the_complexity_budget_in_linears_headers_paces_the_reader(sandbox):
    """A budget of 400 points (refilled over an hour): a page of ten issues costs about 145, so
    after two pages the headers say the next one does not fit, and the limiter waits for the
    refill (on the sandbox's clock, moved forward by the limiter's sleep) instead of drawing a
    RATELIMITED answer."""
    requests.post(f"{sandbox}/_sandbox/linear/complexity", json={"limit": 400}, timeout=5).raise_for_status()
    moved = [0.0]

    def sleep(seconds):
        requests.post(f"{sandbox}/_sandbox/clock", json={"advance_seconds": seconds}, timeout=5).raise_for_status()
        moved[0] += seconds
    limiter = RateLimiter(None, None, max_wait=3600, clock=lambda: time.monotonic() + moved[0], sleep=sleep,
                          wall_clock=lambda: time.time() + moved[0])
    connector, ctx = linear(sandbox, limiter)
    everything, _ = read(connector, ctx)
    assert len(everything) == 25 and limiter.pauses >= 1 and 60 < limiter.waited < 3600
    assert requests.get(f"{sandbox}/_sandbox/stats", timeout=5).json()["rate_limited"].get("linear", 0) == 0
