"""Linear's GraphQL, held to Linear's published schema (the types @linear/sdk ships, read by
linear_schema.py): every query the connector sends is a valid operation on it, and the sandbox answers
each with exactly the selected fields, each of its schema type; errors and rate-limit headers are
Linear's."""
from __future__ import annotations

import pytest
import requests

from connectors.linear import QUERIES
from sandbox.providers.linear import lid

from .graphql_shape import answer_problems, query_errors
from .linear_schema import linear_schema

VARIABLES = {
    "Viewer": {}, "Teams": {"first": 2},
    "Team": {"id": lid("team", 3)}, "TeamMembers": {"id": lid("team", 3), "first": 5},
    "Issues": {"team": lid("team", 1), "first": 5, "filter": {"updatedAt": {"gte": "2024-06-01T00:00:00.000Z"}}},
    "IssueIds": {"team": lid("team", 1), "first": 5}, "Issue": {"id": lid("issue", 1)},
    "IssueComments": {"id": lid("issue", 1), "first": 10},
    "Projects": {"first": 5, "filter": {}}, "ProjectIds": {"first": 5}, "Project": {"id": lid("project", 1)},
    "Cycles": {"team": lid("team", 2), "first": 5, "filter": {}}, "CycleIds": {"team": lid("team", 2), "first": 5},
    "Cycle": {"id": lid("cycle", 2)},
}


@pytest.fixture
def token(sandbox_url):
    return requests.post(f"{sandbox_url}/_sandbox/tokens", json={"provider": "linear", "scope": "read"},
                         timeout=5).json()["access_token"]


def ask(sandbox_url, token, query, variables):
    return requests.post(f"{sandbox_url}/linear/graphql", json={"query": query, "variables": variables},
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_every_query_the_connector_sends_is_named_here():
    assert set(VARIABLES) == set(QUERIES)


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_the_connectors_queries_are_valid_on_linears_schema(name):
    assert query_errors(QUERIES[name], linear_schema()) == []


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_the_sandbox_answers_exactly_the_selection_with_schema_types(sandbox_url, token, name):
    response = ask(sandbox_url, token, QUERIES[name], VARIABLES[name])
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body["errors"]
    assert answer_problems(QUERIES[name], body["data"], linear_schema()) == []
    headers = {k.lower() for k in response.headers}
    assert {"x-complexity", "x-ratelimit-requests-limit", "x-ratelimit-requests-remaining",
            "x-ratelimit-requests-reset", "x-ratelimit-complexity-limit", "x-ratelimit-complexity-remaining",
            "x-ratelimit-complexity-reset"} <= headers
    assert int(response.headers["x-ratelimit-requests-reset"]) > 10 ** 12          # epoch milliseconds


def test_a_second_page_and_a_trashed_issue_conform(sandbox_url, token):
    first = ask(sandbox_url, token, QUERIES["Issues"], VARIABLES["Issues"]).json()
    after = first["data"]["team"]["issues"]["pageInfo"]["endCursor"]
    requests.delete(f"{sandbox_url}/_sandbox/collections/linear/issues/4", timeout=5).raise_for_status()
    second = ask(sandbox_url, token, QUERIES["Issues"], {**VARIABLES["Issues"], "after": after}).json()
    assert answer_problems(QUERIES["Issues"], second["data"], linear_schema()) == []
    trashed = ask(sandbox_url, token, QUERIES["Issue"], {"id": lid("issue", 4)}).json()["data"]["issue"]
    assert trashed["trashed"] is True and trashed["archivedAt"]
    assert answer_problems(QUERIES["Issue"], {"issue": trashed}, linear_schema()) == []


def test_errors_are_linears(sandbox_url, token):
    missing = ask(sandbox_url, token, QUERIES["Issue"], {"id": lid("issue", 9999)})
    assert missing.status_code == 200
    error = missing.json()["errors"][0]
    assert missing.json()["data"] is None and error["extensions"]["code"] == "INPUT_ERROR"
    assert error["message"] == "Entity not found: Issue" and error["extensions"]["type"] == "invalid input"
    refused = ask(sandbox_url, "lin_oauth-at-not-a-token", QUERIES["Viewer"], {})
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "AUTHENTICATION_ERROR"
    requests.post(f"{sandbox_url}/_sandbox/faults", json={"provider": "linear", "kind": "rate_limit", "count": 1},
                  timeout=5).raise_for_status()
    limited = ask(sandbox_url, token, QUERIES["Viewer"], {})
    assert limited.status_code == 400
    extensions = limited.json()["errors"][0]["extensions"]
    assert (extensions["code"], extensions["type"]) == ("RATELIMITED", "ratelimited")
    assert limited.headers["x-ratelimit-requests-remaining"] == "0"


def test_the_shape_check_rejects_what_linear_would_not_answer():
    query = "query { viewer { id name organization { urlKey } } }"
    good = {"viewer": {"id": "u", "name": "Ada", "organization": {"urlKey": "acme"}}}
    assert answer_problems(query, good, linear_schema()) == []
    assert answer_problems(query, {"viewer": {**good["viewer"], "name": None}}, linear_schema())     # String!
    assert answer_problems(query, {"viewer": {**good["viewer"], "email": "a@b.c"}}, linear_schema())  # not asked
    dated = "query { issue(id: \"x\") { updatedAt priority } }"
    assert answer_problems(dated, {"issue": {"updatedAt": "yesterday", "priority": 1}}, linear_schema())
    assert query_errors("query { issues { nodes { colour } } }", linear_schema())
