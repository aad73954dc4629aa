"""POST /api/v1/query: the federated query (knowledge.search), declared once.

The body's model is ``knowledge.query_request.QueryRequest``: declared here, it validates the body
(its own codes: ``query_required``, ``query_too_long``, ``invalid_date_range``) and generates the
document; the console's Search page and the MCP search tool validate with it too
(``knowledge.search.parse``). The models below document the answer.
"""
from typing import Annotated

from flask import jsonify
from pydantic import ConfigDict, Field

from knowledge import search
from knowledge.query_request import QueryRequest

from . import bp
from .auth import current_actor
from .endpoints import Ok, ResponseModel, endpoint
from .shapes import DOCUMENT_ID_EXAMPLE, VECTOR_STORE_ID_EXAMPLE, limit_reached

Rank = Annotated[int | None, Field(ge=1)]


class QueryResultChunk(ResponseModel):
    """The chunk `content` was taken from, or `null` when the document is not cut into chunks
    yet (then `content` is an excerpt of its text)."""

    position: Annotated[int, Field(ge=0, description="The chunk's place in the document, from 0.")]
    heading: Annotated[str | None, Field(description="The heading the chunk falls under, or `null`.")]
    start: Annotated[int, Field(ge=0, description="Where the chunk starts in the document's `content` "
                                                  "(characters).")]
    end: Annotated[int, Field(ge=0, description="Where it ends (exclusive).")]


class QueryRanking(ResponseModel):
    """Why the document ranks where it does."""

    semantic_rank: Annotated[Rank, Field(description="The document's rank (from 1) in the semantic search, by its "
                                                     "best chunk, or `null` when that search did not return it.")]
    semantic_score: Annotated[float | None, Field(ge=-1, le=1, description="The cosine similarity of its best chunk "
                                                                           "to the query, or `null`.")]
    lexical_rank: Annotated[Rank, Field(description="The document's rank (from 1) in the lexical search, or `null` "
                                                    "when that search did not return it.")]
    matched_terms: Annotated[list[str], Field(
        description="The query's words (lower-case, stop words dropped) and phrases that occur in the document's "
                    "title, in `content` or in the passage the lexical search found.")]
    weak_match: Annotated[bool, Field(
        description=f"`true` when the result answers the query only weakly: it is not close in meaning "
                    f"(`semantic_score` under {search.WEAK_MATCH_COSINE}, a threshold calibrated on a labelled set), "
                    "does not have more than half of the query's words and does not hold a quoted phrase; or it "
                    "lacks a query word that carries a digit (an invoice number, an error code) whatever else it "
                    "matches. Weak results are still returned, in rank order: show them as such, not as answers.")]
    title_match: Annotated[bool, Field(
        description="`true` when the document's title is the query (case, spacing and surrounding punctuation "
                    "aside): it then also counts as ranked first by a title ranking in the fusion.")] = False


class QueryResultMetadata(ResponseModel):
    """The document's own metadata (as its source sent it), with these fields on top: where a key
    of both exists, the field below wins. Other keys are the document's own."""

    model_config = ConfigDict(extra="allow")

    title: Annotated[str, Field(description="The document's title (may be empty).")]
    author: Annotated[str | None, Field(description="Who wrote it, or `null`.")]
    type: Annotated[str, Field(description="The document's type (the same as `source_type`).")]
    namespace: Annotated[str, Field(description="The grouping inside its store.", examples=["clickup_tasks"])]
    external_id: Annotated[str, Field(description="The record's id at its source.", examples=["task_123"])]
    vector_store_id: Annotated[str, Field(description="The store the document is in (connector documents: the "
                                                      "default store).", pattern="^vs_[a-z0-9]+$",
                                          examples=[VECTOR_STORE_ID_EXAMPLE])]
    connection_id: Annotated[str | None, Field(description="The connection that synced it, or `null` for pipeline "
                                                           "data.")]
    created_at: Annotated[str | None, Field(
        description="When the record was created at its source, or `null` if the source did not say (RFC 3339, UTC, "
                    "`Z`).", json_schema_extra={"format": "date-time"})]
    updated_at: Annotated[str | None, Field(
        description="When the record was last updated at its source, or `null` if the source did not say (RFC 3339, "
                    "UTC, `Z`).", json_schema_extra={"format": "date-time"})]
    chunk: QueryResultChunk | None
    group: Annotated[str, Field(
        description="The parent the result belongs to: its `url` without the `#fragment` (the comments of one issue "
                    "and the issue itself share it), or the document's `id` when it has no URL. Results with the same "
                    "`group` can be shown together.", examples=["https://github.com/acme/api/issues/12"])]
    ranking: QueryRanking


class QueryResult(ResponseModel):
    """One document that matched."""

    id: Annotated[str, Field(description="The document id (`GET /api/v1/documents/{document_id}` has all of it).",
                             pattern="^doc_[a-z0-9]+$", examples=[DOCUMENT_ID_EXAMPLE])]
    content: Annotated[str, Field(
        description="The passage that matched: the document's chunk the semantic search ranked best, else the "
                    "lexical search's best chunk; for a document not cut into chunks yet, about "
                    f"{search.SNIPPET_CHARS} characters of its text around the first query word (`…` marks a cut).")]
    source: Annotated[str, Field(description="`pipeline` for pipeline-sync data, else the connector type.",
                                 examples=["pipeline"])]
    source_type: Annotated[str, Field(description="The document's type (`task`, `issue`, `message`, ...; `document` "
                                                  "unless the source said otherwise).", examples=["task"])]
    score: Annotated[float, Field(
        gt=0, le=1, description="The reciprocal-rank-fusion score divided by its maximum: `1.0` is the best possible "
                                "(ranked first by every search that ran). It compares results of one query, not across "
                                "queries.")]
    metadata: QueryResultMetadata
    url: Annotated[str | None, Field(description="Where the document lives at its source, or `null`.")]


class QueryResponse(ResponseModel):
    """The answer to a query."""

    results: Annotated[list[QueryResult], Field(
        max_length=search.MAX_LIMIT, description="At most `limit` documents, best first (descending `score`; ties by "
                                                 "`id`). Empty when nothing matched.")]
    reasoning: Annotated[str | None, Field(
        description="With `include_reasoning: true`: what was searched, the filters, what each search found, the "
                    "embedding backlog, how many results are weak matches, and why the page's first three results "
                    "rank where they do with the `score` each shows, in plain text (lines separated by `\\n`; no "
                    "language model is involved). Otherwise `null`.")]
    query_id: Annotated[str, Field(description="The query's id in the query log (who asked, when, the filters, the "
                                               "result ids and the latency are recorded).", pattern="^qry_[a-z0-9]+$",
                                   examples=["qry_xg6pscsktc2ercw5"])]
    latency_ms: Annotated[float, Field(ge=0, description="Time the server spent answering, in milliseconds (one "
                                                         "decimal).")]


# -- examples --------------------------------------------------------------------------------------

QUERY_ID_EXAMPLE = "qry_xg6pscsktc2ercw5"


def _result_example(**overrides) -> dict:
    example = {
        "id": DOCUMENT_ID_EXAMPLE,
        "content": "During the Tuesday deploy the API ran out of database connections: every worker held its "
                   "connections open while waiting on a slow migration. We raised max_connections and added "
                   "PgBouncer.",
        "source": "pipeline", "source_type": "task",
        "score": 1.0,
        "metadata": {"status": "closed", "priority": "high",
                     "title": "Postgres connection pool exhausted", "author": "ada@example.com", "type": "task",
                     "namespace": "clickup_tasks", "external_id": "task_123",
                     "vector_store_id": VECTOR_STORE_ID_EXAMPLE, "connection_id": None,
                     "created_at": "2026-04-01T09:00:00Z", "updated_at": "2026-04-13T10:29:00Z",
                     "chunk": {"position": 0, "heading": None, "start": 0, "end": 187},
                     "group": "https://app.clickup.com/t/task_123",
                     "ranking": {"semantic_rank": 1, "semantic_score": 0.5746, "lexical_rank": 1,
                                 "matched_terms": ["database", "connections", "exhausted"], "weak_match": False}},
        "url": "https://app.clickup.com/t/task_123"}
    example.update(overrides)
    return example


def _query_example(*, reasoning: bool) -> dict:
    second = _result_example(
        id="doc_be2nde5zrnstlq4g", score=0.4919, url=None,
        content="Long-running exports fail with connection reset by peer after 60 seconds; the load balancer idle "
                "timeout is too short.",
        metadata={"status": "open", "title": "Connection resets behind the load balancer",
                  "author": "grace@example.com", "type": "task", "namespace": "clickup_tasks",
                  "external_id": "task_140", "vector_store_id": VECTOR_STORE_ID_EXAMPLE, "connection_id": None,
                  "created_at": "2026-04-02T09:00:00Z", "updated_at": "2026-04-10T10:29:00Z",
                  "chunk": {"position": 0, "heading": None, "start": 0, "end": 118},
                  "group": "doc_be2nde5zrnstlq4g",
                  "ranking": {"semantic_rank": 2, "semantic_score": 0.3865, "lexical_rank": None,
                              "matched_terms": [], "weak_match": True}})
    text = None
    if reasoning:
        text = ("Searched 2 vector stores (default, support). Filters: type in task; dated on or after "
                "2026-04-01T00:00:00Z (applied inside both searches).\n"
                "Semantic search: 2 nearest chunks from 2 documents.\n"
                "Lexical search for database, connections, exhausted: 1 matching chunks, 1 documents.\n"
                "Ranked by reciprocal rank fusion: 1/(60 + rank) per search, summed; a result's score is that sum "
                "divided by the best possible, so 1.00 means ranked first by every search that ran.\n"
                "1 of the 2 results is weak: not close in meaning (cosine under 0.42) and without most of the "
                "query's words.\n"
                "#1 'Postgres connection pool exhausted' (pipeline): score 1.00: semantic rank 1 (cosine 0.57), "
                "lexical rank 1; matches 'database', 'connections', 'exhausted'.\n"
                "#2 'Connection resets behind the load balancer' (pipeline): score 0.49: semantic rank 2 "
                "(cosine 0.39); weak match.")
    return {"results": [_result_example(), second], "reasoning": text, "query_id": QUERY_ID_EXAMPLE,
            "latency_ms": 73.5}


@endpoint(bp, "POST", "/query", scope="query", operation_id="query", tag="Query",
          summary="Search the workspace's documents",
          behaviour=f"""
The federated query: finds the documents of the key's workspace that best answer `query` and returns the best
`limit` of them (default {search.DEFAULT_LIMIT}, at most {search.MAX_LIMIT}), each with the passage that matched.

**Where.** With `vector_store_id`, that store only (the default store's id includes the connector documents).
Without it, **every store of the workspace**: the default store (created on first use, at the latest by this call)
and every named store. A `vector_store_id` of another workspace is `404 vector_store_not_found`, exactly like one
that does not exist.

**How.** Two searches run over the stores' chunks, and their rankings are fused:

* *Semantic*: the query (without its quote marks) is embedded with the model the chunks were embedded with, and
  each store's vector index returns its nearest chunks by cosine similarity.
* *Lexical*: full-text search over the chunks (SQLite FTS5 with bm25, PostgreSQL full text with `ts_rank_cd`):
  every query word is optional and ranks (stop words are dropped, unless the query has nothing else), quoted
  phrases are required. Documents stored but not cut into chunks yet are matched word by word in their title and
  text, so a record is found lexically as soon as its sync commits. Chunks still waiting to be embedded (a store's
  `embedding_backlog`) are found by lexical search only.
- **Without the embedding model** (its package not installed, or `EMBEDDING_MODEL` naming a model that is not
  there) the query still answers, from lexical search alone; the reasoning says semantic search is unavailable,
  why, and what fixes it, and so does every vector store's `semantic_search`.

**Score.** Each search ranks documents by their best chunk. The rankings are fused by reciprocal rank fusion: a
document's fused score is the sum, over the searches that returned it, of `1 / ({search.RRF_K} + rank)`.
`score` is that sum **divided by its maximum** (the sum for a document ranked first by every search that ran), so
`1.0` is the best possible score. Scores compare the results of one query, not results across queries. Results come best
first (descending `score`, ties by `id`); `metadata.ranking` shows each document's rank in each search.

**Filters are applied inside the search.** `sources`, `types`, `authors`, `namespaces`, `date_after` and
`date_before` restrict both searches themselves (the vector search gets the allowed chunks, the lexical search has
them in its SQL); they do not thin out a finished result list. So a filtered query still returns `limit` results
when that many matching documents exist. Each list filter matches any of its values (at most
{search.MAX_FILTER_VALUES}; one string counts as a list of one); different filters combine with AND.
`sources` (`pipeline` or a connector type), `types` and `authors` match case-insensitively, `namespaces` exactly.

**Dates.** A document's date is when it was last updated at its source, else when it was created at its source,
else when Tributary stored it. `date_after` and `date_before` are inclusive bounds on it. An ISO 8601 date
(`2026-03-01`) covers the whole day in UTC: `date_after` from its first moment, `date_before` to its last, so
`date_after` = `date_before` = one day is that day. A date-time without an offset is UTC. `date_after` later than
`date_before` is `422 invalid_date_range`.

**Phrases.** Text in double quotes (`"connection reset"`) must occur in every result: its words, in that order, as
whole words (case and punctuation aside; no stemming). Both searches are restricted to chunks that contain every
phrase, so a phrase that occurs nowhere gives no results; a document not chunked yet must contain each phrase in
its title or text (case aside). The rest of the query is optional and only ranks.

**Results.** `content` is the matched passage: the document's chunk the semantic search ranked best, else the
lexical search's best chunk, or for a document not chunked yet an excerpt of its text (`metadata.chunk` is then
`null`). `metadata` is the document's own metadata with Tributary's fields on top (`title`, `author`, `type`,
`namespace`, `external_id`, `vector_store_id`, `connection_id`, `created_at` and `updated_at` at the source, `chunk`,
`ranking`); where a key exists in both, Tributary's wins.

**Reasoning.** With `include_reasoning: true`, `reasoning` says in plain text what was searched, which filters
applied, what each search found (and what is still waiting to be embedded) and why the top three results rank
where they do. It is assembled from the search itself; no language model is involved. Otherwise it is `null`.

**Recorded.** Every query is recorded in the workspace's query log (who asked, when, the filters, the result ids,
the latency) under `query_id`; `latency_ms` is the time the server spent on it.

**The body.** `query` is required; every other field is optional, and `null` is the same as absent. Unknown fields
are refused (`422 unknown_field`); an empty body is `422 query_required`. Checks run in this order: the key (`401`,
`403`), the body (`422`: `unknown_field`, then the fields, `details.field` naming the first bad one), then
`vector_store_id` (`404`).
""",
          body=QueryRequest,
          body_examples={
          "simple": {"summary": "Just the text", "value": {"query": "database connections exhausted"}},
          "filtered": {"summary": "Filters, a limit and the reasoning", "value": {
              "query": "database connections exhausted", "limit": 5, "include_reasoning": True,
              "types": ["task"], "date_after": "2026-04-01"}},
          "every_field": {"summary": "Every field", "value": {
              "query": '"connection pool" postgres', "limit": 20, "include_reasoning": False,
              "sources": ["pipeline"], "types": ["task", "incident"], "authors": ["ada@example.com"],
              "namespaces": ["clickup_tasks"], "date_after": "2026-04-01",
              "date_before": "2026-04-30T18:00:00+02:00", "vector_store_id": VECTOR_STORE_ID_EXAMPLE}}},
          responses={200: Ok("The best documents, best first.", QueryResponse, examples={
          "with_reasoning": {"summary": "The `filtered` request, with reasoning",
                             "value": _query_example(reasoning=True)},
          "without_reasoning": {"summary": "Without reasoning", "value": _query_example(reasoning=False)},
          "nothing_matched": {"summary": "Nothing matched", "value": {
              "results": [], "reasoning": None, "query_id": "qry_c6kbd2w1ruq0x5mn", "latency_ms": 9.2}}})},
          errors={
              404: [("vector_store_not_found", "`vector_store_id` names no store of the key's workspace. An id from "
                                               "another workspace gets exactly the same answer as an id that does "
                                               "not exist; `details.id` echoes it.")],
              409: [limit_reached("queries_per_day")],
              422: [
                  ("unknown_field", "The body has a field a query does not take (it takes `query`, `limit`, "
                                    "`include_reasoning`, `sources`, `date_after`, `date_before`, `authors`, "
                                    "`types`, `vector_store_id`, `namespaces`); `details.field` names the first, "
                                    "alphabetically."),
                  "query_required",
                  ("query_too_long", f"`query` is longer than {search.MAX_QUERY_CHARS:,} characters; "
                                     "`details.field` is `query`."),
                  ("invalid_field", f"`limit` is not an integer from 1 to {search.MAX_LIMIT}, "
                                    "`include_reasoning` is not a boolean, `vector_store_id` is not a non-empty "
                                    "string, `date_after` or `date_before` is not an ISO 8601 date or date-time, "
                                    "or `sources`, `types`, `authors` or `namespaces` is not a non-blank string or "
                                    f"a list of at most {search.MAX_FILTER_VALUES} non-blank strings; "
                                    "`details.field` names it."),
                  "invalid_date_range"],
          })
def query(body: QueryRequest):
    """The federated query (knowledge.search): semantic + lexical, fused, filters inside."""
    params = search.parse(body)
    return jsonify(search.run_query(current_actor(), params, via="api"))
