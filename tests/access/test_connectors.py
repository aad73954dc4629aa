"""Who may read what each connector syncs (issue #13, "Existing connectors"), end to end: real
syncs from the provider sandbox over HTTP into the real database, then each member's queries,
document listings and reads.

GitHub in the ``source`` access mode: a private repository is read by its collaborators and the
members of its teams (matched to members through verified identity links), a public one by the
whole workspace; a revoked collaborator stops reading after one permissions pass, which embeds
nothing again; a repository whose collaborators the token may not list is hidden from everyone
and the run says so. Pipedrive honours each record's ``visible_to``; a custom webhook delivery
may name its readers. (A personal connection's documents being its owner's is
tests/access/test_matrix.py's and, for Gmail end to end, tests/connectors/test_gmail_sync.py's;
Google Workspace's readers are tests/connectors/test_google_workspace_sync.py's.)
"""
import hashlib
import hmac
import json
import time
from dataclasses import replace

import pytest
import requests
from sqlalchemy import select

from access import service as access
from access.models import GroupMember
from connections.models import Connection
from connectors.github import GitHubConnector, team_key
from core.extensions import db
from knowledge import embedding_queue
from knowledge.models import Chunk, Document
from sandbox.seed import SeedData
from sync import service as sync_service
from sync import worker
from tests.factories import Api, add_member, make_api_key
from tests.oauth_helpers import consent, local_path


def _seeded():
    """Repositories and GitHub identities from the sandbox's own seeded data (SEED 42, SCALE 25,
    as tests/conftest.py serves it): a private repository of the signed-in user and one of its
    collaborators on no other repository synced here (Cara's GitHub account), a collaborator of
    another private repository only (Bob's), and a member of team ``core`` who is no direct
    collaborator anywhere (Dana's)."""
    gh = SeedData(42, 25).github
    private = [r for r in gh.repos() if r["private"]]
    repo = next(r for r in private if len(gh.grants(r)) > 2)
    elsewhere = {p for r in private if r is not repo for p in gh.grants(r)}
    cara = next(p for p in gh.grants(repo) if p and p not in elsewhere)
    other = next(r for r in private if r is not repo and not set(gh.grants(r)) - {0} & set(gh.grants(repo)))
    bob = next(p for p in gh.grants(other) if p)
    direct = {p for r in gh.repos() + list(gh.org_repos().values()) for p in gh.grants(r)}
    dana = next(p for p in gh.team("core")["members"] if p not in direct | set(gh.ORG_OWNERS))
    return repo["full_name"], gh.people[cara], gh.people[bob], gh.people[dana]


PRIVATE, CARA_GH, BOB_GH, DANA_GH = _seeded()
PLATFORM = "tributary-labs/platform"     # private, read through teams core and docs
VAULT = "tributary-labs/vault"           # private, the token may not list its collaborators (403)
PUBLIC = "octo-sandbox/tributary-demo"   # public
REPOS = (PRIVATE, PLATFORM, VAULT, PUBLIC)


@pytest.fixture
def members(app, client, workspace):
    """Ada (admin), Bob, Cara and Dana, each with a member API key."""
    with app.app_context():
        ws, ada = (db.session.merge(x) for x in workspace)
        people = {"ada": ada}
        for name in ("bob", "cara", "dana"):
            people[name] = add_member(ws, email=f"{name}@acme.example")
        ids = {name: user.id for name, user in people.items()}
        keys = {name: make_api_key(ws, user, scopes=["admin"] if name == "ada" else ["query", "connections:read"],
                                   name=name) for name, user in people.items()}
        ids["ws"] = ws.id
        db.session.remove()
    return ids, {name: Api(client, key) for name, key in keys.items()}


def link(app, workspace_id, user_id, kind, value):
    """A verified identity link, as the member's own OAuth sign-in to the provider records it."""
    with app.app_context():
        access.link_identity(workspace_id, user_id, kind, value, verified_via="oauth:test")
        db.session.commit()
        db.session.remove()


def drain(app, connection_id, mode):
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        run = sync_service.enqueue_unless_pending(connection, mode=mode, triggered_by="schedule")
        db.session.commit()
        run_id = run.id
        db.session.remove()
    assert worker.drain(app) == [run_id]
    return run_id


def run_of(api, connection_id, run_id):
    return next(r for r in api.get(f"/api/v1/connections/{connection_id}/runs").json["runs"] if r["id"] == run_id)


def repos_listed(api, source="github"):
    """The repositories whose documents the asker lists (and may read)."""
    documents = api.get(f"/api/v1/documents?source={source}&limit=500").json["documents"]
    return {d["external_id"].split("#")[0] for d in documents}


def repos_found(api, query="the", **params):
    answer = api.post("/api/v1/query", json={"query": query, "sources": ["github"], "limit": 100, **params})
    assert answer.status_code == 200, answer.get_json()
    return {r["metadata"]["external_id"].split("#")[0] for r in answer.get_json()["results"]}


@pytest.fixture
def github(app, members, monkeypatch):
    """A GitHub connection (source access mode, the default for GitHub) syncing four
    repositories' repository and issue streams, after a first full sync; Cara, Bob and Dana
    are linked to their GitHub accounts."""
    ids, apis = members
    streams = tuple(s for s in GitHubConnector.catalog.streams if s.name in ("repositories", "issues"))
    monkeypatch.setattr(GitHubConnector, "catalog", replace(GitHubConnector.catalog, streams=streams))
    started = apis["ada"].post("/api/v1/connections", json={"connector_type": "github"}).json
    assert started["connection"]["access_mode"] == "source"
    assert apis["ada"].client.get(local_path(consent(started["authorize_url"]))).status_code == 200
    connection_id = started["connection"]["id"]
    with app.app_context():
        db.session.get(Connection, connection_id).settings = {"channels": list(REPOS)}
        db.session.commit()
        db.session.remove()
    link(app, ids["ws"], ids["cara"], "provider_user", f"github:{CARA_GH['id']}")
    link(app, ids["ws"], ids["bob"], "provider_user", f"github:{BOB_GH['id']}")
    link(app, ids["ws"], ids["dana"], "provider_user", f"github:{DANA_GH['id']}")
    run_id = drain(app, connection_id, "full")
    return connection_id, run_id


def github_token(sandbox_server):
    minted = requests.post(f"{sandbox_server.url}/_sandbox/tokens",
                           json={"provider": "github", "scope": "repo read:org"}, timeout=5).json()
    return {"Authorization": f"Bearer {minted['access_token']}", "Accept": "application/vnd.github+json"}


def test_a_private_repository_is_read_by_its_collaborators_and_a_public_one_by_everyone(app, members, github):
    ids, apis = members
    assert repos_listed(apis["cara"]) == {PRIVATE, PUBLIC}
    assert repos_listed(apis["bob"]) == {PUBLIC}          # a collaborator elsewhere, not here
    assert repos_listed(apis["ada"]) == {PUBLIC}          # an admin reads what the source lets her
    # the search answers the same: Cara finds the private repository's issues, Bob does not
    assert PRIVATE in repos_found(apis["cara"]) and PRIVATE not in repos_found(apis["bob"])
    assert PUBLIC in repos_found(apis["bob"])
    with app.app_context():
        private_doc = db.session.scalar(select(Document.id).where(Document.channel == PRIVATE,
                                                                  Document.type == "issue").limit(1))
        db.session.remove()
    assert apis["cara"].get(f"/api/v1/documents/{private_doc}").status_code == 200
    assert apis["bob"].get(f"/api/v1/documents/{private_doc}").status_code == 404


def test_a_team_with_access_grants_its_members(app, members, github):
    ids, apis = members
    connection_id, _ = github
    assert repos_listed(apis["dana"]) == {PLATFORM, PUBLIC}
    core = team_key(connection_id, "tributary-labs", "core")
    with app.app_context():
        platform = db.session.scalar(select(Document).where(Document.channel == PLATFORM).limit(1))
        assert ("provider_group", core) in access.readers_of(platform.access_id).entries
        # the team's members as GitHub lists them, refreshed by the run
        listed = set(db.session.scalars(select(GroupMember.member_value).where(GroupMember.group_key == core)))
        assert f"github:{DANA_GH['id']}" in listed
        db.session.remove()


def test_a_revoked_collaborator_stops_reading_after_one_permissions_pass_with_nothing_embedded_again(
        app, members, github, sandbox_server):
    ids, apis = members
    connection_id, _ = github
    embedding_queue.drain_embeddings(app)
    with app.app_context():
        docs = db.session.scalars(select(Document).where(Document.channel == PRIVATE)).all()
        before = {d.id: (d.content_hash, d.updated_at) for d in docs}
        chunks = {(c.id, c.embedded_at) for c in db.session.scalars(
            select(Chunk).where(Chunk.document_id.in_(list(before))))}
        db.session.remove()
    assert chunks and all(embedded for _, embedded in chunks)
    assert PRIVATE in repos_found(apis["cara"])

    owner, name = PRIVATE.split("/")
    revoked = requests.delete(f"{sandbox_server.url}/github/api/repos/{owner}/{name}/collaborators/{CARA_GH['login']}",
                              headers=github_token(sandbox_server), timeout=5)
    assert revoked.status_code == 204
    issues_read = _requests(sandbox_server, ISSUE_LISTINGS)
    assert issues_read
    run_id = drain(app, connection_id, "permissions")

    run = run_of(apis["ada"], connection_id, run_id)
    assert run["status"] == "completed" and run["mode"] == "permissions" and run["records_written"] == 0
    assert PRIVATE not in repos_listed(apis["cara"]) and PRIVATE not in repos_found(apis["cara"])
    assert PRIVATE not in repos_found(apis["cara"], query="issue", types=["issue"])
    # the pass regranted in bulk: no issue was read again, no chunk cut or embedded again
    assert _requests(sandbox_server, ISSUE_LISTINGS) == issues_read
    with app.app_context():
        docs = db.session.scalars(select(Document).where(Document.channel == PRIVATE)).all()
        assert {d.id: (d.content_hash, d.updated_at) for d in docs} == before
        assert not any(d.needs_chunking for d in docs)
        assert {(c.id, c.embedded_at) for c in db.session.scalars(
            select(Chunk).where(Chunk.document_id.in_(list(before))))} == chunks
        db.session.remove()


def test_a_repository_whose_collaborators_cannot_be_listed_is_hidden_and_the_run_says_so(app, members, github):
    ids, apis = members
    connection_id, run_id = github
    for name in ("ada", "bob", "cara", "dana"):
        assert VAULT not in repos_listed(apis[name])
    with app.app_context():
        stored = db.session.scalars(select(Document).where(Document.channel == VAULT)).all()
        assert stored and all(access.readers_of(d.access_id) == access.Readers.nobody() for d in stored)
        db.session.remove()
    run = run_of(apis["ada"], connection_id, run_id)
    assert run["status"] == "completed" and run["streams_failed"] == 0
    assert run["records_hidden"] == len(stored)
    hidden = [u for u in run["hidden_units"] if u["channel"] == VAULT]
    assert {u["stream"] for u in hidden} == {"repositories", "issues"}
    assert all(u["error_code"] == "READERS_UNKNOWN" and "Must have push access" in u["error_message"]
               and u["error_details"]["provider_status"] == 403 for u in hidden)
    # the console's connection page says it too
    console = app.test_client()
    with console.session_transaction() as session:
        session["user_id"], session["workspace_id"] = ids["ada"], ids["ws"]
    page = console.get(f"/connections/{connection_id}").get_data(as_text=True)
    assert f"{len(stored):,} records hidden from every member" in page
    assert "Must have push access to view repository collaborators" in page
    # a permissions pass keeps them hidden and says so again, counting what it hid
    run = run_of(apis["ada"], connection_id, drain(app, connection_id, "permissions"))
    assert run["records_hidden"] == len(stored) and VAULT not in repos_listed(apis["ada"])


def test_public_repositories_are_workspace_wide_even_for_a_service_key(app, members, github):
    from accounts import service as accounts
    from tests.factories import user_actor_for

    ids, apis = members
    with app.app_context():
        from accounts.models import User, Workspace

        ws, ada = db.session.get(Workspace, ids["ws"]), db.session.get(User, ids["ada"])
        _, key = accounts.create_api_key(user_actor_for(ws, ada), name="exporter", scopes=["query"], kind="service")
        db.session.remove()
    service = Api(apis["ada"].client, key)
    assert repos_found(service) == {PUBLIC}


ISSUE_LISTINGS = "GET /github/api/repos/<owner>/<repo>/issues"   # the sandbox counts per route


def _requests(server, endpoint):
    stats = requests.get(f"{server.url}/_sandbox/stats", timeout=5).json()["requests"]
    return stats.get("github", {}).get("endpoints", {}).get(endpoint, 0)


# -- Pipedrive: each record's visible_to --------------------------------------------------------

PIPEDRIVE = SeedData(42, 25).pipedrive
OWNER = PIPEDRIVE.users[3]         # a salesperson (not an admin) who owns owner-only deals
ADMIN = PIPEDRIVE.users[0]         # the key's user, the company's admin


def deals_by(visible, owner=None):
    return {str(i) for i in range(1, PIPEDRIVE.scale + 1)
            if PIPEDRIVE.deal(i)["visible"] == visible and owner in (None, PIPEDRIVE.deal(i)["owner"]["id"])}


def listed(api, namespace):
    documents = api.get(f"/api/v1/documents?namespace={namespace}&limit=500").json["documents"]
    return {d["external_id"] for d in documents}


@pytest.fixture
def pipedrive(app, client, members):
    """A Pipedrive connection (source access mode, its default) after a full sync. Erin's
    account e-mail is a salesperson's Pipedrive e-mail, Pat's the admin's."""
    ids, apis = members
    with app.app_context():
        from accounts.models import Workspace

        ws = db.session.get(Workspace, ids["ws"])
        for name, email in (("erin", OWNER["email"]), ("pat", ADMIN["email"])):
            user = add_member(ws, email=email)
            apis[name] = Api(client, make_api_key(ws, user, scopes=["query", "connections:read"], name=name))
        db.session.remove()
    connected = apis["ada"].post("/api/v1/connections", json={"connector_type": "pipedrive",
                                                              "api_key": "sandbox-pipedrive-key"})
    assert connected.status_code == 201, connected.json
    connection = connected.json["connection"]
    assert connection["access_mode"] == "source"
    drain(app, connection["id"], "full")
    return connection["id"]


def test_an_owner_only_deal_is_read_by_its_owner_by_e_mail_and_the_companys_admins(app, members, pipedrive):
    ids, apis = members
    everyone, own = deals_by(3), deals_by(1, OWNER["id"])
    assert own and deals_by(1) - own          # owner-only deals of Erin's and of others
    assert listed(apis["erin"], "pipedrive_deals") == everyone | own
    assert listed(apis["bob"], "pipedrive_deals") == everyone
    assert listed(apis["pat"], "pipedrive_deals") == everyone | deals_by(1)   # Pipedrive admins read all
    found = apis["bob"].post("/api/v1/query", json={"query": PIPEDRIVE.deal(int(min(own)))["title"],
                                                    "sources": ["pipedrive"], "limit": 50}).json["results"]
    assert not {r["metadata"]["external_id"] for r in found} & own
    # activities are read by whoever reads every item they are linked to (here: their deal)
    activities = {str(i): str(PIPEDRIVE.activity(i)["deal"]["id"]) for i in range(1, PIPEDRIVE.scale + 1)}
    assert listed(apis["bob"], "pipedrive_activities") == {a for a, deal in activities.items() if deal in everyone}
    # leads by their own visible_to (a string in v1)
    leads = {PIPEDRIVE.lead(i)["id"]: PIPEDRIVE.lead(i) for i in range(1, PIPEDRIVE.scale + 1)}
    assert listed(apis["bob"], "pipedrive_leads") == {k for k, lead in leads.items() if lead["visible"] == 3}


def test_a_deal_made_owner_only_at_the_source_is_hidden_from_others_after_the_next_sync(app, members, pipedrive,
                                                                                        sandbox_server):
    ids, apis = members
    deal = min(deals_by(3) - {d for d in deals_by(3) if PIPEDRIVE.deal(int(d))["owner"]["id"] == OWNER["id"]})
    assert deal in listed(apis["erin"], "pipedrive_deals")
    changed = requests.put(f"{sandbox_server.url}/pipedrive/api/v1/deals/{deal}", json={"visible_to": 1},
                           headers={"x-api-token": "sandbox-pipedrive-key"}, timeout=5)
    assert changed.status_code == 200 and changed.json()["data"]["visible_to"] == "1"
    drain(app, pipedrive, "incremental")
    assert deal not in listed(apis["erin"], "pipedrive_deals") | listed(apis["bob"], "pipedrive_deals")
    assert deal in listed(apis["pat"], "pipedrive_deals")


def test_pipedrive_visibility_values_by_plan_are_mapped_conservatively():
    """1, 3 and 5 narrow to the owner and the admins where the company has visibility groups
    (or will not list them); 3 and 5 are the whole company where it has one; 7 always; a missing
    value is unknown (the record is hidden)."""
    from connectors.pipedrive import _Item, _Lookups

    lookups = _Lookups.__new__(_Lookups)
    lookups.once = {"users": {1: {"name": "A", "email": "Admin@x.example", "admin": True},
                              2: {"name": "O", "email": "owner@x.example", "admin": False}}}
    narrow = [["email", "admin@x.example"], ["email", "owner@x.example"],
              ["provider_user", "pipedrive:1"], ["provider_user", "pipedrive:2"]]
    for groups, expected in ((False, {1: narrow, 3: "company", 5: "company", 7: "company"}),
                             (True, {1: narrow, 3: narrow, 5: narrow, 7: "company"}),
                             (None, {1: narrow, 3: narrow, 5: narrow, 7: "company"})):
        lookups.once["groups"] = groups
        assert {v: lookups.readers(v, 2) for v in (1, 3, 5, 7)} == expected
        assert lookups.readers("1", 2) == narrow and lookups.readers(None, 2) is None
    lookups.once["groups"] = False
    # an activity: the intersection of its linked items' readers
    open_deal, own_deal = _Item("Open", 2, 3), _Item("Own", 2, 1)
    assert lookups.activity_readers({"owner_id": 2}, [open_deal, open_deal]) == "company"
    assert lookups.activity_readers({"owner_id": 2}, [open_deal, own_deal]) == narrow
    assert lookups.activity_readers({"owner_id": 2}, [_Item("Admin's", 1, 1), own_deal]) == [
        ["email", "admin@x.example"], ["provider_user", "pipedrive:1"]]
    assert lookups.activity_readers({"owner_id": 2}, [None]) == narrow   # a linked item that is gone


# -- Custom webhook: workspace-wide unless a delivery names readers --------------------------------

def deliver(client, hook, payload):
    from connections.webhooks import sign

    connection_id, secret = hook
    body = json.dumps(payload).encode()
    return client.post(f"/webhooks/{connection_id}", data=body,
                       headers={"Content-Type": "application/json", "Tributary-Signature": sign(secret, body)})


@pytest.fixture
def hook(members):
    ids, apis = members
    body = apis["ada"].post("/api/v1/connections", json={"connector_type": "webhook", "name": "Billing"}).json
    assert body["connection"]["access_mode"] == "source"
    return body["connection"]["id"], body["signing_secret"]


def test_a_webhook_delivery_may_name_its_readers(app, client, members, hook):
    ids, apis = members
    accepted = deliver(client, hook, [
        {"id": "evt_public", "title": "Invoice paid", "content": "Invoice 7 for Globex was paid."},
        {"id": "evt_bob", "title": "Salary review", "content": "Salary review notes for Globex.",
         "readers": [f"member:{ids['bob']}"]},
        {"id": "evt_cara", "title": "Contract", "content": "The Globex contract draft.",
         "readers": ["email:CARA@acme.example"]}])
    assert accepted.status_code == 202, accepted.json
    worker.drain(app)
    seen = {name: listed(apis[name], "webhook_events") for name in ("ada", "bob", "cara", "dana")}
    assert seen == {"ada": {"evt_public"}, "bob": {"evt_public", "evt_bob"}, "cara": {"evt_public", "evt_cara"},
                    "dana": {"evt_public"}}
    found = apis["dana"].post("/api/v1/query", json={"query": "Globex", "sources": ["webhook"]}).json["results"]
    assert [r["metadata"]["external_id"] for r in found] == ["evt_public"]
    # who may read it is not shown to the readers either
    evt = next(d for d in apis["bob"].get("/api/v1/documents?namespace=webhook_events").json["documents"]
               if d["external_id"] == "evt_bob")
    assert "readers" not in json.dumps(apis["bob"].get(f"/api/v1/documents/{evt['id']}").json)


@pytest.mark.parametrize("readers", [[], ["somebody"], "member:x", ["member:"], [f"member:{'x' * 400}"], {"a": 1}])
def test_a_delivery_naming_bad_readers_is_refused_and_nothing_is_stored(app, client, members, hook, readers):
    from connections.models import WebhookDelivery

    refused = deliver(client, hook, [{"id": "ok"}, {"id": "bad", "readers": readers}])
    assert refused.status_code == 422
    error = refused.json["error"]
    assert error["code"] == "invalid_readers" and error["details"] == {"field": "readers", "index": 1}
    assert "member:<user id>" in error["message"] or "at most" in error["message"]
    single = deliver(client, hook, {"id": "bad", "readers": readers})
    assert single.status_code == 422 and single.json["error"]["details"] == {"field": "readers"}
    with app.app_context():
        assert db.session.scalar(select(WebhookDelivery.id).limit(1)) is None
        db.session.remove()

