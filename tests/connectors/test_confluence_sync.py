"""Confluence end to end through the sync engine against the sandbox's Atlassian emulation (SCALE
25: 25 pages, 13 in ENG and 12 in HR, and 25 comments, every tenth inline), connected through its consent
page.

full (through a 429 with Retry-After) -> incremental with no change -> changes within one minute
(CQL's granularity, read in the user's zone) -> deletion detection (a trashed and a purged page go;
one the search index has not caught up with stays) -> a revoked grant needs re-authorization;
then readers from space permissions and page restrictions through members' listings, and a space
whose permissions Confluence will not show, in its words.
"""
from tests.connectors.atlassian_walk import (configure, connect, edit, listed, members, sandbox, start_of_a_minute,
                                             stored, sync)

ENG_PAGES, ENG_COMMENTS = 13, 12        # and an inline comment, not synced yet
# Pages restricted to Ada and group security, themselves (9, 23) or through their parent (11:
# every seventh seeded page is restricted; its children inherit it), and the comments on them.
RESTRICTED_PAGES = {"100009", "100011", "100023"}
RESTRICTED_COMMENTS = {"200020", "200006", "200022"}


def test_full_incremental_within_one_minute_deletion_and_reauth(app, api, client, workspace, sandbox_server):
    confluence = connect(app, client, workspace, "confluence")
    configure(app, confluence, channels=["ENG"], access_mode="workspace")        # readers: the next test
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={"provider": "atlassian", "kind": "rate_limit", "retry_after": 1,
                                                             "count": 1, "path_prefix": "/atlassian/ex/confluence/"})
    first = sync(app, api, confluence)
    assert first["status"] == "completed" and sandbox(sandbox_server, "GET", "/_sandbox/stats")["rate_limited"]["atlassian"] == 1
    pages, comments = stored(app, confluence, "page"), stored(app, confluence, "comment")
    assert (len(pages), len(comments)) == (ENG_PAGES, ENG_COMMENTS)
    body = pages["100003"].content                  # storage format as structured text
    assert body.startswith("# ") and "- Check the" in body and "| Step | Owner |" in body and "```bash\nmake " in body
    assert pages["100003"].metadata_["path"] == pages["100001"].title and comments["200001"].parent_id == "100001"

    quiet = sync(app, api, confluence, full=False)
    assert (quiet["documents_created"], quiet["documents_updated"], quiet["records_written"]) == (0, 0, 0)

    start_of_a_minute(sandbox_server)
    edit(sandbox_server, "pages", "1", title="Schema handbook")
    assert sync(app, api, confluence, full=False)["documents_updated"] == 1
    assert stored(app, confluence, "comment")["200001"].title == "Comment on Schema handbook"     # copied again
    edit(sandbox_server, "pages", "5", title="Search runbook")           # the same minute
    edit(sandbox_server, "comments", "3", text="Ship it on Tuesday")
    edit(sandbox_server, "pages", "17", status="trashed")           # with its comment 14
    sandbox(sandbox_server, "DELETE", "/_sandbox/collections/atlassian/pages/25")          # purged, with comment 8
    edit(sandbox_server, "pages", "19", unindexed=True)                  # live, not in search yet
    app.config["PRUNE_INTERVAL_MINUTES"] = 0
    later = sync(app, api, confluence, full=False)
    assert later["records_read"] == {"pages": 1, "comments": 1}          # not page 1 again
    assert (later["documents_updated"], later["documents_deleted"]) == (3, 4)      # + page 19, as it is now
    assert set(stored(app, confluence, "page")) == set(pages) - {"100017", "100025"}
    assert set(stored(app, confluence, "comment")) == set(comments) - {"200014", "200008"}
    assert "Ship it on Tuesday" in stored(app, confluence, "comment")["200003"].content

    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={"provider": "atlassian", "kind": "revoke_tokens"})
    assert sync(app, api, confluence, full=False)["error_reason"] == "auth"
    assert api.get(f"/api/v1/connections/{confluence}").json["needs_reauth"] is True


def test_readers_come_from_space_permissions_and_page_restrictions(app, api, client, workspace):
    confluence = connect(app, client, workspace, "confluence")
    run = sync(app, api, confluence)
    assert run["status"] == "completed"
    [unknown] = [u for u in run["hidden_units"] if u["error_code"] == "READERS_UNKNOWN" and u["stream"] == "pages"]
    assert unknown["channel"] == "HR"
    assert "You need the 'Admin' permission on this space to view its permissions." in unknown["error_message"]
    # Space ENG: group engineering (Bob; Cara, matched by the e-mail Confluence shows) and Dana;
    # its restricted pages: Ada and group security (Dana).
    people = members(app, workspace, client, {"bob": 1, "cara": -2, "dana": 3}, "confluence")
    seen = {name: {d["external_id"] for d in listed(key, "confluence")} for name, key in people.items()}
    everything = set(stored(app, confluence))
    eng = {i for i, d in stored(app, confluence).items() if d.metadata_["space"] == "ENG"}
    assert len(eng) == ENG_PAGES + ENG_COMMENTS and len(everything) > len(eng)
    assert seen["dana"] == eng
    assert seen["bob"] == seen["cara"] == eng - RESTRICTED_PAGES - RESTRICTED_COMMENTS
    found = people["bob"].post("/api/v1/query", json={"query": "runbook", "sources": ["confluence"], "limit": 50}).json
    assert {r["metadata"]["external_id"] for r in found["results"]} <= seen["bob"]


def test_a_pages_comments_are_grouped_under_it_in_search(app, api, client, workspace, sandbox_server):
    """Issue #12: results of one parent are grouped. A Confluence comment's URL is its page's with
    ?focusedCommentId (no #fragment), so the group comes from the comment's parent, the page."""
    for text in ("Who owns the rollback step?", "The numbers look right to me."):  # page 1 has three then
        sandbox(sandbox_server, "POST", "/_sandbox/collections/atlassian/comments",
                json={"page": "1", "author": 2, "location": "footer", "text": text})
    confluence = connect(app, client, workspace, "confluence")
    configure(app, confluence, channels=["ENG"], access_mode="workspace")
    assert sync(app, api, confluence)["status"] == "completed"
    page_id = "100001"
    page = stored(app, confluence, "page")[page_id]
    comments = [c for c in stored(app, confluence, "comment").values() if c.parent_id == page_id]
    assert len(comments) >= 3
    assert all(c.title == f"Comment on {page.title}" and "focusedCommentId" in c.url for c in comments)
    results = api.post("/api/v1/query", json={"query": page.title, "sources": ["confluence"], "limit": 50}).json["results"]
    groups = {r["metadata"]["external_id"]: r["metadata"]["group"] for r in results}
    assert page_id in groups and {c.external_id for c in comments} <= set(groups), groups
    assert {groups[c.external_id] for c in comments} == {groups[page_id]} == {page.url}
    # Siblings whose parent is not among the results still share one group (the best one's).
    without_page = api.post("/api/v1/query", json={"query": f"Comment on {page.title}", "types": ["comment"],
                                                   "sources": ["confluence"], "limit": 50}).json["results"]
    siblings = [r for r in without_page if r["metadata"]["external_id"] in {c.external_id for c in comments}]
    assert len({r["metadata"]["group"] for r in siblings}) == 1
    others = [r["metadata"]["group"] for r in without_page if r not in siblings]
    assert len(others) == len(set(others))  # comments of different pages are not merged
