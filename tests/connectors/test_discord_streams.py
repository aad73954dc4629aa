"""Discord's messages read from the sandbox over HTTP, without the engine: a pass resumed from a
mid-pass checkpoint, a message deleted in the middle of a read, and the messages route's own rate
bucket paced by its headers (#general at SEED 42, SCALE 25)."""
from itertools import islice

import pytest
import requests

from connectors.base import SyncContext
from connectors.discord import DiscordConnector
from connectors.ratelimit import RateLimiter
from connectors.settings import ConnectorSettings
from tests.connectors.walk import resumed_pass

GENERAL = "1100000000000000101"


@pytest.fixture
def sandbox(sandbox_server):
    requests.post(f"{sandbox_server.url}/_sandbox/reset", timeout=5).raise_for_status()
    return sandbox_server.url


def discord(sandbox, limiter=None):
    connector = DiscordConnector(ConnectorSettings("discord", DiscordConnector.sandbox_settings(sandbox)))
    connector.page_size = 10
    return connector, SyncContext(connection_id="c", connector_type="discord", settings={}, limiter=limiter,
                                  credentials={"api_key": "sandbox-discord-bot-token"})


def read(connector, ctx, state=None, mode="full", pages=None):
    reader = connector.read(ctx, connector.spec("messages"), state=state, mode=mode, channel=GENERAL)
    got = list(islice(reader, pages)) if pages else list(reader)
    reader.close()
    return [r["id"] for p in got for r in p.records], got


def test_a_pass_resumes_from_its_checkpoint_without_losing_or_repeating_a_message(sandbox):
    connector, ctx = discord(sandbox)
    everything, pages, resumed = resumed_pass(lambda state=None, mode="full", pages=None:
                                              read(connector, ctx, state, mode, pages))
    assert len(pages) == 3 and len(set(everything)) == len(everything) == 24      # 25 less a member join
    assert resumed[-1].state == pages[-1].state


def test_a_message_deleted_during_a_read_skips_nothing_unread(sandbox):
    """Pages follow ``after=<newest id read>``: a message deleted behind the reader shifts nothing."""
    connector, ctx = discord(sandbox)
    everything, _ = read(connector, ctx)
    first, [page] = read(connector, ctx, pages=1)
    gone = min(first, key=int)
    requests.delete(f"{sandbox}/_sandbox/collections/discord/messages/{int(gone) & 0x3FFFFF}",
                    timeout=5).raise_for_status()
    rest, _ = read(connector, ctx, page.state, "full")
    assert first + rest == everything
    assert gone not in set(connector.list_ids(ctx, connector.spec("messages"), GENERAL))
    assert connector.fetch_records(ctx, connector.spec("messages"), GENERAL, [gone]) == []


def test_the_messages_route_is_paced_by_its_own_buckets_headers(sandbox):
    """Enforced at 3 a minute, the messages route says ``X-RateLimit-Remaining: 0`` on its third
    answer: the route's own limiter pauses until ``X-RateLimit-Reset`` (no 429 is drawn), and the
    connection's other routes go on at once."""
    requests.post(f"{sandbox}/_sandbox/config", json={"rate_limit": {"discord": {"per_minute": 3}}},
                  timeout=5).raise_for_status()
    connection = RateLimiter(None, None, max_wait=120)
    connector, ctx = discord(sandbox, connection)
    spec = connector.spec("messages")
    fetch = connector._fetcher(spec, spec.listing, connector.api(ctx, GENERAL, spec))
    for _ in range(3):
        fetch(None)
    route = ctx.memo[("kit.client", "messages")].limiter.limiters[-1]
    assert 0 < route.snapshot()["paused_for"] <= 60 and route.pauses == 1
    assert connection.snapshot()["paused_for"] == 0 and connection.pauses == 0
    assert requests.get(f"{sandbox}/_sandbox/stats", timeout=5).json()["rate_limited"].get("discord", 0) == 0
