"""Intercom's streams read from the sandbox over HTTP, without the engine: a search pass resumed from
a mid-pass checkpoint, a conversation deleted in the middle of a read, the search asked in
Intercom's words (workspace Acme at SEED 42, SCALE 25: 50 conversations)."""
import requests

from connectors.base import SyncContext
from connectors.intercom import IntercomConnector, updated_after
from connectors.settings import ConnectorSettings

from .reading import minted
from .reading import read as read_stream
from .reading import sandbox  # noqa: F401  (the fixture)


def intercom(sandbox):
    token = minted(sandbox, "intercom")
    connector = IntercomConnector(ConnectorSettings("intercom", IntercomConnector.sandbox_settings(sandbox)))
    connector.page_size = 20
    return connector, SyncContext(connection_id="c", connector_type="intercom", credentials={}, settings={},
                                  access_token=lambda: token, readers_wanted=False)


def read(connector, ctx, state=None, mode="full", pages=None):
    return read_stream(connector, ctx, "conversations", state, mode, pages)


def test_a_search_pass_resumes_from_its_checkpoint_without_losing_or_repeating_one(sandbox):
    connector, ctx = intercom(sandbox)
    everything, pages = read(connector, ctx)
    assert len(pages) == 3 and sorted(map(int, everything)) == list(range(1, 51))
    first, [page] = read(connector, ctx, pages=1)
    rest, resumed = read(connector, ctx, page.state)
    assert first + rest == everything and resumed[-1].state["cursor"] == pages[-1].state["cursor"]
    assert all("_detail" in r and r["_detail"]["conversation_parts"]["type"] == "conversation_part.list"
               for p in resumed for r in p.records)


def test_a_conversation_deleted_during_a_read_hides_no_unread_one(sandbox):
    connector, ctx = intercom(sandbox)
    everything, _ = read(connector, ctx)
    first, [page] = read(connector, ctx, pages=1)
    requests.delete(f"{sandbox}/_sandbox/collections/intercom/conversations/{first[0]}", timeout=5).raise_for_status()
    rest, _ = read(connector, ctx, page.state)
    assert set(first + rest) == set(everything)
    assert first[0] not in set(connector.list_ids(ctx, "conversations"))
    kept = connector.fetch_records(ctx, connector.spec("conversations"), None, [first[0], first[1]])
    assert [external_id for external_id, _ in kept] == [first[1]]


def test_an_incremental_search_asks_for_the_cursors_second_too():
    """Intercom's search has ``>`` but no ``>=``: the cursor's own second is asked for again (the
    kit drops exact repeats of what it handed over), so a record updated in that second is read."""
    assert updated_after("1751241600") == {"field": "updated_at", "operator": ">", "value": 1751241599}
    assert updated_after(None) == {"field": "updated_at", "operator": ">", "value": 0}


def test_intercoms_search_refuses_what_it_does_not_know_in_its_error_list(sandbox):
    connector, ctx = intercom(sandbox)
    token = ctx.access_token()
    answer = requests.post(f"{sandbox}/intercom/api/conversations/search", timeout=5,
                           headers={"Authorization": f"Bearer {token}", "Intercom-Version": "2.11"},
                           json={"query": {"field": "colour", "operator": "~", "value": "blue"}})
    assert answer.status_code == 400 and answer.json()["type"] == "error.list"
    assert answer.json()["errors"][0]["code"] == "parameter_invalid"
    assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= {k.lower() for k in answer.headers}
