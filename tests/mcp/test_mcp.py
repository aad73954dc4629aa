"""MCP with the SDK's own client: streamable HTTP against a live server thread, and stdio against
`flask mcp` in a subprocess. Every resource is listed and read (and answers what the REST API
answers), the search tool applies each member's document access, and every error comes back as
an MCP error with a stable code: a bad or revoked key, a missing scope, another workspace's id
(the same not-found as a missing one), invalid parameters, an unknown resource or tool."""
import json
import os
import sys
from contextlib import asynccontextmanager
from datetime import timedelta
from types import SimpleNamespace

import anyio

from tests.running import run
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from access import service as access
from accounts import service as accounts
from accounts.models import ApiKey, User, Workspace
from blueprints.api.endpoints import OpenApiSchema
from connectors.base import DocumentData
from core.extensions import db
from core.timeutil import utcnow
from knowledge import ingest
from sync.models import SyncRun
from tests.conftest import LiveServer
from knowledge.models import Document
from knowledge.query_request import QueryRequest
from tests.factories import Api, add_member, make_api_key, make_connection, make_workspace, user_actor_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONNECTION_TEMPLATES = ["connection://catalog{?kind,category}", "connection://{id}", "connection://{id}/status",
                        "connection://{id}/runs{?limit}"]


@pytest.fixture
def world(app):
    """Acme (Ada, admin; Bob, member) with two connections, 30 runs and three documents (one
    readable by Bob alone); Other, a workspace with a connection and a document of its own."""
    with app.app_context():
        acme, ada = make_workspace("Acme")
        bob = add_member(acme, email="bob@acme.example")
        other, olga = make_workspace("Other")
        now = utcnow()
        deals = make_connection(acme.id, connector_type="pipedrive", name="Deals", created_at=now - timedelta(days=2))
        code = make_connection(acme.id, connector_type="github", name="Code", created_at=now - timedelta(days=1))
        foreign = make_connection(other.id, connector_type="github", name="Theirs")
        db.session.add_all([SyncRun(workspace_id=acme.id, connection_id=code.id, status="completed",
                                    triggered_by="schedule", created_at=now - timedelta(minutes=i),
                                    streams_total=5, records_written=i) for i in range(30)])

        def documents(workspace_id, connection, docs, readers=None):
            scope = ingest.Scope(workspace_id=workspace_id, origin_id=connection.id, connection_id=connection.id,
                                 namespace="github_issues", source="github")
            ingest.upsert(scope, [DocumentData(external_id=e, title=t, content=f"{t}: the quarterly roadmap review.",
                                               type="issue") for e, t in docs],
                          access={e: access.access_id(workspace_id, r) for e, r in (readers or {}).items()})

        documents(acme.id, code, [("everyone", "Roadmap for everyone"), ("bob", "Roadmap Bob may read"),
                                  ("nobody", "Roadmap nobody may read")],
                  {"bob": access.Readers.of(("member", bob.id)), "nobody": access.Readers.nobody()})
        documents(other.id, foreign, [("theirs", "Roadmap of another workspace")])
        db.session.commit()
        doc = {d.external_id: d.id for d in db.session.scalars(db.select(Document))}
        keys = {"ada": make_api_key(acme, ada, ["connections:read", "query"], name="ada"),
                "bob": make_api_key(acme, bob, ["connections:read", "query"], name="bob"),
                "ada_query": make_api_key(acme, ada, ["query"], name="ada query"),
                "sync_only": make_api_key(acme, ada, ["sync"], name="sync only")}
        return SimpleNamespace(keys=keys, deals=deals.id, code=code.id, foreign=foreign.id, doc=doc)


@pytest.fixture
def live(app):
    server = LiveServer(app)
    yield server.url + "/mcp"
    server.stop()
    app.extensions["mcp_http"].close()


@asynccontextmanager
async def over_http(url, key, mode="auto"):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    from mcp.client.streamable_http import streamable_http_client

    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            yield client


def stdio(app, tmp_path, key):
    """`flask mcp` as an MCP client (Claude Desktop) starts it, with the key in its environment
    (and the test app's database, keys and sandbox)."""
    config = app.config
    env = {**os.environ, "TRIBUTARY_API_KEY": key, "TRIBUTARY_DATABASE_URL": config["DATABASE_URL"],
           "TRIBUTARY_FERNET_KEYS": ",".join(config["FERNET_KEYS"]), "TRIBUTARY_SECRET_KEY": "test-secret",
           "TRIBUTARY_SANDBOX_URL": config["SANDBOX_URL"],
           "TRIBUTARY_AUTO_MIGRATE": "false", "TRIBUTARY_INSTANCE_PATH": str(tmp_path / "stdio-instance"),
           "TRIBUTARY_EMBEDDED_WORKERS": "0",
           # Lexical search alone: these documents are not embedded, and loading the model in every
           # subprocess would only cost time (the HTTP test searches with it).
           "TRIBUTARY_EMBEDDING_MODEL": str(tmp_path / "no-model")}
    return Client(StdioServerParameters(command=sys.executable, args=["-m", "flask", "--app", "app", "mcp"],
                                        env=env, cwd=ROOT))


async def refused(call, code: int, data_code: str) -> MCPError:
    with pytest.raises(MCPError) as caught:
        await call
    error = caught.value
    assert (error.code, error.data["code"]) == (code, data_code), (error.code, error.message, error.data)
    return error


def text(result) -> dict:
    (content,) = result.contents
    assert content.mime_type == "application/json"
    return json.loads(content.text)


def is_the_query_model(tool) -> None:
    """The search tool's inputSchema, as the client received it, is ``QueryRequest``'s (the model
    that validates its arguments): every field of the model but ``audit_access``, each with the
    model's schema, inline (no ``$ref`` for the client to resolve) and closed to other fields."""
    model = QueryRequest.model_json_schema(schema_generator=OpenApiSchema)
    schema = tool.input_schema
    assert set(schema["properties"]) == set(QueryRequest.model_fields) - {"audit_access"}
    assert schema["properties"] == {name: prop for name, prop in model["properties"].items() if name != "audit_access"}
    assert (schema["type"], schema["required"], schema["additionalProperties"]) == ("object", ["query"], False)
    assert "$ref" not in json.dumps(schema) and "$defs" not in schema


def found_titles(result) -> set[str]:
    return {r["metadata"]["title"] for r in result.structured_content["results"]}


async def reads_every_resource(client, world, rest: Api):
    """List and read every resource as a connections:read + query key; each read answers what
    the REST API answers."""
    assert [r.uri for r in (await client.list_resources()).resources] == ["connection://catalog", "connection://list"]
    templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
    assert templates == CONNECTION_TEMPLATES + ["document://{id}"]
    (tool,) = (await client.list_tools()).tools
    assert tool.name == "search" and tool.annotations.read_only_hint
    is_the_query_model(tool)

    catalog = text(await client.read_resource("connection://catalog"))["connectors"]
    assert catalog == rest.get("/api/v1/connections/catalog").get_json()["connectors"] and len(catalog) > 30
    crm = text(await client.read_resource("connection://catalog?kind=first_party&category=crm"))["connectors"]
    assert {c["type"] for c in crm} == {c["type"] for c in catalog if c["category"] == "crm"} != set()

    listed = text(await client.read_resource("connection://list"))["connections"]
    assert [c["id"] for c in listed] == [world.code, world.deals]  # newest first, never another workspace's
    assert listed == rest.get("/api/v1/connections").get_json()["connections"]
    assert listed[0]["health"] and listed[0]["last_run"]["records_written"] == 0 and listed[1]["last_run"] is None

    for suffix in ("", "/status", "/runs"):
        uri = f"connection://{world.code}{suffix}"
        assert text(await client.read_resource(uri)) == rest.get(f"/api/v1/connections/{world.code}{suffix}").get_json()
    assert len(text(await client.read_resource(f"connection://{world.code}/runs"))["runs"]) == 25
    assert len(text(await client.read_resource(f"connection://{world.code}/runs?limit=3"))["runs"]) == 3
    assert len(text(await client.read_resource(f"connection://{world.code}/runs?limit=500"))["runs"]) == 30  # capped

    document = text(await client.read_resource(f"document://{world.doc['everyone']}"))
    assert document == rest.get(f"/api/v1/documents/{world.doc['everyone']}").get_json()
    assert document["content"] == "Roadmap for everyone: the quarterly roadmap review." and document["source"] == "github"


async def refuses_bad_reads(client, world):
    """Another workspace's ids are the same not-found as missing ones; bad parameters, unknown
    resources and tools are refused by name."""
    invalid = -32602
    missing = await refused(client.read_resource("connection://conn_doesnotexist"), invalid, "not_found")
    theirs = await refused(client.read_resource(f"connection://{world.foreign}"), invalid, "not_found")
    assert theirs.message == missing.message == "Connection not found."
    for suffix in ("/status", "/runs"):
        await refused(client.read_resource(f"connection://{world.foreign}{suffix}"), invalid, "not_found")
    hidden = await refused(client.read_resource(f"document://{world.doc['nobody']}"), invalid, "document_not_found")
    gone = await refused(client.read_resource("document://doc_doesnotexist"), invalid, "document_not_found")
    foreign_doc = await refused(client.read_resource(f"document://{world.doc['theirs']}"), invalid, "document_not_found")
    assert hidden.message == gone.message == foreign_doc.message

    await refused(client.read_resource(f"connection://{world.code}/runs?limit=many"), invalid, "invalid_limit")
    await refused(client.read_resource("connection://catalog?category=gardening"), invalid, "invalid_category")
    await refused(client.read_resource("connection://catalog?kind=third_party"), invalid, "invalid_kind")
    error = await refused(client.read_resource("connection://list?status=error"), invalid, "unknown_parameter")
    assert error.data["details"] == {"parameter": "status", "allowed": []}
    for uri in ("connection://", "connection://catalog/extra", "slack://general", f"connection://{world.code}/delete"):
        await refused(client.read_resource(uri), invalid, "resource_not_found")
    await refused(client.call_tool("connect", {"connector_type": "github"}), invalid, "unknown_tool")
    await refused(client.call_tool("search", {"query": "roadmap", "limit": 0}), invalid, "invalid_field")
    await refused(client.call_tool("search", {"query": " "}), invalid, "query_required")
    await refused(client.call_tool("search", {"query": "roadmap", "audit_access": True}), invalid, "unknown_field")
    await refused(client.call_tool("search", {"query": "roadmap\u0000"}), invalid, "invalid_string")


def test_streamable_http(app, client, world, live):
    """Every resource, the search tool as two members, and every error, over streamable HTTP."""
    rest = Api(client, world.keys["ada"])
    unauthorized, forbidden = -32010, -32011

    async def main():
        async with over_http(live, world.keys["ada"]) as ada:
            assert ada.protocol_version == "2026-07-28"  # the SDK's client speaks the per-request protocol
            await reads_every_resource(ada, world, rest)
            await refuses_bad_reads(ada, world)
            found = await ada.call_tool("search", {"query": "roadmap", "sources": ["github"]})
            assert found_titles(found) == {"Roadmap for everyone"}
            # What the model (so the schema) takes: one source as a string, null for the default limit.
            assert found_titles(await ada.call_tool("search", {"query": "roadmap", "sources": "github",
                                                               "limit": None})) == {"Roadmap for everyone"}
            assert [link.uri for link in found.content[1:]] == [f"document://{world.doc['everyone']}"]
            await refused(ada.read_resource(f"document://{world.doc['bob']}"), -32602, "document_not_found")
        async with over_http(live, world.keys["bob"], mode="legacy") as bob:  # the 2025 handshake (Claude Desktop)
            assert bob.protocol_version == "2025-11-25"
            assert found_titles(await bob.call_tool("search", {"query": "roadmap"})) == {
                "Roadmap for everyone", "Roadmap Bob may read"}
            assert text(await bob.read_resource(f"document://{world.doc['bob']}"))["title"] == "Roadmap Bob may read"
            await refused(bob.read_resource(f"connection://{world.foreign}"), -32602, "not_found")
        async with over_http(live, world.keys["sync_only"]) as sync_only:
            assert (await sync_only.list_resources()).resources == [] and (await sync_only.list_tools()).tools == []
            error = await refused(sync_only.read_resource("connection://list"), forbidden, "insufficient_scope")
            assert error.data["details"] == {"required_scope": "connections:read", "key_scopes": ["sync"]}
            await refused(sync_only.call_tool("search", {"query": "roadmap"}), forbidden, "insufficient_scope")
        async with over_http(live, world.keys["ada_query"]) as query_only:
            assert [t.uri_template for t in (await query_only.list_resource_templates()).resource_templates] == [
                "document://{id}"]
            await refused(query_only.read_resource(f"connection://{world.code}"), forbidden, "insufficient_scope")
        async with over_http(live, "trb_not-a-key") as stranger:
            await refused(stranger.list_resources(), unauthorized, "invalid_api_key")
            await refused(stranger.read_resource("connection://catalog"), unauthorized, "invalid_api_key")
        async with over_http(live, None) as anonymous:
            error = await refused(anonymous.call_tool("search", {"query": "x"}), unauthorized, "missing_api_key")
            assert "Authorization: Bearer" in error.message

    run(main)


def test_http_endpoint_rules(client):
    """/mcp is POST only (stateless: no event stream, no session to end), refuses a foreign
    Origin and bodies over the API's limit, and leaves every other path to the app."""
    assert client.get("/mcp").status_code == 405 and client.get("/mcp").headers["Allow"] == "POST"
    assert client.delete("/mcp").status_code == 405
    foreign = client.post("/mcp", json={}, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert client.post("/mcp", data=b"x" * (1024 * 1024 + 1), content_type="application/json").status_code == 413
    assert client.get("/mcpx").status_code == 404


def test_stdio(app, world, tmp_path):
    """`flask mcp` serves the same resources, tool and errors, as the key in its environment:
    Bob's (then revoked while the client is connected), and Ada's query-only key."""
    rest = Api(app.test_client(), world.keys["bob"])

    async def as_bob():
        async with stdio(app, tmp_path, world.keys["bob"]) as bob:
            await reads_every_resource(bob, world, rest)
            await refuses_bad_reads(bob, world)
            assert found_titles(await bob.call_tool("search", {"query": "roadmap"})) == {
                "Roadmap for everyone", "Roadmap Bob may read"}
            with app.app_context():
                key = db.session.scalar(db.select(ApiKey).where(ApiKey.name == "bob"))
                ada = db.session.scalar(db.select(User).where(User.email == "acme-admin@example.com"))
                accounts.revoke_api_key(user_actor_for(db.session.get(Workspace, key.workspace_id), ada), key.id)
            await refused(bob.read_resource("connection://list"), -32010, "invalid_api_key")

    async def as_ada():
        async with stdio(app, tmp_path, world.keys["ada_query"]) as ada:
            assert found_titles(await ada.call_tool("search", {"query": "roadmap"})) == {"Roadmap for everyone"}
            await refused(ada.read_resource(f"document://{world.doc['bob']}"), -32602, "document_not_found")
            await refused(ada.read_resource("connection://list"), -32011, "insufficient_scope")

    async def main():
        async with anyio.create_task_group() as both:  # two processes start faster side by side
            both.start_soon(as_bob)
            both.start_soon(as_ada)

    run(main)
