from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.ids import new_id
from core.timeutil import utcnow
from core.types import UTCDateTime


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
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
