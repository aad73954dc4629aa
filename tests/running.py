"""Async code under test (MCP clients, the Python SDK's async client) runs on an event loop of
its own thread: a Playwright page earlier in the same test process (a browser test before this
one on the same pytest-xdist worker) keeps an event loop running on the main thread, where
``asyncio.run`` or ``anyio.run`` would refuse to start another."""
import threading
from typing import Any, Awaitable, Callable

import anyio


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    """``anyio.run(main)`` on a thread of its own: what it returns is returned here, what it
    raises is raised here."""
    outcome: dict[str, Any] = {}

    def target():
        try:
            outcome["value"] = anyio.run(main)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller as it is
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
