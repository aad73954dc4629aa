"""Slack's messages read from the sandbox over HTTP, without the engine: the reply window of an
incremental pass, a parent deleted under its replies, a pass resumed from a mid-pass checkpoint.
(#general at SEED 42, SCALE 25: four threads and a channel event over 15 months.)"""
from itertools import islice

import pytest
import requests

from connectors.base import SyncContext
from connectors.settings import ConnectorSettings
from connectors.slack import SlackConnector
from tests.fidelity.conform import validate

SCOPES = "channels:read,channels:history,groups:read,groups:history,files:read,users:read,users:read.email"


@pytest.fixture
def sandbox(sandbox_server):
    requests.post(f"{sandbox_server.url}/_sandbox/reset", timeout=5).raise_for_status()
    return sandbox_server.url


def slack(sandbox, **settings):
    """The connector against the sandbox, with a bot token and a context of its own."""
    token = requests.post(f"{sandbox}/_sandbox/tokens", json={"provider": "slack", "scope": SCOPES},
                          timeout=5).json()["access_token"]
    connector = SlackConnector(ConnectorSettings("slack", {**SlackConnector.sandbox_settings(sandbox), **settings}))
    ctx = SyncContext(connection_id="c", connector_type="slack", credentials={}, settings={},
                      handle="acme-sandbox.slack.com", access_token=lambda: token)
    return connector, ctx


def read(connector, ctx, state=None, mode="full", pages=None):
    stream = connector.catalog.streams[1]
    assert stream.name == "messages"
    reader = connector.read(ctx, stream, state=state, mode=mode, channel="C0GENERAL1")
    got = list(islice(reader, pages)) if pages else list(reader)
    reader.close()
    return {r["ts"]: r for p in got for r in p.records}, got


def change(sandbox, name, record_id=None, **fields):
    path = f"{sandbox}/_sandbox/collections/slack/{name}" + (f"/{record_id}" if record_id else "")
    requests.request("PATCH" if record_id else "POST", path, json=fields, timeout=5).raise_for_status()


def collection_id(ts: str) -> str:
    return str(int(ts.split(".")[1]))


def test_the_channels_are_those_the_app_is_in(sandbox):
    connector, ctx = slack(sandbox)
    messages = connector.catalog.streams[1]
    assert [(c.id, c.name) for c in connector.channels(ctx, messages)] == [
        ("C0GENERAL1", "general"), ("C0RANDOM01", "random"), ("G0LEADERS1", "leadership")]    # not #engineering
    assert connector.channel(ctx, messages, "C0ENGINEER").name == "engineering"     # public: it can be looked up


def test_an_incremental_pass_hands_over_only_threads_that_changed_inside_the_reply_window(sandbox):
    wide, ctx = slack(sandbox, reply_window_days=1000)      # the whole seeded history is in the window
    threads, pages = read(wide, ctx)
    state = pages[-1].state
    assert state["cursor"] == max(threads, key=float) and set(state["window"]) == {
        ts for ts, m in threads.items() if m.get("reply_count") or m.get("edited")}
    assert read(wide, ctx, state, "incremental")[0] == {}                  # nothing changed: nothing handed over
    old = min((m for m in threads.values() if m.get("reply_count")), key=lambda m: float(m["ts"]))
    change(sandbox, "replies", parent=collection_id(old["ts"]), user=4, text="Late answer")
    changed, _ = read(wide, ctx, state, "incremental")
    assert list(changed) == [old["ts"]] and changed[old["ts"]]["_replies"][-1]["text"] == "Late answer"
    narrow, ctx = slack(sandbox, reply_window_days=1)
    assert read(narrow, ctx, state, "incremental")[0] == {}                # older than the window: not seen


def test_a_parent_deleted_under_its_replies_stays_a_thread_of_them(sandbox):
    connector, ctx = slack(sandbox, reply_window_days=1000)
    threads, pages = read(connector, ctx)
    parent = next(m for m in threads.values() if m.get("reply_count"))
    lone = next(m for m in threads.values() if not m.get("reply_count") and m is not parent)
    change(sandbox, "messages", collection_id(parent["ts"]), deleted=True)
    change(sandbox, "messages", collection_id(lone["ts"]), deleted=True)
    body = requests.get(f"{sandbox}/slack/api/conversations.history", timeout=5, headers={
        "Authorization": f"Bearer {ctx.access_token()}"}, params={"channel": "C0GENERAL1"}).json()
    assert validate("slack", "conversations.history", body) == []
    changed, later = read(connector, ctx, pages[-1].state, "incremental")
    document = connector.to_document(connector.catalog.streams[1], changed[parent["ts"]])
    assert document.title == "#general: (deleted message)" and parent["text"] not in document.content
    assert document.content.startswith("  ↳ ") and document.external_id == f"C0GENERAL1:{parent['ts']}"
    assert lone["ts"] not in changed and not any(p.deleted for p in later)     # gone from history: the prune's


def test_a_pass_resumes_from_its_checkpoint_without_losing_or_repeating_a_thread(sandbox):
    connector, ctx = slack(sandbox)
    connector.page_size = 2
    everything, pages = read(connector, ctx)
    assert len(pages) == 3
    first, [page] = read(connector, ctx, pages=1)
    assert "resume" in page.state
    rest, resumed = read(connector, ctx, page.state, "full")
    assert list(first) + list(rest) == list(everything) and resumed[-1].state == pages[-1].state


def test_files_by_creation_time_with_their_text_and_deletion_confirmed_by_files_info(sandbox):
    connector, ctx = slack(sandbox)
    files = connector.catalog.streams[2]
    pages = list(connector.read(ctx, files, state=None, mode="full", channel="C0GENERAL1"))
    listed = {r["id"]: r for p in pages for r in p.records}
    snippet = next(r for r in listed.values() if r.get("preview_is_truncated"))
    assert connector.to_document(files, snippet).content.count("note") == snippet["lines"]   # all of it, not 5
    change(sandbox, "files", channel="C0GENERAL1", user=2, kind="txt", topic="roadmap", lines=2)
    later = list(connector.read(ctx, files, state=pages[-1].state, mode="incremental", channel="C0GENERAL1"))
    [new] = [r for p in later for r in p.records]
    assert new["id"] not in listed and connector.to_document(files, new).external_id == f"C0GENERAL1:{new['id']}"
    requests.delete(f"{sandbox}/_sandbox/collections/slack/files/{int(snippet['id'][1:])}", timeout=5)
    asked = [f"C0GENERAL1:{snippet['id']}", f"C0GENERAL1:{new['id']}", f"G0LEADERS1:{new['id']}"]
    assert [i for i, _ in connector.fetch_records(ctx, files, "C0GENERAL1", asked)] == [f"C0GENERAL1:{new['id']}"]
