"""X posts of the tracked account read from the provider sandbox over HTTP: next_token pages,
since_id for incremental reads, documents, list_ids and a 5xx."""
from itertools import islice

import pytest
import requests

from connectors.base import SyncContext
from connectors.registry import get_connector

SCALE = 25


@pytest.fixture
def sandbox(app, sandbox_server):
    return sandbox_server.url


@pytest.fixture
def x(app):
    with app.app_context():
        connector = get_connector(app.config, "twitter")
    connector.page_size = 10
    return connector


@pytest.fixture
def sync_ctx(x, sandbox):
    account = x.resolve_handle("@acme")
    return SyncContext(connection_id="conn_test", connector_type="twitter", credentials={}, settings={},
                       handle=account.handle, external_account_id=account.external_id)


def posts(connector):
    return connector.catalog.streams[0]


def read(connector, ctx, *, state=None, mode="full", pages=None):
    reader = connector.read(ctx, posts(connector), state=state, mode=mode)
    got = list(islice(reader, pages)) if pages else list(reader)
    reader.close()
    return [r for p in got for r in p.records], [p.state for p in got]


def ids(records):
    return [r["id"] for r in records]


def publish(sandbox, text):
    response = requests.post(f"{sandbox}/_sandbox/x/posts", json={"username": "acme", "text": text}, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_full_read_walks_every_page_without_duplicates_or_gaps(x, sync_ctx, sandbox):
    records, states = read(x, sync_ctx)
    assert len(states) == 3                                 # 25 posts, 10 a page
    assert len(ids(records)) == len(set(ids(records))) == SCALE
    assert states[-1] == {"cursor": max(ids(records), key=int)}
    listed = requests.get(f"{sandbox}/x/2/users/{sync_ctx.external_account_id}/tweets",
                          params={"max_results": 100}, headers={"Authorization": "Bearer sandbox-x-bearer"},
                          timeout=5).json()
    assert set(ids(records)) == {post["id"] for post in listed["data"]}


def test_the_checkpoint_after_page_two_resumes_at_page_three(x, sync_ctx):
    everything, _ = read(x, sync_ctx)
    first, states = read(x, sync_ctx, pages=2)
    assert states[-1]["resume"]["page"]["pagination_token"]
    rest, final = read(x, sync_ctx, state=states[-1], mode="full")
    assert not set(ids(first)) & set(ids(rest))
    assert ids(first) + ids(rest) == ids(everything)
    assert final[-1] == {"cursor": max(ids(everything), key=int)}


def test_an_incremental_read_returns_only_new_posts(x, sync_ctx, sandbox):
    _, states = read(x, sync_ctx)
    nothing, same = read(x, sync_ctx, state=states[-1], mode="incremental")
    assert nothing == [] and same[-1] == states[-1]
    post = publish(sandbox, "Fresh from the sandbox: the sync engine learned incremental reads.")
    changed, new_states = read(x, sync_ctx, state=states[-1], mode="incremental")
    assert ids(changed) == [post["id"]] and new_states[-1] == {"cursor": post["id"]}


def test_an_interrupted_incremental_pass_keeps_its_since_id(x, sync_ctx, sandbox):
    _, states = read(x, sync_ctx)
    new = [publish(sandbox, f"Post number {n} of a busy day") for n in range(12)]
    first, mid = read(x, sync_ctx, state=states[-1], mode="incremental", pages=1)
    assert mid[-1]["cursor"] == states[-1]["cursor"], "the cursor moves only when the pass ends"
    rest, final = read(x, sync_ctx, state=mid[-1], mode="incremental")
    assert sorted(ids(first) + ids(rest), key=int) == [p["id"] for p in new]
    assert final[-1] == {"cursor": new[-1]["id"]}


def test_post_documents(x, sync_ctx, sandbox):
    long_text = "A long announcement " + "with many words " * 12 + "that goes on."
    post = publish(sandbox, long_text)
    records, _ = read(x, sync_ctx, pages=1)
    record = next(r for r in records if r["id"] == post["id"])
    doc = x.to_document(posts(x), record)
    assert doc.external_id == post["id"] and doc.type == "post" and doc.content == long_text
    assert doc.author == "acme" and doc.url == f"https://x.com/acme/status/{post['id']}"
    assert len(doc.title) <= 80 and doc.title.endswith("…") and long_text.startswith(doc.title[:-1])
    assert doc.created_at is not None and doc.metadata["author_id"] == sync_ctx.external_account_id
    short = x.to_document(posts(x), records[-1])
    assert short.title == " ".join(records[-1]["text"].split())


def test_list_ids_lists_the_timeline(x, sync_ctx):
    listed = list(x.list_ids(sync_ctx, posts(x)))
    assert len(listed) == len(set(listed)) == SCALE


def test_one_server_error_mid_read_is_survived(x, sync_ctx, sandbox):
    fault = {"provider": "x", "kind": "server_error", "status": 503, "count": 1,
             "path_prefix": f"/x/2/users/{sync_ctx.external_account_id}/tweets"}
    assert requests.post(f"{sandbox}/_sandbox/faults", json=fault, timeout=5).status_code == 201
    records, _ = read(x, sync_ctx)
    assert len(set(ids(records))) == SCALE
    served = requests.get(f"{sandbox}/_sandbox/stats", timeout=5).json()["faults_served"]
    assert served["x"]["server_error"] == 1


def test_a_checkpoint_written_before_the_kit_still_resumes(x, sync_ctx, sandbox):
    """Connections synced before the kit stored ``{"newest_id": ...}``: their next incremental
    pass starts from it instead of reading the whole timeline again."""
    _, states = read(x, sync_ctx)
    post = publish(sandbox, "Posted after the upgrade")
    changed, new_states = read(x, sync_ctx, state={"newest_id": states[-1]["cursor"]}, mode="incremental")
    assert ids(changed) == [post["id"]] and new_states[-1] == {"cursor": post["id"]}
