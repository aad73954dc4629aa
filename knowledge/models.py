from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy import text
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.ids import new_id
from core.timeutil import utcnow
from core.types import UTCDateTime


BIGINT = BigInteger().with_variant(Integer, "sqlite")  # SQLite's INTEGER PRIMARY KEY is 64-bit rowid


class VectorStore(db.Model):
    """A named index in a workspace. Connections write into the workspace's default store."""

    __tablename__ = "vector_stores"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_vector_stores_workspace_name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("vs"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Document(db.Model):
    """One normalized record, from a connector sync or the pipeline-sync API.

    ``origin_id`` is the connection (connector data) or the vector store (pipeline data) that
    owns the document; ``(origin_id, namespace, external_id)`` is its identity, so the one
    ingest path can upsert from both. ``content_hash`` lets an unchanged record write nothing.
    """

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("origin_id", "namespace", "external_id", name="uq_documents_identity"),
        Index("ix_documents_workspace_updated", "workspace_id", "source_updated_at"),
        Index("ix_documents_origin_scope", "origin_id", "namespace", "channel"),
        Index("ix_documents_chunk_queue", "needs_chunking", "updated_at"),
        # Children of a record (an issue's comments, a deal's activities), found when the parent
        # changes; most documents have no parent, so the index holds only those that do.
        Index("ix_documents_parent", "origin_id", "namespace", "parent_id",
              sqlite_where=text("parent_id IS NOT NULL"), postgresql_where=text("parent_id IS NOT NULL")),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("doc"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    origin_id: Mapped[str] = mapped_column(String(40))
    connection_id: Mapped[str | None] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    vector_store_id: Mapped[str | None] = mapped_column(String(40))
    namespace: Mapped[str] = mapped_column(String(128))
    # The channel (repository, Slack channel) the record came from, for channel-scoped deletes.
    channel: Mapped[str | None] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(500))
    # The external id of the record this one belongs to (a comment's issue, an activity's deal)
    # in a stream the connector declares as its parent; the child's document copies some of the
    # parent's fields, and is re-derived when the parent changes (sync.engine).
    parent_id: Mapped[str | None] = mapped_column(String(500))
    # Who may read it: an access list (``access.service``), or NULL for the whole workspace.
    access_id: Mapped[int | None] = mapped_column(BIGINT)
    source: Mapped[str] = mapped_column(String(64))  # connector type, or "pipeline"
    type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(500))
    url: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    source_created_at = mapped_column(UTCDateTime, nullable=True)
    source_updated_at = mapped_column(UTCDateTime, nullable=True)
    # The full read that last saw this document: a completed full read deletes the documents
    # of its scope that it did not see.
    seen_generation: Mapped[str | None] = mapped_column(String(40))
    # Set when the document is stored or its content changes; the index worker then cuts it into
    # chunks (off the request path) and clears it. Until then lexical search reads the document.
    needs_chunking: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true(),
                                                 nullable=False)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)




class Chunk(db.Model):
    """A piece of a document and, once embedded, its vector (the database is the source of
    truth; the faiss index is a cache rebuilt from these). ``id`` is the faiss id."""

    __tablename__ = "chunks"
    __table_args__ = (
        Index("ix_chunks_document_position", "document_id", "position"),
        Index("ix_chunks_pending", "vector_store_id", "embedded_at"),
    )

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    workspace_id: Mapped[str] = mapped_column(String(40), index=True)
    vector_store_id: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)  # what is embedded (title and heading prefixed)
    start: Mapped[int] = mapped_column(Integer)  # offsets into the document's content
    end: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str | None] = mapped_column(Text)
    token_count: Mapped[int] = mapped_column(Integer)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)  # float32, L2-normalised
    model: Mapped[str | None] = mapped_column(String(120))
    embedded_at = mapped_column(UTCDateTime, nullable=True)
    # The embedding queue: a worker claims a batch by stamping it; a stale claim is retaken.
    claimed_at = mapped_column(UTCDateTime, nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class ChunkChange(db.Model):
    """The chunk change log: every embedded chunk added and every chunk removed, in order.

    ``version`` only grows, so an index that reflects version N catches up by applying the
    changes after N (any number of processes, each with its own faiss copy).
    """

    __tablename__ = "chunk_changes"
    __table_args__ = (Index("ix_chunk_changes_store_version", "vector_store_id", "version"),)

    version: Mapped[int] = mapped_column(BIGINT, primary_key=True, autoincrement=True)
    vector_store_id: Mapped[str] = mapped_column(String(40))
    chunk_id: Mapped[int] = mapped_column(BigInteger)
    op: Mapped[str] = mapped_column(String(8))  # add | remove | attr (the document's readers changed)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class PipelineSync(db.Model):
    """One accepted pipeline-sync request (specs/pipeline-sync.md), for the audit trail."""

    __tablename__ = "pipeline_syncs"
    __table_args__ = (Index("ix_pipeline_syncs_workspace_created", "workspace_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("sync"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    vector_store_id: Mapped[str] = mapped_column(String(40))
    api_key_id: Mapped[str | None] = mapped_column(String(40))
    sync_mode: Mapped[str] = mapped_column(String(20))
    sync_timestamp = mapped_column(UTCDateTime, nullable=True)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    upserted: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    by_namespace: Mapped[dict] = mapped_column(JSON, default=dict)
    processing_time_ms: Mapped[int] = mapped_column(Integer, default=0)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class QueryLog(db.Model):
    """Every query: who asked what, with which filters, how long it took, what came back."""

    __tablename__ = "query_log"
    # The latency too, so the usage report's p50 / p95 over a month of queries reads the index
    # alone (an index-only scan), not one wide row (query, filters, results) per query.
    __table_args__ = (Index("ix_query_log_workspace_created_latency", "workspace_id", "created_at", "latency_ms"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("qry"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(String(40))
    api_key_id: Mapped[str | None] = mapped_column(String(40))
    via: Mapped[str] = mapped_column(String(16))  # api | console | mcp
    query: Mapped[str] = mapped_column(Text)
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    result_limit: Mapped[int] = mapped_column(Integer)
    result_ids: Mapped[list] = mapped_column(JSON, default=list)
    candidates: Mapped[dict] = mapped_column(JSON, default=dict)  # per retriever
    latency_ms: Mapped[float] = mapped_column(Float)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
