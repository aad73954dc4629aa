"""GraphQL providers on the connector kit: a listing's "path" is the name of a query.

A GraphQL API has one endpoint and one method; what a REST API says with paths it says with
query documents and variables. So a :class:`GraphQLConnector` declares its documents once, by
name (``queries``), and its streams, channels, fetches and ``whoami`` name them where a REST
connector names a path: ``RestStream("TeamIssues", cursor(...), params={"team": "{channel}"})``.
Each request is ``POST`` of ``{"query": queries[name], "variables": params}`` to ``api_url``,
retried like a GET (a query only reads); a name may carry variables as a query string
(``"Team?id={channel}"``, for channel lookups). Page tokens, page sizes and incremental filters
are variables like any other parameter, so every reader of ``connectors.rest`` applies as is.

The Relay connections a stream reads are declared, not written out: :func:`relay_query` writes a
listing's document (``first``/``after``, ``nodes``, ``pageInfo``), :func:`relay` its listing,
:func:`node` the fetch of one record by id, and :func:`rest_of` / :func:`nodes_of` the pages of a
connection a record carries inline past its first (an issue's comments). :func:`relay_queries` and
:func:`relay_stream` declare a whole stream on them: its listing, its id listing and its fetch.

GraphQL answers errors inside a 200 body (``{"errors": [{"message", "extensions": {"code"}}]}``):
:func:`graphql_error` reads the first one's code (``extensions.code``) and message for the
kit's ``OnError`` rules.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl

from .kit import Api, FetchById, Join, RestConnector, StreamSpec
from .rest import RestStream, TokenPaginator, dig

PAGE_INFO = "pageInfo { hasNextPage endCursor }"


def cursor(*connection: str, page_size_param: str = "first") -> TokenPaginator:
    """Relay pagination of the connection at ``data.<connection...>``: ``pageInfo.endCursor``
    handed back as ``$after`` (the listing's ``stop`` reads ``hasNextPage``, see :func:`ended`)."""
    return TokenPaginator(("data", *connection, "pageInfo", "endCursor"), "after", page_size_param)


def ended(*connection: str):
    """A Relay connection's own word that no page follows (``pageInfo.hasNextPage: false``)."""
    return lambda body: dig(body, ("data", *connection, "pageInfo", "hasNextPage")) is False


def relay(query: str, *connection: str, **params) -> RestStream:
    """The listing of the Relay connection at ``data.<connection...>`` of the query named ``query``:
    its ``nodes`` are the records, its pages follow ``pageInfo`` (``relay("Issues", "team", "issues",
    team="{channel}")``)."""
    return RestStream(query, cursor(*connection), records_path=("data", *connection, "nodes"), params=params,
                      stop=ended(*connection))


def node(query: str, *path: str, belongs=None) -> FetchById:
    """Records by id through the query named ``query`` (variable ``id``), each at ``data.<path...>``."""
    return FetchById(query, records_path=("data", *path), params={"id": "{id}"}, belongs=belongs)


def rest_of(field: str, query: str, *connection: str) -> Join:
    """The pages after the first of a connection each record carries inline (an issue's
    ``comments(first: 20)``), read where its ``pageInfo`` says more follow through the query named
    ``query`` (variables ``id``, the record's, and ``after``) into ``record["_more_<field>"]``; see
    :func:`nodes_of`."""
    def args(record: dict) -> dict | None:
        page = dig(record, (field, "pageInfo")) or {}
        return {"id": record["id"], "after": page["endCursor"]} if page.get("hasNextPage") else None
    return Join(f"_more_{field}", relay(query, *connection, id="{id}", after="{after}"), args=args)


def nodes_of(record: dict, field: str) -> list[dict]:
    """Every node of a connection the record carries inline, with the pages :func:`rest_of` read."""
    return (dig(record, (field, "nodes")) or []) + (record.get(f"_more_{field}") or [])


def relay_query(name: str, connection: str, nodes: str, *, parent: str = "", filter: str = "", arguments: str = "",
                id_type: str = "String!") -> str:
    """The document of a Relay listing: ``query <name>`` asking ``connection`` (inside ``parent``, a field
    like ``team(id: $team)`` whose variable is an ``id_type``) for ``first``/``after``, each node's
    ``nodes`` fields and ``pageInfo``; ``filter``: the type of a ``$filter`` variable it passes on;
    ``arguments``: more, written out (``orderBy: updatedAt``)."""
    declared = [f"{v}: {id_type}" for v in re.findall(r"\$\w+", parent)] + ["$first: Int", "$after: String"]
    passed = ["first: $first", "after: $after"]
    if filter:
        declared.append(f"$filter: {filter}")
        passed.append("filter: $filter")
    if arguments:
        passed.append(arguments)
    asked = f"{connection}({', '.join(passed)}) {{ nodes {{ {nodes} }} {PAGE_INFO} }}"
    if parent:
        asked = f"{parent} {{ {asked} }}"
    return f"query {name}({', '.join(declared)}) {{ {asked} }}"


def relay_queries(kind: str, connection: str, fields: str, *, parent: str = "", filter: str = "",
                  arguments: str = "", id_type: str = "String!") -> dict[str, str]:
    """A stream's three documents, as :func:`relay_stream` names them: ``<kind>s`` lists ``connection``
    (:func:`relay_query`, with its ``filter`` and ``arguments``), ``<kind>Ids`` lists its ids alone,
    and ``<kind>`` asks for one node by ``$id`` (``query Issue($id: String!) { issue(id: $id) {...} }``)."""
    one = kind[0].lower() + kind[1:]
    return {f"{kind}s": relay_query(f"{kind}s", connection, fields, parent=parent, filter=filter,
                                    arguments=arguments, id_type=id_type),
            f"{kind}Ids": relay_query(f"{kind}Ids", connection, "id", parent=parent, id_type=id_type),
            kind: f"query {kind}($id: {id_type}) {{ {one}(id: $id) {{ {fields} }} }}"}


def relay_stream(name: str, kind: str, document, *, parent: tuple[str, str] | None = None, belongs=None,
                 **declared) -> StreamSpec:
    """A stream read through the documents of :func:`relay_queries`: listed by ``<kind>s`` at
    ``data.<name>`` (inside ``parent``: ``("team", "{channel}")`` reads ``data.team.<name>``, its
    variable ``$team`` the channel), its ids by ``<kind>Ids``, one record by ``<kind>`` (``belongs``:
    see ``FetchById``); the rest of the ``StreamSpec`` as ``declared``."""
    path, params = ((parent[0], name), {parent[0]: parent[1]}) if parent else ((name,), {})
    one = kind[0].lower() + kind[1:]
    return StreamSpec(name, one, relay(f"{kind}s", *path, **params), document,
                      list_ids=relay(f"{kind}Ids", *path, **params), fetch=node(kind, one, belongs=belongs), **declared)


def graphql_error(body):
    """The first GraphQL error of a 200 answer, as ``(code, message)``; None when there is none."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors or not isinstance(errors[0], dict):
        return None
    first = errors[0]
    extensions = first.get("extensions") or {}
    message = extensions.get("userPresentableMessage") or first.get("message") or "GraphQL error"
    return str(extensions.get("code") or extensions.get("type") or "GRAPHQL_ERROR"), str(message)


class GraphQLApi(Api):
    """The kit's ``Api`` where a path names one of the connector's ``queries``."""

    def request(self, method, path, *, params=None, json=None, idempotent=None, checking_credentials=False,
                raw=False):
        name, _, inline = path.partition("?")
        variables = {**dict(parse_qsl(inline)), **(params or {})}
        document = self.connector.queries[name]
        return super().request("POST", "", json={"query": document, "variables": variables}, idempotent=True,
                               checking_credentials=checking_credentials)


class GraphQLConnector(RestConnector):
    """A kit connector whose paths are names of ``queries`` (see the module docstring)."""

    queries: dict[str, str] = {}
    api_class = GraphQLApi
    error_code = graphql_error
