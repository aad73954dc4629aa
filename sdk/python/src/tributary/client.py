"""The clients: ``TributaryClient`` (async, the default) and ``SyncTributaryClient`` (blocking).
Both have every operation of ``_operations.Operations`` with the same parameters."""
from __future__ import annotations

from ._operations import Operations
from ._transport import AsyncTransport, SyncTransport


class TributaryClient(Operations, AsyncTransport):
    """The async client: ``await client.query(...)``; ``async with`` closes its connections."""


class SyncTributaryClient(Operations, SyncTransport):
    """The blocking twin: ``client.query(...)``; ``with`` closes its connections."""


def create_client(*, timeout: float = 30.0, max_retries: int = 2) -> TributaryClient:
    """An async client from ``TRIBUTARY_API_KEY`` and ``TRIBUTARY_BASE_URL``."""
    return TributaryClient(timeout=timeout, max_retries=max_retries)


def create_sync_client(*, timeout: float = 30.0, max_retries: int = 2) -> SyncTributaryClient:
    """A blocking client from ``TRIBUTARY_API_KEY`` and ``TRIBUTARY_BASE_URL``."""
    return SyncTributaryClient(timeout=timeout, max_retries=max_retries)
