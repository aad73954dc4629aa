"""The connector kit and the sandbox kit, each declaration exercised once over real HTTP.

A small provider ("kitdemo": notes in folders, and an event log) is emulated here on
``sandbox.kit`` and read by a ``connectors.kit.RestConnector`` declared here: keyset cursors in
the body, page numbers, Link headers and offsets; the ``since`` and ``sync_token`` incremental
styles; tombstones; joins; channels with lookups and readers; fetch by id; id listings; error
rules (HTTP and in a 200 body) and a rate bucket. X (tests/connectors/test_twitter_*.py) covers
``after_id`` and the engine end to end.
"""
import dataclasses
import re
from datetime import datetime, timedelta, timezone
from itertools import islice

import pytest
import requests
from flask import Response, request

from connectors.base import DocumentData, RateLimits, SyncContext
from connectors.base import CatalogEntry
from connectors.errors import ChannelNotFound, ProviderRefused, ReadersUnknown
from connectors.kit import (Channels, FetchById, Incremental, Join, OnError, Over, RestConnector, StreamSpec, WhoAmI,
                            api_key, oauth_bearer)
from connectors.ratelimit import RateLimiter
from connectors.rest import (LinkHeaderPaginator, NextUrlPaginator, OffsetPaginator, PageNumberPaginator, RestStream,
                             TokenPaginator, iso_z)
from connectors.settings import ConnectorSettings
from sandbox.kit import (Emulation, OAuthDialect, Seeded, link_header, page_by_cursor, page_by_number,
                         page_by_offset)
from sandbox.providers import int_arg, json_response, state
from sandbox.seed import day, iso

KEY = "kitdemo-key"
FOLDERS = {"f1": ("Public notes", None), "f2": ("Board", ["ada@example.com", "bo@example.com"]),
           "f3": ("Locked", None)}


# -- the emulation -------------------------------------------------------------------------------------

class Demo(Emulation):
    name, prefix = "kitdemo", "/kitdemo"
    keys = (KEY,)
    limits = {None: (600, 60), "log": (10, 60)}
    collections = {
        "notes": Seeded(lambda rnd, i: {"folder": ("f1", "f2")[i % 2], "title": f"Note {i}",
                                        "body": rnd.choice(["plans", "minutes", "ideas"]), "comments": i % 3}),
        "events": Seeded(lambda rnd, i: {"what": rnd.choice(["deploy", "signup", "invoice"])}, lambda scale: 12),
    }

    def error_body(self, status, message, code=None):
        return {"error": {"status": status, "message": message, "code": code or "error"}}


DEMO = Demo()


def note_json(r):
    return {"id": r["id"], "title": r["title"], "body": r["body"], "updated_at": iso(r["updated"]),
            "comments": r["comments"]}


@DEMO.get("/me")
def me(principal):
    return json_response({"user": {"id": 7, "email": "ada@example.com", "name": "Ada"}})


@DEMO.get("/folders")
def folders(principal):
    rows = [{"id": fid, "name": name} for fid, (name, _) in FOLDERS.items()]
    chunk, after = page_by_cursor(rows, request.args.get("cursor"), int_arg("limit", 2, minimum=1),
                                  key=lambda r: r["id"])
    return json_response({"folders": chunk, "next": after})


@DEMO.get("/folders/<fid>")
def folder(principal, fid):
    if fid not in FOLDERS:
        DEMO.fail(404, f"No folder {fid}", "folder_not_found")
    return json_response({"folder": {"id": fid, "name": FOLDERS[fid][0]}})


@DEMO.get("/search/folders")
def search_folders(principal):
    """A lookup by query (Confluence's ``/spaces?keys=``): a list, empty when nothing matches."""
    found = request.args.get("id") in FOLDERS
    return json_response({"results": [{"id": request.args["id"], "name": FOLDERS[request.args["id"]][0]}] if found else []})


@DEMO.get("/folders/<fid>/members")
def members(principal, fid):
    if FOLDERS[fid][1] is None:
        return json_response({"ok": False, "error": "not_private"})     # a 200 that is an error
    return json_response({"ok": True, "members": FOLDERS[fid][1]})


def folder_notes(fid):
    if fid == "f3":
        DEMO.fail(403, "This folder is locked by its owner", "locked")
    return [r for r in DEMO.collection("notes").by_update() if r["folder"] == fid]


@DEMO.get("/folders/<fid>/notes")
def notes(principal, fid):
    since = request.args.get("updated_since")
    rows = [r for r in folder_notes(fid) if since is None or iso(r["updated"]) >= since]
    chunk, after = page_by_cursor(rows, request.args.get("cursor"), int_arg("limit", 50, minimum=1, maximum=100))
    return json_response({"notes": [note_json(r) for r in chunk], "next": after})


@DEMO.get("/folders/<fid>/note_ids")
def note_ids(principal, fid):
    chunk, _, total = page_by_number(folder_notes(fid), int_arg("page", 1), int_arg("per_page", 50))
    return json_response({"ids": [{"id": r["id"]} for r in chunk], "total_pages": total})


@DEMO.get("/notes")
def notes_by_id(principal):
    found = [DEMO.collection("notes").get(i) for i in request.args.get("ids", "").split(",")]
    return json_response({"notes": [note_json(r) for r in found if r]})


@DEMO.get("/notes/<nid>")
def note_by_id(principal, nid):
    found = DEMO.collection("notes").get(nid)
    if found is None:
        DEMO.fail(404, f"No note {nid}", "note_not_found")
    return json_response({"note": note_json(found)})


@DEMO.get("/notes/<nid>/comments")
def comments(principal, nid):
    if "-" in nid:          # a comment's replies, at the same path (nested joins)
        return json_response([{"id": f"{nid}-r", "text": f"reply to {nid}"}])
    rows = [{"id": f"{nid}-{n}", "text": f"comment {n}", "replies": n == 1}
            for n in range(DEMO.collection("notes").get(nid)["comments"])]
    page = int_arg("page", 1)
    chunk, more, _ = page_by_number(rows, page, 1)
    return json_response(chunk, headers={"Link": link_header(page=page + 1)} if more else {})


@DEMO.get("/recent")
def recent(principal):
    """Notes newest first, their change time only to the day (a coarse cursor), without bodies."""
    rows = DEMO.collection("notes").by_update(descending=True)
    chunk, after = page_by_cursor(rows, request.args.get("cursor"), int_arg("limit", 50),
                                  key=lambda r: (-r["updated"], -int(r["id"])))
    return json_response({"notes": [{"id": r["id"], "title": r["title"], "edited": day(r["updated"])} for r in chunk],
                          "next": after})


@DEMO.get("/events", bucket="log")
def events(principal):
    log, now = DEMO.collection("events"), int(state().now())
    if request.args.get("sync"):
        since = int(request.args["sync"].removeprefix("t"))
        if since < 1000:
            DEMO.fail(410, "Sync token expired", "gone")
        rows = [{"id": r["id"], "what": r["what"]} for r in log.changed_since(since)]
        rows += [{"id": i, "deleted": True} for i, at in log.deleted.items() if at >= since]
    else:
        rows = [{"id": r["id"], "what": r["what"]} for r in log.by_update()]
    chunk, following = page_by_offset(rows, int_arg("offset", 0), int_arg("limit", 5))
    body = {"events": chunk, "next": None if following is None else f"/kitdemo/events?offset={following}&limit=5"}
    if following is None:
        body["sync"] = f"t{now}"
    return json_response(body)


QUOTA = {"refusals": 0}


@DEMO.get("/busy")
def busy(principal):
    """Refuses with a quota code on a 403 and no Retry-After (as Google does) while told to."""
    if QUOTA["refusals"] > 0:
        QUOTA["refusals"] -= 1
        DEMO.fail(403, "User Rate Limit Exceeded", "userRateLimitExceeded")
    return json_response({"ok": True})


@DEMO.get("/notes/<nid>/body.txt")
def note_body(principal, nid):
    return Response(DEMO.collection("notes").get(nid)["body"], mimetype="text/plain")


class DemoDialect(OAuthDialect):
    provider, display_name, sandbox_login, prefix = "kitoauth", "Kit OAuth", "ada@example.com", "ko"


class DemoOAuth(Emulation):
    name, prefix = "kitoauth", "/kitoauth"
    dialect = DemoDialect()
    token_ttl = 1234
    client = {"client_id": "kit-client", "client_secret": "kit-secret", "name": "Tributary"}
    limits, reset_header = {None: (100, 60)}, "iso"


OAUTH = DemoOAuth()
OAUTH.oauth_routes("/oauth/authorize", "/oauth/token")


@OAUTH.get("/me")
def oauth_me(principal):
    return json_response({"id": "u1", "login": principal.grant.user, "scopes": principal.scope})


# -- the connector ------------------------------------------------------------------------------------

def note_document(r):
    thread = "\n".join(c["text"] for c in r["_comments"])
    return DocumentData(external_id=r["id"], title=r["title"], content=f"{r['body']}\n{thread}".strip(), type="note")


def folder_readers(api, channel):
    from access.service import Readers

    members = (api.get(f"/folders/{channel}/members") or {}).get("members")
    return Readers.everyone() if members is None else Readers.of(*(("email", m) for m in members))


FOLDER_CHANNELS = Channels("folder", RestStream("/folders", TokenPaginator(("next",), "cursor", "limit"),
                                                records_path=("folders",)),
                           lookup="/folders/{channel}", lookup_path=("folder",), readers=folder_readers)


class DemoConnector(RestConnector):
    catalog = CatalogEntry(type="kitdemo", display_name="Kit demo", category="docs", auth_method="api_key",
                           description="Notes.", docs_url="https://example.com")
    auth = api_key("Authorization", "Bearer ")
    whoami = WhoAmI("/me", ("user",), id="id", handle="email", name="name")
    errors = (OnError(403, code="locked", message="{provider} will not read folder {channel}: {said}"),
              OnError(200, code="not_private", skip=True))
    error_code = staticmethod(lambda body: body.get("error") if isinstance(body, dict) and body.get("ok") is False
                              else None)
    buckets = {"log": RateLimits(requests_per_minute=10)}
    page_size = 2
    streams = (
        StreamSpec("notes", "note", RestStream("/folders/{channel}/notes", TokenPaginator(("next",), "cursor", "limit"),
                                               records_path=("notes",)),
                   document=note_document, channels=FOLDER_CHANNELS,
                   incremental=Incremental.since("updated_since", "updated_at"),
                   list_ids=RestStream("/folders/{channel}/note_ids",
                                       PageNumberPaginator(total_pages=("total_pages",)), records_path=("ids",)),
                   fetch=FetchById("/notes", ids_param="ids", records_path=("notes",)),
                   joins=(Join("_comments", RestStream("/notes/{note}/comments", LinkHeaderPaginator()),
                               args=lambda r: {"note": r["id"]} if r["comments"] else None),)),
        StreamSpec("events", "event", RestStream("/events", NextUrlPaginator(("next",)), records_path=("events",),
                                                 bucket="log"),
                   document=lambda r: DocumentData(external_id=r["id"], title=r["what"], content=r["what"], type="event"),
                   incremental=Incremental.sync_token("sync", ("sync",)), tombstone=lambda r: r.get("deleted", False)),
    )


@pytest.fixture(scope="module")
def demo_sandbox():
    from sandbox import create_app as create_sandbox
    from tests.conftest import LiveServer

    app = create_sandbox({"SEED": 7, "SCALE": 10})
    app.register_blueprint(DEMO.bp)
    app.register_blueprint(OAUTH.bp)
    server = LiveServer(app)
    yield server.url
    server.stop()


@pytest.fixture
def demo(demo_sandbox):
    requests.post(f"{demo_sandbox}/_sandbox/reset", timeout=5)
    connector = DemoConnector(ConnectorSettings("kitdemo", {"api_url": f"{demo_sandbox}/kitdemo"}))
    ctx = SyncContext(connection_id="c", connector_type="kitdemo", credentials={"api_key": KEY}, settings={},
                      limiter=RateLimiter(600))
    return connector, ctx, demo_sandbox


def stream(connector, name):
    return next(s for s in connector.catalog.streams if s.name == name)


def read(connector, ctx, name, channel=None, state=None, mode="full"):
    pages = list(connector.read(ctx, stream(connector, name), state=state, mode=mode, channel=channel))
    return [r for p in pages for r in p.records], pages


def test_the_catalog_comes_from_the_declarations(demo):
    connector, _, _ = demo
    assert [(s.name, s.channel_kind) for s in connector.catalog.streams] == [("notes", "folder"), ("events", None)]
    assert connector.check(KEY).handle == "ada@example.com"


def test_channels_lookups_and_readers(demo):
    connector, ctx, _ = demo
    notes = stream(connector, "notes")
    assert [c.id for c in connector.channels(ctx, notes)] == ["f1", "f2", "f3"]     # cursor pages of 2
    assert connector.channel(ctx, notes, "f2").name == "Board"
    with pytest.raises(ChannelNotFound):
        connector.channel(ctx, notes, "nope")
    assert connector.channel_readers(ctx, notes, "f1").everyone            # a 200 error skipped: public
    assert ("email", "bo@example.com") in connector.channel_readers(ctx, notes, "f2").entries


def test_since_pages_joins_ids_and_fetch_by_id(demo):
    connector, ctx, sandbox = demo
    records, pages = read(connector, ctx, "notes", "f1")
    assert len({r["id"] for r in records}) == len(records) == 5                   # keyset pages of 2, no repeat
    assert pages[-1].state["cursor"] == max(r["updated_at"] for r in records)
    commented = next(r for r in records if r["comments"] == 2)
    assert [c["text"] for c in commented["_comments"]] == ["comment 0", "comment 1"]   # Link pages
    assert "comment 1" in connector.to_document(stream(connector, "notes"), commented).content
    nothing, _ = read(connector, ctx, "notes", "f1", state=pages[-1].state, mode="incremental")
    assert nothing == []
    requests.patch(f"{sandbox}/_sandbox/collections/kitdemo/notes/{records[0]['id']}", json={"title": "Renamed"},
                   timeout=5).raise_for_status()
    changed, _ = read(connector, ctx, "notes", "f1", state=pages[-1].state, mode="incremental")
    assert [r["title"] for r in changed] == ["Renamed"]
    requests.delete(f"{sandbox}/_sandbox/collections/kitdemo/notes/{records[1]['id']}", timeout=5)
    listed = set(connector.list_ids(ctx, stream(connector, "notes"), "f1"))
    assert listed == {r["id"] for r in records} - {records[1]["id"]}
    found = connector.fetch_records(ctx, stream(connector, "notes"), "f1", [records[0]["id"], records[1]["id"]])
    assert [i for i, _ in found] == [records[0]["id"]]


def test_an_error_rule_words_the_providers_refusal(demo):
    connector, ctx, _ = demo
    with pytest.raises(ProviderRefused) as refused:
        read(connector, ctx, "notes", "f3")
    assert refused.value.message == "Kit demo will not read folder f3: This folder is locked by its owner"
    assert refused.value.details["provider_status"] == 403


def test_sync_tokens_tombstones_and_a_rate_bucket(demo):
    connector, ctx, sandbox = demo
    records, pages = read(connector, ctx, "events")
    assert len(records) == 12 and pages[-1].state["cursor"].startswith("t")
    requests.delete(f"{sandbox}/_sandbox/collections/kitdemo/events/3", timeout=5).raise_for_status()
    changed, later = read(connector, ctx, "events", state=pages[-1].state, mode="incremental")
    assert [p.deleted for p in later if p.deleted] == [["3"]] and all(r["id"] != "3" for r in changed)
    expired, again = read(connector, ctx, "events", state={"cursor": "t5"}, mode="incremental")
    assert len(expired) == 11 and again[-1].state["cursor"] != "t5"       # 410: a full listing instead
    bucket = ctx.memo[("kit.client", "log")].limiter
    assert bucket.limiters[1].requests == 3 + 1 + 1 + 3       # its own 10 a minute, beside the connection's
    mid = list(islice(connector.read(ctx, stream(connector, "events"), state=None, mode="full"), 1))[0].state
    assert mid["resume"]["page"] == {"offset": "5", "limit": "5"}         # a page token is parameters


def test_a_declared_quota_code_is_backed_off_and_a_download_is_bytes(demo):
    """``rate_limit_codes``: a 403 whose code says "slow down" is waited out like a 429 (the
    connection's limiter holds back), where an undeclared one is a refusal at once; and
    ``api.download`` reads a body that is not JSON."""
    connector, ctx, sandbox = demo

    class Patient(DemoConnector):
        rate_limit_codes = ("userRateLimitExceeded",)

    QUOTA["refusals"] = 1
    with pytest.raises(ProviderRefused) as refused:
        connector.api(ctx).get("/busy")
    assert refused.value.details["provider_code"] == "userRateLimitExceeded"
    QUOTA["refusals"] = 1
    patient = Patient(connector.settings)
    fresh = SyncContext(connection_id="c", connector_type="kitdemo", credentials={"api_key": KEY}, settings={},
                        limiter=RateLimiter(600))
    assert patient.api(fresh).get("/busy") == {"ok": True}
    assert QUOTA["refusals"] == 0 and fresh.limiter.requests == 2
    assert patient.api(fresh).download("/notes/1/body.txt").decode() in ("plans", "minutes", "ideas")
    # The sandbox kit side: an emulation answers a spent quota with 403 only where it declares so.
    fault = {"kind": "rate_limit", "status": 403}
    assert requests.post(f"{sandbox}/_sandbox/faults", json={"provider": "kitdemo", **fault}, timeout=5).status_code == 400
    assert requests.post(f"{sandbox}/_sandbox/faults", json={"provider": "google_drive", **fault},
                         timeout=5).status_code == 201
class PerFolderConnector(DemoConnector):
    """Notes whose ids are unique only within their folder, fetched one id at a time, counted
    after their comments are joined; and an error in a 200 body worded by the provider."""

    streams = (dataclasses.replace(DemoConnector.streams[0], ids_per_channel=True,
                                   fetch=FetchById("/notes", params={"ids": "{id}"}, records_path=("notes",)),
                                   complete=lambda records, api: [r.update(_thread=len(r["_comments"]))
                                                                  for r in records]),)
    errors = ()
    error_code = staticmethod(lambda body: (body["error"], f"{body['error']}: this folder has no member list")
                              if isinstance(body, dict) and body.get("ok") is False else None)


def test_ids_unique_per_channel_are_prefixed_and_a_page_is_completed_after_its_joins(demo):
    _, ctx, sandbox = demo
    connector = PerFolderConnector(ConnectorSettings("kitdemo", {"api_url": f"{sandbox}/kitdemo"}))
    notes = stream(connector, "notes")
    records, _ = read(connector, ctx, "notes", "f1")
    assert all(r["_channel"] == "f1" and r["_thread"] == len(r["_comments"]) for r in records)
    assert connector.to_document(notes, records[0]).external_id == f"f1:{records[0]['id']}"
    assert set(connector.list_ids(ctx, notes, "f1")) == {f"f1:{r['id']}" for r in records}
    first = records[0]["id"]
    found = connector.fetch_records(ctx, notes, "f1", [f"f1:{first}", f"f2:{first}"])    # f2's is not asked
    assert [(i, r["_thread"]) for i, r in found] == [(f"f1:{first}", records[0]["_thread"])]
    with pytest.raises(ProviderRefused) as refused:
        connector.channel_readers(ctx, notes, "f1")
    assert refused.value.details["provider_code"] == "not_private"
    assert refused.value.message.endswith("not_private: this folder has no member list")


class OAuthDemoConnector(RestConnector):
    catalog = CatalogEntry(type="kitoauth", display_name="Kit OAuth", category="docs", auth_method="oauth_redirect",
                           description="Who.", docs_url="https://example.com")
    auth = oauth_bearer()
    whoami = WhoAmI("/me", id="id", handle="login")


def test_an_oauth_emulation_consents_issues_tokens_and_the_connector_reads_with_them(demo):
    _, _, sandbox = demo
    page = requests.get(f"{sandbox}/kitoauth/oauth/authorize", timeout=5, params={
        "client_id": "kit-client", "response_type": "code", "redirect_uri": "http://127.0.0.1/cb", "scope": "read"})
    assert page.status_code == 200 and "Tributary" in page.text
    minted = requests.post(f"{sandbox}/_sandbox/tokens", json={"provider": "kitoauth", "scope": ["read"]}, timeout=5)
    assert minted.status_code == 201 and minted.json()["access_token"].startswith("ko-at-")
    assert minted.json()["expires_in"] == 1234                     # the emulation's own token lifetime
    connector = OAuthDemoConnector(ConnectorSettings("kitoauth", {"api_url": f"{sandbox}/kitoauth"}))
    assert connector.account(minted.json()["access_token"]).handle == "ada@example.com"
    refused = requests.get(f"{sandbox}/kitoauth/me", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert refused.status_code == 401 and refused.json() == {"error": {"code": 401, "message": "Unauthorized"}}
    answered = requests.get(f"{sandbox}/kitoauth/me", headers={"Authorization": f"Bearer {minted.json()['access_token']}"},
                            timeout=5)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ", answered.headers["x-ratelimit-reset"])   # Atlassian's ISO reset


def test_joins_follow_nested_children_and_may_be_required(demo):
    """``nested``: a comment's replies come from the same listing, under the same key; ``required``:
    a note without comments is not a record of this stream."""
    connector, ctx, _ = demo
    notes = DemoConnector.streams[0]

    class Threads(DemoConnector):
        streams = (dataclasses.replace(notes, name="threads", joins=(dataclasses.replace(
            notes.joins[0], args=lambda r: {"note": r["id"]}, required=True,
            nested=lambda c: {"note": c["id"]} if c.get("replies") else None),)),)
    records, _ = read(Threads(connector.settings), ctx, "threads", "f1")
    every, _ = read(connector, ctx, "notes", "f1")
    assert {r["id"] for r in records} == {r["id"] for r in every if r["comments"]} != {r["id"] for r in every}
    replied = next(c for r in records for c in r["_comments"] if c["replies"])
    assert replied["_comments"] == [{"id": f"{replied['id']}-r", "text": f"reply to {replied['id']}"}]


def test_a_coarse_cursor_hands_its_step_over_again(demo):
    """Edited twice in one day, a note looks the same to a listing that says only the day: a
    newest-first reader drops it as seen, unless its cursor is declared coarse."""
    connector, ctx, sandbox = demo
    listing = RestStream("/recent", TokenPaginator(("next",), "cursor", "limit"), records_path=("notes",))
    seen = {}
    for coarse in (False, True):
        class Recent(DemoConnector):
            streams = (StreamSpec("recent", "note", listing, document=note_document,
                                  incremental=Incremental.newest_first("edited", coarse=coarse)),)
        edit = f"{sandbox}/_sandbox/collections/kitdemo/notes/4"
        requests.patch(edit, json={"title": "Moved today"}, timeout=5).raise_for_status()
        _, pages = read(Recent(connector.settings), ctx, "recent")
        requests.patch(edit, json={"body": "changed again, the same day"}, timeout=5).raise_for_status()
        again, _ = read(Recent(connector.settings), ctx, "recent", state=pages[-1].state, mode="incremental")
        seen[coarse] = [r["id"] for r in again]
    assert seen == {False: [], True: ["4"]}


def test_an_incremental_parameter_may_be_formatted_with_the_run_and_a_lookup_may_be_a_query(demo):
    """``format(cursor, api)`` sees the unit's channel (Jira's JQL names its project); a lookup
    by query digs into a list (``("results", 0)``) and finding nothing is ``ChannelNotFound``."""
    connector, ctx, _ = demo
    asked = []

    def since(cursor, api):
        asked.append((cursor, api.channel))
        return cursor
    spec = connector.spec("notes")
    inc = dataclasses.replace(spec.incremental, format=since)
    by_query = dataclasses.replace(spec.channels, lookup="/search/folders?id={channel}", lookup_path=("results", 0))
    connector.streams = (dataclasses.replace(spec, incremental=inc, channels=by_query), connector.spec("events"))
    records, pages = read(connector, ctx, "notes", "f1")
    read(connector, ctx, "notes", "f1", state=pages[-1].state, mode="incremental")
    assert asked[0] == (None, "f1") and asked[-1] == (pages[-1].state["cursor"], "f1")
    assert connector.channel(ctx, stream(connector, "notes"), "f2").name == "Board"
    with pytest.raises(ChannelNotFound):
        connector.channel(ctx, stream(connector, "notes"), "nope")


@DEMO.get("/notes/<nid>/raw")
def note_raw(principal, nid):
    return f"{DEMO.collection('notes').get(nid)['body']}\n", 200, {"Content-Type": "text/plain"}


class NestedDemoConnector(DemoConnector):
    """A channel id naming two placeholders (``<folder>/<anything>``, as a Teams channel names its
    team and channel), and a sync-token stream whose full listing ends without a token: ``start``
    computes the first changes request from the Api instead."""

    streams = (StreamSpec("folder_notes", "note", RestStream("/folders/{folder}/notes",
                                                             TokenPaginator(("next",), "cursor", "limit"),
                                                             records_path=("notes",)),
                          document=note_document, incremental=Incremental.sync_token(
                              "sync", ("sync",), start=lambda api: f"t{api.args()['folder'] == 'f1' and 1000}",
                              changes=RestStream("/events", NextUrlPaginator(("next",)), records_path=("events",),
                                                 bucket="log"))),)

    def channel_args(self, channel):
        return {"folder": channel.partition("/")[0]}


def test_channel_placeholders_a_computed_start_token_and_raw_downloads(demo):
    _, ctx, _ = demo
    connector = NestedDemoConnector(ConnectorSettings("kitdemo", {"api_url": f"{demo[2]}/kitdemo"}))
    spec = stream(connector, "folder_notes")
    pages = list(connector.read(ctx, spec, state=None, mode="full", channel="f1/anything"))
    assert {r["id"] for p in pages for r in p.records} == {r["id"] for r in read(DemoConnector(
        connector.settings), ctx, "notes", "f1")[0]}                       # {folder} came from the channel id
    assert pages[-1].state == {"cursor": "t1000"}                           # the listing had no token: start's
    changes = list(connector.read(ctx, spec, state=pages[-1].state, mode="incremental", channel="f1/anything"))
    assert changes[-1].state["cursor"].startswith("t") and changes[-1].state["cursor"] != "t1000"
    api = connector.api(ctx, "f1/anything")
    body = api.get("/notes", {"ids": "1"})["notes"][0]["body"]
    assert api.download(api.fill("/notes/1/raw")) == f"{body}\n".encode()        # not JSON: the bytes


class OverDemoConnector(DemoConnector):
    """Every folder's notes as one stream (Jira's sprints, board by board): the listing is read per
    folder the folders' listing names; the locked one has none of the stream's records."""

    streams = (StreamSpec("all_notes", "note", RestStream("/folders/{folder}/notes",
                                                          TokenPaginator(("next",), "cursor", "limit"),
                                                          records_path=("notes",)),
                          document=note_document, list_ids=True,
                          over=Over(FOLDER_CHANNELS.listing, lambda f: None if f["id"] == "f3" else {"folder": f["id"]})),)


def test_a_listing_read_per_parent_checkpoints_each_page_and_resumes_there(demo):
    _, ctx, _ = demo
    connector = OverDemoConnector(ConnectorSettings("kitdemo", {"api_url": f"{demo[2]}/kitdemo"}))
    spec = stream(connector, "all_notes")
    pages = list(connector.read(ctx, spec, state=None, mode="full"))
    everything = [r["id"] for p in pages for r in p.records]
    per_folder = [r["id"] for f in ("f1", "f2") for r in read(DemoConnector(connector.settings), ctx, "notes", f)[0]]
    assert everything == per_folder and len(set(everything)) == 10 and len(pages) == 6     # 5 a folder, 2 a page
    assert [p.last for p in pages] == [False] * 5 + [True] and pages[-1].state == {}
    for stop in range(len(pages) - 1):      # stopped after any page, the pass goes on from there
        rest = connector.read(ctx, spec, state=pages[stop].state, mode="full")
        assert everything[:sum(len(p.records) for p in pages[:stop + 1])] + [r["id"] for p in rest for r in p.records] \
            == everything
    assert set(connector.list_ids(ctx, spec)) == set(everything)


# -- what the GitHub and Pipedrive ports added ---------------------------------------------------------

def locked_out(api, channel):
    api.ctx.memo["asked"] = api.ctx.memo.get("asked", 0) + 1
    raise ReadersUnknown(f"Nobody may say who reads {channel}")


PATTERNED = Channels("folder", FOLDER_CHANNELS.listing, lookup="/folders/{channel}", lookup_path=("folder",),
                     readers=locked_out, pattern=r"f\d")
CURSOR_PAGES = TokenPaginator(("next",), "cursor", "limit")


class PortedDemoConnector(DemoConnector):
    """Folders as a stream of the channels themselves; notes read in full by their plain listing
    (at an API root of the deployment's, ``{root}``), by ``updated_since`` after; fetched one by
    one under ids that are not the provider's; each joined to a folder that is not there."""

    streams = (
        StreamSpec("folders", "folder", FOLDER_CHANNELS.listing, channels=PATTERNED, of_channels=True, list_ids=True,
                   document=lambda r: DocumentData(external_id=r["id"], title=r["name"], content="", type="folder")),
        StreamSpec("notes", "note", RestStream("{root}/folders/{channel}/notes", CURSOR_PAGES, records_path=("notes",)),
                   document=note_document, channels=PATTERNED, key=lambda r: f"note-{r['id']}",
                   incremental=Incremental.since("updated_since", "updated_at", full_listing=timedelta(minutes=5)),
                   fetch=FetchById("/notes/{id}", records_path=("note",), pattern=r"note-\d+",
                                   args=lambda external_id: {"id": external_id.removeprefix("note-")}),
                   joins=(Join("_comments", RestStream("/folders/{folder}", LinkHeaderPaginator()),
                               args=lambda r: {"folder": "gone"}, many=False),)),
    )

    def placeholders(self):
        return {"root": self.settings.api_url}


def requests_to(sandbox, endpoint):
    stats = requests.get(f"{sandbox}/_sandbox/stats", timeout=5).json()["requests"]
    return stats.get("kitdemo", {}).get("endpoints", {}).get(endpoint, 0)


@pytest.fixture
def ported(demo):
    connector, _, sandbox = demo
    ported = PortedDemoConnector(connector.settings)
    # A connection setting cannot point a placeholder of the deployment's elsewhere.
    ctx = SyncContext(connection_id="c", connector_type="kitdemo", credentials={"api_key": KEY},
                      settings={"root": "http://127.0.0.1:9/elsewhere"}, limiter=RateLimiter(600))
    return ported, ctx, sandbox


def test_a_stream_of_channels_channel_patterns_records_and_readers_kept_for_the_run(ported):
    connector, ctx, sandbox = ported
    folders, notes = stream(connector, "folders"), stream(connector, "notes")
    assert [r["id"] for r in read(connector, ctx, "folders")[0]] == ["f1", "f2", "f3"]      # no channel: listed
    assert [r["name"] for r in read(connector, ctx, "folders", "f2")[0]] == ["Board"]       # a channel: looked up
    assert list(connector.list_ids(ctx, folders, "f2")) == ["f2"]
    for channel in (None, "../f1"):     # refused before any request
        with pytest.raises(ValueError, match="read per folder"):
            connector.read(ctx, notes, state=None, mode="full", channel=channel)
    with pytest.raises(ValueError, match="read per folder"):
        connector.channel(ctx, notes, "f1/../f2")
    connector.channels(ctx, notes)
    looked_up = requests_to(sandbox, "GET /kitdemo/folders/<fid>")
    assert connector.channel_record(connector.api(ctx, "f3"), "folder") == {"id": "f3", "name": "Locked"}
    assert requests_to(sandbox, "GET /kitdemo/folders/<fid>") == looked_up          # kept from the listing
    for _ in range(2):
        with pytest.raises(ReadersUnknown):
            connector.channel_readers(ctx, notes, "f1")
    assert ctx.memo["asked"] == 1                   # every stream of the channel is hidden alike, asked once


def test_a_full_listing_then_since_fetch_by_other_ids_and_a_gone_parent(ported):
    connector, ctx, sandbox = ported
    before = datetime.now(timezone.utc)
    records, pages = read(connector, ctx, "notes", "f1")
    assert len(records) == 5 and all(r["_comments"] is None for r in records)   # the folder joined is gone
    assert pages[0].state["resume"]["pass"] == "listing"
    started = pages[0].state["resume"]["started"]
    assert iso_z(before - timedelta(minutes=5, seconds=1)) <= started <= iso_z(datetime.now(timezone.utc))
    assert pages[-1].state == {"cursor": started, "boundary": {}}                  # the next pass starts there
    resumed, _ = read(connector, ctx, "notes", "f1", state=pages[0].state, mode="full")
    assert len(resumed) == 3                       # the rest of the listing pass, from its checkpoint
    requests.patch(f"{sandbox}/_sandbox/collections/kitdemo/notes/{records[2]['id']}", json={"title": "Renamed"},
                   timeout=5).raise_for_status()
    changed, _ = read(connector, ctx, "notes", "f1", state=pages[-1].state, mode="incremental")
    assert [r["title"] for r in changed] == ["Renamed"]
    asked = requests_to(sandbox, "GET /kitdemo/notes/<nid>")
    found = connector.fetch_records(ctx, stream(connector, "notes"), "f1",
                                    [f"note-{records[0]['id']}", "note-999", "bogus"])
    assert [i for i, _ in found] == [f"note-{records[0]['id']}"]
    assert requests_to(sandbox, "GET /kitdemo/notes/<nid>") - asked == 2             # not for "bogus"


def test_offset_pages_overlap_by_at_most_a_fifth_of_a_page():
    pages = OffsetPaginator(overlap=10)
    assert pages.next_token(None, None, {"start": 0, "limit": 500}, [{}] * 500) == {"start": 490}
    assert pages.next_token(None, None, {"start": 0, "limit": 5}, [{}] * 5) == {"start": 4}


def test_a_permissions_pass_skips_content_joins_and_capabilities_are_read_off_the_declarations(demo):
    """``Join.content``: a permissions pass (``content_wanted`` off) reads the listing without the
    join's requests; a required join cannot be content alone. ``capabilities()`` words what the
    declarations do (the README's table is made of it)."""
    connector, ctx, server = demo
    notes = DemoConnector.streams[0]

    class Lean(DemoConnector):
        streams = (dataclasses.replace(notes, joins=(dataclasses.replace(notes.joins[0], content=True),)),
                   DemoConnector.streams[1])
    lean = Lean(connector.settings)
    full, _ = read(lean, ctx, "notes", "f1")
    assert any(r["_comments"] for r in full)
    before = requests.get(f"{server}/_sandbox/stats", timeout=5).json()["requests"]["kitdemo"]["endpoints"]
    records, _ = read(lean, dataclasses.replace(ctx, content_wanted=False), "notes", "f1")
    after = requests.get(f"{server}/_sandbox/stats", timeout=5).json()["requests"]["kitdemo"]["endpoints"]
    assert [r["id"] for r in records] == [r["id"] for r in full] and not any(r["_comments"] for r in records)
    assert {route for route in after if after[route] != before.get(route)} == {
        "GET /kitdemo/folders/<fid>/notes"}
    with pytest.raises(ValueError, match="required join"):
        dataclasses.replace(notes.joins[0], content=True, required=True)

    assert DemoConnector.capabilities() == [
        {"stream": "notes", "changes": "changed since the last run's newest (`updated_since`)",
         "deletions": "an id listing, a full read's unseen records, each confirmed gone by id",
         "readers": "per folder, as the provider shares it"},
        {"stream": "events", "changes": "the provider's change token (removals included)",
         "deletions": "tombstones, the change feed", "readers": "the workspace"}]
    assert DemoConnector.rate_limits_in_words() == "`log` 10/min"
