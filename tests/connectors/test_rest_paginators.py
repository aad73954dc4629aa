"""Paginators of ``connectors.rest`` that the kit's demo emulation does not speak (tests/connectors/test_kit.py
covers the others over HTTP)."""
from types import SimpleNamespace

from connectors.rest import PATH, NextPathPaginator, RestStream, read_listing


class Answers:
    """A client that answers each path with a body and remembers what it was asked."""

    def __init__(self, bodies: dict):
        self.bodies, self.asked = bodies, []

    def request(self, method, path, params=None, json=None, idempotent=None):
        self.asked.append((path, params))
        return SimpleNamespace(json_body=self.bodies[path], headers={})


def test_a_next_page_at_a_path_of_its_own_is_asked_without_the_first_requests_parameters():
    """Salesforce's queryMore: the first batch at /query?q=..., the next at the nextRecordsUrl the
    batch names (a path, no host: the checkpoint survives a new instance URL), until done."""
    client = Answers({
        "/query": {"totalSize": 3, "done": False, "records": [{"Id": "a"}, {"Id": "b"}],
                   "nextRecordsUrl": "/services/data/v62.0/query/01g-2"},
        "/services/data/v62.0/query/01g-2": {"totalSize": 3, "done": True, "records": [{"Id": "c"}],
                                             "nextRecordsUrl": "/services/data/v62.0/query/01g-4"}})
    soql = RestStream("/query", NextPathPaginator(("nextRecordsUrl",), ("totalSize",)), ("records",),
                      {"q": "SELECT Id FROM Contact"}, stop=lambda body: body.get("done", True))
    first = soql.fetch(client)
    assert first.next_token == {PATH: "/services/data/v62.0/query/01g-2"} and first.total == 3
    pages = list(read_listing(soql.fetcher(client), state=None, mode="full", key=lambda r: r["Id"]))
    assert [r["Id"] for p in pages for r in p.records] == ["a", "b", "c"]
    assert pages[0].state["resume"]["page"] == {PATH: "/services/data/v62.0/query/01g-2"}
    assert client.asked[-2:] == [("/query", {"q": "SELECT Id FROM Contact"}),
                                 ("/services/data/v62.0/query/01g-2", {})]     # done: no third request
