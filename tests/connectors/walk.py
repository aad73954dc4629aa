"""What the end-to-end walks through the sync engine share (tests/connectors/test_*_sync.py):
run a sync as the API queues it, and drive the provider sandbox's control routes."""
import requests

from sync import worker
from sync.models import SyncRun
from tests.factories import detached


def sync(app, api, connection_id, *, full=True) -> dict:
    """Queue a run, let a worker execute it, and return it as the API shows it plus its counts."""
    run_id = api.post(f"/api/v1/connections/{connection_id}/sync?full={str(full).lower()}").json["sync_run_id"]
    assert worker.drain(app) == [run_id]
    shown = next(r for r in api.get(f"/api/v1/connections/{connection_id}/runs").json["runs"] if r["id"] == run_id)
    row = detached(app, SyncRun, run_id)
    return {**shown, **{f"documents_{n}": getattr(row, f"documents_{n}") for n in ("created", "updated", "deleted")}}


def sandbox(server, method, path, **kwargs):
    """A control request to the sandbox (``/_sandbox/...``); its JSON answer."""
    response = requests.request(method, f"{server.url}{path}", timeout=5, **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def resumed_pass(read) -> tuple[list, list, list]:
    """A full pass read once whole, then again stopped after its first page and resumed from that
    page's checkpoint: the two must hand over the same records, none lost or repeated.
    ``read(state=None, mode="full", pages=None)`` returns ``(keys, pages)``; returns the whole
    pass's keys and pages and the resumed pass's pages."""
    everything, pages = read()
    first, [page] = read(pages=1)
    assert "resume" in page.state
    rest, resumed = read(page.state, "full")
    assert first + rest == everything
    return everything, pages, resumed
