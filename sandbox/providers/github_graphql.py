"""GitHub GraphQL (``POST /github/api/graphql``), the small part connectors need.

GitHub has discussions only in GraphQL. This is not a GraphQL engine: it recognises two
operations by their field names, reads their arguments (literals or ``$variables``), builds the
documented selection below and, like GitHub, answers only the fields the query selected (under
their aliases):

* ``query { repository(owner, name) { discussions(first, after, orderBy: {field, direction})
  { nodes { id number title body url author { login } createdAt updatedAt
  comments(first) { totalCount nodes { body author { login } createdAt } } }
  pageInfo { hasNextPage endCursor } totalCount } } }``
* ``mutation { addDiscussionComment(input: {discussionId, body}) { comment { id body url } } }``
  (a write: the discussion's ``updatedAt`` moves to the sandbox clock's now).

Like GitHub, errors come back as HTTP 200 with an ``errors`` array; a repository that does not
exist is ``data.repository: null`` plus a ``NOT_FOUND`` error.
"""
from __future__ import annotations

import base64
import json
import re
from bisect import bisect_left, bisect_right

from flask import request

from ..seed import iso
from . import Window, guarded, json_response, state
from .github import PROVIDER, bp, node_id, web_url

MAX_FIRST = 100
DISCUSSION_ID_BASE = 3_000_000_000


class GraphQLError(Exception):
    def __init__(self, message: str, **extra):
        super().__init__(message)
        self.body = {"message": message, **extra}


# -- reading a query -------------------------------------------------------------------------

_ARG = re.compile(r'(\w+)\s*:\s*("(?:[^"\\]|\\.)*"|\$\w+|\{[^{}]*\}|\[[^\]]*\]|[-\w.]+)')


def field_args(query: str, name: str, variables: dict) -> dict | None:
    """The arguments of the first ``name(...)`` in ``query``, or None if the field is absent."""
    match = re.search(r"\b" + re.escape(name) + r"\s*\(", query)
    if match is None:
        return {} if re.search(r"\b" + re.escape(name) + r"\b", query) else None
    depth, in_string, escaped = 1, False, False
    for index in range(match.end(), len(query)):
        char = query[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return parse_args(query[match.end():index], variables)
    raise GraphQLError(f"Parse error on \"{name}\": unbalanced parentheses")


def parse_args(text: str, variables: dict) -> dict:
    return {name: _value(raw, variables) for name, raw in _ARG.findall(text)}


def _value(raw: str, variables: dict):
    if raw.startswith('"'):
        return json.loads(raw)
    if raw.startswith("$"):
        return variables.get(raw[1:])
    if raw.startswith("{"):
        return parse_args(raw[1:-1], variables)
    if raw == "null":
        return None
    if raw in ("true", "false"):
        return raw == "true"
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    return raw       # an enum value (UPDATED_AT, DESC)


# -- answering only what was asked -------------------------------------------------------------

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\.\.\.|[_A-Za-z][_0-9A-Za-z]*|[{}():@$!=\[\],]|-?[\d.]+')


def selection(query: str) -> list | None:
    """The query's selection tree, ``[(response key, field name, subtree or None), ...]``, with
    arguments skipped; None when it uses what this reader does not follow (fragments)."""
    tokens = _TOKEN.findall(query)
    try:
        start = tokens.index("{")
    except ValueError:
        return None
    tree, end = _selection_set(tokens, start)
    return tree


def _selection_set(tokens: list, at: int) -> tuple[list | None, int]:
    """Parse the ``{ ... }`` starting at tokens[at]; (tree, index after its ``}``)."""
    fields, i = [], at + 1
    while tokens[i] != "}":
        if tokens[i] == "...":
            raise ValueError("fragments")
        key = name = tokens[i]
        i += 1
        if tokens[i] == ":":
            name, i = tokens[i + 1], i + 2
        while tokens[i] in ("(", "@"):
            if tokens[i] == "@":
                i += 2          # a directive's name; its arguments follow
                continue
            depth = 0
            while True:
                depth += {"(": 1, ")": -1}.get(tokens[i], 0)
                i += 1
                if depth == 0:
                    break
        sub = None
        if tokens[i] == "{":
            sub, i = _selection_set(tokens, i)
        fields.append((key, name, sub))
    return fields, i + 1


def pruned(value, tree: list | None):
    """``value`` cut down to ``tree`` (objects keep the selected fields, in query order)."""
    if tree is None or value is None:
        return value
    if isinstance(value, list):
        return [pruned(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    return {key: pruned(value[name], sub) for key, name, sub in tree if name in value}


def resolved(value, tree: list | None, args_of):
    """``pruned``, where a field given as a callable (a connection, a nested object) is called
    with its arguments, ``args_of(field name)``: built only where the query selects it."""
    if tree is None or value is None:
        return value
    if isinstance(value, list):
        return [resolved(item, tree, args_of) for item in value]
    if not isinstance(value, dict):
        return value
    return {key: resolved(value[name](args_of(name)) if callable(value[name]) else value[name], sub, args_of)
            for key, name, sub in tree if name in value}


def encode_cursor(value: int, number: int) -> str:
    """A cursor names the record it points at (its sort value and number), not a position:
    like GitHub's, it stays valid when records before it are deleted or move."""
    return base64.b64encode(f"cursor:v2:{value}:{number}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        prefix, value, number = base64.b64decode(cursor.encode()).decode().rsplit(":", 2)
        if prefix == "cursor:v2":
            return int(value), int(number)
    except (ValueError, UnicodeDecodeError):
        pass
    raise GraphQLError(f"`{cursor}` does not appear to be a valid cursor.")


def discussion_node_id(repo: dict, number: int) -> str:
    return node_id("D_kwDO", DISCUSSION_ID_BASE + repo["index"] * 1_000_000 + number)


# -- answering -------------------------------------------------------------------------------

def discussion_json(repo: dict, item, comments_first: int) -> dict:
    gh = state().data.github
    title, body = gh.discussion_text(repo, item)
    comments = [{"body": gh.discussion_comment_text(repo, item, i),
                 "author": {"login": gh.people[author]["login"]}, "createdAt": iso(created)}
                for i, (author, created, _body) in enumerate(item.comments[:comments_first])]
    return {
        "id": discussion_node_id(repo, item.number), "number": item.number, "title": title,
        "body": body, "url": f"{web_url()}/{repo['full_name']}/discussions/{item.number}",
        "author": {"login": gh.people[item.author]["login"]},
        "createdAt": iso(item.created), "updatedAt": iso(item.updated),
        "comments": {"totalCount": len(item.comments), "nodes": comments},
    }


def _first(args: dict, connection: str) -> int:
    first = args.get("first")
    if first is None:
        raise GraphQLError(f"You must provide a `first` or `last` value to properly paginate the "
                           f"`{connection}` connection.")
    if not isinstance(first, int) or first < 0 or first > MAX_FIRST:
        raise GraphQLError(f"Requesting {first} records on the `{connection}` connection exceeds "
                           f"the `first` limit of {MAX_FIRST} records.")
    return first


def repository_discussions(query: str, variables: dict) -> dict:
    repo_args = field_args(query, "repository", variables)
    if repo_args is None:
        raise GraphQLError("The sandbox answers `repository { discussions }` queries and the "
                           "`addDiscussionComment` mutation only.")
    owner, name = repo_args.get("owner"), repo_args.get("name")
    st = state()
    gh = st.data.github
    repo = gh.repo(str(owner or ""), str(name or ""))
    if repo is None:
        return {"data": {"repository": None}, "errors": [{
            "type": "NOT_FOUND", "path": ["repository"], "locations": [{"line": 2, "column": 3}],
            "message": f"Could not resolve to a Repository with the name '{owner}/{name}'."}]}
    args = field_args(query, "discussions", variables)
    if args is None:
        one = field_args(query, "discussion", variables)
        if one is None:
            return {"data": {"repository": {}}}
        return repository_discussion(query, variables, repo, one)
    first = _first(args, "discussions")
    order = args.get("orderBy") or {"field": "UPDATED_AT", "direction": "DESC"}
    field = order.get("field", "UPDATED_AT")
    if field not in ("UPDATED_AT", "CREATED_AT"):
        raise GraphQLError(f"Argument 'field' on InputObject 'DiscussionOrder' has an invalid "
                           f"value ({field}). Expected type 'DiscussionOrderField!'.")
    descending = order.get("direction", "DESC") == "DESC"
    comments_first = _first(field_args(query, "comments", variables) or {"first": 0}, "comments")
    def sort_value(d):
        return d.updated if field == "UPDATED_AT" else d.created

    with st.lock:
        discussions = gh.discussions(repo)
        rows = discussions.view(("discussions", field), lambda: sorted(
            discussions, key=lambda d: (sort_value(d), d.number)))
        keys = discussions.view(("discussion-keys", field), lambda: [(sort_value(d), d.number) for d in rows])
        items = Window(rows, descending=descending)
        start = 0
        if args.get("after"):
            after = decode_cursor(args["after"])
            start = len(keys) - bisect_left(keys, after) if descending else bisect_right(keys, after)
        chunk = items[start:start + first]
        nodes = [discussion_json(repo, item, comments_first) for item in chunk]
    return {"data": {"repository": {"discussions": {
        "totalCount": len(items), "nodes": nodes,
        "pageInfo": {"hasNextPage": start + len(chunk) < len(items),
                     "hasPreviousPage": start > 0,
                     "startCursor": encode_cursor(sort_value(chunk[0]), chunk[0].number) if chunk else None,
                     "endCursor": encode_cursor(sort_value(chunk[-1]), chunk[-1].number) if chunk else None},
    }}}}


def repository_discussion(query: str, variables: dict, repo: dict, args: dict) -> dict:
    """``repository { discussion(number: N) { ... } }``: one discussion, or null + NOT_FOUND."""
    number = args.get("number")
    if not isinstance(number, int):
        raise GraphQLError("Argument 'number' on Field 'discussion' has an invalid value. Expected type 'Int!'.")
    comments_first = _first(field_args(query, "comments", variables) or {"first": 0}, "comments")
    st = state()
    with st.lock:
        item = next((d for d in st.data.github.discussions(repo) if d.number == number), None)
        if item is not None:
            return {"data": {"repository": {"discussion": discussion_json(repo, item, comments_first)}}}
    return {"data": {"repository": {"discussion": None}}, "errors": [{
        "type": "NOT_FOUND", "path": ["repository", "discussion"], "locations": [{"line": 2, "column": 3}],
        "message": f"Could not resolve to a Discussion with the number of {number}."}]}


def add_discussion_comment(query: str, variables: dict) -> dict:
    args = field_args(query, "addDiscussionComment", variables) or {}
    spec = args.get("input") or {}
    body, target = spec.get("body"), spec.get("discussionId")
    if not isinstance(body, str) or not body.strip() or not isinstance(target, str):
        raise GraphQLError("Argument 'input' on Field 'addDiscussionComment' needs a "
                           "discussionId and a non-empty body.")
    st = state()
    gh = st.data.github
    with st.lock:
        for repo in gh.repos():
            item = next((d for d in gh.discussions(repo)
                         if discussion_node_id(repo, d.number) == target), None)
            if item is not None:
                now = int(st.now())
                gh.record_discussion(repo, ("add_discussion_comment",
                                            {"number": item.number, "body": body, "at": now}))
                index = len(item.comments) - 1
                return {"data": {"addDiscussionComment": {"comment": {
                    "id": node_id("DC_kwDO", f"{target}:{index}"), "body": body,
                    "url": f"{web_url()}/{repo['full_name']}/discussions/{item.number}"
                           f"#discussioncomment-{index}",
                    "author": {"login": gh.owner["login"]}, "createdAt": iso(now)}}}}
    return {"data": {"addDiscussionComment": None}, "errors": [{
        "type": "NOT_FOUND", "path": ["addDiscussionComment"],
        "message": f"Could not resolve to a node with the global id of '{target}'"}]}


@bp.post("/api/graphql")
@guarded(PROVIDER, bucket="graphql")
def graphql(principal):
    """GitHub GraphQL: discussions of a repository, and commenting on one."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return json_response({"errors": [{"message": "A query attribute must be specified and "
                                                     "must be a string."}]})
    query, variables = payload["query"], payload.get("variables") or {}
    if not isinstance(variables, dict):
        return json_response({"errors": [{"message": "Variables are invalid JSON."}]})
    try:
        if re.match(r"\s*mutation\b", query):
            body = add_discussion_comment(query, variables)
        else:
            body = repository_discussions(query, variables)
    except GraphQLError as exc:
        return json_response({"errors": [exc.body]})
    try:
        tree = selection(query)
    except (ValueError, IndexError):
        tree = None     # fragments or a syntax this reader does not follow: answer it all
    return json_response({**body, "data": pruned(body["data"], tree)} if "data" in body else body)
