"""Rollups the usage report reads instead of scanning millions of rows.

Neither is a counter kept by application code that could drift from what it counts:

* ``StoredDocuments`` is kept by database triggers on ``documents`` (migration 0012), in the
  same transaction as every insert, update and delete of a document, cascades included. It holds
  per origin (connection or vector store) the documents stored and the bytes of their title and
  content, so the report sums a few rows instead of a million. ``usage.service.recount_storage``
  recomputes it from the documents (from ``flask shell``) and the tests check both agree.
* ``StoredChunks`` is kept the same way by triggers on ``chunks`` (migration 0013): the chunks
  stored per workspace, so the report reads one row instead of counting a million index entries.
* ``ApiKeyUsage`` is the record of API calls themselves, per key and hour: nothing else stores
  a request. It is written at the end of every request made with a key (``record_api_call``).
"""
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.types import UTCDateTime

BIGINT = BigInteger().with_variant(Integer, "sqlite")


class StoredDocuments(db.Model):
    __tablename__ = "usage_stored_documents"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    origin_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    documents: Mapped[int] = mapped_column(BIGINT, default=0)
    text_bytes: Mapped[int] = mapped_column(BIGINT, default=0)


class StoredChunks(db.Model):
    __tablename__ = "usage_stored_chunks"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    chunks: Mapped[int] = mapped_column(BIGINT, default=0)


class ApiKeyUsage(db.Model):
    __tablename__ = "usage_api_calls"
    __table_args__ = (Index("ix_usage_api_calls_workspace_hour", "workspace_id", "hour"),)

    api_key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    hour = mapped_column(UTCDateTime, primary_key=True)  # the start of the UTC hour
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    calls: Mapped[int] = mapped_column(BIGINT, default=0)
    errors: Mapped[int] = mapped_column(BIGINT, default=0)  # answered 4xx or 5xx
