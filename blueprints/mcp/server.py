"""The MCP server: what an MCP client (Claude Desktop, Cursor, an agent) may read.

Built on the official ``mcp`` SDK's low-level ``Server``. One server definition serves both
transports (streamable HTTP at ``/mcp``, ``blueprints.mcp.http``; stdio, ``flask mcp``); they
differ only in where the API key comes from (``Caller``), so resources, the tool and errors are
the same on both.

Exposed (every request authenticates its key; a list shows only what the key's scopes allow):

* ``connection://catalog`` (``?kind=&category=``), ``connection://list``, ``connection://<id>``,
  ``connection://<id>/status``, ``connection://<id>/runs`` (``?limit=``, 25 by default, at most
  100): the reads of specs/connecting-data-sources.md, "Via MCP", with the ``connections:read``
  scope, answering what the REST API answers.
* ``search`` (tool, ``query`` scope): the query API's parameters (``knowledge.search``; its
  ``inputSchema`` is generated from ``QueryRequest``, the model that validates the arguments), with
  the asker's document access applied inside the search, and ``document://<id>`` (``query``): one
  document's content and metadata. A document the key may not read is the same not-found as one
  that does not exist.

No connection writes, by design (see ``INSTRUCTIONS``). Actions (``actions.service``: post a
message, open an issue) are not exposed either, unless a workspace admin chose some of a
connection's actions as MCP tools in its action policy (``mcp_tools``); each such tool, named
``<action>__<connection id>``, needs the ``actions`` scope and obeys the same policy, approvals,
owner rule and idempotency as the REST API (``tools/list`` shows only the exposed ones).

Errors are JSON-RPC errors whose ``data`` carries the API's stable ``code`` (``invalid_api_key``,
``insufficient_scope``, ``not_found``, ``document_not_found``, ``invalid_limit``, ...), its
``details`` and the HTTP status the REST API would answer; see ``mcp_error``.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import anyio
import mcp_types as types
from flask import Flask, current_app
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError

from accounts.service import actor_for_api_key, check_scope
from blueprints.api.endpoints import inline_schema
from connections import service as connections
from connectors import registry
from core import strict_json
from core.actor import Actor
from core.errors import DomainError, NotFound, Unauthorized, ValidationError
from knowledge import documents, search
from knowledge.query_request import QueryRequest

SERVER_NAME = "tributary"

INSTRUCTIONS = """\
Tributary keeps a workspace's SaaS data (GitHub, Pipedrive, X, webhooks, ...) in sync and \
searchable. Everything here is read-only.

- connection://catalog (?kind=first_party&category=crm): the connectors that can be connected, \
with `connectable` and the reason when not.
- connection://list: the workspace's connections, newest first, each with `health` and `last_run`.
- connection://<id>, connection://<id>/status, connection://<id>/runs (?limit=25, at most 100): \
one connection, its sync state, its recent sync runs. Poll the status to watch a sync settle.
- The `search` tool finds documents (semantic and keyword search fused), only those this API \
key may read; read a result in full with document://<id>.

There are no connection writes over MCP, by design: connecting, disconnecting, reconnecting and \
re-attributing a connection are workspace configuration, done by a person in the Tributary \
console or by an application through the REST API. A leaked key driving them through an agent \
would be a confused deputy. Sync cadence is a platform admin's setting and is not here either. \
Report what is connected and how it is doing; ask a person to connect or reconnect a source.

Actions on connected tools (post a message, open an issue) are not here unless a workspace admin exposed some as tools (`<action>__<connection id>`, with the `actions` scope): they obey the connection's policy, and one that needs a person's approval answers `pending_approval` instead of running. Pass `dry_run: true` to see the exact provider requests first.

Errors carry a stable `code` in their data (invalid_api_key, insufficient_scope, not_found, ...)."""

# JSON-RPC codes of the errors that are not about the parameters, in the band JSON-RPC leaves to
# implementations (-32000..-32019; the SDK itself uses -32000 and -32001, never on the wire).
UNAUTHORIZED = -32010
FORBIDDEN = -32011
RATE_LIMITED = -32012

JSON = "application/json"
CONNECTIONS_READ = "connections:read"
QUERY = "query"


def mcp_error(exc: DomainError) -> MCPError:
    """The MCP error for a domain error: a JSON-RPC code by its kind (the key, the scope, the
    parameters or the id: INVALID_PARAMS, as the SDK answers an unknown resource), and in
    ``data`` what the REST API would answer (``code``, ``details``, ``status``)."""
    code = {401: UNAUTHORIZED, 403: FORBIDDEN, 429: RATE_LIMITED}.get(exc.status)
    if code is None:
        code = types.INVALID_PARAMS if 400 <= exc.status < 500 else types.INTERNAL_ERROR
    return MCPError(code, exc.message, {"code": exc.code, "details": exc.details, "status": exc.status})


@dataclass(frozen=True)
class Caller:
    """Who is asking, as a transport sees it: the API key it sent (``None``: none), where from,
    and what to tell someone who sent no key."""

    key: str | None
    client_address: str | None = None
    missing_key_message: str = "Send an API key as `Authorization: Bearer <key>`."


def authenticate(caller: Caller) -> Actor:
    if not caller.key:
        raise Unauthorized(caller.missing_key_message, code="missing_api_key")
    return actor_for_api_key(caller.key, client_address=caller.client_address)


# -- what is exposed ------------------------------------------------------------------------------

def _template(uri_template: str, name: str, title: str, description: str) -> types.ResourceTemplate:
    return types.ResourceTemplate(uri_template=uri_template, name=name, title=title, description=description,
                                  mime_type=JSON)


RESOURCES = (  # (scope, resource)
    (CONNECTIONS_READ, types.Resource(
        uri="connection://catalog", name="catalog", title="Connector catalog", mime_type=JSON,
        description="Every connector that can be connected, with `connectable` (and why not). "
                    "Narrow it with ?kind= and ?category= (connection://catalog{?kind,category}).")),
    (CONNECTIONS_READ, types.Resource(
        uri="connection://list", name="connections", title="Connections", mime_type=JSON,
        description="The workspace's connections, newest first, each with `health` and `last_run`.")),
)

TEMPLATES = (  # (scope, template)
    (CONNECTIONS_READ, _template("connection://catalog{?kind,category}", "catalog-filtered", "Connector catalog",
                                 "The catalog of one kind (first_party) and/or one category (crm, comms, ...).")),
    (CONNECTIONS_READ, _template("connection://{id}", "connection", "Connection",
                                 "One connection: status, health, last run, owner, access mode.")),
    (CONNECTIONS_READ, _template("connection://{id}/status", "connection-status", "Connection status",
                                 "One connection's sync state: status, health, is_syncing, last sync, last error, "
                                 "last run.")),
    (CONNECTIONS_READ, _template("connection://{id}/runs{?limit}", "connection-runs", "Sync runs",
                                 "One connection's sync runs, newest first (limit: 25 by default, at most 100).")),
    (QUERY, _template("document://{id}", "document", "Document",
                      "A document found by `search`: its content and metadata (source, type, author, url, "
                      "dates).")),
)

# The search tool takes the query API's body (``QueryRequest``, which validates its arguments too),
# but for ``audit_access``: an admin reading past document access is not offered to agents.
NOT_FOR_AGENTS = frozenset({"audit_access"})
SEARCH_SCHEMA = inline_schema(QueryRequest, exclude=NOT_FOR_AGENTS)

SEARCH_TOOL = types.Tool(
    name="search", title="Search documents",
    description="Search the workspace's synced documents (Slack, GitHub, CRM, ...) by meaning and by words, "
                "with filters; only documents this API key may read are found. Each result links its "
                "document://<id>, which reads the whole document.",
    input_schema=SEARCH_SCHEMA,
    annotations=types.ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False))


ACTIONS = "actions"
TOOL_EXTRAS = {"dry_run": {"type": "boolean", "default": False,
                           "description": "Only plan: answer the exact provider requests; nothing is sent."},
               "idempotency_key": {"type": "string", "minLength": 1, "maxLength": 200,
                                   "description": "A repeated call with the same key runs once."}}


def action_tools(actor: Actor) -> dict[str, tuple[str, object]]:
    """The actions an admin exposed over MCP in this workspace: tool name -> (connection id, action)."""
    from actions import service as actions
    from actions.models import ActionPolicy
    from connections.models import Connection
    from core.extensions import db

    found = {}
    rows = db.session.execute(db.select(ActionPolicy, Connection).join(
        Connection, Connection.id == ActionPolicy.connection_id).where(
        ActionPolicy.workspace_id == actor.workspace_id, Connection.status != "disconnected"))
    for policy, connection in rows:
        for action in actions.declared(connection):
            if action.name in (policy.mcp or []):
                found[f"{action.name}__{connection.id}"] = (connection.id, action)
    return found


def _action_tool(name: str, connection_id: str, action) -> types.Tool:
    schema = {**action.parameters, "properties": {**action.parameters.get("properties", {}), **TOOL_EXTRAS}}
    return types.Tool(
        name=name, title=f"{action.name} on {connection_id}",
        description=f"{action.description} (connection {connection_id}; provider scope {action.scope}). Obeys the "
                    "connection's action policy: an action that needs approval is stored as pending_approval.",
        input_schema=schema, annotations=types.ToolAnnotations(
            read_only_hint=False, destructive_hint=action.destructive, open_world_hint=action.external))


def run_action_tool(actor: Actor, name: str, arguments: dict) -> dict:
    """An exposed action, as ``POST /api/v1/connections/{id}/actions`` runs it (policy, owner,
    approval, idempotency); a tool no longer exposed is the unknown tool it now is."""
    from actions import service as actions

    check_scope(actor, ACTIONS)
    exposed = action_tools(actor).get(name)
    if exposed is None:
        raise NotFound(f"There is no tool {name!r}: see tools/list.", code="unknown_tool", details={"name": name})
    connection_id, action = exposed
    arguments = strict_json.loads(json.dumps(arguments))
    dry_run, key = arguments.pop("dry_run", False), arguments.pop("idempotency_key", None)
    if not isinstance(dry_run, bool):
        raise ValidationError("dry_run is true or false.", code="invalid_field", details={"field": "dry_run"})
    answer, _status = actions.execute(actor, connection_id, actions.Routed(action.name, arguments),
                                      dry_run=dry_run, idempotency_key=key)
    return answer


def _visible(actor: Actor, entries) -> list:
    return [entry for scope, entry in entries if actor.has_scope(scope)]


# -- reading a resource ---------------------------------------------------------------------------

def _params(uri: str, query: str, allowed: tuple[str, ...]) -> dict[str, str | None]:
    """A resource URI's query parameters; a name the resource does not take is refused by name."""
    values: dict[str, str | None] = dict.fromkeys(allowed)
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in allowed:
            takes = f"takes {' and '.join(allowed)}" if allowed else "takes no parameters"
            raise ValidationError(f"{uri.split('?')[0]} {takes}, not {name!r}.", code="unknown_parameter",
                                  details={"parameter": name, "allowed": list(allowed)})
        values[name] = value or None
    return values


@dataclass(frozen=True)
class Read:
    """What a resource URI asks for: the scope it needs, the query parameters it takes, and the
    read that answers it (given the actor and those parameters)."""

    scope: str
    parameters: tuple[str, ...]
    answer: Callable[[Actor, dict], dict]


def route(uri: str) -> tuple[Read, str]:
    """The read a resource URI names, and its query string; an URI that names no resource is
    ``resource_not_found`` (a missing or another workspace's id is found out by the read)."""
    parts = urlsplit(uri) if uri.isascii() and uri.isprintable() and " " not in uri else None
    if parts is None or not parts.netloc or parts.fragment:
        raise _no_resource(uri)
    scheme, name, path = parts.scheme, parts.netloc, parts.path
    read = None
    if scheme == "connection" and name == "catalog" and not path:
        read = Read(CONNECTIONS_READ, ("kind", "category"), lambda actor, p: {
            "connectors": registry.catalog(current_app.config, p["category"], p["kind"])})
    elif scheme == "connection" and name == "list" and not path:
        read = Read(CONNECTIONS_READ, (), lambda actor, p: {
            "connections": connections.find(actor, paged=False, count=False)["connections"]})
    elif scheme == "connection" and not path:
        read = Read(CONNECTIONS_READ, (), lambda actor, p: connections.serialize(connections.get(actor, name)))
    elif scheme == "connection" and path == "/status":
        read = Read(CONNECTIONS_READ, (), lambda actor, p: connections.status(actor, name))
    elif scheme == "connection" and path == "/runs":
        read = Read(CONNECTIONS_READ, ("limit",), lambda actor, p: connections.runs(actor, name, p["limit"]))
    elif scheme == "document" and not path:
        read = Read(QUERY, (), lambda actor, p: documents.get_document(actor, name))
    if read is None:
        raise _no_resource(uri)
    return read, parts.query


def read_resource(actor: Actor, uri: str) -> dict:
    """Answer a resource URI: the key's scope first, then the parameters, then the read."""
    read, query = route(uri)
    check_scope(actor, read.scope)
    return read.answer(actor, _params(uri, query, read.parameters))


def _no_resource(uri: str) -> NotFound:
    return NotFound("There is no such resource: see resources/list and resources/templates/list.",
                    code="resource_not_found", details={"uri": uri})


# -- the search tool ------------------------------------------------------------------------------

def run_search(actor: Actor, arguments: dict) -> dict:
    """The query API's search (``knowledge.search``) with the same input rules as its body.

    ``audit_access`` (an admin reading past document access) is not offered to agents."""
    allowed = SEARCH_SCHEMA["properties"]
    unknown = sorted(set(arguments) - set(allowed))
    if unknown:
        raise ValidationError(f"Unknown field: {unknown[0]}.", code="unknown_field",
                              details={"field": unknown[0], "allowed": sorted(allowed)})
    # What JSON-RPC parsed leniently (NaN, NUL, lone surrogates, deep nesting) is refused as the
    # API refuses it in a body.
    arguments = strict_json.loads(json.dumps(arguments))
    return search.run_query(actor, search.parse(arguments), via="mcp")


def _search_result(found: dict) -> types.CallToolResult:
    """The query response as structured content and as text, plus a link to each result's
    document resource (how an agent reads one in full)."""
    links = [types.ResourceLink(type="resource_link", uri=f"document://{r['id']}", name=r["id"],
                                title=r["metadata"].get("title") or None, mime_type=JSON)
             for r in found["results"]]
    return types.CallToolResult(content=[types.TextContent(type="text", text=_json(found)), *links],
                                structured_content=found)


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -- the server -----------------------------------------------------------------------------------

def build_server(app: Flask, caller_of: Callable[[ServerRequestContext], Caller]) -> Server:
    """The MCP server over ``app``'s domain code. ``caller_of`` tells, per request, the key the
    transport received. Each request runs on a worker thread in an app context of its own (the
    domain code is synchronous: database, embedding model)."""

    async def in_app(ctx: ServerRequestContext, work: Callable[[Actor], object]):
        caller = caller_of(ctx)

        def run():
            with app.app_context():
                try:
                    return work(authenticate(caller))
                except DomainError as exc:
                    raise mcp_error(exc) from None

        return await anyio.to_thread.run_sync(run)

    async def list_resources(ctx, params) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=await in_app(ctx, lambda actor: _visible(actor, RESOURCES)))

    async def list_resource_templates(ctx, params) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=await in_app(ctx, lambda actor: _visible(actor, TEMPLATES)))

    async def read(ctx, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        found = await in_app(ctx, lambda actor: read_resource(actor, params.uri))
        return types.ReadResourceResult(contents=[
            types.TextResourceContents(uri=params.uri, mime_type=JSON, text=_json(found))])

    async def list_tools(ctx, params) -> types.ListToolsResult:
        def tools(actor):
            exposed = action_tools(actor) if actor.has_scope(ACTIONS) else {}
            return [*_visible(actor, [(QUERY, SEARCH_TOOL)]),
                    *(_action_tool(name, connection_id, action) for name, (connection_id, action) in exposed.items())]
        return types.ListToolsResult(tools=await in_app(ctx, tools))

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        def call(actor):
            if params.name != SEARCH_TOOL.name:
                if "__conn_" in params.name:
                    return None, run_action_tool(actor, params.name, dict(params.arguments or {}))
                raise NotFound(f"There is no tool {params.name!r}: see tools/list.", code="unknown_tool",
                               details={"name": params.name})
            check_scope(actor, QUERY)
            return run_search(actor, dict(params.arguments or {})), None

        found, acted = await in_app(ctx, call)
        if acted is not None:
            return types.CallToolResult(content=[types.TextContent(type="text", text=_json(acted))],
                                        structured_content=acted)
        return _search_result(found)

    return Server(
        SERVER_NAME, version=_version(), title="Tributary",
        description="The workspace's connections, their health and sync runs, and search over its synced "
                    "documents; read-only unless an admin exposes actions as tools. No connection writes over MCP, "
                    "by design.",
        instructions=INSTRUCTIONS,
        get_tool_input_schema=lambda name: SEARCH_TOOL.input_schema if name == SEARCH_TOOL.name else None,
        on_list_resources=list_resources, on_list_resource_templates=list_resource_templates,
        on_read_resource=read, on_list_tools=list_tools, on_call_tool=call_tool)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tributary")
    except PackageNotFoundError:  # a checkout run without installing it
        return ""
