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
