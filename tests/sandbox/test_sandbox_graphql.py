"""The sandbox's GitHub GraphQL endpoint: repository discussions with cursor pages, the
addDiscussionComment mutation, and GraphQL-shaped errors (HTTP 200 with ``errors``)."""
from __future__ import annotations

from sandbox import create_app
from sandbox_testkit import bearer, mint

PATH = "/github/api/graphql"
QUERY = """
query($owner: String!, $name: String!, $first: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    discussions(first: $first, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      nodes { id number title body url author { login } createdAt updatedAt
              comments(first: 50) { nodes { body author { login } } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
DEMO = {"owner": "octo-sandbox", "name": "tributary-demo"}


def headers(client):
    return bearer(mint(client, "github", "repo read:discussion")["access_token"])


def ask(client, auth, query=QUERY, **variables):
    response = client.post(PATH, headers=auth, json={"query": query, "variables": variables})
    assert response.status_code == 200
    return response.get_json()


def walk(client, auth, first=4, **variables):
    nodes, after, pages = [], None, 0
    while True:
        body = ask(client, auth, first=first, after=after, **{**DEMO, **variables})
        connection = body["data"]["repository"]["discussions"]
        nodes += connection["nodes"]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            return nodes, pages
        after = connection["pageInfo"]["endCursor"]


def test_discussions_page_by_cursor_newest_update_first(sandbox):
    auth = headers(sandbox)
    nodes, pages = walk(sandbox, auth)
    total = ask(sandbox, auth, first=1, **DEMO)["data"]["repository"]["discussions"]
    assert len(nodes) == 12 and pages == 3          # SCALE 25: the demo repository has 12
    assert len({n["id"] for n in nodes}) == len({n["number"] for n in nodes}) == 12
    stamps = [n["updatedAt"] for n in nodes]
    assert stamps == sorted(stamps, reverse=True)
    first = nodes[0]
    assert set(first) >= {"id", "number", "title", "body", "url", "author", "createdAt", "updatedAt", "comments"}
    assert first["id"].startswith("D_kwDO") and first["url"].endswith(f"/discussions/{first['number']}")
    assert first["createdAt"] <= first["updatedAt"] and total["pageInfo"]["hasNextPage"]


def test_discussion_data_is_deterministic(sandbox):
    other = create_app({"SEED": 42, "SCALE": 25}).test_client()
    assert walk(sandbox, headers(sandbox)) == walk(other, headers(other))
    different = create_app({"SEED": 7, "SCALE": 25}).test_client()
    assert walk(different, headers(different))[0] != walk(sandbox, headers(sandbox))[0]


def test_literal_arguments_and_created_order(sandbox):
    auth = headers(sandbox)
    query = ('query { repository(owner: "octo-sandbox", name: "tributary-demo") { '
             'discussions(first: 100, orderBy: {field: CREATED_AT, direction: ASC}) { '
             'totalCount nodes { number createdAt } pageInfo { hasNextPage endCursor } } } }')
    connection = ask(sandbox, auth, query)["data"]["repository"]["discussions"]
    created = [n["createdAt"] for n in connection["nodes"]]
    assert connection["totalCount"] == len(created) == 12 and created == sorted(created)
    assert connection["pageInfo"]["hasNextPage"] is False


def test_commenting_moves_a_discussion_to_the_top(sandbox):
    auth = headers(sandbox)
    nodes, _ = walk(sandbox, auth)
    oldest = nodes[-1]
    mutation = ("mutation($input: AddDiscussionCommentInput!) { addDiscussionComment(input: $input) "
                "{ comment { id body url } } }")
    body = ask(sandbox, auth, mutation, input={"discussionId": oldest["id"], "body": "Answer (with \"quotes\")"})
    comment = body["data"]["addDiscussionComment"]["comment"]
    assert comment["body"] == 'Answer (with "quotes")' and "#discussioncomment-" in comment["url"]
    after, _ = walk(sandbox, auth)
    assert after[0]["number"] == oldest["number"] and after[0]["updatedAt"] > nodes[0]["updatedAt"]
    newest = after[0]["comments"]["nodes"][-1]
    assert newest["body"] == 'Answer (with "quotes")' and newest["author"] == {"login": "octo-sandbox"}
    literal = ('mutation { addDiscussionComment(input: {discussionId: "%s", body: "Literal"}) '
               '{ comment { id } } }' % oldest["id"])
    assert ask(sandbox, auth, literal)["data"]["addDiscussionComment"]["comment"]["id"]


def test_reset_forgets_discussion_comments(sandbox):
    auth = headers(sandbox)
    before, _ = walk(sandbox, auth)
    mutation = "mutation($i: AddDiscussionCommentInput!) { addDiscussionComment(input: $i) { comment { id } } }"
    ask(sandbox, auth, mutation, i={"discussionId": before[-1]["id"], "body": "temporary"})
    sandbox.post("/_sandbox/reset")
    auth = headers(sandbox)
    assert walk(sandbox, auth)[0] == before


def test_errors_come_back_as_graphql_errors(sandbox):
    auth = headers(sandbox)
    missing = ask(sandbox, auth, first=5, owner="octo-sandbox", name="no-such-repo")
    assert missing["data"] == {"repository": None}
    assert missing["errors"][0]["type"] == "NOT_FOUND" and "octo-sandbox/no-such-repo" in missing["errors"][0]["message"]
    too_many = ask(sandbox, auth, first=101, **DEMO)
    assert "exceeds the `first` limit of 100" in too_many["errors"][0]["message"] and "data" not in too_many
    no_first = ask(sandbox, auth, 'query { repository(owner: "octo-sandbox", name: "tributary-demo") '
                                  '{ discussions { nodes { id } } } }')
    assert "must provide a `first`" in no_first["errors"][0]["message"]
    bad_cursor = ask(sandbox, auth, first=5, after="not-a-cursor", **DEMO)
    assert "valid cursor" in bad_cursor["errors"][0]["message"]
    no_query = sandbox.post(PATH, headers=auth, json={"variables": {}})
    assert no_query.status_code == 200 and "query attribute" in no_query.get_json()["errors"][0]["message"]
    unknown = ask(sandbox, auth, "query { viewer { login } }")
    assert unknown["errors"]


def test_graphql_needs_a_valid_token(sandbox):
    response = sandbox.post(PATH, json={"query": QUERY, "variables": {**DEMO, "first": 5}})
    assert response.status_code == 401 and response.get_json()["message"] == "Bad credentials"
    counted = sandbox.get("/_sandbox/stats").get_json()["requests"]["github"]["endpoints"]
    assert counted["POST /github/api/graphql"] == 1
