"""MCP clients run on an event loop of their own thread: a Playwright page in the same test
process (a browser test before this one on the same pytest-xdist worker) keeps an event loop
running on the main thread, where ``anyio.run`` would refuse to start another."""
import threading

import anyio


def run(main) -> None:
    """``anyio.run(main)`` on a thread of its own; what it raises is raised here."""
    failure: list[BaseException] = []

    def target():
        try:
            anyio.run(main)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller as it is
            failure.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
