"""A provider account is connected once per workspace; a restored connection syncs again.

OAuth and handle connections hold their provider account (the GitHub user, the Gmail mailbox,
the tracked X account) exclusively: connecting that account again finds the connection that
holds it and updates it in place, instead of adding a second row that syncs the same data.
The claim is ``Connection.account_key``; a unique index on (workspace, connector type,
account_key) settles two connects racing for one account: the second one's write fails, and
it retries against the row the first one stored (``claim_or_retry``).

API-key connections do not claim their account: there the account a key resolves to is a
company (Pipedrive), and two members' keys of one company may read different data.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.actor import Actor
from core.errors import Conflict
from core.extensions import db
from core.timeutil import utcnow

from .models import Connection

T = TypeVar("T")


class AccountTaken(Conflict):
    """The account is held by another connection the caller may not take it from."""

    def __init__(self, holder: Connection, message: str):
        super().__init__(message, code="already_connected", details={"existing_id": holder.id})
        self.holder_id = holder.id


def holder(workspace_id: str, connector_type: str, external_id: str | None, *,
           exclude_id: str | None = None) -> Connection | None:
    """The connection of the workspace that holds this provider account: a live one first,
    else the most recent disconnected one (which a new connect brings back in place)."""
    if not external_id:
        return None
    query = select(Connection).where(Connection.workspace_id == workspace_id,
                                     Connection.connector_type == connector_type,
                                     Connection.external_account_id == external_id,
                                     Connection.status != "pending")
    if exclude_id is not None:
        query = query.where(Connection.id != exclude_id)
    rows = db.session.scalars(query.order_by(Connection.created_at.desc(), Connection.id.desc())).all()
    return next((row for row in rows if row.status != "disconnected"), rows[0] if rows else None)


def claim(connection: Connection, external_id: str) -> None:
    """Record that ``connection`` holds this account (the unique index checks it at flush)."""
    connection.external_account_id = external_id
    connection.account_key = external_id


def claim_or_retry(attempt: Callable[[], T]) -> T:
    """Run ``attempt`` (which looks the holder up, claims and commits) and, when a concurrent
    claim of the same account won the race (unique index), once more: the second look finds
    the winner's row. Anything else propagates."""
    try:
        return attempt()
    except IntegrityError:
        db.session.rollback()
        return attempt()


def restore(connection: Connection) -> None:
    """A successful (re)connect: the connection is connected again and its error is gone."""
    connection.status, connection.needs_reauth, connection.last_error = "connected", False, None
    connection.disconnected_at, connection.connected_at = None, utcnow()


def queue_sync(actor: Actor, connection: Connection):
    """After a reconnect: queue an incremental run (it resumes from the checkpoints the failed
    runs left) unless one is already waiting, so reconnecting twice queues one run. The
    caller commits, then calls ``sync.service.notify_workers``."""
    from connectors.registry import connector_classes
    from sync import service as sync_service

    cls = connector_classes().get(connection.connector_type)
    if cls is None or not cls.syncs():
        return None
    return sync_service.enqueue_unless_pending(connection, mode="incremental", triggered_by="connect", actor=actor)
