"""GitHub GraphQL, held to GitHub's published schema (@octokit/graphql-schema): the queries we
send are valid operations on it, and the sandbox answers them with exactly the selected fields,
each of its schema type."""
from __future__ import annotations

import pytest
import requests

from connectors.github import DISCUSSION_QUERY, DISCUSSIONS_QUERY

from .graphql_shape import answer_problems, query_errors
from .harness import Client

DEMO = {"owner": "octo-sandbox", "name": "tributary-demo"}
COMMENT = """
mutation($id: ID!, $body: String!) {
  addDiscussionComment(input: {discussionId: $id, body: $body}) {
    comment { id body url author { login } createdAt }
  }
}
"""
# Every field the sandbox can answer, with aliases: what the connector asks is a subset.
EVERYTHING = """
query($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) {
    discussions(first: 3, orderBy: {field: CREATED_AT, direction: ASC}) {
      totalCount
      nodes {
        id number title body url author { login } createdAt updatedAt
        comments(first: 2) { totalCount nodes { body author { login } createdAt } }
      }
      pageInfo { hasNextPage hasPreviousPage startCursor cursor: endCursor }
    }
  }
}
"""


def ask(sandbox_url, query, variables):
    client = Client(sandbox_url, "github")
    response = requests.post(f"{client.base}/graphql", headers=client.headers, timeout=10,
                             json={"query": query, "variables": variables})
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("query", [DISCUSSIONS_QUERY, DISCUSSION_QUERY, COMMENT, EVERYTHING],
                         ids=["connector discussions", "connector discussion by number", "addDiscussionComment",
                              "every field"])
def test_our_queries_are_valid_on_githubs_schema(query):
    assert query_errors(query) == []


@pytest.mark.parametrize("query, variables", [
    (DISCUSSIONS_QUERY, {**DEMO, "first": 5, "after": None}),
    (DISCUSSION_QUERY, {**DEMO, "number": 26}),
    (EVERYTHING, DEMO),
], ids=["connector discussions", "connector discussion by number", "every field"])
def test_discussions_answer_exactly_the_selection_with_schema_types(sandbox_url, query, variables):
    body = ask(sandbox_url, query, variables)
    assert "errors" not in body, body["errors"]
    assert answer_problems(query, body["data"]) == []


def test_a_second_page_by_cursor_conforms(sandbox_url):
    first = ask(sandbox_url, DISCUSSIONS_QUERY, {**DEMO, "first": 5, "after": None})
    cursor = first["data"]["repository"]["discussions"]["pageInfo"]["endCursor"]
    second = ask(sandbox_url, DISCUSSIONS_QUERY, {**DEMO, "first": 5, "after": cursor})
    assert answer_problems(DISCUSSIONS_QUERY, second["data"]) == []


def test_an_unknown_repository_is_null_with_a_not_found_error(sandbox_url):
    body = ask(sandbox_url, DISCUSSIONS_QUERY, {"owner": "octo-sandbox", "name": "nope",
                                                "first": 5, "after": None})
    assert answer_problems(DISCUSSIONS_QUERY, body["data"]) == []      # repository is nullable
    assert body["data"]["repository"] is None
    error = body["errors"][0]
    assert isinstance(error["message"], str) and error["type"] == "NOT_FOUND"
    assert error["path"] == ["repository"]


def test_add_discussion_comment_answers_the_selection(sandbox_url):
    listed = ask(sandbox_url, DISCUSSIONS_QUERY, {**DEMO, "first": 1, "after": None})
    discussion = listed["data"]["repository"]["discussions"]["nodes"][0]["id"]
    body = ask(sandbox_url, COMMENT, {"id": discussion, "body": "Checked against the schema."})
    assert "errors" not in body
    assert answer_problems(COMMENT, body["data"]) == []


def test_the_shape_check_rejects_what_github_would_not_answer():
    query = "query { repository(owner: \"a\", name: \"b\") { discussions(first: 1) { totalCount } } }"
    assert answer_problems(query, {"repository": {"discussions": {"totalCount": 1}}}) == []
    assert answer_problems(query, {"repository": {"discussions": {"totalCount": "1"}}})
    assert answer_problems(query, {"repository": {"discussions": {"totalCount": None}}})
    assert answer_problems(query, {"repository": {"discussions": {}}})
    assert answer_problems(query, {"repository": {"discussions": {"totalCount": 1, "nodes": []}}})
    dated = "query { repository(owner: \"a\", name: \"b\") { createdAt url } }"
    assert answer_problems(dated, {"repository": {"createdAt": "2024-01-01T00:00:00Z",
                                                  "url": "https://github.com/a/b"}}) == []
    assert answer_problems(dated, {"repository": {"createdAt": "yesterday",
                                                  "url": "https://github.com/a/b"}})
    assert query_errors("query { repository(owner: \"a\", name: \"b\") { colour } }")


def test_a_discussion_that_is_not_there_is_null_with_not_found(sandbox_url):
    body = ask(sandbox_url, DISCUSSION_QUERY, {**DEMO, "number": 99999})
    assert body["data"] == {"repository": {"discussion": None}}
    assert [e["type"] for e in body["errors"]] == ["NOT_FOUND"]
