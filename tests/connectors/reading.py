"""What the stream tests that read a sandbox emulation over HTTP, without the engine, share: a
reset sandbox, a token minted for an OAuth emulation, and a read of some or all of a stream's pages."""
from itertools import islice

import pytest
import requests


@pytest.fixture
def sandbox(sandbox_server):
    """The sandbox's URL, its data as seeded."""
    requests.post(f"{sandbox_server.url}/_sandbox/reset", timeout=5).raise_for_status()
    return sandbox_server.url


def minted(sandbox: str, provider: str, scope: str = "") -> str:
    return requests.post(f"{sandbox}/_sandbox/tokens", json={"provider": provider, "scope": scope},
                         timeout=5).json()["access_token"]


def read(connector, ctx, stream: str, state=None, mode="full", pages=None, *, channel=None, key="id"):
    """(the records' ``key``s in the order read, the pages) of a pass, or of its first ``pages``."""
    reader = connector.read(ctx, connector.spec(stream), state=state, mode=mode, channel=channel)
    got = list(islice(reader, pages)) if pages else list(reader)
    reader.close()
    return [r[key] for p in got for r in p.records], got
